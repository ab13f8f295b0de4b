"""Interviews end to end on the local stack: the interviews function in-process (its answers
checked against docs/openapi.yaml), the sandbox's strict Calendar, Cloud Tasks really
dispatching to the email worker in its own process, SendGrid recording what was sent,
and libical judging every .ics."""

from __future__ import annotations

import base64
import threading
import uuid
from datetime import UTC, datetime, timedelta

import icalendar
import pytest

from devstack.ical_check import check_ical
from devstack.stack import OAUTH_CLIENT_ID
from shared.adapters.firestore import UserRepository
from shared.clock import FixedClock
from shared.domain.connections import (
    CALENDAR_EVENTS,
    CALENDAR_FREEBUSY,
    CALENDAR_LIST,
    EMAIL,
    GOOGLE,
    OPENID,
    Connection,
    ConnectionStatus,
)
from shared.domain.models import Role, User
from shared.google.credentials import refresh_token_context
from tests.factories import HOST, OTHER_WORKSPACE, WORKSPACE

pytestmark = pytest.mark.usefixtures("container", "worker_server")

ADMIN = User("uid-ada", WORKSPACE, Role.ADMIN, "ada@acme.example", "Ada Admin")
STRANGER = User("uid-olga", OTHER_WORKSPACE, Role.HOST, "olga@globex.example", "Olga Other")


@pytest.fixture
def clock():
    """Real time: the sandbox's Calendar, Cloud Tasks and the worker process live in it too."""
    return FixedClock(datetime.now(UTC).replace(microsecond=0))


@pytest.fixture
def google_email():
    return f"hana-{uuid.uuid4().hex[:8]}@gmail.example"


@pytest.fixture
def host_token(db, sandbox, container, google_email):
    users = UserRepository(db)
    users.put(User(HOST.uid, WORKSPACE, Role.HOST, HOST.email, HOST.name))  # type: ignore[arg-type]
    users.put(ADMIN)
    users.put(STRANGER)
    sandbox.add_google_account(google_email, HOST.name)
    tokens = sandbox.sandbox.oauth.issue_tokens(
        OAUTH_CLIENT_ID, google_email, [OPENID, EMAIL, CALENDAR_EVENTS, CALENDAR_FREEBUSY, CALENDAR_LIST]
    )
    container.connections.save(
        Connection(
            uid=HOST.uid,
            workspace_id=WORKSPACE,
            provider=GOOGLE,
            status=ConnectionStatus.CONNECTED,
            account_email=google_email,
            scopes=(OPENID, EMAIL, CALENDAR_EVENTS, CALENDAR_FREEBUSY, CALENDAR_LIST),
            refresh_token=container.token_cipher.seal(tokens["refresh_token"], context=refresh_token_context(HOST.uid, GOOGLE)),
        )
    )
    container.google_credentials.forget(HOST.uid)
    sandbox.clear_sent_mail()
    yield sandbox.mint_id_token(HOST.uid, HOST.email, name=HOST.name, claims={"workspace_id": WORKSPACE})
    sandbox.sandbox.faults.clear()


@pytest.fixture(autouse=True)
def _settle(sandbox):
    yield
    sandbox.drain_tasks(timeout=10)  # nothing from this test leaks into the next


def create_body(clock, **changes):
    start = (clock.now() + timedelta(days=2)).replace(hour=14, minute=30, second=0)
    return {
        "candidate": {"email": f"gus-{uuid.uuid4().hex[:6]}@candidates.example", "name": "Gus Guest"},
        "job_title": "Backend Engineer",
        "date": start.date().isoformat(),
        "time": "14:30",
        "timezone": "Europe/Berlin",
        "interview_type": "google_meet",
        "duration_minutes": 45,
    } | changes


def outbox_of(db, interview_id):
    from google.cloud.firestore_v1.base_query import FieldFilter

    return db.collection("outbox").where(filter=FieldFilter("interview_id", "==", interview_id)).stream()


def mails_for(sandbox, interview_id):
    return [m for m in sandbox.sent_mail() if m["body"].get("custom_args", {}).get("email_id", "").startswith(interview_id)]


def ics_of(message) -> str:
    attachment = message["body"]["attachments"][0]
    return base64.b64decode(attachment["content"]).decode()


def html_of(message) -> str:
    return next(c["value"] for c in message["body"]["content"] if c["type"] == "text/html")


def events_of(sandbox, google_email):
    return sandbox.calendar_events(google_email)


# --- create --------------------------------------------------------------------------------


def test_create_meet_interview_event_link_and_two_invitations(interviews_api, sandbox, host_token, google_email, clock, db):
    reply = interviews_api.post("/interviews", token=host_token, json=create_body(clock, note="Bring <script>alert(1)</script>"))
    assert reply.status == 201, reply.json
    body = reply.json
    assert body["status"] == "confirmed" and body["emails_sent"] == {"candidate": "queued", "recruiter": "queued"}
    events = events_of(sandbox, google_email)
    assert len(events) == 1
    event = events[0]
    assert event["id"] == body["calendar_event_id"] == body["interview_id"]
    assert event["conferenceData"]["conferenceSolution"]["key"]["type"] == "hangoutsMeet"
    assert body["meeting_link"] == event["hangoutLink"] and body["meeting_link"].startswith("https://meet.google.com/")
    assert body["portal_join_url"].startswith("http://127.0.0.1:") and "#token=cvg1." in body["portal_join_url"]

    assert sandbox.drain_tasks(timeout=15)
    mails = mails_for(sandbox, body["interview_id"])
    assert sorted(m["body"]["personalizations"][0]["to"][0]["email"] for m in mails) == sorted(
        [body["candidate"]["email"], google_email]
    )
    for message in mails:
        text = ics_of(message)
        report = check_ical(text)
        assert report.errors == [] and report.restriction_ok and report.method == "REQUEST"
        calendar = icalendar.Calendar.from_ical(text)
        vevent = calendar.walk("VEVENT")[0]
        assert str(vevent["UID"]) == event["iCalUID"] and int(vevent["SEQUENCE"]) == 0
        assert str(vevent["URL"]) == event["hangoutLink"]
        assert event["hangoutLink"] in html_of(message)
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html_of(message) and "<script>" not in html_of(message)
        assert message["body"]["attachments"][0]["type"] == "text/calendar; method=REQUEST"
    outbox = [d.to_dict() for d in outbox_of(db, body["interview_id"])]
    assert {o["status"] for o in outbox} == {"sent"} and all(o["sendgrid_message_id"] for o in outbox)


def test_a_retry_with_the_same_key_creates_nothing_new(interviews_api, sandbox, host_token, google_email, clock):
    request = create_body(clock)
    headers = {"Idempotency-Key": "create-" + uuid.uuid4().hex}
    first = interviews_api.post("/interviews", token=host_token, json=request, headers=headers)
    second = interviews_api.post("/interviews", token=host_token, json=request, headers=headers)
    assert first.status == second.status == 201 and first.json == second.json
    assert len(events_of(sandbox, google_email)) == 1
    assert sandbox.drain_tasks(timeout=15)
    assert len(mails_for(sandbox, first.json["interview_id"])) == 2
    other = interviews_api.post("/interviews", token=host_token, json=request | {"job_title": "Other"}, headers=headers)
    assert (other.status, other.json["error"]["code"]) == (422, "idempotency_key_reused")


def test_calendar_insert_500_then_200_makes_one_event(interviews_api, sandbox, host_token, google_email, clock):
    sandbox.inject(r"/calendar/v3/calendars/primary/events$", [{"status": 500}], method="POST")
    reply = interviews_api.post("/interviews", token=host_token, json=create_body(clock))
    assert reply.status == 201, reply.json
    assert len(events_of(sandbox, google_email)) == 1


def test_a_duplicate_task_delivery_sends_one_email(interviews_api, sandbox, host_token, clock, db):
    reply = interviews_api.post("/interviews", token=host_token, json=create_body(clock))
    assert sandbox.drain_tasks(timeout=15)
    interview_id = reply.json["interview_id"]
    task = next(a["task"] for a in sandbox.task_attempts() if interview_id in a["task"] and a["task"].endswith("candidate"))
    sandbox.redeliver(task)
    assert sandbox.drain_tasks(timeout=15)
    assert len([a for a in sandbox.task_attempts() if a["task"] == task]) == 2  # delivered twice…
    assert len(mails_for(sandbox, interview_id)) == 2  # …sent once (one per recipient)


def test_sendgrid_503_then_202_sends_once(interviews_api, sandbox, host_token, clock, db):
    sandbox.inject(r"^/v3/mail/send$", [{"status": 503}], method="POST")
    reply = interviews_api.post("/interviews", token=host_token, json=create_body(clock))
    assert sandbox.drain_tasks(timeout=15)
    interview_id = reply.json["interview_id"]
    assert len(mails_for(sandbox, interview_id)) == 2
    outbox = {d.id: d.to_dict() for d in outbox_of(db, interview_id)}
    assert {o["status"] for o in outbox.values()} == {"sent"}
    assert sorted(o["attempts"] for o in outbox.values()) == [1, 2]


def test_sendgrid_400_is_failed_and_not_retried(interviews_api, sandbox, host_token, clock, db):
    sandbox.inject(
        r"^/v3/mail/send$",
        [{"status": 400, "body": {"errors": [{"message": "Invalid to address", "field": "to", "help": None}]}}] * 2,
        method="POST",
    )
    reply = interviews_api.post("/interviews", token=host_token, json=create_body(clock))
    assert sandbox.drain_tasks(timeout=15)
    interview_id = reply.json["interview_id"]
    outbox = [d.to_dict() for d in outbox_of(db, interview_id)]
    assert {o["status"] for o in outbox} == {"failed"} and {o["attempts"] for o in outbox} == {1}
    assert outbox[0]["last_error"]["code"] == "sendgrid_400" and "Invalid to address" in outbox[0]["last_error"]["message"]
    attempts = [a for a in sandbox.task_attempts() if interview_id in a["task"]]
    assert len(attempts) == 2 and {a["status"] for a in attempts} == {200}  # acknowledged: Cloud Tasks stops


# --- reschedule, cancel ------------------------------------------------------------------------


def test_reschedule_keeps_event_and_link_and_sends_updates_then_cancel(interviews_api, sandbox, host_token, google_email, clock):
    created = interviews_api.post("/interviews", token=host_token, json=create_body(clock)).json
    iid = created["interview_id"]
    assert sandbox.drain_tasks(timeout=15)
    new_start = (clock.now() + timedelta(days=3)).replace(hour=9, minute=0, second=0, microsecond=0)
    moved = interviews_api.post(
        f"/interviews/{iid}/reschedule",
        token=host_token,
        json={"date": new_start.date().isoformat(), "time": "09:00", "timezone": "Europe/Berlin"},
    )
    assert moved.status == 200, moved.json
    assert (moved.json["calendar_event_id"], moved.json["meeting_link"], moved.json["sequence"]) == (
        created["calendar_event_id"],
        created["meeting_link"],
        1,
    )
    events = events_of(sandbox, google_email)
    assert len(events) == 1 and events[0]["hangoutLink"] == created["meeting_link"]
    assert events[0]["start"]["dateTime"].startswith(new_start.date().isoformat() + "T09:00")
    assert sandbox.drain_tasks(timeout=15)
    updates = [m for m in mails_for(sandbox, iid) if "-update-" in m["body"]["custom_args"]["email_id"]]
    assert len(updates) == 2
    update = icalendar.Calendar.from_ical(ics_of(updates[0])).walk("VEVENT")[0]
    assert int(update["SEQUENCE"]) == 1 and str(update["UID"]) == events[0]["iCalUID"]

    cancelled = interviews_api.post(f"/interviews/{iid}/cancel", token=host_token, json={"reason": "Position filled"})
    assert cancelled.status == 200 and cancelled.json["status"] == "cancelled" and cancelled.json["sequence"] == 2
    assert events_of(sandbox, google_email)[0]["status"] == "cancelled"
    assert sandbox.drain_tasks(timeout=15)
    cancels = [m for m in mails_for(sandbox, iid) if "-cancellation-" in m["body"]["custom_args"]["email_id"]]
    assert len(cancels) == 2
    for message in cancels:
        text = ics_of(message)
        report = check_ical(text)
        assert report.errors == [] and report.restriction_ok and report.method == "CANCEL"
        vevent = icalendar.Calendar.from_ical(text).walk("VEVENT")[0]
        assert str(vevent["UID"]) == events_of(sandbox, google_email)[0]["iCalUID"] and int(vevent["SEQUENCE"]) == 2
    again = interviews_api.post(f"/interviews/{iid}/cancel", token=host_token, json={})
    assert (again.status, again.json["error"]["code"]) == (422, "invalid_transition")


# --- no double booking --------------------------------------------------------------------------


def test_five_concurrent_creates_for_one_slot_one_wins(interviews_api, sandbox, host_token, google_email, clock):
    body = create_body(clock)
    replies, barrier = [], threading.Barrier(5)

    def create(i):
        barrier.wait()
        replies.append(
            interviews_api.post(
                "/interviews", token=host_token, json=body | {"candidate": {"email": f"c{i}@candidates.example", "name": f"C{i}"}}
            )
        )

    threads = [threading.Thread(target=create, args=(i,)) for i in range(5)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    statuses = sorted(r.status for r in replies)
    assert statuses == [201, 409, 409, 409, 409], [r.json for r in replies]
    assert {r.json["error"]["code"] for r in replies if r.status == 409} == {"slot_taken"}
    assert len(events_of(sandbox, google_email)) == 1


def test_back_to_back_is_fine_but_an_overlap_is_refused(interviews_api, host_token, clock):
    first = create_body(clock, time="10:00", duration_minutes=60)
    assert interviews_api.post("/interviews", token=host_token, json=first).status == 201
    assert interviews_api.post("/interviews", token=host_token, json=first | {"time": "11:00"}).status == 201
    overlap = interviews_api.post("/interviews", token=host_token, json=first | {"time": "10:30"})
    assert (overlap.status, overlap.json["error"]["code"]) == (409, "slot_taken")


# --- validation: clear 4xx, nothing written ------------------------------------------------------


@pytest.mark.parametrize(
    ("changes", "status", "code"),
    [
        ({"date": "2026-03-08", "time": "02:30", "timezone": "America/New_York"}, 422, None),
        ({"date": "2026-11-01", "time": "01:30", "timezone": "America/New_York"}, 422, None),
        ({"timezone": "Atlantis/Capital"}, 422, "unknown_time_zone"),
        ({"duration_minutes": 3}, 422, "duration_out_of_range"),
        ({"candidate": {"email": "nope", "name": "x"}}, 422, "invalid_email"),
        ({"job_title": "x" * 500}, 422, "field_too_long"),
        ({"interview_type": "fax"}, 422, "invalid_interview_type"),
        ({"candidate_id": "cand-unknown", "candidate": None}, 422, "unknown_candidate"),
        ({"host_uid": "uid-ghost"}, 403, "not_an_admin"),
        ({"duration_minutes": "sixty"}, 400, "invalid_field"),
    ],
)
def test_bad_input_is_refused_and_nothing_is_written(
    interviews_api, sandbox, host_token, google_email, clock, db, changes, status, code
):
    reply = interviews_api.post("/interviews", token=host_token, json=create_body(clock, **changes))
    assert reply.status == status, reply.json
    if code:
        assert reply.json["error"]["code"] == code
    assert list(db.collection("interviews").stream()) == [] and events_of(sandbox, google_email) == []


def test_dst_refusals_say_why(interviews_api, host_token, clock):
    gap = interviews_api.post(
        "/interviews", token=host_token, json=create_body(clock, date="2027-03-14", time="02:30", timezone="America/New_York")
    )
    assert gap.json["error"]["code"] == "nonexistent_local_time" and "does not exist" in gap.json["error"]["message"]
    fold = interviews_api.post(
        "/interviews", token=host_token, json=create_body(clock, date="2027-11-07", time="01:30", timezone="America/New_York")
    )
    assert fold.json["error"]["code"] == "ambiguous_local_time" and "twice" in fold.json["error"]["message"]
    assert fold.json["error"]["details"]["offsets"] == ["-04:00", "-05:00"]


def _local_start(body) -> str:
    """The body's date and time in its zone, as an RFC 3339 start with the offset."""
    from zoneinfo import ZoneInfo

    day, at = datetime.fromisoformat(body["date"]).date(), datetime.strptime(body["time"], "%H:%M").time()
    return datetime.combine(day, at, tzinfo=ZoneInfo(body["timezone"])).isoformat()


def test_start_with_date_and_time_that_agree_is_accepted(interviews_api, host_token, clock):
    body = create_body(clock)
    start = _local_start(body)
    reply = interviews_api.post("/interviews", token=host_token, json=body | {"start": start})
    assert reply.status == 201, reply.json
    assert reply.json["scheduled_time"] == start and reply.json["time"] == body["time"]
    sixteen = _local_start(create_body(clock, time="16:00"))
    seconds = interviews_api.post("/interviews", token=host_token, json=create_body(clock, time="16:00:00") | {"start": sixteen})
    assert seconds.status == 201, seconds.json


@pytest.mark.parametrize(
    ("changes", "fields"),
    [
        ({"time": "15:30"}, ["start", "time"]),
        ({"time": "14:30:30"}, ["start", "time"]),
        ({"date": "2030-01-01"}, ["start", "date"]),
        ({"date": "2030-01-01", "time": "09:00"}, ["start", "date", "time"]),
    ],
)
def test_start_with_date_or_time_that_disagree_is_422(interviews_api, host_token, clock, db, changes, fields):
    body = create_body(clock)
    start = _local_start(body)
    reply = interviews_api.post("/interviews", token=host_token, json=body | changes | {"start": start})
    assert (reply.status, reply.json["error"]["code"]) == (422, "conflicting_fields"), reply.json
    assert reply.json["error"]["details"]["fields"] == fields
    assert all(name in reply.json["error"]["message"] for name in fields)
    assert list(db.collection("interviews").stream()) == []
    only_time = {k: v for k, v in (body | changes).items() if k != "date"} | {"start": start}  # one of the two is checked too
    if "time" in changes:
        reply = interviews_api.post("/interviews", token=host_token, json=only_time)
        assert reply.json["error"]["details"]["fields"] == ["start", "time"]


def test_reschedule_applies_the_same_start_rule(interviews_api, host_token, clock):
    iid = interviews_api.post("/interviews", token=host_token, json=create_body(clock, booking="request")).json["interview_id"]
    later = create_body(clock, time="17:00")
    start = _local_start(later)
    clash = interviews_api.post(
        f"/interviews/{iid}/reschedule", token=host_token, json={"start": start, "date": later["date"], "time": "17:15"}
    )
    assert (clash.status, clash.json["error"]["details"]["fields"]) == (422, ["start", "time"])
    moved = interviews_api.post(
        f"/interviews/{iid}/reschedule", token=host_token, json={"start": start, "date": later["date"], "time": "17:00"}
    )
    assert moved.status == 200 and moved.json["scheduled_time"] == start


SINGLE_LINE = {
    "job_title": lambda value: {"job_title": value},
    "candidate.name": lambda value: {"candidate": {"email": "gus@candidates.example", "name": value}},
    "location": lambda value: {"interview_type": "in_person", "location": value},
}


@pytest.mark.parametrize("field", sorted(SINGLE_LINE))
@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ("Backend\nEngineer", "line_break"),
        ("Backend\r\nEngineer", "line_break"),
        ("Backend\rEngineer", "line_break"),
        ("Backend\u2028Engineer", "line_break"),
        ("Backend\tEngineer", "control_character"),
        ("Backend\x00Engineer", "control_character"),
        ("Backend\x85Engineer", "control_character"),
        ("Backend\x7fEngineer", "control_character"),
    ],
)
def test_single_line_fields_refuse_line_breaks_and_control_characters(
    interviews_api, host_token, clock, db, field, value, reason
):
    reply = interviews_api.post("/interviews", token=host_token, json=create_body(clock, **SINGLE_LINE[field](value)))
    assert (reply.status, reply.json["error"]["code"]) == (422, "invalid_field"), reply.json
    assert reply.json["error"]["details"] == {"field": field, "reason": reason}
    assert list(db.collection("interviews").stream()) == []


@pytest.mark.parametrize("field", sorted(SINGLE_LINE))
def test_single_line_fields_keep_what_is_one_line(interviews_api, host_token, clock, field):
    reply = interviews_api.post(
        "/interviews",
        token=host_token,
        json=create_body(clock, booking="request", **SINGLE_LINE[field]("  Zoë — Back-end «Lead»  ")),
    )
    assert reply.status == 201, reply.json
    stored = {
        "job_title": reply.json["job_title"],
        "candidate.name": reply.json["candidate"]["name"],
        "location": reply.json["location"],
    }[field]
    assert stored == "Zoë — Back-end «Lead»"


def test_a_note_keeps_its_lines_as_lf(interviews_api, host_token, clock):
    reply = interviews_api.post(
        "/interviews",
        token=host_token,
        json=create_body(clock, booking="request", note="Agenda:\r\n- intro\r- code\n- questions\u2028Bring:\ta laptop"),
    )
    assert reply.status == 201, reply.json
    expected = "Agenda:\n- intro\n- code\n- questions\nBring:\ta laptop"
    assert reply.json["note"] == expected
    assert interviews_api.get(f"/interviews/{reply.json['interview_id']}", token=host_token).json["note"] == expected
    longest = interviews_api.post(
        "/interviews", token=host_token, json=create_body(clock, booking="request", time="16:00", note="x\r\n" * 666 + "xx")
    )  # 2000 characters once CRLF is LF
    assert longest.status == 201, longest.json
    for bad, reason in (("a\x00b", "control_character"), ("a\x0bb", "control_character"), ("a\x85b", "control_character")):
        reply = interviews_api.post("/interviews", token=host_token, json=create_body(clock, note=bad))
        assert reply.status == 422 and reply.json["error"]["details"] == {"field": "note", "reason": reason}


def test_a_cancellation_reason_follows_the_note_rule(interviews_api, host_token, clock):
    iid = interviews_api.post("/interviews", token=host_token, json=create_body(clock, booking="request")).json["interview_id"]
    bad = interviews_api.post(f"/interviews/{iid}/cancel", token=host_token, json={"reason": "no\x00way"})
    assert (bad.status, bad.json["error"]["details"]) == (422, {"field": "reason", "reason": "control_character"})
    assert interviews_api.post(f"/interviews/{iid}/cancel", token=host_token, json={"reason": "Sorry,\r\nmoved"}).status == 200


def test_a_malformed_body_and_a_bad_idempotency_key(interviews_api, host_token, clock):
    reply = interviews_api.call("POST", "/interviews", token=host_token, headers={"Content-Type": "application/json"}, json=None)
    assert reply.status in (400, 422)
    bad_key = interviews_api.post(
        "/interviews", token=host_token, json=create_body(clock), headers={"Idempotency-Key": "x" * 300}
    )
    assert (bad_key.status, bad_key.json["error"]["code"]) == (400, "invalid_idempotency_key")


# --- request / confirm, read, scoping, marks -----------------------------------------------------


def test_request_then_confirm(interviews_api, sandbox, host_token, google_email, clock):
    pending = interviews_api.post("/interviews", token=host_token, json=create_body(clock, booking="request"))
    assert pending.status == 201 and pending.json["status"] == "pending"
    assert pending.json["emails_sent"] == {"candidate": "not_sent", "recruiter": "not_sent"}
    assert events_of(sandbox, google_email) == []
    admin = sandbox.mint_id_token(ADMIN.uid, ADMIN.email, claims={"workspace_id": WORKSPACE})
    confirmed = interviews_api.post(f"/interviews/{pending.json['interview_id']}/confirm", token=admin)
    assert confirmed.status == 200 and confirmed.json["status"] == "confirmed"
    assert confirmed.json["meeting_link"] == events_of(sandbox, google_email)[0]["hangoutLink"]
    again = interviews_api.post(f"/interviews/{pending.json['interview_id']}/confirm", token=admin)
    assert (again.status, again.json["error"]["code"]) == (422, "invalid_transition")


def test_list_get_and_workspace_scoping(interviews_api, sandbox, host_token, clock):
    ids = [
        interviews_api.post(
            "/interviews", token=host_token, json=create_body(clock, time=f"{9 + i:02d}:00", duration_minutes=30)
        ).json["interview_id"]
        for i in range(3)
    ]
    page1 = interviews_api.get("/interviews?when=upcoming&page_size=2", token=host_token).json
    assert [i["id"] for i in page1["interviews"]] == ids[:2] and page1["next_page_token"]
    page2 = interviews_api.get(
        f"/interviews?when=upcoming&page_size=2&page_token={page1['next_page_token']}", token=host_token
    ).json
    assert [i["id"] for i in page2["interviews"]] == ids[2:] and page2["next_page_token"] is None
    item = page1["interviews"][0]
    assert {"id", "candidate_name", "date", "time", "meeting_link", "note", "interview_type", "status"} <= set(item)
    assert interviews_api.get("/interviews?when=past", token=host_token).json["interviews"] == []
    assert len(interviews_api.get("/interviews?status=confirmed,pending", token=host_token).json["interviews"]) == 3
    assert interviews_api.get(f"/interviews/{ids[0]}", token=host_token).json["id"] == ids[0]

    stranger = sandbox.mint_id_token(STRANGER.uid, STRANGER.email, claims={"workspace_id": OTHER_WORKSPACE})
    assert interviews_api.get(f"/interviews/{ids[0]}", token=stranger).status == 404
    assert interviews_api.post(f"/interviews/{ids[0]}/cancel", token=stranger, json={}).status == 404
    assert interviews_api.get("/interviews", token=stranger).json["interviews"] == []
    admin = sandbox.mint_id_token(ADMIN.uid, ADMIN.email, claims={"workspace_id": WORKSPACE})
    assert len(interviews_api.get("/interviews", token=admin).json["interviews"]) == 3
    outsider = sandbox.mint_id_token("uid-nobody", "nobody@example.com")
    assert interviews_api.get("/interviews", token=outsider).status == 403
    assert interviews_api.get("/interviews?page_size=0", token=host_token).status == 400
    assert interviews_api.get("/interviews?status=sleeping", token=host_token).status == 400
    assert interviews_api.get("/interviews?page_token=%%%", token=host_token).status == 400


def test_past_interviews_list_newest_first_for_hosts_and_admins(interviews_api, sandbox, host_token, clock):
    """The newest-first list (when=past), with and without a status filter, as host and admin:
    each of these is a query shape of its own (and a composite index in infra/)."""
    ids = [
        interviews_api.post(
            "/interviews", token=host_token, json=create_body(clock, time=f"{9 + i:02d}:00", duration_minutes=30)
        ).json["interview_id"]
        for i in range(3)
    ]
    clock.advance(timedelta(days=3))
    admin = sandbox.mint_id_token(ADMIN.uid, ADMIN.email, claims={"workspace_id": WORKSPACE})
    newest_first = list(reversed(ids))
    for token in (host_token, admin):
        assert [i["id"] for i in interviews_api.get("/interviews?when=past", token=token).json["interviews"]] == newest_first
        confirmed = interviews_api.get("/interviews?when=past&status=confirmed", token=token).json["interviews"]
        assert [i["id"] for i in confirmed] == newest_first
        assert interviews_api.get("/interviews?when=past&status=cancelled", token=token).json["interviews"] == []


def test_marks_need_a_started_interview(interviews_api, host_token, clock, container):
    iid = interviews_api.post("/interviews", token=host_token, json=create_body(clock)).json["interview_id"]
    early = interviews_api.post(f"/interviews/{iid}/complete", token=host_token)
    assert (early.status, early.json["error"]["code"]) == (422, "not_started")
    clock.advance(timedelta(days=3))
    done = interviews_api.post(f"/interviews/{iid}/complete", token=host_token)
    assert done.status == 200 and done.json["status"] == "completed"
    assert interviews_api.post(f"/interviews/{iid}/no-show", token=host_token).status == 422


def test_without_a_google_connection_the_answer_carries_a_consent_url(interviews_api, sandbox, host_token, container, clock, db):
    container.connections.disconnect(HOST.uid, GOOGLE, clock.now())
    reply = interviews_api.post("/interviews", token=host_token, json=create_body(clock))
    assert reply.status == 409 and reply.json["needs_google_auth"] is True
    assert reply.json["google_auth_url"].startswith("http://127.0.0.1:") and "/start?state=" in reply.json["google_auth_url"]
    assert list(db.collection("interviews").stream()) == []


# --- the remaining documented answers ------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("POST", "/interviews"),
        ("GET", "/interviews"),
        ("GET", "/interviews/iv1"),
        ("POST", "/interviews/iv1/confirm"),
        ("POST", "/interviews/iv1/reschedule"),
        ("POST", "/interviews/iv1/cancel"),
        ("POST", "/interviews/iv1/complete"),
        ("POST", "/interviews/iv1/no-show"),
    ],
)
def test_every_call_needs_a_signed_in_member(interviews_api, method, path):
    reply = interviews_api.call(method, path, json={} if method == "POST" else None)
    assert (reply.status, reply.json["error"]["code"]) == (401, "missing_credentials")


def test_preflight(interviews_api):
    reply = interviews_api.call("OPTIONS", "/interviews", headers={"Origin": "http://localhost:5173"})
    assert reply.status == 204 and "POST" in reply.headers["Access-Control-Allow-Methods"]


@pytest.mark.parametrize("action", ["confirm", "reschedule", "cancel", "complete", "no-show"])
def test_changes_to_an_unknown_interview_are_404(interviews_api, host_token, clock, action):
    body = {"date": (clock.now() + timedelta(days=5)).date().isoformat(), "time": "10:00"} if action == "reschedule" else {}
    reply = interviews_api.post(f"/interviews/iv-unknown/{action}", token=host_token, json=body)
    assert (reply.status, reply.json["error"]["code"]) == (404, "interview_not_found")


def test_a_guest_link_cannot_read_through_the_host_api(interviews_api, host_token, clock, container, sandbox):
    iid = interviews_api.post("/interviews", token=host_token, json=create_body(clock)).json["interview_id"]
    guest = sandbox.mint_id_token("uid-gus", "gus@candidates.example")  # signed in, but not a member
    assert interviews_api.get(f"/interviews/{iid}", token=guest).status == 403


def test_reschedule_refusals(interviews_api, host_token, clock):
    first = interviews_api.post("/interviews", token=host_token, json=create_body(clock, time="10:00")).json["interview_id"]
    second = interviews_api.post("/interviews", token=host_token, json=create_body(clock, time="12:00")).json["interview_id"]
    day = (clock.now() + timedelta(days=2)).date().isoformat()
    onto_first = interviews_api.post(f"/interviews/{second}/reschedule", token=host_token, json={"date": day, "time": "10:15"})
    assert (onto_first.status, onto_first.json["error"]["code"]) == (409, "slot_taken")
    past = interviews_api.post(f"/interviews/{first}/reschedule", token=host_token, json={"date": "2020-01-01", "time": "10:00"})
    assert (past.status, past.json["error"]["code"]) == (422, "start_in_past")
    wrong_type = interviews_api.post(
        f"/interviews/{first}/reschedule", token=host_token, json={"date": day, "time": "15:00", "duration_minutes": "long"}
    )
    assert wrong_type.status == 400
    bad_reason = interviews_api.post(f"/interviews/{first}/cancel", token=host_token, json={"reason": ["not", "text"]})
    assert bad_reason.status == 400


def test_no_show_and_confirm_without_google(interviews_api, sandbox, host_token, clock, container):
    iid = interviews_api.post("/interviews", token=host_token, json=create_body(clock)).json["interview_id"]
    pending = interviews_api.post("/interviews", token=host_token, json=create_body(clock, booking="request", time="18:00")).json
    clock.advance(timedelta(days=3))
    assert interviews_api.post(f"/interviews/{iid}/no-show", token=host_token).json["status"] == "no_show"
    clock.set(clock.now() - timedelta(days=3))
    container.connections.disconnect(HOST.uid, GOOGLE, clock.now())
    reply = interviews_api.post(f"/interviews/{pending['interview_id']}/confirm", token=host_token)
    assert reply.status == 409 and reply.json["error"]["code"] == "needs_google_auth"
    assert interviews_api.get(f"/interviews/{pending['interview_id']}", token=host_token).json["status"] == "pending"


def test_idempotent_confirm_reschedule_and_cancel(interviews_api, sandbox, host_token, google_email, clock):
    pending = interviews_api.post("/interviews", token=host_token, json=create_body(clock, booking="request")).json
    iid = pending["interview_id"]
    key = {"Idempotency-Key": "confirm-" + uuid.uuid4().hex}
    first = interviews_api.post(f"/interviews/{iid}/confirm", token=host_token, headers=key)
    second = interviews_api.post(f"/interviews/{iid}/confirm", token=host_token, headers=key)
    assert first.status == second.status == 200 and first.json == second.json
    assert sandbox.drain_tasks(timeout=15)  # else the reschedule overtakes the invitations, which are then skipped
    day = (clock.now() + timedelta(days=4)).date().isoformat()
    move = {"Idempotency-Key": "move-" + uuid.uuid4().hex}
    moved = [
        interviews_api.post(f"/interviews/{iid}/reschedule", token=host_token, json={"date": day, "time": "16:00"}, headers=move)
        for _ in range(2)
    ]
    assert [m.json["sequence"] for m in moved] == [1, 1]
    assert sandbox.drain_tasks(timeout=15)  # else the cancellation overtakes the updates, which are then skipped
    cancel = {"Idempotency-Key": "cancel-" + uuid.uuid4().hex}
    cancels = [interviews_api.post(f"/interviews/{iid}/cancel", token=host_token, json={}, headers=cancel) for _ in range(2)]
    assert [c.status for c in cancels] == [200, 200] and cancels[0].json == cancels[1].json
    assert len(events_of(sandbox, google_email)) == 1
    assert sandbox.drain_tasks(timeout=15)
    kinds = sorted(m["body"]["custom_args"]["email_id"].split("-")[1] for m in mails_for(sandbox, iid))
    assert kinds == ["cancellation", "cancellation", "invitation", "invitation", "update", "update"]


def test_an_admin_books_for_a_host_of_its_workspace_only(interviews_api, sandbox, host_token, google_email, clock):
    admin = sandbox.mint_id_token(ADMIN.uid, ADMIN.email, claims={"workspace_id": WORKSPACE})
    unknown = interviews_api.post("/interviews", token=admin, json=create_body(clock, host_uid="uid-ghost"))
    assert (unknown.status, unknown.json["error"]["code"]) == (422, "unknown_host")
    foreign = interviews_api.post("/interviews", token=admin, json=create_body(clock, host_uid=STRANGER.uid))
    assert (foreign.status, foreign.json["error"]["code"]) == (422, "unknown_host")
    booked = interviews_api.post("/interviews", token=admin, json=create_body(clock, host_uid=HOST.uid))
    assert booked.status == 201 and booked.json["host"]["uid"] == HOST.uid
    assert events_of(sandbox, google_email)[0]["id"] == booked.json["interview_id"]  # in the host's calendar
