"""The list's and the analytics' query strings, parsed at the entry (shared.services.interviews.requests):
typed values or the refusal the API answers (the HTTP tests check the answers themselves)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from shared import api_limits
from shared.domain.errors import DomainError, InvalidInput, RuleViolation
from shared.domain.models import InterviewStatus
from shared.services.interviews.requests import (
    AnalyticsQuery,
    ListQuery,
    encode_cursor,
    parse_analytics_query,
    parse_list_query,
)

START = datetime(2026, 6, 3, 12, 0, tzinfo=UTC)


def refusal(parse, query) -> tuple[type[DomainError], str, str | None]:
    with pytest.raises(DomainError) as excinfo:
        parse(query)
    return type(excinfo.value), excinfo.value.code, excinfo.value.details.get("field")


def test_an_empty_list_query_is_the_defaults():
    assert parse_list_query({}) == ListQuery(page_size=api_limits.PAGE_SIZE_DEFAULT)
    empty = {"status": "", "from": "", "to": "", "host_uid": "", "page_token": ""}
    assert parse_list_query(empty) == ListQuery()


def test_a_full_list_query():
    query = {
        "status": "cancelled, pending,pending",
        "when": "past",
        "from": "2026-06-01T00:00:00+02:00",
        "to": "2026-07-01T00:00:00Z",
        "page_size": str(api_limits.PAGE_SIZE_MAX),
        "host_uid": "uid-hana",
        "page_token": encode_cursor((START, "iv1")),
    }
    assert parse_list_query(query) == ListQuery(
        statuses=(InterviewStatus.PENDING, InterviewStatus.CANCELLED),
        when="past",
        start_from=datetime(2026, 5, 31, 22, 0, tzinfo=UTC),
        start_to=datetime(2026, 7, 1, tzinfo=UTC),
        page_size=api_limits.PAGE_SIZE_MAX,
        host_uid="uid-hana",
        cursor=(START, "iv1"),
    )


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ({"status": "sleeping"}, (InvalidInput, "invalid_field", "status")),
        ({"when": ""}, (InvalidInput, "invalid_field", "when")),
        ({"when": "soon"}, (InvalidInput, "invalid_field", "when")),
        ({"from": "yesterday"}, (RuleViolation, "invalid_timestamp", "from")),
        ({"to": "2026-06-01T00:00:00"}, (RuleViolation, "invalid_timestamp", "to")),
        ({"page_size": "ten"}, (InvalidInput, "invalid_field", "page_size")),
        ({"page_size": ""}, (InvalidInput, "invalid_field", "page_size")),
        ({"page_size": str(api_limits.PAGE_SIZE_MIN - 1)}, (InvalidInput, "invalid_field", "page_size")),
        ({"page_size": str(api_limits.PAGE_SIZE_MAX + 1)}, (InvalidInput, "invalid_field", "page_size")),
        ({"host_uid": "a/b"}, (InvalidInput, "invalid_field", "host_uid")),
        ({"page_token": "%%%"}, (InvalidInput, "invalid_page_token", "page_token")),
        ({"page_token": "x" * (api_limits.PAGE_TOKEN_MAX_LENGTH + 1)}, (InvalidInput, "invalid_page_token", "page_token")),
        # the first bad parameter, in the order the list always checked them
        ({"status": "sleeping", "when": "soon", "page_size": "0"}, (InvalidInput, "invalid_field", "status")),
        ({"page_size": "0", "host_uid": "a/b", "page_token": "%%%"}, (InvalidInput, "invalid_field", "page_size")),
    ],
)
def test_list_query_refusals(query, expected):
    assert refusal(parse_list_query, query) == expected


def test_the_page_size_message_states_the_documents_bounds():
    with pytest.raises(InvalidInput, match=f"between {api_limits.PAGE_SIZE_MIN} and {api_limits.PAGE_SIZE_MAX}"):
        parse_list_query({"page_size": "0"})


def test_analytics_queries():
    assert parse_analytics_query({}) == AnalyticsQuery()
    assert parse_analytics_query({"host_uid": "uid-olga", "from": "2026-01-01T00:00:00Z", "to": "2026-01-02T01:00:00+01:00"}) == (
        AnalyticsQuery(host_uid="uid-olga", since=datetime(2026, 1, 1, tzinfo=UTC), until=datetime(2026, 1, 2, tzinfo=UTC))
    )
    assert refusal(parse_analytics_query, {"host_uid": "__x__", "to": "x"}) == (InvalidInput, "invalid_field", "host_uid")
    assert refusal(parse_analytics_query, {"from": "x", "to": "y"}) == (RuleViolation, "invalid_timestamp", "to")
    too_long = "2026-01-01T00:00:00.000000000000000000+00:00"
    assert len(too_long) > api_limits.TIMESTAMP_MAX_LENGTH
    assert refusal(parse_analytics_query, {"from": too_long}) == (RuleViolation, "invalid_timestamp", "from")
