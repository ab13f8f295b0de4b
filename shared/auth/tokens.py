"""Verification of Google-signed JWTs: Firebase ID tokens and service-account OIDC tokens.

Tokens are parsed here, strictly, rather than by google-auth's lenient decoder, so that
one credential has exactly one string (a denylist or rate limit keyed on it cannot be
sidestepped) and odd input is a 401, never a 500:

- each segment is canonical base64url: no padding, only the URL-safe alphabet, unused
  bits zero (decoding then re-encoding gives the same text);
- header and payload are JSON objects of bounded size and nesting, without duplicate
  names (no parser differential) and without NaN/Infinity;
- the header names RS256 and a string ``kid`` of one of the issuer's current keys, whose
  certificate verifies the signature (google-auth's RSA verifier);
- ``iat``/``exp`` are checked against an injectable clock, with CLOCK_SKEW_SECONDS leeway.

Every failure is a 401 that reveals nothing about the token itself.
"""

from __future__ import annotations

import base64
import json
import logging
import re
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any, TypeGuard

from shared import logs
from shared.auth.certs import CertificateCache
from shared.auth.principal import Principal, PrincipalKind
from shared.clock import Clock, SystemClock
from shared.errors import PermissionDenied, Unauthenticated
from shared.jsonlimits import nests_deeper_than

logger = logging.getLogger(__name__)

# Leeway between Google's clock and ours, for both `exp` and `iat`. Google's and Cloud Run's
# clocks are NTP-synchronised; a few seconds cover request latency, not a stale token.
CLOCK_SKEW_SECONDS = 5
GOOGLE_ISSUERS = ("https://accounts.google.com", "accounts.google.com")
MAX_TOKEN_CHARS = 8192  # Google's ID tokens are 1–3 KB; Firebase caps custom claims at 1000 bytes
MAX_HEADER_CHARS = 1024  # a real header is ~100 characters: {"alg","kid","typ"}
MAX_JSON_DEPTH = 16
MAX_KID_CHARS = 128

_B64URL = re.compile(r"[A-Za-z0-9_-]*")


def b64url_encode(data: bytes) -> str:
    """Unpadded base64url, the one form this system writes."""
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64url_decode(text: str) -> bytes:
    """The bytes of a canonical unpadded base64url string; ValueError for any other string.

    Python's decoder ignores padding, skips foreign characters and the unused low bits
    of the last character, so several strings decode to the same bytes; only the one
    that re-encodes to itself is accepted.
    """
    if not isinstance(text, str) or not _B64URL.fullmatch(text) or len(text) % 4 == 1:
        raise ValueError("not canonical base64url")
    data = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    if b64url_encode(data) != text:
        raise ValueError("not canonical base64url")
    return data


def json_object(data: bytes, *, max_depth: int = MAX_JSON_DEPTH) -> dict[str, Any]:
    """A JSON object from untrusted bytes: UTF-8, nesting ≤ ``max_depth``, unique names, no NaN.

    The depth is checked before parsing: the json module recurses per level and a deep
    document would end in RecursionError (a 500) instead of a refusal.
    """
    text = data.decode("utf-8")  # UnicodeDecodeError is a ValueError
    if nests_deeper_than(text, max_depth):
        raise ValueError("JSON nested too deeply")
    value = json.loads(text, object_pairs_hook=_unique_names, parse_constant=_no_constant)
    if not isinstance(value, dict):
        raise ValueError("not a JSON object")  # noqa: TRY004 — callers handle every malformed token as ValueError
    return value


def _unique_names(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result = dict(pairs)
    if len(result) != len(pairs):
        raise ValueError("duplicate name in a JSON object")
    return result


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _is_number(value: Any) -> TypeGuard[int | float]:
    return isinstance(value, int | float) and not isinstance(value, bool)


@lru_cache(maxsize=32)
def _verifier(certificate_pem: str) -> Any:
    from google.auth import crypt

    return crypt.RSAVerifier.from_string(certificate_pem)


def _rejected(reason: str, message: str = "The bearer token is not valid.", code: str = "invalid_token") -> Unauthenticated:
    # Only the reason is logged: never the token nor a claim.
    logs.log(logger, logging.INFO, "token rejected", event="token_rejected", error_code=reason)
    return Unauthenticated(message, code=code)


def decode_google_jwt(token: str, certs: CertificateCache, audience: str, *, now: datetime | None = None) -> dict[str, Any]:
    """The verified claims of an RS256 JWT signed by one of ``certs``' keys for ``audience``."""
    if not isinstance(token, str) or len(token) > MAX_TOKEN_CHARS:
        raise _rejected("malformed", "The bearer token is malformed.")
    parts = token.split(".")
    if len(parts) != 3 or len(parts[0]) > MAX_HEADER_CHARS:
        raise _rejected("malformed", "The bearer token is malformed.")
    try:
        header = json_object(b64url_decode(parts[0]))
        payload_bytes = b64url_decode(parts[1])
        signature = b64url_decode(parts[2])
    except ValueError:
        raise _rejected("malformed", "The bearer token is malformed.") from None
    kid = header.get("kid")
    if header.get("alg") != "RS256" or not isinstance(kid, str) or not 0 < len(kid) <= MAX_KID_CHARS:
        raise _rejected("bad_header")
    certificate = certs.get(kid).get(kid)
    if not isinstance(certificate, str):
        raise _rejected("unknown_key")
    try:
        valid = _verifier(certificate).verify(f"{parts[0]}.{parts[1]}".encode("ascii"), signature)
    except (ValueError, TypeError):  # a key of another type than RSA in the issuer's set
        valid = False
    if not valid:
        raise _rejected("bad_signature")
    try:
        claims = json_object(payload_bytes)
    except ValueError:
        raise _rejected("malformed_claims") from None
    if claims.get("aud") != audience:
        raise _rejected("wrong_audience")
    issued, expires = claims.get("iat"), claims.get("exp")
    if not _is_number(issued) or not _is_number(expires):
        raise _rejected("missing_times")
    moment = (now or datetime.now(UTC)).timestamp()
    if moment < issued - CLOCK_SKEW_SECONDS:
        raise _rejected("issued_in_future")
    if moment > expires + CLOCK_SKEW_SECONDS:
        raise _rejected("expired", "The bearer token has expired; sign in again.", "token_expired")
    return claims


class FirebaseTokenVerifier:
    """Firebase Auth / Identity Platform ID tokens, checked as Firebase documents them."""

    def __init__(self, project_id: str, certs: CertificateCache, clock: Clock | None = None):
        self._project_id = project_id
        self._issuer = f"https://securetoken.google.com/{project_id}"
        self._certs = certs
        self._clock = clock or SystemClock()

    def verify(self, token: str) -> Principal:
        now = self._clock.now()
        claims = decode_google_jwt(token, self._certs, self._project_id, now=now)
        subject, auth_time = claims.get("sub"), claims.get("auth_time")
        if claims.get("iss") != self._issuer or not isinstance(subject, str) or not 0 < len(subject) <= 128:
            raise _rejected("wrong_issuer_or_subject")
        if auth_time is not None and (not _is_number(auth_time) or auth_time > now.timestamp() + CLOCK_SKEW_SECONDS):
            raise _rejected("bad_auth_time")
        workspace = claims.get("workspace_id")
        return Principal(
            kind=PrincipalKind.USER,
            subject=subject,
            email=claims.get("email") if isinstance(claims.get("email"), str) else None,
            email_verified=claims.get("email_verified") is True,
            workspace_id=workspace if isinstance(workspace, str) else None,
        )


class ServiceTokenVerifier:
    """Google OIDC tokens that Cloud Scheduler and Cloud Tasks attach to internal calls."""

    def __init__(self, audience: str, allowed_emails: tuple[str, ...], certs: CertificateCache, clock: Clock | None = None):
        self._audience = audience
        self._allowed = frozenset(e.lower() for e in allowed_emails)
        self._certs = certs
        self._clock = clock or SystemClock()

    def verify(self, token: str) -> Principal:
        if not self._audience or not self._allowed:
            raise Unauthenticated("This function accepts no callers: its invokers are not configured.", code="not_configured")
        claims = decode_google_jwt(token, self._certs, self._audience, now=self._clock.now())
        email = claims.get("email")
        if claims.get("iss") not in GOOGLE_ISSUERS or claims.get("email_verified") is not True or not isinstance(email, str):
            raise _rejected("wrong_issuer_or_email")
        if email.lower() not in self._allowed:
            raise PermissionDenied("This service account may not call this function.", code="caller_not_allowed")
        return Principal(kind=PrincipalKind.SERVICE, subject=email, email=email, email_verified=True)
