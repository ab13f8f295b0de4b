"""Interviews (SPEC §2.2): create, confirm, get, list, reschedule, cancel, complete / no-show.

The parts, each its own module:
- ``views``: the API's shape of an interview, ``get`` and ``list`` (page tokens);
- ``booking``: create, and the once-per-Idempotency-Key orchestration every change shares;
- ``changes``: confirm, reschedule, cancel, complete / no-show (transaction, then Google);
- ``publishing``: the Calendar event (Meet link) and the emails of a confirmed interview.
Who may see and change what is shared.services.access, as for every function.
``InterviewService`` wires them for the ``interviews`` function; it holds no logic.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from shared.auth.principal import Principal
from shared.domain.models import InterviewStatus
from shared.services.access import AccessPolicy, Member
from shared.services.interviews.booking import Answer, Booking, Candidates, OncePerKey
from shared.services.interviews.changes import InterviewChanges
from shared.services.interviews.publishing import CalendarEvents, EmailQueue, HostConnections, Publisher
from shared.services.interviews.views import ChangeViews, InterviewReads

if TYPE_CHECKING:
    from shared.auth.guest_links import GuestLinks
    from shared.clock import Clock
    from shared.config import Settings
    from shared.domain.booking import BookingRequest
    from shared.domain.models import BookingOrigin, Person
    from shared.ports import BookingStore, IdempotencyStore, InterviewRepository, WorkspaceRepository
    from shared.services.interviews.requests import ListQuery

__all__ = ["InterviewService"]


class InterviewService:
    def __init__(
        self,
        *,
        settings: Settings,
        clock: Clock,
        access: AccessPolicy,
        interviews: InterviewRepository,
        bookings: BookingStore,
        idempotency: IdempotencyStore,
        candidates: Candidates,
        connections: Callable[[], HostConnections],
        calendar_events: Callable[[], CalendarEvents],
        emails: Callable[[], EmailQueue],
        guest_links: GuestLinks,
        workspaces: WorkspaceRepository | None = None,
    ):
        # connections, calendar_events and emails are zero-argument factories: a get or a list never builds them.
        views = ChangeViews(settings=settings, interviews=interviews, guest_links=guest_links)
        publisher = Publisher(
            clock=clock, interviews=interviews, connections=connections, calendar_events=calendar_events, emails=emails
        )
        once = OncePerKey(clock=clock, idempotency=idempotency, views=views)
        self._reads = InterviewReads(clock=clock, access=access, interviews=interviews)
        self._booking = Booking(
            settings=settings,
            clock=clock,
            access=access,
            interviews=interviews,
            bookings=bookings,
            workspaces=workspaces,
            candidates=candidates,
            publisher=publisher,
            views=views,
            once=once,
        )
        self._changes = InterviewChanges(
            settings=settings,
            clock=clock,
            access=access,
            interviews=interviews,
            bookings=bookings,
            publisher=publisher,
            views=views,
            once=once,
        )

    def get(self, principal: Principal, interview_id: str) -> dict[str, Any]:
        return self._reads.get(principal, interview_id)

    def list(self, principal: Principal, query: ListQuery) -> dict[str, Any]:
        return self._reads.list(principal, query)

    def create(self, principal: Principal, body: dict[str, Any], key: str | None, fingerprint: str) -> Answer:
        return self._booking.create(principal, body, key, fingerprint)

    def book_through_link(
        self, host: Member, guest: Person, booking: BookingRequest, origin: BookingOrigin, key: str | None, fingerprint: str
    ) -> Answer:
        return self._booking.book_through_link(host, guest, booking, origin, key, fingerprint)

    def booked_through_link(self, host: Member, link_id: str, key: str) -> bool:
        return self._booking.booked_through_link(host, link_id, key)

    def confirm(self, principal: Principal, interview_id: str, key: str | None, fingerprint: str) -> Answer:
        return self._changes.confirm(principal, interview_id, key, fingerprint)

    def reschedule(
        self, principal: Principal, interview_id: str, body: dict[str, Any], key: str | None, fingerprint: str
    ) -> Answer:
        return self._changes.reschedule(principal, interview_id, body, key, fingerprint)

    def cancel(
        self,
        principal: Principal,
        interview_id: str,
        body: dict[str, Any],
        key: str | None,
        fingerprint: str,
        *,
        by: str = "host",
    ) -> Answer:
        return self._changes.cancel(principal, interview_id, body, key, fingerprint, by=by)

    def mark(self, principal: Principal, interview_id: str, target: InterviewStatus) -> dict[str, Any]:
        return self._changes.mark(principal, interview_id, target)
