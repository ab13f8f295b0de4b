"""Availability, booking links and guest self-service end to end (SPEC §2.6): the scheduling
function in-process (answers checked against docs/openapi.yaml), the Firestore emulator,
the sandbox's strict Calendar free/busy, Cloud Tasks dispatching to the email worker."""

from __future__ import annotations

import threading
import uuid
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from shared.auth.guest_links import CONFIRM, DECLINE, JOIN, MANAGE
from shared.domain.models import InterviewStatus
from tests.factories import HOST, WORKSPACE
from tests.integration.test_interviews_api import (  # noqa: F401  (fixtures)
    ADMIN,
    STRANGER,
    _settle,
    clock,
    events_of,
    google_email,
    host_token,
)

pytestmark = pytest.mark.usefixtures("container", "worker_server")

BERLIN = ZoneInfo("Europe/Berlin")
FREEBUSY = "/calendar/v3/freeBusy"


def config_body(**changes):
    week = {day: [{"start": "09:00", "end": "12:00"}, {"start": "13:00", "end": "17:00"}] for day in
            ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")}  # fmt: skip
    return {
        "name": "30-minute intro",
        "timezone": "Europe/Berlin",
        "calendar_ids": ["primary"],
        "duration_minutes": 30,
        "slot_step_minutes": 30,
        "working_hours": week,
        "days_ahead": 14,
        "interview_type": "google_meet",
        "booking_mode": "direct",
    } | changes


@pytest.fixture
def day(clock) -> date:
    return (clock.now().astimezone(BERLIN) + timedelta(days=3)).date()


def berlin(day: date, hhmm: str) -> datetime:
    hour, minute = map(int, hhmm.split(":"))
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=BERLIN).astimezone(UTC)


def utc(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def new_config(api, token, **changes) -> dict:
    reply = api.call("POST", "/scheduling-configs", token=token, json=config_body(**changes))
    assert reply.status == 201, reply.json
    return reply.json


def new_link(api, token, config_id, **body) -> dict:
    reply = api.call("POST", f"/scheduling-configs/{config_id}/booking-links", token=token, json=body)
    assert reply.status == 201, reply.json
    return reply.json


def starts(reply) -> list[str]:
    return [s["start"] for s in reply.json["available_slots"]]


def guest(**changes):
    return {
        "name": "Gus Guest",
        "email": f"gus-{uuid.uuid4().hex[:6]}@candidates.example",
        "timezone": "America/New_York",
    } | changes


# --- configurations ------------------------------------------------------------------------


def test_a_host_creates_reads_changes_and_deletes_a_configuration(scheduling_api, host_token, google_email, db):
    created = new_config(scheduling_api, host_token, calendar_ids=["primary", google_email], buffer_before_minutes=10)
    assert created["host_uid"] == HOST.uid and created["buffer_before_minutes"] == 10
    stored = db.collection("scheduling_configs").document(created["id"]).get().to_dict()
    assert stored["workspace_id"] == WORKSPACE and stored["working_hours"]["monday"][1] == {"start": "13:00", "end": "17:00"}

    assert scheduling_api.call("GET", f"/scheduling-configs/{created['id']}", token=host_token).json == created
    listed = scheduling_api.call("GET", "/scheduling-configs", token=host_token).json["scheduling_configs"]
    assert [c["id"] for c in listed] == [created["id"]]

    patched = scheduling_api.call(
        "PATCH", f"/scheduling-configs/{created['id']}", token=host_token, json={"duration_minutes": 45, "daily_cap": 3}
    )
    assert patched.status == 200 and patched.json["duration_minutes"] == 45 and patched.json["daily_cap"] == 3
    assert patched.json["name"] == created["name"]

    deleted = scheduling_api.call("DELETE", f"/scheduling-configs/{created['id']}", token=host_token)
    assert deleted.status == 200
    gone = scheduling_api.call("GET", f"/scheduling-configs/{created['id']}", token=host_token)
    assert gone.status == 404 and gone.json["error"]["code"] == "config_not_found"


@pytest.mark.parametrize(
    ("changes", "status", "field"),
    [
        ({"working_hours": {"monday": [{"start": "09:00", "end": "12:00"}, {"start": "11:00", "end": "13:00"}]}}, 422,
         "working_hours.monday[1]"),
        ({"timezone": "Mars/Olympus"}, 422, "timezone"),
        ({"calendar_ids": ["someone-else@example.com"]}, 422, "calendar_ids[0]"),
        ({"duration_minutes": "thirty"}, 400, "duration_minutes"),
        ({"booking_mode": "maybe"}, 422, "booking_mode"),
        ({"colour": "blue"}, 400, "colour"),
    ],
)  # fmt: skip
def test_a_bad_configuration_is_refused_with_its_field_and_nothing_is_stored(
    scheduling_api, host_token, db, changes, status, field
):
    reply = scheduling_api.call("POST", "/scheduling-configs", token=host_token, json=config_body(**changes))
    assert reply.status == status, reply.json
    assert reply.json["error"]["details"]["field"] == field
    assert list(db.collection("scheduling_configs").stream()) == []


def test_configurations_are_scoped_to_their_host_and_workspace(scheduling_api, host_token, sandbox):
    created = new_config(scheduling_api, host_token)
    stranger = sandbox.mint_id_token(STRANGER.uid, STRANGER.email, claims={"workspace_id": STRANGER.workspace_id})
    assert scheduling_api.call("GET", f"/scheduling-configs/{created['id']}", token=stranger).status == 404
    assert scheduling_api.call("GET", "/scheduling-configs", token=stranger).json["scheduling_configs"] == []
    admin = sandbox.mint_id_token(ADMIN.uid, ADMIN.email, claims={"workspace_id": WORKSPACE})
    assert scheduling_api.call("GET", f"/scheduling-configs/{created['id']}", token=admin).status == 200
    assert scheduling_api.call("GET", "/scheduling-configs").status == 401


# --- availability --------------------------------------------------------------------------


def test_availability_is_one_freebusy_call_minus_busy_blocks_and_bookings(scheduling_api, host_token, google_email, sandbox, day):
    config = new_config(scheduling_api, host_token, buffer_after_minutes=15)
    sandbox.sandbox.calendar.add_busy_event(google_email, berlin(day, "10:00"), berlin(day, "11:00"))
    before = len(sandbox.calls(FREEBUSY))
    reply = scheduling_api.call("GET", f"/availability?config_id={config['id']}&date={day.isoformat()}", token=host_token)
    assert reply.status == 200, reply.json
    assert len(sandbox.calls(FREEBUSY)) == before + 1
    assert reply.json["date"] == day.isoformat()
    got = starts(reply)
    # 09:00, 09:30 (its after-buffer ends 10:15 > 10:00: refused), 11:00 ... 11:30; 13:00 ... 16:30
    assert utc(berlin(day, "09:00")) in got and utc(berlin(day, "09:30")) not in got
    assert utc(berlin(day, "10:30")) not in got and utc(berlin(day, "11:00")) in got
    assert len(got) == 1 + 2 + 8
    first = reply.json["available_slots"][0]
    assert first["start_time"].endswith(("+01:00", "+02:00")) and first["available"] is True
    assert {"start": berlin(day, "10:00").astimezone(BERLIN).isoformat(), "end": berlin(day, "11:00").astimezone(BERLIN).isoformat()} in reply.json["busy_times"]  # fmt: skip

    in_tokyo = scheduling_api.call(
        "GET", f"/availability?config_id={config['id']}&date={day.isoformat()}&timezone=Asia/Tokyo", token=host_token
    )
    assert in_tokyo.json["timezone"] == "Asia/Tokyo"
    assert all(s["start_time"].endswith("+09:00") for s in in_tokyo.json["available_slots"])


def test_a_calendar_google_cannot_read_is_reported_not_taken_as_free(scheduling_api, host_token, container, day, db):
    config = new_config(scheduling_api, host_token)
    # the calendar disappears after the configuration was saved (Google answers notFound for it)
    db.collection("scheduling_configs").document(config["id"]).update(
        {"calendar_ids": ["primary", "gone@group.calendar.google.com"]}
    )
    reply = scheduling_api.call("GET", f"/availability?config_id={config['id']}&date={day.isoformat()}", token=host_token)
    assert reply.status == 409 and reply.json["error"]["code"] == "calendar_unavailable"
    assert reply.json["error"]["details"]["calendars"] == {"gone@group.calendar.google.com": "notFound"}


def test_a_revoked_google_connection_needs_google_auth(scheduling_api, host_token, google_email, sandbox, container, day, db):
    config = new_config(scheduling_api, host_token)
    sandbox.revoke_google_grants(google_email)
    container.google_credentials.forget(HOST.uid)
    reply = scheduling_api.call("GET", f"/availability?config_id={config['id']}&date={day.isoformat()}", token=host_token)
    assert reply.status == 409 and reply.json["error"]["code"] == "needs_google_auth"
    link = new_link(scheduling_api, host_token, config["id"])
    attempts = len(list(db.collection("oauth_states").stream()))  # the host's answer made one
    public = scheduling_api.call("GET", f"/links/{link['id']}?date={day.isoformat()}")
    assert public.status == 409 and public.json["error"]["code"] == "host_not_bookable"
    assert "google_auth_url" not in str(public.json)
    assert len(list(db.collection("oauth_states").stream())) == attempts  # a guest's request writes no consent attempt


# --- booking links -------------------------------------------------------------------------


def test_a_guest_books_through_a_link_exactly_like_a_host_create(scheduling_api, host_token, google_email, sandbox, day, db):
    config = new_config(scheduling_api, host_token)
    link = new_link(scheduling_api, host_token, config["id"], label="careers page")
    assert link["url"].endswith(f"/book/{link['id']}") and link["active"] is True

    view = scheduling_api.call("GET", f"/links/{link['id']}?date={day.isoformat()}&timezone=America/New_York")
    assert view.status == 200
    assert view.json["host"] == {"name": HOST.name} and view.json["config"]["duration_minutes"] == 30
    assert "busy_times" not in view.json and "calendar_ids" not in str(view.json)
    slot = view.json["available_slots"][0]

    who = guest(note="Looking forward")
    booked = scheduling_api.call(
        "POST", f"/links/{link['id']}/bookings", json={"start": slot["start"], **who}, headers={"Idempotency-Key": "k-1"}
    )
    assert booked.status == 201, booked.json
    assert booked.json["status"] == "confirmed" and booked.json["meeting_link"].startswith("https://meet.google.com/")
    assert booked.json["start"] == slot["start"] and booked.json["timezone"] == "America/New_York"
    stored = db.collection("interviews").document(booked.json["interview_id"]).get().to_dict()
    assert stored["origin"]["link_id"] == link["id"] and stored["guest"]["email"] == who["email"]
    assert [e for e in events_of(sandbox, google_email) if e["id"].startswith(booked.json["interview_id"][:10])] or events_of(
        sandbox, google_email
    )

    again = scheduling_api.call(
        "POST", f"/links/{link['id']}/bookings", json={"start": slot["start"], **who}, headers={"Idempotency-Key": "k-1"}
    )
    assert again.status == 201 and again.json["interview_id"] == booked.json["interview_id"]

    after = scheduling_api.call("GET", f"/links/{link['id']}?date={day.isoformat()}&timezone=America/New_York")
    assert slot["start"] not in starts(after)
    taken = scheduling_api.call("POST", f"/links/{link['id']}/bookings", json={"start": slot["start"], **guest()})
    assert taken.status == 409 and taken.json["error"]["code"] == "slot_unavailable"
    assert [s["start"] for s in taken.json["error"]["details"]["available_slots"]] == starts(after)


def test_link_states_unknown_revoked_expired_single_use(scheduling_api, host_token, day, clock):
    config = new_config(scheduling_api, host_token)
    assert scheduling_api.call("GET", "/links/no-such-link").json["error"]["code"] == "booking_link_not_found"

    revoked = new_link(scheduling_api, host_token, config["id"])
    assert scheduling_api.call("POST", f"/booking-links/{revoked['id']}/revoke", token=host_token).json["active"] is False
    reply = scheduling_api.call("GET", f"/links/{revoked['id']}")
    assert reply.status == 410 and reply.json["error"]["code"] == "booking_link_revoked"

    expiring = new_link(scheduling_api, host_token, config["id"], expires_at=utc(clock.now() + timedelta(hours=1)))
    assert scheduling_api.call("GET", f"/links/{expiring['id']}?date={day.isoformat()}").status == 200
    clock.advance(timedelta(hours=2))
    assert scheduling_api.call("GET", f"/links/{expiring['id']}").json["error"]["code"] == "booking_link_expired"

    once = new_link(scheduling_api, host_token, config["id"], single_use=True)
    slots = starts(scheduling_api.call("GET", f"/links/{once['id']}?date={day.isoformat()}"))
    first = scheduling_api.call("POST", f"/links/{once['id']}/bookings", json={"start": slots[0], **guest()})
    assert first.status == 201
    second = scheduling_api.call("POST", f"/links/{once['id']}/bookings", json={"start": slots[1], **guest()})
    assert second.status == 410 and second.json["error"]["code"] == "booking_link_used"

    listed = scheduling_api.call("GET", f"/booking-links?config_id={config['id']}", token=host_token).json["booking_links"]
    assert {link["id"]: link["active"] for link in listed} == {revoked["id"]: False, expiring["id"]: False, once["id"]: False}


def test_bad_guest_input_is_refused_and_books_nothing(scheduling_api, host_token, day, db):
    config = new_config(scheduling_api, host_token)
    link = new_link(scheduling_api, host_token, config["id"])
    slot = starts(scheduling_api.call("GET", f"/links/{link['id']}?date={day.isoformat()}"))[0]
    for body, status, field in [
        ({"start": slot, "name": "Gus"}, 422, "email"),
        ({"start": slot, "name": "Gus", "email": "not-an-email"}, 422, "email"),
        ({"start": slot, "email": "g@example.com"}, 422, "name"),
        ({"start": "tomorrow", "name": "Gus", "email": "g@example.com"}, 422, "start"),
        ({"start": slot, "name": "Gus", "email": "g@example.com", "host_uid": "uid-x"}, 400, "host_uid"),
        ({"start": slot, "name": "Gus\nEvil", "email": "g@example.com"}, 422, "name"),
    ]:
        reply = scheduling_api.call("POST", f"/links/{link['id']}/bookings", json=body)
        assert reply.status == status, (body, reply.json)
        assert reply.json["error"]["details"]["field"] == field
    off_grid = utc(berlin(day, "09:10"))
    reply = scheduling_api.call("POST", f"/links/{link['id']}/bookings", json={"start": off_grid, **guest()})
    assert reply.status == 409 and reply.json["error"]["code"] == "slot_unavailable"
    assert list(db.collection("interviews").stream()) == []


def test_request_mode_pending_until_the_host_confirms_and_limits_pending_requests(scheduling_api, host_token, day, container, db):
    config = new_config(scheduling_api, host_token, booking_mode="request")
    link = new_link(scheduling_api, host_token, config["id"])
    slots = starts(scheduling_api.call("GET", f"/links/{link['id']}?date={day.isoformat()}"))
    who = guest()
    booked = [scheduling_api.call("POST", f"/links/{link['id']}/bookings", json={"start": s, **who}) for s in slots[:3]]
    assert [b.status for b in booked] == [201, 201, 201]
    assert all(b.json["status"] == "pending" and b.json["meeting_link"] is None for b in booked)
    fourth = scheduling_api.call("POST", f"/links/{link['id']}/bookings", json={"start": slots[3], **who})
    assert fourth.status == 429 and fourth.json["error"]["code"] == "too_many_pending_requests"

    interview_id = booked[0].json["interview_id"]
    interview = container.interviews.get(interview_id)
    confirm = container.guest_links.sign(
        interview_id=interview_id, workspace_id=WORKSPACE, expires_at=interview.start, purpose=CONFIRM
    )
    shown = scheduling_api.call("GET", "/respond/request", token=confirm)
    assert shown.status == 200 and shown.json["action"] == "confirm" and shown.json["answerable"] is True
    done = scheduling_api.call("POST", "/respond/confirm", token=confirm, json={})
    assert done.status == 200 and done.json["status"] == "confirmed"
    assert container.interviews.get(interview_id).status is InterviewStatus.CONFIRMED
    assert scheduling_api.call("POST", "/respond/confirm", token=confirm, json={}).status == 200  # a second click

    declined_id = booked[1].json["interview_id"]
    decline = container.guest_links.sign(
        interview_id=declined_id, workspace_id=WORKSPACE, expires_at=container.interviews.get(declined_id).start, purpose=DECLINE
    )
    assert scheduling_api.call("POST", "/respond/confirm", token=decline, json={}).status == 401  # wrong purpose
    reply = scheduling_api.call("POST", "/respond/decline", token=decline, json={"reason": "Fully booked that day"})
    assert reply.status == 200 and reply.json["status"] == "cancelled"


# --- guest self-service --------------------------------------------------------------------


def test_a_guest_reschedules_then_cancels_with_its_manage_link(scheduling_api, host_token, google_email, sandbox, container, day):
    config = new_config(scheduling_api, host_token)
    link = new_link(scheduling_api, host_token, config["id"])
    slots = starts(scheduling_api.call("GET", f"/links/{link['id']}?date={day.isoformat()}"))
    booked = scheduling_api.call("POST", f"/links/{link['id']}/bookings", json={"start": slots[0], **guest()}).json
    interview = container.interviews.get(booked["interview_id"])
    manage = container.guest_links.sign(
        interview_id=interview.id, workspace_id=WORKSPACE, expires_at=interview.end, purpose=MANAGE
    )
    join = container.guest_links.sign(interview_id=interview.id, workspace_id=WORKSPACE, expires_at=interview.end, purpose=JOIN)
    assert scheduling_api.call("GET", "/guest/booking", token=join).status == 401

    seen = scheduling_api.call("GET", "/guest/booking", token=manage)
    assert seen.status == 200 and seen.json["can_cancel"] and seen.json["can_reschedule"]
    free = scheduling_api.call("GET", f"/guest/booking/slots?date={day.isoformat()}", token=manage)
    # the booking's own time is offered again (moving it must not be blocked by itself)
    assert slots[0] in starts(free)

    moved = scheduling_api.call("POST", "/guest/booking/reschedule", token=manage, json={"start": slots[2]})
    assert moved.status == 200, moved.json
    assert moved.json["start"] == slots[2]
    after = container.interviews.get(interview.id)
    assert after.ical_sequence == interview.ical_sequence + 1 and after.calendar_event_id == interview.calendar_event_id
    event = next(e for e in events_of(sandbox, google_email) if e["id"] == interview.calendar_event_id)
    assert (
        event["start"]["dateTime"].startswith(slots[2][:16])
        or utc(datetime.fromisoformat(event["start"]["dateTime"])) == slots[2]
    )

    cancelled = scheduling_api.call("POST", "/guest/booking/cancel", token=manage, json={"reason": "Found another time"})
    assert cancelled.status == 200 and cancelled.json["status"] == "cancelled"
    assert cancelled.json["can_cancel"] is False and cancelled.json["can_reschedule"] is False
    assert container.interviews.get(interview.id).status is InterviewStatus.CANCELLED


# --- contention ----------------------------------------------------------------------------


def at_once(api, path, bodies):
    """POST the bodies at once (released by a barrier); the replies in order."""
    replies: list = [None] * len(bodies)
    barrier = threading.Barrier(len(bodies))

    def post(i):
        barrier.wait()
        replies[i] = api.call("POST", path, json=bodies[i])

    threads = [threading.Thread(target=post, args=(i,)) for i in range(len(bodies))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return replies


def test_guests_racing_for_one_slot_one_wins_the_others_get_fresh_slots(scheduling_api, host_token, day):
    config = new_config(scheduling_api, host_token)
    link = new_link(scheduling_api, host_token, config["id"])
    slot = starts(scheduling_api.call("GET", f"/links/{link['id']}?date={day.isoformat()}"))[2]
    replies = at_once(scheduling_api, f"/links/{link['id']}/bookings", [{"start": slot, **guest()} for _ in range(6)])
    assert sorted(r.status for r in replies) == [201] + [409] * 5, [r.json for r in replies]
    for lost in (r for r in replies if r.status == 409):
        assert lost.json["error"]["code"] == "slot_unavailable"
        fresh = [s["start"] for s in lost.json["error"]["details"]["available_slots"]]
        assert fresh and slot not in fresh


def test_guests_booking_distinct_slots_at_once_all_succeed(scheduling_api, host_token, day):
    config = new_config(scheduling_api, host_token)
    link = new_link(scheduling_api, host_token, config["id"])
    slots = starts(scheduling_api.call("GET", f"/links/{link['id']}?date={day.isoformat()}"))
    replies = at_once(scheduling_api, f"/links/{link['id']}/bookings", [{"start": s, **guest()} for s in slots[:6]])
    assert [r.status for r in replies] == [201] * 6, [r.json for r in replies]
    assert sorted(r.json["start"] for r in replies) == sorted(slots[:6])


# --- what the review found ------------------------------------------------------------------


def test_confirm_links_of_a_request_the_guest_moved_since_do_not_confirm_the_new_time(scheduling_api, host_token, container, day):
    config = new_config(scheduling_api, host_token, booking_mode="request")
    link = new_link(scheduling_api, host_token, config["id"])
    slots = starts(scheduling_api.call("GET", f"/links/{link['id']}?date={day.isoformat()}"))
    booked = scheduling_api.call("POST", f"/links/{link['id']}/bookings", json={"start": slots[0], **guest()}).json
    interview = container.interviews.get(booked["interview_id"])

    def signed(purpose, iv):
        return container.guest_links.sign(
            interview_id=iv.id, workspace_id=WORKSPACE, expires_at=iv.start, purpose=purpose, version=iv.ical_sequence
        )

    old_confirm = signed(CONFIRM, interview)
    manage = container.guest_links.sign(
        interview_id=interview.id, workspace_id=WORKSPACE, expires_at=interview.end, purpose=MANAGE
    )
    moved = scheduling_api.call("POST", "/guest/booking/reschedule", token=manage, json={"start": slots[3]})
    assert moved.status == 200 and moved.json["status"] == "pending"

    assert scheduling_api.call("GET", "/respond/request", token=old_confirm).json["answerable"] is False
    stale = scheduling_api.call("POST", "/respond/confirm", token=old_confirm, json={})
    assert stale.status == 409 and stale.json["error"]["code"] == "request_changed"
    assert container.interviews.get(interview.id).status is InterviewStatus.PENDING
    fresh = signed(CONFIRM, container.interviews.get(interview.id))
    assert scheduling_api.call("POST", "/respond/confirm", token=fresh, json={}).json["status"] == "confirmed"


def test_a_guests_cancellation_keeps_its_reason_and_tells_the_host(
    scheduling_api, interviews_api, host_token, sandbox, container, day
):
    config = new_config(scheduling_api, host_token)
    link = new_link(scheduling_api, host_token, config["id"])
    slot = starts(scheduling_api.call("GET", f"/links/{link['id']}?date={day.isoformat()}"))[0]
    booked = scheduling_api.call("POST", f"/links/{link['id']}/bookings", json={"start": slot, **guest()}).json
    interview = container.interviews.get(booked["interview_id"])
    manage = container.guest_links.sign(
        interview_id=interview.id, workspace_id=WORKSPACE, expires_at=interview.end, purpose=MANAGE
    )
    reply = scheduling_api.call("POST", "/guest/booking/cancel", token=manage, json={"reason": "My train is late"})
    assert reply.status == 200 and reply.json["status"] == "cancelled"
    seen = interviews_api.call("GET", f"/interviews/{interview.id}", token=host_token).json
    assert seen["cancellation"]["by"] == "guest" and seen["cancellation"]["reason"] == "My train is late"
    sandbox.drain_tasks(timeout=10)
    to_host = [
        m for m in sandbox.sent_mail()
        if m["body"].get("custom_args", {}).get("email_id", "").startswith(interview.id) and "cancellation" in m["body"]["custom_args"]["email_id"]
        and m["body"]["personalizations"][0]["to"][0]["email"] != interview.guest.email
    ]  # fmt: skip
    assert to_host and "My train is late" in str(to_host[0]["body"]["content"])


def test_dates_far_away_are_empty_and_odd_dates_are_refused(scheduling_api, host_token, day):
    config = new_config(scheduling_api, host_token)
    link = new_link(scheduling_api, host_token, config["id"])
    for far in ("0001-01-01", "9999-12-31"):
        reply = scheduling_api.call("GET", f"/links/{link['id']}?date={far}")
        assert reply.status == 200 and reply.json["available_slots"] == [] and reply.json["date"] == far
    assert scheduling_api.call("GET", f"/links/{link['id']}?from=9999-12-30").status == 200
    week_date = scheduling_api.call("GET", f"/links/{link['id']}?date=2026-W49-1")
    assert week_date.status == 400 and week_date.json["error"]["details"]["field"] == "date"
    too_long = scheduling_api.call(
        "GET", f"/links/{link['id']}?from={day.isoformat()}&to={(day + timedelta(days=40)).isoformat()}"
    )
    assert too_long.status == 422 and too_long.json["error"]["code"] == "range_too_long"


def test_a_retry_replays_even_after_the_single_use_link_was_used_and_deleting_a_config_revokes_its_links(
    scheduling_api, host_token, day
):
    config = new_config(scheduling_api, host_token)
    once = new_link(scheduling_api, host_token, config["id"], single_use=True)
    slot = starts(scheduling_api.call("GET", f"/links/{once['id']}?date={day.isoformat()}"))[0]
    body = {"start": slot, **guest()}
    first = scheduling_api.call("POST", f"/links/{once['id']}/bookings", json=body, headers={"Idempotency-Key": "retry-me"})
    again = scheduling_api.call("POST", f"/links/{once['id']}/bookings", json=body, headers={"Idempotency-Key": "retry-me"})
    assert first.status == again.status == 201 and again.json["interview_id"] == first.json["interview_id"]
    other = scheduling_api.call("POST", f"/links/{once['id']}/bookings", json=body, headers={"Idempotency-Key": "another"})
    assert other.status == 410 and other.json["error"]["code"] == "booking_link_used"

    shared_link = new_link(scheduling_api, host_token, config["id"])
    assert scheduling_api.call("DELETE", f"/scheduling-configs/{config['id']}", token=host_token).status == 200
    listed = scheduling_api.call("GET", "/booking-links", token=host_token).json["booking_links"]
    assert {link["id"]: link["active"] for link in listed}[shared_link["id"]] is False
    assert scheduling_api.call("GET", f"/links/{shared_link['id']}").status == 410


def test_a_guest_email_carries_a_manage_link_that_opens_the_booking(scheduling_api, host_token, sandbox, settings, day):
    config = new_config(scheduling_api, host_token)
    link = new_link(scheduling_api, host_token, config["id"])
    slot = starts(scheduling_api.call("GET", f"/links/{link['id']}?date={day.isoformat()}"))[0]
    who = guest()
    booked = scheduling_api.call("POST", f"/links/{link['id']}/bookings", json={"start": slot, **who}).json
    sandbox.drain_tasks(timeout=10)
    invitation = next(
        m for m in sandbox.sent_mail()
        if m["body"]["personalizations"][0]["to"][0]["email"] == who["email"]
    )  # fmt: skip
    text = next(c["value"] for c in invitation["body"]["content"] if c["type"] == "text/plain")
    prefix = f"{settings.scheduling_url}/manage#token="
    token = text[text.index(prefix) + len(prefix) :].split()[0]
    seen = scheduling_api.call("GET", "/guest/booking", token=token)
    assert seen.status == 200 and seen.json["interview_id"] == booked["interview_id"] and seen.json["can_reschedule"]
