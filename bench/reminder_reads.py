"""A reminder run's cost grows with what is due, not with what is stored.

``python -m bench.reminder_reads [--stored 50000] [--due 100] [--json PATH]``

Seeds ``--stored`` interviews in the Firestore emulator, ``--due`` of them with a reminder
due now, then runs the reminder job once (the real one: queries, queues emails through the
sandbox's Cloud Tasks, advances the state) and counts the documents it read. Side by side,
in the same process, it times one bare query returning the same due documents — the floor
of any run. Goal: ≤ due + 10 reads. Exits 1 if the goal is missed.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from bench import bench_stack, pause_email_queue
from devstack.firestore_ops import count_operations
from devstack.stack import create_email_queue, function_env


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.reminder_reads", description=__doc__)
    parser.add_argument("--stored", type=int, default=50_000)
    parser.add_argument("--due", type=int, default=100)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args(argv)
    # The sandbox runs in its own process, as Cloud Tasks is remote in production: in this one
    # it would compete with the run for the interpreter lock.
    with bench_stack() as stack:
        figures = run(stack.project_id, stack.firestore_host, stack.sandbox.url, args.stored, args.due)
    goal = figures["reads"] <= args.due + 10
    print(f"stored interviews            {args.stored:>10}")
    print(f"due reminders                {args.due:>10}")
    print(f"documents read by the run    {figures['reads']:>10}   (goal ≤ {args.due + 10}: {'met' if goal else 'MISSED'})")
    print(f"reminders queued             {figures['queued']:>10}")
    print(f"run time                     {figures['run_ms']:>10.0f} ms  (query, 2 emails queued per interview, state advanced)")
    print(f"bare query, same documents   {figures['query_ms']:>10.0f} ms  (median of 5)")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(figures, indent=2))
    return 0 if goal else 1


def run(project: str, firestore_host: str, sandbox_url: str, stored: int, due: int) -> dict[str, float]:
    from google.cloud import firestore
    from google.cloud.firestore_v1.base_query import FieldFilter

    from shared.adapters.firestore import INTERVIEWS, interview_to_document
    from shared.bootstrap import Container
    from shared.config import Settings
    from shared.domain.models import Interview, InterviewStatus, InterviewType, Person

    create_email_queue(sandbox_url, project)
    pause_email_queue(sandbox_url, project)
    env = function_env(
        project_id=project, firestore_host=firestore_host, sandbox_url=sandbox_url, worker_url="http://127.0.0.1:9/worker"
    )
    db = firestore.Client(project=project)
    now = datetime.now(UTC).replace(microsecond=0)
    started = time.perf_counter()
    batch, in_batch = db.batch(), 0
    for i in range(stored):
        is_due = i < due
        start = now + (timedelta(hours=23, minutes=30) if is_due else timedelta(days=3 + i % 300))
        interview = Interview(
            id=f"bench{i:07d}",
            workspace_id="ws-bench",
            host=Person("h@bench.example", "Host", "uid-h"),
            guest=Person(f"g{i}@bench.example", "Guest"),
            start=start,
            timezone="UTC",
            type=InterviewType.PHONE,
            status=InterviewStatus.CONFIRMED,
            phone="+1 555 0100",
            ical_uid=f"bench{i}@convene",
            next_reminder_at=start - timedelta(hours=24),
            created_at=now,
            updated_at=now,
        )
        batch.set(db.collection(INTERVIEWS).document(interview.id), interview_to_document(interview))
        in_batch += 1
        if in_batch == 500:
            batch.commit()
            batch, in_batch = db.batch(), 0
    if in_batch:
        batch.commit()
    print(f"seeded {stored} interviews in {time.perf_counter() - started:.1f} s", file=sys.stderr)

    query = db.collection(INTERVIEWS).where(filter=FieldFilter("next_reminder_at", "<=", now)).order_by("next_reminder_at")
    query_ms = []
    for _ in range(5):
        began = time.perf_counter()
        found = list(query.stream())
        query_ms.append((time.perf_counter() - began) * 1000)
    assert len(found) == due, len(found)

    container = Container(Settings.from_env(env), firestore_client=db)
    counts = count_operations(db)
    began = time.perf_counter()
    summary = container.reminder_run.run(now)
    run_ms = (time.perf_counter() - began) * 1000
    return {
        "stored": stored,
        "due": due,
        "reads": counts.reads,
        "writes": counts.writes,
        "queued": summary["reminders_queued"],
        "run_ms": run_ms,
        "query_ms": statistics.median(query_ms),
    }


if __name__ == "__main__":
    sys.exit(main())
