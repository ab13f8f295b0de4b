"""Firestore queries over ``interviews`` for the scheduled runs and the analytics.

- ``FirestoreDueReminders`` (the reminder run): ``next_reminder_at <= now`` ordered by it —
  the single-field index; the new state is written under a precondition on the update time
  the document was read at, so of two overlapping runs only one advances it.
- ``FirestoreEndedMeetings`` (the attendance run): composite index
  ``interviews`` (status ASC, type ASC, end ASC).
- ``FirestoreInterviewStats`` (analytics): aggregation queries, billed per batch of index
  entries and downloading no document; composite indexes workspace_id, [host.uid], status,
  start — and the same followed by actual_duration_minutes.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from shared.adapters.firestore import INTERVIEWS, interview_from_document
from shared.domain.models import Interview, InterviewStatus, InterviewType
from shared.ports import DueInterview, ReminderState

DURATION_FIELD = "actual_duration_minutes"


class FirestoreDueReminders:
    def __init__(self, client: Any):
        self._client = client
        self._collection = client.collection(INTERVIEWS)

    def due(self, now: datetime, limit: int) -> list[DueInterview]:
        from google.cloud.firestore_v1.base_query import FieldFilter

        query = (
            self._collection.where(filter=FieldFilter("next_reminder_at", "<=", now)).order_by("next_reminder_at").limit(limit)
        )
        return [
            DueInterview(interview_from_document(s.id, s.to_dict() or {}), (s.reference, s.update_time)) for s in query.stream()
        ]

    def advance(self, updates: Sequence[tuple[DueInterview, ReminderState]]) -> list[int]:
        """One batch under the preconditions; when one fails (a concurrent run or a reschedule)
        the batch writes nothing, and each is then written on its own."""
        from google.api_core import exceptions as gexc

        def write(item: tuple[DueInterview, ReminderState]) -> tuple[Any, dict[str, Any], Any]:
            due, state = item
            reference, update_time = due.version
            fields: dict[str, Any] = {"next_reminder_at": state.next_at}
            if state.done is not None:
                fields = {"reminders.done_minutes": list(state.done), **fields}
            return reference, fields, self._client.write_option(last_update_time=update_time)

        if not updates:
            return []
        batch = self._client.batch()
        for item in updates:
            reference, fields, option = write(item)
            batch.update(reference, fields, option=option)
        try:
            batch.commit()
            return []
        except (gexc.FailedPrecondition, gexc.NotFound):
            pass
        lost = []
        for index, item in enumerate(updates):
            reference, fields, option = write(item)
            try:
                reference.update(fields, option=option)
            except (gexc.FailedPrecondition, gexc.NotFound):
                lost.append(index)
        return lost


class FirestoreEndedMeetings:
    def __init__(self, client: Any):
        self._collection = client.collection(INTERVIEWS)

    def ended(self, *, closed_before: datetime, not_before: datetime, limit: int) -> list[Interview]:
        from google.cloud.firestore_v1.base_query import FieldFilter

        query = (
            self._collection.where(filter=FieldFilter("status", "==", InterviewStatus.CONFIRMED.value))
            .where(filter=FieldFilter("type", "==", InterviewType.GOOGLE_MEET.value))
            .where(filter=FieldFilter("end", "<", closed_before))
            .where(filter=FieldFilter("end", ">=", not_before))
            .order_by("end")
            .limit(limit)
        )
        return [interview_from_document(s.id, s.to_dict() or {}) for s in query.stream()]


class FirestoreInterviewStats:
    def __init__(self, client: Any):
        self._collection = client.collection(INTERVIEWS)

    def _base(self, workspace_id: str, host_uid: str | None, since: datetime, until: datetime) -> Any:
        from google.cloud.firestore_v1.base_query import FieldFilter

        base = self._collection.where(filter=FieldFilter("workspace_id", "==", workspace_id))
        if host_uid:
            base = base.where(filter=FieldFilter("host.uid", "==", host_uid))
        return base.where(filter=FieldFilter("start", ">=", since)).where(filter=FieldFilter("start", "<", until))

    @staticmethod
    def _status(query: Any, status: InterviewStatus) -> Any:
        from google.cloud.firestore_v1.base_query import FieldFilter

        return query.where(filter=FieldFilter("status", "==", status.value))

    def count_by_status(
        self, *, workspace_id: str, host_uid: str | None, since: datetime, until: datetime
    ) -> dict[InterviewStatus, int]:
        base = self._base(workspace_id, host_uid, since, until)
        return {s: int(_aggregate(self._status(base, s).count(alias="n"))["n"]) for s in InterviewStatus}

    def average_duration(self, *, workspace_id: str, host_uid: str | None, since: datetime, until: datetime) -> float | None:
        completed = self._status(self._base(workspace_id, host_uid, since, until), InterviewStatus.COMPLETED)
        # An average over no value is null in Firestore but 0 in its emulator, which then counts 0 in
        # the same query (it counts only the documents that hold the averaged field): both mean "none".
        timed = _aggregate(completed.count(alias="n").avg(DURATION_FIELD, alias="average"))
        return float(timed["average"]) if timed["n"] and timed["average"] is not None else None


def _aggregate(aggregation: Any) -> dict[str, Any]:
    """The one result row of an aggregation query, by alias."""
    return {result.alias: result.value for row in aggregation.get() for result in row}
