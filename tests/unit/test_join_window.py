"""The join window and meeting status, to the second at every edge."""

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from shared.domain.join_window import MeetingStatus as M
from shared.domain.join_window import join_state
from shared.domain.models import Interview, InterviewStatus, InterviewType, JoinWindow, Person

START = datetime(2026, 6, 1, 14, 0, tzinfo=UTC)
DEFAULT = JoinWindow(opens_minutes_before=15, closes_minutes_after_end=60)
SECOND = timedelta(seconds=1)


def interview(**changes) -> Interview:
    base = Interview(
        id="iv1",
        workspace_id="ws1",
        host=Person("h@example.com", "Hana", "uid-h"),
        guest=Person("g@example.com", "Gus"),
        start=START,
        timezone="Europe/Berlin",
        type=InterviewType.GOOGLE_MEET,
        status=InterviewStatus.CONFIRMED,
        duration_minutes=60,
        meet_link="https://meet.google.com/abc-defg-hij",
    )
    return replace(base, **changes)


OPENS = START - timedelta(minutes=15)
END = START + timedelta(minutes=60)
CLOSES = END + timedelta(minutes=60)


@pytest.mark.parametrize(
    ("now", "status", "can_join"),
    [
        (START - timedelta(days=2), M.UPCOMING, False),
        (OPENS - SECOND, M.UPCOMING, False),
        (OPENS, M.READY, True),
        (START - SECOND, M.READY, True),
        (START, M.IN_PROGRESS, True),
        (END, M.IN_PROGRESS, True),
        (CLOSES - SECOND, M.IN_PROGRESS, True),
        (CLOSES, M.ENDED, False),
        (CLOSES + timedelta(days=3), M.ENDED, False),
    ],
)
def test_confirmed_interview_edges(now, status, can_join):
    state = join_state(interview(), now, DEFAULT)
    assert (state.meeting_status, state.can_join) == (status, can_join)
    assert (state.opens_at, state.closes_at) == (OPENS, CLOSES)


@pytest.mark.parametrize("now", [OPENS - SECOND, OPENS, START, CLOSES - SECOND, CLOSES])
def test_cancelled_is_never_joinable(now):
    state = join_state(interview(status=InterviewStatus.CANCELLED), now, DEFAULT)
    assert (state.meeting_status, state.can_join) == (M.CANCELLED, False)


@pytest.mark.parametrize("status", [InterviewStatus.COMPLETED, InterviewStatus.NO_SHOW])
def test_finished_interviews_are_ended_even_inside_the_window(status):
    state = join_state(interview(status=status), START + timedelta(minutes=5), DEFAULT)
    assert (state.meeting_status, state.can_join) == (M.ENDED, False)


def test_pending_interview_shows_its_timing_but_cannot_be_joined():
    state = join_state(interview(status=InterviewStatus.PENDING, meet_link=None), START - SECOND, DEFAULT)
    assert (state.meeting_status, state.can_join) == (M.READY, False)


def test_a_per_interview_window_overrides_the_default():
    custom = interview(join_window=JoinWindow(opens_minutes_before=5, closes_minutes_after_end=0))
    assert join_state(custom, START - timedelta(minutes=5) - SECOND, DEFAULT).meeting_status is M.UPCOMING
    assert join_state(custom, START - timedelta(minutes=5), DEFAULT).can_join
    assert join_state(custom, END - SECOND, DEFAULT).can_join
    assert join_state(custom, END, DEFAULT).meeting_status is M.ENDED


def test_a_configured_default_window_is_used():
    state = join_state(interview(), START - timedelta(minutes=30), JoinWindow(30, 0))
    assert state.can_join and state.closes_at == END


@pytest.mark.parametrize(
    ("now", "minutes"),
    [
        (START - timedelta(hours=2), 120),
        (START - timedelta(minutes=1, seconds=1), 2),  # rounded up: "starts in 2 minutes"
        (START - timedelta(minutes=1), 1),
        (START - SECOND, 1),
        (START, 0),
        (START + timedelta(minutes=10), 0),
    ],
)
def test_minutes_until_start(now, minutes):
    assert join_state(interview(), now, DEFAULT).minutes_until_start == minutes


def test_window_across_a_dst_change_is_measured_in_real_time():
    # 2026-03-29 in Berlin: 01:50 CET is 00:50 UTC; the start at 03:05 CEST is 01:05 UTC.
    start = datetime(2026, 3, 29, 1, 5, tzinfo=UTC)
    iv = interview(start=start, duration_minutes=30)
    # 15 real minutes before the start, although the wall clock jumped an hour in between.
    assert join_state(iv, start - timedelta(minutes=15), DEFAULT).can_join
    assert not join_state(iv, start - timedelta(minutes=15) - SECOND, DEFAULT).can_join
