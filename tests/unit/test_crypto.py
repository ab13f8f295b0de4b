"""AES-256-GCM token sealing: round trip, binding to its context, rotation, tampering."""

import base64
import json
import os

import pytest

from shared.crypto import CorruptCiphertext, TokenCipher
from shared.secrets import LocalSecrets

NAME = "convene-token-key"


def _key() -> str:
    return base64.b64encode(os.urandom(32)).decode()


@pytest.fixture
def keys(tmp_path):
    path = tmp_path / "secrets.json"
    first = _key()
    path.write_text(json.dumps({NAME: [first]}))
    return path


def test_round_trip_and_the_plaintext_is_not_in_the_ciphertext(keys):
    cipher = TokenCipher(LocalSecrets(keys), NAME)
    sealed = cipher.seal("1//refresh-token-value", context="connections/u1_google/refresh_token")
    assert sealed.key_version == "1"
    assert "refresh-token-value" not in sealed.ciphertext and "refresh" not in repr(sealed)
    assert cipher.open(sealed, context="connections/u1_google/refresh_token") == "1//refresh-token-value"


def test_same_plaintext_seals_differently_each_time(keys):
    cipher = TokenCipher(LocalSecrets(keys), NAME)
    assert cipher.seal("x", context="c").ciphertext != cipher.seal("x", context="c").ciphertext


def test_a_ciphertext_copied_to_another_owner_does_not_open(keys):
    cipher = TokenCipher(LocalSecrets(keys), NAME)
    sealed = cipher.seal("token", context="connections/alice_google/refresh_token")
    with pytest.raises(CorruptCiphertext):
        cipher.open(sealed, context="connections/mallory_google/refresh_token")


def test_tampering_is_detected(keys):
    cipher = TokenCipher(LocalSecrets(keys), NAME)
    sealed = cipher.seal("token", context="c")
    raw = bytearray(base64.b64decode(sealed.ciphertext))
    raw[-1] ^= 1
    from shared.domain.connections import SealedSecret

    for broken in (SealedSecret(base64.b64encode(bytes(raw)).decode(), "1"), SealedSecret("not base64!", "1")):
        with pytest.raises(CorruptCiphertext):
            cipher.open(broken, context="c")


def test_rotation_old_tokens_open_new_ones_use_the_new_key(keys):
    old = TokenCipher(LocalSecrets(keys), NAME).seal("old-token", context="c")
    data = json.loads(keys.read_text())
    data[NAME].append(_key())
    keys.write_text(json.dumps(data))
    rotated = TokenCipher(LocalSecrets(keys), NAME)
    assert not rotated.is_current(old)
    assert rotated.open(old, context="c") == "old-token"
    new = rotated.seal("new-token", context="c")
    assert new.key_version == "2" and rotated.is_current(new)


def test_a_key_of_the_wrong_size_is_an_operator_error(tmp_path):
    path = tmp_path / "s.json"
    path.write_text(json.dumps({NAME: base64.b64encode(b"short").decode()}))
    from shared.errors import InternalError

    with pytest.raises(InternalError):
        TokenCipher(LocalSecrets(path), NAME).seal("x", context="c")
