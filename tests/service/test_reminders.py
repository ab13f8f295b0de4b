"""The reminder run on fakes (mirrors tests/integration/test_reminders.py)."""

from __future__ import annotations

from datetime import timedelta

import pytest

from shared.domain.models import InterviewStatus
from shared.services.emails import EmailQueue
from shared.services.reminders import ReminderRun
from tests import factories
from tests.factories import NOW
from tests.fakes import FakeDueReminders, FakeInterviewRepository, FakeOutbox, FakeTaskQueue

H = timedelta(hours=1)


class World:
    def __init__(self):
        self.interviews = FakeInterviewRepository()
        self.due = FakeDueReminders(self.interviews)
        self.outbox = FakeOutbox()
        self.tasks = FakeTaskQueue()
        self.run = ReminderRun(
            due=self.due, emails=lambda: EmailQueue(outbox=self.outbox, tasks=self.tasks, worker_url="http://w")
        )

    def booked(self, start, **changes):
        interview = factories.interview(start=start, next_reminder_at=start - 24 * H, **changes)
        self.interviews.add(interview)
        return interview


@pytest.fixture
def world():
    return World()


def test_the_day_before_reminder_is_queued_once_per_audience(world):
    iv = world.booked(NOW + 24 * H)
    assert world.run.run(NOW) == {"due": 1, "reminders_queued": 1, "skipped": 0, "raced": 0, "more_left": False}
    assert sorted(world.tasks.tasks) == [f"{iv.id}-reminder-24h-0-candidate", f"{iv.id}-reminder-24h-0-host"]
    stored = world.interviews.get(iv.id)
    assert stored.reminders_done == (1440,) and stored.next_reminder_at == iv.start - H
    assert world.outbox.get(f"{iv.id}-reminder-24h-0-candidate")["to_email"] == iv.guest.email
    assert world.run.run(NOW)["due"] == 0  # twice at the same instant sends once


def test_a_late_run_sends_only_the_closest_and_skips_the_rest(world):
    iv = world.booked(NOW + 30 * timedelta(minutes=1))
    summary = world.run.run(NOW)
    assert (summary["reminders_queued"], summary["skipped"]) == (1, 1)
    assert sorted(world.tasks.tasks) == [f"{iv.id}-reminder-1h-0-candidate", f"{iv.id}-reminder-1h-0-host"]
    assert world.interviews.get(iv.id).next_reminder_at is None


def test_no_reminder_for_a_cancelled_interview_and_it_is_disarmed(world):
    iv = world.booked(NOW + 24 * H, status=InterviewStatus.CANCELLED)
    assert world.run.run(NOW)["reminders_queued"] == 0
    assert world.tasks.tasks == {} and world.interviews.get(iv.id).next_reminder_at is None


def test_a_reschedule_during_the_run_wins_and_counts_as_raced(world):
    iv = world.booked(NOW + 24 * H)
    due = world.due.due

    def due_then_rescheduled(now, limit):
        found = due(now, limit)
        world.interviews.update(iv.id, {"next_reminder_at": NOW + 48 * H})  # another writer, after the read
        return found

    world.due.due = due_then_rescheduled
    summary = world.run.run(NOW)
    assert (summary["raced"], summary["reminders_queued"]) == (1, 0)
    assert world.interviews.get(iv.id).next_reminder_at == NOW + 48 * H


def test_many_due_are_taken_in_batches_and_the_rest_is_reported(world, monkeypatch):
    from shared.services import reminders

    monkeypatch.setattr(reminders, "BATCH", 2)
    monkeypatch.setattr(reminders, "MAX_BATCHES", 2)
    for n in range(5):
        world.booked(NOW + 24 * H + n * timedelta(minutes=1))
    summary = world.run.run(NOW + 10 * timedelta(minutes=1))
    assert (summary["due"], summary["reminders_queued"], summary["more_left"]) == (4, 4, True)
    assert world.run.run(NOW + 10 * timedelta(minutes=1))["due"] == 1
