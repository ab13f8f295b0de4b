"""Core of the sandbox: Google-style errors, call recording and fault injection.

Surfaces raise `GoogleError` instead of building error bodies, so every error a
real client library sees has the JSON shape Google's front ends return (and the
library maps it to the same exception class it would raise in production).
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

# HTTP status -> canonical google.rpc.Code name, as Google's JSON errors carry it.
GOOGLE_STATUS: dict[int, str] = {
    400: "INVALID_ARGUMENT",
    401: "UNAUTHENTICATED",
    403: "PERMISSION_DENIED",
    404: "NOT_FOUND",
    409: "ALREADY_EXISTS",
    429: "RESOURCE_EXHAUSTED",
    499: "CANCELLED",
    500: "INTERNAL",
    501: "UNIMPLEMENTED",
    503: "UNAVAILABLE",
    504: "DEADLINE_EXCEEDED",
}

JsonObject = dict[str, Any]


class GoogleError(Exception):
    """An error answered as `{"error": {"code", "message", "status"}}`.

    `status` defaults from the HTTP code; pass it when Google uses a code that
    shares its HTTP status with another (e.g. FAILED_PRECONDITION is a 400).
    `details` (e.g. a `google.rpc.ErrorInfo` with its `reason`) is added when given.
    """

    def __init__(self, code: int, message: str, status: str | None = None, details: list[JsonObject] | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.status = status or GOOGLE_STATUS.get(code, "UNKNOWN")
        self.details = details

    def body(self) -> JsonObject:
        error: JsonObject = {"code": self.code, "message": self.message, "status": self.status}
        if self.details:
            error["details"] = self.details
        return {"error": error}


ErrorBody = Callable[[int, str], Any]  # (HTTP status, message) -> a surface's error body


def google_error_body(code: int, message: str) -> JsonObject:
    return GoogleError(code, message).body()


def json_object(raw: bytes) -> JsonObject:
    """Parse a request body the way Google does: empty means `{}`, non-objects are a 400."""
    if not raw.strip():
        return {}
    try:
        value = json.loads(raw)
    except ValueError as exc:
        raise GoogleError(400, f"Invalid JSON payload received. {exc}") from exc
    if not isinstance(value, dict):
        raise GoogleError(400, "Invalid JSON payload received. Expected an object.")
    return value


def wants_int_enums(alt: str) -> bool:
    """Whether a gapic REST client asked for enums as numbers (`$alt=json;enum-encoding=int`)."""
    return "enum-encoding=int" in alt


class CallLog:
    """Thread-safe record of the requests made to Google surfaces, for assertions."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._calls: list[JsonObject] = []

    def record(
        self,
        method: str,
        path: str,
        query: Mapping[str, str],
        body: Any,
        status: int,
        injected: bool,
    ) -> None:
        call = {
            "method": method,
            "path": path,
            "query": dict(query),
            "body": body,
            "status": status,
            "injected": injected,
            "timestamp": time.time(),
        }
        with self._lock:
            self._calls.append(call)

    def list(self, path_prefix: str | None = None) -> list[JsonObject]:
        with self._lock:
            return [dict(c) for c in self._calls if c["path"].startswith(path_prefix or "")]

    def clear(self) -> None:
        with self._lock:
            self._calls.clear()


@dataclass(frozen=True)
class FaultResponse:
    """One scripted answer: optionally wait, then either answer `status` or handle normally."""

    status: int | None = None
    body: Any = None
    headers: Mapping[str, str] | None = None
    delay_seconds: float = 0.0

    @classmethod
    def parse(cls, spec: Any) -> FaultResponse:
        if not isinstance(spec, dict):
            raise GoogleError(400, "each fault response must be an object")
        unknown = set(spec) - {"status", "body", "headers", "delay_seconds"}
        if unknown:
            raise GoogleError(400, f"unknown fault response keys: {sorted(unknown)}")
        status = spec.get("status")
        delay = spec.get("delay_seconds", 0)
        if status is not None and (not isinstance(status, int) or not 100 <= status <= 599):
            raise GoogleError(400, f"fault status must be an HTTP status code, got {status!r}")
        if not isinstance(delay, (int, float)) or delay < 0:
            raise GoogleError(400, f"delay_seconds must be a non-negative number, got {delay!r}")
        if status is None and not delay:
            raise GoogleError(400, "a fault response needs a status or a delay_seconds")
        headers = spec.get("headers")
        if headers is not None and not isinstance(headers, dict):
            raise GoogleError(400, "fault headers must be an object")
        return cls(status=status, body=spec.get("body"), headers=headers, delay_seconds=float(delay))

    def default_body(self, error_body: ErrorBody = google_error_body) -> Any:
        """The body to send: the scripted one, else the surface's error shape (Google's by default)."""
        if self.body is not None:
            return self.body
        if self.status is not None and self.status >= 400:
            return error_body(self.status, f"Injected fault ({self.status}).")
        return {}


@dataclass
class _FaultRule:
    method: str | None
    pattern: re.Pattern[str]
    responses: deque[FaultResponse]


class Faults:
    """Per-route queues of scripted responses, consumed one per matching request.

    Rules are tried in the order they were added; the first one that matches
    the request and still has responses queued answers it.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._rules: list[_FaultRule] = []

    def add(self, path_regex: str, responses: Any, method: str | None = None) -> int:
        """Queue `responses` (validated here, as they may come straight from JSON)."""
        try:
            pattern = re.compile(path_regex)
        except (re.error, TypeError) as exc:
            raise GoogleError(400, f"invalid path_regex: {exc}") from exc
        if method is not None and not isinstance(method, str):
            raise GoogleError(400, "method must be a string or null")
        if not isinstance(responses, list):
            raise GoogleError(400, "responses must be a list")
        queue = deque(FaultResponse.parse(spec) for spec in responses)
        if not queue:
            raise GoogleError(400, "responses must not be empty")
        with self._lock:
            self._rules.append(_FaultRule(method.upper() if method else None, pattern, queue))
        return len(queue)

    def take(self, method: str, path: str) -> FaultResponse | None:
        """Pop the next scripted response for this request, if any rule matches."""
        with self._lock:
            for rule in self._rules:
                if rule.method in (None, method) and rule.pattern.search(path):
                    response = rule.responses.popleft()
                    if not rule.responses:
                        self._rules.remove(rule)
                    return response
        return None

    def clear(self) -> None:
        with self._lock:
            self._rules.clear()
