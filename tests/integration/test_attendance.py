"""The attendance run against the Firestore emulator and the sandbox's Meet: each interview
has a real Calendar event with a real Meet link, and the conference records a meeting
would leave behind are put down under that link's meeting code."""

from __future__ import annotations

import uuid
from dataclasses import replace
from datetime import timedelta

import pytest

from devstack.stack import OAUTH_CLIENT_ID
from shared.adapters.firestore import UserRepository
from shared.auth.principal import Principal, PrincipalKind
from shared.domain.booking import new_interview_id
from shared.domain.connections import (
    CALENDAR_EVENTS,
    CALENDAR_FREEBUSY,
    CALENDAR_LIST,
    EMAIL,
    GOOGLE,
    MEET_READONLY,
    OPENID,
    Connection,
    ConnectionStatus,
)
from shared.domain.models import Attendance, Interview, InterviewStatus, InterviewType, Participant, Person, Role, User
from shared.google.credentials import refresh_token_context
from shared.services.attendance import AttendanceJob
from tests.factories import HOST, WORKSPACE, interview

BASE_SCOPES = (OPENID, EMAIL, CALENDAR_EVENTS, CALENDAR_FREEBUSY, CALENDAR_LIST)
WITH_MEET = (*BASE_SCOPES, MEET_READONLY)
M = timedelta(minutes=1)
NOTHING = {
    "decided_meet": 0,
    "decided_portal": 0,
    "completed": 0,
    "no_show": 0,
    "left_for_later": 0,
    "changed_meanwhile": 0,
    "more": False,
}


@pytest.fixture(autouse=True)
def _no_faults_left(sandbox):
    yield
    sandbox.sandbox.faults.clear()


@pytest.fixture
def google_email(sandbox):
    email = f"hana-{uuid.uuid4().hex[:8]}@gmail.example"
    sandbox.add_google_account(email, HOST.name)
    return email


def connect(sandbox, container, email, *, scopes=WITH_MEET, account_id=True) -> None:
    """The host's connection as the OAuth callback stores it."""
    tokens = sandbox.sandbox.oauth.issue_tokens(OAUTH_CLIENT_ID, email, list(scopes))
    container.connections.save(
        Connection(
            uid=HOST.uid,
            workspace_id=WORKSPACE,
            provider=GOOGLE,
            status=ConnectionStatus.CONNECTED,
            account_email=email,
            scopes=tuple(scopes),
            account_id=sandbox.add_google_account(email).sub if account_id else None,
            refresh_token=container.token_cipher.seal(tokens["refresh_token"], context=refresh_token_context(HOST.uid, GOOGLE)),
        )
    )
    container.google_credentials.forget(HOST.uid)


@pytest.fixture
def host(sandbox, container, google_email):
    """Hana, connected with the Meet scope; her Google account's email."""
    connect(sandbox, container, google_email)
    return google_email


@pytest.fixture
def job(container):
    return AttendanceJob(
        ended=container.ended_meetings,
        bookings=container.bookings,
        connections=container.connections,
        google_connections=lambda: container.google_connections,
        meet=lambda: container.meet_api,
        default_window=container.default_join_window,
    )


def meet_interview(container, email, *, ended: timedelta, **changes) -> Interview:
    """A confirmed interview that ended ``ended`` ago, with its event and real Meet link, stored."""
    now = container.clock.now()
    start = now - ended - timedelta(minutes=45)
    iv = interview(
        id=new_interview_id(),
        host=Person(email, HOST.name, HOST.uid),
        start=start,
        duration_minutes=45,
        meet_link=None,
        calendar_event_id=None,
        next_reminder_at=start - M,
    )
    connection = container.connections.get(HOST.uid, GOOGLE)
    credentials = container.google_connections.credentials_for(connection)
    event = container.calendar_events.insert(
        credentials,
        "primary",
        iv.id,
        {
            "summary": "Interview",
            "start": {"dateTime": iv.start.isoformat(), "timeZone": "UTC"},
            "end": {"dateTime": iv.end.isoformat(), "timeZone": "UTC"},
            "conferenceData": {"createRequest": {"requestId": iv.id, "conferenceSolutionKey": {"type": "hangoutsMeet"}}},
        },
        conference=True,
    )
    _, link = container.calendar_events.wait_for_meet_link(credentials, "primary", event)
    assert link and link.startswith("https://meet.google.com/")
    iv = replace(iv, meet_link=link, calendar_event_id=event["id"], **changes)
    container.interviews.add(iv)
    return iv


def code_of(iv: Interview) -> str:
    return iv.meet_link.rsplit("/", 1)[1]


def conference(sandbox, iv: Interview, *people: tuple[str, str | None, timedelta, timedelta], start=None, end=None) -> None:
    """A conference in the interview's space; people are (name, email or None, join, leave) relative to its start."""
    participants = [
        {
            "display_name": name,
            **({"email": email} if email else {}),
            "earliest_start": iv.start + joined,
            "latest_end": iv.start + left,
        }
        for name, email, joined, left in people
    ]
    first = min((iv.start + p[2] for p in people), default=iv.start)
    last = max((iv.start + p[3] for p in people), default=iv.end)
    sandbox.add_conference_record(code_of(iv), start or first, end or last, participants=participants)


def meet_reads(sandbox, iv: Interview) -> list[dict]:
    return [c for c in sandbox.calls("/v2/conferenceRecords") if code_of(iv) in c["query"].get("filter", "")]


def stored(db, iv: Interview) -> dict:
    return db.collection("interviews").document(iv.id).get().to_dict()


# --- decided from Meet ----------------------------------------------------------------------


def test_both_joined_is_completed_with_the_real_duration(container, sandbox, host, job, db):
    iv = meet_interview(container, host, ended=2 * timedelta(hours=1))
    conference(sandbox, iv, ("Hana", host, -3 * M, 40 * M), ("Gus", "gus@candidates.example", 1 * M, 38 * M))

    counts = job.run(container.clock.now())

    assert counts == NOTHING | {"decided_meet": 1, "completed": 1}
    doc = stored(db, iv)
    assert doc["status"] == "completed" and "next_reminder_at" not in doc
    outcome = doc["outcome"]
    assert (outcome["source"], outcome["host_attended"], outcome["guest_attended"]) == ("meet", True, True)
    assert (outcome["actual_start"], outcome["actual_end"]) == (iv.start - 3 * M, iv.start + 40 * M)
    assert outcome["decided_at"] == container.clock.now()
    assert doc["actual_duration_minutes"] == 43.0
    decided = container.interviews.get(iv.id)
    assert decided.status is InterviewStatus.COMPLETED and decided.outcome.actual_duration_minutes == 43.0
    read = meet_reads(sandbox, iv)[0]["query"]["filter"]
    assert "start_time >= " in read and "start_time <= " in read  # only the conferences around its time


def test_only_the_host_joined_is_a_no_show(container, sandbox, host, job, db):
    iv = meet_interview(container, host, ended=2 * timedelta(hours=1))
    conference(sandbox, iv, ("Hana", host, 0 * M, 20 * M))

    assert job.run(container.clock.now()) == NOTHING | {"decided_meet": 1, "no_show": 1}
    doc = stored(db, iv)
    assert doc["status"] == "no_show"
    assert (doc["outcome"]["source"], doc["outcome"]["host_attended"], doc["outcome"]["guest_attended"]) == ("meet", True, False)
    assert "actual_start" not in doc["outcome"] and "actual_duration_minutes" not in doc


def test_only_the_guest_joined_is_completed_and_records_the_absent_host(container, sandbox, host, job, db):
    iv = meet_interview(container, host, ended=2 * timedelta(hours=1))
    conference(sandbox, iv, ("Gus", None, 0 * M, 12 * M))  # anonymous: not signed in

    assert job.run(container.clock.now()) == NOTHING | {"decided_meet": 1, "completed": 1}
    outcome = stored(db, iv)["outcome"]
    assert (outcome["host_attended"], outcome["guest_attended"]) == (False, True)


def test_no_records_and_no_portal_joins_is_a_no_show(container, sandbox, host, job, db):
    iv = meet_interview(container, host, ended=2 * timedelta(hours=1))

    assert job.run(container.clock.now()) == NOTHING | {"decided_meet": 1, "no_show": 1}
    assert stored(db, iv)["status"] == "no_show" and stored(db, iv)["outcome"]["guest_attended"] is False
    assert len(meet_reads(sandbox, iv)) == 1


def test_an_earlier_meeting_in_the_same_space_does_not_count(container, sandbox, host, job, db):
    """A Meet space is reusable: yesterday's conference under the same link is another meeting."""
    iv = meet_interview(container, host, ended=2 * timedelta(hours=1))
    conference(
        sandbox,
        iv,
        ("Hana", host, -timedelta(days=1), -timedelta(days=1) + 30 * M),
        ("Gus", "gus@candidates.example", -timedelta(days=1), -timedelta(days=1) + 30 * M),
    )
    conference(sandbox, iv, ("Hana", host, 0 * M, 15 * M))

    assert job.run(container.clock.now()) == NOTHING | {"decided_meet": 1, "no_show": 1}


def test_a_conference_still_running_is_decided_once_it_ends(container, sandbox, host, job, db, clock):
    iv = meet_interview(container, host, ended=2 * timedelta(hours=1))
    sandbox.add_conference_record(
        code_of(iv),
        iv.start,
        None,
        participants=[
            {"display_name": "Hana", "email": host, "earliest_start": iv.start},
            {"display_name": "Gus", "earliest_start": iv.start + M, "latest_end": iv.start + 30 * M},
        ],
    )

    assert job.run(clock.now()) == NOTHING | {"left_for_later": 1}
    assert stored(db, iv)["status"] == "confirmed"


# --- decided from the portal joins ------------------------------------------------------------


@pytest.mark.parametrize("connection", ["without_meet_scope", "account_id_unknown", "not_connected", "revoked"])
def test_without_a_usable_meet_read_the_portal_joins_decide(container, sandbox, google_email, job, db, connection):
    connect(
        sandbox,
        container,
        google_email,
        scopes=BASE_SCOPES if connection == "without_meet_scope" else WITH_MEET,
        account_id=connection != "account_id_unknown",
    )
    joined_at = container.clock.now() - 3 * timedelta(hours=1)
    came = meet_interview(
        container,
        google_email,
        ended=2 * timedelta(hours=1),
        attendance={
            Participant.HOST: Attendance(1, joined_at - 2 * M, joined_at - 2 * M),
            Participant.GUEST: Attendance(2, joined_at, joined_at + M),
        },
    )
    stayed_away = meet_interview(
        container, google_email, ended=2 * timedelta(hours=1), attendance={Participant.HOST: Attendance(1, joined_at, joined_at)}
    )
    for iv in (came, stayed_away):  # Meet would say otherwise: it must not be what decided
        conference(sandbox, iv, ("Hana", google_email, 0 * M, 30 * M))
    if connection == "not_connected":
        db.collection("connections").document(f"{HOST.uid}_google").delete()
    if connection == "revoked":
        sandbox.revoke_google_grants(google_email)
        container.google_credentials.forget(HOST.uid)

    assert job.run(container.clock.now()) == NOTHING | {"decided_portal": 2, "completed": 1, "no_show": 1}

    completed = stored(db, came)
    assert completed["status"] == "completed" and completed["outcome"]["source"] == "portal"
    assert completed["outcome"]["actual_start"] == joined_at - 2 * M and "actual_end" not in completed["outcome"]
    assert (completed["outcome"]["host_attended"], completed["outcome"]["guest_attended"]) == (True, True)
    assert "actual_duration_minutes" not in completed
    no_show = stored(db, stayed_away)
    assert no_show["status"] == "no_show" and no_show["outcome"]["source"] == "portal"
    assert (no_show["outcome"]["host_attended"], no_show["outcome"]["guest_attended"]) == (True, False)
    assert meet_reads(sandbox, came) == [] and meet_reads(sandbox, stayed_away) == []


def test_meet_refusing_the_read_falls_back_to_the_portal(container, sandbox, host, job, db):
    """A refusal (403: say the host is no longer the space's owner) is final: not retried, not waited for."""
    iv = meet_interview(container, host, ended=2 * timedelta(hours=1))
    sandbox.inject("^/v2/conferenceRecords$", [{"status": 403}], method="GET")

    assert job.run(container.clock.now()) == NOTHING | {"decided_portal": 1, "no_show": 1}
    assert [c["status"] for c in meet_reads(sandbox, iv)] == [403]


def test_a_transient_google_failure_leaves_the_interview_for_the_next_run(container, sandbox, host, job, db):
    iv = meet_interview(container, host, ended=2 * timedelta(hours=1))
    conference(sandbox, iv, ("Hana", host, 0 * M, 40 * M), ("Gus", None, 0 * M, 40 * M))
    sandbox.inject("^/v2/conferenceRecords$", [{"status": 503}] * 10, method="GET")

    assert job.run(container.clock.now()) == NOTHING | {"left_for_later": 1}
    assert stored(db, iv)["status"] == "confirmed" and "outcome" not in stored(db, iv)

    sandbox.sandbox.faults.clear()
    assert job.run(container.clock.now()) == NOTHING | {"decided_meet": 1, "completed": 1}


# --- which interviews -----------------------------------------------------------------------------


def test_interviews_not_to_decide_are_untouched_and_not_read(container, sandbox, host, job, db):
    both = (("Hana", host, 0 * M, 40 * M), ("Gus", None, 0 * M, 40 * M))
    cancelled = meet_interview(container, host, ended=2 * timedelta(hours=1), status=InterviewStatus.CANCELLED)
    window_open = meet_interview(container, host, ended=30 * M)  # a late joiner may still come
    too_old = meet_interview(container, host, ended=timedelta(days=31))  # Meet no longer keeps its records
    phone = meet_interview(container, host, ended=2 * timedelta(hours=1), type=InterviewType.PHONE, phone="+49 30 1234")
    untouched = (cancelled, window_open, too_old, phone)
    for iv in untouched:
        conference(sandbox, iv, *both)
    before = {iv.id: db.collection("interviews").document(iv.id).get().update_time for iv in untouched}

    assert job.run(container.clock.now()) == NOTHING

    for iv in untouched:
        assert db.collection("interviews").document(iv.id).get().update_time == before[iv.id]
        assert meet_reads(sandbox, iv) == []


def test_running_twice_changes_nothing_the_second_time(container, sandbox, host, job, db):
    first = meet_interview(container, host, ended=2 * timedelta(hours=1))
    second = meet_interview(container, host, ended=3 * timedelta(hours=1))
    conference(sandbox, first, ("Hana", host, 0 * M, 40 * M), ("Gus", None, 0 * M, 40 * M))
    assert job.run(container.clock.now()) == NOTHING | {"decided_meet": 2, "completed": 1, "no_show": 1}
    after_first = {iv.id: db.collection("interviews").document(iv.id).get() for iv in (first, second)}
    reads = len(sandbox.calls("/v2/conferenceRecords"))

    container.clock.advance(timedelta(minutes=10))
    assert job.run(container.clock.now()) == NOTHING

    for iv in (first, second):
        again = db.collection("interviews").document(iv.id).get()
        assert again.update_time == after_first[iv.id].update_time and again.to_dict() == after_first[iv.id].to_dict()
    assert len(sandbox.calls("/v2/conferenceRecords")) == reads


def test_a_manual_mark_made_meanwhile_is_not_overwritten(container, sandbox, host, db):
    """The host marks the interview while the run reads Meet: the host's mark stands."""
    iv = meet_interview(container, host, ended=2 * timedelta(hours=1))
    conference(sandbox, iv, ("Hana", host, 0 * M, 20 * M))  # Meet alone would say no_show
    UserRepository(db).put(User(HOST.uid, WORKSPACE, Role.HOST, HOST.email, HOST.name))  # type: ignore[arg-type]
    hana = Principal(PrincipalKind.USER, HOST.uid, HOST.email, True, WORKSPACE)  # type: ignore[arg-type]

    class MarkingMeet:
        def conference_records(self, *args, **kwargs):
            records = container.meet_api.conference_records(*args, **kwargs)
            container.interview_service.mark(hana, iv.id, InterviewStatus.COMPLETED)
            return records

    job = AttendanceJob(
        ended=container.ended_meetings,
        bookings=container.bookings,
        connections=container.connections,
        google_connections=lambda: container.google_connections,
        meet=MarkingMeet,
        default_window=container.default_join_window,
    )
    assert job.run(container.clock.now()) == NOTHING | {"changed_meanwhile": 1}
    doc = stored(db, iv)
    assert doc["status"] == "completed" and "outcome" not in doc


def test_a_run_is_bounded_and_takes_the_oldest_first(container, sandbox, host, job, db):
    older = meet_interview(container, host, ended=timedelta(days=3))
    newer = meet_interview(container, host, ended=timedelta(days=1))

    assert job.run(container.clock.now(), limit=1) == NOTHING | {"decided_meet": 1, "no_show": 1, "more": True}
    assert (stored(db, older)["status"], stored(db, newer)["status"]) == ("no_show", "confirmed")
    assert job.run(container.clock.now(), limit=1) == NOTHING | {"decided_meet": 1, "no_show": 1}
