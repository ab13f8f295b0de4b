"""DueReminders: the reminder run's query and its precondition writes."""

from __future__ import annotations

from datetime import timedelta

import pytest

from shared.ports import ReminderState
from tests import factories
from tests.contract.conftest import BACKENDS, backend_param
from tests.factories import NOW
from tests.fakes import FakeDueReminders, FakeInterviewRepository

M = timedelta(minutes=1)


@pytest.fixture(params=BACKENDS)
def ports(request):
    db = backend_param(request)
    if db is None:
        repo = FakeInterviewRepository()
        return repo, FakeDueReminders(repo)
    from shared.adapters.firestore import InterviewRepository
    from shared.adapters.interview_queries import FirestoreDueReminders

    return InterviewRepository(db), FirestoreDueReminders(db)


def test_only_the_due_soonest_first_up_to_the_limit(ports):
    repo, due = ports
    at = {name: NOW + offset for name, offset in {"late": -5 * M, "now": 0 * M, "early": -60 * M, "future": M}.items()}
    ids = {}
    for name, when in at.items():
        interview = factories.interview(next_reminder_at=when)
        repo.add(interview)
        ids[name] = interview.id
    repo.add(factories.interview(next_reminder_at=None))
    assert [d.interview.id for d in due.due(NOW, 10)] == [ids["early"], ids["late"], ids["now"]]
    assert [d.interview.id for d in due.due(NOW, 2)] == [ids["early"], ids["late"]]
    assert due.due(NOW - 2 * 60 * M, 10) == []


def test_advance_writes_the_new_state(ports):
    repo, due = ports
    interview = factories.interview(next_reminder_at=NOW - M, reminders_done=())
    cancelled = factories.interview(next_reminder_at=NOW - M, reminders_done=(60,))
    repo.add(interview)
    repo.add(cancelled)
    first, second = sorted(due.due(NOW, 10), key=lambda d: d.interview.id != interview.id)
    lost = due.advance([(first, ReminderState(NOW + 60 * M, (1440,))), (second, ReminderState(None))])
    assert lost == []
    assert repo.get(interview.id).next_reminder_at == NOW + 60 * M and repo.get(interview.id).reminders_done == (1440,)
    assert repo.get(cancelled.id).next_reminder_at is None and repo.get(cancelled.id).reminders_done == (60,)  # done kept
    assert due.due(NOW, 10) == []


def test_a_state_changed_or_deleted_since_the_read_is_not_overwritten(ports, request):
    repo, due = ports
    a, b, c = (factories.interview(id=f"iv-{n}", next_reminder_at=NOW - M) for n in "abc")
    for interview in (a, b, c):
        repo.add(interview)
    read = {d.interview.id: d for d in due.due(NOW, 10)}
    repo.update(b.id, {"next_reminder_at": NOW + 600 * M})  # a reschedule meanwhile
    updates = [(read[i.id], ReminderState(NOW + 5 * M, (60,))) for i in (a, b, c)]
    if isinstance(repo, FakeInterviewRepository):
        repo.store.delete(c.id)
    else:
        request.getfixturevalue("db").collection("interviews").document(c.id).delete()
    assert due.advance(updates) == [1, 2]
    assert repo.get(a.id).next_reminder_at == NOW + 5 * M
    assert repo.get(b.id).next_reminder_at == NOW + 600 * M and repo.get(b.id).reminders_done == ()
    assert repo.get(c.id) is None


def test_advancing_nothing_is_nothing(ports):
    assert ports[1].advance([]) == []
