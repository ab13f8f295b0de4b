"""Starting and stopping the local stack's processes: each in its own process group.

The Firestore emulator is gcloud → bash → java and functions-framework is a gunicorn
master with workers: signalling only the first process would orphan the rest, so every
child gets its own session and is stopped by signalling the whole group.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
LOOPBACK = "127.0.0.1"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((LOOPBACK, 0))
        return int(sock.getsockname()[1])


def http_ok(url: str, *, expect: Callable[[int, bytes], bool] | None = None, timeout: float = 1.0) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:  # noqa: S310 (loopback only)
            body = response.read()
            return expect(response.status, body) if expect else 200 <= response.status < 500
    except urllib.error.HTTPError as error:
        return expect(error.code, b"") if expect else error.code < 500
    except OSError:
        return False


@dataclass
class Service:
    """One started process group and what it is for."""

    name: str
    process: subprocess.Popen[bytes]
    url: str
    log_path: Path | None = None
    extra: dict[str, str] = field(default_factory=dict)

    def stop(self, timeout: float = 10.0) -> None:
        if self.process.poll() is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=timeout)
        # The leader may be gone while the group lives on (java under gcloud): finish it.
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.process.pid, signal.SIGKILL)


def start(name: str, argv: list[str], *, url: str, ready: Callable[[], bool], env: Mapping[str, str] | None = None,
          log_dir: Path | None = None, timeout: float = 60.0) -> Service:
    """Start ``argv`` in a new session and wait until ``ready()`` says it serves."""
    log_path = None
    out: Any = subprocess.DEVNULL
    if log_dir is not None:
        log_dir.mkdir(parents=True, exist_ok=True)
        log_path = log_dir / f"{name}.log"
        out = open(log_path, "wb")  # noqa: SIM115 (owned by the child for its lifetime)
    try:
        process = subprocess.Popen(argv, cwd=ROOT, env=dict(env or os.environ), stdout=out, stderr=subprocess.STDOUT,
                                   stdin=subprocess.DEVNULL, start_new_session=True)
    finally:
        if not isinstance(out, int):
            out.close()  # the child holds its own copy
    service = Service(name, process, url, log_path)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            tail = log_path.read_text(errors="replace")[-2000:] if log_path else ""
            raise RuntimeError(f"{name} exited with {process.returncode} before it was ready\n{tail}")
        if ready():
            return service
        time.sleep(0.05)
    service.stop()
    raise RuntimeError(f"{name} was not ready after {timeout:.0f} s")


def start_firestore_emulator(*, port: int | None = None, log_dir: Path | None = None) -> Service:
    port = port or free_port()
    url = f"http://{LOOPBACK}:{port}"
    argv = ["gcloud", "emulators", "firestore", "start", f"--host-port={LOOPBACK}:{port}", "--quiet"]
    env = {**os.environ, "CLOUDSDK_CORE_DISABLE_PROMPTS": "1"}
    service = start("firestore", argv, url=url, env=env, log_dir=log_dir,
                    ready=lambda: http_ok(url + "/", expect=lambda status, body: body.strip() == b"Ok"))
    service.extra["host"] = f"{LOOPBACK}:{port}"
    return service


def wipe_firestore(emulator_host: str, project_id: str) -> None:
    request = urllib.request.Request(
        f"http://{emulator_host}/emulator/v1/projects/{project_id}/databases/(default)/documents", method="DELETE"
    )
    with urllib.request.urlopen(request, timeout=10):  # noqa: S310 (loopback only)
        pass


def start_function(target: str, *, env: Mapping[str, str], port: int | None = None, log_dir: Path | None = None,
                   health_path: str = "/__health") -> Service:
    """Run ``functions/<target>/main.py`` under functions-framework, as Cloud Run would."""
    port = port or free_port()
    url = f"http://{LOOPBACK}:{port}"
    argv = [sys.executable, "-m", "functions_framework", "--target", target,
            "--source", str(ROOT / "functions" / target / "main.py"), "--host", LOOPBACK, "--port", str(port)]
    # The repository root comes last: a caller's PYTHONPATH (the tests' query recorder) still applies.
    full_env = {**os.environ, **env, "PYTHONPATH": os.pathsep.join(p for p in (env.get("PYTHONPATH"), str(ROOT)) if p)}
    return start(target, argv, url=url, env=full_env, log_dir=log_dir,
                 ready=lambda: http_ok(url + health_path, expect=lambda status, body: status in (200, 401, 404)))


def start_sandbox(project_id: str, *, secrets_file: Path, port: int | None = None, log_dir: Path | None = None,
                  mail_outbox: Path | None = None) -> Service:
    """The Google sandbox as its own process, preloaded with the secrets in ``secrets_file``;
    with ``mail_outbox``, every email SendGrid accepts is also written there as a .eml file."""
    port = port or free_port()
    url = f"http://{LOOPBACK}:{port}"
    argv = [sys.executable, "-m", "devstack.sandbox", "--port", str(port), "--project", project_id,
            "--secrets-file", str(secrets_file)] + (["--mail-outbox", str(mail_outbox)] if mail_outbox else [])
    return start("sandbox", argv, url=url, log_dir=log_dir, env={**os.environ, "PYTHONPATH": str(ROOT)},
                 ready=lambda: http_ok(url + "/sandbox/health"))
