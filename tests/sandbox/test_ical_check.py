"""`devstack.ical_check`: libical's verdict on calendars built with the `icalendar` package."""

from __future__ import annotations

import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from icalendar import Alarm, Calendar, Event, vCalAddress

from devstack import ical_check
from devstack.ical_check import IcalCheckUnavailable, check_ical

PARIS = ZoneInfo("Europe/Paris")
UID = "interview-42@convene.test"


def _address(email: str, **params: str) -> vCalAddress:
    address = vCalAddress(f"mailto:{email}")
    address.params.update(params)
    return address


def _invitation(
    method: str = "REQUEST", sequence: int = 0, organizer: bool = True, dtstamp: bool = True, alarm: bool = True
) -> Calendar:
    """An interview as Convene sends it: Paris time with its VTIMEZONE, one guest asked to reply."""
    calendar = Calendar()
    calendar.add("prodid", "-//Convene//Interviews//EN")
    calendar.add("version", "2.0")
    calendar.add("method", method)
    event = Event()
    event.add("uid", UID)
    if dtstamp:
        event.add("dtstamp", datetime(2030, 3, 1, 9, 0, tzinfo=UTC))
    event.add("dtstart", datetime(2030, 3, 4, 10, 0, tzinfo=PARIS))
    event.add("dtend", datetime(2030, 3, 4, 11, 0, tzinfo=PARIS))
    event.add("summary", "Interview: Bob Guest")
    event.add("sequence", sequence)
    if organizer:
        event.add("organizer", _address("ada@example.com", CN="Ada Host"))
    event.add("attendee", _address("bob@example.com", CN="Bob Guest", ROLE="REQ-PARTICIPANT",
                                   PARTSTAT="NEEDS-ACTION", RSVP="TRUE"))  # fmt: skip
    if method == "CANCEL":
        event.add("status", "CANCELLED")
    if alarm:
        reminder = Alarm()
        reminder.add("action", "DISPLAY")
        reminder.add("description", "Interview in 15 minutes")
        reminder.add("trigger", timedelta(minutes=-15))
        event.add_component(reminder)
    calendar.add_component(event)
    calendar.add_missing_timezones()
    return calendar


def _text(calendar: Calendar) -> str:
    return str(calendar.to_ical(), "utf-8")


def test_a_request_with_timezone_organizer_attendee_and_alarm_is_clean() -> None:
    report = check_ical(_text(_invitation()))

    assert report.errors == []
    assert report.restriction_ok and report.ok
    assert report.method == "REQUEST"
    assert report.components[0] == "VTIMEZONE"
    assert report.components[-2:] == ["VEVENT", "VALARM"]


def test_a_cancel_keeping_the_uid_with_a_higher_sequence_is_clean() -> None:
    request = _invitation()
    cancel = _invitation("CANCEL", sequence=1, alarm=False)

    report = check_ical(_text(cancel))

    assert report.ok and report.method == "CANCEL"
    assert cancel.events[0]["UID"] == request.events[0]["UID"]
    assert cancel.events[0].decoded("SEQUENCE") > request.events[0].decoded("SEQUENCE")


def test_libical_requires_a_sequence_to_cancel() -> None:
    cancel = _invitation("CANCEL", sequence=1, alarm=False)
    del cancel.events[0]["SEQUENCE"]

    report = check_ical(_text(cancel))

    assert not report.restriction_ok
    assert report.errors == ["Failed iTIP restrictions for SEQUENCE property. Expected 1 instances of the property and got 0"]


def test_missing_dtstamp_fails_the_itip_restrictions() -> None:
    report = check_ical(_text(_invitation(dtstamp=False)))

    assert not report.restriction_ok
    assert report.errors == ["Failed iTIP restrictions for DTSTAMP property. Expected 1 instances of the property and got 0"]


def test_a_request_needs_an_organizer_and_an_attendee() -> None:
    no_organizer = check_ical(_text(_invitation(organizer=False)))
    no_attendee = _invitation()
    del no_attendee.events[0]["ATTENDEE"]

    assert not no_organizer.restriction_ok
    assert no_organizer.errors == [
        "Failed iTIP restrictions for ORGANIZER property. Expected 1 instances of the property and got 0"
    ]
    assert check_ical(_text(no_attendee)).errors == [
        "Failed iTIP restrictions for ATTENDEE property. Expected one or more instances of the property and got 0"
    ]


def test_garbage_values_are_parse_errors_and_the_property_is_dropped() -> None:
    text = _text(_invitation()).replace("DTSTART;TZID=Europe/Paris:20300304T100000", "DTSTART;TZID=Europe/Paris:soon")
    text = text.replace("TRIGGER:-PT15M", "TRIGGER:a bit before")

    report = check_ical(text)

    assert report.errors == [
        "Can't parse as DATE-TIME value in DTSTART property. Removing entire property: soon",
        "Can't parse as DURATION value in TRIGGER property. Removing entire property: a bit before",
        "Failed iTIP restrictions for DTSTART property. Expected 1 instances of the property and got 0",
    ]
    assert not report.restriction_ok


def test_an_unknown_property_name_is_an_error_but_not_an_itip_failure() -> None:
    text = _text(_invitation()).replace("SUMMARY:", "COLOUR:blue\r\nSUMMARY:")

    report = check_ical(text)

    assert report.errors == ["Parse error in property name: COLOUR"]
    assert report.restriction_ok and not report.ok


def test_text_that_is_not_a_calendar() -> None:
    event_only = _text(_invitation()).split("BEGIN:VEVENT", 1)[1].rsplit("END:VCALENDAR", 1)[0]

    assert check_ical("hello").errors == ["libical found no complete component"]
    assert check_ical("BEGIN:VEVENT" + event_only).errors == ["expected a VCALENDAR, got VEVENT"]


def test_missing_debian_python_names_the_packages(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ical_check, "DEBIAN_PYTHON", Path("/nonexistent/python3"))

    with pytest.raises(IcalCheckUnavailable, match="apt-get install -y python3-gi gir1.2-ical-3.0"):
        check_ical("BEGIN:VCALENDAR\r\nEND:VCALENDAR\r\n")


def test_an_interpreter_without_gi_names_the_packages(monkeypatch: pytest.MonkeyPatch) -> None:
    # The project's virtualenv has no `gi`: the child reports it instead of a traceback.
    monkeypatch.setattr(ical_check, "DEBIAN_PYTHON", Path(sys.executable))

    with pytest.raises(IcalCheckUnavailable, match="gir1.2-ical-3.0"):
        check_ical("BEGIN:VCALENDAR\r\nEND:VCALENDAR\r\n")
