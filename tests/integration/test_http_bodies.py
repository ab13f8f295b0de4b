"""Request bodies on every function that takes one (SPEC §3, issue 9): credentials first,
at most 64 KiB whatever the transfer encoding (413), JSON only (415), strict and shallow
JSON (400 `invalid_json`, never a 500), ids in bodies checked before they reach Firestore.

In-process through functions-framework's test client (answers checked against
docs/openapi.yaml), and once over real HTTP against the email worker in its own process
with a 16 MB chunked body.
"""

from __future__ import annotations

import json
import logging
import socket
import threading
import time
import urllib.parse
from collections.abc import Iterable, Iterator
from datetime import timedelta
from typing import Any

import pytest

from shared.adapters.firestore import UserRepository
from shared.auth.guest_links import CONFIRM, DECLINE, MANAGE
from shared.domain.models import Role, User
from shared.http import MAX_BODY_BYTES, MAX_JSON_DEPTH
from tests.api_client import Reply
from tests.conftest import TASKS_INVOKER, WORKER_URL
from tests.factories import HOST, WORKSPACE

pytestmark = pytest.mark.usefixtures("container")

# (function, method, local path, documented template) of every request with a body that needs credentials.
POSTS = [
    ("join", "POST", "/interviews/iv-1/join", "/join/interviews/{interview_id}/join"),
    ("oauth", "POST", "/connect", "/oauth/connect"),
    ("oauth", "POST", "/disconnect", "/oauth/disconnect"),
    ("oauth", "POST", "/calendars/sync", "/oauth/calendars/sync"),
    ("interviews", "POST", "/interviews", "/interviews/interviews"),
    *[
        ("interviews", "POST", f"/interviews/iv-1/{action}", f"/interviews/interviews/{{interview_id}}/{action}")
        for action in ("confirm", "reschedule", "cancel", "complete", "no-show")
    ],
    ("email_worker", "POST", "/", "/email_worker/"),
    ("reminders", "POST", "/", "/reminders/"),
    ("maintenance", "POST", "/", "/maintenance/"),
    ("scheduling", "POST", "/scheduling-configs", "/scheduling/scheduling-configs"),
    ("scheduling", "PATCH", "/scheduling-configs/cfg-1", "/scheduling/scheduling-configs/{config_id}"),
    ("scheduling", "POST", "/scheduling-configs/cfg-1/booking-links", "/scheduling/scheduling-configs/{config_id}/booking-links"),
    ("scheduling", "POST", "/booking-links/lnk-1/revoke", "/scheduling/booking-links/{link_id}/revoke"),
    # signed links (manage, confirm, decline): checked, with their purpose, before the body is read
    ("scheduling", "POST", "/guest/booking/cancel", "/scheduling/guest/booking/cancel"),
    ("scheduling", "POST", "/guest/booking/reschedule", "/scheduling/guest/booking/reschedule"),
    ("scheduling", "POST", "/respond/confirm", "/scheduling/respond/confirm"),
    ("scheduling", "POST", "/respond/decline", "/scheduling/respond/decline"),
]
# The operations that read a JSON body (method, local path), and whose credentials they need
# (None: a booking link is public, its id in the path is the credential).
BODY_TAKERS = [
    ("email_worker", "POST", "/", "service"),
    ("maintenance", "POST", "/", "service"),
    ("interviews", "POST", "/interviews", "host"),
    ("interviews", "POST", "/interviews/iv-1/reschedule", "host"),
    ("interviews", "POST", "/interviews/iv-1/cancel", "host"),
    ("interviews", "POST", "/interviews/iv-1/confirm", "host"),
    ("oauth", "POST", "/connect", "host"),
    ("scheduling", "POST", "/scheduling-configs", "host"),
    ("scheduling", "PATCH", "/scheduling-configs/cfg-1", "host"),
    ("scheduling", "POST", "/scheduling-configs/cfg-1/booking-links", "host"),
    ("scheduling", "POST", "/links/lnk-1/bookings", None),
    ("scheduling", "POST", "/guest/booking/cancel", "manage"),
    ("scheduling", "POST", "/guest/booking/reschedule", "manage"),
    ("scheduling", "POST", "/respond/confirm", "confirm"),
    ("scheduling", "POST", "/respond/decline", "decline"),
]
BODY_TAKER_IDS = [f"{function} {method} {path}" for function, method, path, _ in BODY_TAKERS]

DEEP_ARRAY = b"[" * 5000 + b"]" * 5000
DEEP_OBJECT = b'{"a":' * 5000 + b"1" + b"}" * 5000


@pytest.fixture(scope="module")
def apis(join_api, oauth_api, interviews_api, email_worker_api, scheduling_api, openapi, stack_env) -> dict[str, Any]:
    from tests.conftest import function_client

    return {
        "join": join_api,
        "oauth": oauth_api,
        "interviews": interviews_api,
        "email_worker": email_worker_api,
        "reminders": function_client("reminders", openapi, stack_env),
        "maintenance": function_client("maintenance", openapi, stack_env),
        "scheduling": scheduling_api,
    }


@pytest.fixture
def tokens(sandbox, db, container) -> dict[str | None, str | None]:
    """Credentials that pass, so the body is what gets judged: Cloud Tasks', a host's (a member of
    its workspace) and a guest's and a host's signed links (manage, confirm, decline)."""
    UserRepository(db).put(User(HOST.uid, WORKSPACE, Role.HOST, HOST.email, HOST.name))  # type: ignore[arg-type]
    later = container.clock.now() + timedelta(days=1)
    links = {
        purpose: container.guest_links.sign(interview_id="iv-1", workspace_id=WORKSPACE, expires_at=later, purpose=purpose)
        for purpose in (MANAGE, CONFIRM, DECLINE)
    }
    return {
        "service": sandbox.mint_oidc_token(TASKS_INVOKER, WORKER_URL),
        "host": sandbox.mint_id_token(HOST.uid, HOST.email, name=HOST.name, claims={"workspace_id": WORKSPACE}),
        **links,
        None: None,
    }


def raw_call(
    api: Any,
    method: str,
    path: str,
    *,
    body: bytes = b"",
    content_type: str | None = "application/json",
    token: str | None = None,
    headers: dict[str, str] | None = None,
) -> Reply:
    """Any bytes with any headers (FunctionClient.call sends JSON only), checked against the OpenAPI."""
    all_headers = dict(headers or {})
    if content_type is not None:
        all_headers["Content-Type"] = content_type
    if token is not None:
        all_headers["Authorization"] = f"Bearer {token}"
    response = api._client.open(path, method=method, data=body, headers=all_headers)
    payload = response.get_json(silent=True)
    api._spec.validate_response(api._server, method, path, response.status_code, payload, response.headers)
    return Reply(response.status_code, payload, dict(response.headers), response.get_data(as_text=True))


def error_code(reply: Reply) -> tuple[int, str]:
    assert set(reply.json["error"]) == {"code", "message", "details"}, reply.json
    return reply.status, reply.json["error"]["code"]


@pytest.fixture
def no_error_logs(caplog):
    caplog.set_level(logging.INFO)
    yield
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert not errors, [r.getMessage() for r in errors]


# --- credentials before the body -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("function", "method", "path"),
    [pytest.param(function, method, path, id=f"{method} {template}") for function, method, path, template in POSTS],
)
@pytest.mark.usefixtures("no_error_logs")
def test_without_credentials_401_whatever_the_body(apis, function, method, path):
    api = apis[function]
    for body, content_type, authorization in [
        (b"{", "application/json", None),
        (DEEP_ARRAY, "application/json", None),
        (b"<xml/>", "text/xml", None),
        (b"{}" + b" " * MAX_BODY_BYTES, "application/json", "Bearer junk"),
        (b'{"a": NaN}', None, "Basic eDp5"),
    ]:
        reply = raw_call(
            api,
            method,
            path,
            body=body,
            content_type=content_type,
            headers={"Authorization": authorization} if authorization else None,
        )
        assert reply.status == 401, (body[:20], content_type, reply.json)


# --- size --------------------------------------------------------------------------------------


@pytest.mark.parametrize(("function", "method", "path", "who"), BODY_TAKERS, ids=BODY_TAKER_IDS)
@pytest.mark.usefixtures("no_error_logs")
def test_a_body_over_64_kib_is_413(apis, tokens, function, method, path, who):
    reply = raw_call(apis[function], method, path, body=b'{"x": "' + b"a" * MAX_BODY_BYTES + b'"}', token=tokens[who])
    assert error_code(reply) == (413, "body_too_large")
    assert reply.json["error"]["details"] == {"max_bytes": MAX_BODY_BYTES}


def test_the_limit_is_exactly_64_kib(apis, tokens):
    """65536 bytes are read and parsed; one more byte is refused."""
    head, tail = b'{"email_id": "no-such-email", "pad": "', b'"}'
    exact = head + b"a" * (MAX_BODY_BYTES - len(head) - len(tail)) + tail
    assert len(exact) == MAX_BODY_BYTES
    reply = raw_call(apis["email_worker"], "POST", "/", body=exact, token=tokens["service"])
    assert (reply.status, reply.json["status"]) == (200, "unknown")
    over = raw_call(apis["email_worker"], "POST", "/", body=exact[:-2] + b'a"}', token=tokens["service"])
    assert error_code(over) == (413, "body_too_large")


def chunked_post(
    url: str, path: str, headers: dict[str, str], pieces: Iterable[bytes], *, finish: bool = True, timeout: float = 20
) -> tuple[int, Any, float]:
    """POST ``pieces`` as chunks with ``Transfer-Encoding: chunked`` (no Content-Length) on a raw
    socket, reading the answer while still sending: a server that answers early must not have
    to read the rest. ``finish=False`` never ends the body (a client that keeps it open).
    Returns (status, JSON body, seconds until the answer)."""
    parsed = urllib.parse.urlsplit(url)
    sock = socket.create_connection((parsed.hostname, parsed.port), timeout=timeout)
    head = f"POST {path} HTTP/1.1\r\nHost: {parsed.netloc}\r\nTransfer-Encoding: chunked\r\n"
    head += "".join(f"{name}: {value}\r\n" for name, value in headers.items()) + "\r\n"
    answered = threading.Event()

    def send() -> None:
        try:
            sock.sendall(head.encode())
            for piece in pieces:
                if answered.is_set():
                    return
                sock.sendall(b"%x\r\n%s\r\n" % (len(piece), piece))
            if finish:
                sock.sendall(b"0\r\n\r\n")
        except OSError:
            pass  # the server answered and closed the connection without reading the rest: what we want

    started = time.monotonic()
    sender = threading.Thread(target=send, daemon=True)
    sender.start()
    received = b""
    try:
        while b"\r\n\r\n" not in received:
            more = sock.recv(65_536)
            assert more, "the connection closed without an answer"
            received += more
        header_block, _, rest = received.partition(b"\r\n\r\n")
        lines = header_block.decode("latin-1").split("\r\n")
        fields = {k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:])}
        length = int(fields["content-length"])
        while len(rest) < length and (more := sock.recv(65_536)):
            rest += more
        elapsed = time.monotonic() - started
    finally:
        answered.set()
        sock.close()
        sender.join(timeout=timeout)
    return int(lines[0].split()[1]), json.loads(rest[:length]), elapsed


def json_document(size: int) -> Iterator[bytes]:
    """One JSON object of about ``size`` bytes, in 64 KiB pieces."""
    yield b'{"email_id": "no-such-email", "pad": "'
    for offset in range(0, size, 65_536):
        yield b"a" * min(65_536, size - offset)
    yield b'"}'


def test_a_chunked_16_mb_body_is_refused_after_64_kib_over_http(worker_server, sandbox, openapi):
    """No Content-Length to check: the worker reads 64 KiB + 1 byte, answers 413 and reads no more."""
    token = sandbox.mint_oidc_token(TASKS_INVOKER, WORKER_URL)
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    status, body, elapsed = chunked_post(worker_server.url, "/", headers, json_document(16 * 1024 * 1024))
    openapi.validate_response("email_worker", "POST", "/", status, body, {"Content-Type": "application/json"})
    assert (status, body["error"]["code"]) == (413, "body_too_large"), body
    assert elapsed < 5, elapsed
    # A body that never ends is answered as soon as 64 KiB + 1 byte are in (it used to be read until the client gave up).
    status, body, elapsed = chunked_post(worker_server.url, "/", headers, json_document(MAX_BODY_BYTES + 1000), finish=False)
    assert (status, body["error"]["code"], elapsed < 5) == (413, "body_too_large", True), (body, elapsed)
    # The server is fine afterwards: a small chunked body is read and parsed.
    status, body, _ = chunked_post(worker_server.url, "/", headers, json_document(1000))
    assert (status, body["status"]) == (200, "unknown"), body


# --- media type --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "content_type",
    [
        None,
        "text/plain",
        "application/x-www-form-urlencoded",
        "application/jsonx",
        "application/json; charset=latin-1",
        "multipart/form-data; boundary=x",
    ],
)
@pytest.mark.parametrize(("function", "method", "path", "who"), BODY_TAKERS, ids=BODY_TAKER_IDS)
@pytest.mark.usefixtures("no_error_logs")
def test_a_body_that_is_not_json_is_415(apis, tokens, function, method, path, who, content_type):
    reply = raw_call(apis[function], method, path, body=b'{"email_id": "x"}', content_type=content_type, token=tokens[who])
    assert error_code(reply) == (415, "unsupported_media_type")


@pytest.mark.parametrize(
    "content_type",
    [
        "application/json",
        "application/json; charset=utf-8",
        "Application/JSON; Charset=UTF-8",
        'application/json;charset="utf-8"',
    ],
)
def test_json_with_or_without_a_utf8_charset_is_read(apis, tokens, content_type):
    reply = raw_call(
        apis["email_worker"],
        "POST",
        "/",
        body=b'{"email_id": "no-such-email"}',
        content_type=content_type,
        token=tokens["service"],
    )
    assert (reply.status, reply.json["status"]) == (200, "unknown")


def test_an_empty_body_needs_no_content_type(apis, tokens):
    reply = raw_call(apis["email_worker"], "POST", "/", body=b"", content_type=None, token=tokens["service"])
    assert error_code(reply) == (400, "invalid_field")  # read as {}: email_id is missing


# --- JSON ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "body",
    [
        DEEP_ARRAY,
        DEEP_OBJECT,
        b'{"email_id": ' + b"[" * 1500 + b"]" * 1500 + b"}",
        b'{"email_id": "x", "a": ' + b"[" * MAX_JSON_DEPTH + b"]" * MAX_JSON_DEPTH + b"}",  # one level too deep
        b'{"email_id": NaN}',
        b'{"email_id": "x", "n": Infinity}',
        b'{"email_id": "x", "n": 1e400}',
        b'{"email_id": "\\ud800"}',
        b'{"email_id": "x\\udfff"}',
        '{"email_id": "x"}'.encode("utf-16"),
        b"\xef\xbb\xbf{}",
        b"\xff\xfe{}",
        b"{",
        b'{"email_id": "x"}}',
        b"[]",
        b'"x"',
        b"null",
        b"1",
        b" ",
    ],
    ids=lambda body: repr(body[:24])[2:-1],
)
@pytest.mark.usefixtures("no_error_logs")
def test_malformed_or_too_deep_json_is_400(apis, tokens, body):
    reply = raw_call(apis["email_worker"], "POST", "/", body=body, token=tokens["service"])
    assert error_code(reply) == (400, "invalid_json")


@pytest.mark.parametrize(
    "text",
    ['"\\' * 32_768, "[" * 65_536, '"' * 65_536, '"[",' * 16_384, "[]" * 32_768, '["' + "\\\\" * 32_700 + '"' + "[" * 40],
    ids=lambda text: text[:8],
)
def test_pathological_bodies_of_64_kib_are_judged_at_once(apis, tokens, text):
    """The depth check is one linear pass: no regular-expression backtracking on quotes and backslashes."""
    started = time.monotonic()
    reply = raw_call(apis["email_worker"], "POST", "/", body=text.encode(), token=tokens["service"])
    assert error_code(reply) == (400, "invalid_json")
    assert time.monotonic() - started < 1


def test_json_as_deep_as_allowed_is_read(apis, tokens):
    nested = b"[" * (MAX_JSON_DEPTH - 1) + b"]" * (MAX_JSON_DEPTH - 1)
    body = b'{"email_id": "no-such-email", "a": ' + nested + b', "s": "[[[[{{"}'  # brackets in strings do not count
    reply = raw_call(apis["email_worker"], "POST", "/", body=body, token=tokens["service"])
    assert (reply.status, reply.json["status"]) == (200, "unknown")


@pytest.mark.parametrize(("function", "method", "path", "who"), BODY_TAKERS, ids=BODY_TAKER_IDS)
@pytest.mark.usefixtures("no_error_logs")
def test_json_nested_5000_deep_is_400_everywhere(apis, tokens, function, method, path, who):
    """Was a RecursionError and a 500 with a traceback in the log."""
    for body in (DEEP_ARRAY, DEEP_OBJECT):
        assert error_code(raw_call(apis[function], method, path, body=body, token=tokens[who])) == (400, "invalid_json")


def test_maintenance_refuses_deep_and_odd_job_lists(apis, tokens, caplog):
    for body in (b'{"jobs": ' + b"[" * 40 + b"]" * 40 + b"}", b'{"jobs": [[]]}', b'{"jobs": [{}]}', b'{"jobs": [1e400]}'):
        reply = raw_call(apis["maintenance"], "POST", "/", body=body, token=tokens["service"])
        assert reply.status == 400, (body, reply.json)
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


# --- ids in bodies -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "email_id",
    ["a/b", "a/b/c", "../x", ".", "..", "__x__", "____", "__a-b__", "x" * 501, "", "é", "a b", "a\x00", 7, None, ["a"], {"a": 1}],
)
@pytest.mark.usefixtures("no_error_logs")
def test_an_email_id_that_is_not_an_id_is_400(apis, tokens, db, email_id):
    """``a/b`` was a ValueError from the Firestore client (a 500), ``__x__`` an InvalidArgument."""
    reply = raw_call(apis["email_worker"], "POST", "/", body=json.dumps({"email_id": email_id}).encode(), token=tokens["service"])
    assert error_code(reply) == (400, "invalid_field")
    assert reply.json["error"]["details"] == {"field": "email_id"}
    assert list(db.collection("outbox").stream()) == []


@pytest.mark.parametrize("email_id", ["___", "__x", "x__", "_-_", "x" * 500, "iv-1-reminder-24h-0-candidate"])
def test_email_ids_near_the_reserved_form_are_ids(apis, tokens, email_id):
    reply = raw_call(apis["email_worker"], "POST", "/", body=json.dumps({"email_id": email_id}).encode(), token=tokens["service"])
    assert (reply.status, reply.json["status"]) == (200, "unknown")


# --- what functions-framework would answer itself -----------------------------------------------------------


@pytest.mark.parametrize("path", ["/interviews/a%0Ab", "/interviews/%0A/join", "/favicon.ico", "/robots.txt", "/portal/%0A"])
def test_paths_the_framework_does_not_route_get_the_json_404(apis, tokens, path):
    """Flask's own 404 page (HTML) answered paths with a line break and /favicon.ico."""
    reply = raw_call(apis["join"], "GET", path, content_type=None, token=tokens["host"])
    assert error_code(reply) == (404, "no_such_endpoint")
    assert reply.headers["Content-Type"].startswith("application/json")
