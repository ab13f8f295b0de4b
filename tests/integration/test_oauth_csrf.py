"""OAuth account-linking CSRF (issue 9, item 1; SPEC §2.1), through the public HTTP interface.

Host A asks for a connect link and gets it opened by someone else: a victim with no Convene
session who clicks it, a victim whose front-end posts it with the victim's own ID token, or a
page of A's that auto-posts it with A's own ID token. In each case the victim's browser does
whatever the function tells it (follows a redirect to Google's consent, where the victim
clicks Allow, then Google's redirect back). A's account must not end up with the victim's
Google account, and nothing may be stored.
"""

from __future__ import annotations

import pytest

from shared.adapters.firestore import UserRepository
from shared.domain.models import Role, User
from tests.factories import HOST, WORKSPACE
from tests.integration.test_oauth_api import Browser, local, post_form

pytestmark = pytest.mark.usefixtures("container")

VICTIM_GOOGLE = "victim.private@gmail.example"
VICTIM = User("uid-victim", WORKSPACE, Role.HOST, "victim@acme.example", "Vic Tim")  # type: ignore[arg-type]


@pytest.fixture
def attacker_token(db, sandbox):
    """Host A: a real host of the workspace, with a valid ID token."""
    UserRepository(db).put(User(HOST.uid, WORKSPACE, Role.HOST, HOST.email, HOST.name))  # type: ignore[arg-type]
    return sandbox.mint_id_token(HOST.uid, HOST.email, claims={"workspace_id": WORKSPACE})


@pytest.fixture
def victim_token(db, sandbox):
    UserRepository(db).put(VICTIM)
    return sandbox.mint_id_token(VICTIM.uid, VICTIM.email, claims={"workspace_id": WORKSPACE})


def victim_follows(oauth_api, sandbox, reply, browser: Browser) -> None:
    """The victim's browser obeys a redirect to Google's consent; the victim clicks Allow; Google
    redirects the browser to our callback."""
    browser.take(reply.set_cookies)
    if reply.status not in (302, 303) or not reply.headers.get("Location", "").startswith(sandbox.url):
        return
    back = sandbox.consent(reply.headers["Location"], VICTIM_GOOGLE)
    oauth_api.get(local(back), headers=browser.header())


def assert_attacker_not_linked(oauth_api, attacker_token, db) -> None:
    status = oauth_api.get("/status", token=attacker_token).json
    assert status["account_email"] != VICTIM_GOOGLE and status["connected"] is False, status
    assert not db.collection("connections").document(f"{HOST.uid}_google").get().exists


def test_a_link_clicked_by_a_victim_without_a_session_connects_nothing(oauth_api, sandbox, attacker_token, db):
    """The reported attack: today the first browser to open /start is bound, whoever it is."""
    link = oauth_api.post("/connect", token=attacker_token).json["google_auth_url"]
    victim = Browser()
    opened = oauth_api.get(local(link), headers=victim.header())  # the victim clicks the link in a mail or chat
    victim_follows(oauth_api, sandbox, opened, victim)
    assert_attacker_not_linked(oauth_api, attacker_token, db)


def test_a_link_posted_by_the_victims_front_end_with_the_victims_token_connects_nothing(
    oauth_api, sandbox, attacker_token, victim_token, db
):
    link = oauth_api.post("/connect", token=attacker_token).json["google_auth_url"]
    victim = Browser()
    reply = post_form(oauth_api, local(link), {"id_token": victim_token}, browser=victim)
    assert reply.status == 403 and 'data-code="not_your_link"' in reply.text
    victim_follows(oauth_api, sandbox, reply, victim)
    assert_attacker_not_linked(oauth_api, attacker_token, db)
    assert not db.collection("connections").document(f"{VICTIM.uid}_google").get().exists


@pytest.mark.parametrize("origin", ["https://attacker.example", "null", None])
def test_a_link_auto_posted_with_the_attackers_own_token_from_the_attackers_page_connects_nothing(
    oauth_api, sandbox, attacker_token, db, origin
):
    """A's page (or a sandboxed frame of it, Origin: null) submits A's link and A's valid ID token
    from the victim's browser: the token matches the attempt, but the post is not from the app."""
    link = oauth_api.post("/connect", token=attacker_token).json["google_auth_url"]
    victim = Browser()
    reply = post_form(oauth_api, local(link), {"id_token": attacker_token}, browser=victim, origin=origin)
    assert reply.status == 403 and 'data-code="start_not_from_app"' in reply.text
    victim_follows(oauth_api, sandbox, reply, victim)
    assert_attacker_not_linked(oauth_api, attacker_token, db)


def test_googles_consent_url_forwarded_to_a_victim_connects_nothing(oauth_api, sandbox, attacker_token, db):
    """A starts properly in A's own browser, then forwards Google's consent URL: the callback
    arrives in the victim's browser, which holds no binding for the attempt."""
    link = oauth_api.post("/connect", token=attacker_token).json["google_auth_url"]
    started = post_form(oauth_api, local(link), {"id_token": attacker_token}, browser=Browser())
    assert started.status == 303
    back = sandbox.consent(started.headers["Location"], VICTIM_GOOGLE)  # the victim opens the forwarded URL, allows
    reply = oauth_api.get(local(back), headers=Browser().header())  # in the victim's browser: no binding cookie
    assert reply.status == 302 and "error=invalid_state" in reply.headers["Location"]
    assert_attacker_not_linked(oauth_api, attacker_token, db)


def test_the_requester_in_their_own_browser_still_connects(oauth_api, sandbox, attacker_token, db):
    """The positive control for the refusals above: same link, the requester's own front-end and token."""
    link = oauth_api.post("/connect", token=attacker_token).json["google_auth_url"]
    browser = Browser()
    started = post_form(oauth_api, local(link), {"id_token": attacker_token}, browser=browser)
    browser.take(started.set_cookies)
    back = sandbox.consent(started.headers["Location"], "hana.own@gmail.example")
    oauth_api.get(local(back), headers=browser.header())
    assert oauth_api.get("/status", token=attacker_token).json["account_email"] == "hana.own@gmail.example"
