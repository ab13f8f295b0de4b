"""The email worker called as Cloud Tasks calls it, in-process: who may call, and each answer."""

from __future__ import annotations

import logging
import uuid
from datetime import timedelta

import pytest

from tests.conftest import TASKS_INVOKER, WORKER_URL

pytestmark = pytest.mark.usefixtures("container")


@pytest.fixture
def tasks_token(sandbox):
    return sandbox.mint_oidc_token(TASKS_INVOKER, WORKER_URL)


def test_only_the_configured_service_account_with_the_right_audience(email_worker_api, sandbox, db):
    body = {"email_id": "e1"}
    assert email_worker_api.post("/", json=body).status == 401
    wrong_audience = sandbox.mint_oidc_token(TASKS_INVOKER, "https://another-function.example")
    assert email_worker_api.post("/", token=wrong_audience, json=body).status == 401
    intruder = sandbox.mint_oidc_token("intruder@p.iam.gserviceaccount.com", WORKER_URL)
    assert email_worker_api.post("/", token=intruder, json=body).status == 403
    user = sandbox.mint_id_token("uid-hana", "hana@acme.example")
    assert email_worker_api.post("/", token=user, json=body).status == 401
    assert list(db.collection("outbox").stream()) == []


def test_an_unknown_email_is_acknowledged_and_a_bad_body_refused(email_worker_api, tasks_token):
    reply = email_worker_api.post("/", token=tasks_token, json={"email_id": "no-such-email"})
    assert reply.status == 200 and reply.json["status"] == "unknown"
    assert email_worker_api.post("/", token=tasks_token, json={"email_id": 7}).status == 400


def test_a_delivery_while_another_holds_the_lease_is_retried_later(email_worker_api, tasks_token, db, clock):
    db.collection("outbox").document("e-lease").set(
        {
            "interview_id": "iv1",
            "kind": "invitation",
            "audience": "candidate",
            "sequence": 0,
            "status": "sending",
            "attempts": 1,
            "lease_until": clock.now() + timedelta(minutes=1),
        }
    )
    reply = email_worker_api.post("/", token=tasks_token, json={"email_id": "e-lease"})
    assert (reply.status, reply.json["error"]["code"]) == (409, "email_in_progress")
    assert db.collection("outbox").document("e-lease").get().to_dict()["attempts"] == 1


def test_a_pending_meet_link_makes_the_queue_retry(email_worker_api, tasks_token, db, clock):
    from shared.adapters.firestore import InterviewRepository
    from tests import factories

    interview = factories.interview(meet_link=None, calendar_event_id=None)
    InterviewRepository(db).add(interview)
    db.collection("outbox").document("e-pending").set(
        {
            "interview_id": interview.id,
            "kind": "invitation",
            "audience": "candidate",
            "sequence": 0,
            "status": "queued",
            "attempts": 0,
        }
    )
    reply = email_worker_api.post("/", token=tasks_token, json={"email_id": "e-pending"})
    assert reply.status == 503
    record = db.collection("outbox").document("e-pending").get().to_dict()
    assert record["status"] == "queued" and record["last_error"]["code"] == "meet_link_pending"


def test_an_email_for_a_cancelled_interview_is_skipped(email_worker_api, tasks_token, db):
    from shared.adapters.firestore import InterviewRepository
    from shared.domain.models import InterviewStatus
    from tests import factories

    interview = factories.interview(status=InterviewStatus.CANCELLED, ical_sequence=1)
    InterviewRepository(db).add(interview)
    db.collection("outbox").document("e-old").set(
        {"interview_id": interview.id, "kind": "invitation", "audience": "host", "sequence": 0, "status": "queued", "attempts": 0}
    )
    reply = email_worker_api.post("/", token=tasks_token, json={"email_id": "e-old"})
    assert reply.status == 200 and reply.json["status"] == "skipped"
    again = email_worker_api.post("/", token=tasks_token, json={"email_id": "e-old"})
    assert again.json == {"email_id": "e-old", "status": "skipped", "duplicate": True}


@pytest.mark.parametrize("count", ["²", "9" * 5000, "-1", "1.5", "", "٣", "x"])
def test_an_odd_delivery_count_is_taken_as_unknown(email_worker_api, tasks_token, caplog, count):
    """``str.isdigit`` accepted "²" and 5000 digits, which ``int`` then refused: a 500."""
    reply = email_worker_api.post(
        "/", token=tasks_token, json={"email_id": "no-such-email"}, headers={"X-CloudTasks-TaskExecutionCount": count}
    )
    assert (reply.status, reply.json["status"]) == (200, "unknown")
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


SCHEDULING_URL = "https://scheduling.convene.example"


@pytest.fixture
def with_scheduling(container, settings, db, clock):
    """The worker's container, configured with the scheduling function's URL (CONVENE_SCHEDULING_URL)."""
    from dataclasses import replace

    from shared import bootstrap
    from shared.bootstrap import Container

    configured = Container(replace(settings, scheduling_url=SCHEDULING_URL), clock=clock, firestore_client=db)
    bootstrap.use_container(configured)
    try:
        yield configured
    finally:
        bootstrap.use_container(container)


def test_a_delivered_invitation_gives_the_guest_a_manage_link_that_verifies_as_manage(
    email_worker_api, tasks_token, db, sandbox, clock, with_scheduling
):
    from shared.adapters.firestore import InterviewRepository
    from shared.auth.guest_links import JOIN, MANAGE
    from shared.domain.models import Person
    from shared.errors import Unauthenticated
    from tests import factories

    interview = factories.interview(guest=Person(f"gus-{uuid.uuid4().hex[:8]}@candidates.example", "Gus Guest"))
    InterviewRepository(db).add(interview)
    for audience in ("candidate", "host"):
        db.collection("outbox").document(f"e-invite-{audience}").set(
            {
                "interview_id": interview.id,
                "kind": "invitation",
                "audience": audience,
                "sequence": 0,
                "status": "queued",
                "attempts": 0,
            }
        )
    sandbox.clear_sent_mail()
    for audience in ("candidate", "host"):
        reply = email_worker_api.post("/", token=tasks_token, json={"email_id": f"e-invite-{audience}"})
        assert (reply.status, reply.json["status"]) == (200, "sent")

    def sent(email_id):
        (message,) = [m for m in sandbox.sent_mail() if m["body"].get("custom_args", {}).get("email_id") == email_id]
        return message

    to_guest = sent("e-invite-candidate")
    assert to_guest["body"]["personalizations"][0]["to"][0]["email"] == interview.guest.email
    text = next(c["value"] for c in to_guest["body"]["content"] if c["type"] == "text/plain")
    html = next(c["value"] for c in to_guest["body"]["content"] if c["type"] == "text/html")
    prefix = f"Manage your booking: {SCHEDULING_URL}/manage#token="
    (line,) = [line for line in text.splitlines() if line.startswith(prefix)]
    token = line.removeprefix(prefix)
    assert f'href="{SCHEDULING_URL}/manage#token={token}"' in html
    links = with_scheduling.guest_links
    principal = links.verify(token, now=clock.now(), purpose=MANAGE)
    assert (principal.interview_id, principal.workspace_id) == (interview.id, interview.workspace_id)
    with pytest.raises(Unauthenticated):
        links.verify(token, now=clock.now(), purpose=JOIN)  # it manages the booking, it does not join the call
    with pytest.raises(Unauthenticated):
        links.verify(token, now=interview.end, purpose=MANAGE)  # and expires at the interview's end

    to_host = sent("e-invite-host")
    assert all("/manage#token=" not in c["value"] for c in to_host["body"]["content"])  # the guest's link only
