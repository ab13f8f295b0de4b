"""Authenticating a caller from its ``Authorization`` header: a front-end's user or guest,
or an internal function's one caller (Cloud Scheduler, Cloud Tasks; ``internal_router``)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING

from shared.auth.guest_links import GuestLinks, is_guest_token
from shared.auth.principal import Principal
from shared.auth.tokens import FirebaseTokenVerifier, ServiceTokenVerifier
from shared.errors import Unauthenticated
from shared.http import Request, Router

if TYPE_CHECKING:
    from shared.bootstrap import Container


def authenticate_participant(
    bearer: str | None, *, id_tokens: FirebaseTokenVerifier, guest_links: GuestLinks, now: datetime
) -> Principal:
    """A user (Firebase ID token) or a guest holding a signed link (``cvg1.…`` token)."""
    if not bearer:
        raise Unauthenticated("Send 'Authorization: Bearer <ID token or guest link token>'.", code="missing_credentials")
    if is_guest_token(bearer):
        return guest_links.verify(bearer, now=now)
    return id_tokens.verify(bearer)


def authenticate_user(bearer: str | None, *, id_tokens: FirebaseTokenVerifier) -> Principal:
    """A signed-in user (Firebase ID token); guest links are not accepted here."""
    if not bearer:
        raise Unauthenticated("Send 'Authorization: Bearer <ID token>'.", code="missing_credentials")
    if is_guest_token(bearer):
        raise Unauthenticated("A guest link cannot be used here; sign in.", code="invalid_token")
    return id_tokens.verify(bearer)


def authenticate_service(bearer: str | None, *, service_tokens: ServiceTokenVerifier, caller: str) -> Principal:
    """An internal function's caller: the Google OIDC token of its one configured service account."""
    if not bearer:
        raise Unauthenticated(f"Only {caller} may call this function.", code="missing_credentials")
    return service_tokens.verify(bearer)


def internal_router(function: str, container: Callable[[], Container], *, caller: str) -> Router:
    """The Router of an internal function: every route accepts only the OIDC token of its one
    caller's service account (``authenticate_service``; ``caller`` names it in the refusal).

    The configuration is read now: a bad value stops the instance at start-up, not on a request.
    """

    def internal_caller(request: Request) -> Principal:
        return authenticate_service(request.bearer_token(), service_tokens=container().service_tokens, caller=caller)

    container()
    return Router(function, container, auth=internal_caller)
