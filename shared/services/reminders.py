"""The scheduled reminder run (SPEC §2.4): queue the reminders that are due, exactly once.

It reads only interviews whose ``next_reminder_at`` has come (one query on that field):
the cost grows with what is due, not with what is stored. For each, the emails are queued
first under deterministic names (a duplicate is refused by the outbox and by Cloud Tasks),
then the reminder state is advanced with a precondition on the document's update time: of
two overlapping runs only one advances it, and a run that dies in between is repeated
harmlessly by the next.

A batch of due interviews costs a few round trips, not a few per interview: every outbox
document in one batch write, the tasks created a few at a time in parallel, then every new
state in one batch write under the preconditions (written one by one only when one of them
lost a race). The order per email stays: outbox, task, then state.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from google.api_core import exceptions as gexc

from shared import logs
from shared.adapters.firestore import INTERVIEWS, interview_from_document
from shared.domain.models import Interview, InterviewStatus
from shared.domain.reminders import kind_of, plan
from shared.services.emails import Email

logger = logging.getLogger(__name__)

BATCH = 200
MAX_BATCHES = 10
WORKERS = 8  # tasks created at once: I/O-bound round trips, within the Tasks client's HTTP pool of 10


@dataclass
class RunSummary:
    due: int = 0
    sent: int = 0
    skipped: int = 0
    raced: int = 0
    more_left: bool = False

    def as_dict(self) -> dict[str, Any]:
        return {
            "due": self.due,
            "reminders_queued": self.sent,
            "skipped": self.skipped,
            "raced": self.raced,
            "more_left": self.more_left,
        }


def email_kind(offset_minutes: int) -> str:
    """The template: the day-before reminder or the short-notice one (the text says the real lead time)."""
    return "reminder_24h" if offset_minutes >= 6 * 60 else "reminder_1h"


@dataclass(frozen=True)
class _Step:
    """What the run does with one due interview: the reminder to send (if any) and the new state."""

    snapshot: Any
    interview: Interview
    send: int | None
    fields: dict[str, Any]


class ReminderRun:
    def __init__(self, *, firestore_client: Any, emails: Any):
        self._db = firestore_client
        self._emails = emails  # zero-argument factory: a run with nothing due builds no Tasks client

    def run(self, now: datetime) -> dict[str, Any]:
        from google.cloud.firestore_v1.base_query import FieldFilter

        summary = RunSummary()
        query = (
            self._db.collection(INTERVIEWS)
            .where(filter=FieldFilter("next_reminder_at", "<=", now))
            .order_by("next_reminder_at")
            .limit(BATCH)
        )
        for _ in range(MAX_BATCHES):
            snapshots = list(query.stream())
            self._batch(snapshots, now, summary)
            if len(snapshots) < BATCH:
                break
        else:
            summary.more_left = True
        logs.log(logger, logging.INFO, "reminder run", event="reminder_run", count=summary.due)
        return summary.as_dict()

    def _batch(self, snapshots: list[Any], now: datetime, summary: RunSummary) -> None:
        """Queue every due email of the batch, then advance every interview's state."""
        steps = [self._step(snapshot, now, summary) for snapshot in snapshots]
        sending = [step for step in steps if step.send is not None]
        if sending:
            emails = [Email(step.interview, email_kind(step.send), kind_of(step.send)) for step in sending if step.send]
            self._emails().enqueue_many(emails, now, workers=WORKERS)
        for step in self._advance(steps):
            summary.raced += 1  # another run (or a reschedule) changed it first: its state wins
            if step.send is not None:
                sending.remove(step)
        summary.sent += len(sending)

    def _step(self, snapshot: Any, now: datetime, summary: RunSummary) -> _Step:
        summary.due += 1
        interview = interview_from_document(snapshot.id, snapshot.to_dict() or {})
        if interview.status is not InterviewStatus.CONFIRMED:
            return _Step(snapshot, interview, None, {"next_reminder_at": None})
        step = plan(interview.start, interview.reminder_offsets, interview.reminders_done, now)
        done = sorted({*interview.reminders_done, *step.skip, *((step.send,) if step.send is not None else ())}, reverse=True)
        summary.skipped += len(step.skip)
        return _Step(snapshot, interview, step.send, {"reminders.done_minutes": done, "next_reminder_at": step.next_at})

    def _advance(self, steps: list[_Step]) -> list[_Step]:
        """Write every new state in one batch, each under a precondition on the update time it
        was read at; when one precondition fails (a concurrent run or a reschedule), the batch
        writes nothing and each is written on its own. Returns the steps that lost such a race."""

        def option(step: _Step) -> Any:
            return self._db.write_option(last_update_time=step.snapshot.update_time)

        batch = self._db.batch()
        for step in steps:
            batch.update(step.snapshot.reference, step.fields, option=option(step))
        try:
            batch.commit()
            return []
        except (gexc.FailedPrecondition, gexc.NotFound):
            pass
        lost = []
        for step in steps:
            try:
                step.snapshot.reference.update(step.fields, option=option(step))
            except (gexc.FailedPrecondition, gexc.NotFound):
                lost.append(step)
        return lost
