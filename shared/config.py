"""Every environment variable Convene reads, with its default, in one place.

Nothing else in the code base reads ``os.environ`` (the Google client libraries read
their own standard variables such as ``FIRESTORE_EMULATOR_HOST``).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TypeVar

from shared.api_limits import DURATION_MINUTES_DEFAULT, DURATION_MINUTES_MAX, DURATION_MINUTES_MIN

FIREBASE_CERTS_URL = "https://www.googleapis.com/robot/v1/metadata/x509/securetoken@system.gserviceaccount.com"
GOOGLE_OIDC_CERTS_URL = "https://www.googleapis.com/oauth2/v1/certs"
GOOGLE_AUTH_URI = "https://accounts.google.com/o/oauth2/v2/auth"
GOOGLE_TOKEN_URI = "https://oauth2.googleapis.com/token"
GOOGLE_REVOKE_URI = "https://oauth2.googleapis.com/revoke"


class ConfigError(ValueError):
    """Raised at start-up when the environment is unusable; the message names the variable."""


# name -> (default, description). The README's configuration table is generated from this.
VARIABLES: dict[str, tuple[str, str]] = {
    "CONVENE_PROJECT_ID": ("", "Google Cloud project id (falls back to GOOGLE_CLOUD_PROJECT)."),
    "CONVENE_FIREBASE_PROJECT_ID": (
        "",
        "Project whose Firebase Auth / Identity Platform issues ID tokens (default: CONVENE_PROJECT_ID).",
    ),
    "CONVENE_FIREBASE_CERTS_URL": (
        FIREBASE_CERTS_URL,
        "Where ID-token signing certificates are fetched (the sandbox serves its own).",
    ),
    "CONVENE_GOOGLE_OIDC_CERTS_URL": (
        GOOGLE_OIDC_CERTS_URL,
        "Where Google OIDC certificates (Scheduler/Tasks tokens) are fetched.",
    ),
    "CONVENE_INTERNAL_INVOKERS": ("", "Comma-separated service-account emails allowed to call internal functions."),
    "CONVENE_INTERNAL_AUDIENCE": ("", "Expected audience of OIDC tokens on internal functions (their URL)."),
    "CONVENE_CORS_ORIGINS": ("", "Comma-separated front-end origins allowed by CORS (exact match)."),
    "CONVENE_SECRETS_BACKEND": (
        "secretmanager",
        "secretmanager (Google Secret Manager) or local (a JSON file, for development and tests).",
    ),
    "CONVENE_SECRET_MANAGER_ENDPOINT": (
        "",
        "Override of the Secret Manager REST endpoint, e.g. the local sandbox (http://127.0.0.1:PORT).",
    ),
    "CONVENE_LOCAL_SECRETS_FILE": ("", "JSON file {name: value} used when CONVENE_SECRETS_BACKEND=local."),
    "CONVENE_GUEST_LINK_SECRET": ("convene-guest-link-key", "Secret holding the HMAC key of signed guest links."),
    "CONVENE_JOIN_OPENS_MINUTES": ("15", "Join window opens this many minutes before the start."),
    "CONVENE_JOIN_CLOSES_MINUTES": ("60", "Join window closes this many minutes after the scheduled end."),
    "CONVENE_LOG_LEVEL": ("INFO", "Minimum log severity."),
    "CONVENE_OAUTH_PUBLIC_URL": (
        "",
        "Public base URL of the oauth function; its /callback is the redirect URI registered with Google.",
    ),
    "CONVENE_OAUTH_CLIENT_SECRET": (
        "convene-google-oauth-client",
        'Secret holding the Google OAuth client as JSON {"client_id", "client_secret"}.',
    ),
    "CONVENE_OAUTH_RESULT_URLS": (
        "",
        "Comma-separated front-end URLs the callback may redirect to (exact match); none: a small result page is shown.",
    ),
    "CONVENE_OAUTH_STATE_TTL_MINUTES": ("10", "How long a connect attempt (its state and PKCE verifier) stays usable."),
    "CONVENE_TOKEN_KEY_SECRET": (
        "convene-token-key",
        "Secret holding the AES-256 key (base64, 32 bytes) that encrypts stored Google tokens; each version is a key.",
    ),
    "CONVENE_GOOGLE_AUTH_URI": (GOOGLE_AUTH_URI, "Google's authorization endpoint (the sandbox serves its own)."),
    "CONVENE_GOOGLE_TOKEN_URI": (GOOGLE_TOKEN_URI, "Google's token endpoint."),
    "CONVENE_GOOGLE_REVOKE_URI": (GOOGLE_REVOKE_URI, "Google's token revocation endpoint."),
    "CONVENE_CALENDAR_API_ENDPOINT": ("", "Override of the Calendar API endpoint, e.g. http://127.0.0.1:PORT/calendar/v3/."),
    "CONVENE_MEET_API_ENDPOINT": ("", "Override of the Meet API endpoint, e.g. http://127.0.0.1:PORT/."),
    "CONVENE_GOOGLE_RETRIES": (
        "4",
        "Retries of a Google call answered 429, 5xx, 403 rate-limit or timed out (exponential backoff with jitter).",
    ),
    "CONVENE_GOOGLE_BACKOFF_SCALE": ("1.0", "Multiplier of the backoff delays (tests make it small; production keeps 1.0)."),
    "CONVENE_GOOGLE_TIMEOUT_SECONDS": ("10", "Timeout of one HTTP call to Google."),
    "CONVENE_PORTAL_URL": ("", "Base URL of the join page in emailed links: {base}/{interview_id}#token={guest link}."),
    "CONVENE_SCHEDULING_URL": (
        "",
        "Public base URL of the scheduling function (booking, guest manage and host respond pages); "
        + "emailed links: {base}/manage#token={guest link}, {base}/respond#token={guest link}.",
    ),
    "CONVENE_GUEST_LINK_DAYS_AFTER_END": (
        "7",
        "How long after an interview's scheduled end its emailed guest link keeps working.",
    ),
    "CONVENE_BOOKING_HORIZON_DAYS": ("365", "How far ahead an interview may be booked."),
    # The duration defaults are docs/openapi.yaml's (shared.api_limits); a deployment may change them.
    "CONVENE_MIN_DURATION_MINUTES": (str(DURATION_MINUTES_MIN), "Shortest interview."),
    "CONVENE_MAX_DURATION_MINUTES": (str(DURATION_MINUTES_MAX), "Longest interview."),
    "CONVENE_DEFAULT_DURATION_MINUTES": (str(DURATION_MINUTES_DEFAULT), "Duration when a create request gives none."),
    "CONVENE_TASKS_LOCATION": ("europe-west1", "Region of the Cloud Tasks queues."),
    "CONVENE_EMAIL_QUEUE": ("convene-emails", "Cloud Tasks queue of email sends."),
    "CONVENE_TASKS_ENDPOINT": ("", "Override of the Cloud Tasks REST endpoint, e.g. the local sandbox."),
    "CONVENE_TASKS_SERVICE_ACCOUNT": (
        "",
        "Service account whose OIDC token Cloud Tasks attaches to email sends (one of the worker's CONVENE_INTERNAL_INVOKERS).",
    ),
    "CONVENE_EMAIL_WORKER_URL": ("", "URL of the email_worker function (the tasks' target and their OIDC audience)."),
    "CONVENE_SENDGRID_SECRET": ("convene-sendgrid-api-key", "Secret holding the SendGrid API key."),
    "CONVENE_SENDGRID_HOST": ("https://api.sendgrid.com", "SendGrid API host (the sandbox serves its own)."),
    "CONVENE_MAIL_FROM": ("interviews@convene.example", "Sender address of every email."),
    "CONVENE_MAIL_FROM_NAME": ("Convene", "Sender name of every email."),
    "CONVENE_GOOGLE_OPTIONAL_SCOPES": (
        "",
        "Extra scopes asked for at connect but not required, e.g. https://www.googleapis.com/auth/meetings.space.readonly to read real Meet attendance.",
    ),
    "CONVENE_OUTBOX_RETENTION_DAYS": ("30", "How long sent, failed and skipped outbox documents are kept."),
    "CONVENE_MAINTENANCE_MAX_CONNECTIONS": ("1000", "Connections one maintenance run refreshes or syncs, per job."),
    "CONVENE_MAINTENANCE_MAX_DELETIONS": ("5000", "Documents one maintenance run deletes, per collection."),
    "CONVENE_REMINDER_OFFSETS_MINUTES": (
        "1440,60",
        "Reminders, in minutes before the start (a workspace's reminder_offsets_minutes overrides).",
    ),
}


# What a deployment must say for every function that reads it: no default fits production
# (identities, URLs, the sender). infra/ sets these; tests tie the two together.
DEPLOYMENT_REQUIRED: frozenset[str] = frozenset(
    {
        "CONVENE_PROJECT_ID",
        "CONVENE_INTERNAL_INVOKERS",
        "CONVENE_INTERNAL_AUDIENCE",
        "CONVENE_OAUTH_PUBLIC_URL",
        "CONVENE_PORTAL_URL",
        "CONVENE_SCHEDULING_URL",
        "CONVENE_TASKS_LOCATION",
        "CONVENE_EMAIL_QUEUE",
        "CONVENE_TASKS_SERVICE_ACCOUNT",
        "CONVENE_EMAIL_WORKER_URL",
        "CONVENE_MAIL_FROM",
    }
)

# Local and test overrides (the sandbox, a secrets file, short backoffs): never set in a
# deployment, where the defaults name Google's and SendGrid's real endpoints.
LOCAL_ONLY: frozenset[str] = frozenset(
    {
        "CONVENE_SECRETS_BACKEND",
        "CONVENE_SECRET_MANAGER_ENDPOINT",
        "CONVENE_LOCAL_SECRETS_FILE",
        "CONVENE_FIREBASE_CERTS_URL",
        "CONVENE_GOOGLE_OIDC_CERTS_URL",
        "CONVENE_GOOGLE_AUTH_URI",
        "CONVENE_GOOGLE_TOKEN_URI",
        "CONVENE_GOOGLE_REVOKE_URI",
        "CONVENE_CALENDAR_API_ENDPOINT",
        "CONVENE_MEET_API_ENDPOINT",
        "CONVENE_TASKS_ENDPOINT",
        "CONVENE_SENDGRID_HOST",
        "CONVENE_GOOGLE_BACKOFF_SCALE",
    }
)


def _get(env: Mapping[str, str], name: str) -> str:
    return env.get(name, VARIABLES[name][0]).strip()


Number = TypeVar("Number", int, float)
_NUMBER_NAMES = {int: "an integer", float: "a number"}


def _number(env: Mapping[str, str], name: str, kind: type[Number], low: Number, high: Number) -> Number:
    """``name`` read as ``kind`` (int or float), within ``low``..``high``."""
    raw = _get(env, name)
    try:
        value = kind(raw)
    except ValueError:
        raise ConfigError(f"{name} must be {_NUMBER_NAMES[kind]}, got {raw!r}") from None
    if not low <= value <= high:
        raise ConfigError(f"{name} must be between {low} and {high}, got {value}")
    return value


def _minutes_list(env: Mapping[str, str], name: str) -> tuple[int, ...]:
    try:
        values = tuple(sorted({int(v) for v in _csv(env, name)}, reverse=True))
    except ValueError:
        raise ConfigError(f"{name} must be comma-separated whole minutes, got {_get(env, name)!r}") from None
    if not values or not all(0 < v <= 43200 for v in values):
        raise ConfigError(f"{name} must list minutes between 1 and 43200")
    return values


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
    join_opens_minutes: int = 15
    join_closes_minutes: int = 60
    log_level: str = "INFO"
    oauth_public_url: str = ""
    oauth_client_secret: str = "convene-google-oauth-client"
    oauth_result_urls: tuple[str, ...] = ()
    oauth_state_ttl_minutes: int = 10
    token_key_secret: str = "convene-token-key"
    google_auth_uri: str = GOOGLE_AUTH_URI
    google_token_uri: str = GOOGLE_TOKEN_URI
    google_revoke_uri: str = GOOGLE_REVOKE_URI
    calendar_api_endpoint: str = ""
    meet_api_endpoint: str = ""
    google_retries: int = 4
    google_backoff_scale: float = 1.0
    google_timeout_seconds: int = 10
    portal_url: str = ""
    scheduling_url: str = ""
    guest_link_days_after_end: int = 7
    booking_horizon_days: int = 365
    min_duration_minutes: int = DURATION_MINUTES_MIN
    max_duration_minutes: int = DURATION_MINUTES_MAX
    default_duration_minutes: int = DURATION_MINUTES_DEFAULT
    tasks_location: str = "europe-west1"
    email_queue: str = "convene-emails"
    tasks_endpoint: str = ""
    tasks_service_account: str = ""
    email_worker_url: str = ""
    sendgrid_secret: str = "convene-sendgrid-api-key"
    sendgrid_host: str = "https://api.sendgrid.com"
    mail_from: str = "interviews@convene.example"
    mail_from_name: str = "Convene"
    reminder_offsets_minutes: tuple[int, ...] = (1440, 60)
    google_optional_scopes: tuple[str, ...] = ()
    outbox_retention_days: int = 30
    maintenance_max_connections: int = 1000
    maintenance_max_deletions: int = 5000

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
            join_opens_minutes=_number(env, "CONVENE_JOIN_OPENS_MINUTES", int, 0, 24 * 60),
            join_closes_minutes=_number(env, "CONVENE_JOIN_CLOSES_MINUTES", int, 0, 24 * 60),
            log_level=_get(env, "CONVENE_LOG_LEVEL").upper(),
            oauth_public_url=_get(env, "CONVENE_OAUTH_PUBLIC_URL").rstrip("/"),
            oauth_client_secret=_get(env, "CONVENE_OAUTH_CLIENT_SECRET"),
            oauth_result_urls=_csv(env, "CONVENE_OAUTH_RESULT_URLS"),
            oauth_state_ttl_minutes=_number(env, "CONVENE_OAUTH_STATE_TTL_MINUTES", int, 1, 30),
            token_key_secret=_get(env, "CONVENE_TOKEN_KEY_SECRET"),
            google_auth_uri=_get(env, "CONVENE_GOOGLE_AUTH_URI"),
            google_token_uri=_get(env, "CONVENE_GOOGLE_TOKEN_URI"),
            google_revoke_uri=_get(env, "CONVENE_GOOGLE_REVOKE_URI"),
            calendar_api_endpoint=_get(env, "CONVENE_CALENDAR_API_ENDPOINT"),
            meet_api_endpoint=_get(env, "CONVENE_MEET_API_ENDPOINT"),
            google_retries=_number(env, "CONVENE_GOOGLE_RETRIES", int, 0, 10),
            google_backoff_scale=_number(env, "CONVENE_GOOGLE_BACKOFF_SCALE", float, 0.0, 10.0),
            google_timeout_seconds=_number(env, "CONVENE_GOOGLE_TIMEOUT_SECONDS", int, 1, 120),
            portal_url=_get(env, "CONVENE_PORTAL_URL").rstrip("/"),
            scheduling_url=_get(env, "CONVENE_SCHEDULING_URL").rstrip("/"),
            guest_link_days_after_end=_number(env, "CONVENE_GUEST_LINK_DAYS_AFTER_END", int, 0, 90),
            booking_horizon_days=_number(env, "CONVENE_BOOKING_HORIZON_DAYS", int, 1, 3650),
            min_duration_minutes=_number(env, "CONVENE_MIN_DURATION_MINUTES", int, 1, 24 * 60),
            max_duration_minutes=_number(env, "CONVENE_MAX_DURATION_MINUTES", int, 1, 24 * 60),
            default_duration_minutes=_number(env, "CONVENE_DEFAULT_DURATION_MINUTES", int, 1, 24 * 60),
            tasks_location=_get(env, "CONVENE_TASKS_LOCATION"),
            email_queue=_get(env, "CONVENE_EMAIL_QUEUE"),
            tasks_endpoint=_get(env, "CONVENE_TASKS_ENDPOINT"),
            tasks_service_account=_get(env, "CONVENE_TASKS_SERVICE_ACCOUNT"),
            email_worker_url=_get(env, "CONVENE_EMAIL_WORKER_URL").rstrip("/"),
            sendgrid_secret=_get(env, "CONVENE_SENDGRID_SECRET"),
            sendgrid_host=_get(env, "CONVENE_SENDGRID_HOST").rstrip("/"),
            mail_from=_get(env, "CONVENE_MAIL_FROM"),
            mail_from_name=_get(env, "CONVENE_MAIL_FROM_NAME"),
            reminder_offsets_minutes=_minutes_list(env, "CONVENE_REMINDER_OFFSETS_MINUTES"),
            google_optional_scopes=_csv(env, "CONVENE_GOOGLE_OPTIONAL_SCOPES"),
            outbox_retention_days=_number(env, "CONVENE_OUTBOX_RETENTION_DAYS", int, 1, 3650),
            maintenance_max_connections=_number(env, "CONVENE_MAINTENANCE_MAX_CONNECTIONS", int, 1, 10000),
            maintenance_max_deletions=_number(env, "CONVENE_MAINTENANCE_MAX_DELETIONS", int, 1, 100000),
        )

    @property
    def oauth_callback_url(self) -> str:
        """The redirect URI registered with Google: exact, so it is derived in one place."""
        return f"{self.oauth_public_url}/callback"
