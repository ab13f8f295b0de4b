"""The scheduled reminder run (SPEC §2.4): queue the reminders that are due, exactly once.

It reads only interviews whose ``next_reminder_at`` has come (one query on that field):
the cost grows with what is due, not with what is stored. For each, the emails are queued
first under deterministic names (a duplicate is refused by the outbox and by Cloud Tasks),
then the reminder state is advanced with a precondition on the document's update time: of
two overlapping runs only one advances it, and a run that dies in between is repeated
harmlessly by the next.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from google.api_core import exceptions as gexc

from shared import logs
from shared.adapters.firestore import INTERVIEWS, interview_from_document
from shared.domain.models import InterviewStatus
from shared.domain.reminders import kind_of, plan

logger = logging.getLogger(__name__)

BATCH = 200
MAX_BATCHES = 10


@dataclass
class RunSummary:
    due: int = 0
    sent: int = 0
    skipped: int = 0
    raced: int = 0
    more_left: bool = False

    def as_dict(self) -> dict[str, Any]:
        return {"due": self.due, "reminders_queued": self.sent, "skipped": self.skipped, "raced": self.raced,
                "more_left": self.more_left}


def email_kind(offset_minutes: int) -> str:
    """The template: the day-before reminder or the short-notice one (the text says the real lead time)."""
    return "reminder_24h" if offset_minutes >= 6 * 60 else "reminder_1h"


class ReminderRun:
    def __init__(self, *, firestore_client: Any, emails: Any):
        self._db = firestore_client
        self._emails = emails  # zero-argument factory: a run with nothing due builds no Tasks client

    def run(self, now: datetime) -> dict[str, Any]:
        from google.cloud.firestore_v1.base_query import FieldFilter

        summary = RunSummary()
        query = (self._db.collection(INTERVIEWS).where(filter=FieldFilter("next_reminder_at", "<=", now))
                 .order_by("next_reminder_at").limit(BATCH))
        for _ in range(MAX_BATCHES):
            snapshots = list(query.stream())
            for snapshot in snapshots:
                self._one(snapshot, now, summary)
            if len(snapshots) < BATCH:
                break
        else:
            summary.more_left = True
        logs.log(logger, logging.INFO, "reminder run", event="reminder_run", count=summary.due)
        return summary.as_dict()

    def _one(self, snapshot: Any, now: datetime, summary: RunSummary) -> None:
        summary.due += 1
        interview = interview_from_document(snapshot.id, snapshot.to_dict() or {})
        fields: dict[str, Any]
        if interview.status is not InterviewStatus.CONFIRMED:
            fields = {"next_reminder_at": None}
            send = None
        else:
            step = plan(interview.start, interview.reminder_offsets, interview.reminders_done, now)
            send = step.send
            done = sorted({*interview.reminders_done, *step.skip, *((send,) if send is not None else ())}, reverse=True)
            fields = {"reminders.done_minutes": done, "next_reminder_at": step.next_at}
            summary.skipped += len(step.skip)
        if send is not None:
            with logs.bound(interview_id=interview.id, workspace_id=interview.workspace_id):
                self._emails().enqueue(interview, email_kind(send), now, label=kind_of(send))
        try:
            snapshot.reference.update(fields, option=self._db.write_option(last_update_time=snapshot.update_time))
        except (gexc.FailedPrecondition, gexc.NotFound):
            summary.raced += 1  # another run (or a reschedule) changed it first: its state wins
            return
        if send is not None:
            summary.sent += 1
