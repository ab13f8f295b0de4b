"""Analytics on fakes (mirrors tests/integration/test_analytics.py)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest

from shared.clock import FixedClock
from shared.domain.errors import RuleViolation
from shared.domain.models import InterviewStatus, Outcome, Person, Role
from shared.errors import PermissionDenied
from shared.services.analytics import Analytics
from shared.services.interviews.requests import AnalyticsQuery
from tests import factories
from tests.factories import NOW, WORKSPACE
from tests.fakes import FakeInterviewRepository, FakeInterviewStats

H = timedelta(hours=1)
OLGA = Person("olga@acme.example", "Olga", "uid-olga")


@dataclass(frozen=True)
class Member:
    uid: str
    workspace_id: str
    role: Role


class Members:
    def __init__(self, member):
        self.who = member

    def member(self, principal):
        return self.who


@pytest.fixture
def interviews():
    repo = FakeInterviewRepository()
    start = NOW - 5 * H
    done = [Outcome("meet", True, True, start, start + timedelta(minutes=m), NOW) for m in (30, 45)]
    for interview in (
        factories.interview(start=start, status=InterviewStatus.COMPLETED, outcome=done[0]),
        factories.interview(start=start, status=InterviewStatus.COMPLETED, outcome=done[1], host=OLGA),
        factories.interview(start=start, status=InterviewStatus.NO_SHOW),
        factories.interview(start=start, status=InterviewStatus.CANCELLED),
        factories.interview(start=NOW - 40 * 24 * H),  # outside the default 30 days
    ):
        repo.add(interview)
    return repo


def analytics(interviews, member):
    return Analytics(stats=FakeInterviewStats(interviews), members=Members(member), clock=FixedClock(NOW))


def test_an_admin_sees_the_workspace_over_the_last_30_days(interviews):
    report = analytics(interviews, Member("uid-ada", WORKSPACE, Role.ADMIN)).report(None, AnalyticsQuery())
    assert (report["total_interviews"], report["completed_interviews"], report["no_shows"], report["cancellations"]) == (
        4,
        2,
        1,
        1,
    )
    assert report["no_show_rate"] == pytest.approx(0.3333) and report["average_duration"] == 37.5
    assert (report["from"], report["to"], report["host_uid"]) == ("2026-05-02T12:00:00Z", "2026-06-01T12:00:00Z", None)
    one = analytics(interviews, Member("uid-ada", WORKSPACE, Role.ADMIN)).report(None, AnalyticsQuery(host_uid="uid-olga"))
    assert (one["total_interviews"], one["average_duration"], one["no_show_rate"]) == (1, 45.0, 0.0)


def test_a_host_sees_only_their_own_numbers(interviews):
    hana = analytics(interviews, Member("uid-hana", WORKSPACE, Role.HOST))
    report = hana.report(None, AnalyticsQuery())
    assert (report["total_interviews"], report["host_uid"], report["average_duration"]) == (3, "uid-hana", 30.0)
    with pytest.raises(PermissionDenied):
        hana.report(None, AnalyticsQuery(host_uid="uid-olga"))


def test_an_empty_range_has_no_rates_and_a_reversed_one_is_refused(interviews):
    admin = analytics(interviews, Member("uid-ada", WORKSPACE, Role.ADMIN))
    jan_1, jan_2 = datetime(2026, 1, 1, tzinfo=UTC), datetime(2026, 1, 2, tzinfo=UTC)
    report = admin.report(None, AnalyticsQuery(since=jan_1, until=jan_2))
    assert (report["total_interviews"], report["no_show_rate"], report["average_duration"]) == (0, None, None)
    with pytest.raises(RuleViolation) as refused:  # a 422 (shared.errors.from_domain)
        admin.report(None, AnalyticsQuery(since=jan_2, until=jan_1))
    assert (refused.value.code, refused.value.details) == ("invalid_range", {"field": "from"})
