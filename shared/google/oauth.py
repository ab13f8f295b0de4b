"""Google's OAuth 2.0 authorization-code flow with PKCE, through google-auth-oauthlib.

Transport failures (429, 5xx, timeouts) on the token and revoke endpoints are retried by
urllib3's ``Retry`` (exponential backoff with jitter, ``Retry-After`` honoured); a 4xx is
final. Nothing here logs or returns a token, a code or the client secret.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from typing import Any

from shared.auth.certs import CertificateCache
from shared.auth.tokens import GOOGLE_ISSUERS, decode_google_jwt
from shared.config import Settings
from shared.domain.connections import REQUESTED_SCOPES
from shared.errors import InternalError, Unauthenticated, Unavailable, Unprocessable
from shared.secrets import Secrets

logger = logging.getLogger(__name__)

RETRY_STATUSES = (429, 500, 502, 503, 504)


@dataclass(frozen=True)
class OAuthClient:
    client_id: str
    client_secret: str = field(repr=False)


@dataclass(frozen=True)
class TokenGrant:
    refresh_token: str | None = field(repr=False)
    scopes: tuple[str, ...]
    account_email: str
    access_token: str | None = field(default=None, repr=False)
    expires_in: int | None = None
    account_id: str | None = None  # the Google account's stable `sub` (how Meet names the host)


class CodeExchangeFailed(Unprocessable):
    """Google refused the code (expired, reused, wrong verifier): the host must start again."""

    code = "oauth_code_rejected"


def load_client(secrets: Secrets, secret_name: str) -> OAuthClient:
    try:
        data = json.loads(secrets.get(secret_name).value)
        return OAuthClient(str(data["client_id"]), str(data["client_secret"]))
    except (ValueError, KeyError, TypeError):
        logger.error("oauth client secret is malformed", extra={"fields": {"secret": secret_name}})
        raise InternalError() from None


def retry_adapter(settings: Settings) -> Any:
    """A requests adapter that retries transient failures with jittered exponential backoff."""
    from requests.adapters import HTTPAdapter
    from urllib3.util.retry import Retry

    return HTTPAdapter(
        max_retries=Retry(
            total=settings.google_retries,
            status_forcelist=RETRY_STATUSES,
            allowed_methods=frozenset({"GET", "POST"}),
            backoff_factor=0.5 * settings.google_backoff_scale,
            backoff_jitter=0.5 * settings.google_backoff_scale,
            respect_retry_after_header=True,
            raise_on_status=False,
        )
    )


def mount_retries(session: Any, settings: Settings) -> Any:
    adapter = retry_adapter(settings)
    session.mount("https://", adapter)
    session.mount("http://", adapter)
    return session


class GoogleOAuth:
    def __init__(self, settings: Settings, client: OAuthClient, google_certs: CertificateCache):
        self._settings = settings
        self._client = client
        self._certs = google_certs

    def _flow(self, code_verifier: str | None = None) -> Any:
        from google_auth_oauthlib.flow import Flow

        config = {
            "web": {
                "client_id": self._client.client_id,
                "client_secret": self._client.client_secret,
                "auth_uri": self._settings.google_auth_uri,
                "token_uri": self._settings.google_token_uri,
            }
        }
        scopes = [*REQUESTED_SCOPES, *(s for s in self._settings.google_optional_scopes if s not in REQUESTED_SCOPES)]
        flow = Flow.from_client_config(
            config,
            scopes=scopes,
            redirect_uri=self._settings.oauth_callback_url,
            code_verifier=code_verifier,
            autogenerate_code_verifier=code_verifier is None,
        )
        return flow

    def authorization_url(self, state: str, login_hint: str | None = None, code_verifier: str | None = None) -> tuple[str, str]:
        """Google's consent URL for ``state`` and the PKCE verifier to keep server-side.

        ``prompt=consent`` makes Google issue a refresh token on every connect, not only the
        first; ``login_hint`` pre-selects the host's account in Google's account chooser. With
        ``code_verifier`` the same URL is rebuilt (its challenge derives from the verifier), so
        the URL — which carries the state — never has to be stored.
        """
        flow = self._flow(code_verifier)
        extra = {"login_hint": login_hint} if login_hint else {}
        url, _ = flow.authorization_url(
            access_type="offline", include_granted_scopes="true", prompt="consent", state=state, **extra
        )
        return url, flow.code_verifier

    def exchange(self, code: str, code_verifier: str) -> TokenGrant:
        import requests
        from oauthlib.oauth2.rfc6749.errors import OAuth2Error

        flow = self._flow(code_verifier)
        mount_retries(flow.oauth2session, self._settings)
        try:
            token = flow.fetch_token(code=code, timeout=self._settings.google_timeout_seconds)
        except Warning as changed:  # oauthlib's signal that fewer scopes were granted than asked
            token = getattr(changed, "token", None)
            if not isinstance(token, dict):
                raise Unavailable("Google's token endpoint answered unexpectedly; try again.") from None
        except OAuth2Error as exc:
            if exc.error in ("invalid_grant", "invalid_request"):
                raise CodeExchangeFailed("Google did not accept the authorization; please connect again.") from None
            logger.warning("token exchange failed", extra={"fields": {"error_code": str(exc.error)[:40]}})
            raise Unavailable("Google's token endpoint is unavailable; try again shortly.") from None
        except (requests.RequestException, ValueError):
            raise Unavailable("Google's token endpoint is unavailable; try again shortly.") from None
        scopes = (
            tuple(str(token.get("scope", "")).split()) if isinstance(token.get("scope"), str) else tuple(token.get("scope") or ())
        )
        expires_in = token.get("expires_in")
        account_email, account_id = self._account(token.get("id_token"))
        return TokenGrant(
            refresh_token=token.get("refresh_token"),
            scopes=scopes,
            account_email=account_email,
            access_token=token.get("access_token"),
            expires_in=int(expires_in) if isinstance(expires_in, int | float | str) and str(expires_in).isdigit() else None,
            account_id=account_id,
        )

    def _account(self, id_token: Any) -> tuple[str, str | None]:
        """The verified email and the `sub` of the connected account, from the ID token."""
        if not isinstance(id_token, str):
            raise CodeExchangeFailed("Google did not say which account was connected; please connect again.")
        try:
            claims = decode_google_jwt(id_token, self._certs, self._client.client_id)
        except Unauthenticated:
            raise CodeExchangeFailed("Google's answer could not be verified; please connect again.") from None
        email = claims.get("email")
        if claims.get("iss") not in GOOGLE_ISSUERS or not isinstance(email, str) or claims.get("email_verified") is not True:
            raise CodeExchangeFailed("Google did not confirm the account's email; please connect again.")
        sub = claims.get("sub")
        return email, sub if isinstance(sub, str) and sub else None

    def revoke(self, token: str) -> None:
        """Revoke at Google (POST, as Google requires). An already invalid token counts as revoked."""
        import requests

        try:
            response = mount_retries(requests.Session(), self._settings).post(
                self._settings.google_revoke_uri,
                data={"token": token},
                timeout=self._settings.google_timeout_seconds,
                headers={"Content-Type": "application/x-www-form-urlencoded"},
            )
        except requests.RequestException:
            raise Unavailable("Google could not be reached to revoke access; try again shortly.") from None
        if response.status_code == 200 or (response.status_code == 400 and _oauth_error(response) == "invalid_token"):
            return
        raise Unavailable("Google did not confirm the revocation; try again shortly.")


def _oauth_error(response: Any) -> str | None:
    try:
        body = response.json()
    except ValueError:
        return None
    return body.get("error") if isinstance(body, dict) and isinstance(body.get("error"), str) else None
