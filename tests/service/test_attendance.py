"""The attendance run on fakes (mirrors tests/integration/test_attendance.py's portal paths;
Meet's own records are the sandbox's business)."""

from __future__ import annotations

from datetime import timedelta

import pytest

from shared.domain.models import Attendance, InterviewStatus, JoinWindow, Participant
from shared.services.attendance import AttendanceJob
from tests import factories
from tests.factories import NOW
from tests.fakes import FakeBookingStore, FakeConnectionRepository, FakeEndedMeetings, FakeInterviewRepository

H = timedelta(hours=1)
NOTHING = dict.fromkeys(("decided_meet", "decided_portal", "completed", "no_show", "left_for_later", "changed_meanwhile"), 0)


def no_google():
    raise AssertionError("no Google client when nobody granted the Meet scope")


class World:
    def __init__(self):
        self.interviews = FakeInterviewRepository()
        self.bookings = FakeBookingStore(self.interviews)
        self.job = AttendanceJob(
            ended=FakeEndedMeetings(self.interviews),
            bookings=self.bookings,
            connections=FakeConnectionRepository(),
            google_connections=no_google,
            meet=no_google,
            default_window=JoinWindow(10, 15),
        )

    def ended(self, ago, **changes):
        interview = factories.interview(start=NOW - ago - 45 * timedelta(minutes=1), duration_minutes=45, **changes)
        self.interviews.add(interview)
        return interview


@pytest.fixture
def world():
    return World()


def test_without_a_connection_the_portal_joins_decide(world):
    joined = Attendance(1, NOW - 3 * H, NOW - 3 * H)
    came = world.ended(2 * H, attendance={Participant.GUEST: joined, Participant.HOST: joined})
    missed = world.ended(2 * H, attendance={Participant.HOST: joined})
    assert world.job.run(NOW) == NOTHING | {"decided_portal": 2, "completed": 1, "no_show": 1, "more": False}
    assert world.interviews.get(came.id).status is InterviewStatus.COMPLETED
    decided = world.interviews.get(missed.id)
    assert decided.status is InterviewStatus.NO_SHOW and decided.outcome.source == "portal" and decided.outcome.host_attended
    assert world.job.run(NOW) == NOTHING | {"more": False}  # decided once


def test_a_window_still_open_or_a_record_past_retention_is_not_read(world):
    world.ended(5 * timedelta(minutes=1))  # the join window closes 15 minutes after the end
    world.ended(31 * 24 * H)
    assert world.job.run(NOW) == NOTHING | {"more": False}


def test_bounded_oldest_first(world):
    older, newer = world.ended(3 * 24 * H), world.ended(24 * H)
    assert world.job.run(NOW, limit=1) == NOTHING | {"decided_portal": 1, "no_show": 1, "more": True}
    assert (world.interviews.get(older.id).status, world.interviews.get(newer.id).status) == (
        InterviewStatus.NO_SHOW,
        InterviewStatus.CONFIRMED,
    )


def test_a_change_made_meanwhile_is_not_overwritten(world):
    iv = world.ended(2 * H)
    world.bookings.before_write = lambda interview_id: world.interviews.update(interview_id, {"status": "cancelled"})
    assert world.job.run(NOW) == NOTHING | {"changed_meanwhile": 1, "more": False}
    assert world.interviews.get(iv.id).status is InterviewStatus.CANCELLED and world.interviews.get(iv.id).outcome is None


def test_a_vanished_interview_counts_as_changed(world):
    iv = world.ended(2 * H)
    world.bookings.before_write = world.interviews.store.delete
    assert world.job.run(NOW)["changed_meanwhile"] == 1 and world.interviews.get(iv.id) is None
