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
function's FULL pinned closure, i.e. its direct pins plus every transitive dependency, each
pinned (``name==version``, sorted, one per line) to the version in the root
``constraints.txt`` (the resolved set the tests ran with). Otherwise the buildpack would
resolve grpcio, protobuf, Flask, Werkzeug, gunicorn, urllib3... to whatever is newest on
deploy day. The source ``functions/<name>/requirements.txt`` is never modified, and the
content hash covers the generated file, so a changed closure gives a new bundle name.

The closure is read from the metadata of the *installed* distributions
(``importlib.metadata``), walking ``Requires-Dist`` from the function's own requirements.
Environment markers are evaluated with ``packaging.markers`` for the deploy runtime
(CPython 3.12 on Linux x86_64, see DEPLOY_ENVIRONMENT), not for the Python running this
script, and an extra is followed only where a requirement asks for it
(``google-api-core[grpc]``). So run the packager with the project virtualenv, where the
pinned set is installed (``make package``, or ``.venv/bin/python scripts/package.py``
after ``make test``): any other Python does not see those distributions, and the
packager then stops with an error naming what is missing rather than guess. It also
stops when a dependency in the closure is not pinned in constraints.txt, when the
installed version differs from that pin, or when the pin does not satisfy a dependent's
version range.

Needs the ``packaging`` library (installed in the project virtualenv; it is pinned in
constraints.txt) besides the standard library; Python 3.11+.
"""

from __future__ import annotations

import argparse
import hashlib
import importlib.metadata
import io
import json
import os
import re
import sys
import tempfile
import zipfile
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

try:  # in the project virtualenv; prepare() says how to get it when it is missing
    from packaging.markers import Marker
    from packaging.requirements import InvalidRequirement, Requirement
    from packaging.utils import canonicalize_name
    from packaging.version import InvalidVersion, Version
except ImportError:  # pragma: no cover - exercised only outside the virtualenv
    Marker = Requirement = None  # type: ignore[assignment,misc]

ROOT = Path(__file__).resolve().parents[1]

ZIP_DATE_TIME = (1980, 1, 1, 0, 0, 0)  # earliest date the zip format can store
FILE_MODE = 0o100644  # regular file, rw-r--r--
HASH_PREFIX = 12

# Never shipped, wherever they appear below functions/<name>/ or shared/.
EXCLUDED_DIR_NAMES = {"__pycache__", "tests", "test", "node_modules"}
EXCLUDED_SUFFIXES = (".pyc", ".pyo", ".swp", "~")
EXCLUDED_FILE_NAMES = {"conftest.py"}
TEST_FILE = re.compile(r"^(test_.*|.*_test)\.py$")

# The deploy runtime (Cloud Functions gen2 "python312", Ubuntu on x86_64), as PEP 508
# marker variables: dependency markers are evaluated for it, not for the Python that runs
# this script. The runtime name does not fix the patch version: a marker drawing a line
# inside 3.12 (python_full_version) would be read as for 3.12.0.
DEPLOY_RUNTIME = "Python 3.12 (CPython) on Linux x86_64"
DEPLOY_ENVIRONMENT: dict[str, str] = {
    "implementation_name": "cpython",
    "implementation_version": "3.12.0",
    "os_name": "posix",
    "platform_machine": "x86_64",
    "platform_python_implementation": "CPython",
    "platform_release": "",
    "platform_system": "Linux",
    "platform_version": "",
    "python_full_version": "3.12.0",
    "python_version": "3.12",
    "sys_platform": "linux",
}

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


def read_root_pins(path: Path) -> dict[str, tuple[str, str]]:
    """The root requirements.txt: normalised name -> (name as written, version)."""
    if not path.is_file():
        raise PackagingError(f"{path}: root requirements file not found")
    pins: dict[str, tuple[str, str]] = {}
    for _number, line in _requirement_lines(path):
        if line.startswith("-"):
            continue  # pip options (-r, -c, --index-url) carry no pins of their own
        match = PIN.match(line)
        if match:
            pins[normalize(match["name"])] = (match["name"], match["version"])
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
                f"{where}: {match['name']}=={version} does not match {root_file}, "
                f"which pins {root_name}=={root_version}"
            )
    if "functions-framework" not in pins and not problems:
        problems.append(f"{path}: functions-framework must be pinned (otherwise the buildpack installs the latest)")
    if problems:
        raise PackagingError("requirements check failed:\n  " + "\n  ".join(problems))
    return pins


# --------------------------------------------------------------------------- closure


@dataclass(frozen=True)
class Installed:
    """What the closure needs from one installed distribution's metadata."""

    name: str  # as its metadata spells it
    version: str
    requires: tuple[str, ...]  # Requires-Dist lines, markers included


@dataclass
class Resolved:
    """A distribution in a function's closure, and every requirement that pulled it in."""

    name: str
    version: str  # installed
    requires: tuple[str, ...]
    extras: set[str]  # extras followed so far ("" = the distribution itself)
    wanted_by: list[tuple[str, Requirement]]  # (who asked, what it asked for)


Lookup = Callable[[str], "Installed | None"]


def installed_distribution(name: str) -> Installed | None:
    """The distribution as the Python running this script sees it (so: the project venv)."""
    try:
        dist = importlib.metadata.distribution(name)
    except importlib.metadata.PackageNotFoundError:
        return None
    return Installed(dist.metadata["Name"] or name, dist.version, tuple(dist.requires or ()))


def read_constraints(path: Path) -> dict[str, tuple[str, str]]:
    """constraints.txt (pip freeze): normalised name -> (name as written, version)."""
    if not path.is_file():
        raise PackagingError(f"{path}: not found; bundles pin their dependencies to it ({SETUP_HINT})")
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
        raise PackagingError("constraints check failed:\n  " + "\n  ".join(problems))
    return pins


def _applies(marker: Marker | None, extra: str, environment: Mapping[str, str]) -> bool:
    """Whether a Requires-Dist entry is wanted when `extra` ("" = none) of its distribution is
    installed on `environment`. For an extra, only what the extra adds counts."""
    if marker is None:
        return extra == ""
    if extra == "":
        return marker.evaluate({**environment, "extra": ""})
    return marker.evaluate({**environment, "extra": extra}) and not marker.evaluate({**environment, "extra": ""})


def resolve_closure(
    roots: Iterable[Requirement],
    *,
    lookup: Lookup | None = None,
    environment: Mapping[str, str] = DEPLOY_ENVIRONMENT,
    source: str = "requirements.txt",
) -> tuple[dict[str, Resolved], dict[str, list[str]]]:
    """Walk Requires-Dist from `roots` over the installed metadata, markers evaluated for
    `environment`, extras followed only where a requirement names them. `lookup` finds an
    installed distribution by name (default: installed_distribution, i.e. this Python's).

    Returns ({canonical name: Resolved}, {canonical name of a distribution that is not
    installed: [who asked for it]}).
    """
    lookup = lookup or installed_distribution
    nodes: dict[str, Resolved] = {}
    missing: dict[str, list[str]] = {}
    queue: deque[tuple[str, str]] = deque()  # (distribution, extra) whose requirements are still to read

    def want(requirement: Requirement, asked_by: str) -> None:
        key = canonicalize_name(requirement.name)
        extras = {canonicalize_name(extra) for extra in requirement.extras}
        if key in missing:
            missing[key].append(asked_by)
            return
        node = nodes.get(key)
        if node is None:
            dist = lookup(requirement.name)
            if dist is None:
                missing[key] = [asked_by]
                return
            node = nodes[key] = Resolved(dist.name, dist.version, dist.requires, set(), [])
        node.wanted_by.append((asked_by, requirement))
        for extra in sorted(({""} | extras) - node.extras):
            node.extras.add(extra)
            queue.append((key, extra))

    for requirement in roots:
        if requirement.marker is None or requirement.marker.evaluate({**environment, "extra": ""}):
            want(requirement, source)
    while queue:
        key, extra = queue.popleft()
        node = nodes[key]
        for line in node.requires:
            try:
                dependency = Requirement(line)
            except InvalidRequirement as exc:
                raise PackagingError(f"{node.name} {node.version}: cannot read {line!r} from its metadata: {exc}") from exc
            if _applies(dependency.marker, extra, environment):
                want(dependency, f"{node.name}[{extra}]" if extra else node.name)
    return nodes, missing


def pin_closure(
    nodes: Mapping[str, Resolved],
    missing: Mapping[str, list[str]],
    constraints: Mapping[str, tuple[str, str]],
    constraints_file: Path,
) -> list[tuple[str, str]]:
    """[(canonical name, version from constraints.txt)] sorted by name, or a PackagingError
    listing every distribution that is not installed, not in constraints.txt, installed at
    another version, or pinned outside what a dependent accepts."""
    problems: list[str] = []
    setup = bool(missing)  # the venv is missing or stale, as opposed to constraints.txt lacking a pin

    def asked(by: Iterable[str]) -> str:
        return ", ".join(sorted(set(by)))

    for key in sorted(missing):
        problems.append(f"{key} (required by {asked(missing[key])}) is not installed in {sys.prefix}")
    for key in sorted(nodes):
        node = nodes[key]
        by = asked(who for who, _ in node.wanted_by)
        if key not in constraints:
            problems.append(f"{node.name} (required by {by}) is not pinned in {constraints_file}; "
                            f"pin it there (the installed version is {node.version})")
            continue
        version = constraints[key][1]
        if node.version != version:
            setup = True
            problems.append(f"{node.name} (required by {by}): {constraints_file} pins {version} "
                            f"but {node.version} is installed in {sys.prefix}")
            continue
        for who, requirement in node.wanted_by:
            try:
                accepted = requirement.specifier.contains(Version(version), prereleases=True)
            except InvalidVersion:
                accepted = False
            if not accepted:
                problems.append(f"{node.name}=={version} (pinned in {constraints_file}) does not satisfy "
                                f"{who}'s requirement {requirement}")
    if problems:
        hint = SETUP_HINT if setup else (
            "every dependency of a bundle is pinned from constraints.txt: keep it the project venv's `pip freeze`")
        raise PackagingError("dependency closure failed:\n  " + "\n  ".join(problems) + f"\n  ({hint})")
    return [(key, constraints[key][1]) for key in sorted(nodes)]


def render_requirements(function: str, pins: Iterable[tuple[str, str]]) -> bytes:
    """The bundle's requirements.txt: a header, then one `name==version` a line, sorted."""
    header = (
        "# GENERATED by scripts/package.py; do not edit (edit the source, then rebuild).\n"
        f"# The full pinned closure of functions/{function}/requirements.txt: its direct pins plus\n"
        "# every transitive dependency (from the installed distributions' metadata), each pinned\n"
        "# to its version in constraints.txt; dependency markers evaluated for the deploy runtime,\n"
        f"# {DEPLOY_RUNTIME}.\n"
    )
    return (header + "".join(f"{name}=={version}\n" for name, version in sorted(pins))).encode("utf-8")


def bundle_requirements(function: str, source: Path, constraints_file: Path, *,
                        lookup: Lookup | None = None) -> bytes:
    """The generated requirements.txt for a function whose `source` requirements passed
    check_requirements()."""
    roots = [Requirement(line) for _number, line in _requirement_lines(source)]
    constraints = read_constraints(constraints_file)
    problems = [
        f"{source}: {root.name} is pinned to {pin} but {constraints_file} pins {constraints[key][1]}"
        for root in roots
        for key in [canonicalize_name(root.name)]
        for pin in [next(iter(root.specifier)).version]
        if key in constraints and constraints[key][1] != pin
    ]
    if problems:
        raise PackagingError("dependency closure failed:\n  " + "\n  ".join(problems))
    nodes, missing = resolve_closure(roots, lookup=lookup, source=f"functions/{function}/requirements.txt")
    return render_requirements(function, pin_closure(nodes, missing, constraints, constraints_file))


# --------------------------------------------------------------------------- files


def _excluded(relative: Path) -> bool:
    *dirs, name = relative.parts
    if any(part in EXCLUDED_DIR_NAMES or part.startswith(".") for part in dirs):
        return True
    return (
        name.startswith(".")
        or name.endswith(EXCLUDED_SUFFIXES)
        or name in EXCLUDED_FILE_NAMES
        or bool(TEST_FILE.match(name))
    )


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
    if Requirement is None:
        raise PackagingError(f"the 'packaging' library is not installed in {sys.prefix}; {SETUP_HINT}")
    root_file = root / "requirements.txt"
    source = function_dir / "requirements.txt"
    check_requirements(source, read_root_pins(root_file), root_file)
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
