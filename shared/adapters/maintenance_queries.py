"""Firestore for the maintenance run: deleting what is past its time, and where a job stopped.

- ``FirestoreCleanup``: expired OAuth states and idempotency records (``expires_at``, the
  field their TTL policies delete on too), and outbox documents in a final state older than
  the retention period — composite index ``outbox`` (status, updated_at). Deleted in
  batches by queries that read only what they delete (no field is downloaded).
- ``FirestoreJobCursors``: ``maintenance/{job}``, where a job stopped, for the next run.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from shared.adapters.connections import OAUTH_STATES
from shared.adapters.idempotency import IDEMPOTENCY
from shared.adapters.outbox import OUTBOX
from shared.ports import FINAL_EMAIL_STATES

STATE = "maintenance"


class FirestoreCleanup:
    def __init__(self, client: Any):
        self._client = client

    def expired_oauth_states(self, now: datetime, *, budget: int, batch: int) -> tuple[int, bool]:
        from google.cloud.firestore_v1.base_query import FieldFilter

        query = self._client.collection(OAUTH_STATES).where(filter=FieldFilter("expires_at", "<", now))
        return self._delete_matching(query, budget, batch)

    def expired_idempotency(self, now: datetime, *, budget: int, batch: int) -> tuple[int, bool]:
        from google.cloud.firestore_v1.base_query import FieldFilter

        query = self._client.collection(IDEMPOTENCY).where(filter=FieldFilter("expires_at", "<", now))
        return self._delete_matching(query, budget, batch)

    def finished_emails(self, updated_before: datetime, *, budget: int, batch: int) -> tuple[int, bool]:
        from google.cloud.firestore_v1.base_query import FieldFilter

        query = (
            self._client.collection(OUTBOX)
            .where(filter=FieldFilter("status", "in", list(FINAL_EMAIL_STATES)))
            .where(filter=FieldFilter("updated_at", "<", updated_before))
        )
        return self._delete_matching(query, budget, batch)

    def _delete_matching(self, query: Any, budget: int, batch_size: int) -> tuple[int, bool]:
        """Delete what the query matches, one batch at a time, up to the budget; (deleted, budget used up)."""
        deleted = 0
        while deleted < budget:
            size = min(batch_size, budget - deleted)
            refs = [snapshot.reference for snapshot in query.select([]).limit(size).stream()]
            if refs:
                batch = self._client.batch()
                for ref in refs:
                    batch.delete(ref)
                batch.commit()
                deleted += len(refs)
            if len(refs) < size:
                return deleted, False
        return deleted, True


class FirestoreJobCursors:
    def __init__(self, client: Any):
        self._collection = client.collection(STATE)

    def get(self, job: str) -> str | None:
        after = (self._collection.document(job).get().to_dict() or {}).get("after")
        return str(after) if after else None

    def set(self, job: str, after: str | None) -> None:
        self._collection.document(job).set({"after": after})
