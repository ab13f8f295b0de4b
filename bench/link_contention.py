"""Booking-link contention: guests booking one host concurrently through one link.

``python -m bench.link_contention [--rounds 3] [--guests 20] [--json PATH]``

The scheduling function runs as a real HTTP server process (``python -m functions_framework``,
gunicorn, as ``make dev`` and Cloud Run run it: 1 worker, functions-framework's default
threads) against the Firestore emulator (a log of its own) and an in-thread sandbox (strict
Calendar with free/busy, OAuth, Secret Manager, Cloud Tasks with the email queue paused: the
invitation tasks are created, not dispatched). One connected host; its configuration checks 3
calendars (primary + 2 secondary), 30-minute slots every 30 minutes, 08:00–18:00 Berlin time on
workdays, no buffers, direct booking; it and every link are created through the function's HTTP
API with the host's ID token. After a warm-up (token refresh, certificates, the emulator's JIT;
a link and a day of its own), every round, on fresh UTC-free workdays, fires ``--guests`` threads
released together by a barrier, each ``POST /links/{link}/bookings`` over its own connection:

- distinct: ``--guests`` guests through ONE link, each a different slot of one day
  (08:00, 08:30, … Berlin) → all 201;
- one slot: ``--guests`` guests through ONE other link (the hourly limit is 30 bookings per
  link) for the same slot → exactly one 201, every other answer 409 ``slot_unavailable``
  with ``error.details.available_slots``: fresh slots of the day, never the taken one.

Afterwards Firestore is checked: one confirmed interview per slot won, none for a lost race.
Reports per case the request latency (p50, p95 by nearest rank, max), the burst's wall time
and its answers, and the Google calls of the burst from the sandbox's call log (free/busy
queries: one per booking's slot check, one more per loser refused by the booking
transaction, whose 409 lists the day's slots afresh; Calendar event inserts; CreateTask). Goals (issue 11): distinct all 201; one slot exactly one 201 and the others
409 ``slot_unavailable`` with fresh slots. Exits 1 if missed.
"""

from __future__ import annotations

import argparse
import http.client
import json
import math
import os
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from bench import LOG_DIR
from bench.availability_ops import (
    TZ,
    WORKSPACE,
    config_body,
    guest_body,
    local,
    prepare_sandbox,
    scheduling_host,
    workdays_from,
)
from devstack import processes
from devstack.sandbox.server import SandboxServer

LOGS = LOG_DIR / "link_contention"  # its own emulator and function logs
HOURS = [{"start": "08:00", "end": "18:00"}]
TIMEOUT_SECONDS = 120


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.link_contention", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--guests", type=int, default=20, help="concurrent guests per burst (2..20: 20 slots a day)")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args(argv)
    if not 2 <= args.guests <= 20 or args.rounds < 1:
        parser.error("--guests 2..20, --rounds ≥ 1")
    with _stack() as (project, sandbox):
        results = measure(project, sandbox, args.rounds, args.guests)
    ok = report(results)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(results | {"goals_met": ok}, indent=2))
    return 0 if ok else 1


@contextmanager
def _stack() -> Iterator[tuple[str, SandboxServer]]:
    project_id = f"convene-bench-{uuid.uuid4().hex[:8]}"
    emulator = processes.start_firestore_emulator(log_dir=LOGS)
    sandbox = SandboxServer(project_id).start()
    previous = os.environ.get("FIRESTORE_EMULATOR_HOST")
    try:
        os.environ["FIRESTORE_EMULATOR_HOST"] = emulator.extra["host"]
        yield project_id, sandbox
    finally:
        sandbox.stop()
        emulator.stop()
        if previous is None:
            os.environ.pop("FIRESTORE_EMULATOR_HOST", None)
        else:
            os.environ["FIRESTORE_EMULATOR_HOST"] = previous


def measure(project: str, sandbox: SandboxServer, rounds: int, guests: int) -> dict[str, Any]:
    from google.cloud import firestore

    from shared.bootstrap import Container
    from shared.config import Settings

    env = prepare_sandbox(sandbox, project)
    db = firestore.Client(project=project)
    seeding = Container(Settings.from_env(env), firestore_client=db)  # seeds the host's connection (token key)
    host = scheduling_host(sandbox, seeding, db)
    service = processes.start_function("scheduling", env=env, log_dir=LOGS)
    try:
        base = service.url
        body = config_body(host, working_hours={d: HOURS for d in ("monday", "tuesday", "wednesday", "thursday", "friday")})
        body |= {"slot_step_minutes": 30, "buffer_before_minutes": 0, "buffer_after_minutes": 0}
        config = _expect(_call(base, "POST", "/scheduling-configs", body, token=host.token), 201, "create config")

        def new_link(label: str) -> str:
            reply = _call(base, "POST", f"/scheduling-configs/{config['id']}/booking-links", {"label": label}, token=host.token)
            return str(_expect(reply, 201, "create link")["id"])

        days = workdays_from(datetime.now(TZ).date() + timedelta(days=2), 2 * rounds + 1)
        warm_day, days = days[-1], days[:-1]
        warm_link = new_link("warm-up")
        _expect(_call(base, "GET", f"/links/{warm_link}?date={warm_day.isoformat()}"), 200, "warm-up view")
        _burst(base, warm_link, [local(warm_day, f"{h:02d}:00") for h in (8, 9, 10, 11)])
        _burst(base, warm_link, [local(warm_day, "14:00")] * 3)

        cases: dict[str, list[dict[str, Any]]] = {"distinct": [], "one_slot": []}
        for r in range(rounds):
            distinct_day, race_day = days[2 * r], days[2 * r + 1]
            link = new_link(f"distinct r{r + 1}")
            starts = [local(distinct_day, "08:00") + timedelta(minutes=30 * i) for i in range(guests)]
            before = _google_calls(sandbox)
            started = time.perf_counter()
            replies = _burst(base, link, starts)
            wall = round(time.perf_counter() - started, 3)
            cases["distinct"].append(
                {
                    "round": r + 1,
                    "day": distinct_day.isoformat(),
                    "wall_s": wall,
                    "replies": replies,
                    "stored": _stored(db, host.uid, starts),
                    "google": _google_calls(sandbox, before),
                }
            )
            link = new_link(f"one slot r{r + 1}")
            slot = local(race_day, "10:00")
            before = _google_calls(sandbox)
            started = time.perf_counter()
            replies = _burst(base, link, [slot] * guests)
            wall = round(time.perf_counter() - started, 3)
            cases["one_slot"].append(
                {
                    "round": r + 1,
                    "day": race_day.isoformat(),
                    "slot": _utc(slot),
                    "wall_s": wall,
                    "replies": replies,
                    "stored": _stored(db, host.uid, [slot]),
                    "google": _google_calls(sandbox, before),
                }
            )
    finally:
        service.stop()
    return {"rounds": rounds, "guests": guests, "load_average": [round(x, 2) for x in os.getloadavg()], "cases": cases}


def _google_calls(sandbox: SandboxServer, before: dict[str, int] | None = None) -> dict[str, int]:
    """Calls in the sandbox's log so far (minus ``before``): free/busy, event inserts, token refreshes, CreateTask."""
    calls = sandbox.calls()
    counts = {
        "freebusy": sum(1 for c in calls if c["path"] == "/calendar/v3/freeBusy"),
        "event_inserts": sum(1 for c in calls if c["method"] == "POST" and c["path"].endswith("/events")),
        "token_refreshes": sum(1 for c in calls if c["path"] == "/token"),
        "tasks_created": sum(1 for c in calls if c["method"] == "POST" and c["path"].endswith("/tasks")),
    }
    return {k: v - (before or {}).get(k, 0) for k, v in counts.items()}


def _utc(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _call(base: str, method: str, path: str, body: Any = None, *, token: str | None = None) -> tuple[int, Any, float]:
    """One request over its own connection: (status, JSON body, seconds)."""
    parts = urlsplit(base)
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=TIMEOUT_SECONDS)
    started = time.perf_counter()
    try:
        connection.request(method, path, body=None if body is None else json.dumps(body), headers=headers)
        response = connection.getresponse()
        raw = response.read()
        elapsed = time.perf_counter() - started
    finally:
        connection.close()
    try:
        data = json.loads(raw)
    except ValueError:
        data = {"raw": raw[:200].decode("utf-8", "replace")}
    return response.status, data, elapsed


def _expect(reply: tuple[int, Any, float], wanted: int, what: str) -> Any:
    status, body, _ = reply
    if status != wanted:
        raise SystemExit(f"{what} answered {status} (expected {wanted}): {json.dumps(body)[:500]}")
    return body


def _burst(base: str, link: str, starts: list[datetime]) -> list[dict[str, Any]]:
    """The bookings at once (one thread and connection each, released by a barrier)."""
    barrier = threading.Barrier(len(starts))
    replies: list[dict[str, Any]] = [{} for _ in starts]

    def book(i: int) -> None:
        body = guest_body(starts[i])
        barrier.wait()
        try:
            status, data, seconds = _call(base, "POST", f"/links/{link}/bookings", body)
        except OSError as error:
            replies[i] = {"status": 0, "code": type(error).__name__, "seconds": float("nan"), "asked": body["start"]}
            return
        error = (data or {}).get("error") or {}
        fresh = (error.get("details") or {}).get("available_slots")
        replies[i] = {
            "status": status,
            "code": error.get("code"),
            "seconds": round(seconds, 4),
            "asked": body["start"],
            "fresh_slots": None if fresh is None else [s.get("start") for s in fresh],
        }

    threads = [threading.Thread(target=book, args=(i,)) for i in range(len(starts))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return replies


def _stored(db: Any, host_uid: str, starts: list[datetime]) -> dict[str, int]:
    """Active (pending or confirmed) interviews of the host stored at each start."""
    from google.cloud.firestore_v1.base_query import FieldFilter

    found: dict[str, int] = {}
    for start in dict.fromkeys(starts):
        query = (
            db.collection("interviews")
            .where(filter=FieldFilter("workspace_id", "==", WORKSPACE))
            .where(filter=FieldFilter("host.uid", "==", host_uid))
            .where(filter=FieldFilter("start", "==", start.astimezone(UTC)))
        )
        found[_utc(start)] = sum(1 for s in query.stream() if (s.to_dict() or {}).get("status") in ("pending", "confirmed"))
    return found


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


def _race_ok(run: dict[str, Any]) -> tuple[bool, list[str]]:
    """One 201; every other answer 409 slot_unavailable with fresh slots that leave out the taken one."""
    problems = []
    replies = run["replies"]
    winners = [r for r in replies if r["status"] == 201]
    if len(winners) != 1:
        problems.append(f"{len(winners)} answers 201 (expected exactly 1)")
    for r in replies:
        if r["status"] == 201:
            continue
        if r["status"] != 409 or r["code"] != "slot_unavailable":
            problems.append(f"a loser answered {r['status']} {r['code']}")
        elif r["fresh_slots"] is None:
            problems.append("a 409 without error.details.available_slots")
        elif run["slot"] in r["fresh_slots"]:
            problems.append("a 409 offers the taken slot again")
        elif not r["fresh_slots"]:
            problems.append("a 409 with no fresh slot (the day has others)")
    if list(run["stored"].values()) != [1]:
        problems.append(f"stored interviews at the slot: {run['stored']}")
    return not problems, problems


def _google(run: dict[str, Any]) -> str:
    g = run["google"]
    return f"{g['freebusy']} free/busy, {g['event_inserts']} event inserts, {g['tasks_created']} tasks, {g['token_refreshes']} refreshes"


def report(results: dict[str, Any]) -> bool:
    cases = results["cases"]
    distinct = [r for run in cases["distinct"] for r in run["replies"]]
    race = [r for run in cases["one_slot"] for r in run["replies"]]
    rows = [
        (f"distinct slots, one link ({results['guests']})", distinct),
        ("one slot: the 201", [r for r in race if r["status"] == 201]),
        ("one slot: the others", [r for r in race if r["status"] != 201]),
    ]
    print(
        f"Booking-link contention: {results['guests']} concurrent POST /links/{{link}}/bookings for one host, "
        f"{results['rounds']} round(s), scheduling function as its own HTTP server process\n"
    )
    print(f"{'case':<30}{'n':>4}{'201':>5}{'409':>5}{'other':>6}{'p50 s':>8}{'p95 s':>8}{'max s':>8}")
    for label, replies in rows:
        latency = summary([r["seconds"] for r in replies if r["seconds"] == r["seconds"]])
        statuses = [r["status"] for r in replies]
        print(
            f"{label:<30}{len(replies):>4}{statuses.count(201):>5}{statuses.count(409):>5}"
            f"{len(statuses) - statuses.count(201) - statuses.count(409):>6}"
            f"{latency['p50']:>8.2f}{latency['p95']:>8.2f}{latency['max']:>8.2f}"
        )
    print("\nper round (the burst's wall time; answers; interviews stored):")
    distinct_ok = True
    for run in cases["distinct"]:
        statuses = [r["status"] for r in run["replies"]]
        stored_ok = all(n == 1 for n in run["stored"].values())
        distinct_ok &= statuses.count(201) == len(statuses) and stored_ok
        others = sorted({f"{r['status']} {r['code']}" for r in run["replies"] if r["status"] != 201})
        print(
            f"  distinct r{run['round']} ({run['day']}): {run['wall_s']:.2f} s, {statuses.count(201)} × 201"
            + (f", others: {others}" if others else "")
            + f"; one interview per slot: {'yes' if stored_ok else 'NO ' + str(run['stored'])}; google: {_google(run)}"
        )
    race_ok = True
    for run in cases["one_slot"]:
        ok, problems = _race_ok(run)
        race_ok &= ok
        losers = [r for r in run["replies"] if r["status"] != 201]
        fresh = [len(r["fresh_slots"] or []) for r in losers]
        print(
            f"  one slot r{run['round']} ({run['slot']}): {run['wall_s']:.2f} s, "
            f"{[r['status'] for r in run['replies']].count(201)} × 201, "
            f"{sum(1 for r in losers if r['status'] == 409 and r['code'] == 'slot_unavailable')} × 409 slot_unavailable "
            f"(fresh slots {min(fresh, default=0)}–{max(fresh, default=0)}, the taken one never among them); "
            f"stored at the slot: {sum(run['stored'].values())}; google: {_google(run)}"
            + ("" if ok else f" — {'; '.join(dict.fromkeys(problems))}")
        )
    results["summary"] = {label: summary([r["seconds"] for r in replies]) for label, replies in rows}
    print(f"\nload average at the end: {results['load_average']}")
    print(
        f"goals: distinct all 201: {'met' if distinct_ok else 'MISSED'}; one slot exactly one 201, the others "
        f"409 slot_unavailable with fresh slots: {'met' if race_ok else 'MISSED'}"
    )
    return distinct_ok and race_ok


if __name__ == "__main__":
    sys.exit(main())
