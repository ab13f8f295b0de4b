"""Booking links (SPEC §2.6): hosts share one, anyone holding it books a free slot.

The link id is the credential in the URL (opaque, 128 random bits, like a Calendly link).
A revoked, expired or used-up link answers 410; an unknown one 404. Through a link a guest
sees the host's display name, the configuration's summary and its free slots, never another
booking's details, and books with name, email and an optional note:
- ``direct``: a confirmed interview exactly as a host's create (event, Meet link, invitations);
- ``request``: a pending interview; the host is emailed confirm / decline links.
A slot taken meanwhile answers 409 ``slot_unavailable`` with the day's fresh slots.

Abuse limits: a guest email may hold at most ``max_pending_per_guest`` upcoming pending
requests with the host (429); a link takes at most ``hourly_limit`` bookings an hour (429);
a single-use link is claimed by exactly one booking.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from shared.domain.scheduling import BookingLink, BookingMode, SchedulingConfig
from shared.domain.slots import local_date_window
from shared.domain.timezones import rfc3339_utc_or_none
from shared.errors import Conflict, Gone, NotFound, RateLimited
from shared.services.scheduling.availability import FreeTime, busy_view, guest_facing, slot_view
from shared.services.scheduling.configs import may_manage
from shared.services.scheduling.requests import DateWindow, GuestBooking, parse_guest_booking, parse_link, resolve_window

if TYPE_CHECKING:
    from zoneinfo import ZoneInfo

    from shared.auth.principal import Principal
    from shared.clock import Clock
    from shared.domain.models import Interview
    from shared.ports import BookingLinkRepository, HostBookings, SchedulingConfigRepository, UserRepository
    from shared.services.access import AccessPolicy, Member
    from shared.services.interviews import InterviewService
    from shared.services.scheduling.availability import Availability

LINK_NOT_FOUND = "No booking link with this id."
MAX_LINKS = 100


@dataclass(frozen=True)
class LinkLimits:
    hourly_limit: int = 30  # bookings through one link per hour
    max_pending_per_guest: int = 3  # upcoming pending requests of one guest email with one host


def new_link_id() -> str:
    return secrets.token_urlsafe(16)  # 22 characters of [A-Za-z0-9_-]


def link_view(link: BookingLink, page_url: str | None, now: datetime) -> dict[str, Any]:
    return {
        "id": link.id,
        "config_id": link.config_id,
        "host_uid": link.host_uid,
        "label": link.label,
        "url": f"{page_url}/{link.id}" if page_url else None,
        "expires_at": rfc3339_utc_or_none(link.expires_at),
        "single_use": link.single_use,
        "used_at": rfc3339_utc_or_none(link.used_at),
        "revoked_at": rfc3339_utc_or_none(link.revoked_at),
        "active": _refusal(link, now) is None,
        "booking_count": link.booking_count,
        "created_at": rfc3339_utc_or_none(link.created_at),
    }


def _check_usable(link: BookingLink, now: datetime) -> None:
    refused = _refusal(link, now)
    if refused is not None:
        raise refused


def _refusal(link: BookingLink, now: datetime) -> Gone | None:
    if link.revoked_at is not None:
        return Gone("This booking link was revoked by the host.", code="booking_link_revoked")
    if link.expires_at is not None and now >= link.expires_at:
        return Gone("This booking link has expired.", code="booking_link_expired")
    if link.single_use and link.used_at is not None:
        return Gone("This booking link was for one booking and has been used.", code="booking_link_used")
    return None


def config_summary(config: SchedulingConfig) -> dict[str, Any]:
    """What a guest may know of a configuration: no calendars, no buffers, no cap."""
    return {
        "name": config.name,
        "duration_minutes": config.duration_minutes,
        "timezone": config.timezone,
        "interview_type": config.interview_type.value,
        "location": config.location,
        "booking_mode": config.booking_mode.value,
        "days_ahead": config.days_ahead,
        "minimum_notice_minutes": config.minimum_notice_minutes,
    }


class BookingLinks:
    def __init__(
        self,
        *,
        clock: Clock,
        access: AccessPolicy,
        users: UserRepository,
        configs: SchedulingConfigRepository,
        links: BookingLinkRepository,
        host_bookings: HostBookings,
        availability: Availability,
        interviews: Callable[[], InterviewService],
        page_url: str | None,
        limits: LinkLimits,
        duration_limits: tuple[int, int] = (15, 480),
    ):
        self._clock = clock
        self._access = access
        self._users = users
        self._configs = configs
        self._links = links
        self._host_bookings = host_bookings
        self._availability = availability
        self._interviews = interviews
        self._page_url = page_url
        self._limits = limits
        self._duration_limits = duration_limits

    # -- the host's side ---------------------------------------------------------------------

    def create(self, principal: Principal, config_id: str, body: Mapping[str, Any]) -> dict[str, Any]:
        member = self._access.member(principal)
        config = may_manage(member, self._configs.get(config_id))
        now = self._clock.now()
        spec = parse_link(body, now=now)
        link = BookingLink(
            id=new_link_id(),
            workspace_id=config.workspace_id,
            host_uid=config.host_uid,
            config_id=config.id,
            created_by=member.uid,
            expires_at=spec.expires_at,
            single_use=spec.single_use,
            label=spec.label,
            created_at=now,
        )
        self._links.add(link)
        return link_view(link, self._page_url, now)

    def list(self, principal: Principal, *, config_id: str | None, host_uid: str | None) -> dict[str, Any]:
        from shared.domain.booking import valid_id

        member = self._access.member(principal)
        config_id = valid_id(config_id, "config_id") if config_id else None
        host_uid = valid_id(host_uid, "host_uid") if host_uid else None
        if not member.is_admin:
            host_uid = self._access.host_for(member, host_uid).uid
        links = self._links.list(workspace_id=member.workspace_id, host_uid=host_uid, config_id=config_id, limit=MAX_LINKS)
        now = self._clock.now()
        return {"booking_links": [link_view(link, self._page_url, now) for link in links]}

    def revoke(self, principal: Principal, link_id: str) -> dict[str, Any]:
        member = self._access.member(principal)
        link = self._links.get(link_id)
        if link is None or link.workspace_id != member.workspace_id or not (member.is_admin or link.host_uid == member.uid):
            raise NotFound(LINK_NOT_FOUND, code="booking_link_not_found")
        revoked = self._links.revoke(link_id, self._clock.now()) or link
        return link_view(revoked, self._page_url, self._clock.now())

    def host_availability(self, principal: Principal, query: Mapping[str, str]) -> dict[str, Any]:
        """``GET /availability``: the seeds' ``check_availability`` for a configuration the caller
        manages, with its busy times; ``duration_minutes`` (the seeds' name) may ask for another length."""
        from dataclasses import replace

        from shared.services.access import Member
        from shared.services.scheduling.requests import parse_host_availability

        config_id, window, duration = parse_host_availability(query, self._duration_limits)
        member = self._access.member(principal)
        config = may_manage(member, self._configs.get(config_id))
        if duration is not None and duration != config.duration_minutes:
            config = replace(config, duration_minutes=duration)
        if config.host_uid == member.uid:  # the caller's own: its user document was just read
            host = member
        else:
            user = self._users.get(config.host_uid)
            host = Member(
                config.host_uid, config.workspace_id, member.role, user.email if user else "", user.display_name if user else ""
            )
        return {"config_id": config.id, **self.slots(config, host, window, self._clock.now(), for_guest=False)}

    # -- the guest's side --------------------------------------------------------------------

    def open(self, link_id: str, now: datetime) -> tuple[BookingLink, SchedulingConfig, Member]:
        """The usable link, its configuration and its host, or 404 / 410."""
        link, config, host = self._resolve(link_id)
        _check_usable(link, now)
        return link, config, host

    def _resolve(self, link_id: str) -> tuple[BookingLink, SchedulingConfig, Member]:
        """The link, its configuration and its host, whatever the link's state; 404 / 410 ``booking_link_gone``."""
        from shared.services.access import Member

        link = self._links.get(link_id)
        if link is None:
            raise NotFound(LINK_NOT_FOUND, code="booking_link_not_found")
        config = self._configs.get(link.config_id)
        user = self._users.get(link.host_uid)
        if config is None or user is None or user.workspace_id != link.workspace_id:
            raise Gone("This booking link no longer leads anywhere.", code="booking_link_gone")
        return link, config, Member(user.uid, user.workspace_id, user.role, user.email, user.display_name)

    def public_view(self, link_id: str, window: DateWindow) -> dict[str, Any]:
        now = self._clock.now()
        link, config, host = self.open(link_id, now)
        return {
            "link_id": link.id,
            "host": {"name": host.name or None},  # never the host's email
            "config": config_summary(config),
            **self.slots(config, host, window, now),
        }

    def slots(
        self,
        config: SchedulingConfig,
        host: Member,
        window: DateWindow,
        now: datetime,
        *,
        for_guest: bool = True,
        moving: Interview | None = None,
    ) -> dict[str, Any]:
        """Free slots of ``window`` (dates in the display zone), in the seeds' names."""
        from shared.auth.principal import Principal, PrincipalKind
        from shared.domain.timezones import zone

        tz_name = window.timezone or config.timezone
        today = now.astimezone(zone(tz_name)).date()
        first, last = resolve_window(window, today=today, days_ahead=config.days_ahead)
        # Only dates around today up to the horizon can hold a slot: others are answered empty,
        # without asking Google (and without date arithmetic at the ends of the calendar).
        low, high = max(first, today - timedelta(days=1)), min(last, today + timedelta(days=config.days_ahead + 1))
        free = FreeTime([], ())
        if low <= high:
            span = local_date_window(low, tz_name, last=high)
            free = self._availability.free_time(
                config,
                host=Principal(PrincipalKind.USER, host.uid, host.email, True, host.workspace_id),
                window_start=span.start,
                window_end=span.end,
                now=now,
                for_guest=for_guest,
                moving=moving,
            )
        answer: dict[str, Any] = {
            "timezone": tz_name,
            "config_timezone": config.timezone,
            "from": first.isoformat(),
            "to": last.isoformat(),
            "duration_minutes": config.duration_minutes,
            "available_slots": [slot_view(s, tz_name) for s in free.slots],
        }
        if window.single:
            answer["date"] = first.isoformat()
        if not for_guest:
            answer["busy_times"] = [busy_view(b, tz_name) for b in free.busy]
        return answer

    def book(self, link_id: str, body: Mapping[str, Any], key: str | None, fingerprint: str) -> tuple[dict[str, Any], int]:
        now = self._clock.now()
        request = parse_guest_booking(body)
        link, config, host = self._resolve(link_id)
        display = request.timezone or config.timezone
        local_day = request.start.astimezone(_zone(display)).date()
        day = DateWindow(local_day, local_day, display, True)
        if key is not None and self._interviews().booked_through_link(host, link.id, key):
            # a retry: the first answer again, whatever became of the slot, the link (used up,
            # revoked, expired) and the limits since
            return self._book(link, config, host, request, key, fingerprint, day, now)
        _check_usable(link, now)
        if config.booking_mode is BookingMode.REQUEST:
            pending = self._host_bookings.pending_requests(
                workspace_id=config.workspace_id, host_uid=config.host_uid, guest_email=request.email, since=now
            )
            if pending >= self._limits.max_pending_per_guest:
                refused = RateLimited(
                    f"This email already has {pending} booking requests waiting for the host; "
                    "wait for the host's answer, or withdraw one with its manage link.",
                    code="too_many_pending_requests",
                    details={"max_pending": self._limits.max_pending_per_guest},
                )
                refused.headers = {"Retry-After": "3600"}  # nothing changes until the host answers
                raise refused
        fresh = self.slots(config, host, day, now)
        if not any(s["start"] == _utc(request.start) for s in fresh["available_slots"]):
            raise _taken(fresh)
        if not self._links.record_booking(link.id, now, hourly_limit=self._limits.hourly_limit):
            error = RateLimited("This booking link is taking too many bookings; try again later.", code="link_rate_limited")
            error.headers = {"Retry-After": str(3600 - now.minute * 60 - now.second)}
            raise error
        return self._book(link, config, host, request, key, fingerprint, day, now)

    def _book(
        self,
        link: BookingLink,
        config: SchedulingConfig,
        host: Member,
        request: GuestBooking,
        key: str | None,
        fingerprint: str,
        day: DateWindow,
        now: datetime,
    ) -> tuple[dict[str, Any], int]:
        from shared.domain.booking import BookingRequest
        from shared.domain.models import BookingOrigin, Person

        booking = BookingRequest(
            candidate=None,
            candidate_id=None,
            job_title=config.name,
            type=config.interview_type,
            start=request.start,
            timezone=request.timezone or config.timezone,
            duration_minutes=config.duration_minutes,
            note=request.note,
            location=config.location,
            phone=config.phone,
            video_url=config.video_url,
            confirm=config.booking_mode is BookingMode.DIRECT,
            host_uid=None,
        )
        origin = BookingOrigin(config.id, link.id, config.buffer_before_minutes, config.buffer_after_minutes)
        guest = Person(email=request.email, name=request.name)
        claimed_for: str | None = None
        if link.single_use:
            claimed_for = f"{link.id}:{fingerprint}"
            if not self._links.claim_single_use(link.id, claimed_for, now):
                raise Gone("This booking link was for one booking and has been used.", code="booking_link_used")
        try:
            with guest_facing():
                answer, status = self._interviews().book_through_link(host, guest, booking, origin, key, fingerprint)
        except Conflict as taken:
            if claimed_for is not None:
                self._links.release_single_use(link.id, claimed_for)
            if taken.code == "slot_taken":
                raise _taken(self.slots(config, host, day, now)) from None
            raise
        except Exception:
            if claimed_for is not None:
                self._links.release_single_use(link.id, claimed_for)
            raise
        if status >= 400:  # a refusal recorded under this Idempotency-Key, replayed
            if claimed_for is not None:
                self._links.release_single_use(link.id, claimed_for)
            if replayed_code(answer) == "slot_taken":
                raise _taken(self.slots(config, host, day, now))
            return answer, status  # already the one error shape
        return guest_answer(answer, request.timezone or config.timezone), status


def replayed_code(answer: Mapping[str, Any]) -> str | None:
    """The error code of a replayed refusal (``{"error": {"code": ...}}``)."""
    error = answer.get("error")
    return error.get("code") if isinstance(error, Mapping) else None


def _zone(name: str) -> ZoneInfo:
    from shared.domain.timezones import zone

    return zone(name)


def _utc(instant: datetime) -> str:
    from shared.domain.timezones import rfc3339_utc

    return rfc3339_utc(instant)


def _taken(fresh: Mapping[str, Any]) -> Conflict:
    return Conflict(
        "That time is no longer available; pick another slot.",
        code="slot_unavailable",
        details={"field": "start", "available_slots": fresh["available_slots"], "timezone": fresh["timezone"]},
    )


def guest_answer(answer: Mapping[str, Any], tz_name: str) -> dict[str, Any]:
    """What the guest who booked sees: its booking, never the host's calendar or ids of others."""
    from shared.domain.models import InterviewStatus
    from shared.domain.timezones import parse_rfc3339, to_local_iso

    start = parse_rfc3339(answer["start"])
    end = parse_rfc3339(answer["end"])
    return {
        "interview_id": answer["interview_id"],
        "status": answer["status"],
        "start": answer["start"],
        "end": answer["end"],
        "start_time": to_local_iso(start, tz_name),
        "end_time": to_local_iso(end, tz_name),
        "timezone": tz_name,
        "duration_minutes": answer["duration_minutes"],
        "interview_type": answer["interview_type"],
        "meeting_link": answer.get("meeting_link"),
        "location": answer.get("location"),
        "host": {"name": answer["host"]["name"]},
        "portal_join_url": answer.get("portal_join_url") if answer["status"] == InterviewStatus.CONFIRMED.value else None,
        "emails_sent": answer.get("emails_sent"),
    }
