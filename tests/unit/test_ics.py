"""The .ics attachment, parsed back with icalendar and, where available, checked by libical.

Times are written in UTC (see ``shared.mail.ics``): around DST changes (folds, gaps, 30- and
15-minute shifts) libical and icalendar must read the very instants that were booked.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from icalendar import Calendar, Event

from shared.domain.models import InterviewStatus, InterviewType, Person
from shared.mail.ics import build_ics
from tests.factories import GUEST, HOST, NOW, interview

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
    assert b"DTSTART:20260601T121000Z" in data and b"DTEND:20260601T125500Z" in data
    assert b"TZID" not in data and not calendar.walk("VTIMEZONE")
    assert instants(event) == (iv.start, iv.end)
    assert "When: Monday, 1 June 2026, 14:10–14:55 (Europe/Berlin, UTC+02:00)" in event["DESCRIPTION"]
    assert event["SUMMARY"] == "Backend Engineer interview: Gus Guest & Hana Host"
    assert iv.meet_link in event["DESCRIPTION"] and "Bring your portfolio." in event["DESCRIPTION"]
    assert event["LOCATION"] == iv.meet_link
    assert event["URL"] == iv.meet_link
    assert event["STATUS"] == "CONFIRMED"
    assert event["ORGANIZER"] == f"mailto:{HOST.email}" and event["ORGANIZER"].params["CN"] == HOST.name

    attendees = {str(a): a.params for a in event["ATTENDEE"]}
    assert attendees[f"mailto:{GUEST.email}"] == {
        "CN": GUEST.name,
        "CUTYPE": "INDIVIDUAL",
        "ROLE": "REQ-PARTICIPANT",
        "PARTSTAT": "NEEDS-ACTION",
        "RSVP": "TRUE",
    }
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


@pytest.mark.parametrize(
    ("kind", "detail", "link"),
    [
        (InterviewType.PHONE, {"phone": "+49 30 1234567", "meet_link": None}, None),
        (InterviewType.IN_PERSON, {"location": "Acme HQ, Torstraße 1, Berlin", "meet_link": None}, None),
        (InterviewType.CUSTOM_VIDEO, {"meet_link": "https://video.example/room/42"}, "https://video.example/room/42"),
    ],
)
def test_location_and_url_follow_the_type(kind: InterviewType, detail: dict, link: str | None):
    iv = interview(type=kind, **detail)
    _, event = parse(build_ics(iv, method="REQUEST", now=NOW))
    expected = {InterviewType.PHONE: iv.phone, InterviewType.IN_PERSON: iv.location}.get(kind, link)
    assert event["LOCATION"] == expected
    assert expected in event["DESCRIPTION"]
    assert event.get("URL") == link


def test_a_custom_link_that_is_not_a_web_address_is_not_offered():
    _, event = parse(
        build_ics(interview(type=InterviewType.CUSTOM_VIDEO, meet_link="javascript:alert(1)"), method="REQUEST", now=NOW)
    )
    assert "URL" not in event and "LOCATION" not in event
    assert "javascript" not in event["DESCRIPTION"]


def test_names_and_notes_with_ical_special_characters_survive_the_round_trip():
    host = Person(email="zoe@acme.example", name='Zoë "Z" O\'Brien, Jr.; Talent: EMEA')
    note = "Line one; with, commas\nLine two \\ backslash <b>bold</b>"
    _, event = parse(build_ics(interview(host=host, note=note), method="REQUEST", now=NOW))
    assert event["ORGANIZER"].params["CN"] == host.name
    assert note in event["DESCRIPTION"]


# Around DST changes: libical (Debian's, in one subprocess for all cases, read as Evolution
# reads it) and icalendar must both read the booked instants.


def _changes(tz: ZoneInfo, first: datetime, last: datetime) -> list[tuple[datetime, timedelta, timedelta]]:
    """(instant, offset before, offset after) of each offset change in [first, last), minute by minute within the hour."""
    found = []
    hour = first
    while hour < last:
        after = hour + timedelta(hours=1)
        before_offset, after_offset = hour.astimezone(tz).utcoffset(), after.astimezone(tz).utcoffset()
        if before_offset != after_offset:
            change = next(
                t for t in (hour + timedelta(minutes=m) for m in range(1, 61)) if t.astimezone(tz).utcoffset() == after_offset
            )
            found.append((change, before_offset, after_offset))
        hour = after
    return found


@dataclass(frozen=True)
class Case:
    zone: str
    start: datetime  # the booked instant, UTC
    minutes: int
    label: str

    @property
    def end(self) -> datetime:
        return self.start + timedelta(minutes=self.minutes)

    @property
    def id(self) -> str:
        local = self.start.astimezone(ZoneInfo(self.zone))
        return f"{self.zone}-{local:%Y%m%dT%H%M%z}-{self.minutes}min-{self.label}"


EDGE_YEARS = {
    "America/New_York": 2027,  # 1 hour, at 02:00 local
    "Europe/Berlin": 2027,  # 1 hour, at 01:00 UTC
    "Australia/Lord_Howe": 2027,  # 30 minutes, southern hemisphere
    "Asia/Kathmandu": 1986,  # +05:30 → +05:45 on 1 January 1986: a 15-minute gap, no change ever since
}


def _changes_around(name: str) -> list[tuple[datetime, timedelta, timedelta]]:
    year = EDGE_YEARS[name]
    return _changes(ZoneInfo(name), datetime(year - 1, 12, 31, tzinfo=UTC), datetime(year + 1, 1, 2, tzinfo=UTC))


def _edge_cases() -> list[Case]:
    """Each fold (both occurrences, both edges) and each gap edge of the zones, 30 and 90 minutes long."""
    cases = []
    for name in EDGE_YEARS:
        for change, before, after in _changes_around(name):
            shift, minute = abs(after - before), timedelta(minutes=1)
            if after < before:  # a fold: [change - shift, change) and [change, change + shift) show the same wall times
                moments = {
                    "before-fold": change - shift - minute,
                    "fold-first-starts": change - shift,
                    "fold-first-middle": change - shift / 2,
                    "fold-first-last-minute": change - minute,
                    "fold-second-starts": change,
                    "fold-second-middle": change + shift / 2,
                    "fold-second-last-minute": change + shift - minute,
                    "after-fold": change + shift,
                }
            else:  # a gap: the wall times [change, change + shift) in the old offset never happen
                moments = {
                    "gap-one-shift-before": change - shift,
                    "gap-last-minute-before": change - minute,
                    "gap-first-after": change,
                    "gap-minute-after": change + minute,
                    "gap-one-shift-after": change + shift,
                }
            cases += [Case(name, moment, minutes, label) for label, moment in moments.items() for minutes in (30, 90)]
    return cases


ORDINARY_CASES = [
    Case("Europe/Berlin", BERLIN_SUMMER, 45, "summer"),
    Case("Europe/Berlin", datetime(2027, 1, 15, 8, 0, tzinfo=UTC), 60, "winter"),
    Case("Europe/Berlin", datetime(2027, 10, 30, 23, 0, tzinfo=UTC), 240, "across-the-fold"),  # 01:00 CEST – 04:00 CET
    Case("America/New_York", datetime(2027, 7, 4, 3, 30, tzinfo=UTC), 60, "crosses-local-midnight"),  # 23:30 EDT
    Case("America/New_York", datetime(2027, 3, 14, 6, 30, tzinfo=UTC), 120, "across-the-gap"),  # 01:30 EST – 04:30 EDT
    Case("Australia/Lord_Howe", datetime(2027, 1, 10, 23, 0, tzinfo=UTC), 45, "summer-plus-11"),
    Case("Australia/Lord_Howe", datetime(2027, 6, 10, 23, 0, tzinfo=UTC), 45, "winter-plus-10-30"),
    Case("Asia/Kathmandu", datetime(2027, 6, 1, 4, 15, tzinfo=UTC), 30, "plus-05-45"),  # 10:00 NPT
    Case("Asia/Kathmandu", datetime(2027, 12, 31, 18, 0, tzinfo=UTC), 60, "new-year-plus-05-45"),  # 23:45 NPT
]
DST_CASES = _edge_cases() + ORDINARY_CASES


def _iv(case: Case, method: str):
    iv = interview(start=case.start, timezone=case.zone, duration_minutes=case.minutes, ical_uid=f"{case.id}@convene")
    return replace(iv, status=InterviewStatus.CANCELLED, ical_sequence=1) if method == "CANCEL" else iv


@pytest.fixture(scope="module")
def libical_reports() -> dict[tuple[str, str], object]:
    """libical's report on every case's REQUEST and CANCEL, from one child process."""
    ical_check = pytest.importorskip("devstack.ical_check")
    keys = [(case.id, method) for case in DST_CASES for method in ("REQUEST", "CANCEL")]
    texts = [
        build_ics(_iv(case, method), method=method, now=NOW).decode() for case in DST_CASES for method in ("REQUEST", "CANCEL")
    ]
    return dict(zip(keys, ical_check.check_icals(texts), strict=True))


def test_the_cases_cover_both_occurrences_of_each_fold_and_each_gap_edge():
    """The scan really finds the changes, so the cases below are not vacuous."""
    changes = {name: [(t.isoformat(), before - after) for t, before, after in _changes_around(name)] for name in EDGE_YEARS}
    assert changes == {
        "America/New_York": [
            ("2027-03-14T07:00:00+00:00", timedelta(hours=-1)),
            ("2027-11-07T06:00:00+00:00", timedelta(hours=1)),
        ],
        "Europe/Berlin": [("2027-03-28T01:00:00+00:00", timedelta(hours=-1)), ("2027-10-31T01:00:00+00:00", timedelta(hours=1))],
        "Australia/Lord_Howe": [
            ("2027-04-03T15:00:00+00:00", timedelta(minutes=30)),
            ("2027-10-02T15:30:00+00:00", timedelta(minutes=-30)),
        ],
        "Asia/Kathmandu": [("1985-12-31T18:30:00+00:00", timedelta(minutes=-15))],
    }
    for case in DST_CASES:
        tz = ZoneInfo(case.zone)
        local = case.start.astimezone(tz)
        other_reading = local.replace(fold=1 - local.fold).astimezone(UTC)
        # A fold case's wall time names two instants; every other case's names one.
        assert (other_reading != case.start) == case.label.startswith("fold-"), case.id
    assert len({case.id for case in DST_CASES}) == len(DST_CASES)


@pytest.mark.parametrize("method", ["REQUEST", "CANCEL"])
@pytest.mark.parametrize("case", DST_CASES, ids=lambda case: case.id)
def test_libical_and_icalendar_read_the_booked_instants(case: Case, method: str, libical_reports):
    data = build_ics(_iv(case, method), method=method, now=NOW)
    calendar, event = parse(data)
    report = libical_reports[case.id, method]

    (libical,) = report.events
    assert (libical.start, libical.end) == (case.start, case.end) == instants(event)
    assert libical.end - libical.start == timedelta(minutes=case.minutes) == event["DTEND"].dt - event["DTSTART"].dt
    assert report.errors == [] and report.restriction_ok and report.method == method
    assert b"DTSTART:" + f"{case.start:%Y%m%dT%H%M%SZ}".encode() in data
    assert b"DTEND:" + f"{case.end:%Y%m%dT%H%M%SZ}".encode() in data
    assert b"TZID" not in data and not calendar.walk("VTIMEZONE")
    # The booking zone's wall time, with the offset that picks the instant, is in the description.
    local = case.start.astimezone(ZoneInfo(case.zone))
    assert f"{local:%H:%M}" in event["DESCRIPTION"] and _offset_text(local) in event["DESCRIPTION"]


def _offset_text(local: datetime) -> str:
    """E.g. "UTC+05:45", "UTC-04:00"."""
    minutes = int(local.utcoffset().total_seconds() // 60)
    return f"UTC{'-' if minutes < 0 else '+'}{abs(minutes) // 60:02d}:{abs(minutes) % 60:02d}"


@pytest.mark.parametrize(
    ("zone_name", "start", "utc_text", "when"),
    [
        (
            "Europe/Berlin",
            datetime(2027, 10, 31, 2, 30, tzinfo=timezone(timedelta(hours=2))),
            b"20271031T003000Z",
            "Sunday, 31 October 2027, 02:30 UTC+02:00 – 02:15 UTC+01:00 (Europe/Berlin)",
        ),
        (
            "Australia/Lord_Howe",
            datetime(2027, 4, 4, 1, 45, tzinfo=timezone(timedelta(hours=11))),
            b"20270403T144500Z",
            "Sunday, 4 April 2027, 01:45 UTC+11:00 – 02:00 UTC+10:30 (Australia/Lord_Howe)",
        ),
    ],
)
def test_the_first_occurrence_of_a_repeated_time_is_not_read_late(zone_name, start, utc_text, when):
    """The issue's two cases: libical read the TZID form 1 hour (Berlin) and 30 minutes (Lord Howe) late."""
    ical_check = pytest.importorskip("devstack.ical_check")
    iv = interview(start=start.astimezone(UTC), timezone=zone_name, duration_minutes=45)
    data = build_ics(iv, method="REQUEST", now=NOW)
    report = ical_check.check_ical(data.decode())
    _, event = parse(data)
    assert b"DTSTART:" + utc_text in data
    (libical,) = report.events
    assert libical.start == start == event["DTSTART"].dt
    assert libical.end == start + timedelta(minutes=45) == event["DTEND"].dt
    assert f"When: {when}" in event["DESCRIPTION"]


# libical (Debian's, in a subprocess) reads the file the way Evolution and other clients do.

LIBICAL_CASES = [
    pytest.param(interview(start=BERLIN_SPRING_FORWARD, note="Bring a laptop; we'll pair."), id="berlin-spring-forward"),
    pytest.param(
        interview(
            start=NEW_YORK_FALL_BACK + timedelta(hours=1),
            timezone="America/New_York",
            type=InterviewType.PHONE,
            phone="+1 212 555 0100",
            meet_link=None,
        ),
        id="new-york-repeated-hour",
    ),
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
