"""Cleanup: deletes only what is past its time, within the budget, and says when more is left."""

from __future__ import annotations

from datetime import timedelta

import pytest

from shared.domain.connections import GOOGLE, OAuthState, SealedSecret
from shared.ports import OutboxEmail
from tests.contract.conftest import BACKENDS, backend_param
from tests.factories import NOW, WORKSPACE
from tests.fakes import FakeCleanup, FakeOAuthStateRepository, FakeOutbox

M = timedelta(minutes=1)


class Backend:
    def __init__(self, db):
        self.db = db
        if db is None:
            self.states, self.outbox = FakeOAuthStateRepository(), FakeOutbox()
            self.cleanup = FakeCleanup(self.states, self.outbox)
        else:
            from shared.adapters.connections import OAuthStateRepository
            from shared.adapters.maintenance_queries import FirestoreCleanup
            from shared.adapters.outbox import FirestoreOutbox

            self.states, self.outbox, self.cleanup = OAuthStateRepository(db), FirestoreOutbox(db), FirestoreCleanup(db)

    def idempotency_record(self, record: str, expires_at):
        if self.db is None:
            self.cleanup.idempotency[record] = expires_at
        else:
            self.db.collection("idempotency").document(record).set({"expires_at": expires_at, "status": "completed"})

    def idempotency_left(self) -> set[str]:
        if self.db is None:
            return set(self.cleanup.idempotency)
        return {d.id for d in self.db.collection("idempotency").stream()}


@pytest.fixture(params=BACKENDS)
def backend(request):
    return Backend(backend_param(request))


def test_expired_oauth_states_within_the_budget(backend):
    for n in range(5):
        backend.states.add(
            OAuthState(f"s{n}", "u", WORKSPACE, GOOGLE, None, SealedSecret("dg==", "1"), None, NOW, NOW + (n - 3) * M)
        )
    assert backend.cleanup.expired_oauth_states(NOW, budget=2, batch=1) == (2, True)
    assert backend.cleanup.expired_oauth_states(NOW, budget=10, batch=500) == (1, False)
    assert backend.cleanup.expired_oauth_states(NOW, budget=10, batch=500) == (0, False)
    assert {s for s in ("s0", "s1", "s2", "s3", "s4") if backend.states.get(s)} == {"s3", "s4"}


def test_expired_idempotency_records(backend):
    backend.idempotency_record("old", NOW - M)
    backend.idempotency_record("live", NOW + M)
    assert backend.cleanup.expired_idempotency(NOW, budget=10, batch=500) == (1, False)
    assert backend.idempotency_left() == {"live"}


def test_finished_emails_older_than_the_cutoff_only(backend):
    def email(n, status, updated):
        item = OutboxEmail(f"e{n}", "invitation", "host", "h@x.example", WORKSPACE, "iv-1", 0)
        backend.outbox.add(item, updated)
        if status != "queued":
            backend.outbox.claim(item.id, updated, updated + M)
            backend.outbox.finish(item.id, {"status": status}, updated)

    email(1, "sent", NOW - 60 * M)
    email(2, "failed", NOW - 60 * M)
    email(3, "skipped", NOW - 60 * M)
    email(4, "queued", NOW - 60 * M)
    email(5, "sent", NOW)
    assert backend.cleanup.finished_emails(NOW - 30 * M, budget=3, batch=2) == (3, True)
    assert backend.cleanup.finished_emails(NOW - 30 * M, budget=3, batch=2) == (0, False)
    assert [n for n in range(1, 6) if backend.outbox.get(f"e{n}")] == [4, 5]
