"""Which reminder is due, and when the next one falls due (SPEC §2.4). Pure.

An interview carries its reminder offsets (minutes before the start; 24 h and 1 h by
default), the offsets already sent for its current time, and ``next_reminder_at``: the
one field the scheduled run queries, so its cost grows with what is due, not with what
is stored. Rules:
- nothing is sent once the meeting has started (a missed run is caught up only before);
- if several offsets are due at once (a run very late), only the closest to the start is
  sent — the others are recorded as skipped, not sent in a burst;
- a reschedule clears what was sent, so the reminders fire again for the new time.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

DEFAULT_OFFSETS_MINUTES: tuple[int, ...] = (24 * 60, 60)


@dataclass(frozen=True)
class ReminderPlan:
    send: int | None  # the offset (minutes) to send now, if any
    skip: tuple[int, ...]  # due offsets passed over in favour of `send`
    next_at: datetime | None  # when the next offset falls due (None: no more reminders)


def kind_of(offset_minutes: int) -> str:
    """A stable label: "24h", "1h", "30m"…"""
    return f"{offset_minutes // 60}h" if offset_minutes % 60 == 0 else f"{offset_minutes}m"


def plan(start: datetime, offsets: Iterable[int], done: Iterable[int], now: datetime) -> ReminderPlan:
    offsets = tuple(sorted(set(offsets), reverse=True))  # furthest from the start first
    done_set = set(done)
    if now >= start:
        return ReminderPlan(None, tuple(o for o in offsets if o not in done_set), None)
    due = [o for o in offsets if o not in done_set and start - timedelta(minutes=o) <= now]
    send = min(due) if due else None  # the offset closest to the start
    skip = tuple(o for o in due if o != send)
    remaining = [o for o in offsets if o not in done_set and o not in due]
    next_at = min((start - timedelta(minutes=o) for o in remaining), default=None)
    return ReminderPlan(send, skip, next_at)


def arm(start: datetime, offsets: Iterable[int], now: datetime) -> tuple[tuple[int, ...], datetime | None]:
    """Reminders for a newly confirmed or moved interview: (offsets treated as done, next due time).

    Offsets whose time has already passed count as done: booking an interview 30 minutes
    ahead sends the invitation, not an instant "in 1 hour" reminder as well.
    """
    offsets = tuple(sorted(set(offsets), reverse=True))
    passed = tuple(o for o in offsets if start - timedelta(minutes=o) <= now)
    upcoming = [start - timedelta(minutes=o) for o in offsets if o not in passed]
    return passed, (min(upcoming) if upcoming and start > now else None)
