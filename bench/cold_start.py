"""Cold start of each function, side by side with a bare hello function and the function's floor.

``python -m bench.cold_start [--runs N] [--functions join oauth interviews email_worker scheduling] [--json PATH]``
``python -m bench.cold_start --imports [--functions interviews]``

Cold start = ``Popen`` of ``python -m functions_framework --target … --source …`` → the
first 200 answer to a real request. That is what a user waits for when Cloud Run starts
an instance for their request. Two references put the number in context:

- ``hello``: a bare functions-framework function (what the platform alone costs);
- the request's floor (``bench/fixtures/<function>[_<request>]_floor``): only the imports
  and the external calls that first request truly needs. The goal is every function's
  median ≤ 1.15 × its floor's: join (``GET /interviews/{id}``, ID token and guest link)
  against ``join_floor``; oauth ``GET /status`` against ``oauth_status_floor`` and
  ``POST /connect`` against ``oauth_connect_floor``, both with a host's ID token;
  interviews ``GET /interviews`` (a host's list) against ``interviews_list_floor``; the
  email worker's ``POST /`` (one real delivery, Cloud Tasks' OIDC token for the worker's
  URL) against ``email_worker_floor``; scheduling's public ``GET /links/{link}?date=…`` (a
  guest opening a booking link: 4 document gets, the OAuth token refresh, ONE free/busy
  call over 3 calendars, ONE interviews query) against ``scheduling_availability_floor``.

The emulator and the sandbox are started once; every run starts each candidate fresh on
a fresh port, interleaving the candidates so that machine noise hits all of them alike,
with the same environment the dev stack gives a function. Before every round the measured
sources (``shared/``, ``functions/``, the fixtures) are byte-compiled, as the Cloud Run
functions buildpack does at deploy: no candidate pays for compiling its own code, whatever
the caller's ``PYTHONDONTWRITEBYTECODE``.

``--imports`` measures nothing: it starts every candidate once under ``python -X importtime``
(gunicorn master and worker both report to the log) and lists, per candidate, the modules
loaded by its first answer beyond its floor's, and any it must not load (exit 1 if so).
Some candidates are checked only there (``timed=False``): ``GET /interviews/{id}``.
"""

from __future__ import annotations

import argparse
import compileall
import http.client
import json
import os
import platform
import re
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from google.cloud import firestore
from google.cloud.firestore_v1.base_query import FieldFilter

from bench import HOST, LOG_DIR, OTHER_HOST, OTHER_WORKSPACE, WORKSPACE, BenchStack, _control, bench_stack, interview, median
from devstack import processes
from devstack.stack import OAUTH_CLIENT_SECRET, TOKEN_KEY_SECRET, internal_env
from shared.adapters.connections import ConnectionRepository
from shared.adapters.firestore import InterviewRepository, UserRepository
from shared.domain.connections import GOOGLE
from shared.domain.models import InterviewType, Person

FIXTURES = Path(__file__).resolve().parent / "fixtures"
FLOOR_GOAL = 1.15  # a function's median cold start may exceed its floor's by 15 % at most
# What the deployed image holds byte-compiled (the buildpack runs `python3 -m compileall -f -q .`
# on the function's source); the libraries in the virtualenv were byte-compiled by pip.
COMPILED_SOURCES = (processes.ROOT / "shared", processes.ROOT / "functions", FIXTURES)
NAME_WIDTH = 34
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
    method: str = "GET"
    body: bytes | None = None
    accepts: Callable[[bytes], bool] = _any_body
    floor: str | None = None  # the candidate it is held against (None: a reference itself)
    must_not_import: tuple[str, ...] = ()  # modules (and their submodules) this request has no use for
    env: Mapping[str, str] = field(default_factory=dict)  # on top of the dev stack's function environment
    # Called (untimed) before each start with the URL the process will serve: returns the candidate to
    # start, e.g. with a fresh document to work on and a token minted for that URL.
    per_start: Callable[[Candidate, str], Candidate] | None = None
    timed: bool = True  # False: only checked by --imports


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
    now = datetime.now(UTC)
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
        Candidate(
            "join_floor",
            "join_floor",
            FIXTURES / "join_floor" / "main.py",
            path,
            headers={"Authorization": f"Bearer {host_token}"},
            accepts=_json_with(workspace_id=WORKSPACE),
        ),
        Candidate(
            "join (ID token)",
            "join",
            join_source,
            path,
            headers={"Authorization": f"Bearer {host_token}"},
            accepts=_json_with(interview_id=ready.id, meeting_status="ready", participant="host"),
            floor="join_floor",
        ),
        Candidate(
            "join (guest link)",
            "join",
            join_source,
            path,
            headers={"Authorization": f"Bearer {guest_token}"},
            accepts=_json_with(interview_id=ready.id, meeting_status="ready", participant="guest"),
            floor="join_floor",
        ),
    ]


def _connect_link(oauth_url: str) -> Callable[[bytes], bool]:
    """A body check for POST /connect: a start link of this oauth URL with a state, and its expiry."""
    prefix = oauth_url + "/start?state="

    def accepts(body: bytes) -> bool:
        try:
            data = json.loads(body)
        except ValueError:
            return False
        url = data.get("google_auth_url") if isinstance(data, dict) else None
        return (
            isinstance(url, str)
            and url.startswith(prefix)
            and len(url) > len(prefix) + 40
            and isinstance(data.get("expires_at"), str)
        )

    return accepts


def oauth_candidates(stack: BenchStack) -> list[Candidate]:
    """oauth's two requests a host sends from the app, each next to its floor.

    ``GET /status`` as a returning host sees it (a stored, connected Google account) and
    ``POST /connect`` (a consent URL, PKCE verifier sealed, one ``oauth_states`` document),
    both with the host's Firebase ID token and the host's ``users/{uid}`` document seeded.
    """
    now = datetime.now(UTC)
    user = stack.seed_host()
    connection = stack.seed_connection(user, now)
    client = stack.firestore_client()
    users, connections = UserRepository(client), ConnectionRepository(client)
    for _ in range(5):  # warm the emulator on exactly the documents the requests read
        users.get(user.uid)
        connections.get(user.uid, GOOGLE)
    token = stack.mint_id_token(HOST, WORKSPACE)
    auth = {"Authorization": f"Bearer {token}"}
    post = {**auth, "Content-Type": "application/json"}
    source = processes.ROOT / "functions" / "oauth" / "main.py"
    connected = {"connected": True, "status": "connected", "account_email": connection.account_email}
    # GET /status reads one document: none of the connect/callback/calendar libraries, nor the
    # Jinja2 pages (Jinja2 itself is loaded by Flask, in every function, hello included).
    status_must_not = (
        "google_auth_oauthlib",
        "oauthlib",
        "requests_oauthlib",
        "googleapiclient",
        "httplib2",
        "google.cloud.secretmanager",
        "google.cloud.secretmanager_v1",
        "cryptography.hazmat.primitives.ciphers.aead",
        "shared.pages",
        "shared.google.calendar",
    )
    return [
        Candidate(
            "oauth_status_floor",
            "oauth_status_floor",
            FIXTURES / "oauth_status_floor" / "main.py",
            "/status",
            headers=auth,
            accepts=_json_with(**connected),
        ),
        Candidate(
            "oauth (GET /status)",
            "oauth",
            source,
            "/status",
            headers=auth,
            accepts=_json_with(**connected),
            floor="oauth_status_floor",
            must_not_import=status_must_not,
        ),
        Candidate(
            "oauth_connect_floor",
            "oauth_connect_floor",
            FIXTURES / "oauth_connect_floor" / "main.py",
            "/connect",
            headers=post,
            method="POST",
            body=b"{}",
            accepts=_connect_link(stack.oauth_url),
        ),
        Candidate(
            "oauth (POST /connect)",
            "oauth",
            source,
            "/connect",
            headers=post,
            method="POST",
            body=b"{}",
            accepts=_connect_link(stack.oauth_url),
            floor="oauth_connect_floor",
        ),
    ]


# What neither a host's list nor a get of one interview has any use for: the Calendar and Meet
# clients, Cloud Tasks, SendGrid, the OAuth flow, Secret Manager (a list or get reads no secret).
INTERVIEWS_READ_MUST_NOT = (
    "googleapiclient",
    "google.cloud.tasks",
    "google.cloud.tasks_v2",
    "sendgrid",
    "python_http_client",
    "google_auth_oauthlib",
    "oauthlib",
    "requests_oauthlib",
    "httplib2",
    "google_auth_httplib2",
    "google.cloud.secretmanager",
    "google.cloud.secretmanager_v1",
    "icalendar",
)
LISTED_INTERVIEWS = 5
# A delivery about an interview that has its link (phone, or a Meet link already stored) calls neither
# Calendar/Meet (only a pending Meet link is resolved there), nor Cloud Tasks, nor the OAuth flow.
WORKER_MUST_NOT = (
    "googleapiclient",
    "httplib2",
    "google_auth_httplib2",
    "google.cloud.tasks",
    "google.cloud.tasks_v2",
    "google_auth_oauthlib",
    "oauthlib",
    "requests_oauthlib",
    "shared.google.calendar",
    "shared.google.meet",
)


def interviews_candidates(stack: BenchStack) -> list[Candidate]:
    """A host's ``GET /interviews`` (timed, next to its floor) and ``GET /interviews/{id}`` (``--imports`` only).

    Seeded: the host's ``users/{uid}`` (role host) and five upcoming interviews of the host, plus two of
    another workspace's host that the list must not return; the host's Firebase ID token.
    """
    now = datetime.now(UTC)
    stack.seed_host()
    client = stack.firestore_client()
    repo, users = InterviewRepository(client), UserRepository(client)
    own = [interview(now + timedelta(days=1 + i, hours=i), now=now, label=f"list{i}") for i in range(LISTED_INTERVIEWS)]
    foreign = [
        replace(
            interview(now + timedelta(days=2 + i), now=now, label=f"foreign{i}"), workspace_id=OTHER_WORKSPACE, host=OTHER_HOST
        )
        for i in range(2)
    ]
    for item in own + foreign:
        repo.add(item)
    for _ in range(5):  # warm the emulator on exactly the reads the requests make
        users.get(HOST.uid)
        repo.get(own[0].id)
        list(
            client.collection("interviews")
            .where(filter=FieldFilter("workspace_id", "==", WORKSPACE))
            .where(filter=FieldFilter("host.uid", "==", HOST.uid))
            .order_by("start")
            .order_by("__name__")
            .limit(26)
            .stream()
        )
    token = stack.mint_id_token(HOST, WORKSPACE)
    auth = {"Authorization": f"Bearer {token}"}
    own_ids = {i.id for i in own}

    def host_list(body: bytes) -> bool:  # every seeded interview of the host, nothing of anyone else's
        try:
            items = json.loads(body)["interviews"]
            ids = {item["id"] for item in items}
            hosts = {(item.get("host") or {}).get("uid") for item in items}
        except (ValueError, KeyError, TypeError, AttributeError):
            return False
        return own_ids <= ids and hosts == {HOST.uid}

    source = processes.ROOT / "functions" / "interviews" / "main.py"
    return [
        Candidate(
            "interviews_list_floor",
            "interviews_list_floor",
            FIXTURES / "interviews_list_floor" / "main.py",
            "/interviews",
            headers=auth,
            accepts=host_list,
        ),
        Candidate(
            "interviews (GET /interviews)",
            "interviews",
            source,
            "/interviews",
            headers=auth,
            accepts=host_list,
            floor="interviews_list_floor",
            must_not_import=INTERVIEWS_READ_MUST_NOT,
        ),
        Candidate(
            "interviews (GET /interviews/{id})",
            "interviews",
            source,
            f"/interviews/{own[0].id}",
            headers=auth,
            accepts=_json_with(id=own[0].id, status="confirmed"),
            floor="interviews_list_floor",
            must_not_import=INTERVIEWS_READ_MUST_NOT,
            timed=False,
        ),
    ]


def email_worker_candidates(stack: BenchStack) -> list[Candidate]:
    """One real delivery of the email worker, next to its floor.

    Seeded once: a confirmed phone interview (no Meet link to resolve). Before every start
    (untimed): a fresh ``queued`` outbox document (the candidate's invitation) and Cloud Tasks'
    OIDC token minted for the URL the process will serve, which is also its
    ``CONVENE_INTERNAL_AUDIENCE`` (``devstack.stack.internal_env``, as ``make dev`` sets it).
    The first request verifies the token, claims the email (transaction), reads the interview,
    renders text, HTML and .ics, reads the SendGrid key from Secret Manager, sends through the
    real ``sendgrid`` client to the sandbox and records ``sent``: the answer and then the
    outbox document are checked.
    """
    now = datetime.now(UTC)
    client = stack.firestore_client()
    repo = InterviewRepository(client)
    phone = replace(
        interview(now + timedelta(days=2), now=now, label="phone"),
        type=InterviewType.PHONE,
        phone="+49 30 901820",
        meet_link=None,
        calendar_event_id=None,
    )
    repo.add(phone)
    outbox = client.collection("outbox")

    @firestore.transactional
    def claim(transaction: Any, ref: Any) -> None:
        ref.get(transaction=transaction)
        transaction.update(ref, {"status": "sending"})

    for _ in range(5):  # warm the emulator on the reads, the transaction and the update a delivery makes
        warm = outbox.document(f"bench-warm-{uuid.uuid4().hex}")
        warm.set({"status": "queued"})
        claim(client.transaction(), warm)
        repo.get(phone.id)
        warm.update({"status": "sent"})

    def per_start(candidate: Candidate, url: str) -> Candidate:
        email_id = f"bench-email-{uuid.uuid4().hex}"
        queued_at = datetime.now(UTC)
        outbox.document(email_id).create(
            {
                "interview_id": phone.id,
                "workspace_id": phone.workspace_id,
                "kind": "invitation",
                "audience": "candidate",
                "sequence": phone.ical_sequence,
                "to_email": phone.guest.email,
                "status": "queued",
                "attempts": 0,
                "created_at": queued_at,
                "updated_at": queued_at,
            }
        )
        token = stack.mint_tasks_token(url)

        def sent(body: bytes) -> bool:
            if not _json_with(email_id=email_id, status="sent")(body):
                return False
            record = outbox.document(email_id).get().to_dict() or {}
            return record.get("status") == "sent" and bool(record.get("sendgrid_message_id")) and record.get("attempts") == 1

        return replace(
            candidate,
            env={**candidate.env, **internal_env("email_worker", url, stack.project_id)},
            headers={
                "Authorization": f"Bearer {token}",
                "Content-Type": "application/json",
                "X-CloudTasks-TaskExecutionCount": "0",
            },
            body=json.dumps({"email_id": email_id}).encode(),
            accepts=sent,
        )

    return [
        Candidate(
            "email_worker_floor",
            "email_worker_floor",
            FIXTURES / "email_worker_floor" / "main.py",
            "/",
            method="POST",
            per_start=per_start,
        ),
        Candidate(
            "email_worker (POST /)",
            "email_worker",
            processes.ROOT / "functions" / "email_worker" / "main.py",
            "/",
            method="POST",
            per_start=per_start,
            floor="email_worker_floor",
            must_not_import=WORKER_MUST_NOT,
        ),
    ]


# A guest opening a booking link has no use for: the consent flow (only a lapsed grant would build a
# connect link, and a guest is never shown one), Cloud Tasks, SendGrid, icalendar, Convene's pages.
SCHEDULING_VIEW_MUST_NOT = (
    "google_auth_oauthlib",
    "oauthlib",
    "requests_oauthlib",
    "google.cloud.tasks",
    "google.cloud.tasks_v2",
    "sendgrid",
    "python_http_client",
    "icalendar",
)
SCHEDULER = Person(email="sara.scheduler@gmail.example", name="Sara Scheduler", uid="uid-bench-scheduler")
SCHEDULING_ZONE = "Europe/Berlin"


def _connect_google(stack: BenchStack, person: Person) -> str:
    """The person's Google account in the sandbox, consented offline through the sandbox's OAuth
    (control API, then the code exchanged at its token endpoint): a real refresh token."""
    import urllib.parse
    import urllib.request

    from shared.domain.connections import REQUESTED_SCOPES

    secret_values = json.loads(bytes(stack.secrets().get(OAUTH_CLIENT_SECRET).value))
    client_id, client_secret = secret_values["client_id"], secret_values["client_secret"]
    _control(stack.sandbox_url, "/sandbox/oauth/accounts", {"email": person.email, "name": person.name})
    redirect_uri = stack.oauth_url + "/callback"
    query = {
        "client_id": client_id,
        "redirect_uri": redirect_uri,
        "response_type": "code",
        "scope": " ".join(REQUESTED_SCOPES),
        "access_type": "offline",
        "prompt": "consent",
        "state": uuid.uuid4().hex,
    }
    authorization_url = f"{stack.sandbox_url}/o/oauth2/v2/auth?{urllib.parse.urlencode(query)}"
    redirect = _control(
        stack.sandbox_url, "/sandbox/oauth/consent", {"authorization_url": authorization_url, "email": person.email}
    )
    code = urllib.parse.parse_qs(urlsplit(redirect["redirect"]).query)["code"][0]
    form = {
        "grant_type": "authorization_code",
        "code": code,
        "redirect_uri": redirect_uri,
        "client_id": client_id,
        "client_secret": client_secret,
    }
    request = urllib.request.Request(stack.sandbox_url + "/token", data=urllib.parse.urlencode(form).encode(), method="POST")
    with urllib.request.urlopen(request, timeout=10) as response:
        return str(json.loads(response.read())["refresh_token"])


def scheduling_candidates(stack: BenchStack) -> list[Candidate]:
    """A guest's ``GET /links/{link}?date=…`` (public, no token) next to its floor.

    Seeded once: a host (``users/{uid}``) whose Google account is connected for real in the
    sandbox (a refresh token from its OAuth consent and code exchange, sealed with the stack's
    key; the calendar list primary + 2 secondary calendars, also added to the account in the
    sandbox); a configuration over those 3 calendars (30-minute slots every 30 minutes,
    09:00–12:00 and 13:00–17:00 Berlin time every day); a booking link; a busy block 10:00–11:00
    in a secondary calendar and a confirmed interview 14:00–14:30 on the day asked. Each start
    refreshes the access token (a fresh instance has none) and makes ONE free/busy call; the
    answer must list exactly the day's 11 free slots.
    """
    from datetime import date as date_type
    from zoneinfo import ZoneInfo

    from shared.adapters.scheduling import BookingLinkRepository, SchedulingConfigRepository
    from shared.crypto import TokenCipher
    from shared.domain.connections import REQUESTED_SCOPES, CalendarEntry, Connection, ConnectionStatus
    from shared.domain.scheduling import BookingLink, SchedulingConfig, WorkingRange
    from shared.google.credentials import refresh_token_context
    from tests import factories

    now = datetime.now(UTC)
    zone = ZoneInfo(SCHEDULING_ZONE)
    user = stack.seed_host(SCHEDULER, WORKSPACE)
    refresh_token = _connect_google(stack, SCHEDULER)
    secondary = ("team.bench@group.calendar.google.com", "hiring.bench@group.calendar.google.com")
    for calendar_id in secondary:
        _control(
            stack.sandbox_url,
            "/sandbox/calendar/calendars",
            {
                "account": SCHEDULER.email,
                "id": calendar_id,
                "summary": calendar_id.split(".")[0].title(),
                "time_zone": SCHEDULING_ZONE,
            },
        )
    client = stack.firestore_client()
    connections = ConnectionRepository(client)
    connections.save(
        Connection(
            uid=user.uid,
            workspace_id=WORKSPACE,
            provider=GOOGLE,
            status=ConnectionStatus.CONNECTED,
            account_email=SCHEDULER.email,
            scopes=tuple(sorted(REQUESTED_SCOPES)),
            calendars=(
                CalendarEntry(SCHEDULER.email, SCHEDULER.email, True, "owner", SCHEDULING_ZONE),
                *(CalendarEntry(c, c.split(".")[0].title(), False, "owner", SCHEDULING_ZONE) for c in secondary),
            ),
            refresh_token=TokenCipher(stack.secrets(), TOKEN_KEY_SECRET).seal(
                refresh_token, context=refresh_token_context(user.uid, GOOGLE)
            ),
            connected_at=now - timedelta(days=3),
            last_sync_at=now - timedelta(hours=2),
            updated_at=now - timedelta(hours=2),
        )
    )
    hours = (WorkingRange(9 * 60, 12 * 60), WorkingRange(13 * 60, 17 * 60))
    config = SchedulingConfig(
        id="cfg_bench_cold",
        workspace_id=WORKSPACE,
        host_uid=user.uid,
        name="30-minute screening",
        timezone=SCHEDULING_ZONE,
        calendar_ids=("primary", *secondary),
        duration_minutes=30,
        working_hours={day: hours for day in range(7)},
        slot_step_minutes=30,
        days_ahead=30,
        created_at=now,
        updated_at=now,
    )
    SchedulingConfigRepository(client).add(config)
    link = BookingLink(
        id="bench-cold-" + uuid.uuid4().hex[:12],
        workspace_id=WORKSPACE,
        host_uid=user.uid,
        config_id=config.id,
        created_by=user.uid,
        created_at=now,
    )
    links = BookingLinkRepository(client)
    links.add(link)
    day: date_type = (now.astimezone(zone) + timedelta(days=3)).date()

    def at(hhmm: str) -> datetime:
        hour, minute = map(int, hhmm.split(":"))
        return datetime(day.year, day.month, day.day, hour, minute, tzinfo=zone)

    _control(
        stack.sandbox_url,
        f"/sandbox/calendar/calendars/{secondary[0]}/busy",
        {"start": at("10:00").isoformat(), "end": at("11:00").isoformat()},
    )
    booked = factories.interview(
        id=f"bench-sched-{uuid.uuid4().hex[:8]}",
        workspace_id=WORKSPACE,
        host=SCHEDULER,
        start=at("14:00").astimezone(UTC),
        duration_minutes=30,
        created_at=now,
        updated_at=now,
    )
    InterviewRepository(client).add(booked)
    free = [f"{h:02d}:{m:02d}" for h in (9, 10, 11, 13, 14, 15, 16) for m in (0, 30)]
    expected = {at(t).astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ") for t in free if t not in ("10:00", "10:30", "14:00")}

    users = UserRepository(client)
    configs = SchedulingConfigRepository(client)
    for _ in range(5):  # warm the emulator on exactly the reads the request makes
        links.get(link.id)
        configs.get(config.id)
        users.get(user.uid)
        connections.get(user.uid, GOOGLE)
        list(
            client.collection("interviews")
            .where(filter=FieldFilter("workspace_id", "==", WORKSPACE))
            .where(filter=FieldFilter("host.uid", "==", user.uid))
            .where(filter=FieldFilter("status", "in", ["pending", "confirmed"]))
            .where(filter=FieldFilter("start", ">=", at("00:00") - timedelta(hours=12)))
            .where(filter=FieldFilter("start", "<", at("00:00") + timedelta(hours=28)))
            .order_by("start")
            .stream()
        )

    def day_slots(body: bytes) -> bool:  # exactly the day's free slots: Google's busy block and the interview left out
        try:
            data = json.loads(body)
            starts = {s["start"] for s in data["available_slots"]}
        except (ValueError, KeyError, TypeError):
            return False
        return data.get("link_id") == link.id and starts == expected and len(data["available_slots"]) == len(expected)

    path = f"/links/{link.id}?date={day.isoformat()}"
    return [
        Candidate(
            "scheduling_availability_floor",
            "scheduling_availability_floor",
            FIXTURES / "scheduling_availability_floor" / "main.py",
            path,
            accepts=day_slots,
        ),
        Candidate(
            "scheduling (GET /links/{id})",
            "scheduling",
            processes.ROOT / "functions" / "scheduling" / "main.py",
            path,
            accepts=day_slots,
            floor="scheduling_availability_floor",
            must_not_import=SCHEDULING_VIEW_MUST_NOT,
        ),
    ]


BENCHES: dict[str, Callable[[BenchStack], list[Candidate]]] = {
    "join": join_candidates,
    "oauth": oauth_candidates,
    "interviews": interviews_candidates,
    "email_worker": email_worker_candidates,
    "scheduling": scheduling_candidates,
}
HELLO = Candidate("hello", "hello", FIXTURES / "hello" / "main.py", "/", accepts=lambda body: body == b"ok")


def _first_response(port: int, candidate: Candidate, process: subprocess.Popen[bytes]) -> tuple[int, bytes]:
    """Send the real request every few ms until the server accepts it; its answer ends the wait."""
    deadline = time.monotonic() + START_TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise BenchError(f"{candidate.name} exited with {process.returncode} before answering")
        connection = http.client.HTTPConnection(processes.LOOPBACK, port, timeout=START_TIMEOUT_SECONDS)
        try:
            connection.request(candidate.method, candidate.path, body=candidate.body, headers=dict(candidate.headers))
            response = connection.getresponse()
            return response.status, response.read()
        except ConnectionRefusedError:
            time.sleep(POLL_SECONDS)
        finally:
            connection.close()
    raise BenchError(f"{candidate.name} did not answer within {START_TIMEOUT_SECONDS:.0f} s")


def byte_compile() -> None:
    """Byte-compile the measured sources into their ``__pycache__`` (only what changed since the last time)."""
    for source in COMPILED_SOURCES:
        if not compileall.compile_dir(source, quiet=1):
            raise BenchError(f"byte-compiling {source} failed")


def _start_and_answer(
    candidate: Candidate, env: Mapping[str, str], log_dir: Path, python_flags: Sequence[str] = ()
) -> tuple[float, Path]:
    """Milliseconds from process start to the first 200, and the process's log (kept: the caller deletes it)."""
    port = processes.free_port()
    url = f"http://{processes.LOOPBACK}:{port}"
    if candidate.per_start is not None:
        candidate = candidate.per_start(candidate, url)
    argv = [
        sys.executable,
        *python_flags,
        "-m",
        "functions_framework",
        "--target",
        candidate.target,
        "--source",
        str(candidate.source),
        "--host",
        processes.LOOPBACK,
        "--port",
        str(port),
    ]
    log_dir.mkdir(parents=True, exist_ok=True)
    log_path = log_dir / f"{candidate.target}-{port}.log"
    with open(log_path, "wb") as log:
        started = time.perf_counter()
        process = subprocess.Popen(
            argv,
            cwd=processes.ROOT,
            env={**env, **candidate.env},
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
        service = processes.Service(candidate.name, process, url, log_path)
        try:
            status, body = _first_response(port, candidate, process)
            elapsed_ms = (time.perf_counter() - started) * 1000
        finally:
            service.stop()
    if status != 200 or not candidate.accepts(body):
        raise BenchError(f"{candidate.name} answered {status}: {body[:300]!r} (log: {log_path})")
    return elapsed_ms, log_path


def measure(candidate: Candidate, env: Mapping[str, str], log_dir: Path) -> float:
    """Milliseconds from process start to the first 200; the process group is stopped after."""
    elapsed_ms, log_path = _start_and_answer(candidate, env, log_dir)
    log_path.unlink()  # keep only the logs of failures
    return elapsed_ms


_IMPORTTIME = re.compile(r"^import time:\s+\d+ \|\s+\d+ \|\s*(\S+)\s*$")


def imported_modules(candidate: Candidate, env: Mapping[str, str], log_dir: Path) -> set[str]:
    """Every module the master and the worker loaded up to the first answer (``-X importtime``)."""
    _, log_path = _start_and_answer(candidate, env, log_dir, python_flags=("-X", "importtime"))
    modules = {m.group(1) for line in log_path.read_text(errors="replace").splitlines() if (m := _IMPORTTIME.match(line))}
    log_path.unlink()
    return modules


def _package(module: str) -> str:
    """google.cloud.x.y → google.cloud.x, google.x.y → google.x, other → its top-level package."""
    parts = module.split(".")
    if parts[:2] == ["google", "cloud"]:
        return ".".join(parts[:3])
    return ".".join(parts[:2] if parts[0] == "google" else parts[:1])


def import_report(candidates: Sequence[Candidate], env: Mapping[str, str], log_dir: Path) -> dict[str, Any]:
    """Per candidate with a floor: what its first answer loads beyond the floor's, and forbidden modules loaded."""
    byte_compile()
    loaded = {c.name: imported_modules(c, env, log_dir) for c in candidates}
    report: dict[str, Any] = {}
    for c in candidates:
        if c.floor is None:
            continue
        extra = sorted(loaded[c.name] - loaded[c.floor])
        packages: dict[str, int] = {}
        for module in extra:
            if module != "shared" and not module.startswith("shared."):
                packages[_package(module)] = packages.get(_package(module), 0) + 1
        report[c.name] = {
            "floor": c.floor,
            "modules": len(loaded[c.name]),
            "floor_modules": len(loaded[c.floor]),
            "beyond_floor": extra,
            "convene_beyond_floor": [m for m in extra if m == "shared" or m.startswith("shared.")],
            "other_beyond_floor_packages": packages,
            "missing_from_floor": sorted(loaded[c.floor] - loaded[c.name]),
            "forbidden_loaded": sorted(
                m for m in loaded[c.name] if any(m == f or m.startswith(f + ".") for f in c.must_not_import)
            ),
            "must_not_import": list(c.must_not_import),
        }
    return report


def render_imports(report: Mapping[str, Any]) -> str:
    rows = []
    for name, r in report.items():
        rows.append(
            f"{name}: {r['modules']} modules, its floor ({r['floor']}) {r['floor_modules']}; "
            f"{len(r['beyond_floor'])} beyond the floor, {len(r['missing_from_floor'])} of the floor's not loaded"
        )
        rows.append(
            f"  beyond the floor: {len(r['convene_beyond_floor'])} of Convene's (shared.*); other packages: "
            + (", ".join(f"{p} ({n})" for p, n in r["other_beyond_floor_packages"].items()) or "none")
        )
        if r["must_not_import"]:
            verdict = "none loaded" if not r["forbidden_loaded"] else "LOADED: " + ", ".join(r["forbidden_loaded"])
            rows.append(f"  must not load {', '.join(r['must_not_import'])}: {verdict}")
    return "\n".join(rows)


def run(
    candidates: Sequence[Candidate],
    env: Mapping[str, str],
    *,
    runs: int,
    warmup: int,
    log_dir: Path,
    progress: Callable[[str], None],
) -> dict[str, list[float]]:
    """Interleaved rounds (hello, join_floor, join, …, oauth_status_floor, oauth, …); warm-up rounds
    fill the page cache and are dropped."""
    samples: dict[str, list[float]] = {c.name: [] for c in candidates if c.timed}
    for round_no in range(-warmup, runs):
        byte_compile()  # again each round: a source edited meanwhile must not be compiled inside a measurement
        timings = [(c.name, measure(c, env, log_dir)) for c in candidates if c.timed]
        label = "warm-up" if round_no < 0 else f"run {round_no + 1}/{runs}"
        progress(f"{label}: " + ", ".join(f"{name} {ms:.0f}" for name, ms in timings))
        if round_no >= 0:
            for name, ms in timings:
                samples[name].append(ms)
    return samples


def summarize(candidates: Sequence[Candidate], samples: Mapping[str, list[float]]) -> dict[str, Any]:
    figures = {
        name: {
            "median_ms": round(median(values), 1),
            "min_ms": round(min(values), 1),
            "max_ms": round(max(values), 1),
            "samples_ms": [round(v, 1) for v in values],
        }
        for name, values in samples.items()
    }
    ratios = {}
    for c in candidates:
        if c.floor is None or not c.timed:
            continue
        to_floor = median(samples[c.name]) / median(samples[c.floor])
        # Same-round pairs share the machine's state at that moment: a cross-check on the noise.
        paired = median([own / floor for own, floor in zip(samples[c.name], samples[c.floor], strict=True)])
        to_hello = median(samples[c.name]) / median(samples[HELLO.name])
        ratios[c.name] = {
            "to_floor": round(to_floor, 3),
            "to_hello": round(to_hello, 3),
            "paired_to_floor": round(paired, 3),
            "floor": c.floor,
            "goal": FLOOR_GOAL,
            "meets_goal": to_floor <= FLOOR_GOAL,
        }
    return {"candidates": figures, "ratios": ratios}


def render(summary: Mapping[str, Any]) -> str:
    rows = [f"{'candidate':<{NAME_WIDTH}} {'median':>8} {'min':>8} {'max':>8}   (ms, process start → first 200)"]
    for name, f in summary["candidates"].items():
        rows.append(f"{name:<{NAME_WIDTH}} {f['median_ms']:>8.1f} {f['min_ms']:>8.1f} {f['max_ms']:>8.1f}")
    rows.append("")
    rows.append(
        f"{'ratio of medians':<{NAME_WIDTH}} {'/floor':>8} {'/hello':>8} {'paired':>8}   goal: median ≤ {FLOOR_GOAL} × floor"
    )
    for name, r in summary["ratios"].items():
        verdict = "meets goal" if r["meets_goal"] else "ABOVE GOAL"
        rows.append(
            f"{name:<{NAME_WIDTH}} {r['to_floor']:>8.2f} {r['to_hello']:>8.2f} {r['paired_to_floor']:>8.2f}   "
            f"{verdict} (floor: {r['floor']})"
        )
    rows.append("(paired: median over runs of candidate / floor started in the same round)")
    return "\n".join(rows)


def machine() -> dict[str, Any]:
    return {
        "nproc": os.cpu_count(),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "load_average": [round(x, 2) for x in os.getloadavg()],
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.cold_start", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--runs", type=int, default=7, help="measured rounds (default 7)")
    parser.add_argument("--warmup", type=int, default=1, help="rounds run first and dropped (default 1)")
    parser.add_argument(
        "--functions", nargs="+", choices=sorted(BENCHES), default=sorted(BENCHES), help="functions to measure (default: all)"
    )
    parser.add_argument("--json", type=Path, metavar="PATH", help="also write the figures as JSON")
    parser.add_argument(
        "--imports",
        action="store_true",
        help="instead of timing: the modules each candidate loads beyond its floor (-X importtime)",
    )
    parser.add_argument("--log-dir", type=Path, default=LOG_DIR, help="emulator, sandbox and failed-start logs")
    args = parser.parse_args(argv)
    if args.runs < 1 or args.warmup < 0:
        parser.error("--runs must be ≥ 1 and --warmup ≥ 0")

    with bench_stack(args.log_dir) as stack:
        candidates = [HELLO] + [c for name in args.functions for c in BENCHES[name](stack)]
        if args.imports:
            result: dict[str, Any] = import_report(candidates, stack.function_env(), args.log_dir)
        else:
            print(
                f"cold start, {args.runs} runs (+{args.warmup} warm-up) of {', '.join(c.name for c in candidates if c.timed)}",
                flush=True,
            )
            samples = run(
                candidates,
                stack.function_env(),
                runs=args.runs,
                warmup=args.warmup,
                log_dir=args.log_dir,
                progress=lambda line: print("  " + line, flush=True),
            )
            result = {"machine": machine(), "runs": args.runs, "warmup": args.warmup, **summarize(candidates, samples)}
    print()
    print(render_imports(result) if args.imports else render(result))
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(result, indent=2) + "\n")
        print(f"\n{'module lists' if args.imports else 'figures'} written to {args.json}")
    if args.imports and any(r["forbidden_loaded"] for r in result.values()):
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
