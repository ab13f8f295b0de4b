"""Verification of Google-signed JWTs: Firebase ID tokens and service-account OIDC tokens.

google-auth checks the signature, ``iat``/``exp`` and the audience; this module adds the
issuer-specific rules and turns every failure into a 401 that reveals nothing about the
token itself.
"""

from __future__ import annotations

import logging
from typing import Any

from google.auth import exceptions as google_auth_exceptions
from google.auth import jwt

from shared.auth.certs import CertificateCache
from shared.auth.principal import Principal, PrincipalKind
from shared.errors import PermissionDenied, Unauthenticated

logger = logging.getLogger(__name__)

CLOCK_SKEW_SECONDS = 30
GOOGLE_ISSUERS = ("https://accounts.google.com", "accounts.google.com")


def decode_google_jwt(token: str, certs: CertificateCache, audience: str) -> dict[str, Any]:
    """Signature, expiry and audience checked by google-auth; failures become a generic 401."""
    try:
        header = jwt.decode_header(token)
    except (ValueError, google_auth_exceptions.GoogleAuthError, TypeError):
        raise Unauthenticated("The bearer token is malformed.", code="invalid_token") from None
    if header.get("alg") != "RS256":
        raise Unauthenticated("The bearer token is not valid.", code="invalid_token")
    try:
        return dict(jwt.decode(token, certs=certs.get(header.get("kid")), audience=audience,
                               clock_skew_in_seconds=CLOCK_SKEW_SECONDS))
    except (ValueError, google_auth_exceptions.GoogleAuthError) as exc:
        reason = str(exc)
        if "expired" in reason.lower():
            raise Unauthenticated("The bearer token has expired; sign in again.", code="token_expired") from None
        # google-auth's messages can quote claims; log only the class, answer generically.
        logger.info("token rejected", extra={"fields": {"event": "token_rejected", "error_code": type(exc).__name__}})
        raise Unauthenticated("The bearer token is not valid.", code="invalid_token") from None


class FirebaseTokenVerifier:
    """Firebase Auth / Identity Platform ID tokens, checked as Firebase documents them."""

    def __init__(self, project_id: str, certs: CertificateCache):
        self._project_id = project_id
        self._issuer = f"https://securetoken.google.com/{project_id}"
        self._certs = certs

    def verify(self, token: str) -> Principal:
        claims = decode_google_jwt(token, self._certs, self._project_id)
        subject = claims.get("sub")
        if claims.get("iss") != self._issuer or not isinstance(subject, str) or not 0 < len(subject) <= 128:
            raise Unauthenticated("The bearer token is not valid.", code="invalid_token")
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

    def __init__(self, audience: str, allowed_emails: tuple[str, ...], certs: CertificateCache):
        self._audience = audience
        self._allowed = frozenset(e.lower() for e in allowed_emails)
        self._certs = certs

    def verify(self, token: str) -> Principal:
        if not self._audience or not self._allowed:
            raise Unauthenticated("This function accepts no callers: its invokers are not configured.", code="not_configured")
        claims = decode_google_jwt(token, self._certs, self._audience)
        email = claims.get("email")
        if claims.get("iss") not in GOOGLE_ISSUERS or claims.get("email_verified") is not True or not isinstance(email, str):
            raise Unauthenticated("The bearer token is not valid.", code="invalid_token")
        if email.lower() not in self._allowed:
            raise PermissionDenied("This service account may not call this function.", code="caller_not_allowed")
        return Principal(kind=PrincipalKind.SERVICE, subject=email, email=email, email_verified=True)
