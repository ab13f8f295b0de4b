"""OutboxRepository: create-if-absent, the claim's state machine, release and finish."""

from __future__ import annotations

from datetime import timedelta

import pytest

from shared.ports import DoesNotExist, LeaseHeld, OutboxEmail
from tests.contract.conftest import BACKENDS, backend_param
from tests.factories import NOW, WORKSPACE
from tests.fakes import FakeOutbox

LEASE = timedelta(minutes=2)
EMAIL = OutboxEmail("iv-1-invitation-0-candidate", "invitation", "candidate", "gus@x.example", WORKSPACE, "iv-1", 0)
NOTICE = OutboxEmail(
    "reconnect-uid-a-1", "reconnect", "host", "hana@acme.example", WORKSPACE, uid="uid-a", to_name="Hana", reconnect_url=None
)


@pytest.fixture(params=BACKENDS)
def outbox(request):
    db = backend_param(request)
    if db is None:
        return FakeOutbox()
    from shared.adapters.outbox import FirestoreOutbox

    return FirestoreOutbox(db)


def test_created_once_as_queued(outbox):
    assert outbox.get(EMAIL.id) is None
    assert outbox.add(EMAIL, NOW) is True
    assert outbox.add(EMAIL, NOW + LEASE) is False
    assert outbox.get(EMAIL.id) == {
        "interview_id": "iv-1",
        "workspace_id": WORKSPACE,
        "kind": "invitation",
        "audience": "candidate",
        "sequence": 0,
        "to_email": "gus@x.example",
        "status": "queued",
        "attempts": 0,
        "created_at": NOW,
        "updated_at": NOW,
    }


def test_a_notice_carries_its_recipient_and_link(outbox):
    outbox.add(NOTICE, NOW)
    record = outbox.get(NOTICE.id)
    assert (record["uid"], record["to_name"], record["reconnect_url"], record["kind"]) == ("uid-a", "Hana", None, "reconnect")
    assert "interview_id" not in record


def test_add_many_creates_the_missing_and_keeps_the_existing(outbox):
    outbox.add(EMAIL, NOW)
    outbox.claim(EMAIL.id, NOW, NOW + LEASE)
    other = OutboxEmail("iv-1-invitation-0-host", "invitation", "host", "hana@acme.example", WORKSPACE, "iv-1", 0)
    outbox.add_many([EMAIL, other], NOW + LEASE)
    assert outbox.get(EMAIL.id)["status"] == "sending"
    assert outbox.get(other.id)["status"] == "queued"


def test_a_claim_takes_a_lease_once_and_final_emails_are_not_taken(outbox):
    assert outbox.claim("nope", NOW, NOW + LEASE) is None
    outbox.add(EMAIL, NOW)
    claimed = outbox.claim(EMAIL.id, NOW, NOW + LEASE)
    assert claimed.fresh and claimed.record["status"] == "queued"
    stored = outbox.get(EMAIL.id)
    assert (stored["status"], stored["attempts"], stored["lease_until"]) == ("sending", 1, NOW + LEASE)
    with pytest.raises(LeaseHeld):
        outbox.claim(EMAIL.id, NOW + LEASE / 2, NOW + LEASE * 2)
    again = outbox.claim(EMAIL.id, NOW + LEASE * 2, NOW + LEASE * 3)  # the lease ran out: taken over
    assert again.fresh and outbox.get(EMAIL.id)["attempts"] == 2
    outbox.finish(EMAIL.id, {"status": "sent", "sendgrid_message_id": "m1", "sent_at": NOW}, NOW + LEASE)
    done = outbox.get(EMAIL.id)
    assert (done["status"], done["sendgrid_message_id"], done["updated_at"]) == ("sent", "m1", NOW + LEASE)
    assert "lease_until" not in done
    duplicate = outbox.claim(EMAIL.id, NOW + LEASE * 4, NOW + LEASE * 5)
    assert not duplicate.fresh and duplicate.record["status"] == "sent"


def test_release_puts_it_back_in_the_queue_with_the_error(outbox):
    outbox.add(EMAIL, NOW)
    outbox.claim(EMAIL.id, NOW, NOW + LEASE)
    outbox.release(EMAIL.id, "sendgrid_503", "x" * 400, NOW + LEASE / 2)
    stored = outbox.get(EMAIL.id)
    assert stored["status"] == "queued" and "lease_until" not in stored
    assert stored["last_error"] == {"code": "sendgrid_503", "message": "x" * 300, "at": NOW + LEASE / 2}
    assert outbox.claim(EMAIL.id, NOW + LEASE / 2, NOW + LEASE).fresh


def test_release_and_finish_of_a_missing_record_say_so(outbox):
    with pytest.raises(DoesNotExist):
        outbox.release("no-such-email", "sendgrid_503", "gone", NOW)
    with pytest.raises(DoesNotExist):
        outbox.finish("no-such-email", {"status": "sent"}, NOW)
    assert outbox.get("no-such-email") is None
