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
SENDGRID_SECRET = "convene-sendgrid-api-key"
TASKS_LOCATION = "europe-west1"
EMAIL_QUEUE = "convene-emails"
# Every folder under functions/ (the order gives the ports of `make dev`: new ones go last).
FUNCTIONS = ("join", "oauth", "interviews", "email_worker", "reminders", "maintenance", "scheduling")
INTERNAL_FUNCTIONS = ("email_worker", "reminders", "maintenance")  # called only by Cloud Tasks / Scheduler with an OIDC token


def tasks_invoker(project_id: str) -> str:
    """The service account whose OIDC token Cloud Tasks attaches to email sends."""
    return f"convene-tasks@{project_id}.iam.gserviceaccount.com"


def scheduler_invoker(project_id: str) -> str:
    """The service account whose OIDC token Cloud Scheduler attaches to its calls."""
    return f"convene-scheduler@{project_id}.iam.gserviceaccount.com"


def internal_env(function: str, url: str, project_id: str) -> dict[str, str]:
    """Least privilege: the worker accepts only Cloud Tasks' account, scheduled functions only
    Cloud Scheduler's; every internal function only tokens minted for its own URL."""
    invoker = tasks_invoker(project_id) if function == "email_worker" else scheduler_invoker(project_id)
    return {"CONVENE_INTERNAL_AUDIENCE": url, "CONVENE_INTERNAL_INVOKERS": invoker}


def stack_secrets() -> dict[str, str]:
    """Fresh secrets for one run of the local stack, as Secret Manager would hold them."""
    return {
        GUEST_LINK_SECRET: secrets.token_urlsafe(32),
        TOKEN_KEY_SECRET: base64.b64encode(os.urandom(32)).decode("ascii"),
        OAUTH_CLIENT_SECRET: json.dumps({"client_id": OAUTH_CLIENT_ID, "client_secret": "GOCSPX-" + secrets.token_urlsafe(24)}),
        SENDGRID_SECRET: "SG." + secrets.token_urlsafe(16) + "." + secrets.token_urlsafe(32),
    }


def oauth_client(stack_secret_values: dict[str, str]) -> tuple[str, str]:
    data = json.loads(stack_secret_values[OAUTH_CLIENT_SECRET])
    return data["client_id"], data["client_secret"]


def function_env(
    *,
    project_id: str,
    firestore_host: str,
    sandbox_url: str,
    cors_origins: str = "",
    oauth_url: str = "",
    oauth_result_urls: str = "",
    worker_url: str = "",
    portal_url: str = "",
    scheduling_url: str = "",
) -> dict[str, str]:
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
        "CONVENE_TASKS_ENDPOINT": sandbox_url,
        "CONVENE_TASKS_LOCATION": TASKS_LOCATION,
        "CONVENE_EMAIL_QUEUE": EMAIL_QUEUE,
        "CONVENE_TASKS_SERVICE_ACCOUNT": tasks_invoker(project_id),
        "CONVENE_INTERNAL_INVOKERS": tasks_invoker(project_id),
        "CONVENE_EMAIL_WORKER_URL": worker_url,
        "CONVENE_SENDGRID_SECRET": SENDGRID_SECRET,
        "CONVENE_SENDGRID_HOST": sandbox_url,
        "CONVENE_PORTAL_URL": portal_url,
        "CONVENE_SCHEDULING_URL": scheduling_url,  # booking pages and the emailed manage / respond links
        # oauthlib refuses plain-http token endpoints unless told; only ever set for the loopback sandbox.
        "OAUTHLIB_INSECURE_TRANSPORT": "1",
    }


def queue_retry_config() -> dict[str, object]:
    """The email queue's retry policy (the same as infra/ gives the real queue)."""
    return {"max_attempts": 8, "min_backoff": "1s", "max_backoff": "300s", "max_doublings": 5}


def create_email_queue(sandbox_url: str, project_id: str) -> None:
    """The email queue in the sandbox's Cloud Tasks, through the real client (Terraform makes the real one)."""
    from google.api_core import exceptions
    from google.auth.credentials import AnonymousCredentials
    from google.cloud import tasks_v2
    from google.protobuf import duration_pb2

    client = tasks_v2.CloudTasksClient(
        transport="rest", credentials=AnonymousCredentials(), client_options={"api_endpoint": sandbox_url}
    )
    config = queue_retry_config()
    retry = tasks_v2.RetryConfig(
        max_attempts=int(config["max_attempts"]),
        max_doublings=int(config["max_doublings"]),
        min_backoff=duration_pb2.Duration(seconds=int(str(config["min_backoff"]).rstrip("s"))),
        max_backoff=duration_pb2.Duration(seconds=int(str(config["max_backoff"]).rstrip("s"))),
    )
    parent = f"projects/{project_id}/locations/{TASKS_LOCATION}"
    try:
        client.create_queue(parent=parent, queue=tasks_v2.Queue(name=f"{parent}/queues/{EMAIL_QUEUE}", retry_config=retry))
    except exceptions.Conflict:
        pass
