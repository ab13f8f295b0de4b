"""Firestore storage of the outbox: ``outbox/{email_id}``, one document per email.

What admins read in the console: ``queued`` → ``sending`` → ``sent`` | ``failed`` |
``skipped``, attempts, SendGrid message id, last error. The id is the Cloud Tasks task's
name too, so queueing the same email twice writes nothing new. The only module that writes
the collection (emails about interviews and notices to hosts alike).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from shared.ports import FINAL_EMAIL_STATES, ClaimedEmail, DoesNotExist, LeaseHeld, OutboxEmail

OUTBOX = "outbox"
MAX_BATCH_WRITES = 500  # Firestore's limit of writes in one batch


def outbox_document(email: OutboxEmail, now: datetime) -> dict[str, Any]:
    """The queued document: an interview's email names the interview; a notice carries its recipient and link."""
    if email.interview_id is not None:
        about: dict[str, Any] = {
            "interview_id": email.interview_id,
            "workspace_id": email.workspace_id,
            "kind": email.kind,
            "audience": email.audience,
            "sequence": email.sequence,
            "to_email": email.to_email,
        }
    else:
        about = {
            "kind": email.kind,
            "audience": email.audience,
            "uid": email.uid,
            "workspace_id": email.workspace_id,
            "to_email": email.to_email,
            "to_name": email.to_name,
            "reconnect_url": email.reconnect_url,
        }
    return {**about, "status": "queued", "attempts": 0, "created_at": now, "updated_at": now}


class FirestoreOutbox:
    def __init__(self, client: Any):
        self._client = client
        self._collection = client.collection(OUTBOX)

    def add(self, email: OutboxEmail, now: datetime) -> bool:
        from google.api_core import exceptions as gexc

        try:
            self._collection.document(email.id).create(outbox_document(email, now))
        except gexc.Conflict:
            return False
        return True

    def add_many(self, emails: Sequence[OutboxEmail], now: datetime) -> None:
        """Every document in one batch write per 500 (a retried call, whose documents exist
        already, falls back to creating each missing one)."""
        from google.api_core import exceptions as gexc

        for chunk in (emails[i : i + MAX_BATCH_WRITES] for i in range(0, len(emails), MAX_BATCH_WRITES)):
            batch = self._client.batch()
            for email in chunk:
                batch.create(self._collection.document(email.id), outbox_document(email, now))
            try:
                batch.commit()
            except gexc.Conflict:
                for email in chunk:
                    self.add(email, now)  # one queued before: its task is refused as a duplicate too

    def get(self, email_id: str) -> dict[str, Any] | None:
        snapshot = self._collection.document(email_id).get()
        return (snapshot.to_dict() or {}) if snapshot.exists else None

    def claim(self, email_id: str, now: datetime, lease_until: datetime) -> ClaimedEmail | None:
        from google.cloud import firestore

        ref = self._collection.document(email_id)

        @firestore.transactional
        def claim(transaction: Any) -> ClaimedEmail | None:
            snapshot = ref.get(transaction=transaction)
            if not snapshot.exists:
                return None
            record = snapshot.to_dict() or {}
            if record.get("status") in FINAL_EMAIL_STATES:
                return ClaimedEmail(record, False)
            lease = record.get("lease_until")
            if record.get("status") == "sending" and lease is not None and lease > now:
                raise LeaseHeld(email_id)
            transaction.update(
                ref, {"status": "sending", "lease_until": lease_until, "attempts": firestore.Increment(1), "updated_at": now}
            )
            return ClaimedEmail(record, True)

        return claim(self._client.transaction())

    def release(self, email_id: str, code: str, message: str, now: datetime) -> None:
        from google.cloud import firestore

        self._update(
            email_id,
            {
                "status": "queued",
                "lease_until": firestore.DELETE_FIELD,
                "updated_at": now,
                "last_error": {"code": code, "message": message[:300], "at": now},
            },
        )

    def finish(self, email_id: str, fields: Mapping[str, Any], now: datetime) -> None:
        from google.cloud import firestore

        self._update(email_id, {**fields, "lease_until": firestore.DELETE_FIELD, "updated_at": now})

    def _update(self, email_id: str, fields: Mapping[str, Any]) -> None:
        from google.api_core import exceptions

        try:
            self._collection.document(email_id).update(dict(fields))
        except exceptions.NotFound:
            raise DoesNotExist(f"outbox/{email_id}") from None
