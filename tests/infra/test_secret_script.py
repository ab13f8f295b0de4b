"""scripts/add-secret-versions.sh: values go to gcloud on stdin only, in the format the code reads.

A stand-in ``gcloud`` on PATH records its arguments and stdin, so nothing leaves the
machine; the recorded value is then read by the same code production uses.
"""

from __future__ import annotations

import base64
import json
import os
import subprocess

import pytest

from tests.infra import code_contract

SCRIPT = code_contract.ROOT / "scripts" / "add-secret-versions.sh"


@pytest.fixture
def gcloud(tmp_path):
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    log = tmp_path / "calls.jsonl"
    fake = bin_dir / "gcloud"
    fake.write_text(f"""#!/usr/bin/env python3
import json, sys
with open({str(log)!r}, "a") as out:
    out.write(json.dumps({{"argv": sys.argv[1:], "stdin": sys.stdin.read()}}) + "\\n")
print("projects/1/secrets/x/versions/1")
""")
    fake.chmod(0o755)

    def run(*args: str, stdin: str | None = None) -> tuple[subprocess.CompletedProcess, list[dict]]:
        env = os.environ | {"PATH": f"{bin_dir}:{os.environ['PATH']}"}
        result = subprocess.run(
            ["bash", str(SCRIPT), *args],
            input=stdin if stdin is not None else "",
            env=env,
            capture_output=True,
            text=True,
            timeout=30,
        )
        calls = [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []
        return result, calls

    return run


@pytest.mark.parametrize("which, secret", [("token-key", "convene-token-key"), ("guest-link-key", "convene-guest-link-key")])
def test_generated_keys_are_32_random_bytes_passed_on_stdin(gcloud, which, secret):
    result, calls = gcloud("acme-prod", "generate", which)
    assert result.returncode == 0, result.stderr
    (call,) = calls
    assert call["argv"][:4] == ["secrets", "versions", "add", secret]
    assert "--data-file=-" in call["argv"]
    value = call["stdin"]
    assert value not in " ".join(call["argv"])
    assert len(base64.b64decode(value, validate=True)) == 32
    _, calls = gcloud("acme-prod", "generate", which)
    assert calls[1]["stdin"] != value  # a CSPRNG, not a constant


def test_the_generated_token_key_is_one_the_cipher_accepts(gcloud, tmp_path):
    from shared.crypto import TokenCipher
    from shared.secrets import LocalSecrets

    _, calls = gcloud("acme-prod", "generate", "token-key")
    secrets_file = tmp_path / "secrets.json"
    secrets_file.write_text(json.dumps({"convene-token-key": calls[0]["stdin"]}))
    cipher = TokenCipher(LocalSecrets(str(secrets_file)), "convene-token-key")
    sealed = cipher.seal("refresh-token", context="uid-1")
    assert cipher.open(sealed, context="uid-1") == "refresh-token"


def test_the_console_oauth_download_is_reduced_to_id_and_secret(gcloud):
    download = {"web": {"client_id": "123.apps.googleusercontent.com", "client_secret": "GOCSPX-abc", "project_id": "acme"}}
    result, calls = gcloud("acme-prod", "set", "oauth-client", stdin=json.dumps(download))
    assert result.returncode == 0, result.stderr
    assert json.loads(calls[0]["stdin"]) == {"client_id": "123.apps.googleusercontent.com", "client_secret": "GOCSPX-abc"}


@pytest.mark.parametrize(
    "stdin, message",
    [
        ("not json", "stdin is not JSON"),
        (json.dumps({"installed": {"client_id": "a", "client_secret": "b"}}), "desktop (installed) client"),
        (json.dumps({"client_id": "a"}), "expected"),
    ],
)
def test_a_bad_oauth_client_adds_no_version(gcloud, stdin, message):
    result, calls = gcloud("acme-prod", "set", "oauth-client", stdin=stdin)
    assert result.returncode != 0
    assert message in result.stderr
    assert calls == []


def test_the_sendgrid_key_comes_from_stdin_trimmed(gcloud):
    result, calls = gcloud("acme-prod", "set", "sendgrid-api-key", stdin="  SG.abc.def\n")
    assert result.returncode == 0, result.stderr
    assert calls[0]["stdin"] == "SG.abc.def"
    assert "SG.abc.def" not in " ".join(calls[0]["argv"])


@pytest.mark.parametrize(
    "args", [(), ("acme-prod",), ("acme-prod", "generate", "nope"), ("Bad_Project", "generate", "token-key")]
)
def test_bad_arguments_print_usage_and_add_nothing(gcloud, args):
    result, calls = gcloud(*args)
    assert result.returncode == 2
    assert "usage:" in result.stderr or "not a project id" in result.stderr
    assert calls == []
