"""Turning what a person typed (date, time, IANA zone) into one UTC instant, honestly.

A wall-clock time inside a DST gap does not exist and one inside a DST fold happens
twice: both are refused rather than silently shifted, unless the caller gives an
explicit UTC offset that picks the instant.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import TYPE_CHECKING

from shared.api_limits import TIMESTAMP_MAX_LENGTH, TIMEZONE_MAX_LENGTH
from shared.domain.errors import RuleViolation

if TYPE_CHECKING:  # zoneinfo (and the sysconfig it reads) loads on the first zone asked for, not with the module
    from zoneinfo import ZoneInfo


def zone(name: str) -> ZoneInfo:
    """The IANA zone called ``name``; a clear refusal (a 422) for anything else (including paths)."""
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    if not name or len(name) > TIMEZONE_MAX_LENGTH or name.startswith(("/", ".")) or ".." in name:
        raise RuleViolation(f"Unknown time zone {name!r}.", code="unknown_time_zone", details={"timezone": name})
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        raise RuleViolation(f"Unknown time zone {name!r}.", code="unknown_time_zone", details={"timezone": name}) from None


def local_to_utc(day: date, at: time, tz_name: str, utc_offset: timedelta | None = None) -> datetime:
    """The UTC instant of wall-clock ``day at`` in ``tz_name``.

    ``utc_offset`` (from an RFC 3339 time such as ``…-04:00``) disambiguates a fold and
    must be one of the offsets the zone really has at that wall time.
    """
    tz = zone(tz_name)
    naive = datetime.combine(day, at.replace(tzinfo=None))
    # Both readings of the wall time (a list: aware datetimes sharing a tzinfo compare equal
    # whatever their fold). Keep those that survive a round trip through UTC: in a gap none does.
    instants = [naive.replace(tzinfo=tz, fold=fold).astimezone(UTC) for fold in (0, 1)]
    real = sorted({i for i in instants if i.astimezone(tz).replace(tzinfo=None) == naive})
    shown = f"{naive.isoformat(timespec='minutes')} in {tz_name}"
    if not real:
        raise RuleViolation(
            f"{shown} does not exist: the clocks skip that hour when daylight saving time starts.",
            code="nonexistent_local_time",
            details={"timezone": tz_name, "local_time": naive.isoformat()},
        )
    if utc_offset is not None:
        for instant in real:
            if instant.astimezone(tz).utcoffset() == utc_offset:
                return instant
        raise RuleViolation(
            f"{shown} never has the UTC offset {_format_offset(utc_offset)}.",
            code="offset_mismatch",
            details={"timezone": tz_name, "local_time": naive.isoformat()},
        )
    if len(real) > 1:
        offsets = [_format_offset(i.astimezone(tz).utcoffset() or timedelta()) for i in real]
        raise RuleViolation(
            f"{shown} happens twice because the clocks go back; give the UTC offset ({' or '.join(offsets)}) to choose.",
            code="ambiguous_local_time",
            details={"timezone": tz_name, "local_time": naive.isoformat(), "offsets": offsets},
        )
    return real[0]


def parse_rfc3339(value: str) -> datetime:
    """An RFC 3339 timestamp with an explicit offset (``Z`` or ``±HH:MM``), as UTC."""
    if not isinstance(value, str) or len(value) > TIMESTAMP_MAX_LENGTH or "T" not in value.upper():
        raise RuleViolation(
            "Timestamps must be RFC 3339 with an offset, e.g. 2026-05-01T09:30:00+02:00.", code="invalid_timestamp"
        )
    try:
        parsed = datetime.fromisoformat(value.replace("z", "Z"))
    except ValueError:
        raise RuleViolation(f"{value!r} is not an RFC 3339 timestamp.", code="invalid_timestamp") from None
    if parsed.tzinfo is None:
        raise RuleViolation(f"{value!r} has no UTC offset; add Z or ±HH:MM.", code="invalid_timestamp")
    try:
        return parsed.astimezone(UTC)
    except OverflowError:  # 0001-01-01T00:00:00+14:00, 9999-12-31T23:59:59-12:00: outside datetime's range in UTC
        raise RuleViolation(f"{value!r} is outside the supported range of dates.", code="invalid_timestamp") from None


def to_local_iso(instant: datetime, tz_name: str) -> str:
    """RFC 3339 in the booking zone, the way the people involved read the time."""
    return instant.astimezone(zone(tz_name)).isoformat()


def rfc3339_utc(instant: datetime) -> str:
    """RFC 3339 in UTC with a ``Z``, the way the API and Google write instants."""
    return instant.astimezone(UTC).isoformat().replace("+00:00", "Z")


def rfc3339_utc_or_none(instant: datetime | None) -> str | None:
    """``rfc3339_utc``, and ``None`` for a moment that has not happened (never synced, never joined)."""
    return None if instant is None else rfc3339_utc(instant)


def _format_offset(offset: timedelta) -> str:
    total = int(offset.total_seconds() // 60)
    sign = "+" if total >= 0 else "-"
    hours, minutes = divmod(abs(total), 60)
    return f"{sign}{hours:02d}:{minutes:02d}"
