"""How the local parts are wired together: one place for the dev run, tests and benchmarks."""

from __future__ import annotations

FIREBASE_CERTS_PATH = "/robot/v1/metadata/x509/securetoken@system.gserviceaccount.com"
GOOGLE_OIDC_CERTS_PATH = "/oauth2/v1/certs"
GUEST_LINK_SECRET = "convene-guest-link-key"
FUNCTIONS = ("join",)  # every folder under functions/, in deploy order


def function_env(*, project_id: str, firestore_host: str, sandbox_url: str, cors_origins: str = "") -> dict[str, str]:
    """Environment for a function process talking to the emulator and the sandbox."""
    return {
        "CONVENE_PROJECT_ID": project_id,
        "FIRESTORE_EMULATOR_HOST": firestore_host,
        "CONVENE_FIREBASE_CERTS_URL": sandbox_url + FIREBASE_CERTS_PATH,
        "CONVENE_GOOGLE_OIDC_CERTS_URL": sandbox_url + GOOGLE_OIDC_CERTS_PATH,
        "CONVENE_SECRETS_BACKEND": "secretmanager",
        "CONVENE_SECRET_MANAGER_ENDPOINT": sandbox_url,
        "CONVENE_GUEST_LINK_SECRET": GUEST_LINK_SECRET,
        "CONVENE_CORS_ORIGINS": cors_origins,
    }
