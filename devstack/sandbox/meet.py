"""Google Meet REST v2 surface (conference records, participants). TO BE BUILT."""

from __future__ import annotations

from flask import Blueprint

from .oauth import OAuth


class Meet:
    def __init__(self, oauth: OAuth) -> None:
        self.oauth = oauth
        self.blueprint = Blueprint("meet", __name__)

    def reset(self) -> None:
        """Forget conference records."""
