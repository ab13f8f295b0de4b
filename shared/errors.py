"""One error hierarchy for the whole system.

Service code raises these, the domain its own (shared.domain.errors, no HTTP there) that
``from_domain`` maps by the one table ``FOR_DOMAIN``; ``shared.http`` turns both into the
SPEC §3 JSON shape in exactly one place. ``message`` is written for the API user and must never
contain a secret, a token or an internal exception's text.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Any, ClassVar

from shared.domain.errors import DomainError, InvalidInput, RuleViolation


class ConveneError(Exception):
    """Base of every error that becomes an HTTP response."""

    status: ClassVar[int] = 500
    code: str = "internal"  # a class default that an instance may override (``code=``)
    headers: Mapping[str, str] = MappingProxyType({})  # response headers the error implies (e.g. Retry-After)

    def __init__(self, message: str, *, code: str | None = None, details: dict[str, Any] | None = None):
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code  # instance attribute shadows the class default
        self.details: dict[str, Any] = details or {}

    def to_body(self) -> dict[str, Any]:
        return {"error": {"code": self.code, "message": self.message, "details": self.details}}


class BadRequest(ConveneError):
    status = 400
    code = "bad_request"


class Unauthenticated(ConveneError):
    status = 401
    code = "unauthenticated"


class PermissionDenied(ConveneError):
    status = 403
    code = "permission_denied"


class NotFound(ConveneError):
    status = 404
    code = "not_found"


class MethodNotAllowed(ConveneError):
    status = 405
    code = "method_not_allowed"


class PayloadTooLarge(ConveneError):
    status = 413
    code = "body_too_large"


class UnsupportedMediaType(ConveneError):
    status = 415
    code = "unsupported_media_type"


class Conflict(ConveneError):
    status = 409
    code = "conflict"


class Gone(ConveneError):
    """Existed and is no longer usable: a revoked, expired or used-up booking link."""

    status = 410
    code = "gone"


class Unprocessable(ConveneError):
    """Well-formed input that breaks a rule (DST gap, past start, forbidden transition)."""

    status = 422
    code = "unprocessable"


class RateLimited(ConveneError):
    status = 429
    code = "rate_limited"


class Unavailable(ConveneError):
    """A dependency (Firestore, Google, Secret Manager) is down; the client may retry."""

    status = 503
    code = "unavailable"


class InternalError(ConveneError):
    status = 500
    code = "internal"

    def __init__(self) -> None:
        super().__init__("An internal error occurred. It has been logged.")


class NeedsGoogleAuth(Conflict):
    """The host's Google connection is missing or revoked: the front-end sends them to consent.

    ``needs_google_auth`` and ``google_auth_url`` sit in ``details`` and, for the seed
    front-ends, beside ``error`` too.
    """

    code = "needs_google_auth"

    def __init__(self, message: str, google_auth_url: str, *, reason: str):
        super().__init__(message, details={"needs_google_auth": True, "google_auth_url": google_auth_url, "reason": reason})

    def to_body(self) -> dict[str, Any]:
        body = super().to_body()
        body.update(needs_google_auth=True, google_auth_url=self.details["google_auth_url"])
        return body


class UpstreamError(ConveneError):
    """Google answered with an error that retrying will not fix."""

    status = 502
    code = "google_error"


# What each domain refusal is to the API: the most specific class of the error's MRO wins.
FOR_DOMAIN: Mapping[type[DomainError], type[ConveneError]] = MappingProxyType(
    {
        InvalidInput: BadRequest,  # malformed: 400
        RuleViolation: Unprocessable,  # well-formed but not acceptable (TransitionNotAllowed too): 422
        DomainError: Unprocessable,
    }
)


def from_domain(error: DomainError) -> ConveneError:
    """The API's error for a domain refusal: same code, message and details."""
    kind = next(FOR_DOMAIN[k] for k in type(error).__mro__ if k in FOR_DOMAIN)
    return kind(error.message, code=error.code, details=error.details)
