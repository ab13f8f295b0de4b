"""The reminder run with a controlled clock on the emulator: exactly one 24 h and one 1 h
reminder per participant, whatever the scheduler does."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from google.cloud.firestore_v1.base_query import FieldFilter

from tests.conftest import TASKS_INVOKER, WORKER_URL
from tests.integration.test_interviews_api import clock, create_body, google_email, host_token  # noqa: F401  (shared setup)

pytestmark = pytest.mark.usefixtures("container", "worker_server")


@pytest.fixture
def scheduler(sandbox):
    return sandbox.mint_oidc_token(TASKS_INVOKER, WORKER_URL)


@pytest.fixture
def reminders_api(openapi, stack_env):
    from tests.conftest import function_client

    return function_client("reminders", openapi, stack_env)


def reminder_emails(db, interview_id):
    docs = db.collection("outbox").where(filter=FieldFilter("interview_id", "==", interview_id)).stream()
    return sorted(d.id.split(f"{interview_id}-", 1)[1] for d in docs if "-reminder-" in d.id)


def book(interviews_api, host_token, clock):
    reply = interviews_api.post("/interviews", token=host_token, json=create_body(clock))
    assert reply.status == 201, reply.json
    return reply.json


def start_of(interview):
    from shared.domain.timezones import parse_rfc3339

    return parse_rfc3339(interview["start"])


def test_twice_at_the_same_instant_sends_once(interviews_api, reminders_api, host_token, clock, db, scheduler):
    interview = book(interviews_api, host_token, clock)
    start = start_of(interview)
    clock.set(start - timedelta(hours=24))
    first = reminders_api.post("/", token=scheduler).json
    second = reminders_api.post("/", token=scheduler).json
    assert first["reminders_queued"] == 1 and second == {
        "due": 0,
        "reminders_queued": 0,
        "skipped": 0,
        "raced": 0,
        "more_left": False,
    }
    assert reminder_emails(db, interview["interview_id"]) == ["reminder-24h-0-candidate", "reminder-24h-0-host"]
    clock.set(start - timedelta(hours=1))
    assert reminders_api.post("/", token=scheduler).json["reminders_queued"] == 1
    assert reminder_emails(db, interview["interview_id"]) == [
        "reminder-1h-0-candidate",
        "reminder-1h-0-host",
        "reminder-24h-0-candidate",
        "reminder-24h-0-host",
    ]
    clock.set(start + timedelta(minutes=1))
    assert reminders_api.post("/", token=scheduler).json["due"] == 0  # nothing left to read


def test_concurrent_runs_send_once(interviews_api, reminders_api, host_token, clock, db, scheduler):
    interview = book(interviews_api, host_token, clock)
    clock.set(start_of(interview) - timedelta(hours=23))
    results, barrier = [], threading.Barrier(3)

    def run():
        barrier.wait()
        results.append(reminders_api.post("/", token=scheduler).json)

    threads = [threading.Thread(target=run) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sum(r["reminders_queued"] for r in results) == 1
    assert reminder_emails(db, interview["interview_id"]) == ["reminder-24h-0-candidate", "reminder-24h-0-host"]


def test_a_run_three_hours_late_catches_up_but_never_after_the_start(
    interviews_api, reminders_api, host_token, clock, db, scheduler
):
    late = book(interviews_api, host_token, clock)
    start = start_of(late)
    clock.set(start - timedelta(hours=21))
    assert reminders_api.post("/", token=scheduler).json["reminders_queued"] == 1
    assert reminder_emails(db, late["interview_id"]) == ["reminder-24h-0-candidate", "reminder-24h-0-host"]
    clock.set(start + timedelta(minutes=5))  # the 1 h run never happened: too late now
    summary = reminders_api.post("/", token=scheduler).json
    assert summary["reminders_queued"] == 0 and summary["skipped"] == 1
    assert reminder_emails(db, late["interview_id"]) == ["reminder-24h-0-candidate", "reminder-24h-0-host"]


def test_no_reminder_for_a_cancelled_interview(interviews_api, reminders_api, host_token, clock, db, scheduler):
    interview = book(interviews_api, host_token, clock)
    assert interviews_api.post(f"/interviews/{interview['interview_id']}/cancel", token=host_token, json={}).status == 200
    clock.set(start_of(interview) - timedelta(hours=1))
    assert reminders_api.post("/", token=scheduler).json["due"] == 0
    assert reminder_emails(db, interview["interview_id"]) == []


def test_a_reschedule_rearms_for_the_new_time_only(interviews_api, reminders_api, host_token, clock, db, scheduler):
    interview = book(interviews_api, host_token, clock)
    iid, start = interview["interview_id"], start_of(interview)
    clock.set(start - timedelta(hours=24))
    reminders_api.post("/", token=scheduler)
    new_day = (start + timedelta(days=2)).date().isoformat()
    moved = interviews_api.post(f"/interviews/{iid}/reschedule", token=host_token, json={"date": new_day, "time": "14:30"})
    assert moved.status == 200
    clock.set(start - timedelta(hours=1))  # the old 1 h slot: nothing
    assert reminders_api.post("/", token=scheduler).json["reminders_queued"] == 0
    new_start = start_of(moved.json)
    clock.set(new_start - timedelta(hours=24))
    assert reminders_api.post("/", token=scheduler).json["reminders_queued"] == 1
    clock.set(new_start - timedelta(hours=1))
    assert reminders_api.post("/", token=scheduler).json["reminders_queued"] == 1
    assert reminder_emails(db, iid) == [
        "reminder-1h-1-candidate",
        "reminder-1h-1-host",
        "reminder-24h-0-candidate",
        "reminder-24h-0-host",
        "reminder-24h-1-candidate",
        "reminder-24h-1-host",
    ]


def test_only_the_scheduler_may_run_it_and_a_refusal_does_nothing(reminders_api, interviews_api, host_token, clock, db, sandbox):
    interview = book(interviews_api, host_token, clock)
    clock.set(start_of(interview) - timedelta(hours=24))
    assert reminders_api.post("/").status == 401
    assert reminders_api.post("/", token=sandbox.mint_oidc_token("intruder@p.iam.gserviceaccount.com", WORKER_URL)).status == 403
    assert reminders_api.post("/", token=sandbox.mint_oidc_token(TASKS_INVOKER, "https://elsewhere.example")).status == 401
    assert reminders_api.post("/", token=sandbox.mint_id_token("uid-x", "x@example.com")).status == 401
    assert reminder_emails(db, interview["interview_id"]) == []
