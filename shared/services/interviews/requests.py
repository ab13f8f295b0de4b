"""Wire parsing for the interviews function: a request's JSON object or query string into typed values.

Bodies: the seeds' create shape (``candidate``, ``job_title``, ``date``, ``time``,
``timezone``, ``note``, ``interview_type``) or an RFC 3339 ``start``; a reschedule's new
time and duration; a cancellation's ``reason``. Queries: the list's and the analytics'
(``ListQuery``, ``AnalyticsQuery``), parsed by the handler before the use case runs. Each
refusal names the field and why: a value of the wrong type is ``InvalidInput`` (400), one
that breaks a rule ``RuleViolation`` (422), both raised before anything is written. The
rules on the typed values (the text rule, time zones with their DST gaps and folds,
duration limits, the booking horizon) are the domain's (shared.domain.booking,
shared.domain.timezones); the limits are docs/openapi.yaml's (shared.api_limits).

Standard library, shared.api_limits and shared.domain only: cheap on a cold start.
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from typing import Any

from shared import api_limits as limit
from shared.domain.booking import (
    BookingLimits,
    BookingRequest,
    Candidate,
    check_type_details,
    check_window,
    clean_text,
    parse_instant,
    valid_email,
    valid_id,
)
from shared.domain.errors import InvalidInput, RuleViolation
from shared.domain.models import InterviewStatus, InterviewType
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
    tz_name = _field(body, "timezone", str, limit.TIMEZONE_MAX_LENGTH) or default_tz
    if tz_name is None:
        raise RuleViolation(
            "timezone is required (an IANA name such as Europe/Berlin).", code="missing_field", details={"field": "timezone"}
        )
    zone(tz_name)
    start_text = _field(body, "start", str, limit.TIMESTAMP_MAX_LENGTH)
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
    day_text = _field(body, "date", str, limit.DATE_MAX_LENGTH, required=required)
    if day_text is None:
        return None
    invalid = RuleViolation("date must be YYYY-MM-DD.", code="invalid_date", details={"field": "date"})
    if not re.fullmatch(limit.DATE_PATTERN, day_text):
        raise invalid
    try:
        return date.fromisoformat(day_text)
    except ValueError:
        raise invalid from None


def _time(body: dict[str, Any], *, required: bool) -> time | None:
    time_text = _field(body, "time", str, limit.TIME_MAX_LENGTH, required=required)
    if time_text is None:
        return None
    if not re.fullmatch(limit.TIME_PATTERN, time_text):
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
            name=_field(raw_candidate, "name", str, limit.CANDIDATE_NAME_MAX_LENGTH, label="candidate.name") or "",
        )
    elif raw_candidate is not None:
        raise InvalidInput(
            "candidate must be an object with email and name.", code="invalid_field", details={"field": "candidate"}
        )
    elif candidate_id is None:
        raise RuleViolation(
            "candidate (email, name) or candidate_id is required.", code="missing_field", details={"field": "candidate"}
        )
    type_name = _field(body, "interview_type", str, limit.INTERVIEW_TYPE_MAX_LENGTH) or limit.INTERVIEW_TYPE_DEFAULT
    try:
        kind = InterviewType(type_name)
    except ValueError:
        raise RuleViolation(
            f"interview_type must be one of {', '.join(t.value for t in InterviewType)}.",
            code="invalid_interview_type",
            details={"field": "interview_type"},
        ) from None
    location = _field(body, "location", str, limit.LOCATION_MAX_LENGTH)
    phone = _field(body, "phone", str, limit.PHONE_MAX_LENGTH)
    video_url = _field(body, "video_url", str, limit.VIDEO_URL_MAX_LENGTH)
    check_type_details(kind, location, phone, video_url)
    start, tz_name = parse_start(body)
    duration = parse_duration(body, limits.default_duration)
    check_window(start, duration, now, limits)
    host_uid = _field(body, "host_uid", str)
    if host_uid is not None:
        valid_id(host_uid, "host_uid")
    booking = _field(body, "booking", str, limit.BOOKING_MAX_LENGTH) or limit.BOOKING_DEFAULT
    if booking not in limit.BOOKING_VALUES:
        raise RuleViolation(
            f"booking must be {' or '.join(limit.BOOKING_VALUES)}.", code="invalid_field", details={"field": "booking"}
        )
    return BookingRequest(
        candidate=candidate,
        candidate_id=candidate_id,
        job_title=_field(body, "job_title", str, limit.JOB_TITLE_MAX_LENGTH),
        type=kind,
        start=start,
        timezone=tz_name,
        duration_minutes=duration,
        note=_field(body, "note", str, limit.NOTE_MAX_LENGTH, multi_line=True),
        location=location,
        phone=phone,
        video_url=video_url,
        confirm=booking == "direct",
        host_uid=host_uid,
    )


# --- queries ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class ListQuery:
    """``GET /interviews`` parsed; the bounds that depend on the clock (``when``) are the use case's."""

    statuses: tuple[InterviewStatus, ...] = ()  # each once, in the enum's order; () is every status
    when: str | None = None  # one of api_limits.WHEN_VALUES
    start_from: datetime | None = None
    start_to: datetime | None = None
    page_size: int = limit.PAGE_SIZE_DEFAULT
    host_uid: str | None = None  # honoured for admins only
    cursor: tuple[datetime, str] | None = None


@dataclass(frozen=True)
class AnalyticsQuery:
    """``GET /analytics`` parsed; ``None`` bounds get their defaults from the clock in the use case."""

    host_uid: str | None = None
    since: datetime | None = None
    until: datetime | None = None


def _bad(field: str, message: str, code: str = "invalid_field") -> InvalidInput:
    return InvalidInput(message, code=code, details={"field": field})


def parse_list_query(query: Mapping[str, str]) -> ListQuery:
    """The list's query string; refusals in the order the parameters are checked (status first)."""
    statuses = _statuses(query.get("status"))
    when = query.get("when")
    if when is not None and when not in limit.WHEN_VALUES:
        raise _bad("when", f"when must be {' or '.join(limit.WHEN_VALUES)}.")
    start_from = parse_instant(query["from"], "from") if query.get("from") else None
    start_to = parse_instant(query["to"], "to") if query.get("to") else None
    try:
        page_size = int(query.get("page_size", limit.PAGE_SIZE_DEFAULT))
    except ValueError:
        raise _bad("page_size", "page_size must be a number.") from None
    if not limit.PAGE_SIZE_MIN <= page_size <= limit.PAGE_SIZE_MAX:
        raise _bad("page_size", f"page_size must be between {limit.PAGE_SIZE_MIN} and {limit.PAGE_SIZE_MAX}.")
    return ListQuery(
        statuses=statuses,
        when=when,
        start_from=start_from,
        start_to=start_to,
        page_size=page_size,
        host_uid=valid_id(query["host_uid"], "host_uid") if query.get("host_uid") else None,
        cursor=_decode_cursor(query.get("page_token")),
    )


def parse_analytics_query(query: Mapping[str, str]) -> AnalyticsQuery:
    """The analytics' query string: ``host_uid``, then ``to``, then ``from``."""
    host_uid = valid_id(query["host_uid"], "host_uid") if query.get("host_uid") else None
    until = parse_instant(query["to"], "to") if query.get("to") else None
    since = parse_instant(query["from"], "from") if query.get("from") else None
    return AnalyticsQuery(host_uid=host_uid, since=since, until=until)


def _statuses(raw: str | None) -> tuple[InterviewStatus, ...]:
    """Each status asked for once, in a fixed order: at most 5 values, far below Firestore's 30 for ``in``."""
    if not raw:
        return ()
    try:
        wanted = {InterviewStatus(s.strip()) for s in raw.split(",") if s.strip()}
    except ValueError:
        raise _bad("status", f"status must be a comma-separated list of {', '.join(s.value for s in InterviewStatus)}.") from None
    return tuple(s for s in InterviewStatus if s in wanted)


def encode_cursor(cursor: tuple[datetime, str]) -> str:
    """A page token: [aware ISO start, interview id] as unpadded base64url JSON (``_decode_cursor`` reads it)."""
    return base64.urlsafe_b64encode(json.dumps([cursor[0].isoformat(), cursor[1]]).encode()).decode().rstrip("=")


def _decode_cursor(token: str | None) -> tuple[datetime, str] | None:
    """Only what ``encode_cursor`` makes; anything else is a 400."""
    if not token:
        return None
    invalid = _bad(
        "page_token", "page_token is not valid; send the next_page_token of the previous page.", code="invalid_page_token"
    )
    if len(token) > limit.PAGE_TOKEN_MAX_LENGTH:
        raise invalid
    try:
        value = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
        if not (isinstance(value, list) and len(value) == 2 and all(isinstance(v, str) for v in value)):
            raise invalid
        start = datetime.fromisoformat(value[0])
        if start.tzinfo is None:
            raise invalid
        return start.astimezone(UTC), valid_id(value[1], "page_token")
    except (ValueError, TypeError, OverflowError, RecursionError, InvalidInput):
        raise invalid from None
