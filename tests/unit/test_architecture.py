"""The boundaries the design relies on, checked on the source itself."""

import ast
import sys
from pathlib import Path

from devstack.processes import ROOT

# shared.api_limits: plain constants generated from docs/openapi.yaml (no imports of its own).
ALLOWED_IN_DOMAIN = ("shared.domain", "shared.api_limits")
# The domain states refusals by meaning (shared.domain.errors); HTTP and frameworks are the entry layer's.
FORBIDDEN_IN_DOMAIN = ("shared.errors", "shared.http", "flask", "werkzeug", "functions_framework", "google")


def _imports(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.update(f"{node.module}.{alias.name}" for alias in node.names)  # `from shared import x` is shared.x
    return names


def test_the_domain_imports_only_the_standard_library():
    offenders = {}
    for path in (ROOT / "shared" / "domain").glob("*.py"):
        bad = {
            n for n in _imports(path) if n.split(".")[0] not in sys.stdlib_module_names and not n.startswith(ALLOWED_IN_DOMAIN)
        }
        if bad:
            offenders[path.name] = bad
    assert offenders == {}


def _all_imports(path: Path, package: str) -> set[str]:
    """Every module ``path`` imports, at any depth (lazy imports in functions too), relative ones resolved."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = ".".join(package.split(".")[: len(package.split(".")) - node.level + 1]) if node.level else ""
            module = ".".join(p for p in (base, node.module or "") if p)
            names.add(module)
            names.update(f"{module}.{alias.name}" for alias in node.names)
    return names


def test_the_domain_knows_nothing_of_http_or_frameworks():
    """shared/domain raises shared.domain.errors; shared.errors.from_domain and shared.http map them."""
    offenders = {}
    for path in sorted((ROOT / "shared" / "domain").rglob("*.py")):
        bad = {
            name
            for name in _all_imports(path, "shared.domain")
            if any(name == f or name.startswith(f + ".") for f in FORBIDDEN_IN_DOMAIN)
        }
        if bad:
            offenders[str(path.relative_to(ROOT))] = sorted(bad)
    assert offenders == {}


def test_the_layer_check_sees_what_it_forbids(tmp_path):
    probe = tmp_path / "probe.py"
    probe.write_text("def f():\n    from shared.errors import BadRequest\n    import flask\nfrom .. import http\n")
    found = _all_imports(probe, "shared.domain")
    assert {"shared.errors", "flask", "shared.http"} <= found


def test_only_the_config_module_reads_the_environment():
    readers = [
        str(path.relative_to(ROOT))
        for folder in ("shared", "functions")
        for path in (ROOT / folder).rglob("*.py")
        if "os.environ" in path.read_text() or "getenv(" in path.read_text()
    ]
    assert readers == ["shared/config.py"]


def test_loading_a_function_does_not_load_clients_its_requests_may_not_need():
    """Cold start: Calendar, Tasks, SendGrid and Secret Manager clients load only when used."""
    import os
    import subprocess

    heavy = ("googleapiclient", "google.cloud.tasks", "sendgrid", "google.cloud.secretmanager")
    # Deliberate exceptions, each a client that the function's most frequent request needs:
    # scheduling's booking-link view and availability call Calendar free/busy, so it loads the
    # Calendar client before gunicorn forks (docs/benchmarks.md, the scheduling cold start).
    preloaded = {"scheduling": ("googleapiclient",)}
    for main in sorted((ROOT / "functions").glob("*/main.py")):
        watched = tuple(h for h in heavy if h not in preloaded.get(main.parent.name, ()))
        probe = (
            "import importlib.util, sys\n"
            f"spec = importlib.util.spec_from_file_location('main', {str(main)!r})\n"
            "spec.loader.exec_module(importlib.util.module_from_spec(spec))\n"
            f"print(sorted(m for m in sys.modules if m.startswith({watched!r})))\n"
        )
        env = {**os.environ, "PYTHONPATH": str(ROOT), "CONVENE_PROJECT_ID": "p"}
        result = subprocess.run([sys.executable, "-c", probe], env=env, capture_output=True, text=True, timeout=60)
        assert result.returncode == 0, result.stderr
        assert result.stdout.strip() == "[]", (main, result.stdout)
