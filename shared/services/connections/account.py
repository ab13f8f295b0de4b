"""A host's Google connection once made: status, calendar sync, usable credentials, disconnect.

``status`` and ``disconnect`` act on the caller's own connection (any signed-in user; see
``own_account`` in shared.services.access); syncing and using it need a member.
"""

from __future__ import annotations

import logging
from typing import Any

from shared import logs
from shared.auth.principal import Principal
from shared.domain.connections import GOOGLE, Connection, ConnectionStatus, GoogleAuthRequired, refresh_token_context
from shared.domain.timezones import rfc3339_utc_or_none
from shared.ports import GoogleCredentials
from shared.services.access import own_account
from shared.services.connections.connect import ConnectFlow

logger = logging.getLogger(__name__)


class GoogleConnections(ConnectFlow):
    """The connect flow (ConnectFlow) and what a host does with the connection afterwards."""

    def status(self, principal: Principal) -> dict[str, Any]:
        return connection_view(self._connections.get(own_account(principal), GOOGLE))

    def sync_connection(self, connection: Connection) -> Connection:
        """Re-read a stored connection's calendar list without a host request (the daily maintenance sync).

        A failure is recorded on the connection and raised (GoogleAuthRequired when Google
        refused the grant).
        """
        return self._sync(connection)

    def usable_connection(self, principal: Principal) -> Connection:
        """The host's connection with valid credentials, or the needs_google_auth error."""
        connection = self._connections.get(principal.subject, GOOGLE)
        if connection is None:
            raise self.consent_error(principal, "not_connected")
        try:
            self._credentials().for_connection(connection)
        except GoogleAuthRequired as required:
            raise self.consent_error(principal, required.reason) from None
        return connection

    def credentials_of(self, uid: str) -> GoogleCredentials:
        """Valid credentials of ``uid``'s connection, or ``GoogleAuthRequired`` (``not_connected`` /
        ``needs_reauth``): nothing written, no consent link made (a guest's request may ask)."""
        connection = self._connections.get(uid, GOOGLE)
        if connection is None:
            raise GoogleAuthRequired("not_connected")
        return self._credentials().for_connection(connection)

    def credentials_for(self, connection: Connection) -> GoogleCredentials:
        """Valid Google credentials of a usable connection (GoogleAuthRequired otherwise)."""
        return self._credentials().for_connection(connection)

    def sync_calendars(self, principal: Principal) -> dict[str, Any]:
        self._access.member(principal)  # a host or admin of the workspace its token names
        connection = self.usable_connection(principal)
        try:
            return connection_view(self._sync(connection))
        except GoogleAuthRequired as required:
            raise self.consent_error(principal, required.reason) from None

    def disconnect(self, principal: Principal) -> dict[str, Any]:
        connection = self._connections.get(own_account(principal), GOOGLE)
        if connection is None:
            return connection_view(None)
        if connection.refresh_token is not None:
            token = self._cipher.open(connection.refresh_token, context=refresh_token_context(connection.uid, GOOGLE))
            # Unavailable propagates before anything is deleted: the token is kept so that a retry
            # can revoke it (never drop access we cannot withdraw).
            self._oauth().revoke(token)
        now = self._clock.now()
        self._connections.disconnect(connection.uid, GOOGLE, now)
        self._credentials().forget(connection.uid)
        logs.log(logger, logging.INFO, "google disconnected", event="google_disconnected", user_id=connection.uid)
        return connection_view(self._connections.get(connection.uid, GOOGLE))


def connection_view(connection: Connection | None) -> dict[str, Any]:
    """The seeds' check-connection answer (``connected``) with the richer fields of SPEC §2.1."""
    if connection is None:
        return {
            "connected": False,
            "status": ConnectionStatus.NOT_CONNECTED.value,
            "provider": GOOGLE,
            "account_email": None,
            "scopes": [],
            "calendars": [],
            "connected_at": None,
            "last_sync_at": None,
            "last_error": None,
        }
    return {
        "connected": connection.status is ConnectionStatus.CONNECTED,
        "status": connection.status.value,
        "provider": connection.provider,
        "account_email": connection.account_email,
        "scopes": list(connection.scopes),
        "calendars": [
            {
                "id": c.id,
                "summary": c.summary,
                "primary": c.primary,
                "access_role": c.access_role,
                "time_zone": c.time_zone,
                "color": c.color,
            }
            for c in connection.calendars
        ],
        "connected_at": rfc3339_utc_or_none(connection.connected_at),
        "last_sync_at": rfc3339_utc_or_none(connection.last_sync_at),
        "last_error": None
        if connection.last_error is None
        else {
            "code": connection.last_error.code,
            "message": connection.last_error.message,
            "at": rfc3339_utc_or_none(connection.last_error.at),
        },
    }
