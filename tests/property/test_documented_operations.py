"""Every operation documented in docs/openapi.yaml, fed generated input (SPEC §3, issue 9).

Each function runs in-process (functions-framework's test client, on the emulator and the
sandbox) and gets generated headers (junk, malformed and forged bearer tokens, content
types), path ids, query values and bodies (junk bytes, deep JSON, wrong types, the odd
inputs of issue 9 as explicit examples). Whatever it is sent, an operation must answer
with a status docs/openapi.yaml documents for it, never a 5xx; a request without valid
credentials gets a 4xx; every JSON error has the one error shape; and nothing is logged
at ERROR (an ERROR line means an unexpected exception and its traceback).

So that scheduling's operations get past their lookups, each example runs against a seeded
configuration, booking link and (cancelled) interview the generated ids can name; signed
in, its guest and respond routes get valid signed links (manage, confirm, decline) to them.

Hypothesis runs derandomized (the same examples on every run), without shrinking and
with a small budget per operation, so the module stays within about a minute.
"""

from __future__ import annotations

import base64
import json
import logging
import re
import urllib.parse
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, Phase, example, given, settings
from hypothesis import strategies as st

from shared.adapters.firestore import UserRepository
from shared.domain.models import Role, User
from tests.conftest import TASKS_INVOKER, WORKER_URL
from tests.factories import HOST, WORKSPACE
from tests.openapi import SPEC_PATH

pytestmark = pytest.mark.usefixtures("container", "seeded")

ADMIN = User("uid-ada", WORKSPACE, Role.ADMIN, "ada@acme.example", "Ada Admin")
FUZZ = settings(
    max_examples=30,
    deadline=None,
    derandomize=True,
    database=None,
    phases=(Phase.explicit, Phase.generate),
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.data_too_large],
)


# --- the operations ------------------------------------------------------------------------


@dataclass(frozen=True)
class Operation:
    function: str
    method: str
    template: str  # as documented, the function's name first: /join/interviews/{interview_id}
    statuses: frozenset[int]  # documented for it, plus 404 and 405 (documented once for every path)
    public: bool  # `security: []`: no credentials needed (pages, redirects, preflights)
    signed_link: bool = False  # `security: [{signedLink: []}]`: a guest's or host's emailed link (scheduling)

    @property
    def local(self) -> str:
        return self.template[len(self.function) + 1 :]

    def __str__(self) -> str:
        return f"{self.method} {self.template}"


def documented_operations() -> list[Operation]:
    document = yaml.safe_load(SPEC_PATH.read_text(encoding="utf-8"))
    operations = []
    for template, item in document["paths"].items():
        for method, operation in item.items():
            if not isinstance(operation, dict) or "responses" not in operation:
                continue
            statuses = frozenset(int(status) for status in operation["responses"]) | {404, 405}
            operations.append(
                Operation(
                    template.split("/")[1],
                    method.upper(),
                    template,
                    statuses,
                    public=operation.get("security", document.get("security")) == [],
                    signed_link=operation.get("security") == [{"signedLink": []}],
                )
            )
    return operations


OPERATIONS = documented_operations()
assert {op.function for op in OPERATIONS} == {
    "join",
    "oauth",
    "interviews",
    "email_worker",
    "reminders",
    "maintenance",
    "scheduling",
}


# --- generated input -------------------------------------------------------------------------


def b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def deep(levels: int, open_: str = "[", close: str = "]", inner: str = "") -> str:
    return open_ * levels + inner + close * levels


def jwt_of(header: Any, payload: Any, signature: bytes = b"signature") -> str:
    """A JWT-shaped string; a str or bytes header/payload is taken as already serialized."""

    def segment(part: Any) -> str:
        raw = part if isinstance(part, bytes) else (part if isinstance(part, str) else json.dumps(part)).encode()
        return b64(raw)

    return f"{segment(header)}.{segment(payload)}.{b64(signature)}"


ODD_IDS = [
    "__x__",
    "____",
    "__x__/join",
    "__proto__",
    "a/b",
    "../x",
    ".",
    "..",
    "x" * 129,
    "x" * 1600,
    "é",
    "\x00",
    " ",
    "a b",
    "%",
    "iv-1",
    "___",
    "-",
    "null",
]
SEEDED_IDS = ["cfg-fuzz", "lnk-fuzz", "iv-fuzz"]  # the scheduling configuration, booking link and interview of `seeded`
ODD_STRINGS = [
    "",
    "a/b",
    "../x",
    "__x__",
    "0001-01-01T00:00:00+14:00",
    "9999-12-31T23:59:59-12:00",
    "2026-13-45",
    "24:61",
    "Mars/Olympus",
    "\x00",
    "é" * 300,
    "x" * 5000,
    "1e400",
    "-1",
    "0",
    "NaN",
    "99999999999999999999999",
    "javascript:alert(1)",
    "\r\nSet-Cookie: a=b",
]
STATUSES = ["pending", "confirmed", "completed", "no_show", "cancelled"]
QUERY_KEYS = [
    "status",
    "when",
    "from",
    "to",
    "host_uid",
    "candidate_id",
    "page_size",
    "page_token",
    "state",
    "code",
    "error",
    "scope",
    "redirect_to",
    "date",
    "timezone",
    "config_id",
    "duration_minutes",
    "x",
]
ODD_QUERY_VALUES = ODD_STRINGS + [
    ",".join(STATUSES * 6 + ["pending"]),  # 31 values
    ",".join(["nope"] * 31),
    "upcoming",
    "past",
    "2026-06-01T00:00:00Z",
    "2026-06-01",
    b64(deep(1500).encode()),
    b64(deep(1500, '{"a":', "}", "1").encode()),
    b64(b'["x", 1]'),
    b64(b"\xff\xfe"),
    b64(b'["0001-01-01T00:00:00+14:00", "iv"]'),
    b64(b'["9999-12-31T23:59:59-12:00", "__x__"]'),
    b64(b"[1e400, []]"),
    "0001-01-01",  # dates at the ends of the calendar: outside every horizon, no slots (never a 500)
    "9999-12-31",
    "2026-W01-1",  # ISO week date: not YYYY-MM-DD
    "2026-06-03",
    "20260603",
    "2026-02-30",
    "Europe/Berlin",
    "Pacific/Kiritimati",
    "cfg-fuzz",
    "15",
    "99999",
]
FIELDS = [
    "email_id",
    "jobs",
    "candidate",
    "candidate_id",
    "start",
    "date",
    "time",
    "timezone",
    "duration_minutes",
    "interview_type",
    "note",
    "job_title",
    "reason",
    "redirect_to",
    "host_uid",
    "booking",
    "location",
    "phone",
    "name",
    "email",
    "calendar_ids",
    "working_hours",
    "workdays",
    "days_ahead",
    "slot_step_minutes",
    "buffer_before_minutes",
    "minimum_notice_minutes",
    "daily_cap",
    "booking_mode",
    "expires_at",
    "single_use",
    "label",
    "id",
]
json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20)
    | st.sampled_from(ODD_STRINGS),
    lambda children: st.lists(children, max_size=3) | st.dictionaries(st.sampled_from(FIELDS), children, max_size=3),
    max_leaves=6,
)
ODD_BODIES = [
    deep(5000).encode(),
    deep(5000, '{"a":', "}", "1").encode(),
    b'{"email_id": ' + deep(1500).encode() + b"}",
    b'{"jobs": ' + deep(40).encode() + b"}",
    b"NaN",
    b'{"a": NaN}',
    b'{"duration_minutes": 1e400}',
    b'{"duration_minutes": -Infinity}',
    b'{"note": "\\ud800"}',
    b'{"candidate": {"name": "\\udfff x"}}',
    '{"a": 1}'.encode("utf-16"),
    b"\xef\xbb\xbf{}",
    b"\xff\xfe\x00",
    b"[]",
    b"1",
    b'"x"',
    b"null",
    b"{",
    b"{}}",
    b"{}" + b" " * 70_000,
    b'{"email_id": "a/b"}',
    b'{"email_id": "__x__"}',
    b'{"email_id": "../x"}',
    b'{"email_id": ""}',
    b'{"jobs": "cleanup"}',
    b'{"jobs": [[]]}',
    b'{"jobs": [{}]}',
    b'{"jobs": []}',
    b'{"candidate": {"email": []}}',
    b'{"start": 1e308}',
    b'{"duration_minutes": 123456789012345678901234567890}',
    b'{"redirect_to": {}}',
    b'{"candidate_id": "a/b", "start": "2026-06-02T10:00:00Z", "timezone": "UTC"}',
    b'{"candidate_id": "__x__", "start": "2026-06-02T10:00:00Z", "timezone": "UTC"}',
    b'{"candidate_id": "a/b", "start": "2026-06-02T10:00:00Z", "timezone": "UTC", "host_uid": "__x__"}',
    b'{"start": "0001-01-01T00:00:00+14:00", "name": "Gus", "email": "gus@example.com"}',
    b'{"start": "9999-12-31T23:59:59-12:00", "name": "Gus", "email": "gus@example.com", "timezone": "Etc/GMT-14"}',
    b'{"start": "2026-06-03T09:00:00+02:00", "name": "Gus", "email": "gus@example.com", "note": "\\ud800"}',
    b'{"start": "2026-06-03T07:00:00Z"}',
    b'{"reason": "' + b"x" * 501 + b'"}',
    b'{"reason": "\\u0000"}',
    b'{"working_hours": {"monday": [{"start": "24:61", "end": "09:00"}]}}',
    b'{"working_hours": {"monday": ' + deep(40).encode() + b"}}",
    b'{"calendar_ids": ["primary", "primary", "__x__", "a/b"]}',
    b'{"days_ahead": 1e308, "duration_minutes": 0.5}',
    b'{"expires_at": "9999-12-31T23:59:59-12:00", "single_use": 1}',
    b'{"expires_at": "0001-01-01T00:00:00+14:00", "label": null}',
    b'{"id": "cfg-other", "host_uid": "uid-hana"}',
    b'{"name": "x", "timezone": "Europe/Berlin", "calendar_ids": ["primary"], "host_uid": "__x__"}',
]
CONTENT_TYPES = [
    None,
    "application/json",
    "application/json; charset=utf-8",
    "application/json; charset=UTF-8",
    "application/json; charset=latin-1",
    "text/plain",
    "application/x-www-form-urlencoded",
    "multipart/form-data; boundary=xyz",
    "application/jsonx",
    "*/*",
    ";;;",
    "application/json; charset",
]
HEADER_NAMES = [
    "Idempotency-Key",
    "X-CloudTasks-TaskExecutionCount",
    "X-CloudTasks-TaskRetryCount",
    "Origin",
    "X-Cloud-Trace-Context",
    "traceparent",
    "Cookie",
    "Accept",
    "Content-Encoding",
]
ODD_HEADER_VALUES = [
    "",
    "²",
    "9" * 5000,
    "-1",
    "x" * 300,
    "__x__",
    "a/b",
    "null",
    "00-" + "0" * 32 + "-" + "0" * 16 + "-01",
    "zz/1;o=1",
    "http://localhost:5173",
    "gzip",
    "a=" + "b" * 4000,
]
JUNK_AUTHORIZATION = [
    None,
    "",
    "Bearer",
    "Bearer ",
    "bearer x",
    "Basic dXNlcjpwYXNz",
    "Bearer a.b.c",
    "Bearer a.b.c.d",
    "Bearer ....",
    "Bearer cvg1.",
    "Bearer cvg1.x.y",
    "Bearer cvg1." + "A" * 300,
    "Bearer " + "x" * 10_000,
    "Token abc",
    "Bearer \t x",
    "Bearer é",
]


latin1_text = st.text(st.characters(min_codepoint=0x20, max_codepoint=0xFF, exclude_characters="\x7f"), max_size=60)


@dataclass(frozen=True)
class Probe:
    authorization: str | None
    content_type: str | None
    path_id: str
    query: dict[str, str]
    body: bytes | None
    headers: dict[str, str] = field(default_factory=dict)  # the other headers a function reads


def probes(authorization: st.SearchStrategy[str | None]) -> st.SearchStrategy[Probe]:
    return st.builds(
        Probe,
        authorization=authorization,
        content_type=st.one_of(st.just("application/json"), st.sampled_from(CONTENT_TYPES), latin1_text),
        path_id=st.one_of(st.sampled_from(SEEDED_IDS), st.sampled_from(ODD_IDS), st.text(min_size=1, max_size=40)),
        query=st.dictionaries(
            st.sampled_from(QUERY_KEYS), st.one_of(st.sampled_from(ODD_QUERY_VALUES), st.text(max_size=30)), max_size=4
        ),
        body=st.one_of(
            st.none(),
            st.sampled_from(ODD_BODIES),
            st.binary(max_size=64),
            st.dictionaries(st.sampled_from(FIELDS), json_values, min_size=1, max_size=4).map(lambda d: json.dumps(d).encode()),
        ),
        headers=st.dictionaries(
            st.sampled_from(HEADER_NAMES), st.one_of(st.sampled_from(ODD_HEADER_VALUES), latin1_text), max_size=3
        ),
    )


junk_authorization = st.one_of(st.sampled_from(JUNK_AUTHORIZATION), latin1_text.map(lambda t: "Bearer " + t), latin1_text)

FORGED_HEADERS: list[Any] = [
    {"alg": "RS256", "kid": ["a", "b"]},
    {"alg": "RS256", "kid": {"a": 1}},
    {"alg": "RS256", "kid": 7},
    {"alg": "RS256", "kid": None},
    {"alg": "RS256", "kid": "k" * 5000},
    {"alg": "RS256"},
    {"alg": "none"},
    {"alg": "HS256", "kid": "k"},
    {"alg": ["RS256"]},
    {"alg": {"RS256": 1}},
    [],
    "null",
    "1",
    '"x"',
    b"\xff\xfe",
    deep(1500),
    '{"alg": "RS256", "kid": ' + deep(1500) + "}",
    "{",
    "",
]
FORGED_PAYLOADS: list[Any] = [
    {"sub": HOST.uid},
    {"sub": ["x"]},
    {"exp": "soon", "iat": [], "aud": {"x": 1}, "iss": 1},
    {"exp": 1e400},
    {"exp": 10**400},
    {"exp": -(10**30), "iat": 10**30},
    [],
    "null",
    deep(1500),
    '{"sub": ' + deep(1500) + "}",
    b"\xff",
]
header_dicts = st.dictionaries(st.sampled_from(["alg", "kid", "typ", "x5u", "jku", "crit"]), json_values, max_size=4)
forged_tokens = st.one_of(
    st.builds(jwt_of, st.sampled_from(FORGED_HEADERS), st.sampled_from(FORGED_PAYLOADS), st.binary(max_size=32)),
    st.builds(
        jwt_of,
        header_dicts.map(lambda h: {"alg": "RS256"} | h),
        st.dictionaries(
            st.sampled_from(["sub", "iss", "aud", "exp", "iat", "auth_time", "email", "email_verified", "workspace_id"]),
            json_values,
            max_size=5,
        ),
    ),
    st.builds(
        lambda p, s: f"cvg1.{b64(p)}.{b64(s)}",
        st.sampled_from(
            [
                deep(1500).encode(),
                b'{"kv": ' + deep(1500).encode() + b"}",
                b'{"kv": "1", "exp": 1e400, "p": "join"}',
                b'{"kv": "99999999999999999999"}',
                b'{"kv": ["1"]}',
                b"[]",
                b"\xff",
                b'{"kv": "0"}',
                b'{"kv": "1"}',
            ]
        ),
        st.binary(max_size=32),
    ),
).map(lambda token: "Bearer " + token)


# --- calling and checking ------------------------------------------------------------------------


@dataclass
class Answer:
    status: int
    body: Any
    media_type: str


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


FUZZ_INTERVIEW = "iv-fuzz"


@pytest.fixture
def seeded(container, db) -> None:
    """Scheduling data the generated ids and queries can name (``cfg-fuzz``, ``lnk-fuzz``,
    ``iv-fuzz``), so that their operations get past the lookups: the host's configuration (the
    host has no Google connection: a slot read is a 409, never a Google call), a booking link to
    it, and an interview booked through it and since cancelled (a manage, confirm or decline
    link to it may be sent anything without changing Google or sending email)."""
    from dataclasses import replace
    from datetime import timedelta

    from shared.domain.models import BookingOrigin, InterviewStatus
    from shared.domain.scheduling import BookingLink, parse_config
    from shared.services.interviews.booking import limits
    from tests.factories import NOW, interview

    UserRepository(db).put(User(HOST.uid, WORKSPACE, Role.HOST, HOST.email, HOST.name))  # type: ignore[arg-type]
    UserRepository(db).put(ADMIN)
    week = {day: [{"start": "09:00", "end": "17:00"}] for day in ("monday", "tuesday", "wednesday", "thursday", "friday")}
    config = parse_config(
        {
            "name": "Intro",
            "timezone": "Europe/Berlin",
            "calendar_ids": ["primary"],
            "duration_minutes": 30,
            "working_hours": week,
            "days_ahead": 14,
        },
        config_id="cfg-fuzz",
        workspace_id=WORKSPACE,
        host_uid=HOST.uid,
        limits=limits(container.settings),
        created_at=NOW,
        updated_at=NOW,
    )
    container.scheduling_configs.add(config)
    container.booking_links.add(BookingLink("lnk-fuzz", WORKSPACE, HOST.uid, config.id, HOST.uid, created_at=NOW, label="fuzz"))
    booked = interview(id=FUZZ_INTERVIEW, start=NOW + timedelta(days=2), origin=BookingOrigin(config.id, "lnk-fuzz"))
    container.interviews.add(replace(booked, status=InterviewStatus.CANCELLED, ical_sequence=1))


class _Collect(logging.Handler):
    def __init__(self) -> None:
        super().__init__(level=logging.ERROR)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@pytest.fixture
def error_logs() -> Iterator[list[logging.LogRecord]]:
    """Every record logged at ERROR or above (by the convene loggers or any library) meanwhile."""
    handler = _Collect()
    root = logging.getLogger()
    root.addHandler(handler)
    try:
        yield handler.records
    finally:
        root.removeHandler(handler)


def send(apis: dict[str, Any], openapi: Any, operation: Operation, probe: Probe, authorization: str | None) -> Answer:
    """One request through the function's functions-framework test client, checked against the OpenAPI."""
    path = re.sub(r"\{[^}]+\}", lambda _: urllib.parse.quote(probe.path_id, safe=""), operation.local)
    headers = probe.headers | {
        name: value
        for name, value in (("Authorization", authorization), ("Content-Type", probe.content_type))
        if value is not None
    }
    # FunctionClient.call sends JSON only; raw bodies and headers go through its test client.
    response = apis[operation.function]._client.open(
        path, method=operation.method, query_string=probe.query, data=probe.body or b"", headers=headers
    )
    body = response.get_json(silent=True)
    openapi.validate_response(operation.function, operation.method, path, response.status_code, body, response.headers)
    return Answer(response.status_code, body, response.mimetype)


def check(operation: Operation, answer: Answer, errors: list[logging.LogRecord], *, credentials_valid: bool) -> None:
    assert answer.status < 500, f"{operation} answered {answer.status}: {answer.body}"
    assert answer.status in operation.statuses, f"{operation} answered {answer.status}, not documented"
    if not operation.public and not credentials_valid:
        assert 400 <= answer.status < 500, f"{operation} answered {answer.status} without valid credentials"
        # Credentials come first: only a path the function does not serve (an id outside the
        # id pattern) may answer anything but 401 before them, whatever the body says.
        unknown_path = answer.status == 404 and answer.body["error"]["code"] == "no_such_endpoint"
        assert answer.status == 401 or unknown_path, f"{operation} answered {answer.status} without valid credentials"
    if answer.status >= 400 and answer.media_type == "application/json":
        assert isinstance(answer.body, dict) and set(answer.body["error"]) == {"code", "message", "details"}, answer.body
        assert isinstance(answer.body["error"]["details"], dict)
    assert not errors, f"{operation} logged at ERROR: " + "; ".join(r.getMessage() for r in errors)


def cases(operations: list[Operation]) -> list[Any]:
    return [pytest.param(op, id=str(op)) for op in operations]


# --- the properties ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("operation", cases(OPERATIONS))
@FUZZ
@given(probe=probes(junk_authorization))
@example(Probe(None, "application/json", "__x__", {}, deep(5000).encode()))
@example(Probe(None, "text/plain", "__x__", {"status": ",".join(STATUSES * 6 + ["pending"])}, b"{"))
@example(Probe("Bearer a.b.c", None, "a/b", {"from": "0001-01-01T00:00:00+14:00"}, b"{}" + b" " * 70_000))
@example(Probe(None, "application/json", "lnk-fuzz", {"date": "0001-01-01"}, b'{"start": "0001-01-01T00:00:00+14:00"}'))
@example(Probe("Bearer cvg1.e30.AAAA", "text/plain", "lnk-fuzz", {"date": "9999-12-31", "timezone": "Etc/GMT+12"}, b"{"))
@example(Probe(None, "application/json", "lnk-fuzz", {"from": "9999-12-25", "to": "9999-12-31"}, None))
@example(Probe(None, "application/json", "lnk-fuzz", {"date": "2026-W01-1"}, None))
@example(
    Probe(
        None,
        "application/json",
        "lnk-fuzz",
        {"date": "2026-06-03"},
        b'{"start": "2026-06-03T07:00:00Z", "name": "G", "email": "g@x.example"}',
    )
)
def test_without_credentials_a_documented_4xx(apis, openapi, error_logs, operation, probe):
    error_logs.clear()
    answer = send(apis, openapi, operation, probe, probe.authorization)
    check(operation, answer, error_logs, credentials_valid=False)


@pytest.mark.parametrize("operation", cases([op for op in OPERATIONS if not op.public]))
@FUZZ
@given(authorization=forged_tokens, probe=probes(st.none()))
@example("Bearer " + jwt_of({"alg": "RS256", "kid": ["a"]}, {"sub": "x"}), Probe(None, "application/json", "iv-1", {}, None))
@example("Bearer " + jwt_of({"alg": "RS256", "kid": {"a": 1}}, {"sub": "x"}), Probe(None, "application/json", "iv-1", {}, None))
@example("Bearer " + jwt_of(deep(1500), {"sub": "x"}), Probe(None, "application/json", "iv-1", {}, None))
@example("Bearer " + jwt_of({"alg": "RS256", "kid": "k"}, deep(1500)), Probe(None, "application/json", "iv-1", {}, None))
@example("Bearer " + jwt_of({"alg": "RS256", "kid": "k"}, {"sub": "x"}), Probe(None, "text/plain", "iv-1", {}, b"{"))
def test_forged_tokens_a_documented_4xx(apis, openapi, error_logs, operation, authorization, probe):
    error_logs.clear()
    answer = send(apis, openapi, operation, probe, authorization)
    check(operation, answer, error_logs, credentials_valid=False)


@pytest.fixture
def signed_in(sandbox, db, container) -> dict[str, list[str]]:
    """Valid credentials where parsing hides behind them: hosts and an admin (join, interviews,
    scheduling), Cloud Tasks (email worker), and the signed links of the seeded interview
    (manage, confirm, decline: scheduling's guest and respond routes)."""
    from datetime import timedelta

    from shared.auth.guest_links import CONFIRM, DECLINE, MANAGE

    users = UserRepository(db)
    users.put(User(HOST.uid, WORKSPACE, Role.HOST, HOST.email, HOST.name))  # type: ignore[arg-type]
    users.put(ADMIN)
    host = sandbox.mint_id_token(HOST.uid, HOST.email, name=HOST.name, claims={"workspace_id": WORKSPACE, "role": "host"})
    admin = sandbox.mint_id_token(ADMIN.uid, ADMIN.email, name=ADMIN.display_name, claims={"workspace_id": WORKSPACE})
    later = container.clock.now() + timedelta(days=30)
    links = {
        purpose: [
            container.guest_links.sign(
                interview_id=FUZZ_INTERVIEW, workspace_id=WORKSPACE, expires_at=later, purpose=purpose, version=1
            )
        ]
        for purpose in (MANAGE, CONFIRM, DECLINE)
    }
    return {
        "join": [host],
        "interviews": [host, admin],
        "scheduling": [host, admin],
        "email_worker": [sandbox.mint_oidc_token(TASKS_INVOKER, WORKER_URL)],
        **links,
    }


def credentials_of(operation: Operation, signed_in: dict[str, list[str]]) -> list[str]:
    """The tokens that pass for ``operation``: its function's, or the signed links of its purpose."""
    if not operation.signed_link:
        return signed_in[operation.function]
    purposes = {
        "/scheduling/respond/request": ["confirm", "decline"],
        "/scheduling/respond/confirm": ["confirm"],
        "/scheduling/respond/decline": ["decline"],
    }.get(operation.template, ["manage"])
    return [token for purpose in purposes for token in signed_in[purpose]]


SIGNED_IN = [op for op in OPERATIONS if op.function in ("join", "interviews", "email_worker", "scheduling") and not op.public]


@pytest.mark.parametrize("operation", cases(SIGNED_IN))
@FUZZ
@given(probe=probes(st.none()), who=st.integers(0, 1))
@example(Probe(None, "application/json", "__x__", {}, None), 0)
@example(Probe(None, "application/json", "____", {"candidate_id": "a/b", "host_uid": "__x__"}, b'{"email_id": "a/b"}'), 1)
@example(
    Probe(None, "application/json", "iv-1", {"host_uid": "../x", "from": "0001-01-01T00:00:00+14:00"}, b'{"email_id": "__x__"}'),
    1,
)
@example(
    Probe(
        None,
        "application/json",
        "iv-1",
        {"to": "9999-12-31T23:59:59-12:00", "status": ",".join(STATUSES * 6 + ["x"])},
        deep(5000).encode(),
    ),
    0,
)
@example(Probe(None, "application/json", "iv-1", {"page_token": b64(deep(1500).encode())}, b'{"email_id": "../x"}'), 0)
@example(Probe(None, "application/json", "cfg-fuzz", {"config_id": "cfg-fuzz", "date": "0001-01-01"}, b'{"reason": null}'), 0)
@example(Probe(None, "application/json", "cfg-fuzz", {"config_id": "cfg-fuzz", "date": "9999-12-31"}, b"{}"), 1)
@example(
    Probe(None, "application/json", "cfg-fuzz", {"config_id": "cfg-fuzz", "from": "9999-12-30", "to": "9999-12-31"}, None), 0
)
@example(Probe(None, "application/json", "cfg-fuzz", {"config_id": "cfg-fuzz", "date": "2026-W01-1"}, None), 1)
@example(Probe(None, "application/json", "lnk-fuzz", {"date": "2026-06-03", "timezone": "Pacific/Kiritimati"}, None), 0)
@example(
    Probe(
        None,
        "application/json",
        "cfg-fuzz",
        {"config_id": "cfg-fuzz", "date": "2026-06-03"},
        b'{"start": "2026-06-03T07:00:00Z"}',
    ),
    0,
)
@example(Probe(None, "text/plain", "iv-1", {}, b'{"email_id": "x"}'), 0)
@example(
    Probe(
        None,
        "application/json",
        "iv-1",
        {},
        b'{"email_id": "x"}',
        {"X-CloudTasks-TaskExecutionCount": "\u00b2", "Idempotency-Key": "x" * 300},
    ),
    0,
)
def test_signed_in_a_documented_answer_never_a_5xx(apis, openapi, error_logs, signed_in, operation, probe, who):
    tokens = credentials_of(operation, signed_in)
    error_logs.clear()
    answer = send(apis, openapi, operation, probe, f"Bearer {tokens[who % len(tokens)]}")
    check(operation, answer, error_logs, credentials_valid=True)
