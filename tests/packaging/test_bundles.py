"""The deployable bundles built by scripts/package.py.

The last test is the one that matters: a bundle, unzipped into an empty folder and
installed into a fresh virtualenv from its own requirements.txt only, imports and serves
under functions-framework, exactly as the Cloud Functions buildpack would run it.

That requirements.txt is generated: the function's full pinned closure (direct pins plus
every transitive dependency, versions from constraints.txt), resolved by `uv pip compile`
for the deploy runtime.
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys
import time
import urllib.error
import urllib.request
import zipfile
from datetime import UTC
from pathlib import Path

import pytest

from devstack.processes import LOOPBACK, Service, free_port

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "scripts" / "package.py"

_spec = importlib.util.spec_from_file_location("convene_package", SCRIPT)
package = importlib.util.module_from_spec(_spec)
sys.modules[_spec.name] = package  # dataclasses look the module up by name
_spec.loader.exec_module(package)

FUNCTIONS = package.discover(ROOT)
CONSTRAINTS = package.read_pins(ROOT / "constraints.txt")
PIN_LINE = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*==[A-Za-z0-9.+!_-]+$")  # canonical name==version


def run_cli(*args: str | Path, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, str(SCRIPT), *map(str, args)], cwd=cwd, capture_output=True, text=True, timeout=60)


def zip_names(path: Path) -> list[str]:
    with zipfile.ZipFile(path) as archive:
        return archive.namelist()


@pytest.fixture
def fake_root(tmp_path: Path) -> Path:
    """A throwaway copy of the parts of the repository that bundles are made of."""
    root = tmp_path / "repo"
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    shutil.copytree(ROOT / "shared", root / "shared", ignore=ignore)
    shutil.copytree(ROOT / "functions" / "join", root / "functions" / "join", ignore=ignore)
    shutil.copy2(ROOT / "requirements.txt", root / "requirements.txt")
    shutil.copy2(ROOT / "constraints.txt", root / "constraints.txt")
    return root


def bundled_requirements(path: Path) -> tuple[list[str], dict[str, str]]:
    """The bundle's requirements.txt: (comment lines, {name: version} of the pins)."""
    with zipfile.ZipFile(path) as archive:
        lines = archive.read("requirements.txt").decode().splitlines()
    comments = [line for line in lines if line.startswith("#")]
    pins = [line for line in lines if not line.startswith("#")]
    assert pins, lines
    for line in pins:
        assert PIN_LINE.match(line), f"not name==version: {line!r}"
    names = [line.split("==")[0] for line in pins]
    assert names == sorted(names) and len(set(names)) == len(names), names
    return comments, dict(line.split("==") for line in pins)


def direct_pins(function: str) -> dict[str, str]:
    path = ROOT / "functions" / function / "requirements.txt"
    return {
        package.normalize(name): version
        for name, version in (
            line.split("#")[0].strip().split("==") for line in path.read_text().splitlines() if line.split("#")[0].strip()
        )
    }


def add_function(root: Path, name: str, requirements: str | None) -> Path:
    folder = root / "functions" / name
    folder.mkdir(parents=True)
    (folder / "main.py").write_text("import functions_framework\n")
    if requirements is not None:
        (folder / "requirements.txt").write_text(requirements)
    return folder


# ----------------------------------------------------------------------------- determinism


def test_functions_are_discovered():
    assert "join" in FUNCTIONS


def test_same_source_gives_byte_identical_bundle(fake_root: Path, tmp_path: Path):
    first = package.build("join", tmp_path / "a", root=fake_root)
    # Same bytes, different timestamps and a different output folder: nothing may change.
    later = time.time() + 3600
    for path in fake_root.rglob("*"):
        os.utime(path, (later, later))
    second = package.build("join", tmp_path / "b", root=fake_root)

    assert first.path.name == second.path.name
    assert first.path.read_bytes() == second.path.read_bytes()
    assert first.path.name == f"join-{first.sha256[:12]}.zip"
    with zipfile.ZipFile(first.path) as archive:
        infos = archive.infolist()
    assert [i.filename for i in infos] == sorted(i.filename for i in infos)
    assert {i.date_time for i in infos} == {(1980, 1, 1, 0, 0, 0)}
    assert {i.external_attr >> 16 for i in infos} == {0o100644}


def test_changed_source_gives_new_name_and_replaces_old_bundle(fake_root: Path, tmp_path: Path):
    out = tmp_path / "dist"
    before = package.build("join", out, root=fake_root)
    (fake_root / "shared" / "clock.py").write_text((fake_root / "shared" / "clock.py").read_text() + "\n# changed\n")
    after = package.build("join", out, root=fake_root)

    assert after.path.name != before.path.name
    assert sorted(p.name for p in out.glob("join-*.zip")) == [after.path.name]


# ----------------------------------------------------------------------------- contents


@pytest.mark.parametrize("function", FUNCTIONS)
def test_real_bundle_holds_main_requirements_and_shared(function: str, tmp_path: Path):
    bundle = package.build(function, tmp_path, root=ROOT)
    names = zip_names(bundle.path)

    expected_shared = {
        "shared/" + p.relative_to(ROOT / "shared").as_posix()
        for p in (ROOT / "shared").rglob("*.py")
        if "__pycache__" not in p.parts and "tests" not in p.parts
    }
    assert {"main.py", "requirements.txt"} <= set(names)
    assert expected_shared <= set(names)
    assert "shared/__init__.py" in names
    for name in names:
        parts = name.split("/")
        assert not {"__pycache__", "tests", "devstack", "bench", "functions"} & set(parts), name
        assert not name.endswith((".pyc", ".pyo")), name
    with zipfile.ZipFile(bundle.path) as archive:
        assert archive.read("main.py") == (ROOT / "functions" / function / "main.py").read_bytes()
        assert archive.testzip() is None


def test_caches_tests_and_hidden_files_are_left_out_but_data_files_kept(fake_root: Path, tmp_path: Path):
    plant = {
        "shared/__pycache__/config.cpython-311.pyc": False,
        "shared/domain/stale.pyc": False,
        "shared/tests/test_config.py": False,
        "shared/domain/test_rules.py": False,
        "shared/conftest.py": False,
        "shared/.env": False,
        "shared/.cache/blob": False,
        "shared/templates/invite.html": True,
        "shared/data/zones.json": True,
        "functions/join/__pycache__/main.cpython-311.pyc": False,
        "functions/join/tests/test_main.py": False,
        "functions/join/templates/join.html": True,
    }
    for relative in plant:
        path = fake_root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"x")

    names = set(zip_names(package.build("join", tmp_path, root=fake_root).path))

    for relative, kept in plant.items():
        name = relative.removeprefix("functions/join/")
        assert (name in names) is kept, relative


def test_function_folder_with_its_own_shared_is_rejected(fake_root: Path, tmp_path: Path):
    (fake_root / "functions" / "join" / "shared").mkdir()
    (fake_root / "functions" / "join" / "shared" / "x.py").write_text("")
    with pytest.raises(package.PackagingError, match="clash"):
        package.build("join", tmp_path, root=fake_root)


# ----------------------------------------------------------------------------- the bundle's requirements.txt


@pytest.mark.parametrize("function", FUNCTIONS)
def test_bundled_requirements_are_the_full_closure_pinned_from_constraints(function: str, tmp_path: Path):
    bundle = package.build(function, tmp_path, root=ROOT)
    comments, pins = bundled_requirements(bundle.path)

    assert comments and "GENERATED by scripts/package.py" in comments[0]
    header = " ".join(comments)
    assert f"functions/{function}/requirements.txt" in header and "constraints.txt" in header
    assert "Python 3.12" in header
    # Every direct pin is kept, as written in the function's requirements.txt ...
    assert direct_pins(function).items() <= pins.items()
    # ... and everything else comes in as a dependency, at the version the tests ran with.
    assert len(pins) > len(direct_pins(function))
    for name, version in pins.items():
        assert name in CONSTRAINTS, name
        assert version == CONSTRAINTS[name][1], name
    # Test tooling and extras nobody asked for (google-auth[testing], uvicorn[standard]) stay out.
    assert not {"pytest", "iniconfig", "pluggy", "jsonschema", "aiohttp", "uvloop", "pyjwt"} & set(pins)


def test_join_pins_its_transitive_dependencies(tmp_path: Path):
    _comments, pins = bundled_requirements(package.build("join", tmp_path, root=ROOT).path)

    for name in (
        "grpcio",
        "protobuf",
        "flask",
        "werkzeug",
        "gunicorn",
        "urllib3",
        "grpcio-status",
        "googleapis-common-protos",
        "proto-plus",
        "certifi",
        "markupsafe",
    ):
        assert pins.get(name) == CONSTRAINTS[name][1], name
    assert "grpcio" not in direct_pins("join") and "protobuf" not in direct_pins("join")
    # grpcio-status comes only from google-api-core[grpc]: the extra was followed where asked.
    assert "grpcio-status" in pins


def test_source_requirements_is_left_alone_and_the_hash_covers_the_generated_one(fake_root: Path, tmp_path: Path):
    source = fake_root / "functions" / "join" / "requirements.txt"
    before = source.read_bytes()
    bundle = package.build("join", tmp_path, root=fake_root)

    assert source.read_bytes() == before
    with zipfile.ZipFile(bundle.path) as archive:
        entries = {name: archive.read(name) for name in archive.namelist()}
    assert entries["requirements.txt"] != before
    assert package.content_hash(entries) == bundle.sha256


def test_a_changed_closure_gives_a_new_bundle_name(fake_root: Path, tmp_path: Path):
    out = tmp_path / "dist"
    before = package.build("join", out, root=fake_root)
    assert "six" not in bundled_requirements(before.path)[1]

    for name in ("requirements.txt", "functions/join/requirements.txt"):
        with open(fake_root / name, "a") as handle:
            handle.write(f"six=={CONSTRAINTS['six'][1]}\n")
    after = package.build("join", out, root=fake_root)

    assert after.path.name != before.path.name
    assert bundled_requirements(after.path)[1]["six"] == CONSTRAINTS["six"][1]


def test_uv_settings_that_would_change_the_closure_are_ignored(fake_root: Path, tmp_path: Path, monkeypatch):
    before = package.build("join", tmp_path / "a", root=fake_root)
    overrides = tmp_path / "overrides.txt"
    overrides.write_text("grpcio==1.0.0\n")
    monkeypatch.setenv("UV_OVERRIDE", str(overrides))
    monkeypatch.setenv("UV_EXCLUDE", str(overrides))

    assert package.build("join", tmp_path / "b", root=fake_root).path.read_bytes() == before.path.read_bytes()


def test_a_warm_cache_needs_no_network(fake_root: Path, tmp_path: Path, monkeypatch):
    before = package.build("join", tmp_path / "a", root=fake_root)  # warms uv's cache, if it was not
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy"):
        monkeypatch.setenv(name, "http://127.0.0.1:9")  # nothing listens there
    for name in ("NO_PROXY", "no_proxy"):
        monkeypatch.delenv(name, raising=False)

    assert package.build("join", tmp_path / "b", root=fake_root).path.read_bytes() == before.path.read_bytes()


def _wheel(folder: Path, name: str, version: str, requires: list[str], extras: tuple[str, ...] = ()) -> None:
    """A minimal wheel: metadata only, which is all resolution reads."""
    dist_info = f"{name.replace('-', '_')}-{version}.dist-info"
    metadata = f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n"
    metadata += "".join(f"Provides-Extra: {extra}\n" for extra in extras)
    metadata += "".join(f"Requires-Dist: {requirement}\n" for requirement in requires)
    wheel = "Wheel-Version: 1.0\nGenerator: convene-tests\nRoot-Is-Purelib: true\nTag: py3-none-any\n"
    with zipfile.ZipFile(folder / f"{name.replace('-', '_')}-{version}-py3-none-any.whl", "w") as archive:
        archive.writestr(f"{dist_info}/METADATA", metadata)
        archive.writestr(f"{dist_info}/WHEEL", wheel)
        archive.writestr(f"{dist_info}/RECORD", f"{dist_info}/METADATA,,\n{dist_info}/WHEEL,,\n{dist_info}/RECORD,,\n")


def test_closure_evaluates_markers_for_the_deploy_runtime_and_follows_only_requested_extras(tmp_path: Path):
    """On a local folder of wheels, no index: what the packager asks uv for, not how uv resolves."""
    wheels = tmp_path / "wheels"
    wheels.mkdir()
    requires = {
        "app": [
            "lib[fast]>=1",
            'on-312; python_version >= "3.12"',
            'old-py; python_version < "3.12"',  # what the Python running the tests (3.11) would take
            'windows-only; sys_platform == "win32"',
            'linux-only; platform_system == "Linux" and platform_machine == "x86_64"',
            'pypy-only; platform_python_implementation == "PyPy"',
            'tests-dep; extra == "testing"',
        ],
        "lib": ["Base_Dep", 'speedup; extra == "fast"', 'slow-thing; extra == "slow"'],
        "base-dep": ["app"],  # a cycle back to the root
    }
    extras = {"app": ("testing",), "lib": ("fast", "slow")}
    names = ["app", "lib", "base-dep", "speedup", "on-312", "old-py", "windows-only", "linux-only", "pypy-only"]
    names += ["tests-dep", "slow-thing"]
    for name in names:
        _wheel(wheels, name, "1.0", requires.get(name, []), extras.get(name, ()))
    (tmp_path / "requirements.txt").write_text("app==1.0\n")
    (tmp_path / "constraints.txt").write_text("".join(f"{name}==1.0\n" for name in names))

    pins = package.compile_closure(
        tmp_path / "requirements.txt", tmp_path / "constraints.txt", uv_args=["--no-index", "--find-links", str(wheels)]
    )

    assert [(name, version) for name, version, _via in pins] == [
        (name, "1.0") for name in sorted(["app", "base-dep", "lib", "linux-only", "on-312", "speedup"])
    ]
    assert {name: via for name, _version, via in pins}["speedup"] == "lib"


def test_dependency_missing_from_constraints_fails_clearly(fake_root: Path, tmp_path: Path):
    constraints = fake_root / "constraints.txt"
    constraints.write_text(
        "".join(line + "\n" for line in constraints.read_text().splitlines() if not line.startswith(("grpcio==", "urllib3==")))
    )
    out = tmp_path / "dist"

    result = run_cli("--root", fake_root, "--out", out, "join")

    assert result.returncode == 1
    assert "error: join: dependency closure failed" in result.stderr
    assert "grpcio (required by " in result.stderr
    assert f"is not pinned in {constraints}" in result.stderr
    assert "urllib3 (required by requests) is not pinned" in result.stderr
    assert not out.exists()


def test_package_the_index_does_not_have_fails_with_uvs_explanation(fake_root: Path, tmp_path: Path):
    pin = "convene-not-published-anywhere==1.0\n"
    for name in ("requirements.txt", "constraints.txt"):
        with open(fake_root / name, "a") as handle:
            handle.write(pin)
    add_function(fake_root, "fake", "functions-framework==3.10.2\n" + pin)
    out = tmp_path / "dist"

    result = run_cli("--root", fake_root, "--out", out, "fake")

    assert result.returncode == 1
    assert "error: fake: uv pip compile " in result.stderr
    assert "convene-not-published-anywhere was not found" in result.stderr
    assert not out.exists()


def test_a_pin_that_a_dependent_does_not_accept_fails_with_uvs_explanation(fake_root: Path, tmp_path: Path):
    constraints = fake_root / "constraints.txt"
    constraints.write_text(re.sub(r"(?m)^protobuf==.*$", "protobuf==3.0.0", constraints.read_text()))

    with pytest.raises(package.PackagingError, match=r"(?s)uv pip compile .*protobuf.*unsatisfiable"):
        package.build("join", tmp_path, root=fake_root)


def test_missing_constraints_file_fails(fake_root: Path, tmp_path: Path):
    (fake_root / "constraints.txt").unlink()
    with pytest.raises(package.PackagingError, match="constraints.txt: not found"):
        package.build("join", tmp_path, root=fake_root)


# ----------------------------------------------------------------------------- command line


def test_cli_prints_one_line_per_bundle_and_writes_manifest(tmp_path: Path):
    out = tmp_path / "dist"
    result = run_cli("--out", out)
    assert result.returncode == 0, result.stderr

    manifest = json.loads((out / "manifest.json").read_text())
    assert sorted(manifest) == FUNCTIONS
    lines = result.stdout.strip().splitlines()
    assert len(lines) == len(FUNCTIONS)
    for line, function in zip(lines, FUNCTIONS, strict=True):
        entry = manifest[function]
        zip_path = out / entry["zip"]
        assert line.split()[0] == function
        assert entry["zip"] in line and f"{len(entry['files'])} files" in line and "KiB" in line
        assert entry["zip"] == f"{function}-{entry['sha256'][:12]}.zip"
        assert entry["files"] == zip_names(zip_path)
        assert entry["size"] == zip_path.stat().st_size


def test_cli_unknown_function_fails_clearly(tmp_path: Path):
    result = run_cli("--out", tmp_path, "no-such-function")
    assert result.returncode == 1
    assert "no function 'no-such-function'" in result.stderr
    assert not list(tmp_path.iterdir())


# ----------------------------------------------------------------------------- requirement pins


@pytest.mark.parametrize(
    ("requirements", "message"),
    [
        (
            "functions-framework==3.10.2\nrequests==2.0.0\n",
            "fake/requirements.txt:2: requests==2.0.0 does not match {root}/requirements.txt, which pins requests==2.34.2",
        ),
        (
            "functions-framework==3.10.2\nrequests>=2\n",
            "fake/requirements.txt:2: 'requests>=2' is not pinned; write it as name==version",
        ),
        ("functions-framework==3.10.2\nrequests\n", "fake/requirements.txt:2: 'requests' is not pinned"),
        (
            "functions-framework==3.10.2\nleft-pad==1.0\n",
            "fake/requirements.txt:2: left-pad==1.0 is not in {root}/requirements.txt",
        ),
        ("functions-framework==3.10.2\n-r ../../requirements.txt\n", "pip options are not allowed"),
        ("functions-framework==3.10.2\nrequests==2.34.2\nRequests==2.34.2\n", "Requests is listed twice"),
        ("requests==2.34.2\n", "functions-framework must be pinned"),
        (None, "fake/requirements.txt: missing"),
    ],
)
def test_bad_requirements_are_rejected_with_a_clear_message(fake_root: Path, tmp_path: Path, requirements, message):
    add_function(fake_root, "fake", requirements)
    out = tmp_path / "dist"

    result = run_cli("--root", fake_root, "--out", out)

    assert result.returncode == 1
    assert "error: fake: " in result.stderr
    assert message.format(root=fake_root) in result.stderr
    assert not out.exists(), "nothing may be written when any function fails"


def test_pins_match_by_normalised_name_and_allow_comments(fake_root: Path, tmp_path: Path):
    add_function(
        fake_root,
        "fake",
        "# pinned like the root file\nfunctions_framework==3.10.2  # entry point\njinja2==3.1.6\n\nGoogle.Auth==2.62.2\n",
    )
    assert package.build("fake", tmp_path, root=fake_root).path.is_file()


def test_every_real_function_passes_the_requirements_check():
    root_pins = package.read_pins(ROOT / "requirements.txt")
    for function in FUNCTIONS:
        package.check_requirements(ROOT / "functions" / function / "requirements.txt", root_pins, ROOT / "requirements.txt")


# ----------------------------------------------------------------------------- the real check


def _clean_env(home: Path, **extra: str) -> dict[str, str]:
    """No PYTHONPATH, no credentials, no way out: any outbound HTTP(S) hits a dead proxy."""
    dead = "http://127.0.0.1:9"
    return {
        "PATH": os.pathsep.join(["/usr/bin", "/bin"]),
        "HOME": str(home),
        "LANG": "C.UTF-8",
        "PYTHONNOUSERSITE": "1",
        "PYTHONDONTWRITEBYTECODE": "1",
        "HTTP_PROXY": dead,
        "HTTPS_PROXY": dead,
        "http_proxy": dead,
        "https_proxy": dead,
        "GCE_METADATA_HOST": "127.0.0.1:9",
        "GCE_METADATA_IP": "127.0.0.1:9",
        **extra,
    }


def _get(url: str) -> tuple[int, str, bytes]:
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        with opener.open(url, timeout=5) as response:
            return response.status, response.headers.get("Content-Type", ""), response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.headers.get("Content-Type", ""), error.read()


@pytest.mark.parametrize("function", FUNCTIONS)
def test_bundle_installs_imports_and_serves_in_a_clean_venv(function: str, tmp_path: Path, stack_env, db, sandbox):
    bundle = package.build(function, tmp_path / "dist", root=ROOT)
    src = tmp_path / "src"
    with zipfile.ZipFile(bundle.path) as archive:
        archive.extractall(src)
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=120)
    assert "include-system-site-packages = false" in (venv / "pyvenv.cfg").read_text()
    python = venv / "bin" / "python"

    # The machine's pip configuration (index, cache) applies; nothing from this repository does.
    pip_env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV", "PYTHONHOME")}
    install = subprocess.run(
        [str(python), "-m", "pip", "install", "--disable-pip-version-check", "-q", "-r", "requirements.txt"],
        cwd=src,
        env=pip_env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert install.returncode == 0, install.stderr[-4000:]
    # Nothing was resolved outside the pins: the venv holds exactly the bundle's closure.
    listed = subprocess.run(
        [
            str(python),
            "-c",
            "import importlib.metadata as m, json; print(json.dumps({d.metadata['Name']: d.version for d in m.distributions()}))",
        ],
        env=pip_env,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    installed = {
        package.normalize(name): version
        for name, version in json.loads(listed.stdout).items()
        if package.normalize(name) not in {"pip", "setuptools", "wheel"}
    }
    assert installed == bundled_requirements(bundle.path)[1]

    home = tmp_path / "home"
    home.mkdir()
    # The local stack's wiring (emulator, sandbox) so a real request can run; loopback bypasses the dead proxy.
    env = _clean_env(
        home,
        PATH=f"{venv / 'bin'}{os.pathsep}/usr/bin{os.pathsep}/bin",
        **stack_env,
        NO_PROXY="127.0.0.1,localhost",
        no_proxy="127.0.0.1,localhost",
    )
    check = (
        "import importlib.util, os, main, shared\n"
        f"assert callable(main.{function})\n"
        "assert os.path.dirname(shared.__file__) == os.path.join(os.getcwd(), 'shared'), shared.__file__\n"
        "assert importlib.util.find_spec('pytest') is None, 'the venv sees packages it should not'\n"
    )
    imported = subprocess.run([str(python), "-c", check], cwd=src, env=env, capture_output=True, text=True, timeout=60)
    assert imported.returncode == 0, imported.stderr[-4000:]

    port = free_port()
    log_path = tmp_path / "functions-framework.log"
    with open(log_path, "wb") as log:
        process = subprocess.Popen(
            [
                str(venv / "bin" / "functions-framework"),
                "--target",
                function,
                "--source",
                "main.py",
                "--host",
                LOOPBACK,
                "--port",
                str(port),
            ],
            cwd=src,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
    service = Service(function, process, f"http://{LOOPBACK}:{port}", log_path)
    try:
        deadline = time.monotonic() + 30
        while True:
            assert process.poll() is None, f"exited with {process.returncode}:\n{log_path.read_text()[-4000:]}"
            try:
                status, content_type, body = _get(service.url + "/convene-bundle-check/no/such/path")
                break
            except OSError:
                assert time.monotonic() < deadline, f"not serving after 30 s:\n{log_path.read_text()[-4000:]}"
                time.sleep(0.1)
        # A real request: Firestore, the ID-token certificates and Secret Manager, all from the bundle's venv.
        served = _real_requests(function, service.url, db, sandbox)
    finally:
        service.stop()
    assert served and set(served) == {200}, (served, log_path.read_text()[-4000:])

    assert status == 404, (status, body, log_path.read_text()[-4000:])
    assert content_type.startswith("application/json")
    assert json.loads(body)["error"]["code"] == "no_such_endpoint"


def _real_requests(function: str, url: str, db, sandbox) -> list[int]:
    """Status codes of a few real requests to the function, each exercising its client libraries."""
    per_function = {
        "join": _join_requests,
        "oauth": _oauth_requests,
        "interviews": _interviews_requests,
        "scheduling": _scheduling_requests,
        "email_worker": _email_worker_requests,
        "reminders": _scheduled_requests({}),
        "maintenance": _scheduled_requests({"jobs": ["connections", "cleanup"]}),
    }
    assert function in per_function, f"no real request for {function!r}: add one to _real_requests"
    return per_function[function](url, db, sandbox)


def _open(url: str, token: str) -> int:
    request = urllib.request.Request(url, headers={"Authorization": f"Bearer {token}"})
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    with opener.open(request, timeout=10) as response:
        return response.status


def _oauth_requests(url: str, db, sandbox) -> list[int]:
    """The host's connection status: the ID-token certificates and Firestore."""
    from tests import factories

    return [_open(f"{url}/status", sandbox.mint_id_token(factories.HOST.uid, factories.HOST.email))]


def _join_requests(url: str, db, sandbox) -> list[int]:
    """Join checks as the host (ID token) and as the guest (signed link) of a seeded interview."""
    from datetime import datetime, timedelta

    from shared.adapters.firestore import InterviewRepository
    from shared.auth.guest_links import GuestLinks
    from shared.secrets import SecretManagerSecrets
    from tests import factories

    interview = factories.interview(start=datetime.now(UTC) + timedelta(minutes=5))
    InterviewRepository(db).add(interview)
    link = GuestLinks(SecretManagerSecrets(sandbox.project, sandbox.url), "convene-guest-link-key").sign(
        interview_id=interview.id, workspace_id=interview.workspace_id, expires_at=interview.end + timedelta(hours=1)
    )
    host = sandbox.mint_id_token(factories.HOST.uid, factories.HOST.email)
    return [_open(f"{url}/interviews/{interview.id}", token) for token in (host, link)]


def _interviews_requests(url: str, db, sandbox) -> list[int]:
    """A host's list and one interview: ID-token certificates and Firestore queries."""
    from shared.adapters.firestore import InterviewRepository, UserRepository
    from shared.domain.models import Role, User
    from tests import factories

    UserRepository(db).put(User(factories.HOST.uid, factories.WORKSPACE, Role.HOST, factories.HOST.email, factories.HOST.name))
    interview = factories.interview()
    InterviewRepository(db).add(interview)
    host = sandbox.mint_id_token(factories.HOST.uid, factories.HOST.email)
    return [_open(f"{url}/interviews", host), _open(f"{url}/interviews/{interview.id}", host)]


def _scheduling_requests(url: str, db, sandbox) -> list[int]:
    """A host's scheduling configurations (ID token, Firestore query) and a guest's booking
    through its manage link (Secret Manager's guest-link key, Firestore)."""
    from datetime import datetime, timedelta

    from shared.adapters.firestore import InterviewRepository, UserRepository
    from shared.auth.guest_links import MANAGE, GuestLinks
    from shared.domain.models import Role, User
    from shared.secrets import SecretManagerSecrets
    from tests import factories

    UserRepository(db).put(User(factories.HOST.uid, factories.WORKSPACE, Role.HOST, factories.HOST.email, factories.HOST.name))
    interview = factories.interview(start=datetime.now(UTC) + timedelta(days=2))
    InterviewRepository(db).add(interview)
    manage = GuestLinks(SecretManagerSecrets(sandbox.project, sandbox.url), "convene-guest-link-key").sign(
        interview_id=interview.id, workspace_id=interview.workspace_id, expires_at=interview.end, purpose=MANAGE
    )
    host = sandbox.mint_id_token(factories.HOST.uid, factories.HOST.email)
    return [_open(f"{url}/scheduling-configs", host), _open(f"{url}/guest/booking", manage)]


def _scheduled_requests(body: dict):
    """A Cloud Scheduler call (OIDC token): the scheduled function runs its jobs on Firestore."""

    def requests_(url: str, db, sandbox) -> list[int]:
        import json as _json

        from tests.conftest import TASKS_INVOKER, WORKER_URL

        token = sandbox.mint_oidc_token(TASKS_INVOKER, WORKER_URL)
        request = urllib.request.Request(
            url + "/",
            data=_json.dumps(body).encode(),
            method="POST",
            headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
        )
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
        with opener.open(request, timeout=30) as response:
            return [response.status]

    return requests_


def _email_worker_requests(url: str, db, sandbox) -> list[int]:
    """A Cloud Tasks delivery (OIDC token) for an email the outbox does not know: acknowledged."""
    import json as _json

    from tests.conftest import TASKS_INVOKER, WORKER_URL

    token = sandbox.mint_oidc_token(TASKS_INVOKER, WORKER_URL)
    request = urllib.request.Request(
        url + "/",
        data=_json.dumps({"email_id": "unknown-email"}).encode(),
        method="POST",
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
    )
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    with opener.open(request, timeout=10) as response:
        return [response.status]
