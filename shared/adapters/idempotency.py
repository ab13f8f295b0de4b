"""Idempotency records: a client retry with the same ``Idempotency-Key`` gets the first answer.

``idempotency/{sha256(workspace, caller, operation, key)}`` holds the request's hash, a
state (``in_progress`` → ``completed``) and, once completed, the status and body that
were answered. The record is created with ``create()`` (fails if it exists), so two
concurrent retries cannot both run the operation. Transient failures (5xx) delete the
record so the client can retry; answers that are final (2xx, 4xx) are kept.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from google.api_core import exceptions as gexc
from google.cloud import firestore

from shared.errors import BadRequest, Conflict, ConveneError, Unprocessable

IDEMPOTENCY = "idempotency"
RETENTION = timedelta(hours=24)
MAX_KEY_LENGTH = 255


@dataclass(frozen=True)
class Replay:
    status: int
    body: dict[str, Any]


def request_fingerprint(method: str, path: str, body: Any) -> str:
    return hashlib.sha256(json.dumps([method, path, body], sort_keys=True, separators=(",", ":")).encode()).hexdigest()


def record_id(workspace_id: str, caller: str, operation: str, key: str) -> str:
    return hashlib.sha256("\x1f".join((workspace_id, caller, operation, key)).encode()).hexdigest()


def key_seed(record: str) -> bytes:
    """Bytes derived from the record id, for ids that must be the same on every retry."""
    return hashlib.sha256(("seed:" + record).encode()).digest()


class IdempotencyStore:
    def __init__(self, client: firestore.Client):
        self._collection = client.collection(IDEMPOTENCY)

    def run(self, record: str, fingerprint: str, now: datetime,
            operation: Callable[[], tuple[dict[str, Any], int]]) -> tuple[dict[str, Any], int]:
        ref = self._collection.document(record)
        try:
            ref.create({"fingerprint": fingerprint, "state": "in_progress", "created_at": now, "expires_at": now + RETENTION})
        except gexc.Conflict:
            return self._replay(ref, fingerprint)
        try:
            body, status = operation()
        except ConveneError as error:
            if error.status >= 500:
                ref.delete()
            else:
                ref.update({"state": "completed", "status": error.status, "body": error.to_body(), "completed_at": now})
            raise
        except BaseException:
            ref.delete()
            raise
        ref.update({"state": "completed", "status": status, "body": body, "completed_at": now})
        return body, status

    @staticmethod
    def _replay(ref: Any, fingerprint: str) -> tuple[dict[str, Any], int]:
        snapshot = ref.get()
        data = snapshot.to_dict() or {}
        if data.get("fingerprint") != fingerprint:
            raise Unprocessable("This Idempotency-Key was already used for a different request.", code="idempotency_key_reused")
        if data.get("state") != "completed":
            raise Conflict("A request with this Idempotency-Key is still being processed; retry shortly.",
                           code="idempotency_in_progress")
        return data["body"], int(data["status"])


def validate_key(key: str | None) -> str | None:
    if key is None:
        return None
    key = key.strip()
    if not key or len(key) > MAX_KEY_LENGTH or not key.isprintable():
        raise BadRequest(f"Idempotency-Key must be 1 to {MAX_KEY_LENGTH} printable characters.", code="invalid_idempotency_key")
    return key
