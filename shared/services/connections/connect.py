"""Connecting a host's Google account: the connect link, the browser start, Google's callback.

See shared.services.connections for the flow and why each step exists. Who may connect is
the access policy's ``member`` rule (shared.services.access), as for every host action.
"""

from __future__ import annotations

import hmac
import logging
import secrets
from collections.abc import Callable
from dataclasses import replace
from datetime import timedelta
from typing import TYPE_CHECKING, Any, Protocol
from urllib.parse import urlencode

from shared import logs
from shared.auth.principal import Principal, PrincipalKind
from shared.domain.connections import (
    GOOGLE,
    SCOPE_LABELS,
    Connection,
    ConnectionStatus,
    GoogleAuthRequired,
    OAuthState,
    ProviderError,
    SealedSecret,
    missing_scopes,
    refresh_token_context,
    result_url_allowed,
)
from shared.errors import BadRequest, ConveneError, NeedsGoogleAuth
from shared.services.access import AccessPolicy, Member
from shared.services.connections.outcomes import (
    BrowserStart,
    ConnectLink,
    OAuthRejected,
    Outcome,
    StartRefused,
    binding_hash,
    cookie_name,
    origin_of,
    state_hash,
)

if TYPE_CHECKING:
    from shared.clock import Clock
    from shared.config import Settings
    from shared.ports import ConnectionCredentials, ConnectionRepository, OAuthStateRepository

logger = logging.getLogger(__name__)


class Cipher(Protocol):
    """shared.crypto.TokenCipher: secrets sealed under a context they are bound to."""

    def seal(self, plaintext: str, *, context: str) -> SealedSecret: ...

    def open(self, sealed: SealedSecret, *, context: str) -> str: ...


class ConnectFlow:
    def __init__(
        self,
        *,
        settings: Settings,
        clock: Clock,
        access: AccessPolicy,
        states: OAuthStateRepository,
        connections: ConnectionRepository,
        cipher: Cipher,
        oauth: Callable[[], Any],
        calendar: Callable[[], Any],
        credentials: Callable[[], ConnectionCredentials],
    ):
        # oauth, calendar and credentials are zero-argument factories: built only when a request needs Google.
        self._settings = settings
        self._clock = clock
        self._access = access
        self._states = states
        self._connections = connections
        self._cipher = cipher
        self._oauth = oauth
        self._calendar = calendar
        self._credentials = credentials

    # -- 1. connect ---------------------------------------------------------------------

    def start(self, principal: Principal, requested_result_url: str | None) -> ConnectLink:
        if requested_result_url is not None and not isinstance(requested_result_url, str):
            raise BadRequest("redirect_to must be a string.", code="invalid_redirect")
        result_url = result_url_allowed(requested_result_url, self._settings.oauth_result_urls)
        if requested_result_url is not None and result_url is None:
            raise BadRequest("redirect_to is not one of the configured front-end URLs.", code="redirect_not_allowed")
        return self._new_attempt(self._access.member(principal), result_url)

    def _new_attempt(self, user: Member, result_url: str | None) -> ConnectLink:
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
        link = self._new_attempt(self._access.member(principal), result_url_allowed(None, self._settings.oauth_result_urls))
        message = (
            "Connect your Google account first."
            if reason == "not_connected"
            else "Google no longer accepts your connection; please reconnect your Google account."
        )
        return NeedsGoogleAuth(message, link.url, reason=reason)

    # -- 2. start in the browser ----------------------------------------------------------

    def start_origins(self) -> frozenset[str]:
        """Where a start may be posted from: the front-end origins (CORS) and those of the result URLs."""
        return frozenset(self._settings.cors_origins) | {origin_of(u) for u in self._settings.oauth_result_urls}

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
