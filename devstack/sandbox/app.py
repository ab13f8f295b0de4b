"""The sandbox's state and its WSGI app: Google surfaces plus the `/sandbox/` control API.

Everything under `/sandbox/` is the control API (and is neither recorded nor
faultable); every other path is a Google surface, where scripted faults are
applied first and each request is recorded with the status it got.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from flask import Blueprint, Flask, Response, g, jsonify, request
from werkzeug.exceptions import HTTPException

from .calendar import Calendar
from .core import CallLog, ErrorBody, Faults, GoogleError, google_error_body, json_object
from .identity import Identity
from .meet import Meet
from .oauth import OAuth
from .secretmanager import SecretManager
from .sendgrid import PATH_PREFIX as SENDGRID_PREFIX
from .sendgrid import SendGrid
from .sendgrid import error_body as sendgrid_error_body
from .tasks import CloudTasks

CONTROL_PREFIX = "/sandbox/"


class Sandbox:
    """All state of one sandbox; the HTTP app and the Python API both act on this object."""

    def __init__(self, project: str, mail_outbox: Path | None = None, sendgrid_keys: Iterable[str] = ()) -> None:
        self.project = project
        self.calls = CallLog()
        self.faults = Faults()
        self.identity = Identity(project)
        self.secrets = SecretManager()
        self.oauth = OAuth(self.identity)
        self.calendar = Calendar(self.oauth)
        self.meet = Meet(self.oauth)
        self.sendgrid = SendGrid(sendgrid_keys, mail_outbox)
        self.tasks = CloudTasks(self.identity)

    def reset(self) -> None:
        """Forget calls, faults and all surface state; signing keys stay (clients cache certs)."""
        self.calls.clear()
        self.faults.clear()
        self.secrets.reset()
        self.oauth.reset()
        self.calendar.reset()
        self.meet.reset()
        self.sendgrid.reset()
        self.tasks.reset()

    def stop(self) -> None:
        """Stop background threads (the Cloud Tasks dispatcher), so stopping a server stops dispatching."""
        self.tasks.stop()


def _json_response(body: Any, status: int, headers: dict[str, str] | None = None) -> Response:
    return Response(json.dumps(body), status=status, headers=headers, mimetype="application/json")


def _error_body(path: str) -> ErrorBody:
    """SendGrid's error shape on its paths (its client reads it), Google's everywhere else."""
    return sendgrid_error_body if path.startswith(SENDGRID_PREFIX) else google_error_body


def _recorded_body() -> Any:
    """The request body for the call log: form posts (OAuth's token and revoke endpoints) as a
    dict, a repeated field as a list; anything else parsed as JSON, or None."""
    if request.mimetype == "application/x-www-form-urlencoded":
        return {key: values[0] if len(values) == 1 else values for key, values in request.form.lists()}
    return request.get_json(silent=True, force=True)


def _control_blueprint(sandbox: Sandbox) -> Blueprint:
    bp = Blueprint("control", __name__, url_prefix=CONTROL_PREFIX.rstrip("/"))

    @bp.get("/health")
    def health() -> Response:
        return jsonify({"ok": True})

    @bp.get("/calls")
    def list_calls() -> Response:
        return jsonify({"calls": sandbox.calls.list(request.args.get("path_prefix"))})

    @bp.delete("/calls")
    def clear_calls() -> Response:
        sandbox.calls.clear()
        return jsonify({"ok": True})

    @bp.post("/faults")
    def add_fault() -> Response:
        body = json_object(request.get_data())
        queued = sandbox.faults.add(body.get("path_regex", ""), body.get("responses"), body.get("method"))
        return jsonify({"queued": queued})

    @bp.delete("/faults")
    def clear_faults() -> Response:
        sandbox.faults.clear()
        return jsonify({"ok": True})

    @bp.post("/reset")
    def reset() -> Response:
        sandbox.reset()
        return jsonify({"ok": True})

    return bp


def create_app(sandbox: Sandbox) -> Flask:
    """Build the Flask app serving `sandbox`."""
    app = Flask(__name__)
    app.register_blueprint(_control_blueprint(sandbox))
    app.register_blueprint(sandbox.identity.blueprint)
    app.register_blueprint(sandbox.secrets.blueprint)
    app.register_blueprint(sandbox.oauth.blueprint)
    app.register_blueprint(sandbox.calendar.blueprint)
    app.register_blueprint(sandbox.meet.blueprint)
    app.register_blueprint(sandbox.sendgrid.blueprint)
    app.register_blueprint(sandbox.tasks.blueprint)

    def is_control() -> bool:
        return request.path.startswith(CONTROL_PREFIX)

    @app.before_request
    def apply_fault() -> Response | None:
        g.injected = False
        if is_control():
            return None
        fault = sandbox.faults.take(request.method, request.path)
        if fault is None:
            return None
        if fault.delay_seconds:
            time.sleep(fault.delay_seconds)
        if fault.status is None:
            return None
        g.injected = True
        return _json_response(fault.default_body(_error_body(request.path)), fault.status, dict(fault.headers or {}))

    @app.after_request
    def record_call(response: Response) -> Response:
        if not is_control():
            sandbox.calls.record(
                method=request.method,
                path=request.path,
                query=request.args.to_dict(),
                body=_recorded_body(),
                status=response.status_code,
                injected=g.get("injected", False),
            )
        return response

    @app.errorhandler(GoogleError)
    def google_error(error: GoogleError) -> Response:
        return _json_response(error.body(), error.code)

    @app.errorhandler(HTTPException)
    def http_error(error: HTTPException) -> Response:
        code = error.code or 500
        message = f"{request.method} {request.path}: {error.name}."
        return _json_response(_error_body(request.path)(code, message), code)

    @app.errorhandler(Exception)
    def internal_error(error: Exception) -> Response:
        app.logger.exception("sandbox handler failed")
        return _json_response(GoogleError(500, f"Internal sandbox error: {error!r}").body(), 500)

    return app
