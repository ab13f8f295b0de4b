"""InterviewRepository: what the services rely on, on the fake and on Firestore."""

from __future__ import annotations

from datetime import timedelta

import pytest

from shared.domain.models import Attendance, InterviewStatus, Participant, Person
from shared.ports import AlreadyExists, DoesNotExist
from tests import factories
from tests.contract.conftest import BACKENDS, backend_param
from tests.factories import NOW, WORKSPACE
from tests.fakes import FakeInterviewRepository


@pytest.fixture(params=BACKENDS)
def repo(request):
    db = backend_param(request)
    if db is None:
        return FakeInterviewRepository()
    from shared.adapters.firestore import InterviewRepository

    return InterviewRepository(db)


def test_absent_and_unstorable_ids_are_none(repo):
    assert repo.get("iv-nope") is None
    assert repo.get("a/b") is None and repo.get("__x__") is None and repo.get("") is None


def test_round_trip_keeps_every_field(repo):
    interview = factories.interview(attendance={Participant.HOST: Attendance(2, NOW, NOW + timedelta(minutes=3))})
    repo.add(interview)
    assert repo.get(interview.id) == interview


def test_adding_a_taken_id_is_refused(repo):
    interview = factories.interview()
    repo.add(interview)
    with pytest.raises(AlreadyExists):
        repo.add(interview)


def test_update_sets_field_paths_and_needs_the_interview(repo):
    interview = factories.interview(meet_link=None)
    repo.add(interview)
    repo.update(interview.id, {"meet_link": "https://meet.google.com/new-link-abc", "reminders.done_minutes": [60]})
    stored = repo.get(interview.id)
    assert stored.meet_link == "https://meet.google.com/new-link-abc" and stored.reminders_done == (60,)
    assert stored.reminder_offsets == interview.reminder_offsets  # the sibling field kept
    with pytest.raises(DoesNotExist):
        repo.update("iv-nope", {"meet_link": "x"})


def test_record_join_counts_and_keeps_the_first_time(repo):
    interview = factories.interview()
    repo.add(interview)
    repo.record_join(interview, Participant.GUEST, NOW)
    repo.record_join(repo.get(interview.id), Participant.GUEST, NOW + timedelta(minutes=1))
    stored = repo.get(interview.id)
    assert stored.attendance[Participant.GUEST] == Attendance(2, NOW, NOW + timedelta(minutes=1))
    assert stored.portal_join_count == 2
    with pytest.raises(DoesNotExist):
        repo.record_join(factories.interview(id="iv-nope"), Participant.GUEST, NOW)


def _list(repo, **changes):
    query = {
        "workspace_id": WORKSPACE,
        "host_uid": None,
        "statuses": (),
        "start_from": None,
        "start_to": None,
        "descending": False,
        "limit": 10,
        "cursor": None,
    }
    return repo.list(**(query | changes))


def test_list_filters_by_workspace_host_status_and_start_range(repo):
    other_host = Person("olga@acme.example", "Olga", "uid-olga")
    at = [NOW + timedelta(hours=h) for h in range(5)]
    keep = factories.interview(start=at[1])
    cancelled = factories.interview(start=at[2], status=InterviewStatus.CANCELLED)
    pending = factories.interview(start=at[3], status=InterviewStatus.PENDING)
    for interview in (
        keep,
        cancelled,
        pending,
        factories.interview(start=at[1], host=other_host),
        factories.interview(start=at[1], workspace_id=factories.OTHER_WORKSPACE),
        factories.interview(start=at[0]),
        factories.interview(start=at[4]),
    ):
        repo.add(interview)
    items, cursor = _list(repo, host_uid="uid-hana", start_from=at[1], start_to=at[4])
    assert [i.id for i in items] == [keep.id, cancelled.id, pending.id] and cursor is None
    items, _ = _list(
        repo, host_uid="uid-hana", statuses=(InterviewStatus.CONFIRMED, InterviewStatus.PENDING), start_from=at[1], start_to=at[4]
    )
    assert [i.id for i in items] == [keep.id, pending.id]
    items, _ = _list(repo, host_uid="uid-hana", statuses=(InterviewStatus.CANCELLED,))
    assert [i.id for i in items] == [cancelled.id]


@pytest.mark.parametrize("descending", [False, True])
def test_pages_follow_start_then_id_and_the_cursor_resumes_after_the_last(repo, descending):
    interviews = [factories.interview(id=f"iv-{n:02d}", start=NOW + timedelta(hours=n // 2)) for n in range(7)]
    for interview in reversed(interviews):
        repo.add(interview)
    expected = [i.id for i in sorted(interviews, key=lambda i: (i.start, i.id), reverse=descending)]
    seen, cursor = [], None
    while True:
        items, cursor = _list(repo, descending=descending, limit=3, cursor=cursor)
        assert len(items) <= 3
        seen += [i.id for i in items]
        if cursor is None:
            break
        assert cursor == (items[-1].start, items[-1].id)
    assert seen == expected


def test_a_page_that_ends_exactly_at_the_limit_has_no_cursor(repo):
    for n in range(3):
        repo.add(factories.interview(id=f"iv-{n}", start=NOW + timedelta(hours=n)))
    items, cursor = _list(repo, limit=3)
    assert len(items) == 3 and cursor is None
