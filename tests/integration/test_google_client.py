"""The Google client layer against the sandbox: one refresh at a time, the refresh token
kept, invalid_grant, key rotation, retries on refresh, Meet conference records."""

from __future__ import annotations

import threading
import uuid
from datetime import UTC, datetime, timedelta

import pytest

from devstack.stack import OAUTH_CLIENT_ID, TOKEN_KEY_SECRET
from shared.bootstrap import Container
from shared.domain.connections import (
    CALENDAR_EVENTS,
    CALENDAR_FREEBUSY,
    CALENDAR_LIST,
    EMAIL,
    GOOGLE,
    MEET_READONLY,
    OPENID,
    Connection,
    ConnectionStatus,
)
from shared.google.credentials import GoogleAuthRequired, refresh_token_context
from shared.secrets import SecretManagerSecrets

SCOPES = [OPENID, EMAIL, CALENDAR_EVENTS, CALENDAR_FREEBUSY, CALENDAR_LIST, MEET_READONLY]


class Ticker:
    def __init__(self):
        self.now = 0.0

    def __call__(self):
        return self.now


@pytest.fixture
def google(sandbox, settings, db, clock, project_id):
    """A container whose secrets cache runs on a controllable clock, and a stored connection."""
    ticker = Ticker()
    c = Container(
        settings, clock=clock, firestore_client=db, secrets=SecretManagerSecrets(project_id, sandbox.url, monotonic=ticker)
    )
    email = f"g-{uuid.uuid4().hex[:8]}@gmail.example"
    sandbox.add_google_account(email, "G")
    tokens = sandbox.sandbox.oauth.issue_tokens(OAUTH_CLIENT_ID, email, SCOPES)
    uid = f"uid-{uuid.uuid4().hex[:8]}"
    connection = Connection(
        uid=uid,
        workspace_id="ws",
        provider=GOOGLE,
        status=ConnectionStatus.CONNECTED,
        account_email=email,
        scopes=tuple(SCOPES),
        refresh_token=c.token_cipher.seal(tokens["refresh_token"], context=refresh_token_context(uid, GOOGLE)),
    )
    c.connections.save(connection)
    return c, connection, tokens, ticker, email


def refreshes(sandbox, refresh_token):
    return [c for c in sandbox.calls("/token") if (c.get("body") or {}).get("refresh_token") == refresh_token]


def test_concurrent_first_calls_refresh_once(google, sandbox):
    c, connection, tokens, _, _ = google
    results, barrier = [], threading.Barrier(6)

    def call():
        barrier.wait()
        results.append(c.google_credentials.for_connection(connection).token)

    threads = [threading.Thread(target=call) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(set(results)) == 1 and results[0]
    assert len(refreshes(sandbox, tokens["refresh_token"])) == 1


def test_the_refresh_token_is_kept_when_google_does_not_resend_it(google, sandbox):
    c, connection, tokens, _, _ = google
    credentials = c.google_credentials.for_connection(connection)
    credentials.expiry = datetime.now(UTC).replace(tzinfo=None) - timedelta(
        seconds=1
    )  # as if an hour had passed (google-auth: naive UTC)
    again = c.google_credentials.for_connection(connection)
    assert again.refresh_token == tokens["refresh_token"] and again.valid
    assert len(refreshes(sandbox, tokens["refresh_token"])) == 2
    assert c.calendar_api.list_calendars(again)  # the refreshed token works


def test_a_transient_failure_of_the_refresh_is_retried(google, sandbox):
    c, connection, _, _, _ = google
    sandbox.inject("^/token$", [{"status": 503}, {"status": 429}], method="POST")
    try:
        assert c.google_credentials.for_connection(connection).valid
    finally:
        sandbox.sandbox.faults.clear()
    assert [call["status"] for call in sandbox.calls("/token")[-3:]] == [503, 429, 200]


def test_invalid_grant_marks_needs_reauth_and_deletes_the_dead_token(google, sandbox):
    c, connection, _, _, email = google
    sandbox.revoke_google_grants(email)
    with pytest.raises(GoogleAuthRequired) as excinfo:
        c.google_credentials.for_connection(connection)
    assert excinfo.value.reason == "needs_reauth"
    stored = c.connections.get(connection.uid, GOOGLE)
    assert stored.status is ConnectionStatus.NEEDS_REAUTH and stored.refresh_token is None
    assert stored.last_error.code == "invalid_grant"


def test_a_rotated_key_still_decrypts_and_the_token_is_resealed_under_the_new_one(google, sandbox):
    import base64
    import os

    c, connection, tokens, ticker, _ = google
    old_version = connection.refresh_token.key_version
    new_version = sandbox.put_secret(TOKEN_KEY_SECRET, base64.b64encode(os.urandom(32)).decode())
    ticker.now += 301  # the instance's secret cache expires; 'latest' is now the new key
    assert c.google_credentials.for_connection(connection).refresh_token == tokens["refresh_token"]
    stored = c.connections.get(connection.uid, GOOGLE)
    assert stored.refresh_token.key_version == new_version != old_version
    assert (
        c.token_cipher.open(stored.refresh_token, context=refresh_token_context(connection.uid, GOOGLE))
        == tokens["refresh_token"]
    )


def test_meet_conference_records_by_meeting_code(google, sandbox):
    c, connection, _, _, email = google
    start = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
    sandbox.add_conference_record(
        "abc-mnop-xyz",
        start,
        start + timedelta(minutes=40),
        participants=[
            {"display_name": "Hana", "email": email, "earliest_start": start, "latest_end": start + timedelta(minutes=40)},
            {"display_name": "Gus", "earliest_start": start + timedelta(minutes=2), "latest_end": start + timedelta(minutes=38)},
        ],
    )
    credentials = c.google_credentials.for_connection(connection)
    records = c.meet_api.conference_records(credentials, "abc-mnop-xyz")
    assert len(records) == 1 and records[0].end - records[0].start == timedelta(minutes=40)
    assert sorted(p.display_name for p in records[0].participants) == ["Gus", "Hana"]
    assert c.meet_api.conference_records(credentials, "zzz-zzzz-zzz") == ()
    assert c.meet_api.service() is c.meet_api.service()  # built once per instance
