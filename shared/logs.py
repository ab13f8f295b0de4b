"""Structured JSON logs that Cloud Logging parses from stdout.

Each line carries ``severity``, ``message``, the request's trace (so Logs Explorer groups
lines by request) and the ids bound to the current request (interview, workspace,
function). Only ids: never names, emails, tokens or secrets.
"""

from __future__ import annotations

import contextvars
import json
import logging
import sys
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from datetime import UTC, datetime
from types import MappingProxyType
from typing import Any

_context: contextvars.ContextVar[Mapping[str, Any]] = contextvars.ContextVar("convene_log_context", default=MappingProxyType({}))

TRACE_KEY = "logging.googleapis.com/trace"
SPAN_KEY = "logging.googleapis.com/spanId"
# Fields a caller may attach to a line; anything else passed via ``extra`` is dropped so
# that personal data cannot slip in by accident.
ALLOWED_FIELDS = frozenset(
    {
        "interview_id",
        "workspace_id",
        "user_id",
        "function",
        "event",
        "status",
        "duration_ms",
        "method",
        "path",
        "role",
        "error_code",
        "secret",
        "attempt",
        "count",
    }
)


# Client libraries that log request bodies, URLs or tokens at DEBUG (requests-oauthlib logs
# whole token responses): capped at WARNING whatever CONVENE_LOG_LEVEL says.
TOKEN_LOGGING_LIBRARIES = (
    "requests_oauthlib",
    "oauthlib",
    "google_auth_oauthlib",
    "urllib3",
    "google_auth_httplib2",
    "googleapiclient",
    "google.auth",
    "google.oauth2",
    "httplib2",
)
for _name in TOKEN_LOGGING_LIBRARIES:
    logging.getLogger(_name).setLevel(logging.WARNING)


class CloudLoggingFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "severity": record.levelname if record.levelname != "WARN" else "WARNING",
            "message": record.getMessage(),
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(),
            "logger": record.name,
        }
        entry.update(_context.get())
        fields = getattr(record, "fields", None)
        if isinstance(fields, Mapping):
            entry.update({k: v for k, v in fields.items() if k in ALLOWED_FIELDS})
        if record.exc_info and record.exc_info[0] is not None:
            # The traceback goes to logs (never to responses); Error Reporting reads it here.
            entry["stack_trace"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str)


def configure(level: str = "INFO") -> None:
    """Install the JSON handler on the root logger once; safe to call repeatedly."""
    root = logging.getLogger()
    if any(isinstance(h.formatter, CloudLoggingFormatter) for h in root.handlers):
        root.setLevel(level)
        return
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(CloudLoggingFormatter())
    root.handlers = [handler]
    root.setLevel(level)


def trace_fields(headers: Mapping[str, str], project_id: str) -> dict[str, str]:
    """Trace id from ``traceparent`` (W3C) or ``X-Cloud-Trace-Context`` as Cloud Logging wants it."""
    trace = span = ""
    traceparent = headers.get("traceparent", "")
    parts = traceparent.split("-")
    if len(parts) == 4 and len(parts[1]) == 32:
        trace, span = parts[1], parts[2]
    else:
        cloud = headers.get("X-Cloud-Trace-Context", "")
        if cloud:
            trace, _, rest = cloud.partition("/")
            span = rest.split(";")[0]
    if not trace or not all(c in "0123456789abcdefABCDEF" for c in trace):
        return {}
    out = {TRACE_KEY: f"projects/{project_id}/traces/{trace}"}
    if span:
        out[SPAN_KEY] = span
    return out


@contextmanager
def bound(**fields: Any) -> Iterator[None]:
    """Attach fields to every line logged inside the block (per request, thread-safe)."""
    token = _context.set({**_context.get(), **fields})
    try:
        yield
    finally:
        _context.reset(token)


def bind(**fields: Any) -> None:
    """Add fields to the current request's context (e.g. the interview id once parsed)."""
    _context.set({**_context.get(), **fields})


def log(logger: logging.Logger, level: int, message: str, **fields: Any) -> None:
    logger.log(level, message, extra={"fields": fields})
