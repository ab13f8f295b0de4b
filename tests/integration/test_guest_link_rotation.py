"""Guest-link keys rotated and revoked in Secret Manager (the sandbox), seen by warm instances."""

from datetime import UTC, datetime, timedelta

import pytest
import requests

from shared.auth.guest_links import GuestLinks
from shared.errors import Unauthenticated
from shared.secrets import SecretManagerSecrets

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)


class Ticker:
    def __init__(self):
        self.now = 0.0

    def __call__(self):
        return self.now


@pytest.fixture
def key_name(request, sandbox):
    name = f"glk-{request.node.name[:30].replace('_', '-')}"
    sandbox.put_secret(name, "k1-" + "a" * 40)
    return name


def _links(sandbox, project_id, name, ticker):
    return GuestLinks(SecretManagerSecrets(project_id, sandbox.url, monotonic=ticker), name)


def _sign(links, interview_id="iv1"):
    return links.sign(interview_id=interview_id, workspace_id="ws1", expires_at=NOW + timedelta(hours=1))


def test_a_warm_instance_accepts_links_signed_with_a_key_newer_than_its_cache(sandbox, project_id, key_name):
    warm_clock = Ticker()
    warm = _links(sandbox, project_id, key_name, warm_clock)
    assert warm.verify(_sign(warm), now=NOW).interview_id == "iv1"  # caches latest = v1
    sandbox.put_secret(key_name, "k2-" + "b" * 40)
    fresh = _links(sandbox, project_id, key_name, Ticker())  # a new instance signs with v2
    warm_clock.now += 11
    assert warm.verify(_sign(fresh, "iv2"), now=NOW).interview_id == "iv2"


def test_a_disabled_key_version_revokes_its_links_within_the_cache_lifetime(sandbox, project_id, key_name):
    ticker = Ticker()
    links = _links(sandbox, project_id, key_name, ticker)
    old = _sign(links)
    sandbox.put_secret(key_name, "k2-" + "b" * 40)
    ticker.now += 301
    assert links.verify(old, now=NOW).interview_id == "iv1"  # v1 still enabled
    reply = requests.post(f"{sandbox.url}/v1/projects/{project_id}/secrets/{key_name}/versions/1:disable", json={}, timeout=5)
    assert reply.status_code == 200
    ticker.now += 301
    with pytest.raises(Unauthenticated):
        links.verify(old, now=NOW)


def test_forged_versions_cost_at_most_one_refresh(sandbox, project_id, key_name):
    import base64
    import json

    ticker = Ticker()
    links = _links(sandbox, project_id, key_name, ticker)
    token = _sign(links)
    prefix, payload, mac = token.split(".")
    calls_before = len(sandbox.calls(f"/v1/projects/{project_id}/secrets/{key_name}"))
    for forged_version in ("999", "998", "²", "0", "007", "-1"):
        data = json.loads(base64.urlsafe_b64decode(payload + "=="))
        data["kv"] = forged_version
        forged = base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()
        with pytest.raises(Unauthenticated):
            links.verify(f"{prefix}.{forged}.{mac}", now=NOW)
    assert len(sandbox.calls(f"/v1/projects/{project_id}/secrets/{key_name}")) - calls_before <= 1
