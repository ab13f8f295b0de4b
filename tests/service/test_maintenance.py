"""The maintenance jobs on fakes (mirrors tests/integration/test_maintenance.py)."""

from __future__ import annotations

from datetime import timedelta

import pytest

from shared.domain.connections import (
    GOOGLE,
    Connection,
    ConnectionStatus,
    GoogleAuthRequired,
    OAuthState,
    ProviderError,
    SealedSecret,
)
from shared.domain.models import Role, User
from shared.errors import Unavailable
from shared.ports import OutboxEmail
from shared.services.maintenance import Maintenance, notice_id, run_jobs
from tests.factories import NOW, WORKSPACE
from tests.fakes import (
    FakeCleanup,
    FakeConnectionRepository,
    FakeJobCursors,
    FakeOAuthStateRepository,
    FakeOutbox,
    FakeTaskQueue,
    FakeUserRepository,
)

H = timedelta(hours=1)
WORKER = "http://worker"
PAGE = "http://localhost:5173/settings/integrations"


class FakeCredentials:
    """The credentials manager: a refresh that works, or marks the connection as needing consent."""

    def __init__(self, connections):
        self.connections = connections
        self.revoked: set[str] = set()
        self.failing: set[str] = set()
        self.forgotten: list[str] = []

    def forget(self, uid):
        self.forgotten.append(uid)

    def for_connection(self, connection):
        if connection.uid in self.revoked:
            self.connections.record_error(
                connection.uid, GOOGLE, ProviderError("invalid_grant", "revoked", NOW), needs_reauth=True
            )
            raise GoogleAuthRequired("needs_reauth")
        if connection.uid in self.failing:
            raise Unavailable("Google is down")
        return object()


class FakeGoogle:
    def __init__(self, connections):
        self.connections = connections
        self.synced: list[str] = []

    def sync_connection(self, connection):
        self.synced.append(connection.uid)
        self.connections.record_sync(connection.uid, GOOGLE, (), NOW)
        return connection


class World:
    def __init__(self, **limits):
        self.connections = FakeConnectionRepository()
        self.users = FakeUserRepository()
        self.outbox = FakeOutbox()
        self.states = FakeOAuthStateRepository()
        self.cleanup = FakeCleanup(self.states, self.outbox)
        self.cursors = FakeJobCursors()
        self.tasks = FakeTaskQueue()
        self.credentials = FakeCredentials(self.connections)
        self.google = FakeGoogle(self.connections)
        self.maintenance = Maintenance(
            connections=self.connections,
            users=self.users,
            outbox=self.outbox,
            cleanup=self.cleanup,
            cursors=self.cursors,
            credentials=lambda: self.credentials,
            google_connections=lambda: self.google,
            tasks=lambda: self.tasks,
            worker_url=WORKER,
            reconnect_page=PAGE,
            **limits,
        )

    def host(self, uid, **changes):
        self.users.put(User(uid, WORKSPACE, Role.HOST, f"{uid}@acme.example", uid.title()))
        self.connections.save(
            Connection(uid, WORKSPACE, GOOGLE, ConnectionStatus.CONNECTED, refresh_token=SealedSecret("dA==", "1"), **changes)
        )


def test_a_healthy_and_a_revoked_connection_one_notice_per_incident():
    world = World()
    world.host("uid-a")
    world.host("uid-b")
    world.credentials.revoked.add("uid-b")
    result = world.maintenance.check_connections(NOW)
    assert result == {
        "checked": 2,
        "healthy": 1,
        "needs_reauth": 1,
        "errors": 0,
        "notified": 1,
        "notices_failed": 0,
        "more": False,
    }
    notice = notice_id("uid-b", NOW)
    assert world.tasks.tasks == {notice: (WORKER, {"email_id": notice})}
    record = world.outbox.get(notice)
    assert (record["kind"], record["to_email"], record["reconnect_url"], record["status"]) == (
        "reconnect",
        "uid-b@acme.example",
        PAGE,
        "queued",
    )
    assert world.connections.document("uid-b", GOOGLE)["reauth_notice_id"] == notice
    again = world.maintenance.check_connections(NOW + H)
    assert (again["checked"], again["notified"]) == (1, 0)  # the same incident is not emailed twice


def test_a_notice_already_in_the_outbox_is_not_written_again_and_a_departed_host_is_not_emailed():
    world = World()
    world.host("uid-b")
    world.host("uid-gone")
    world.credentials.revoked |= {"uid-b", "uid-gone"}
    world.users._users.pop("uid-gone")  # left the workspace
    notice = notice_id("uid-b", NOW)
    world.outbox.add(OutboxEmail(notice, "reconnect", "host", "old@acme.example", WORKSPACE, uid="uid-b"), NOW - H)
    result = world.maintenance.check_connections(NOW)
    assert (result["notified"], result["notices_failed"]) == (1, 1)
    assert world.outbox.get(notice)["to_email"] == "old@acme.example"  # create-if-absent
    assert list(world.tasks.tasks) == [notice]


def test_a_failed_refresh_is_recorded_and_the_round_robin_resumes():
    world = World(max_connections=2)
    for uid in ("uid-a", "uid-b", "uid-c"):
        world.host(uid)
    world.credentials.failing.add("uid-a")
    first = world.maintenance.check_connections(NOW)
    assert (first["checked"], first["errors"], first["more"]) == (2, 1, True)
    assert world.connections.get("uid-a", GOOGLE).last_error.code == "unavailable"
    second = world.maintenance.check_connections(NOW)
    assert (second["checked"], second["more"]) == (1, False)
    assert world.credentials.forgotten == ["uid-a", "uid-b", "uid-c"]


def test_calendar_lists_never_read_first_then_stale_ones():
    world = World(max_connections=2)
    world.host("uid-fresh", last_sync_at=NOW - H)
    world.host("uid-stale", last_sync_at=NOW - 48 * H)
    world.host("uid-never")
    world.host("uid-never-2")
    assert world.maintenance.sync_calendars(NOW) == {"synced": 2, "needs_reauth": 0, "errors": 0, "more": True}
    assert sorted(world.google.synced) == ["uid-never", "uid-never-2"]
    assert world.maintenance.sync_calendars(NOW) == {"synced": 1, "needs_reauth": 0, "errors": 0, "more": False}
    assert world.google.synced[-1] == "uid-stale"


def test_cleanup_deletes_what_is_past_its_time():
    world = World(max_deletions=2)
    for n, expires in enumerate((NOW - H, NOW - H, NOW - H, NOW + H)):
        world.states.add(OAuthState(f"s{n}", "u", WORKSPACE, GOOGLE, None, SealedSecret("dg==", "1"), None, NOW - 2 * H, expires))
    world.cleanup.idempotency.update({"old": NOW - H, "live": NOW + H})
    email = OutboxEmail("e1", "invitation", "host", "h@x.example", WORKSPACE, "iv-1", 0)
    world.outbox.add(email, NOW - 40 * 24 * H)
    world.outbox.claim("e1", NOW - 40 * 24 * H, NOW)
    world.outbox.finish("e1", {"status": "sent"}, NOW - 40 * 24 * H)
    summary = world.maintenance.clean_up(NOW)
    assert summary == {"more": True, "oauth_states_deleted": 2, "idempotency_deleted": 1, "outbox_deleted": 1}
    assert world.maintenance.clean_up(NOW) == {
        "more": False,
        "oauth_states_deleted": 1,
        "idempotency_deleted": 0,
        "outbox_deleted": 0,
    }
    assert set(world.states.states) == {"s3"} and world.outbox.get("e1") is None


def test_run_jobs_reports_a_failing_job_and_runs_the_others():
    world = World()
    world.tasks.fail = Unavailable("Tasks down")
    summary = run_jobs({**world.maintenance.jobs(), "broken": lambda now: 1 / 0}, None, NOW)
    assert summary["jobs"]["broken"] == {"ok": False, "error": "internal"}
    assert all(summary["jobs"][name]["ok"] for name in ("connections", "calendars", "cleanup"))
    assert summary["ran_at"] == "2026-06-01T12:00:00Z"


@pytest.mark.parametrize("requested", [[], ["nope"], "cleanup"])
def test_unknown_jobs_are_refused(requested):
    from shared.errors import BadRequest

    with pytest.raises(BadRequest):
        run_jobs(World().maintenance.jobs(), requested, NOW)
