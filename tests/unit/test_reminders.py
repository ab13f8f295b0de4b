from datetime import UTC, datetime, timedelta

import pytest

from shared.domain.reminders import DEFAULT_OFFSETS_MINUTES, kind_of, plan

START = datetime(2026, 6, 10, 14, 0, tzinfo=UTC)
H = timedelta(hours=1)


@pytest.mark.parametrize(
    ("now", "done", "send", "skip", "next_at"),
    [
        (START - 48 * H, (), None, (), START - 24 * H),  # nothing due yet
        (START - 24 * H - timedelta(seconds=1), (), None, (), START - 24 * H),
        (START - 24 * H, (), 1440, (), START - H),  # exactly due
        (START - 21 * H, (), 1440, (), START - H),  # a run 3 h late catches up
        (START - 21 * H, (1440,), None, (), START - H),  # already sent: nothing twice
        (START - H, (1440,), 60, (), None),
        (START - timedelta(minutes=30), (), 60, (1440,), None),  # very late: only the closest
        (START, (), None, (1440, 60), None),  # started: never
        (START + H, (1440,), None, (60,), None),
        (START - H, (1440, 60), None, (), None),
    ],
)
def test_plans(now, done, send, skip, next_at):
    result = plan(START, DEFAULT_OFFSETS_MINUTES, done, now)
    assert (result.send, result.skip, result.next_at) == (send, skip, next_at)


def test_custom_offsets_and_labels():
    result = plan(START, (2880, 1440, 15), (), START - 47 * H)
    assert (result.send, result.next_at) == (2880, START - 24 * H)
    assert [kind_of(o) for o in (1440, 60, 15, 90)] == ["24h", "1h", "15m", "90m"]


def test_arming_counts_passed_offsets_as_done():
    from shared.domain.reminders import arm

    assert arm(START, DEFAULT_OFFSETS_MINUTES, START - 48 * H) == ((), START - 24 * H)
    assert arm(START, DEFAULT_OFFSETS_MINUTES, START - 5 * H) == ((1440,), START - H)
    assert arm(START, DEFAULT_OFFSETS_MINUTES, START - timedelta(minutes=30)) == ((1440, 60), None)
