"""The maintenance function as Cloud Scheduler calls it, in-process, on the emulator and the
sandbox: who may call it, connection health and the one reconnect email per incident (sent
for real by the email worker in its own process), the daily calendar-list sync, cleanup."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest

from devstack.stack import OAUTH_CLIENT_ID
from shared.domain.connections import (
    CALENDAR_EVENTS,
    CALENDAR_FREEBUSY,
    CALENDAR_LIST,
    EMAIL,
    GOOGLE,
    OPENID,
    Connection,
    ConnectionStatus,
    refresh_token_context,
)
from shared.domain.models import Role, User
from shared.services.maintenance import Maintenance, run_jobs
from tests.conftest import OAUTH_RESULT_URL, TASKS_INVOKER, WORKER_URL
from tests.factories import WORKSPACE

SCOPES = (OPENID, EMAIL, CALENDAR_EVENTS, CALENDAR_FREEBUSY, CALENDAR_LIST)
CALENDAR_LIST_PATH = "/calendar/v3/users/me/calendarList"

pytestmark = pytest.mark.usefixtures("container")


@pytest.fixture(scope="module")
def maintenance_api(openapi, stack_env):
    from tests.conftest import function_client

    return function_client("maintenance", openapi, stack_env)


@pytest.fixture
def scheduler_token(sandbox):
    return sandbox.mint_oidc_token(TASKS_INVOKER, WORKER_URL)


class Hosts:
    """Hosts of the workspace with a Google connection whose tokens the sandbox issued."""

    def __init__(self, sandbox, container):
        self._sandbox, self._container = sandbox, container

    def add(self, label: str, **changes) -> tuple[str, str, str]:
        """A new host (uid, email, Google account email), connected."""
        uid = f"uid-{label}-{uuid.uuid4().hex[:6]}"
        email, google_email = f"{label}-{uid[-6:]}@acme.example", f"{label}-{uid[-6:]}@gmail.example"
        self._container.users.put(User(uid, WORKSPACE, Role.HOST, email, label.title()))
        self._sandbox.add_google_account(google_email, label.title())
        self.connect(uid, google_email, **changes)
        return uid, email, google_email

    def connect(self, uid: str, google_email: str, **changes) -> None:
        """Store a fresh grant as the OAuth callback does (replacing the connection), with a cold credentials cache."""
        c = self._container
        tokens = self._sandbox.sandbox.oauth.issue_tokens(OAUTH_CLIENT_ID, google_email, list(SCOPES))
        sealed = c.token_cipher.seal(tokens["refresh_token"], context=refresh_token_context(uid, GOOGLE))
        c.connections.save(
            Connection(
                uid=uid,
                workspace_id=WORKSPACE,
                provider=GOOGLE,
                status=ConnectionStatus.CONNECTED,
                account_email=google_email,
                scopes=SCOPES,
                refresh_token=sealed,
                connected_at=c.clock.now(),
                updated_at=c.clock.now(),
                **changes,
            )
        )
        c.google_credentials.forget(uid)


@pytest.fixture
def hosts(sandbox, container) -> Hosts:
    return Hosts(sandbox, container)


def stored(db, uid):
    return db.collection("connections").document(f"{uid}_{GOOGLE}").get().to_dict()


def run(api, token, jobs=None):
    reply = api.post("/", token=token, json=None if jobs is None else {"jobs": jobs})
    assert reply.status == 200, reply.json
    return reply.json["jobs"]


# --- who may call ---------------------------------------------------------------------------


def test_only_the_scheduler_with_the_right_audience_and_nothing_happens_otherwise(maintenance_api, sandbox, db, hosts, clock):
    uid, _, google_email = hosts.add("revoked")
    sandbox.revoke_google_grants(google_email)
    db.collection("oauth_states").document("old").set({"expires_at": clock.now() - timedelta(hours=1)})
    before, refreshes = stored(db, uid), len(sandbox.calls("/token"))

    assert maintenance_api.post("/").status == 401
    wrong_audience = sandbox.mint_oidc_token(TASKS_INVOKER, "https://another-function.example")
    assert maintenance_api.post("/", token=wrong_audience).status == 401
    intruder = sandbox.mint_oidc_token("intruder@p.iam.gserviceaccount.com", WORKER_URL)
    reply = maintenance_api.post("/", token=intruder)
    assert (reply.status, reply.json["error"]["code"]) == (403, "caller_not_allowed")
    assert maintenance_api.post("/", token=sandbox.mint_id_token(uid, "revoked@acme.example")).status == 401

    assert stored(db, uid) == before and before["status"] == "connected"
    assert db.collection("oauth_states").document("old").get().exists
    assert list(db.collection("outbox").stream()) == [] and len(sandbox.calls("/token")) == refreshes


def test_a_bad_job_list_is_refused(maintenance_api, scheduler_token):
    for body in ({"jobs": ["nope"]}, {"jobs": "cleanup"}, {"jobs": []}):
        reply = maintenance_api.post("/", token=scheduler_token, json=body)
        assert (reply.status, reply.json["error"]["code"]) == (400, "invalid_field")


def test_certificates_out_of_reach_answer_503(maintenance_api, sandbox, scheduler_token):
    sandbox.inject("^/oauth2/v1/certs$", [{"status": 503}], method="GET")  # this test's container has no certificates yet
    try:
        assert maintenance_api.post("/", token=scheduler_token).status == 503
    finally:
        sandbox.sandbox.faults.clear()


# --- connection health ---------------------------------------------------------------------------


@pytest.mark.usefixtures("worker_server")
def test_a_revoked_grant_marks_needs_reauth_and_the_host_gets_one_email_per_incident(
    maintenance_api, sandbox, db, hosts, scheduler_token, clock, container
):
    sandbox.clear_sent_mail()
    uid, host_email, google_email = hosts.add("revoked")
    _, healthy_email, _ = hosts.add("healthy")
    sandbox.revoke_google_grants(google_email)

    first = run(maintenance_api, scheduler_token, ["connections"])["connections"]
    assert first == {
        "ok": True,
        "checked": 2,
        "healthy": 1,
        "needs_reauth": 1,
        "errors": 0,
        "notified": 1,
        "notices_failed": 0,
        "more": False,
    }
    connection = stored(db, uid)
    assert connection["status"] == "needs_reauth" and "refresh_token" not in connection
    assert connection["last_error"]["code"] == "invalid_grant" and connection["reauth_notified_at"] == clock.now()
    for _ in range(2):  # later runs: same incident, no new email
        clock.advance(timedelta(hours=1))
        assert run(maintenance_api, scheduler_token, ["connections"])["connections"]["notified"] == 0
    assert sandbox.drain_tasks(timeout=15)

    mails = sandbox.sent_mail_to(host_email)
    assert len(mails) == 1 and sandbox.sent_mail_to(healthy_email) == []
    body = mails[0]["body"]
    assert body["subject"] == "Action needed: reconnect your Google account"
    text = next(c["value"] for c in body["content"] if c["type"] == "text/plain")
    html = next(c["value"] for c in body["content"] if c["type"] == "text/html")
    # The link is the front-end's settings page: stable, and no live OAuth state in the outbox or the email.
    assert f"Reconnect Google from your settings: {OAUTH_RESULT_URL}" in text and OAUTH_RESULT_URL in html
    assert "state=" not in text and "attachments" not in body
    outbox = db.collection("outbox").document(connection["reauth_notice_id"]).get().to_dict()
    assert (outbox["kind"], outbox["status"], outbox["uid"]) == ("reconnect", "sent", uid)

    # The host reconnects, and later Google refuses the grant again: a new incident, a new email.
    hosts.connect(uid, google_email)
    assert run(maintenance_api, scheduler_token, ["connections"])["connections"]["notified"] == 0
    clock.advance(timedelta(days=2))
    sandbox.revoke_google_grants(google_email)
    container.google_credentials.forget(uid)
    assert run(maintenance_api, scheduler_token, ["connections"])["connections"]["notified"] == 1
    assert run(maintenance_api, scheduler_token, ["connections"])["connections"]["notified"] == 0
    assert sandbox.drain_tasks(timeout=15)
    assert len(sandbox.sent_mail_to(host_email)) == 2


def test_a_transient_refresh_failure_is_recorded_and_the_connection_stays_connected(
    maintenance_api, sandbox, db, hosts, scheduler_token
):
    uid, _, _ = hosts.add("flaky")
    sandbox.inject("^/token$", [{"status": 503}] * 40, method="POST")
    try:
        summary = run(maintenance_api, scheduler_token, ["connections"])["connections"]
    finally:
        sandbox.sandbox.faults.clear()
    assert (summary["errors"], summary["needs_reauth"], summary["notified"]) == (1, 0, 0)
    connection = stored(db, uid)
    assert connection["status"] == "connected" and connection["refresh_token"]
    assert connection["last_error"]["code"] == "unavailable"
    assert list(db.collection("outbox").stream()) == []


def test_connections_are_checked_round_robin_when_a_run_cannot_check_them_all(container, hosts, sandbox, clock):
    uids = sorted(hosts.add(f"h{i}")[0] for i in range(3))
    maintenance = service(container, max_connections=2)
    refreshed = []
    for _ in range(3):
        before = len(sandbox.calls("/token"))
        summary = maintenance.check_connections(clock.now())
        refreshed.append((summary["checked"], summary["more"], len(sandbox.calls("/token")) - before))
    assert refreshed == [(2, True, 2), (1, False, 1), (2, True, 2)]
    assert all(stored(container.firestore, uid)["status"] == "connected" for uid in uids)


# --- calendars -------------------------------------------------------------------------------------


def test_calendar_lists_older_than_a_day_are_read_again_and_fresh_ones_are_not(
    maintenance_api, sandbox, db, hosts, scheduler_token, clock
):
    stale, _, stale_google = hosts.add("stale", last_sync_at=clock.now() - timedelta(hours=25))
    fresh, _, fresh_google = hosts.add("fresh", last_sync_at=clock.now() - timedelta(hours=1))
    never, _, never_google = hosts.add("never")
    for account in (stale_google, fresh_google, never_google):
        sandbox.add_calendar(account, f"team-{account}", "Team")
    before = len(sandbox.calls(CALENDAR_LIST_PATH))

    summary = run(maintenance_api, scheduler_token, ["calendars"])["calendars"]

    assert summary == {"ok": True, "synced": 2, "needs_reauth": 0, "errors": 0, "more": False}
    assert len(sandbox.calls(CALENDAR_LIST_PATH)) - before == 2
    for uid, account in ((stale, stale_google), (never, never_google)):
        connection = stored(db, uid)
        assert f"team-{account}" in [c["id"] for c in connection["calendars"]] and connection["last_sync_at"] == clock.now()
    assert stored(db, fresh)["calendars"] == [] and stored(db, fresh)["last_sync_at"] == clock.now() - timedelta(hours=1)


def test_a_failed_calendar_sync_is_recorded_on_the_connection(maintenance_api, sandbox, db, hosts, scheduler_token):
    uid, _, google_email = hosts.add("gone")
    sandbox.revoke_google_grants(google_email)
    summary = run(maintenance_api, scheduler_token, ["calendars"])["calendars"]
    assert (summary["synced"], summary["needs_reauth"]) == (0, 1)
    assert stored(db, uid)["status"] == "needs_reauth" and stored(db, uid)["last_error"]["code"] == "invalid_grant"


# --- cleanup ---------------------------------------------------------------------------------------


def test_cleanup_deletes_only_what_expired_or_is_past_retention(maintenance_api, db, scheduler_token, clock):
    now = clock.now()
    for name, expires in (("state-old", -1), ("state-live", 1)):
        db.collection("oauth_states").document(name).set({"expires_at": now + timedelta(minutes=expires)})
    for name, expires in (("key-old", -1), ("key-live", 1)):
        db.collection("idempotency").document(name).set({"state": "completed", "expires_at": now + timedelta(hours=expires)})
    for name, status, age in (
        ("sent-old", "sent", 31),
        ("failed-old", "failed", 31),
        ("skipped-old", "skipped", 40),
        ("sent-recent", "sent", 29),
        ("queued-old", "queued", 40),
        ("sending-old", "sending", 40),
    ):
        db.collection("outbox").document(name).set({"status": status, "updated_at": now - timedelta(days=age)})

    summary = run(maintenance_api, scheduler_token, ["cleanup"])["cleanup"]

    assert summary == {"ok": True, "oauth_states_deleted": 1, "idempotency_deleted": 1, "outbox_deleted": 3, "more": False}
    assert [d.id for d in db.collection("oauth_states").stream()] == ["state-live"]
    assert [d.id for d in db.collection("idempotency").stream()] == ["key-live"]
    assert sorted(d.id for d in db.collection("outbox").stream()) == ["queued-old", "sending-old", "sent-recent"]


def test_cleanup_works_in_batches_within_a_budget_and_says_more_is_left(container, db, clock):
    for i in range(5):
        db.collection("oauth_states").document(f"s{i}").set({"expires_at": clock.now() - timedelta(minutes=1)})
    maintenance = service(container, max_deletions=3, batch_size=2)
    first = maintenance.clean_up(clock.now())
    assert (first["oauth_states_deleted"], first["more"]) == (3, True)
    second = maintenance.clean_up(clock.now())
    assert (second["oauth_states_deleted"], second["more"]) == (2, False)
    assert list(db.collection("oauth_states").stream()) == []


# --- the run -------------------------------------------------------------------------------------


def test_every_job_runs_by_default_and_a_failing_job_does_not_stop_the_others(maintenance_api, scheduler_token, clock):
    assert set(run(maintenance_api, scheduler_token)) == {"connections", "calendars", "cleanup", "attendance"}

    def broken(now):
        raise RuntimeError("boom")

    summary = run_jobs({"broken": broken, "fine": lambda now: {"done": 1}}, None, clock.now())
    assert summary["jobs"] == {"broken": {"ok": False, "error": "internal"}, "fine": {"ok": True, "done": 1}}


def service(container, **limits) -> Maintenance:
    return Maintenance(
        connections=container.connections,
        users=container.users,
        outbox=container.outbox,
        cleanup=container.cleanup,
        cursors=container.job_cursors,
        credentials=lambda: container.google_credentials,
        google_connections=lambda: container.google_connections,
        tasks=lambda: container.email_tasks,
        worker_url=container.settings.email_worker_url,
        **limits,
    )
