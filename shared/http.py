"""HTTP plumbing shared by every function: routing, CORS, errors, JSON, request logs.

A function declares routes on a ``Router`` and exposes ``router.handle`` as its entry
point. Errors become the SPEC §3 JSON shape here and nowhere else; an unexpected
exception is logged with its traceback and answered with a generic 500.
"""

from __future__ import annotations

import json
import logging
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import flask

from shared import logs
from shared.errors import BadRequest, ConveneError, InternalError, MethodNotAllowed, NotFound, Unavailable

logger = logging.getLogger("convene.http")

JSON_TYPE = "application/json; charset=utf-8"
MAX_BODY_BYTES = 64 * 1024
CORS_ALLOWED_HEADERS = "Authorization, Content-Type, Idempotency-Key"
CORS_MAX_AGE_SECONDS = "3600"
# An opaque id in a path: letters, digits, _ and -, never Firestore's reserved __name__ form.
ID_PATTERN = r"(?!__[A-Za-z0-9_-]*__(?:/|$))[A-Za-z0-9_-]{1,128}"


@dataclass(frozen=True)
class Request:
    """What a handler needs of a request, without Flask types leaking into the core."""

    method: str
    path: str
    params: dict[str, str]  # path parameters
    query: dict[str, str]
    headers: dict[str, str]
    raw: flask.Request

    def bearer_token(self) -> str | None:
        value = self.headers.get("Authorization", "")
        scheme, _, token = value.partition(" ")
        return token.strip() if scheme.lower() == "bearer" and token.strip() else None

    def json(self) -> dict[str, Any]:
        if (self.raw.content_length or 0) > MAX_BODY_BYTES:
            raise BadRequest(f"The request body is larger than {MAX_BODY_BYTES} bytes.", code="body_too_large")
        data = self.raw.get_data(cache=True)
        if not data:
            return {}
        try:
            body = json.loads(data)
        except (ValueError, UnicodeDecodeError):
            raise BadRequest("The request body is not valid JSON.", code="invalid_json") from None
        if not isinstance(body, dict):
            raise BadRequest("The request body must be a JSON object.", code="invalid_json")
        return body


Handler = Callable[[Request], "tuple[dict[str, Any], int] | dict[str, Any] | flask.Response"]


def json_response(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> flask.Response:
    response = flask.Response(json.dumps(body, ensure_ascii=False, separators=(",", ":")), status=status, content_type=JSON_TYPE)
    response.headers["Cache-Control"] = "no-store"
    for name, value in (headers or {}).items():
        response.headers[name] = value
    return response


def error_response(error: ConveneError) -> flask.Response:
    headers = {"Retry-After": "5"} if error.status in (429, 503) else None
    return json_response(error.to_body(), error.status, headers)


class Router:
    def __init__(self, function: str, container: Callable[[], Any]):
        self.function = function
        self._container = container
        self._routes: list[tuple[str, re.Pattern[str], Handler]] = []

    def route(self, method: str, pattern: str) -> Callable[[Handler], Handler]:
        compiled = re.compile(pattern)

        def register(handler: Handler) -> Handler:
            self._routes.append((method, compiled, handler))
            return handler

        return register

    def _match(self, method: str, path: str) -> tuple[Handler, dict[str, str]]:
        path_matched = False
        for route_method, pattern, handler in self._routes:
            match = pattern.fullmatch(path)
            if match:
                path_matched = True
                if route_method == method:
                    return handler, match.groupdict()
        if path_matched:
            raise MethodNotAllowed(f"{method} is not allowed on this path.")
        raise NotFound("No such endpoint.", code="no_such_endpoint")

    def _allowed_methods(self, path: str) -> list[str]:
        return sorted({m for m, p, _ in self._routes if p.fullmatch(path)})

    def handle(self, raw: flask.Request) -> flask.Response:
        """The functions-framework entry point."""
        started = time.perf_counter()
        try:
            settings = self._container().settings
        except Exception:  # noqa: BLE001 — a broken deployment still answers in the JSON shape
            logger.exception("configuration error")
            return error_response(InternalError())
        with logs.bound(function=self.function, **logs.trace_fields(raw.headers, settings.project_id)):
            response = self._dispatch(raw)
            origin = raw.headers.get("Origin")
            if origin and origin in settings.cors_origins:
                response.headers["Access-Control-Allow-Origin"] = origin
                response.headers["Vary"] = "Origin"
            logs.log(
                logger, logging.INFO, "request",
                method=raw.method, path=raw.path, status=response.status_code,
                duration_ms=round((time.perf_counter() - started) * 1000, 1),
            )
            return response

    def _dispatch(self, raw: flask.Request) -> flask.Response:
        path = raw.path.rstrip("/") or "/"
        if raw.method == "OPTIONS":
            methods = self._allowed_methods(path)
            if not methods:
                return error_response(NotFound("No such endpoint.", code="no_such_endpoint"))
            return flask.Response(status=204, headers={
                "Access-Control-Allow-Methods": ", ".join([*methods, "OPTIONS"]),
                "Access-Control-Allow-Headers": CORS_ALLOWED_HEADERS,
                "Access-Control-Max-Age": CORS_MAX_AGE_SECONDS,
                "Allow": ", ".join([*methods, "OPTIONS"]),
            })
        try:
            handler, params = self._match(raw.method, path)
            request = Request(
                method=raw.method, path=path, params=params, query=dict(raw.args.items()),
                headers=dict(raw.headers.items()), raw=raw,
            )
            result = handler(request)
            if isinstance(result, flask.Response):  # pages and redirects (OAuth) build their own
                return result
            body, status = result if isinstance(result, tuple) else (result, 200)
            return json_response(body, status)
        except ConveneError as error:
            if error.status >= 500:
                logs.log(logger, logging.ERROR, "request failed", error_code=error.code)
            return error_response(error)
        except Exception as exc:  # noqa: BLE001 — the one place unexpected errors are turned into a 500/503
            if _is_unavailable(exc):
                logger.warning("dependency unavailable", exc_info=True)
                return error_response(Unavailable("A dependency is temporarily unavailable; retry shortly."))
            logger.exception("unhandled error")
            return error_response(InternalError())


def _is_unavailable(exc: Exception) -> bool:
    """Transient Google API failures (Firestore down, deadline exceeded) are a 503, not a 500."""
    try:
        from google.api_core import exceptions as gexc
    except ImportError:  # pragma: no cover
        return False
    return isinstance(exc, (gexc.ServiceUnavailable, gexc.DeadlineExceeded, gexc.TooManyRequests, gexc.RetryError))
