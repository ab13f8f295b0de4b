"""The attendance decision table: Meet participants or portal joins → status and outcome."""

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from shared.domain.attendance import (
    RECORD_LOOKBACK,
    Presence,
    apply_decision,
    decide_from_meet,
    decide_from_portal,
    meeting_code,
    ready_for_decision,
    record_span,
)
from shared.domain.errors import TransitionNotAllowed
from shared.domain.models import Attendance, InterviewStatus, InterviewType, JoinWindow, Outcome, Participant
from tests.factories import interview

START = datetime(2026, 6, 10, 14, 0, tzinfo=UTC)  # 45 minutes: ends 14:45
END = START + timedelta(minutes=45)
WINDOW = JoinWindow(15, 60)  # opens 13:45, closes 15:45
NOW = END + timedelta(hours=2)
M = timedelta(minutes=1)
HOST = "users/111"
IV = interview(start=START, next_reminder_at=START - timedelta(hours=1))


def host(joined: datetime, left: datetime | None) -> Presence:
    return Presence(HOST, joined, left)


def guest(joined: datetime, left: datetime | None, user: str | None = "users/222") -> Presence:
    return Presence(user, joined, left)


# --- Meet -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("presences", "status", "host_attended", "guest_attended", "actual"),
    [
        # both joined: completed, from the first join to the last leave
        (
            [host(START - 5 * M, END + 3 * M), guest(START + 2 * M, END)],
            InterviewStatus.COMPLETED,
            True,
            True,
            (START - 5 * M, END + 3 * M),
        ),
        # only the host: the candidate did not come
        ([host(START, START + 30 * M)], InterviewStatus.NO_SHOW, True, False, (None, None)),
        # no conference at all
        ([], InterviewStatus.NO_SHOW, False, False, (None, None)),
        # only the guest: the candidate came (the outcome records the host's absence)
        ([guest(START, START + 20 * M)], InterviewStatus.COMPLETED, False, True, (START, START + 20 * M)),
        # an anonymous or dial-in guest is the guest side too
        ([host(START, END), guest(START + M, END - M, user=None)], InterviewStatus.COMPLETED, True, True, (START, END)),
        # a panel: two guests and the host
        (
            [host(START, END), guest(START, END - 10 * M), guest(START + 5 * M, END + 5 * M, "users/333")],
            InterviewStatus.COMPLETED,
            True,
            True,
            (START, END + 5 * M),
        ),
        # the room was already open: an early join that lasts into the window counts from its start
        ([host(START - 3 * 60 * M, END), guest(START, END)], InterviewStatus.COMPLETED, True, True, (START - 3 * 60 * M, END)),
        # participants of another meeting in the same space (outside the window) do not count
        (
            [host(START - 4 * 60 * M, START - 3 * 60 * M), guest(START - 4 * 60 * M, START - 3 * 60 * M)],
            InterviewStatus.NO_SHOW,
            False,
            False,
            (None, None),
        ),
        ([host(START, END), guest(END + 61 * M, END + 90 * M)], InterviewStatus.NO_SHOW, True, False, (None, None)),
        # the window's edges: leaving exactly at its opening or joining at its close is outside
        ([host(START, END), guest(START - 30 * M, START - 15 * M)], InterviewStatus.NO_SHOW, True, False, (None, None)),
        ([host(START, END), guest(END + 60 * M, END + 70 * M)], InterviewStatus.NO_SHOW, True, False, (None, None)),
        # a guest who joined in the window's last minute counts
        ([guest(END + 59 * M, END + 65 * M)], InterviewStatus.COMPLETED, False, True, (END + 59 * M, END + 65 * M)),
    ],
)
def test_meet_decisions(presences, status, host_attended, guest_attended, actual):
    decision = decide_from_meet(IV, presences, HOST, WINDOW, NOW)
    assert decision is not None
    assert decision.status is status
    assert decision.outcome == Outcome("meet", host_attended, guest_attended, actual[0], actual[1], NOW)


def test_meet_duration_is_the_real_one():
    decision = decide_from_meet(
        IV, [host(START, START + 38 * M), guest(START + M, START + 38 * M + 30 * timedelta(seconds=1))], HOST, WINDOW, NOW
    )
    assert decision is not None and decision.outcome.actual_duration_minutes == 38.5


def test_someone_still_in_the_conference_means_no_decision_yet():
    assert decide_from_meet(IV, [host(START, END), guest(START, None)], HOST, WINDOW, NOW) is None
    assert decide_from_meet(IV, [host(START, None)], HOST, WINDOW, NOW) is None


def test_someone_still_in_another_meeting_of_the_space_does_not_block():
    later = guest(END + 2 * 60 * M, None)  # joined after the window closed: not this interview
    decision = decide_from_meet(IV, [host(START, END), guest(START, END), later], HOST, WINDOW, NOW)
    assert decision is not None and decision.status is InterviewStatus.COMPLETED


def test_an_interview_with_its_own_window_counts_within_that_window():
    own = replace(IV, join_window=JoinWindow(15, 120))
    late = [guest(END + 90 * M, END + 100 * M)]
    assert decide_from_meet(IV, late, HOST, WINDOW, NOW).status is InterviewStatus.NO_SHOW
    assert decide_from_meet(own, late, HOST, WINDOW, NOW).status is InterviewStatus.COMPLETED


def test_the_host_is_known_only_by_its_account_id():
    """Another signed-in user with the host's name is the guest side; so is the host under another id."""
    decision = decide_from_meet(IV, [Presence("users/999", START, END)], HOST, WINDOW, NOW)
    assert decision is not None and (decision.outcome.host_attended, decision.outcome.guest_attended) == (False, True)


# --- portal joins -----------------------------------------------------------------------------


def joins(count: int, first: datetime | None = None) -> Attendance:
    return Attendance(count, first, first)


@pytest.mark.parametrize(
    ("attendance", "status", "host_attended", "guest_attended", "actual_start"),
    [
        (
            {Participant.HOST: joins(1, START - 2 * M), Participant.GUEST: joins(2, START + M)},
            InterviewStatus.COMPLETED,
            True,
            True,
            START - 2 * M,
        ),
        ({Participant.GUEST: joins(1, START + 4 * M)}, InterviewStatus.COMPLETED, False, True, START + 4 * M),
        ({Participant.HOST: joins(3, START)}, InterviewStatus.NO_SHOW, True, False, None),
        ({}, InterviewStatus.NO_SHOW, False, False, None),
        ({Participant.HOST: joins(0), Participant.GUEST: joins(0)}, InterviewStatus.NO_SHOW, False, False, None),
        # a count without an instant (an old document): attended, start unknown
        ({Participant.GUEST: joins(1)}, InterviewStatus.COMPLETED, False, True, None),
    ],
)
def test_portal_decisions(attendance, status, host_attended, guest_attended, actual_start):
    decision = decide_from_portal(replace(IV, attendance=attendance), NOW)
    assert decision.status is status
    assert decision.outcome == Outcome("portal", host_attended, guest_attended, actual_start, None, NOW)
    assert decision.outcome.actual_duration_minutes is None  # nobody tells the portal when the meeting ended


# --- recording the decision ----------------------------------------------------------------------


def test_a_decision_goes_through_the_status_machine_and_clears_reminders():
    decision = decide_from_portal(IV, NOW)
    decided = apply_decision(IV, decision)
    assert (decided.status, decided.outcome, decided.next_reminder_at) == (InterviewStatus.NO_SHOW, decision.outcome, None)
    for status in (InterviewStatus.COMPLETED, InterviewStatus.NO_SHOW, InterviewStatus.CANCELLED, InterviewStatus.PENDING):
        with pytest.raises(TransitionNotAllowed):
            apply_decision(replace(IV, status=status), decision)


# --- which interviews, which records -------------------------------------------------------------


@pytest.mark.parametrize(
    ("changes", "now", "ready"),
    [
        ({}, END + 60 * M, True),  # the window has just closed
        ({}, END + 59 * M, False),  # a late joiner may still come
        ({}, END + 30 * timedelta(days=1), True),  # the last day Meet keeps records
        ({}, END + 30 * timedelta(days=1) + M, False),  # records gone: not ours to decide
        ({"join_window": JoinWindow(15, 120)}, END + 90 * M, False),  # its own, longer window
        ({"join_window": JoinWindow(15, 120)}, END + 120 * M, True),
        ({"status": InterviewStatus.CANCELLED}, NOW, False),
        ({"status": InterviewStatus.COMPLETED}, NOW, False),
        ({"status": InterviewStatus.PENDING}, NOW, False),
        ({"type": InterviewType.PHONE, "meet_link": None, "phone": "+49 30 1234"}, NOW, False),
        ({"type": InterviewType.CUSTOM_VIDEO}, NOW, False),
    ],
)
def test_ready_for_decision(changes, now, ready):
    assert ready_for_decision(replace(IV, **changes), WINDOW, now) is ready


def test_record_span_reaches_back_before_the_window_and_ends_at_its_close():
    assert record_span(IV, WINDOW) == (START - 15 * M - RECORD_LOOKBACK, END + 60 * M)


@pytest.mark.parametrize(
    ("link", "code"),
    [
        ("https://meet.google.com/abc-mnop-xyz", "abc-mnop-xyz"),
        ("https://meet.google.com/abc-mnop-xyz?authuser=1", "abc-mnop-xyz"),
        ("https://meet.google.com/abc-mnop-xyz/", "abc-mnop-xyz"),
        ("https://meet.google.com/lookup/abcdef", None),
        ("https://meet.example.com/abc-mnop-xyz", None),
        ("https://zoom.us/j/123", None),
        ('https://meet.google.com/abc-mnop-xyz" OR 1', None),
        ("", None),
        (None, None),
    ],
)
def test_meeting_code(link, code):
    assert meeting_code(link) == code
