"""The "join via portal" page in a real browser (headless Chromium) against the join
function in its own process, on the emulator and the sandbox, with the real clock: the
emailed link carries the guest link token in its fragment, the page's script calls the
JSON API with it, counts down, joins, and checks the camera and microphone for real
(Chromium's fake devices)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import requests
from playwright.sync_api import expect

from devstack.processes import ROOT
from shared.adapters.firestore import InterviewRepository
from shared.auth.guest_links import GuestLinks
from shared.domain.models import InterviewStatus, InterviewType, JoinWindow
from shared.secrets import SecretManagerSecrets
from tests import factories

ARTIFACTS = ROOT / ".convene" / "test-artifacts"
MEET_LINK = "https://meet.google.com/abc-mnop-xyz"
MEET_STUB = "<!doctype html><title>Meet (stub)</title><h1>Google Meet stand-in</h1>"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]  # as tests/conftest.py
FAKE_DEVICES = "--use-fake-device-for-media-stream"
CSP_PROBE = """window.__csp = [];
document.addEventListener("securitypolicyviolation", e => window.__csp.push(e.violatedDirective + " " + e.blockedURI));"""


@dataclass
class Portal:
    context: object
    page: object
    errors: list[str] = field(default_factory=list)

    def open(self, url: str) -> None:
        self.page.goto(url)
        self.page.wait_for_selector("#portal:not([data-state=loading])")

    def problems(self, *, allow_http_errors: bool = False) -> list[str]:
        csp = self.page.evaluate("window.__csp")
        errors = [e for e in self.errors if not (allow_http_errors and e.startswith("Failed to load resource"))]
        return errors + csp

    def shot(self, name: str) -> None:
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        self.page.screenshot(path=str(ARTIFACTS / f"portal-{name}.png"), full_page=True)


def _portal(browser, **context_options) -> Portal:
    context = browser.new_context(locale="en-US", timezone_id="America/New_York", **context_options)
    context.route("https://meet.google.com/**", lambda route: route.fulfill(status=200, content_type="text/html", body=MEET_STUB))
    context.add_init_script(CSP_PROBE)
    page = context.new_page()
    portal = Portal(context, page)
    page.on("console", lambda message: portal.errors.append(message.text) if message.type == "error" else None)
    page.on("pageerror", lambda error: portal.errors.append(f"uncaught: {error}"))
    return portal


@pytest.fixture
def portal(browser, join_server):
    p = _portal(browser, viewport={"width": 820, "height": 900})
    try:
        yield p
    finally:
        p.context.close()


@pytest.fixture
def links(sandbox, project_id) -> GuestLinks:
    return GuestLinks(SecretManagerSecrets(project_id, sandbox.url), "convene-guest-link-key")


@pytest.fixture
def seed(db, links, join_server):
    """An interview starting relative to now, and its emailed portal link."""

    def make(start_in: timedelta, *, token_expires_in: timedelta | None = None, **changes):
        interview = factories.interview(start=datetime.now(UTC) + start_in, **changes)
        InterviewRepository(db).add(interview)
        expires = (datetime.now(UTC) + token_expires_in) if token_expires_in else interview.end + timedelta(days=1)
        token = links.sign(interview_id=interview.id, workspace_id=interview.workspace_id, expires_at=expires)
        return interview, token, f"{join_server.url}/portal/{interview.id}#token={token}"

    return make


def _guest_joins(db, interview) -> int:
    stored = db.collection("interviews").document(interview.id).get().to_dict()
    return ((stored.get("attendance") or {}).get("guest") or {}).get("join_count", 0)


def _clock(instant: datetime, zone: str) -> str:
    return instant.astimezone(ZoneInfo(zone)).strftime("%I:%M %p")  # en-US, 2-digit hour and minute


def test_ready_interview_counts_down_and_joins_into_meet(portal, seed, db, join_server):
    interview, token, url = seed(timedelta(minutes=10))
    page = portal.page
    portal.open(url)

    assert "#token" not in page.url and token not in page.url  # out of the address bar
    assert page.url == f"{join_server.url}/portal/{interview.id}"
    assert page.get_attribute("#portal", "data-state") == "ready"
    assert page.get_attribute("#meeting-status", "data-status") == "ready"
    assert page.inner_text("#job-title") == "Backend Engineer"
    details = page.inner_text("#details")
    assert "Hana Host" in details and "Gus Guest" in details and "45 minutes" in details and "Google Meet" in details
    # The booking's time zone and the viewer's own, each with its wall-clock time.
    assert _clock(interview.start, "Europe/Berlin") in page.inner_text("#time-booking")
    assert "Europe/Berlin" in page.inner_text("#time-booking-zone")
    assert _clock(interview.start, "America/New_York") in page.inner_text("#time-local")
    assert "America/New_York" in page.inner_text("#time-local-zone")
    # A live countdown: it moves every second.
    first = page.inner_text("#countdown")
    assert re.fullmatch(r"(9|10) min \d{1,2} s", first), first
    page.wait_for_function("t => document.getElementById('countdown').textContent !== t", arg=first, timeout=3000)
    expect(page.locator("#join")).to_be_enabled()
    expect(page.locator("#join")).to_have_text("Join meeting")
    assert "can join now" in page.inner_text("#status")
    portal.shot("ready")

    with portal.context.expect_page() as opened:
        page.click("#join")
    meet = opened.value
    meet.wait_for_load_state()
    assert meet.url == MEET_LINK and meet.title() == "Meet (stub)"  # the stub: the browser never left for Google
    expect(page.locator("#join-result")).to_contain_text("You joined at")
    assert page.get_attribute("#meeting-link", "href") == MEET_LINK
    assert _guest_joins(db, interview) == 1
    portal.shot("joined")

    assert portal.problems() == []
    assert token not in join_server.log_path.read_text()  # the fragment never reached the server


def test_upcoming_interview_waits_with_join_disabled(browser, join_server, seed, db):
    interview, _, url = seed(timedelta(hours=2))
    portal = _portal(browser, viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True, device_scale_factor=2)
    try:
        page = portal.page
        portal.open(url)
        assert page.get_attribute("#meeting-status", "data-status") == "upcoming"
        assert page.inner_text("#meeting-status") == "Upcoming"
        expect(page.locator("#join")).to_be_disabled()
        assert re.fullmatch(r"(1 h 59 min|2 h 0 min) \d{1,2} s", page.inner_text("#countdown"))
        assert "15 minutes before the start" in page.inner_text("#status")
        opens = interview.start - timedelta(minutes=15)
        assert _clock(opens, "America/New_York") in page.inner_text("#join-hint")
        assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")  # no sideways scrolling
        portal.shot("upcoming-mobile")
        assert portal.problems() == []
    finally:
        portal.context.close()
    assert _guest_joins(db, interview) == 0


def test_the_join_button_turns_on_when_the_window_opens(portal, seed, db):
    # A window opening one minute before the start, which is 64 s away: it opens in ~4 s.
    _, _, url = seed(timedelta(seconds=64), join_window=JoinWindow(opens_minutes_before=1, closes_minutes_after_end=60))
    page = portal.page
    portal.open(url)
    assert page.get_attribute("#meeting-status", "data-status") == "upcoming"
    expect(page.locator("#join")).to_be_disabled()
    expect(page.locator("#meeting-status")).to_have_attribute("data-status", "ready", timeout=10_000)  # re-fetched
    expect(page.locator("#join")).to_be_enabled()
    assert portal.problems() == []


def test_cancelled_interview_has_nothing_to_join(portal, seed, db):
    interview, _, url = seed(timedelta(minutes=5), status=InterviewStatus.CANCELLED)
    page = portal.page
    portal.open(url)
    assert page.get_attribute("#meeting-status", "data-status") == "cancelled"
    assert page.inner_text("#meeting-status") == "Cancelled"
    assert "was cancelled" in page.inner_text("#status")
    expect(page.locator("#join")).to_be_hidden()
    expect(page.locator("#join")).to_be_disabled()
    expect(page.locator("#countdown")).to_be_hidden()
    portal.shot("cancelled")
    assert portal.problems() == []
    assert _guest_joins(db, interview) == 0


def test_phone_interview_shows_the_number_after_checking_in(portal, seed, db):
    interview, _, url = seed(timedelta(minutes=3), type=InterviewType.PHONE, meet_link=None, phone="+49 30 1234567")
    page = portal.page
    portal.open(url)
    expect(page.locator("#join")).to_have_text("Join the call")
    page.click("#join")
    expect(page.locator("#join-result")).to_contain_text("+49 30 1234567")
    assert page.get_attribute("#join-result a", "href") == "tel:+49301234567"
    assert len(portal.context.pages) == 1  # nothing opened
    assert _guest_joins(db, interview) == 1
    assert portal.problems() == []


@pytest.mark.parametrize("case", ["tampered", "expired", "other-interview", "missing"])
def test_a_bad_link_shows_a_clear_error_and_records_nothing(portal, seed, db, join_server, case):
    interview, token, url = seed(timedelta(minutes=10), token_expires_in=timedelta(seconds=-5) if case == "expired" else None)
    if case == "tampered":
        url = url[:-4] + ("AAAA" if not url.endswith("AAAA") else "BBBB")
    elif case == "other-interview":
        url = f"{join_server.url}/portal/iv-does-not-exist#token={token}"
    elif case == "missing":
        url = url.split("#")[0]
    page = portal.page
    portal.open(url)
    assert page.get_attribute("#portal", "data-state") == "error"
    expect(page.locator("#error")).to_be_visible()
    expect(page.locator("#join")).to_be_hidden()
    title, text = page.inner_text("#error-title"), page.inner_text("#error")
    if case == "tampered":
        assert (page.get_attribute("#portal", "data-error"), title) == ("unauthorized", "This link is not valid")
        assert "ask the host for a new invitation" in text
        portal.shot("invalid-link")
    elif case == "expired":
        assert (page.get_attribute("#portal", "data-error"), title) == ("unauthorized", "This link has expired")
        assert "ask the host for a new invitation" in text
    elif case == "other-interview":
        assert (page.get_attribute("#portal", "data-error"), title) == ("not-found", "Interview not found")
    else:
        assert (page.get_attribute("#portal", "data-error"), title) == ("no-token", "This link is incomplete")
    assert "#token" not in page.url
    assert portal.problems(allow_http_errors=True) == []  # only the 401/404 itself is logged by Chromium
    assert _guest_joins(db, interview) == 0


def test_network_failure_shows_retry_then_recovers(portal, seed):
    _, _, url = seed(timedelta(minutes=10))
    page = portal.page
    failing = {"on": True}

    def api(route):
        if failing["on"]:
            route.abort("internetdisconnected")
        else:
            route.continue_()

    page.route(re.compile(r".*/interviews/.*"), api)
    page.goto(url)
    expect(page.locator("#error-title")).to_have_text("Cannot reach Convene right now")
    expect(page.locator("#retry")).to_be_visible()
    failing["on"] = False
    page.click("#retry")
    expect(page.locator("#meeting-status")).to_have_attribute("data-status", "ready")
    expect(page.locator("#error")).to_be_hidden()
    expect(page.locator("#join")).to_be_enabled()


def test_page_headers_and_nothing_about_the_interview_server_side(join_server, seed, openapi):
    interview, token, url = seed(timedelta(minutes=10))
    first = requests.get(url.split("#")[0], timeout=10)
    second = requests.get(f"{join_server.url}/portal/iv-anything-else", timeout=10)
    assert first.status_code == second.status_code == 200
    if "/join/portal/{interview_id}" in openapi.document["paths"]:  # documented: checked (and counted as covered)
        openapi.validate_response("join", "GET", f"/portal/{interview.id}", first.status_code, first.text, first.headers)
    assert first.headers["Content-Type"] == "text/html; charset=utf-8"
    assert first.headers["Cache-Control"] == "no-store"
    assert first.headers["Referrer-Policy"] == "no-referrer"
    assert first.headers["X-Content-Type-Options"] == "nosniff"
    csp = dict(d.strip().split(" ", 1) for d in first.headers["Content-Security-Policy"].split(";"))
    nonce = re.search(r"'nonce-([A-Za-z0-9_-]+)'", csp["script-src"]).group(1)
    assert csp["default-src"] == "'none'" and csp["frame-ancestors"] == "'none'" and csp["connect-src"] == "'self'"
    assert csp["script-src"] == csp["style-src"] == f"'nonce-{nonce}'"
    assert first.text.count(f'nonce="{nonce}"') == 2 and nonce not in second.text  # fresh per response
    assert first.text.replace(nonce, "N") == second.text.replace(re.search(r'nonce="([^"]+)"', second.text).group(1), "N")
    for private in (interview.id, interview.guest.name, interview.host.name, interview.job_title, token):
        assert private not in first.text
    assert not re.search(r"""(src|href)=["']?(https?:)?//""", first.text)  # no external resources
    assert requests.get(f"{join_server.url}/portal/bad%20id", timeout=10).status_code == 404


# ---- the camera and microphone check, with Chromium's fake devices ----------------------------


@pytest.fixture(scope="module")
def media_browsers(browser):
    """Chromium with a fake camera (test pattern) and microphone (beeps), one that allows
    them without asking and one that denies every permission prompt."""
    launch = browser.browser_type.launch
    allowing = launch(
        executable_path="/usr/bin/chromium", headless=True, args=[*CHROMIUM_ARGS, FAKE_DEVICES, "--use-fake-ui-for-media-stream"]
    )
    denying = launch(
        executable_path="/usr/bin/chromium", headless=True, args=[*CHROMIUM_ARGS, FAKE_DEVICES, "--deny-permission-prompts"]
    )
    try:
        yield {"allowing": allowing, "denying": denying}
    finally:
        allowing.close()
        denying.close()


def test_camera_and_microphone_check_works_with_real_devices(media_browsers, join_server, seed):
    _, _, url = seed(timedelta(minutes=10))
    portal = _portal(media_browsers["allowing"], viewport={"width": 820, "height": 900})
    try:
        page = portal.page
        portal.open(url)
        assert page.get_attribute("#media-result", "data-state") == "idle"
        page.click("#media-test")
        expect(page.locator("#media-result")).to_have_attribute("data-state", "working")
        expect(page.locator("#media-result")).to_have_text("Camera and microphone are working.")
        assert page.evaluate("document.getElementById('video-preview').videoWidth") > 0
        assert "fake_device_0" in page.inner_text("#media-details")
        # The level meter follows the (fake, beeping) microphone.
        page.wait_for_function(
            "() => Number(document.getElementById('mic-meter').getAttribute('aria-valuenow')) > 0", timeout=5000
        )
        portal.shot("media-working")
        page.click("#media-stop")
        assert page.evaluate("document.getElementById('video-preview').srcObject") is None
        expect(page.locator("#media-result")).to_contain_text("now off")
        assert portal.problems() == []
    finally:
        portal.context.close()


@pytest.mark.parametrize("which", ["denied", "no-device"])
def test_camera_and_microphone_check_reports_failures(media_browsers, browser, join_server, seed, which):
    _, _, url = seed(timedelta(minutes=10))
    portal = _portal(media_browsers["denying"] if which == "denied" else browser)
    if which == "no-device":  # allowed, but the session's Chromium has no camera or microphone
        portal.context.grant_permissions(["camera", "microphone"])
    try:
        page = portal.page
        portal.open(url)
        page.click("#media-test")
        if which == "denied":
            expect(page.locator("#media-result")).to_have_attribute("data-state", "denied")
            expect(page.locator("#media-result")).to_contain_text("Permission denied")
            portal.shot("media-denied")
        else:
            expect(page.locator("#media-result")).to_have_attribute("data-state", "not-found")
            expect(page.locator("#media-result")).to_contain_text("No camera or microphone found")
        expect(page.locator("#video-preview")).to_be_hidden()
        assert portal.problems() == []
    finally:
        portal.context.close()
