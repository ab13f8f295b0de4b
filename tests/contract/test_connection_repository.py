"""ConnectionRepository: the writes the credentials manager and services rely on, and the
maintenance run's queries."""

from __future__ import annotations

from datetime import timedelta

import pytest

from shared.domain.connections import GOOGLE, CalendarEntry, Connection, ConnectionStatus, ProviderError, SealedSecret
from shared.ports import ConnectedEntry, DoesNotExist, ReauthIncident
from tests.contract.conftest import BACKENDS, backend_param
from tests.factories import NOW, WORKSPACE
from tests.fakes import FakeConnectionRepository

H = timedelta(hours=1)
TOKEN = SealedSecret("c2VhbGVk", "1")


@pytest.fixture(params=BACKENDS)
def repo(request):
    db = backend_param(request)
    if db is None:
        return FakeConnectionRepository()
    from shared.adapters.connections import ConnectionRepository

    return ConnectionRepository(db)


def connection(uid, status=ConnectionStatus.CONNECTED, **changes):
    return Connection(
        uid=uid,
        workspace_id=WORKSPACE,
        provider=GOOGLE,
        status=status,
        account_email=f"{uid}@acme.example",
        scopes=("openid",),
        calendars=(CalendarEntry("primary", "Main", True, "owner", "Europe/Berlin", "#fff"),),
        refresh_token=TOKEN,
        connected_at=NOW - 48 * H,
        updated_at=NOW - 48 * H,
        account_id=f"sub-{uid}",
        **changes,
    )


def test_absent_is_none_and_a_saved_connection_reads_back(repo):
    assert repo.get("uid-nope", GOOGLE) is None
    saved = connection("uid-a", last_sync_at=NOW - H)
    repo.save(saved)
    assert repo.get("uid-a", GOOGLE) == saved


def test_an_error_needing_reauth_marks_it_and_drops_the_token(repo):
    repo.save(connection("uid-a"))
    repo.record_error("uid-a", GOOGLE, ProviderError("timeout", "slow", NOW))
    kept = repo.get("uid-a", GOOGLE)
    assert kept.status is ConnectionStatus.CONNECTED and kept.refresh_token == TOKEN and kept.last_error.code == "timeout"
    repo.record_error("uid-a", GOOGLE, ProviderError("invalid_grant", "revoked", NOW), needs_reauth=True)
    marked = repo.get("uid-a", GOOGLE)
    assert marked.status is ConnectionStatus.NEEDS_REAUTH and marked.refresh_token is None
    assert marked.last_error == ProviderError("invalid_grant", "revoked", NOW)


def test_sync_token_and_disconnect(repo):
    repo.save(connection("uid-a", last_error=ProviderError("x", "y", NOW - H)))
    entry = CalendarEntry("team", "Team", False, "writer", None, None)
    repo.record_sync("uid-a", GOOGLE, (entry,), NOW)
    synced = repo.get("uid-a", GOOGLE)
    assert (synced.calendars, synced.last_sync_at, synced.last_error) == ((entry,), NOW, None)
    repo.store_refresh_token("uid-a", GOOGLE, SealedSecret("bmV3", "2"), NOW)
    assert repo.get("uid-a", GOOGLE).refresh_token == SealedSecret("bmV3", "2")
    repo.disconnect("uid-a", GOOGLE, NOW)
    gone = repo.get("uid-a", GOOGLE)
    assert (gone.status, gone.refresh_token, gone.scopes, gone.calendars) == (ConnectionStatus.NOT_CONNECTED, None, (), ())


def test_changes_need_the_connection(repo):
    for change in (
        lambda: repo.update("uid-nope", GOOGLE, {"status": "connected"}),
        lambda: repo.record_sync("uid-nope", GOOGLE, (), NOW),
        lambda: repo.record_error("uid-nope", GOOGLE, ProviderError("x", "y", NOW), needs_reauth=True),
        lambda: repo.store_refresh_token("uid-nope", GOOGLE, TOKEN, NOW),
        lambda: repo.mark_notified("uid-nope", GOOGLE, "notice", NOW),
        lambda: repo.disconnect("uid-nope", GOOGLE, NOW),
    ):
        with pytest.raises(DoesNotExist):
            change()
    assert repo.get("uid-nope", GOOGLE) is None


def test_connected_pages_in_key_order_after_a_cursor(repo):
    for uid in ("uid-c", "uid-a", "uid-d", "uid-b"):
        repo.save(connection(uid))
    repo.save(connection("uid-aa", ConnectionStatus.NEEDS_REAUTH))
    first = repo.connected_page(after=None, limit=2)
    assert first == [ConnectedEntry("uid-a_google", "uid-a"), ConnectedEntry("uid-b_google", "uid-b")]
    assert [e.uid for e in repo.connected_page(after=first[-1].key, limit=5)] == ["uid-c", "uid-d"]
    assert repo.connected_page(after="uid-d_google", limit=5) == []


def test_calendar_lists_never_read_then_read_before_a_time_oldest_first(repo):
    repo.save(connection("uid-never"))
    repo.save(connection("uid-old", last_sync_at=NOW - 48 * H))
    repo.save(connection("uid-older", last_sync_at=NOW - 72 * H))
    repo.save(connection("uid-fresh", last_sync_at=NOW - H))
    repo.save(connection("uid-dead", ConnectionStatus.NEEDS_REAUTH))
    assert repo.never_synced_uids(10) == ["uid-never"]
    assert repo.synced_before_uids(NOW - 24 * H, 10) == ["uid-older", "uid-old"]
    assert repo.synced_before_uids(NOW - 24 * H, 1) == ["uid-older"]


def test_reauth_incidents_since_a_time_and_the_notice_sent(repo):
    repo.save(connection("uid-new", ConnectionStatus.NEEDS_REAUTH, last_error=ProviderError("invalid_grant", "r", NOW - H)))
    repo.save(connection("uid-old", ConnectionStatus.NEEDS_REAUTH, last_error=ProviderError("invalid_grant", "r", NOW - 200 * H)))
    repo.save(connection("uid-ok", last_error=ProviderError("timeout", "t", NOW - H)))
    assert repo.needs_reauth_since(NOW - 24 * H, 10) == [ReauthIncident("uid-new", WORKSPACE, NOW - H, None)]
    repo.mark_notified("uid-new", GOOGLE, "reconnect-uid-new-1", NOW)
    assert repo.needs_reauth_since(NOW - 24 * H, 10)[0].notice_id == "reconnect-uid-new-1"
