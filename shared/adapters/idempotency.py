"""Idempotency records: a client retry with the same ``Idempotency-Key`` gets the first answer.

``idempotency/{sha256(workspace, caller, operation, key)}`` holds the request's hash, a
state (``in_progress`` → ``completed``) and, once completed, the status and body that
were answered. The record is created with ``create()`` (fails if it exists), so two
concurrent retries cannot both run the operation.

- An ``in_progress`` record is a lease of ``IN_PROGRESS_LEASE`` (the interviews function's
  timeout, 60 s): while it runs, a retry is answered 409 ``idempotency_in_progress`` with the
  seconds left. An instance that dies mid-operation (OOM, killed worker) cannot clean up, so
  once the lease has run out the next retry takes the record over (a write conditioned on the
  record's update time: one taker) and runs the operation again, told that it resumes. The
  operations are written for that: ids derived from the key, Calendar inserts that find their
  event, emails queued under deterministic names.
- Every later write of an attempt is conditioned on its own last write, so an attempt that
  lost its lease (a zombie still running) can neither overwrite nor delete its successor's.
- Transient failures (5xx, 429) and ``needs_google_auth`` (fixed by the host's consent, not by
  the request) delete the record so the client can retry; other answers (2xx, 4xx) are kept
  for ``RETENTION``.
- What is kept is the caller's ``seal`` of the answer: no usable credential (a guest link's
  token) is stored in Firestore; ``unseal`` rebuilds it for a replay.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from google.api_core import exceptions as gexc
from google.cloud import firestore

from shared.errors import BadRequest, Conflict, ConveneError, Unprocessable

IDEMPOTENCY = "idempotency"
RETENTION = timedelta(hours=24)
IN_PROGRESS_LEASE = timedelta(seconds=60)  # = the interviews function's timeout (infra/locals.tf)
MAX_KEY_LENGTH = 255
RETRYABLE_CODES = frozenset({"needs_google_auth"})
CLAIM_ATTEMPTS = 3

Body = dict[str, Any]
Operation = Callable[[bool], "tuple[Body, int]"]  # called with resumed: True when taking over an abandoned attempt


class IdempotencyInProgress(Conflict):
    """The first request with this key is still running (its lease is live): retry after ``retry_after`` seconds."""

    code = "idempotency_in_progress"

    def __init__(self, retry_after: int):
        super().__init__(
            f"A request with this Idempotency-Key is still being processed; retry in {retry_after} s.",
            details={"retry_after_seconds": retry_after},
        )
        self.retry_after = retry_after
        self.headers = {"Retry-After": str(retry_after)}


@dataclass(frozen=True)
class _Claim:
    """This attempt's hold on the record: its last write time (the precondition of its next write)."""

    update_time: Any
    resumed: bool


@dataclass(frozen=True)
class _Replay:
    body: Body
    status: int


def request_fingerprint(method: str, path: str, body: Any) -> str:
    try:
        text = json.dumps([method, path, body], sort_keys=True, separators=(",", ":"))
    except RecursionError:
        raise BadRequest("The request body is nested too deeply.", code="invalid_json") from None
    return hashlib.sha256(text.encode()).hexdigest()  # ASCII: json.dumps escapes the rest


def record_id(workspace_id: str, caller: str, operation: str, key: str) -> str:
    return hashlib.sha256(f"{workspace_id}\x1f{caller}\x1f{operation}\x1f{key}".encode()).hexdigest()


def key_seed(record: str) -> bytes:
    """Bytes derived from the record id, for ids that must be the same on every retry."""
    return hashlib.sha256(("seed:" + record).encode()).digest()


def _same(body: Body) -> Body:
    return body


class IdempotencyStore:
    def __init__(self, client: firestore.Client):
        self._client = client
        self._collection = client.collection(IDEMPOTENCY)

    def run(
        self,
        record: str,
        fingerprint: str,
        now: datetime,
        operation: Operation,
        *,
        seal: Callable[[Body], Body] = _same,
        unseal: Callable[[Body], Body] = _same,
    ) -> tuple[Body, int]:
        ref = self._collection.document(record)
        claim = self._claim(ref, fingerprint, now)
        if isinstance(claim, _Replay):
            return (unseal(claim.body) if 200 <= claim.status < 300 else claim.body), claim.status
        try:
            body, status = operation(claim.resumed)
        except ConveneError as error:
            if error.status >= 500 or error.status == 429 or error.code in RETRYABLE_CODES:
                self._release(ref, claim)
            else:
                self._complete(ref, claim, {"status": error.status, "body": error.to_body(), "completed_at": now})
            raise
        except BaseException:
            self._release(ref, claim)
            raise
        self._complete(ref, claim, {"status": status, "body": seal(body), "completed_at": now})
        return body, status

    def _claim(self, ref: Any, fingerprint: str, now: datetime) -> _Claim | _Replay:
        """Create the record, or replay it, or refuse while its lease is live, or take it over once it is not."""
        for _ in range(CLAIM_ATTEMPTS):
            try:
                written = ref.create(
                    {
                        "fingerprint": fingerprint,
                        "state": "in_progress",
                        "created_at": now,
                        "lease_expires_at": now + IN_PROGRESS_LEASE,
                        "expires_at": now + RETENTION,
                    }
                )
                return _Claim(written.update_time, resumed=False)
            except gexc.Conflict:
                pass
            snapshot = ref.get()
            if not snapshot.exists:
                continue  # released between our create and our read: create again
            data = snapshot.to_dict() or {}
            if data.get("fingerprint") != fingerprint:
                raise Unprocessable(
                    "This Idempotency-Key was already used for a different request.", code="idempotency_key_reused"
                )
            if data.get("state") == "completed":
                return _Replay(data["body"], int(data["status"]))
            lease_ends = data.get("lease_expires_at") or data.get("created_at", now) + IN_PROGRESS_LEASE
            if now < lease_ends:
                raise IdempotencyInProgress(max(1, math.ceil((lease_ends - now).total_seconds())))
            try:  # the attempt that held the lease died: take over (only one taker wins the precondition)
                written = ref.update(
                    {"lease_expires_at": now + IN_PROGRESS_LEASE, "resumed_at": now, "expires_at": now + RETENTION},
                    option=self._client.write_option(last_update_time=snapshot.update_time),
                )
                return _Claim(written.update_time, resumed=True)
            except (gexc.FailedPrecondition, gexc.NotFound):
                continue  # another retry took it over, finished or released it: look again
        raise IdempotencyInProgress(math.ceil(IN_PROGRESS_LEASE.total_seconds()))

    def _complete(self, ref: Any, claim: _Claim, answer: dict[str, Any]) -> None:
        try:
            ref.update({"state": "completed", **answer}, option=self._client.write_option(last_update_time=claim.update_time))
        except (gexc.FailedPrecondition, gexc.NotFound):
            pass  # our lease ran out and a retry took the record over: its answer is the one kept

    def _release(self, ref: Any, claim: _Claim) -> None:
        try:
            ref.delete(option=self._client.write_option(last_update_time=claim.update_time))
        except (gexc.FailedPrecondition, gexc.NotFound):
            pass


def validate_key(key: str | None) -> str | None:
    if key is None:
        return None
    key = key.strip()
    if not key or len(key) > MAX_KEY_LENGTH or not key.isprintable():
        raise BadRequest(f"Idempotency-Key must be 1 to {MAX_KEY_LENGTH} printable characters.", code="invalid_idempotency_key")
    return key
