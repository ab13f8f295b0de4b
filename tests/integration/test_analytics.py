"""GET /analytics of the interviews function in-process, on the Firestore emulator's
aggregation queries; every answer checked against docs/openapi.yaml."""

from __future__ import annotations

from datetime import timedelta, timezone
from urllib.parse import urlencode

import pytest

from shared.adapters.firestore import InterviewRepository, UserRepository
from shared.domain.models import InterviewStatus, Outcome, Person, Role, User
from tests.factories import HOST, NOW, OTHER_WORKSPACE, WORKSPACE, interview

HUGO = Person(email="hugo.host@acme.example", name="Hugo Host", uid="uid-hugo")
OLGA = Person(email="olga@globex.example", name="Olga Other", uid="uid-olga")
ADA = User("uid-ada", WORKSPACE, Role.ADMIN, "ada@acme.example", "Ada Admin")
GLOBEX_ADMIN = User("uid-gil", OTHER_WORKSPACE, Role.ADMIN, "gil@globex.example", "Gil Admin")
DAY = timedelta(days=1)


def decided(status: InterviewStatus, minutes: float | None = None, source: str = "meet") -> dict:
    start = NOW - 3 * DAY
    end = None if minutes is None else start + timedelta(minutes=minutes)
    outcome = Outcome(source, True, status is InterviewStatus.COMPLETED, start if end else None, end, NOW)
    return {"status": status, "outcome": outcome}


@pytest.fixture
def seeded(container, db):
    users = UserRepository(db)
    for person, workspace in ((HOST, WORKSPACE), (HUGO, WORKSPACE), (OLGA, OTHER_WORKSPACE)):
        users.put(User(person.uid, workspace, Role.HOST, person.email, person.name))  # type: ignore[arg-type]
    users.put(ADA)
    users.put(GLOBEX_ADMIN)
    repo = InterviewRepository(db)
    rows = [
        (HOST, 5, decided(InterviewStatus.COMPLETED, 40)),
        (HOST, 6, decided(InterviewStatus.COMPLETED, 50)),
        (HOST, 7, decided(InterviewStatus.COMPLETED, source="portal")),  # completed, duration unknown
        (HOST, 8, decided(InterviewStatus.NO_SHOW)),
        (HOST, 9, {"status": InterviewStatus.CANCELLED}),
        (HOST, 2, {"status": InterviewStatus.PENDING}),
        (HOST, 1, {"status": InterviewStatus.CONFIRMED}),
        (HOST, 40, decided(InterviewStatus.COMPLETED, 100)),  # before the default 30 days
        (HOST, -2, {"status": InterviewStatus.CONFIRMED}),  # upcoming: after the default end (now)
        (HUGO, 3, decided(InterviewStatus.COMPLETED, 30)),
        (HUGO, 4, decided(InterviewStatus.NO_SHOW)),
        (HUGO, 10, decided(InterviewStatus.NO_SHOW)),
        (OLGA, 3, decided(InterviewStatus.COMPLETED, 999)),
        (OLGA, 4, decided(InterviewStatus.NO_SHOW)),
    ]
    for host, days_ago, changes in rows:
        workspace = OTHER_WORKSPACE if host is OLGA else WORKSPACE
        repo.add(interview(workspace_id=workspace, host=host, start=NOW - days_ago * DAY, **changes))


def token(sandbox, uid: str, email: str, workspace: str = WORKSPACE) -> str:
    return sandbox.mint_id_token(uid, email, claims={"workspace_id": workspace})


def get(api, sandbox, who: User | Person, **query):
    workspace = who.workspace_id if isinstance(who, User) else (OTHER_WORKSPACE if who is OLGA else WORKSPACE)
    path = "/analytics" + ("?" + urlencode(query) if query else "")
    return api.get(path, token=token(sandbox, who.uid, who.email, workspace))


def numbers(body: dict) -> tuple:
    return (
        body["total_interviews"],
        body["completed_interviews"],
        body["no_shows"],
        body["cancellations"],
        body["pending"],
        body["confirmed"],
        body["no_show_rate"],
        body["average_duration"],
    )


def test_a_host_sees_its_own_last_30_days(interviews_api, sandbox, seeded):
    reply = get(interviews_api, sandbox, HOST)
    assert reply.status == 200, reply.json
    body = reply.json
    assert numbers(body) == (7, 3, 1, 1, 1, 1, 0.25, 45.0)
    assert body["by_status"] == {"pending": 1, "confirmed": 1, "completed": 3, "no_show": 1, "cancelled": 1}
    assert (body["from"], body["to"], body["host_uid"]) == ("2026-05-02T12:00:00Z", "2026-06-01T12:00:00Z", HOST.uid)
    assert get(interviews_api, sandbox, HOST, host_uid=HOST.uid).json == body  # naming oneself is allowed


def test_an_admin_sees_the_workspace_and_not_another(interviews_api, sandbox, seeded):
    body = get(interviews_api, sandbox, ADA).json
    assert numbers(body) == (10, 4, 3, 1, 1, 1, 0.4286, 40.0)  # Hana and Hugo, never Olga of globex
    assert body["host_uid"] is None


def test_an_admin_filters_one_host(interviews_api, sandbox, seeded):
    body = get(interviews_api, sandbox, ADA, host_uid=HUGO.uid).json
    assert numbers(body) == (3, 1, 2, 0, 0, 0, 0.6667, 30.0) and body["host_uid"] == HUGO.uid


def test_another_workspaces_admin_learns_nothing_of_this_one(interviews_api, sandbox, seeded):
    assert numbers(get(interviews_api, sandbox, GLOBEX_ADMIN).json) == (2, 1, 1, 0, 0, 0, 0.5, 999.0)
    body = get(interviews_api, sandbox, GLOBEX_ADMIN, host_uid=HOST.uid).json
    assert numbers(body) == (0, 0, 0, 0, 0, 0, None, None)


def test_a_date_range_on_the_start(interviews_api, sandbox, seeded):
    berlin = timezone(timedelta(hours=2))
    body = get(
        interviews_api,
        sandbox,
        HOST,
        **{"from": (NOW - 45 * DAY).astimezone(berlin).isoformat(), "to": (NOW - 5 * DAY).astimezone(berlin).isoformat()},
    ).json
    assert numbers(body) == (5, 3, 1, 1, 0, 0, 0.25, 75.0)  # the start of `to` is excluded: 40 min is not in
    assert (body["from"], body["to"]) == ("2026-04-17T12:00:00Z", "2026-05-27T12:00:00Z")


def test_no_duration_known_and_nothing_at_all(interviews_api, sandbox, seeded):
    only_portal = get(
        interviews_api, sandbox, HOST, **{"from": (NOW - 7 * DAY).isoformat(), "to": (NOW - 6 * DAY).isoformat()}
    ).json
    assert numbers(only_portal) == (1, 1, 0, 0, 0, 0, 0.0, None)
    nothing = get(interviews_api, sandbox, HOST, **{"from": "2020-01-01T00:00:00Z", "to": "2020-02-01T00:00:00Z"}).json
    assert numbers(nothing) == (0, 0, 0, 0, 0, 0, None, None)


def test_authorization(interviews_api, sandbox, seeded, container):
    assert interviews_api.get("/analytics").json["error"]["code"] == "missing_credentials"
    guest_link = container.guest_links.sign(interview_id="iv-1", workspace_id=WORKSPACE, expires_at=NOW + DAY)
    assert interviews_api.get("/analytics", token=guest_link).status == 401

    other_host = get(interviews_api, sandbox, HOST, host_uid=HUGO.uid)
    assert (other_host.status, other_host.json["error"]["code"]) == (403, "not_an_admin")
    nobody = interviews_api.get("/analytics", token=token(sandbox, "uid-nobody", "nobody@acme.example"))
    assert (nobody.status, nobody.json["error"]["code"]) == (403, "not_a_member")
    wrong_workspace = interviews_api.get("/analytics", token=token(sandbox, HOST.uid, HOST.email, OTHER_WORKSPACE))
    assert wrong_workspace.status == 403


def test_invalid_ranges(interviews_api, sandbox, seeded):
    bad = get(interviews_api, sandbox, HOST, **{"from": "yesterday"})
    assert (bad.status, bad.json["error"]["code"]) == (422, "invalid_timestamp")
    no_offset = get(interviews_api, sandbox, HOST, **{"from": "2026-05-01T00:00:00"})
    assert (no_offset.status, no_offset.json["error"]["code"]) == (422, "invalid_timestamp")
    backwards = get(interviews_api, sandbox, HOST, **{"from": "2026-05-10T00:00:00Z", "to": "2026-05-01T00:00:00Z"})
    assert (backwards.status, backwards.json["error"]["code"]) == (422, "invalid_range")


def test_the_calendar_edges(interviews_api, sandbox, seeded):
    """All time is Firestore's whole range; a bound whose UTC instant leaves years 1–9999 is a
    422 naming the parameter (it was a 500); a default range near year 1 starts at year 1."""
    all_time = get(interviews_api, sandbox, HOST, **{"from": "0001-01-01T00:00:00Z", "to": "9999-12-31T23:59:59Z"})
    assert all_time.status == 200 and all_time.json["total_interviews"] == 9
    for name, value in (("from", "0001-01-01T00:00:00+14:00"), ("to", "9999-12-31T23:59:59-12:00")):
        reply = get(interviews_api, sandbox, HOST, **{name: value})
        error = reply.json["error"]
        assert (reply.status, error["code"], error["details"]["field"]) == (422, "invalid_timestamp", name)
    early = get(interviews_api, sandbox, HOST, to="0001-01-02T00:00:00Z")
    assert (early.status, early.json["from"], early.json["total_interviews"]) == (200, "0001-01-01T00:00:00Z", 0)


@pytest.mark.parametrize("host_uid", ["a/b", "../x", "__x__"])
def test_a_host_uid_that_is_not_an_id(interviews_api, sandbox, seeded, host_uid):
    for who in (ADA, HOST):
        reply = get(interviews_api, sandbox, who, host_uid=host_uid)
        error = reply.json["error"]
        assert (reply.status, error["code"], error["details"]) == (400, "invalid_field", {"field": "host_uid"})


def test_preflight(interviews_api):
    reply = interviews_api.call("OPTIONS", "/analytics", headers={"Origin": "http://localhost:5173"})
    assert reply.status == 204 and "GET" in reply.headers["Access-Control-Allow-Methods"]
