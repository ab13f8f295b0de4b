"""Scheduling configurations from JSON: every rule names its field, view → parse round-trips, PATCH merges."""

from datetime import UTC, datetime

import pytest

from shared.domain.booking import BookingLimits
from shared.domain.errors import InvalidInput, RuleViolation
from shared.domain.models import InterviewType
from shared.domain.scheduling import (
    BookingMode,
    SchedulingConfig,
    WorkingRange,
    config_view,
    merge_patch,
    parse_config,
)
from shared.errors import from_domain

LIMITS = BookingLimits(min_duration=15, max_duration=480, default_duration=60, horizon_days=365)
IDS = {"config_id": "cfg-1", "workspace_id": "ws-1", "host_uid": "uid-host"}


def body(**changes):
    return {
        "name": "30-minute screening",
        "timezone": "Europe/Berlin",
        "calendar_ids": ["primary", "team@group.calendar.google.com"],
        "duration_minutes": 30,
        "working_hours": {
            "monday": [{"start": "09:00", "end": "12:00"}, {"start": "13:00", "end": "17:00"}],
            "wednesday": [{"start": "10:00", "end": "24:00"}],
        },
    } | changes


def parse(b):
    return parse_config(b, limits=LIMITS, **IDS)


def test_a_minimal_configuration_with_its_defaults():
    config = parse(body())
    assert config == SchedulingConfig(
        id="cfg-1",
        workspace_id="ws-1",
        host_uid="uid-host",
        name="30-minute screening",
        timezone="Europe/Berlin",
        calendar_ids=("primary", "team@group.calendar.google.com"),
        duration_minutes=30,
        working_hours={0: (WorkingRange(540, 720), WorkingRange(780, 1020)), 2: (WorkingRange(600, 1440),)},
        slot_step_minutes=30,  # the duration
        workdays=(0, 2),  # the days with ranges
    )
    assert (config.buffer_before_minutes, config.buffer_after_minutes, config.minimum_notice_minutes) == (0, 0, 0)
    assert (config.days_ahead, config.interview_type, config.booking_mode, config.daily_cap) == (
        30,
        InterviewType.GOOGLE_MEET,
        BookingMode.DIRECT,
        None,
    )
    assert config.active_weekdays == {0, 2}


def test_every_field_given():
    config = parse(
        body(
            name="  Mentoring  ",
            buffer_before_minutes=10,
            buffer_after_minutes=240,
            minimum_notice_minutes=43200,
            days_ahead=60,
            workdays=["wednesday"],
            slot_step_minutes=5,
            interview_type="in_person",
            location="Room 4, Alexanderplatz 1",
            booking_mode="request",
            daily_cap=100,
            duration_minutes=480,
        )
    )
    assert config.name == "Mentoring"
    assert (config.buffer_before_minutes, config.buffer_after_minutes, config.minimum_notice_minutes) == (10, 240, 43200)
    assert (config.days_ahead, config.slot_step_minutes, config.duration_minutes, config.daily_cap) == (60, 5, 480, 100)
    assert config.workdays == (2,) and config.active_weekdays == {2}
    assert 0 in config.working_hours  # Monday keeps its ranges, but is off
    assert (config.interview_type, config.location, config.booking_mode) == (
        InterviewType.IN_PERSON,
        "Room 4, Alexanderplatz 1",
        BookingMode.REQUEST,
    )


def test_the_default_step_is_the_duration_within_its_bounds():
    assert parse(body(duration_minutes=45)).slot_step_minutes == 45
    wide = BookingLimits(min_duration=1, max_duration=1440)
    assert parse_config(body(duration_minutes=600), limits=wide, **IDS).slot_step_minutes == 480
    assert parse_config(body(duration_minutes=2), limits=wide, **IDS).slot_step_minutes == 5


def test_ranges_are_sorted_and_touching_ranges_are_allowed():
    config = parse(
        body(working_hours={"friday": [{"start": "13:00", "end": "17:00"}, {"start": "09:00", "end": "13:00"}], "sunday": []})
    )
    assert config.working_hours == {4: (WorkingRange(540, 780), WorkingRange(780, 1020))}
    assert config.workdays == (4,)


def test_a_day_may_have_twelve_ranges():
    ranges = [{"start": f"{h:02d}:00", "end": f"{h:02d}:30"} for h in range(8, 20)]
    assert len(parse(body(working_hours={"tuesday": ranges})).working_hours[1]) == 12


@pytest.mark.parametrize(
    ("changes", "code", "field"),
    [
        ({"name": None}, "missing_field", "name"),
        ({"name": "   "}, "missing_field", "name"),
        ({"name": "n" * 101}, "field_too_long", "name"),
        ({"name": "two\nlines"}, "invalid_field", "name"),
        ({"name": "bell\x07"}, "invalid_field", "name"),
        ({"timezone": "Mars/Olympus_Mons"}, "unknown_time_zone", "timezone"),
        ({"timezone": "../etc/passwd"}, "unknown_time_zone", "timezone"),
        ({"timezone": None}, "missing_field", "timezone"),
        ({"calendar_ids": []}, "missing_field", "calendar_ids"),
        ({"calendar_ids": None}, "missing_field", "calendar_ids"),
        ({"calendar_ids": [f"c{i}" for i in range(21)]}, "invalid_field", "calendar_ids"),
        ({"calendar_ids": ["primary", " "]}, "invalid_field", "calendar_ids[1]"),
        ({"calendar_ids": ["primary", "x", "primary"]}, "invalid_field", "calendar_ids[2]"),
        ({"calendar_ids": ["c" * 256]}, "field_too_long", "calendar_ids[0]"),
        ({"duration_minutes": None}, "missing_field", "duration_minutes"),
        ({"duration_minutes": 10}, "duration_out_of_range", "duration_minutes"),
        ({"duration_minutes": 481}, "duration_out_of_range", "duration_minutes"),
        ({"buffer_before_minutes": -1}, "invalid_field", "buffer_before_minutes"),
        ({"buffer_after_minutes": 241}, "invalid_field", "buffer_after_minutes"),
        ({"minimum_notice_minutes": 43201}, "invalid_field", "minimum_notice_minutes"),
        ({"days_ahead": 0}, "invalid_field", "days_ahead"),
        ({"days_ahead": 61}, "invalid_field", "days_ahead"),
        ({"slot_step_minutes": 4}, "invalid_field", "slot_step_minutes"),
        ({"slot_step_minutes": 481}, "invalid_field", "slot_step_minutes"),
        ({"daily_cap": 0}, "invalid_field", "daily_cap"),
        ({"daily_cap": 101}, "invalid_field", "daily_cap"),
        ({"interview_type": "carrier_pigeon"}, "invalid_interview_type", "interview_type"),
        ({"interview_type": "in_person"}, "missing_field", "location"),
        ({"interview_type": "phone"}, "invalid_phone", "phone"),
        ({"interview_type": "phone", "phone": "call me"}, "invalid_phone", "phone"),
        ({"interview_type": "custom_video"}, "invalid_video_url", "video_url"),
        ({"interview_type": "custom_video", "video_url": "http://insecure.example"}, "invalid_video_url", "video_url"),
        ({"location": "l" * 501}, "field_too_long", "location"),
        ({"booking_mode": "maybe"}, "invalid_field", "booking_mode"),
        ({"working_hours": None}, "missing_field", "working_hours"),
        ({"working_hours": {}}, "invalid_field", "working_hours"),
        ({"working_hours": {"monday": []}}, "invalid_field", "working_hours"),
        ({"working_hours": {"funday": [{"start": "09:00", "end": "10:00"}]}}, "invalid_field", "working_hours.funday"),
        ({"working_hours": {"Monday": [{"start": "09:00", "end": "10:00"}]}}, "invalid_field", "working_hours.Monday"),
        ({"working_hours": {"monday": [{"start": "9:00", "end": "10:00"}]}}, "invalid_time", "working_hours.monday[0].start"),
        ({"working_hours": {"monday": [{"start": "24:00", "end": "24:00"}]}}, "invalid_time", "working_hours.monday[0].start"),
        ({"working_hours": {"monday": [{"start": "09:00", "end": "24:01"}]}}, "invalid_time", "working_hours.monday[0].end"),
        ({"working_hours": {"monday": [{"start": "09:00", "end": "25:00"}]}}, "invalid_time", "working_hours.monday[0].end"),
        ({"working_hours": {"monday": [{"start": "09:00", "end": "10:60"}]}}, "invalid_time", "working_hours.monday[0].end"),
        ({"working_hours": {"monday": [{"start": "09:00"}]}}, "missing_field", "working_hours.monday[0].end"),
        ({"working_hours": {"monday": [{"start": "10:00", "end": "10:00"}]}}, "invalid_field", "working_hours.monday[0]"),
        ({"working_hours": {"monday": [{"start": "11:00", "end": "10:00"}]}}, "invalid_field", "working_hours.monday[0]"),
        (
            {"working_hours": {"monday": [{"start": "09:00", "end": "12:00"}, {"start": "11:59", "end": "17:00"}]}},
            "invalid_field",
            "working_hours.monday[1]",
        ),
        (
            # given out of order: the one that starts later is named
            {"working_hours": {"monday": [{"start": "13:00", "end": "17:00"}, {"start": "09:00", "end": "13:30"}]}},
            "invalid_field",
            "working_hours.monday[0]",
        ),
        (
            {"working_hours": {"monday": [{"start": "09:00", "end": "17:00"}, {"start": "10:00", "end": "11:00"}]}},
            "invalid_field",
            "working_hours.monday[1]",
        ),
        (
            {"working_hours": {"monday": [{"start": f"{h:02d}:00", "end": f"{h:02d}:30"} for h in range(8, 21)]}},
            "invalid_field",
            "working_hours.monday",
        ),
        ({"workdays": []}, "invalid_field", "workdays"),
        ({"workdays": ["monday", "tuesday"]}, "invalid_field", "workdays[1]"),
        ({"workdays": ["monday", "someday"]}, "invalid_field", "workdays[1]"),
        ({"workdays": ["monday", "monday"]}, "invalid_field", "workdays[1]"),
    ],
)
def test_refusals_name_the_field_and_are_422(changes, code, field):
    with pytest.raises(RuleViolation) as excinfo:
        parse(body(**changes))
    assert (excinfo.value.code, excinfo.value.details.get("field")) == (code, field)
    assert from_domain(excinfo.value).status == 422


@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        (
            {"working_hours": {"monday": [{"start": "09:00", "end": "12:00"}, {"start": "11:00", "end": "13:00"}]}},
            "overlapping_ranges",
        ),
        ({"working_hours": {"tuesday": [{"start": "09:00", "end": "09:00"}]}}, "end_not_after_start"),
        ({"working_hours": {"caturday": []}}, "unknown_weekday"),
        ({"workdays": ["friday"]}, "workday_without_hours"),
        ({"calendar_ids": ["a", "a"]}, "duplicate"),
        ({"days_ahead": 90}, "out_of_range"),
    ],
)
def test_refusals_give_the_reason(changes, reason):
    with pytest.raises(RuleViolation) as excinfo:
        parse(body(**changes))
    assert excinfo.value.details["reason"] == reason


def test_an_overlap_names_both_ranges():
    with pytest.raises(RuleViolation, match="overlaps") as excinfo:
        parse(body(working_hours={"monday": [{"start": "09:00", "end": "12:00"}, {"start": "11:00", "end": "13:00"}]}))
    assert excinfo.value.details["overlaps"] == "working_hours.monday[0]"


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"surprise": 1}, "surprise"),
        ({"id": "cfg-2"}, "id"),
        ({"name": 42}, "name"),
        ({"timezone": ["Europe/Berlin"]}, "timezone"),
        ({"calendar_ids": "primary"}, "calendar_ids"),
        ({"calendar_ids": ["primary", 7]}, "calendar_ids[1]"),
        ({"duration_minutes": "30"}, "duration_minutes"),
        ({"duration_minutes": 30.0}, "duration_minutes"),
        ({"duration_minutes": True}, "duration_minutes"),
        ({"buffer_before_minutes": "10"}, "buffer_before_minutes"),
        ({"daily_cap": False}, "daily_cap"),
        ({"working_hours": [{"start": "09:00", "end": "10:00"}]}, "working_hours"),
        ({"working_hours": {"monday": {"start": "09:00", "end": "10:00"}}}, "working_hours.monday"),
        ({"working_hours": {"monday": ["09:00-10:00"]}}, "working_hours.monday[0]"),
        ({"working_hours": {"monday": [{"start": 900, "end": "10:00"}]}}, "working_hours.monday[0].start"),
        ({"working_hours": {"monday": [{"start": "09:00", "end": "10:00", "tz": "UTC"}]}}, "working_hours.monday[0].tz"),
        ({"workdays": "monday"}, "workdays"),
        ({"workdays": [0]}, "workdays[0]"),
        ({"interview_type": 1}, "interview_type"),
        ({"booking_mode": True}, "booking_mode"),
    ],
)
def test_wrong_types_and_unknown_fields_are_bad_requests(changes, field):
    with pytest.raises(InvalidInput) as excinfo:
        parse(body(**changes))
    assert excinfo.value.details["field"] == field
    assert from_domain(excinfo.value).status == 400


def test_a_body_that_is_not_an_object_is_a_bad_request():
    with pytest.raises(InvalidInput):
        parse([("name", "x")])


def test_phone_and_video_configurations():
    phone = parse(body(interview_type="phone", phone="+49 30 1234567"))
    assert (phone.interview_type, phone.phone) == (InterviewType.PHONE, "+49 30 1234567")
    video = parse(body(interview_type="custom_video", video_url="https://zoom.example/j/1"))
    assert video.video_url == "https://zoom.example/j/1"
    assert parse(body(location="")).location is None


# --- view → parse ----------------------------------------------------------------------------


def test_the_view_is_the_json_shape():
    view = config_view(parse(body(workdays=["monday"], daily_cap=3)))
    assert view["working_hours"] == {
        "monday": [{"start": "09:00", "end": "12:00"}, {"start": "13:00", "end": "17:00"}],
        "tuesday": [],
        "wednesday": [{"start": "10:00", "end": "24:00"}],
        "thursday": [],
        "friday": [],
        "saturday": [],
        "sunday": [],
    }
    assert view["workdays"] == ["monday"]
    assert (view["interview_type"], view["booking_mode"], view["daily_cap"], view["slot_step_minutes"]) == (
        "google_meet",
        "direct",
        3,
        30,
    )


@pytest.mark.parametrize(
    "changes",
    [
        {},
        {"workdays": ["wednesday"], "daily_cap": 2, "booking_mode": "request", "slot_step_minutes": 15},
        {"interview_type": "in_person", "location": "HQ", "buffer_before_minutes": 15, "buffer_after_minutes": 5},
        {"interview_type": "phone", "phone": "+1 (212) 555-0100", "minimum_notice_minutes": 120, "days_ahead": 14},
        {"interview_type": "custom_video", "video_url": "https://zoom.example/j/1", "timezone": "Australia/Lord_Howe"},
        {"working_hours": {"sunday": [{"start": "00:00", "end": "24:00"}]}},
    ],
)
def test_view_then_parse_gives_an_equal_configuration(changes):
    config = parse(body(**changes))
    assert parse(config_view(config)) == config


def test_a_configuration_built_without_workdays_views_the_days_with_ranges():
    config = SchedulingConfig(
        id="cfg-1",
        workspace_id="ws-1",
        host_uid="uid-host",
        name="Direct",
        timezone="UTC",
        calendar_ids=("primary",),
        duration_minutes=30,
        working_hours={1: (WorkingRange(540, 600),), 3: ()},
        slot_step_minutes=30,
    )
    assert config.active_weekdays == {1}
    assert config_view(config)["workdays"] == ["tuesday"]
    assert parse(config_view(config)).working_hours == {1: (WorkingRange(540, 600),)}


# --- PATCH -------------------------------------------------------------------------------------

CREATED = datetime(2026, 6, 1, 9, 0, tzinfo=UTC)


def existing(**changes):
    return parse_config(body(**changes), limits=LIMITS, created_at=CREATED, updated_at=CREATED, **IDS)


def test_a_patch_replaces_the_fields_it_names_and_keeps_the_rest():
    before = existing(buffer_before_minutes=10, daily_cap=4)
    after = merge_patch(before, {"name": "Renamed", "daily_cap": None, "calendar_ids": ["primary"]}, limits=LIMITS)
    assert (after.name, after.daily_cap, after.calendar_ids) == ("Renamed", None, ("primary",))
    assert (after.buffer_before_minutes, after.working_hours, after.timezone) == (10, before.working_hours, "Europe/Berlin")
    assert (after.id, after.workspace_id, after.host_uid, after.created_at, after.updated_at) == (
        "cfg-1",
        "ws-1",
        "uid-host",
        CREATED,
        CREATED,
    )


def test_an_empty_patch_changes_nothing():
    before = existing(workdays=["monday"], slot_step_minutes=10)
    assert merge_patch(before, {}, limits=LIMITS) == before


def test_a_patch_replaces_working_hours_as_a_whole():
    after = merge_patch(existing(), {"working_hours": {"friday": [{"start": "08:00", "end": "09:00"}]}}, limits=LIMITS)
    assert after.working_hours == {4: (WorkingRange(480, 540),)}
    assert after.workdays == (4,)  # the default workdays follow the new hours


def test_explicit_workdays_are_kept_and_checked_against_new_hours():
    before = existing(workdays=["monday"])
    with pytest.raises(RuleViolation) as excinfo:
        merge_patch(before, {"working_hours": {"friday": [{"start": "08:00", "end": "09:00"}]}}, limits=LIMITS)
    assert excinfo.value.details["field"] == "workdays[0]"
    after = merge_patch(
        before, {"working_hours": {"friday": [{"start": "08:00", "end": "09:00"}]}, "workdays": None}, limits=LIMITS
    )
    assert after.workdays == (4,)


def test_a_default_step_follows_the_duration_an_explicit_one_stays():
    assert merge_patch(existing(), {"duration_minutes": 45}, limits=LIMITS).slot_step_minutes == 45
    assert merge_patch(existing(slot_step_minutes=15), {"duration_minutes": 45}, limits=LIMITS).slot_step_minutes == 15


def test_a_patch_is_validated_as_a_whole():
    with pytest.raises(RuleViolation) as excinfo:
        merge_patch(existing(), {"interview_type": "in_person"}, limits=LIMITS)
    assert excinfo.value.details["field"] == "location"
    with pytest.raises(RuleViolation) as excinfo:
        merge_patch(existing(), {"name": None}, limits=LIMITS)
    assert (excinfo.value.code, excinfo.value.details["field"]) == ("missing_field", "name")
    with pytest.raises(InvalidInput) as bad:
        merge_patch(existing(), {"nmae": "typo"}, limits=LIMITS)
    assert bad.value.details["field"] == "nmae"
    with pytest.raises(InvalidInput):
        merge_patch(existing(), ["name"], limits=LIMITS)  # type: ignore[arg-type]


def test_a_patch_may_clear_an_optional_field_back_to_its_default():
    after = merge_patch(
        existing(buffer_after_minutes=30, booking_mode="request"),
        {"buffer_after_minutes": None, "booking_mode": None},
        limits=LIMITS,
    )
    assert (after.buffer_after_minutes, after.booking_mode) == (0, BookingMode.DIRECT)
