"""Guest self-service and the host's emailed answer to a request (SPEC §2.6).

Every guest email carries a signed, expiring *manage* link (purpose ``manage``): with it the
guest sees its booking, cancels it (with a reason) or, when it came through a booking link,
moves it to another free slot of the same configuration. A pending request's host gets
*confirm* and *decline* links (their own purposes). A token of one purpose never works for
another, and a link only ever acts on its own interview.

Each action is the host's own action on the guest's behalf — the same status machine,
Calendar update, .ics SEQUENCE / CANCEL lifecycle, emails and reminder re-arming
(shared.services.interviews) — so the host is told by the same update or cancellation email
it would send; a pending request withdrawn or moved tells the host by email too.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import replace
from datetime import datetime
from typing import TYPE_CHECKING, Any

from shared.auth.guest_links import CONFIRM, DECLINE
from shared.auth.principal import Principal, host_principal
from shared.domain.errors import InvalidInput
from shared.domain.models import Interview, InterviewStatus
from shared.domain.timezones import rfc3339_utc, to_local_iso
from shared.errors import Conflict, NotFound, Unprocessable
from shared.services.scheduling.availability import guest_facing
from shared.services.scheduling.links import replayed_code
from shared.services.scheduling.requests import DateWindow, parse_guest_reschedule, parse_reason

if TYPE_CHECKING:
    from shared.clock import Clock
    from shared.domain.models import Role
    from shared.domain.scheduling import SchedulingConfig
    from shared.ports import InterviewRepository, SchedulingConfigRepository, WorkspaceRepository
    from shared.services.access import Member
    from shared.services.interviews import InterviewService
    from shared.services.interviews.publishing import EmailQueue
    from shared.services.scheduling.links import BookingLinks

NOT_FOUND = "This booking no longer exists."
OPEN = (InterviewStatus.PENDING, InterviewStatus.CONFIRMED)
Answer = tuple[dict[str, Any], int]


class GuestSelfService:
    def __init__(
        self,
        *,
        clock: Clock,
        interviews: InterviewRepository,
        workspaces: WorkspaceRepository,
        configs: SchedulingConfigRepository,
        links: BookingLinks,
        interview_service: InterviewService,
        emails: Callable[[], EmailQueue],
    ):
        self._clock = clock
        self._interviews = interviews
        self._workspaces = workspaces
        self._configs = configs
        self._links = links
        self._service = interview_service
        self._emails = emails

    def _interview(self, principal: Principal) -> Interview:
        """The interview a verified link (shared.auth: ``verify_link``) names; 404 if it is gone."""
        interview = self._interviews.get(principal.interview_id or "")
        if interview is None or interview.workspace_id != principal.workspace_id:
            raise NotFound(NOT_FOUND, code="interview_not_found")
        return interview

    # -- the guest's manage link ---------------------------------------------------------------

    def _may_cancel(self, interview: Interview, now: datetime) -> bool:
        if not self._open(interview, now):
            return False
        if interview.origin is not None:
            return True
        workspace = self._workspaces.get(interview.workspace_id)
        return bool(workspace and workspace.guest_can_cancel)

    def _config(self, interview: Interview) -> SchedulingConfig | None:
        """The configuration it was booked through, if it was and that still exists (one read)."""
        return self._configs.get(interview.origin.config_id) if interview.origin is not None else None

    @staticmethod
    def _open(interview: Interview, now: datetime) -> bool:
        return interview.status in OPEN and interview.start > now

    def _movable(self, interview: Interview, now: datetime) -> tuple[SchedulingConfig, Member]:
        """Its configuration and host, when the guest may move it: else 422 ``reschedule_not_allowed``."""
        from shared.services.access import Member

        config = self._config(interview) if self._open(interview, now) else None
        if config is None:  # not from a link, its configuration deleted, or no longer open
            raise Unprocessable("This booking cannot be moved through its link.", code="reschedule_not_allowed")
        host = interview.host
        return config, Member(host.uid or "", interview.workspace_id, _host_role(), host.email, host.name)

    def view(self, principal: Principal) -> dict[str, Any]:
        return self._view(self._interview(principal), self._clock.now())

    def _view(self, interview: Interview, now: datetime) -> dict[str, Any]:
        config = self._config(interview)
        return {
            "interview_id": interview.id,
            "status": interview.status.value,
            "start": rfc3339_utc(interview.start),
            "end": rfc3339_utc(interview.end),
            "start_time": to_local_iso(interview.start, interview.timezone),
            "end_time": to_local_iso(interview.end, interview.timezone),
            "timezone": interview.timezone,
            "duration_minutes": interview.duration_minutes,
            "interview_type": interview.type.value,
            "title": interview.job_title,
            "host": {"name": interview.host.name},
            "guest": {"name": interview.guest.name, "email": interview.guest.email},
            "meeting_link": interview.meet_link if interview.status is InterviewStatus.CONFIRMED else None,
            "location": interview.location,
            "can_cancel": self._may_cancel(interview, now),
            "can_reschedule": config is not None and self._open(interview, now),
            "days_ahead": config.days_ahead if config is not None else None,  # how far ahead it may be moved
        }

    def slots(self, principal: Principal, window: DateWindow) -> dict[str, Any]:
        now = self._clock.now()
        interview = self._interview(principal)
        config, host = self._movable(interview, now)
        if window.timezone is None:  # shown in the zone the guest booked in
            window = replace(window, timezone=interview.timezone)
        return self._links.slots(config, host, window, now, moving=interview)

    def cancel(self, principal: Principal, body: Mapping[str, Any], key: str | None, fingerprint: str) -> Answer:
        now = self._clock.now()
        interview = self._interview(principal)
        reason = parse_reason(body)
        if not self._may_cancel(interview, now):
            if interview.status is InterviewStatus.CANCELLED:
                return self._view(interview, now), 200  # already done: the same answer again
            raise Unprocessable("This booking cannot be cancelled through its link.", code="cancel_not_allowed")
        was_pending = interview.status is InterviewStatus.PENDING
        with guest_facing():
            answer, status = self._service.cancel(
                host_principal(interview), interview.id, {"reason": reason} if reason else {}, key, fingerprint, by="guest"
            )
        if status >= 400:  # a refusal recorded under this Idempotency-Key, replayed
            return answer, status
        cancelled = self._interviews.get(interview.id) or interview
        if was_pending:  # no event, no invitation went out: the host learns it by email
            self._emails().enqueue(cancelled, "cancellation", self._clock.now(), audiences=("host",))
        return self._view(cancelled, self._clock.now()), 200

    def reschedule(self, principal: Principal, body: Mapping[str, Any], key: str | None, fingerprint: str) -> Answer:
        now = self._clock.now()
        interview = self._interview(principal)
        start, tz_name = parse_guest_reschedule(body)
        config, host = self._movable(interview, now)
        from shared.domain.timezones import zone

        display = tz_name or interview.timezone
        day = start.astimezone(zone(display)).date()
        fresh = self._links.slots(config, host, DateWindow(day, day, display, True), now, moving=interview)
        if not any(s["start"] == rfc3339_utc(start) for s in fresh["available_slots"]):
            raise Conflict(
                "That time is not available; pick another slot.",
                code="slot_unavailable",
                details={"field": "start", "available_slots": fresh["available_slots"], "timezone": fresh["timezone"]},
            )
        was_pending = interview.status is InterviewStatus.PENDING
        move = {"start": rfc3339_utc(start), "timezone": interview.timezone, "duration_minutes": config.duration_minutes}
        try:
            with guest_facing():
                answer, status = self._service.reschedule(host_principal(interview), interview.id, move, key, fingerprint)
        except Conflict as taken:
            if taken.code != "slot_taken":
                raise
            answer, status = taken.to_body(), taken.status
        if status >= 400:  # refused now, or a refusal recorded under this Idempotency-Key and replayed
            if replayed_code(answer) != "slot_taken":
                return answer, status
            fresh = self._links.slots(config, host, DateWindow(day, day, display, True), self._clock.now(), moving=interview)
            raise Conflict(
                "That time was just taken; pick another slot.",
                code="slot_unavailable",
                details={"field": "start", "available_slots": fresh["available_slots"], "timezone": fresh["timezone"]},
            )
        moved = self._interviews.get(interview.id) or interview
        if was_pending:  # the host is asked again, for the new time (new links: SEQUENCE moved on)
            self._emails().enqueue(moved, "booking_request", self._clock.now(), audiences=("host",))
        return self._view(moved, self._clock.now()), 200

    # -- the host's confirm / decline links ------------------------------------------------------

    def request(self, principal: Principal, purpose: str) -> dict[str, Any]:
        """What the host's respond page shows before the host presses the button."""
        now = self._clock.now()
        interview = self._interview(principal)
        view = self._view(interview, now)
        view.pop("can_cancel"), view.pop("can_reschedule"), view.pop("days_ahead")
        current = principal.link_version is None or principal.link_version == interview.ical_sequence
        return view | {
            "action": purpose,
            "note": interview.note,
            "answerable": interview.status is InterviewStatus.PENDING and current,
        }

    def answer(self, principal: Principal, purpose: str, body: Mapping[str, Any]) -> Answer:
        interview = self._interview(principal)
        reason = parse_reason(body) if purpose == DECLINE else None
        if purpose == CONFIRM and body:
            raise InvalidInput("A confirmation takes no fields.", code="invalid_field", details={"field": next(iter(body))[:60]})
        if purpose == CONFIRM and interview.status is InterviewStatus.CONFIRMED and not interview.calendar_event_id:
            self._service.confirm(host_principal(interview), interview.id, None, "")  # a confirm Google failed: finish it
            return self.request(principal, purpose), 200
        if interview.status is not InterviewStatus.PENDING:
            done = (purpose == CONFIRM and interview.status is InterviewStatus.CONFIRMED) or (
                purpose == DECLINE and interview.status is InterviewStatus.CANCELLED
            )
            if done:
                return self.request(principal, purpose), 200  # the same click twice: already done
            raise Conflict(
                f"This request is already {interview.status.value}.",
                code="already_answered",
                details={"status": interview.status.value},
            )
        if principal.link_version is not None and principal.link_version != interview.ical_sequence:
            raise Conflict(
                "The guest changed this request since the email was sent; answer it from the latest email.",
                code="request_changed",
            )
        host = host_principal(interview)
        if purpose == CONFIRM:
            self._service.confirm(host, interview.id, None, "")
        else:
            self._service.cancel(host, interview.id, {"reason": reason} if reason else {}, None, "")
            declined = self._interviews.get(interview.id) or interview
            self._emails().enqueue(declined, "request_declined", self._clock.now(), audiences=("candidate",))
        return self.request(principal, purpose), 200


def _host_role() -> Role:
    from shared.domain.models import Role

    return Role.HOST
