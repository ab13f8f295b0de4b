"""The .ics attachment, parsed back with icalendar and, where available, checked by libical."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from icalendar import Calendar, Event

from shared.domain.models import InterviewStatus, InterviewType, Person
from shared.mail.ics import build_ics
from tests.factories import GUEST, HOST, NOW, interview

UTC = timezone.utc
BERLIN_SUMMER = datetime(2026, 6, 1, 12, 10, tzinfo=UTC)  # 14:10 CEST
BERLIN_SPRING_FORWARD = datetime(2026, 3, 29, 1, 30, tzinfo=UTC)  # 03:30 CEST, 90 minutes after the clocks jump
NEW_YORK_FALL_BACK = datetime(2026, 11, 1, 5, 30, tzinfo=UTC)  # 01:30 EDT, the first of the two 01:30s


def parse(data: bytes) -> tuple[Calendar, Event]:
    calendar = Calendar.from_ical(data)
    (event,) = calendar.walk("VEVENT")
    return calendar, event


def instants(event: Event) -> tuple[datetime, datetime]:
    """Start and end in UTC (aware datetimes inside a DST fold never compare equal across zones)."""
    return event["DTSTART"].dt.astimezone(UTC), event["DTEND"].dt.astimezone(UTC)


def test_a_request_carries_every_property_an_invitation_needs():
    iv = interview(start=BERLIN_SUMMER, ical_uid="iv-123@convene", ical_sequence=2, note="Bring your portfolio.")
    data = build_ics(iv, method="REQUEST", now=NOW)
    calendar, event = parse(data)

    assert calendar["PRODID"] == "-//Convene//Interviews//EN"
    assert calendar["VERSION"] == "2.0"
    assert calendar["CALSCALE"] == "GREGORIAN"
    assert calendar["METHOD"] == "REQUEST"
    assert event["UID"] == "iv-123@convene"
    assert event["SEQUENCE"] == 2
    assert event["DTSTAMP"].dt == NOW and b"DTSTAMP:20260601T120000Z" in data
    assert b"DTSTART;TZID=Europe/Berlin:20260601T141000" in data
    assert b"DTEND;TZID=Europe/Berlin:20260601T145500" in data
    assert instants(event) == (iv.start, iv.end)
    assert event["SUMMARY"] == "Backend Engineer interview: Gus Guest & Hana Host"
    assert iv.meet_link in event["DESCRIPTION"] and "Bring your portfolio." in event["DESCRIPTION"]
    assert event["LOCATION"] == iv.meet_link
    assert event["URL"] == iv.meet_link
    assert event["STATUS"] == "CONFIRMED"
    assert event["ORGANIZER"] == f"mailto:{HOST.email}" and event["ORGANIZER"].params["CN"] == HOST.name

    attendees = {str(a): a.params for a in event["ATTENDEE"]}
    assert attendees[f"mailto:{GUEST.email}"] == {
        "CN": GUEST.name, "CUTYPE": "INDIVIDUAL", "ROLE": "REQ-PARTICIPANT", "PARTSTAT": "NEEDS-ACTION", "RSVP": "TRUE"}
    assert attendees[f"mailto:{HOST.email}"]["PARTSTAT"] == "ACCEPTED"
    assert attendees[f"mailto:{HOST.email}"]["RSVP"] == "FALSE"

    (alarm,) = event.walk("VALARM")
    assert alarm["ACTION"] == "DISPLAY"
    assert alarm["TRIGGER"].dt == timedelta(minutes=-15)
    assert alarm["DESCRIPTION"]


def test_the_organizer_name_can_replace_the_hosts_name():
    _, event = parse(build_ics(interview(), method="REQUEST", now=NOW, organizer_name="Acme Talent Team"))
    assert event["ORGANIZER"].params["CN"] == "Acme Talent Team"
    assert event["ORGANIZER"] == f"mailto:{HOST.email}"


def test_a_cancel_keeps_the_uid_carries_the_bumped_sequence_and_no_alarm():
    invited = interview(ical_sequence=0)
    cancelled = replace(invited, status=InterviewStatus.CANCELLED, ical_sequence=1)
    _, request = parse(build_ics(invited, method="REQUEST", now=NOW))
    calendar, cancel = parse(build_ics(cancelled, method="CANCEL", now=NOW + timedelta(hours=1)))

    assert calendar["METHOD"] == "CANCEL"
    assert cancel["UID"] == request["UID"] == invited.ical_uid
    assert cancel["SEQUENCE"] == 1
    assert cancel["STATUS"] == "CANCELLED"
    assert cancel.walk("VALARM") == []
    # RFC 5546 §3.2.5: a CANCEL of the whole event names its attendees, and asks for no reply.
    assert {str(a) for a in cancel["ATTENDEE"]} == {f"mailto:{GUEST.email}", f"mailto:{HOST.email}"}
    assert all("RSVP" not in a.params and "PARTSTAT" not in a.params for a in cancel["ATTENDEE"])


def test_an_interview_without_a_uid_cannot_become_an_invitation():
    with pytest.raises(ValueError, match="UID"):
        build_ics(interview(ical_uid=""), method="REQUEST", now=NOW)


@pytest.mark.parametrize("method", ["PUBLISH", "request", ""])
def test_only_request_and_cancel_are_built(method: str):
    with pytest.raises(ValueError, match="method"):
        build_ics(interview(), method=method, now=NOW)


def test_a_naive_now_is_refused_rather_than_read_in_the_servers_zone():
    with pytest.raises(ValueError, match="aware"):
        build_ics(interview(), method="REQUEST", now=NOW.replace(tzinfo=None))


def test_spring_forward_in_berlin_keeps_the_wall_time_and_the_instant():
    iv = interview(start=BERLIN_SPRING_FORWARD, duration_minutes=45)
    data = build_ics(iv, method="REQUEST", now=NOW)
    _, event = parse(data)
    assert b"DTSTART;TZID=Europe/Berlin:20260329T033000" in data
    assert b"DTEND;TZID=Europe/Berlin:20260329T041500" in data
    assert event["DTSTART"].params["TZID"] == "Europe/Berlin"
    assert instants(event) == (iv.start, iv.end)


def test_fall_back_in_new_york_keeps_the_wall_time_and_the_instant():
    iv = interview(start=NEW_YORK_FALL_BACK, timezone="America/New_York", duration_minutes=120)
    data = build_ics(iv, method="REQUEST", now=NOW)
    _, event = parse(data)
    # Two real hours, one wall-clock hour: 01:30 EDT to 02:30 EST.
    assert b"DTSTART;TZID=America/New_York:20261101T013000" in data
    assert b"DTEND;TZID=America/New_York:20261101T023000" in data
    assert event["DTEND"].params["TZID"] == "America/New_York"
    assert instants(event) == (iv.start, iv.end)


def test_the_second_occurrence_of_a_repeated_hour_is_written_in_utc():
    """RFC 5545 §3.3.5 reads a repeated local time as its first occurrence: 01:30 would be an hour early."""
    start = NEW_YORK_FALL_BACK + timedelta(hours=1)  # 01:30 EST
    iv = interview(start=start, timezone="America/New_York", duration_minutes=30)
    data = build_ics(iv, method="REQUEST", now=NOW)
    _, event = parse(data)
    assert b"DTSTART:20261101T063000Z" in data
    assert b"DTEND;TZID=America/New_York:20261101T020000" in data
    assert instants(event) == (iv.start, iv.end)


def _real_transitions(tz: ZoneInfo, year: int) -> list[datetime]:
    """Every UTC instant of ``year`` at which ``tz`` changes offset, found hour by hour (an independent scan)."""
    found = []
    hour = datetime(year, 1, 1, tzinfo=tz).astimezone(UTC)
    end = datetime(year + 1, 1, 1, tzinfo=tz).astimezone(UTC)
    while hour < end:
        after = hour + timedelta(hours=1)
        if hour.astimezone(tz).utcoffset() != after.astimezone(tz).utcoffset():
            found.append(next(t for t in (hour + timedelta(minutes=m) for m in range(1, 61))
                              if t.astimezone(tz).utcoffset() == after.astimezone(tz).utcoffset()))
        hour = after
    return found


@pytest.mark.parametrize(("zone_name", "start"), [
    ("Europe/Berlin", BERLIN_SPRING_FORWARD),
    ("America/New_York", NEW_YORK_FALL_BACK),
    ("Australia/Lord_Howe", datetime(2026, 4, 4, 14, 45, tzinfo=UTC)),  # a 30-minute DST change
    ("Asia/Kolkata", datetime(2026, 6, 1, 8, 0, tzinfo=UTC)),  # no DST at all
])
def test_the_vtimezone_states_the_zones_real_changes(zone_name: str, start: datetime):
    """Each onset is wall time in the offset being left (RFC 5545 §3.6.5), so DTSTART − TZOFFSETFROM is the real change."""
    tz = ZoneInfo(zone_name)
    calendar, event = parse(build_ics(interview(start=start, timezone=zone_name), method="REQUEST", now=NOW))
    assert calendar.get_missing_tzids() == set()
    (vtimezone,) = calendar.timezones
    assert vtimezone.tz_name == zone_name
    assert event["DTSTART"].params["TZID"] == zone_name

    onsets = []
    for observance in vtimezone.walk():
        if observance.name not in ("STANDARD", "DAYLIGHT"):
            continue
        offset_from, offset_to = observance["TZOFFSETFROM"].td, observance["TZOFFSETTO"].td
        onset = (observance["DTSTART"].dt - offset_from).replace(tzinfo=UTC)
        assert onset.astimezone(tz).utcoffset() == offset_to
        assert (onset - timedelta(seconds=1)).astimezone(tz).utcoffset() == offset_from
        assert (observance.name == "DAYLIGHT") == bool(onset.astimezone(tz).dst())
        if offset_from != offset_to:
            onsets.append(onset)
    assert onsets == _real_transitions(tz, start.astimezone(tz).year)


@pytest.mark.parametrize(("kind", "detail", "link"), [
    (InterviewType.PHONE, {"phone": "+49 30 1234567", "meet_link": None}, None),
    (InterviewType.IN_PERSON, {"location": "Acme HQ, Torstraße 1, Berlin", "meet_link": None}, None),
    (InterviewType.CUSTOM_VIDEO, {"meet_link": "https://video.example/room/42"}, "https://video.example/room/42"),
])
def test_location_and_url_follow_the_type(kind: InterviewType, detail: dict, link: str | None):
    iv = interview(type=kind, **detail)
    _, event = parse(build_ics(iv, method="REQUEST", now=NOW))
    expected = {InterviewType.PHONE: iv.phone, InterviewType.IN_PERSON: iv.location}.get(kind, link)
    assert event["LOCATION"] == expected
    assert expected in event["DESCRIPTION"]
    assert event.get("URL") == link


def test_a_custom_link_that_is_not_a_web_address_is_not_offered():
    _, event = parse(build_ics(interview(type=InterviewType.CUSTOM_VIDEO, meet_link="javascript:alert(1)"),
                               method="REQUEST", now=NOW))
    assert "URL" not in event and "LOCATION" not in event
    assert "javascript" not in event["DESCRIPTION"]


def test_names_and_notes_with_ical_special_characters_survive_the_round_trip():
    host = Person(email="zoe@acme.example", name='Zoë "Z" O\'Brien, Jr.; Talent: EMEA')
    note = "Line one; with, commas\nLine two \\ backslash <b>bold</b>"
    _, event = parse(build_ics(interview(host=host, note=note), method="REQUEST", now=NOW))
    assert event["ORGANIZER"].params["CN"] == host.name
    assert note in event["DESCRIPTION"]


# libical (Debian's, in a subprocess) reads the file the way Evolution and other clients do.

LIBICAL_CASES = [
    pytest.param(interview(start=BERLIN_SPRING_FORWARD, note="Bring a laptop; we'll pair."), id="berlin-spring-forward"),
    pytest.param(interview(start=NEW_YORK_FALL_BACK + timedelta(hours=1), timezone="America/New_York",
                           type=InterviewType.PHONE, phone="+1 212 555 0100", meet_link=None), id="new-york-repeated-hour"),
]


@pytest.mark.parametrize("iv", LIBICAL_CASES)
@pytest.mark.parametrize("method", ["REQUEST", "CANCEL"])
def test_libical_accepts_requests_and_cancels(iv, method: str):
    ical_check = pytest.importorskip("devstack.ical_check")
    if method == "CANCEL":
        iv = replace(iv, status=InterviewStatus.CANCELLED, ical_sequence=iv.ical_sequence + 1)
    report = ical_check.check_ical(build_ics(iv, method=method, now=NOW).decode())
    assert report.errors == []
    assert report.restriction_ok
