"""Google OAuth 2.0 surface (authorization page, token, revoke, userinfo). TO BE BUILT."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from flask import Blueprint

from .identity import Identity


@dataclass(frozen=True)
class Account:
    """A Google account known to the sandbox."""

    email: str
    name: str
    sub: str  # stable numeric string


class OAuth:
    def __init__(self, identity: Identity) -> None:
        self.identity = identity
        self.blueprint = Blueprint("oauth", __name__)

    def reset(self) -> None:
        """Forget clients, accounts, codes and tokens."""

    def authorize_api_request(self, authorization: str | None, accepted_scopes: Iterable[str]) -> Account:
        """The account behind `Authorization: Bearer <access token>` if the token is live and
        carries one of `accepted_scopes`; else GoogleError 401 / 403 exactly as Google answers."""
        raise NotImplementedError
