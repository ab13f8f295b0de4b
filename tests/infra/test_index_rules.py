"""The index rules of tests/infra/firestore_indexes.py, the infra/ reader and the checker, on fixtures.

No emulator: queries are written as recorded shapes, or built with the real client and turned
into the protobuf the recorder reads (nothing is sent).
"""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest

from tests.infra.firestore_indexes import (
    ASC,
    CONTAINS,
    DESC,
    Aggregation,
    DeclaredIndex,
    Filter,
    IndexField,
    InfraParseError,
    Order,
    RecordedQuery,
    declared_indexes_from_infra,
    missing_indexes,
    required_index,
    satisfies,
    session_check,
    unused_indexes,
)


def q(
    collection: str = "interviews",
    filters: str = "",
    orders: str = "",
    aggregations: str = "",
    group: bool = False,
    site: str | None = "shared/x.py:1",
) -> RecordedQuery:
    """A query from a compact text: filters "a ==, b >=", orders "start DESC", aggregations "avg d"."""

    def pairs(text):
        return [tuple(part.split()) for part in text.split(",") if part.strip()]

    return RecordedQuery(
        collection=collection,
        filters=tuple(Filter(field, op) for field, op in pairs(filters)),
        orders=tuple(Order(field, {"ASC": ASC, "DESC": DESC}[d]) for field, d in pairs(orders)),
        aggregations=tuple(Aggregation(*p) for p in pairs(aggregations)),
        collection_group=group,
        site=site,
    )


def index_fields(query: RecordedQuery) -> str | None:
    needed = required_index(query)
    return None if needed is None else ", ".join(str(f) for f in needed.fields())


def declared(collection: str, fields: str, scope: str = "COLLECTION", name: str = "x") -> DeclaredIndex:
    modes = {"ASC": ASC, "DESC": DESC, "CONTAINS": CONTAINS}
    return DeclaredIndex(
        f"google_firestore_index.{name}",
        collection,
        scope,
        tuple(IndexField(f, modes[m]) for f, m in (p.split() for p in fields.split(","))),
    )


# --- derivation: no composite index --------------------------------------------------------------


@pytest.mark.parametrize(
    "query",
    [
        q(),  # a whole collection
        q(filters="status =="),
        q(filters="workspace_id ==, status ==, host.uid =="),  # equality only: index merging
        q(filters="workspace_id ==, status in"),  # `in` is equality
        q(filters="status ==, last_sync_at is-null"),  # == None arrives as IS_NULL: equality
        q(filters="score is-nan, status =="),
        q(filters="status ==", orders="__name__ ASC"),  # the maintenance page of connections
        q(filters="status ==, type ==", orders="__name__ DESC"),
        q(filters="expires_at <"),  # one field: its single-field index
        q(filters="next_reminder_at <=", orders="next_reminder_at ASC"),  # range and order on the same field
        q(filters="start >=, start <", orders="start DESC, __name__ DESC"),
        q(orders="start DESC"),
        q(filters="tags array-contains"),
        q(filters="tags array-contains, status =="),  # array-contains merges like equality
        q(filters="status ==", aggregations="count"),  # count adds no field
        q(aggregations="avg duration"),  # an average over the whole collection: duration's own index
        q(filters="duration >", aggregations="sum duration"),
        q(filters="__name__ >=, status =="),  # __name__ ends every single-field index entry
        q(filters="status ==", orders="status ASC"),
    ],
)
def test_queries_served_by_single_field_indexes(query):
    assert required_index(query) is None, query.describe()


# --- derivation: composite indexes ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("query", "fields"),
    [
        # equality + an order on another field
        (q(filters="workspace_id ==", orders="start ASC"), "workspace_id ASC, start ASC, __name__ ASC"),
        # equality + a range: the inequality field is ordered implicitly, ascending
        (q(filters="status ==, updated_at <"), "status ASC, updated_at ASC, __name__ ASC"),
        # `in` counts as equality
        (q(filters="status in, updated_at <"), "status ASC, updated_at ASC, __name__ ASC"),
        # the interviews list: equality fields, then the explicit order, __name__ in its direction
        (
            q(filters="workspace_id ==, status ==, start >=", orders="start DESC, __name__ DESC"),
            "workspace_id ASC, status ASC, start DESC, __name__ DESC",
        ),
        (
            q(filters="workspace_id ==, host.uid ==, status in, start >=, start <", orders="start ASC, __name__ ASC"),
            "workspace_id ASC, host.uid ASC, status ASC, start ASC, __name__ ASC",
        ),
        # attendance: two equalities, two ranges on end, ordered by end
        (q(filters="status ==, type ==, end <, end >=", orders="end ASC"), "status ASC, type ASC, end ASC, __name__ ASC"),
        # != is an inequality (implicitly ordered); so is IS_NOT_NULL (`!= None`)
        (q(filters="status ==, cancelled_at !="), "status ASC, cancelled_at ASC, __name__ ASC"),
        (q(filters="status ==, last_error is-not-null"), "status ASC, last_error ASC, __name__ ASC"),
        (q(filters="status not-in, workspace_id =="), "workspace_id ASC, status ASC, __name__ ASC"),
        # several inequality fields without an order: by field path, ascending
        (q(filters="start >=, priority <"), "priority ASC, start ASC, __name__ ASC"),
        # implicit orders follow the direction of the last explicit order
        (q(filters="start >=, priority <", orders="start DESC"), "start DESC, priority DESC, __name__ DESC"),
        # a range on one field, an order on another
        (q(filters="start >="), None),
        (q(filters="start >=", orders="created DESC"), "created DESC, start DESC, __name__ DESC"),
        # two orders, no filter
        (q(orders="start ASC, end DESC"), "start ASC, end DESC, __name__ DESC"),
        # an explicit order on __name__ only sets the direction of the implicit one
        (q(filters="status ==", orders="start ASC, __name__ ASC"), "status ASC, start ASC, __name__ ASC"),
        # array-contains with an order: a CONTAINS field in the equality part
        (q(filters="tags array-contains", orders="start DESC"), "tags CONTAINS, start DESC, __name__ DESC"),
        # analytics: count over equality + range; avg appends the averaged field
        (
            q(filters="workspace_id ==, start >=, start <, status ==", aggregations="count"),
            "workspace_id ASC, status ASC, start ASC, __name__ ASC",
        ),
        (
            q(filters="workspace_id ==, start >=, start <, status ==", aggregations="count, avg actual_duration_minutes"),
            "workspace_id ASC, status ASC, start ASC, actual_duration_minutes ASC, __name__ ASC",
        ),
        # an aggregated field already in the index is not repeated
        (q(filters="status ==, duration >", aggregations="avg duration"), "status ASC, duration ASC, __name__ ASC"),
        # equality + avg over another field: the field must come from the index
        (q(filters="status ==", aggregations="sum duration"), "status ASC, duration ASC, __name__ ASC"),
    ],
)
def test_composite_index_derivation(query, fields):
    assert index_fields(query) == fields, query.describe()


def test_collection_group_queries_need_collection_group_indexes():
    needed = required_index(q(collection="events", filters="uid ==", orders="at DESC", group=True))
    assert needed is not None and needed.query_scope == "COLLECTION_GROUP"
    assert "(collection group)" in needed.describe()
    assert not satisfies(declared("events", "uid ASC, at DESC"), needed)
    assert satisfies(declared("events", "uid ASC, at DESC", scope="COLLECTION_GROUP"), needed)


def test_unknown_operator_is_an_error_not_a_guess():
    with pytest.raises(ValueError, match="unknown filter operator"):
        required_index(q(filters="a ~~"))


# --- matching a declared index -------------------------------------------------------------------

LIST_DESC = required_index(q(filters="workspace_id ==, status ==, start >=", orders="start DESC, __name__ DESC"))


@pytest.mark.parametrize(
    ("fields", "ok"),
    [
        ("workspace_id ASC, status ASC, start DESC", True),
        ("status ASC, workspace_id ASC, start DESC", True),  # equality fields in any order
        ("workspace_id DESC, status ASC, start DESC", True),  # and any direction
        ("workspace_id ASC, status ASC, start DESC, __name__ DESC", True),  # explicit __name__, right direction
        ("workspace_id ASC, status ASC, start DESC, __name__ ASC", False),  # wrong __name__ direction
        ("workspace_id ASC, status ASC, start ASC", False),  # strict: a reversed order is not accepted
        ("workspace_id ASC, start DESC", False),  # an equality field missing
        ("workspace_id ASC, status ASC, host.uid ASC, start DESC", False),  # an extra equality field
        ("workspace_id ASC, status ASC, start DESC, end ASC", False),  # an extra trailing field
        ("start DESC, workspace_id ASC, status ASC", False),  # the order field must follow the equalities
        ("workspace_id ASC, status CONTAINS, start DESC", False),  # CONTAINS is not equality on the value
    ],
)
def test_declared_index_matching(fields, ok):
    assert satisfies(declared("interviews", fields), LIST_DESC) is ok


def test_matching_needs_the_same_collection_and_scope():
    assert not satisfies(declared("outbox", "workspace_id ASC, status ASC, start DESC"), LIST_DESC)
    assert not satisfies(declared("interviews", "workspace_id ASC, status ASC, start DESC", scope="COLLECTION_GROUP"), LIST_DESC)


def test_matching_with_aggregated_fields():
    needed = required_index(q(filters="workspace_id ==, status ==, start >=, start <", aggregations="avg minutes"))
    assert satisfies(declared("interviews", "workspace_id ASC, status ASC, start ASC, minutes ASC"), needed)
    assert satisfies(declared("interviews", "status ASC, workspace_id ASC, start ASC, minutes ASC, __name__ ASC"), needed)
    assert not satisfies(declared("interviews", "workspace_id ASC, status ASC, start ASC"), needed)
    assert not satisfies(declared("interviews", "workspace_id ASC, status ASC, minutes ASC, start ASC"), needed)


# --- the checker ---------------------------------------------------------------------------------


def test_missing_index_message_names_the_query_and_the_fields():
    query = q(
        filters="workspace_id ==, status ==, start >=",
        orders="start DESC, __name__ DESC",
        site="shared/adapters/firestore.py:191",
    )
    [message] = missing_indexes([query], [])
    assert message == (
        "query on interviews [workspace_id ==, status ==, start >=; order start DESC, __name__ DESC], "
        "from shared/adapters/firestore.py:191 needs a composite index "
        "(workspace_id ASC, status ASC, start DESC, __name__ DESC) — "
        "declare a google_firestore_index in infra/firestore.tf"
    )


def test_one_message_per_missing_index_and_none_for_index_free_queries():
    queries = [
        q(filters="status ==, updated_at <"),
        q(filters="status in, updated_at <"),  # one index
        q(filters="status =="),
        q(filters="expires_at <"),  # none
        q(filters="status ==, updated_at <"),
    ]  # a repeat
    [message] = missing_indexes(queries, [])
    assert "(status ASC, updated_at ASC, __name__ ASC)" in message and "1 more query shape" in message


def test_queries_only_test_code_runs_are_not_required():
    helper = q(filters="workspace_id ==", orders="start DESC", site=None)
    assert missing_indexes([helper], []) == []
    assert len(missing_indexes([helper], [], app_only=False)) == 1


def test_unused_declared_indexes_are_reported():
    used = declared("outbox", "status ASC, updated_at ASC", name="outbox_cleanup")
    stale = declared("outbox", "interview_id ASC, created_at DESC", name="stale")
    unused = unused_indexes([q(collection="outbox", filters="status in, updated_at <")], [used, stale])
    assert unused == ["google_firestore_index.stale on outbox (interview_id ASC, created_at DESC)"]


# --- reading infra/*.tf --------------------------------------------------------------------------

FIRESTORE_TF = textwrap.dedent("""\
    resource "google_firestore_index" "outbox_cleanup" {
      project    = var.project
      database   = google_firestore_database.default.name
      collection = "outbox"

      fields {
        field_path = "status"
        order      = "ASCENDING"
      }
      fields {
        field_path = "updated_at"
        order      = "ASCENDING"
      }
    }

    resource "google_firestore_index" "tagged" {
      collection  = "interviews"
      query_scope = "COLLECTION_GROUP"
      fields {
        field_path   = "tags"
        array_config = "CONTAINS"
      }
      fields {
        field_path = "start"
        order      = "DESCENDING"
      }
    }

    resource "google_firestore_index" "datastore" {
      collection = "interviews"
      api_scope  = "DATASTORE_MODE_API"
      fields {
        field_path = "a"
        order      = "ASCENDING"
      }
      fields {
        field_path = "b"
        order      = "ASCENDING"
      }
    }
    """)

GENERATED_TF = textwrap.dedent("""\
    variable "list_direction" {
      type    = string
      default = "DESCENDING"
    }

    locals {
      interview_lists = {
        admin = ["workspace_id"]
        host  = ["workspace_id", "host.uid"]
      }
    }

    resource "google_firestore_index" "interview_list" {
      for_each   = local.interview_lists
      collection = "interviews"
      dynamic "fields" {
        for_each = each.value
        content {
          field_path = fields.value
          order      = "ASCENDING"
        }
      }
      fields {
        field_path = "start"
        order      = var.list_direction
      }
    }
    """)


def test_declared_indexes_are_read_from_terraform(tmp_path: Path):
    (tmp_path / "firestore.tf").write_text(FIRESTORE_TF)
    (tmp_path / "other.tf").write_text('resource "google_storage_bucket" "b" {\n  name = "x"\n}\n')
    indexes = {d.address: d for d in declared_indexes_from_infra(tmp_path)}
    assert set(indexes) == {"google_firestore_index.outbox_cleanup", "google_firestore_index.tagged"}
    cleanup = indexes["google_firestore_index.outbox_cleanup"]
    assert (cleanup.collection, cleanup.query_scope) == ("outbox", "COLLECTION")
    assert cleanup.fields == (IndexField("status", ASC), IndexField("updated_at", ASC))
    tagged = indexes["google_firestore_index.tagged"]
    assert tagged.query_scope == "COLLECTION_GROUP"
    assert tagged.fields == (IndexField("tags", CONTAINS), IndexField("start", DESC))


def test_for_each_locals_variables_and_dynamic_fields_are_expanded(tmp_path: Path):
    (tmp_path / "firestore.tf").write_text(GENERATED_TF)
    indexes = {d.address: d.fields for d in declared_indexes_from_infra(tmp_path)}
    assert indexes == {
        'google_firestore_index.interview_list["admin"]': (IndexField("workspace_id", ASC), IndexField("start", DESC)),
        'google_firestore_index.interview_list["host"]': (
            IndexField("workspace_id", ASC),
            IndexField("host.uid", ASC),
            IndexField("start", DESC),
        ),
    }


def test_an_expression_the_check_cannot_evaluate_fails_clearly(tmp_path: Path):
    (tmp_path / "firestore.tf").write_text(
        textwrap.dedent("""\
        resource "google_firestore_index" "computed" {
          collection = lower("OUTBOX")
          fields {
            field_path = "status"
            order      = "ASCENDING"
          }
        }
        """)
    )
    with pytest.raises(InfraParseError, match="computed.*cannot evaluate"):
        declared_indexes_from_infra(tmp_path)


def test_a_fields_block_without_order_fails_clearly(tmp_path: Path):
    (tmp_path / "firestore.tf").write_text(
        textwrap.dedent("""\
        resource "google_firestore_index" "broken" {
          collection = "outbox"
          fields {
            field_path = "status"
          }
        }
        """)
    )
    with pytest.raises(InfraParseError, match="broken.*field_path and order"):
        declared_indexes_from_infra(tmp_path)


# --- end to end on fixtures: a log and a .tf ------------------------------------------------------


def _log(tmp_path: Path, *shapes: dict) -> Path:
    path = tmp_path / "queries.jsonl"
    path.write_text("".join(json.dumps(s) + "\n" for s in shapes))
    return path


OUTBOX_CLEANUP = {
    "collection": "outbox",
    "collection_group": False,
    "filters": [{"field": "status", "op": "in"}, {"field": "updated_at", "op": "<"}],
    "orders": [],
    "aggregations": [],
    "site": "shared/services/maintenance.py:228",
}
INTERVIEW_LIST = {
    "collection": "interviews",
    "collection_group": False,
    "filters": [{"field": "workspace_id", "op": "=="}, {"field": "start", "op": ">="}],
    "orders": [{"field": "start", "direction": "DESCENDING"}, {"field": "__name__", "direction": "DESCENDING"}],
    "aggregations": [],
    "site": "shared/adapters/firestore.py:191",
}


def test_the_session_check_fails_on_an_infra_missing_an_index(tmp_path: Path):
    infra = tmp_path / "infra"
    infra.mkdir()
    (infra / "firestore.tf").write_text(FIRESTORE_TF)  # declares the outbox index, not the interviews one
    summary = tmp_path / "index-coverage.json"
    problems = session_check(_log(tmp_path, OUTBOX_CLEANUP, INTERVIEW_LIST, OUTBOX_CLEANUP), infra=infra, summary_path=summary)
    assert len(problems) == 2 and "FAILED_PRECONDITION" in problems[0]
    assert "query on interviews [workspace_id ==, start >=; order start DESC, __name__ DESC]" in problems[1]
    assert "(workspace_id ASC, start DESC, __name__ DESC)" in problems[1]
    report = json.loads(summary.read_text())
    assert report["queries_recorded"] == 2 and report["composite_needed"] == 2 and report["declared"] == 2
    assert len(report["missing"]) == 1
    assert report["unused_declared"] == ["google_firestore_index.tagged on interviews (tags CONTAINS, start DESC)"]


def test_the_session_check_passes_once_the_index_is_declared(tmp_path: Path):
    infra = tmp_path / "infra"
    infra.mkdir()
    (infra / "firestore.tf").write_text(
        FIRESTORE_TF
        + textwrap.dedent("""\
        resource "google_firestore_index" "interviews_admin_list_desc" {
          collection = "interviews"
          fields {
            field_path = "workspace_id"
            order      = "ASCENDING"
          }
          fields {
            field_path = "start"
            order      = "DESCENDING"
          }
          fields {
            field_path = "__name__"
            order      = "DESCENDING"
          }
        }
        """)
    )
    summary = tmp_path / "index-coverage.json"
    assert session_check(_log(tmp_path, OUTBOX_CLEANUP, INTERVIEW_LIST), infra=infra, summary_path=summary) == []
    assert json.loads(summary.read_text())["missing"] == []


def test_the_session_check_reports_an_unreadable_infra(tmp_path: Path):
    infra = tmp_path / "infra"
    infra.mkdir()
    (infra / "firestore.tf").write_text('resource "google_firestore_index" "x" {\n  collection = \n}\n')
    [problem] = session_check(_log(tmp_path, OUTBOX_CLEANUP), infra=infra, summary_path=None)
    assert "not valid HCL" in problem


# --- the recorder's reading of the protobuf ------------------------------------------------------


@pytest.fixture(scope="module")
def offline_client():
    from google.auth.credentials import AnonymousCredentials
    from google.cloud import firestore

    return firestore.Client(project="offline", credentials=AnonymousCredentials())


def test_recorder_flattens_and_normalises_filters(offline_client):
    from google.cloud.firestore_v1.base_query import And, FieldFilter

    from tests.infra.querylog import shapes

    query = (
        offline_client.collection("interviews")
        .where(filter=And([FieldFilter("workspace_id", "==", "w"), FieldFilter("status", "in", ["a", "b"])]))
        .where(filter=FieldFilter("last_sync_at", "==", None))
        .where(filter=FieldFilter("start", ">=", 1))
        .order_by("start", direction="DESCENDING")
        .limit(3)
    )
    [shape] = shapes(query._to_protobuf())
    assert shape == {
        "collection": "interviews",
        "collection_group": False,
        "aggregations": [],
        "filters": [
            {"field": "workspace_id", "op": "=="},
            {"field": "status", "op": "in"},
            {"field": "last_sync_at", "op": "is-null"},
            {"field": "start", "op": ">="},
        ],
        "orders": [{"field": "start", "direction": "DESCENDING"}],
    }
    assert required_index(RecordedQuery.from_json(shape)) is not None


def test_recorder_expands_or_into_disjunctions_and_reads_aggregations(offline_client):
    from google.cloud.firestore_v1.base_query import FieldFilter, Or

    from tests.infra.querylog import shapes
    from tests.infra.querylog.convene_querylog import _aggregation_shapes

    query = (
        offline_client.collection_group("events")
        .where(filter=Or([FieldFilter("a", "==", 1), FieldFilter("b", "<", 2)]))
        .where(filter=FieldFilter("c", "array_contains", "x"))
    )
    found = shapes(query._to_protobuf())
    assert [s["filters"] for s in found] == [
        [{"field": "a", "op": "=="}, {"field": "c", "op": "array-contains"}],
        [{"field": "b", "op": "<"}, {"field": "c", "op": "array-contains"}],
    ]
    assert all(s["collection_group"] for s in found)
    aggregation = query.count(alias="n").avg("minutes", alias="m").sum("score", alias="s")
    assert _aggregation_shapes(aggregation._to_protobuf())[0]["aggregations"] == [
        {"op": "count", "field": None},
        {"op": "avg", "field": "minutes"},
        {"op": "sum", "field": "score"},
    ]


def test_static_fields_on_both_sides_of_a_dynamic_block_are_refused(tmp_path: Path):
    (tmp_path / "firestore.tf").write_text(
        textwrap.dedent("""\
        resource "google_firestore_index" "mixed" {
          collection = "interviews"
          fields {
            field_path = "workspace_id"
            order      = "ASCENDING"
          }
          dynamic "fields" {
            for_each = ["status"]
            content {
              field_path = fields.value
              order      = "ASCENDING"
            }
          }
          fields {
            field_path = "start"
            order      = "ASCENDING"
          }
        }
        """)
    )
    with pytest.raises(InfraParseError, match="mixed: static fields blocks both before and after"):
        declared_indexes_from_infra(tmp_path)


# --- single-field indexes a google_firestore_field override changes -------------------------------

FIELD_TF = textwrap.dedent("""\
    resource "google_firestore_field" "oauth_states_expires_at" {
      collection = "oauth_states"
      field      = "expires_at"
      ttl_config {}
      index_config {
        indexes {
          order       = "ASCENDING"
          query_scope = "COLLECTION"
        }
      }
    }

    resource "google_firestore_field" "idempotency_expires_at" {
      collection = "idempotency"
      field      = "expires_at"
      ttl_config {}
      index_config {}
    }

    resource "google_firestore_field" "ttl_only" {
      collection = "outbox"
      field      = "expires_at"
      ttl_config {}
    }
    """)


def test_field_overrides_are_read_and_a_removed_single_field_index_is_missing(tmp_path: Path):
    from tests.infra.firestore_indexes import field_overrides_from_infra

    (tmp_path / "firestore.tf").write_text(FIELD_TF)
    overrides = field_overrides_from_infra(tmp_path)
    assert {(o.collection, o.field): o.indexes for o in overrides} == {
        ("oauth_states", "expires_at"): frozenset({(ASC, "COLLECTION")}),
        ("idempotency", "expires_at"): frozenset(),  # index_config {}: no index at all
    }
    queries = [
        q(collection="oauth_states", filters="expires_at <"),  # ASC kept: fine
        q(collection="outbox", filters="expires_at <"),  # TTL only: automatic indexes stay
        q(collection="idempotency", filters="expires_at <"),
    ]
    [message] = missing_indexes(queries, [], field_overrides=overrides)
    assert message.startswith("query on idempotency [expires_at <] needs the single-field index expires_at ASC")
    assert "google_firestore_field.idempotency_expires_at" in message
    descending = q(collection="oauth_states", filters="expires_at <", orders="expires_at DESC")
    assert "expires_at DESC" in missing_indexes([descending], [], field_overrides=overrides)[0]


def test_a_collection_group_single_field_query_needs_a_declared_field_index():
    from tests.infra.firestore_indexes import FieldOverride

    query = q(collection="events", filters="at <", group=True)
    [message] = missing_indexes([query], [])
    assert "needs a collection-group single-field index on at (ASC)" in message
    declared_group = FieldOverride(
        "google_firestore_field.events_at", "events", "at", frozenset({(ASC, "COLLECTION"), (ASC, "COLLECTION_GROUP")})
    )
    assert missing_indexes([query], [], field_overrides=[declared_group]) == []
