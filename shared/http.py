"""HTTP plumbing shared by every function: routing, CORS, errors, JSON, request logs.

A function declares routes on a ``Router`` and exposes ``router.handle`` as its entry
point. Errors, and the domain's refusals (mapped by ``shared.errors.from_domain``), become
the SPEC §3 JSON shape here and nowhere else; an unexpected exception is logged with its
traceback and answered with a generic 500.

Authentication comes before the body: a route declares its authenticator (or the
Router one for all its routes), the Router calls it before the handler, and only then can
the handler read the body, so a request without credentials is a 401 whatever it carries.
A body is read at most ``MAX_BODY_BYTES`` + 1 bytes from the stream, whatever the transfer
encoding, must be ``application/json`` in UTF-8 and is nested at most ``MAX_JSON_DEPTH``.
"""

from __future__ import annotations

import io
import json
import logging
import math
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import IO, Any, Final

import flask
from werkzeug.exceptions import HTTPException

from shared import logs
from shared.domain.errors import DomainError
from shared.errors import (
    BadRequest,
    ConveneError,
    InternalError,
    MethodNotAllowed,
    NotFound,
    PayloadTooLarge,
    Unavailable,
    UnsupportedMediaType,
    from_domain,
)
from shared.jsonlimits import nests_deeper_than

logger = logging.getLogger("convene.http")

JSON_TYPE = "application/json; charset=utf-8"
MAX_BODY_BYTES = 64 * 1024
MAX_JSON_DEPTH = 32  # arrays and objects inside each other; far below Python's recursion limit
CORS_ALLOWED_HEADERS = "Authorization, Content-Type, Idempotency-Key"
CORS_MAX_AGE_SECONDS = "3600"


def id_pattern(max_length: int = 128) -> str:
    """An opaque id: letters, digits, _ and -, never Firestore's reserved ``__name__`` form
    (nor ``/``, ``.`` or ``..``, which Firestore refuses or reads as a path)."""
    return rf"(?!__[A-Za-z0-9_-]*__(?:/|$))[A-Za-z0-9_-]{{1,{max_length}}}"


# An id in a path (routes use it, so a malformed or reserved id is a 404 like an unknown one).
ID_PATTERN = id_pattern()


def is_id(value: object, max_length: int = 128) -> bool:
    """True for a string that ``id_pattern(max_length)`` accepts (ids carried in bodies)."""
    return isinstance(value, str) and len(value) <= max_length and re.fullmatch(id_pattern(max_length), value) is not None


class _Marker:
    def __init__(self, name: str):
        self._name = name

    def __repr__(self) -> str:
        return self._name


# ``auth=PUBLIC``: the route needs no credentials (pages, the OAuth redirect).
PUBLIC: Final = _Marker("PUBLIC")
_INHERIT: Final = _Marker("INHERIT")


@dataclass(frozen=True)
class Request:
    """What a handler needs of a request, without Flask types leaking into the core."""

    method: str
    path: str
    params: dict[str, str]  # path parameters
    query: dict[str, str]
    headers: dict[str, str]
    raw: flask.Request
    caller: Any = None  # what the route's authenticator returned; None on public routes
    body_allowed: bool = True  # False until the route's authenticator has accepted the caller
    _cache: dict[str, bytes] = field(default_factory=dict, repr=False, compare=False)

    def bearer_token(self) -> str | None:
        value = self.headers.get("Authorization", "")
        scheme, _, token = value.partition(" ")
        return token.strip() if scheme.lower() == "bearer" and token.strip() else None

    def body(self) -> bytes:
        """The raw body: at most ``MAX_BODY_BYTES`` read from the stream (chunked or not), else 413."""
        if not self.body_allowed:  # a programming error: the Router authenticates before the handler runs
            raise RuntimeError("the request body was read before the caller was authenticated")
        if "body" not in self._cache:
            declared = self.raw.content_length
            if declared is not None and declared > MAX_BODY_BYTES:
                raise _too_large()
            data = _read_at_most(self.raw.stream, MAX_BODY_BYTES + 1)
            if len(data) > MAX_BODY_BYTES:
                raise _too_large()
            self._cache["body"] = data
        return self._cache["body"]

    def json(self) -> dict[str, Any]:
        """The body as a JSON object; an empty body is ``{}``."""
        data = self.body()
        if not data:
            return {}
        if not _is_json(self.raw):
            raise UnsupportedMediaType("Send the body as JSON with 'Content-Type: application/json'.")
        return parse_json_object(data)


def _is_json(raw: flask.Request) -> bool:
    """``application/json``, with no charset or UTF-8 (RFC 8259 allows no other)."""
    return raw.mimetype == "application/json" and raw.mimetype_params.get("charset", "utf-8").lower() in ("utf-8", "utf8")


def _too_large() -> PayloadTooLarge:
    return PayloadTooLarge(f"The request body is larger than {MAX_BODY_BYTES} bytes.", details={"max_bytes": MAX_BODY_BYTES})


def _read_at_most(stream: IO[bytes], limit: int) -> bytes:
    """Up to ``limit`` bytes: a chunked body has no Content-Length to trust, so never read past it."""
    parts: list[bytes] = []
    left = limit
    while left > 0:
        part = stream.read(left)
        if not part:
            break
        parts.append(part)
        left -= len(part)
    return b"".join(parts)


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _finite(text: str) -> float:
    number = float(text)
    if math.isinf(number):  # 1e400: no field takes it, and float('inf') breaks arithmetic downstream
        raise ValueError("number out of range")
    return number


def parse_json_object(data: bytes) -> dict[str, Any]:
    """Strict RFC 8259: UTF-8, no NaN/Infinity (nor numbers that overflow to it), no lone
    surrogates, arrays and objects nested at most ``MAX_JSON_DEPTH``."""
    invalid = BadRequest("The request body is not valid JSON.", code="invalid_json")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise invalid from None
    if nests_deeper_than(text, MAX_JSON_DEPTH):
        raise BadRequest(
            f"The request body nests arrays and objects deeper than {MAX_JSON_DEPTH} levels.",
            code="invalid_json",
            details={"max_depth": MAX_JSON_DEPTH},
        )
    try:
        body = json.loads(text, parse_constant=_no_constant, parse_float=_finite)
        json.dumps(body, ensure_ascii=False).encode("utf-8")  # a lone surrogate (\ud800) fails here
    except (ValueError, RecursionError):  # UnicodeError is a ValueError
        raise invalid from None
    if not isinstance(body, dict):
        raise BadRequest("The request body must be a JSON object.", code="invalid_json")
    return body


Handler = Callable[[Request], "tuple[dict[str, Any], int] | dict[str, Any] | flask.Response"]
# Checks the caller's credentials (raising Unauthenticated / PermissionDenied) and returns
# what the handler needs of them, e.g. a Principal; the handler finds it in ``request.caller``.
Authenticator = Callable[[Request], Any]


def json_response(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> flask.Response:
    response = flask.Response(json.dumps(body, ensure_ascii=False, separators=(",", ":")), status=status, content_type=JSON_TYPE)
    response.headers["Cache-Control"] = "no-store"
    for name, value in (headers or {}).items():
        response.headers[name] = value
    return response


def error_response(error: ConveneError) -> flask.Response:
    """The SPEC §3 shape; 429 and 503 always say when to retry, other errors may (``error.headers``)."""
    headers = ({"Retry-After": "5"} if error.status in (429, 503) else {}) | dict(error.headers)
    return json_response(error.to_body(), error.status, headers or None)


@dataclass(frozen=True)
class _Route:
    method: str
    pattern: re.Pattern[str]
    handler: Handler
    auth: Authenticator | _Marker  # an authenticator, or PUBLIC


class Router:
    """Routes of one function. Every route authenticates with ``auth`` before its handler
    runs (and before anything reads the body), unless it declares its own or ``auth=PUBLIC``."""

    def __init__(self, function: str, container: Callable[[], Any], *, auth: Authenticator | _Marker):
        self.function = function
        self._container = container
        self._auth = auth
        self._routes: list[_Route] = []
        if flask.has_app_context():  # functions-framework loads main.py inside its Flask app's context
            flask.current_app.register_error_handler(HTTPException, _framework_error)

    def route(self, method: str, pattern: str, *, auth: Authenticator | _Marker = _INHERIT) -> Callable[[Handler], Handler]:
        compiled = re.compile(pattern)

        def register(handler: Handler) -> Handler:
            self._routes.append(_Route(method, compiled, handler, self._auth if auth is _INHERIT else auth))
            return handler

        return register

    def _match(self, method: str, path: str) -> tuple[_Route, dict[str, str]]:
        path_matched = False
        for route in self._routes:
            match = route.pattern.fullmatch(path)
            if match:
                path_matched = True
                if route.method == method:
                    return route, match.groupdict()
        if path_matched:
            raise MethodNotAllowed(f"{method} is not allowed on this path.")
        raise NotFound("No such endpoint.", code="no_such_endpoint")

    def _allowed_methods(self, path: str) -> list[str]:
        return sorted({r.method for r in self._routes if r.pattern.fullmatch(path)})

    def handle(self, raw: flask.Request) -> flask.Response:
        """The functions-framework entry point."""
        try:
            return self._handle(raw)
        finally:
            # functions-framework reads the whole body after every answer (its ``read_request``
            # hook): unbounded for a chunked body. What the handler did not read stays unread;
            # the server drains a little of it, then closes the connection.
            raw.stream = io.BytesIO()

    def _handle(self, raw: flask.Request) -> flask.Response:
        started = time.perf_counter()
        try:
            settings = self._container().settings
        except Exception:
            logger.exception("configuration error")
            return error_response(InternalError())
        with logs.bound(function=self.function, **logs.trace_fields(dict(raw.headers.items()), settings.project_id)):
            response = self._dispatch(raw)
            origin = raw.headers.get("Origin")
            if origin and origin in settings.cors_origins:
                response.headers["Access-Control-Allow-Origin"] = origin
                response.headers["Access-Control-Expose-Headers"] = "Retry-After"
                response.headers["Vary"] = "Origin"
            logs.log(
                logger,
                logging.INFO,
                "request",
                method=raw.method,
                path=raw.path,
                status=response.status_code,
                duration_ms=round((time.perf_counter() - started) * 1000, 1),
            )
            return response

    def _dispatch(self, raw: flask.Request) -> flask.Response:
        path = raw.path.rstrip("/") or "/"
        if raw.method == "OPTIONS":
            methods = self._allowed_methods(path)
            if not methods:
                return error_response(NotFound("No such endpoint.", code="no_such_endpoint"))
            return flask.Response(
                status=204,
                headers={
                    "Access-Control-Allow-Methods": ", ".join([*methods, "OPTIONS"]),
                    "Access-Control-Allow-Headers": CORS_ALLOWED_HEADERS,
                    "Access-Control-Max-Age": CORS_MAX_AGE_SECONDS,
                    "Allow": ", ".join([*methods, "OPTIONS"]),
                },
            )
        try:
            route, params = self._match(raw.method, path)
            request = Request(
                method=raw.method,
                path=path,
                params=params,
                query=dict(raw.args.items()),
                headers=dict(raw.headers.items()),
                raw=raw,
                body_allowed=not callable(route.auth),
            )
            if callable(route.auth):
                request = replace(request, caller=route.auth(request), body_allowed=True)
            result = route.handler(request)
            if isinstance(result, flask.Response):  # pages and redirects (OAuth) build their own
                return result
            body, status = result if isinstance(result, tuple) else (result, 200)
            return json_response(body, status)
        except (ConveneError, DomainError) as raised:
            error = raised if isinstance(raised, ConveneError) else from_domain(raised)  # the one mapping
            if error.status >= 500:
                logs.log(logger, logging.ERROR, "request failed", error_code=error.code)
            return error_response(error)
        except Exception as exc:
            if _is_unavailable(exc):
                logger.warning("dependency unavailable", exc_info=True)
                return error_response(Unavailable("A dependency is temporarily unavailable; retry shortly."))
            logger.exception("unhandled error")
            return error_response(InternalError())


def _framework_error(error: HTTPException) -> flask.Response:
    """What functions-framework's Flask app would answer itself, in the one error shape: e.g. a
    404 for a path its catch-all route does not take (one with a line break, ``/favicon.ico``)."""
    status = error.code or 500
    mapped = {
        404: NotFound("No such endpoint.", code="no_such_endpoint"),
        405: MethodNotAllowed("This method is not allowed on this path."),
        413: _too_large(),
    }.get(status)
    if mapped is None:
        mapped = BadRequest("The request is malformed.") if 400 <= status < 500 else InternalError()
    return error_response(mapped)


def _is_unavailable(exc: Exception) -> bool:
    """Transient Google API failures (Firestore down, deadline exceeded) are a 503, not a 500."""
    try:
        from google.api_core import exceptions as gexc
    except ImportError:  # pragma: no cover
        return False
    return isinstance(exc, (gexc.ServiceUnavailable, gexc.DeadlineExceeded, gexc.TooManyRequests, gexc.RetryError))
