"""Queueing emails on fakes: one outbox record and one named Cloud Tasks task per email and
audience, outbox first; queueing the same email again writes nothing new; queued then
delivered (twice, as Cloud Tasks may) each party gets one email."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest

from shared.clock import FixedClock
from shared.config import Settings
from shared.errors import Unavailable
from shared.services.email_worker import EmailWorker
from shared.services.emails import Email, EmailQueue
from tests import factories
from tests.factories import NOW, WORKSPACE
from tests.fakes import FakeInterviewRepository, FakeMailer, FakeOutbox, FakeTaskQueue

WORKER = "http://worker.example/"
H = timedelta(hours=1)


class World:
    def __init__(self):
        self.outbox = FakeOutbox()
        self.tasks = FakeTaskQueue()
        self.queue = EmailQueue(outbox=self.outbox, tasks=self.tasks, worker_url=WORKER)


@pytest.fixture
def world():
    return World()


def test_one_record_and_one_named_task_per_audience(world):
    iv = factories.interview(id="iv-1", ical_sequence=2)
    assert world.queue.enqueue(iv, "invitation", NOW) == {"candidate": "queued", "host": "queued"}
    ids = ["iv-1-invitation-2-candidate", "iv-1-invitation-2-host"]
    assert world.tasks.tasks == {i: (WORKER, {"email_id": i}) for i in ids}
    assert world.outbox.get(ids[0]) == {
        "interview_id": "iv-1",
        "workspace_id": WORKSPACE,
        "kind": "invitation",
        "audience": "candidate",
        "sequence": 2,
        "to_email": iv.guest.email,
        "status": "queued",
        "attempts": 0,
        "created_at": NOW,
        "updated_at": NOW,
    }
    assert world.outbox.get(ids[1])["to_email"] == iv.host.email


def test_queueing_the_same_email_again_writes_nothing_new(world):
    iv = factories.interview(id="iv-1")
    world.queue.enqueue(iv, "invitation", NOW)
    world.outbox.claim("iv-1-invitation-0-host", NOW, NOW + H)
    world.outbox.finish("iv-1-invitation-0-host", {"status": "sent"}, NOW)
    tasks = dict(world.tasks.tasks)
    assert world.queue.enqueue(iv, "invitation", NOW + H) == {"candidate": "queued", "host": "queued"}
    assert world.tasks.tasks == tasks
    assert world.outbox.get("iv-1-invitation-0-host")["status"] == "sent"
    assert world.outbox.get("iv-1-invitation-0-candidate")["created_at"] == NOW


def test_ids_tell_apart_kinds_versions_audiences_and_reminder_offsets(world):
    iv = factories.interview(id="iv-1")
    world.queue.enqueue(iv, "reminder_24h", NOW, audiences=("host",), label="24h")
    world.queue.enqueue(iv, "reminder_1h", NOW, audiences=("host",))
    world.queue.enqueue(replace(iv, ical_sequence=1), "update", NOW, audiences=("candidate",))
    assert sorted(world.tasks.tasks) == ["iv-1-reminder-1h-0-host", "iv-1-reminder-24h-0-host", "iv-1-update-1-candidate"]
    assert world.outbox.get("iv-1-reminder-24h-0-host")["kind"] == "reminder_24h"  # the template, not the id's spelling
    assert world.outbox.get("iv-1-update-1-candidate")["sequence"] == 1


@pytest.mark.parametrize("workers", [1, 4])
def test_many_interviews_queued_at_once(world, workers):
    interviews = [factories.interview(id=f"iv-{n}") for n in range(5)]
    answers = world.queue.enqueue_many([Email(i, "reminder_1h", "1h") for i in interviews], NOW, workers=workers)
    assert answers == [{"candidate": "queued", "host": "queued"}] * 5
    expected = {f"iv-{n}-reminder-1h-0-{a}" for n in range(5) for a in ("candidate", "host")}
    assert set(world.tasks.tasks) == expected and set(world.outbox.records) == expected


def test_the_outbox_record_is_written_before_the_task_and_a_retry_queues_the_task(world):
    iv = factories.interview(id="iv-1")
    world.tasks.fail = Unavailable("Cloud Tasks is down")
    with pytest.raises(Unavailable):
        world.queue.enqueue(iv, "cancellation", NOW)
    assert sorted(world.outbox.records) == ["iv-1-cancellation-0-candidate", "iv-1-cancellation-0-host"]
    assert world.tasks.tasks == {}
    world.tasks.fail = None
    world.queue.enqueue(iv, "cancellation", NOW + H)
    assert sorted(world.tasks.tasks) == sorted(world.outbox.records)
    assert {r["created_at"] for r in world.outbox.records.values()} == {NOW}


def test_queued_then_delivered_twice_each_party_gets_one_email(world):
    interviews = FakeInterviewRepository()
    iv = factories.interview()
    interviews.add(iv)
    mailer = FakeMailer()
    worker = EmailWorker(
        settings=Settings(project_id="convene-test"),
        clock=FixedClock(NOW),
        outbox=world.outbox,
        interviews=interviews,
        mailer=lambda: mailer,
        guest_links=None,  # no portal configured: no guest link to sign
        meet_link_resolver=lambda _: None,
    )
    world.queue.enqueue(iv, "invitation", NOW)
    world.queue.enqueue(iv, "invitation", NOW)  # the caller retried
    for _ in range(2):  # Cloud Tasks delivers at least once
        for _, payload in sorted(world.tasks.tasks.values(), key=lambda task: task[1]["email_id"]):
            worker.handle(payload["email_id"], 1)
    assert sorted(email.to_email for email, _ in mailer.sent) == sorted([iv.guest.email, iv.host.email])
    assert {r["status"] for r in world.outbox.records.values()} == {"sent"}
