"""Benchmarks of Convene's functions, and the local stack both of them run against.

`bench.cold_start` and `bench.join_ops` need the same parts: the Firestore emulator,
the Google sandbox as its own process (so serving certificates and secrets never
competes with the measured code for this process's GIL), documents seeded through the
project's own repositories, the two kinds of bearer token a participant may hold, and
the OIDC token Cloud Tasks attaches to a call of the email worker. The sandbox is
configured as `make dev` configures it: every secret of `devstack.stack.stack_secrets()`,
the OAuth client registered with the oauth function's redirect URI, and the SendGrid key
(the secret's value) registered with its SendGrid.
"""

from __future__ import annotations

import json
import os
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
from devstack.stack import (
    GUEST_LINK_SECRET,
    SENDGRID_SECRET,
    TOKEN_KEY_SECRET,
    function_env,
    oauth_client,
    stack_secrets,
    tasks_invoker,
)
from shared.domain.connections import GOOGLE, REQUESTED_SCOPES, CalendarEntry, Connection, ConnectionStatus
from shared.domain.models import Interview, Person, Role, User
from tests import factories

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
    oauth_url: str  # the oauth function's public URL: its /callback is the client's registered redirect URI

    @property
    def firestore_host(self) -> str:
        return self.firestore.extra["host"]

    @property
    def sandbox_url(self) -> str:
        return self.sandbox.url

    def function_env(self) -> dict[str, str]:
        """Exactly what the dev stack gives a function process (see `processes.start_function`)."""
        env = function_env(
            project_id=self.project_id, firestore_host=self.firestore_host, sandbox_url=self.sandbox_url, oauth_url=self.oauth_url
        )
        return {**os.environ, **env, "PYTHONPATH": str(processes.ROOT)}

    def firestore_client(self) -> Any:
        from google.cloud import firestore

        return firestore.Client(project=self.project_id)

    def mint_id_token(self, person: Person, workspace_id: str) -> str:
        """A Firebase ID token from the sandbox process, as the front end would hold it."""
        request = urllib.request.Request(
            f"{self.sandbox_url}/sandbox/identity/id-token",
            method="POST",
            headers={"Content-Type": "application/json"},
            data=json.dumps(
                {
                    "uid": person.uid,
                    "email": person.email,
                    "name": person.name,
                    "claims": {"workspace_id": workspace_id, "role": "host"},
                }
            ).encode(),
        )
        with urllib.request.urlopen(request, timeout=10) as response:
            return str(json.loads(response.read())["id_token"])

    def mint_tasks_token(self, audience: str) -> str:
        """The OIDC token Cloud Tasks attaches to a call of ``audience`` (the email worker's URL), from the sandbox."""
        minted = _control(
            self.sandbox_url, "/sandbox/identity/oidc-token", {"email": tasks_invoker(self.project_id), "audience": audience}
        )
        return str(minted["id_token"])

    def secrets(self) -> Any:
        """The sandbox's secrets through the real Secret Manager client, as the functions read them."""
        from shared.secrets import SecretManagerSecrets

        return SecretManagerSecrets(self.project_id, self.sandbox_url)

    def sign_guest_link(self, interview: Interview) -> str:
        """A guest link signed with the sandbox's key, read through the real Secret Manager client."""
        from shared.auth.guest_links import GuestLinks

        links = GuestLinks(self.secrets(), GUEST_LINK_SECRET)
        return links.sign(
            interview_id=interview.id, workspace_id=interview.workspace_id, expires_at=interview.end + timedelta(days=1)
        )

    def seed_host(self, person: Person = HOST, workspace_id: str = WORKSPACE) -> User:
        """The host's ``users/{uid}`` document (role host), through the project's repository."""
        from shared.adapters.firestore import UserRepository

        user = User(uid=str(person.uid), workspace_id=workspace_id, role=Role.HOST, email=person.email, display_name=person.name)
        UserRepository(self.firestore_client()).put(user)
        return user

    def seed_connection(self, user: User, now: datetime) -> Connection:
        """What a returning host has: a connected Google account, its calendars, a refresh token sealed with the sandbox's key."""
        from shared.adapters.connections import ConnectionRepository
        from shared.crypto import TokenCipher
        from shared.google.credentials import refresh_token_context

        cipher = TokenCipher(self.secrets(), TOKEN_KEY_SECRET)
        connection = Connection(
            uid=user.uid,
            workspace_id=user.workspace_id,
            provider=GOOGLE,
            status=ConnectionStatus.CONNECTED,
            account_email=user.email,
            scopes=tuple(sorted(REQUESTED_SCOPES)),
            calendars=(
                CalendarEntry(user.email, user.email, True, "owner", "Europe/Berlin", "#9fe1e7"),
                CalendarEntry(
                    "interviews.bench@group.calendar.google.com", "Interviews", False, "owner", "Europe/Berlin", "#16a765"
                ),
            ),
            refresh_token=cipher.seal("1//bench-refresh-" + uuid.uuid4().hex, context=refresh_token_context(user.uid, GOOGLE)),
            connected_at=now - timedelta(days=3),
            last_sync_at=now - timedelta(hours=2),
            updated_at=now - timedelta(hours=2),
        )
        ConnectionRepository(self.firestore_client()).save(connection)
        return connection


@contextmanager
def bench_stack(log_dir: Path = LOG_DIR) -> Iterator[BenchStack]:
    """Start the emulator and the sandbox (own process groups) for one benchmark; stop both after."""
    project_id = f"convene-bench-{uuid.uuid4().hex[:8]}"
    # Functions are started on a fresh port every run, so the public URL is a fixed loopback
    # address of its own: only links are built from it, nothing is sent there.
    oauth_url = f"http://{processes.LOOPBACK}:{processes.free_port()}"
    services: list[processes.Service] = []
    previous_host = os.environ.get("FIRESTORE_EMULATOR_HOST")
    try:
        secret_values = stack_secrets()
        with tempfile.TemporaryDirectory(prefix="convene-bench-") as tmp:
            secrets_file = Path(tmp) / "sandbox-secrets.json"
            secrets_file.touch(mode=0o600)
            secrets_file.write_text(json.dumps(secret_values))
            firestore = processes.start_firestore_emulator(log_dir=log_dir)
            services.append(firestore)
            services.append(processes.start_sandbox(project_id, secrets_file=secrets_file, log_dir=log_dir))
        sandbox = services[1]
        client_id, client_secret = oauth_client(secret_values)
        _control(
            sandbox.url,
            "/sandbox/oauth/clients",
            {
                "client_id": client_id,
                "client_secret": client_secret,
                "redirect_uris": [oauth_url + "/callback"],
                "name": "Convene (bench)",
            },
        )
        _control(sandbox.url, "/sandbox/sendgrid/keys", {"key": secret_values[SENDGRID_SECRET]})
        # This process's own Firestore client (seeding, in-process calls) talks to the emulator too.
        os.environ["FIRESTORE_EMULATOR_HOST"] = firestore.extra["host"]
        yield BenchStack(project_id, firestore, sandbox, oauth_url)
    finally:
        for service in reversed(services):
            service.stop()
        if previous_host is None:
            os.environ.pop("FIRESTORE_EMULATOR_HOST", None)
        else:
            os.environ["FIRESTORE_EMULATOR_HOST"] = previous_host


def _control(sandbox_url: str, path: str, body: dict[str, Any]) -> Any:
    """Configure the sandbox through its control API, as `make dev` does."""
    request = urllib.request.Request(
        sandbox_url + path, method="POST", headers={"Content-Type": "application/json"}, data=json.dumps(body).encode()
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read())


def interview(start: datetime, *, now: datetime, label: str = "ready") -> Interview:
    """A confirmed Meet interview of the bench workspace, hosted by `HOST`, guest `GUEST`
    (tests/factories.py's builder: plain dataclasses, no pytest)."""
    return factories.interview(
        id=f"bench-{label}-{uuid.uuid4().hex[:8]}",
        workspace_id=WORKSPACE,
        host=HOST,
        guest=GUEST,
        start=start,
        ical_uid=f"bench-{label}@convene",
        created_at=now - timedelta(days=1),
        updated_at=now - timedelta(days=1),
    )


def median(values: Sequence[float]) -> float:
    return float(statistics.median(values))


@contextmanager
def in_process_stack() -> Iterator[tuple[str, str, Any]]:
    """(project, emulator host, in-thread SandboxServer) for benchmarks that read the sandbox's
    state directly; both are stopped afterwards."""
    from devstack.sandbox.server import SandboxServer

    project_id = f"convene-bench-{uuid.uuid4().hex[:8]}"
    emulator = processes.start_firestore_emulator(log_dir=LOG_DIR)
    sandbox = SandboxServer(project_id).start()
    try:
        os.environ["FIRESTORE_EMULATOR_HOST"] = emulator.extra["host"]
        yield project_id, emulator.extra["host"], sandbox
    finally:
        sandbox.stop()
        emulator.stop()


def pause_email_queue(sandbox_url: str, project_id: str) -> None:
    """Tasks are created but not dispatched while a benchmark measures: delivering them is the
    queue's and the email worker's work, which would share this machine's two cores with it."""
    from google.auth.credentials import AnonymousCredentials
    from google.cloud import tasks_v2

    from devstack.stack import EMAIL_QUEUE, TASKS_LOCATION

    client = tasks_v2.CloudTasksClient(
        transport="rest", credentials=AnonymousCredentials(), client_options={"api_endpoint": sandbox_url}
    )
    client.pause_queue(name=f"projects/{project_id}/locations/{TASKS_LOCATION}/queues/{EMAIL_QUEUE}")


def connected_host(sandbox: Any, container: Any, db: Any) -> tuple[str, str, str]:
    """A host of the bench workspace whose Google account is connected in the in-thread sandbox:
    (uid, email, ID token)."""
    from devstack.stack import OAUTH_CLIENT_ID
    from shared.adapters.firestore import UserRepository
    from shared.domain.connections import (
        CALENDAR_EVENTS,
        CALENDAR_FREEBUSY,
        CALENDAR_LIST,
        EMAIL,
        GOOGLE,
        OPENID,
        Connection,
        ConnectionStatus,
        refresh_token_context,
    )
    from shared.domain.models import Role, User

    uid, email = f"uid-{uuid.uuid4().hex[:6]}", f"host-{uuid.uuid4().hex[:6]}@gmail.example"
    UserRepository(db).put(User(uid, "ws-bench", Role.HOST, email, "Bench Host"))
    sandbox.add_google_account(email, "Bench Host")
    scopes = [OPENID, EMAIL, CALENDAR_EVENTS, CALENDAR_FREEBUSY, CALENDAR_LIST]
    refresh = sandbox.sandbox.oauth.issue_tokens(OAUTH_CLIENT_ID, email, scopes)["refresh_token"]
    container.connections.save(
        Connection(
            uid=uid,
            workspace_id="ws-bench",
            provider=GOOGLE,
            status=ConnectionStatus.CONNECTED,
            account_email=email,
            scopes=tuple(scopes),
            refresh_token=container.token_cipher.seal(refresh, context=refresh_token_context(uid, GOOGLE)),
        )
    )
    return uid, email, sandbox.mint_id_token(uid, email, claims={"workspace_id": "ws-bench"})
