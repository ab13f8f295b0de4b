"""Why the domain refuses something, by meaning: no HTTP here.

``shared.errors.from_domain`` (the one table) turns each into the API's error, and
``shared.http`` applies it where every error becomes a response: ``InvalidInput`` is a 400,
``RuleViolation`` (and ``TransitionNotAllowed``) a 422. ``code``, ``message`` and ``details``
pass through unchanged, so ``message`` is written for the API user and never carries a
secret, a token or an internal exception's text.
"""

from __future__ import annotations

from typing import Any


class DomainError(Exception):
    """Base of every refusal the domain states; ``code`` is the API's error code."""

    code: str = "unprocessable"  # a class default that an instance may override (``code=``)

    def __init__(self, message: str, *, code: str | None = None, details: dict[str, Any] | None = None):
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code
        self.details: dict[str, Any] = details or {}

    def about(self, field: str) -> DomainError:
        """The same refusal (same class, code and message) naming ``field`` in its details."""
        return type(self)(self.message, code=self.code, details={**self.details, "field": field})


class InvalidInput(DomainError):
    """Malformed input: the wrong type, not an id; nothing a rule could judge."""

    code = "bad_request"


class RuleViolation(DomainError):
    """Well-formed input that breaks a rule: a DST gap, a start in the past, text too long."""

    code = "unprocessable"


class TransitionNotAllowed(RuleViolation):
    """The status machine does not allow this change (SPEC §2.2)."""

    code = "invalid_transition"
