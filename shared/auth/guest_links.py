"""Signed guest links: an emailed candidate joins without an account.

A token names one interview, one purpose and an expiry, and is signed with HMAC-SHA256
under a key held in the secrets port. The key version travels in the token so that keys
can be rotated while links already sent keep working.

Format: ``cvg1.<base64url JSON payload>.<base64url MAC>``; the MAC covers ``cvg1.<payload>``.
Both segments must be canonical unpadded base64url (see ``shared.auth.tokens``), so a link
has exactly one valid string.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
from datetime import datetime

from shared.auth.principal import Principal, PrincipalKind
from shared.auth.tokens import b64url_decode, b64url_encode, json_object
from shared.errors import Unauthenticated
from shared.secrets import SecretNotFound, Secrets

PREFIX = "cvg1"
# Purposes: a token signed for one never verifies for another (``verify(purpose=...)``).
JOIN = "join"  # the portal join page (the guest's view and join)
MANAGE = "manage"  # the guest's manage page: see, cancel or reschedule its booking
CONFIRM = "confirm"  # the host's answer to a pending booking request: confirm it
DECLINE = "decline"  # ... or decline it
MAX_TOKEN_LENGTH = 1024
KEY_VERSION = re.compile(r"[1-9][0-9]{0,9}", re.ASCII)


def is_guest_token(token: str) -> bool:
    return token.startswith(PREFIX + ".")


class GuestLinks:
    def __init__(self, secrets: Secrets, secret_name: str):
        self._secrets = secrets
        self._secret_name = secret_name

    def sign(
        self, *, interview_id: str, workspace_id: str, expires_at: datetime, purpose: str = JOIN, version: int | None = None
    ) -> str:
        """``version``: the interview's revision the link answers for (a confirm / decline link of
        a request that the guest has moved since must not confirm the new time unseen)."""
        key = self._secrets.get(self._secret_name, "latest")
        payload: dict[str, object] = {
            "iid": interview_id,
            "ws": workspace_id,
            "p": purpose,
            "exp": int(expires_at.timestamp()),
            "kv": key.version,
        }
        if version is not None:
            payload["v"] = version
        body = f"{PREFIX}.{b64url_encode(json.dumps(payload, separators=(',', ':'), sort_keys=True).encode())}"
        mac = hmac.new(key.value, body.encode("ascii"), hashlib.sha256).digest()
        return f"{body}.{b64url_encode(mac)}"

    def verify(self, token: str, *, now: datetime, purpose: str = JOIN) -> Principal:
        invalid = Unauthenticated("The guest link is not valid.", code="invalid_guest_link")
        parts = token.split(".")
        if len(token) > MAX_TOKEN_LENGTH or len(parts) != 3 or parts[0] != PREFIX:
            raise invalid
        try:
            payload = json_object(b64url_decode(parts[1]))
            mac = b64url_decode(parts[2])
        except ValueError:  # binascii.Error and UnicodeDecodeError are ValueErrors
            raise invalid from None
        version = payload.get("kv")
        if not isinstance(version, str) or not KEY_VERSION.fullmatch(version):
            raise invalid
        # A forged version number must not turn into Secret Manager calls (or a 500): only
        # versions up to the current one exist, and a disabled one revokes its links.
        latest = self._secrets.get(self._secret_name, "latest")
        if int(version) > int(latest.version):
            latest = self._secrets.refresh_latest(self._secret_name)  # another instance may have rotated
            if int(version) > int(latest.version):
                raise invalid
        try:
            key = latest if version == latest.version else self._secrets.get(self._secret_name, version)
        except SecretNotFound:
            raise invalid from None
        expected = hmac.new(key.value, f"{parts[0]}.{parts[1]}".encode("ascii"), hashlib.sha256).digest()
        if not hmac.compare_digest(mac, expected):
            raise invalid
        # Only a payload we signed gets here, so its shape is ours; still check types.
        if payload.get("p") != purpose or not isinstance(payload.get("exp"), int):
            raise invalid
        if now.timestamp() >= payload["exp"]:
            raise Unauthenticated("The guest link has expired; ask the host for a new invitation.", code="guest_link_expired")
        return Principal(
            kind=PrincipalKind.GUEST_LINK,
            subject="guest",
            workspace_id=str(payload.get("ws")),
            interview_id=str(payload.get("iid")),
            link_version=payload["v"] if isinstance(payload.get("v"), int) else None,
        )
