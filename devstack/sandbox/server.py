"""`SandboxServer`: the sandbox on a loopback port in a background thread, for tests and the CLI.

The helpers act on the same `Sandbox` object the HTTP API serves, so state set up
from Python is what the project's real clients see over HTTP.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any, Concatenate, ParamSpec, Self, TypeVar

from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server

from .app import Sandbox, create_app
from .calendar import Calendar, rate_limit_exceeded
from .core import JsonObject
from .identity import Identity
from .meet import Meet
from .oauth import Account

HOST = "127.0.0.1"  # The sandbox never listens beyond loopback.

P = ParamSpec("P")
R = TypeVar("R")


class _QuietRequestHandler(WSGIRequestHandler):
    """Drops werkzeug's per-request access log, which would drown test output."""

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        pass


def _forward(surface: str, method: Callable[Concatenate[Any, P], R]) -> Callable[Concatenate[SandboxServer, P], R]:
    """``SandboxServer.<name>`` calling ``sandbox.<surface>.<name>``, with that method's signature and docstring."""
    name = method.__name__

    @functools.wraps(method)
    def forwarded(self: SandboxServer, /, *args: P.args, **kwargs: P.kwargs) -> R:
        bound: Callable[P, R] = getattr(getattr(self.sandbox, surface), name)
        return bound(*args, **kwargs)

    return forwarded


class SandboxServer:
    """A threaded HTTP server on 127.0.0.1 serving one `Sandbox`."""

    def __init__(
        self,
        project: str,
        port: int = 0,
        quiet: bool = True,
        mail_outbox: Path | None = None,
        sendgrid_keys: Iterable[str] = (),
    ) -> None:
        """`mail_outbox`: folder for an .eml of every accepted mail; `sendgrid_keys` survive `reset`."""
        self.sandbox = Sandbox(project, mail_outbox=mail_outbox, sendgrid_keys=sendgrid_keys)
        self._port = port
        self._quiet = quiet
        self._server: BaseWSGIServer | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> SandboxServer:
        """Bind (port 0 picks a free port) and serve in a daemon thread; returns self."""
        if self._server is not None:
            raise RuntimeError("sandbox already started")
        self._server = make_server(
            HOST,
            self._port,
            create_app(self.sandbox),
            threaded=True,
            request_handler=_QuietRequestHandler if self._quiet else None,
        )
        # A short poll interval makes stop() take ~0.1 s instead of socketserver's 0.5 s.
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.1}, name="sandbox-server", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop accepting requests and close the socket; in-flight handler threads are daemons."""
        self.sandbox.stop()
        if self._server is None:
            return
        self._server.shutdown()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join()
        self._server = self._thread = None

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    # The surfaces' own seeding methods, forwarded: one signature and docstring, in the surface.
    mint_id_token = _forward("identity", Identity.mint_id_token)
    mint_oidc_token = _forward("identity", Identity.mint_oidc_token)
    add_calendar = _forward("calendar", Calendar.add_calendar)
    add_busy_event = _forward("calendar", Calendar.add_busy_event)
    add_conference_record = _forward("meet", Meet.add_conference_record)

    @property
    def project(self) -> str:
        return self.sandbox.project

    @property
    def port(self) -> int:
        if self._server is None:
            raise RuntimeError("sandbox not started")
        return self._server.port

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}"

    def put_secret(self, name: str, value: bytes | str, project: str | None = None) -> str:
        """Add a version (creating the secret if needed); returns its number, e.g. "1"."""
        return self.sandbox.secrets.put(project or self.project, name, value)

    def register_oauth_client(
        self, client_id: str, client_secret: str, redirect_uris: Iterable[str], name: str = "Convene"
    ) -> None:
        """Register (or replace) a web OAuth client, as the Cloud Console's credentials page does."""
        self.sandbox.oauth.register_client(client_id, client_secret, list(redirect_uris), name)

    def add_google_account(self, email: str, name: str | None = None) -> Account:
        """Create (or rename) a Google account; the consent page also creates unknown ones."""
        return self.sandbox.oauth.add_account(email, name)

    def consent(self, authorization_url: str, email: str, scopes: Iterable[str] | None = None, approve: bool = True) -> str:
        """Decide on the consent page of `authorization_url` as `email` would, without a browser;
        returns the URL Google redirects to. `scopes=None` grants every requested scope."""
        return self.sandbox.oauth.consent(authorization_url, email, scopes, approve)

    def revoke_google_grants(self, email: str) -> int:
        """The person removes every app's access on their Google Account page; returns how many grants."""
        return self.sandbox.oauth.revoke_grants(email)

    def expire_access_tokens(self) -> int:
        """Expire every live access token now, so the next API call needs a refresh."""
        return self.sandbox.oauth.expire_access_tokens()

    def oauth_state(self) -> JsonObject:
        """Per account email: name, sub and its grants (client_id, scopes, offline, revoked)."""
        return self.sandbox.oauth.state()

    def calendar_events(self, calendar_id: str) -> list[JsonObject]:
        """All events of a calendar as the API returns them, cancelled ones too (not a read)."""
        return self.sandbox.calendar.events(calendar_id)

    def set_meet_pending_reads(self, reads: int) -> None:
        """How many reads after the insert still see a new Meet conference `pending` (default 0)."""
        self.sandbox.calendar.set_conferences(pending_reads=reads)

    def fail_conference_creation(self, times: int = 1) -> None:
        """The next `times` Meet creations end in `statusCode: "failure"` instead of `success`."""
        self.sandbox.calendar.set_conferences(fail_next=times)

    def inject_rate_limit(self, path_regex: str, times: int = 1, method: str | None = None, status: int = 403) -> None:
        """Answer the next `times` matching requests with Calendar's `rateLimitExceeded` (403, or 429)."""
        self.inject(path_regex, [{"status": status, "body": rate_limit_exceeded(status)}] * times, method)

    def add_sendgrid_key(self, key: str) -> None:
        """Accept `key` (it must start with "SG.") as a SendGrid API key, until `reset`."""
        self.sandbox.sendgrid.add_key(key)

    def sent_mail(self) -> list[JsonObject]:
        """Mail that SendGrid accepted, oldest first: `{message_id, api_key, received_at, body}`."""
        return self.sandbox.sendgrid.messages()

    def sent_mail_to(self, email: str) -> list[JsonObject]:
        """The accepted mail that `email` receives as to, cc or bcc (any case)."""
        return self.sandbox.sendgrid.messages(to=email)

    def clear_sent_mail(self) -> None:
        self.sandbox.sendgrid.clear_messages()

    def task_attempts(self, queue: str | None = None) -> list[JsonObject]:
        """Cloud Tasks dispatch attempts, oldest first: `{task, queue, attempt, url, status, error,
        dispatched_at, response_at, redelivery}`; `queue` is a queue id or full name."""
        return self.sandbox.tasks.attempts(queue)

    def failed_tasks(self) -> list[JsonObject]:
        """Tasks deleted after their last allowed attempt failed, or whose URL was not loopback."""
        return self.sandbox.tasks.failed()

    def pending_tasks(self, queue: str | None = None) -> list[JsonObject]:
        """Tasks not yet completed or failed (FULL view), soonest first."""
        return self.sandbox.tasks.pending(queue)

    def set_tasks_time_scale(self, scale: float) -> None:
        """Multiply every Cloud Tasks queue delay (schedule times, backoffs) by `scale`; 1.0 after `reset`."""
        self.sandbox.tasks.set_time_scale(scale)

    def drain_tasks(self, timeout: float = 10) -> bool:
        """Wait until no task is pending or in flight; False if `timeout` seconds pass first."""
        return self.sandbox.tasks.drain(timeout)

    def redeliver(self, task_name: str) -> None:
        """Deliver a dispatched task once more, as Cloud Tasks' at-least-once delivery may (drain to wait)."""
        self.sandbox.tasks.redeliver(task_name)

    def calls(self, path_prefix: str | None = None) -> list[JsonObject]:
        """Requests made to Google surfaces so far, oldest first."""
        return self.sandbox.calls.list(path_prefix)

    def inject(self, path_regex: str, responses: Iterable[Mapping[str, Any]], method: str | None = None) -> None:
        """Queue scripted responses for requests whose path matches `path_regex` (re.search)."""
        self.sandbox.faults.add(path_regex, [dict(r) for r in responses], method)

    def reset(self) -> None:
        """Clear calls, faults and surface state (keys are kept)."""
        self.sandbox.reset()
