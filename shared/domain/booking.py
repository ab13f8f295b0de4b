"""What a host asked for, validated: the seeds' create shape or an RFC 3339 start.

Pure rules, no I/O: every refusal is a 4xx that says which field and why, raised before
anything is written.

Text rule (one for every field): ``note`` (and a cancellation ``reason``) may span lines —
CRLF, a lone CR, U+2028 and U+2029 become LF, TAB is kept; every other field is one line:
no CR, LF, TAB, U+2028/U+2029 or other control character (C0, DEL, C1). Unpaired surrogates
(JSON ``\\ud800``) are refused everywhere: Firestore stores UTF-8 only. Text is trimmed, and
its length counted, after that.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any

from shared.domain.models import InterviewType
from shared.domain.timezones import local_to_utc, parse_rfc3339, to_local_iso, zone
from shared.errors import BadRequest, Unprocessable

MAX_NAME = 200
MAX_JOB_TITLE = 200
MAX_NOTE = 2000
MAX_LOCATION = 500
MAX_PHONE = 40
MAX_EMAIL = 254
MAX_URL = 2000
EMAIL = re.compile(
    r"[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]{1,64}@[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)+"
)
PHONE = re.compile(r"\+?[0-9][0-9 ()./-]{3,38}")
BASE32HEX = "0123456789abcdefghijklmnopqrstuv"
# An opaque id (interview, user, candidate): letters, digits, _ and -, never Firestore's reserved
# __name__ form. The same rule as shared.http.ID_PATTERN, which matches ids inside paths.
ID_PATTERN = r"(?!__[A-Za-z0-9_-]*__(?:/|$))[A-Za-z0-9_-]{1,128}"
_ID = re.compile(ID_PATTERN)
_LINE_BREAKS = re.compile("\r\n?|[\u2028\u2029]")
_UNICODE_LINE_BREAKS = "\u2028\u2029"


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
            raise Unprocessable(f"{label} is required.", code="missing_field", details={"field": label})
        return None
    if not isinstance(value, kind) or isinstance(value, bool) and kind is not bool:
        raise BadRequest(f"{label} has the wrong type.", code="invalid_field", details={"field": label})
    if max_length is not None and isinstance(value, str):
        value = clean_text(value, label, max_length, multi_line=multi_line)
    return value


def clean_text(value: str, field: str, max_length: int, *, multi_line: bool = False) -> str:
    """The text rule of this module's docstring: one line, or (note, reason) LF-separated lines."""
    if multi_line:
        value = _LINE_BREAKS.sub("\n", value)
    value = value.strip()
    for c in value:
        if "\ud800" <= c <= "\udfff":
            raise Unprocessable(
                f"{field} is not valid Unicode text.", code="invalid_field", details={"field": field, "reason": "invalid_unicode"}
            )
        if c in "\r\n" + _UNICODE_LINE_BREAKS and not (multi_line and c == "\n"):
            raise Unprocessable(
                f"{field} must be a single line.", code="invalid_field", details={"field": field, "reason": "line_break"}
            )
        if (ord(c) < 32 or 0x7F <= ord(c) <= 0x9F) and not (multi_line and c in "\n\t"):
            raise Unprocessable(
                f"{field} contains control characters.",
                code="invalid_field",
                details={"field": field, "reason": "control_character"},
            )
    if len(value) > max_length:
        raise Unprocessable(
            f"{field} is longer than {max_length} characters.",
            code="field_too_long",
            details={"field": field, "max_length": max_length},
        )
    return value


def text(body: dict[str, Any], name: str, max_length: int, *, multi_line: bool = False) -> str | None:
    """An optional text field of a request body, by the module's text rule."""
    value: str | None = _field(body, name, str, max_length, multi_line=multi_line)
    return value


def valid_id(value: Any, field: str) -> str:
    """An opaque id from a client (body or query): refused before it can name a Firestore path."""
    if not isinstance(value, str) or not _ID.fullmatch(value):
        raise BadRequest(
            f"{field} is not a valid id (1 to 128 letters, digits, _ or -; not __…__).",
            code="invalid_field",
            details={"field": field},
        )
    return value


def parse_instant(value: Any, field: str) -> datetime:
    """An RFC 3339 timestamp (``from``, ``to``, ``start``) as UTC; out-of-range years are a 422 too."""
    try:
        return parse_rfc3339(value)
    except Unprocessable as error:
        raise Unprocessable(error.message, code=error.code, details={**error.details, "field": field}) from None


def valid_email(value: Any, field: str) -> str:
    if not isinstance(value, str) or len(value) > MAX_EMAIL or not EMAIL.fullmatch(value.strip()):
        raise Unprocessable(f"{field} is not a valid email address.", code="invalid_email", details={"field": field})
    return value.strip()


def parse_start(body: dict[str, Any], default_tz: str | None = None) -> tuple[datetime, str]:
    """``start`` (RFC 3339, with ``timezone`` naming the booking zone) or ``date`` + ``time`` + ``timezone``.

    ``date`` / ``time`` sent beside ``start`` must name the same local date and time in the
    booking zone: a client whose fields disagree gets a 422 rather than one silently ignored.
    """
    tz_name = _field(body, "timezone", str, 64) or default_tz
    if tz_name is None:
        raise Unprocessable(
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
            raise Unprocessable(
                "date is outside the supported range of dates.", code="invalid_date", details={"field": "date"}
            ) from None
    start = parse_instant(start_text, "start")
    if day is None and at is None:
        return start, tz_name
    try:
        local = datetime.fromisoformat(to_local_iso(start, tz_name))
    except OverflowError:  # within a day of year 1 or 9999: never a bookable start
        raise Unprocessable(
            "start is outside the supported range of dates.", code="invalid_timestamp", details={"field": "start"}
        ) from None
    disagree = [
        name
        for name, given, actual in (("date", day, local.date()), ("time", at, local.time().replace(microsecond=0)))
        if given is not None and given != actual
    ]
    if disagree:
        raise Unprocessable(
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
    invalid = Unprocessable("date must be YYYY-MM-DD.", code="invalid_date", details={"field": "date"})
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
        raise Unprocessable("time must be HH:MM or HH:MM:SS.", code="invalid_time", details={"field": "time"})
    try:
        return time.fromisoformat(time_text)
    except ValueError:
        raise Unprocessable("time must be HH:MM or HH:MM:SS.", code="invalid_time", details={"field": "time"}) from None


def check_window(start: datetime, duration_minutes: int, now: datetime, limits: BookingLimits) -> None:
    if start <= now:
        raise Unprocessable("The start is in the past.", code="start_in_past", details={"field": "start"})
    if start > now + timedelta(days=limits.horizon_days):
        raise Unprocessable(
            f"The start is more than {limits.horizon_days} days ahead.",
            code="beyond_booking_horizon",
            details={"field": "start", "horizon_days": limits.horizon_days},
        )
    if not limits.min_duration <= duration_minutes <= limits.max_duration:
        raise Unprocessable(
            f"duration_minutes must be between {limits.min_duration} and {limits.max_duration}.",
            code="duration_out_of_range",
            details={"field": "duration_minutes"},
        )


def parse_duration(body: dict[str, Any], default: int) -> int:
    value = body.get("duration_minutes", body.get("duration"))
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, int):
        raise BadRequest("duration_minutes must be a whole number.", code="invalid_field", details={"field": "duration_minutes"})
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
        raise BadRequest("candidate must be an object with email and name.", code="invalid_field", details={"field": "candidate"})
    elif candidate_id is None:
        raise Unprocessable(
            "candidate (email, name) or candidate_id is required.", code="missing_field", details={"field": "candidate"}
        )
    type_name = _field(body, "interview_type", str, 20) or InterviewType.GOOGLE_MEET.value
    try:
        kind = InterviewType(type_name)
    except ValueError:
        raise Unprocessable(
            f"interview_type must be one of {', '.join(t.value for t in InterviewType)}.",
            code="invalid_interview_type",
            details={"field": "interview_type"},
        ) from None
    location = _field(body, "location", str, MAX_LOCATION)
    phone = _field(body, "phone", str, MAX_PHONE)
    video_url = _field(body, "video_url", str, MAX_URL)
    if kind is InterviewType.IN_PERSON and not location:
        raise Unprocessable("An in-person interview needs a location.", code="missing_field", details={"field": "location"})
    if kind is InterviewType.PHONE and (not phone or not PHONE.fullmatch(phone)):
        raise Unprocessable("A phone interview needs a phone number.", code="invalid_phone", details={"field": "phone"})
    if kind is InterviewType.CUSTOM_VIDEO and (not video_url or not video_url.startswith("https://")):
        raise Unprocessable(
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
        raise Unprocessable("booking must be direct or request.", code="invalid_field", details={"field": "booking"})
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
