"""Wire parsing for interviews: a request's JSON object (a dict) into typed values.

The seeds' create shape (``candidate``, ``job_title``, ``date``, ``time``, ``timezone``,
``note``, ``interview_type``) or an RFC 3339 ``start``; a reschedule's new time and
duration; a cancellation's ``reason``. Each refusal names the field and why: a value of
the wrong type is ``InvalidInput`` (400), one that breaks a rule ``RuleViolation`` (422),
both raised before anything is written. The rules on the typed values (the text rule,
time zones with their DST gaps and folds, duration limits, the booking horizon) are the
domain's (shared.domain.booking, shared.domain.timezones).

Standard library and shared.domain only: loaded by the changes that read a body, never by
a get or a list.
"""

from __future__ import annotations

import re
from datetime import date, datetime, time
from typing import Any

from shared.domain.booking import (
    MAX_JOB_TITLE,
    MAX_LOCATION,
    MAX_NAME,
    MAX_NOTE,
    MAX_PHONE,
    MAX_URL,
    PHONE,
    BookingLimits,
    BookingRequest,
    Candidate,
    check_window,
    clean_text,
    parse_instant,
    valid_email,
    valid_id,
)
from shared.domain.errors import InvalidInput, RuleViolation
from shared.domain.models import InterviewType
from shared.domain.timezones import local_to_utc, to_local_iso, zone


def _field(
    body: dict[str, Any],
    name: str,
    kind: type | tuple[type, ...],
    max_length: int | None = None,
    required: bool = False,
    label: str | None = None,
    multi_line: bool = False,
) -> Any:
    """``body[name]`` checked for type (400) and, for text, by the text rule (422); ``label`` names it in errors."""
    label = label or name
    value = body.get(name)
    if value is None or value == "":
        if required:
            raise RuleViolation(f"{label} is required.", code="missing_field", details={"field": label})
        return None
    if not isinstance(value, kind) or isinstance(value, bool) and kind is not bool:
        raise InvalidInput(f"{label} has the wrong type.", code="invalid_field", details={"field": label})
    if max_length is not None and isinstance(value, str):
        value = clean_text(value, label, max_length, multi_line=multi_line)
    return value


def text(body: dict[str, Any], name: str, max_length: int, *, multi_line: bool = False) -> str | None:
    """An optional text field of a request body, by the module's text rule."""
    value: str | None = _field(body, name, str, max_length, multi_line=multi_line)
    return value


def parse_start(body: dict[str, Any], default_tz: str | None = None) -> tuple[datetime, str]:
    """``start`` (RFC 3339, with ``timezone`` naming the booking zone) or ``date`` + ``time`` + ``timezone``.

    ``date`` / ``time`` sent beside ``start`` must name the same local date and time in the
    booking zone: a client whose fields disagree gets a 422 rather than one silently ignored.
    """
    tz_name = _field(body, "timezone", str, 64) or default_tz
    if tz_name is None:
        raise RuleViolation(
            "timezone is required (an IANA name such as Europe/Berlin).", code="missing_field", details={"field": "timezone"}
        )
    zone(tz_name)
    start_text = _field(body, "start", str, 40)
    day = _date(body, required=start_text is None)
    at = _time(body, required=start_text is None)
    if start_text is None:
        assert day is not None and at is not None
        try:
            return local_to_utc(day, at, tz_name), tz_name
        except OverflowError:
            raise RuleViolation(
                "date is outside the supported range of dates.", code="invalid_date", details={"field": "date"}
            ) from None
    start = parse_instant(start_text, "start")
    if day is None and at is None:
        return start, tz_name
    try:
        local = datetime.fromisoformat(to_local_iso(start, tz_name))
    except OverflowError:  # within a day of year 1 or 9999: never a bookable start
        raise RuleViolation(
            "start is outside the supported range of dates.", code="invalid_timestamp", details={"field": "start"}
        ) from None
    disagree = [
        name
        for name, given, actual in (("date", day, local.date()), ("time", at, local.time().replace(microsecond=0)))
        if given is not None and given != actual
    ]
    if disagree:
        raise RuleViolation(
            f"{' and '.join(disagree)} disagree with start ({local.isoformat()} in {tz_name}); "
            "send start alone or matching values.",
            code="conflicting_fields",
            details={"field": "start", "fields": ["start", *disagree]},
        )
    return start, tz_name


def _date(body: dict[str, Any], *, required: bool) -> date | None:
    day_text = _field(body, "date", str, 10, required=required)
    if day_text is None:
        return None
    invalid = RuleViolation("date must be YYYY-MM-DD.", code="invalid_date", details={"field": "date"})
    if not re.fullmatch(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", day_text):
        raise invalid
    try:
        return date.fromisoformat(day_text)
    except ValueError:
        raise invalid from None


def _time(body: dict[str, Any], *, required: bool) -> time | None:
    time_text = _field(body, "time", str, 8, required=required)
    if time_text is None:
        return None
    if not re.fullmatch(r"[0-9]{2}:[0-9]{2}(:[0-9]{2})?", time_text):
        raise RuleViolation("time must be HH:MM or HH:MM:SS.", code="invalid_time", details={"field": "time"})
    try:
        return time.fromisoformat(time_text)
    except ValueError:
        raise RuleViolation("time must be HH:MM or HH:MM:SS.", code="invalid_time", details={"field": "time"}) from None


def parse_duration(body: dict[str, Any], default: int) -> int:
    value = body.get("duration_minutes", body.get("duration"))
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidInput(
            "duration_minutes must be a whole number.", code="invalid_field", details={"field": "duration_minutes"}
        )
    return value


def parse_booking(body: dict[str, Any], *, now: datetime, limits: BookingLimits) -> BookingRequest:
    candidate_id = _field(body, "candidate_id", str)
    if candidate_id is not None:
        valid_id(candidate_id, "candidate_id")
    raw_candidate = body.get("candidate")
    candidate = None
    if isinstance(raw_candidate, dict):
        candidate = Candidate(
            email=valid_email(raw_candidate.get("email"), "candidate.email"),
            name=_field(raw_candidate, "name", str, MAX_NAME, label="candidate.name") or "",
        )
    elif raw_candidate is not None:
        raise InvalidInput(
            "candidate must be an object with email and name.", code="invalid_field", details={"field": "candidate"}
        )
    elif candidate_id is None:
        raise RuleViolation(
            "candidate (email, name) or candidate_id is required.", code="missing_field", details={"field": "candidate"}
        )
    type_name = _field(body, "interview_type", str, 20) or InterviewType.GOOGLE_MEET.value
    try:
        kind = InterviewType(type_name)
    except ValueError:
        raise RuleViolation(
            f"interview_type must be one of {', '.join(t.value for t in InterviewType)}.",
            code="invalid_interview_type",
            details={"field": "interview_type"},
        ) from None
    location = _field(body, "location", str, MAX_LOCATION)
    phone = _field(body, "phone", str, MAX_PHONE)
    video_url = _field(body, "video_url", str, MAX_URL)
    if kind is InterviewType.IN_PERSON and not location:
        raise RuleViolation("An in-person interview needs a location.", code="missing_field", details={"field": "location"})
    if kind is InterviewType.PHONE and (not phone or not PHONE.fullmatch(phone)):
        raise RuleViolation("A phone interview needs a phone number.", code="invalid_phone", details={"field": "phone"})
    if kind is InterviewType.CUSTOM_VIDEO and (not video_url or not video_url.startswith("https://")):
        raise RuleViolation(
            "A custom video interview needs an https video_url.", code="invalid_video_url", details={"field": "video_url"}
        )
    start, tz_name = parse_start(body)
    duration = parse_duration(body, limits.default_duration)
    check_window(start, duration, now, limits)
    host_uid = _field(body, "host_uid", str)
    if host_uid is not None:
        valid_id(host_uid, "host_uid")
    booking = _field(body, "booking", str, 10) or "direct"
    if booking not in ("direct", "request"):
        raise RuleViolation("booking must be direct or request.", code="invalid_field", details={"field": "booking"})
    return BookingRequest(
        candidate=candidate,
        candidate_id=candidate_id,
        job_title=_field(body, "job_title", str, MAX_JOB_TITLE),
        type=kind,
        start=start,
        timezone=tz_name,
        duration_minutes=duration,
        note=_field(body, "note", str, MAX_NOTE, multi_line=True),
        location=location,
        phone=phone,
        video_url=video_url,
        confirm=booking == "direct",
        host_uid=host_uid,
    )
