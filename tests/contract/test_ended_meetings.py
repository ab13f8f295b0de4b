"""EndedMeetings: the attendance run's query."""

from __future__ import annotations

from datetime import timedelta

import pytest

from shared.domain.models import InterviewStatus, InterviewType
from tests import factories
from tests.contract.conftest import BACKENDS, backend_param
from tests.factories import NOW
from tests.fakes import FakeEndedMeetings, FakeInterviewRepository

H = timedelta(hours=1)


@pytest.fixture(params=BACKENDS)
def ports(request):
    db = backend_param(request)
    if db is None:
        repo = FakeInterviewRepository()
        return repo, FakeEndedMeetings(repo)
    from shared.adapters.firestore import InterviewRepository
    from shared.adapters.interview_queries import FirestoreEndedMeetings

    return InterviewRepository(db), FirestoreEndedMeetings(db)


def _ending(at, **changes):
    return factories.interview(start=at - timedelta(minutes=45), duration_minutes=45, **changes)


def test_confirmed_meet_interviews_ended_in_the_span_oldest_first_up_to_the_limit(ports):
    repo, ended = ports
    older, newer, edge = _ending(NOW - 30 * H), _ending(NOW - 2 * H), _ending(NOW - 100 * H)
    for interview in (
        newer,
        older,
        edge,
        _ending(NOW - 101 * H),  # before the span
        _ending(NOW - H),  # closes later (closed_before is exclusive)
        _ending(NOW - 3 * H, status=InterviewStatus.COMPLETED),
        _ending(NOW - 3 * H, status=InterviewStatus.CANCELLED),
        _ending(NOW - 3 * H, type=InterviewType.PHONE, meet_link=None, phone="+4930123456"),
    ):
        repo.add(interview)
    found = ended.ended(closed_before=NOW - H, not_before=NOW - 100 * H, limit=10)
    assert [i.id for i in found] == [edge.id, older.id, newer.id]
    assert [i.id for i in ended.ended(closed_before=NOW - H, not_before=NOW - 100 * H, limit=2)] == [edge.id, older.id]
    assert found[1] == older
