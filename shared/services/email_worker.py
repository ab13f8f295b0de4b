"""The email worker's job (SPEC §2.5): send each queued email exactly once.

Cloud Tasks delivers at least once, so the outbox document decides: a delivery first
claims the email in a transaction (``queued`` → ``sending`` with a short lease); a
duplicate delivery of an email already ``sent``, ``failed`` or ``skipped`` is
acknowledged without sending, and one that finds another delivery's live lease asks
Cloud Tasks to retry later. Transient failures answer 503 (Cloud Tasks retries with the
queue's backoff); permanent ones are recorded as ``failed`` and acknowledged. Most emails
are about an interview, read at send time; a notice to a host (``reconnect``) carries its
recipient and link in the outbox record itself.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from shared import logs
from shared.domain.models import Interview, InterviewStatus, InterviewType
from shared.errors import Conflict, Unavailable
from shared.ports import Clock, InterviewRepository, LeaseHeld, Mailer, OutboxRepository
from shared.services.portal import portal_join_url

if TYPE_CHECKING:
    from shared.mail.content import RenderedEmail

logger = logging.getLogger(__name__)

LEASE = timedelta(minutes=2)
INVITATION_KINDS = ("invitation", "update")
NOTICE_KINDS = ("reconnect",)  # emails about a host's account (shared.mail.content.NoticeKind), not an interview


class EmailWorker:
    def __init__(
        self,
        *,
        settings: Any,
        clock: Clock,
        outbox: OutboxRepository,
        interviews: InterviewRepository,
        mailer: Callable[[], Mailer],
        guest_links: Any,
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
        if interview.type is InterviewType.GOOGLE_MEET and not interview.meet_link and record["kind"] != "cancellation":
            link = self._resolve_meet_link(interview)
            if not link:
                self._release(email_id, "meet_link_pending", "Google has not created the Meet link yet.")
                raise Unavailable("The Meet link is not ready yet; the queue will retry.")
            interview = replace(interview, meet_link=link)
        from shared.mail.content import Audience, EmailKind, render_email

        portal = portal_join_url(self._settings, self._guest_links, interview) if record["audience"] == "candidate" else None
        email = render_email(
            EmailKind(record["kind"]),
            Audience(record["audience"]),
            interview,
            portal_join_url=portal,
            from_name=self._settings.mail_from_name,
            now=now,
        )
        return self._send(email_id, record, email, delivery, now)

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
    if record["kind"] in INVITATION_KINDS or record["kind"].startswith("reminder"):
        if interview.status is InterviewStatus.CANCELLED:
            return "interview_cancelled"
        if record["kind"] in INVITATION_KINDS and interview.ical_sequence > int(record.get("sequence", 0)):
            return "superseded_by_update"
    return None
