"""Firestore reads and writes per join request, counted on the client join itself uses.

``python -m bench.join_ops [--repeat N] [--json PATH]``

Firestore bills per document read and written, and the join check is the most frequent
request Convene serves, so its cost per request is a goal: exactly one read, at most one
write. The function runs in-process (functions-framework's test client) against the
emulator and the sandbox, with a `Container` whose Firestore client is wrapped by
`devstack.firestore_ops.count_operations`; each request kind is sent ``--repeat`` times.
Exits 1 if a request answers an unexpected status or misses the goal.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from functions_framework import create_app

from bench import HOST, LOG_DIR, OTHER_HOST, OTHER_WORKSPACE, WORKSPACE, bench_stack, interview
from devstack import processes
from devstack.firestore_ops import count_operations
from shared import bootstrap
from shared.adapters.firestore import InterviewRepository
from shared.bootstrap import Container
from shared.config import Settings

MAX_READS = 1  # per join request: exactly this many
MAX_WRITES = 1  # per join request: at most this many


@dataclass(frozen=True)
class RequestKind:
    name: str
    method: str
    path: str
    token: str
    expected_status: int


@dataclass
class Result:
    kind: RequestKind
    statuses: list[int]
    reads: list[int]
    writes: list[int]
    rpcs: list[str]

    @property
    def meets_goal(self) -> bool:
        return all(r == MAX_READS for r in self.reads) and all(w <= MAX_WRITES for w in self.writes)

    @property
    def status_ok(self) -> bool:
        return all(s == self.kind.expected_status for s in self.statuses)


def _span(values: Sequence[int]) -> str:
    low, high = min(values), max(values)
    return str(low) if low == high else f"{low}–{high}"


def measure(repeat: int, log_dir: Path) -> list[Result]:
    """Seed two interviews, then send each request kind ``repeat`` times, counting per request."""
    with bench_stack(log_dir) as stack:
        client = stack.firestore_client()
        now = datetime.now(UTC)
        ready = interview(now + timedelta(minutes=10), now=now, label="ready")  # join window open
        later = interview(now + timedelta(hours=3), now=now, label="later")  # window not open yet
        repo = InterviewRepository(client)
        repo.add(ready)
        repo.add(later)
        host_token = stack.mint_id_token(HOST, WORKSPACE)
        other_token = stack.mint_id_token(OTHER_HOST, OTHER_WORKSPACE)
        guest_token = stack.sign_guest_link(ready)
        kinds = [
            RequestKind("GET check, host ID token", "GET", f"/interviews/{ready.id}", host_token, 200),
            RequestKind("GET check, guest link", "GET", f"/interviews/{ready.id}", guest_token, 200),
            RequestKind("POST join, inside window", "POST", f"/interviews/{ready.id}/join", guest_token, 200),
            RequestKind("POST join, outside window", "POST", f"/interviews/{later.id}/join", host_token, 409),
            RequestKind("GET check, other workspace", "GET", f"/interviews/{ready.id}", other_token, 404),
        ]

        settings = Settings.from_env(stack.function_env())
        bootstrap.use_container(Container(settings, firestore_client=client))
        try:
            app = create_app("join", str(processes.ROOT / "functions" / "join" / "main.py")).test_client()
            counts = count_operations(client)
            results = []
            for kind in kinds:
                result = Result(kind, [], [], [], [])
                for _ in range(repeat):
                    counts.reset()
                    response = app.open(kind.path, method=kind.method, headers={"Authorization": f"Bearer {kind.token}"})
                    result.statuses.append(response.status_code)
                    result.reads.append(counts.reads)
                    result.writes.append(counts.writes)
                    result.rpcs = list(counts.rpcs)
                results.append(result)
            return results
        finally:
            bootstrap.use_container(None)


def render(results: Sequence[Result]) -> str:
    rows = [
        f"{'request':<28} {'status':>6} {'reads':>6} {'writes':>6}   rpcs (last request)          goal: {MAX_READS} read, ≤ {MAX_WRITES} write"
    ]
    for r in results:
        status = _span(r.statuses) + ("" if r.status_ok else f" (expected {r.kind.expected_status})")
        verdict = "meets goal" if r.meets_goal else "ABOVE GOAL"
        rows.append(
            f"{r.kind.name:<28} {status:>6} {_span(r.reads):>6} {_span(r.writes):>6}   {', '.join(r.rpcs) or '-':<29} {verdict}"
        )
    return "\n".join(rows)


def to_json(results: Sequence[Result], repeat: int) -> Mapping[str, Any]:
    return {
        "repeat": repeat,
        "goal": {"reads": MAX_READS, "max_writes": MAX_WRITES},
        "requests": [
            {
                "name": r.kind.name,
                "method": r.kind.method,
                "expected_status": r.kind.expected_status,
                "statuses": r.statuses,
                "reads": r.reads,
                "writes": r.writes,
                "rpcs": r.rpcs,
                "meets_goal": r.meets_goal,
            }
            for r in results
        ],
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.join_ops", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--repeat", type=int, default=3, help="requests per kind (default 3)")
    parser.add_argument("--json", type=Path, metavar="PATH", help="also write the counts as JSON")
    parser.add_argument("--log-dir", type=Path, default=LOG_DIR, help="emulator and sandbox logs")
    args = parser.parse_args(argv)
    if args.repeat < 1:
        parser.error("--repeat must be ≥ 1")

    results = measure(args.repeat, args.log_dir)
    print(f"Firestore operations per join request ({args.repeat} requests per kind)\n")
    print(render(results))
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(to_json(results, args.repeat), indent=2) + "\n")
        print(f"\ncounts written to {args.json}")
    return 0 if all(r.meets_goal and r.status_ok for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
