"""Queueing emails: an outbox record per email (shared/adapters/outbox.py), then a Cloud
Tasks task to send it.

The id — and the task's name — is ``{interview}-{kind}-{sequence}-{audience}``: queueing
the same email twice writes nothing new and is refused by Cloud Tasks.
"""

from __future__ import annotations

import contextvars
from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime

from shared.domain.models import Interview
from shared.ports import OutboxEmail, OutboxRepository, TaskQueue

AUDIENCES = ("candidate", "host")


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
    def __init__(self, *, outbox: OutboxRepository, tasks: TaskQueue, worker_url: str):
        self._outbox = outbox
        self._tasks = tasks
        self._worker_url = worker_url

    def enqueue(
        self, interview: Interview, kind: str, now: datetime, audiences: Iterable[str] = AUDIENCES, label: str | None = None
    ) -> dict[str, str]:
        """Queue one email per audience; returns {audience: "queued"} as the seeds' emails_sent."""
        return self.enqueue_many([Email(interview, kind, label)], now, audiences)[0]

    def enqueue_many(
        self, emails: Sequence[Email], now: datetime, audiences: Iterable[str] = AUDIENCES, *, workers: int = 1
    ) -> list[dict[str, str]]:
        """Queue several interviews' emails: every outbox record first (in batches), then the
        tasks, ``workers`` at a time. Outbox first, tasks second, for every email."""
        audiences = tuple(audiences)
        records: dict[str, OutboxEmail] = {}
        for email in emails:
            for audience in audiences:
                recipient = email.interview.guest if audience == "candidate" else email.interview.host
                identifier = email_id(email.interview, email.kind, audience, email.label)
                records[identifier] = OutboxEmail(
                    id=identifier,
                    kind=email.kind,
                    audience=audience,
                    to_email=recipient.email,
                    workspace_id=email.interview.workspace_id,
                    interview_id=email.interview.id,
                    sequence=email.interview.ical_sequence,
                )
        self._outbox.add_many(list(records.values()), now)
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

    def _enqueue_task(self, identifier: str) -> None:
        self._tasks.enqueue(identifier, self._worker_url, {"email_id": identifier})
