"""InterviewStats: the analytics aggregations."""

from __future__ import annotations

from datetime import timedelta

import pytest

from shared.domain.models import InterviewStatus, Outcome, Person
from tests import factories
from tests.contract.conftest import BACKENDS, backend_param
from tests.factories import NOW, WORKSPACE
from tests.fakes import FakeInterviewRepository, FakeInterviewStats

H = timedelta(hours=1)
SPAN = {"since": NOW - 24 * H, "until": NOW}


@pytest.fixture(params=BACKENDS)
def ports(request):
    db = backend_param(request)
    if db is None:
        repo = FakeInterviewRepository()
        return repo, FakeInterviewStats(repo)
    from shared.adapters.firestore import InterviewRepository
    from shared.adapters.interview_queries import FirestoreInterviewStats

    return InterviewRepository(db), FirestoreInterviewStats(db)


def _completed(minutes, **changes):
    start = NOW - 5 * H
    outcome = None
    if minutes is not None:
        outcome = Outcome("meet", True, True, start, start + timedelta(minutes=minutes), NOW)
    return factories.interview(start=start, status=InterviewStatus.COMPLETED, outcome=outcome, **changes)


def test_counts_per_status_in_the_scope(ports):
    repo, stats = ports
    olga = Person("olga@acme.example", "Olga", "uid-olga")
    for interview in (
        _completed(30),
        _completed(None),
        factories.interview(start=NOW - 3 * H, status=InterviewStatus.NO_SHOW),
        factories.interview(start=NOW - 3 * H, status=InterviewStatus.CANCELLED, host=olga),
        factories.interview(start=NOW - 24 * H),  # since is inclusive
        factories.interview(start=NOW),  # until is exclusive
        factories.interview(start=NOW - 25 * H),
        factories.interview(start=NOW - 3 * H, workspace_id=factories.OTHER_WORKSPACE),
    ):
        repo.add(interview)
    counts = stats.count_by_status(workspace_id=WORKSPACE, host_uid=None, **SPAN)
    assert counts == {s: 0 for s in InterviewStatus} | {
        InterviewStatus.COMPLETED: 2,
        InterviewStatus.NO_SHOW: 1,
        InterviewStatus.CANCELLED: 1,
        InterviewStatus.CONFIRMED: 1,
    }
    assert stats.count_by_status(workspace_id=WORKSPACE, host_uid="uid-olga", **SPAN)[InterviewStatus.CANCELLED] == 1
    assert sum(stats.count_by_status(workspace_id=WORKSPACE, host_uid="uid-olga", **SPAN).values()) == 1


def test_the_average_duration_of_completed_interviews_that_have_one(ports):
    repo, stats = ports
    assert stats.average_duration(workspace_id=WORKSPACE, host_uid=None, **SPAN) is None
    repo.add(_completed(None))
    assert stats.average_duration(workspace_id=WORKSPACE, host_uid=None, **SPAN) is None
    for minutes in (30, 45):
        repo.add(_completed(minutes))
    repo.add(_completed(90, workspace_id=factories.OTHER_WORKSPACE))
    assert stats.average_duration(workspace_id=WORKSPACE, host_uid=None, **SPAN) == pytest.approx(37.5)
    assert stats.average_duration(workspace_id=WORKSPACE, host_uid="uid-olga", **SPAN) is None
