"""The Google sandbox, exercised through the real client libraries the project uses."""

from __future__ import annotations

import json
import os
import select
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from google.api_core import exceptions
from google.api_core.retry import Retry, if_exception_type
from google.auth import jwt
from google.auth.credentials import AnonymousCredentials
from google.auth.transport.requests import Request
from google.cloud import secretmanager
from google.oauth2 import id_token

from devstack.sandbox import SandboxServer
from devstack.sandbox.identity import FIREBASE_CERTS_PATH, GOOGLE_CERTS_PATH
from devstack.sandbox.secretmanager import crc32c, project_number

PROJECT = "convene-sandbox-test"
REPO_ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def server() -> Iterator[SandboxServer]:
    with SandboxServer(PROJECT) as running:
        yield running


@pytest.fixture(autouse=True)
def clean(server: SandboxServer) -> None:
    server.reset()


@pytest.fixture(scope="module")
def client(server: SandboxServer) -> secretmanager.SecretManagerServiceClient:
    return secretmanager.SecretManagerServiceClient(
        transport="rest",
        credentials=AnonymousCredentials(),
        client_options={"api_endpoint": server.url},
    )


def _certs(server: SandboxServer, path: str) -> dict[str, str]:
    response = requests.get(server.url + path, timeout=5)
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "public, max-age=3600"
    certs: dict[str, str] = response.json()
    return certs


def _error_status(error: exceptions.GoogleAPICallError) -> str:
    status: str = error.response.json()["error"]["status"]
    return status


def _secret_path(secret: str) -> str:
    return f"projects/{PROJECT}/secrets/{secret}"


# -- identity -------------------------------------------------------------------------


def test_firebase_id_token_decodes_against_served_certs(server: SandboxServer) -> None:
    token = server.mint_id_token("user-1", "ada@example.com", name="Ada", claims={"workspace_id": "w1", "role": "admin"})
    certs = _certs(server, FIREBASE_CERTS_PATH)
    assert jwt.decode_header(token)["kid"] in certs
    assert jwt.decode_header(token)["alg"] == "RS256"

    claims = jwt.decode(token, certs=certs, audience=PROJECT)

    assert claims["iss"] == f"https://securetoken.google.com/{PROJECT}"
    assert claims["aud"] == PROJECT
    assert claims["sub"] == claims["user_id"] == "user-1"
    assert claims["email"] == "ada@example.com" and claims["email_verified"] is True
    assert claims["name"] == "Ada"
    assert claims["auth_time"] == claims["iat"] and claims["exp"] == claims["iat"] + 3600
    assert claims["firebase"] == {
        "identities": {"email": ["ada@example.com"]},
        "sign_in_provider": "password",
    }
    assert (claims["workspace_id"], claims["role"]) == ("w1", "admin")


def test_id_token_over_http_verifies_with_google_auth_certs_url(server: SandboxServer) -> None:
    response = requests.post(
        server.url + "/sandbox/identity/id-token",
        json={"uid": "u2", "email": "bob@example.com", "email_verified": False, "claims": {"role": "member"}},
        timeout=5,
    )
    assert response.status_code == 200

    claims = id_token.verify_token(
        response.json()["id_token"], Request(), audience=PROJECT, certs_url=server.url + FIREBASE_CERTS_PATH
    )

    assert claims["sub"] == "u2" and claims["role"] == "member"
    assert claims["email_verified"] is False and "name" not in claims


def test_expired_and_wrong_audience_tokens_are_rejected(server: SandboxServer) -> None:
    certs = _certs(server, FIREBASE_CERTS_PATH)
    expired = server.mint_id_token("u", "u@example.com", issued_at=int(time.time()) - 7200)
    foreign = server.mint_id_token("u", "u@example.com", audience="another-project")

    with pytest.raises(ValueError, match="expired"):
        jwt.decode(expired, certs=certs, audience=PROJECT)
    with pytest.raises(ValueError, match="audience"):
        jwt.decode(foreign, certs=certs, audience=PROJECT)


def test_reserved_custom_claims_are_refused_like_firebase(server: SandboxServer) -> None:
    response = requests.post(
        server.url + "/sandbox/identity/id-token",
        json={"uid": "u", "email": "u@example.com", "claims": {"aud": "x"}},
        timeout=5,
    )

    assert response.status_code == 400
    assert response.json()["error"]["status"] == "INVALID_ARGUMENT"


def test_oidc_token_verifies_against_google_certs_only(server: SandboxServer) -> None:
    email = "scheduler@convene.iam.gserviceaccount.com"
    response = requests.post(
        server.url + "/sandbox/identity/oidc-token",
        json={"email": email, "audience": "https://worker.example/run"},
        timeout=5,
    )
    token = response.json()["id_token"]

    claims = id_token.verify_token(
        token, Request(), audience="https://worker.example/run", certs_url=server.url + GOOGLE_CERTS_PATH
    )

    assert claims["iss"] == "https://accounts.google.com"
    assert claims["email"] == email and claims["email_verified"] is True
    assert claims["sub"] == claims["azp"] and claims["sub"].isdigit() and len(claims["sub"]) == 21
    again = server.mint_oidc_token(email, "https://other.example")
    assert jwt.decode(again, certs=_certs(server, GOOGLE_CERTS_PATH))["sub"] == claims["sub"]
    with pytest.raises(ValueError):
        jwt.decode(token, certs=_certs(server, FIREBASE_CERTS_PATH))


# -- Secret Manager -------------------------------------------------------------------


def test_secret_versions_through_the_real_client(
    client: secretmanager.SecretManagerServiceClient,
) -> None:
    created = client.create_secret(
        request={"parent": f"projects/{PROJECT}", "secret_id": "api-key", "secret": {"replication": {"automatic": {}}}}
    )
    client.add_secret_version(request={"parent": created.name, "payload": {"data": b"one", "data_crc32c": crc32c(b"one")}})
    client.add_secret_version(request={"parent": _secret_path("api-key"), "payload": {"data": b"two"}})

    latest = client.access_secret_version(name=_secret_path("api-key") + "/versions/latest")
    first = client.access_secret_version(name=_secret_path("api-key") + "/versions/1")

    # Like Google, names carry the project number, not the id used in the request.
    assert created.name == f"projects/{project_number(PROJECT)}/secrets/api-key"
    assert latest.name.endswith("/versions/2") and latest.payload.data == b"two"
    assert latest.payload.data_crc32c == crc32c(b"two")
    assert first.payload.data == b"one"
    versions = list(client.list_secret_versions(parent=created.name))
    assert [v.name.rsplit("/", 1)[1] for v in versions] == ["2", "1"]
    assert versions[1].client_specified_payload_checksum is True
    assert all(v.state == secretmanager.SecretVersion.State.ENABLED for v in versions)


def test_missing_secret_and_duplicate_create(server: SandboxServer, client: secretmanager.SecretManagerServiceClient) -> None:
    server.put_secret("dup", "x")

    with pytest.raises(exceptions.NotFound):
        client.access_secret_version(name=_secret_path("absent") + "/versions/latest")
    # Over REST the client maps by HTTP status only: 409 is Conflict, not AlreadyExists.
    with pytest.raises(exceptions.Conflict) as conflict:
        client.create_secret(
            request={"parent": f"projects/{PROJECT}", "secret_id": "dup", "secret": {"replication": {"automatic": {}}}}
        )
    assert _error_status(conflict.value) == "ALREADY_EXISTS"


def test_disabled_and_destroyed_versions_fail_precondition(
    server: SandboxServer, client: secretmanager.SecretManagerServiceClient
) -> None:
    server.put_secret("rotating", b"v1")
    name = _secret_path("rotating") + "/versions/1"

    disabled = client.disable_secret_version(name=name)
    assert disabled.state == secretmanager.SecretVersion.State.DISABLED
    # FAILED_PRECONDITION is an HTTP 400, which the REST client raises as BadRequest.
    with pytest.raises(exceptions.BadRequest) as refused:
        client.access_secret_version(name=name)
    assert _error_status(refused.value) == "FAILED_PRECONDITION"

    client.enable_secret_version(name=name)
    assert client.access_secret_version(name=name).payload.data == b"v1"

    client.destroy_secret_version(name=name)
    with pytest.raises(exceptions.BadRequest) as destroyed:
        client.enable_secret_version(name=name)
    assert _error_status(destroyed.value) == "FAILED_PRECONDITION"


def test_crc_mismatch_is_invalid_argument(server: SandboxServer, client: secretmanager.SecretManagerServiceClient) -> None:
    server.put_secret("checked", "v1")

    with pytest.raises(exceptions.BadRequest) as mismatch:
        client.add_secret_version(
            request={"parent": _secret_path("checked"), "payload": {"data": b"v2", "data_crc32c": crc32c(b"v2") ^ 1}}
        )

    assert _error_status(mismatch.value) == "INVALID_ARGUMENT"
    assert client.access_secret_version(name=_secret_path("checked") + "/versions/latest").name.endswith("/1")


def test_project_number_paths_and_other_projects(server: SandboxServer, client: secretmanager.SecretManagerServiceClient) -> None:
    assert server.put_secret("shared", "mine") == "1"
    server.put_secret("shared", "theirs", project="other-project")

    by_number = f"projects/{project_number(PROJECT)}/secrets/shared/versions/latest"
    assert client.access_secret_version(name=by_number).payload.data == b"mine"
    other = client.access_secret_version(name="projects/other-project/secrets/shared/versions/1")
    assert other.payload.data == b"theirs"


# -- core: faults, calls, reset -------------------------------------------------------


def test_injected_503_then_normal_through_the_client_retry(
    server: SandboxServer, client: secretmanager.SecretManagerServiceClient
) -> None:
    server.put_secret("flaky", "ok")
    server.inject(r"/secrets/flaky/versions/[^/]+:access$", [{"status": 503}], method="GET")
    fast_retry = Retry(initial=0.01, maximum=0.05, predicate=if_exception_type(exceptions.ServiceUnavailable))

    response = client.access_secret_version(name=_secret_path("flaky") + "/versions/latest", retry=fast_retry)

    assert response.payload.data == b"ok"
    calls = server.calls(path_prefix="/v1/")
    assert [(c["status"], c["injected"]) for c in calls] == [(503, True), (200, False)]
    assert calls[0]["query"]["$alt"] == "json;enum-encoding=int"


def test_injected_429_is_not_retried_by_the_rest_client(
    server: SandboxServer, client: secretmanager.SecretManagerServiceClient
) -> None:
    # The default retry lists ResourceExhausted, but REST raises its parent TooManyRequests.
    server.put_secret("busy", "ok")
    server.inject(r":access$", [{"status": 429}])

    with pytest.raises(exceptions.TooManyRequests) as throttled:
        client.access_secret_version(name=_secret_path("busy") + "/versions/1")

    assert _error_status(throttled.value) == "RESOURCE_EXHAUSTED"
    assert not isinstance(throttled.value, exceptions.ResourceExhausted)


def test_fault_queue_over_http_with_custom_body_and_delay(server: SandboxServer) -> None:
    faults: dict[str, Any] = {
        "method": "GET",
        "path_regex": "^/oauth2/v1/certs$",
        "responses": [{"status": 429, "body": {"quota": "gone"}}, {"delay_seconds": 0.3}],
    }
    assert requests.post(server.url + "/sandbox/faults", json=faults, timeout=5).json() == {"queued": 2}
    url = server.url + GOOGLE_CERTS_PATH

    first = requests.get(url, timeout=5)
    with pytest.raises(requests.ReadTimeout):
        requests.get(url, timeout=0.1)
    third = requests.get(url, timeout=5)

    assert (first.status_code, first.json()) == (429, {"quota": "gone"})
    assert third.status_code == 200


def test_calls_are_recorded_and_cleared(server: SandboxServer) -> None:
    requests.post(server.url + "/v1/projects/p/secrets?secretId=s", json={"replication": {"automatic": {}}}, timeout=5)
    requests.get(server.url + "/no/such/api", timeout=5)

    calls = requests.get(server.url + "/sandbox/calls", timeout=5).json()["calls"]
    assert [(c["method"], c["path"], c["status"]) for c in calls] == [
        ("POST", "/v1/projects/p/secrets", 200),
        ("GET", "/no/such/api", 404),
    ]
    assert calls[0]["query"] == {"secretId": "s"} and calls[0]["body"] == {"replication": {"automatic": {}}}
    assert [c["path"] for c in server.calls(path_prefix="/no/")] == ["/no/such/api"]

    requests.delete(server.url + "/sandbox/calls", timeout=5)
    assert server.calls() == []


def test_unknown_route_answers_google_error_shape(server: SandboxServer) -> None:
    response = requests.get(server.url + "/v2/whatever", timeout=5)

    assert response.status_code == 404
    assert response.json()["error"]["status"] == "NOT_FOUND"


def test_reset_clears_state_but_keeps_keys(server: SandboxServer, client: secretmanager.SecretManagerServiceClient) -> None:
    certs = _certs(server, FIREBASE_CERTS_PATH)
    server.put_secret("ephemeral", "x")
    server.inject("/never-called", [{"status": 500}])

    assert requests.post(server.url + "/sandbox/reset", timeout=5).json() == {"ok": True}

    with pytest.raises(exceptions.NotFound):
        client.get_secret(name=_secret_path("ephemeral"))
    assert requests.get(server.url + "/never-called", timeout=5).json()["error"]["status"] == "NOT_FOUND"
    assert _certs(server, FIREBASE_CERTS_PATH) == certs


# -- CLI ------------------------------------------------------------------------------


def _read_line(proc: subprocess.Popen[str], timeout: float) -> str:
    assert proc.stdout is not None
    ready, _, _ = select.select([proc.stdout], [], [], timeout)
    assert ready, "sandbox printed nothing in time"
    return proc.stdout.readline().strip()


def test_cli_serves_on_a_free_port_and_stops_on_sigterm(tmp_path: Path) -> None:
    secrets_file = tmp_path / "secrets.json"
    secrets_file.write_text(json.dumps({"sendgrid-api-key": "SG.local"}))
    proc = subprocess.Popen(
        [sys.executable, "-m", "devstack.sandbox", "--port", "0", "--project", "cli-p",
         "--secrets-file", str(secrets_file)],
        cwd=REPO_ROOT,
        stdout=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )  # fmt: skip
    try:
        line = _read_line(proc, timeout=10)
        assert line.startswith("sandbox ready http://127.0.0.1:")
        url = line.removeprefix("sandbox ready ")
        assert not url.endswith(":0")
        assert requests.get(url + "/sandbox/health", timeout=5).json() == {"ok": True}
        cli_client = secretmanager.SecretManagerServiceClient(
            transport="rest", credentials=AnonymousCredentials(), client_options={"api_endpoint": url}
        )
        access = cli_client.access_secret_version(name="projects/cli-p/secrets/sendgrid-api-key/versions/latest")
        assert access.payload.data == b"SG.local" and access.name.endswith("/versions/1")

        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=5) == 0
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        assert proc.stdout is not None
        proc.stdout.close()


def test_cli_refuses_non_loopback_host() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "devstack.sandbox", "--project", "p", "--host", "0.0.0.0"],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=10,
    )

    assert result.returncode == 2
    assert "127.0.0.1" in result.stderr
