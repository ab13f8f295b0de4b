"""Record the shape of every Firestore query the tests execute (tests only; shared/ knows nothing of it).

Firestore in production refuses a query that lacks a composite index (FAILED_PRECONDITION);
the emulator ignores indexes. So the test harness records each executed query's *shape* and
``tests/infra/firestore_indexes.py`` derives the index it needs and checks infra/ declares it.

The patch sits where google-cloud-firestore turns a query into the request it sends:
``BaseQuery._prep_stream`` (RunQuery: ``Query.stream``/``get``, ``Transaction.get(query)``) and
``BaseAggregationQuery._prep_stream`` (RunAggregationQuery: ``count``/``sum``/``avg``, which wrap
a nested query). The shape is read from the StructuredQuery protobuf, i.e. exactly what the
backend receives: composite AND filters are flattened, an OR is expanded into its disjunctions
(the backend plans each one on its own index), ``== None``/``== NaN`` arrive as unary IS_NULL/IS_NAN.

Each executed query appends one JSON line to the file named by ``CONVENE_TEST_QUERY_LOG``
(read at every query, so a test can redirect it), in one ``write`` on an ``O_APPEND`` descriptor,
so several processes can share the file::

    {"collection": "interviews", "collection_group": false,
     "filters": [{"field": "workspace_id", "op": "=="}, ...],
     "orders": [{"field": "start", "direction": "DESCENDING"}, ...],
     "aggregations": [{"op": "avg", "field": "actual_duration_minutes"}],
     "site": "shared/services/analytics.py:86 in _aggregate < shared/services/analytics.py:66 in report"}

``site`` names the innermost caller frames under ``<repo>/shared`` or ``<repo>/functions`` (null when
the query comes from test code only, e.g. an assertion helper): the coverage check requires
indexes for application queries only.

This module imports nothing from the repository, so ``sitecustomize.py`` can load it in a
function subprocess before anything else; the firestore modules are patched when (and if)
they are imported, so a process that never touches Firestore pays nothing.
"""

from __future__ import annotations

import importlib.abc
import importlib.machinery
import json
import os
import sys
import threading
from pathlib import Path
from typing import Any

ENV = "CONVENE_TEST_QUERY_LOG"
ROOT = Path(__file__).resolve().parents[3]
APP_DIRS = tuple(str(ROOT / name) + os.sep for name in ("shared", "functions"))
MAX_DISJUNCTIONS = 30  # Firestore's own limit on the disjunctive normal form of one query

_QUERY_MODULE = "google.cloud.firestore_v1.base_query"
_AGGREGATION_MODULE = "google.cloud.firestore_v1.base_aggregation"
_MARK = "_convene_querylog_original"
_lock = threading.Lock()
_COMPREHENSIONS = frozenset({"<listcomp>", "<dictcomp>", "<setcomp>", "<genexpr>"})  # own frames before 3.12

_FIELD_OPS = {
    "EQUAL": "==",
    "NOT_EQUAL": "!=",
    "LESS_THAN": "<",
    "LESS_THAN_OR_EQUAL": "<=",
    "GREATER_THAN": ">",
    "GREATER_THAN_OR_EQUAL": ">=",
    "IN": "in",
    "NOT_IN": "not-in",
    "ARRAY_CONTAINS": "array-contains",
    "ARRAY_CONTAINS_ANY": "array-contains-any",
}
_UNARY_OPS = {"IS_NULL": "is-null", "IS_NAN": "is-nan", "IS_NOT_NULL": "is-not-null", "IS_NOT_NAN": "is-not-nan"}


# --- protobuf → shape ------------------------------------------------------------------------


def _raw(message: Any) -> Any:
    """The plain protobuf behind a proto-plus message (or the message itself)."""
    pb = getattr(type(message), "pb", None)
    return pb(message) if callable(pb) else message


def _enum_name(message: Any, field: str) -> str:
    return message.DESCRIPTOR.fields_by_name[field].enum_type.values_by_number[getattr(message, field)].name


def _disjunctions(where: Any) -> list[list[dict[str, str]]]:
    """The filter as an OR of ANDs (disjunctive normal form), each AND a flat list of {field, op}."""
    kind = where.WhichOneof("filter_type")
    if kind is None:
        return [[]]
    if kind == "field_filter":
        f = where.field_filter
        return [[{"field": f.field.field_path, "op": _FIELD_OPS.get(_enum_name(f, "op"), _enum_name(f, "op"))}]]
    if kind == "unary_filter":
        f = where.unary_filter
        return [[{"field": f.field.field_path, "op": _UNARY_OPS.get(_enum_name(f, "op"), _enum_name(f, "op"))}]]
    composite = where.composite_filter
    parts = [_disjunctions(child) for child in composite.filters]
    if _enum_name(composite, "op") == "OR":
        return [conj for part in parts for conj in part][:MAX_DISJUNCTIONS]
    result: list[list[dict[str, str]]] = [[]]
    for part in parts:  # AND distributes over each child's disjunctions
        result = [left + right for left in result for right in part][:MAX_DISJUNCTIONS]
    return result


def shapes(structured_query: Any, aggregations: list[dict[str, Any]] | None = None) -> list[dict[str, Any]]:
    """One shape per disjunction of a StructuredQuery (proto-plus or raw protobuf)."""
    sq = _raw(structured_query)
    selector = getattr(sq, "from_", None) or getattr(sq, "from")  # `from`: a Python keyword
    selector = selector[0]
    orders = [{"field": o.field.field_path, "direction": _enum_name(o, "direction")} for o in sq.order_by]
    return [
        {
            "collection": selector.collection_id,
            "collection_group": bool(selector.all_descendants),
            "filters": filters,
            "orders": orders,
            "aggregations": list(aggregations or []),
        }
        for filters in _disjunctions(sq.where)
    ]


def _aggregation_shapes(structured_aggregation_query: Any) -> list[dict[str, Any]]:
    saq = _raw(structured_aggregation_query)
    aggregations = []
    for aggregation in saq.aggregations:
        op = aggregation.WhichOneof("operator")
        field = getattr(aggregation, op).field.field_path if op in ("sum", "avg") else None
        aggregations.append({"op": op, "field": field})
    return shapes(saq.structured_query, aggregations)


# --- where a query comes from ----------------------------------------------------------------


def _app_site(frame: Any) -> str | None:
    """``path:line in function`` of the innermost frame in the application (shared/ or
    functions/), followed by its application caller (``< ...``) when there is one: the innermost
    is often a small helper that runs every query. None when no application frame calls."""
    found: list[str] = []
    depth = 0
    while frame is not None and depth < 200 and len(found) < 2:
        filename = frame.f_code.co_filename
        if filename.startswith(APP_DIRS) and frame.f_code.co_name not in _COMPREHENSIONS:
            found.append(f"{os.path.relpath(filename, ROOT)}:{frame.f_lineno} in {frame.f_code.co_name}")
        frame, depth = frame.f_back, depth + 1
    return " < ".join(found) or None


# --- writing -----------------------------------------------------------------------------------


def _write(records: list[dict[str, Any]]) -> None:
    path = os.environ.get(ENV)
    if not path:
        return
    data = "".join(json.dumps(r, sort_keys=True) + "\n" for r in records).encode()
    with _lock:
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            os.write(fd, data)  # one write on O_APPEND: lines of concurrent processes never interleave
        finally:
            os.close(fd)


def _record(request: dict[str, Any], key: str) -> None:
    try:
        if not os.environ.get(ENV):
            return
        found = _aggregation_shapes(request[key]) if key == "structured_aggregation_query" else shapes(request[key])
        site = _app_site(sys._getframe(2))
        _write([{**shape, "site": site} for shape in found])
    except Exception as error:  # noqa: BLE001 - recording must never change what the query does
        print(f"convene_querylog: could not record a query: {error!r}", file=sys.stderr)


# --- patching ----------------------------------------------------------------------------------


def _wrap(cls: type, key: str) -> None:
    original = cls.__dict__["_prep_stream"]
    if getattr(original, _MARK, None) is not None:
        return  # already patched (install() is idempotent)

    def _prep_stream(self, *args, **kwargs):
        prepared = original(self, *args, **kwargs)
        _record(prepared[0], key)
        return prepared

    _prep_stream.__doc__ = original.__doc__
    setattr(_prep_stream, _MARK, original)
    cls._prep_stream = _prep_stream


def _patch_module(module: Any) -> None:
    if module.__name__ == _QUERY_MODULE:
        _wrap(module.BaseQuery, "structured_query")
    elif module.__name__ == _AGGREGATION_MODULE:
        _wrap(module.BaseAggregationQuery, "structured_aggregation_query")


class _PatchOnImport(importlib.abc.MetaPathFinder):
    """Patches the two firestore modules right after they are first executed."""

    def find_spec(self, name, path, target=None):
        if name not in (_QUERY_MODULE, _AGGREGATION_MODULE):
            return None
        spec = importlib.machinery.PathFinder.find_spec(name, path)
        if spec is None or spec.loader is None:
            return spec
        loader = spec.loader
        exec_module = loader.exec_module

        def exec_and_patch(module):
            exec_module(module)
            _patch_module(module)

        loader.exec_module = exec_and_patch
        return spec


def install(log_path: str | os.PathLike[str] | None = None) -> None:
    """Record every query this process executes; with ``log_path``, set ``CONVENE_TEST_QUERY_LOG``
    to it first. Patches now if firestore is loaded, else when it is."""
    if log_path is not None:
        os.environ[ENV] = str(log_path)
    loaded = [sys.modules[name] for name in (_QUERY_MODULE, _AGGREGATION_MODULE) if name in sys.modules]
    for module in loaded:
        _patch_module(module)
    if len(loaded) < 2 and not any(isinstance(f, _PatchOnImport) for f in sys.meta_path):
        sys.meta_path.insert(0, _PatchOnImport())


def subprocess_env(log_path: str | os.PathLike[str], pythonpath: str | None = None) -> dict[str, str]:
    """What a child Python process needs to record into ``log_path``: this folder first on
    PYTHONPATH (its sitecustomize.py installs the recorder), then ``pythonpath``."""
    here = str(Path(__file__).resolve().parent)
    return {ENV: str(log_path), "PYTHONPATH": os.pathsep.join(p for p in (here, pythonpath) if p)}
