"""Connecting Google in a real browser (headless Chromium): the host's front-end page asks for
a connect link and submits the start form to it with the host's ID token, the browser goes on
to the sandbox's consent page, a person clicks Allow (or Cancel), and lands on the result.

The front-end is devstack/frontend/connect-google.html (what `make dev` serves), delivered by
Playwright at a configured front-end origin; a page elsewhere plays an attacker's."""

from __future__ import annotations

import json
import uuid
from urllib.parse import quote

import pytest
import requests

from devstack.processes import ROOT
from shared.adapters.firestore import UserRepository
from shared.domain.models import Role, User
from tests.conftest import CORS_ORIGIN
from tests.factories import HOST, WORKSPACE

ARTIFACTS = ROOT / ".convene" / "test-artifacts"
FRONT_END_PAGE = ROOT / "devstack" / "frontend" / "connect-google.html"
FRONT_END_URL = f"{CORS_ORIGIN}/connect-google.html"
ATTACKER_URL = "http://attacker.example/win-a-prize.html"


@pytest.fixture
def host(db, sandbox):
    UserRepository(db).put(User(HOST.uid, WORKSPACE, Role.HOST, HOST.email, HOST.name))  # type: ignore[arg-type]
    return sandbox.mint_id_token(HOST.uid, HOST.email, name=HOST.name, claims={"workspace_id": WORKSPACE})


@pytest.fixture
def context(browser):
    """One person's browser (cookies of its own), with the front-end served at its origin."""
    context = browser.new_context()
    context.route(FRONT_END_URL, lambda route: route.fulfill(path=str(FRONT_END_PAGE), content_type="text/html"))
    # A page delivered by Playwright has no address, so Chromium counts it as public and asks before it
    # may fetch the functions on 127.0.0.1 (Local Network Access); in production both sides are public.
    context.grant_permissions(["local-network-access"], origin=CORS_ORIGIN)
    try:
        yield context
    finally:
        context.close()


def _open_front_end(context, oauth_server, token):
    page = context.new_page()
    page.goto(f"{FRONT_END_URL}#oauth={quote(oauth_server.url, safe='')}&id_token={token}")
    return page


def _connect_link(oauth_server, token):
    reply = requests.post(f"{oauth_server.url}/connect", headers={"Authorization": f"Bearer {token}"}, timeout=10)
    assert reply.status_code == 200, reply.text
    return reply.json()["google_auth_url"]


def _status(oauth_server, token):
    return requests.get(f"{oauth_server.url}/status", headers={"Authorization": f"Bearer {token}"}, timeout=10).json()


def test_connect_from_the_front_end_in_a_browser_then_status_is_connected(oauth_server, context, host, sandbox):
    google_email = f"hana-{uuid.uuid4().hex[:6]}@gmail.example"
    page = _open_front_end(context, oauth_server, host)
    assert HOST.email in page.inner_text("#who")
    with page.expect_request(lambda r: r.url.startswith(oauth_server.url + "/start") and r.method == "POST") as started:
        page.click("#go")
    assert started.value.headers.get("origin") == CORS_ORIGIN  # the form POST, from the front-end's origin
    assert "id_token=" in (started.value.post_data or "") and "id_token" not in started.value.url
    page.wait_for_url(sandbox.url + "/o/oauth2/v2/auth**")  # on Google's (the sandbox's) consent page
    page.fill("#account", google_email)
    assert page.locator("input[name=scope]").count() >= 5
    page.click("#allow")
    page.wait_for_selector("#result")
    assert page.url.startswith(oauth_server.url + "/callback")
    assert page.get_attribute("#result", "data-connected") == "true"
    assert google_email in page.inner_text("#message")
    assert page.inner_text("#google-account") == google_email  # the result names both sides of the link
    assert page.inner_text("#convene-user") == HOST.email
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "oauth-connected.png"))

    status = _status(oauth_server, host)
    assert (status["connected"], status["account_email"]) == (True, google_email)
    assert [c["id"] for c in status["calendars"] if c["primary"]] == [google_email]


def test_cancel_in_a_browser_lands_on_a_clear_refusal(oauth_server, context, host, db):
    page = _open_front_end(context, oauth_server, host)
    page.click("#go")
    page.wait_for_selector("#account")
    page.fill("#account", f"hana-{uuid.uuid4().hex[:6]}@gmail.example")
    page.click("#deny")
    page.wait_for_selector("#result")
    assert page.get_attribute("#result", "data-connected") == "false"
    assert page.get_attribute("#result", "data-code") == "access_denied"
    assert "did not allow" in page.inner_text("#message")
    assert not db.collection("connections").document(f"{HOST.uid}_google").get().exists


def test_a_connect_link_clicked_in_another_browser_binds_nothing(oauth_server, browser, host, db):
    """The reported CSRF: a link forwarded to a victim with no session. It explains, and binds nothing."""
    link = _connect_link(oauth_server, host)
    victim = browser.new_context()
    try:
        page = victim.new_page()
        response = page.goto(link)
        assert response is not None and response.status == 400
        assert page.get_attribute("#result", "data-code") == "open_from_app"
        assert victim.cookies() == []
    finally:
        victim.close()
    assert all(d.to_dict().get("browser_binding") is None for d in db.collection("oauth_states").stream())


def test_a_page_elsewhere_auto_posting_the_requesters_link_and_token_binds_nothing(oauth_server, browser, host, db):
    """The attacker's own page submits the attacker's link with the attacker's valid ID token from
    the victim's browser: the token matches, but the post does not come from the front-end."""
    link = _connect_link(oauth_server, host)
    trap = (
        f'<!doctype html><form id="f" method="post" action="{link}"><input type="hidden" name="id_token" '
        f'value="{host}"></form><script>document.getElementById("f").submit()</script>'
    )
    victim = browser.new_context()
    victim.route(ATTACKER_URL, lambda route: route.fulfill(body=trap, content_type="text/html"))
    try:
        page = victim.new_page()
        with page.expect_response(lambda r: r.url.startswith(oauth_server.url + "/start")) as answered:
            page.goto(ATTACKER_URL)
        assert answered.value.status == 403
        page.wait_for_selector("#result")
        assert page.get_attribute("#result", "data-code") == "start_not_from_app"
        assert victim.cookies() == []
    finally:
        victim.close()
    assert _status(oauth_server, host)["connected"] is False
    assert all(d.to_dict().get("browser_binding") is None for d in db.collection("oauth_states").stream())


def test_the_function_log_holds_no_token_or_code(oauth_server, sandbox):
    """After the browser flows above, scan what the oauth process wrote to its log."""
    text = oauth_server.log_path.read_text()
    internal = sandbox.sandbox.oauth
    secrets = set(internal._refresh_tokens) | set(internal._access_tokens) | set(internal._codes)
    for call in sandbox.calls("/token"):
        secrets |= {v for k, v in (call.get("body") or {}).items() if k in ("code", "code_verifier", "client_secret")}
    assert secrets, "the flows above should have produced tokens"
    leaked = [s for s in secrets if s and s in text]
    assert leaked == []
    assert "eyJ" not in text  # no JWT either: the ID tokens posted in the start forms are never logged
    assert all(json.loads(line)["severity"] for line in text.splitlines() if line.startswith("{"))
