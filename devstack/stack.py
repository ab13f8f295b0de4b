"""How the local parts are wired together: one place for the dev run, tests and benchmarks."""

from __future__ import annotations

import base64
import json
import os
import secrets

FIREBASE_CERTS_PATH = "/robot/v1/metadata/x509/securetoken@system.gserviceaccount.com"
GOOGLE_OIDC_CERTS_PATH = "/oauth2/v1/certs"
GUEST_LINK_SECRET = "convene-guest-link-key"
TOKEN_KEY_SECRET = "convene-token-key"
OAUTH_CLIENT_SECRET = "convene-google-oauth-client"
OAUTH_CLIENT_ID = "convene-local.apps.googleusercontent.com"
FUNCTIONS = ("join", "oauth")  # every folder under functions/, in deploy order


def stack_secrets() -> dict[str, str]:
    """Fresh secrets for one run of the local stack, as Secret Manager would hold them."""
    return {
        GUEST_LINK_SECRET: secrets.token_urlsafe(32),
        TOKEN_KEY_SECRET: base64.b64encode(os.urandom(32)).decode("ascii"),
        OAUTH_CLIENT_SECRET: json.dumps({"client_id": OAUTH_CLIENT_ID, "client_secret": "GOCSPX-" + secrets.token_urlsafe(24)}),
    }


def oauth_client(stack_secret_values: dict[str, str]) -> tuple[str, str]:
    data = json.loads(stack_secret_values[OAUTH_CLIENT_SECRET])
    return data["client_id"], data["client_secret"]


def function_env(*, project_id: str, firestore_host: str, sandbox_url: str, cors_origins: str = "",
                 oauth_url: str = "", oauth_result_urls: str = "") -> dict[str, str]:
    """Environment for a function process talking to the emulator and the sandbox."""
    return {
        "CONVENE_PROJECT_ID": project_id,
        "FIRESTORE_EMULATOR_HOST": firestore_host,
        "CONVENE_FIREBASE_CERTS_URL": sandbox_url + FIREBASE_CERTS_PATH,
        "CONVENE_GOOGLE_OIDC_CERTS_URL": sandbox_url + GOOGLE_OIDC_CERTS_PATH,
        "CONVENE_SECRETS_BACKEND": "secretmanager",
        "CONVENE_SECRET_MANAGER_ENDPOINT": sandbox_url,
        "CONVENE_GUEST_LINK_SECRET": GUEST_LINK_SECRET,
        "CONVENE_TOKEN_KEY_SECRET": TOKEN_KEY_SECRET,
        "CONVENE_OAUTH_CLIENT_SECRET": OAUTH_CLIENT_SECRET,
        "CONVENE_CORS_ORIGINS": cors_origins,
        "CONVENE_OAUTH_PUBLIC_URL": oauth_url,
        "CONVENE_OAUTH_RESULT_URLS": oauth_result_urls,
        "CONVENE_GOOGLE_AUTH_URI": sandbox_url + "/o/oauth2/v2/auth",
        "CONVENE_GOOGLE_TOKEN_URI": sandbox_url + "/token",
        "CONVENE_GOOGLE_REVOKE_URI": sandbox_url + "/revoke",
        "CONVENE_CALENDAR_API_ENDPOINT": sandbox_url + "/calendar/v3/",
        "CONVENE_MEET_API_ENDPOINT": sandbox_url + "/",
        # oauthlib refuses plain-http token endpoints unless told; only ever set for the loopback sandbox.
        "OAUTHLIB_INSECURE_TRANSPORT": "1",
    }
