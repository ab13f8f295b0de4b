#!/usr/bin/env python3
"""Build one deployable source zip per Cloud Function.

    .venv/bin/python scripts/package.py [--out dist] [name ...]     (or: make package)

Each bundle holds the function's own folder (main.py, requirements.txt, templates...)
and the common ``shared/`` package side by side at the zip root, which is how Google
documents shipping local code with a Cloud Function: the buildpack only sees the
uploaded source, so ``from shared...`` must resolve inside it.

The zip is deterministic (sorted entries, fixed timestamps and permissions) and named
``<function>-<first 12 hex of the content hash>.zip``: a change to any bundled byte gives
a new object name, which is what forces a redeploy (same idea as cloud-foundation-fabric).
The content hash is computed over the entry names and bytes, not over the zip file, so
it does not depend on the zlib build that compressed it.

Before zipping, the function's requirements.txt is checked: it must exist, pin every
entry with ``==``, and use the same pin as the root requirements.txt for each package.

The bundle does not ship that file as written. Its ``requirements.txt`` is generated: the
function's FULL pinned closure (its direct pins plus every transitive dependency, sorted,
one ``name==version`` a line), each at its version in the root ``constraints.txt`` (the set
the tests ran with). Otherwise the buildpack would resolve grpcio, protobuf, Flask,
gunicorn, urllib3... to whatever is newest on deploy day. The source
``functions/<name>/requirements.txt`` is never modified, and the content hash covers the
generated file, so a changed closure gives a new bundle name.

The closure is resolved by ``uv pip compile`` (uv is pinned in requirements-dev.txt and
constraints.txt, so the project virtualenv has it) with ``-c constraints.txt``, for the
deploy runtime (UV_TARGET: markers are evaluated for CPython 3.12 on Linux x86_64, not for
the Python running this script) from the packages' published wheel metadata; nothing is
built. Every package in the result must be pinned in constraints.txt, so the output only
depends on that file, the function's requirements and those pinned releases' metadata
(which an index never changes): the same inputs give the same bytes, whatever is newest. uv runs ``--offline`` first (its cache, warm after one
build, is enough) and goes to the index (PyPI, or UV_DEFAULT_INDEX...) only on a miss. A
pin that a dependent does not accept, or a package the index does not have, stops the
packager with uv's explanation.

Standard library only besides the ``uv`` package; Python 3.11+.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import os
import re
import subprocess
import sys
import tempfile
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

ZIP_DATE_TIME = (1980, 1, 1, 0, 0, 0)  # earliest date the zip format can store
FILE_MODE = 0o100644  # regular file, rw-r--r--
HASH_PREFIX = 12

# Never shipped, wherever they appear below functions/<name>/ or shared/.
EXCLUDED_DIR_NAMES = {"__pycache__", "tests", "test", "node_modules"}
EXCLUDED_SUFFIXES = (".pyc", ".pyo", ".swp", "~")
EXCLUDED_FILE_NAMES = {"conftest.py"}
TEST_FILE = re.compile(r"^(test_.*|.*_test)\.py$")

# The deploy runtime (Cloud Functions gen2 "python312", Ubuntu on x86_64), as uv's resolution
# target: markers are evaluated for it and metadata is read from the wheels it would install
# (manylinux_2_28 and older; the runtime's glibc is newer). uv reads "3.12" as 3.12.0.
DEPLOY_RUNTIME = "Python 3.12 (CPython) on Linux x86_64"
UV_TARGET = ("--python-version", "3.12", "--python-platform", "x86_64-manylinux_2_28")
# The UV_* settings passed through to uv (by prefix): where and how to fetch. Any other
# (UV_OVERRIDE, UV_EXCLUDE, UV_CONSTRAINT...) could change the closure, so it is dropped.
UV_FETCH_SETTINGS = (
    "UV_CACHE_DIR",
    "UV_DEFAULT_INDEX",
    "UV_INDEX",
    "UV_EXTRA_INDEX_URL",
    "UV_FIND_LINKS",
    "UV_HTTP_",
    "UV_INSECURE_HOST",
    "UV_KEYRING_PROVIDER",
    "UV_NATIVE_TLS",
    "UV_SYSTEM_CERTS",
)

SETUP_HINT = (
    "run `make test` (it creates .venv and installs requirements-dev.txt with -c constraints.txt), "
    "then package with the project virtualenv: `make package` or `.venv/bin/python scripts/package.py`"
)

# name[extras]==version[; marker]  (a single exact pin, nothing else)
PIN = re.compile(
    r"^(?P<name>[A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9])?)\s*"
    r"(?:\[[^\]]*\])?\s*"
    r"==\s*(?P<version>[A-Za-z0-9][A-Za-z0-9.+!_-]*)\s*"
    r"(?:;.*)?$"
)
# One line of `uv pip compile --annotation-style line`: name==version  # via a, b, -c file
COMPILED = re.compile(r"^(?P<name>[a-z0-9][a-z0-9.-]*)==(?P<version>\S+)\s*(?:#\s*via\s+(?P<via>.*))?$")


class PackagingError(Exception):
    """A function cannot be bundled; the message says which file and why."""


@dataclass(frozen=True)
class Bundle:
    function: str
    path: Path
    sha256: str  # content hash (entry names + bytes); its prefix is in the file name
    zip_sha256: str  # hash of the zip file itself, for upload checks
    size: int
    files: tuple[str, ...]


# --------------------------------------------------------------------------- requirements


def normalize(name: str) -> str:
    """PEP 503 name normalisation: Jinja2 == jinja2, pyasn1_modules == pyasn1-modules."""
    return re.sub(r"[-_.]+", "-", name).lower()


def _requirement_lines(path: Path) -> list[tuple[int, str]]:
    lines = []
    for number, raw in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        line = raw.strip()
        if line.startswith("#"):
            continue
        line = re.sub(r"\s+#.*$", "", line).strip()
        if line:
            lines.append((number, line))
    return lines


def read_pins(path: Path) -> dict[str, tuple[str, str]]:
    """A pinned requirements file (requirements.txt, constraints.txt): normalised name ->
    (name as written, version). pip options (-r, -c, --index-url) carry no pins of their own."""
    if not path.is_file():
        raise PackagingError(f"{path}: not found ({SETUP_HINT})")
    pins: dict[str, tuple[str, str]] = {}
    problems: list[str] = []
    for number, line in _requirement_lines(path):
        if line.startswith("-"):
            continue
        match = PIN.match(line)
        if not match:
            problems.append(f"{path}:{number}: {line!r} is not an exact pin (name==version)")
            continue
        pins[normalize(match["name"])] = (match["name"], match["version"])
    if problems:
        raise PackagingError("pins check failed:\n  " + "\n  ".join(problems))
    return pins


def check_requirements(path: Path, root_pins: dict[str, tuple[str, str]], root_file: Path) -> dict[str, str]:
    """Validate a function's requirements.txt; returns normalised name -> version."""
    if not path.is_file():
        raise PackagingError(f"{path}: missing (every function needs its own pinned requirements.txt)")
    problems: list[str] = []
    pins: dict[str, str] = {}
    for number, line in _requirement_lines(path):
        where = f"{path}:{number}"
        if line.startswith("-"):
            problems.append(f"{where}: {line!r}: pip options are not allowed; the bundle must be self-contained")
            continue
        match = PIN.match(line)
        if not match:
            problems.append(f"{where}: {line!r} is not pinned; write it as name==version")
            continue
        key, version = normalize(match["name"]), match["version"]
        if key in pins:
            problems.append(f"{where}: {match['name']} is listed twice")
            continue
        pins[key] = version
        if key not in root_pins:
            problems.append(f"{where}: {match['name']}=={version} is not in {root_file}; add it there first")
        elif root_pins[key][1] != version:
            root_name, root_version = root_pins[key]
            problems.append(
                f"{where}: {match['name']}=={version} does not match {root_file}, which pins {root_name}=={root_version}"
            )
    if "functions-framework" not in pins and not problems:
        problems.append(f"{path}: functions-framework must be pinned (otherwise the buildpack installs the latest)")
    if problems:
        raise PackagingError("requirements check failed:\n  " + "\n  ".join(problems))
    return pins


# --------------------------------------------------------------------------- closure


def uv_binary() -> str:
    try:
        from uv import find_uv_bin
    except ImportError:
        raise PackagingError(f"the 'uv' package is not installed in {sys.prefix}; {SETUP_HINT}") from None
    return find_uv_bin()


def compile_closure(requirements: Path, constraints_file: Path, *, uv_args: Sequence[str] = ()) -> list[tuple[str, str, str]]:
    """`uv pip compile` of `requirements` under `constraints_file` for the deploy runtime:
    [(canonical name, version, who asked for it)] sorted by name. `uv_args` go to uv as they
    are (tests point it at a local folder of wheels)."""
    command = [
        uv_binary(),
        "pip",
        "compile",
        str(requirements),
        "--constraints",
        str(constraints_file),
        *UV_TARGET,
        "--python",
        sys.executable,  # uv needs an interpreter; it only reads metadata (--no-build) for UV_TARGET
        "--no-python-downloads",
        "--no-config",
        "--no-build",
        "--no-header",
        "--annotation-style",
        "line",
        "--quiet",
        *uv_args,
    ]
    env = {k: v for k, v in os.environ.items() if not k.startswith("UV_") or k.startswith(UV_FETCH_SETTINGS)}
    for offline in (["--offline"], []):  # the cache first; the index only on a miss
        result = subprocess.run([*command, *offline], check=False, capture_output=True, text=True, env=env, timeout=600)
        if result.returncode == 0:
            break
    else:
        raise PackagingError(f"uv pip compile {requirements} -c {constraints_file} failed:\n{result.stderr.strip()}")
    pins = []
    for line in result.stdout.splitlines():
        if line.strip() and not line.startswith("#"):
            match = COMPILED.match(line.strip())
            if not match:
                raise PackagingError(f"cannot read uv's output line {line!r}")
            via = [who for who in (match["via"] or "").split(", ") if who and not who.startswith(("-c ", "-r "))]
            pins.append((normalize(match["name"]), match["version"], ", ".join(via) or str(requirements)))
    return sorted(pins)


def bundle_requirements(function: str, source: Path, constraints_file: Path) -> bytes:
    """The generated requirements.txt for a function whose `source` requirements passed
    check_requirements(): a header, then one `name==version` a line, sorted."""
    constraints = read_pins(constraints_file)
    pins = compile_closure(source, constraints_file)
    problems = [
        f"{name} (required by {via}) is not pinned in {constraints_file}; pin it there (uv picked {version})"
        if name not in constraints
        else f"{name}: uv picked {version} but {constraints_file} pins {constraints[name][1]}"
        for name, version, via in pins
        if constraints.get(name, ("", ""))[1] != version
    ]
    if problems:
        hint = "every dependency of a bundle is pinned from constraints.txt: keep it the project venv's `pip freeze`"
        raise PackagingError("dependency closure failed:\n  " + "\n  ".join(problems) + f"\n  ({hint})")
    header = (
        "# GENERATED by scripts/package.py; do not edit (edit the source, then rebuild).\n"
        f"# The full pinned closure of functions/{function}/requirements.txt: its direct pins plus\n"
        "# every transitive dependency (uv pip compile -c constraints.txt), each pinned to its\n"
        f"# version in constraints.txt; dependency markers evaluated for the deploy runtime,\n# {DEPLOY_RUNTIME}.\n"
    )
    return (header + "".join(f"{name}=={version}\n" for name, version, _via in pins)).encode("utf-8")


# --------------------------------------------------------------------------- files


def _excluded(relative: Path) -> bool:
    *dirs, name = relative.parts
    if any(part in EXCLUDED_DIR_NAMES or part.startswith(".") for part in dirs):
        return True
    return name.startswith(".") or name.endswith(EXCLUDED_SUFFIXES) or name in EXCLUDED_FILE_NAMES or bool(TEST_FILE.match(name))


def _walk(base: Path, prefix: str) -> dict[str, Path]:
    """Regular files below base that belong in a bundle, as {zip name: path}."""
    found: dict[str, Path] = {}
    for directory, dirnames, filenames in os.walk(base):
        dirnames[:] = [d for d in dirnames if d not in EXCLUDED_DIR_NAMES and not d.startswith(".")]
        for filename in filenames:
            path = Path(directory, filename)
            relative = path.relative_to(base)
            if _excluded(relative) or not path.is_file():
                continue
            found[prefix + relative.as_posix()] = path
    return found


def collect(function_dir: Path, shared_dir: Path) -> dict[str, bytes]:
    """Everything the bundle holds: {zip name: bytes}, sorted by name."""
    if not (function_dir / "main.py").is_file():
        raise PackagingError(f"{function_dir}: no main.py")
    if not (shared_dir / "__init__.py").is_file():
        raise PackagingError(f"{shared_dir}: not a package (no __init__.py)")
    own = _walk(function_dir, "")
    clashes = sorted(name for name in own if name.split("/", 1)[0] == "shared")
    if clashes:
        raise PackagingError(f"{function_dir}: has its own shared/ ({clashes[0]}), which would clash with the vendored one")
    entries = {**own, **_walk(shared_dir, "shared/")}
    return {name: entries[name].read_bytes() for name in sorted(entries)}


def content_hash(entries: dict[str, bytes]) -> str:
    digest = hashlib.sha256()
    for name in sorted(entries):
        digest.update(name.encode("utf-8") + b"\0" + hashlib.sha256(entries[name]).digest())
    return digest.hexdigest()


def zip_bytes(entries: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name in sorted(entries):
            info = zipfile.ZipInfo(name, date_time=ZIP_DATE_TIME)
            info.create_system = 3  # Unix, so the mode below is honoured on extraction
            info.external_attr = FILE_MODE << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, entries[name], compress_type=zipfile.ZIP_DEFLATED, compresslevel=9)
    return buffer.getvalue()


# --------------------------------------------------------------------------- bundles


def discover(root: Path) -> list[str]:
    functions = root / "functions"
    if not functions.is_dir():
        return []
    return sorted(p.name for p in functions.iterdir() if p.is_dir() and (p / "main.py").is_file())


def prepare(function: str, *, root: Path = ROOT) -> dict[str, bytes]:
    """Validate one function and return its bundle entries; writes nothing."""
    function_dir = root / "functions" / function
    if not function_dir.is_dir():
        known = ", ".join(discover(root)) or "none"
        raise PackagingError(f"no function {function!r} under {root / 'functions'} (known: {known})")
    root_file = root / "requirements.txt"
    source = function_dir / "requirements.txt"
    check_requirements(source, read_pins(root_file), root_file)
    entries = collect(function_dir, root / "shared")
    # Only the bundle's copy is replaced; the hash and the zip are computed from `entries`.
    entries["requirements.txt"] = bundle_requirements(function, source, root / "constraints.txt")
    return entries


def write_bundle(function: str, entries: dict[str, bytes], out_dir: Path) -> Bundle:
    """Write <out>/<function>-<hash>.zip and drop older zips of the same function."""
    sha = content_hash(entries)
    data = zip_bytes(entries)
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / f"{function}-{sha[:HASH_PREFIX]}.zip"
    _write_atomically(path, data)
    stale = re.compile(rf"^{re.escape(function)}-[0-9a-f]{{{HASH_PREFIX}}}\.zip$")
    for old in out_dir.iterdir():
        if old != path and stale.match(old.name):
            old.unlink()
    return Bundle(function, path, sha, hashlib.sha256(data).hexdigest(), len(data), tuple(entries))


def build(function: str, out_dir: Path, *, root: Path = ROOT) -> Bundle:
    return write_bundle(function, prepare(function, root=root), out_dir)


def _write_atomically(path: Path, data: bytes) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_manifest(out_dir: Path, bundles: list[Bundle]) -> Path:
    """dist/manifest.json: {function: {zip, sha256, files, ...}}. Entries of functions not
    rebuilt this time are kept while their zip is still there."""
    path = out_dir / "manifest.json"
    manifest: dict[str, dict] = {}
    if path.is_file():
        try:
            manifest = {k: v for k, v in json.loads(path.read_text()).items() if (out_dir / v["zip"]).is_file()}
        except (ValueError, KeyError, TypeError, AttributeError):
            manifest = {}
    for bundle in bundles:
        manifest[bundle.function] = {
            "zip": bundle.path.name,
            "sha256": bundle.sha256,
            "files": list(bundle.files),
            "size": bundle.size,
            "zip_sha256": bundle.zip_sha256,
        }
    _write_atomically(path, (json.dumps(dict(sorted(manifest.items())), indent=2) + "\n").encode())
    return path


def _size(n: int) -> str:
    return f"{n / 1024:.1f} KiB" if n < 1024 * 1024 else f"{n / 1024 / 1024:.1f} MiB"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("functions", nargs="*", metavar="name", help="functions to bundle (default: all)")
    parser.add_argument("--out", type=Path, default=None, help="output folder (default: <root>/dist)")
    parser.add_argument("--root", type=Path, default=ROOT, help=argparse.SUPPRESS)  # tests point it at a copy
    args = parser.parse_args(argv)
    root = args.root.resolve()
    out_dir = (args.out or root / "dist").resolve()

    names = list(dict.fromkeys(args.functions)) or discover(root)
    if not names:
        print(f"error: no functions found under {root / 'functions'}", file=sys.stderr)
        return 1
    prepared, failures = {}, []
    for name in names:  # validate everything before writing anything
        try:
            prepared[name] = prepare(name, root=root)
        except PackagingError as exc:
            failures.append(f"error: {name}: {exc}")
    if failures:
        print("\n".join(failures), file=sys.stderr)
        return 1
    bundles = [write_bundle(name, entries, out_dir) for name, entries in prepared.items()]
    width = max(len(b.function) for b in bundles)
    for b in bundles:
        shown = os.path.relpath(b.path) if b.path.is_relative_to(Path.cwd()) else str(b.path)
        print(f"{b.function:<{width}}  {shown}  {_size(b.size)}  {len(b.files)} files")
    write_manifest(out_dir, bundles)
    return 0


if __name__ == "__main__":
    sys.exit(main())
