"""Queueing emails: an outbox document per email, then a Cloud Tasks task to send it.

``outbox/{email_id}`` is what admins read in the console (``queued`` → ``sending`` →
``sent`` | ``failed`` | ``skipped``, attempts, SendGrid message id, last error). The id —
and the task's name — is ``{interview}-{kind}-{sequence}-{audience}``: queueing the same
email twice writes nothing new and is refused by Cloud Tasks.
"""

from __future__ import annotations

import contextvars
from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from google.api_core import exceptions as gexc

from shared.domain.models import Interview

OUTBOX = "outbox"
AUDIENCES = ("candidate", "host")
MAX_BATCH_WRITES = 500  # Firestore's limit of writes in one batch


@dataclass(frozen=True)
class Email:
    """One email to queue for each audience: the interview, the template, and what tells
    apart emails of one kind for one version (a reminder's offset)."""

    interview: Interview
    kind: str
    label: str | None = None


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

    def enqueue(
        self, interview: Interview, kind: str, now: Any, audiences: Iterable[str] = AUDIENCES, label: str | None = None
    ) -> dict[str, str]:
        """Queue one email per audience; returns {audience: "queued"} as the seeds' emails_sent."""
        return self.enqueue_many([Email(interview, kind, label)], now, audiences)[0]

    def enqueue_many(
        self, emails: Sequence[Email], now: Any, audiences: Iterable[str] = AUDIENCES, *, workers: int = 1
    ) -> list[dict[str, str]]:
        """Queue several interviews' emails: every outbox document in one batch write (a retried
        call, whose documents exist already, falls back to creating each missing one), then the
        tasks, ``workers`` at a time. Outbox first, tasks second, for every email."""
        audiences = tuple(audiences)
        records: dict[str, dict[str, Any]] = {}
        for email in emails:
            for audience in audiences:
                recipient = email.interview.guest if audience == "candidate" else email.interview.host
                records[email_id(email.interview, email.kind, audience, email.label)] = {
                    "interview_id": email.interview.id,
                    "workspace_id": email.interview.workspace_id,
                    "kind": email.kind,
                    "audience": audience,
                    "sequence": email.interview.ical_sequence,
                    "to_email": recipient.email,
                    "status": "queued",
                    "attempts": 0,
                    "created_at": now,
                    "updated_at": now,
                }
        self._create_records(records)
        identifiers = list(records)
        if workers > 1 and len(identifiers) > 1:
            with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="tasks") as pool:
                # each task in its own copy of this context, so log lines keep the request's trace
                futures = [pool.submit(contextvars.copy_context().run, self._enqueue_task, i) for i in identifiers]
                for future in futures:
                    future.result()
        else:
            for identifier in identifiers:
                self._enqueue_task(identifier)
        return [{audience: "queued" for audience in audiences} for _ in emails]

    def _create_records(self, records: dict[str, dict[str, Any]]) -> None:
        items = list(records.items())
        for chunk in (items[i : i + MAX_BATCH_WRITES] for i in range(0, len(items), MAX_BATCH_WRITES)):
            batch = self._db.batch()
            for identifier, record in chunk:
                batch.create(self._outbox.document(identifier), record)
            try:
                batch.commit()
            except gexc.Conflict:
                for identifier, record in chunk:
                    try:
                        self._outbox.document(identifier).create(record)
                    except gexc.Conflict:
                        pass  # queued before: its task is refused as a duplicate too

    def _enqueue_task(self, identifier: str) -> None:
        self._tasks.enqueue(identifier, self._worker_url, {"email_id": identifier})
