"""Google's OAuth 2.0 endpoints for web server apps: consent page, token, revoke, userinfo.

Strict where Google is strict (exactly registered redirect URIs, single-use short-lived
codes, PKCE, scopes checked on refresh, Google's error codes and texts), so product
code that works against the sandbox meets the same rules in production. The paths are
Google's, so only the host differs from production URLs.

Tokens are opaque random strings shaped like Google's; all state lives behind one lock.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from urllib.parse import parse_qsl, quote, urlencode, urlsplit, urlunsplit

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import rsa
from flask import Blueprint, Response, jsonify, redirect, render_template_string, request
from google.auth import jwt

from .core import GoogleError, JsonObject, json_object
from .identity import CERTS_CACHE_CONTROL, GOOGLE_ISSUER, Identity, _reject_unknown, _required_str, service_account_id

AUTH_PATH = "/o/oauth2/v2/auth"
DECISION_PATH = AUTH_PATH + "/decision"
TOKEN_PATH = "/token"
REVOKE_PATH = "/revoke"
JWKS_PATH = "/oauth2/v3/certs"
USERINFO_PATHS = ("/oauth2/v3/userinfo", "/v1/userinfo")

CODE_LIFETIME = 300
ACCESS_TOKEN_LIFETIME = 3599  # what Google's token endpoint answers as expires_in
ID_TOKEN_LIFETIME = 3600

OPENID = "openid"
_AUTH = "https://www.googleapis.com/auth/"
USERINFO_EMAIL = _AUTH + "userinfo.email"
USERINFO_PROFILE = _AUTH + "userinfo.profile"
# Granted with the account choice itself: Google's granular consent has no opt-out for them.
SIGN_IN_SCOPES = frozenset({OPENID, USERINFO_EMAIL, USERINFO_PROFILE})
_SCOPE_ALIASES = {"email": USERINFO_EMAIL, "profile": USERINFO_PROFILE}

# The Google scopes the sandbox knows (others are `invalid_scope`), with the consent text.
KNOWN_SCOPES: dict[str, str] = {
    OPENID: "Associate you with your personal info on Google",
    USERINFO_EMAIL: "See your primary Google Account email address",
    USERINFO_PROFILE: "See your personal info, including any personal info you've made publicly available",
    _AUTH + "calendar": "See, edit, share, and permanently delete all the calendars you can access using Google Calendar",
    _AUTH + "calendar.readonly": "See and download any calendar you can access using your Google Calendar",
    _AUTH + "calendar.events": "View and edit events on all your calendars",
    _AUTH + "calendar.events.readonly": "View events on all your calendars",
    _AUTH + "calendar.events.owned": "See, create, change, and delete events on Google calendars you own",
    _AUTH + "calendar.events.owned.readonly": "See the events on Google calendars you own",
    _AUTH + "calendar.app.created": "Make secondary Google calendars, and see, create, change, and delete events on them",
    _AUTH + "calendar.calendarlist.readonly": "See the list of Google calendars you're subscribed to",
    _AUTH + "calendar.freebusy": "See the availability on Google calendars you have access to",
    _AUTH + "calendar.settings.readonly": "View your Calendar settings",
    _AUTH + "meetings.space.created": "Create, edit, and see information about your Google Meet conferences created by the app",
    _AUTH + "meetings.space.readonly": "Read information about any of your Google Meet conferences",
    _AUTH + "meetings.space.settings": "Edit, and see settings for all of your Google Meet calls",
    _AUTH + "drive.meet.readonly": "See and download your Google Drive files that were created or edited by Google Meet",
    _AUTH + "drive.file": "See, edit, create, and delete only the specific Google Drive files you use with this app",
    _AUTH + "gmail.send": "Send email on your behalf",
}

# API error texts, as Google's front ends answer them (the "See https://..." suffix left out).
CREDENTIALS_MISSING = (
    "Request is missing required authentication credential. "
    "Expected OAuth 2 access token, login cookie or other valid authentication credential."
)
INVALID_CREDENTIALS = (
    "Request had invalid authentication credentials. "
    "Expected OAuth 2 access token, login cookie or other valid authentication credential."
)
INSUFFICIENT_SCOPES = "Request had insufficient authentication scopes."

_EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")
_CODE_CHALLENGE = re.compile(r"[A-Za-z0-9._~-]{43,128}")
_PROMPTS = frozenset({"none", "consent", "select_account"})


@dataclass(frozen=True)
class Account:
    """A Google account known to the sandbox."""

    email: str
    name: str
    sub: str  # stable numeric string


@dataclass(frozen=True)
class Client:
    """An OAuth client of type "Web application", as registered in the Cloud Console."""

    client_id: str
    client_secret: str
    redirect_uris: tuple[str, ...]
    name: str


class OAuthError(Exception):
    """An OAuth protocol error: `{"error", "error_description"}` JSON from the token
    endpoints, an "Error 400: <error>" HTML page from the authorization endpoint."""

    def __init__(self, status: int, error: str, description: str) -> None:
        super().__init__(f"{error}: {description}")
        self.status = status
        self.error = error
        self.description = description

    def google_error(self) -> GoogleError:
        """The same refusal for the control API and Python callers, which speak GoogleError."""
        return GoogleError(self.status, f"Error {self.status}: {self.error}. {self.description}")


@dataclass(frozen=True)
class AuthorizationRequest:
    """A validated authorization request (the query of `GET /o/oauth2/v2/auth`)."""

    client: Client
    redirect_uri: str
    scopes: tuple[str, ...]  # normalized, in request order
    state: str | None
    offline: bool
    include_granted_scopes: bool
    prompt: frozenset[str]
    login_hint: str | None
    code_challenge: str | None
    code_challenge_method: str | None
    query: str  # as received, carried through the consent form


@dataclass
class _Grant:
    """What one consent produced: one code, at most one refresh token, its access tokens.

    Revoking marks the grant; every token descending from it dies with it.
    """

    client_id: str
    email: str  # of the account; accounts are only ever renamed, never removed
    scopes: tuple[str, ...]
    offline: bool  # whether exchanging the code returns a refresh token
    revoked: bool = False


@dataclass
class _Code:
    grant: _Grant
    redirect_uri: str
    code_challenge: str | None
    code_challenge_method: str | None
    expires_at: float
    used: bool = False


@dataclass
class _AccessToken:
    grant: _Grant
    scopes: tuple[str, ...]
    expires_at: float


def normalize_scopes(raw: Iterable[str]) -> tuple[str, ...]:
    """Scopes as Google grants them: `email`/`profile` spelled out as URLs and `openid`
    added by either (which is why oauthlib warns "Scope has changed" for short names)."""
    scopes: list[str] = []
    for scope in raw:
        full = _SCOPE_ALIASES.get(scope, scope)
        for granted in (full, OPENID) if full in (USERINFO_EMAIL, USERINFO_PROFILE) else (full,):
            if granted not in scopes:
                scopes.append(granted)
    return tuple(scopes)


def _unknown_scopes(raw: Iterable[str]) -> list[str]:
    return [scope for scope in raw if _SCOPE_ALIASES.get(scope, scope) not in KNOWN_SCOPES]


def _with_query(uri: str, params: Mapping[str, str | None]) -> str:
    """`uri` with `params` (None values left out) appended to whatever query it has."""
    parts = urlsplit(uri)
    query = parse_qsl(parts.query, keep_blank_values=True) + [(k, v) for k, v in params.items() if v is not None]
    return urlunsplit(parts._replace(query=urlencode(query, quote_via=quote)))


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _pkce_matches(verifier: str, challenge: str, method: str) -> bool:
    expected = _b64url(hashlib.sha256(verifier.encode()).digest()) if method == "S256" else verifier
    return hmac.compare_digest(expected, challenge)


def _name_from_email(email: str) -> str:
    return " ".join(part.capitalize() for part in re.split(r"[._+-]+", email.split("@")[0]) if part)


def _jwk(certificate_pem: str, kid: str) -> JsonObject:
    """The JWKS form (`/oauth2/v3/certs`) of the key in a PEM certificate."""
    public_key = x509.load_pem_x509_certificate(certificate_pem.encode()).public_key()
    assert isinstance(public_key, rsa.RSAPublicKey)
    numbers = public_key.public_numbers()
    n, e = (value.to_bytes((value.bit_length() + 7) // 8, "big") for value in (numbers.n, numbers.e))
    return {"kty": "RSA", "alg": "RS256", "use": "sig", "kid": kid, "n": _b64url(n), "e": _b64url(e)}


def _error_info(reason: str) -> list[JsonObject]:
    return [{"@type": "type.googleapis.com/google.rpc.ErrorInfo", "reason": reason, "domain": "googleapis.com"}]


def _token_response(body: JsonObject) -> Response:
    response = jsonify(body)
    response.headers["Cache-Control"] = "no-store"
    response.headers["Pragma"] = "no-cache"
    return response


class OAuth:
    """Clients, accounts, consents and tokens of the sandbox's Google OAuth server.

    `clock` (unix seconds) is injectable so tests can expire codes and tokens without sleeping.
    """

    def __init__(self, identity: Identity, clock: Callable[[], float] = time.time) -> None:
        self.identity = identity
        self.clock = clock
        self._lock = threading.Lock()
        self._clients: dict[str, Client] = {}
        self._accounts: dict[str, Account] = {}
        self._grants: list[_Grant] = []
        self._codes: dict[str, _Code] = {}
        self._refresh_tokens: dict[str, _Grant] = {}
        self._access_tokens: dict[str, _AccessToken] = {}
        self._jwks = {"keys": [_jwk(identity.google_key.certificate_pem, identity.google_key.kid)]}
        self.blueprint = self._blueprint()

    def reset(self) -> None:
        """Forget clients, accounts, codes and tokens."""
        with self._lock:
            self._clients.clear()
            self._accounts.clear()
            self._grants.clear()
            self._codes.clear()
            self._refresh_tokens.clear()
            self._access_tokens.clear()

    # -- setup -----------------------------------------------------------------------

    def register_client(self, client_id: str, client_secret: str, redirect_uris: list[str], name: str) -> Client:
        """Register (or replace) a web client; redirect URIs must be absolute http(s) URLs."""
        if not (client_id and client_secret and redirect_uris and name):
            raise GoogleError(400, "client_id, client_secret, name and at least one redirect URI are required")
        for uri in redirect_uris:
            parts = urlsplit(uri)
            if parts.scheme not in ("http", "https") or not parts.netloc or parts.fragment:
                raise GoogleError(400, f"invalid redirect URI {uri!r}: absolute http(s) URL without fragment expected")
        client = Client(client_id, client_secret, tuple(redirect_uris), name)
        with self._lock:
            self._clients[client_id] = client
        return client

    def add_account(self, email: str, name: str | None = None) -> Account:
        """Create (or rename) an account; its `sub` depends on the email only."""
        with self._lock:
            try:
                return self._account(email, name)
            except OAuthError as exc:
                raise exc.google_error() from exc

    def _account(self, email: str, name: str | None = None) -> Account:
        """The account for `email`, created on first use like a person signing in (lock held)."""
        email = email.strip().lower()
        if not _EMAIL.fullmatch(email):
            raise OAuthError(400, "invalid_request", f"Not an email address: {email!r}")
        existing = self._accounts.get(email)
        if existing is None or (name and name != existing.name):
            self._accounts[email] = Account(email, name or _name_from_email(email), service_account_id(email))
        return self._accounts[email]

    # -- authorization -----------------------------------------------------------------

    def _authorization_request(self, query: str) -> AuthorizationRequest:
        """Validate an authorization request in Google's order: client, redirect URI, the rest.

        Until the redirect URI is known to be registered, nothing may redirect to it.
        """
        params = dict(parse_qsl(query, keep_blank_values=True))
        client_id = params.get("client_id")
        if not client_id:
            raise OAuthError(400, "invalid_request", "Missing required parameter: client_id")
        with self._lock:
            client = self._clients.get(client_id)
        if client is None:
            raise OAuthError(401, "invalid_client", "The OAuth client was not found.")
        redirect_uri = params.get("redirect_uri")
        if not redirect_uri:
            raise OAuthError(400, "invalid_request", "Missing required parameter: redirect_uri")
        if redirect_uri not in client.redirect_uris:
            raise OAuthError(
                400,
                "redirect_uri_mismatch",
                f"The redirect URI in the request, {redirect_uri}, does not match the ones authorized for the OAuth client.",
            )
        response_type = params.get("response_type")
        if not response_type:
            raise OAuthError(400, "invalid_request", "Required parameter is missing: response_type")
        if response_type != "code":
            raise OAuthError(400, "invalid_request", f"Unsupported response_type: {response_type}")
        raw_scopes = params.get("scope", "").split()
        if not raw_scopes:
            raise OAuthError(400, "invalid_request", "Missing required parameter: scope")
        unknown = _unknown_scopes(raw_scopes)
        if unknown:
            raise OAuthError(400, "invalid_scope", f"Some requested scopes were invalid. {{invalid=[{', '.join(unknown)}]}}")
        access_type = params.get("access_type", "online")
        if access_type not in ("online", "offline"):
            raise OAuthError(400, "invalid_request", f"Invalid access_type: {access_type}")
        prompt = frozenset(params.get("prompt", "").split())
        if not prompt <= _PROMPTS or ("none" in prompt and len(prompt) > 1):
            raise OAuthError(400, "invalid_request", f"Invalid prompt: {params['prompt']}")
        challenge, method = params.get("code_challenge"), params.get("code_challenge_method")
        if method and not challenge:
            raise OAuthError(400, "invalid_request", "Missing required parameter: code_challenge")
        if challenge:
            method = method or "plain"
            if method not in ("S256", "plain"):
                raise OAuthError(400, "invalid_request", f"Invalid code_challenge_method: {method}")
            if not _CODE_CHALLENGE.fullmatch(challenge):
                raise OAuthError(400, "invalid_request", "Invalid code_challenge.")
        return AuthorizationRequest(
            client=client,
            redirect_uri=redirect_uri,
            scopes=normalize_scopes(raw_scopes),
            state=params.get("state"),
            offline=access_type == "offline",
            include_granted_scopes=params.get("include_granted_scopes") == "true",
            prompt=prompt,
            login_hint=params.get("login_hint"),
            code_challenge=challenge,
            code_challenge_method=method if challenge else None,
            query=query,
        )

    def _decide(self, auth: AuthorizationRequest, email: str, chosen: Iterable[str] | None, approve: bool) -> str:
        """Apply a person's decision on the consent page; returns where Google redirects them."""
        if not approve:
            return _with_query(auth.redirect_uri, {"error": "access_denied", "state": auth.state})
        if chosen is None:
            granted = set(auth.scopes)
        else:
            picked = set(normalize_scopes(chosen))
            if not picked <= set(auth.scopes):
                raise OAuthError(400, "invalid_request", f"Scopes that were not requested: {sorted(picked - set(auth.scopes))}")
            granted = picked | (SIGN_IN_SCOPES & set(auth.scopes))
        if not granted:
            return _with_query(auth.redirect_uri, {"error": "access_denied", "state": auth.state})
        code = "4/0A" + secrets.token_urlsafe(48)
        with self._lock:
            grant = self._new_grant(
                auth.client.client_id,
                self._account(email),
                [scope for scope in auth.scopes if scope in granted],
                offline=auth.offline,
                include_granted_scopes=auth.include_granted_scopes,
                force_consent="consent" in auth.prompt,
            )
            self._codes[code] = _Code(
                grant, auth.redirect_uri, auth.code_challenge, auth.code_challenge_method, self.clock() + CODE_LIFETIME
            )
        return _with_query(
            auth.redirect_uri,
            {"state": auth.state, "code": code, "scope": " ".join(grant.scopes), "authuser": "0", "prompt": "consent"},
        )

    def _new_grant(
        self,
        client_id: str,
        account: Account,
        scopes: list[str],
        offline: bool,
        include_granted_scopes: bool,
        force_consent: bool,
    ) -> _Grant:
        """Record a consent (lock held).

        Like Google: `include_granted_scopes=true` adds the scopes of the account's earlier
        live grants to this client, and an offline grant only yields a refresh token the
        first time, or again when the consent was forced with `prompt=consent`.
        """
        earlier = [g for g in self._grants if g.client_id == client_id and g.email == account.email and not g.revoked]
        if include_granted_scopes:
            scopes = scopes + [scope for grant in earlier for scope in grant.scopes if scope not in scopes]
        offline = offline and (force_consent or not any(grant.offline for grant in earlier))
        grant = _Grant(client_id, account.email, tuple(scopes), offline)
        self._grants.append(grant)
        return grant

    def consent(self, authorization_url: str, email: str, scopes: Iterable[str] | None = None, approve: bool = True) -> str:
        """What a person's click on the consent page of `authorization_url` does, for tests
        without a browser: the URL Google redirects to. `scopes=None` grants all requested."""
        parts = urlsplit(authorization_url)
        if parts.path != AUTH_PATH:
            raise GoogleError(400, f"not an authorization URL (path {AUTH_PATH}): {authorization_url}")
        try:
            auth = self._authorization_request(parts.query)
            if "none" in auth.prompt:
                return _with_query(auth.redirect_uri, {"error": "interaction_required", "state": auth.state})
            return self._decide(auth, email, scopes, approve)
        except OAuthError as exc:
            raise exc.google_error() from exc

    # -- tokens --------------------------------------------------------------------------

    def issue_tokens(self, client_id: str, email: str, scopes: list[str]) -> JsonObject:
        """A token response as if `email` had consented to `scopes` for `client_id` offline.

        For tests of other surfaces; the client need not be registered (refreshing needs it).
        """
        unknown = _unknown_scopes(scopes)
        if unknown or not scopes:
            raise GoogleError(400, f"scopes must be known Google scopes, got {unknown or scopes}")
        with self._lock:
            try:
                account = self._account(email)
            except OAuthError as exc:
                raise exc.google_error() from exc
            grant = self._new_grant(client_id, account, list(normalize_scopes(scopes)), True, False, True)
            return self._issue(grant, grant.scopes, with_refresh=True)

    def _issue(self, grant: _Grant, scopes: tuple[str, ...], with_refresh: bool) -> JsonObject:
        """A token response for `grant`, narrowed to `scopes` (lock held)."""
        now = self.clock()
        access_token = "ya29.a0" + secrets.token_urlsafe(96)
        self._access_tokens[access_token] = _AccessToken(grant, scopes, now + ACCESS_TOKEN_LIFETIME)
        body: JsonObject = {"access_token": access_token, "expires_in": ACCESS_TOKEN_LIFETIME}
        if with_refresh:
            refresh_token = "1//0" + secrets.token_urlsafe(72)
            self._refresh_tokens[refresh_token] = grant
            body["refresh_token"] = refresh_token
        body |= {"scope": " ".join(scopes), "token_type": "Bearer"}
        if OPENID in scopes:
            body["id_token"] = self._id_token(grant, scopes, access_token, int(now))
        return body

    def _id_token(self, grant: _Grant, scopes: tuple[str, ...], access_token: str, now: int) -> str:
        """Google's OpenID Connect ID token: email claims only with the email scope, name with profile."""
        account = self._accounts[grant.email]
        payload: JsonObject = {
            "iss": GOOGLE_ISSUER,
            "azp": grant.client_id,
            "aud": grant.client_id,
            "sub": account.sub,
            "at_hash": _b64url(hashlib.sha256(access_token.encode()).digest()[:16]),
            "iat": now,
            "exp": now + ID_TOKEN_LIFETIME,
        }
        if USERINFO_EMAIL in scopes:
            payload |= {"email": account.email, "email_verified": True}
        if USERINFO_PROFILE in scopes:
            payload["name"] = account.name
        token: bytes = jwt.encode(self.identity.google_key.signer, payload)
        return token.decode()

    def _client(self, form: Mapping[str, str]) -> Client:
        """The client authenticated by HTTP Basic or by `client_id` + `client_secret` in the body."""
        auth = request.authorization
        if auth is not None and auth.type == "basic":
            client_id, secret = auth.username, auth.password
        else:
            client_id, secret = form.get("client_id"), form.get("client_secret")
        if not client_id:
            raise OAuthError(400, "invalid_request", "Could not determine client ID from request.")
        with self._lock:
            client = self._clients.get(client_id)
        if client is None:
            raise OAuthError(401, "invalid_client", "The OAuth client was not found.")
        if not secret:
            raise OAuthError(400, "invalid_request", "client_secret is missing.")
        if not hmac.compare_digest(secret.encode(), client.client_secret.encode()):
            raise OAuthError(401, "invalid_client", "Unauthorized")
        return client

    def _exchange_code(self, client: Client, form: Mapping[str, str]) -> JsonObject:
        code, redirect_uri, verifier = form.get("code"), form.get("redirect_uri"), form.get("code_verifier")
        if not code:
            raise OAuthError(400, "invalid_request", "Missing required parameter: code")
        if not code.startswith("4/"):
            raise OAuthError(400, "invalid_grant", "Malformed auth code.")
        if not redirect_uri:
            raise OAuthError(400, "invalid_request", "Missing required parameter: redirect_uri")
        with self._lock:
            entry = self._codes.get(code)
            if entry is None or entry.grant.client_id != client.client_id or entry.grant.revoked:
                raise OAuthError(400, "invalid_grant", "Bad Request")
            if entry.used:
                # RFC 6749 §4.1.2: a replayed code may be stolen, so its tokens die too.
                entry.grant.revoked = True
                raise OAuthError(400, "invalid_grant", "Bad Request")
            if self.clock() >= entry.expires_at:
                raise OAuthError(400, "invalid_grant", "Bad Request")
            if redirect_uri != entry.redirect_uri:
                raise OAuthError(400, "redirect_uri_mismatch", "Bad Request")
            if entry.code_challenge is None:
                if verifier:
                    raise OAuthError(400, "invalid_grant", "code_verifier or verifier is not needed.")
            elif not verifier:
                raise OAuthError(400, "invalid_grant", "Missing code verifier.")
            elif not _pkce_matches(verifier, entry.code_challenge, entry.code_challenge_method or "plain"):
                raise OAuthError(400, "invalid_grant", "Invalid code verifier.")
            entry.used = True
            return self._issue(entry.grant, entry.grant.scopes, with_refresh=entry.grant.offline)

    def _refresh(self, client: Client, form: Mapping[str, str]) -> JsonObject:
        """A new access token; never a new refresh token. A `scope` parameter may narrow the
        grant but not widen it (Google's `invalid_scope` when it asks for ungranted scopes)."""
        refresh_token = form.get("refresh_token")
        if not refresh_token:
            raise OAuthError(400, "invalid_request", "Missing required parameter: refresh_token")
        with self._lock:
            grant = self._refresh_tokens.get(refresh_token)
            if grant is None or grant.revoked:
                raise OAuthError(400, "invalid_grant", "Token has been expired or revoked.")
            if grant.client_id != client.client_id:
                raise OAuthError(400, "unauthorized_client", "Unauthorized")
            scopes = grant.scopes
            if form.get("scope"):
                scopes = normalize_scopes(form["scope"].split())
                if not set(scopes) <= set(grant.scopes):
                    raise OAuthError(400, "invalid_scope", "Bad Request")
            return self._issue(grant, scopes, with_refresh=False)

    def _live_access_token(self, token: str) -> _AccessToken | None:
        """The access token's record if it is neither expired nor revoked (lock held)."""
        entry = self._access_tokens.get(token)
        if entry is None or entry.grant.revoked or self.clock() >= entry.expires_at:
            return None
        return entry

    def revoke(self, token: str) -> bool:
        """Revoke the app's access as Google does: any live token of a grant ends every grant
        of that account to that client. False if the token is unknown, expired or revoked."""
        with self._lock:
            access = self._live_access_token(token)
            grant = access.grant if access else self._refresh_tokens.get(token)
            if grant is None or grant.revoked:
                return False
            for other in self._grants:
                if other.client_id == grant.client_id and other.email == grant.email:
                    other.revoked = True
            return True

    def revoke_grants(self, email: str) -> int:
        """The person removes every app's access from their Google Account page."""
        with self._lock:
            live = [g for g in self._grants if g.email == email.strip().lower() and not g.revoked]
            for grant in live:
                grant.revoked = True
            return len(live)

    def expire_access_tokens(self) -> int:
        """End the life of every live access token now (refresh tokens stay valid)."""
        with self._lock:
            now = self.clock()
            live = [t for t in self._access_tokens.values() if not t.grant.revoked and now < t.expires_at]
            for entry in live:
                entry.expires_at = now
            return len(live)

    def state(self) -> JsonObject:
        """Per account email: name, sub and every grant (client, scopes, offline, revoked), for assertions."""
        with self._lock:
            return {
                account.email: {
                    "name": account.name,
                    "sub": account.sub,
                    "grants": [
                        {"client_id": g.client_id, "scopes": list(g.scopes), "offline": g.offline, "revoked": g.revoked}
                        for g in self._grants
                        if g.email == account.email
                    ],
                }
                for account in self._accounts.values()
            }

    def authorize_api_request(self, authorization: str | None, accepted_scopes: Iterable[str]) -> Account:
        """The account behind `Authorization: Bearer <access token>` if the token is live and
        carries one of `accepted_scopes`; else GoogleError 401 / 403 exactly as Google answers."""
        return self._authorize(authorization, accepted_scopes)[0]

    def _authorize(self, authorization: str | None, accepted_scopes: Iterable[str]) -> tuple[Account, tuple[str, ...]]:
        """The account and the scopes of the request's live access token (see authorize_api_request)."""
        if not authorization:
            raise GoogleError(401, CREDENTIALS_MISSING, details=_error_info("CREDENTIALS_MISSING"))
        scheme, _, token = authorization.partition(" ")
        with self._lock:
            entry = self._live_access_token(token.strip()) if scheme.lower() == "bearer" else None
            account = self._accounts[entry.grant.email] if entry else None
        if entry is None or account is None:
            raise GoogleError(401, INVALID_CREDENTIALS)
        if not set(accepted_scopes) & set(entry.scopes):
            raise GoogleError(403, INSUFFICIENT_SCOPES, details=_error_info("ACCESS_TOKEN_SCOPE_INSUFFICIENT"))
        return account, entry.scopes

    # -- HTTP --------------------------------------------------------------------------

    def _consent_page(self, auth: AuthorizationRequest) -> str:
        with self._lock:
            accounts = list(self._accounts.values())
        prefill = auth.login_hint or (accounts[0].email if accounts else "")
        scopes = [(scope, KNOWN_SCOPES[scope], scope in SIGN_IN_SCOPES) for scope in auth.scopes]
        return render_template_string(
            _CONSENT_PAGE, auth=auth, accounts=accounts, prefill=prefill, scopes=scopes, action=DECISION_PATH
        )

    def _blueprint(self) -> Blueprint:
        bp = Blueprint("oauth", __name__)

        @bp.errorhandler(OAuthError)
        def oauth_error(error: OAuthError) -> tuple[Response, int]:
            return jsonify({"error": error.error, "error_description": error.description}), error.status

        def error_page(error: OAuthError) -> tuple[str, int]:
            return render_template_string(_ERROR_PAGE, error=error), error.status

        @bp.get(AUTH_PATH)
        def authorize() -> Response | tuple[str, int] | str:
            try:
                auth = self._authorization_request(request.query_string.decode())
            except OAuthError as error:
                return error_page(error)
            if "none" in auth.prompt:  # the sandbox always asks, so a silent sign-in cannot succeed
                return redirect(_with_query(auth.redirect_uri, {"error": "interaction_required", "state": auth.state}))
            return self._consent_page(auth)

        @bp.post(DECISION_PATH)
        def decide() -> Response | tuple[str, int]:
            decision = request.form.get("decision")
            try:
                auth = self._authorization_request(request.form.get("request", ""))
                if decision not in ("allow", "deny"):
                    raise OAuthError(400, "invalid_request", "decision must be allow or deny")
                target = self._decide(auth, request.form.get("account", ""), request.form.getlist("scope"), decision == "allow")
            except OAuthError as error:
                return error_page(error)
            return redirect(target)

        @bp.post(TOKEN_PATH)
        def token() -> Response:
            form = request.form
            grant_type = form.get("grant_type", "")
            if grant_type not in ("authorization_code", "refresh_token"):
                raise OAuthError(400, "unsupported_grant_type", f"Invalid grant_type: {grant_type}")
            client = self._client(form)
            if grant_type == "authorization_code":
                return _token_response(self._exchange_code(client, form))
            return _token_response(self._refresh(client, form))

        @bp.post(REVOKE_PATH)
        def revoke() -> Response:
            token = request.values.get("token")
            if not token:
                raise OAuthError(400, "invalid_request", "Missing required parameter: token")
            if not self.revoke(token):
                raise OAuthError(400, "invalid_token", "Token expired or revoked")
            return jsonify({})

        def userinfo() -> JsonObject:
            """OpenID claims of the token's account, each only with the scope that covers it."""
            account, scopes = self._authorize(request.headers.get("Authorization"), SIGN_IN_SCOPES)
            info: JsonObject = {"sub": account.sub}
            if USERINFO_EMAIL in scopes:
                info |= {"email": account.email, "email_verified": True}
            if USERINFO_PROFILE in scopes:
                info["name"] = account.name
            return info

        @bp.get(USERINFO_PATHS[0])
        def userinfo_v3() -> Response:
            try:
                return jsonify(userinfo())
            except GoogleError as error:  # this older endpoint answers in OAuth's error shape
                raise OAuthError(401, "invalid_request", "Invalid Credentials") from error

        @bp.get(USERINFO_PATHS[1])
        def userinfo_openid() -> Response:
            return jsonify(userinfo())

        @bp.get(JWKS_PATH)
        def jwks() -> Response:
            response = jsonify(self._jwks)
            response.headers["Cache-Control"] = CERTS_CACHE_CONTROL
            return response

        self._control_routes(bp)
        return bp

    def _control_routes(self, bp: Blueprint) -> None:
        @bp.post("/sandbox/oauth/clients")
        def register_client() -> Response:
            body = json_object(request.get_data())
            _reject_unknown(body, {"client_id", "client_secret", "redirect_uris", "name"})
            uris = body.get("redirect_uris")
            if not isinstance(uris, list) or not all(isinstance(uri, str) for uri in uris):
                raise GoogleError(400, "redirect_uris must be a list of strings")
            client = self.register_client(
                _required_str(body, "client_id"), _required_str(body, "client_secret"), uris, _required_str(body, "name")
            )
            return jsonify({"client_id": client.client_id, "redirect_uris": list(client.redirect_uris), "name": client.name})

        @bp.post("/sandbox/oauth/accounts")
        def add_account() -> Response:
            body = json_object(request.get_data())
            _reject_unknown(body, {"email", "name"})
            name = body.get("name")
            if not isinstance(name, (str, type(None))):
                raise GoogleError(400, "name must be a string")
            account = self.add_account(_required_str(body, "email"), name)
            return jsonify({"email": account.email, "name": account.name, "sub": account.sub})

        @bp.post("/sandbox/oauth/consent")
        def consent() -> Response:
            body = json_object(request.get_data())
            _reject_unknown(body, {"authorization_url", "email", "scopes", "approve"})
            scopes, approve = body.get("scopes"), body.get("approve", True)
            if scopes is not None and (not isinstance(scopes, list) or not all(isinstance(s, str) for s in scopes)):
                raise GoogleError(400, "scopes must be a list of strings or null")
            if not isinstance(approve, bool):
                raise GoogleError(400, "approve must be a boolean")
            target = self.consent(_required_str(body, "authorization_url"), _required_str(body, "email"), scopes, approve)
            return jsonify({"redirect": target})

        @bp.post("/sandbox/oauth/revoke-grants")
        def revoke_grants() -> Response:
            body = json_object(request.get_data())
            _reject_unknown(body, {"email"})
            return jsonify({"revoked": self.revoke_grants(_required_str(body, "email"))})

        @bp.post("/sandbox/oauth/expire-access-tokens")
        def expire_access_tokens() -> Response:
            return jsonify({"expired": self.expire_access_tokens()})

        @bp.get("/sandbox/oauth/state")
        def state() -> Response:
            return jsonify(self.state())


_STYLE = """
body{font-family:system-ui,sans-serif;background:#f0f4f9;color:#1f1f1f;margin:0}
main{max-width:30rem;margin:3rem auto;background:#fff;border-radius:24px;padding:2rem 2.5rem}
h1{font-size:1.4rem;font-weight:400}label{display:block;margin:.6rem 0}small{color:#5f6368;display:block}
input[type=email]{width:100%;padding:.6rem;font-size:1rem;box-sizing:border-box}
fieldset{border:1px solid #dadce0;border-radius:8px;margin:1rem 0}
.buttons{display:flex;justify-content:flex-end;gap:.5rem}
button{font-size:1rem;padding:.5rem 1.4rem;border-radius:20px;border:1px solid #747775;background:#fff;cursor:pointer}
#allow{background:#0b57d0;color:#fff;border-color:#0b57d0}
"""

_CONSENT_PAGE = (
    """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Sign in - Google Accounts (sandbox)</title>
<style>"""
    + _STYLE
    + """</style></head>
<body><main>
<h1><span id="client-name">{{ auth.client.name }}</span> wants access to your Google Account</h1>
<form method="post" action="{{ action }}">
<input type="hidden" name="request" value="{{ auth.query }}">
<label for="account">Account</label>
<input id="account" name="account" type="email" list="accounts" value="{{ prefill }}" required autocomplete="off">
<datalist id="accounts">{% for account in accounts %}
<option value="{{ account.email }}">{{ account.name }}</option>{% endfor %}
</datalist>
<fieldset><legend>Select what <b>{{ auth.client.name }}</b> can access</legend>
{% for scope, description, sign_in in scopes %}
<label><input type="checkbox" name="scope" value="{{ scope }}" checked{% if sign_in %} disabled{% endif %}>
{{ description }}<small>{{ scope }}{% if sign_in %} (always shared when you sign in){% endif %}</small></label>
{% endfor %}
</fieldset>
<div class="buttons">
<button type="submit" id="deny" name="decision" value="deny" formnovalidate>Cancel</button>
<button type="submit" id="allow" name="decision" value="allow">Allow</button>
</div>
</form>
</main></body></html>
"""
)

_ERROR_PAGE = (
    """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Error {{ error.status }}: {{ error.error }}</title>
<style>"""
    + _STYLE
    + """</style></head>
<body><main>
<h1>Access blocked: this app's request is invalid</h1>
<p id="error">Error {{ error.status }}: {{ error.error }}</p>
<p id="error-description">{{ error.description }}</p>
</main></body></html>
"""
)
