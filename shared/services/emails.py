"""Queueing emails: an outbox document per email, then a Cloud Tasks task to send it.

``outbox/{email_id}`` is what admins read in the console (``queued`` → ``sending`` →
``sent`` | ``failed`` | ``skipped``, attempts, SendGrid message id, last error). The id —
and the task's name — is ``{interview}-{kind}-{sequence}-{audience}``: queueing the same
email twice writes nothing new and is refused by Cloud Tasks.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from google.api_core import exceptions as gexc

from shared.domain.models import Interview

OUTBOX = "outbox"
AUDIENCES = ("candidate", "host")


def email_id(interview: Interview, kind: str, audience: str, label: str | None = None) -> str:
    """``label`` tells apart emails of one kind for one version (a reminder's offset: 24h, 1h, 30m)."""
    name = f"reminder-{label}" if label else kind.replace("_", "-")
    return f"{interview.id}-{name}-{interview.ical_sequence}-{audience}"


class EmailQueue:
    def __init__(self, *, firestore_client: Any, tasks: Any, worker_url: str):
        self._db = firestore_client
        self._outbox = firestore_client.collection(OUTBOX)
        self._tasks = tasks
        self._worker_url = worker_url

    def enqueue(self, interview: Interview, kind: str, now: Any, audiences: Iterable[str] = AUDIENCES,
                label: str | None = None) -> dict[str, str]:
        """Queue one email per audience; returns {audience: "queued"} as the seeds' emails_sent.

        The outbox documents are created in one batch (one round trip); a retried request,
        whose documents exist already, falls back to creating each one that is missing.
        """
        records = {}
        for audience in audiences:
            recipient = interview.guest if audience == "candidate" else interview.host
            records[email_id(interview, kind, audience, label)] = {
                "interview_id": interview.id, "workspace_id": interview.workspace_id, "kind": kind,
                "audience": audience, "sequence": interview.ical_sequence, "to_email": recipient.email,
                "status": "queued", "attempts": 0, "created_at": now, "updated_at": now,
            }
        batch = self._db.batch()
        for identifier, record in records.items():
            batch.create(self._outbox.document(identifier), record)
        try:
            batch.commit()
        except gexc.Conflict:
            for identifier, record in records.items():
                try:
                    self._outbox.document(identifier).create(record)
                except gexc.Conflict:
                    pass  # queued before: the task below is refused as a duplicate too
        result = {}
        for identifier, record in records.items():
            self._tasks.enqueue(identifier, self._worker_url, {"email_id": identifier})
            result[record["audience"]] = "queued"
        return result
