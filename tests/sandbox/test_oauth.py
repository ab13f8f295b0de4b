"""The sandbox's Google OAuth 2.0 server, driven by the real libraries the product uses:
google-auth-oauthlib's Flow (PKCE, Basic client auth) and google-auth's Credentials."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from html.parser import HTMLParser
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
import requests
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPublicNumbers
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from google.auth import jwt
from google.auth.exceptions import RefreshError
from google.auth.transport.requests import Request
from google.oauth2 import id_token
from google.oauth2.credentials import Credentials
from google_auth_oauthlib.flow import Flow
from oauthlib.oauth2.rfc6749.errors import CustomOAuth2Error, InvalidClientError, InvalidGrantError
from requests.adapters import HTTPAdapter
from urllib3.util.retry import Retry

from devstack.sandbox import GoogleError, SandboxServer
from devstack.sandbox.identity import GOOGLE_CERTS_PATH

CLIENT_ID = "1234-convene.apps.googleusercontent.com"
SECRET = "GOCSPX-sandbox-secret"
REDIRECT = "http://localhost:5173/oauth/callback"
OTHER_REDIRECT = "http://localhost:5173/other-callback"
ADA = "ada@example.com"
EMAIL = "https://www.googleapis.com/auth/userinfo.email"
PROFILE = "https://www.googleapis.com/auth/userinfo.profile"
EVENTS = "https://www.googleapis.com/auth/calendar.events"
FREEBUSY = "https://www.googleapis.com/auth/calendar.freebusy"
SCOPES = ["openid", EMAIL, EVENTS, FREEBUSY]


@pytest.fixture(scope="module")
def server() -> Iterator[SandboxServer]:
    with SandboxServer("convene-oauth-test") as running:
        yield running


@pytest.fixture(autouse=True)
def clean(server: SandboxServer, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OAUTHLIB_INSECURE_TRANSPORT", "1")
    server.reset()
    server.register_oauth_client(CLIENT_ID, SECRET, [REDIRECT, OTHER_REDIRECT], name="Convene")
    server.add_google_account(ADA, "Ada Lovelace")


def _flow(server: SandboxServer, scopes: list[str] = SCOPES, secret: str = SECRET, **kwargs: Any) -> Flow:
    config = {
        "web": {
            "client_id": CLIENT_ID,
            "client_secret": secret,
            "auth_uri": server.url + "/o/oauth2/v2/auth",
            "token_uri": server.url + "/token",
        }
    }
    return Flow.from_client_config(config, scopes=scopes, redirect_uri=kwargs.pop("redirect_uri", REDIRECT), **kwargs)


def _authorization_url(flow: Flow, **kwargs: str) -> str:
    params = {"access_type": "offline", "include_granted_scopes": "true", "prompt": "consent", "state": "st-1"}
    url: str = flow.authorization_url(**(params | kwargs))[0]
    return url


def _query(url: str) -> dict[str, str]:
    return {key: values[0] for key, values in parse_qs(urlsplit(url).query).items()}


def _code(server: SandboxServer, flow: Flow, scopes: list[str] | None = None, **kwargs: str) -> str:
    return _query(server.consent(_authorization_url(flow, **kwargs), ADA, scopes))["code"]


def _tokens(server: SandboxServer, scopes: list[str] = SCOPES) -> dict[str, Any]:
    flow = _flow(server, scopes)
    token: dict[str, Any] = flow.fetch_token(code=_code(server, flow))
    return token


def _credentials(server: SandboxServer, refresh_token: str, scopes: list[str] | None = None) -> Credentials:
    return Credentials(
        None, refresh_token=refresh_token, token_uri=server.url + "/token",
        client_id=CLIENT_ID, client_secret=SECRET, scopes=scopes,
    )  # fmt: skip


def _bearer(token: str) -> str:
    return f"Bearer {token}"


# -- the authorization-code flow ------------------------------------------------------


def test_flow_with_pkce_yields_refresh_token_scopes_and_a_verifiable_id_token(server: SandboxServer) -> None:
    flow = _flow(server)
    url = _authorization_url(flow)
    redirect = server.consent(url, ADA)

    assert redirect.startswith(REDIRECT + "?")
    callback = _query(redirect)
    assert (callback["state"], callback["authuser"], callback["prompt"]) == ("st-1", "0", "consent")
    assert callback["code"].startswith("4/") and callback["scope"].split() == SCOPES

    token = flow.fetch_token(code=callback["code"])

    assert token["refresh_token"].startswith("1//") and token["access_token"].startswith("ya29.")
    assert token["expires_in"] == 3599 and token["token_type"] == "Bearer"
    assert set(token["scope"]) == set(SCOPES)  # oauthlib hands the scope back as a list
    claims = id_token.verify_token(token["id_token"], Request(), audience=CLIENT_ID, certs_url=server.url + GOOGLE_CERTS_PATH)
    assert claims["iss"] == "https://accounts.google.com" and claims["azp"] == CLIENT_ID
    assert (claims["email"], claims["email_verified"]) == (ADA, True)
    assert claims["sub"] == server.oauth_state()[ADA]["sub"] and claims["sub"].isdigit()
    assert "name" not in claims  # only with the profile scope
    # The secret went as HTTP Basic auth; the verifier and code in the (recorded) form.
    (call,) = server.calls("/token")
    assert set(call["body"]) == {"grant_type", "code", "redirect_uri", "code_verifier"}
    assert call["body"]["code_verifier"] == flow.code_verifier


def test_id_token_also_verifies_against_the_jwks_endpoint(server: SandboxServer) -> None:
    token = _tokens(server)
    keys = requests.get(server.url + "/oauth2/v3/certs", timeout=5).json()["keys"]

    def pem(key: dict[str, str]) -> str:
        n, e = (int.from_bytes(base64.urlsafe_b64decode(key[k] + "=" * (-len(key[k]) % 4)), "big") for k in "ne")
        return RSAPublicNumbers(e, n).public_key().public_bytes(Encoding.PEM, PublicFormat.SubjectPublicKeyInfo).decode()

    certs = {key["kid"]: pem(key) for key in keys}
    assert jwt.decode(token["id_token"], certs=certs, audience=CLIENT_ID)["email"] == ADA
    assert keys[0]["kid"] in requests.get(server.url + GOOGLE_CERTS_PATH, timeout=5).json()


def test_partial_grant_makes_oauthlib_raise_a_warning_carrying_the_token(server: SandboxServer) -> None:
    flow = _flow(server)
    code = _code(server, flow, scopes=[EVENTS])

    with pytest.raises(Warning) as changed:
        flow.fetch_token(code=code)

    # Sign-in scopes cannot be declined; the unchecked calendar scope is missing.
    token = changed.value.token  # type: ignore[attr-defined]
    assert token["scope"] == ["openid", EMAIL, EVENTS] and token["refresh_token"]
    # Credentials asking for the *requested* scopes fail on refresh, as at Google;
    # asking for the granted ones (or none) works.
    with pytest.raises(RefreshError, match="invalid_scope"):
        _credentials(server, token["refresh_token"], SCOPES).refresh(Request())
    granted = _credentials(server, token["refresh_token"], token["scope"])
    granted.refresh(Request())
    assert granted.valid and granted.granted_scopes == token["scope"]


def test_short_scope_names_come_back_spelled_out_with_openid(server: SandboxServer) -> None:
    flow = _flow(server, scopes=["email", "profile"])

    with pytest.raises(Warning) as changed:
        flow.fetch_token(code=_code(server, flow))

    assert set(changed.value.new_scope) == {"openid", EMAIL, PROFILE}  # type: ignore[attr-defined]
    claims = jwt.decode(changed.value.token["id_token"], verify=False)  # type: ignore[attr-defined]
    assert claims["name"] == "Ada Lovelace"


def test_wrong_and_missing_code_verifier_are_invalid_grant(server: SandboxServer) -> None:
    flow = _flow(server)
    code = _code(server, flow)

    with pytest.raises(InvalidGrantError, match="Invalid code verifier"):
        _flow(server, code_verifier="x" * 64).fetch_token(code=code)
    with pytest.raises(InvalidGrantError, match="Missing code verifier"):
        _flow(server, autogenerate_code_verifier=False).fetch_token(code=code)
    # A failed attempt does not burn the code.
    assert flow.fetch_token(code=code)["access_token"]


def test_reused_code_is_refused_and_revokes_what_it_issued(server: SandboxServer) -> None:
    flow = _flow(server)
    code = _code(server, flow)
    first = flow.fetch_token(code=code)

    with pytest.raises(InvalidGrantError, match="Bad Request"):
        flow.fetch_token(code=code)

    with pytest.raises(GoogleError) as unauthenticated:
        server.sandbox.oauth.authorize_api_request(_bearer(first["access_token"]), [EVENTS])
    assert unauthenticated.value.code == 401
    with pytest.raises(RefreshError, match="invalid_grant"):
        _credentials(server, first["refresh_token"]).refresh(Request())


def test_code_expires_after_five_minutes(server: SandboxServer, monkeypatch: pytest.MonkeyPatch) -> None:
    flow = _flow(server)
    code = _code(server, flow)
    issued = server.sandbox.oauth.clock()
    monkeypatch.setattr(server.sandbox.oauth, "clock", lambda: issued + 301)

    with pytest.raises(InvalidGrantError, match="Bad Request"):
        flow.fetch_token(code=code)


def test_redirect_uri_must_be_the_one_of_the_authorization_request(server: SandboxServer) -> None:
    flow = _flow(server)
    code = _code(server, flow)
    elsewhere = _flow(server, redirect_uri=OTHER_REDIRECT, code_verifier=flow.code_verifier)

    # Google answers redirect_uri_mismatch here, an error oauthlib has no class for.
    with pytest.raises(CustomOAuth2Error) as mismatch:
        elsewhere.fetch_token(code=code)
    assert mismatch.value.error == "redirect_uri_mismatch"


def test_client_authentication(server: SandboxServer) -> None:
    flow = _flow(server, secret="wrong")
    code = _code(server, flow)

    with pytest.raises(InvalidClientError, match="Unauthorized"):
        flow.fetch_token(code=code)
    assert server.calls("/token")[0]["status"] == 401

    form = {"grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT}
    anonymous = requests.post(server.url + "/token", data=form, timeout=5)
    no_secret = requests.post(server.url + "/token", data=form | {"client_id": CLIENT_ID}, timeout=5)
    unknown = requests.post(server.url + "/token", data=form, auth=("nobody", "x"), timeout=5)
    assert (anonymous.status_code, anonymous.json()["error_description"]) == (
        400, "Could not determine client ID from request."
    )  # fmt: skip
    assert (no_secret.status_code, no_secret.json()["error_description"]) == (400, "client_secret is missing.")
    assert (unknown.status_code, unknown.json()["error"]) == (401, "invalid_client")


def test_unsupported_grant_type(server: SandboxServer) -> None:
    response = requests.post(server.url + "/token", data={"grant_type": "password"}, auth=(CLIENT_ID, SECRET), timeout=5)

    assert response.status_code == 400
    assert response.json() == {"error": "unsupported_grant_type", "error_description": "Invalid grant_type: password"}


# -- refresh and revocation -----------------------------------------------------------


def test_refresh_returns_a_new_access_token_but_no_new_refresh_token(server: SandboxServer) -> None:
    token = _tokens(server)
    credentials = _credentials(server, token["refresh_token"], SCOPES)

    credentials.refresh(Request())

    assert credentials.token != token["access_token"] and credentials.token.startswith("ya29.")
    assert credentials.refresh_token == token["refresh_token"]
    assert jwt.decode(credentials.id_token, verify=False)["email"] == ADA
    raw = requests.post(
        server.url + "/token",
        data={"grant_type": "refresh_token", "refresh_token": token["refresh_token"],
              "client_id": CLIENT_ID, "client_secret": SECRET},
        timeout=5,
    )  # fmt: skip
    assert "refresh_token" not in raw.json() and raw.json()["scope"].split() == SCOPES
    assert raw.headers["Cache-Control"] == "no-store"
    assert server.calls("/token")[-1]["body"]["refresh_token"] == token["refresh_token"]


def test_revoke_endpoint_ends_the_grant(server: SandboxServer) -> None:
    token = _tokens(server)

    revoked = requests.post(server.url + "/revoke", data={"token": token["refresh_token"]}, timeout=5)

    assert (revoked.status_code, revoked.json()) == (200, {})
    with pytest.raises(RefreshError, match="invalid_grant: Token has been expired or revoked.") as refused:
        _credentials(server, token["refresh_token"]).refresh(Request())
    assert refused.value.args[1]["error"] == "invalid_grant"
    again = requests.post(server.url + "/revoke", params={"token": token["access_token"]}, timeout=5)
    assert (again.status_code, again.json()["error"]) == (400, "invalid_token")
    assert requests.get(server.url + "/revoke", params={"token": "x"}, timeout=5).status_code == 405
    assert server.calls("/revoke")[0]["body"] == {"token": token["refresh_token"]}


def test_revoking_an_access_token_also_ends_its_refresh_token(server: SandboxServer) -> None:
    token = _tokens(server)

    assert requests.post(server.url + "/revoke", data={"token": token["access_token"]}, timeout=5).status_code == 200

    with pytest.raises(RefreshError, match="invalid_grant"):
        _credentials(server, token["refresh_token"]).refresh(Request())


def test_revoke_grants_from_the_account_page(server: SandboxServer) -> None:
    token = _tokens(server)

    response = requests.post(server.url + "/sandbox/oauth/revoke-grants", json={"email": ADA}, timeout=5)

    assert response.json() == {"revoked": 1}
    assert server.oauth_state()[ADA]["grants"][0]["revoked"] is True
    with pytest.raises(RefreshError, match="invalid_grant"):
        _credentials(server, token["refresh_token"]).refresh(Request())


def test_refresh_token_only_on_first_consent_or_with_prompt_consent(server: SandboxServer) -> None:
    first = _tokens(server, [EVENTS])
    flow = _flow(server, [FREEBUSY])

    # Without prompt=consent Google returns no new refresh token; include_granted_scopes adds earlier scopes.
    with pytest.raises(Warning) as widened:
        flow.fetch_token(code=_code(server, flow, prompt="select_account"))

    later = widened.value.token  # type: ignore[attr-defined]
    assert "refresh_token" not in later and set(later["scope"]) == {FREEBUSY, EVENTS}
    assert first["refresh_token"]


# -- API authorization ----------------------------------------------------------------


def test_authorize_api_request_like_google(server: SandboxServer) -> None:
    token = _tokens(server)
    oauth = server.sandbox.oauth

    account = oauth.authorize_api_request(_bearer(token["access_token"]), [EVENTS])
    assert (account.email, account.name) == (ADA, "Ada Lovelace")

    with pytest.raises(GoogleError) as insufficient:
        oauth.authorize_api_request(_bearer(token["access_token"]), ["https://www.googleapis.com/auth/calendar"])
    assert (insufficient.value.code, insufficient.value.status) == (403, "PERMISSION_DENIED")
    assert insufficient.value.message == "Request had insufficient authentication scopes."
    assert insufficient.value.body()["error"]["details"][0]["reason"] == "ACCESS_TOKEN_SCOPE_INSUFFICIENT"
    for header in (None, "Bearer nope", f"Basic {token['access_token']}"):
        with pytest.raises(GoogleError) as unauthenticated:
            oauth.authorize_api_request(header, [EVENTS])
        assert (unauthenticated.value.code, unauthenticated.value.status) == (401, "UNAUTHENTICATED")

    assert server.expire_access_tokens() == 1
    with pytest.raises(GoogleError, match="invalid authentication credentials"):
        oauth.authorize_api_request(_bearer(token["access_token"]), [EVENTS])


def test_issue_tokens_for_other_surfaces(server: SandboxServer) -> None:
    token = server.sandbox.oauth.issue_tokens(CLIENT_ID, "grace@example.com", [EVENTS, "email"])

    assert token["scope"].split() == [EVENTS, EMAIL, "openid"] and token["id_token"]
    account = server.sandbox.oauth.authorize_api_request(_bearer(token["access_token"]), [EVENTS])
    assert account.email == "grace@example.com" and account.name == "Grace"
    credentials = _credentials(server, token["refresh_token"])
    credentials.refresh(Request())
    assert credentials.valid


def test_userinfo_endpoints(server: SandboxServer) -> None:
    token = _tokens(server, ["openid", EMAIL, PROFILE])
    auth = {"Authorization": _bearer(token["access_token"])}

    v3 = requests.get(server.url + "/oauth2/v3/userinfo", headers=auth, timeout=5)
    v1 = requests.get(server.url + "/v1/userinfo", headers=auth, timeout=5)
    bad_v3 = requests.get(server.url + "/oauth2/v3/userinfo", headers={"Authorization": "Bearer x"}, timeout=5)
    bad_v1 = requests.get(server.url + "/v1/userinfo", timeout=5)

    assert v3.json() == v1.json() == {
        "sub": server.oauth_state()[ADA]["sub"], "email": ADA, "email_verified": True, "name": "Ada Lovelace"
    }  # fmt: skip
    assert (bad_v3.status_code, bad_v3.json()) == (401, {"error": "invalid_request", "error_description": "Invalid Credentials"})
    assert (bad_v1.status_code, bad_v1.json()["error"]["status"]) == (401, "UNAUTHENTICATED")


# -- the consent page -----------------------------------------------------------------


class _Form(HTMLParser):
    """The consent page's inputs and buttons, by id and by name."""

    def __init__(self) -> None:
        super().__init__()
        self.by_id: dict[str, dict[str, str | None]] = {}
        self.checkboxes: list[dict[str, str | None]] = []
        self.hidden: dict[str, str | None] = {}

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = dict(attrs)
        if "id" in attributes:
            self.by_id[str(attributes["id"])] = attributes | {"tag": tag}
        if attributes.get("type") == "checkbox":
            self.checkboxes.append(attributes)
        if attributes.get("type") == "hidden":
            self.hidden[str(attributes["name"])] = attributes["value"]


def test_consent_page_renders_and_its_buttons_decide(server: SandboxServer) -> None:
    url = _authorization_url(_flow(server), login_hint="lin@example.com")

    page = requests.get(url, timeout=5)
    form = _Form()
    form.feed(page.text)

    assert page.status_code == 200 and page.headers["Content-Type"].startswith("text/html")
    assert form.by_id["account"]["value"] == "lin@example.com" and form.by_id["account"]["list"] == "accounts"
    assert form.by_id["allow"]["value"] == "allow" and form.by_id["deny"]["value"] == "deny"
    assert [box["value"] for box in form.checkboxes] == SCOPES
    assert all("checked" in box for box in form.checkboxes)
    assert form.by_id["client-name"]["tag"] == "span" and "Convene" in page.text

    decision = server.url + "/o/oauth2/v2/auth/decision"
    base = {"request": form.hidden["request"], "account": "lin@example.com"}
    allowed = requests.post(decision, data=base | {"decision": "allow", "scope": [EVENTS]}, allow_redirects=False, timeout=5)
    denied = requests.post(decision, data=base | {"decision": "deny"}, allow_redirects=False, timeout=5)

    assert allowed.status_code == 302
    assert _query(allowed.headers["Location"])["scope"].split() == ["openid", EMAIL, EVENTS]
    assert "lin@example.com" in server.oauth_state()  # unknown emails become accounts
    assert denied.status_code == 302 and denied.headers["Location"] == REDIRECT + "?error=access_denied&state=st-1"


@pytest.mark.parametrize(
    ("change", "status", "error"),
    [
        ({"client_id": "unknown.apps.googleusercontent.com"}, 401, "invalid_client"),
        ({"redirect_uri": "http://evil.example/cb"}, 400, "redirect_uri_mismatch"),
        ({"redirect_uri": REDIRECT + "/"}, 400, "redirect_uri_mismatch"),
        ({"response_type": None}, 400, "invalid_request"),
        ({"response_type": "token"}, 400, "invalid_request"),
        ({"scope": ""}, 400, "invalid_request"),
        ({"scope": "openid https://www.googleapis.com/auth/nonsense"}, 400, "invalid_scope"),
        ({"code_challenge_method": "S512"}, 400, "invalid_request"),
    ],
)
def test_invalid_authorization_requests_get_an_error_page_never_a_redirect(
    server: SandboxServer, change: dict[str, str | None], status: int, error: str
) -> None:
    params = _query(_authorization_url(_flow(server))) | change
    url = server.url + "/o/oauth2/v2/auth?" + urlencode({k: v for k, v in params.items() if v is not None})

    response = requests.get(url, allow_redirects=False, timeout=5)

    assert response.status_code == status and "Location" not in response.headers
    assert f"Error {status}: {error}" in response.text
    with pytest.raises(GoogleError, match=f"Error {status}: {error}"):
        server.consent(url, ADA)


# -- control API and faults -----------------------------------------------------------


def test_control_api_over_http(server: SandboxServer) -> None:
    server.reset()
    control = server.url + "/sandbox/oauth"
    client = {"client_id": "c2", "client_secret": "s2", "redirect_uris": [REDIRECT], "name": "Other app"}
    assert requests.post(control + "/clients", json=client, timeout=5).status_code == 200
    account = requests.post(control + "/accounts", json={"email": "Bo@Example.com", "name": "Bo"}, timeout=5).json()
    url = (
        server.url
        + "/o/oauth2/v2/auth?"
        + urlencode({"client_id": "c2", "redirect_uri": REDIRECT, "response_type": "code", "scope": EVENTS, "state": "z"})
    )

    consent = requests.post(control + "/consent", json={"authorization_url": url, "email": "bo@example.com"}, timeout=5)
    unknown_scope = url.replace("calendar.events", "calendar.everything")
    refused = requests.post(control + "/consent", json={"authorization_url": unknown_scope, "email": "bo@example.com"}, timeout=5)
    bad_uri = requests.post(control + "/clients", json=client | {"redirect_uris": ["/relative"]}, timeout=5)

    assert account["email"] == "bo@example.com" and account["sub"].isdigit()
    assert _query(consent.json()["redirect"])["state"] == "z"
    assert (refused.status_code, refused.json()["error"]["status"]) == (400, "INVALID_ARGUMENT")
    assert "invalid_scope" in refused.json()["error"]["message"]
    assert bad_uri.status_code == 400
    state = requests.get(control + "/state", timeout=5).json()
    assert state["bo@example.com"]["grants"] == [{"client_id": "c2", "scopes": [EVENTS], "offline": False, "revoked": False}]
    assert requests.post(control + "/expire-access-tokens", timeout=5).json() == {"expired": 0}
    assert server.calls("/sandbox") == []


def test_injected_503_on_token_then_ok_through_a_retrying_session(server: SandboxServer) -> None:
    flow = _flow(server)
    flow.oauth2session.mount("http://", HTTPAdapter(max_retries=Retry(total=2, status_forcelist=[503], allowed_methods=None)))
    code = _code(server, flow)
    server.inject("^/token$", [{"status": 503}], method="POST")

    token = flow.fetch_token(code=code)

    assert token["refresh_token"]
    assert [(c["status"], c["injected"]) for c in server.calls("/token")] == [(503, True), (200, False)]
