"""Wire parsing for the scheduling function: availability windows, booking-link and guest bodies.

Each refusal names its field: a value of the wrong type is ``InvalidInput`` (400), one that
breaks a rule ``RuleViolation`` (422), raised before anything is read or written.
Standard library and the domain only: cheap on a cold start.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from shared import api_limits as limit
from shared.domain.booking import clean_text, parse_instant, reject_unknown, valid_email
from shared.domain.errors import InvalidInput, RuleViolation
from shared.domain.timezones import zone

DEFAULT_DAYS = 7  # a window with no date: today and the six days after (in the display zone)
LINK_LABEL_MAX = 100
GUEST_NOTE_MAX = limit.NOTE_MAX_LENGTH


@dataclass(frozen=True)
class DateWindow:
    """Local dates ``first``..``last`` (inclusive) in ``timezone``; ``single`` when asked as ``date=``."""

    first: date | None
    last: date | None
    timezone: str | None  # None: the configuration's zone
    single: bool


DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", re.ASCII)


def _date(raw: str, field: str) -> date:
    if not DATE.fullmatch(raw):  # fromisoformat would also take week dates (2026-W01-1)
        raise InvalidInput(f"{field} must be a date, YYYY-MM-DD.", code="invalid_field", details={"field": field})
    try:
        return date.fromisoformat(raw)
    except ValueError:
        raise InvalidInput(f"{field} must be a date, YYYY-MM-DD.", code="invalid_field", details={"field": field}) from None


def display_zone(raw: str | None) -> str | None:
    """``?timezone=``: an IANA zone to show slots in (the guest's), or None."""
    if raw is None or raw == "":
        return None
    if len(raw) > limit.TIMEZONE_MAX_LENGTH:
        raise InvalidInput("timezone is too long.", code="invalid_field", details={"field": "timezone"})
    try:
        zone(raw)
    except RuleViolation as error:
        raise error.about("timezone") from None
    return raw


def parse_window(query: Mapping[str, str], *, allowed: frozenset[str] = frozenset()) -> DateWindow:
    """``date`` (one day) or ``from``/``to`` (inclusive dates), in ``timezone`` when given."""
    known = {"date", "from", "to", "timezone"} | allowed
    for name in query:
        if name not in known:
            raise InvalidInput(f"Unknown query parameter {name[:60]!r}.", code="invalid_field", details={"field": name[:60]})
    tz_name = display_zone(query.get("timezone"))
    if query.get("date"):
        if query.get("from") or query.get("to"):
            raise InvalidInput("Give date, or from and to, not both.", code="invalid_field", details={"field": "date"})
        day = _date(query["date"], "date")
        return DateWindow(day, day, tz_name, True)
    first = _date(query["from"], "from") if query.get("from") else None
    last = _date(query["to"], "to") if query.get("to") else None
    if first and last and last < first:
        raise RuleViolation("to must not be before from.", code="invalid_range", details={"field": "to"})
    return DateWindow(first, last, tz_name, False)


def resolve_window(window: DateWindow, *, today: date, days_ahead: int) -> tuple[date, date]:
    """The dates a request covers: defaults from ``today``, at most the horizon's length."""
    first = window.first or today
    if window.last is not None:
        last = window.last
    else:  # a week, or to the horizon when it is nearer (never past the last date there is)
        days = min(DEFAULT_DAYS - 1, days_ahead + 1)
        last = first + timedelta(days=days) if first < date.max - timedelta(days=days) else date.max
    if (last - first).days > days_ahead + 1:
        raise RuleViolation(
            f"A range covers at most {days_ahead + 2} days (the configuration's horizon).",
            code="range_too_long",
            details={"field": "to", "max_days": days_ahead + 2},
        )
    return first, last


def _text(body: Mapping[str, Any], name: str, max_length: int, *, required: bool = False, multi_line: bool = False) -> str | None:
    value = body.get(name)
    if value is None or (isinstance(value, str) and not value.strip()):
        if required:
            raise RuleViolation(f"{name} is required.", code="missing_field", details={"field": name})
        return None
    if not isinstance(value, str):
        raise InvalidInput(f"{name} must be a string.", code="invalid_field", details={"field": name})
    return clean_text(value, name, max_length, multi_line=multi_line)


@dataclass(frozen=True)
class LinkSpec:
    expires_at: datetime | None
    single_use: bool
    label: str | None


def parse_link(body: Mapping[str, Any], *, now: datetime) -> LinkSpec:
    """A new booking link: optional ``expires_at`` (future), ``single_use``, ``label``."""
    reject_unknown(body, ("expires_at", "single_use", "label"))
    expires_at = None
    if body.get("expires_at") is not None:
        expires_at = parse_instant(body["expires_at"], "expires_at")
        if expires_at <= now:
            raise RuleViolation("expires_at must be in the future.", code="expires_in_past", details={"field": "expires_at"})
    single_use = body.get("single_use")
    single_use = False if single_use is None else single_use
    if not isinstance(single_use, bool):
        raise InvalidInput("single_use must be true or false.", code="invalid_field", details={"field": "single_use"})
    return LinkSpec(expires_at, single_use, _text(body, "label", LINK_LABEL_MAX))


@dataclass(frozen=True)
class GuestBooking:
    start: datetime
    name: str
    email: str
    note: str | None
    timezone: str | None  # the guest's zone: the emails show the time in it


def parse_guest_booking(body: Mapping[str, Any]) -> GuestBooking:
    """``POST /links/{id}/bookings``: ``start`` (a slot's instant), ``name``, ``email``, optional ``note``, ``timezone``."""
    reject_unknown(body, ("start", "name", "email", "note", "timezone"))
    if body.get("start") in (None, ""):
        raise RuleViolation("start is required: one of the offered slots.", code="missing_field", details={"field": "start"})
    start = parse_instant(body["start"], "start")
    name = _text(body, "name", limit.CANDIDATE_NAME_MAX_LENGTH, required=True)
    if body.get("email") in (None, ""):
        raise RuleViolation("email is required.", code="missing_field", details={"field": "email"})
    email = valid_email(body["email"], "email")
    note = _text(body, "note", GUEST_NOTE_MAX, multi_line=True)
    tz_value = body.get("timezone")
    if tz_value is not None and not isinstance(tz_value, str):
        raise InvalidInput("timezone must be a string.", code="invalid_field", details={"field": "timezone"})
    return GuestBooking(start, name or "", email, note, display_zone(tz_value))


def parse_guest_reschedule(body: Mapping[str, Any]) -> tuple[datetime, str | None]:
    """A guest's new slot: ``start`` (and optionally the guest's ``timezone``)."""
    reject_unknown(body, ("start", "timezone"))
    if body.get("start") in (None, ""):
        raise RuleViolation("start is required: one of the offered slots.", code="missing_field", details={"field": "start"})
    tz_value = body.get("timezone")
    if tz_value is not None and not isinstance(tz_value, str):
        raise InvalidInput("timezone must be a string.", code="invalid_field", details={"field": "timezone"})
    return parse_instant(body["start"], "start"), display_zone(tz_value)


def parse_reason(body: Mapping[str, Any]) -> str | None:
    """A cancellation's (or decline's) optional ``reason``."""
    reject_unknown(body, ("reason",))
    return _text(body, "reason", limit.REASON_MAX_LENGTH, multi_line=True)


def parse_host_availability(query: Mapping[str, str], durations: tuple[int, int]) -> tuple[str, DateWindow, int | None]:
    """``GET /availability``: ``config_id`` (required), the window, and the seeds' optional ``duration_minutes``."""
    from shared.domain.booking import valid_id

    config_id = query.get("config_id")
    if not config_id:
        raise RuleViolation("config_id is required.", code="missing_field", details={"field": "config_id"})
    config_id = valid_id(config_id, "config_id")
    window = parse_window(query, allowed=frozenset({"config_id", "duration_minutes"}))
    raw = query.get("duration_minutes")
    duration = None
    if raw:
        if not raw.isascii() or not raw.isdigit() or len(raw) > 4:
            raise InvalidInput("duration_minutes must be a number.", code="invalid_field", details={"field": "duration_minutes"})
        duration = int(raw)
        low, high = durations
        if not low <= duration <= high:
            raise RuleViolation(
                f"duration_minutes must be between {low} and {high}.",
                code="duration_out_of_range",
                details={"field": "duration_minutes", "min": low, "max": high},
            )
    return config_id, window, duration
