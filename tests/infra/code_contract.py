"""What each deployed function needs from its deployment, derived from the code itself.

The Terraform in infra/ must give each function exactly the environment, secrets and
permissions its code uses. Rather than keep a second hand-written list that drifts, this
module reads the source (``ast``, nothing is imported or run):

- the settings a function reads: the modules its ``main.py`` imports (transitively), the
  container components it touches (``shared/bootstrap.py``, followed through the
  components each one builds), itself or in the shared functions it calls (e.g.
  ``internal_router``, whose authenticator uses ``service_tokens``), and every
  ``settings.<field>`` in that code;
- each settings field's environment variable, from ``Settings.from_env``;
- the secrets it reads: the settings fields that name a secret (``*_secret``);
- whether it uses Firestore, enqueues Cloud Tasks, or only accepts internal callers
  (the ``service_tokens`` component: Cloud Scheduler / Cloud Tasks OIDC).

The result over-approximates slightly (a module that reads a field on one path counts
for every function importing it): a function may be given a variable it reads on no
path it serves, never denied one it reads.
"""

from __future__ import annotations

import ast
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

from shared import config

ROOT = Path(__file__).resolve().parents[2]
SETTINGS_NAMES = {"settings", "_settings", "s"}  # how code refers to the Settings object


@dataclass(frozen=True)
class FunctionNeeds:
    """A function's needs, as its code states them."""

    name: str
    modules: frozenset[str]
    components: frozenset[str]
    settings_fields: frozenset[str]
    env_vars: frozenset[str] = field(default=frozenset())
    secret_vars: frozenset[str] = field(default=frozenset())

    @property
    def uses_firestore(self) -> bool:
        return "firestore" in self.components

    @property
    def enqueues_tasks(self) -> bool:
        return "email_tasks" in self.components

    @property
    def internal(self) -> bool:
        """Accepts only Google-signed OIDC tokens of its configured caller."""
        return "service_tokens" in self.components

    @property
    def required_env(self) -> frozenset[str]:
        """Variables with no production default that this function reads."""
        return self.env_vars & config.DEPLOYMENT_REQUIRED | self.secret_vars

    @property
    def allowed_env(self) -> frozenset[str]:
        return self.env_vars - config.LOCAL_ONLY


def function_names() -> list[str]:
    return sorted(p.name for p in (ROOT / "functions").iterdir() if (p / "main.py").is_file())


@cache
def _tree(path: Path) -> ast.Module:
    return ast.parse(path.read_text(), filename=str(path))


def _module_path(module: str) -> Path | None:
    base = ROOT.joinpath(*module.split("."))
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


def _type_checking_nodes(tree: ast.AST) -> set[int]:
    """ids of nodes under ``if TYPE_CHECKING:`` (imports there never run)."""
    skipped: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and isinstance(node.test, ast.Name) and node.test.id == "TYPE_CHECKING":
            skipped.update(id(n) for child in node.body for n in ast.walk(child))
    return skipped


def _imports(nodes: Iterable[ast.AST], skip: set[int]) -> Iterator[str]:
    """The shared.* modules named by the import statements among ``nodes``."""
    for node in nodes:
        if id(node) in skip:
            continue
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.startswith("shared"):
                    yield alias.name
        elif isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("shared"):
            for alias in node.names:
                sub = f"{node.module}.{alias.name}"
                yield sub if _module_path(sub) else node.module


def _module_closure(start: Iterable[str]) -> set[str]:
    """Modules reachable by imports. bootstrap.py counts only for its module-level imports:
    what its builders import lazily is followed per component instead."""
    seen: set[str] = set()
    todo = list(start)
    while todo:
        module = todo.pop()
        path = _module_path(module)
        if module in seen or path is None:
            continue
        seen.add(module)
        tree = _tree(path)
        nodes = tree.body if module == "shared.bootstrap" else ast.walk(tree)
        todo.extend(_imports(nodes, _type_checking_nodes(tree)))
        parts = module.split(".")  # importing a.b.c runs a/__init__ and a/b/__init__ too
        todo.extend(".".join(parts[:i]) for i in range(1, len(parts)))
    return seen


@cache
def _components() -> dict[str, ast.FunctionDef]:
    """Container members built on first use (``@lazy``), by name."""
    tree = _tree(ROOT / "shared" / "bootstrap.py")
    container = next(n for n in tree.body if isinstance(n, ast.ClassDef) and n.name == "Container")
    return {
        node.name: node
        for node in container.body
        if isinstance(node, ast.FunctionDef) and any(isinstance(d, ast.Name) and d.id == "lazy" for d in node.decorator_list)
    }


def _self_attributes(node: ast.AST) -> set[str]:
    return {
        n.attr for n in ast.walk(node) if isinstance(n, ast.Attribute) and isinstance(n.value, ast.Name) and n.value.id == "self"
    }


def _component_closure(start: Iterable[str]) -> set[str]:
    components = _components()
    seen: set[str] = set()
    todo = [name for name in start if name in components]
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        todo.extend(a for a in _self_attributes(components[name]) if a in components)
    return seen


@cache
def settings_fields() -> dict[str, str]:
    """Settings field -> environment variable, read from ``Settings.from_env``."""
    tree = _tree(ROOT / "shared" / "config.py")
    from_env = next(n for n in ast.walk(tree) if isinstance(n, ast.FunctionDef) and n.name == "from_env")
    call = next(n for n in ast.walk(from_env) if isinstance(n, ast.Call) and isinstance(n.func, ast.Name) and n.func.id == "cls")
    fields: dict[str, str] = {}
    for keyword in call.keywords:
        names = [
            c.value
            for c in ast.walk(keyword.value)
            if isinstance(c, ast.Constant) and isinstance(c.value, str) and c.value in config.VARIABLES
        ]
        variable = names[0] if names else None
        if variable is None and isinstance(keyword.value, ast.Name):  # computed above from_env's call (project_id, backend…)
            variable = _assigned_variable(from_env, keyword.value.id)
        if variable is None:
            raise AssertionError(f"Settings.{keyword.arg}: no environment variable found in from_env")
        fields[str(keyword.arg)] = variable
    return fields


def _assigned_variable(function: ast.FunctionDef, name: str) -> str | None:
    for node in ast.walk(function):
        if isinstance(node, ast.Assign) and any(isinstance(t, ast.Name) and t.id == name for t in node.targets):
            for c in ast.walk(node.value):
                if isinstance(c, ast.Constant) and c.value in config.VARIABLES:
                    return str(c.value)
    return None


@cache
def _settings_properties() -> dict[str, set[str]]:
    """Settings properties -> the fields they read (``oauth_callback_url`` -> oauth_public_url)."""
    tree = _tree(ROOT / "shared" / "config.py")
    settings_class = next(n for n in tree.body if isinstance(n, ast.ClassDef) and n.name == "Settings")
    return {
        node.name: _self_attributes(node) & set(settings_fields())
        for node in settings_class.body
        if isinstance(node, ast.FunctionDef) and any(isinstance(d, ast.Name) and d.id == "property" for d in node.decorator_list)
    }


def _settings_reads(node: ast.AST) -> set[str]:
    """Fields read as ``settings.x``, ``self._settings.x``, ``self.settings.x`` or ``s.x``."""
    known = set(settings_fields()) | set(_settings_properties())
    found: set[str] = set()
    for n in ast.walk(node):
        if not isinstance(n, ast.Attribute) or n.attr not in known:
            continue
        base = n.value
        if (isinstance(base, ast.Name) and base.id in SETTINGS_NAMES) or (
            isinstance(base, ast.Attribute) and base.attr in SETTINGS_NAMES
        ):
            found.add(n.attr)
    for prop in found & set(_settings_properties()):
        found |= _settings_properties()[prop]
    return found & set(settings_fields())


def _called_helpers(tree: ast.Module, skip: set[int]) -> Iterator[ast.FunctionDef]:
    """The module-level functions of shared.* that ``tree`` imports by name and calls
    (``internal_router(...)``): what they touch, the caller touches."""
    called = {n.func.id for n in ast.walk(tree) if isinstance(n, ast.Call) and isinstance(n.func, ast.Name)}
    for node in ast.walk(tree):
        if id(node) in skip or not isinstance(node, ast.ImportFrom) or not (node.module or "").startswith("shared"):
            continue
        path = _module_path(str(node.module))
        if path is None:
            continue
        defined = {d.name: d for d in _tree(path).body if isinstance(d, ast.FunctionDef)}
        for alias in node.names:
            if (alias.asname or alias.name) in called and alias.name in defined:
                yield defined[alias.name]


def needs(function: str) -> FunctionNeeds:
    main = ROOT / "functions" / function / "main.py"
    tree = _tree(main)
    skip = _type_checking_nodes(tree)
    modules = _module_closure(_imports(ast.walk(tree), skip))
    touched = {n.attr for n in ast.walk(tree) if isinstance(n, ast.Attribute)}
    for helper in _called_helpers(tree, skip):
        touched |= {n.attr for n in ast.walk(helper) if isinstance(n, ast.Attribute)}
    components = _component_closure(touched)
    builders = _components()
    for name in components:  # what a component's builder imports runs when it is built
        skip = _type_checking_nodes(builders[name])
        modules |= _module_closure(_imports(ast.walk(builders[name]), skip))
    fields = _settings_reads(tree)
    for module in modules - {"shared.bootstrap", "shared.config"}:
        fields |= _settings_reads(_tree(_module_path(module)))  # type: ignore[arg-type]
    for name in components:
        fields |= _settings_reads(builders[name])
    fields |= _bootstrap_always_reads()
    env = frozenset(settings_fields()[f] for f in fields)
    secrets = frozenset(settings_fields()[f] for f in fields if f.endswith("_secret"))
    return FunctionNeeds(function, frozenset(modules), frozenset(components), frozenset(fields), env, secrets)


@cache
def _bootstrap_always_reads() -> frozenset[str]:
    """What ``container()`` reads for every function at start-up (log level, project)."""
    tree = _tree(ROOT / "shared" / "bootstrap.py")
    function = next(n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name == "container")
    return frozenset(_settings_reads(function) | {"project_id"})


def all_needs() -> dict[str, FunctionNeeds]:
    return {name: needs(name) for name in function_names()}


if __name__ == "__main__":  # python -m tests.infra.code_contract: the table docs/deploy.md shows
    for item in all_needs().values():
        flags = [
            flag
            for flag, on in (("firestore", item.uses_firestore), ("enqueues", item.enqueues_tasks), ("internal", item.internal))
            if on
        ]
        print(f"{item.name}: {' '.join(flags)}")
        print(f"  required: {', '.join(sorted(item.required_env))}")
        print(f"  optional: {', '.join(sorted(item.allowed_env - item.required_env))}")
