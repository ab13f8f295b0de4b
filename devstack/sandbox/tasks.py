"""Cloud Tasks v2 REST surface that really dispatches HTTP tasks, for `CloudTasksClient(transport="rest")`.

Cloud Tasks has no official emulator, and the third-party one ignores the queue's retry
policy, task-name de-duplication and OIDC (see LOCAL-STACK.md). This stand-in serves the REST
paths the real client calls and dispatches with Google's semantics: a named task's name stays
taken for an hour after it completes or is deleted, schedule times are honoured, every non-2xx
answer is retried with the queue's backoff, `maxConcurrentDispatches` and the dispatch rate are
respected, and each request carries Cloud Tasks' headers and a Bearer OIDC token signed with
the sandbox's Google key. It sends only to loopback hosts: other URLs fail permanently.

Time scale: every delay the queue waits out (schedule times, backoffs, `maxRetryDuration`,
rate-limit refills) lasts `time_scale` times as long in real time, so a test can turn a 1 s
backoff into 10 ms. Timestamps the API reports stay nominal; dispatch deadlines and the
one-hour name tombstone are not scaled.
"""

from __future__ import annotations

import base64
import binascii
import enum
import math
import re
import secrets
import threading
import time
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, field, replace
from queue import SimpleQueue
from typing import Any, TypeVar
from urllib.parse import urlsplit

import requests
from flask import Blueprint, Response, jsonify, request
from google.protobuf import duration_pb2, timestamp_pb2
from google.rpc import code_pb2
from requests.structures import CaseInsensitiveDict

from .core import GOOGLE_STATUS, GoogleError, JsonObject, json_object, wants_int_enums
from .identity import Identity

QUEUE_ID = re.compile(r"[A-Za-z0-9-]{1,100}")
TASK_ID = re.compile(r"[A-Za-z0-9_-]{1,500}")
LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})
TOMBSTONE_SECONDS = 3600.0  # a completed or deleted task's name stays taken this long (queues made by the API)
MAX_SCHEDULE_AHEAD = 30 * 86400.0
DEFAULT_DEADLINE = 600.0
MAX_DEADLINE = 1800.0
MAX_URL_LENGTH = 2083
MAX_TASK_BYTES = 1024 * 1024
MAX_TASKS_PAGE, MAX_QUEUES_PAGE = 1000, 9800
USER_AGENT = "Google-Cloud-Tasks"
HTTP_METHODS = ("POST", "GET", "HEAD", "PUT", "DELETE", "PATCH", "OPTIONS")  # HttpMethod 1..7
BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})
REPLACED_HEADERS = frozenset({"host", "content-length", "user-agent"})
GOOGLE_ONLY_HEADERS = ("x-google-", "x-appengine-")
DISPATCH_THREADS = 8  # at most this many requests in flight across the sandbox
STOP_JOIN_SECONDS = 2.0

NOT_FOUND = "Requested entity was not found."
ALREADY_EXISTS = "Requested entity already exists"
NO_QUEUE = "Queue does not exist. If you just created the queue, wait at least a minute for the queue to initialize."
TOO_RECENT = (
    "The task cannot be created because a task with this name existed too recently. For more information "
    "about task de-duplication see https://cloud.google.com/tasks/docs/reference/rest/v2/"
    "projects.locations.queues.tasks/create#body.request_body.FIELDS.task."
)


class QueueState(enum.IntEnum):
    """`Queue.State`, numbered as in the proto (DISABLED only happens to queue.yaml queues)."""

    RUNNING = 1
    PAUSED = 2


class View(enum.IntEnum):
    """`Task.View`, numbered as in the proto; unspecified means BASIC."""

    BASIC = 1
    FULL = 2


@dataclass(frozen=True)
class RetryConfig:
    """A queue's retry policy; the defaults are what Google gives a queue created without one."""

    max_attempts: int = 100
    max_retry_duration: float = 0.0
    min_backoff: float = 0.1
    max_backoff: float = 3600.0
    max_doublings: int = 16

    def backoff(self, attempts: int) -> float:
        """Delay after the `attempts`-th failed attempt: doubling `max_doublings` times, then
        growing linearly by the last doubled value, capped at `max_backoff` (Google's example:
        10s, 20s, 40s, 80s, 160s, 240s, 300s, 300s for min 10s, max 300s, 3 doublings)."""
        doublings = attempts - 1
        if doublings <= self.max_doublings:
            delay = self.min_backoff * 2**doublings
        else:
            delay = self.min_backoff * 2**self.max_doublings * (doublings - self.max_doublings + 1)
        return min(self.max_backoff, delay)

    def exhausted(self, attempts: int, retrying_for: float) -> bool:
        """Google stops only when both limits are met: `max_attempts` (never, if -1) and
        `max_retry_duration` since the first attempt (met at once if 0)."""
        attempts_done = self.max_attempts != -1 and attempts >= self.max_attempts
        return attempts_done and retrying_for >= self.max_retry_duration


@dataclass(frozen=True)
class RateLimits:
    """A queue's dispatch limits; the defaults are what Google gives a queue created without them."""

    max_dispatches_per_second: float = 500.0
    max_concurrent_dispatches: int = 1000

    @property
    def max_burst_size(self) -> int:
        """Output only; Google derives it from the rate (the rule its App Engine queues documented)."""
        rate = self.max_dispatches_per_second
        return 10 if rate == 1 else max(1, math.ceil(rate / 5))


@dataclass
class _Queue:
    name: str
    rate: RateLimits
    retry: RetryConfig
    tokens: float
    refilled_at: float
    state: QueueState = QueueState.RUNNING
    purge_time: float | None = None
    in_flight: int = 0

    def take_token(self, now: float, scale: float) -> float:
        """Take a dispatch token from the queue's token bucket: 0, or the seconds until one refills."""
        rate = self.rate.max_dispatches_per_second / scale
        self.tokens = min(self.rate.max_burst_size, self.tokens + max(0.0, now - self.refilled_at) * rate)
        self.refilled_at = now
        if self.tokens >= 1:
            self.tokens -= 1
            return 0.0
        return (1 - self.tokens) / rate


@dataclass(frozen=True)
class _HttpRequest:
    url: str
    method: str
    headers: dict[str, str]
    body: bytes
    oidc_email: str | None
    oidc_audience: str | None


@dataclass
class _Attempt:
    schedule_time: float
    dispatch_time: float
    response_time: float | None = None
    status: JsonObject | None = None  # google.rpc.Status


@dataclass
class _Task:
    name: str
    queue: _Queue
    http: _HttpRequest
    create_time: float
    schedule_time: float  # nominal, as the API reports it
    due: float  # when the sandbox sends it: the delay to schedule_time, time-scaled
    deadline: float
    dispatch_count: int = 0
    response_count: int = 0
    executions: int = 0  # responses other than 5xx, for X-CloudTasks-TaskExecutionCount
    previous_response: int | None = None
    first_dispatch: float | None = None
    last_attempt: _Attempt | None = None
    in_flight: int = 0
    last_headers: CaseInsensitiveDict[str] = field(default_factory=CaseInsensitiveDict)


@dataclass(frozen=True)
class _Dispatch:
    generation: int
    task: _Task
    attempt: int
    record: _Attempt  # the task's lastAttempt this dispatch fills in
    headers: CaseInsensitiveDict[str]
    redelivery: bool


@dataclass(frozen=True)
class _Outcome:
    status: int | None  # the worker's HTTP status, None when no response came
    code: str  # google.rpc.Code name for the attempt's responseStatus
    message: str
    response_at: float
    refused: bool = False  # never sent: fails at once, without retries

    @property
    def succeeded(self) -> bool:
        return self.status is not None and 200 <= self.status < 300

    @property
    def error(self) -> str | None:
        """Why no response came, for the attempt log."""
        return None if self.status is not None else f"{self.code}: {self.message}"


class CloudTasks:
    """Queues, tasks and their dispatch, behind one lock; the lock is never held during HTTP.

    One dispatcher thread hands due tasks to a small pool of worker threads; both start on
    first use and stop with `stop()`. `clock` (unix seconds) is injectable.
    """

    def __init__(self, identity: Identity, clock: Callable[[], float] = time.time) -> None:
        self.identity = identity
        self.clock = clock
        self._cond = threading.Condition(threading.Lock())
        self._queues: dict[str, _Queue] = {}
        self._tasks: dict[str, _Task] = {}
        self._tombstones: dict[str, tuple[float, _Task]] = {}
        self._attempts: list[JsonObject] = []
        self._failed: list[JsonObject] = []
        self._scale = 1.0
        self._in_flight = 0
        self._generation = 0  # bumped by reset/stop so late results and queued jobs are dropped
        self._stop_event: threading.Event | None = None
        self._jobs: SimpleQueue[_Dispatch | None] = SimpleQueue()
        self._threads: list[threading.Thread] = []
        self.blueprint = self._blueprint()

    def reset(self) -> None:
        """Forget queues, tasks, name tombstones, attempts and failures; the time scale goes back to 1."""
        with self._cond:
            self._generation += 1
            self._queues.clear()
            self._tasks.clear()
            self._tombstones.clear()
            self._attempts.clear()
            self._failed.clear()
            self._scale = 1.0
            self._in_flight = 0
            self._cond.notify_all()

    def stop(self) -> None:
        """Stop the dispatcher and workers. A worker blocked in a request is left to finish (it is a
        daemon) and its result dropped; pending tasks stay and are sent once the threads restart
        (any later create, run, resume, redeliver or drain)."""
        with self._cond:
            stop, threads, jobs = self._stop_event, self._threads, self._jobs
            if stop is None:
                return
            stop.set()
            self._generation += 1
            self._in_flight = 0
            for queue in self._queues.values():
                queue.in_flight = 0
            for task in self._tasks.values():
                task.in_flight = 0
            self._stop_event, self._threads, self._jobs = None, [], SimpleQueue()
            self._cond.notify_all()
        for _ in range(DISPATCH_THREADS):
            jobs.put(None)
        deadline = time.monotonic() + STOP_JOIN_SECONDS
        for thread in threads:
            thread.join(max(0.0, deadline - time.monotonic()))

    # -- Python API (also behind the control routes) ------------------------------------

    def attempts(self, queue: str | None = None) -> list[JsonObject]:
        """Every dispatch attempt so far, oldest first; `queue` is a queue id or full name."""
        with self._cond:
            return [dict(a) for a in self._attempts if _in_queue(a["queue"], queue)]

    def failed(self) -> list[JsonObject]:
        """Tasks deleted after their last allowed attempt failed (or whose URL was refused)."""
        with self._cond:
            return [dict(f) for f in self._failed]

    def pending(self, queue: str | None = None) -> list[JsonObject]:
        """Tasks not yet done (FULL view, enum names), soonest first."""
        with self._cond:
            tasks = sorted(self._tasks.values(), key=lambda t: (t.schedule_time, t.name))
            return [_task_json(t, View.FULL, False) for t in tasks if _in_queue(t.queue.name, queue)]

    def set_time_scale(self, scale: Any) -> float:
        """Scale every queue delay by `scale` (0.01 turns a 1 s backoff into 10 ms)."""
        if isinstance(scale, bool) or not isinstance(scale, (int, float)) or not 0 < scale <= 1000:
            raise GoogleError(400, f"time_scale must be a number in (0, 1000], got {scale!r}")
        with self._cond:
            now = self.clock()
            self._scale = float(scale)
            for task in self._tasks.values():
                task.due = self._due(task.schedule_time, now)
            self._wake()
            return self._scale

    def drain(self, timeout: float) -> bool:
        """Wait until no task is pending or in flight (tasks of paused queues count as pending)."""
        deadline = time.monotonic() + timeout
        with self._cond:
            if self._tasks:
                self._wake()  # restarts the threads if they were stopped
            while self._tasks or self._in_flight:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._cond.wait(remaining)
            return True

    def redeliver(self, task_name: str) -> None:
        """Send a task once more with the same headers and body, even if it already succeeded:
        Cloud Tasks delivers at least once, so workers must be idempotent."""
        with self._cond:
            task = self._tasks.get(task_name)
            if task is None and task_name in self._tombstones:
                task = self._tombstones[task_name][1]
            if task is None or task.dispatch_count == 0:
                raise GoogleError(404, f"Task {task_name} was never dispatched (or is older than its tombstone).")
            self._jobs.put(self._start(task, self.clock(), redelivery=True))
            self._wake()

    # -- dispatching --------------------------------------------------------------------

    def _wake(self) -> None:
        """Something may have become due: start the threads on first use, wake the waiters (lock held)."""
        if self._stop_event is None:
            self._stop_event = threading.Event()
            self._threads = [
                threading.Thread(
                    target=self._dispatch_loop, args=(self._stop_event,), name="sandbox-tasks-dispatcher", daemon=True
                ),
                *(
                    threading.Thread(target=self._work, args=(self._jobs,), name=f"sandbox-tasks-worker-{i}", daemon=True)
                    for i in range(DISPATCH_THREADS)
                ),
            ]
            for thread in self._threads:
                thread.start()
        self._cond.notify_all()

    def _due(self, schedule_time: float, now: float) -> float:
        return now + max(0.0, schedule_time - now) * self._scale

    def _dispatch_loop(self, stop: threading.Event) -> None:
        """Hand due tasks to the workers, then sleep until the next is due or something changes."""
        with self._cond:
            while not stop.is_set():
                now = self.clock()
                wake_at: float | None = None
                for task in sorted(self._tasks.values(), key=lambda t: t.due):
                    queue = task.queue
                    if task.in_flight or queue.state is not QueueState.RUNNING:
                        continue
                    if task.due > now:
                        wake_at = task.due if wake_at is None else min(wake_at, task.due)
                        continue
                    if queue.in_flight >= queue.rate.max_concurrent_dispatches:
                        continue  # a finishing dispatch wakes us
                    token_wait = queue.take_token(now, self._scale)
                    if token_wait:
                        wake_at = now + token_wait if wake_at is None else min(wake_at, now + token_wait)
                        continue
                    self._jobs.put(self._start(task, now))
                self._cond.wait(None if wake_at is None else max(0.0, wake_at - now))

    def _start(self, task: _Task, now: float, redelivery: bool = False) -> _Dispatch:
        """Count a dispatch and build its request headers as Cloud Tasks does (lock held)."""
        record = _Attempt(task.schedule_time, now)
        if not redelivery:
            queue_id, task_id = task.queue.name.rsplit("/", 1)[1], task.name.rsplit("/", 1)[1]
            headers: CaseInsensitiveDict[str] = CaseInsensitiveDict(
                {k: v for k, v in task.http.headers.items() if not _replaced_header(k, task.http)}
            )
            headers.update(
                {
                    "User-Agent": USER_AGENT,
                    "X-CloudTasks-QueueName": queue_id,
                    "X-CloudTasks-TaskName": task_id,
                    "X-CloudTasks-TaskRetryCount": str(task.dispatch_count),
                    "X-CloudTasks-TaskExecutionCount": str(task.executions),
                    "X-CloudTasks-TaskETA": f"{task.schedule_time:.6f}",
                }
            )
            if task.previous_response is not None:
                headers["X-CloudTasks-TaskPreviousResponse"] = str(task.previous_response)
            task.dispatch_count += 1
            if task.first_dispatch is None:
                task.first_dispatch = now
            task.last_attempt = record
            task.last_headers = headers
        task.in_flight += 1
        task.queue.in_flight += 1
        self._in_flight += 1
        return _Dispatch(self._generation, task, task.dispatch_count, record, task.last_headers, redelivery)

    def _work(self, jobs: SimpleQueue[_Dispatch | None]) -> None:
        """Send dispatches one at a time; each worker owns its session (sessions are not thread-safe)."""
        with requests.Session() as session:
            session.trust_env = False  # loopback only: never through a proxy from the environment
            while (job := jobs.get()) is not None:
                if job.generation != self._generation:
                    continue  # queued before a reset or stop
                outcome = self._send(job, session)
                with self._cond:
                    self._finish(job, outcome)

    def _send(self, job: _Dispatch, session: requests.Session) -> _Outcome:
        http = job.task.http
        host = urlsplit(http.url).hostname
        if host not in LOOPBACK_HOSTS:
            message = f"sandbox refused non-loopback host {host!r}"
            return _Outcome(None, "PERMISSION_DENIED", message, self.clock(), refused=True)
        headers = CaseInsensitiveDict(job.headers)
        if http.oidc_email:
            token = self.identity.mint_oidc_token(http.oidc_email, http.oidc_audience or http.url)
            headers["Authorization"] = f"Bearer {token}"
        try:
            response = session.request(
                http.method, http.url, headers=headers, data=http.body or None,
                timeout=job.task.deadline, allow_redirects=False,
            )  # fmt: skip
        except requests.Timeout:
            return _Outcome(None, "DEADLINE_EXCEEDED", f"no response within {job.task.deadline:g}s", self.clock())
        except (requests.RequestException, ValueError) as exc:
            return _Outcome(None, "UNAVAILABLE", f"request failed: {exc}", self.clock())
        code = "OK" if 200 <= response.status_code < 300 else GOOGLE_STATUS.get(response.status_code, "UNKNOWN")
        return _Outcome(response.status_code, code, f"HTTP status code {response.status_code}", self.clock())

    def _finish(self, job: _Dispatch, outcome: _Outcome) -> None:
        """Record the attempt, then complete, retry or fail the task (lock held)."""
        if job.generation != self._generation:
            return
        task, now = job.task, outcome.response_at
        task.in_flight -= 1
        task.queue.in_flight -= 1
        self._in_flight -= 1
        self._cond.notify_all()
        self._attempts.append(
            {
                "task": task.name,
                "queue": task.queue.name,
                "attempt": job.attempt,
                "url": task.http.url,
                "status": outcome.status,
                "error": outcome.error,
                "dispatched_at": job.record.dispatch_time,
                "response_at": now if outcome.status is not None else None,
                "redelivery": job.redelivery,
            }
        )
        if job.redelivery or self._tasks.get(task.name) is not task:
            return  # a duplicate delivery, or the task was deleted meanwhile: its outcome is ignored
        job.record.status = {"code": code_pb2.Code.Value(outcome.code), "message": outcome.message}
        if outcome.status is not None:
            job.record.response_time = now
            task.response_count += 1
            task.previous_response = outcome.status
            task.executions += outcome.status < 500
        if outcome.succeeded:
            self._retire(task, now)
            return
        retry = task.queue.retry
        retrying_for = (now - (task.first_dispatch or now)) / self._scale
        if outcome.refused or retry.exhausted(task.dispatch_count, retrying_for):
            self._retire(task, now)
            self._failed.append(
                {
                    "task": task.name,
                    "queue": task.queue.name,
                    "attempts": task.dispatch_count,
                    "last_status": outcome.status,
                    "last_error": outcome.error,
                    "failed_at": now,
                }
            )
            return
        task.schedule_time = now + retry.backoff(task.dispatch_count)
        task.due = self._due(task.schedule_time, now)

    def _retire(self, task: _Task, now: float) -> None:
        """Remove a finished or deleted task; its name stays taken for the tombstone period (lock held)."""
        del self._tasks[task.name]
        self._tombstones[task.name] = (now + TOMBSTONE_SECONDS, task)

    # -- API state, called with the lock held -------------------------------------------

    def _queue(self, name: str) -> _Queue:
        queue = self._queues.get(name)
        if queue is None:
            raise GoogleError(404, NOT_FOUND)
        return queue

    def _task(self, name: str) -> _Task:
        task = self._tasks.get(name)
        if task is None:
            raise GoogleError(404, NOT_FOUND)
        return task

    def _new_queue(self, name: str, rate: RateLimits, retry: RetryConfig) -> _Queue:
        queue = _Queue(name, rate, retry, tokens=rate.max_burst_size, refilled_at=self.clock())
        self._queues[name] = queue
        return queue

    def _add_task(self, parent: str, fields: JsonObject, http: _HttpRequest) -> _Task:
        now = self.clock()
        queue = self._queues.get(parent)
        if queue is None:
            raise GoogleError(404, NO_QUEUE)
        name = fields.get("name") or f"{parent}/tasks/{secrets.randbelow(9 * 10**19) + 10**19}"
        if not isinstance(name, str) or not name.startswith(f"{parent}/tasks/"):
            raise GoogleError(400, f"Task name {name!r} must be {parent}/tasks/TASK_ID.")
        if not TASK_ID.fullmatch(name.removeprefix(f"{parent}/tasks/")):
            raise GoogleError(400, f"Invalid task id in {name!r}: use [A-Za-z0-9_-]{{1,500}}.")
        self._tombstones = {n: entry for n, entry in self._tombstones.items() if entry[0] > now}
        if name in self._tasks:
            raise GoogleError(409, ALREADY_EXISTS)
        if name in self._tombstones:
            raise GoogleError(409, TOO_RECENT)
        schedule_time = max(now, _timestamp(fields["scheduleTime"], "task.schedule_time")) if "scheduleTime" in fields else now
        if schedule_time > now + MAX_SCHEDULE_AHEAD:
            raise GoogleError(400, "The task's schedule_time must be at most 30 days in the future.")
        deadline = DEFAULT_DEADLINE
        if "dispatchDeadline" in fields:
            deadline = _duration(fields["dispatchDeadline"], "task.dispatch_deadline")
            if not 0 < deadline <= MAX_DEADLINE:
                raise GoogleError(400, "task.dispatch_deadline must be positive and at most 30 minutes.")
        task = _Task(name, queue, http, now, schedule_time, self._due(schedule_time, now), deadline)
        self._tasks[name] = task
        self._wake()
        return task

    # -- HTTP ---------------------------------------------------------------------------

    def _blueprint(self) -> Blueprint:
        bp = Blueprint("cloudtasks", __name__)
        location = "/v2/projects/<project>/locations/<location>"

        # Custom verbs (`:pause`, `:run`, ...) share a path segment with the resource id, so each
        # level has one route that splits the verb off itself.

        @bp.route(location + "/queues", methods=["GET", "POST"])
        def queues(project: str, location: str) -> Response:
            parent = f"projects/{project}/locations/{location}"
            if request.method == "POST":
                name, rate, retry = _queue_settings(json_object(request.get_data()))
                _check_queue_name(name, parent)
                with self._cond:
                    if name in self._queues:
                        raise GoogleError(409, ALREADY_EXISTS)
                    return jsonify(_queue_json(self._new_queue(name, rate, retry), _int_enums()))
            if request.args.get("filter"):
                raise GoogleError(501, "The sandbox does not implement queue list filters.")
            with self._cond:
                listed = {n: q for n, q in self._queues.items() if n.startswith(f"{parent}/queues/")}
                page, token = _page(list(listed), MAX_QUEUES_PAGE)
                body = {"queues": [_queue_json(listed[n], _int_enums()) for n in page]}
            return jsonify(_listing(body, token))

        @bp.route(location + "/queues/<queue_verb>", methods=["GET", "PATCH", "DELETE", "POST"])
        def queue(project: str, location: str, queue_verb: str) -> Response:
            queue_id, _, verb = queue_verb.partition(":")
            name = f"projects/{project}/locations/{location}/queues/{queue_id}"
            with self._cond:
                if request.method == "GET" and not verb:
                    return jsonify(_queue_json(self._queue(name), _int_enums()))
                if request.method == "PATCH" and not verb:
                    return jsonify(_queue_json(self._update_queue(name), _int_enums()))
                if request.method == "DELETE" and not verb:
                    self._queue(name)
                    del self._queues[name]
                    self._tasks = {n: t for n, t in self._tasks.items() if t.queue.name != name}
                    self._cond.notify_all()
                    return jsonify({})
                if request.method == "POST" and verb in ("pause", "resume", "purge"):
                    target = self._queue(name)
                    if verb == "purge":
                        target.purge_time = self.clock()
                        for task in [t for t in self._tasks.values() if t.queue is target]:
                            self._retire(task, target.purge_time)
                    else:
                        target.state = QueueState.PAUSED if verb == "pause" else QueueState.RUNNING
                    self._wake()
                    return jsonify(_queue_json(target, _int_enums()))
            raise GoogleError(404, f"Unknown Cloud Tasks method {request.method} {request.path}.")

        @bp.route(location + "/queues/<queue_id>/tasks", methods=["GET", "POST"])
        def tasks(project: str, location: str, queue_id: str) -> Response:
            parent = f"projects/{project}/locations/{location}/queues/{queue_id}"
            if request.method == "POST":
                body = _message(json_object(request.get_data()), ("task", "responseView"), "request")
                view = _view(body.get("responseView"))
                fields = _message(body.get("task"), _TASK_FIELDS, "task")
                _reject_unimplemented(fields, ("appEngineHttpRequest", "retryConfig"), "task")
                http = _http_request(fields.get("httpRequest"))
                with self._cond:
                    return jsonify(_task_json(self._add_task(parent, fields, http), view, _int_enums()))
            view = _view(request.args.get("responseView"))
            with self._cond:
                self._queue(parent)
                listed = {n: t for n, t in self._tasks.items() if t.queue.name == parent}
                page, token = _page(list(listed), MAX_TASKS_PAGE)
                body = {"tasks": [_task_json(listed[n], view, _int_enums()) for n in page]}
            return jsonify(_listing(body, token))

        @bp.route(location + "/queues/<queue_id>/tasks/<task_verb>", methods=["GET", "DELETE", "POST"])
        def task(project: str, location: str, queue_id: str, task_verb: str) -> Response:
            task_id, _, verb = task_verb.partition(":")
            name = f"projects/{project}/locations/{location}/queues/{queue_id}/tasks/{task_id}"
            with self._cond:
                if request.method == "GET" and not verb:
                    return jsonify(_task_json(self._task(name), _view(request.args.get("responseView")), _int_enums()))
                if request.method == "DELETE" and not verb:
                    self._retire(self._task(name), self.clock())
                    self._cond.notify_all()
                    return jsonify({})
                if request.method == "POST" and verb == "run":
                    # RunTask dispatches now, even if the task is running or the queue paused or rate-limited.
                    view = _view(json_object(request.get_data()).get("responseView"))
                    target = self._task(name)
                    self._jobs.put(self._start(target, self.clock()))
                    self._wake()
                    return jsonify(_task_json(target, view, _int_enums()))
            raise GoogleError(404, f"Unknown Cloud Tasks method {request.method} {request.path}.")

        @bp.get("/sandbox/tasks/attempts")
        def attempts() -> Response:
            return jsonify({"attempts": self.attempts(request.args.get("queue"))})

        @bp.get("/sandbox/tasks/failed")
        def failed() -> Response:
            return jsonify({"failed": self.failed()})

        @bp.get("/sandbox/tasks/pending")
        def pending() -> Response:
            return jsonify({"tasks": self.pending(request.args.get("queue"))})

        @bp.post("/sandbox/tasks/settings")
        def settings() -> Response:
            body = json_object(request.get_data())
            if set(body) != {"time_scale"}:
                raise GoogleError(400, 'settings take exactly {"time_scale": number}')
            return jsonify({"time_scale": self.set_time_scale(body["time_scale"])})

        @bp.post("/sandbox/tasks/drain")
        def drain() -> Response:
            timeout = json_object(request.get_data()).get("timeout_seconds", 10)
            if isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or timeout < 0:
                raise GoogleError(400, f"timeout_seconds must be a non-negative number, got {timeout!r}")
            return jsonify({"drained": self.drain(float(timeout))})

        @bp.post("/sandbox/tasks/redeliver")
        def redeliver() -> Response:
            name = json_object(request.get_data()).get("task")
            if not isinstance(name, str):
                raise GoogleError(400, "task (the full task name) is required")
            self.redeliver(name)
            return jsonify({"redelivered": name})

        return bp

    def _update_queue(self, name: str) -> _Queue:
        """UpdateQueue creates a missing queue; an empty `updateMask` replaces every mutable field (lock held)."""
        given_name, rate, retry = _queue_settings(json_object(request.get_data()))
        if given_name not in ("", name):
            raise GoogleError(400, f"queue.name {given_name!r} does not match the URL.")
        _check_queue_name(name, name.rsplit("/queues/", 1)[0])
        existing = self._queues.get(name)
        new_rate, new_retry = (existing.rate, existing.retry) if existing else (RateLimits(), RetryConfig())
        mask = [_camel(path.strip()) for path in request.args.get("updateMask", "").split(",") if path.strip()]
        if not mask:
            new_rate, new_retry = rate, retry
        for path in mask:
            top, _, leaf = path.partition(".")
            if top == "rateLimits":
                new_rate = _masked(new_rate, rate, leaf, _RATE_FIELDS)
            elif top == "retryConfig":
                new_retry = _masked(new_retry, retry, leaf, _RETRY_FIELDS)
            else:
                raise GoogleError(400, f"Invalid update_mask path {path!r}: only rateLimits and retryConfig can be updated.")
        _check_settings(new_rate, new_retry)
        queue = existing or self._new_queue(name, new_rate, new_retry)
        queue.rate, queue.retry = new_rate, new_retry
        self._wake()
        return queue


# -- request parsing ----------------------------------------------------------------------

_Parser = Callable[[Any, str], Any]
_Settings = TypeVar("_Settings", RateLimits, RetryConfig)


def _camel(name: str) -> str:
    """Proto JSON accepts field names in lowerCamelCase or as in the proto; normalize to camel."""
    return re.sub(r"_([a-z0-9])", lambda m: m.group(1).upper(), name)


def _message(value: Any, allowed: Collection[str], where: str) -> JsonObject:
    """A proto JSON object with camelCase keys; unknown names are a 400, as Google answers them."""
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise GoogleError(400, f"Invalid value at '{where}': expected an object.")
    fields = {_camel(key): item for key, item in value.items()}
    for key in fields:
        if key not in allowed:
            raise GoogleError(400, f"Invalid JSON payload received. Unknown name \"{key}\" at '{where}': Cannot find field.")
    return fields


def _reject_unimplemented(fields: JsonObject, names: Sequence[str], where: str) -> None:
    for name in names:
        if name in fields:
            raise GoogleError(501, f"The sandbox does not implement {where}.{name}.")


def _int(value: Any, where: str) -> int:
    """A proto int32 JSON field: a number or a numeric string."""
    if isinstance(value, bool) or not isinstance(value, (int, str)):
        raise GoogleError(400, f"Invalid value at '{where}' ({value!r}): expected an integer.")
    try:
        return int(value)
    except ValueError as exc:
        raise GoogleError(400, f"Invalid value at '{where}' ({value!r}): expected an integer.") from exc


def _float(value: Any, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise GoogleError(400, f"Invalid value at '{where}' ({value!r}): expected a number.")
    try:
        return float(value)
    except ValueError as exc:
        raise GoogleError(400, f"Invalid value at '{where}' ({value!r}): expected a number.") from exc


def _duration(value: Any, where: str) -> float:
    """A `google.protobuf.Duration` in JSON ("0.100s"), as seconds."""
    duration = duration_pb2.Duration()
    try:
        duration.FromJsonString(value)
    except (ValueError, TypeError, AttributeError) as exc:
        raise GoogleError(400, f"Invalid value at '{where}' ({value!r}): expected a duration like \"0.100s\".") from exc
    if duration.ToNanoseconds() < 0:
        raise GoogleError(400, f"Invalid value at '{where}': a duration must not be negative.")
    return duration.ToNanoseconds() / 1e9


def _timestamp(value: Any, where: str) -> float:
    """A `google.protobuf.Timestamp` in JSON (RFC 3339), as unix seconds."""
    timestamp = timestamp_pb2.Timestamp()
    try:
        timestamp.FromJsonString(value)
    except (ValueError, TypeError, AttributeError) as exc:
        raise GoogleError(400, f"Invalid value at '{where}' ({value!r}): expected an RFC 3339 timestamp.") from exc
    return timestamp.ToNanoseconds() / 1e9


def _enum(value: Any, names: Sequence[str], where: str) -> int:
    """A proto enum in JSON: its number (what `enum-encoding=int` clients send) or its name."""
    if isinstance(value, str) and value in names:
        return names.index(value)
    number = _int(value, where)
    if not 0 <= number < len(names):
        raise GoogleError(400, f"Invalid value at '{where}' ({value!r}).")
    return number


def _view(value: Any) -> View:
    return View(max(1, _enum(value or 0, ("VIEW_UNSPECIFIED", "BASIC", "FULL"), "response_view")))


# Settable fields, camelCase -> (attribute, parser). A zero number means "unset", as proto3
# JSON cannot tell them apart (clients omit zeros), so it takes Google's default.
_RETRY_FIELDS: dict[str, tuple[str, _Parser]] = {
    "maxAttempts": ("max_attempts", _int),
    "maxRetryDuration": ("max_retry_duration", _duration),
    "minBackoff": ("min_backoff", _duration),
    "maxBackoff": ("max_backoff", _duration),
    "maxDoublings": ("max_doublings", _int),
}
_RATE_FIELDS: dict[str, tuple[str, _Parser]] = {
    "maxDispatchesPerSecond": ("max_dispatches_per_second", _float),
    "maxConcurrentDispatches": ("max_concurrent_dispatches", _int),
}
_ZERO_IS_UNSET = frozenset({"max_attempts", "max_doublings", "max_dispatches_per_second", "max_concurrent_dispatches"})
_QUEUE_FIELDS = ("name", "rateLimits", "retryConfig", "state", "purgeTime",
                 "appEngineRoutingOverride", "httpTarget", "stackdriverLoggingConfig")  # fmt: skip
_TASK_FIELDS = ("name", "httpRequest", "scheduleTime", "dispatchDeadline", "appEngineHttpRequest", "retryConfig",
                "createTime", "dispatchCount", "responseCount", "firstAttempt", "lastAttempt", "view")  # fmt: skip
_HTTP_FIELDS = ("url", "httpMethod", "headers", "body", "oauthToken", "oidcToken")


def _settings(
    cls: type[_Settings], value: Any, table: dict[str, tuple[str, _Parser]], where: str, output_only: Sequence[str] = ()
) -> _Settings:
    """Parse rate limits or a retry config; fields left out (or zero numbers) keep the defaults."""
    fields = _message(value, [*table, *output_only], where)
    parsed = {table[k][0]: table[k][1](v, f"{where}.{k}") for k, v in fields.items() if k in table}
    return cls(**{attr: v for attr, v in parsed.items() if not (attr in _ZERO_IS_UNSET and v == 0)})


def _queue_settings(body: JsonObject) -> tuple[str, RateLimits, RetryConfig]:
    """A Queue body's name ("" if absent), rate limits and retry config (defaults for what it leaves out), validated."""
    fields = _message(body, _QUEUE_FIELDS, "queue")
    _reject_unimplemented(fields, ("appEngineRoutingOverride", "httpTarget", "stackdriverLoggingConfig"), "queue")
    rate = _settings(RateLimits, fields.get("rateLimits"), _RATE_FIELDS, "queue.rate_limits", ("maxBurstSize",))
    retry = _settings(RetryConfig, fields.get("retryConfig"), _RETRY_FIELDS, "queue.retry_config")
    _check_settings(rate, retry)
    name = fields.get("name", "")
    if not isinstance(name, str):
        raise GoogleError(400, "queue.name must be a string.")
    return name, rate, retry


def _check_queue_name(name: str, parent: str) -> None:
    prefix = f"{parent}/queues/"
    if not (name.startswith(prefix) and QUEUE_ID.fullmatch(name.removeprefix(prefix))):
        raise GoogleError(400, f"queue.name {name!r} must be {prefix}QUEUE_ID, the id matching [A-Za-z0-9-]{{1,100}}.")


def _check_settings(rate: RateLimits, retry: RetryConfig) -> None:
    if not 0 < rate.max_dispatches_per_second <= 500:
        raise GoogleError(400, "rate_limits.max_dispatches_per_second must be in (0, 500].")
    if not 1 <= rate.max_concurrent_dispatches <= 5000:
        raise GoogleError(400, "rate_limits.max_concurrent_dispatches must be in [1, 5000].")
    if retry.max_attempts < -1 or retry.max_doublings < 0:
        raise GoogleError(400, "retry_config.max_attempts must be >= -1 and max_doublings >= 0.")
    if retry.min_backoff > retry.max_backoff:
        raise GoogleError(400, "retry_config.min_backoff must not exceed max_backoff.")


def _masked(current: _Settings, given: _Settings, leaf: str, table: dict[str, tuple[str, _Parser]]) -> _Settings:
    """Apply one `updateMask` path below rateLimits/retryConfig (the whole message if `leaf` is empty)."""
    if not leaf:
        return given
    if leaf not in table:
        raise GoogleError(400, f"Invalid update_mask path ending in {leaf!r}.")
    attr = table[leaf][0]
    return replace(current, **{attr: getattr(given, attr)})


def _http_request(value: Any) -> _HttpRequest:
    fields = _message(value, _HTTP_FIELDS, "task.http_request")
    if not fields:
        raise GoogleError(400, "task.http_request is required (App Engine tasks are not implemented).")
    _reject_unimplemented(fields, ("oauthToken",), "task.http_request")
    url = fields.get("url")
    parts = urlsplit(url) if isinstance(url, str) else None
    if parts is None or parts.scheme not in ("http", "https") or not parts.hostname or len(url) > MAX_URL_LENGTH:
        raise GoogleError(400, f"task.http_request.url must be an http(s) URL of at most {MAX_URL_LENGTH} characters.")
    method_names = ("HTTP_METHOD_UNSPECIFIED", *HTTP_METHODS)
    method_number = _enum(fields.get("httpMethod", 0), method_names, "task.http_request.http_method")
    method = HTTP_METHODS[max(1, method_number) - 1]  # unspecified means POST
    headers = fields.get("headers") or {}
    if not isinstance(headers, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in headers.items()):
        raise GoogleError(400, "task.http_request.headers must map strings to strings.")
    body = _base64(fields.get("body", ""), "task.http_request.body")
    if body and method not in BODY_METHODS:
        raise GoogleError(400, f"A request body is allowed only for POST, PUT and PATCH, not {method}.")
    if len(body) + sum(len(k) + len(v) for k, v in headers.items()) > MAX_TASK_BYTES:
        raise GoogleError(400, "Task size exceeds the 1 MB limit.")
    oidc = _message(fields.get("oidcToken"), ("serviceAccountEmail", "audience"), "task.http_request.oidc_token")
    email = oidc.get("serviceAccountEmail")
    if "oidcToken" in fields and (not isinstance(email, str) or not email):
        raise GoogleError(400, "task.http_request.oidc_token.service_account_email is required.")
    return _HttpRequest(url, method, headers, body, email, oidc.get("audience") or None)


def _base64(value: Any, where: str) -> bytes:
    """Proto JSON bytes: standard or URL-safe base64, padding optional."""
    if not isinstance(value, str):
        raise GoogleError(400, f"Invalid value at '{where}': expected base64.")
    padded = value + "=" * (-len(value) % 4)
    try:
        return base64.b64decode(padded, altchars=b"-_" if ("-" in value or "_" in value) else None, validate=True)
    except binascii.Error as exc:
        raise GoogleError(400, f"Invalid value at '{where}': {exc}") from exc


# -- responses ----------------------------------------------------------------------------


def _int_enums() -> bool:
    return wants_int_enums(request.args.get("$alt", ""))


def _duration_json(seconds: float) -> str:
    duration = duration_pb2.Duration()
    duration.FromNanoseconds(round(seconds * 1e9))
    return str(duration.ToJsonString())


def _timestamp_json(seconds: float) -> str:
    timestamp = timestamp_pb2.Timestamp()
    timestamp.FromNanoseconds(int(seconds * 1e6) * 1000)  # Cloud Tasks keeps microseconds
    return str(timestamp.ToJsonString())


def _queue_json(queue: _Queue, int_enums: bool) -> JsonObject:
    retry = queue.retry
    retry_json: JsonObject = {
        "maxAttempts": retry.max_attempts,
        "minBackoff": _duration_json(retry.min_backoff),
        "maxBackoff": _duration_json(retry.max_backoff),
        "maxDoublings": retry.max_doublings,
    }
    if retry.max_retry_duration:
        retry_json["maxRetryDuration"] = _duration_json(retry.max_retry_duration)
    body: JsonObject = {
        "name": queue.name,
        "rateLimits": {
            "maxDispatchesPerSecond": queue.rate.max_dispatches_per_second,
            "maxBurstSize": queue.rate.max_burst_size,
            "maxConcurrentDispatches": queue.rate.max_concurrent_dispatches,
        },
        "retryConfig": retry_json,
        "state": int(queue.state) if int_enums else queue.state.name,
    }
    if queue.purge_time is not None:
        body["purgeTime"] = _timestamp_json(queue.purge_time)
    return body


def _task_json(task: _Task, view: View, int_enums: bool) -> JsonObject:
    """A Task as proto3 JSON (zero fields omitted); BASIC leaves out the headers and body."""
    http = task.http
    http_json: JsonObject = {"url": http.url, "httpMethod": HTTP_METHODS.index(http.method) + 1 if int_enums else http.method}
    if view is View.FULL and http.headers:
        http_json["headers"] = dict(http.headers)
    if view is View.FULL and http.body:
        http_json["body"] = base64.b64encode(http.body).decode()
    if http.oidc_email:
        http_json["oidcToken"] = {"serviceAccountEmail": http.oidc_email}
        if http.oidc_audience:
            http_json["oidcToken"]["audience"] = http.oidc_audience
    body: JsonObject = {
        "name": task.name,
        "httpRequest": http_json,
        "scheduleTime": _timestamp_json(task.schedule_time),
        "createTime": _timestamp_json(math.floor(task.create_time)),  # truncated to the second, like Google
        "dispatchDeadline": _duration_json(task.deadline),
        "view": int(view) if int_enums else view.name,
    }
    if task.dispatch_count:
        body["dispatchCount"] = task.dispatch_count
    if task.response_count:
        body["responseCount"] = task.response_count
    if task.first_dispatch is not None:
        body["firstAttempt"] = {"dispatchTime": _timestamp_json(task.first_dispatch)}
    attempt = task.last_attempt
    if attempt is not None:
        last: JsonObject = {
            "scheduleTime": _timestamp_json(attempt.schedule_time),
            "dispatchTime": _timestamp_json(attempt.dispatch_time),
        }
        if attempt.response_time is not None:
            last["responseTime"] = _timestamp_json(attempt.response_time)
        if attempt.status is not None:
            last["responseStatus"] = attempt.status
        body["lastAttempt"] = last
    return body


def _page(names: list[str], max_size: int) -> tuple[list[str], str]:
    """One page of names in order; the opaque token is the last name returned, so paging stays
    stable while tasks complete between pages."""
    size = _int(request.args.get("pageSize") or 0, "page_size")
    if size < 0:
        raise GoogleError(400, "page_size must not be negative.")
    size = min(size or max_size, max_size)
    after = ""
    if request.args.get("pageToken"):
        try:
            after = base64.urlsafe_b64decode(request.args["pageToken"].encode()).decode()
        except (binascii.Error, UnicodeDecodeError) as exc:
            raise GoogleError(400, "Invalid page_token.") from exc
    rest = sorted(n for n in names if n > after)
    page = rest[:size]
    return page, base64.urlsafe_b64encode(page[-1].encode()).decode() if len(rest) > size else ""


def _listing(body: JsonObject, next_token: str) -> JsonObject:
    """A proto3-JSON list response: an empty list and an empty token are omitted, as Google omits them."""
    listing = {key: items for key, items in body.items() if items}
    if next_token:
        listing["nextPageToken"] = next_token
    return listing


def _replaced_header(name: str, http: _HttpRequest) -> bool:
    """Headers Cloud Tasks computes or overrides itself (Authorization too, when it adds an OIDC token)."""
    lower = name.lower()
    if lower == "authorization":
        return bool(http.oidc_email)
    return lower in REPLACED_HEADERS or lower.startswith(GOOGLE_ONLY_HEADERS)


def _in_queue(queue_name: str, wanted: str | None) -> bool:
    """Whether `queue_name` is `wanted`, given as a full name or a bare queue id (None: any)."""
    return wanted is None or wanted in (queue_name, queue_name.rsplit("/", 1)[1])
