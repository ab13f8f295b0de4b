"""Encryption at rest for Google tokens: AES-256-GCM under keys held in the secrets port.

Every ciphertext records the key version that made it, so after a rotation old tokens
still decrypt (and are re-encrypted under the newest key when next written). The
associated data binds a ciphertext to its owner and purpose: a token copied into another
user's document does not decrypt there.
"""

from __future__ import annotations

import base64
import binascii
import os

from shared.domain.connections import SealedSecret
from shared.errors import InternalError
from shared.secrets import Secrets

NONCE_BYTES = 12
KEY_BYTES = 32


class CorruptCiphertext(InternalError):
    """A stored ciphertext does not decrypt: wrong key, tampering or a copied field."""


class TokenCipher:
    def __init__(self, secrets: Secrets, secret_name: str):
        self._secrets = secrets
        self._secret_name = secret_name

    def _key(self, version: str) -> tuple[bytes, str]:
        secret = self._secrets.get(self._secret_name, version)
        try:
            key = base64.b64decode(secret.value, validate=True)
        except (binascii.Error, ValueError):
            key = b""
        if len(key) != KEY_BYTES:
            raise InternalError()  # misconfigured key: logged by the caller's error handling, never echoed
        return key, secret.version

    def seal(self, plaintext: str, *, context: str) -> SealedSecret:
        from cryptography.hazmat.primitives.ciphers.aead import AESGCM

        key, version = self._key("latest")
        nonce = os.urandom(NONCE_BYTES)
        data = AESGCM(key).encrypt(nonce, plaintext.encode("utf-8"), context.encode("utf-8"))
        return SealedSecret(base64.b64encode(nonce + data).decode("ascii"), version)

    def open(self, sealed: SealedSecret, *, context: str) -> str:
        from cryptography.exceptions import InvalidTag
        from cryptography.hazmat.primitives.ciphers.aead import AESGCM

        # ``latest`` first: one Secret Manager read caches it under its number too, so a token
        # sealed with the newest key (the usual case) costs no second read, nor does is_current().
        self._secrets.get(self._secret_name, "latest")
        key, _ = self._key(sealed.key_version)
        try:
            raw = base64.b64decode(sealed.ciphertext, validate=True)
            return AESGCM(key).decrypt(raw[:NONCE_BYTES], raw[NONCE_BYTES:], context.encode("utf-8")).decode("utf-8")
        except (InvalidTag, binascii.Error, ValueError):
            raise CorruptCiphertext() from None

    def is_current(self, sealed: SealedSecret) -> bool:
        """False after a rotation: the caller should re-seal with the newest key."""
        return sealed.key_version == self._secrets.get(self._secret_name, "latest").version
