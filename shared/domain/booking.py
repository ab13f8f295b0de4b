"""What a host asked for, validated: the seeds' create shape or an RFC 3339 start.

Pure rules, no I/O: every refusal is a 4xx that says which field and why, raised before
anything is written.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any

from shared.domain.models import InterviewType
from shared.domain.timezones import local_to_utc, parse_rfc3339, zone
from shared.errors import BadRequest, Unprocessable

MAX_NAME = 200
MAX_JOB_TITLE = 200
MAX_NOTE = 2000
MAX_LOCATION = 500
MAX_PHONE = 40
MAX_EMAIL = 254
MAX_URL = 2000
EMAIL = re.compile(r"[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]{1,64}@[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)+")
PHONE = re.compile(r"\+?[0-9][0-9 ()./-]{3,38}")
BASE32HEX = "0123456789abcdefghijklmnopqrstuv"


@dataclass(frozen=True)
class BookingLimits:
    min_duration: int = 15
    max_duration: int = 480
    default_duration: int = 60
    horizon_days: int = 365


@dataclass(frozen=True)
class Candidate:
    email: str
    name: str


@dataclass(frozen=True)
class BookingRequest:
    """A create (or reschedule) request after validation."""

    candidate: Candidate | None  # None when given by candidate_id (resolved by the service)
    candidate_id: str | None
    job_title: str | None
    type: InterviewType
    start: datetime  # UTC
    timezone: str
    duration_minutes: int
    note: str | None
    location: str | None
    phone: str | None
    video_url: str | None
    confirm: bool  # direct booking (confirmed at once) or a request that a host confirms later
    host_uid: str | None  # an admin booking for another host of the workspace


def _field(body: dict[str, Any], name: str, kind: type | tuple[type, ...], max_length: int | None = None,
           required: bool = False) -> Any:
    value = body.get(name)
    if value is None or value == "":
        if required:
            raise Unprocessable(f"{name} is required.", code="missing_field", details={"field": name})
        return None
    if not isinstance(value, kind) or isinstance(value, bool) and kind is not bool:
        raise BadRequest(f"{name} has the wrong type.", code="invalid_field", details={"field": name})
    if max_length is not None and isinstance(value, str):
        value = value.strip()
        if len(value) > max_length:
            raise Unprocessable(f"{name} is longer than {max_length} characters.", code="field_too_long",
                                details={"field": name, "max_length": max_length})
        if any(ord(c) < 32 and c not in "\n\t" for c in value):
            raise Unprocessable(f"{name} contains control characters.", code="invalid_field", details={"field": name})
    return value


def valid_email(value: Any, field: str) -> str:
    if not isinstance(value, str) or len(value) > MAX_EMAIL or not EMAIL.fullmatch(value.strip()):
        raise Unprocessable(f"{field} is not a valid email address.", code="invalid_email", details={"field": field})
    return value.strip()


def parse_start(body: dict[str, Any], default_tz: str | None = None) -> tuple[datetime, str]:
    """``start`` (RFC 3339, with ``timezone`` naming the booking zone) or ``date`` + ``time`` + ``timezone``."""
    tz_name = _field(body, "timezone", str, 64) or default_tz
    if tz_name is None:
        raise Unprocessable("timezone is required (an IANA name such as Europe/Berlin).", code="missing_field",
                            details={"field": "timezone"})
    zone(tz_name)
    if body.get("start") is not None:
        start = parse_rfc3339(_field(body, "start", str, 40))
        return start, tz_name
    day_text, time_text = _field(body, "date", str, 10, required=True), _field(body, "time", str, 8, required=True)
    try:
        day = date.fromisoformat(day_text)
    except ValueError:
        raise Unprocessable("date must be YYYY-MM-DD.", code="invalid_date", details={"field": "date"}) from None
    if not re.fullmatch(r"\d{2}:\d{2}(:\d{2})?", time_text):
        raise Unprocessable("time must be HH:MM or HH:MM:SS.", code="invalid_time", details={"field": "time"})
    try:
        at = time.fromisoformat(time_text)
    except ValueError:
        raise Unprocessable("time must be HH:MM or HH:MM:SS.", code="invalid_time", details={"field": "time"}) from None
    return local_to_utc(day, at, tz_name), tz_name


def check_window(start: datetime, duration_minutes: int, now: datetime, limits: BookingLimits) -> None:
    if start <= now:
        raise Unprocessable("The start is in the past.", code="start_in_past", details={"field": "start"})
    if start > now + timedelta(days=limits.horizon_days):
        raise Unprocessable(f"The start is more than {limits.horizon_days} days ahead.", code="beyond_booking_horizon",
                            details={"field": "start", "horizon_days": limits.horizon_days})
    if not limits.min_duration <= duration_minutes <= limits.max_duration:
        raise Unprocessable(f"duration_minutes must be between {limits.min_duration} and {limits.max_duration}.",
                            code="duration_out_of_range", details={"field": "duration_minutes"})


def parse_duration(body: dict[str, Any], default: int) -> int:
    value = body.get("duration_minutes", body.get("duration"))
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, int):
        raise BadRequest("duration_minutes must be a whole number.", code="invalid_field", details={"field": "duration_minutes"})
    return value


def parse_booking(body: dict[str, Any], *, now: datetime, limits: BookingLimits) -> BookingRequest:
    candidate_id = _field(body, "candidate_id", str, 128)
    raw_candidate = body.get("candidate")
    candidate = None
    if isinstance(raw_candidate, dict):
        candidate = Candidate(email=valid_email(raw_candidate.get("email"), "candidate.email"),
                              name=_field(raw_candidate, "name", str, MAX_NAME) or "")
    elif raw_candidate is not None:
        raise BadRequest("candidate must be an object with email and name.", code="invalid_field", details={"field": "candidate"})
    elif candidate_id is None:
        raise Unprocessable("candidate (email, name) or candidate_id is required.", code="missing_field",
                            details={"field": "candidate"})
    type_name = _field(body, "interview_type", str, 20) or InterviewType.GOOGLE_MEET.value
    try:
        kind = InterviewType(type_name)
    except ValueError:
        raise Unprocessable(f"interview_type must be one of {', '.join(t.value for t in InterviewType)}.",
                            code="invalid_interview_type", details={"field": "interview_type"}) from None
    location = _field(body, "location", str, MAX_LOCATION)
    phone = _field(body, "phone", str, MAX_PHONE)
    video_url = _field(body, "video_url", str, MAX_URL)
    if kind is InterviewType.IN_PERSON and not location:
        raise Unprocessable("An in-person interview needs a location.", code="missing_field", details={"field": "location"})
    if kind is InterviewType.PHONE and (not phone or not PHONE.fullmatch(phone)):
        raise Unprocessable("A phone interview needs a phone number.", code="invalid_phone", details={"field": "phone"})
    if kind is InterviewType.CUSTOM_VIDEO and (not video_url or not video_url.startswith("https://")):
        raise Unprocessable("A custom video interview needs an https video_url.", code="invalid_video_url",
                            details={"field": "video_url"})
    start, tz_name = parse_start(body)
    duration = parse_duration(body, limits.default_duration)
    check_window(start, duration, now, limits)
    booking = _field(body, "booking", str, 10) or "direct"
    if booking not in ("direct", "request"):
        raise Unprocessable("booking must be direct or request.", code="invalid_field", details={"field": "booking"})
    return BookingRequest(
        candidate=candidate, candidate_id=candidate_id, job_title=_field(body, "job_title", str, MAX_JOB_TITLE), type=kind,
        start=start, timezone=tz_name, duration_minutes=duration, note=_field(body, "note", str, MAX_NOTE),
        location=location, phone=phone, video_url=video_url, confirm=booking == "direct",
        host_uid=_field(body, "host_uid", str, 128),
    )


def new_interview_id(seed: bytes | None = None) -> str:
    """26 base32hex characters: also a valid Google Calendar event id (a–v, 0–9, 5–1024 chars).

    With a seed (the hash of an Idempotency-Key) the id is the same on every retry, so a
    retried request finds the Calendar event its first attempt may have created.
    """
    raw = int.from_bytes(seed[:17] if seed else secrets.token_bytes(17), "big")
    return "".join(BASE32HEX[(raw >> (5 * i)) & 31] for i in range(26))


def overlaps(a_start: datetime, a_end: datetime, b_start: datetime, b_end: datetime) -> bool:
    """Half-open intervals: back-to-back interviews (one ends as the next starts) do not overlap."""
    return a_start < b_end and b_start < a_end
