"""The oauth function in-process, against the sandbox's strict Google OAuth and Calendar
and the Firestore emulator. A ``Browser`` plays the person's browser (its cookies and the
front-end's top-level form POST to the start URL); the sandbox's programmatic consent plays
the person on Google's consent page."""

from __future__ import annotations

import base64
import json
import logging
import time
from datetime import UTC, timedelta
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest

from devstack.stack import OAUTH_CLIENT_SECRET
from shared import logs
from shared.adapters.firestore import UserRepository
from shared.domain.connections import CALENDAR_EVENTS, CALENDAR_FREEBUSY, CALENDAR_LIST, EMAIL, OPENID
from shared.domain.models import Role, User
from tests.api_client import Reply
from tests.conftest import CORS_ORIGIN, OAUTH_RESULT_URL, OAUTH_URL, SECRETS
from tests.factories import HOST, WORKSPACE

pytestmark = pytest.mark.usefixtures("container")

GOOGLE_EMAIL = "hana.calendar@gmail.example"
HOST_USER = User(HOST.uid, WORKSPACE, Role.HOST, HOST.email, HOST.name)  # type: ignore[arg-type]


class Browser:
    """One browser's cookie jar for the oauth function's origin."""

    def __init__(self) -> None:
        self.cookies: dict[str, str] = {}

    def header(self) -> dict[str, str]:
        return {"Cookie": "; ".join(f"{k}={v}" for k, v in self.cookies.items())} if self.cookies else {}

    def take(self, set_cookies: list[str]) -> None:
        for line in set_cookies:
            name, _, rest = line.partition("=")
            value = rest.split(";")[0]
            if "Max-Age=0" in line or not value:
                self.cookies.pop(name, None)
            else:
                self.cookies[name] = value


def local(url: str) -> str:
    """The path and query of one of the oauth function's own URLs."""
    assert url.startswith(OAUTH_URL), url
    parts = urlsplit(url)
    return parts.path + ("?" + parts.query if parts.query else "")


FORM = "application/x-www-form-urlencoded"


def post_form(
    oauth_api,
    path: str,
    fields: dict[str, str] | None = None,
    *,
    origin: str | None = CORS_ORIGIN,
    browser: Browser | None = None,
    body: bytes | None = None,
    content_type: str = FORM,
) -> Reply:
    """A top-level form POST as a browser sends it (``Origin``, cookies, a urlencoded body),
    checked against docs/openapi.yaml like every other call (FunctionClient sends JSON only)."""
    headers = {"Content-Type": content_type, **(browser.header() if browser else {})}
    if origin is not None:
        headers["Origin"] = origin
    data = body if body is not None else urlencode(fields or {}).encode()
    response = oauth_api._client.open(path, method="POST", data=data, headers=headers)
    oauth_api._spec.validate_response(
        "oauth", "POST", path, response.status_code, response.get_json(silent=True), response.headers
    )
    reply = Reply(response.status_code, None, dict(response.headers), response.get_data(as_text=True))
    reply.set_cookies = response.headers.getlist("Set-Cookie")
    return reply


def start_in(oauth_api, browser: Browser, google_auth_url: str, id_token: str, **kwargs) -> Reply:
    """What the front-end does with ``google_auth_url``: a form POST to it carrying the user's ID token."""
    reply = post_form(oauth_api, local(google_auth_url), {"id_token": id_token}, browser=browser, **kwargs)
    browser.take(reply.set_cookies)
    return reply


@pytest.fixture
def host_token(db, sandbox):
    UserRepository(db).put(HOST_USER)
    return sandbox.mint_id_token(HOST.uid, HOST.email, name=HOST.name, claims={"workspace_id": WORKSPACE, "role": "host"})


@pytest.fixture(autouse=True)
def _fresh_google_account_and_faults(sandbox, request):
    """Google remembers earlier grants (include_granted_scopes): each test consents as a new account."""
    global GOOGLE_EMAIL
    GOOGLE_EMAIL = f"hana-{abs(hash(request.node.nodeid)) % 10**8}@gmail.example"
    yield
    sandbox.sandbox.faults.clear()


def begin(oauth_api, token, browser, **body):
    """POST /connect then the front-end's form POST to the start link in ``browser``; returns Google's consent URL."""
    connect = oauth_api.post("/connect", token=token, json=body)
    assert connect.status == 200, connect.json
    start = start_in(oauth_api, browser, connect.json["google_auth_url"], token)
    assert start.status == 303, start.text
    assert any(c.startswith("convene_oauth_") and "HttpOnly" in c and "SameSite=Lax" in c for c in start.set_cookies)
    return start.headers["Location"]


def finish(oauth_api, sandbox, google_url, browser, *, scopes=None, approve=True):
    redirect = sandbox.consent(google_url, GOOGLE_EMAIL, scopes, approve)
    return oauth_api.get(local(redirect), headers=browser.header()), redirect


def outcome(reply) -> dict[str, list[str]]:
    assert reply.status == 302, reply.text
    location = reply.headers["Location"]
    assert location.startswith(OAUTH_RESULT_URL + "?"), location
    return parse_qs(urlsplit(location).query)


def stored_connection(db):
    return db.collection("connections").document(f"{HOST.uid}_google").get()


def connect(oauth_api, sandbox, host_token, **kwargs):
    browser = Browser()
    reply, _ = finish(oauth_api, sandbox, begin(oauth_api, host_token, browser), browser, **kwargs)
    return outcome(reply)


# --- the happy path --------------------------------------------------------------------------


def test_connect_approve_then_status_is_connected_with_calendars(oauth_api, sandbox, host_token, db):
    assert oauth_api.get("/status", token=host_token).json["status"] == "not_connected"
    browser = Browser()
    google_url = begin(oauth_api, host_token, browser)
    query = parse_qs(urlsplit(google_url).query)
    assert query["access_type"] == ["offline"] and query["include_granted_scopes"] == ["true"]
    assert query["code_challenge_method"] == ["S256"] and len(query["code_challenge"][0]) >= 43
    assert set(query["scope"][0].split()) == {OPENID, EMAIL, CALENDAR_EVENTS, CALENDAR_FREEBUSY, CALENDAR_LIST}
    assert query["redirect_uri"] == [OAUTH_URL + "/callback"]

    reply, _ = finish(oauth_api, sandbox, google_url, browser)
    assert outcome(reply) == {"google_connection": ["connected"]}
    assert any("Max-Age=0" in c or "expires=Thu, 01 Jan 1970" in c for c in reply.set_cookies)  # the binding cookie is cleared

    status = oauth_api.get("/status", token=host_token).json
    assert (status["connected"], status["status"], status["account_email"]) == (True, "connected", GOOGLE_EMAIL)
    assert {CALENDAR_EVENTS, CALENDAR_FREEBUSY, CALENDAR_LIST} <= set(status["scopes"])
    primary = [c for c in status["calendars"] if c["primary"]]
    assert primary and primary[0]["id"] == GOOGLE_EMAIL and primary[0]["access_role"] == "owner"
    assert status["last_sync_at"] is not None

    doc = stored_connection(db).to_dict()
    assert set(doc["refresh_token"]) == {"ciphertext", "key_version", "algorithm"}
    assert doc["account_id"] == sandbox.add_google_account(GOOGLE_EMAIL).sub  # how Meet names the host: users/<sub>
    assert list(db.collection("oauth_states").stream()) == []  # consumed


def test_an_allowed_redirect_target_is_used(oauth_api, sandbox, host_token):
    browser = Browser()
    reply, _ = finish(oauth_api, sandbox, begin(oauth_api, host_token, browser, redirect_to=OAUTH_RESULT_URL), browser)
    assert outcome(reply)["google_connection"] == ["connected"]


# --- rejected, with nothing stored -----------------------------------------------------------


def assert_nothing_stored(db):
    assert not stored_connection(db).exists


def test_a_redirect_target_not_on_the_allow_list_is_refused(oauth_api, host_token, db):
    for target in ("https://evil.example/steal", OAUTH_RESULT_URL + "/../admin", OAUTH_RESULT_URL + "?next=//evil", 42):
        reply = oauth_api.post("/connect", token=host_token, json={"redirect_to": target})
        assert reply.status == 400
        assert reply.json["error"]["code"] in ("redirect_not_allowed", "invalid_redirect")
    assert list(db.collection("oauth_states").stream()) == []
    assert_nothing_stored(db)


def test_tampered_state(oauth_api, sandbox, host_token, db):
    browser = Browser()
    redirect = sandbox.consent(begin(oauth_api, host_token, browser), GOOGLE_EMAIL)
    query = parse_qs(urlsplit(redirect).query)
    forged = f"/callback?state={query['state'][0][:-2]}xy&code={query['code'][0]}"
    assert outcome(oauth_api.get(forged, headers=browser.header())) == {
        "google_connection": ["failed"],
        "error": ["invalid_state"],
    }
    assert_nothing_stored(db)


def test_replayed_state(oauth_api, sandbox, host_token, db):
    browser = Browser()
    reply, redirect = finish(oauth_api, sandbox, begin(oauth_api, host_token, browser), browser)
    assert outcome(reply)["google_connection"] == ["connected"]
    first = stored_connection(db).to_dict()
    token_calls = len(sandbox.calls("/token"))
    again = oauth_api.get(local(redirect), headers=browser.header())
    assert outcome(again)["error"] == ["invalid_state"]
    assert len(sandbox.calls("/token")) == token_calls  # the code was not sent to Google again
    assert stored_connection(db).to_dict() == first


def test_expired_state(oauth_api, sandbox, host_token, db, clock):
    browser = Browser()
    google_url = begin(oauth_api, host_token, browser)
    clock.advance(timedelta(minutes=10))
    reply, _ = finish(oauth_api, sandbox, google_url, browser)
    assert outcome(reply)["error"] == ["invalid_state"]
    assert_nothing_stored(db)


def test_a_start_link_that_expired_or_was_started_elsewhere(oauth_api, host_token, clock, db):
    link = oauth_api.post("/connect", token=host_token).json["google_auth_url"]
    assert start_in(oauth_api, Browser(), link, host_token).status == 303
    second_browser = start_in(oauth_api, Browser(), link, host_token)  # the same link started in another browser
    assert second_browser.status == 400 and "already used" in second_browser.text and not second_browser.set_cookies
    late = oauth_api.post("/connect", token=host_token).json["google_auth_url"]
    clock.advance(timedelta(minutes=10))
    assert start_in(oauth_api, Browser(), late, host_token).status == 400
    assert post_form(oauth_api, "/start", {"state": "made-up", "id_token": host_token}).status == 400
    assert post_form(oauth_api, "/start", {"id_token": host_token}).status == 400  # no state at all
    assert_nothing_stored(db)


def test_a_start_link_followed_as_a_plain_link_binds_nothing(oauth_api, host_token, db):
    """GET /start (an e-mailed, pasted or forwarded link) explains; it neither binds nor uses up the attempt."""
    link = oauth_api.post("/connect", token=host_token).json["google_auth_url"]
    opened = oauth_api.get(local(link))
    assert opened.status == 400 and opened.headers["Content-Type"].startswith("text/html")
    assert 'data-code="open_from_app"' in opened.text and not opened.set_cookies
    assert opened.headers["Content-Security-Policy"].startswith("default-src 'none'")
    assert "frame-ancestors 'none'" in opened.headers["Content-Security-Policy"]
    assert all(doc.to_dict().get("browser_binding") is None for doc in db.collection("oauth_states").stream())
    assert start_in(oauth_api, Browser(), link, host_token).status == 303  # still usable from the app


def test_another_users_state_is_refused_in_this_browser(oauth_api, sandbox, host_token, db):
    """A's consent link completed in B's browser (login CSRF) does not connect anything."""
    redirect = sandbox.consent(begin(oauth_api, host_token, Browser()), GOOGLE_EMAIL)
    b_browser = Browser()
    b_browser.cookies = {"convene_oauth_0000000000000000": "b-has-its-own-attempt"}
    reply = oauth_api.get(local(redirect), headers=b_browser.header())
    assert outcome(reply)["error"] == ["invalid_state"]
    assert_nothing_stored(db)


def test_callback_without_code(oauth_api, sandbox, host_token, db):
    browser = Browser()
    google_url = begin(oauth_api, host_token, browser)
    state = parse_qs(urlsplit(google_url).query)["state"][0]
    reply = oauth_api.get(f"/callback?state={state}", headers=browser.header())
    assert outcome(reply)["error"] == ["missing_code"]
    assert_nothing_stored(db)


def test_denied_consent(oauth_api, sandbox, host_token, db):
    assert connect(oauth_api, sandbox, host_token, approve=False)["error"] == ["access_denied"]
    assert_nothing_stored(db)


def test_partial_grant_is_refused_naming_what_is_missing_and_revoked(oauth_api, sandbox, host_token, db):
    browser = Browser()
    google_url = begin(oauth_api, host_token, browser)
    reply, _ = finish(oauth_api, sandbox, google_url, browser, scopes=[OPENID, EMAIL, CALENDAR_LIST])
    assert outcome(reply)["error"] == ["missing_scopes"]
    assert_nothing_stored(db)
    grants = sandbox.oauth_state()[GOOGLE_EMAIL]["grants"]
    assert grants and all(g["revoked"] for g in grants)  # the partial grant was handed back


def test_partial_grant_result_page_says_which_permissions(oauth_api, sandbox, host_token, monkeypatch, container):
    from dataclasses import replace

    monkeypatch.setattr(container, "settings", replace(container.settings, oauth_result_urls=()))
    container.__dict__.pop("google_connections", None)
    browser = Browser()
    reply, _ = finish(oauth_api, sandbox, begin(oauth_api, host_token, browser), browser, scopes=[OPENID, EMAIL, CALENDAR_LIST])
    assert reply.status == 400 and reply.headers["Content-Type"].startswith("text/html")
    assert "create and edit calendar events" in reply.text and "see when you are busy" in reply.text


def test_only_hosts_of_a_workspace_may_connect(oauth_api, sandbox, db):
    stranger = sandbox.mint_id_token("uid-nobody", "nobody@example.com")
    assert oauth_api.post("/connect", token=stranger).status == 403
    assert oauth_api.post("/connect").status == 401
    assert list(db.collection("oauth_states").stream()) == []


# --- disconnect, revoked grants, retries ------------------------------------------------------


def test_disconnect_revokes_at_google_and_keeps_no_token(oauth_api, sandbox, host_token, db):
    connect(oauth_api, sandbox, host_token)
    revokes = len(sandbox.calls("/revoke"))
    reply = oauth_api.post("/disconnect", token=host_token)
    assert reply.status == 200 and reply.json["status"] == "not_connected" and reply.json["connected"] is False
    calls = sandbox.calls("/revoke")
    assert len(calls) == revokes + 1 and calls[-1]["method"] == "POST"
    doc = stored_connection(db).to_dict()
    assert "refresh_token" not in doc and doc["status"] == "not_connected"
    assert all(g["revoked"] for g in sandbox.oauth_state()[GOOGLE_EMAIL]["grants"])


def test_invalid_grant_marks_needs_reauth_and_the_next_action_gets_a_consent_url(oauth_api, sandbox, host_token, db, container):
    connect(oauth_api, sandbox, host_token)
    container.google_credentials.forget(HOST.uid)  # a cold instance: the next call must refresh
    sandbox.revoke_google_grants(GOOGLE_EMAIL)  # the person removed Convene's access at Google
    reply = oauth_api.post("/calendars/sync", token=host_token)
    assert reply.status == 409
    assert reply.json["error"]["code"] == "needs_google_auth"
    assert reply.json["needs_google_auth"] is True and reply.json["error"]["details"]["needs_google_auth"] is True
    assert reply.json["google_auth_url"].startswith(OAUTH_URL + "/start?state=")
    doc = stored_connection(db).to_dict()
    assert doc["status"] == "needs_reauth" and "refresh_token" not in doc and doc["last_error"]["code"] == "invalid_grant"
    assert oauth_api.get("/status", token=host_token).json["status"] == "needs_reauth"
    again = oauth_api.post("/calendars/sync", token=host_token)  # still a clear answer, with a fresh link
    assert again.status == 409 and again.json["google_auth_url"] != reply.json["google_auth_url"]


def test_transient_token_endpoint_failures_are_retried(oauth_api, sandbox, host_token):
    sandbox.inject("^/token$", [{"status": 503}, {"status": 429}], method="POST")
    before = len(sandbox.calls("/token"))
    assert connect(oauth_api, sandbox, host_token)["google_connection"] == ["connected"]
    statuses = [c["status"] for c in sandbox.calls("/token")[before:]]
    assert statuses == [503, 429, 200]


def test_transient_calendar_list_failures_are_retried(oauth_api, sandbox, host_token):
    connect(oauth_api, sandbox, host_token)
    before = len(sandbox.calls("/calendar/v3/users/me/calendarList"))
    sandbox.inject("/calendarList$", [{"status": 503}, {"status": 429}], method="GET")
    reply = oauth_api.post("/calendars/sync", token=host_token)
    assert reply.status == 200 and reply.json["calendars"]
    statuses = [c["status"] for c in sandbox.calls("/calendar/v3/users/me/calendarList")[before:]]
    assert statuses == [503, 429, 200]


def test_a_refused_calendar_call_is_not_retried_and_is_recorded(oauth_api, sandbox, host_token, db):
    connect(oauth_api, sandbox, host_token)
    before = len(sandbox.calls("/calendar/v3/users/me/calendarList"))
    sandbox.inject("/calendarList$", [{"status": 400}], method="GET")
    reply = oauth_api.post("/calendars/sync", token=host_token)
    assert reply.status == 502 and reply.json["error"]["code"] == "google_error"
    assert len(sandbox.calls("/calendar/v3/users/me/calendarList")) == before + 1
    assert stored_connection(db).to_dict()["last_error"]["code"] == "google_error"


def test_a_400_from_the_token_endpoint_is_not_retried(oauth_api, sandbox, host_token, db):
    sandbox.inject(
        "^/token$", [{"status": 400, "body": {"error": "invalid_grant", "error_description": "Bad Request"}}], method="POST"
    )
    before = len(sandbox.calls("/token"))
    assert connect(oauth_api, sandbox, host_token)["error"] == ["oauth_code_rejected"]
    assert len(sandbox.calls("/token")) == before + 1
    assert_nothing_stored(db)


# --- no secret anywhere ------------------------------------------------------------------------


def test_no_token_code_verifier_or_secret_in_firestore_or_logs(oauth_api, sandbox, host_token, db, caplog, container):
    caplog.set_level(logging.DEBUG)
    browser = Browser()
    reply, redirect = finish(oauth_api, sandbox, begin(oauth_api, host_token, browser), browser)
    assert outcome(reply)["google_connection"] == ["connected"]
    container.google_credentials.forget(HOST.uid)
    assert oauth_api.post("/calendars/sync", token=host_token).status == 200  # a refresh, a calendar call
    oauth_api.post("/disconnect", token=host_token)

    query = parse_qs(urlsplit(redirect).query)
    secrets = {query["code"][0], query["state"][0], json.loads(SECRETS[OAUTH_CLIENT_SECRET])["client_secret"]}
    for call in sandbox.calls("/token"):
        body = call.get("body") or {}
        secrets |= {v for k, v in body.items() if k in ("code", "code_verifier", "refresh_token", "client_secret")}
    internal = sandbox.sandbox.oauth
    secrets |= set(internal._refresh_tokens) | set(internal._access_tokens) | set(internal._codes)
    secrets |= set(browser.cookies.values())
    secrets = {s for s in secrets if s and len(s) >= 8}
    assert len(secrets) >= 6

    dump = json.dumps([d.to_dict() for collection in db.collections() for d in collection.stream()], default=str)
    formatter = logs.CloudLoggingFormatter()
    log_text = "\n".join(formatter.format(record) for record in caplog.records)
    responses = reply.text + json.dumps(oauth_api.get("/status", token=host_token).json)
    for secret in secrets:
        assert secret not in dump, "a secret is stored in clear in Firestore"
        assert secret not in log_text, (
            "a secret reached a log line",
            [r.name for r in caplog.records if secret in formatter.format(r)],
        )
        assert secret not in responses


# --- HTTP conventions and the remaining error paths ---------------------------------------------


@pytest.mark.parametrize("path", ["/connect", "/status", "/disconnect", "/calendars/sync"])
def test_preflight_and_missing_credentials(oauth_api, path):
    preflight = oauth_api.call("OPTIONS", path, headers={"Origin": "http://localhost:5173"})
    assert preflight.status == 204 and preflight.headers["Access-Control-Allow-Origin"] == "http://localhost:5173"
    method = "GET" if path == "/status" else "POST"
    reply = oauth_api.call(method, path)
    assert (reply.status, reply.json["error"]["code"]) == (401, "missing_credentials")


def test_a_guest_link_is_not_a_host_credential(oauth_api, container):
    from datetime import datetime

    link = container.guest_links.sign(interview_id="iv1", workspace_id=WORKSPACE, expires_at=datetime(2030, 1, 1, tzinfo=UTC))
    assert oauth_api.get("/status", token=link).status == 401


def test_sync_by_someone_who_is_not_a_host_is_forbidden(oauth_api, sandbox):
    stranger = sandbox.mint_id_token("uid-nobody", "nobody@example.com")
    assert oauth_api.post("/calendars/sync", token=stranger).status == 403


def test_sync_without_a_connection_answers_needs_google_auth(oauth_api, host_token):
    reply = oauth_api.post("/calendars/sync", token=host_token)
    assert reply.status == 409 and reply.json["error"]["details"]["reason"] == "not_connected"


def test_google_down_during_sync_is_a_503_and_recorded(oauth_api, sandbox, host_token, db):
    connect(oauth_api, sandbox, host_token)
    sandbox.inject("/calendarList$", [{"status": 503}] * 5, method="GET")
    reply = oauth_api.post("/calendars/sync", token=host_token)
    assert (reply.status, reply.json["error"]["code"]) == (503, "unavailable")
    assert stored_connection(db).to_dict()["last_error"]["code"] == "unavailable"


def test_google_down_during_disconnect_keeps_the_token_for_a_retry(oauth_api, sandbox, host_token, db):
    connect(oauth_api, sandbox, host_token)
    sandbox.inject("^/revoke$", [{"status": 503}] * 5, method="POST")
    reply = oauth_api.post("/disconnect", token=host_token)
    assert reply.status == 503
    assert "refresh_token" in stored_connection(db).to_dict()
    retry = oauth_api.post("/disconnect", token=host_token)
    assert retry.status == 200 and "refresh_token" not in stored_connection(db).to_dict()


def test_result_page_when_no_front_end_url_is_configured(oauth_api, sandbox, host_token, monkeypatch, container):
    from dataclasses import replace

    monkeypatch.setattr(container, "settings", replace(container.settings, oauth_result_urls=()))
    container.__dict__.pop("google_connections", None)
    browser = Browser()
    reply, _ = finish(oauth_api, sandbox, begin(oauth_api, host_token, browser), browser)
    assert reply.status == 200 and reply.headers["Content-Type"].startswith("text/html")
    assert f"connected as {GOOGLE_EMAIL}" in reply.text
    # the page names both sides of the link: the Google account and the Convene user it was linked to
    assert f'<dd id="google-account">{GOOGLE_EMAIL}</dd>' in reply.text
    assert f'<dd id="convene-user">{HOST.email}</dd>' in reply.text
    assert reply.headers["Content-Security-Policy"].startswith("default-src 'none'")
    assert "form-action 'none'" in reply.headers["Content-Security-Policy"]


# --- the start form: only the user who asked, only from the front-end -----------------------------


@pytest.fixture
def link(oauth_api, host_token):
    return oauth_api.post("/connect", token=host_token).json["google_auth_url"]


def assert_refused(reply, status: int, code: str, db) -> None:
    assert reply.status == status, reply.text
    assert reply.headers["Content-Type"].startswith("text/html") and f'data-code="{code}"' in reply.text
    assert not reply.set_cookies and "Location" not in reply.headers
    assert all(doc.to_dict().get("browser_binding") is None for doc in db.collection("oauth_states").stream())


def test_a_start_without_a_valid_id_token_binds_nothing(oauth_api, sandbox, link, host_token, db):
    assert_refused(start_in(oauth_api, Browser(), link, ""), 401, "missing_credentials", db)
    assert_refused(start_in(oauth_api, Browser(), link, "not-a-jwt"), 401, "invalid_token", db)
    assert_refused(start_in(oauth_api, Browser(), link, host_token + "="), 401, "invalid_token", db)
    expired = sandbox.mint_id_token(HOST.uid, HOST.email, issued_at=int(time.time()) - 3610)
    assert_refused(start_in(oauth_api, Browser(), link, expired), 401, "token_expired", db)


def test_a_start_with_another_users_id_token_binds_nothing(oauth_api, sandbox, link, db):
    victim = sandbox.mint_id_token("uid-victim", "victim@acme.example", claims={"workspace_id": WORKSPACE})
    reply = start_in(oauth_api, Browser(), link, victim)
    assert_refused(reply, 403, "not_your_link", db)
    assert HOST.email not in reply.text  # the page does not say whose link it was


@pytest.mark.parametrize("origin", [None, "null", "https://evil.example", "http://localhost:5173.evil.example", OAUTH_URL])
def test_a_start_posted_from_elsewhere_than_the_front_end_binds_nothing(oauth_api, link, host_token, db, origin):
    """The requester's own valid token, auto-posted from a page of theirs (or a sandboxed frame): refused."""
    assert_refused(start_in(oauth_api, Browser(), link, host_token, origin=origin), 403, "start_not_from_app", db)


def test_the_start_form_is_strict(oauth_api, link, host_token, db):
    path = local(link)
    state = parse_qs(urlsplit(link).query)["state"][0]
    as_json = post_form(oauth_api, path, body=json.dumps({"id_token": host_token}).encode(), content_type="application/json")
    assert_refused(as_json, 415, "unsupported_media_type", db)
    twice = post_form(oauth_api, path, body=urlencode([("id_token", host_token), ("id_token", "x")]).encode())
    assert_refused(twice, 400, "invalid_form", db)
    other_state = post_form(oauth_api, path, {"state": state[:-1] + ("x" if state[-1] != "x" else "y"), "id_token": host_token})
    assert_refused(other_state, 400, "invalid_form", db)
    huge = post_form(oauth_api, path, {"id_token": host_token, "pad": "x" * 70_000})
    assert_refused(huge, 413, "body_too_large", db)
    # the state may come in the form instead of the action's query
    assert post_form(oauth_api, "/start", {"state": state, "id_token": host_token}).status == 303


def test_a_start_while_the_signing_keys_are_unreachable_is_a_clear_503(oauth_api, link, host_token, db, container, monkeypatch):
    from shared.auth.certs import CertificateCache
    from shared.auth.tokens import FirebaseTokenVerifier

    unreachable = FirebaseTokenVerifier(
        container.settings.firebase_project_id, CertificateCache("http://127.0.0.1:9/certs", timeout=0.5)
    )
    monkeypatch.setattr(container, "id_tokens", unreachable)
    reply = start_in(oauth_api, Browser(), link, host_token)
    assert_refused(reply, 503, "unavailable", db)
    assert reply.headers["Retry-After"] == "5"


# --- bearer tokens: one string per credential, odd input is a 401 -----------------------------------


def _segment(data) -> str:
    raw = data if isinstance(data, bytes) else json.dumps(data, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def same_bytes_variant(segment: str) -> str:
    """``segment`` with another last character that Python's lenient decoder reads as the same bytes."""
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"

    def lenient(text: str) -> bytes:
        return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))

    for char in alphabet:
        candidate = segment[:-1] + char
        if char != segment[-1] and lenient(candidate) == lenient(segment):
            return candidate
    raise AssertionError("the last character carries no unused bits")


def test_a_bearer_token_is_accepted_in_its_one_canonical_form_only(oauth_api, host_token):
    assert oauth_api.get("/status", token=host_token).status == 200
    header, payload, signature = host_token.split(".")
    variants = [
        host_token + "=",
        host_token + "==",
        f"{header}.{payload}.{same_bytes_variant(signature)}",
        f"{header}=.{payload}.{signature}",
        f"{header}.{payload}.{signature[:10]}+{signature[11:]}",
        f"{header}.{payload}.{signature[:-1]}",
        f"{header}.{payload}.{signature}%3D",
    ]
    for variant in variants:
        reply = oauth_api.get("/status", token=variant)
        assert (reply.status, (reply.json or {}).get("error", {}).get("code")) == (401, "invalid_token"), variant[-12:]


def _odd_tokens(kid: str) -> dict[str, str]:
    """Unsigned tokens a client without credentials can send; each used to end in a 500 or a lenient read."""
    nested = "[" * 1500 + "]" * 1500
    good_header = _segment({"alg": "RS256", "kid": kid, "typ": "JWT"})
    claims = _segment({"sub": "uid-hana", "aud": "p", "iat": 1, "exp": 2})
    headers = {
        "kid-list": {"alg": "RS256", "kid": [kid]},
        "kid-object": {"alg": "RS256", "kid": {"k": kid}},
        "kid-number": {"alg": "RS256", "kid": 7},
        "header-1500-deep": ('{"alg":"RS256","kid":"' + kid + '","x":' + nested + "}").encode(),
        "header-array": [],
        "header-string": "RS256",
        "header-null": None,
        "header-huge": {"alg": "RS256", "kid": kid, "pad": "x" * 200_000},
        "header-duplicate-alg": ('{"alg":"none","alg":"RS256","kid":"' + kid + '"}').encode(),
        "header-not-utf8": b'{"alg":"\xff"}',
    }
    tokens = {name: f"{_segment(header)}.{claims}.c2ln" for name, header in headers.items()}
    deep_claims = _segment(('{"sub":"uid","x":' + nested + "}").encode())
    tokens["payload-1500-deep"] = f"{good_header}.{deep_claims}.c2ln"
    tokens["alg-none"] = f"{_segment({'alg': 'none', 'kid': kid})}.{claims}."
    tokens["four-parts"] = f"{good_header}.{claims}.c2ln.c2ln"
    return tokens


def test_odd_jwt_input_is_a_401_with_the_error_shape_and_no_error_log(oauth_api, host_token, caplog):
    caplog.set_level(logging.INFO)
    kid = json.loads(base64.urlsafe_b64decode(host_token.split(".")[0] + "==="))["kid"]
    for name, token in _odd_tokens(kid).items():
        for method, path in (("GET", "/status"), ("POST", "/connect")):
            reply = oauth_api.call(method, path, token=token)
            assert reply.status == 401, (name, method, reply.status)
            assert set(reply.json) == {"error"} and reply.json["error"]["code"] == "invalid_token", name
        start = post_form(oauth_api, "/start", {"state": "s", "id_token": token})  # the same token as the start form's
        expected = (413, "body_too_large") if len(token) > 64 * 1024 else (401, "invalid_token")
        assert (start.status, f'data-code="{expected[1]}"' in start.text) == (expected[0], True), name
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert errors == [], [(r.name, r.getMessage()) for r in errors]


def test_an_id_token_is_honoured_only_a_few_seconds_past_its_expiry(oauth_api, sandbox, host_token):
    """Verified against the real clock here (the unit tests pin the exact edges with a FixedClock)."""

    def expired_ago(seconds: int) -> str:
        return sandbox.mint_id_token(HOST.uid, HOST.email, issued_at=int(time.time()) - 3600 - seconds, expires_in=3600)

    assert oauth_api.get("/status", token=expired_ago(2)).status == 200
    late = oauth_api.get("/status", token=expired_ago(8))  # inside the old 30 s allowance
    assert (late.status, late.json["error"]["code"]) == (401, "token_expired")
    early = oauth_api.get("/status", token=sandbox.mint_id_token(HOST.uid, HOST.email, issued_at=int(time.time()) + 8))
    assert (early.status, early.json["error"]["code"]) == (401, "invalid_token")
