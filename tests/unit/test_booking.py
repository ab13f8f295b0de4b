"""Validation of create/reschedule input: every refusal names the field and the reason."""

from datetime import UTC, datetime, timedelta

import pytest

from shared.domain.booking import (
    ID_PATTERN,
    BookingLimits,
    clean_text,
    new_interview_id,
    overlaps,
    parse_instant,
    valid_id,
)
from shared.domain.errors import InvalidInput, RuleViolation
from shared.domain.models import InterviewType
from shared.services.interviews.requests import parse_booking, parse_start

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
LIMITS = BookingLimits(min_duration=15, max_duration=480, default_duration=60, horizon_days=365)


def body(**changes):
    return {
        "candidate": {"email": "gus@example.com", "name": "Gus"},
        "job_title": "Engineer",
        "date": "2026-06-10",
        "time": "14:30",
        "timezone": "Europe/Berlin",
        "interview_type": "google_meet",
    } | changes


def test_the_seeds_shape():
    booking = parse_booking(body(note="Bring a laptop"), now=NOW, limits=LIMITS)
    assert booking.start == datetime(2026, 6, 10, 12, 30, tzinfo=UTC)
    assert (booking.timezone, booking.duration_minutes, booking.type, booking.confirm) == (
        "Europe/Berlin",
        60,
        InterviewType.GOOGLE_MEET,
        True,
    )
    assert booking.candidate.email == "gus@example.com" and booking.note == "Bring a laptop"


def test_an_rfc3339_start_with_the_booking_zone():
    booking = parse_booking(
        body(date=None, time=None, start="2026-06-10T08:30:00-04:00", timezone="America/New_York"), now=NOW, limits=LIMITS
    )
    assert booking.start == datetime(2026, 6, 10, 12, 30, tzinfo=UTC)


@pytest.mark.parametrize(
    ("changes", "code", "field"),
    [
        ({"timezone": "Mars/Base"}, "unknown_time_zone", None),
        ({"date": "2026-03-08", "time": "02:30", "timezone": "America/New_York"}, "nonexistent_local_time", None),
        ({"date": "2026-11-01", "time": "01:30", "timezone": "America/New_York"}, "ambiguous_local_time", None),
        ({"date": "2026-05-01"}, "start_in_past", "start"),
        ({"date": "2028-01-01"}, "beyond_booking_horizon", "start"),
        ({"duration_minutes": 5}, "duration_out_of_range", "duration_minutes"),
        ({"duration_minutes": 600}, "duration_out_of_range", "duration_minutes"),
        ({"candidate": {"email": "not-an-email", "name": "x"}}, "invalid_email", "candidate.email"),
        ({"candidate": {"email": "a@b", "name": "x"}}, "invalid_email", "candidate.email"),
        ({"candidate": None}, "missing_field", "candidate"),
        ({"job_title": "x" * 201}, "field_too_long", "job_title"),
        ({"note": "n" * 2001}, "field_too_long", "note"),
        ({"interview_type": "carrier_pigeon"}, "invalid_interview_type", "interview_type"),
        ({"interview_type": "in_person"}, "missing_field", "location"),
        ({"interview_type": "phone", "phone": "call me"}, "invalid_phone", "phone"),
        ({"interview_type": "custom_video", "video_url": "http://insecure.example"}, "invalid_video_url", "video_url"),
        ({"date": "10/06/2026"}, "invalid_date", "date"),
        ({"time": "2:30pm"}, "invalid_time", "time"),
        ({"booking": "maybe"}, "invalid_field", "booking"),
        ({"job_title": "bad\x00title"}, "invalid_field", "job_title"),
    ],
)
def test_refusals_say_why(changes, code, field):
    with pytest.raises(RuleViolation) as excinfo:
        parse_booking(body(**changes), now=NOW, limits=LIMITS)
    assert excinfo.value.code == code
    if field:
        assert excinfo.value.details.get("field") == field


def test_dst_refusals_explain_the_clock_change():
    with pytest.raises(RuleViolation, match="does not exist"):
        parse_booking(
            body(date="2026-03-08", time="02:30", timezone="America/New_York"),
            now=datetime(2026, 1, 1, tzinfo=UTC),
            limits=LIMITS,
        )
    with pytest.raises(RuleViolation, match="happens twice"):
        parse_booking(body(date="2026-11-01", time="01:30", timezone="America/New_York"), now=NOW, limits=LIMITS)


@pytest.mark.parametrize(
    "changes", [{"candidate": "gus@example.com"}, {"duration_minutes": "60"}, {"duration_minutes": True}, {"job_title": 42}]
)
def test_wrong_types_are_bad_requests(changes):
    with pytest.raises(InvalidInput):
        parse_booking(body(**changes), now=NOW, limits=LIMITS)


def test_request_bookings_and_types_with_their_details():
    assert parse_booking(body(booking="request"), now=NOW, limits=LIMITS).confirm is False
    phone = parse_booking(body(interview_type="phone", phone="+49 30 1234567"), now=NOW, limits=LIMITS)
    assert phone.phone == "+49 30 1234567"
    video = parse_booking(body(interview_type="custom_video", video_url="https://zoom.example/j/1"), now=NOW, limits=LIMITS)
    assert video.video_url == "https://zoom.example/j/1"


def test_interview_ids_are_calendar_event_ids_and_stable_per_seed():
    for _ in range(50):
        iid = new_interview_id()
        assert len(iid) == 26 and set(iid) <= set("0123456789abcdefghijklmnopqrstuv")
    assert new_interview_id(b"k" * 32) == new_interview_id(b"k" * 32) != new_interview_id(b"j" * 32)


def test_overlap_is_half_open():
    t = datetime(2026, 6, 1, 10, tzinfo=UTC)
    hour = timedelta(hours=1)
    assert overlaps(t, t + hour, t + timedelta(minutes=30), t + 2 * hour)
    assert not overlaps(t, t + hour, t + hour, t + 2 * hour)  # back to back
    assert overlaps(t, t + 2 * hour, t + timedelta(minutes=10), t + timedelta(minutes=20))  # inside


# --- start beside date / time (issue 9, item 8) -------------------------------------------------


def test_start_with_agreeing_date_and_time():
    booking = parse_booking(body(start="2026-06-10T14:30:00+02:00"), now=NOW, limits=LIMITS)
    assert booking.start == datetime(2026, 6, 10, 12, 30, tzinfo=UTC)
    assert parse_start({"start": "2026-06-10T12:30:00Z", "time": "14:30:00", "timezone": "Europe/Berlin"})[0] == booking.start
    assert parse_start({"start": "2026-06-10T12:30:00Z", "date": "2026-06-10"}, "Europe/Berlin")[0] == booking.start


@pytest.mark.parametrize(
    ("changes", "fields"),
    [
        ({"time": "14:31"}, ["start", "time"]),
        ({"date": "2026-06-11"}, ["start", "date"]),
        ({"date": "2026-06-11", "time": "08:00"}, ["start", "date", "time"]),
        ({"time": "12:30", "timezone": "Europe/Berlin"}, ["start", "time"]),  # the UTC reading is not the local one
    ],
)
def test_start_with_disagreeing_date_or_time(changes, fields):
    with pytest.raises(RuleViolation) as excinfo:
        parse_booking(body(start="2026-06-10T14:30:00+02:00") | changes, now=NOW, limits=LIMITS)
    assert (excinfo.value.code, excinfo.value.details["fields"]) == ("conflicting_fields", fields)


def test_a_malformed_date_or_time_beside_start_is_still_malformed():
    with pytest.raises(RuleViolation) as excinfo:
        parse_booking(body(start="2026-06-10T14:30:00+02:00", time="2:30pm"), now=NOW, limits=LIMITS)
    assert excinfo.value.code == "invalid_time"


# --- one text rule (issue 9, item 8) ------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("a\r\nb", "a\nb"),
        ("a\rb", "a\nb"),
        ("a\nb", "a\nb"),
        ("a\u2028b\u2029c", "a\nb\nc"),
        ("a\tb", "a\tb"),
        ("  \r\n  padded \r\n", "padded"),
    ],
)
def test_multi_line_text_normalizes_line_breaks_to_lf(value, expected):
    assert clean_text(value, "note", 100, multi_line=True) == expected


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ("a\nb", "line_break"),
        ("a\r\nb", "line_break"),
        ("a\rb", "line_break"),
        ("a\u2028b", "line_break"),
        ("a\u2029b", "line_break"),
        ("a\tb", "control_character"),
        ("a\x00b", "control_character"),
        ("a\x1bb", "control_character"),
        ("a\x7fb", "control_character"),
        ("a\x85b", "control_character"),
        ("a\x9fb", "control_character"),
        ("a\ud800b", "invalid_unicode"),
    ],
)
def test_single_line_text_refuses_breaks_and_controls(value, reason):
    with pytest.raises(RuleViolation) as excinfo:
        clean_text(value, "job_title", 100)
    assert (excinfo.value.code, excinfo.value.details) == ("invalid_field", {"field": "job_title", "reason": reason})


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ("a\x00b", "control_character"),
        ("a\x0bb", "control_character"),
        ("a\x85b", "control_character"),
        ("a\udfffb", "invalid_unicode"),
    ],
)
def test_multi_line_text_still_refuses_other_controls(value, reason):
    with pytest.raises(RuleViolation) as excinfo:
        clean_text(value, "note", 100, multi_line=True)
    assert excinfo.value.details == {"field": "note", "reason": reason}


def test_lengths_count_after_normalization():
    assert clean_text("x\r\n" * 10, "note", 19, multi_line=True) == "x\n" * 9 + "x"
    with pytest.raises(RuleViolation):
        clean_text("é" * 201, "job_title", 200)


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"job_title": "Lead\nEngineer"}, "job_title"),
        ({"candidate": {"email": "gus@example.com", "name": "Gus\r\nG"}}, "candidate.name"),
        ({"interview_type": "in_person", "location": "Room 1\nFloor 2"}, "location"),
        ({"interview_type": "phone", "phone": "+49 30\n1234567"}, "phone"),
    ],
)
def test_every_single_line_field_of_a_booking(changes, field):
    with pytest.raises(RuleViolation) as excinfo:
        parse_booking(body(**changes), now=NOW, limits=LIMITS)
    assert excinfo.value.details == {"field": field, "reason": "line_break"}


def test_a_note_of_a_booking_keeps_lines():
    assert parse_booking(body(note="one\r\ntwo"), now=NOW, limits=LIMITS).note == "one\ntwo"


# --- ids and instants (issue 9, item 3) ---------------------------------------------------------


def test_the_id_rule_is_the_paths_id_rule():
    from shared.http import ID_PATTERN as PATH_ID_PATTERN

    assert ID_PATTERN == PATH_ID_PATTERN


@pytest.mark.parametrize("value", ["a/b", "../x", "__x__", "__reserved__", "", "x" * 129, ".", "..", "a b", "ü", 42, None])
def test_ids_that_are_not_ids(value):
    with pytest.raises(InvalidInput) as excinfo:
        valid_id(value, "host_uid")
    assert excinfo.value.details == {"field": "host_uid"}


@pytest.mark.parametrize("value", ["uid-hana", "__x", "x__", "__", "_", "A" * 128, "a_b-c"])
def test_ids(value):
    assert valid_id(value, "host_uid") == value


@pytest.mark.parametrize(
    ("changes", "field"), [({"candidate_id": "a/b", "candidate": None}, "candidate_id"), ({"host_uid": "__x__"}, "host_uid")]
)
def test_ids_in_a_booking(changes, field):
    with pytest.raises(InvalidInput) as excinfo:
        parse_booking(body(**changes), now=NOW, limits=LIMITS)
    assert excinfo.value.details == {"field": field}


@pytest.mark.parametrize("value", ["0001-01-01T00:00:00+14:00", "9999-12-31T23:59:59-12:00", "soon", "2026-06-10T10:00:00"])
def test_instants_outside_the_calendar_or_malformed_name_their_field(value):
    with pytest.raises(RuleViolation) as excinfo:
        parse_instant(value, "from")
    assert (excinfo.value.code, excinfo.value.details["field"]) == ("invalid_timestamp", "from")


@pytest.mark.parametrize(
    ("changes", "code"),
    [
        ({"date": None, "time": None, "start": "0001-01-01T00:00:00+14:00"}, "invalid_timestamp"),
        ({"date": "9999-12-31", "start": "9999-12-31T23:00:00Z", "timezone": "Asia/Tokyo"}, "invalid_timestamp"),
        ({"date": "0001-01-01", "time": "00:00"}, "invalid_date"),
        ({"date": "9999-12-31", "time": "23:59", "timezone": "America/New_York"}, "invalid_date"),
        ({"date": "２０２６-06-10"}, "invalid_date"),
    ],
)
def test_dates_at_the_edges_of_the_calendar(changes, code):
    with pytest.raises(RuleViolation) as excinfo:
        parse_booking(body(**changes), now=NOW, limits=LIMITS)
    assert excinfo.value.code == code
