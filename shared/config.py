"""Every environment variable Convene reads, with its default, in one place.

Nothing else in the code base reads ``os.environ`` (the Google client libraries read
their own standard variables such as ``FIRESTORE_EMULATOR_HOST``).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

FIREBASE_CERTS_URL = (
    "https://www.googleapis.com/robot/v1/metadata/x509/securetoken@system.gserviceaccount.com"
)
GOOGLE_OIDC_CERTS_URL = "https://www.googleapis.com/oauth2/v1/certs"


class ConfigError(ValueError):
    """Raised at start-up when the environment is unusable; the message names the variable."""


# name -> (default, description). The README's configuration table is generated from this.
VARIABLES: dict[str, tuple[str, str]] = {
    "CONVENE_PROJECT_ID": ("", "Google Cloud project id (falls back to GOOGLE_CLOUD_PROJECT)."),
    "CONVENE_FIREBASE_PROJECT_ID": ("", "Project whose Firebase Auth / Identity Platform issues ID tokens (default: CONVENE_PROJECT_ID)."),
    "CONVENE_FIREBASE_CERTS_URL": (FIREBASE_CERTS_URL, "Where ID-token signing certificates are fetched (the sandbox serves its own)."),
    "CONVENE_GOOGLE_OIDC_CERTS_URL": (GOOGLE_OIDC_CERTS_URL, "Where Google OIDC certificates (Scheduler/Tasks tokens) are fetched."),
    "CONVENE_INTERNAL_INVOKERS": ("", "Comma-separated service-account emails allowed to call internal functions."),
    "CONVENE_INTERNAL_AUDIENCE": ("", "Expected audience of OIDC tokens on internal functions (their URL)."),
    "CONVENE_CORS_ORIGINS": ("", "Comma-separated front-end origins allowed by CORS (exact match)."),
    "CONVENE_SECRETS_BACKEND": ("secretmanager", "secretmanager (Google Secret Manager) or local (a JSON file, for development and tests)."),
    "CONVENE_SECRET_MANAGER_ENDPOINT": ("", "Override of the Secret Manager REST endpoint, e.g. the local sandbox (http://127.0.0.1:PORT)."),
    "CONVENE_LOCAL_SECRETS_FILE": ("", "JSON file {name: value} used when CONVENE_SECRETS_BACKEND=local."),
    "CONVENE_GUEST_LINK_SECRET": ("convene-guest-link-key", "Secret holding the HMAC key of signed guest links."),
    "CONVENE_GUEST_LINK_GRACE_HOURS": ("24", "How long after an interview's scheduled end its guest links stay valid."),
    "CONVENE_JOIN_OPENS_MINUTES": ("15", "Join window opens this many minutes before the start."),
    "CONVENE_JOIN_CLOSES_MINUTES": ("60", "Join window closes this many minutes after the scheduled end."),
    "CONVENE_PORTAL_URL": ("", "Base URL of the join page used in emailed links (default: the join function URL)."),
    "CONVENE_LOG_LEVEL": ("INFO", "Minimum log severity."),
}


def _get(env: Mapping[str, str], name: str) -> str:
    return env.get(name, VARIABLES[name][0]).strip()


def _int(env: Mapping[str, str], name: str, low: int, high: int) -> int:
    raw = _get(env, name)
    try:
        value = int(raw)
    except ValueError:
        raise ConfigError(f"{name} must be an integer, got {raw!r}") from None
    if not low <= value <= high:
        raise ConfigError(f"{name} must be between {low} and {high}, got {value}")
    return value


def _csv(env: Mapping[str, str], name: str) -> tuple[str, ...]:
    return tuple(item.strip() for item in _get(env, name).split(",") if item.strip())


@dataclass(frozen=True)
class Settings:
    """Immutable configuration, read once per instance (cold start)."""

    project_id: str
    firebase_project_id: str = ""
    firebase_certs_url: str = FIREBASE_CERTS_URL
    google_oidc_certs_url: str = GOOGLE_OIDC_CERTS_URL
    internal_invokers: tuple[str, ...] = ()
    internal_audience: str = ""
    cors_origins: tuple[str, ...] = ()
    secrets_backend: str = "secretmanager"
    secret_manager_endpoint: str = ""
    local_secrets_file: str = ""
    guest_link_secret: str = "convene-guest-link-key"
    guest_link_grace_hours: int = 24
    join_opens_minutes: int = 15
    join_closes_minutes: int = 60
    portal_url: str = ""
    log_level: str = "INFO"

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if env is None else env
        project_id = _get(env, "CONVENE_PROJECT_ID") or env.get("GOOGLE_CLOUD_PROJECT", "").strip()
        if not project_id:
            raise ConfigError("CONVENE_PROJECT_ID (or GOOGLE_CLOUD_PROJECT) must be set")
        backend = _get(env, "CONVENE_SECRETS_BACKEND")
        if backend not in ("secretmanager", "local"):
            raise ConfigError(f"CONVENE_SECRETS_BACKEND must be secretmanager or local, got {backend!r}")
        if backend == "local" and not _get(env, "CONVENE_LOCAL_SECRETS_FILE"):
            raise ConfigError("CONVENE_LOCAL_SECRETS_FILE must be set when CONVENE_SECRETS_BACKEND=local")
        return cls(
            project_id=project_id,
            firebase_project_id=_get(env, "CONVENE_FIREBASE_PROJECT_ID") or project_id,
            firebase_certs_url=_get(env, "CONVENE_FIREBASE_CERTS_URL"),
            google_oidc_certs_url=_get(env, "CONVENE_GOOGLE_OIDC_CERTS_URL"),
            internal_invokers=_csv(env, "CONVENE_INTERNAL_INVOKERS"),
            internal_audience=_get(env, "CONVENE_INTERNAL_AUDIENCE"),
            cors_origins=_csv(env, "CONVENE_CORS_ORIGINS"),
            secrets_backend=backend,
            secret_manager_endpoint=_get(env, "CONVENE_SECRET_MANAGER_ENDPOINT"),
            local_secrets_file=_get(env, "CONVENE_LOCAL_SECRETS_FILE"),
            guest_link_secret=_get(env, "CONVENE_GUEST_LINK_SECRET"),
            guest_link_grace_hours=_int(env, "CONVENE_GUEST_LINK_GRACE_HOURS", 0, 24 * 90),
            join_opens_minutes=_int(env, "CONVENE_JOIN_OPENS_MINUTES", 0, 24 * 60),
            join_closes_minutes=_int(env, "CONVENE_JOIN_CLOSES_MINUTES", 0, 24 * 60),
            portal_url=_get(env, "CONVENE_PORTAL_URL"),
            log_level=_get(env, "CONVENE_LOG_LEVEL").upper(),
        )
