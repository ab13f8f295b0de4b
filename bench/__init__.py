"""Benchmarks of Convene's functions, and the local stack both of them run against.

`bench.cold_start` and `bench.join_ops` need the same parts: the Firestore emulator,
the Google sandbox as its own process (so serving certificates and secrets never
competes with the measured code for this process's GIL), interviews seeded through the
project's own repository, and the two kinds of bearer token a participant may hold.
"""

from __future__ import annotations

import json
import os
import secrets
import statistics
import tempfile
import urllib.request
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from devstack import processes
from devstack.stack import GUEST_LINK_SECRET, function_env
from shared.domain.models import Interview, InterviewStatus, InterviewType, Person

LOG_DIR = processes.ROOT / ".convene" / "bench-logs"
WORKSPACE = "ws-bench"
OTHER_WORKSPACE = "ws-bench-other"
HOST = Person(email="hana.host@bench.example", name="Hana Host", uid="uid-bench-host")
GUEST = Person(email="gus.guest@candidates.example", name="Gus Guest")
OTHER_HOST = Person(email="otto.other@other.example", name="Otto Other", uid="uid-bench-other")


@dataclass(frozen=True)
class BenchStack:
    """The running emulator and sandbox, and the function environment that points at them."""

    project_id: str
    firestore: processes.Service
    sandbox: processes.Service

    @property
    def firestore_host(self) -> str:
        return self.firestore.extra["host"]

    @property
    def sandbox_url(self) -> str:
        return self.sandbox.url

    def function_env(self) -> dict[str, str]:
        """Exactly what the dev stack gives a function process (see `processes.start_function`)."""
        env = function_env(project_id=self.project_id, firestore_host=self.firestore_host, sandbox_url=self.sandbox_url)
        return {**os.environ, **env, "PYTHONPATH": str(processes.ROOT)}

    def firestore_client(self) -> Any:
        from google.cloud import firestore

        return firestore.Client(project=self.project_id)

    def mint_id_token(self, person: Person, workspace_id: str) -> str:
        """A Firebase ID token from the sandbox process, as the front end would hold it."""
        request = urllib.request.Request(
            f"{self.sandbox_url}/sandbox/identity/id-token", method="POST",
            headers={"Content-Type": "application/json"},
            data=json.dumps({"uid": person.uid, "email": person.email, "name": person.name,
                             "claims": {"workspace_id": workspace_id, "role": "host"}}).encode(),
        )
        with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310 (loopback only)
            return str(json.loads(response.read())["id_token"])

    def sign_guest_link(self, interview: Interview) -> str:
        """A guest link signed with the sandbox's key, read through the real Secret Manager client."""
        from shared.auth.guest_links import GuestLinks
        from shared.secrets import SecretManagerSecrets

        links = GuestLinks(SecretManagerSecrets(self.project_id, self.sandbox_url), GUEST_LINK_SECRET)
        return links.sign(interview_id=interview.id, workspace_id=interview.workspace_id,
                          expires_at=interview.end + timedelta(days=1))


@contextmanager
def bench_stack(log_dir: Path = LOG_DIR) -> Iterator[BenchStack]:
    """Start the emulator and the sandbox (own process groups) for one benchmark; stop both after."""
    project_id = f"convene-bench-{uuid.uuid4().hex[:8]}"
    services: list[processes.Service] = []
    previous_host = os.environ.get("FIRESTORE_EMULATOR_HOST")
    try:
        with tempfile.TemporaryDirectory(prefix="convene-bench-") as tmp:
            secrets_file = Path(tmp) / "sandbox-secrets.json"
            secrets_file.touch(mode=0o600)
            secrets_file.write_text(json.dumps({GUEST_LINK_SECRET: secrets.token_urlsafe(32)}))
            firestore = processes.start_firestore_emulator(log_dir=log_dir)
            services.append(firestore)
            services.append(processes.start_sandbox(project_id, secrets_file=secrets_file, log_dir=log_dir))
        # This process's own Firestore client (seeding, in-process calls) talks to the emulator too.
        os.environ["FIRESTORE_EMULATOR_HOST"] = firestore.extra["host"]
        yield BenchStack(project_id, firestore, services[1])
    finally:
        for service in reversed(services):
            service.stop()
        if previous_host is None:
            os.environ.pop("FIRESTORE_EMULATOR_HOST", None)
        else:
            os.environ["FIRESTORE_EMULATOR_HOST"] = previous_host


def interview(start: datetime, *, now: datetime, label: str = "ready") -> Interview:
    """A confirmed Meet interview of the bench workspace, hosted by `HOST`, guest `GUEST`."""
    return Interview(
        id=f"bench-{label}-{uuid.uuid4().hex[:8]}",
        workspace_id=WORKSPACE,
        host=HOST,
        guest=GUEST,
        start=start,
        timezone="Europe/Berlin",
        type=InterviewType.GOOGLE_MEET,
        status=InterviewStatus.CONFIRMED,
        duration_minutes=45,
        job_title="Backend Engineer",
        meet_link="https://meet.google.com/abc-mnop-xyz",
        calendar_event_id="convene0123456789",
        ical_uid=f"bench-{label}@convene",
        created_at=now - timedelta(days=1),
        updated_at=now - timedelta(days=1),
    )


def median(values: Sequence[float]) -> float:
    return float(statistics.median(values))
