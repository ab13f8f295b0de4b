"""Odd input to the interviews function (issue 9, item 3): every value below once answered a
generic 500 with a traceback in the ERROR log. Each must be a clear 4xx in the SPEC §3 error
shape (checked against docs/openapi.yaml by the client), log no ERROR and write nothing.

Ids Firestore cannot hold (``a/b``, ``../x``, the reserved ``__x__``), instants whose UTC
reading leaves years 1–9999, more statuses than Firestore's ``in`` takes, and a forged
``page_token`` nested 1500 deep."""

from __future__ import annotations

import base64
import json
import logging
from urllib.parse import quote, urlencode

import pytest

from tests.factories import WORKSPACE
from tests.integration.test_interviews_api import (  # noqa: F401 — fixtures
    ADMIN,
    _settle,
    clock,
    create_body,
    google_email,
    host_token,
)

pytestmark = pytest.mark.usefixtures("container", "worker_server")

BAD_IDS = ["a/b", "../x", "__x__"]
EARLIEST_PLUS_14 = "0001-01-01T00:00:00+14:00"  # 0000-12-31T10:00Z: before year 1 in UTC
LATEST_MINUS_12 = "9999-12-31T23:59:59-12:00"  # 10000-01-01T11:59:59Z: after year 9999 in UTC


def _token(value: object) -> str:
    return base64.urlsafe_b64encode(json.dumps(value).encode()).decode().rstrip("=")


@pytest.fixture
def admin_token(sandbox, host_token):
    return sandbox.mint_id_token(ADMIN.uid, ADMIN.email, claims={"workspace_id": WORKSPACE})


@pytest.fixture(autouse=True)
def no_error_logged(caplog):
    caplog.set_level(logging.INFO)
    yield
    records = caplog.get_records("call")
    assert any(r.name == "convene.http" and r.getMessage() == "request" for r in records), "the request log was not captured"
    assert [f"{r.name}: {r.getMessage()}" for r in records if r.levelno >= logging.ERROR] == []


def refused(reply, status: int, code: str, field: str | None = None) -> None:
    assert reply.status == status, reply.json
    assert set(reply.json) == {"error"} and set(reply.json["error"]) == {"code", "message", "details"}
    assert reply.json["error"]["code"] == code, reply.json
    if field is not None:
        assert reply.json["error"]["details"].get("field") == field, reply.json


@pytest.mark.parametrize(
    ("method", "action"),
    [
        ("GET", ""),
        ("POST", "/confirm"),
        ("POST", "/reschedule"),
        ("POST", "/cancel"),
        ("POST", "/complete"),
        ("POST", "/no-show"),
    ],
)
@pytest.mark.parametrize("interview_id", ["__x__", "__", "__x__y__", "__interviews__"])
def test_reserved_ids_on_every_interview_route_are_404(interviews_api, host_token, method, action, interview_id):
    reply = interviews_api.call(
        method,
        f"/interviews/{interview_id}{action}",
        token=host_token,
        json={"date": "2030-01-01", "time": "10:00"} if method == "POST" else None,
    )
    if interview_id == "__":  # not reserved (Firestore's form needs __ at both ends of something): just unknown
        refused(reply, 404, "interview_not_found")
    else:
        refused(reply, 404, "no_such_endpoint")


@pytest.mark.parametrize("value", BAD_IDS)
def test_candidate_id_that_is_not_an_id(interviews_api, host_token, clock, db, value):
    body = create_body(clock, candidate_id=value)
    del body["candidate"]
    refused(interviews_api.post("/interviews", token=host_token, json=body), 400, "invalid_field", "candidate_id")
    assert list(db.collection("interviews").stream()) == []


@pytest.mark.parametrize("value", BAD_IDS)
def test_host_uid_that_is_not_an_id(interviews_api, admin_token, clock, db, value):
    refused(
        interviews_api.post("/interviews", token=admin_token, json=create_body(clock, host_uid=value)),
        400,
        "invalid_field",
        "host_uid",
    )
    assert list(db.collection("interviews").stream()) == []
    for path in ("/interviews", "/analytics"):
        reply = interviews_api.get(f"{path}?{urlencode({'host_uid': value})}", token=admin_token)
        refused(reply, 400, "invalid_field", "host_uid")


@pytest.mark.parametrize("path", ["/interviews", "/analytics"])
@pytest.mark.parametrize(("name", "value"), [("from", EARLIEST_PLUS_14), ("to", LATEST_MINUS_12), ("from", "yesterday")])
def test_instants_beyond_the_calendar_or_garbage(interviews_api, host_token, path, name, value):
    refused(interviews_api.get(f"{path}?{name}={quote(value)}", token=host_token), 422, "invalid_timestamp", name)


def test_extreme_but_valid_ranges_are_answered(interviews_api, host_token):
    """The first and last instants Firestore stores are fine as bounds; a default range that would
    start before year 1 starts at year 1."""
    first, last = "0001-01-01T00:00:00Z", "9999-12-31T23:59:59Z"
    assert interviews_api.get(f"/interviews?from={first}&to={last}", token=host_token).status == 200
    assert interviews_api.get(f"/analytics?from={first}&to={last}", token=host_token).status == 200
    early = interviews_api.get("/analytics?to=0001-01-02T00:00:00Z", token=host_token)
    assert early.status == 200 and early.json["from"] == "0001-01-01T00:00:00Z"
    refused(interviews_api.get(f"/analytics?to={first}", token=host_token), 422, "invalid_range", "from")


@pytest.mark.parametrize(
    "changes",
    [
        {"start": EARLIEST_PLUS_14},
        {"start": LATEST_MINUS_12},
        {"start": "9999-12-31T23:00:00Z", "timezone": "Asia/Tokyo", "date": "9999-12-31"},
        {"date": "0001-01-01", "time": "00:00"},
        {"date": "9999-12-31", "time": "23:59", "timezone": "America/New_York"},
    ],
)
def test_create_and_reschedule_with_instants_beyond_the_calendar(interviews_api, host_token, clock, db, changes):
    body = create_body(clock, **changes)
    if "start" in changes and "date" not in changes:
        body = {k: v for k, v in body.items() if k not in ("date", "time")}
    reply = interviews_api.post("/interviews", token=host_token, json=body)
    assert reply.status == 422 and reply.json["error"]["code"] in ("invalid_timestamp", "invalid_date"), reply.json
    assert list(db.collection("interviews").stream()) == []
    iid = interviews_api.post("/interviews", token=host_token, json=create_body(clock, booking="request")).json["interview_id"]
    moved = interviews_api.post(
        f"/interviews/{iid}/reschedule",
        token=host_token,
        json={k: v for k, v in body.items() if k in ("start", "date", "time", "timezone")},
    )
    assert moved.status == 422 and moved.json["error"]["code"] in ("invalid_timestamp", "invalid_date"), moved.json


def test_thirty_one_statuses_count_once_each(interviews_api, host_token, clock):
    """Firestore's ``in`` takes at most 30 values: repeated statuses are asked for once."""
    iid = interviews_api.post("/interviews", token=host_token, json=create_body(clock, booking="request")).json["interview_id"]
    many = ",".join(["pending", "confirmed", "cancelled"] * 10 + ["pending"])
    reply = interviews_api.get(f"/interviews?status={many}", token=host_token)
    assert reply.status == 200 and [i["id"] for i in reply.json["interviews"]] == [iid]
    every = ",".join(["pending", "confirmed", "completed", "no_show", "cancelled"] * 7)
    assert [i["id"] for i in interviews_api.get(f"/interviews?status={every}", token=host_token).json["interviews"]] == [iid]
    unknown = interviews_api.get("/interviews?status=" + ",".join(["pending"] * 30 + ["sleeping"]), token=host_token)
    refused(unknown, 400, "invalid_field", "status")
    assert "pending, confirmed" in unknown.json["error"]["message"]


@pytest.mark.parametrize(
    "token",
    [
        base64.urlsafe_b64encode(b"[" * 1500 + b"]" * 1500).decode(),
        _token(json.loads("[" * 200 + "]" * 200)),
        _token(["2026-06-03T12:00:00+00:00", "a/b"]),
        _token(["2026-06-03T12:00:00+00:00", "__x__"]),
        _token(["2026-06-03T12:00:00", "iv1"]),
        _token(["0001-01-01T00:00:00+14:00", "iv1"]),
        _token({"a": 1, "b": 2}),
        _token(["2026-06-03T12:00:00+00:00", "iv1", "x"]),
        _token([1, 2]),
        "%%%",
        "x" * 600,
    ],
)
def test_forged_page_tokens(interviews_api, host_token, token):
    reply = interviews_api.get(f"/interviews?page_token={quote(token)}", token=host_token)
    refused(reply, 400, "invalid_page_token", "page_token")


def test_a_real_page_token_still_pages(interviews_api, host_token, clock):
    bodies = [create_body(clock, booking="request", time=f"{9 + i:02d}:00", duration_minutes=30) for i in range(2)]
    ids = [interviews_api.post("/interviews", token=host_token, json=body).json["interview_id"] for body in bodies]
    first = interviews_api.get("/interviews?page_size=1", token=host_token).json
    second = interviews_api.get(f"/interviews?page_size=1&page_token={first['next_page_token']}", token=host_token).json
    assert [first["interviews"][0]["id"], second["interviews"][0]["id"]] == ids


@pytest.mark.parametrize("uid", ["a/b", "__x__", ".."])
def test_a_signed_in_user_whose_uid_firestore_cannot_hold(interviews_api, sandbox, uid):
    """Firebase accepts custom uids Firestore cannot use as a document id: such a user is no
    member of any workspace (no users/{uid} document can exist), not a 500."""
    token = sandbox.mint_id_token(uid, "odd@acme.example", claims={"workspace_id": WORKSPACE})
    for path in ("/interviews", "/interviews/iv1", "/analytics"):
        refused(interviews_api.get(path, token=token), 403, "not_a_member")
