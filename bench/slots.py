"""The pure slot computation: 60 days, 200 busy blocks, in well under 5 ms.

``python -m bench.slots [--runs 200] [--busy 200] [--days 60] [--zone Europe/Berlin] [--json PATH]``

Times ``shared.domain.slots.free_slots`` alone (no I/O): a configuration with working hours
09:00–12:00 and 13:00–17:00 Monday to Friday, 30-minute slots every 15 minutes, buffers
10 minutes before and 5 after, in a zone with a DST change inside the window; a 60-day
window; 200 busy blocks (15 minutes to 3 hours, some overlapping, a few all-day ones)
and 20 existing bookings with their own buffers, spread over it by a seeded generator.
One warm-up call, then ``--runs`` timed calls: wall time (``time.perf_counter_ns``) and the
thread's CPU time (``time.thread_time_ns``, which a busy shared machine does not inflate).
Prints the slot count, median, p95, min and max in milliseconds. Goal: median wall time
< 5 ms. Exits 1 if missed.
"""

from __future__ import annotations

import argparse
import json
import platform
import random
import statistics
import sys
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from shared.domain.scheduling import SchedulingConfig, WorkingRange
from shared.domain.slots import Booked, Interval, free_slots, local_date_window

GOAL_MS = 5.0
START = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)  # a Monday; Berlin and New York change clocks in the window


@dataclass(frozen=True)
class Scenario:
    config: SchedulingConfig
    window: Interval
    busy: list[Interval]
    bookings: list[Booked]


def scenario(days: int, busy_count: int, tz_name: str, seed: int = 7) -> Scenario:
    hours = (WorkingRange(9 * 60, 12 * 60), WorkingRange(13 * 60, 17 * 60))
    config = SchedulingConfig(
        id="cfg-bench",
        workspace_id="ws",
        host_uid="host",
        name="30-minute screening",
        timezone=tz_name,
        calendar_ids=("primary", "team@example.com"),
        duration_minutes=30,
        working_hours={day: hours for day in range(5)},
        slot_step_minutes=15,
        buffer_before_minutes=10,
        buffer_after_minutes=5,
        days_ahead=days,
        daily_cap=8,
    )
    rng = random.Random(seed)
    first_day = START.date() + timedelta(days=1)
    window = local_date_window(first_day, tz_name, last=first_day + timedelta(days=days - 1))
    span = int((window.end - window.start).total_seconds() // 60)
    busy = []
    for i in range(busy_count):
        if i % 40 == 0:  # an all-day (or two-day) event: midnight to midnight UTC, as Google reports some
            day = window.start.replace(hour=0, minute=0) + timedelta(days=rng.randrange(days))
            busy.append(Interval(day, day + timedelta(days=rng.choice((1, 2)))))
            continue
        start = window.start + timedelta(minutes=rng.randrange(0, span, 5))
        busy.append(Interval(start, start + timedelta(minutes=rng.choice((15, 30, 45, 60, 90, 120, 180)))))
    bookings = []
    for _ in range(20):
        start = window.start + timedelta(minutes=rng.randrange(0, span, 15))
        bookings.append(Booked(start, start + timedelta(minutes=30), 10, 5, rng.choice(("cfg-bench", "other", None))))
    return Scenario(config, window, busy, bookings)


def measure(runs: int, days: int, busy_count: int, tz_name: str) -> dict[str, float]:
    s = scenario(days, busy_count, tz_name)

    def call() -> int:
        slots = free_slots(
            s.config, window_start=s.window.start, window_end=s.window.end, now=START, busy=s.busy, bookings=s.bookings
        )
        return len(slots)

    slots = call()  # warm-up: the zone's file, caches
    timings, cpu = [], []
    for _ in range(runs):
        t0, c0 = time.perf_counter_ns(), time.thread_time_ns()
        call()
        c1, t1 = time.thread_time_ns(), time.perf_counter_ns()
        timings.append((t1 - t0) / 1e6)
        cpu.append((c1 - c0) / 1e6)
    timings.sort()
    cpu.sort()
    return {
        "runs": runs,
        "days": days,
        "busy_blocks": busy_count,
        "bookings": len(s.bookings),
        "slots": slots,
        "median_ms": statistics.median(timings),
        "p95_ms": _p95(timings),
        "max_ms": timings[-1],
        "min_ms": timings[0],
        "cpu_median_ms": statistics.median(cpu),
        "cpu_p95_ms": _p95(cpu),
    }


def _p95(ordered: list[float]) -> float:
    return ordered[min(len(ordered) - 1, round(0.95 * len(ordered)) - 1)]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.slots", description=__doc__)
    parser.add_argument("--runs", type=int, default=200)
    parser.add_argument("--busy", type=int, default=200)
    parser.add_argument("--days", type=int, default=60)
    parser.add_argument("--zone", default="Europe/Berlin")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args(argv)
    figures = measure(args.runs, args.days, args.busy, args.zone)
    ok = figures["median_ms"] < GOAL_MS
    print(f"free_slots: {args.days} days, {args.busy} busy blocks, {figures['bookings']:.0f} bookings, {args.zone}")
    print(f"  (Python {platform.python_version()}, {args.runs} runs after 1 warm-up)")
    print(f"slots returned   {figures['slots']:>8.0f}")
    print(f"median           {figures['median_ms']:>8.3f} ms   (goal < {GOAL_MS} ms: {'met' if ok else 'MISSED'})")
    print(f"p95              {figures['p95_ms']:>8.3f} ms")
    print(f"min / max        {figures['min_ms']:>8.3f} / {figures['max_ms']:.3f} ms")
    print(f"CPU time median  {figures['cpu_median_ms']:>8.3f} ms   p95 {figures['cpu_p95_ms']:.3f} ms (this thread only: not")
    print("                                  inflated when other processes hold the CPU)")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(figures, indent=2))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
