"""The Secret Manager adapter through the real client against the sandbox, and the local one."""

from __future__ import annotations

import json
import logging

import pytest

from shared.errors import Unavailable
from shared.secrets import LocalSecrets, SecretManagerSecrets, SecretNotFound


class Ticker:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def secret_name(request):
    return f"test-{request.node.name[:40].replace('_', '-')}"


def test_latest_and_numbered_versions(sandbox, project_id, secret_name):
    sandbox.put_secret(secret_name, "one")
    sandbox.put_secret(secret_name, "two")
    secrets = SecretManagerSecrets(project_id, sandbox.url)
    latest = secrets.get(secret_name)
    assert (latest.value, latest.version) == (b"two", "2")
    assert secrets.get(secret_name, "1").value == b"one"
    assert "two" not in repr(latest)


def test_numbered_versions_are_cached_and_latest_is_re_resolved(sandbox, project_id, secret_name):
    sandbox.put_secret(secret_name, "one")
    ticker = Ticker()
    secrets = SecretManagerSecrets(project_id, sandbox.url, monotonic=ticker)
    assert secrets.get(secret_name).version == "1"
    calls_before = len(sandbox.calls(f"/v1/projects/{project_id}/secrets/{secret_name}"))
    secrets.get(secret_name, "1")
    secrets.get(secret_name)
    assert len(sandbox.calls(f"/v1/projects/{project_id}/secrets/{secret_name}")) == calls_before  # all from cache
    sandbox.put_secret(secret_name, "two")
    ticker.now += 301  # past the 'latest' TTL: a rotation is picked up without a redeploy
    assert secrets.get(secret_name).value == b"two"


def test_missing_and_disabled_secrets_are_an_operator_error(sandbox, project_id, secret_name, caplog):
    secrets = SecretManagerSecrets(project_id, sandbox.url)
    with pytest.raises(SecretNotFound) as excinfo:
        secrets.get("no-such-secret")
    assert excinfo.value.status == 500
    sandbox.put_secret(secret_name, "value-that-must-not-be-logged")
    _disable(sandbox, project_id, secret_name)
    with caplog.at_level(logging.INFO), pytest.raises(SecretNotFound):
        secrets.get(secret_name, "1")
    assert "value-that-must-not-be-logged" not in caplog.text


def _disable(sandbox, project_id, name):
    import requests

    reply = requests.post(f"{sandbox.url}/v1/projects/{project_id}/secrets/{name}/versions/1:disable", json={}, timeout=5)
    assert reply.status_code == 200, reply.text


def test_an_outage_is_a_503_not_a_500(sandbox, project_id, secret_name):
    sandbox.put_secret(secret_name, "v")
    sandbox.inject(f"/secrets/{secret_name}/versions/latest:access", [{"status": 500}, {"status": 500}], method="GET")
    with pytest.raises(Unavailable):
        SecretManagerSecrets(project_id, sandbox.url).get(secret_name)


def test_local_secrets_file(tmp_path):
    path = tmp_path / "secrets.json"
    path.write_text(json.dumps({"a": "alpha", "b": ["b1", "b2"]}))
    local = LocalSecrets(path)
    assert (local.get("a").value, local.get("a").version) == (b"alpha", "1")
    assert (local.get("b").value, local.get("b").version) == (b"b2", "2")
    assert local.get("b", "1").value == b"b1"
    for name, version in (("missing", "latest"), ("b", "3"), ("b", "0"), ("b", "x")):
        with pytest.raises(SecretNotFound):
            local.get(name, version)
    with pytest.raises(SecretNotFound):
        LocalSecrets(tmp_path / "absent.json").get("a")
