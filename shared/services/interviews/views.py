"""Reading interviews: the API's shape of an interview, ``get``, and ``list`` with its page tokens."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from shared.auth.principal import Principal
from shared.domain.models import Interview, InterviewStatus
from shared.domain.timezones import rfc3339_utc_or_none, to_local_iso
from shared.errors import BadRequest
from shared.services.access import AccessPolicy, visible

if TYPE_CHECKING:
    from shared.auth.guest_links import GuestLinks
    from shared.clock import Clock
    from shared.config import Settings
    from shared.ports import InterviewRepository

MAX_PAGE_SIZE = 100
DEFAULT_PAGE_SIZE = 25
MAX_PAGE_TOKEN = 512  # a real one is about 100 characters
GUEST_LINK = "portal_join_url"  # holds a signed guest link: answered, never stored


def view(interview: Interview) -> dict[str, Any]:
    """The seeds' list item (id, candidate_name, date, time, …) plus the full picture."""
    local = datetime.fromisoformat(to_local_iso(interview.start, interview.timezone))
    return {
        "id": interview.id,
        "status": interview.status.value,
        "interview_type": interview.type.value,
        "candidate_name": interview.guest.name,
        "candidate": {"email": interview.guest.email, "name": interview.guest.name},
        "host": {"uid": interview.host.uid, "email": interview.host.email, "name": interview.host.name},
        "job_title": interview.job_title,
        "note": interview.note,
        "date": local.date().isoformat(),
        "time": local.strftime("%H:%M"),
        "timezone": interview.timezone,
        "start": rfc3339_utc_or_none(interview.start),
        "end": rfc3339_utc_or_none(interview.end),
        "scheduled_time": local.isoformat(),
        "duration_minutes": interview.duration_minutes,
        "meeting_link": interview.meet_link,
        "location": interview.location,
        "phone": interview.phone,
        "calendar_event_id": interview.calendar_event_id,
        "ical_uid": interview.ical_uid or None,
        "sequence": interview.ical_sequence,
        "portal_join_count": interview.portal_join_count,
        "created_at": rfc3339_utc_or_none(interview.created_at),
        "updated_at": rfc3339_utc_or_none(interview.updated_at),
    }


def without_guest_link(body: dict[str, Any]) -> dict[str, Any]:
    """What an idempotency record keeps of an answer: all but the signed guest link (a usable credential)."""
    return {name: value for name, value in body.items() if name != GUEST_LINK}


class ChangeViews:
    """The answer to a change: the interview, its guest link (signed at answer time) and the emails queued."""

    def __init__(self, *, settings: Settings, interviews: InterviewRepository, guest_links: GuestLinks):
        self._settings = settings
        self._interviews = interviews
        self._guest_links = guest_links

    def created(self, interview: Interview, emails: dict[str, str]) -> dict[str, Any]:
        from shared.services.portal import portal_join_url

        body = view(interview)
        body.update(
            interview_id=interview.id,
            portal_join_url=portal_join_url(self._settings, self._guest_links, interview),
            emails_sent={"candidate": emails.get("candidate", "not_sent"), "recruiter": emails.get("host", "not_sent")},
        )
        return body

    def with_fresh_guest_link(self, body: dict[str, Any]) -> dict[str, Any]:
        """A replayed answer with the portal link signed again for the interview as it is now."""
        if "interview_id" not in body:
            return body
        from shared.services.portal import portal_join_url

        interview = self._interviews.get(str(body["interview_id"]))
        return body | {GUEST_LINK: portal_join_url(self._settings, self._guest_links, interview) if interview else None}


class InterviewReads:
    """``GET /interviews/{id}`` and ``GET /interviews``: one users read and one interviews read or query."""

    def __init__(self, *, clock: Clock, access: AccessPolicy, interviews: InterviewRepository):
        self._clock = clock
        self._access = access
        self._interviews = interviews

    def get(self, principal: Principal, interview_id: str) -> dict[str, Any]:
        member = self._access.member(principal)
        return view(visible(member, self._interviews.get(interview_id)))

    def list(self, principal: Principal, query: dict[str, str]) -> dict[str, Any]:
        from shared.domain.booking import parse_instant, valid_id

        member = self._access.member(principal)
        statuses = _statuses(query.get("status"))
        when = query.get("when")
        if when not in (None, "upcoming", "past"):
            raise BadRequest("when must be upcoming or past.", code="invalid_field", details={"field": "when"})
        now = self._clock.now()
        start_from = parse_instant(query["from"], "from") if query.get("from") else (now if when == "upcoming" else None)
        start_to = parse_instant(query["to"], "to") if query.get("to") else (now if when == "past" else None)
        try:
            page_size = int(query.get("page_size", DEFAULT_PAGE_SIZE))
        except ValueError:
            raise BadRequest("page_size must be a number.", code="invalid_field", details={"field": "page_size"}) from None
        if not 1 <= page_size <= MAX_PAGE_SIZE:
            raise BadRequest(
                f"page_size must be between 1 and {MAX_PAGE_SIZE}.", code="invalid_field", details={"field": "page_size"}
            )
        asked_host = valid_id(query["host_uid"], "host_uid") if query.get("host_uid") else None
        host_uid = asked_host if member.is_admin else member.uid  # a host lists its own, whatever it asks
        cursor = _decode_cursor(query.get("page_token"))
        items, next_cursor = self._interviews.list(
            workspace_id=member.workspace_id,
            host_uid=host_uid,
            statuses=statuses,
            start_from=start_from,
            start_to=start_to,
            descending=when == "past",
            limit=page_size,
            cursor=cursor,
        )
        return {
            "interviews": [view(i) for i in items],
            "next_page_token": _encode_cursor(next_cursor) if next_cursor else None,
        }


def _statuses(raw: str | None) -> tuple[InterviewStatus, ...]:
    """Each status asked for once, in a fixed order: at most 5 values, far below Firestore's 30 for ``in``."""
    if not raw:
        return ()
    try:
        wanted = {InterviewStatus(s.strip()) for s in raw.split(",") if s.strip()}
    except ValueError:
        raise BadRequest(
            f"status must be a comma-separated list of {', '.join(s.value for s in InterviewStatus)}.",
            code="invalid_field",
            details={"field": "status"},
        ) from None
    return tuple(s for s in InterviewStatus if s in wanted)


def _encode_cursor(cursor: tuple[datetime, str]) -> str:
    return base64.urlsafe_b64encode(json.dumps([cursor[0].isoformat(), cursor[1]]).encode()).decode().rstrip("=")


def _decode_cursor(token: str | None) -> tuple[datetime, str] | None:
    """Only what ``_encode_cursor`` makes: [aware ISO start, interview id]; anything else is a 400."""
    if not token:
        return None
    from shared.domain.booking import valid_id
    from shared.domain.errors import InvalidInput

    invalid = BadRequest(
        "page_token is not valid; send the next_page_token of the previous page.",
        code="invalid_page_token",
        details={"field": "page_token"},
    )
    if len(token) > MAX_PAGE_TOKEN:
        raise invalid
    try:
        value = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
        if not (isinstance(value, list) and len(value) == 2 and all(isinstance(v, str) for v in value)):
            raise invalid
        start = datetime.fromisoformat(value[0])
        if start.tzinfo is None:
            raise invalid
        return start.astimezone(UTC), valid_id(value[1], "page_token")
    except (ValueError, TypeError, OverflowError, RecursionError, BadRequest, InvalidInput):
        raise invalid from None
