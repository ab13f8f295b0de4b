"""The join function over real HTTP, in its own functions-framework process, on the real
emulator and sandbox, with the real clock (interviews are placed relative to now)."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta

import pytest
import requests

from shared.adapters.firestore import InterviewRepository
from shared.auth.guest_links import GuestLinks
from shared.secrets import SecretManagerSecrets
from tests import factories
from tests.conftest import CORS_ORIGIN
from tests.factories import HOST, WORKSPACE
from tests.integration.test_http_bodies import chunked_post


@pytest.fixture
def seeded(db, sandbox, project_id):
    now = datetime.now(UTC)
    interview = factories.interview(start=now + timedelta(minutes=10))
    InterviewRepository(db).add(interview)
    links = GuestLinks(SecretManagerSecrets(project_id, sandbox.url), "convene-guest-link-key")
    token = links.sign(
        interview_id=interview.id, workspace_id=interview.workspace_id, expires_at=interview.end + timedelta(days=1)
    )
    return interview, token


def test_guest_checks_and_joins_over_http(join_server, seeded, db, openapi):
    interview, token = seeded
    url = f"{join_server.url}/interviews/{interview.id}"
    check = requests.get(url, headers={"Authorization": f"Bearer {token}"}, timeout=10)
    openapi.validate_response("join", "GET", f"/interviews/{interview.id}", check.status_code, check.json(), check.headers)
    assert check.status_code == 200
    assert (check.json()["meeting_status"], check.json()["can_join"], check.json()["participant"]) == ("ready", True, "guest")
    assert check.headers["Cache-Control"] == "no-store"

    joined = requests.post(url + "/join", headers={"Authorization": f"Bearer {token}"}, timeout=10)
    openapi.validate_response(
        "join", "POST", f"/interviews/{interview.id}/join", joined.status_code, joined.json(), joined.headers
    )
    assert joined.status_code == 200 and joined.json()["portal_join_count"] == 1
    stored = db.collection("interviews").document(interview.id).get().to_dict()
    assert stored["attendance"]["guest"]["join_count"] == 1


def test_host_token_and_errors_over_http(join_server, seeded, sandbox):
    interview, _ = seeded
    url = f"{join_server.url}/interviews/{interview.id}"
    host = sandbox.mint_id_token(HOST.uid, HOST.email, name=HOST.name, claims={"workspace_id": WORKSPACE})
    assert requests.get(url, headers={"Authorization": f"Bearer {host}"}, timeout=10).json()["participant"] == "host"

    missing = requests.get(url, timeout=10)
    assert missing.status_code == 401 and missing.json()["error"]["code"] == "missing_credentials"
    stranger = sandbox.mint_id_token("uid-stranger", "stranger@example.com")
    unknown = requests.get(url, headers={"Authorization": f"Bearer {stranger}"}, timeout=10)
    assert unknown.status_code == 404 and unknown.json()["error"]["code"] == "interview_not_found"
    broken = requests.post(url + "/join", data="{", headers={"Authorization": "Bearer x.y.z"}, timeout=10)
    assert broken.status_code == 401


def test_a_body_is_never_read_unless_the_route_reads_it(join_server, seeded):
    """POST /join reads no body: one that never ends (chunked, left open) does not hold the
    answer (functions-framework used to read every body to its end after the answer)."""
    interview, token = seeded
    for bearer, status in ((None, 401), (token, 200)):
        headers = {"Content-Type": "application/json"} | ({"Authorization": f"Bearer {bearer}"} if bearer else {})
        answer = chunked_post(
            join_server.url, f"/interviews/{interview.id}/join", headers, iter([b"{" * 70_000]), finish=False, timeout=10
        )
        assert (answer[0], answer[2] < 5) == (status, True), answer


def test_cors_preflight_over_http(join_server, seeded):
    interview, _ = seeded
    reply = requests.options(
        f"{join_server.url}/interviews/{interview.id}/join",
        headers={"Origin": CORS_ORIGIN, "Access-Control-Request-Method": "POST"},
        timeout=10,
    )
    assert reply.status_code == 204
    assert reply.headers["Access-Control-Allow-Origin"] == CORS_ORIGIN


def test_logs_are_structured_traced_and_free_of_secrets(join_server, seeded, sandbox):
    interview, token = seeded
    trace = uuid.uuid4().hex
    host = sandbox.mint_id_token(HOST.uid, HOST.email, name=HOST.name)
    for bearer in (token, host, token[:-4] + "AAAA"):
        requests.get(
            f"{join_server.url}/interviews/{interview.id}",
            timeout=10,
            headers={"Authorization": f"Bearer {bearer}", "X-Cloud-Trace-Context": f"{trace}/123;o=1"},
        )
    lines = [json.loads(line) for line in join_server.log_path.read_text().splitlines() if line.startswith("{")]
    ours = [line for line in lines if trace in line.get("logging.googleapis.com/trace", "")]
    assert len([line for line in ours if line["message"] == "request"]) == 3
    assert all(line["severity"] in ("INFO", "WARNING", "ERROR") for line in ours)
    assert {line.get("interview_id") for line in ours if line["message"] == "request" and line["status"] == 200} == {interview.id}
    text = join_server.log_path.read_text()
    for secret in (token, host, token.split(".")[2], interview.guest.email, interview.guest.name, interview.host.email):
        assert secret not in text
