"""Cold start of each function, side by side with a bare hello function and the function's floor.

``python -m bench.cold_start [--runs N] [--functions join] [--json PATH]``

Cold start = ``Popen`` of ``python -m functions_framework --target … --source …`` → the
first 200 answer to a real request. That is what a user waits for when Cloud Run starts
an instance for their request. Two references put the number in context:

- ``hello``: a bare functions-framework function (what the platform alone costs);
- the function's floor (``bench/fixtures/<function>_floor``): only the imports and the
  external call its first request truly needs. The goal is join ≤ 1.15 × its floor.

The emulator and the sandbox are started once; every run starts each candidate fresh on
a fresh port, interleaving the candidates so that machine noise hits all of them alike,
with the same environment the dev stack gives a function.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import platform
import subprocess
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from bench import HOST, LOG_DIR, WORKSPACE, BenchStack, bench_stack, interview, median
from devstack import processes
from shared.adapters.firestore import InterviewRepository

FIXTURES = Path(__file__).resolve().parent / "fixtures"
FLOOR_GOAL = 1.15  # a function's median cold start may exceed its floor's by 15 % at most
POLL_SECONDS = 0.005
START_TIMEOUT_SECONDS = 60.0


def _any_body(body: bytes) -> bool:
    return True


@dataclass(frozen=True)
class Candidate:
    """One process to cold-start and the request whose first 200 ends the measurement."""

    name: str
    target: str
    source: Path
    path: str
    headers: Mapping[str, str] = field(default_factory=dict)
    accepts: Callable[[bytes], bool] = _any_body
    floor: str | None = None  # the candidate it is held against (None: a reference itself)


class BenchError(RuntimeError):
    pass


def _json_with(**expected: Any) -> Callable[[bytes], bool]:
    """A body check: the answer is JSON with these values, so the run did the real work."""

    def accepts(body: bytes) -> bool:
        try:
            data = json.loads(body)
        except ValueError:
            return False
        return isinstance(data, dict) and all(data.get(k) == v for k, v in expected.items())

    return accepts


def join_candidates(stack: BenchStack) -> list[Candidate]:
    """join's floor and join itself with both kinds of credential, on one interview ready to join."""
    now = datetime.now(timezone.utc)
    ready = interview(now + timedelta(minutes=10), now=now)
    client = stack.firestore_client()
    repo = InterviewRepository(client)
    repo.add(ready)
    for _ in range(5):  # the emulator's JVM is slow on its first requests; warm it before measuring
        repo.get(ready.id)
    host_token = stack.mint_id_token(HOST, WORKSPACE)
    guest_token = stack.sign_guest_link(ready)
    path = f"/interviews/{ready.id}"
    join_source = processes.ROOT / "functions" / "join" / "main.py"
    return [
        Candidate("join_floor", "join_floor", FIXTURES / "join_floor" / "main.py", path,
                  headers={"Authorization": f"Bearer {host_token}"}, accepts=_json_with(workspace_id=WORKSPACE)),
        Candidate("join (ID token)", "join", join_source, path, headers={"Authorization": f"Bearer {host_token}"},
                  accepts=_json_with(interview_id=ready.id, meeting_status="ready", participant="host"),
                  floor="join_floor"),
        Candidate("join (guest link)", "join", join_source, path, headers={"Authorization": f"Bearer {guest_token}"},
                  accepts=_json_with(interview_id=ready.id, meeting_status="ready", participant="guest"),
                  floor="join_floor"),
    ]


BENCHES: dict[str, Callable[[BenchStack], list[Candidate]]] = {"join": join_candidates}
HELLO = Candidate("hello", "hello", FIXTURES / "hello" / "main.py", "/", accepts=lambda body: body == b"ok")


def _first_response(port: int, candidate: Candidate, process: subprocess.Popen[bytes]) -> tuple[int, bytes]:
    """Send the real request every few ms until the server accepts it; its answer ends the wait."""
    deadline = time.monotonic() + START_TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise BenchError(f"{candidate.name} exited with {process.returncode} before answering")
        connection = http.client.HTTPConnection(processes.LOOPBACK, port, timeout=START_TIMEOUT_SECONDS)
        try:
            connection.request("GET", candidate.path, headers=dict(candidate.headers))
            response = connection.getresponse()
            return response.status, response.read()
        except ConnectionRefusedError:
            time.sleep(POLL_SECONDS)
        finally:
            connection.close()
    raise BenchError(f"{candidate.name} did not answer within {START_TIMEOUT_SECONDS:.0f} s")


def measure(candidate: Candidate, env: Mapping[str, str], log_dir: Path) -> float:
    """Milliseconds from process start to the first 200; the process group is stopped after."""
    port = processes.free_port()
    argv = [sys.executable, "-m", "functions_framework", "--target", candidate.target, "--source", str(candidate.source),
            "--host", processes.LOOPBACK, "--port", str(port)]
    log_dir.mkdir(parents=True, exist_ok=True)
    log_path = log_dir / f"{candidate.target}-{port}.log"
    with open(log_path, "wb") as log:
        started = time.perf_counter()
        process = subprocess.Popen(argv, cwd=processes.ROOT, env=dict(env), stdout=log, stderr=subprocess.STDOUT,
                                   stdin=subprocess.DEVNULL, start_new_session=True)
        service = processes.Service(candidate.name, process, f"http://{processes.LOOPBACK}:{port}", log_path)
        try:
            status, body = _first_response(port, candidate, process)
            elapsed_ms = (time.perf_counter() - started) * 1000
        finally:
            service.stop()
    if status != 200 or not candidate.accepts(body):
        raise BenchError(f"{candidate.name} answered {status}: {body[:300]!r} (log: {log_path})")
    log_path.unlink()  # keep only the logs of failures
    return elapsed_ms


def run(candidates: Sequence[Candidate], env: Mapping[str, str], *, runs: int, warmup: int,
        log_dir: Path, progress: Callable[[str], None]) -> dict[str, list[float]]:
    """Interleaved rounds (hello, floor, join, …); warm-up rounds fill the page cache and are dropped."""
    samples: dict[str, list[float]] = {c.name: [] for c in candidates}
    for round_no in range(-warmup, runs):
        timings = [(c.name, measure(c, env, log_dir)) for c in candidates]
        label = "warm-up" if round_no < 0 else f"run {round_no + 1}/{runs}"
        progress(f"{label}: " + ", ".join(f"{name} {ms:.0f}" for name, ms in timings))
        if round_no >= 0:
            for name, ms in timings:
                samples[name].append(ms)
    return samples


def summarize(candidates: Sequence[Candidate], samples: Mapping[str, list[float]]) -> dict[str, Any]:
    figures = {name: {"median_ms": round(median(values), 1), "min_ms": round(min(values), 1),
                      "max_ms": round(max(values), 1), "samples_ms": [round(v, 1) for v in values]}
               for name, values in samples.items()}
    ratios = {}
    for c in candidates:
        if c.floor is None:
            continue
        to_floor = median(samples[c.name]) / median(samples[c.floor])
        # Same-round pairs share the machine's state at that moment: a cross-check on the noise.
        paired = median([own / floor for own, floor in zip(samples[c.name], samples[c.floor], strict=True)])
        ratios[c.name] = {"to_floor": round(to_floor, 3), "to_hello": round(median(samples[c.name]) / median(samples[HELLO.name]), 3),
                          "paired_to_floor": round(paired, 3), "floor": c.floor, "goal": FLOOR_GOAL,
                          "meets_goal": to_floor <= FLOOR_GOAL}
    return {"candidates": figures, "ratios": ratios}


def render(summary: Mapping[str, Any]) -> str:
    rows = [f"{'candidate':<20} {'median':>8} {'min':>8} {'max':>8}   (ms, process start → first 200)"]
    for name, f in summary["candidates"].items():
        rows.append(f"{name:<20} {f['median_ms']:>8.1f} {f['min_ms']:>8.1f} {f['max_ms']:>8.1f}")
    rows.append("")
    rows.append(f"{'ratio of medians':<20} {'/floor':>8} {'/hello':>8} {'paired':>8}   goal: median ≤ {FLOOR_GOAL} × floor")
    for name, r in summary["ratios"].items():
        verdict = "meets goal" if r["meets_goal"] else "ABOVE GOAL"
        rows.append(f"{name:<20} {r['to_floor']:>8.2f} {r['to_hello']:>8.2f} {r['paired_to_floor']:>8.2f}   {verdict}")
    rows.append("(paired: median over runs of join / floor started in the same round)")
    return "\n".join(rows)


def machine() -> dict[str, Any]:
    return {"nproc": os.cpu_count(), "python": platform.python_version(), "platform": platform.platform()}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.cold_start", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=7, help="measured rounds (default 7)")
    parser.add_argument("--warmup", type=int, default=1, help="rounds run first and dropped (default 1)")
    parser.add_argument("--functions", nargs="+", choices=sorted(BENCHES), default=sorted(BENCHES),
                        help="functions to measure (default: all)")
    parser.add_argument("--json", type=Path, metavar="PATH", help="also write the figures as JSON")
    parser.add_argument("--log-dir", type=Path, default=LOG_DIR, help="emulator, sandbox and failed-start logs")
    args = parser.parse_args(argv)
    if args.runs < 1 or args.warmup < 0:
        parser.error("--runs must be ≥ 1 and --warmup ≥ 0")

    with bench_stack(args.log_dir) as stack:
        candidates = [HELLO] + [c for name in args.functions for c in BENCHES[name](stack)]
        print(f"cold start, {args.runs} runs (+{args.warmup} warm-up) of {', '.join(c.name for c in candidates)}",
              flush=True)
        samples = run(candidates, stack.function_env(), runs=args.runs, warmup=args.warmup, log_dir=args.log_dir,
                      progress=lambda line: print("  " + line, flush=True))
    summary = {"machine": machine(), "runs": args.runs, "warmup": args.warmup, **summarize(candidates, samples)}
    print()
    print(render(summary))
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(summary, indent=2) + "\n")
        print(f"\nfigures written to {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
