"""Free slots (shared.domain.slots): exact instants across DST gaps and folds, buffers, notice, caps.

Dates of 2026 used here: New York springs forward on Sunday 8 March (02:00 → 03:00, a 23-hour
day) and falls back on Sunday 1 November (02:00 → 01:00, 25 hours); Berlin on 29 March
(02:00 → 03:00) and 25 October (03:00 → 02:00); Lord Howe shifts by 30 minutes, back on
5 April (02:00 → 01:30) and forward on 4 October (02:00 → 02:30); Santiago's midnight does
not exist on 6 September (00:00 → 01:00) and its Saturday 4 April lasts 25 hours (24:00 →
23:00); Kathmandu is +05:45 all year. 1 June 2026 is a Monday.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from shared.domain.errors import RuleViolation
from shared.domain.models import BookingOrigin, Interview, InterviewStatus, InterviewType, Person
from shared.domain.scheduling import WEEKDAYS, SchedulingConfig, WorkingRange
from shared.domain.slots import Booked, Interval, Slot, booked, busy_query_window, free_slots, local_date_window

PROPERTIES = settings(
    max_examples=200,
    deadline=None,
    derandomize=True,
    database=None,
    phases=(Phase.explicit, Phase.generate),
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
MINUTE = timedelta(minutes=1)


def hm(text: str) -> int:
    return int(text[:2]) * 60 + int(text[3:])


def cfg(tz: str = "UTC", hours: dict[str, str] | None = None, **changes: object) -> SchedulingConfig:
    """A configuration; ``hours`` maps weekday names to "09:00-12:00,13:00-17:00"."""
    hours = hours if hours is not None else {day: "09:00-12:00" for day in WEEKDAYS[:5]}
    working_hours = {
        WEEKDAYS.index(day): tuple(sorted(WorkingRange(hm(r[:5]), hm(r[6:])) for r in ranges.split(",")))
        for day, ranges in hours.items()
    }
    fields: dict[str, object] = {
        "id": "cfg",
        "workspace_id": "ws",
        "host_uid": "host",
        "name": "Screening",
        "timezone": tz,
        "calendar_ids": ("primary",),
        "duration_minutes": 30,
        "working_hours": working_hours,
        "slot_step_minutes": 30,
        "days_ahead": 60,
    } | changes
    return SchedulingConfig(**fields)  # type: ignore[arg-type]


def at(tz: str, text: str, fold: int = 0) -> datetime:
    """A wall time in ``tz`` ("2026-06-01 09:00") as a UTC instant; ``fold=1`` for the second of a repeated time."""
    return datetime.fromisoformat(text).replace(tzinfo=ZoneInfo(tz), fold=fold).astimezone(UTC)


def walls(slots: list[Slot], tz: str) -> list[str]:
    """Slot starts as local wall times with their offset, e.g. "01:30-04:00"."""
    return [
        s.start.astimezone(ZoneInfo(tz)).strftime("%H:%M%z")[:-2] + ":" + s.start.astimezone(ZoneInfo(tz)).strftime("%z")[-2:]
        for s in slots
    ]


def hhmm(slots: list[Slot], tz: str) -> list[str]:
    return [s.start.astimezone(ZoneInfo(tz)).strftime("%H:%M") for s in slots]


def day_slots(config: SchedulingConfig, day: str, *, now: datetime | None = None, busy=(), bookings=()) -> list[Slot]:
    window = local_date_window(date.fromisoformat(day), config.timezone)
    return free_slots(
        config,
        window_start=window.start,
        window_end=window.end,
        now=now or window.start - timedelta(days=1),
        busy=list(busy),
        bookings=list(bookings),
    )


# --- the plain cases -------------------------------------------------------------------------


def test_a_plain_day():
    slots = day_slots(cfg(), "2026-06-01")
    assert hhmm(slots, "UTC") == ["09:00", "09:30", "10:00", "10:30", "11:00", "11:30"]
    assert all(s.end - s.start == timedelta(minutes=30) and s.start.tzinfo is UTC for s in slots)
    assert slots == sorted(slots)


def test_several_ranges_a_day():
    slots = day_slots(cfg(hours={"monday": "09:00-12:00,13:00-17:00"}, duration_minutes=60, slot_step_minutes=60), "2026-06-01")
    assert hhmm(slots, "UTC") == ["09:00", "10:00", "11:00", "13:00", "14:00", "15:00", "16:00"]


def test_a_step_shorter_than_the_duration_overlaps_slots():
    slots = day_slots(cfg(hours={"monday": "09:00-10:00"}, slot_step_minutes=15), "2026-06-01")
    assert hhmm(slots, "UTC") == ["09:00", "09:15", "09:30"]


def test_a_step_that_does_not_divide_the_range():
    slots = day_slots(cfg(hours={"monday": "09:00-10:00"}, duration_minutes=25, slot_step_minutes=20), "2026-06-01")
    assert hhmm(slots, "UTC") == ["09:00", "09:20"]


def test_the_grid_starts_at_each_range():
    slots = day_slots(cfg(hours={"monday": "09:10-10:00,10:20-11:00"}, duration_minutes=20, slot_step_minutes=20), "2026-06-01")
    assert hhmm(slots, "UTC") == ["09:10", "09:30", "10:20", "10:40"]


def test_touching_ranges_are_one_range():
    slots = day_slots(cfg(hours={"monday": "09:00-10:00,10:00-11:00"}, duration_minutes=45, slot_step_minutes=45), "2026-06-01")
    assert hhmm(slots, "UTC") == ["09:00", "09:45"]  # 09:45–10:30 spans the two


def test_a_range_ending_at_midnight():
    config = cfg(hours={"monday": "22:00-24:00"}, slot_step_minutes=30)
    assert hhmm(day_slots(config, "2026-06-01"), "UTC") == ["22:00", "22:30", "23:00", "23:30"]
    assert day_slots(config, "2026-06-01")[-1].end == datetime(2026, 6, 2, tzinfo=UTC)
    assert day_slots(config, "2026-06-02") == []


def test_consecutive_days_are_not_joined_at_midnight():
    config = cfg(hours={"monday": "23:00-24:00", "tuesday": "00:00-01:00"}, duration_minutes=60, slot_step_minutes=30)
    window = Interval(datetime(2026, 6, 1, tzinfo=UTC), datetime(2026, 6, 3, tzinfo=UTC))
    slots = free_slots(config, window_start=window.start, window_end=window.end, now=window.start - MINUTE, busy=[], bookings=[])
    assert [s.start for s in slots] == [datetime(2026, 6, 1, 23, tzinfo=UTC), datetime(2026, 6, 2, 0, tzinfo=UTC)]


def test_days_off_offer_nothing_even_with_ranges():
    config = cfg(hours={"monday": "09:00-10:00", "tuesday": "09:00-10:00"}, workdays=(1,))
    assert day_slots(config, "2026-06-01") == []
    assert hhmm(day_slots(config, "2026-06-02"), "UTC") == ["09:00", "09:30"]
    assert day_slots(config, "2026-06-06") == []  # Saturday: no ranges


# --- notice, horizon, cap --------------------------------------------------------------------


def test_minimum_notice_keeps_the_grid():
    config = cfg(minimum_notice_minutes=60)
    slots = day_slots(config, "2026-06-01", now=datetime(2026, 6, 1, 8, 50, tzinfo=UTC))
    assert hhmm(slots, "UTC")[0] == "10:00"  # 09:50 is the earliest instant, the grid's next point is 10:00
    now = datetime(2026, 6, 1, 9, 0, 30, tzinfo=UTC)  # half a minute past a grid point
    assert hhmm(day_slots(cfg(), "2026-06-01", now=now), "UTC")[0] == "09:30"
    now = datetime(2026, 6, 1, 9, 0, 0, 1, tzinfo=UTC)  # a microsecond past it
    assert hhmm(day_slots(cfg(), "2026-06-01", now=now), "UTC")[0] == "09:30"
    assert hhmm(day_slots(cfg(), "2026-06-01", now=datetime(2026, 6, 1, 9, tzinfo=UTC)), "UTC")[0] == "09:00"


def test_the_horizon_counts_local_dates_in_the_configuration_zone():
    config = cfg("Asia/Tokyo", {day: "09:00-10:00" for day in WEEKDAYS}, days_ahead=2, slot_step_minutes=60)
    now = datetime(2026, 6, 1, 16, 0, tzinfo=UTC)  # already Tuesday 2 June 01:00 in Tokyo
    window = Interval(now, now + timedelta(days=10))
    slots = free_slots(config, window_start=window.start, window_end=window.end, now=now, busy=[], bookings=[])
    assert [s.start.astimezone(ZoneInfo("Asia/Tokyo")).date().isoformat() for s in slots] == [
        "2026-06-02",
        "2026-06-03",
        "2026-06-04",
    ]


def test_a_daily_cap_counts_only_this_configurations_bookings_on_the_local_date():
    config = cfg("Europe/Berlin", {day: "09:00-17:00" for day in WEEKDAYS[:5]}, daily_cap=2)
    mine = [
        Booked(at("Europe/Berlin", "2026-06-02 12:00"), at("Europe/Berlin", "2026-06-02 12:30"), config_id="cfg"),
        # 23:30 UTC on Monday is Tuesday 01:30 in Berlin: it counts for Tuesday
        Booked(datetime(2026, 6, 1, 23, 30, tzinfo=UTC), datetime(2026, 6, 2, 0, tzinfo=UTC), config_id="cfg"),
    ]
    others = [
        Booked(at("Europe/Berlin", "2026-06-03 12:00"), at("Europe/Berlin", "2026-06-03 12:30"), config_id="other"),
        Booked(at("Europe/Berlin", "2026-06-03 14:00"), at("Europe/Berlin", "2026-06-03 14:30")),
        Booked(at("Europe/Berlin", "2026-06-01 12:00"), at("Europe/Berlin", "2026-06-01 12:30"), config_id="cfg"),
    ]
    assert day_slots(config, "2026-06-02", bookings=mine + others) == []
    monday = hhmm(day_slots(config, "2026-06-01", bookings=mine + others), "Europe/Berlin")
    assert len(monday) == 15 and "12:00" not in monday  # one of mine: under the cap, its time is taken
    wednesday = hhmm(day_slots(config, "2026-06-03", bookings=mine + others), "Europe/Berlin")
    assert len(wednesday) == 14 and "12:00" not in wednesday and "14:00" not in wednesday


# --- buffers ---------------------------------------------------------------------------------


def test_buffers_around_a_calendar_event_touching_is_fine():
    config = cfg(hours={"monday": "09:00-13:00"}, slot_step_minutes=5, buffer_before_minutes=15, buffer_after_minutes=10)
    busy = [Interval(datetime(2026, 6, 1, 10, tzinfo=UTC), datetime(2026, 6, 1, 11, tzinfo=UTC))]
    starts = hhmm(day_slots(config, "2026-06-01", busy=busy), "UTC")
    assert starts[starts.index("09:20") + 1] == "11:15"  # 09:20 + 30 + 10 = 10:00; 11:15 − 15 = 11:00
    assert starts[0] == "09:00" and starts[-1] == "12:30"


def test_a_bookings_own_buffers_add_to_the_new_slots():
    config = cfg(hours={"monday": "09:00-13:00"}, slot_step_minutes=5, buffer_before_minutes=10, buffer_after_minutes=5)
    existing = Booked(datetime(2026, 6, 1, 10, tzinfo=UTC), datetime(2026, 6, 1, 10, 30, tzinfo=UTC), 20, 15, "cfg")
    starts = hhmm(day_slots(config, "2026-06-01", bookings=[existing]), "UTC")
    # kept free: 09:40–10:45; a new slot needs 10 before and 5 after: up to 09:05, from 10:55
    assert starts[starts.index("09:05") + 1] == "10:55"
    plain = hhmm(day_slots(config, "2026-06-01", busy=[Interval(existing.start, existing.end)]), "UTC")
    assert plain[plain.index("09:25") + 1] == "10:40"  # the same time as a Calendar event: only the new buffers


def test_a_before_buffer_reaches_back_over_midnight():
    config = cfg(hours={"monday": "00:00-02:00"}, buffer_before_minutes=15)
    late = Interval(datetime(2026, 5, 31, 23, 40, tzinfo=UTC), datetime(2026, 5, 31, 23, 50, tzinfo=UTC))
    assert hhmm(day_slots(config, "2026-06-01", busy=[late]), "UTC")[0] == "00:30"
    earlier = Interval(datetime(2026, 5, 31, 23, 30, tzinfo=UTC), datetime(2026, 5, 31, 23, 45, tzinfo=UTC))
    assert hhmm(day_slots(config, "2026-06-01", busy=[earlier]), "UTC")[0] == "00:00"  # touches the buffer


def test_an_after_buffer_reaches_forward_over_midnight():
    config = cfg(hours={"sunday": "22:00-24:00"}, buffer_after_minutes=20)
    early = Interval(datetime(2026, 6, 1, 0, 10, tzinfo=UTC), datetime(2026, 6, 1, 0, 30, tzinfo=UTC))
    assert hhmm(day_slots(config, "2026-05-31", busy=[early]), "UTC") == ["22:00", "22:30", "23:00"]


def test_a_booking_buffer_reaches_over_midnight_in_the_configuration_zone():
    config = cfg("America/New_York", {"tuesday": "00:00-03:00"}, buffer_before_minutes=10)
    monday_late = Booked(at("America/New_York", "2026-06-01 23:00"), at("America/New_York", "2026-06-01 23:45"), 0, 30)
    assert hhmm(day_slots(config, "2026-06-02", bookings=[monday_late]), "America/New_York")[0] == "00:30"


def test_overlapping_busy_blocks_from_several_calendars():
    config = cfg(hours={"monday": "09:00-15:00"})
    t = datetime(2026, 6, 1, tzinfo=UTC)
    busy = [
        Interval(t + timedelta(hours=10), t + timedelta(hours=11)),  # primary
        Interval(t + timedelta(hours=10, minutes=30), t + timedelta(hours=12)),  # team calendar
        Interval(t + timedelta(hours=11, minutes=45), t + timedelta(hours=12, minutes=15)),
        Interval(t + timedelta(hours=10), t + timedelta(hours=11)),  # the same event on two calendars
        Interval(t + timedelta(hours=13), t + timedelta(hours=13, minutes=30)),
    ]
    starts = hhmm(day_slots(config, "2026-06-01", busy=busy), "UTC")
    assert starts == ["09:00", "09:30", "12:30", "13:30", "14:00", "14:30"]


def test_all_day_and_multi_day_events():
    config = cfg("Europe/Berlin", {day: "09:00-10:00" for day in WEEKDAYS[:5]}, slot_step_minutes=60)
    tuesday_to_wednesday = Interval(at("Europe/Berlin", "2026-06-02 00:00"), at("Europe/Berlin", "2026-06-04 00:00"))
    window = Interval(at("Europe/Berlin", "2026-06-01 00:00"), at("Europe/Berlin", "2026-06-06 00:00"))
    slots = free_slots(
        config, window_start=window.start, window_end=window.end, now=window.start, busy=[tuesday_to_wednesday], bookings=[]
    )
    assert [s.start.astimezone(ZoneInfo("Europe/Berlin")).day for s in slots] == [1, 4, 5]
    # an all-day event Google reports in UTC (a calendar in another zone) still covers Berlin's 09:00
    utc_day = Interval(datetime(2026, 6, 4, tzinfo=UTC), datetime(2026, 6, 5, tzinfo=UTC))
    slots = free_slots(config, window_start=window.start, window_end=window.end, now=window.start, busy=[utc_day], bookings=[])
    assert [s.start.astimezone(ZoneInfo("Europe/Berlin")).day for s in slots] == [1, 2, 3, 5]


def test_a_slot_may_exactly_fill_the_time_between_two_events():
    config = cfg(hours={"monday": "09:00-12:00"}, slot_step_minutes=15)
    t = datetime(2026, 6, 1, tzinfo=UTC)
    busy = [
        Interval(t + timedelta(hours=9), t + timedelta(hours=9, minutes=30)),
        Interval(t + timedelta(hours=10), t + timedelta(hours=12)),
    ]
    assert hhmm(day_slots(config, "2026-06-01", busy=busy), "UTC") == ["09:30"]
    config = cfg(hours={"monday": "09:00-12:00"}, slot_step_minutes=15, buffer_before_minutes=5)
    assert day_slots(config, "2026-06-01", busy=busy) == []


def test_busy_times_are_compared_exactly_to_the_second():
    config = cfg(hours={"monday": "09:00-10:00"})
    t = datetime(2026, 6, 1, 9, tzinfo=UTC)
    assert hhmm(day_slots(config, "2026-06-01", busy=[Interval(t - MINUTE, t - timedelta(microseconds=1))]), "UTC")[0] == "09:00"
    assert hhmm(day_slots(config, "2026-06-01", busy=[Interval(t - MINUTE, t + timedelta(microseconds=1))]), "UTC")[0] == "09:30"
    assert len(day_slots(config, "2026-06-01", busy=[Interval(t, t)])) == 2  # an empty block blocks nothing


def test_everything_busy_leaves_nothing():
    config = cfg(buffer_before_minutes=5)
    busy = [Interval(datetime(2026, 5, 1, tzinfo=UTC), datetime(2026, 7, 1, tzinfo=UTC))]
    assert day_slots(config, "2026-06-01", busy=busy) == []


# --- DST: gaps and folds ---------------------------------------------------------------------


def test_new_york_spring_forward_a_23_hour_day():
    window = local_date_window(date(2026, 3, 8), "America/New_York")
    assert window.end - window.start == timedelta(hours=23)
    config = cfg("America/New_York", {"sunday": "01:00-04:00"})
    slots = day_slots(config, "2026-03-08")
    assert walls(slots, "America/New_York") == ["01:00-05:00", "01:30-05:00", "03:00-04:00", "03:30-04:00"]  # 2 real hours
    assert slots[1].end == slots[2].start  # 01:30 EST + 30 minutes is 03:00 EDT: the slot crosses the gap


def test_a_range_starting_in_the_gap_begins_at_the_transition():
    config = cfg("America/New_York", {"sunday": "02:30-04:00"})
    assert walls(day_slots(config, "2026-03-08"), "America/New_York") == ["03:00-04:00", "03:30-04:00"]
    config = cfg("America/New_York", {"sunday": "01:30-03:30"}, duration_minutes=60, slot_step_minutes=60)
    assert walls(day_slots(config, "2026-03-08"), "America/New_York") == ["01:30-05:00"]  # 1 real hour, ends 03:30 EDT


def test_new_york_fall_back_a_25_hour_day_offers_repeated_times_twice():
    window = local_date_window(date(2026, 11, 1), "America/New_York")
    assert window.end - window.start == timedelta(hours=25)
    config = cfg("America/New_York", {"sunday": "00:00-03:00"})
    slots = day_slots(config, "2026-11-01")
    assert walls(slots, "America/New_York") == [
        "00:00-04:00",
        "00:30-04:00",
        "01:00-04:00",
        "01:30-04:00",
        "01:00-05:00",
        "01:30-05:00",
        "02:00-05:00",
        "02:30-05:00",
    ]
    assert len({s.start for s in slots}) == 8
    assert (
        slots[2].start
        == at("America/New_York", "2026-11-01 01:00")
        != slots[4].start
        == at("America/New_York", "2026-11-01 01:00", fold=1)
    )


def test_a_range_ending_inside_the_fold_is_two_pieces():
    config = cfg("America/New_York", {"sunday": "00:00-01:30"})
    assert walls(day_slots(config, "2026-11-01"), "America/New_York") == [
        "00:00-04:00",
        "00:30-04:00",
        "01:00-04:00",
        "01:00-05:00",  # 01:30–02:00 EDT is outside the range: the grid goes on from the anchor
    ]
    # the grid is the range's, not each piece's: 04:00Z + 45-minute steps miss 01:00 EST (06:00Z)
    config = cfg("America/New_York", {"sunday": "00:00-01:30"}, slot_step_minutes=45)
    assert walls(day_slots(config, "2026-11-01"), "America/New_York") == ["00:00-04:00", "00:45-04:00"]
    # 01:30–02:30 is 01:30–02:00 EDT, then (after 01:00–01:30 EST, outside) 01:30–02:30 EST
    config = cfg("America/New_York", {"sunday": "01:30-02:30"}, duration_minutes=60, slot_step_minutes=60)
    assert walls(day_slots(config, "2026-11-01"), "America/New_York") == ["01:30-05:00"]  # 30 EDT minutes: no hour fits
    config = cfg("America/New_York", {"sunday": "01:30-02:30"})
    assert walls(day_slots(config, "2026-11-01"), "America/New_York") == ["01:30-04:00", "01:30-05:00", "02:00-05:00"]


def test_berlin_spring_and_fall():
    config = cfg("Europe/Berlin", {"sunday": "01:00-04:00"}, duration_minutes=60, slot_step_minutes=60)
    assert walls(day_slots(config, "2026-03-29"), "Europe/Berlin") == ["01:00+01:00", "03:00+02:00"]
    assert walls(day_slots(config, "2026-10-25"), "Europe/Berlin") == [
        "01:00+02:00",
        "02:00+02:00",
        "02:00+01:00",
        "03:00+01:00",
    ]
    assert local_date_window(date(2026, 3, 29), "Europe/Berlin") == Interval(
        datetime(2026, 3, 28, 23, tzinfo=UTC), datetime(2026, 3, 29, 22, tzinfo=UTC)
    )


def test_lord_howe_shifts_by_half_an_hour():
    config = cfg("Australia/Lord_Howe", {"sunday": "01:00-04:00"})
    october = day_slots(config, "2026-10-04")  # 02:00 → 02:30: 2.5 real hours
    assert walls(october, "Australia/Lord_Howe") == ["01:00+10:30", "01:30+10:30", "02:30+11:00", "03:00+11:00", "03:30+11:00"]
    april = day_slots(config, "2026-04-05")  # 02:00 → 01:30: 3.5 real hours
    assert walls(april, "Australia/Lord_Howe") == [
        "01:00+11:00",
        "01:30+11:00",
        "01:30+10:30",
        "02:00+10:30",
        "02:30+10:30",
        "03:00+10:30",
        "03:30+10:30",
    ]
    window = local_date_window(date(2026, 4, 5), "Australia/Lord_Howe")
    assert window.end - window.start == timedelta(hours=24, minutes=30)


def test_kathmandu_slots_are_exact_instants():
    config = cfg("Asia/Kathmandu", {"monday": "09:00-10:00"})
    slots = day_slots(config, "2026-06-01")
    assert [s.start for s in slots] == [datetime(2026, 6, 1, 3, 15, tzinfo=UTC), datetime(2026, 6, 1, 3, 45, tzinfo=UTC)]


def test_a_day_whose_midnight_does_not_exist():
    window = local_date_window(date(2026, 9, 6), "America/Santiago")
    assert window == Interval(datetime(2026, 9, 6, 4, tzinfo=UTC), datetime(2026, 9, 7, 3, tzinfo=UTC))
    config = cfg("America/Santiago", {"sunday": "00:00-02:00"})
    assert walls(day_slots(config, "2026-09-06"), "America/Santiago") == ["01:00-03:00", "01:30-03:00"]
    # and Saturday 4 April: 24:00 → 23:00, the 23:00 hour happens twice
    window = local_date_window(date(2026, 4, 4), "America/Santiago")
    assert window.end - window.start == timedelta(hours=25)
    config = cfg("America/Santiago", {"saturday": "23:00-24:00"}, duration_minutes=60, slot_step_minutes=60)
    assert walls(day_slots(config, "2026-04-04"), "America/Santiago") == ["23:00-03:00", "23:00-04:00"]


def test_a_buffer_across_a_dst_change_is_real_time():
    config = cfg("America/New_York", {"sunday": "03:00-05:00"}, buffer_before_minutes=30)
    busy = [Interval(at("America/New_York", "2026-03-08 01:00"), at("America/New_York", "2026-03-08 01:45"))]
    # 01:45 EST + 30 min of buffer is 03:15 EDT: 03:00 is blocked, 03:30 is free
    assert walls(day_slots(config, "2026-03-08", busy=busy), "America/New_York")[0] == "03:30-04:00"


# --- windows ---------------------------------------------------------------------------------


def test_a_guest_date_in_tokyo_spans_two_configuration_days():
    config = cfg("America/New_York", {day: "09:00-17:00" for day in WEEKDAYS[:5]}, duration_minutes=60, slot_step_minutes=60)
    window = local_date_window(date(2026, 6, 2), "Asia/Tokyo")  # Mon 11:00 → Tue 11:00 in New York
    assert window == Interval(datetime(2026, 6, 1, 15, tzinfo=UTC), datetime(2026, 6, 2, 15, tzinfo=UTC))
    slots = free_slots(
        config, window_start=window.start, window_end=window.end, now=datetime(2026, 5, 1, tzinfo=UTC), busy=[], bookings=[]
    )
    ny = [s.start.astimezone(ZoneInfo("America/New_York")).strftime("%a %H:%M") for s in slots]
    assert ny == ["Mon 11:00", "Mon 12:00", "Mon 13:00", "Mon 14:00", "Mon 15:00", "Mon 16:00", "Tue 09:00", "Tue 10:00"]
    tokyo = [s.start.astimezone(ZoneInfo("Asia/Tokyo")).date() for s in slots]
    assert set(tokyo) == {date(2026, 6, 2)}


def test_the_window_is_half_open_on_slot_starts():
    config = cfg()
    t = datetime(2026, 6, 1, 9, 30, tzinfo=UTC)
    slots = free_slots(config, window_start=t, window_end=t + timedelta(hours=1), now=t - timedelta(days=1), busy=[], bookings=[])
    assert hhmm(slots, "UTC") == ["09:30", "10:00"]
    slots = free_slots(config, window_start=t + MINUTE, window_end=t + timedelta(hours=1, minutes=1), now=t, busy=[], bookings=[])
    assert hhmm(slots, "UTC") == ["10:00", "10:30"]


def test_a_window_of_several_weeks():
    config = cfg(hours={"monday": "09:00-10:00"}, slot_step_minutes=60, duration_minutes=60)
    window = local_date_window(date(2026, 6, 1), "UTC", last=date(2026, 6, 30))
    slots = free_slots(config, window_start=window.start, window_end=window.end, now=window.start, busy=[], bookings=[])
    assert [s.start.day for s in slots] == [1, 8, 15, 22, 29]


@pytest.mark.parametrize(
    ("window_start", "window_end", "now", "changes"),
    [
        (datetime(2026, 6, 1, tzinfo=UTC), datetime(2026, 6, 1, tzinfo=UTC), datetime(2026, 5, 1, tzinfo=UTC), {}),  # empty
        (datetime(2026, 6, 2, tzinfo=UTC), datetime(2026, 6, 1, tzinfo=UTC), datetime(2026, 5, 1, tzinfo=UTC), {}),  # reversed
        (datetime(2026, 6, 6, tzinfo=UTC), datetime(2026, 6, 8, tzinfo=UTC), datetime(2026, 5, 1, tzinfo=UTC), {}),  # weekend
        (datetime(2026, 6, 1, tzinfo=UTC), datetime(2026, 6, 2, tzinfo=UTC), datetime(2026, 6, 3, tzinfo=UTC), {}),  # past
        (
            datetime(2026, 6, 1, tzinfo=UTC),
            datetime(2026, 6, 2, tzinfo=UTC),
            datetime(2026, 5, 1, tzinfo=UTC),
            {"days_ahead": 30},
        ),
        (
            datetime(2026, 6, 1, tzinfo=UTC),
            datetime(2026, 6, 2, tzinfo=UTC),
            datetime(2026, 5, 31, tzinfo=UTC),
            {"duration_minutes": 240},
        ),
        (
            datetime(2026, 6, 1, tzinfo=UTC),
            datetime(2026, 6, 2, tzinfo=UTC),
            datetime(2026, 5, 31, tzinfo=UTC),
            {"workdays": (4,)},
        ),
    ],
)
def test_empty_results(window_start, window_end, now, changes):
    assert free_slots(cfg(**changes), window_start=window_start, window_end=window_end, now=now, busy=[], bookings=[]) == []


def test_naive_datetimes_are_a_programming_error():
    with pytest.raises(TypeError):
        free_slots(
            cfg(),
            window_start=datetime(2026, 6, 1),
            window_end=datetime(2026, 6, 2),
            now=datetime(2026, 5, 1),
            busy=[],
            bookings=[],
        )


def test_an_unknown_zone_is_refused():
    with pytest.raises(RuleViolation):
        local_date_window(date(2026, 6, 1), "Mars/Base")


# --- helpers for the service -----------------------------------------------------------------


def test_an_interview_as_a_booking():
    start = datetime(2026, 6, 1, 9, tzinfo=UTC)
    person = Person("h@example.com", "Host")
    plain = Interview("i1", "ws", person, person, start, "UTC", InterviewType.GOOGLE_MEET, InterviewStatus.CONFIRMED, 45)
    assert booked(plain) == Booked(start, start + timedelta(minutes=45), 0, 0, None)
    linked = Interview(
        "i2", "ws", person, person, start, "UTC", InterviewType.GOOGLE_MEET, InterviewStatus.PENDING, 30,
        origin=BookingOrigin("cfg", "link-1", 10, 5),
    )  # fmt: skip
    assert booked(linked) == Booked(start, start + timedelta(minutes=30), 10, 5, "cfg")


def test_the_busy_query_window_covers_every_buffered_slot():
    config = cfg("Europe/Berlin", buffer_before_minutes=15, buffer_after_minutes=10, minimum_notice_minutes=60, days_ahead=3)
    now = datetime(2026, 6, 1, 6, tzinfo=UTC)
    window = busy_query_window(config, window_start=now - timedelta(days=1), window_end=now + timedelta(days=30), now=now)
    assert window.start == now + timedelta(minutes=60 - 15)
    assert window.end == at("Europe/Berlin", "2026-06-05 00:00") + timedelta(minutes=30 + 10)  # horizon: Thursday 4 June
    empty = busy_query_window(config, window_start=now - timedelta(days=2), window_end=now - timedelta(days=1), now=now)
    assert empty.start == empty.end


# --- properties: invariants, and a minute-by-minute reference --------------------------------

ZONES = ["America/New_York", "Europe/Berlin", "Australia/Lord_Howe", "Asia/Kathmandu", "America/Santiago", "UTC"]
AROUND = [
    datetime(2026, 3, 8, tzinfo=UTC),
    datetime(2026, 11, 1, tzinfo=UTC),
    datetime(2026, 3, 29, tzinfo=UTC),
    datetime(2026, 10, 25, tzinfo=UTC),
    datetime(2026, 4, 5, tzinfo=UTC),
    datetime(2026, 10, 4, tzinfo=UTC),
    datetime(2026, 9, 6, tzinfo=UTC),
    datetime(2026, 6, 15, tzinfo=UTC),
]
FIVE = st.integers(0, 10_000).map(lambda n: n * 5)


@st.composite
def day_ranges(draw: st.DrawFn) -> tuple[WorkingRange, ...]:
    """0–3 ranges on a 15-minute grid, at least an hour long, sometimes touching, possibly to 24:00."""
    ranges: list[WorkingRange] = []
    end = draw(st.integers(0, 80)) * 15
    for _ in range(draw(st.integers(1, 3) | st.just(0))):
        start = end if ranges and draw(st.booleans()) else end + draw(st.integers(0, 24)) * 15
        end = min(1440, start + (4 + draw(st.integers(0, 32))) * 15)
        if start >= end:
            break
        ranges.append(WorkingRange(start, end))
    return tuple(ranges)


@st.composite
def scenarios(draw: st.DrawFn) -> dict[str, object]:
    tz = draw(st.sampled_from(ZONES))
    hours = {day: draw(day_ranges()) for day in range(7)}
    with_ranges = [d for d, r in hours.items() if r]
    workdays = tuple(sorted(draw(st.sets(st.sampled_from(with_ranges))))) if with_ranges and draw(st.booleans()) else ()
    config = cfg(
        tz,
        {},
        working_hours={d: r for d, r in hours.items() if r or draw(st.booleans())},
        workdays=workdays,
        duration_minutes=draw(st.integers(3, 24)) * 5,
        slot_step_minutes=draw(st.integers(1, 24)) * 5,
        buffer_before_minutes=draw(st.integers(0, 12)) * 5,
        buffer_after_minutes=draw(st.integers(0, 12)) * 5,
        minimum_notice_minutes=draw(st.just(0) | st.integers(0, 120)) * 5,
        days_ahead=draw(st.integers(1, 5)),
        daily_cap=draw(st.none() | st.integers(1, 2)),
    )
    base = draw(st.sampled_from(AROUND))
    window_start = base + timedelta(minutes=draw(st.integers(-432, 144)) * 5)
    window_end = window_start + timedelta(minutes=(144 + draw(st.integers(0, 720))) * 5)
    now = window_start + timedelta(minutes=draw(st.integers(-288, 0) | st.integers(-864, 288)) * 5)

    # Busy time near where slots would be (the free slots of an empty calendar: only used to
    # aim the generated events; the reference below never calls free_slots), or anywhere.
    open_slots = free_slots(config, window_start=window_start, window_end=window_end, now=now, busy=[], bookings=[])
    near = [s.start for s in open_slots] + [s.end for s in open_slots] or [window_start]

    def instant() -> datetime:
        if draw(st.booleans()):
            return draw(st.sampled_from(near)) + timedelta(minutes=draw(st.integers(-24, 24)) * 5)
        return window_start + timedelta(minutes=draw(st.integers(-288, 864)) * 5)

    busy = []
    for _ in range(draw(st.integers(0, 4))):
        start = instant()
        busy.append(Interval(start, start + timedelta(minutes=draw(st.sampled_from([5, 15, 30, 45, 60, 120, 0, 1440, 2880])))))
    bookings = []
    for _ in range(draw(st.integers(0, 4))):
        start = instant()
        bookings.append(
            Booked(
                start,
                start + timedelta(minutes=draw(st.integers(3, 18)) * 5),
                draw(st.integers(0, 6)) * 5,
                draw(st.integers(0, 6)) * 5,
                draw(st.sampled_from(["cfg", "other", None])),
            )
        )
    return {
        "config": config,
        "window_start": window_start,
        "window_end": window_end,
        "now": now,
        "busy": busy,
        "bookings": bookings,
    }


def _buffered_overlap(config: SchedulingConfig, start: datetime, busy, bookings) -> bool:
    span_start = start - timedelta(minutes=config.buffer_before_minutes)
    span_end = start + timedelta(minutes=config.duration_minutes + config.buffer_after_minutes)
    for b in busy:
        if span_start < b.end and b.start < span_end and b.start < b.end:
            return True
    for b in bookings:
        kept_start = b.start - timedelta(minutes=b.buffer_before_minutes)
        kept_end = b.end + timedelta(minutes=b.buffer_after_minutes)
        if span_start < kept_end and kept_start < span_end:
            return True
    return False


def _joined(ranges: tuple[WorkingRange, ...]) -> list[tuple[int, int]]:
    """Maximal runs of covered wall minutes: an independent way to join touching ranges."""
    covered = [False] * 1441
    for r in ranges:
        for m in range(r.start_minute, r.end_minute):
            covered[m] = True
    runs, start = [], None
    for m, on in enumerate(covered):
        if on and start is None:
            start = m
        if not on and start is not None:
            runs.append((start, m))
            start = None
    return runs


def reference(config, window_start, window_end, now, busy, bookings) -> list[Slot]:
    """Minute by minute, straight from the rules: no offsets, segments or bisection."""
    tz = ZoneInfo(config.timezone)
    first = window_start.replace(second=0, microsecond=0) - timedelta(days=2)
    minutes = int((window_end - first) / MINUTE) + 3 * 1440
    instants = [first + i * MINUTE for i in range(minutes)]
    local = [t.astimezone(tz) for t in instants]
    by_date: dict[date, list[int]] = defaultdict(list)
    for i, lt in enumerate(local):
        by_date[lt.date()].append(i)
    horizon = now.astimezone(tz).date() + timedelta(days=config.days_ahead)
    per_day = Counter(b.start.astimezone(tz).date() for b in bookings if b.config_id == config.id)
    workdays = set(config.workdays) or {d for d, r in config.working_hours.items() if r}
    duration = config.duration_minutes
    found = []
    for day, indexes in by_date.items():
        if day.weekday() not in workdays or day > horizon:
            continue
        if config.daily_cap is not None and per_day[day] >= config.daily_cap:
            continue
        for start_minute, end_minute in _joined(config.working_hours.get(day.weekday(), ())):
            members = [i for i in indexes if start_minute <= local[i].hour * 60 + local[i].minute < end_minute]
            if not members or members[0] == 0:
                continue  # not the whole range inside the scanned minutes: too far from the window to matter
            member_set = set(members)
            for i in members:
                if (i - members[0]) % config.slot_step_minutes:
                    continue
                if not all(i + k in member_set for k in range(duration)):
                    continue
                s = instants[i]
                if not (window_start <= s < window_end) or s < now + timedelta(minutes=config.minimum_notice_minutes):
                    continue
                if _buffered_overlap(config, s, busy, bookings):
                    continue
                found.append(Slot(s, s + timedelta(minutes=duration)))
    return sorted(found)


@PROPERTIES
@given(scenarios())
def test_every_slot_keeps_every_rule(scenario):
    config = scenario["config"]
    slots = free_slots(**scenario)
    tz = ZoneInfo(config.timezone)
    assert slots == sorted(set(slots))
    horizon = scenario["now"].astimezone(tz).date() + timedelta(days=config.days_ahead)
    for slot in slots:
        assert slot.end - slot.start == timedelta(minutes=config.duration_minutes)
        assert scenario["window_start"] <= slot.start < scenario["window_end"]
        assert slot.start >= scenario["now"] + timedelta(minutes=config.minimum_notice_minutes)
        first, last = slot.start.astimezone(tz), (slot.end - MINUTE).astimezone(tz)
        assert first.date() == last.date() <= horizon
        assert first.weekday() in config.active_weekdays
        wall = first.hour * 60 + first.minute
        joined = _joined(config.working_hours[first.weekday()])
        assert any(a <= wall < b for a, b in joined)
        assert not _buffered_overlap(config, slot.start, scenario["busy"], scenario["bookings"])


@PROPERTIES
@given(scenarios())
def test_the_fast_computation_agrees_with_a_minute_by_minute_reference(scenario):
    assert free_slots(**scenario) == reference(**scenario)


@pytest.mark.parametrize("tz", ZONES)
def test_the_reference_agrees_on_a_dst_fortnight_with_busy_time(tz):
    """A hand-made case per zone: two weeks around its changes, every weekday 00:00–04:00 and 22:00–24:00."""
    ranges = (WorkingRange(0, 240), WorkingRange(1320, 1440))
    config = cfg(
        tz, {}, working_hours=dict.fromkeys(range(7), ranges), slot_step_minutes=20, duration_minutes=25, buffer_before_minutes=10
    )
    for base in AROUND[:7]:
        start = base - timedelta(days=2)
        busy = [Interval(start + timedelta(hours=h), start + timedelta(hours=h, minutes=50)) for h in range(0, 96, 7)]
        scenario = {
            "config": config,
            "window_start": start,
            "window_end": start + timedelta(days=4),
            "now": start - timedelta(days=1),
            "busy": busy,
            "bookings": [Booked(start + timedelta(hours=26), start + timedelta(hours=27), 30, 30, "cfg")],
        }
        assert free_slots(**scenario) == reference(**scenario)
