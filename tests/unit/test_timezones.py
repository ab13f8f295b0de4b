"""Local time → UTC across DST changes in two hemispheres' worth of rules."""

from datetime import UTC, date, datetime, time, timedelta

import pytest

from shared.domain.errors import RuleViolation
from shared.domain.timezones import local_to_utc, parse_rfc3339, to_local_iso, zone
from shared.errors import from_domain


def _code(excinfo: pytest.ExceptionInfo[RuleViolation]) -> str:
    return excinfo.value.code


@pytest.mark.parametrize(
    ("tz", "day", "at", "expected_utc"),
    [
        # New York: EST (-5) in winter, EDT (-4) in summer.
        ("America/New_York", date(2026, 1, 15), time(9, 30), datetime(2026, 1, 15, 14, 30, tzinfo=UTC)),
        ("America/New_York", date(2026, 7, 15), time(9, 30), datetime(2026, 7, 15, 13, 30, tzinfo=UTC)),
        # Just before and just after the spring-forward gap (2026-03-08 02:00 → 03:00).
        ("America/New_York", date(2026, 3, 8), time(1, 59, 59), datetime(2026, 3, 8, 6, 59, 59, tzinfo=UTC)),
        ("America/New_York", date(2026, 3, 8), time(3, 0), datetime(2026, 3, 8, 7, 0, tzinfo=UTC)),
        # Berlin: CET (+1) / CEST (+2); gap on 2026-03-29 02:00 → 03:00, fold on 2026-10-25 03:00 → 02:00.
        ("Europe/Berlin", date(2026, 3, 29), time(1, 59), datetime(2026, 3, 29, 0, 59, tzinfo=UTC)),
        ("Europe/Berlin", date(2026, 3, 29), time(3, 0), datetime(2026, 3, 29, 1, 0, tzinfo=UTC)),
        ("Europe/Berlin", date(2026, 10, 25), time(1, 59), datetime(2026, 10, 24, 23, 59, tzinfo=UTC)),
        ("Europe/Berlin", date(2026, 10, 25), time(3, 0), datetime(2026, 10, 25, 2, 0, tzinfo=UTC)),
        # A zone with a 30-minute offset and no DST.
        ("Asia/Kolkata", date(2026, 3, 8), time(2, 30), datetime(2026, 3, 7, 21, 0, tzinfo=UTC)),
        ("UTC", date(2026, 3, 8), time(2, 30), datetime(2026, 3, 8, 2, 30, tzinfo=UTC)),
    ],
)
def test_valid_local_times_map_to_one_instant(tz, day, at, expected_utc):
    assert local_to_utc(day, at, tz) == expected_utc


@pytest.mark.parametrize(
    ("tz", "day", "at"),
    [
        ("America/New_York", date(2026, 3, 8), time(2, 0)),
        ("America/New_York", date(2026, 3, 8), time(2, 30)),
        ("America/New_York", date(2026, 3, 8), time(2, 59, 59)),
        ("Europe/Berlin", date(2026, 3, 29), time(2, 15)),
    ],
)
def test_times_in_the_spring_gap_are_rejected_with_the_reason(tz, day, at):
    with pytest.raises(RuleViolation) as excinfo:
        local_to_utc(day, at, tz)
    assert _code(excinfo) == "nonexistent_local_time"
    assert "does not exist" in excinfo.value.message
    assert from_domain(excinfo.value).status == 422


@pytest.mark.parametrize(
    ("tz", "day", "at", "offsets"),
    [
        ("America/New_York", date(2026, 11, 1), time(1, 30), ["-04:00", "-05:00"]),
        ("America/New_York", date(2026, 11, 1), time(1, 0), ["-04:00", "-05:00"]),
        ("Europe/Berlin", date(2026, 10, 25), time(2, 30), ["+02:00", "+01:00"]),
    ],
)
def test_times_in_the_autumn_fold_are_ambiguous_without_an_offset(tz, day, at, offsets):
    with pytest.raises(RuleViolation) as excinfo:
        local_to_utc(day, at, tz)
    assert _code(excinfo) == "ambiguous_local_time"
    assert excinfo.value.details["offsets"] == offsets
    assert "twice" in excinfo.value.message


def test_an_explicit_offset_picks_one_side_of_the_fold():
    first = local_to_utc(date(2026, 11, 1), time(1, 30), "America/New_York", timedelta(hours=-4))
    second = local_to_utc(date(2026, 11, 1), time(1, 30), "America/New_York", timedelta(hours=-5))
    assert first == datetime(2026, 11, 1, 5, 30, tzinfo=UTC)
    assert second == datetime(2026, 11, 1, 6, 30, tzinfo=UTC)


def test_an_offset_the_zone_never_has_there_is_rejected():
    with pytest.raises(RuleViolation) as excinfo:
        local_to_utc(date(2026, 7, 1), time(9, 0), "Europe/Berlin", timedelta(hours=1))
    assert _code(excinfo) == "offset_mismatch"


def test_the_minute_after_the_fold_is_unambiguous_again():
    assert local_to_utc(date(2026, 11, 1), time(2, 0), "America/New_York") == datetime(2026, 11, 1, 7, 0, tzinfo=UTC)


@pytest.mark.parametrize("name", ["Mars/Olympus", "", "../../etc/passwd", "/etc/localtime", "x" * 100, "Europe/"])
def test_unknown_time_zones_are_rejected(name):
    with pytest.raises(RuleViolation) as excinfo:
        zone(name)
    assert _code(excinfo) == "unknown_time_zone"


def test_rfc3339_parsing_requires_an_offset():
    assert parse_rfc3339("2026-03-08T02:30:00-05:00") == datetime(2026, 3, 8, 7, 30, tzinfo=UTC)
    assert parse_rfc3339("2026-03-08T07:30:00Z") == datetime(2026, 3, 8, 7, 30, tzinfo=UTC)
    for bad in ["2026-03-08T07:30:00", "2026-03-08", "tomorrow", "2026-13-08T07:30:00Z", 12]:
        with pytest.raises(RuleViolation):
            parse_rfc3339(bad)  # type: ignore[arg-type]


def test_local_rendering_uses_the_offset_in_force_at_that_instant():
    assert to_local_iso(datetime(2026, 3, 8, 6, 59, tzinfo=UTC), "America/New_York") == "2026-03-08T01:59:00-05:00"
    assert to_local_iso(datetime(2026, 3, 8, 7, 0, tzinfo=UTC), "America/New_York") == "2026-03-08T03:00:00-04:00"
