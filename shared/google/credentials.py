"""Access tokens for a host's stored connection, refreshed once at a time per connection.

Credentials are cached per instance, so consecutive requests of the same host reuse a
live access token instead of refreshing each time. Only the refresh token is stored
(encrypted); access tokens live in memory only. google-auth performs the refresh,
including its retries of transient token-endpoint failures.
"""

from __future__ import annotations

import logging
import threading
from typing import Any

from shared import logs
from shared.clock import Clock
from shared.config import Settings
from shared.crypto import TokenCipher
from shared.domain.connections import (
    Connection,
    ConnectionStatus,
    GoogleAuthRequired,
    ProviderError,
    refresh_token_context,
)
from shared.errors import Unavailable
from shared.google.oauth import OAuthClient, mount_retries

logger = logging.getLogger(__name__)


class CredentialsManager:
    def __init__(self, settings: Settings, client: OAuthClient, cipher: TokenCipher, connections: Any, clock: Clock):
        self._settings = settings
        self._client = client
        self._cipher = cipher
        self._connections = connections
        self._clock = clock
        self._lock = threading.Lock()
        self._locks: dict[str, threading.Lock] = {}
        self._cache: dict[str, tuple[str, Any]] = {}  # uid -> (ciphertext it came from, Credentials)

    def _lock_for(self, uid: str) -> threading.Lock:
        with self._lock:
            return self._locks.setdefault(uid, threading.Lock())

    def forget(self, uid: str) -> None:
        with self._lock:
            self._cache.pop(uid, None)

    def prime(self, connection: Connection, access_token: str | None, expires_in: int | None) -> None:
        """Start with the access token the code exchange returned: the first call needs no refresh."""
        self.forget(connection.uid)
        if not access_token or not expires_in or connection.refresh_token is None:
            return
        from datetime import UTC, datetime, timedelta

        credentials = self._build(connection)
        credentials.token = access_token
        # google-auth judges validity against the real time (naive UTC), not our clock, so the
        # expiry is on that time too; a margin keeps a token from expiring mid-call.
        real_now = datetime.now(UTC).replace(tzinfo=None)
        credentials.expiry = real_now + timedelta(seconds=max(expires_in - 60, 0))
        with self._lock:
            self._cache[connection.uid] = (connection.refresh_token.ciphertext, credentials)

    def for_connection(self, connection: Connection) -> Any:
        """Valid ``google.oauth2.credentials.Credentials`` for the connection, refreshing if needed."""
        if connection.status is not ConnectionStatus.CONNECTED or connection.refresh_token is None:
            raise GoogleAuthRequired("not_connected" if connection.status is ConnectionStatus.NOT_CONNECTED else "needs_reauth")
        sealed = connection.refresh_token
        with self._lock_for(connection.uid):  # one refresh at a time per connection
            cached = self._cache.get(connection.uid)
            if cached is not None and cached[0] == sealed.ciphertext:
                credentials = cached[1]
            else:
                credentials = self._build(connection)
            if not credentials.valid:
                self._refresh(connection, credentials)
            self._cache[connection.uid] = (sealed.ciphertext, credentials)
            if not self._cipher.is_current(sealed):  # key rotated since: re-encrypt under the newest key
                resealed = self._cipher.seal(
                    credentials.refresh_token, context=refresh_token_context(connection.uid, connection.provider)
                )
                self._connections.store_refresh_token(connection.uid, connection.provider, resealed, self._clock.now())
                self._cache[connection.uid] = (resealed.ciphertext, credentials)
            return credentials

    def _build(self, connection: Connection) -> Any:
        from google.oauth2.credentials import Credentials

        assert connection.refresh_token is not None
        refresh_token = self._cipher.open(
            connection.refresh_token, context=refresh_token_context(connection.uid, connection.provider)
        )
        return Credentials(
            token=None,
            refresh_token=refresh_token,
            token_uri=self._settings.google_token_uri,
            client_id=self._client.client_id,
            client_secret=self._client.client_secret,
            scopes=list(connection.scopes),
        )

    def _refresh(self, connection: Connection, credentials: Any) -> None:
        import requests
        from google.auth.exceptions import RefreshError, TransportError
        from google.auth.transport.requests import Request

        try:
            credentials.refresh(Request(mount_retries(requests.Session(), self._settings)))
        except RefreshError as exc:
            if _is_invalid_grant(exc):
                now = self._clock.now()
                logs.log(logger, logging.WARNING, "google grant revoked or expired", event="needs_reauth", user_id=connection.uid)
                self._connections.record_error(
                    connection.uid,
                    connection.provider,
                    ProviderError("invalid_grant", "Google no longer accepts this connection (revoked or expired).", now),
                    needs_reauth=True,
                )
                self.forget(connection.uid)
                raise GoogleAuthRequired("needs_reauth") from None
            raise Unavailable("Google could not refresh the connection; try again shortly.") from None
        except TransportError:
            raise Unavailable("Google could not be reached; try again shortly.") from None


def _is_invalid_grant(exc: Exception) -> bool:
    """google-auth puts the token endpoint's error (a dict or text) into the exception's args."""
    for arg in exc.args:
        if isinstance(arg, dict) and arg.get("error") == "invalid_grant":
            return True
        if isinstance(arg, str) and "invalid_grant" in arg:
            return True
    return False
