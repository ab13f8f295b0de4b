"""Signed guest links: signature, expiry, purpose, tampering and key rotation."""

import base64
import json
from datetime import UTC, datetime, timedelta

import pytest

from shared.auth.guest_links import CONFIRM, DECLINE, JOIN, MANAGE, GuestLinks, is_guest_token
from shared.auth.principal import PrincipalKind
from shared.errors import Unauthenticated
from shared.secrets import LocalSecrets

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
SECRET = "convene-guest-link-key"


@pytest.fixture
def secrets_file(tmp_path):
    path = tmp_path / "secrets.json"
    path.write_text(json.dumps({SECRET: ["first-key-" + "a" * 32]}))
    return path


def links(path) -> GuestLinks:
    return GuestLinks(LocalSecrets(path), SECRET)


def sign(path, **overrides):
    args = {"interview_id": "iv1", "workspace_id": "ws1", "expires_at": NOW + timedelta(hours=1)} | overrides
    return links(path).sign(**args)


def test_round_trip(secrets_file):
    token = sign(secrets_file)
    assert is_guest_token(token)
    principal = links(secrets_file).verify(token, now=NOW)
    assert principal.kind is PrincipalKind.GUEST_LINK
    assert (principal.interview_id, principal.workspace_id) == ("iv1", "ws1")


def test_expiry_is_exact_to_the_second(secrets_file):
    token = sign(secrets_file, expires_at=NOW + timedelta(seconds=10))
    assert links(secrets_file).verify(token, now=NOW + timedelta(seconds=9)).interview_id == "iv1"
    with pytest.raises(Unauthenticated) as excinfo:
        links(secrets_file).verify(token, now=NOW + timedelta(seconds=10))
    assert excinfo.value.code == "guest_link_expired"


def _tamper_payload(token: str, **changes) -> str:
    prefix, payload, mac = token.split(".")
    data = json.loads(base64.urlsafe_b64decode(payload + "=="))
    data.update(changes)
    new_payload = base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()
    return f"{prefix}.{new_payload}.{mac}"


@pytest.mark.parametrize(
    "mutate",
    [
        lambda t: _tamper_payload(t, iid="someone-elses-interview"),
        lambda t: _tamper_payload(t, exp=2_000_000_000),
        lambda t: _tamper_payload(t, kv="2"),
        lambda t: _tamper_payload(t, kv="999999"),
        lambda t: t[:-2] + ("AA" if not t.endswith("AA") else "BB"),
        lambda t: t + "x",
        lambda t: "cvg1.not-base64!.abc",
        lambda t: "cvg1..",
        lambda t: "cvg2" + t[4:],
        lambda t: t.replace(".", "", 1),
        lambda t: "cvg1." + "A" * 2000 + ".x",
    ],
)
def test_tampered_links_are_rejected(secrets_file, mutate):
    with pytest.raises(Unauthenticated) as excinfo:
        links(secrets_file).verify(mutate(sign(secrets_file)), now=NOW)
    assert excinfo.value.code == "invalid_guest_link"
    assert excinfo.value.status == 401


def _same_bytes_variants(segment: str) -> list[str]:
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"

    def lenient(text: str) -> bytes:
        return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))

    return [segment[:-1] + c for c in alphabet if c != segment[-1] and lenient(segment[:-1] + c) == lenient(segment)]


def test_a_link_is_valid_in_its_one_canonical_spelling_only(secrets_file):
    """Padding, foreign characters or another last character with the same bytes: one link, one string."""
    token = sign(secrets_file)
    prefix, payload, mac = token.split(".")
    twins = _same_bytes_variants(mac)
    assert len(twins) == 3  # a 32-byte MAC leaves 2 unused bits in its last character
    variants = [
        token + "=",
        token + "==",
        f"{prefix}.{payload}=.{mac}",
        f"{prefix}.{payload}.{mac[:5]}+{mac[6:]}",
        f"{prefix}.{payload}.{mac[:5]} {mac[5:]}",
        *(f"{prefix}.{payload}.{twin}" for twin in twins),
    ]
    for variant in variants:
        with pytest.raises(Unauthenticated) as excinfo:
            links(secrets_file).verify(variant, now=NOW)
        assert excinfo.value.code == "invalid_guest_link", variant
    assert links(secrets_file).verify(token, now=NOW).interview_id == "iv1"


@pytest.mark.parametrize("payload", [b"[" * 350 + b"]" * 350, b'{"kv":"1","kv":"1"}', b'{"kv": NaN}', b"\xff", b"[]", b"null"])
def test_an_odd_payload_is_an_invalid_link_not_an_error(secrets_file, payload):
    token = f"cvg1.{base64.urlsafe_b64encode(payload).rstrip(b'=').decode()}.{'A' * 43}"
    with pytest.raises(Unauthenticated) as excinfo:
        links(secrets_file).verify(token, now=NOW)
    assert excinfo.value.code == "invalid_guest_link"


def test_a_link_signed_for_another_purpose_is_rejected(secrets_file):
    token = links(secrets_file).sign(
        interview_id="iv1", workspace_id="ws1", expires_at=NOW + timedelta(hours=1), purpose="cancel"
    )
    with pytest.raises(Unauthenticated):
        links(secrets_file).verify(token, now=NOW)


@pytest.mark.parametrize(
    ("signed_for", "verified_for"),
    [(JOIN, MANAGE), (MANAGE, JOIN), (CONFIRM, DECLINE), (DECLINE, CONFIRM), (MANAGE, CONFIRM), (JOIN, DECLINE)],
)
def test_a_link_of_one_purpose_never_verifies_for_another(secrets_file, signed_for, verified_for):
    """A join link cannot manage a booking (nor a manage link join), and a confirm link cannot decline."""
    token = sign(secrets_file, purpose=signed_for)
    assert links(secrets_file).verify(token, now=NOW, purpose=signed_for).interview_id == "iv1"
    with pytest.raises(Unauthenticated) as excinfo:
        links(secrets_file).verify(token, now=NOW, purpose=verified_for)
    assert excinfo.value.code == "invalid_guest_link"


def test_the_purposes_are_distinct():
    assert len({JOIN, MANAGE, CONFIRM, DECLINE}) == 4 and (MANAGE, CONFIRM, DECLINE) == ("manage", "confirm", "decline")


def test_a_link_signed_with_another_key_is_rejected(secrets_file, tmp_path):
    other = tmp_path / "other.json"
    other.write_text(json.dumps({SECRET: ["a-completely-different-key-000000"]}))
    with pytest.raises(Unauthenticated):
        links(secrets_file).verify(sign(other), now=NOW)


def test_rotation_keeps_old_links_valid_and_signs_new_ones_with_the_new_key(secrets_file):
    old_token = sign(secrets_file)
    secrets_file.write_text(json.dumps({SECRET: ["first-key-" + "a" * 32, "second-key-" + "b" * 32]}))
    rotated = links(secrets_file)
    assert rotated.verify(old_token, now=NOW).interview_id == "iv1"
    new_token = rotated.sign(interview_id="iv2", workspace_id="ws1", expires_at=NOW + timedelta(hours=1))
    assert json.loads(base64.urlsafe_b64decode(new_token.split(".")[1] + "=="))["kv"] == "2"
    assert rotated.verify(new_token, now=NOW).interview_id == "iv2"
