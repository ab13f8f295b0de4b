"""Time as an injectable dependency: code asks a Clock, tests set it, nobody sleeps."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from typing import Protocol


class Clock(Protocol):
    def now(self) -> datetime:
        """The current instant, timezone-aware, in UTC."""


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)


class FixedClock:
    """A clock that only moves when told to (tests, benchmarks, demos)."""

    def __init__(self, at: datetime):
        self._lock = threading.Lock()
        self._now = _utc(at)

    def now(self) -> datetime:
        with self._lock:
            return self._now

    def set(self, at: datetime) -> None:
        with self._lock:
            self._now = _utc(at)

    def advance(self, delta: timedelta) -> None:
        with self._lock:
            self._now += delta


def _utc(at: datetime) -> datetime:
    if at.tzinfo is None:
        raise ValueError("FixedClock needs a timezone-aware datetime")
    return at.astimezone(UTC)
