"""The email worker's job (SPEC §2.5): send each queued email exactly once.

Cloud Tasks delivers at least once, so the outbox document decides: a delivery first
claims the email in a transaction (``queued`` → ``sending`` with a short lease); a
duplicate delivery of an email already ``sent``, ``failed`` or ``skipped`` is
acknowledged without sending, and one that finds another delivery's live lease asks
Cloud Tasks to retry later. Transient failures answer 503 (Cloud Tasks retries with the
queue's backoff); permanent ones are recorded as ``failed`` and acknowledged. Most emails
are about an interview, read at send time; a notice to a host (``reconnect``) carries its
recipient and link in the outbox record itself.

The links an email carries (the candidate's portal join link, the guest's manage link, the
host's confirm and decline links of a booking request) are signed here, at send time, for
that email only: nothing signed is stored at rest.

An email the interview no longer wants is ``skipped`` (``_superseded``): an invitation,
update, reminder, booking request or request receipt of a cancelled (or declined)
interview; an invitation, update or booking request overtaken by a newer version (a
reschedule queues a new one); a booking request or receipt of a request already answered; a "request
declined" of an interview that is not cancelled. A cancellation and a "request declined"
are about a cancelled interview, so they are sent.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from shared import logs
from shared.auth.guest_links import CONFIRM, DECLINE
from shared.domain.models import Interview, InterviewStatus, InterviewType
from shared.errors import Conflict, Unavailable
from shared.ports import Clock, InterviewRepository, LeaseHeld, Mailer, OutboxRepository
from shared.services.portal import manage_url, portal_join_url, respond_url

if TYPE_CHECKING:
    from shared.auth.guest_links import GuestLinks
    from shared.config import Settings
    from shared.mail.content import Audience, EmailKind, RenderedEmail

logger = logging.getLogger(__name__)

LEASE = timedelta(minutes=2)
INVITATION_KINDS = ("invitation", "update")
# A booking link's request (shared.mail.content.REQUEST_KINDS): the host's request to answer and
# the guest's receipt are about a pending interview; the decline is about a cancelled one.
REQUEST_KINDS = ("booking_request", "request_received")
DECLINED_KIND = "request_declined"
# Emails that show no video link, so never wait for Google to create a Meet link.
NO_MEET_LINK_KINDS = ("cancellation", *REQUEST_KINDS, DECLINED_KIND)
NOTICE_KINDS = ("reconnect",)  # emails about a host's account (shared.mail.content.NoticeKind), not an interview


class EmailWorker:
    def __init__(
        self,
        *,
        settings: Settings,
        clock: Clock,
        outbox: OutboxRepository,
        interviews: InterviewRepository,
        mailer: Callable[[], Mailer],
        guest_links: GuestLinks,
        meet_link_resolver: Callable[[Interview], str | None],
    ):
        self._settings = settings
        self._clock = clock
        self._outbox = outbox
        self._interviews = interviews
        self._mailer = mailer  # zero-argument factory: the SendGrid client is built on the first real send
        self._guest_links = guest_links
        self._resolve_meet_link = meet_link_resolver

    def handle(self, email_id: str, delivery: int) -> dict[str, Any]:
        now = self._clock.now()
        try:
            claimed = self._outbox.claim(email_id, now, now + LEASE)
        except LeaseHeld:
            raise Conflict("Another delivery of this email is in progress.", code="email_in_progress") from None
        if claimed is None:
            return {"email_id": email_id, "status": "unknown"}
        record, fresh = claimed.record, claimed.fresh
        logs.bind(interview_id=record.get("interview_id"))
        if not fresh:
            logs.log(logger, logging.INFO, "duplicate delivery acknowledged", event="email_duplicate", status=record["status"])
            return {"email_id": email_id, "status": record["status"], "duplicate": True}
        now = self._clock.now()
        if record["kind"] in NOTICE_KINDS:
            return self._send(email_id, record, self._notice(record), delivery, now)
        interview = self._interviews.get(record["interview_id"])
        skip = _superseded(record, interview)
        if skip:
            return self._finish(email_id, {"status": "skipped", "last_error": {"code": skip, "message": skip, "at": now}})
        assert interview is not None
        from shared.mail.content import AUDIENCES, Audience, EmailKind

        kind, audience = EmailKind(record["kind"]), Audience(record["audience"])
        if audience not in AUDIENCES[kind]:  # queued for the wrong side: refused for good, never retried
            code = "not_for_audience"
            return self._finish(email_id, {"status": "skipped", "last_error": {"code": code, "message": code, "at": now}})
        if interview.type is InterviewType.GOOGLE_MEET and not interview.meet_link and kind.value not in NO_MEET_LINK_KINDS:
            link = self._resolve_meet_link(interview)
            if not link:
                self._release(email_id, "meet_link_pending", "Google has not created the Meet link yet.")
                raise Unavailable("The Meet link is not ready yet; the queue will retry.")
            interview = replace(interview, meet_link=link)
        email = self._render(kind, audience, interview, now)
        return self._send(email_id, record, email, delivery, now)

    def _render(self, kind: EmailKind, audience: Audience, interview: Interview, now: datetime) -> RenderedEmail:
        """The email with the recipient's signed links, each signed only when the email shows it."""
        from shared.mail.content import carries_join_link, carries_manage_link, carries_respond_links, render_email

        settings, links = self._settings, self._guest_links
        respond = carries_respond_links(kind, audience)
        return render_email(
            kind,
            audience,
            interview,
            portal_join_url=portal_join_url(settings, links, interview) if carries_join_link(kind, audience) else None,
            manage_url=manage_url(settings, links, interview) if carries_manage_link(kind, audience) else None,
            confirm_url=respond_url(settings, links, interview, CONFIRM) if respond else None,
            decline_url=respond_url(settings, links, interview, DECLINE) if respond else None,
            from_name=settings.mail_from_name,
            now=now,
        )

    def _notice(self, record: dict[str, Any]) -> RenderedEmail:
        """A notice carries its recipient and link in the outbox record: there is no interview to read them from."""
        from shared.mail.content import NoticeKind, render_notice

        return render_notice(
            NoticeKind(record["kind"]),
            to_email=record["to_email"],
            to_name=record.get("to_name") or "",
            reconnect_url=record["reconnect_url"],
            from_name=self._settings.mail_from_name,
        )

    def _send(self, email_id: str, record: dict[str, Any], email: RenderedEmail, delivery: int, now: datetime) -> dict[str, Any]:
        result = self._mailer().send(email, categories=["convene", record["kind"]], custom_args={"email_id": email_id})
        if result.ok:
            logs.log(logger, logging.INFO, "email sent", event="email_sent", attempt=delivery)
            return self._finish(
                email_id, {"status": "sent", "sendgrid_message_id": result.message_id, "sent_at": now, "last_error": None}
            )
        error = {"code": result.code, "message": result.detail or result.code, "at": now}
        if result.transient:
            self._release(email_id, result.code, result.detail or result.code)
            logs.log(logger, logging.WARNING, "email send failed, will retry", event="email_retry", error_code=result.code)
            raise Unavailable("The email could not be sent yet; the queue will retry.")
        logs.log(logger, logging.ERROR, "email refused permanently", event="email_failed", error_code=result.code)
        return self._finish(email_id, {"status": "failed", "last_error": error})

    def _release(self, email_id: str, code: str, message: str) -> None:
        self._outbox.release(email_id, code, message, self._clock.now())

    def _finish(self, email_id: str, fields: dict[str, Any]) -> dict[str, Any]:
        self._outbox.finish(email_id, fields, self._clock.now())
        return {"email_id": email_id, "status": fields["status"]}


def _superseded(record: dict[str, Any], interview: Interview | None) -> str | None:
    """Why this email must not go out any more, if so (the interview changed since it was queued)."""
    if interview is None:
        return "interview_deleted"
    kind = record["kind"]
    if kind == DECLINED_KIND:  # declining cancels the request: only then is there anything to say
        return None if interview.status is InterviewStatus.CANCELLED else "request_not_declined"
    about_a_meeting = kind in INVITATION_KINDS or kind in REQUEST_KINDS or kind.startswith("reminder")
    if about_a_meeting and interview.status is InterviewStatus.CANCELLED:
        return "interview_cancelled"  # cancelled, or a request withdrawn or declined
    if kind in REQUEST_KINDS and interview.status is not InterviewStatus.PENDING:
        return "request_answered"  # confirmed meanwhile: the invitation says it
    # A reschedule queues a newer invitation (update) or, for a pending request, a newer booking
    # request; the guest's receipt is not queued again, so an older one still goes out (showing
    # the time as it is now).
    versioned = kind in INVITATION_KINDS or kind == "booking_request"
    if versioned and interview.ical_sequence > int(record.get("sequence", 0)):
        return "superseded_by_update"
    return None
