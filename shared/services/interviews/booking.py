"""Booking: create an interview, and the once-per-``Idempotency-Key`` orchestration every change shares.

Each change follows the same order, so that a failure part-way leaves nothing a retry
cannot finish:
1. validate and authorize (nothing written on a refusal);
2. make sure the host's Google connection works (or answer needs_google_auth);
3. one Firestore transaction: the status change and the host's slot (no double booking);
4. Google Calendar: insert / patch / cancel the event under an id derived from the
   interview, so a retry finds the event its first attempt made (one event, always);
5. queue the emails (outbox + named Cloud Tasks: duplicates refused).
With an ``Idempotency-Key`` the interview id itself derives from the key, and the first
answer is replayed to every retry (its guest link signed afresh: none is stored). A retry
that takes over from an attempt that died part-way (shared.adapters.idempotency) finishes
the steps after the transaction when the transaction had committed.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import replace
from typing import TYPE_CHECKING, Any, Protocol

from shared import logs
from shared.auth.principal import Principal, PrincipalKind
from shared.domain.errors import DomainError
from shared.domain.models import BookingOrigin, Interview, InterviewStatus, InterviewType, Person
from shared.errors import Conflict, Unprocessable, from_domain
from shared.services.access import AccessPolicy, Member
from shared.services.interviews.publishing import Publisher
from shared.services.interviews.views import ChangeViews, without_guest_link

if TYPE_CHECKING:
    from shared.adapters.candidates import StoredCandidate
    from shared.clock import Clock
    from shared.config import Settings
    from shared.domain.booking import BookingLimits, BookingRequest
    from shared.ports import BookingStore, IdempotencyStore, InterviewRepository, WorkspaceRepository

# Booking rules, the status machine and reminders are imported by the methods that change
# interviews: a get (the most frequent cold start) never loads them.

logger = logging.getLogger(__name__)

Answer = tuple[dict[str, Any], int]


class Candidates(Protocol):
    """The workspace's stored candidates (shared.adapters.candidates.CandidateRepository)."""

    def get(self, candidate_id: str) -> StoredCandidate | None: ...


def limits(settings: Settings) -> BookingLimits:
    from shared.domain.booking import BookingLimits

    s = settings
    return BookingLimits(s.min_duration_minutes, s.max_duration_minutes, s.default_duration_minutes, s.booking_horizon_days)


class OncePerKey:
    """``work(seed, resumed)`` once per Idempotency-Key: seed derives ids from the key, resumed says a dead attempt ran."""

    def __init__(self, *, clock: Clock, idempotency: IdempotencyStore, views: ChangeViews):
        self._clock = clock
        self._idempotency = idempotency
        self._views = views

    def run(
        self, member: Member, operation: str, key: str | None, fingerprint: str, work: Callable[[bytes | None, bool], Answer]
    ) -> Answer:
        if key is None:
            return work(None, False)
        from shared.adapters.idempotency import key_seed, record_id

        record = record_id(member.workspace_id, member.uid, operation, key)

        def attempt(resumed: bool) -> Answer:
            try:
                return work(key_seed(record), resumed)
            except DomainError as refused:  # recorded and replayed as the API's error, like any refusal
                raise from_domain(refused) from refused

        return self._idempotency.run(
            record,
            fingerprint,
            self._clock.now(),
            attempt,
            seal=without_guest_link,
            unseal=self._views.with_fresh_guest_link,
        )


class Booking:
    """``POST /interviews``: a pending request, or confirmed at once (event, Meet link, invitations)."""

    def __init__(
        self,
        *,
        settings: Settings,
        clock: Clock,
        access: AccessPolicy,
        interviews: InterviewRepository,
        bookings: BookingStore,
        workspaces: WorkspaceRepository | None,
        candidates: Candidates,
        publisher: Publisher,
        views: ChangeViews,
        once: OncePerKey,
    ):
        self._settings = settings
        self._clock = clock
        self._access = access
        self._interviews = interviews
        self._bookings = bookings
        self._workspaces = workspaces
        self._candidates = candidates
        self._publisher = publisher
        self._views = views
        self._once = once

    def create(self, principal: Principal, body: dict[str, Any], key: str | None, fingerprint: str) -> Answer:
        from shared.services.interviews.requests import parse_booking

        member = self._access.member(principal)
        booking = parse_booking(body, now=self._clock.now(), limits=limits(self._settings))
        host = self._access.host_for(member, booking.host_uid)
        guest = self._candidate_for(member, booking)
        return self._once.run(
            member, "create", key, fingerprint, lambda seed, _resumed: self._create(principal, member, host, guest, booking, seed)
        )

    def book_through_link(
        self,
        host: Member,
        guest: Person,
        booking: BookingRequest,
        origin: BookingOrigin,
        key: str | None,
        fingerprint: str,
    ) -> Answer:
        """A guest's booking through a link: exactly a host's create (direct: event, Meet link,
        invitations; request: pending, the host asked by email), acting as the link's host.
        An Idempotency-Key is scoped to the link, not to the (anonymous) guest."""
        acting = Principal(PrincipalKind.USER, host.uid, host.email, True, host.workspace_id)
        scope = replace(host, uid=f"link-{origin.link_id}")
        return self._once.run(
            scope, "book", key, fingerprint, lambda seed, _resumed: self._create(acting, host, host, guest, booking, seed, origin)
        )

    def booked_through_link(self, host: Member, link_id: str, key: str) -> bool:
        """Whether this Idempotency-Key already booked through the link (its retry replays, even
        though its slot is no longer free)."""
        from shared.adapters.idempotency import key_seed, record_id
        from shared.domain.booking import new_interview_id

        record = record_id(host.workspace_id, f"link-{link_id}", "book", key)
        return self._interviews.get(new_interview_id(key_seed(record))) is not None

    def _reminder_offsets(self, workspace_id: str) -> tuple[int, ...]:
        workspace = self._workspaces.get(workspace_id) if self._workspaces is not None else None
        return (
            workspace.reminder_offsets_minutes
            if workspace and workspace.reminder_offsets_minutes
            else tuple(self._settings.reminder_offsets_minutes)
        )

    def _candidate_for(self, member: Member, booking: BookingRequest) -> Person:
        from shared.domain.booking import valid_email

        if booking.candidate is not None:
            return Person(email=booking.candidate.email, name=booking.candidate.name)
        stored = self._candidates.get(booking.candidate_id or "")
        if stored is None or stored.workspace_id != member.workspace_id:
            raise Unprocessable(
                "candidate_id is not a candidate of this workspace.", code="unknown_candidate", details={"field": "candidate_id"}
            )
        return Person(email=valid_email(stored.email, "candidate.email"), name=stored.name)

    def _create(
        self,
        principal: Principal,
        member: Member,
        host: Member,
        guest: Person,
        booking: BookingRequest,
        seed: bytes | None,
        origin: BookingOrigin | None = None,
    ) -> Answer:
        from shared.domain.booking import new_interview_id
        from shared.domain.reminders import arm

        now = self._clock.now()
        acting_host = (
            principal if host.uid == member.uid else Principal(PrincipalKind.USER, host.uid, host.email, True, host.workspace_id)
        )
        connection = self._publisher.usable_connection(acting_host) if booking.confirm else None
        offsets = self._reminder_offsets(member.workspace_id)
        done, next_at = arm(booking.start, offsets, now) if booking.confirm else ((), None)
        interview = Interview(
            id=new_interview_id(seed),
            workspace_id=member.workspace_id,
            host=Person(
                email=connection.account_email if connection and connection.account_email else host.email,
                name=host.name,
                uid=host.uid,
            ),
            guest=guest,
            start=booking.start,
            timezone=booking.timezone,
            duration_minutes=booking.duration_minutes,
            type=booking.type,
            status=InterviewStatus.CONFIRMED if booking.confirm else InterviewStatus.PENDING,
            job_title=booking.job_title,
            note=booking.note,
            location=booking.location,
            phone=booking.phone,
            meet_link=booking.video_url if booking.type is InterviewType.CUSTOM_VIDEO else None,
            created_at=now,
            updated_at=now,
            reminder_offsets=offsets,
            reminders_done=done,
            next_reminder_at=next_at,
            origin=origin,
        )
        logs.bind(interview_id=interview.id, workspace_id=interview.workspace_id)
        existing = self._interviews.get(interview.id) if seed is not None else None
        if existing is None:
            try:
                self._bookings.create(interview, now)
            except Conflict as taken:
                if seed is None or taken.code != "already_exists":
                    raise
                existing = self._interviews.get(interview.id)  # an attempt that lost its lease committed meanwhile
                if existing is None:
                    raise
        if existing is not None:
            interview = existing  # a retry after a failure part-way: finish what the first attempt began
        emails: dict[str, str] = {}
        if interview.status is InterviewStatus.CONFIRMED:
            interview, emails = self._publisher.publish(acting_host, interview, connection, "invitation")
        elif origin is not None:
            emails = self._publisher.ask_host(interview)
        logs.log(logger, logging.INFO, "interview created", event="interview_created")
        return self._views.created(interview, emails), 201


def armed(interview: Interview, now: Any) -> Interview:
    """Reminders for the interview's (new) time; none unless it is confirmed."""
    from shared.domain.reminders import arm

    if interview.status is not InterviewStatus.CONFIRMED:
        return replace(interview, next_reminder_at=None)
    done, next_at = arm(interview.start, interview.reminder_offsets, now)
    return replace(interview, reminders_done=done, next_reminder_at=next_at)
