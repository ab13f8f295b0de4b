"""Reading interviews: the API's shape of an interview, ``get``, and ``list`` (its query parsed by
shared.services.interviews.requests at the entry)."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from shared.auth.principal import Principal
from shared.domain.models import Interview
from shared.domain.timezones import rfc3339_utc_or_none, to_local_iso
from shared.services.access import AccessPolicy, visible

if TYPE_CHECKING:
    from shared.auth.guest_links import GuestLinks
    from shared.clock import Clock
    from shared.config import Settings
    from shared.ports import InterviewRepository
    from shared.services.interviews.requests import ListQuery

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
        "cancellation": None
        if interview.cancellation is None
        else {
            "by": interview.cancellation.by,
            "reason": interview.cancellation.reason,
            "at": rfc3339_utc_or_none(interview.cancellation.at),
        },
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

    def list(self, principal: Principal, query: ListQuery) -> dict[str, Any]:
        """One page; ``when`` bounds the start at now unless ``from`` / ``to`` say otherwise."""
        from shared.services.interviews.requests import encode_cursor

        member = self._access.member(principal)
        now = self._clock.now()
        upcoming, past = query.when == "upcoming", query.when == "past"
        items, next_cursor = self._interviews.list(
            workspace_id=member.workspace_id,
            host_uid=query.host_uid if member.is_admin else member.uid,  # a host lists its own, whatever it asks
            statuses=query.statuses,
            start_from=query.start_from if query.start_from is not None else (now if upcoming else None),
            start_to=query.start_to if query.start_to is not None else (now if past else None),
            descending=past,
            limit=query.page_size,
            cursor=query.cursor,
        )
        return {
            "interviews": [view(i) for i in items],
            "next_page_token": encode_cursor(next_cursor) if next_cursor else None,
        }
