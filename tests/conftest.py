"""Session-wide real parts: the Firestore emulator and the Google sandbox.

Started only when a test asks for them (unit tests run without), stopped with their
whole process group at the end. Each run uses its own project id, so parallel runs and
the dev stack never see each other's data.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from devstack import processes
from devstack.sandbox.server import SandboxServer
from devstack.stack import SENDGRID_SECRET, function_env, oauth_client, stack_secrets, tasks_invoker
from shared import bootstrap
from shared.bootstrap import Container
from shared.clock import FixedClock
from shared.config import Settings

PROJECT_ID = f"convene-test-{uuid.uuid4().hex[:8]}"
SECRETS = stack_secrets()
OAUTH_PORT = processes.free_port()  # the oauth function's URL is configuration, so it is fixed up front
OAUTH_URL = f"http://{processes.LOOPBACK}:{OAUTH_PORT}"
OAUTH_RESULT_URL = "http://localhost:5173/settings/integrations"
JOIN_PORT = processes.free_port()
JOIN_URL = f"http://{processes.LOOPBACK}:{JOIN_PORT}"
SCHEDULING_PORT = processes.free_port()  # fixed up front: the emailed manage / respond links point at it
SCHEDULING_URL = f"http://{processes.LOOPBACK}:{SCHEDULING_PORT}"
PORTAL_URL = JOIN_URL + "/portal"
WORKER_PORT = processes.free_port()
WORKER_URL = f"http://{processes.LOOPBACK}:{WORKER_PORT}"
TASKS_INVOKER = tasks_invoker(PROJECT_ID)
LOG_DIR = Path(os.environ.get("CONVENE_TEST_LOG_DIR", processes.ROOT / ".convene" / "test-logs"))
CORS_ORIGIN = "http://localhost:5173"
# Firestore index coverage (tests/infra/firestore_indexes.py): the shape of every query executed in
# this process is appended here. Child processes inherit CONVENE_TEST_QUERY_LOG and record too when
# tests/infra/querylog is on their PYTHONPATH (its sitecustomize.py; querylog.subprocess_env()).
QUERY_LOG = LOG_DIR / f"queries-{PROJECT_ID}.jsonl"


def recorded(env: dict[str, str]) -> dict[str, str]:
    """A function process's environment with the query recorder on."""
    from tests.infra import querylog

    return env | querylog.subprocess_env(QUERY_LOG)


def pytest_sessionstart(session):
    from tests.infra import querylog

    querylog.prepare(QUERY_LOG)  # a fresh log for this run (older runs' logs pruned)
    querylog.install(QUERY_LOG)


@pytest.fixture(scope="session")
def project_id() -> str:
    return PROJECT_ID


@pytest.fixture(scope="session")
def firestore_emulator() -> Iterator[processes.Service]:
    service = processes.start_firestore_emulator(log_dir=LOG_DIR)
    os.environ["FIRESTORE_EMULATOR_HOST"] = service.extra["host"]
    try:
        yield service
    finally:
        service.stop()


@pytest.fixture(scope="session")
def sandbox() -> Iterator[SandboxServer]:
    server = SandboxServer(project=PROJECT_ID).start()
    for name, value in SECRETS.items():
        server.put_secret(name, value)
    client_id, client_secret = oauth_client(SECRETS)
    server.register_oauth_client(client_id, client_secret, [OAUTH_URL + "/callback"])
    server.add_sendgrid_key(SECRETS[SENDGRID_SECRET])
    create_email_queue(server.url, PROJECT_ID)
    server.set_tasks_time_scale(0.01)  # the queue's 1 s minimum backoff becomes 10 ms
    try:
        yield server
    finally:
        server.stop()


def create_email_queue(sandbox_url: str, project_id: str) -> None:
    from devstack.stack import create_email_queue as create

    create(sandbox_url, project_id)


@pytest.fixture(scope="session")
def stack_env(firestore_emulator, sandbox) -> dict[str, str]:
    return function_env(
        project_id=PROJECT_ID,
        firestore_host=firestore_emulator.extra["host"],
        sandbox_url=sandbox.url,
        cors_origins=CORS_ORIGIN,
        oauth_url=OAUTH_URL,
        oauth_result_urls=OAUTH_RESULT_URL,
        worker_url=WORKER_URL,
        portal_url=PORTAL_URL,
    ) | {
        "CONVENE_INTERNAL_AUDIENCE": WORKER_URL,  # only the email worker checks it
        "CONVENE_GOOGLE_BACKOFF_SCALE": "0.01",  # retries keep their shape, tests do not wait for them
        "CONVENE_SCHEDULING_URL": SCHEDULING_URL,
    }


@pytest.fixture(scope="session")
def settings(stack_env) -> Settings:
    return Settings.from_env(stack_env)


@pytest.fixture(scope="session")
def firestore_client(firestore_emulator):
    from google.cloud import firestore

    return firestore.Client(project=PROJECT_ID)


@pytest.fixture
def db(firestore_emulator, firestore_client):
    """A Firestore client on an empty database."""
    processes.wipe_firestore(firestore_emulator.extra["host"], PROJECT_ID)
    return firestore_client


@pytest.fixture
def clock() -> FixedClock:
    from tests.factories import NOW

    return FixedClock(NOW)


@pytest.fixture
def container(settings, db, clock) -> Iterator[Container]:
    """The real adapters (emulator, sandbox) with a controllable clock, injected in-process."""
    c = Container(settings, clock=clock, firestore_client=db)
    bootstrap.use_container(c)
    try:
        yield c
    finally:
        bootstrap.use_container(None)


@pytest.fixture(scope="session")
def openapi():
    from tests.openapi import OpenApi

    return OpenApi()


@pytest.fixture(scope="session")
def join_api(openapi, stack_env):
    return function_client("join", openapi, stack_env)


@pytest.fixture(scope="session")
def join_server(stack_env) -> Iterator[processes.Service]:
    """The join function as Cloud Run runs it: functions-framework in its own process."""
    service = processes.start_function("join", env=recorded(stack_env), port=JOIN_PORT, log_dir=LOG_DIR)
    try:
        yield service
    finally:
        service.stop()


def pytest_sessionfinish(session, exitstatus):
    """After a full run, every response documented in docs/openapi.yaml must have been seen
    (and validated) by some test: an undocumented-but-untested error path fails the run; and
    infra/ must declare every composite index the recorded Firestore queries need."""
    from tests.openapi import OpenApi

    if session.config.option.keyword or session.config.option.markexpr:
        return
    if any(not arg.rstrip("/").endswith("tests") for arg in session.config.args):
        return  # a partial run (one file or folder) cannot be expected to cover everything
    # Every composite index the recorded Firestore queries need must be declared in infra/.
    from tests.infra.firestore_indexes import session_check

    if problems := session_check(QUERY_LOG):
        session.config.get_terminal_writer().line("\n".join(problems), red=True)
        session.exitstatus = 1
    spec = OpenApi.instance
    if spec is None or exitstatus != 0:
        return
    missing = sorted(m for m in spec.documented() - spec.seen if m[2] != "500")  # 500: the generic fault, tested on join
    if missing:
        session.config.get_terminal_writer().line(
            "docs/openapi.yaml responses no test exercised: " + ", ".join(" ".join(m) for m in missing), red=True
        )
        session.exitstatus = 1


@pytest.fixture(scope="session")
def oauth_api(openapi, stack_env):
    return function_client("oauth", openapi, stack_env)


@pytest.fixture(scope="session")
def oauth_server(stack_env) -> Iterator[processes.Service]:
    """The oauth function in its own process at the URL registered with the sandbox; no
    front-end result URL, so the browser lands on the function's own result page."""
    env = stack_env | {"CONVENE_OAUTH_RESULT_URLS": ""}
    service = processes.start_function("oauth", env=recorded(env), port=OAUTH_PORT, log_dir=LOG_DIR)
    try:
        yield service
    finally:
        service.stop()


@pytest.fixture(scope="session")
def browser():
    """Headless Chromium from Debian's packages, driven by Playwright (no browser download)."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path="/usr/bin/chromium",
            headless=True,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--no-first-run",
                "--disable-quic",
            ],
        )
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture(scope="session")
def worker_server(stack_env) -> Iterator[processes.Service]:
    """The email worker in its own process at the URL the email tasks target."""
    service = processes.start_function("email_worker", env=recorded(stack_env), port=WORKER_PORT, log_dir=LOG_DIR)
    try:
        yield service
    finally:
        service.stop()


@pytest.fixture(scope="session")
def interviews_api(openapi, stack_env):
    return function_client("interviews", openapi, stack_env)


@pytest.fixture(scope="session")
def email_worker_api(openapi, stack_env):
    return function_client("email_worker", openapi, stack_env)


@pytest.fixture(scope="session")
def scheduling_server(stack_env) -> Iterator[processes.Service]:
    """The scheduling function in its own process at CONVENE_SCHEDULING_URL (booking, manage and respond pages)."""
    service = processes.start_function("scheduling", env=recorded(stack_env), port=SCHEDULING_PORT, log_dir=LOG_DIR)
    try:
        yield service
    finally:
        service.stop()


@pytest.fixture(scope="session")
def scheduling_api(openapi, stack_env):
    return function_client("scheduling", openapi, stack_env)


def function_client(target: str, openapi, stack_env):
    """A function in-process; its main.py reads the configuration when loaded, as on Cloud Run,
    and each test then injects its container."""
    from tests.api_client import FunctionClient

    os.environ.update(stack_env)
    return FunctionClient(target, openapi, target)
