"""Idempotency-Key on the interviews function (issue 9, items 5 and 7), through HTTP with the
emulator, the sandbox's Calendar and Cloud Tasks, and the email worker in its own process.

- No usable credential at rest: the stored answer holds no guest link; a replay signs one
  afresh, and it works on the join function.
- A request whose instance died leaves an ``in_progress`` record: while its lease (60 s) is
  live a retry is 409 ``idempotency_in_progress`` with ``Retry-After``; after it, the next
  retry takes over and finishes the work with one Calendar event and one email per party,
  and the dead attempt (if it was only stalled) cannot overwrite the answer kept."""

from __future__ import annotations

import threading
import uuid
from datetime import timedelta
from typing import Any

import pytest

from shared.adapters.idempotency import IN_PROGRESS_LEASE, record_id, request_fingerprint
from shared.domain.connections import GOOGLE
from tests.factories import HOST, WORKSPACE
from tests.integration.test_interviews_api import (  # noqa: F401 — fixtures
    _settle,
    clock,
    create_body,
    events_of,
    google_email,
    host_token,
    mails_for,
)

pytestmark = pytest.mark.usefixtures("container", "worker_server")

LEASE_SECONDS = int(IN_PROGRESS_LEASE.total_seconds())


def key() -> dict[str, str]:
    return {"Idempotency-Key": "k-" + uuid.uuid4().hex}


def stored_records(db) -> list[dict[str, Any]]:
    return [d.to_dict() for d in db.collection("idempotency").stream()]


class Stall:
    """Wraps a port so that its first call to ``method`` hangs until released: an instance
    that stops there (killed, out of memory) as far as everyone else can tell."""

    def __init__(self, inner: Any, method: str):
        self._inner, self._method = inner, method
        self.reached, self.release = threading.Event(), threading.Event()
        self._calls = 0

    def __getattr__(self, name: str) -> Any:
        attribute = getattr(self._inner, name)
        if name != self._method:
            return attribute

        def stalled(*args: Any, **kwargs: Any) -> Any:
            self._calls += 1
            if self._calls == 1:
                self.reached.set()
                self.release.wait(60)
            return attribute(*args, **kwargs)

        return stalled


def in_background(call) -> tuple[threading.Thread, list]:
    result: list = []
    thread = threading.Thread(target=lambda: result.append(call()), daemon=True)
    thread.start()
    return thread, result


def assert_busy(reply) -> None:
    assert (reply.status, reply.json["error"]["code"]) == (409, "idempotency_in_progress"), reply.json
    retry_after = int(reply.headers["Retry-After"])
    assert 1 <= retry_after <= LEASE_SECONDS and reply.json["error"]["details"]["retry_after_seconds"] == retry_after


# --- item 5: no guest link at rest ------------------------------------------------------------


def test_no_guest_link_is_stored_and_a_replay_signs_a_working_one(interviews_api, join_api, sandbox, host_token, clock, db):
    create_key, confirm_key = key(), key()
    body = create_body(clock, booking="request")
    first = interviews_api.post("/interviews", token=host_token, json=body, headers=create_key)
    assert first.status == 201 and "#token=cvg1." in first.json["portal_join_url"]
    iid = first.json["interview_id"]
    confirmed = interviews_api.post(f"/interviews/{iid}/confirm", token=host_token, headers=confirm_key)
    assert confirmed.status == 200

    records = stored_records(db)
    assert len(records) == 2 and {r["state"] for r in records} == {"completed"}
    assert "cvg1" not in repr(records) and "token=" not in repr(records)  # every field, nested ones too

    replays = (
        interviews_api.post("/interviews", token=host_token, json=body, headers=create_key),
        interviews_api.post(f"/interviews/{iid}/confirm", token=host_token, headers=confirm_key),
    )
    for replayed, original in zip(replays, (first, confirmed)):
        assert replayed.status == original.status
        assert {k: v for k, v in replayed.json.items() if k != "portal_join_url"} == {
            k: v for k, v in original.json.items() if k != "portal_join_url"
        }
        token = replayed.json["portal_join_url"].split("#token=", 1)[1]
        assert token.startswith("cvg1.")
        joined = join_api.get(f"/interviews/{iid}", token=token)
        assert joined.status == 200 and joined.json["interview_id"] == iid
    assert "cvg1" not in repr(stored_records(db))


# --- item 7: a dead attempt's lease ----------------------------------------------------------


def test_a_stalled_create_holds_its_key_for_the_lease_then_a_retry_finishes_it(
    interviews_api, sandbox, host_token, google_email, clock, container, db, monkeypatch
):
    """The first attempt stops after inserting the Calendar event (before queueing the emails)."""
    stall = Stall(container.email_queue, "enqueue")
    monkeypatch.setattr(container, "email_queue", stall)
    body, headers = create_body(clock), key()
    first, first_reply = in_background(lambda: interviews_api.post("/interviews", token=host_token, json=body, headers=headers))
    assert stall.reached.wait(20)
    assert len(events_of(sandbox, google_email)) == 1

    assert_busy(interviews_api.post("/interviews", token=host_token, json=body, headers=headers))
    clock.advance(IN_PROGRESS_LEASE - timedelta(seconds=1))
    busy = interviews_api.post("/interviews", token=host_token, json=body, headers=headers)
    assert_busy(busy)
    assert busy.headers["Retry-After"] == "1"

    clock.advance(timedelta(seconds=1))
    retried = interviews_api.post("/interviews", token=host_token, json=body, headers=headers)
    assert retried.status == 201, retried.json
    events = events_of(sandbox, google_email)
    assert [e["id"] for e in events] == [retried.json["interview_id"]]  # the dead attempt's event, found again
    assert retried.json["meeting_link"] == events[0]["hangoutLink"]
    assert retried.json["emails_sent"] == {"candidate": "queued", "recruiter": "queued"}

    clock.advance(timedelta(seconds=1))
    stall.release.set()  # the stalled attempt wakes up late (a zombie): it finishes but keeps nothing
    first.join(30)
    assert first_reply[0].status == 201 and first_reply[0].json["interview_id"] == retried.json["interview_id"]
    replay = interviews_api.post("/interviews", token=host_token, json=body, headers=headers)
    assert replay.status == 201 and replay.json["updated_at"] == retried.json["updated_at"]
    assert len(events_of(sandbox, google_email)) == 1 and len(list(db.collection("interviews").stream())) == 1
    assert sandbox.drain_tasks(timeout=15)
    assert len(mails_for(sandbox, retried.json["interview_id"])) == 2  # one per party


def test_a_confirm_that_died_after_its_transaction_is_finished_by_the_retry(
    interviews_api, sandbox, host_token, google_email, clock, container, monkeypatch
):
    """The dead confirm committed pending → confirmed but made no Calendar event: the retry
    must publish (not answer 422 confirmed → confirmed), and the zombie finds the same event."""
    iid = interviews_api.post("/interviews", token=host_token, json=create_body(clock, booking="request")).json["interview_id"]
    stall = Stall(container.calendar_events, "insert")
    monkeypatch.setattr(container, "calendar_events", stall)
    headers = key()
    first, first_reply = in_background(
        lambda: interviews_api.post(f"/interviews/{iid}/confirm", token=host_token, headers=headers)
    )
    assert stall.reached.wait(20)
    assert interviews_api.get(f"/interviews/{iid}", token=host_token).json["status"] == "confirmed"
    assert events_of(sandbox, google_email) == []
    assert_busy(interviews_api.post(f"/interviews/{iid}/confirm", token=host_token, headers=headers))

    clock.advance(IN_PROGRESS_LEASE)
    retried = interviews_api.post(f"/interviews/{iid}/confirm", token=host_token, headers=headers)
    assert retried.status == 200, retried.json
    assert [e["id"] for e in events_of(sandbox, google_email)] == [iid]
    assert retried.json["calendar_event_id"] == iid and retried.json["meeting_link"].startswith("https://meet.google.com/")

    stall.release.set()
    first.join(30)
    assert first_reply[0].status == 200
    assert len(events_of(sandbox, google_email)) == 1
    assert sandbox.drain_tasks(timeout=15)
    assert len(mails_for(sandbox, iid)) == 2


def test_a_cancel_that_died_after_its_transaction_is_finished_by_the_retry(
    interviews_api, sandbox, host_token, google_email, clock, container, monkeypatch
):
    iid = interviews_api.post("/interviews", token=host_token, json=create_body(clock)).json["interview_id"]
    assert sandbox.drain_tasks(timeout=15)
    stall = Stall(container.email_queue, "enqueue")
    monkeypatch.setattr(container, "email_queue", stall)
    headers = key()
    first, _ = in_background(lambda: interviews_api.post(f"/interviews/{iid}/cancel", token=host_token, json={}, headers=headers))
    assert stall.reached.wait(20)
    assert_busy(interviews_api.post(f"/interviews/{iid}/cancel", token=host_token, json={}, headers=headers))
    clock.advance(IN_PROGRESS_LEASE)
    retried = interviews_api.post(f"/interviews/{iid}/cancel", token=host_token, json={}, headers=headers)
    assert retried.status == 200 and retried.json["status"] == "cancelled", retried.json
    assert retried.json["emails_sent"] == {"candidate": "queued", "recruiter": "queued"}
    stall.release.set()
    first.join(30)
    assert sandbox.drain_tasks(timeout=15)
    kinds = sorted(m["body"]["custom_args"]["email_id"].split("-")[1] for m in mails_for(sandbox, iid))
    assert kinds == ["cancellation", "cancellation", "invitation", "invitation"]


def test_an_in_progress_record_of_a_dead_instance_expires_after_the_lease(
    interviews_api, sandbox, host_token, google_email, clock, db
):
    """The record as an instance killed right after claiming it leaves it (nothing else done)."""
    body, headers = create_body(clock), key()
    record = record_id(WORKSPACE, HOST.uid, "create", headers["Idempotency-Key"])
    claimed = clock.now() - IN_PROGRESS_LEASE + timedelta(seconds=20)
    db.collection("idempotency").document(record).create(
        {
            "fingerprint": request_fingerprint("POST", "/interviews", body),
            "state": "in_progress",
            "created_at": claimed,
            "lease_expires_at": claimed + IN_PROGRESS_LEASE,
            "expires_at": claimed + timedelta(hours=24),
        }
    )
    busy = interviews_api.post("/interviews", token=host_token, json=body, headers=headers)
    assert_busy(busy)
    assert busy.headers["Retry-After"] == "20"
    clock.advance(timedelta(seconds=20))
    created = interviews_api.post("/interviews", token=host_token, json=body, headers=headers)
    assert created.status == 201, created.json
    assert [e["id"] for e in events_of(sandbox, google_email)] == [created.json["interview_id"]]
    assert interviews_api.post("/interviews", token=host_token, json=body, headers=headers).json == created.json


def test_a_record_without_a_lease_field_counts_from_its_creation(interviews_api, sandbox, host_token, google_email, clock, db):
    """Records written before the lease existed: stuck for 24 h then, now free after the lease."""
    body, headers = create_body(clock), key()
    record = record_id(WORKSPACE, HOST.uid, "create", headers["Idempotency-Key"])
    db.collection("idempotency").document(record).create(
        {
            "fingerprint": request_fingerprint("POST", "/interviews", body),
            "state": "in_progress",
            "created_at": clock.now() - timedelta(minutes=5),
            "expires_at": clock.now() + timedelta(hours=23),
        }
    )
    created = interviews_api.post("/interviews", token=host_token, json=body, headers=headers)
    assert created.status == 201, created.json
    assert len(events_of(sandbox, google_email)) == 1


def test_a_live_lease_on_cancel_says_when_to_retry(interviews_api, host_token, clock, db):
    iid = interviews_api.post("/interviews", token=host_token, json=create_body(clock, booking="request")).json["interview_id"]
    headers = key()
    record = record_id(WORKSPACE, HOST.uid, f"cancel:{iid}", headers["Idempotency-Key"])
    db.collection("idempotency").document(record).create(
        {
            "fingerprint": request_fingerprint("POST", f"/interviews/{iid}/cancel", {}),
            "state": "in_progress",
            "created_at": clock.now(),
            "lease_expires_at": clock.now() + IN_PROGRESS_LEASE,
            "expires_at": clock.now() + timedelta(hours=24),
        }
    )
    busy = interviews_api.post(f"/interviews/{iid}/cancel", token=host_token, json={}, headers=headers)
    assert_busy(busy)
    assert busy.headers["Retry-After"] == str(LEASE_SECONDS)
    assert interviews_api.get(f"/interviews/{iid}", token=host_token).json["status"] == "pending"


def test_needs_google_auth_is_not_kept_for_the_key(interviews_api, sandbox, host_token, container, clock, db):
    """The host's consent, not a new request, fixes it: a retry with the same key must run again."""
    container.connections.disconnect(HOST.uid, GOOGLE, clock.now())
    reply = interviews_api.post("/interviews", token=host_token, json=create_body(clock), headers=key())
    assert (reply.status, reply.json["error"]["code"]) == (409, "needs_google_auth")
    assert stored_records(db) == []


def test_a_final_refusal_is_kept_for_the_key(interviews_api, host_token, clock, db):
    first = create_body(clock, time="10:00")
    assert interviews_api.post("/interviews", token=host_token, json=first).status == 201
    body, headers = create_body(clock, time="10:30"), key()
    taken = interviews_api.post("/interviews", token=host_token, json=body, headers=headers)
    assert (taken.status, taken.json["error"]["code"]) == (409, "slot_taken")
    assert interviews_api.post("/interviews", token=host_token, json=body, headers=headers).json == taken.json
    assert [r["status"] for r in stored_records(db)] == [409]
