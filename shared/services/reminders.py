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
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from shared import logs
from shared.domain.models import Interview, InterviewStatus
from shared.domain.reminders import kind_of, plan
from shared.ports import DueInterview, DueReminders, ReminderState
from shared.services.emails import Email

if TYPE_CHECKING:
    from shared.services.emails import EmailQueue

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

    due: DueInterview
    send: int | None
    state: ReminderState

    @property
    def interview(self) -> Interview:
        return self.due.interview


class ReminderRun:
    def __init__(self, *, due: DueReminders, emails: Callable[[], EmailQueue]):
        self._due = due
        self._emails = emails  # zero-argument factory: a run with nothing due builds no Tasks client

    def run(self, now: datetime) -> dict[str, Any]:
        summary = RunSummary()
        for _ in range(MAX_BATCHES):
            batch = self._due.due(now, BATCH)
            self._batch(batch, now, summary)
            if len(batch) < BATCH:
                break
        else:
            summary.more_left = True
        logs.log(logger, logging.INFO, "reminder run", event="reminder_run", count=summary.due)
        return summary.as_dict()

    def _batch(self, batch: list[DueInterview], now: datetime, summary: RunSummary) -> None:
        """Queue every due email of the batch, then advance every interview's state."""
        steps = [self._step(due, now, summary) for due in batch]
        sending = [step for step in steps if step.send is not None]
        if sending:
            emails = [Email(step.interview, email_kind(step.send), kind_of(step.send)) for step in sending if step.send]
            self._emails().enqueue_many(emails, now, workers=WORKERS)
        # Every new state under a precondition on the version it was read at: a step that lost
        # the race (another run, or a reschedule, changed it first) leaves that state standing.
        for index in self._due.advance([(step.due, step.state) for step in steps]):
            summary.raced += 1
            if steps[index].send is not None:
                sending.remove(steps[index])
        summary.sent += len(sending)

    def _step(self, due: DueInterview, now: datetime, summary: RunSummary) -> _Step:
        summary.due += 1
        interview = due.interview
        if interview.status is not InterviewStatus.CONFIRMED:
            return _Step(due, None, ReminderState(next_at=None))
        step = plan(interview.start, interview.reminder_offsets, interview.reminders_done, now)
        done = sorted({*interview.reminders_done, *step.skip, *((step.send,) if step.send is not None else ())}, reverse=True)
        summary.skipped += len(step.skip)
        return _Step(due, step.send, ReminderState(next_at=step.next_at, done=tuple(done)))
