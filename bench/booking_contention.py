"""Booking contention: concurrent creates for one host on one UTC day.

``python -m bench.booking_contention [--rounds 3] [--distinct 20] [--overlapping 8] [--json PATH]``

Runs the interviews function in-process (functions-framework's test client, one per
thread) against the Firestore emulator and the sandbox (strict Calendar, Cloud Tasks),
for one connected host, and fires concurrent ``POST /interviews`` (direct bookings,
google_meet) released together by a barrier. Every round books one fresh UTC day:

- distinct: ``--distinct`` creates of distinct 30-minute slots (06:00, 06:30, … UTC),
  each alone in its own time blocks → all 201;
- back to back: ``--distinct`` creates of 20-minute slots one after the other from 16:00 UTC,
  so that neighbours share a partially booked 15-minute block → all 201 (no goal on time:
  neighbours that share a block may contend, as they should);
- overlapping: ``--overlapping`` creates of the same 23:00–23:45 UTC slot → exactly one 201,
  the others 409 ``slot_taken``.

Reports, per case over all rounds, the request latency (p50, p95 by nearest rank, max),
the time spent in ``BookingStore.create`` (the Firestore transaction and its retries),
and the "Transaction lock timeout" failures in the emulator's log.
Goals (issue 9, item 11): distinct all 201 with p95 ≤ 2 s; overlapping exactly one 201
per round and every loser answered 409 ``slot_taken`` within 2 s. Exits 1 if missed.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from bench import LOG_DIR, connected_host, pause_email_queue
from devstack import processes
from devstack.sandbox.server import SandboxServer
from devstack.stack import (
    create_email_queue,
    function_env,
    oauth_client,
    stack_secrets,
)

GOAL_SECONDS = 2.0
LOCK_TIMEOUT = "Operation failed: Transaction lock timeout"
EMULATOR_LOGS = LOG_DIR / "booking_contention"  # its own: another benchmark's emulator log does not mix in


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.booking_contention", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--distinct", type=int, default=20, help="concurrent creates of distinct slots (at most 20)")
    parser.add_argument("--overlapping", type=int, default=8, help="concurrent creates of one slot")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args(argv)
    if not 1 <= args.distinct <= 20 or args.overlapping < 2 or args.rounds < 1:
        parser.error("--distinct 1..20, --overlapping ≥ 2, --rounds ≥ 1")
    with _stack() as (project, firestore_host, sandbox):
        results = measure(project, firestore_host, sandbox, args.rounds, args.distinct, args.overlapping)
    ok = report(results, args.rounds)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(results | {"goals_met": ok}, indent=2))
    return 0 if ok else 1


def measure(
    project: str, firestore_host: str, sandbox: SandboxServer, rounds: int, distinct: int, overlapping: int
) -> dict[str, Any]:
    from functions_framework import create_app
    from google.cloud import firestore

    from shared import bootstrap
    from shared.adapters import bookings as bookings_module
    from shared.bootstrap import Container
    from shared.config import Settings

    secrets = stack_secrets()
    for name, value in secrets.items():
        sandbox.put_secret(name, value, project=project)
    client_id, client_secret = oauth_client(secrets)
    sandbox.register_oauth_client(client_id, client_secret, ["http://127.0.0.1:9/callback"])
    create_email_queue(sandbox.url, project)
    pause_email_queue(sandbox.url, project)  # tasks are created (as in production), not dispatched here
    sandbox.sandbox.calendar.set_conferences(settle_on_insert=True)
    env = function_env(
        project_id=project,
        firestore_host=firestore_host,
        sandbox_url=sandbox.url,
        oauth_url="http://127.0.0.1:9",
        worker_url="http://127.0.0.1:9/worker",
    )
    os.environ.update(env)
    db = firestore.Client(project=project)
    container = Container(Settings.from_env(env), firestore_client=db)
    bootstrap.use_container(container)
    _, _, token = connected_host(sandbox, container, db)
    app = create_app("interviews", str(processes.ROOT / "functions" / "interviews" / "main.py"))

    # Time spent in BookingStore.create, per request thread (the same public method before and after).
    booking_seconds: dict[int, float] = {}
    original_create = bookings_module.BookingStore.create

    def timed_create(self: Any, interview: Any, now: datetime) -> None:
        started = time.perf_counter()
        try:
            original_create(self, interview, now)
        finally:
            booking_seconds[threading.get_ident()] = time.perf_counter() - started

    bookings_module.BookingStore.create = timed_create  # type: ignore[method-assign]
    first_day = datetime.now(UTC).date() + timedelta(days=2)
    try:
        # Warm-up on a day of its own: token refresh, caches, the emulator's JIT and lock manager.
        warm_day = first_day + timedelta(days=rounds + 5)
        _burst(app, token, [_body(warm_day, 6 * 60 + 30 * i, 30) for i in range(4)], booking_seconds)
        _burst(app, token, [_body(warm_day, 12 * 60, 45) for _ in range(3)], booking_seconds)
        cases: dict[str, list[dict[str, Any]]] = {"distinct": [], "back_to_back": [], "overlapping": []}
        for r in range(rounds):
            day = first_day + timedelta(days=r)
            plans = {
                "distinct": [_body(day, 6 * 60 + 30 * i, 30) for i in range(distinct)],
                "back_to_back": [_body(day, 16 * 60 + 20 * i, 20) for i in range(distinct)],
                "overlapping": [_body(day, 23 * 60, 45) for _ in range(overlapping)],
            }
            for case, bodies in plans.items():
                timeouts_before = _lock_timeouts()
                started = time.perf_counter()
                replies = _burst(app, token, bodies, booking_seconds)
                wall = time.perf_counter() - started
                time.sleep(0.3)  # the emulator's log catches up
                cases[case].append(
                    {
                        "round": r + 1,
                        "wall_s": round(wall, 3),
                        "lock_timeouts": _lock_timeouts() - timeouts_before,
                        "replies": replies,
                    }
                )
    finally:
        bookings_module.BookingStore.create = original_create  # type: ignore[method-assign]
        bootstrap.use_container(None)
    return {"rounds": rounds, "cases": cases}


@contextmanager
def _stack() -> Iterator[tuple[str, str, SandboxServer]]:
    """(project, emulator host, in-thread SandboxServer), as `bench.in_process_stack`, with the emulator's log of its own."""
    project_id = f"convene-bench-{uuid.uuid4().hex[:8]}"
    emulator = processes.start_firestore_emulator(log_dir=EMULATOR_LOGS)
    sandbox = SandboxServer(project_id).start()
    try:
        os.environ["FIRESTORE_EMULATOR_HOST"] = emulator.extra["host"]
        yield project_id, emulator.extra["host"], sandbox
    finally:
        sandbox.stop()
        emulator.stop()


def _burst(app: Any, token: str, bodies: list[dict[str, Any]], booking_seconds: dict[int, float]) -> list[dict[str, Any]]:
    """Send the creates at once (one thread and test client each); the answers with their latencies."""
    barrier = threading.Barrier(len(bodies))
    replies: list[dict[str, Any]] = [{} for _ in bodies]

    def create(i: int) -> None:
        client = app.test_client(use_cookies=False)
        barrier.wait()
        started = time.perf_counter()
        response = client.post("/interviews", headers={"Authorization": f"Bearer {token}"}, json=bodies[i])
        elapsed = time.perf_counter() - started
        body = response.get_json(silent=True) or {}
        replies[i] = {
            "status": response.status_code,
            "code": (body.get("error") or {}).get("code"),
            "seconds": round(elapsed, 4),
            "booking_seconds": round(booking_seconds.pop(threading.get_ident(), float("nan")), 4),
        }

    threads = [threading.Thread(target=create, args=(i,)) for i in range(len(bodies))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return replies


def _body(day: date, minute_of_day: int, duration: int) -> dict[str, Any]:
    start = datetime.combine(day, datetime.min.time(), tzinfo=UTC) + timedelta(minutes=minute_of_day)
    return {
        "candidate": {"email": f"c-{uuid.uuid4().hex[:8]}@candidates.example", "name": "Candidate"},
        "job_title": "Engineer",
        "date": start.date().isoformat(),
        "time": start.strftime("%H:%M"),
        "timezone": "UTC",
        "interview_type": "google_meet",
        "duration_minutes": duration,
    }


def _lock_timeouts() -> int:
    log = EMULATOR_LOGS / "firestore.log"
    try:
        return log.read_text(errors="replace").count(LOCK_TIMEOUT)
    except OSError:
        return 0


def percentile(values: list[float], p: float) -> float:
    """Nearest rank: the smallest value with at least p % of the values at or below it."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(p / 100 * len(ordered)) - 1)] if ordered else float("nan")


def summary(values: list[float]) -> dict[str, float]:
    return {
        "n": len(values),
        "p50": percentile(values, 50),
        "p95": percentile(values, 95),
        "max": max(values, default=float("nan")),
    }


def report(results: dict[str, Any], rounds: int) -> bool:
    cases = results["cases"]
    rows: list[tuple[str, list[dict[str, Any]]]] = []
    for case, label in (("distinct", "distinct 30-min slots"), ("back_to_back", "back-to-back 20-min slots")):
        rows.append((label, [reply for run in cases[case] for reply in run["replies"]]))
    overlapping = [reply for run in cases["overlapping"] for reply in run["replies"]]
    rows.append(("overlapping: the 201", [r for r in overlapping if r["status"] == 201]))
    rows.append(("overlapping: the others", [r for r in overlapping if r["status"] != 201]))
    print(f"Booking contention: concurrent POST /interviews for one host on one UTC day, {rounds} round(s)\n")
    print(
        f"{'case':<28}{'n':>4}{'201':>5}{'409':>5}{'other':>6}{'p50 s':>8}{'p95 s':>8}{'max s':>8}   {'booking p95 / max s':>20}"
    )
    for label, replies in rows:
        latency = summary([r["seconds"] for r in replies])
        booking = summary([r["booking_seconds"] for r in replies if r["booking_seconds"] == r["booking_seconds"]])
        statuses = [r["status"] for r in replies]
        print(
            f"{label:<28}{len(replies):>4}{statuses.count(201):>5}{statuses.count(409):>5}"
            f"{len(statuses) - statuses.count(201) - statuses.count(409):>6}"
            f"{latency['p50']:>8.2f}{latency['p95']:>8.2f}{latency['max']:>8.2f}   {booking['p95']:>9.2f} / {booking['max']:.2f}"
        )
    print("\nper round (wall time of the burst, max latency, emulator lock timeouts):")
    for case in cases:
        print(
            f"  {case:<13}"
            + "  ".join(
                f"r{run['round']}: {run['wall_s']:.2f} s, max {max(r['seconds'] for r in run['replies']):.2f} s, "
                f"{run['lock_timeouts']} lock timeouts"
                for run in cases[case]
            )
        )
    others = {r["code"] or r["status"] for r in overlapping if r["status"] != 201}
    if others:
        print(f"  overlapping losers answered: {sorted(map(str, others))}")
    distinct = rows[0][1]
    distinct_ok = all(r["status"] == 201 for r in distinct) and percentile([r["seconds"] for r in distinct], 95) <= GOAL_SECONDS
    overlap_ok = all(
        [r["status"] for r in run["replies"]].count(201) == 1
        and all(
            r["status"] == 409 and r["code"] == "slot_taken" and r["seconds"] <= GOAL_SECONDS
            for r in run["replies"]
            if r["status"] != 201
        )
        for run in cases["overlapping"]
    )
    back_to_back_ok = all(r["status"] == 201 for r in rows[1][1])
    results["summary"] = {label: summary([r["seconds"] for r in replies]) for label, replies in rows}
    print(
        f"\ngoals: distinct all 201, p95 ≤ {GOAL_SECONDS:.0f} s: {'met' if distinct_ok else 'MISSED'}; "
        f"back to back all 201: {'met' if back_to_back_ok else 'MISSED'}; "
        f"overlapping one 201 per round, the others 409 slot_taken within {GOAL_SECONDS:.0f} s: {'met' if overlap_ok else 'MISSED'}"
    )
    return distinct_ok and overlap_ok and back_to_back_ok


if __name__ == "__main__":
    sys.exit(main())
