"""Every refusal the scheduling function documents (docs/openapi.yaml, /scheduling/…), each
asserted with its status AND its error code, and the pages it serves.

The scheduling function in-process (answers checked against docs/openapi.yaml), the Firestore
emulator, the sandbox's Calendar with injected faults (Google down: 503; Google refusing: 502
``google_error``; a grant revoked mid-request), Cloud Tasks dispatching to the email worker.

Besides the plain refusals, the behaviours the scheduling function owes its guests:
- a signed link (manage, confirm, decline) is checked, with its purpose, before the body is
  read: a bad link with a bad body is a 401;
- a date outside notice and horizon offers nothing (200, no slots), a date not of the form
  YYYY-MM-DD is a 400 ``invalid_field``;
- a retried booking (same ``Idempotency-Key``) replays the first answer even when the link has
  been used up, revoked or has expired since;
- a host whose Google connection broke is 409 ``host_not_bookable`` for guests, never
  ``needs_google_auth`` (nor a ``google_auth_url``, nor a 500).
"""

from __future__ import annotations

import re
import threading
import uuid
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

import pytest

from shared.auth.guest_links import CONFIRM, DECLINE, JOIN, MANAGE
from shared.domain.models import InterviewStatus
from tests.factories import HOST, OTHER_WORKSPACE, WORKSPACE
from tests.integration.test_http_bodies import raw_call
from tests.integration.test_idempotency import in_background
from tests.integration.test_interviews_api import (  # noqa: F401  (fixtures)
    ADMIN,
    STRANGER,
    _settle,
    clock,
    events_of,
    google_email,
    host_token,
)
from tests.integration.test_scheduling_api import (  # noqa: F401  (the day fixture)
    FREEBUSY,
    berlin,
    day,
    guest,
    new_config,
    new_link,
    starts,
    utc,
)

pytestmark = pytest.mark.usefixtures("container", "worker_server")

EVENTS = r"/calendar/v3/calendars/primary/events$"
NOBODY = ("uid-nobody", "nobody@acme.example")  # a Firebase user without a users/{uid} document


def error(reply) -> tuple[int, str]:
    """(status, error code) of an error answer, after checking the one error shape."""
    assert isinstance(reply.json, dict) and set(reply.json["error"]) == {"code", "message", "details"}, reply.json
    return reply.status, reply.json["error"]["code"]


def field_of(reply) -> Any:
    return reply.json["error"]["details"].get("field")


def interview_ids(db) -> list[str]:
    return sorted(d.id for d in db.collection("interviews").stream())


def google_faults(sandbox, path: str, status: int, settings, method: str | None = None) -> None:
    """Google answering ``status`` to every attempt of the next call (its retries included)."""
    times = settings.google_retries + 1 if status >= 500 else 1
    sandbox.inject(path, [{"status": status}] * times, method=method)


def assert_unavailable(reply) -> None:
    assert error(reply) == (503, "unavailable"), reply.json
    assert int(reply.headers["Retry-After"]) >= 1


def assert_google_error(reply) -> None:
    assert error(reply) == (502, "google_error"), reply.json


def assert_not_bookable(reply) -> None:
    """What a guest learns of a host whose Google connection broke: nothing of the host's account."""
    assert error(reply) == (409, "host_not_bookable"), reply.json
    assert "google_auth_url" not in str(reply.json) and "needs_google_auth" not in str(reply.json)


@dataclass(frozen=True)
class Booked:
    interview_id: str
    start: datetime
    end: datetime
    slots: list[str]  # the day's free slots when it was booked (its own first)


def book(api, link_id: str, day: date, *, index: int = 0, headers: dict[str, str] | None = None, **who: Any) -> Booked:
    slots = starts(api.call("GET", f"/links/{link_id}?date={day.isoformat()}"))
    reply = api.call("POST", f"/links/{link_id}/bookings", json={"start": slots[index], **guest(**who)}, headers=headers)
    assert reply.status == 201, reply.json
    start = datetime.fromisoformat(reply.json["start"])
    end = datetime.fromisoformat(reply.json["end"])
    return Booked(reply.json["interview_id"], start, end, [slots[index]] + [s for s in slots if s != slots[index]])


def sign(container, interview_id: str, purpose: str, expires_at: datetime, *, version: int | None = None) -> str:
    return container.guest_links.sign(
        interview_id=interview_id, workspace_id=WORKSPACE, expires_at=expires_at, purpose=purpose, version=version
    )


def manage_token(container, booked: Booked) -> str:
    """As the guest's emails carry it (shared.services.portal.manage_url): valid until the end."""
    return sign(container, booked.interview_id, MANAGE, booked.end)


def respond_token(container, booked: Booked, purpose: str) -> str:
    """As the host's booking_request email carries it (shared.services.portal.respond_url)."""
    interview = container.interviews.get(booked.interview_id)
    return sign(container, booked.interview_id, purpose, interview.start, version=interview.ical_sequence)


@pytest.fixture
def config(scheduling_api, host_token) -> dict:
    return new_config(scheduling_api, host_token)


@pytest.fixture
def link(scheduling_api, host_token, config) -> dict:
    return new_link(scheduling_api, host_token, config["id"])


@pytest.fixture
def booked(scheduling_api, link, day) -> Booked:
    """A direct booking through the link: a confirmed interview with its Calendar event."""
    return book(scheduling_api, link["id"], day)


@pytest.fixture
def request_link(scheduling_api, host_token) -> dict:
    return new_link(scheduling_api, host_token, new_config(scheduling_api, host_token, booking_mode="request")["id"])


# --- pages ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/book/Jm1mXqv2Pz0aLr3QxYz1Aw", "/book/no-such-link", "/manage", "/respond"])
def test_pages_are_html_with_a_strict_csp_and_a_fresh_nonce(scheduling_api, path):
    """No credentials, no data: the same page for everyone, its script allowed by this answer's nonce only."""
    nonces = []
    for _ in range(2):
        reply = scheduling_api.call("GET", path)
        assert reply.status == 200 and reply.headers["Content-Type"].startswith("text/html")
        csp = reply.headers["Content-Security-Policy"]
        nonce = re.search(r"script-src 'nonce-([A-Za-z0-9_-]{16,})'", csp)
        assert nonce, csp
        assert f"style-src 'nonce-{nonce.group(1)}'" in csp
        assert "default-src 'none'" in csp and "frame-ancestors 'none'" in csp and "connect-src 'self'" in csp
        assert f'nonce="{nonce.group(1)}"' in reply.text
        assert reply.headers["Cache-Control"] == "no-store" and reply.headers["X-Frame-Options"] == "DENY"
        assert reply.headers["Referrer-Policy"] == "no-referrer" and reply.headers["X-Content-Type-Options"] == "nosniff"
        nonces.append(nonce.group(1))
    assert nonces[0] != nonces[1]


@pytest.mark.parametrize("link_id", ["__x__", "a.b", "x" * 129])
def test_a_book_path_that_is_no_link_id_is_the_json_404(scheduling_api, link_id):
    reply = scheduling_api.call("GET", f"/book/{link_id}")
    assert error(reply) == (404, "no_such_endpoint")
    assert reply.headers["Content-Type"].startswith("application/json")


# --- host routes: credentials and membership -------------------------------------------------------

# (method, path, JSON body) of every route for hosts and admins; ids that need not exist
HOST_ROUTES = [
    ("GET", "/scheduling-configs", None),
    ("POST", "/scheduling-configs", {"name": "x"}),
    ("GET", "/scheduling-configs/cfg-1", None),
    ("PATCH", "/scheduling-configs/cfg-1", {"name": "x"}),
    ("DELETE", "/scheduling-configs/cfg-1", None),
    ("GET", "/availability?config_id=cfg-1", None),
    ("POST", "/scheduling-configs/cfg-1/booking-links", {}),
    ("GET", "/booking-links", None),
    ("POST", "/booking-links/lnk-1/revoke", None),
]


@pytest.mark.parametrize(("method", "path", "body"), HOST_ROUTES, ids=[f"{m} {p}" for m, p, _ in HOST_ROUTES])
def test_host_routes_without_a_firebase_sign_in_are_401(scheduling_api, container, clock, method, path, body):
    manage = sign(container, "iv-1", MANAGE, clock.now() + timedelta(days=1))
    for token, code in [(None, "missing_credentials"), (manage, "invalid_token"), ("not-a-token", "invalid_token")]:
        reply = scheduling_api.call(method, path, token=token, json=body)
        assert error(reply) == (401, code), (token, reply.json)


@pytest.mark.parametrize(("method", "path", "body"), HOST_ROUTES, ids=[f"{m} {p}" for m, p, _ in HOST_ROUTES])
def test_host_routes_for_who_is_not_a_member_of_the_workspace_are_403(
    scheduling_api, host_token, sandbox, config, method, path, body
):
    path = path.replace("cfg-1", config["id"])
    if method == "POST" and path == "/scheduling-configs":
        body = {"name": "x", "timezone": "Europe/Berlin", "calendar_ids": ["primary"], "duration_minutes": 30}
    no_user = sandbox.mint_id_token(*NOBODY, claims={"workspace_id": WORKSPACE})
    other_claim = sandbox.mint_id_token(HOST.uid, HOST.email, name=HOST.name, claims={"workspace_id": OTHER_WORKSPACE})
    for token in (no_user, other_claim):
        reply = scheduling_api.call(method, path, token=token, json=body)
        assert error(reply) == (403, "not_a_member"), reply.json
    assert scheduling_api.call("GET", f"/scheduling-configs/{config['id']}", token=host_token).status == 200


def test_a_host_may_not_act_for_another_host(scheduling_api, host_token, db):
    for path in (f"/scheduling-configs?host_uid={ADMIN.uid}", f"/booking-links?host_uid={ADMIN.uid}"):
        reply = scheduling_api.call("GET", path, token=host_token)
        assert error(reply) == (403, "not_an_admin"), reply.json
    body = {"name": "For Ada", "timezone": "Europe/Berlin", "calendar_ids": ["primary"], "host_uid": ADMIN.uid}
    reply = scheduling_api.call("POST", "/scheduling-configs", token=host_token, json=body)
    assert error(reply) == (403, "not_an_admin")
    assert list(db.collection("scheduling_configs").stream()) == []


def test_list_filters_that_are_not_ids_are_400(scheduling_api, host_token, sandbox):
    """Refused before they reach Firestore (``__x__`` is a reserved name there, ``a/b`` a path)."""
    admin = sandbox.mint_id_token(ADMIN.uid, ADMIN.email, claims={"workspace_id": WORKSPACE})
    for token in (host_token, admin):
        for path, field in [
            ("/scheduling-configs?host_uid=__x__", "host_uid"),
            ("/scheduling-configs?host_uid=a%2Fb", "host_uid"),
            ("/booking-links?host_uid=__x__", "host_uid"),
            ("/booking-links?config_id=a%2Fb", "config_id"),
            ("/booking-links?config_id=" + "x" * 129, "config_id"),
        ]:
            reply = scheduling_api.call("GET", path, token=token)
            assert error(reply) == (400, "invalid_field"), (path, reply.json)
            assert field_of(reply) == field


def test_unknown_and_foreign_configurations_and_links_are_404(scheduling_api, host_token, sandbox, config, link):
    stranger = sandbox.mint_id_token(STRANGER.uid, STRANGER.email, claims={"workspace_id": STRANGER.workspace_id})
    for token, config_id in [(host_token, "cfg-missing"), (stranger, config["id"])]:
        for method, path, body in [
            ("GET", f"/scheduling-configs/{config_id}", None),
            ("PATCH", f"/scheduling-configs/{config_id}", {"name": "Taken over"}),
            ("DELETE", f"/scheduling-configs/{config_id}", None),
            ("POST", f"/scheduling-configs/{config_id}/booking-links", {}),
            ("GET", f"/availability?config_id={config_id}", None),
        ]:
            reply = scheduling_api.call(method, path, token=token, json=body)
            assert error(reply) == (404, "config_not_found"), (method, path, reply.json)
    for token, link_id in [(host_token, "lnk-missing"), (stranger, link["id"])]:
        reply = scheduling_api.call("POST", f"/booking-links/{link_id}/revoke", token=token)
        assert error(reply) == (404, "booking_link_not_found")
    # nothing changed for the host
    assert scheduling_api.call("GET", f"/scheduling-configs/{config['id']}", token=host_token).json == config
    listed = scheduling_api.call("GET", "/booking-links", token=host_token).json["booking_links"]
    assert [(each["id"], each["active"]) for each in listed] == [(link["id"], True)]


# --- host routes: bodies and queries --------------------------------------------------------------


@pytest.mark.parametrize(
    ("patch", "status", "code", "field"),
    [
        ({"duration_minutes": "thirty"}, 400, "invalid_field", "duration_minutes"),
        ({"colour": "blue"}, 400, "invalid_field", "colour"),
        ({"id": "cfg-other"}, 422, "read_only_field", "id"),
        ({"host_uid": "uid-ada"}, 422, "read_only_field", "host_uid"),
        ({"name": None}, 422, "missing_field", "name"),
        ({"timezone": "Mars/Olympus"}, 422, "unknown_time_zone", "timezone"),
        ({"calendar_ids": ["someone-else@example.com"]}, 422, "unknown_calendar", "calendar_ids[0]"),
    ],
)
def test_a_refused_patch_names_its_field_and_changes_nothing(scheduling_api, host_token, config, patch, status, code, field):
    reply = scheduling_api.call("PATCH", f"/scheduling-configs/{config['id']}", token=host_token, json=patch)
    assert error(reply) == (status, code), reply.json
    assert field_of(reply) == field
    assert scheduling_api.call("GET", f"/scheduling-configs/{config['id']}", token=host_token).json == config


def test_a_refused_booking_link_names_its_field_and_makes_no_link(scheduling_api, host_token, config, clock):
    path = f"/scheduling-configs/{config['id']}/booking-links"
    for body, status, code, field in [
        ({"single_use": "yes"}, 400, "invalid_field", "single_use"),
        ({"colour": "blue"}, 400, "invalid_field", "colour"),
        ({"label": 7}, 400, "invalid_field", "label"),
        ({"expires_at": utc(clock.now() - timedelta(minutes=1))}, 422, "expires_in_past", "expires_at"),
        ({"expires_at": "next week"}, 422, "invalid_timestamp", "expires_at"),
        ({"label": "x" * 101}, 422, "field_too_long", "label"),
        ({"label": "careers\npage"}, 422, "invalid_field", "label"),
    ]:
        reply = scheduling_api.call("POST", path, token=host_token, json=body)
        assert error(reply) == (status, code), (body, reply.json)
        assert field_of(reply) == field
    assert scheduling_api.call("GET", "/booking-links", token=host_token).json["booking_links"] == []


def test_availability_refuses_a_bad_query_before_asking_google(scheduling_api, host_token, sandbox, config, day):
    cfg, d = config["id"], day.isoformat()
    before = len(sandbox.calls(FREEBUSY))
    for query, status, code, field in [
        ("", 422, "missing_field", "config_id"),
        ("config_id=__x__", 400, "invalid_field", "config_id"),
        (f"config_id={cfg}&colour=blue", 400, "invalid_field", "colour"),
        (f"config_id={cfg}&date=2026-W01-1", 400, "invalid_field", "date"),
        (f"config_id={cfg}&date=20260601", 400, "invalid_field", "date"),
        (f"config_id={cfg}&date=2026-02-30", 400, "invalid_field", "date"),
        (f"config_id={cfg}&from=2026-W01-1", 400, "invalid_field", "from"),
        (f"config_id={cfg}&date={d}&from={d}", 400, "invalid_field", "date"),
        (f"config_id={cfg}&duration_minutes=abc", 400, "invalid_field", "duration_minutes"),
        (f"config_id={cfg}&timezone={'A' * 65}", 400, "invalid_field", "timezone"),
        (f"config_id={cfg}&duration_minutes=5", 422, "duration_out_of_range", "duration_minutes"),
        (f"config_id={cfg}&timezone=Mars/Olympus", 422, "unknown_time_zone", "timezone"),
        (f"config_id={cfg}&from={d}&to={(day - timedelta(days=1)).isoformat()}", 422, "invalid_range", "to"),
        (f"config_id={cfg}&from={d}&to={(day + timedelta(days=16)).isoformat()}", 422, "range_too_long", "to"),
    ]:
        reply = scheduling_api.call("GET", f"/availability?{query}", token=host_token)
        assert error(reply) == (status, code), (query, reply.json)
        assert field_of(reply) == field, (query, reply.json)
    assert len(sandbox.calls(FREEBUSY)) == before


@pytest.mark.parametrize(
    "window", ["date=0001-01-01", "date=9999-12-31", "from=0001-01-01&to=0001-01-03", "from=9999-12-29&to=9999-12-31"]
)
def test_dates_outside_notice_and_horizon_offer_nothing(
    scheduling_api, host_token, sandbox, config, link, booked, container, window
):
    """Allowed and simply empty (no 500 at the ends of the calendar), and nothing to ask Google."""
    manage = manage_token(container, booked)
    before = len(sandbox.calls(FREEBUSY))
    for path, token in [
        (f"/availability?config_id={config['id']}&{window}", host_token),
        (f"/links/{link['id']}?{window}", None),
        (f"/guest/booking/slots?{window}", manage),
    ]:
        reply = scheduling_api.call("GET", path, token=token)
        assert reply.status == 200, (path, reply.json)
        assert reply.json["available_slots"] == []
    assert len(sandbox.calls(FREEBUSY)) == before


# --- Google failing ---------------------------------------------------------------------------------


@pytest.mark.parametrize("status", [503, 400])
def test_google_down_or_refusing_while_reading_free_busy(
    scheduling_api, host_token, sandbox, settings, container, db, link, booked, day, status
):
    """Google unreachable after every retry: 503 with Retry-After; Google refusing the query: 502
    ``google_error``. On every route that reads the host's free/busy, and nothing is written."""
    manage = manage_token(container, booked)
    other = booked.slots[1]
    config_id = link["config_id"]
    d = day.isoformat()
    calls: list[tuple[str, str, Any, str | None]] = [
        ("GET", f"/availability?config_id={config_id}&date={d}", None, host_token),
        ("GET", f"/links/{link['id']}?date={d}", None, None),
        ("POST", f"/links/{link['id']}/bookings", {"start": other, **guest()}, None),
        ("GET", f"/guest/booking/slots?date={d}", None, manage),
        ("POST", "/guest/booking/reschedule", {"start": other}, manage),
    ]
    for method, path, body, token in calls:
        google_faults(sandbox, f"^{FREEBUSY}$", status, settings)
        reply = scheduling_api.call(method, path, token=token, json=body)
        if status == 503:
            assert_unavailable(reply)
        else:
            assert_google_error(reply)
    sandbox.sandbox.faults.clear()
    assert interview_ids(db) == [booked.interview_id]
    interview = container.interviews.get(booked.interview_id)
    assert interview.start == booked.start and interview.status is InterviewStatus.CONFIRMED


# --- the booking link (public) -------------------------------------------------------------------


def test_the_link_view_checks_its_query_first(scheduling_api, link, sandbox, day):
    before = len(sandbox.calls(FREEBUSY))
    d = day.isoformat()
    for link_id in (link["id"], "no-such-link"):
        for query, status, code, field in [
            ("date=2026-W01-1", 400, "invalid_field", "date"),
            ("date=2026-13-45", 400, "invalid_field", "date"),
            ("to=31.12.2026", 400, "invalid_field", "to"),
            ("colour=blue", 400, "invalid_field", "colour"),
            ("config_id=cfg-1", 400, "invalid_field", "config_id"),  # a host's parameter, not a guest's
            ("timezone=Mars/Olympus", 422, "unknown_time_zone", "timezone"),
            (f"from={d}&to={(day - timedelta(days=1)).isoformat()}", 422, "invalid_range", "to"),
            (f"from={d}&to={(day + timedelta(days=60)).isoformat()}", 422, "range_too_long", "to"),
        ]:
            if link_id == "no-such-link" and code == "range_too_long":
                continue  # the range's length is the configuration's: an unknown link has none
            reply = scheduling_api.call("GET", f"/links/{link_id}?{query}")
            assert error(reply) == (status, code), (link_id, query, reply.json)
            assert field_of(reply) == field
    assert error(scheduling_api.call("GET", f"/links/no-such-link?date={d}")) == (404, "booking_link_not_found")
    assert len(sandbox.calls(FREEBUSY)) == before


def test_booking_an_unknown_link_is_404_and_books_nothing(scheduling_api, host_token, link, day, db):
    slot = starts(scheduling_api.call("GET", f"/links/{link['id']}?date={day.isoformat()}"))[0]
    reply = scheduling_api.call("POST", "/links/no-such-link/bookings", json={"start": slot, **guest()})
    assert error(reply) == (404, "booking_link_not_found")
    assert interview_ids(db) == []


@pytest.mark.parametrize("fate", ["used up", "revoked", "expired"])
def test_a_retried_booking_replays_its_first_answer_whatever_became_of_the_link(
    scheduling_api, host_token, google_email, sandbox, config, clock, day, db, fate
):
    """The retry of a booking that went through (its answer lost on the way) is the same booking
    again, even though the link would now refuse a new one (410)."""
    body: dict[str, Any] = {"single_use": True} if fate == "used up" else {}
    if fate == "expired":
        body["expires_at"] = utc(clock.now() + timedelta(hours=1))
    link = new_link(scheduling_api, host_token, config["id"], **body)
    slots = starts(scheduling_api.call("GET", f"/links/{link['id']}?date={day.isoformat()}"))
    booking = {"start": slots[0], **guest()}
    key = {"Idempotency-Key": f"k-{uuid.uuid4().hex}"}
    first = scheduling_api.call("POST", f"/links/{link['id']}/bookings", json=booking, headers=key)
    assert first.status == 201, first.json
    events = len(events_of(sandbox, google_email))

    if fate == "revoked":
        assert scheduling_api.call("POST", f"/booking-links/{link['id']}/revoke", token=host_token).status == 200
    elif fate == "expired":
        clock.advance(timedelta(hours=2))
    code = {"used up": "booking_link_used", "revoked": "booking_link_revoked", "expired": "booking_link_expired"}[fate]
    assert error(scheduling_api.call("GET", f"/links/{link['id']}")) == (410, code)

    again = scheduling_api.call("POST", f"/links/{link['id']}/bookings", json=booking, headers=key)
    assert again.status == 201, again.json
    assert again.json == first.json
    assert len(interview_ids(db)) == 1 and len(events_of(sandbox, google_email)) == events
    # a new booking (another key) is refused as the link says
    other = scheduling_api.call(
        "POST", f"/links/{link['id']}/bookings", json={"start": slots[1], **guest()}, headers={"Idempotency-Key": "k-other"}
    )
    assert error(other) == (410, code)
    assert len(interview_ids(db)) == 1


# --- a host whose Google connection broke ---------------------------------------------------------


def test_a_revoked_google_grant_makes_the_host_not_bookable_for_guests(
    scheduling_api, host_token, google_email, sandbox, container, config, link, booked, day, db
):
    moved_to = booked.slots[1]
    manage = manage_token(container, booked)
    d = day.isoformat()
    guest_calls = [
        ("GET", f"/links/{link['id']}?date={d}", None, None),
        ("POST", f"/links/{link['id']}/bookings", {"start": moved_to, **guest()}, None),
        ("GET", f"/guest/booking/slots?date={d}", None, manage),
        ("POST", "/guest/booking/reschedule", {"start": moved_to}, manage),
    ]

    # 1. The host removes Convene's access on its Google Account page; an access token is still cached.
    sandbox.revoke_google_grants(google_email)
    for method, path, body, token in guest_calls:
        assert_not_bookable(scheduling_api.call(method, path, token=token, json=body))

    # 2. Once Convene has recorded it (the connection needs the host's consent), the same.
    container.google_credentials.forget(HOST.uid)
    host_view = scheduling_api.call("GET", f"/availability?config_id={config['id']}&date={d}", token=host_token)
    assert error(host_view) == (409, "needs_google_auth")  # the host is told to reconnect…
    for method, path, body, token in guest_calls:
        assert_not_bookable(scheduling_api.call(method, path, token=token, json=body))  # …guests are not

    interview = container.interviews.get(booked.interview_id)
    assert interview.start == booked.start and interview.status is InterviewStatus.CONFIRMED
    assert interview_ids(db) == [booked.interview_id]


@pytest.mark.parametrize("recorded", [False, True], ids=["token cached", "connection marked"])
def test_a_guest_still_cancels_when_the_host_grant_was_revoked(
    scheduling_api, host_token, google_email, sandbox, container, config, booked, day, recorded
):
    """The Calendar event cannot be cancelled; the booking is, and the cancellation emails tell the host."""
    sandbox.revoke_google_grants(google_email)
    if recorded:
        container.google_credentials.forget(HOST.uid)
        query = f"config_id={config['id']}&date={day.isoformat()}"
        assert error(scheduling_api.call("GET", f"/availability?{query}", token=host_token)) == (409, "needs_google_auth")
    manage = manage_token(container, booked)
    cancelled = scheduling_api.call("POST", "/guest/booking/cancel", token=manage, json={"reason": "Sorry"})
    assert cancelled.status == 200 and cancelled.json["status"] == "cancelled", cancelled.json
    assert container.interviews.get(booked.interview_id).status is InterviewStatus.CANCELLED


def invalid_grant_on_next(sandbox, path: str, method: str) -> None:
    """The next ``method path`` finds the cached access token refused (401), and the refresh the
    grant revoked (invalid_grant): the connection breaks between the free/busy read and the write."""
    sandbox.inject(path, [{"status": 401}], method=method)
    sandbox.inject(
        "^/token$",
        [{"status": 400, "body": {"error": "invalid_grant", "error_description": "Token has been expired or revoked."}}],
        method="POST",
    )


def test_a_grant_revoked_in_the_middle_of_a_booking_is_host_not_bookable(scheduling_api, link, sandbox, day):
    slots = starts(scheduling_api.call("GET", f"/links/{link['id']}?date={day.isoformat()}"))  # caches an access token
    invalid_grant_on_next(sandbox, EVENTS, "POST")
    reply = scheduling_api.call("POST", f"/links/{link['id']}/bookings", json={"start": slots[0], **guest()})
    assert_not_bookable(reply)


def test_a_grant_revoked_in_the_middle_of_a_guest_reschedule_is_host_not_bookable(
    scheduling_api, sandbox, container, booked, day
):
    manage = manage_token(container, booked)
    invalid_grant_on_next(sandbox, EVENTS.replace("$", "/[^/]+$"), "PATCH")
    reply = scheduling_api.call("POST", "/guest/booking/reschedule", token=manage, json={"start": booked.slots[2]})
    assert_not_bookable(reply)


# --- the guest's manage link ------------------------------------------------------------------------

GUEST_ROUTES = [
    ("GET", "/guest/booking"),
    ("GET", "/guest/booking/slots"),
    ("POST", "/guest/booking/cancel"),
    ("POST", "/guest/booking/reschedule"),
]


@pytest.mark.parametrize(("method", "path"), GUEST_ROUTES, ids=[f"{m} {p}" for m, p in GUEST_ROUTES])
def test_guest_routes_need_a_valid_manage_link_before_anything_else(
    scheduling_api, container, host_token, booked, clock, method, path
):
    iid = booked.interview_id
    manage = manage_token(container, booked)
    tampered = manage[:-4] + ("AAAA" if not manage.endswith("AAAA") else "BBBB")
    for token, code in [
        (None, "missing_credentials"),
        (sign(container, iid, JOIN, booked.end), "invalid_guest_link"),
        (sign(container, iid, CONFIRM, booked.start), "invalid_guest_link"),
        (sign(container, iid, DECLINE, booked.start), "invalid_guest_link"),
        (sign(container, iid, MANAGE, clock.now() - timedelta(seconds=1)), "guest_link_expired"),
        (tampered, "invalid_guest_link"),
        (host_token, "invalid_guest_link"),  # a host's Firebase sign-in is no manage link
    ]:
        reply = scheduling_api.call(method, path, token=token, json={"start": booked.slots[1]} if method == "POST" else None)
        assert error(reply) == (401, code), (token and token[:12], reply.json)
        if method == "POST":  # the link is judged before the body: a bad body changes nothing
            for body, content_type in [
                (b"{", "application/json"),
                (b"<x/>", "text/xml"),
                (b"{}" + b" " * 70_000, "application/json"),
            ]:
                bad = raw_call(scheduling_api, method, path, body=body, content_type=content_type, token=token)
                assert error(bad) == (401, code), (token and token[:12], body[:8], bad.json)
    interview = container.interviews.get(iid)
    assert interview.status is InterviewStatus.CONFIRMED and interview.start == booked.start


def test_a_manage_link_of_an_interview_that_is_gone_is_404(scheduling_api, container, booked, day):
    for token in (
        sign(container, "iv-gone", MANAGE, booked.end),
        container.guest_links.sign(
            interview_id=booked.interview_id, workspace_id=OTHER_WORKSPACE, expires_at=booked.end, purpose=MANAGE
        ),
    ):
        for method, path, body in [
            ("GET", "/guest/booking", None),
            ("GET", f"/guest/booking/slots?date={day.isoformat()}", None),
            ("POST", "/guest/booking/cancel", {}),
            ("POST", "/guest/booking/reschedule", {"start": booked.slots[1]}),
        ]:
            reply = scheduling_api.call(method, path, token=token, json=body)
            assert error(reply) == (404, "interview_not_found"), (method, path, reply.json)
    assert container.interviews.get(booked.interview_id).status is InterviewStatus.CONFIRMED


def test_a_guest_request_with_bad_input_is_refused_and_changes_nothing(scheduling_api, container, booked):
    manage = manage_token(container, booked)
    for method, path, body, headers, status, code, field in [
        ("GET", "/guest/booking/slots?date=2026-W01-1", None, None, 400, "invalid_field", "date"),
        ("GET", "/guest/booking/slots?colour=blue", None, None, 400, "invalid_field", "colour"),
        ("GET", "/guest/booking/slots?timezone=Mars/Olympus", None, None, 422, "unknown_time_zone", "timezone"),
        ("POST", "/guest/booking/cancel", {"colour": "blue"}, None, 400, "invalid_field", "colour"),
        ("POST", "/guest/booking/cancel", {"reason": 7}, None, 400, "invalid_field", "reason"),
        ("POST", "/guest/booking/cancel", {"reason": "x" * 501}, None, 422, "field_too_long", "reason"),
        ("POST", "/guest/booking/cancel", {"reason": "bell\x07"}, None, 422, "invalid_field", "reason"),
        ("POST", "/guest/booking/cancel", {}, {"Idempotency-Key": " "}, 400, "invalid_idempotency_key", None),
        ("POST", "/guest/booking/reschedule", {}, None, 422, "missing_field", "start"),
        ("POST", "/guest/booking/reschedule", {"start": "tomorrow at ten"}, None, 422, "invalid_timestamp", "start"),
        ("POST", "/guest/booking/reschedule", {"start": booked.slots[1], "colour": 1}, None, 400, "invalid_field", "colour"),
        ("POST", "/guest/booking/reschedule", {"start": booked.slots[1], "timezone": 5}, None, 400, "invalid_field", "timezone"),
        ("POST", "/guest/booking/reschedule", {"start": booked.slots[1], "timezone": "Mars/Olympus"}, None, 422,
         "unknown_time_zone", "timezone"),
    ]:  # fmt: skip
        reply = scheduling_api.call(method, path, token=manage, json=body, headers=headers)
        assert error(reply) == (status, code), (path, body, reply.json)
        assert field_of(reply) == field, (path, body, reply.json)
    interview = container.interviews.get(booked.interview_id)
    assert interview.status is InterviewStatus.CONFIRMED and interview.start == booked.start


def test_moving_to_a_time_not_offered_is_409_with_the_fresh_slots(scheduling_api, container, booked, day):
    manage = manage_token(container, booked)
    for start in (utc(berlin(day, "09:10")), utc(berlin(day, "12:00")), utc(berlin(day + timedelta(days=30), "10:00"))):
        reply = scheduling_api.call("POST", "/guest/booking/reschedule", token=manage, json={"start": start})
        assert error(reply) == (409, "slot_unavailable"), reply.json
        assert reply.json["error"]["details"]["field"] == "start"
    fresh = scheduling_api.call(
        "POST", "/guest/booking/reschedule", token=manage, json={"start": utc(berlin(day, "09:10")), "timezone": "Asia/Tokyo"}
    )
    assert fresh.json["error"]["details"]["timezone"] == "Asia/Tokyo"
    assert utc(booked.start) in [s["start"] for s in fresh.json["error"]["details"]["available_slots"]]  # its own time is free
    assert container.interviews.get(booked.interview_id).start == booked.start


def test_what_a_manage_link_may_not_do_is_422(scheduling_api, host_token, interviews_api, container, clock, config, booked, day):
    # A host's own booking (not made through a link), in a workspace that does not let guests cancel.
    created = interviews_api.post(
        "/interviews",
        token=host_token,
        json={
            "candidate": {"email": "gus@candidates.example", "name": "Gus Guest"},
            "job_title": "Backend Engineer",
            "date": (day + timedelta(days=1)).isoformat(),
            "time": "10:00",
            "timezone": "Europe/Berlin",
            "interview_type": "google_meet",
            "duration_minutes": 30,
        },
    )
    assert created.status == 201, created.json
    own = container.interviews.get(created.json["interview_id"])
    manage_own = sign(container, own.id, MANAGE, own.end)
    d = day.isoformat()
    for method, path, body, code in [
        ("POST", "/guest/booking/cancel", {}, "cancel_not_allowed"),
        ("POST", "/guest/booking/reschedule", {"start": booked.slots[1]}, "reschedule_not_allowed"),
        ("GET", f"/guest/booking/slots?date={d}", None, "reschedule_not_allowed"),
    ]:
        assert error(scheduling_api.call(method, path, token=manage_own, json=body)) == (422, code)
    assert container.interviews.get(own.id).status is InterviewStatus.CONFIRMED

    # A booking whose configuration was deleted: it can no longer be moved (it can still be cancelled).
    manage = manage_token(container, booked)
    assert scheduling_api.call("DELETE", f"/scheduling-configs/{config['id']}", token=host_token).status == 200
    for method, path, body in [
        ("GET", f"/guest/booking/slots?date={d}", None),
        ("POST", "/guest/booking/reschedule", {"start": booked.slots[1]}),
    ]:
        assert error(scheduling_api.call(method, path, token=manage, json=body)) == (422, "reschedule_not_allowed")
    assert scheduling_api.call("GET", "/guest/booking", token=manage).json["can_reschedule"] is False

    # Once it has started (the link lasts until its end): neither cancelled nor moved.
    clock.advance(booked.start - clock.now() + timedelta(minutes=1))
    assert error(scheduling_api.call("POST", "/guest/booking/cancel", token=manage, json={})) == (422, "cancel_not_allowed")
    assert container.interviews.get(booked.interview_id).status is InterviewStatus.CONFIRMED


class Pause:
    """The first call of ``target.name`` waits until released: a request caught in the middle."""

    def __init__(self, monkeypatch, target: Any, name: str):
        self.reached, self.release = threading.Event(), threading.Event()
        original, calls = getattr(target, name), []

        def paused(*args: Any, **kwargs: Any) -> Any:
            calls.append(name)
            if len(calls) == 1:
                self.reached.set()
                self.release.wait(60)
            return original(*args, **kwargs)

        monkeypatch.setattr(target, name, paused)


def test_a_cancel_retried_while_the_first_still_runs_is_409(scheduling_api, container, booked, monkeypatch):
    """Same Idempotency-Key while the first attempt holds its lease (here: paused before its
    transaction): 409 ``idempotency_in_progress`` with Retry-After; once it has finished, the
    retry gets the cancelled booking."""
    stall = Pause(monkeypatch, container.bookings, "change")
    manage = manage_token(container, booked)
    headers = {"Idempotency-Key": f"k-{uuid.uuid4().hex}"}
    body = {"reason": "Found another job"}
    thread, first = in_background(
        lambda: scheduling_api.call("POST", "/guest/booking/cancel", token=manage, json=body, headers=headers)
    )
    try:
        assert stall.reached.wait(20)
        busy = scheduling_api.call("POST", "/guest/booking/cancel", token=manage, json=body, headers=headers)
        assert error(busy) == (409, "idempotency_in_progress"), busy.json
        assert 1 <= int(busy.headers["Retry-After"]) <= 60
    finally:
        stall.release.set()
        thread.join(30)
    assert first[0].status == 200 and first[0].json["status"] == "cancelled", first[0].json
    again = scheduling_api.call("POST", "/guest/booking/cancel", token=manage, json=body, headers=headers)
    assert again.status == 200 and again.json["status"] == "cancelled"


# --- the host's confirm / decline links ----------------------------------------------------------------

RESPOND_ROUTES = [("GET", "/respond/request"), ("POST", "/respond/confirm"), ("POST", "/respond/decline")]


@pytest.mark.parametrize(("method", "path"), RESPOND_ROUTES, ids=[f"{m} {p}" for m, p in RESPOND_ROUTES])
def test_respond_routes_need_a_valid_link_of_their_purpose_before_anything_else(
    scheduling_api, container, request_link, day, clock, method, path
):
    pending = book(scheduling_api, request_link["id"], day)
    iid = pending.interview_id
    wrong = {"/respond/confirm": DECLINE, "/respond/decline": CONFIRM}.get(path)
    tokens = [
        (None, "missing_credentials"),
        (sign(container, iid, MANAGE, pending.end), "invalid_guest_link"),
        (sign(container, iid, JOIN, pending.end), "invalid_guest_link"),
        (
            sign(container, iid, DECLINE if path == "/respond/decline" else CONFIRM, clock.now() - timedelta(seconds=1)),
            "guest_link_expired",
        ),
        ("cvg1.e30.AAAA", "invalid_guest_link"),
    ]
    if wrong:
        tokens.append((respond_token(container, pending, wrong), "invalid_guest_link"))
    for token, code in tokens:
        reply = scheduling_api.call(method, path, token=token, json={} if method == "POST" else None)
        assert error(reply) == (401, code), (token and token[:12], reply.json)
        if method == "POST":
            for body, content_type in [(b'{"a": NaN}', "application/json"), (b"x=1", "application/x-www-form-urlencoded")]:
                bad = raw_call(scheduling_api, method, path, body=body, content_type=content_type, token=token)
                assert error(bad) == (401, code), (token and token[:12], bad.json)
    assert container.interviews.get(iid).status is InterviewStatus.PENDING


def test_a_respond_link_of_an_interview_that_is_gone_is_404(scheduling_api, container, clock):
    later = clock.now() + timedelta(days=2)
    for method, path, purpose in [
        ("GET", "/respond/request", CONFIRM),
        ("GET", "/respond/request", DECLINE),
        ("POST", "/respond/confirm", CONFIRM),
        ("POST", "/respond/decline", DECLINE),
    ]:
        token = sign(container, "iv-gone", purpose, later, version=0)
        reply = scheduling_api.call(method, path, token=token, json={} if method == "POST" else None)
        assert error(reply) == (404, "interview_not_found"), (path, reply.json)


def test_an_answer_with_bad_input_is_refused_and_the_request_stays_pending(scheduling_api, container, request_link, day):
    pending = book(scheduling_api, request_link["id"], day)
    confirm, decline = respond_token(container, pending, CONFIRM), respond_token(container, pending, DECLINE)
    for path, token, body, status, code, field in [
        ("/respond/confirm", confirm, {"reason": "ok"}, 400, "invalid_field", "reason"),  # a confirmation takes no fields
        ("/respond/decline", decline, {"colour": "blue"}, 400, "invalid_field", "colour"),
        ("/respond/decline", decline, {"reason": ["busy"]}, 400, "invalid_field", "reason"),
        ("/respond/decline", decline, {"reason": "x" * 501}, 422, "field_too_long", "reason"),
        ("/respond/decline", decline, {"reason": "null\x00byte"}, 422, "invalid_field", "reason"),
    ]:
        reply = scheduling_api.call("POST", path, token=token, json=body)
        assert error(reply) == (status, code), (path, body, reply.json)
        assert field_of(reply) == field
    assert container.interviews.get(pending.interview_id).status is InterviewStatus.PENDING


def test_a_request_answered_the_other_way_is_409_already_answered(scheduling_api, container, request_link, day):
    """The host's email carries both links: the one not pressed answers 409 afterwards."""
    declined = book(scheduling_api, request_link["id"], day, index=0)
    confirmed = book(scheduling_api, request_link["id"], day, index=2)
    links = {b.interview_id: {p: respond_token(container, b, p) for p in (CONFIRM, DECLINE)} for b in (declined, confirmed)}
    assert scheduling_api.call("POST", "/respond/decline", token=links[declined.interview_id][DECLINE], json={}).status == 200
    assert scheduling_api.call("POST", "/respond/confirm", token=links[confirmed.interview_id][CONFIRM], json={}).status == 200

    late_confirm = scheduling_api.call("POST", "/respond/confirm", token=links[declined.interview_id][CONFIRM], json={})
    assert error(late_confirm) == (409, "already_answered")
    assert late_confirm.json["error"]["details"]["status"] == "cancelled"
    late_decline = scheduling_api.call("POST", "/respond/decline", token=links[confirmed.interview_id][DECLINE], json={})
    assert error(late_decline) == (409, "already_answered")
    assert late_decline.json["error"]["details"]["status"] == "confirmed"
    assert container.interviews.get(declined.interview_id).status is InterviewStatus.CANCELLED
    assert container.interviews.get(confirmed.interview_id).status is InterviewStatus.CONFIRMED


def test_a_request_the_guest_moved_since_is_not_answered_from_the_old_email(scheduling_api, container, request_link, day):
    pending = book(scheduling_api, request_link["id"], day)
    old_confirm = respond_token(container, pending, CONFIRM)
    moved = scheduling_api.call(
        "POST", "/guest/booking/reschedule", token=manage_token(container, pending), json={"start": pending.slots[3]}
    )
    assert moved.status == 200 and moved.json["status"] == "pending", moved.json
    assert scheduling_api.call("GET", "/respond/request", token=old_confirm).json["answerable"] is False
    assert error(scheduling_api.call("POST", "/respond/confirm", token=old_confirm, json={})) == (409, "request_changed")
    assert container.interviews.get(pending.interview_id).status is InterviewStatus.PENDING
    new_confirm = respond_token(container, pending, CONFIRM)  # the new booking_request email's
    assert scheduling_api.call("POST", "/respond/confirm", token=new_confirm, json={}).json["status"] == "confirmed"


def test_a_host_who_left_the_workspace_cannot_answer_403(scheduling_api, container, request_link, day, db):
    pending = book(scheduling_api, request_link["id"], day)
    confirm, decline = respond_token(container, pending, CONFIRM), respond_token(container, pending, DECLINE)
    db.collection("users").document(HOST.uid).delete()
    for path, token in (("/respond/confirm", confirm), ("/respond/decline", decline)):
        assert error(scheduling_api.call("POST", path, token=token, json={})) == (403, "not_a_member")
    assert container.interviews.get(pending.interview_id).status is InterviewStatus.PENDING


def test_confirming_when_google_needs_consent_or_fails(
    scheduling_api, host_token, google_email, sandbox, settings, container, request_link, day
):
    requests = [book(scheduling_api, request_link["id"], day, index=2 * i) for i in range(3)]
    unavailable, refused, consent = requests

    google_faults(sandbox, EVENTS, 503, settings, method="POST")
    assert_unavailable(
        scheduling_api.call("POST", "/respond/confirm", token=respond_token(container, unavailable, CONFIRM), json={})
    )

    google_faults(sandbox, EVENTS, 400, settings, method="POST")
    assert_google_error(
        scheduling_api.call("POST", "/respond/confirm", token=respond_token(container, refused, CONFIRM), json={})
    )
    sandbox.sandbox.faults.clear()

    # The host removed Convene's access and Convene knows it: nothing is written, the host is told to reconnect.
    sandbox.revoke_google_grants(google_email)
    container.google_credentials.forget(HOST.uid)
    reply = scheduling_api.call(
        "GET", f"/availability?config_id={request_link['config_id']}&date={day.isoformat()}", token=host_token
    )
    assert error(reply) == (409, "needs_google_auth")
    answer = scheduling_api.call("POST", "/respond/confirm", token=respond_token(container, consent, CONFIRM), json={})
    assert error(answer) == (409, "needs_google_auth")
    assert answer.json["needs_google_auth"] is True
    assert container.interviews.get(consent.interview_id).status is InterviewStatus.PENDING


def test_a_confirm_that_google_failed_is_finished_by_the_next_click(
    scheduling_api, google_email, sandbox, settings, container, request_link, day
):
    """The host is told 503 (retry): clicking again once Google is back must leave a confirmed
    interview WITH its Calendar event, not a "confirmed" one nobody was invited to."""
    pending = book(scheduling_api, request_link["id"], day)
    confirm = respond_token(container, pending, CONFIRM)
    google_faults(sandbox, EVENTS, 503, settings, method="POST")
    assert_unavailable(scheduling_api.call("POST", "/respond/confirm", token=confirm, json={}))
    sandbox.sandbox.faults.clear()

    again = scheduling_api.call("POST", "/respond/confirm", token=confirm, json={})
    assert again.status == 200 and again.json["status"] == "confirmed", again.json
    interview = container.interviews.get(pending.interview_id)
    assert interview.status is InterviewStatus.CONFIRMED and interview.calendar_event_id, interview
    assert [e["id"] for e in events_of(sandbox, google_email) if e.get("status") != "cancelled"] == [interview.calendar_event_id]


def test_confirming_a_request_whose_start_has_passed_is_422(scheduling_api, container, request_link, day, clock):
    """The emailed link expires at the start (401 ``guest_link_expired`` after it): a click right at
    the start, verified a moment before it and confirmed a moment after, is 422 ``start_in_past``.
    Played here with a link valid a little beyond the start."""
    pending = book(scheduling_api, request_link["id"], day)
    interview = container.interviews.get(pending.interview_id)
    token = sign(
        container, pending.interview_id, CONFIRM, interview.start + timedelta(minutes=5), version=interview.ical_sequence
    )
    clock.advance(interview.start - clock.now() + timedelta(seconds=1))
    reply = scheduling_api.call("POST", "/respond/confirm", token=token, json={})
    assert error(reply) == (422, "start_in_past"), reply.json
    assert container.interviews.get(pending.interview_id).status is InterviewStatus.PENDING
