"""Scheduling configurations and booking links (SPEC §2.6), as plain immutable values.

A configuration says when a host can be booked: which calendars count as busy, how long a
meeting is, the buffers around it, the notice and horizon, the working hours of each
weekday in the configuration's own zone, and whether a booking is confirmed at once
(``direct``) or waits for the host (``request``). A booking link opens one configuration to
anyone holding the link.

Reading a configuration's JSON (``parse_config`` for a create, ``merge_patch`` for a PATCH)
and writing it back (``config_view``, the same shape: view → parse gives an equal
configuration). The JSON fields and their rules:

- ``name`` (required): 1–100 characters after trimming, one line (booking.py's text rule).
- ``timezone`` (required): an IANA zone (``unknown_time_zone`` otherwise).
- ``calendar_ids`` (required): 1–20 distinct calendar ids, each 1–255 characters. That they
  are the host's synced calendars is the service's check.
- ``duration_minutes`` (required): within the deployment's ``BookingLimits``
  (``duration_out_of_range``).
- ``buffer_before_minutes``, ``buffer_after_minutes``: 0–240, default 0.
- ``minimum_notice_minutes``: 0–43200 (30 days), default 0.
- ``days_ahead``: 1–60, default 30 (availability is ONE Google free/busy query, and Google
  refuses ranges much over 60 days).
- ``working_hours`` (required): ``{"monday": [{"start": "09:00", "end": "12:00"}, …], …}``,
  lower-case English weekday names, ``HH:MM`` wall-clock times in ``timezone`` (``end`` may
  be ``"24:00"``, the next local midnight), ``start < end``, at most 12 ranges a day, the
  ranges of a day not overlapping (touching is allowed); at least one range in the week.
- ``workdays``: weekday names; default: every day with ranges. A listed workday without
  ranges is refused; a day with ranges that is not listed keeps its ranges but is off.
- ``slot_step_minutes``: 5–480, default the duration (at most 480).
- ``interview_type``: ``google_meet`` (default), ``phone``, ``in_person``, ``custom_video``;
  with ``location`` (needed by ``in_person``), ``phone`` (needed by and checked for
  ``phone``), ``video_url`` (an https URL, needed by ``custom_video``), exactly as an
  interview's create requires them.
- ``booking_mode``: ``direct`` (default) or ``request``.
- ``daily_cap``: ``null`` (default, no cap) or 1–100 bookings of this configuration a day.

A value of the wrong JSON type, and a field the configuration does not have, is an
``InvalidInput`` (400); a well-typed value that breaks a rule a ``RuleViolation`` (422).
Either names the field in ``details.field`` (``working_hours.monday[1]``, ``calendar_ids[2]``,
…) and, where the code alone does not say it, the reason in ``details.reason``. A missing or
``null`` optional field takes its default; ``""`` counts as missing, as for interviews.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from itertools import pairwise
from typing import Any

from shared import api_limits as limit
from shared.domain.booking import BookingLimits, check_type_details, clean_text, reject_unknown
from shared.domain.errors import InvalidInput, RuleViolation
from shared.domain.models import InterviewType
from shared.domain.timezones import zone

WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")  # datetime.weekday() order
MINUTES_PER_DAY = 24 * 60

MAX_CONFIG_NAME = 100
MAX_CALENDARS = 20
MAX_CALENDAR_ID = 255
MAX_BUFFER = 240
MAX_NOTICE = 30 * MINUTES_PER_DAY
MAX_DAYS_AHEAD = 60
DEFAULT_DAYS_AHEAD = 30
MIN_STEP, MAX_STEP = 5, 480
MAX_RANGES_PER_DAY = 12
MAX_DAILY_CAP = 100

FIELDS = (
    "name",
    "timezone",
    "calendar_ids",
    "duration_minutes",
    "buffer_before_minutes",
    "buffer_after_minutes",
    "minimum_notice_minutes",
    "days_ahead",
    "working_hours",
    "workdays",
    "slot_step_minutes",
    "interview_type",
    "location",
    "phone",
    "video_url",
    "booking_mode",
    "daily_cap",
)
_HHMM = re.compile(r"(?:[01][0-9]|2[0-3]):[0-5][0-9]")


class BookingMode(str, enum.Enum):
    DIRECT = "direct"  # confirmed at once: Calendar event, Meet link, invitations
    REQUEST = "request"  # pending until the host confirms


@dataclass(frozen=True, order=True)
class WorkingRange:
    """Wall-clock minutes after local midnight, ``start`` inclusive, ``end`` exclusive (1440 = 24:00)."""

    start_minute: int
    end_minute: int


@dataclass(frozen=True)
class SchedulingConfig:
    id: str
    workspace_id: str
    host_uid: str
    name: str
    timezone: str  # IANA zone the working hours are written in
    calendar_ids: tuple[str, ...]  # the host's synced calendars whose busy times count
    duration_minutes: int
    # working_hours[weekday] (0 = Monday): that day's ranges, sorted, not overlapping; a
    # weekday without ranges (or absent) is not a workday, nor is one left out of ``workdays``.
    working_hours: Mapping[int, tuple[WorkingRange, ...]]
    slot_step_minutes: int
    buffer_before_minutes: int = 0
    buffer_after_minutes: int = 0
    minimum_notice_minutes: int = 0
    days_ahead: int = DEFAULT_DAYS_AHEAD
    interview_type: InterviewType = InterviewType.GOOGLE_MEET
    location: str | None = None
    phone: str | None = None
    booking_mode: BookingMode = BookingMode.DIRECT
    daily_cap: int | None = None  # at most this many bookings of this configuration per local day
    created_at: datetime | None = None
    updated_at: datetime | None = None
    # The weekdays (0 = Monday, sorted) that are on; () = every weekday that has ranges. A day
    # with ranges but not listed keeps its ranges (the API gives them back) but offers nothing.
    workdays: tuple[int, ...] = ()
    video_url: str | None = None  # the https meeting URL of a custom_video configuration

    @property
    def active_weekdays(self) -> frozenset[int]:
        """The weekdays that offer slots: listed workdays (or all days with ranges) that have ranges."""
        with_ranges = {day for day, ranges in self.working_hours.items() if ranges}
        return frozenset(with_ranges & set(self.workdays) if self.workdays else with_ranges)


@dataclass(frozen=True)
class BookingLink:
    """An opaque, revocable link to book one configuration; ``id`` is the secret in the URL."""

    id: str
    workspace_id: str
    host_uid: str
    config_id: str
    created_by: str  # uid of the host or admin who made it
    expires_at: datetime | None = None
    single_use: bool = False
    used_at: datetime | None = None  # set by the booking that used a single-use link up
    revoked_at: datetime | None = None
    created_at: datetime | None = None
    label: str | None = None
    booking_count: int = 0


# --- JSON in -------------------------------------------------------------------------------


def parse_config(
    body: Mapping[str, Any],
    *,
    config_id: str,
    workspace_id: str,
    host_uid: str,
    limits: BookingLimits,
    created_at: datetime | None = None,
    updated_at: datetime | None = None,
) -> SchedulingConfig:
    """A configuration from a create's JSON object, every rule of the module docstring checked."""
    reject_unknown(body, FIELDS)
    name = _text(body, "name", MAX_CONFIG_NAME, required=True)
    tz_name = _text(body, "timezone", limit.TIMEZONE_MAX_LENGTH, required=True)
    try:
        zone(tz_name)
    except RuleViolation as error:
        raise error.about("timezone") from None
    duration = _integer(body, "duration_minutes", None, None, required=True)
    if not limits.min_duration <= duration <= limits.max_duration:
        raise RuleViolation(
            f"duration_minutes must be between {limits.min_duration} and {limits.max_duration}.",
            code="duration_out_of_range",
            details={"field": "duration_minutes", "min": limits.min_duration, "max": limits.max_duration},
        )
    working_hours = _working_hours(body.get("working_hours"))
    kind = _interview_type(body)
    location = _text(body, "location", limit.LOCATION_MAX_LENGTH) or None
    phone = _text(body, "phone", limit.PHONE_MAX_LENGTH) or None
    video_url = _text(body, "video_url", limit.VIDEO_URL_MAX_LENGTH) or None
    check_type_details(kind, location, phone, video_url)
    mode = _text(body, "booking_mode", limit.BOOKING_MAX_LENGTH) or limit.BOOKING_DEFAULT
    if mode not in {m.value for m in BookingMode}:
        raise RuleViolation(
            f"booking_mode must be {' or '.join(m.value for m in BookingMode)}.",
            code="invalid_field",
            details={"field": "booking_mode"},
        )
    daily_cap = _integer(body, "daily_cap", 1, MAX_DAILY_CAP) if body.get("daily_cap") is not None else None
    return SchedulingConfig(
        id=config_id,
        workspace_id=workspace_id,
        host_uid=host_uid,
        name=name,
        timezone=tz_name,
        calendar_ids=_calendar_ids(body.get("calendar_ids")),
        duration_minutes=duration,
        working_hours=working_hours,
        slot_step_minutes=_integer(body, "slot_step_minutes", MIN_STEP, MAX_STEP, default=default_step(duration)),
        buffer_before_minutes=_integer(body, "buffer_before_minutes", 0, MAX_BUFFER, default=0),
        buffer_after_minutes=_integer(body, "buffer_after_minutes", 0, MAX_BUFFER, default=0),
        minimum_notice_minutes=_integer(body, "minimum_notice_minutes", 0, MAX_NOTICE, default=0),
        days_ahead=_integer(body, "days_ahead", 1, MAX_DAYS_AHEAD, default=DEFAULT_DAYS_AHEAD),
        interview_type=kind,
        location=location,
        phone=phone,
        video_url=video_url,
        booking_mode=BookingMode(mode),
        daily_cap=daily_cap,
        workdays=_workdays(body.get("workdays"), working_hours),
        created_at=created_at,
        updated_at=updated_at,
    )


def merge_patch(existing: SchedulingConfig, body: Mapping[str, Any], *, limits: BookingLimits) -> SchedulingConfig:
    """``existing`` with the top-level fields of a PATCH body replaced, validated as a whole.

    A field sent as ``null`` goes back to its default (``daily_cap: null`` lifts the cap);
    a required one cannot be cleared. Two defaults follow the fields they derive from when
    the PATCH does not name them: ``workdays``, when it was every day with ranges, stays so
    after ``working_hours`` changes; ``slot_step_minutes``, when it was the duration, stays
    the duration. id, owner and timestamps are kept (the caller sets ``updated_at``).
    """
    if not isinstance(body, Mapping):
        raise InvalidInput("The body must be a JSON object.", code="invalid_field", details={"field": "body"})
    merged = config_view(existing)
    if "workdays" not in body and set(existing.workdays) == {d for d, r in existing.working_hours.items() if r}:
        del merged["workdays"]
    if "slot_step_minutes" not in body and existing.slot_step_minutes == default_step(existing.duration_minutes):
        del merged["slot_step_minutes"]
    merged.update(body)
    return parse_config(
        merged,
        config_id=existing.id,
        workspace_id=existing.workspace_id,
        host_uid=existing.host_uid,
        limits=limits,
        created_at=existing.created_at,
        updated_at=existing.updated_at,
    )


def default_step(duration_minutes: int) -> int:
    """The slot step when none is given: the duration (back-to-back slots), within 5–480."""
    return max(MIN_STEP, min(duration_minutes, MAX_STEP))


# --- JSON out ------------------------------------------------------------------------------


def config_view(config: SchedulingConfig) -> dict[str, Any]:
    """The configuration's writable fields in the JSON shape ``parse_config`` reads (the API adds id, times)."""
    days = config.workdays or tuple(sorted(d for d, r in config.working_hours.items() if r))
    return {
        "name": config.name,
        "timezone": config.timezone,
        "calendar_ids": list(config.calendar_ids),
        "duration_minutes": config.duration_minutes,
        "buffer_before_minutes": config.buffer_before_minutes,
        "buffer_after_minutes": config.buffer_after_minutes,
        "minimum_notice_minutes": config.minimum_notice_minutes,
        "days_ahead": config.days_ahead,
        "working_hours": {WEEKDAYS[day]: ranges_json(config.working_hours.get(day, ())) for day in range(7)},
        "workdays": [WEEKDAYS[day] for day in days],
        "slot_step_minutes": config.slot_step_minutes,
        "interview_type": config.interview_type.value,
        "location": config.location,
        "phone": config.phone,
        "video_url": config.video_url,
        "booking_mode": config.booking_mode.value,
        "daily_cap": config.daily_cap,
    }


def ranges_json(ranges: Iterable[WorkingRange]) -> list[dict[str, str]]:
    """A day's ranges as the API and the Firestore document write them: ``[{"start": "09:00", "end": "12:00"}]``."""
    return [{"start": format_minute(r.start_minute), "end": format_minute(r.end_minute)} for r in sorted(ranges)]


def format_minute(minute: int) -> str:
    """``HH:MM`` for minutes after local midnight; 1440 is ``24:00``."""
    return f"{minute // 60:02d}:{minute % 60:02d}"


# --- the fields ----------------------------------------------------------------------------


def _wrong_type(field: str, expected: str) -> InvalidInput:
    return InvalidInput(f"{field} must be {expected}.", code="invalid_field", details={"field": field})


def _text(body: Mapping[str, Any], name: str, max_length: int, *, required: bool = False) -> str:
    """A one-line text field by booking.py's text rule; "" when absent (or blank) and optional."""
    value = body.get(name)
    if value is not None and not isinstance(value, str):
        raise _wrong_type(name, "a string")
    cleaned = clean_text(value, name, max_length) if value else ""
    if required and not cleaned:
        raise RuleViolation(f"{name} is required.", code="missing_field", details={"field": name})
    return cleaned


def _integer(
    body: Mapping[str, Any],
    name: str,
    low: int | None,
    high: int | None,
    *,
    required: bool = False,
    default: int | None = None,
) -> int:
    value = body.get(name)
    if value is None:
        if required or default is None:
            raise RuleViolation(f"{name} is required.", code="missing_field", details={"field": name})
        return default
    if isinstance(value, bool) or not isinstance(value, int):
        raise _wrong_type(name, "a whole number")
    if low is not None and high is not None and not low <= value <= high:
        raise RuleViolation(
            f"{name} must be between {low} and {high}.",
            code="invalid_field",
            details={"field": name, "reason": "out_of_range", "min": low, "max": high},
        )
    return value


def _interview_type(body: Mapping[str, Any]) -> InterviewType:
    type_name = _text(body, "interview_type", limit.INTERVIEW_TYPE_MAX_LENGTH) or limit.INTERVIEW_TYPE_DEFAULT
    try:
        return InterviewType(type_name)
    except ValueError:
        raise RuleViolation(
            f"interview_type must be one of {', '.join(t.value for t in InterviewType)}.",
            code="invalid_interview_type",
            details={"field": "interview_type"},
        ) from None


def _calendar_ids(value: Any) -> tuple[str, ...]:
    if value is None or value == []:
        raise RuleViolation(
            "calendar_ids is required: at least one of the host's calendars.",
            code="missing_field",
            details={"field": "calendar_ids"},
        )
    if not isinstance(value, list):
        raise _wrong_type("calendar_ids", "a list of calendar ids")
    if len(value) > MAX_CALENDARS:
        raise RuleViolation(
            f"calendar_ids may list at most {MAX_CALENDARS} calendars.",
            code="invalid_field",
            details={"field": "calendar_ids", "reason": "too_many", "max_items": MAX_CALENDARS},
        )
    ids: list[str] = []
    for i, item in enumerate(value):
        field = f"calendar_ids[{i}]"
        if not isinstance(item, str):
            raise _wrong_type(field, "a string")
        cleaned = clean_text(item, field, MAX_CALENDAR_ID)
        if not cleaned:
            raise RuleViolation(f"{field} is empty.", code="invalid_field", details={"field": field, "reason": "empty"})
        if cleaned in ids:
            raise RuleViolation(
                f"{field} repeats {cleaned!r}.", code="invalid_field", details={"field": field, "reason": "duplicate"}
            )
        ids.append(cleaned)
    return tuple(ids)


def _minute(value: Any, field: str, *, end: bool) -> int:
    if value is None or value == "":
        raise RuleViolation(f"{field} is required.", code="missing_field", details={"field": field})
    if not isinstance(value, str):
        raise _wrong_type(field, "a time, HH:MM")
    if end and value == "24:00":
        return MINUTES_PER_DAY
    if not _HHMM.fullmatch(value):
        allowed = "HH:MM from 00:00 to 24:00" if end else "HH:MM from 00:00 to 23:59"
        raise RuleViolation(f"{field} must be {allowed}.", code="invalid_time", details={"field": field})
    return int(value[:2]) * 60 + int(value[3:])


def _working_hours(value: Any) -> dict[int, tuple[WorkingRange, ...]]:
    if value is None:
        raise RuleViolation("working_hours is required.", code="missing_field", details={"field": "working_hours"})
    if not isinstance(value, Mapping):
        raise _wrong_type("working_hours", 'an object of weekdays, e.g. {"monday": [{"start": "09:00", "end": "17:00"}]}')
    hours: dict[int, tuple[WorkingRange, ...]] = {}
    for key, ranges in value.items():
        field = f"working_hours.{str(key)[:20]}"
        if key not in WEEKDAYS:
            raise RuleViolation(
                f"{field}: unknown weekday; use {', '.join(WEEKDAYS)}.",
                code="invalid_field",
                details={"field": field, "reason": "unknown_weekday"},
            )
        if ranges is None:
            continue
        if not isinstance(ranges, list):
            raise _wrong_type(field, "a list of {start, end} ranges")
        if len(ranges) > MAX_RANGES_PER_DAY:
            raise RuleViolation(
                f"{field} may have at most {MAX_RANGES_PER_DAY} ranges.",
                code="invalid_field",
                details={"field": field, "reason": "too_many", "max_items": MAX_RANGES_PER_DAY},
            )
        parsed: list[tuple[WorkingRange, int]] = []
        for i, item in enumerate(ranges):
            item_field = f"{field}[{i}]"
            if not isinstance(item, Mapping):
                raise _wrong_type(item_field, 'an object {"start": "HH:MM", "end": "HH:MM"}')
            for extra in item:
                if extra not in ("start", "end"):
                    raise InvalidInput(
                        f"{item_field} has an unknown field; a range has start and end.",
                        code="invalid_field",
                        details={"field": f"{item_field}.{str(extra)[:20]}", "reason": "unknown_field"},
                    )
            start = _minute(item.get("start"), f"{item_field}.start", end=False)
            end = _minute(item.get("end"), f"{item_field}.end", end=True)
            if start >= end:
                raise RuleViolation(
                    f"{item_field} must end after it starts.",
                    code="invalid_field",
                    details={"field": item_field, "reason": "end_not_after_start"},
                )
            parsed.append((WorkingRange(start, end), i))
        parsed.sort()
        for (before, j), (after, i) in pairwise(parsed):
            if after.start_minute < before.end_minute:
                raise RuleViolation(
                    f"{field}[{i}] overlaps {field}[{j}]; ranges of a day may touch but not overlap.",
                    code="invalid_field",
                    details={"field": f"{field}[{i}]", "reason": "overlapping_ranges", "overlaps": f"{field}[{j}]"},
                )
        if parsed:
            hours[WEEKDAYS.index(key)] = tuple(r for r, _ in parsed)
    if not hours:
        raise RuleViolation(
            "working_hours needs at least one range.",
            code="invalid_field",
            details={"field": "working_hours", "reason": "no_working_hours"},
        )
    return hours


def _workdays(value: Any, working_hours: Mapping[int, tuple[WorkingRange, ...]]) -> tuple[int, ...]:
    if value is None:
        return tuple(sorted(working_hours))
    if not isinstance(value, list):
        raise _wrong_type("workdays", "a list of weekday names")
    if not value:
        raise RuleViolation(
            "workdays needs at least one day (leave it out for every day with working hours).",
            code="invalid_field",
            details={"field": "workdays", "reason": "empty"},
        )
    days: list[int] = []
    for i, name in enumerate(value):
        field = f"workdays[{i}]"
        if not isinstance(name, str):
            raise _wrong_type(field, "a weekday name")
        if name not in WEEKDAYS:
            raise RuleViolation(
                f"{field}: unknown weekday; use {', '.join(WEEKDAYS)}.",
                code="invalid_field",
                details={"field": field, "reason": "unknown_weekday"},
            )
        day = WEEKDAYS.index(name)
        if day in days:
            raise RuleViolation(f"{field} repeats {name}.", code="invalid_field", details={"field": field, "reason": "duplicate"})
        if not working_hours.get(day):
            raise RuleViolation(
                f"{field}: {name} is a workday without working hours.",
                code="invalid_field",
                details={"field": field, "reason": "workday_without_hours"},
            )
        days.append(day)
    return tuple(sorted(days))
