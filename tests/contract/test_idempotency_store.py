"""IdempotencyStore: one run per key, its answer replayed; a 60 s lease for the running attempt.

On the fake and on Firestore: the first claim runs the operation, a retry while it runs is
``idempotency_in_progress`` (with the seconds left), a retry after the lease takes it over
(told it resumes), a completed record replays its (sealed) answer, a different request under
the same key is refused, transient failures free the key, and an attempt that lost its lease
can neither overwrite nor delete its successor's record. Time is the ``now`` each call is given.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from shared.adapters.idempotency import IN_PROGRESS_LEASE, RETENTION, IdempotencyInProgress, record_id
from shared.errors import Conflict, RateLimited, Unavailable, Unprocessable
from tests.contract.conftest import BACKENDS, backend_param
from tests.factories import NOW, OTHER_WORKSPACE, WORKSPACE
from tests.fakes import FakeIdempotencyStore

S = timedelta(seconds=1)
RECORD = record_id(WORKSPACE, "uid-hana", "create", "key-1")
FINGERPRINT = "fp-1"


class Backend:
    def __init__(self, db):
        self.db = db
        if db is None:
            self.store = FakeIdempotencyStore()
        else:
            from shared.adapters.idempotency import IdempotencyStore

            self.store = IdempotencyStore(db)

    def stored(self, record: str = RECORD) -> dict[str, Any] | None:
        """The record at rest."""
        if self.db is None:
            return self.store.records.get(record)
        snapshot = self.db.collection("idempotency").document(record).get()
        return snapshot.to_dict() if snapshot.exists else None


@pytest.fixture(params=BACKENDS)
def backend(request):
    return Backend(backend_param(request))


class Operation:
    """Records each call's ``resumed``; answers ``answer`` (or raises it), after ``during`` if given."""

    def __init__(self, answer: Any = ({"id": "iv-1"}, 201), during=None):
        self.answer = answer
        self.during = during
        self.calls: list[bool] = []

    def __call__(self, resumed: bool):
        self.calls.append(resumed)
        if self.during is not None:
            self.during()
        if isinstance(self.answer, BaseException):
            raise self.answer
        return self.answer


def run(backend, operation, now=NOW, fingerprint=FINGERPRINT, record=RECORD, **options):
    return backend.store.run(record, fingerprint, now, operation, **options)


def test_the_first_claim_runs_once_and_a_retry_replays_the_answer(backend):
    first = Operation(({"id": "iv-1", "n": [1, 2]}, 201))
    assert run(backend, first) == ({"id": "iv-1", "n": [1, 2]}, 201)
    assert first.calls == [False]
    assert backend.stored() == {
        "fingerprint": FINGERPRINT,
        "state": "completed",
        "created_at": NOW,
        "lease_expires_at": NOW + IN_PROGRESS_LEASE,
        "expires_at": NOW + RETENTION,
        "status": 201,
        "body": {"id": "iv-1", "n": [1, 2]},
        "completed_at": NOW,
    }
    retry = Operation(({"id": "other"}, 200))
    assert run(backend, retry, now=NOW + timedelta(hours=1)) == ({"id": "iv-1", "n": [1, 2]}, 201)
    assert retry.calls == []


def test_the_sealed_answer_is_kept_and_unsealed_for_a_replay(backend):
    def seal(body):
        return {k: v for k, v in body.items() if k != "secret"}

    def unseal(body):
        return body | {"secret": "fresh"}

    first = Operation(({"id": "iv-1", "secret": "original"}, 201))
    assert run(backend, first, seal=seal, unseal=unseal) == ({"id": "iv-1", "secret": "original"}, 201)
    assert backend.stored()["body"] == {"id": "iv-1"}
    assert run(backend, Operation(), seal=seal, unseal=unseal) == ({"id": "iv-1", "secret": "fresh"}, 201)


def test_a_retry_while_the_first_runs_is_told_when_to_come_back(backend):
    seen: list[IdempotencyInProgress] = []

    def retry(after: timedelta) -> None:
        with pytest.raises(IdempotencyInProgress) as raised:
            run(backend, Operation(), now=NOW + after)
        seen.append(raised.value)

    first = Operation(during=lambda: [retry(d) for d in (0 * S, 10 * S, 10.5 * S, 59.5 * S, 59 * S)])
    assert run(backend, first) == ({"id": "iv-1"}, 201)
    assert [e.retry_after for e in seen] == [60, 50, 50, 1, 1]  # whole seconds, rounded up
    assert seen[1].status == 409 and seen[1].code == "idempotency_in_progress"
    assert seen[1].headers == {"Retry-After": "50"} and seen[1].details == {"retry_after_seconds": 50}
    assert first.calls == [False]
    assert backend.stored()["state"] == "completed"


def test_an_in_progress_record_is_taken_over_once_its_lease_has_run_out(backend):
    """The first attempt died mid-operation (here: its operation never returns before the takeover)."""
    taker = Operation(({"id": "iv-1", "by": "taker"}, 201))
    answers = []
    first = Operation(({"id": "iv-1", "by": "first"}, 201), during=lambda: answers.append(run(backend, taker, now=NOW + 61 * S)))
    run(backend, first)
    assert (first.calls, taker.calls) == ([False], [True])  # the taker is told it resumes a dead attempt
    assert answers == [({"id": "iv-1", "by": "taker"}, 201)]
    stored = backend.stored()
    assert stored["resumed_at"] == NOW + 61 * S and stored["created_at"] == NOW
    assert stored["expires_at"] == NOW + 61 * S + RETENTION


def test_a_zombie_cannot_overwrite_its_successors_answer(backend):
    """The first attempt was only stalled: it finishes after the taker, its caller gets its own answer, the taker's is kept."""
    taker = Operation(({"id": "iv-1", "by": "taker"}, 201))
    first = Operation(({"id": "iv-1", "by": "zombie"}, 201), during=lambda: run(backend, taker, now=NOW + IN_PROGRESS_LEASE))
    assert run(backend, first) == ({"id": "iv-1", "by": "zombie"}, 201)
    assert backend.stored()["body"] == {"id": "iv-1", "by": "taker"}
    assert run(backend, Operation(), now=NOW + 2 * IN_PROGRESS_LEASE) == ({"id": "iv-1", "by": "taker"}, 201)


def test_a_zombie_cannot_release_its_successors_record(backend):
    taker_running = []

    def take_over():
        taker = Operation(during=lambda: taker_running.append(backend.stored()["lease_expires_at"]))
        run(backend, taker, now=NOW + IN_PROGRESS_LEASE)

    first = Operation(Unavailable("Google is down"), during=take_over)
    with pytest.raises(Unavailable):
        run(backend, first)
    assert taker_running == [NOW + 2 * IN_PROGRESS_LEASE]
    assert backend.stored()["state"] == "completed"  # the zombie's failure deleted nothing


def test_a_zombie_that_finishes_after_its_successor_released_keeps_nothing(backend):
    taker = Operation(Unavailable("Google is down"))

    def take_over():
        with pytest.raises(Unavailable):
            run(backend, taker, now=NOW + IN_PROGRESS_LEASE)

    run(backend, Operation(({"id": "zombie"}, 201), during=take_over))
    assert backend.stored() is None
    again = Operation()
    assert run(backend, again, now=NOW + 2 * IN_PROGRESS_LEASE) == ({"id": "iv-1"}, 201)
    assert again.calls == [False]


@pytest.mark.parametrize("answer", ["in_progress", "completed"])
def test_the_same_key_with_a_different_request_is_refused(backend, answer):
    def reused():
        with pytest.raises(Unprocessable) as raised:
            run(backend, other, fingerprint="fp-other", now=NOW + S)
        assert (raised.value.status, raised.value.code) == (422, "idempotency_key_reused")

    other = Operation()
    run(backend, Operation(during=reused if answer == "in_progress" else None))
    if answer == "completed":
        reused()
    assert other.calls == []
    assert (backend.stored()["fingerprint"], backend.stored()["body"]) == (FINGERPRINT, {"id": "iv-1"})


def test_a_final_refusal_is_kept_and_replayed_as_it_was(backend):
    refusal = Conflict("The host already has a confirmed interview at that time.", code="slot_taken", details={"a": 1})
    unsealed: list[dict] = []
    with pytest.raises(Conflict):
        run(backend, Operation(refusal), unseal=lambda body: unsealed.append(body) or body)
    assert backend.stored()["status"] == 409 and backend.stored()["state"] == "completed"
    retry = Operation()
    assert run(backend, retry, now=NOW + S, unseal=lambda body: unsealed.append(body) or body) == (refusal.to_body(), 409)
    assert retry.calls == [] and unsealed == []  # an error body is replayed as stored


@pytest.mark.parametrize(
    "failure",
    [
        Unavailable("Google is down"),
        RateLimited("slow down"),
        Conflict("The host must connect Google again.", code="needs_google_auth"),
        RuntimeError("a bug"),
    ],
    ids=["5xx", "429", "needs_google_auth", "not-an-answer"],
)
def test_a_transient_failure_frees_the_key_for_a_retry(backend, failure):
    with pytest.raises(type(failure)):
        run(backend, Operation(failure))
    assert backend.stored() is None
    retry = Operation()
    assert run(backend, retry, now=NOW + S) == ({"id": "iv-1"}, 201)
    assert retry.calls == [False]  # a fresh run, not a resumed one


def test_keys_are_scoped_per_workspace_caller_and_operation(backend):
    records = {
        record_id(WORKSPACE, "uid-hana", "create", "key-1"),
        record_id(OTHER_WORKSPACE, "uid-hana", "create", "key-1"),
        record_id(WORKSPACE, "uid-olga", "create", "key-1"),
        record_id(WORKSPACE, "uid-hana", "cancel:iv-1", "key-1"),
        record_id(WORKSPACE, "uid-hana", "create", "key-2"),
    }
    assert len(records) == 5
    for n, record in enumerate(sorted(records)):
        operation = Operation(({"n": n}, 201))
        assert run(backend, operation, record=record) == ({"n": n}, 201)
        assert operation.calls == [False]  # none replays another's answer
    assert [backend.stored(r)["body"] for r in sorted(records)] == [{"n": n} for n in range(5)]
