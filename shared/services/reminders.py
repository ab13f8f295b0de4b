"""The scheduled reminder run (SPEC §2.4): queue the reminders that are due, exactly once.

It reads only interviews whose ``next_reminder_at`` has come (one query on that field):
the cost grows with what is due, not with what is stored. For each, the emails are queued
first under deterministic names (a duplicate is refused by the outbox and by Cloud Tasks),
then the reminder state is advanced with a precondition on the document's update time: of
two overlapping runs only one advances it, and a run that dies in between is repeated
harmlessly by the next.

Due interviews are independent of each other, so a batch is worked on by a few threads
(each interview's steps stay in order: queue, then advance): a run's time is then close to
its query's, not to the sum of every interview's round trips.
"""

from __future__ import annotations

import contextvars
import logging
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
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
WORKERS = 8  # concurrent interviews in a batch (I/O-bound round trips); within the Tasks client's HTTP pool of 10


@dataclass
class RunSummary:
    due: int = 0
    sent: int = 0
    skipped: int = 0
    raced: int = 0
    more_left: bool = False
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    def add(self, **counts: int) -> None:
        with self._lock:
            for name, n in counts.items():
                setattr(self, name, getattr(self, name) + n)

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
        with ThreadPoolExecutor(max_workers=WORKERS, thread_name_prefix="reminders") as pool:
            for _ in range(MAX_BATCHES):
                snapshots = list(query.stream())
                # Each task runs in a copy of this context, so its log lines keep the request's trace.
                futures = [pool.submit(contextvars.copy_context().run, self._one, s, now, summary) for s in snapshots]
                for future in futures:
                    future.result()  # an unexpected error fails the run (the scheduler retries it)
                if len(snapshots) < BATCH:
                    break
            else:
                summary.more_left = True
        logs.log(logger, logging.INFO, "reminder run", event="reminder_run", count=summary.due)
        return summary.as_dict()

    def _one(self, snapshot: Any, now: datetime, summary: RunSummary) -> None:
        summary.add(due=1)
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
            summary.add(skipped=len(step.skip))
        if send is not None:
            with logs.bound(interview_id=interview.id, workspace_id=interview.workspace_id):
                self._emails().enqueue(interview, email_kind(send), now, label=kind_of(send))
        try:
            snapshot.reference.update(fields, option=self._db.write_option(last_update_time=snapshot.update_time))
        except (gexc.FailedPrecondition, gexc.NotFound):
            summary.add(raced=1)  # another run (or a reschedule) changed it first: its state wins
            return
        if send is not None:
            summary.add(sent=1)
