"""The booking rules on typed values: text, ids, emails, instants, the booking window.

Pure rules, no I/O, no HTTP: every refusal is a shared.domain.errors exception that says
which field and why. Reading a request's JSON into a ``BookingRequest`` is the entry
layer's (shared.services.interviews.requests).

Text rule (one for every field): ``note`` (and a cancellation ``reason``) may span lines —
CRLF, a lone CR, U+2028 and U+2029 become LF, TAB is kept; every other field is one line:
no CR, LF, TAB, U+2028/U+2029 or other control character (C0, DEL, C1). Unpaired surrogates
(JSON ``\\ud800``) are refused everywhere: Firestore stores UTF-8 only. Text is trimmed, and
its length counted, after that.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from shared.api_limits import (
    CANDIDATE_EMAIL_MAX_LENGTH,
    DURATION_MINUTES_DEFAULT,
    DURATION_MINUTES_MAX,
    DURATION_MINUTES_MIN,
    PHONE_PATTERN,
    VIDEO_URL_PATTERN,
)
from shared.domain.errors import InvalidInput, RuleViolation
from shared.domain.models import InterviewType
from shared.domain.timezones import parse_rfc3339

# The limits of request fields (lengths, patterns, duration bounds) are the API document's:
# shared.api_limits, generated from docs/openapi.yaml.
EMAIL = re.compile(
    r"[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]{1,64}@[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)+"
)
PHONE = re.compile(PHONE_PATTERN)
BASE32HEX = "0123456789abcdefghijklmnopqrstuv"
# An opaque id (interview, user, candidate): letters, digits, _ and -, never Firestore's reserved
# __name__ form. The same rule as shared.http.ID_PATTERN, which matches ids inside paths.
ID_PATTERN = r"(?!__[A-Za-z0-9_-]*__(?:/|$))[A-Za-z0-9_-]{1,128}"
_ID = re.compile(ID_PATTERN)
_LINE_BREAKS = re.compile("\r\n?|[\u2028\u2029]")
_UNICODE_LINE_BREAKS = "\u2028\u2029"


@dataclass(frozen=True)
class BookingLimits:
    min_duration: int = DURATION_MINUTES_MIN
    max_duration: int = DURATION_MINUTES_MAX
    default_duration: int = DURATION_MINUTES_DEFAULT
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


def clean_text(value: str, field: str, max_length: int, *, multi_line: bool = False) -> str:
    """The text rule of this module's docstring: one line, or (note, reason) LF-separated lines."""
    if multi_line:
        value = _LINE_BREAKS.sub("\n", value)
    value = value.strip()
    for c in value:
        if "\ud800" <= c <= "\udfff":
            raise RuleViolation(
                f"{field} is not valid Unicode text.", code="invalid_field", details={"field": field, "reason": "invalid_unicode"}
            )
        if c in "\r\n" + _UNICODE_LINE_BREAKS and not (multi_line and c == "\n"):
            raise RuleViolation(
                f"{field} must be a single line.", code="invalid_field", details={"field": field, "reason": "line_break"}
            )
        if (ord(c) < 32 or 0x7F <= ord(c) <= 0x9F) and not (multi_line and c in "\n\t"):
            raise RuleViolation(
                f"{field} contains control characters.",
                code="invalid_field",
                details={"field": field, "reason": "control_character"},
            )
    if len(value) > max_length:
        raise RuleViolation(
            f"{field} is longer than {max_length} characters.",
            code="field_too_long",
            details={"field": field, "max_length": max_length},
        )
    return value


def check_type_details(kind: InterviewType, location: str | None, phone: str | None, video_url: str | None) -> None:
    """What each interview type needs besides a time: a place, a phone number, an https link."""
    if kind is InterviewType.IN_PERSON and not location:
        raise RuleViolation("An in-person interview needs a location.", code="missing_field", details={"field": "location"})
    if kind is InterviewType.PHONE and (not phone or not PHONE.fullmatch(phone)):
        raise RuleViolation("A phone interview needs a phone number.", code="invalid_phone", details={"field": "phone"})
    if kind is InterviewType.CUSTOM_VIDEO and (not video_url or not re.match(VIDEO_URL_PATTERN, video_url)):
        raise RuleViolation(
            "A custom video interview needs an https video_url.", code="invalid_video_url", details={"field": "video_url"}
        )


def reject_unknown(body: Any, fields: tuple[str, ...]) -> None:
    """A JSON object whose every key is one of ``fields``: anything else is a 400 naming it."""
    if not isinstance(body, Mapping):
        raise InvalidInput("The body must be a JSON object.", code="invalid_field", details={"field": "body"})
    for key in body:
        if key not in fields:
            raise InvalidInput(
                f"Unknown field {str(key)[:100]!r}; expected {', '.join(fields)}.",
                code="invalid_field",
                details={"field": str(key)[:100], "reason": "unknown_field"},
            )


def valid_id(value: Any, field: str) -> str:
    """An opaque id from a client (body or query): refused before it can name a Firestore path."""
    if not isinstance(value, str) or not _ID.fullmatch(value):
        raise InvalidInput(
            f"{field} is not a valid id (1 to 128 letters, digits, _ or -; not __…__).",
            code="invalid_field",
            details={"field": field},
        )
    return value


def parse_instant(value: Any, field: str) -> datetime:
    """An RFC 3339 timestamp (``from``, ``to``, ``start``) as UTC; out-of-range years are refused too."""
    try:
        return parse_rfc3339(value)
    except RuleViolation as error:
        raise error.about(field) from None


def valid_email(value: Any, field: str) -> str:
    if not isinstance(value, str) or len(value) > CANDIDATE_EMAIL_MAX_LENGTH or not EMAIL.fullmatch(value.strip()):
        raise RuleViolation(f"{field} is not a valid email address.", code="invalid_email", details={"field": field})
    return value.strip()


def check_window(start: datetime, duration_minutes: int, now: datetime, limits: BookingLimits) -> None:
    if start <= now:
        raise RuleViolation("The start is in the past.", code="start_in_past", details={"field": "start"})
    if start > now + timedelta(days=limits.horizon_days):
        raise RuleViolation(
            f"The start is more than {limits.horizon_days} days ahead.",
            code="beyond_booking_horizon",
            details={"field": "start", "horizon_days": limits.horizon_days},
        )
    if not limits.min_duration <= duration_minutes <= limits.max_duration:
        raise RuleViolation(
            f"duration_minutes must be between {limits.min_duration} and {limits.max_duration}.",
            code="duration_out_of_range",
            details={"field": "duration_minutes"},
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
