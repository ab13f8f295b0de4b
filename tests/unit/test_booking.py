"""Validation of create/reschedule input: every refusal names the field and the reason."""

from datetime import datetime, timedelta, timezone

import pytest

from shared.domain.booking import BookingLimits, new_interview_id, overlaps, parse_booking
from shared.domain.models import InterviewType
from shared.errors import BadRequest, Unprocessable

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=timezone.utc)
LIMITS = BookingLimits(min_duration=15, max_duration=480, default_duration=60, horizon_days=365)


def body(**changes):
    return {"candidate": {"email": "gus@example.com", "name": "Gus"}, "job_title": "Engineer", "date": "2026-06-10",
            "time": "14:30", "timezone": "Europe/Berlin", "interview_type": "google_meet"} | changes


def test_the_seeds_shape():
    booking = parse_booking(body(note="Bring a laptop"), now=NOW, limits=LIMITS)
    assert booking.start == datetime(2026, 6, 10, 12, 30, tzinfo=timezone.utc)
    assert (booking.timezone, booking.duration_minutes, booking.type, booking.confirm) == ("Europe/Berlin", 60, InterviewType.GOOGLE_MEET, True)
    assert booking.candidate.email == "gus@example.com" and booking.note == "Bring a laptop"


def test_an_rfc3339_start_with_the_booking_zone():
    booking = parse_booking(body(date=None, time=None, start="2026-06-10T08:30:00-04:00", timezone="America/New_York"),
                            now=NOW, limits=LIMITS)
    assert booking.start == datetime(2026, 6, 10, 12, 30, tzinfo=timezone.utc)


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
    with pytest.raises(Unprocessable) as excinfo:
        parse_booking(body(**changes), now=NOW, limits=LIMITS)
    assert excinfo.value.code == code
    if field:
        assert excinfo.value.details.get("field") == field


def test_dst_refusals_explain_the_clock_change():
    with pytest.raises(Unprocessable, match="does not exist"):
        parse_booking(body(date="2026-03-08", time="02:30", timezone="America/New_York"), now=datetime(2026, 1, 1, tzinfo=timezone.utc), limits=LIMITS)
    with pytest.raises(Unprocessable, match="happens twice"):
        parse_booking(body(date="2026-11-01", time="01:30", timezone="America/New_York"), now=NOW, limits=LIMITS)


@pytest.mark.parametrize("changes", [{"candidate": "gus@example.com"}, {"duration_minutes": "60"}, {"duration_minutes": True},
                                     {"job_title": 42}])
def test_wrong_types_are_bad_requests(changes):
    with pytest.raises(BadRequest):
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
    t = datetime(2026, 6, 1, 10, tzinfo=timezone.utc)
    hour = timedelta(hours=1)
    assert overlaps(t, t + hour, t + timedelta(minutes=30), t + 2 * hour)
    assert not overlaps(t, t + hour, t + hour, t + 2 * hour)  # back to back
    assert overlaps(t, t + 2 * hour, t + timedelta(minutes=10), t + timedelta(minutes=20))  # inside
