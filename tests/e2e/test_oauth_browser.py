"""Connecting Google in a real browser (headless Chromium): the host's front-end asks for
a connect link, the browser follows it to the sandbox's consent page, a person clicks
Allow (or Cancel), and lands on the result."""

from __future__ import annotations

import json
import uuid

import pytest
import requests

from devstack.processes import ROOT
from shared.adapters.firestore import UserRepository
from shared.domain.models import Role, User
from tests.factories import HOST, WORKSPACE

ARTIFACTS = ROOT / ".convene" / "test-artifacts"


@pytest.fixture
def host(db, sandbox):
    UserRepository(db).put(User(HOST.uid, WORKSPACE, Role.HOST, HOST.email, HOST.name))  # type: ignore[arg-type]
    return sandbox.mint_id_token(HOST.uid, HOST.email, name=HOST.name, claims={"workspace_id": WORKSPACE})


def _connect_link(oauth_server, token):
    reply = requests.post(f"{oauth_server.url}/connect", headers={"Authorization": f"Bearer {token}"}, timeout=10)
    assert reply.status_code == 200, reply.text
    return reply.json()["google_auth_url"]


def test_connect_in_a_browser_then_status_is_connected(oauth_server, browser, host, sandbox):
    google_email = f"hana-{uuid.uuid4().hex[:6]}@gmail.example"
    page = browser.new_page()
    try:
        page.goto(_connect_link(oauth_server, host))
        assert page.url.startswith(sandbox.url + "/o/oauth2/v2/auth")  # on Google's (the sandbox's) consent page
        page.fill("#account", google_email)
        assert page.locator("input[name=scope]").count() >= 5
        page.click("#allow")
        page.wait_for_selector("#result")
        assert page.url.startswith(oauth_server.url + "/callback")
        assert page.get_attribute("#result", "data-connected") == "true"
        assert google_email in page.inner_text("#message")
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "oauth-connected.png"))
    finally:
        page.close()

    status = requests.get(f"{oauth_server.url}/status", headers={"Authorization": f"Bearer {host}"}, timeout=10).json()
    assert (status["connected"], status["account_email"]) == (True, google_email)
    assert [c["id"] for c in status["calendars"] if c["primary"]] == [google_email]


def test_cancel_in_a_browser_lands_on_a_clear_refusal(oauth_server, browser, host, db):
    page = browser.new_page()
    try:
        page.goto(_connect_link(oauth_server, host))
        page.fill("#account", f"hana-{uuid.uuid4().hex[:6]}@gmail.example")
        page.click("#deny")
        page.wait_for_selector("#result")
        assert page.get_attribute("#result", "data-connected") == "false"
        assert page.get_attribute("#result", "data-code") == "access_denied"
        assert "did not allow" in page.inner_text("#message")
    finally:
        page.close()
    assert not db.collection("connections").document(f"{HOST.uid}_google").get().exists


def test_a_connect_link_opened_in_a_second_browser_is_refused(oauth_server, browser, host):
    link = _connect_link(oauth_server, host)
    first, second = browser.new_context(), browser.new_context()
    try:
        first.new_page().goto(link)
        page = second.new_page()
        response = page.goto(link)
        assert response is not None and response.status == 400
        assert "already used" in page.inner_text("body")
    finally:
        first.close()
        second.close()


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
    assert all(json.loads(line)["severity"] for line in text.splitlines() if line.startswith("{"))
