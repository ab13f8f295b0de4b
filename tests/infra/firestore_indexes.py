"""Firestore composite-index coverage: the indexes the recorded queries need vs those infra/ declares.

Production Firestore answers FAILED_PRECONDITION ("The query requires an index") the first time a
query runs without the composite index it needs; the emulator ignores indexes, so the suite alone
cannot notice. ``tests/infra/querylog`` records the shape of every query the integration and
end-to-end suites execute; this module

1. models a recorded query (:class:`RecordedQuery`) and derives the composite index it needs
   (:func:`required_index`) by Firestore's documented rules (native mode);
2. reads the ``google_firestore_index`` (and ``google_firestore_field``) resources of infra/*.tf
   with python-hcl2 (:func:`declared_indexes_from_infra`);
3. reports every needed index no declared one satisfies (:func:`missing_indexes`) and, for
   information, declared indexes no recorded query uses (:func:`unused_indexes`).

Sources of the rules (cited where applied):
- [IDX] https://cloud.google.com/firestore/docs/query-data/index-overview
  (automatic single-field indexes, ascending and descending per field, plus array-contains;
  index merging for equality filters; composite indexes for everything else);
- [ORD] https://cloud.google.com/firestore/docs/query-data/order-limit-data and the implicit order
  the client SDKs compute to match the backend (firebase-js-sdk ``queryNormalizedOrderBy``,
  java-firestore ``createImplicitOrderBy``, python ``BaseQuery._normalize_orders``): explicit orders
  first; then every inequality field not explicitly ordered, in lexicographic field-path order, in
  the direction of the last explicit order (ascending when there is none); then ``__name__`` in
  that same direction;
- [MULTI] https://cloud.google.com/firestore/docs/query-data/multiple-range-fields
  (inequality: ``<, <=, >, >=, !=, not-in``; several inequality fields allowed);
- [AGG] https://cloud.google.com/firestore/docs/query-data/aggregation-queries
  (``sum``/``avg`` read the aggregated field from the index the query uses);
- [TF] google provider ``google_firestore_index``: "__name__ ... will be added automatically with
  the same direction as that of the last field defined"; ``query_scope`` defaults to COLLECTION.

Run as a script to print the report for a query log: ``python -m tests.infra.firestore_indexes LOG``.
"""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
INFRA = ROOT / "infra"
SUMMARY = ROOT / ".convene" / "infra" / "index-coverage.json"
NAME = "__name__"
ASC, DESC, CONTAINS = "ASCENDING", "DESCENDING", "CONTAINS"
_SHORT = {ASC: "ASC", DESC: "DESC", CONTAINS: "CONTAINS"}

# [IDX]: equality filters are served by merging single-field indexes; `in` is a disjunction of
# equalities, IS_NULL / IS_NAN are equality with null / NaN. array-contains(-any) match one array
# element: equality-like, on the field's CONTAINS index entry.
EQUALITY_OPS = frozenset({"==", "in", "is-null", "is-nan"})
ARRAY_OPS = frozenset({"array-contains", "array-contains-any"})
# [MULTI]: inequality operators; IS_NOT_NULL / IS_NOT_NAN are `!= null` / `!= NaN`.
INEQUALITY_OPS = frozenset({"<", "<=", ">", ">=", "!=", "not-in", "is-not-null", "is-not-nan"})
VALUE_AGGREGATIONS = frozenset({"sum", "avg"})


class InfraParseError(ValueError):
    """infra/ declares indexes in a form this check cannot evaluate."""


# --- recorded queries --------------------------------------------------------------------------


@dataclass(frozen=True)
class Filter:
    field: str
    op: str


@dataclass(frozen=True)
class Order:
    field: str
    direction: str  # ASCENDING | DESCENDING


@dataclass(frozen=True)
class Aggregation:
    op: str  # count | sum | avg
    field: str | None = None


@dataclass(frozen=True)
class RecordedQuery:
    """The shape of one executed query (one disjunction of it): what decides its index."""

    collection: str
    filters: tuple[Filter, ...] = ()
    orders: tuple[Order, ...] = ()
    aggregations: tuple[Aggregation, ...] = ()
    collection_group: bool = False
    site: str | None = field(default=None, compare=False)  # first app frame, e.g. shared/x.py:12

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> RecordedQuery:
        return cls(
            collection=data["collection"],
            filters=tuple(Filter(f["field"], f["op"]) for f in data.get("filters", ())),
            orders=tuple(Order(o["field"], o.get("direction", ASC)) for o in data.get("orders", ())),
            aggregations=tuple(Aggregation(a["op"], a.get("field")) for a in data.get("aggregations", ())),
            collection_group=bool(data.get("collection_group", False)),
            site=data.get("site"),
        )

    @property
    def shape(self) -> tuple:
        """Identity for counting distinct queries: filter order does not matter, order-by order does."""
        return (
            self.collection,
            self.collection_group,
            tuple(sorted((f.field, f.op) for f in self.filters)),
            self.orders,
            tuple(sorted((a.op, a.field or "") for a in self.aggregations)),
        )

    def describe(self) -> str:
        parts = [", ".join(f"{f.field} {f.op}" for f in self.filters)]
        if self.orders:
            parts.append("order " + ", ".join(f"{o.field} {_SHORT[o.direction]}" for o in self.orders))
        if self.aggregations:
            parts.append(", ".join(f"{a.op} {a.field}" if a.field else a.op for a in self.aggregations))
        scope = "collection group " if self.collection_group else ""
        return f"query on {scope}{self.collection} [{'; '.join(p for p in parts if p) or 'all documents'}]"


def read_query_log(path: Path) -> list[RecordedQuery]:
    """The queries of a JSON-lines log written by the recorder; a missing file is an empty log."""
    if not path.exists():
        return []
    return [RecordedQuery.from_json(json.loads(line)) for line in path.read_text().splitlines() if line.strip()]


def distinct(queries: Iterable[RecordedQuery]) -> list[RecordedQuery]:
    """One query per shape (the first seen, so its site is kept), in a stable order."""
    seen: dict[tuple, RecordedQuery] = {}
    for query in queries:
        seen.setdefault(query.shape, query)
    return sorted(seen.values(), key=lambda q: repr(q.shape))


# --- indexes -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class IndexField:
    field_path: str
    mode: str  # ASCENDING | DESCENDING | CONTAINS

    def __str__(self) -> str:
        return f"{self.field_path} {_SHORT.get(self.mode, self.mode)}"


@dataclass(frozen=True, eq=False)
class NeededIndex:
    """A composite index a query needs: equality fields (a set: their order in the index and
    their direction do not matter for matching; kept in the query's order for messages), then
    the ordering fields exactly, then the fields sum/avg aggregate."""

    collection: str
    query_scope: str  # COLLECTION | COLLECTION_GROUP
    equality: tuple[IndexField, ...]
    ordering: tuple[IndexField, ...]
    aggregated: tuple[str, ...] = ()

    def _key(self) -> tuple:
        return (self.collection, self.query_scope, frozenset(self.equality), self.ordering, self.aggregated)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, NeededIndex) and self._key() == other._key()

    def __hash__(self) -> int:
        return hash(self._key())

    @property
    def last_direction(self) -> str:
        directions = [f.mode for f in self.ordering if f.mode != CONTAINS]
        return directions[-1] if directions else ASC

    def fields(self) -> tuple[IndexField, ...]:
        """The index to declare: equality fields (ASC, or CONTAINS for arrays), the ordering, the
        aggregated fields (ASC), and the implicit ``__name__`` [ORD]."""
        return (
            *self.equality,
            *self.ordering,
            *(IndexField(a, ASC) for a in self.aggregated),
            IndexField(NAME, self.last_direction),
        )

    def describe(self) -> str:
        scope = " (collection group)" if self.query_scope == "COLLECTION_GROUP" else ""
        return f"({', '.join(str(f) for f in self.fields())}){scope}"


@dataclass(frozen=True)
class DeclaredIndex:
    address: str  # e.g. google_firestore_index.interviews_by_start, with [key] under for_each
    collection: str
    query_scope: str
    fields: tuple[IndexField, ...]
    source: str = ""

    def describe(self) -> str:
        return f"{self.address} on {self.collection} ({', '.join(str(f) for f in self.fields)})"


def required_index(query: RecordedQuery) -> NeededIndex | None:
    """The composite index ``query`` needs, or None when automatic single-field indexes serve it.

    No composite index [IDX]:
    - only equality filters (``==``, ``in``, IS_NULL, IS_NAN, array-contains(-any)) and no order
      other than ``__name__`` (single-field indexes hold ``__name__`` and are merged);
    - one field only: every filter, order and aggregated field is on the same field (``__name__``
      aside; it ends every index entry);
    - ``count`` adds nothing; filters and orders on ``__name__`` alone need nothing either.

    Otherwise a composite index of [IDX]/[ORD]/[MULTI]/[AGG]:
    - every equality field, ascending (array-contains fields: CONTAINS);
    - the query's order: the explicit orders, then the inequality fields not explicitly ordered,
      by field path, in the direction of the last explicit order (ascending when none);
      an explicit order on a field that also has an equality filter is redundant and dropped;
    - each field ``sum``/``avg`` aggregates that is not already in it, ascending;
    - ``__name__`` last in the direction of the last order (implicit: a declared index need not
      list it).
    A collection-group query needs the same, with query scope COLLECTION_GROUP. (The single-field
    cases are checked by :func:`single_field_needs`: collection-group single-field indexes are
    not automatic, and a ``google_firestore_field`` index_config replaces a field's automatic ones.)
    """
    scope = "COLLECTION_GROUP" if query.collection_group else "COLLECTION"
    unknown = [f.op for f in query.filters if f.op not in EQUALITY_OPS | ARRAY_OPS | INEQUALITY_OPS]
    if unknown:
        raise ValueError(f"{query.describe()}: unknown filter operator(s) {unknown}")
    filters = [f for f in query.filters if f.field != NAME]
    orders = [o for o in query.orders if o.field != NAME]
    aggregated = [a.field for a in query.aggregations if a.op in VALUE_AGGREGATIONS and a.field and a.field != NAME]

    involved = {f.field for f in filters} | {o.field for o in orders} | set(aggregated)
    if len(involved) <= 1:
        return None  # one field: its automatic single-field index (asc, desc or contains)
    only_equality = all(f.op in EQUALITY_OPS | ARRAY_OPS for f in filters)
    if only_equality and not orders and not aggregated:
        return None  # index merging of single-field indexes

    equality = {
        f.field: IndexField(f.field, CONTAINS if f.op in ARRAY_OPS else ASC) for f in filters if f.op in EQUALITY_OPS | ARRAY_OPS
    }
    ordering: list[IndexField] = []
    for order in orders:
        if order.field in equality and equality[order.field].mode == ASC:
            continue
        if order.field not in {f.field_path for f in ordering}:
            ordering.append(IndexField(order.field, order.direction))
    last = ordering[-1].mode if ordering else ASC
    for name in sorted({f.field for f in filters if f.op in INEQUALITY_OPS}):
        if name not in {f.field_path for f in ordering}:
            ordering.append(IndexField(name, last))
    in_index = set(equality) | {f.field_path for f in ordering}
    extra: list[str] = []
    for name in aggregated:
        if name not in in_index and name not in extra:
            extra.append(name)
    return NeededIndex(query.collection, scope, tuple(equality.values()), tuple(ordering), tuple(extra))


def single_field_needs(query: RecordedQuery) -> list[tuple[str, frozenset[str]]]:
    """For a query :func:`required_index` serves without a composite index: the single-field
    indexes it reads, as (field, acceptable modes). One field: its ASC index (DESC when ordered
    descending, CONTAINS for array-contains); equality only: each field's ASC or DESC index
    (merged), CONTAINS for array fields."""
    fields = [f for f in query.filters if f.field != NAME]
    orders = [o for o in query.orders if o.field != NAME]
    aggregated = {a.field for a in query.aggregations if a.op in VALUE_AGGREGATIONS and a.field and a.field != NAME}
    involved = {f.field for f in fields} | {o.field for o in orders} | aggregated
    needs: dict[str, frozenset[str]] = {}
    for name in sorted(involved):
        if any(f.field == name and f.op in ARRAY_OPS for f in fields):
            needs[name] = frozenset({CONTAINS})
        elif len(involved) == 1 and (orders or any(f.op in INEQUALITY_OPS for f in fields) or aggregated):
            needs[name] = frozenset({orders[0].direction if orders else ASC})
        else:
            needs[name] = frozenset({ASC, DESC})
    return sorted(needs.items())


@dataclass(frozen=True)
class FieldOverride:
    """A ``google_firestore_field`` with an ``index_config``: exactly these single-field indexes
    (mode, query scope) exist for the field; an empty ``index_config {}`` leaves none."""

    address: str
    collection: str
    field: str
    indexes: frozenset[tuple[str, str]]


def _single_field_problems(query: RecordedQuery, overrides: Mapping[tuple[str, str], FieldOverride]) -> list[str]:
    scope = "COLLECTION_GROUP" if query.collection_group else "COLLECTION"
    problems = []
    for name, modes in single_field_needs(query):
        override = overrides.get((query.collection, name))
        wanted = " or ".join(sorted(_SHORT[m] for m in modes))
        if override is None:
            if scope == "COLLECTION":
                continue  # automatic [IDX]
            problems.append(
                f"{query.describe()} needs a collection-group single-field index on {name} ({wanted}) — "
                f"declare a google_firestore_field with index_config {{ indexes {{ query_scope = "
                f'"COLLECTION_GROUP" }} }}'
            )
        elif not any(mode in modes and s == scope for mode, s in override.indexes):
            problems.append(
                f"{query.describe()} needs the single-field index {name} {wanted} ({scope.lower()}), "
                f"which {override.address}'s index_config leaves out — add it there"
            )
    return problems


def satisfies(declared: DeclaredIndex, needed: NeededIndex) -> bool:
    """Whether ``declared`` serves ``needed``: same collection and query scope; its first fields
    are exactly the needed equality fields in any order and any direction (CONTAINS must match);
    then exactly the needed ordering, same directions (strict: a reversed index does not count);
    then the aggregated fields; optionally a trailing ``__name__`` in the direction of the field
    before it ([TF]: the provider adds it that way when it is left out)."""
    if declared.collection != needed.collection or declared.query_scope != needed.query_scope:
        return False
    fields = list(declared.fields)
    if fields and fields[-1].field_path == NAME:
        before = [f.mode for f in fields[:-1] if f.mode != CONTAINS]
        if fields[-1].mode != (before[-1] if before else ASC):
            return False
        fields = fields[:-1]
    n = len(needed.equality)
    prefix, rest = fields[:n], fields[n:]
    if {(f.field_path, f.mode == CONTAINS) for f in prefix} != {(f.field_path, f.mode == CONTAINS) for f in needed.equality}:
        return False
    if len(prefix) != n:
        return False
    ordering = tuple(rest[: len(needed.ordering)])
    if ordering != needed.ordering:
        return False
    return [f.field_path for f in rest[len(needed.ordering) :]] == list(needed.aggregated)


def _app(queries: Iterable[RecordedQuery], app_only: bool) -> list[RecordedQuery]:
    return [q for q in queries if q.site or not app_only]


def missing_indexes(
    recorded_queries: Iterable[RecordedQuery],
    declared_indexes: Iterable[DeclaredIndex],
    *,
    field_overrides: Iterable[FieldOverride] = (),
    app_only: bool = True,
    infra_file: str = "infra/firestore.tf",
) -> list[str]:
    """One message per distinct needed composite index no declared index satisfies; and one per
    query whose single-field index a ``google_firestore_field`` override removes (or, for a
    collection-group query, does not add).

    With ``app_only`` (default), queries recorded without an application frame (test helpers
    reading the emulator) are ignored: production never runs them.
    """
    declared = list(declared_indexes)
    overrides = {(o.collection, o.field): o for o in field_overrides}
    by_index: dict[NeededIndex, list[RecordedQuery]] = {}
    messages = []
    for query in distinct(_app(recorded_queries, app_only)):
        needed = required_index(query)
        if needed is None:
            messages += _single_field_problems(query, overrides)
        elif not any(satisfies(d, needed) for d in declared):
            by_index.setdefault(needed, []).append(query)
    for needed, queries in by_index.items():
        query = queries[0]
        also = f" (and {len(queries) - 1} more query shape(s))" if len(queries) > 1 else ""
        where = f", from {query.site}" if query.site else ""
        messages.append(
            f"{query.describe()}{where}{also} needs a composite index {needed.describe()} — "
            f"declare a google_firestore_index in {infra_file}"
        )
    return sorted(messages)


def unused_indexes(
    recorded_queries: Iterable[RecordedQuery], declared_indexes: Iterable[DeclaredIndex], *, app_only: bool = True
) -> list[str]:
    """Declared indexes no recorded query needs (informational: a query no test runs, or a leftover)."""
    needed = {required_index(q) for q in distinct(_app(recorded_queries, app_only))} - {None}
    return sorted(d.describe() for d in declared_indexes if not any(satisfies(d, n) for n in needed))


# --- infra/*.tf ----------------------------------------------------------------------------------

_REF = re.compile(r"^\$\{\s*([A-Za-z_][\w-]*(?:\.[\w-]+|\[\d+\]|\[\"[^\"]*\"\])*)\s*\}$")
_STEP = re.compile(r"\.([\w-]+)|\[(\d+)\]|\[\"([^\"]*)\"\]")


def _load_tf(path: Path) -> dict[str, Any]:
    import hcl2
    from hcl2 import SerializationOptions

    options = SerializationOptions(strip_string_quotes=True, explicit_blocks=False, with_comments=False)
    with path.open() as handle:
        try:
            return hcl2.load(handle, serialization_options=options)
        except Exception as error:  # the parser raises lark errors of several kinds
            raise InfraParseError(f"{path}: not valid HCL: {error}") from error


class _Scope:
    """Just enough of Terraform's expression language for index declarations: literal values and
    plain references (``local.x.y``, ``var.x`` with a default, ``each.key``/``each.value...``,
    a dynamic block's ``<iterator>.value...``). Anything else is refused with a clear error
    rather than guessed."""

    def __init__(self, names: Mapping[str, Any], where: str):
        self.names, self.where = dict(names), where

    def child(self, **names: Any) -> _Scope:
        return _Scope({**self.names, **names}, self.where)

    def eval(self, value: Any) -> Any:
        if isinstance(value, dict):
            return {k: self.eval(v) for k, v in value.items()}
        if isinstance(value, list):
            return [self.eval(v) for v in value]
        if not isinstance(value, str) or "${" not in value:
            return value
        match = _REF.match(value.strip())
        if not match:
            raise InfraParseError(
                f"{self.where}: cannot evaluate {value!r} offline; declare indexes with "
                "literals, locals, variable defaults or for_each over them"
            )
        expr = match.group(1)
        root, rest = re.match(r"^([A-Za-z_][\w-]*)(.*)$", expr).groups()
        if root not in self.names:
            raise InfraParseError(f"{self.where}: unknown reference {expr!r}")
        current = self.names[root]
        for step in _STEP.finditer(rest):
            key = (
                step.group(1)
                if step.group(1) is not None
                else (int(step.group(2)) if step.group(2) is not None else step.group(3))
            )
            try:
                current = current[key]
            except (KeyError, IndexError, TypeError) as error:
                raise InfraParseError(f"{self.where}: {expr!r} does not resolve ({error!r})") from error
        return self.eval(current)


def _blocks(body: Mapping[str, Any], name: str, scope: _Scope) -> list[dict[str, Any]]:
    """The (static and dynamic) nested blocks ``name`` of a resource body, evaluated, in source
    order. python-hcl2 groups static blocks under ``name`` and dynamic ones under ``dynamic``, in
    the order each kind first appears; :func:`_check_block_order` refuses sources where that loses
    the order (static, dynamic, static)."""
    result: list[dict[str, Any]] = []
    for key in body:
        if key == name:
            result += [scope.eval(b) for b in body[name] if isinstance(b, dict)]
        elif key == "dynamic":
            for dynamic in body["dynamic"]:
                spec = dynamic.get(name)
                if spec is None:
                    continue
                iterator = spec.get("iterator", name)
                if isinstance(iterator, str) and iterator.startswith("${"):
                    iterator = iterator.strip("${} ")
                items = scope.eval(spec.get("for_each", []))
                pairs = items.items() if isinstance(items, dict) else enumerate(items)
                for item_key, value in pairs:
                    inner = scope.child(**{iterator: {"key": item_key, "value": value}})
                    result += [inner.eval(content) for content in spec.get("content", [])]
    return result


def _check_block_order(text: str, file: Path) -> None:
    """Refuse a google_firestore_index whose static ``fields`` blocks sit both before and after a
    dynamic one: the parsed form cannot tell their order, and the order of an index matters."""
    starts = [m.start() for m in re.finditer(r'(?m)^\s*resource\s+"google_firestore_index"\s+"([^"]+)"', text)]
    for begin, end in zip(starts, [*starts[1:], len(text)]):
        chunk = text[begin:end]
        kinds = [m.group(1) is not None for m in re.finditer(r'(?m)^\s*(?:(dynamic)\s+"fields"|fields)\s*\{', chunk)]
        runs = [k for i, k in enumerate(kinds) if i == 0 or k != kinds[i - 1]]
        if len(runs) > 2:
            name = re.match(r'\s*resource\s+"google_firestore_index"\s+"([^"]+)"', chunk).group(1)
            raise InfraParseError(
                f"{file.name}: google_firestore_index.{name}: static fields blocks both before and "
                "after a dynamic one; list them on one side so the field order is unambiguous"
            )


def _instances(body: Mapping[str, Any], address: str, scope: _Scope) -> list[tuple[str, _Scope]]:
    if "for_each" in body:
        items = scope.eval(body["for_each"])
        pairs = items.items() if isinstance(items, dict) else ((v, v) for v in items)
        return [(f'{address}["{k}"]', scope.child(each={"key": k, "value": v})) for k, v in pairs]
    if "count" in body:
        count = scope.eval(body["count"])
        if not isinstance(count, int):
            raise InfraParseError(f"{address}: count must be a literal number for this check")
        return [(f"{address}[{i}]", scope.child(count={"index": i})) for i in range(count)]
    return [(address, scope)]


def declared_indexes_from_infra(path: Path | str = INFRA) -> list[DeclaredIndex]:
    """Every composite index the Terraform in ``path`` (a directory of .tf files, or one file)
    declares: each ``google_firestore_index`` of the default API scope (Datastore-mode indexes
    do not serve Firestore queries), expanded over ``for_each``/``count`` and dynamic ``fields``."""
    return _read_infra(Path(path))[0]


def field_overrides_from_infra(path: Path | str = INFRA) -> list[FieldOverride]:
    """Every ``google_firestore_field`` of ``path`` that sets ``index_config`` (a TTL-only
    field keeps its automatic indexes)."""
    return _read_infra(Path(path))[1]


def _read_infra(path: Path) -> tuple[list[DeclaredIndex], list[FieldOverride]]:
    files = sorted(path.glob("*.tf")) if path.is_dir() else [path]
    documents = [(f, _load_tf(f)) for f in files]
    for file in files:
        _check_block_order(file.read_text(), file)
    locals_: dict[str, Any] = {}
    variables: dict[str, Any] = {}
    for _, doc in documents:
        for block in doc.get("locals", []):
            locals_.update(block)
        for block in doc.get("variable", []):
            for name, spec in block.items():
                if "default" in spec:
                    variables[name] = spec["default"]
    base = _Scope({"local": locals_, "var": variables}, str(path))  # references resolve lazily, recursively

    declared: list[DeclaredIndex] = []
    overrides: list[FieldOverride] = []
    for file, doc in documents:
        for block in doc.get("resource", []):
            for name, body in block.get("google_firestore_index", {}).items():
                address = f"google_firestore_index.{name}"
                for instance, scope in _instances(body, address, _Scope(base.names, f"{file.name}: {address}")):
                    scope.where = f"{file.name}: {instance}"
                    if scope.eval(body.get("api_scope", "ANY_API")) == "DATASTORE_MODE_API":
                        continue
                    fields = []
                    for entry in _blocks(body, "fields", scope):
                        mode = entry.get("order") or entry.get("array_config")
                        if "vector_config" in entry:
                            mode = "VECTOR"
                        if not entry.get("field_path") or mode not in (ASC, DESC, CONTAINS, "VECTOR"):
                            raise InfraParseError(
                                f"{scope.where}: a fields block needs field_path and order "
                                f"(ASCENDING|DESCENDING) or array_config = CONTAINS: {entry}"
                            )
                        fields.append(IndexField(entry["field_path"], mode))
                    collection = scope.eval(body.get("collection"))
                    if not collection:
                        raise InfraParseError(f"{scope.where}: no collection")
                    declared.append(
                        DeclaredIndex(
                            instance, collection, scope.eval(body.get("query_scope", "COLLECTION")), tuple(fields), str(file)
                        )
                    )
            for name, body in block.get("google_firestore_field", {}).items():
                address = f"google_firestore_field.{name}"
                for instance, scope in _instances(body, address, _Scope(base.names, f"{file.name}: {address}")):
                    configs = _blocks(body, "index_config", scope)
                    if not configs:
                        continue
                    indexes = frozenset(
                        (entry.get("order") or entry.get("array_config"), entry.get("query_scope", "COLLECTION"))
                        for config in configs
                        for entry in _blocks(config, "indexes", scope)
                    )
                    overrides.append(
                        FieldOverride(instance, scope.eval(body.get("collection")), scope.eval(body.get("field")), indexes)
                    )
    return declared, overrides


# --- the session check ---------------------------------------------------------------------------


@dataclass
class CoverageReport:
    queries: list[RecordedQuery]  # distinct application query shapes
    needed: list[NeededIndex]  # distinct composite indexes those need
    declared: list[DeclaredIndex]
    missing: list[str]
    unused: list[str]
    test_only: list[RecordedQuery] = field(default_factory=list)  # shapes only test code ran

    def summary(self) -> dict[str, Any]:
        return {
            "queries_recorded": len(self.queries),
            "composite_needed": len(self.needed),
            "declared": len(self.declared),
            "missing": self.missing,
            "unused_declared": self.unused,
            "query_shapes": [
                {"query": q.describe(), "site": q.site, "index": (i.describe() if (i := required_index(q)) else None)}
                for q in self.queries
            ],
            "test_only_query_shapes": [q.describe() for q in self.test_only],
        }


def coverage(log_path: Path, infra: Path = INFRA) -> CoverageReport:
    recorded = read_query_log(log_path)
    app = distinct(q for q in recorded if q.site)
    app_shapes = {q.shape for q in app}
    test_only = [q for q in distinct(recorded) if q.shape not in app_shapes]
    declared, overrides = _read_infra(infra) if infra.exists() else ([], [])
    needed = sorted({n for q in app if (n := required_index(q)) is not None}, key=lambda n: n.describe())
    return CoverageReport(
        app, needed, declared, missing_indexes(app, declared, field_overrides=overrides), unused_indexes(app, declared), test_only
    )


def session_check(log_path: Path, *, infra: Path = INFRA, summary_path: Path | None = SUMMARY) -> list[str]:
    """For conftest's ``pytest_sessionfinish``: the lines to print when indexes are missing (empty
    when covered); writes the summary JSON to ``summary_path``."""
    try:
        report = coverage(log_path, infra)
    except InfraParseError as error:
        return [f"Firestore index coverage: {error}"]
    if summary_path is not None:
        summary_path.parent.mkdir(parents=True, exist_ok=True)
        summary_path.write_text(json.dumps(report.summary(), indent=2) + "\n")
    if not report.missing:
        return []
    return [
        "Firestore composite indexes missing from infra/ (production answers FAILED_PRECONDITION):",
        *(f"  {m}" for m in report.missing),
    ]


def main(argv: list[str]) -> int:
    log = Path(argv[0]) if argv else None
    if log is None:
        print("usage: python -m tests.infra.firestore_indexes QUERY_LOG [INFRA_DIR]", file=sys.stderr)
        return 2
    report = coverage(log, Path(argv[1]) if len(argv) > 1 else INFRA)
    print(json.dumps(report.summary(), indent=2))
    return 1 if report.missing else 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
