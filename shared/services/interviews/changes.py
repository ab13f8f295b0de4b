"""Changing an interview: confirm, reschedule, cancel, complete / no-show.

Each is a Firestore transaction (the status machine, the host's slot) followed by the
Google side (shared.services.interviews.publishing); with an ``Idempotency-Key`` a retry
replays the first answer, or finishes the Google side when a dead attempt had committed.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from shared import logs
from shared.auth.principal import Principal, host_principal
from shared.domain.models import Cancellation, Interview, InterviewStatus
from shared.errors import Unprocessable
from shared.services.access import AccessPolicy, Member, changeable
from shared.services.interviews.booking import Answer, OncePerKey, armed, limits
from shared.services.interviews.publishing import Publisher
from shared.services.interviews.views import ChangeViews, view

if TYPE_CHECKING:
    from shared.clock import Clock
    from shared.config import Settings
    from shared.ports import BookingStore, InterviewRepository

Apply = Callable[[Interview], Interview]
AfterCommit = Callable[[Member, Interview, Interview], Answer]


class InterviewChanges:
    def __init__(
        self,
        *,
        settings: Settings,
        clock: Clock,
        access: AccessPolicy,
        interviews: InterviewRepository,
        bookings: BookingStore,
        publisher: Publisher,
        views: ChangeViews,
        once: OncePerKey,
    ):
        self._settings = settings
        self._clock = clock
        self._access = access
        self._interviews = interviews
        self._bookings = bookings
        self._publisher = publisher
        self._views = views
        self._once = once

    def _change(
        self,
        principal: Principal,
        interview_id: str,
        operation: str,
        key: str | None,
        fingerprint: str,
        apply: Apply,
        after_commit: AfterCommit,
        applied: Callable[[Interview], bool] | None = None,
    ) -> Answer:
        """The transaction ``apply``, then ``after_commit`` (Calendar, emails).

        ``applied(interview)`` tells a resumed attempt that the dead one's transaction committed:
        then only ``after_commit`` runs again (its Calendar calls and emails are idempotent).
        """
        member = self._access.member(principal)
        changeable(member, self._interviews.get(interview_id))
        logs.bind(interview_id=interview_id, workspace_id=member.workspace_id)

        def work(_seed: bytes | None, resumed: bool) -> Answer:
            if resumed and applied is not None:
                current = self._interviews.get(interview_id)
                if current is not None and applied(current):
                    return after_commit(member, current, current)
            before, after = self._bookings.change(interview_id, apply, self._clock.now())
            return after_commit(member, before, after)

        return self._once.run(member, f"{operation}:{interview_id}", key, fingerprint, work)

    def confirm(self, principal: Principal, interview_id: str, key: str | None, fingerprint: str) -> Answer:
        # Fail early (nothing written) when Google needs the host's consent.
        current = self._interviews.get(interview_id)
        if current is not None and current.status is InterviewStatus.PENDING:
            changeable(self._access.member(principal), current)
            self._publisher.usable_connection(host_principal(current))
        if key is None and current is not None and current.status is InterviewStatus.CONFIRMED and not current.calendar_event_id:
            # confirmed, but Google failed before the event existed, and no Idempotency-Key to resume
            # by (with one, the key's record does it): finish now — the event id derives from the
            # interview and the emails are named, so nothing doubles
            changeable(self._access.member(principal), current)
            published, emails = self._publisher.publish(host_principal(current), current, None, "invitation")
            return self._views.created(published, emails), 200

        def apply(before: Interview) -> Interview:
            from shared.domain import status as status_machine

            if before.start <= self._clock.now():
                raise Unprocessable("The interview's start has passed; reschedule it first.", code="start_in_past")
            target = status_machine.transition(before.status, InterviewStatus.CONFIRMED)
            return armed(replace(before, status=target), self._clock.now())

        def after(member: Member, before: Interview, interview: Interview) -> Answer:
            published, emails = self._publisher.publish(host_principal(interview), interview, None, "invitation")
            return self._views.created(published, emails), 200

        return self._change(
            principal,
            interview_id,
            "confirm",
            key,
            fingerprint,
            apply,
            after,
            applied=lambda interview: interview.status is InterviewStatus.CONFIRMED,
        )

    def reschedule(
        self, principal: Principal, interview_id: str, body: dict[str, Any], key: str | None, fingerprint: str
    ) -> Answer:
        from shared.domain.booking import check_window
        from shared.services.interviews.requests import parse_duration, parse_start

        current = changeable(self._access.member(principal), self._interviews.get(interview_id))
        start, tz_name = parse_start(body, current.timezone)
        duration = parse_duration(body, current.duration_minutes)
        check_window(start, duration, self._clock.now(), limits(self._settings))

        def apply(before: Interview) -> Interview:
            if before.status not in (InterviewStatus.PENDING, InterviewStatus.CONFIRMED):
                raise Unprocessable(
                    f"An interview that is {before.status.value} cannot be rescheduled.",
                    code="invalid_transition",
                    details={"from": before.status.value},
                )
            moved = replace(
                before, start=start, timezone=tz_name, duration_minutes=duration, ical_sequence=before.ical_sequence + 1
            )
            return armed(moved, self._clock.now())

        def after(member: Member, before: Interview, interview: Interview) -> Answer:
            confirmed = interview.status is InterviewStatus.CONFIRMED
            emails = self._publisher.move(interview) if confirmed else {}
            return self._views.created(interview, emails), 200

        def applied(interview: Interview) -> bool:
            return interview.status in (InterviewStatus.PENDING, InterviewStatus.CONFIRMED) and (
                interview.start,
                interview.timezone,
                interview.duration_minutes,
            ) == (start, tz_name, duration)

        return self._change(principal, interview_id, "reschedule", key, fingerprint, apply, after, applied=applied)

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
        """``by``: ``host`` (a host or admin) or ``guest`` (its manage link); kept with the reason."""
        from shared.api_limits import REASON_MAX_LENGTH
        from shared.services.interviews.requests import text

        reason = text(body, "reason", REASON_MAX_LENGTH, multi_line=True)  # the text rule of every field

        def apply(before: Interview) -> Interview:
            from shared.domain import status as status_machine

            return replace(
                before,
                status=status_machine.transition(before.status, InterviewStatus.CANCELLED),
                ical_sequence=before.ical_sequence + 1,
                next_reminder_at=None,
                cancellation=Cancellation(by, reason, self._clock.now()),
            )

        def after(member: Member, before: Interview, interview: Interview) -> Answer:
            return self._views.created(interview, self._publisher.withdraw(interview)), 200

        return self._change(
            principal,
            interview_id,
            "cancel",
            key,
            fingerprint,
            apply,
            after,
            applied=lambda interview: interview.status is InterviewStatus.CANCELLED,
        )

    def mark(self, principal: Principal, interview_id: str, target: InterviewStatus) -> dict[str, Any]:
        def apply(before: Interview) -> Interview:
            from shared.domain import status as status_machine

            if before.start > self._clock.now():
                raise Unprocessable("An interview can be marked only once it has started.", code="not_started")
            return replace(before, status=status_machine.transition(before.status, target), next_reminder_at=None)

        body, _ = self._change(
            principal, interview_id, target.value, None, "", apply, lambda member, before, interview: (view(interview), 200)
        )
        return body
