"""Connecting a host's Google account (SPEC §2.1): connect, callback, status, disconnect, sync.

The flow, and why each step exists:
1. ``start`` (host, ID token): a random ``state`` is created and bound to the host; only its
   hash is stored, with the PKCE verifier encrypted. The host gets a start URL of ours.
2. ``open_in_browser`` (the front-end's top-level form POST of the start URL, carrying the
   host's ID token): binds the attempt to that browser with an HttpOnly cookie, then sends
   it to Google's consent page. The binding is set only when the POST comes from one of
   the configured front-end origins AND its ID token is the user who asked for the link:
   a link forwarded to (or planted on) someone else binds nothing, so it can never connect
   the victim's Google account to the requester (OAuth account-linking CSRF). The origin
   check is what stops a requester from posting their own token from a page of theirs.
3. ``complete`` (Google's redirect to our callback): the state is consumed in a
   transaction (single use), the browser binding checked, the code exchanged with the
   stored verifier, the granted scopes checked, the refresh token stored encrypted, the
   calendar list synced. The result names the Google account and the Convene user linked.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import secrets
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlencode, urlsplit, urlunsplit

from shared import logs
from shared.auth.principal import Principal, PrincipalKind
from shared.clock import Clock
from shared.config import Settings
from shared.domain.connections import (
    GOOGLE,
    SCOPE_LABELS,
    Connection,
    ConnectionStatus,
    GoogleAuthRequired,
    OAuthState,
    ProviderError,
    missing_scopes,
    refresh_token_context,
    result_url_allowed,
)
from shared.errors import BadRequest, ConveneError, NeedsGoogleAuth, PermissionDenied

logger = logging.getLogger(__name__)

COOKIE_PREFIX = "convene_oauth_"


def state_hash(state: str) -> str:
    return hashlib.sha256(state.encode("utf-8")).hexdigest()


def binding_hash(nonce: str) -> str:
    return hashlib.sha256(("browser:" + nonce).encode("utf-8")).hexdigest()


def cookie_name(hashed_state: str) -> str:
    """One cookie per attempt, so two tabs connecting at once do not overwrite each other."""
    return COOKIE_PREFIX + hashed_state[:16]


@dataclass(frozen=True)
class ConnectLink:
    url: str
    expires_at: datetime


@dataclass(frozen=True)
class BrowserStart:
    google_url: str
    cookie_name: str
    cookie_value: str
    max_age_seconds: int


@dataclass(frozen=True)
class Outcome:
    """What the callback tells the host (redirect parameters or the result page)."""

    connected: bool
    code: str
    message: str
    result_url: str | None
    account_email: str | None = None
    missing_scopes: tuple[str, ...] = ()
    convene_user: str | None = None  # the Convene user (email, else uid) the Google account was linked to

    def redirect_location(self) -> str | None:
        if self.result_url is None:
            return None
        params = {"google_connection": "connected" if self.connected else "failed"}
        if not self.connected:
            params["error"] = self.code
        parts = urlsplit(self.result_url)  # keep the front-end's own query and fragment intact
        query = f"{parts.query}&{urlencode(params)}" if parts.query else urlencode(params)
        return urlunsplit(parts._replace(query=query))


class OAuthRejected(ConveneError):
    """A callback that must not proceed; answered on the result page or redirect, never as JSON."""

    status = 400
    code = "oauth_rejected"


class StartRefused(PermissionDenied):
    """A start that came from elsewhere than the front-end, or from another user: nothing is bound."""


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


class GoogleConnections:
    def __init__(
        self,
        *,
        settings: Settings,
        clock: Clock,
        states: Any,
        connections: Any,
        users: Any,
        cipher: Any,
        oauth: Any,
        calendar: Any,
        credentials: Any,
    ):
        # oauth, calendar and credentials are zero-argument factories: built only when a request needs Google.
        self._settings = settings
        self._clock = clock
        self._states = states
        self._connections = connections
        self._users = users
        self._cipher = cipher
        self._oauth = oauth
        self._calendar = calendar
        self._credentials = credentials

    # -- 1. connect ---------------------------------------------------------------------

    def _host(self, principal: Principal) -> Any:
        from shared.domain.models import Role

        if principal.kind is not PrincipalKind.USER:
            raise PermissionDenied("Only hosts can connect a Google account.", code="not_a_host")
        user = self._users.get(principal.subject)
        if user is None or user.role not in (Role.HOST, Role.ADMIN):
            raise PermissionDenied("Only hosts of a workspace can connect a Google account.", code="not_a_host")
        return user

    def start(self, principal: Principal, requested_result_url: str | None) -> ConnectLink:
        if requested_result_url is not None and not isinstance(requested_result_url, str):
            raise BadRequest("redirect_to must be a string.", code="invalid_redirect")
        result_url = result_url_allowed(requested_result_url, self._settings.oauth_result_urls)
        if requested_result_url is not None and result_url is None:
            raise BadRequest("redirect_to is not one of the configured front-end URLs.", code="redirect_not_allowed")
        user = self._host(principal)
        return self._new_attempt(user, result_url)

    def _new_attempt(self, user: Any, result_url: str | None) -> ConnectLink:
        uid, workspace_id = user.uid, user.workspace_id
        state = secrets.token_urlsafe(32)
        _, verifier = self._oauth().authorization_url(state, login_hint=user.email)  # the URL is rebuilt at /start
        now = self._clock.now()
        hashed = state_hash(state)
        attempt = OAuthState(
            state_hash=hashed,
            uid=uid,
            workspace_id=workspace_id,
            provider=GOOGLE,
            result_url=result_url,
            code_verifier=self._cipher.seal(verifier, context=f"oauth_states/{hashed}"),
            login_hint=user.email,
            created_at=now,
            expires_at=now + timedelta(minutes=self._settings.oauth_state_ttl_minutes),
        )
        self._states.add(attempt)
        return ConnectLink(f"{self._settings.oauth_public_url}/start?{urlencode({'state': state})}", attempt.expires_at)

    def consent_error(self, principal: Principal, reason: str) -> NeedsGoogleAuth:
        """The one error a host action answers when Google needs the host's consent again."""
        user = self._host(principal)
        link = self._new_attempt(user, result_url_allowed(None, self._settings.oauth_result_urls))
        message = (
            "Connect your Google account first."
            if reason == "not_connected"
            else "Google no longer accepts your connection; please reconnect your Google account."
        )
        return NeedsGoogleAuth(message, link.url, reason=reason)

    # -- 2. start in the browser ----------------------------------------------------------

    def start_origins(self) -> frozenset[str]:
        """Where a start may be posted from: the front-end origins (CORS) and those of the result URLs."""
        return frozenset(self._settings.cors_origins) | {_origin(u) for u in self._settings.oauth_result_urls}

    def check_start_origin(self, origin: str | None) -> None:
        """A browser always sends ``Origin`` with a form POST; only the front-end's own pages may start.

        Without this, a requester could auto-post their own link and ID token from a page of
        theirs and have a victim's browser bound to their attempt.
        """
        if not origin or origin not in self.start_origins():
            logs.log(logger, logging.WARNING, "oauth start from an unknown origin", event="oauth_start_foreign_origin")
            raise StartRefused(
                "Connecting Google must be started from the Convene app. Start again from the app.", code="start_not_from_app"
            )

    def open_in_browser(self, state: str, user: Principal) -> BrowserStart:
        """Bind the attempt to this browser, if ``user`` (the posted ID token) asked for it."""
        if not state or len(state) > 200:
            raise OAuthRejected("This connect link is not valid. Start again from the app.", code="invalid_state")
        hashed = state_hash(state)
        now = self._clock.now()
        found = self._states.get(hashed)
        if found is None or found.expired(now) or found.browser_binding is not None:
            raise OAuthRejected(
                "This connect link has expired or was already used. Start again from the app.", code="invalid_state"
            )
        if user.kind is not PrincipalKind.USER or user.subject != found.uid:
            logs.log(logger, logging.WARNING, "oauth start by another user", event="state_user_mismatch", user_id=found.uid)
            raise StartRefused(
                "This connect link was created for another Convene user. Sign in as that user, or start again from the app.",
                code="not_your_link",
            )
        nonce = secrets.token_urlsafe(32)
        attempt = self._states.bind_browser(hashed, binding_hash(nonce), now)  # once: a concurrent start loses here
        if attempt is None:
            raise OAuthRejected(
                "This connect link has expired or was already used. Start again from the app.", code="invalid_state"
            )
        remaining = int((attempt.expires_at - self._clock.now()).total_seconds())
        verifier = self._cipher.open(attempt.code_verifier, context=f"oauth_states/{hashed}")
        google_url, _ = self._oauth().authorization_url(state, login_hint=attempt.login_hint, code_verifier=verifier)
        return BrowserStart(google_url, cookie_name(hashed), nonce, max(remaining, 1))

    # -- 3. callback ----------------------------------------------------------------------

    def complete(self, *, state: str | None, code: str | None, error: str | None, cookies: dict[str, str]) -> Outcome:
        default_url = result_url_allowed(None, self._settings.oauth_result_urls)
        if not state or len(state) > 200:
            return Outcome(False, "invalid_state", "The connection attempt is not valid. Start again from the app.", default_url)
        hashed = state_hash(state)
        attempt = self._states.consume(hashed)  # single use, whatever happens next
        now = self._clock.now()
        if attempt is None or attempt.expired(now):
            return Outcome(
                False, "invalid_state", "This connection attempt has expired or was already used. Start again.", default_url
            )
        nonce = cookies.get(cookie_name(hashed), "")
        if attempt.browser_binding is None or not hmac.compare_digest(binding_hash(nonce), attempt.browser_binding):
            logs.log(
                logger,
                logging.WARNING,
                "oauth callback from another browser",
                event="state_browser_mismatch",
                user_id=attempt.uid,
            )
            return Outcome(
                False, "invalid_state", "This connection attempt was started elsewhere. Start again from the app.", default_url
            )
        result_url = attempt.result_url
        if error:
            reason = "access_denied" if error == "access_denied" else "google_error"
            message = (
                "You did not allow access to your Google account." if reason == "access_denied" else "Google reported an error."
            )
            return Outcome(False, reason, message, result_url)
        if not code or len(code) > 2048:
            return Outcome(False, "missing_code", "Google did not send an authorization code. Start again.", result_url)
        verifier = self._cipher.open(attempt.code_verifier, context=f"oauth_states/{hashed}")
        try:
            grant = self._oauth().exchange(code, verifier)
        except ConveneError as failure:
            return Outcome(False, failure.code, failure.message, result_url)
        missing = missing_scopes(grant.scopes)
        if missing:
            labels = ", ".join(SCOPE_LABELS.get(s, s) for s in missing)
            self._revoke_quietly(grant.refresh_token)
            return Outcome(
                False,
                "missing_scopes",
                f"Convene needs these permissions to work: {labels}. Please connect again and allow them.",
                result_url,
                missing_scopes=tuple(missing),
            )
        if not grant.refresh_token:
            return Outcome(False, "no_refresh_token", "Google did not grant offline access. Please connect again.", result_url)
        connection = Connection(
            uid=attempt.uid,
            workspace_id=attempt.workspace_id,
            provider=GOOGLE,
            status=ConnectionStatus.CONNECTED,
            account_email=grant.account_email,
            scopes=tuple(sorted(grant.scopes)),
            refresh_token=self._cipher.seal(grant.refresh_token, context=refresh_token_context(attempt.uid, GOOGLE)),
            connected_at=now,
            updated_at=now,
            account_id=grant.account_id,
        )
        self._connections.save(connection)
        self._credentials().prime(connection, grant.access_token, grant.expires_in)
        logs.log(logger, logging.INFO, "google connected", event="google_connected", user_id=attempt.uid)
        try:
            self._sync(connection)
        except (ConveneError, GoogleAuthRequired):
            pass  # connected all the same; last_error says why the list is empty, a later sync fills it
        convene_user = attempt.login_hint or attempt.uid
        return Outcome(
            True,
            "connected",
            f"Google Calendar is connected as {grant.account_email} for the Convene user {convene_user}.",
            result_url,
            account_email=grant.account_email,
            convene_user=convene_user,
        )

    def _revoke_quietly(self, token: str | None) -> None:
        if token:
            try:
                self._oauth().revoke(token)
            except ConveneError:
                logger.warning("could not revoke a rejected partial grant")

    # -- status, sync, disconnect -------------------------------------------------------------

    def status(self, principal: Principal) -> dict[str, Any]:
        if principal.kind is not PrincipalKind.USER:
            raise PermissionDenied("Only hosts have a Google connection.", code="not_a_host")
        return connection_view(self._connections.get(principal.subject, GOOGLE))

    def _sync(self, connection: Connection) -> Connection:
        try:
            credentials = self._credentials().for_connection(connection)
            calendars = self._calendar().list_calendars(credentials)
        except ConveneError as failure:
            if not isinstance(failure, NeedsGoogleAuth):
                self._connections.record_error(
                    connection.uid, GOOGLE, ProviderError(failure.code, failure.message, self._clock.now())
                )
            raise
        now = self._clock.now()
        self._connections.record_sync(connection.uid, GOOGLE, calendars, now)
        return replace(connection, calendars=calendars, last_sync_at=now, last_error=None)

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

    def credentials_for(self, connection: Connection) -> Any:
        """Valid Google credentials of a usable connection (GoogleAuthRequired otherwise)."""
        return self._credentials().for_connection(connection)

    def sync_calendars(self, principal: Principal) -> dict[str, Any]:
        connection = self.usable_connection(principal)
        try:
            return connection_view(self._sync(connection))
        except GoogleAuthRequired as required:
            raise self.consent_error(principal, required.reason) from None

    def disconnect(self, principal: Principal) -> dict[str, Any]:
        if principal.kind is not PrincipalKind.USER:
            raise PermissionDenied("Only hosts have a Google connection.", code="not_a_host")
        connection = self._connections.get(principal.subject, GOOGLE)
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


def _rfc3339(value: datetime | None) -> str | None:
    return None if value is None else value.astimezone(UTC).isoformat().replace("+00:00", "Z")


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
        "connected_at": _rfc3339(connection.connected_at),
        "last_sync_at": _rfc3339(connection.last_sync_at),
        "last_error": None
        if connection.last_error is None
        else {
            "code": connection.last_error.code,
            "message": connection.last_error.message,
            "at": _rfc3339(connection.last_error.at),
        },
    }
