"""The sandbox's Cloud Tasks surface, driven by the real google-cloud-tasks client over REST,
dispatching to a real HTTP worker on loopback."""

from __future__ import annotations

import itertools
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import requests
from google.api_core import exceptions
from google.auth.credentials import AnonymousCredentials
from google.auth.transport.requests import Request as AuthRequest
from google.cloud import tasks_v2
from google.oauth2 import id_token
from google.protobuf import field_mask_pb2
from werkzeug.serving import make_server
from werkzeug.wrappers import Request, Response

from devstack.sandbox import SandboxServer
from devstack.sandbox.identity import GOOGLE_CERTS_PATH
from devstack.sandbox.tasks import RetryConfig

PROJECT = "convene-tasks-test"
LOCATION = f"projects/{PROJECT}/locations/europe-west1"
INVOKER = f"tasks-invoker@{PROJECT}.iam.gserviceaccount.com"
AUDIENCE = "https://worker.convene.example/run"


@dataclass(frozen=True)
class Received:
    path: str
    headers: dict[str, str]
    body: bytes
    at: float


class Worker:
    """A task handler on 127.0.0.1 that records requests and answers scripted (status, delay)
    pairs per path, then 200."""

    def __init__(self) -> None:
        self.received: list[Received] = []
        self._script: dict[str, deque[tuple[int, float]]] = {}
        self._lock = threading.Lock()
        self._server = make_server("127.0.0.1", 0, self._app, threaded=True)
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self._thread.start()

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self._server.port}{path}"

    def script(self, path: str, answers: Iterable[int | tuple[int, float]]) -> None:
        with self._lock:
            self._script[path] = deque(a if isinstance(a, tuple) else (a, 0.0) for a in answers)

    def clear(self) -> None:
        with self._lock:
            self.received.clear()
            self._script.clear()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join()

    def _app(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        request = Request(environ)
        with self._lock:
            self.received.append(Received(request.path, dict(request.headers), request.get_data(), time.time()))
            answers = self._script.get(request.path)
            status, delay = answers.popleft() if answers else (200, 0.0)
        time.sleep(delay)
        return Response(f"answer {status}", status=status)(environ, start_response)


@pytest.fixture(scope="module")
def server() -> Iterator[SandboxServer]:
    with SandboxServer(PROJECT) as running:
        yield running


@pytest.fixture(scope="module")
def worker() -> Iterator[Worker]:
    running = Worker()
    yield running
    running.stop()


@pytest.fixture(autouse=True)
def clean(server: SandboxServer, worker: Worker) -> None:
    server.reset()
    worker.clear()


@pytest.fixture(scope="module")
def client(server: SandboxServer) -> tasks_v2.CloudTasksClient:
    # The construction the product uses, with the sandbox's URL as the endpoint.
    return tasks_v2.CloudTasksClient(
        transport="rest", credentials=AnonymousCredentials(), client_options={"api_endpoint": server.url}
    )


def _queue(client: tasks_v2.CloudTasksClient, queue_id: str, **queue: Any) -> str:
    return client.create_queue(parent=LOCATION, queue={"name": f"{LOCATION}/queues/{queue_id}", **queue}).name


def _task(client: tasks_v2.CloudTasksClient, queue: str, url: str, task_id: str | None = None, **task: Any) -> tasks_v2.Task:
    http_request = {"url": url, "oidc_token": {"service_account_email": INVOKER}, **task.pop("http_request", {})}
    body: dict[str, Any] = {"http_request": http_request, **task}
    if task_id:
        body["name"] = f"{queue}/tasks/{task_id}"
    return client.create_task(parent=queue, task=body)


def _error_status(error: exceptions.GoogleAPICallError) -> str:
    status: str = error.response.json()["error"]["status"]
    return status


# -- queues ---------------------------------------------------------------------------


def test_queue_defaults_settings_update_and_lifecycle(client: tasks_v2.CloudTasksClient) -> None:
    plain = client.get_queue(name=_queue(client, "plain"))
    configured = _queue(
        client,
        "configured",
        retry_config={"max_attempts": 5, "min_backoff": timedelta(seconds=1), "max_backoff": timedelta(seconds=10),
                      "max_doublings": 2, "max_retry_duration": timedelta(seconds=30)},
        rate_limits={"max_concurrent_dispatches": 3, "max_dispatches_per_second": 10},
    )  # fmt: skip

    # Google's defaults for a queue created without settings.
    assert plain.state == tasks_v2.Queue.State.RUNNING
    assert (plain.retry_config.max_attempts, plain.retry_config.max_doublings) == (100, 16)
    assert plain.retry_config.min_backoff == timedelta(seconds=0.1)
    assert plain.retry_config.max_backoff == timedelta(seconds=3600)
    assert (plain.rate_limits.max_dispatches_per_second, plain.rate_limits.max_concurrent_dispatches) == (500, 1000)
    assert plain.rate_limits.max_burst_size == 100
    got = client.get_queue(name=configured)
    assert got.retry_config.max_retry_duration == timedelta(seconds=30)
    assert (got.retry_config.max_attempts, got.rate_limits.max_concurrent_dispatches) == (5, 3)

    updated = client.update_queue(
        queue={"name": configured, "retry_config": {"max_attempts": 7, "min_backoff": timedelta(seconds=9)}},
        update_mask=field_mask_pb2.FieldMask(paths=["retry_config.max_attempts"]),
    )
    assert updated.retry_config.max_attempts == 7
    assert updated.retry_config.min_backoff == timedelta(seconds=1)  # not in the mask: unchanged

    with pytest.raises(exceptions.Conflict) as duplicate:
        _queue(client, "plain")
    assert _error_status(duplicate.value) == "ALREADY_EXISTS"
    with pytest.raises(exceptions.BadRequest):
        _queue(client, "no_underscores_in_queue_ids")
    assert client.pause_queue(name=configured).state == tasks_v2.Queue.State.PAUSED
    assert client.resume_queue(name=configured).state == tasks_v2.Queue.State.RUNNING
    assert [q.name for q in client.list_queues(parent=LOCATION)] == [configured, plain.name]

    client.delete_queue(name=configured)
    with pytest.raises(exceptions.NotFound):
        client.get_queue(name=configured)


def test_backoff_follows_googles_documented_example() -> None:
    # RetryConfig docs: min 10s, max 300s, 3 doublings -> retries at 10s, 20s, 40s, 80s, 160s, 240s, 300s, 300s.
    config = RetryConfig(min_backoff=10, max_backoff=300, max_doublings=3)

    assert [config.backoff(n) for n in range(1, 9)] == [10, 20, 40, 80, 160, 240, 300, 300]
    # Retrying stops only when both max_attempts and max_retry_duration are used up.
    limited = RetryConfig(max_attempts=3, max_retry_duration=60)
    assert not limited.exhausted(3, retrying_for=59) and limited.exhausted(3, retrying_for=60)
    assert RetryConfig(max_attempts=-1).exhausted(10_000, retrying_for=1e9) is False


# -- dispatch -------------------------------------------------------------------------


def test_named_task_is_dispatched_with_cloud_tasks_headers_and_an_oidc_token(
    server: SandboxServer, client: tasks_v2.CloudTasksClient, worker: Worker
) -> None:
    queue = _queue(client, "invites")
    created = client.create_task(
        request={
            "parent": queue,
            "task": {
                "name": f"{queue}/tasks/invite-42",
                "http_request": {
                    "url": worker.url("/send-invite"),
                    "headers": {"Content-Type": "application/json", "X-Trace": "t-1", "User-Agent": "mine"},
                    "body": b'{"invite": 42}',
                    "oidc_token": {"service_account_email": INVOKER, "audience": AUDIENCE},
                },
            },
            "response_view": tasks_v2.Task.View.FULL,
        }
    )
    _task(client, queue, worker.url("/default-audience"), "no-audience")

    assert server.drain_tasks()
    assert created.view == tasks_v2.Task.View.FULL and created.http_request.body == b'{"invite": 42}'
    by_path = {r.path: r for r in worker.received}
    invite = by_path["/send-invite"]
    assert invite.body == b'{"invite": 42}'
    assert invite.headers["Content-Type"] == "application/json" and invite.headers["X-Trace"] == "t-1"
    assert invite.headers["User-Agent"] == "Google-Cloud-Tasks"
    assert invite.headers["X-Cloudtasks-Queuename"] == "invites"
    assert invite.headers["X-Cloudtasks-Taskname"] == "invite-42"
    assert invite.headers["X-Cloudtasks-Taskretrycount"] == invite.headers["X-Cloudtasks-Taskexecutioncount"] == "0"
    assert abs(float(invite.headers["X-Cloudtasks-Tasketa"]) - created.schedule_time.timestamp()) < 1e-3
    certs_url = server.url + GOOGLE_CERTS_PATH
    scheme, token = invite.headers["Authorization"].split(" ")
    claims = id_token.verify_token(token, AuthRequest(), audience=AUDIENCE, certs_url=certs_url)
    assert scheme == "Bearer" and claims["email"] == INVOKER and claims["iss"] == "https://accounts.google.com"
    # Without an audience, the token is for the task's URL.
    default_token = by_path["/default-audience"].headers["Authorization"].removeprefix("Bearer ")
    id_token.verify_token(default_token, AuthRequest(), audience=worker.url("/default-audience"), certs_url=certs_url)

    # The name stays taken after the task completed (REST raises Conflict, not AlreadyExists).
    with pytest.raises(exceptions.Conflict) as again:
        _task(client, queue, worker.url("/send-invite"), "invite-42")
    assert _error_status(again.value) == "ALREADY_EXISTS"
    assert "existed too recently" in again.value.message
    with pytest.raises(exceptions.NotFound):
        client.get_task(name=created.name)
    with pytest.raises(exceptions.NotFound):
        client.delete_task(name=created.name)
    assert [(a["task"], a["status"]) for a in server.task_attempts("invites") if a["task"] == created.name] == [
        (created.name, 200)
    ]


def test_future_schedule_time_is_respected_at_the_time_scale(
    server: SandboxServer, client: tasks_v2.CloudTasksClient, worker: Worker
) -> None:
    server.set_tasks_time_scale(0.01)
    queue = _queue(client, "reminders")
    eta = datetime.now(UTC) + timedelta(seconds=30)  # 0.3 s of real time at this scale

    task = _task(client, queue, worker.url("/remind"), "remind-1", schedule_time=eta)
    created_at = time.time()

    assert [t["name"] for t in server.pending_tasks("reminders")] == [task.name]
    assert abs(task.schedule_time.timestamp() - eta.timestamp()) < 1e-3  # reported nominal, not scaled
    assert server.drain_tasks()
    (received,) = worker.received
    assert received.at - created_at >= 0.25
    assert abs(float(received.headers["X-Cloudtasks-Tasketa"]) - eta.timestamp()) < 1e-3


def test_retries_follow_the_queue_backoff_and_stop_at_max_attempts(
    server: SandboxServer, client: tasks_v2.CloudTasksClient, worker: Worker
) -> None:
    server.set_tasks_time_scale(0.05)
    queue = _queue(
        client,
        "flaky",
        retry_config={"max_attempts": 5, "min_backoff": timedelta(seconds=1), "max_backoff": timedelta(seconds=10),
                      "max_doublings": 1},
    )  # fmt: skip
    worker.script("/down", [503] * 5)

    task = _task(client, queue, worker.url("/down"), "always-503")

    assert server.drain_tasks()
    attempts = server.task_attempts(queue)
    assert [(a["attempt"], a["status"]) for a in attempts] == [(n, 503) for n in range(1, 6)]
    # Backoff 1s, then doubled once (2s), then linear by 2s (4s, 6s); real gaps are 1/20 of that.
    gaps = [b["dispatched_at"] - a["dispatched_at"] for a, b in itertools.pairwise(attempts)]
    for gap, nominal in zip(gaps, [1, 2, 4, 6]):
        assert nominal * 0.05 * 0.9 <= gap < nominal * 0.05 + 0.1, gaps
    assert gaps == sorted(gaps)
    headers = [r.headers for r in worker.received]
    assert [h["X-Cloudtasks-Taskretrycount"] for h in headers] == ["0", "1", "2", "3", "4"]
    assert {h["X-Cloudtasks-Taskexecutioncount"] for h in headers} == {"0"}  # 5xx answers are not executions
    assert [h.get("X-Cloudtasks-Taskpreviousresponse") for h in headers] == [None, "503", "503", "503", "503"]
    (failed,) = server.failed_tasks()
    assert (failed["task"], failed["attempts"], failed["last_status"]) == (task.name, 5, 503)
    with pytest.raises(exceptions.NotFound):
        client.get_task(name=task.name)


def test_a_4xx_is_retried_too_until_the_worker_answers_2xx(
    server: SandboxServer, client: tasks_v2.CloudTasksClient, worker: Worker
) -> None:
    # Cloud Tasks retries every non-2xx: a worker that wants no retry must answer 2xx.
    server.set_tasks_time_scale(0.01)
    queue = _queue(client, "strict")
    worker.script("/validate", [404, 403, 400, 204])

    _task(client, queue, worker.url("/validate"))

    assert server.drain_tasks()
    assert [a["status"] for a in server.task_attempts(queue)] == [404, 403, 400, 204]
    assert server.failed_tasks() == []
    headers = [r.headers for r in worker.received]
    assert [h["X-Cloudtasks-Taskexecutioncount"] for h in headers] == ["0", "1", "2", "3"]
    assert [h.get("X-Cloudtasks-Taskpreviousresponse") for h in headers] == [None, "404", "403", "400"]
    assert len({h["X-Cloudtasks-Taskname"] for h in headers}) == 1  # a generated id, kept across retries


def test_exceeding_the_dispatch_deadline_is_a_failed_attempt(
    server: SandboxServer, client: tasks_v2.CloudTasksClient, worker: Worker
) -> None:
    server.set_tasks_time_scale(0.01)
    queue = _queue(client, "slow")
    worker.script("/slow", [(200, 0.6)])

    task = _task(client, queue, worker.url("/slow"), dispatch_deadline=timedelta(seconds=0.2))

    assert task.dispatch_deadline == timedelta(seconds=0.2)
    assert server.drain_tasks()
    first, second = server.task_attempts(queue)
    assert first["status"] is None and first["error"].startswith("DEADLINE_EXCEEDED")
    assert second["status"] == 200


def test_redeliver_sends_a_completed_task_again(server: SandboxServer, client: tasks_v2.CloudTasksClient, worker: Worker) -> None:
    queue = _queue(client, "at-least-once")
    task = _task(client, queue, worker.url("/idempotent"), "charge-7", http_request={"body": b"charge 7"})
    assert server.drain_tasks()

    server.redeliver(task.name)

    assert server.drain_tasks()
    first, duplicate = worker.received
    assert duplicate.body == first.body == b"charge 7"
    for header in ("X-Cloudtasks-Taskname", "X-Cloudtasks-Taskretrycount", "X-Cloudtasks-Tasketa"):
        assert duplicate.headers[header] == first.headers[header]
    assert [a["redelivery"] for a in server.task_attempts(queue)] == [False, True]
    with pytest.raises(exceptions.NotFound):
        client.get_task(name=task.name)  # still done: a duplicate changes nothing


def test_a_non_loopback_url_is_refused_and_fails(
    server: SandboxServer, client: tasks_v2.CloudTasksClient, worker: Worker
) -> None:
    queue = _queue(client, "outbound")

    task = _task(client, queue, "http://192.0.2.10/run", "leak")  # accepted, as Google would

    assert server.drain_tasks()
    (attempt,) = server.task_attempts(queue)
    assert attempt["status"] is None and attempt["error"].startswith("PERMISSION_DENIED")
    assert [f["task"] for f in server.failed_tasks()] == [task.name]
    assert worker.received == []


def test_paused_queue_holds_tasks_until_resumed_but_run_task_forces_one(
    server: SandboxServer, client: tasks_v2.CloudTasksClient, worker: Worker
) -> None:
    queue = _queue(client, "held")
    client.pause_queue(name=queue)
    first = _task(client, queue, worker.url("/first"), "first", http_request={"body": b"secret", "headers": {"X-A": "1"}})
    _task(client, queue, worker.url("/second"), "second")

    assert not server.drain_tasks(timeout=0.3)
    assert worker.received == []
    basic = list(client.list_tasks(parent=queue))
    assert [t.name.rsplit("/", 1)[1] for t in basic] == ["first", "second"]
    assert basic[0].view == tasks_v2.Task.View.BASIC and basic[0].http_request.body == b""
    assert not basic[0].http_request.headers
    full = client.get_task(request={"name": first.name, "response_view": tasks_v2.Task.View.FULL})
    assert full.http_request.body == b"secret" and full.http_request.headers["X-A"] == "1"
    with pytest.raises(exceptions.Conflict) as pending_duplicate:
        _task(client, queue, worker.url("/first"), "first")
    assert pending_duplicate.value.message.endswith("Requested entity already exists")

    ran = client.run_task(name=first.name)  # dispatched although the queue is paused
    assert ran.dispatch_count == 1
    deadline = time.monotonic() + 5
    while not worker.received and time.monotonic() < deadline:
        time.sleep(0.01)
    resumed_at = time.time()
    client.resume_queue(name=queue)

    assert server.drain_tasks()
    assert [(r.path, r.at < resumed_at) for r in worker.received] == [("/first", True), ("/second", False)]


def test_deleted_and_purged_tasks_are_never_dispatched(
    server: SandboxServer, client: tasks_v2.CloudTasksClient, worker: Worker
) -> None:
    queue = _queue(client, "cancellable")
    later = datetime.now(UTC) + timedelta(hours=1)
    doomed = _task(client, queue, worker.url("/never"), "doomed", schedule_time=later)

    client.delete_task(name=doomed.name)

    with pytest.raises(exceptions.NotFound):
        client.get_task(name=doomed.name)
    with pytest.raises(exceptions.NotFound):
        client.delete_task(name=doomed.name)
    with pytest.raises(exceptions.Conflict):  # a deleted task's name is tombstoned too
        _task(client, queue, worker.url("/never"), "doomed")
    for n in range(3):
        _task(client, queue, worker.url("/never"), f"purged-{n}", schedule_time=later)
    assert client.purge_queue(name=queue).purge_time is not None
    assert list(client.list_tasks(parent=queue)) == []
    assert server.drain_tasks(timeout=1)
    assert worker.received == [] and server.task_attempts() == []


def test_max_concurrent_dispatches_is_honoured(server: SandboxServer, client: tasks_v2.CloudTasksClient, worker: Worker) -> None:
    queue = _queue(client, "one-at-a-time", rate_limits={"max_concurrent_dispatches": 1})
    worker.script("/serial", [(200, 0.1)] * 3)

    for n in range(3):
        _task(client, queue, worker.url("/serial"), f"serial-{n}")

    assert server.drain_tasks()
    starts = [r.at for r in worker.received]
    assert len(starts) == 3
    assert all(b - a >= 0.09 for a, b in itertools.pairwise(starts)), starts


def test_invalid_task_ids_and_missing_queues(client: tasks_v2.CloudTasksClient, worker: Worker) -> None:
    queue = _queue(client, "checked")

    with pytest.raises(exceptions.BadRequest):
        _task(client, queue, worker.url("/x"), "has spaces")
    with pytest.raises(exceptions.BadRequest):
        _task(client, queue, worker.url("/x"), "x" * 501)
    with pytest.raises(exceptions.NotFound):
        _task(client, f"{LOCATION}/queues/missing", worker.url("/x"))


# -- control API, call log, shutdown --------------------------------------------------


def test_control_api_over_http(server: SandboxServer, client: tasks_v2.CloudTasksClient, worker: Worker) -> None:
    control = server.url + "/sandbox/tasks"
    assert requests.post(control + "/settings", json={"time_scale": 0.01}, timeout=5).json() == {"time_scale": 0.01}
    assert requests.post(control + "/settings", json={"time_scale": 0}, timeout=5).status_code == 400
    queue = _queue(client, "over-http")
    client.pause_queue(name=queue)
    task = _task(client, queue, worker.url("/http"), "via-http")
    assert [t["name"] for t in requests.get(control + "/pending", timeout=5).json()["tasks"]] == [task.name]
    client.resume_queue(name=queue)

    assert requests.post(control + "/drain", json={"timeout_seconds": 5}, timeout=10).json() == {"drained": True}
    assert requests.post(control + "/redeliver", json={"task": task.name}, timeout=5).status_code == 200
    assert requests.post(control + "/drain", json={}, timeout=15).json() == {"drained": True}

    attempts = requests.get(control + "/attempts", params={"queue": "over-http"}, timeout=5).json()["attempts"]
    assert [(a["attempt"], a["status"], a["redelivery"]) for a in attempts] == [(1, 200, False), (1, 200, True)]
    assert requests.get(control + "/failed", timeout=5).json() == {"failed": []}
    assert requests.post(control + "/redeliver", json={"task": queue + "/tasks/unknown"}, timeout=5).status_code == 404
    # API calls are in the call log like every surface's; control calls are not.
    assert [(c["method"], c["path"]) for c in server.calls("/v2/")] == [
        ("POST", f"/v2/{LOCATION}/queues"),
        ("POST", f"/v2/{queue}:pause"),
        ("POST", f"/v2/{queue}/tasks"),
        ("POST", f"/v2/{queue}:resume"),
    ]


def test_stop_ends_the_dispatcher_threads_promptly(worker: Worker) -> None:
    def dispatch_threads() -> int:
        return sum(t.name.startswith("sandbox-tasks-") for t in threading.enumerate())

    before = dispatch_threads()
    other = SandboxServer("stopping").start()
    other_client = tasks_v2.CloudTasksClient(
        transport="rest", credentials=AnonymousCredentials(), client_options={"api_endpoint": other.url}
    )
    queue = other_client.create_queue(
        parent="projects/stopping/locations/l", queue={"name": "projects/stopping/locations/l/queues/q"}
    ).name
    other_client.create_task(parent=queue, task={"http_request": {"url": worker.url("/stopping")}})
    assert other.drain_tasks()
    assert dispatch_threads() > before

    started = time.monotonic()
    other.stop()

    assert time.monotonic() - started < 1
    assert dispatch_threads() == before
