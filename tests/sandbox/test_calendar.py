"""The sandbox's Calendar v3 surface, exercised through google-api-python-client as the project uses it."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator
from typing import Any

import httplib2
import pytest
import requests
from google.oauth2.credentials import Credentials
from google_auth_httplib2 import AuthorizedHttp
from googleapiclient.discovery import build
from googleapiclient.errors import HttpError

from devstack.sandbox import SandboxServer

PROJECT = "convene-calendar-test"
CLIENT_ID = "convene-test.apps.googleusercontent.com"
ADA, BOB = "ada@example.com", "bob@example.com"
CALENDAR = "https://www.googleapis.com/auth/calendar"
MEET_READONLY = "https://www.googleapis.com/auth/meetings.space.readonly"
MEET_REQUEST = {"createRequest": {"requestId": "req-1", "conferenceSolutionKey": {"type": "hangoutsMeet"}}}
MEET_URI = re.compile(r"https://meet\.google\.com/([a-z]{3}-[a-z]{4}-[a-z]{3})")


@pytest.fixture(scope="module")
def server() -> Iterator[SandboxServer]:
    with SandboxServer(PROJECT) as running:
        yield running


@pytest.fixture(autouse=True)
def clean(server: SandboxServer) -> None:
    server.reset()
    server.register_oauth_client(CLIENT_ID, "secret", ["http://localhost:5173/oauth/callback"])
    for email in (ADA, BOB):
        server.add_google_account(email)


def _service(server: SandboxServer, email: str = ADA, scopes: tuple[str, ...] = (CALENDAR,)) -> Any:
    token = server.sandbox.oauth.issue_tokens(CLIENT_ID, email, list(scopes))["access_token"]
    return build(
        "calendar",
        "v3",
        credentials=Credentials(token=token),
        static_discovery=True,
        client_options={"api_endpoint": server.url + "/calendar/v3/"},
    )


def _event(event_id: str | None = None, **fields: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "summary": "Interview",
        "start": {"dateTime": "2030-03-04T10:00:00+01:00", "timeZone": "Europe/Paris"},
        "end": {"dateTime": "2030-03-04T11:00:00+01:00", "timeZone": "Europe/Paris"},
        "attendees": [{"email": BOB}],
        **fields,
    }
    if event_id:
        body["id"] = event_id
    return body


def _error(call: Any) -> tuple[int, dict[str, Any]]:
    """The status and first `errors` entry of the HttpError `call.execute()` raises.

    Read from the body: `HttpError.error_details` prefers `details` when Google sends both.
    """
    with pytest.raises(HttpError) as raised:
        call.execute()
    detail: dict[str, Any] = json.loads(raised.value.content)["error"]["errors"][0]
    return raised.value.status_code, detail


# -- calendar list --------------------------------------------------------------------


def test_calendar_list_pages_and_filters(server: SandboxServer) -> None:
    server.add_calendar(ADA, ADA, "Ada Lovelace", time_zone="Europe/London", primary=True)
    server.add_calendar(ADA, "team@group.calendar.google.com", "Team", access_role="writer", background_color="#ff7537")
    server.add_calendar(ADA, "holidays@group.v.calendar.google.com", "Holidays", access_role="reader")
    server.sandbox.calendar.add_calendar(ADA, "old@group.calendar.google.com", "Old", hidden=True)
    service = _service(server)

    first = service.calendarList().list(maxResults=2).execute()
    second = service.calendarList().list(maxResults=2, pageToken=first["nextPageToken"]).execute()

    items = first["items"] + second["items"]
    assert "nextPageToken" not in second
    assert [i["id"] for i in items] == [ADA, "team@group.calendar.google.com", "holidays@group.v.calendar.google.com"]
    primary, team = items[0], items[1]
    assert primary["primary"] is True and primary["accessRole"] == "owner"
    assert (primary["summary"], primary["timeZone"]) == ("Ada Lovelace", "Europe/London")
    assert "primary" not in team and team["backgroundColor"] == "#ff7537" and team["kind"] == "calendar#calendarListEntry"
    assert {"etag", "colorId", "foregroundColor", "selected"} <= set(team)
    writable = service.calendarList().list(minAccessRole="writer").execute()["items"]
    assert [i["id"] for i in writable] == [ADA, "team@group.calendar.google.com"]
    with_hidden = service.calendarList().list(showHidden=True).execute()["items"]
    assert with_hidden[-1]["id"] == "old@group.calendar.google.com" and with_hidden[-1]["hidden"] is True


# -- events and Meet --------------------------------------------------------------------


def test_meet_link_is_pending_on_insert_then_success(server: SandboxServer) -> None:
    service = _service(server)

    inserted = (
        service.events()
        .insert(
            calendarId="primary",
            body=_event("meeting0001", conferenceData=MEET_REQUEST),
            conferenceDataVersion=1,
            sendUpdates="all",
        )
        .execute()
    )
    fetched = service.events().get(calendarId="primary", eventId="meeting0001").execute()

    assert inserted["conferenceData"] == {"createRequest": {**MEET_REQUEST["createRequest"], "status": {"statusCode": "pending"}}}
    assert "hangoutLink" not in inserted
    assert (inserted["kind"], inserted["status"], inserted["sequence"]) == ("calendar#event", "confirmed", 0)
    assert inserted["organizer"] == {"email": ADA, "self": True} and inserted["creator"]["email"] == ADA
    assert inserted["iCalUID"] == "meeting0001@google.com"
    assert inserted["attendees"] == [{"email": BOB, "responseStatus": "needsAction"}]
    conference = fetched["conferenceData"]
    assert conference["createRequest"]["status"] == {"statusCode": "success"}
    match = MEET_URI.fullmatch(fetched["hangoutLink"])
    assert match and conference["conferenceId"] == match.group(1)
    assert conference["entryPoints"] == [
        {"entryPointType": "video", "uri": fetched["hangoutLink"], "label": fetched["hangoutLink"].removeprefix("https://")}
    ]
    assert conference["conferenceSolution"]["key"] == {"type": "hangoutsMeet"}
    assert conference["conferenceSolution"]["name"] == "Google Meet"
    insert_call = server.calls("/calendar/v3/calendars/primary/events")[0]
    assert insert_call["query"]["sendUpdates"] == "all"


def test_pending_reads_and_failed_creation_are_configurable(server: SandboxServer) -> None:
    service = _service(server)
    server.set_meet_pending_reads(1)
    service.events().insert(
        calendarId="primary", body=_event("deferred01", conferenceData=MEET_REQUEST), conferenceDataVersion=1
    ).execute()
    server.set_meet_pending_reads(0)
    server.fail_conference_creation()
    service.events().insert(
        calendarId="primary", body=_event("failed0001", conferenceData=MEET_REQUEST), conferenceDataVersion=1
    ).execute()

    reads = [service.events().get(calendarId="primary", eventId="deferred01").execute() for _ in range(2)]
    failed = service.events().get(calendarId="primary", eventId="failed0001").execute()

    assert [r["conferenceData"]["createRequest"]["status"]["statusCode"] for r in reads] == ["pending", "success"]
    assert "hangoutLink" in reads[1]
    assert failed["conferenceData"]["createRequest"]["status"] == {"statusCode": "failure"}
    assert "entryPoints" not in failed["conferenceData"] and "hangoutLink" not in failed


def test_event_ids_follow_googles_rules(server: SandboxServer) -> None:
    service = _service(server)
    service.events().insert(calendarId="primary", body=_event("booking42")).execute()

    assert _error(service.events().insert(calendarId="primary", body=_event("booking42"))) == (
        409,
        {"domain": "global", "reason": "duplicate", "message": "The requested identifier already exists."},
    )
    for bad in ("Booking42", "booking-42", "bookw", "abc1"):  # upper case, dash, w is not base32hex, too short
        status, detail = _error(service.events().insert(calendarId="primary", body=_event(bad)))
        assert (status, detail["reason"], detail["message"]) == (400, "invalid", "Invalid resource id value."), bad
    generated = service.events().insert(calendarId="primary", body=_event()).execute()["id"]
    assert re.fullmatch(r"[a-v0-9]{26}", generated)


def test_times_are_checked_like_google(server: SandboxServer) -> None:
    events = _service(server).events()
    backwards = _event(end={"dateTime": "2030-03-04T09:00:00+01:00"})
    no_zone = _event(start={"dateTime": "2030-03-04T10:00:00"})
    mixed = _event(start={"date": "2030-03-04"})

    assert _error(events.insert(calendarId="primary", body=backwards)) == (
        400,
        {"domain": "calendar", "reason": "timeRangeEmpty", "message": "The specified time range is empty."},
    )
    assert (
        _error(events.insert(calendarId="primary", body=no_zone))[1]["message"] == "Missing time zone definition for start time."
    )
    assert _error(events.insert(calendarId="primary", body=mixed))[1]["message"] == (
        "Start and end times must either both be date or both be dateTime."
    )
    all_day = events.insert(calendarId="primary", body=_event(start={"date": "2030-03-04"}, end={"date": "2030-03-05"})).execute()
    assert all_day["start"] == {"date": "2030-03-04"}


def test_request_bodies_are_checked_against_the_discovery_document(server: SandboxServer) -> None:
    events = _service(server).events()

    status, detail = _error(events.insert(calendarId="primary", body=_event(colour="9")))
    assert status == 400 and '"colour"' in detail["message"]
    nested = _event(start={"dateTime": "2030-03-04T10:00:00+01:00", "tz": "Europe/Paris"})
    assert "'resource.start'" in _error(events.insert(calendarId="primary", body=nested))[1]["message"]
    assert "transparency" in _error(events.insert(calendarId="primary", body=_event(transparency="busy")))[1]["message"]
    assert "sequence" in _error(events.insert(calendarId="primary", body=_event(sequence="one")))[1]["message"]
    assert (
        _error(events.insert(calendarId="primary", body=_event(conferenceData={"createRequest": {"requestid": "x"}})))[0] == 400
    )
    bad_type = _event(conferenceData={"createRequest": {"requestId": "r", "conferenceSolutionKey": {"type": "addOn"}}})
    assert _error(events.insert(calendarId="primary", body=bad_type, conferenceDataVersion=1)) == (
        400,
        {"domain": "global", "reason": "invalid", "message": "Invalid conference type value."},
    )


def test_conference_data_is_ignored_without_conference_data_version(server: SandboxServer) -> None:
    service = _service(server)

    inserted = service.events().insert(calendarId="primary", body=_event("noversion1", conferenceData=MEET_REQUEST)).execute()
    fetched = service.events().get(calendarId="primary", eventId="noversion1").execute()

    assert "conferenceData" not in inserted and "conferenceData" not in fetched and "hangoutLink" not in fetched


def test_patch_and_update_keep_the_meet_link_and_bump_sequence(server: SandboxServer) -> None:
    service = _service(server)
    service.events().insert(
        calendarId="primary", body=_event("keepmeet01", conferenceData=MEET_REQUEST), conferenceDataVersion=1
    ).execute()
    link = service.events().get(calendarId="primary", eventId="keepmeet01").execute()["hangoutLink"]

    renamed = service.events().patch(calendarId="primary", eventId="keepmeet01", body={"summary": "Interview (moved)"}).execute()
    same_request = (
        service.events()
        .patch(calendarId="primary", eventId="keepmeet01", body={"conferenceData": MEET_REQUEST}, conferenceDataVersion=1)
        .execute()
    )
    ignored = service.events().patch(calendarId="primary", eventId="keepmeet01", body={"conferenceData": None}).execute()
    replaced = service.events().update(calendarId="primary", eventId="keepmeet01", body=_event(summary="Final")).execute()

    assert renamed["hangoutLink"] == same_request["hangoutLink"] == ignored["hangoutLink"] == replaced["hangoutLink"] == link
    assert renamed["summary"] == "Interview (moved)" and renamed["attendees"] == [{"email": BOB, "responseStatus": "needsAction"}]
    assert [e["sequence"] for e in (renamed, same_request, ignored, replaced)] == [1, 2, 3, 4]
    assert replaced["summary"] == "Final" and replaced["etag"] != renamed["etag"]
    removed = (
        service.events()
        .patch(calendarId="primary", eventId="keepmeet01", body={"conferenceData": None}, conferenceDataVersion=1)
        .execute()
    )
    assert "conferenceData" not in removed and "hangoutLink" not in removed


def test_deleted_events_read_back_cancelled_and_stay_gone(server: SandboxServer) -> None:
    events = _service(server).events()
    events.insert(calendarId="primary", body=_event("deleteme01")).execute()

    assert events.delete(calendarId="primary", eventId="deleteme01", sendUpdates="all").execute() == ""
    assert events.get(calendarId="primary", eventId="deleteme01").execute()["status"] == "cancelled"
    assert _error(events.delete(calendarId="primary", eventId="deleteme01")) == (
        410,
        {"domain": "global", "reason": "deleted", "message": "Resource has been deleted"},
    )
    assert _error(events.insert(calendarId="primary", body=_event("deleteme01")))[0] == 409
    assert events.list(calendarId="primary").execute()["items"] == []
    assert [e["id"] for e in events.list(calendarId="primary", showDeleted=True).execute()["items"]] == ["deleteme01"]
    assert _error(events.get(calendarId="primary", eventId="neverthere"))[1]["reason"] == "notFound"


def test_events_list_window_search_and_access(server: SandboxServer) -> None:
    server.add_calendar(ADA, "shared@group.calendar.google.com", "Shared", access_role="reader")
    events = _service(server).events()
    events.insert(calendarId="primary", body=_event("first00001", summary="Mentoring with Bob")).execute()
    later = _event(
        "later00001",
        summary="Interview",
        start={"dateTime": "2030-03-05T10:00:00Z"},
        end={"dateTime": "2030-03-05T11:00:00Z"},
        extendedProperties={"private": {"bookingId": "b-7"}},
    )
    events.insert(calendarId="primary", body=later).execute()

    window = events.list(calendarId="primary", timeMin="2030-03-05T00:00:00Z", timeMax="2030-03-06T00:00:00Z").execute()
    searched = events.list(calendarId="primary", q="mentoring bob").execute()
    by_property = events.list(calendarId="primary", privateExtendedProperty="bookingId=b-7").execute()
    ordered = events.list(calendarId="primary", singleEvents=True, orderBy="startTime").execute()

    assert [e["id"] for e in window["items"]] == ["later00001"]
    assert (window["kind"], window["accessRole"], window["timeZone"]) == ("calendar#events", "owner", "UTC")
    assert [e["id"] for e in searched["items"]] == ["first00001"]
    assert [e["id"] for e in by_property["items"]] == ["later00001"]
    assert [e["id"] for e in ordered["items"]] == ["first00001", "later00001"]
    assert _error(events.list(calendarId="primary", orderBy="startTime"))[0] == 400
    reason = _error(events.insert(calendarId="shared@group.calendar.google.com", body=_event()))[1]["reason"]
    assert reason == "requiredAccessLevel"
    assert _error(events.list(calendarId="someone-else@group.calendar.google.com"))[0] == 404


# -- free/busy ---------------------------------------------------------------------------


def test_freebusy_across_calendars_with_an_unknown_one(server: SandboxServer) -> None:
    team = "team@group.calendar.google.com"
    server.add_calendar(ADA, team, "Team", access_role="reader")
    server.add_busy_event(ADA, "2030-03-04T09:00:00Z", "2030-03-04T10:00:00Z")
    server.add_busy_event(ADA, "2030-03-04T09:30:00Z", "2030-03-04T10:30:00Z")  # overlaps: merged
    server.add_busy_event(ADA, "2030-03-04T12:00:00Z", "2030-03-04T13:00:00Z", transparency="transparent")
    server.add_busy_event(team, "2030-03-04T16:00:00Z", "2030-03-04T19:00:00Z")  # clipped to the window
    server.add_busy_event(BOB, "2030-03-04T08:00:00Z", "2030-03-04T08:30:00Z")
    service = _service(server)
    cancelled = (
        service.events()
        .insert(
            calendarId="primary",
            body=_event(start={"dateTime": "2030-03-04T14:00:00Z"}, end={"dateTime": "2030-03-04T15:00:00Z"}),
        )
        .execute()
    )
    service.events().delete(calendarId="primary", eventId=cancelled["id"]).execute()

    answer = (
        service.freebusy()
        .query(
            body={
                "timeMin": "2030-03-04T00:00:00Z",
                "timeMax": "2030-03-04T18:00:00Z",
                "timeZone": "Europe/Paris",
                "items": [{"id": "primary"}, {"id": team}, {"id": BOB}, {"id": "nobody@example.org"}],
            }
        )
        .execute()
    )

    assert answer["kind"] == "calendar#freeBusy" and answer["timeMin"] == "2030-03-04T00:00:00.000Z"
    assert answer["calendars"] == {
        "primary": {"busy": [{"start": "2030-03-04T10:00:00+01:00", "end": "2030-03-04T11:30:00+01:00"}]},
        team: {"busy": [{"start": "2030-03-04T17:00:00+01:00", "end": "2030-03-04T19:00:00+01:00"}]},
        BOB: {"busy": [{"start": "2030-03-04T09:00:00+01:00", "end": "2030-03-04T09:30:00+01:00"}]},
        "nobody@example.org": {"busy": [], "errors": [{"domain": "global", "reason": "notFound"}]},
    }


def test_freebusy_limits(server: SandboxServer) -> None:
    freebusy = _service(server).freebusy()
    window = {"timeMin": "2030-03-04T00:00:00Z", "timeMax": "2030-03-05T00:00:00Z"}

    too_many = freebusy.query(body={**window, "items": [{"id": f"c{i}@example.com"} for i in range(51)]}).execute()
    capped = freebusy.query(body={**window, "calendarExpansionMax": 1, "items": [{"id": ADA}, {"id": BOB}]}).execute()

    assert {c["errors"][0]["reason"] for c in too_many["calendars"].values()} == {"tooManyCalendarsRequested"}
    assert capped["calendars"][ADA]["errors"] == [{"domain": "global", "reason": "tooManyCalendarsRequested"}]
    backwards = {"timeMin": window["timeMax"], "timeMax": window["timeMin"], "items": [{"id": ADA}]}
    status, detail = _error(freebusy.query(body=backwards))
    assert (status, detail["reason"], detail["location"]) == (400, "timeRangeEmpty", "timeMax")


WINDOW = {"timeMin": "2030-03-04T00:00:00Z", "timeMax": "2030-03-05T00:00:00Z"}


def test_freebusy_refuses_a_window_over_90_days(server: SandboxServer) -> None:
    freebusy = _service(server).freebusy()
    server.add_busy_event(ADA, "2030-05-31T10:00:00Z", "2030-06-01T10:00:00Z")

    ninety_days = freebusy.query(
        body={"timeMin": "2030-03-03T00:00:00Z", "timeMax": "2030-06-01T00:00:00Z", "items": [{"id": ADA}]}
    ).execute()
    one_second_more = {"timeMin": "2030-03-03T00:00:00Z", "timeMax": "2030-06-01T00:00:01Z", "items": [{"id": ADA}]}

    assert ninety_days["calendars"][ADA]["busy"] == [{"start": "2030-05-31T10:00:00Z", "end": "2030-06-01T00:00:00Z"}]
    assert _error(freebusy.query(body=one_second_more)) == (
        400,
        {"domain": "calendar", "reason": "timeRangeTooLong", "message": "The requested time range is too long."},
    )
    # Offsets count: 90 days on the wall clock of +14:00 and -12:00 is 90 days and 26 hours.
    wide = {"timeMin": "2030-03-03T00:00:00+14:00", "timeMax": "2030-06-01T00:00:00-12:00", "items": [{"id": ADA}]}
    assert _error(freebusy.query(body=wide))[1]["reason"] == "timeRangeTooLong"


def test_freebusy_requires_both_bounds_with_an_offset(server: SandboxServer) -> None:
    freebusy = _service(server).freebusy()

    for missing in ("timeMin", "timeMax"):
        body = {k: v for k, v in WINDOW.items() if k != missing} | {"items": [{"id": ADA}]}
        status, detail = _error(freebusy.query(body=body))
        assert (status, detail["reason"], detail["message"]) == (400, "required", f"Required parameter: {missing}"), missing
    no_offset = {"timeMin": "2030-03-04T00:00:00", "timeMax": WINDOW["timeMax"], "items": [{"id": ADA}]}
    assert _error(freebusy.query(body=no_offset))[:1] == (400,)


def test_freebusy_bodies_are_checked_against_the_discovery_document(server: SandboxServer) -> None:
    freebusy = _service(server).freebusy()
    bad_bodies = {
        "calendars": {**WINDOW, "calendars": [ADA]},  # not a FreeBusyRequest field
        "calendarId": {**WINDOW, "items": [{"calendarId": ADA}]},  # not a FreeBusyRequestItem field
        "items": {**WINDOW, "items": {"id": ADA}},  # an object where an array belongs
        "resource.items[0].id": {**WINDOW, "items": [{"id": 42}]},
        "resource.timeMin": {**WINDOW, "timeMin": "4 March 2030"},
        "calendarExpansionMax": {**WINDOW, "calendarExpansionMax": "fifty", "items": []},
    }

    for field_name, body in bad_bodies.items():
        status, detail = _error(freebusy.query(body=body))
        assert (status, detail["reason"]) == (400, "invalid"), field_name
        assert field_name in detail["message"], (field_name, detail["message"])


def test_freebusy_answers_in_the_requested_time_zone(server: SandboxServer) -> None:
    freebusy = _service(server).freebusy()
    server.add_busy_event(ADA, "2030-03-04T15:00:00Z", "2030-03-04T16:00:00Z")

    def busy(zone: str | None) -> list[dict[str, str]]:
        body = {**WINDOW, "items": [{"id": ADA}]} | ({"timeZone": zone} if zone else {})
        result: list[dict[str, str]] = freebusy.query(body=body).execute()["calendars"][ADA]["busy"]
        return result

    assert busy(None) == [{"start": "2030-03-04T15:00:00Z", "end": "2030-03-04T16:00:00Z"}]
    assert busy("America/New_York") == [{"start": "2030-03-04T10:00:00-05:00", "end": "2030-03-04T11:00:00-05:00"}]
    assert busy("Asia/Kolkata") == [{"start": "2030-03-04T20:30:00+05:30", "end": "2030-03-04T21:30:00+05:30"}]
    status, detail = _error(freebusy.query(body={**WINDOW, "timeZone": "Mars/Olympus", "items": [{"id": ADA}]}))
    assert (status, detail["reason"]) == (400, "invalid")


def test_freebusy_merges_each_calendars_periods_but_not_across_calendars(server: SandboxServer) -> None:
    team = "team@group.calendar.google.com"
    server.add_calendar(ADA, team, "Team")
    server.add_busy_event(ADA, "2030-03-04T09:00:00Z", "2030-03-04T10:00:00Z")
    server.add_busy_event(ADA, "2030-03-04T10:00:00Z", "2030-03-04T11:00:00Z")  # touching: one period
    server.add_busy_event(ADA, "2030-03-04T09:15:00Z", "2030-03-04T09:45:00Z")  # inside: swallowed
    server.add_busy_event(ADA, "2030-03-04T13:00:00Z", "2030-03-04T14:00:00Z")  # apart: its own period
    server.add_busy_event(team, "2030-03-04T10:30:00Z", "2030-03-04T12:00:00Z")  # another calendar: kept apart

    calendars = _service(server).freebusy().query(body={**WINDOW, "items": [{"id": ADA}, {"id": team}]}).execute()["calendars"]

    assert calendars[ADA]["busy"] == [
        {"start": "2030-03-04T09:00:00Z", "end": "2030-03-04T11:00:00Z"},
        {"start": "2030-03-04T13:00:00Z", "end": "2030-03-04T14:00:00Z"},
    ]
    assert calendars[team]["busy"] == [{"start": "2030-03-04T10:30:00Z", "end": "2030-03-04T12:00:00Z"}]


def test_freebusy_all_day_events_span_the_calendars_own_midnights(server: SandboxServer) -> None:
    berlin, la = "berlin@group.calendar.google.com", "la@group.calendar.google.com"
    server.add_calendar(ADA, berlin, "Berlin", time_zone="Europe/Berlin")
    server.add_calendar(ADA, la, "Los Angeles", time_zone="America/Los_Angeles")
    server.add_busy_event(berlin, "2030-03-30", "2030-04-01", summary="Offsite")  # over the spring-forward night
    server.add_busy_event(la, "2030-03-30", "2030-03-31", summary="Holiday", transparency="transparent")
    server.add_busy_event(la, "2030-03-31", "2030-04-01", summary="Away")
    window = {"timeMin": "2030-03-29T00:00:00Z", "timeMax": "2030-04-03T00:00:00Z"}

    calendars = _service(server).freebusy().query(body={**window, "items": [{"id": berlin}, {"id": la}]}).execute()["calendars"]

    # Berlin: 00:00 CET (+01:00) on the 30th to 00:00 CEST (+02:00) on April 1st, 47 hours.
    assert calendars[berlin]["busy"] == [{"start": "2030-03-29T23:00:00Z", "end": "2030-03-31T22:00:00Z"}]
    assert calendars[la]["busy"] == [{"start": "2030-03-31T07:00:00Z", "end": "2030-04-01T07:00:00Z"}]
    all_day = [e for e in server.calendar_events(berlin) if e["summary"] == "Offsite"]
    assert all_day[0]["start"] == {"date": "2030-03-30"} and all_day[0]["end"] == {"date": "2030-04-01"}


def test_freebusy_reports_calendars_the_caller_cannot_see(server: SandboxServer) -> None:
    private = "bob-private@group.calendar.google.com"
    server.add_calendar(BOB, private, "Bob's private")  # exists, but not on Ada's list
    server.add_busy_event(private, "2030-03-04T09:00:00Z", "2030-03-04T10:00:00Z")

    as_ada = _service(server).freebusy().query(body={**WINDOW, "items": [{"id": private}]}).execute()
    as_bob = _service(server, BOB).freebusy().query(body={**WINDOW, "items": [{"id": private}]}).execute()

    assert as_ada["calendars"] == {private: {"busy": [], "errors": [{"domain": "global", "reason": "notFound"}]}}
    assert as_bob["calendars"][private] == {"busy": [{"start": "2030-03-04T09:00:00Z", "end": "2030-03-04T10:00:00Z"}]}


def test_freebusy_accepts_only_the_scopes_google_lists_for_it(server: SandboxServer) -> None:
    auth = "https://www.googleapis.com/auth/"
    body = {**WINDOW, "items": [{"id": ADA}]}

    for scope in ("calendar", "calendar.readonly", "calendar.freebusy"):
        answer = _service(server, scopes=(auth + scope,)).freebusy().query(body=body).execute()
        assert answer["calendars"][ADA] == {"busy": []}, scope
    for scope in ("calendar.events", "calendar.events.readonly", "calendar.calendarlist.readonly"):
        status, detail = _error(_service(server, scopes=(auth + scope,)).freebusy().query(body=body))
        assert (status, detail["reason"]) == (403, "insufficientPermissions"), scope


def test_freebusy_honours_injected_faults(server: SandboxServer) -> None:
    token = server.sandbox.oauth.issue_tokens(CLIENT_ID, ADA, [CALENDAR])["access_token"]
    impatient = build(
        "calendar",
        "v3",
        http=AuthorizedHttp(Credentials(token=token), http=httplib2.Http(timeout=0.3)),
        static_discovery=True,
        client_options={"api_endpoint": server.url + "/calendar/v3/"},
    )
    body = {**WINDOW, "items": [{"id": ADA}]}
    server.inject_rate_limit(r"/freeBusy$", status=429)
    server.inject(r"/freeBusy$", [{"status": 503}, {"delay_seconds": 1.0}, {"delay_seconds": 0.05}], method="POST")

    assert _error(impatient.freebusy().query(body=body)) == (
        429,
        {"domain": "usageLimits", "reason": "rateLimitExceeded", "message": "Rate Limit Exceeded"},
    )
    with pytest.raises(HttpError) as unavailable:
        impatient.freebusy().query(body=body).execute()
    assert unavailable.value.status_code == 503
    with pytest.raises(TimeoutError):
        impatient.freebusy().query(body=body).execute()
    assert impatient.freebusy().query(body=body).execute()["calendars"][ADA] == {"busy": []}  # a short delay only
    deadline = time.monotonic() + 5
    while len(server.calls("/calendar/v3/freeBusy")) < 4 and time.monotonic() < deadline:
        time.sleep(0.05)  # the timed-out call is recorded once the sandbox answers it, after its delay
    assert [(c["status"], c["injected"]) for c in server.calls("/calendar/v3/freeBusy")] == [
        (429, True),
        (503, True),
        (200, False),
        (200, False),
    ]


# -- credentials and faults ---------------------------------------------------------------


def test_credentials_are_required_with_a_calendar_scope(server: SandboxServer) -> None:
    meet_only = _service(server, scopes=(MEET_READONLY,))
    anonymous = build(
        "calendar",
        "v3",
        http=httplib2.Http(),
        static_discovery=True,
        client_options={"api_endpoint": server.url + "/calendar/v3/"},
    )

    status, detail = _error(meet_only.calendarList().list())
    assert (status, detail["reason"]) == (403, "insufficientPermissions")
    status, detail = _error(anonymous.calendarList().list())
    assert (status, detail["reason"]) == (401, "authError")


def test_injected_faults_surface_as_http_errors(server: SandboxServer) -> None:
    calendar_list = _service(server).calendarList()
    server.inject_rate_limit(r"/calendarList$", status=429)
    server.inject(r"/calendarList$", [{"status": 503}])
    server.inject_rate_limit(r"/calendarList$", times=2)
    rate_limited = {"domain": "usageLimits", "reason": "rateLimitExceeded", "message": "Rate Limit Exceeded"}

    assert _error(calendar_list.list()) == (429, rate_limited)
    with pytest.raises(HttpError) as unavailable:
        calendar_list.list().execute()
    assert (unavailable.value.status_code, unavailable.value.reason) == (503, "Injected fault (503).")
    assert _error(calendar_list.list()) == (403, rate_limited)
    # googleapiclient retries that body (and only 403s with a rate-limit reason).
    retried = calendar_list.list()
    retried._sleep = lambda seconds: None
    assert retried.execute(num_retries=1)["items"][0]["id"] == ADA
    assert [c["status"] for c in server.calls("/calendar/v3/users/me/calendarList")] == [429, 503, 403, 403, 200]


def test_control_api_adds_all_day_busy_events(server: SandboxServer) -> None:
    base = server.url + "/sandbox/calendar"
    requests.post(
        base + "/calendars",
        json={"account": ADA, "id": "ops@group.calendar.google.com", "summary": "Ops", "time_zone": "Asia/Tokyo"},
        timeout=5,
    ).raise_for_status()

    all_day = requests.post(
        base + "/calendars/ops@group.calendar.google.com/busy", json={"start": "2030-03-04", "end": "2030-03-05"}, timeout=5
    )
    mixed = requests.post(
        base + "/calendars/ops@group.calendar.google.com/busy",
        json={"start": "2030-03-04", "end": "2030-03-05T00:00:00Z"},
        timeout=5,
    )
    naive = requests.post(
        base + "/calendars/ops@group.calendar.google.com/busy",
        json={"start": "2030-03-04T09:00:00", "end": "2030-03-04T10:00:00"},
        timeout=5,
    )
    calendars = (
        _service(server)
        .freebusy()
        .query(body={**WINDOW, "items": [{"id": "ops@group.calendar.google.com"}], "timeZone": "Asia/Tokyo"})
        .execute()["calendars"]
    )

    assert all_day.json()["start"] == {"date": "2030-03-04"}
    assert (mixed.status_code, naive.status_code) == (400, 400)
    # Tokyo's 4 March is 3 March 15:00 UTC to 4 March 15:00 UTC; the window starts at 4 March 00:00 UTC.
    assert calendars["ops@group.calendar.google.com"]["busy"] == [
        {"start": "2030-03-04T09:00:00+09:00", "end": "2030-03-05T00:00:00+09:00"}
    ]


def test_control_api_over_http(server: SandboxServer) -> None:
    base = server.url + "/sandbox/calendar"

    entry = requests.post(
        base + "/calendars", json={"account": ADA, "id": "ops@group.calendar.google.com", "summary": "Ops"}, timeout=5
    )
    busy = requests.post(
        base + "/calendars/ops@group.calendar.google.com/busy",
        json={"start": "2030-03-04T09:00:00Z", "end": "2030-03-04T10:00:00Z"},
        timeout=5,
    )
    settings = requests.post(base + "/conferences", json={"pending_reads": 2, "fail_next": 1}, timeout=5)
    listed = requests.get(base + "/calendars/ops@group.calendar.google.com/events", timeout=5)

    assert entry.json()["accessRole"] == "owner"
    assert busy.json()["organizer"] == {"email": "ops@group.calendar.google.com", "self": True, "displayName": "Ops"}
    assert settings.json() == {"pending_reads": 2, "fail_next": 1, "settle_on_insert": False}
    assert [e["id"] for e in listed.json()["items"]] == [busy.json()["id"]]
    assert requests.post(base + "/calendars", json={"account": ADA, "summary": "x"}, timeout=5).status_code == 400


def test_the_meet_link_can_come_with_the_insert_response(server: SandboxServer) -> None:
    """Google often has the conference ready at once; the sandbox can answer that way too."""
    server.sandbox.calendar.set_conferences(settle_on_insert=True)
    event = (
        _service(server)
        .events()
        .insert(
            calendarId="primary",
            conferenceDataVersion=1,
            body=_event(
                "settled0001",
                conferenceData={"createRequest": {"requestId": "r1", "conferenceSolutionKey": {"type": "hangoutsMeet"}}},
            ),
        )
        .execute()
    )
    assert event["conferenceData"]["createRequest"]["status"]["statusCode"] == "success"
    assert event["hangoutLink"].startswith("https://meet.google.com/")
