"""What one interview create costs: Calendar calls, Firestore transactions, Cloud Tasks.

``python -m bench.create_ops [--creates N] [--json PATH]``

Runs the interviews function in-process (functions-framework's test client) against the
Firestore emulator and the sandbox (strict Calendar, Cloud Tasks), for a connected host,
and counts per create, from the sandbox's call log and a counting Firestore client:
- Calendar calls: 1 when Google answers the insert with the Meet link (what it usually
  does), 2 when the conference is still pending and one re-read fetches the link;
- Firestore transactions: 1 (the interview and the host's slot, atomically);
- Cloud Tasks created: 1 per email (2: the candidate and the host).
Exits 1 if a figure is off its goal.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from bench import connected_host, in_process_stack
from devstack import processes
from devstack.firestore_ops import count_operations
from devstack.sandbox.server import SandboxServer
from devstack.stack import create_email_queue, function_env, oauth_client, stack_secrets

GOALS = {"calendar_calls": (1, 2), "transactions": (1, 1), "tasks": (2, 2)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.create_ops", description=__doc__)
    parser.add_argument("--creates", type=int, default=10)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args(argv)
    with in_process_stack() as (project, firestore_host, sandbox):
        rows = {
            mode: measure(project, firestore_host, sandbox, args.creates, settle)
            for mode, settle in (("Meet link in the insert answer", True), ("Meet link pending, one re-read", False))
        }
    print(f"Per interview create ({args.creates} creates each, google_meet, direct booking):\n")
    print(f"{'case':<34}{'Calendar calls':>16}{'transactions':>14}{'tasks':>8}")
    ok = True
    for mode, figures in rows.items():
        print(f"{mode:<34}{figures['calendar_calls']:>16.1f}{figures['transactions']:>14.1f}{figures['tasks']:>8.1f}")
        for name, (low, high) in GOALS.items():
            ok &= low <= figures[name] <= high
    print("\ngoals: Calendar 1 (2 with a pending conference), 1 transaction, 1 task per email (2):", "met" if ok else "MISSED")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(rows, indent=2))
    return 0 if ok else 1


def measure(project: str, firestore_host: str, sandbox: SandboxServer, creates: int, settle_on_insert: bool) -> dict[str, float]:
    from functions_framework import create_app
    from google.cloud import firestore

    from shared import bootstrap
    from shared.bootstrap import Container
    from shared.config import Settings

    secrets = stack_secrets()
    for name, value in secrets.items():
        sandbox.put_secret(name, value, project=project)
    client_id, client_secret = oauth_client(secrets)
    sandbox.register_oauth_client(client_id, client_secret, ["http://127.0.0.1:9/callback"])
    create_email_queue(sandbox.url, project)
    sandbox.sandbox.calendar.set_conferences(settle_on_insert=settle_on_insert)
    env = function_env(
        project_id=project,
        firestore_host=firestore_host,
        sandbox_url=sandbox.url,
        oauth_url="http://127.0.0.1:9",
        worker_url="http://127.0.0.1:9/worker",
    )
    os.environ.update(env)
    db = firestore.Client(project=project)
    counts = count_operations(db)
    container = Container(Settings.from_env(env), firestore_client=db)
    bootstrap.use_container(container)
    _, _, token = connected_host(sandbox, container, db)
    client = create_app("interviews", str(processes.ROOT / "functions" / "interviews" / "main.py")).test_client()
    day = datetime.now(UTC) + timedelta(days=2)
    client.post("/interviews", headers={"Authorization": f"Bearer {token}"}, json=_body(day, 6))  # warm: token refresh, caches
    totals = {"calendar_calls": 0, "transactions": 0, "tasks": 0}
    for i in range(creates):
        calendar_before = len(sandbox.calls("/calendar/v3"))
        tasks_before = len([c for c in sandbox.calls("/v2/") if c["method"] == "POST" and c["path"].endswith("/tasks")])
        counts.reset()
        reply = client.post("/interviews", headers={"Authorization": f"Bearer {token}"}, json=_body(day, 8 + i))
        if reply.status_code != 201:
            raise SystemExit(f"create answered {reply.status_code}: {reply.get_json()}")
        totals["calendar_calls"] += len(sandbox.calls("/calendar/v3")) - calendar_before
        totals["transactions"] += counts.transactions
        totals["tasks"] += (
            len([c for c in sandbox.calls("/v2/") if c["method"] == "POST" and c["path"].endswith("/tasks")]) - tasks_before
        )
    bootstrap.use_container(None)
    return {name: value / creates for name, value in totals.items()}


def _body(day: datetime, hour: int) -> dict[str, Any]:
    return {
        "candidate": {"email": f"c{hour}@candidates.example", "name": "Candidate"},
        "job_title": "Engineer",
        "date": day.date().isoformat(),
        "time": f"{hour:02d}:00",
        "timezone": "UTC",
        "duration_minutes": 30,
    }


if __name__ == "__main__":
    sys.exit(main())
