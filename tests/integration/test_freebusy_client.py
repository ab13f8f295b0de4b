"""CalendarApi.free_busy against the sandbox: one freebusy.query for every calendar, busy
periods as aware UTC, per-calendar errors kept, Google's failures mapped as for the other
calls, and the query's limits kept before anything is sent."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from devstack.stack import OAUTH_CLIENT_ID
from shared.bootstrap import Container
from shared.domain.connections import (
    CALENDAR_EVENTS,
    CALENDAR_FREEBUSY,
    CALENDAR_LIST,
    EMAIL,
    GOOGLE,
    OPENID,
    Connection,
    ConnectionStatus,
    GoogleAuthRequired,
    refresh_token_context,
)
from shared.errors import Unavailable, UpstreamError
from shared.google.calendar import FREEBUSY_MAX_RANGE, FreeBusy

SCOPES = [OPENID, EMAIL, CALENDAR_EVENTS, CALENDAR_FREEBUSY, CALENDAR_LIST]
FREEBUSY_PATH = "/calendar/v3/freeBusy"
DAY_START = datetime(2030, 3, 4, tzinfo=UTC)
DAY_END = DAY_START + timedelta(days=1)
BERLIN = ZoneInfo("Europe/Berlin")


class Host:
    def __init__(self, container: Container, connection: Connection, email: str):
        self.container, self.connection, self.email = container, connection, email
        self.team = f"team-{email.split('@')[0]}@group.calendar.google.com"

    def credentials(self):
        return self.container.google_credentials.for_connection(self.connection)

    def free_busy(self, calendar_ids, time_min=DAY_START, time_max=DAY_END) -> FreeBusy:
        return self.container.calendar_api.free_busy(self.credentials(), calendar_ids, time_min, time_max)


@pytest.fixture
def host(sandbox, settings, db, clock) -> Host:
    """A host with a stored Google connection, a primary calendar and a team calendar (Berlin)."""
    container = Container(settings, clock=clock, firestore_client=db)
    email = f"fb-{uuid.uuid4().hex[:8]}@gmail.example"
    sandbox.add_google_account(email, "Freda Busy")
    tokens = sandbox.sandbox.oauth.issue_tokens(OAUTH_CLIENT_ID, email, SCOPES)
    uid = f"uid-{uuid.uuid4().hex[:8]}"
    connection = Connection(
        uid=uid,
        workspace_id="ws",
        provider=GOOGLE,
        status=ConnectionStatus.CONNECTED,
        account_email=email,
        scopes=tuple(SCOPES),
        refresh_token=container.token_cipher.seal(tokens["refresh_token"], context=refresh_token_context(uid, GOOGLE)),
    )
    container.connections.save(connection)
    found = Host(container, connection, email)
    sandbox.add_calendar(email, found.team, "Team", time_zone="Europe/Berlin")
    yield found
    sandbox.sandbox.faults.clear()


def queries(sandbox, email: str) -> list[dict]:
    """The freebusy.query calls that asked about a calendar of `email`'s (its ids carry the local part)."""
    marker = email.split("@")[0]
    return [c for c in sandbox.calls(FREEBUSY_PATH) if marker in str((c.get("body") or {}).get("items"))]


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text).astimezone(UTC)


def test_busy_periods_of_several_calendars_come_from_one_query(host, sandbox):
    sandbox.add_busy_event(host.email, "2030-03-04T09:00:00Z", "2030-03-04T10:00:00Z")
    sandbox.add_busy_event(host.email, "2030-03-04T12:00:00Z", "2030-03-04T13:00:00Z", transparency="transparent")
    sandbox.add_busy_event(host.email, "2030-03-04T23:00:00Z", "2030-03-05T01:00:00Z")  # clipped to the window
    sandbox.add_busy_event(host.team, "2030-03-04T10:30:00+01:00", "2030-03-04T12:00:00+01:00")  # 09:30Z: overlaps
    sandbox.add_busy_event(host.team, "2030-03-04T15:00:00+01:00", "2030-03-04T16:00:00+01:00")
    unknown = f"nobody-{uuid.uuid4().hex[:6]}@example.org"

    answer = host.free_busy([host.email, host.team, unknown, host.team])

    assert answer.busy == (
        (utc("2030-03-04T09:00:00Z"), utc("2030-03-04T11:00:00Z")),  # primary 09-10 and team 09:30-11, merged
        (utc("2030-03-04T14:00:00Z"), utc("2030-03-04T15:00:00Z")),
        (utc("2030-03-04T23:00:00Z"), utc("2030-03-05T00:00:00Z")),
    )
    assert all(moment.tzinfo is UTC for period in answer.busy for moment in period)
    assert dict(answer.errors) == {unknown: "notFound"}  # reported, never read as free
    [call] = queries(sandbox, host.email)
    assert call["status"] == 200
    assert call["body"] == {
        "timeMin": "2030-03-04T00:00:00Z",
        "timeMax": "2030-03-05T00:00:00Z",
        "timeZone": "UTC",
        "items": [{"id": host.email}, {"id": host.team}, {"id": unknown}],  # each calendar once
    }


def test_bounds_in_any_zone_and_all_day_events(host, sandbox):
    sandbox.add_busy_event(host.team, "2030-03-05", "2030-03-06", summary="Offsite")  # Berlin's 5 March

    answer = host.free_busy([host.team], datetime(2030, 3, 5, 8, 0, tzinfo=BERLIN), datetime(2030, 3, 7, 0, 0, tzinfo=BERLIN))

    assert answer.busy == ((utc("2030-03-05T07:00:00Z"), utc("2030-03-05T23:00:00Z")),)
    assert queries(sandbox, host.email)[0]["body"]["timeMin"] == "2030-03-05T07:00:00Z"


def test_a_rate_limit_is_retried(host, sandbox):
    sandbox.add_busy_event(host.email, "2030-03-04T09:00:00Z", "2030-03-04T10:00:00Z")
    sandbox.inject_rate_limit(f"^{FREEBUSY_PATH}$", status=429)

    answer = host.free_busy([host.email])

    assert answer.busy == ((utc("2030-03-04T09:00:00Z"), utc("2030-03-04T10:00:00Z")),)
    assert [c["status"] for c in queries(sandbox, host.email)] == [429, 200]


def test_google_down_after_every_retry_is_unavailable(host, sandbox, settings):
    attempts = settings.google_retries + 1
    sandbox.inject(f"^{FREEBUSY_PATH}$", [{"status": 503}] * attempts)

    with pytest.raises(Unavailable):
        host.free_busy([host.email])

    assert [c["status"] for c in queries(sandbox, host.email)] == [503] * attempts


def test_a_refusal_is_an_upstream_error_without_retries(host, sandbox):
    sandbox.inject(f"^{FREEBUSY_PATH}$", [{"status": 400}])

    with pytest.raises(UpstreamError) as raised:
        host.free_busy([host.email])

    assert raised.value.details == {"google_status": 400}
    assert len(queries(sandbox, host.email)) == 1


def test_a_revoked_grant_needs_reauth(host, sandbox):
    credentials = host.credentials()  # a live access token, cached
    sandbox.revoke_google_grants(host.email)

    with pytest.raises(GoogleAuthRequired) as during_the_call:  # 401, the refresh gets invalid_grant
        host.container.calendar_api.free_busy(credentials, [host.email], DAY_START, DAY_END)
    host.container.google_credentials.forget(host.connection.uid)
    with pytest.raises(GoogleAuthRequired) as before_the_call:  # as for every other Google call
        host.free_busy([host.email])

    assert during_the_call.value.reason == before_the_call.value.reason == "needs_reauth"
    assert [c["status"] for c in queries(sandbox, host.email)] == [401]
    assert host.container.connections.get(host.connection.uid, GOOGLE).status is ConnectionStatus.NEEDS_REAUTH


def test_limits_are_kept_before_anything_is_sent(host, sandbox):
    too_long = DAY_START + FREEBUSY_MAX_RANGE + timedelta(seconds=1)
    with pytest.raises(ValueError, match="90 days"):
        host.free_busy([host.email], DAY_START, too_long)
    with pytest.raises(ValueError, match="50 calendars"):
        host.free_busy([host.email] + [f"c{i}@group.calendar.google.com" for i in range(50)])
    with pytest.raises(ValueError):
        host.free_busy([host.email], DAY_START.replace(tzinfo=None), DAY_END)
    with pytest.raises(ValueError):
        host.free_busy([host.email], DAY_END, DAY_START)
    assert host.free_busy([]) == FreeBusy(busy=())
    assert queries(sandbox, host.email) == []

    # The longest window and the most calendars allowed locally are what Google (the sandbox) accepts.
    fifty = [host.email] + [f"c{i}-{host.email}" for i in range(49)]
    answer = host.free_busy(fifty, DAY_START, DAY_START + FREEBUSY_MAX_RANGE)
    assert answer.busy == () and set(answer.errors) == set(fifty[1:])
    assert set(answer.errors.values()) == {"notFound"}
    assert [c["status"] for c in queries(sandbox, host.email)] == [200]
