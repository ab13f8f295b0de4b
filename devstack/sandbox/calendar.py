"""Google Calendar v3 surface. TO BE BUILT."""

from __future__ import annotations

from flask import Blueprint

from .oauth import OAuth


class Calendar:
    def __init__(self, oauth: OAuth) -> None:
        self.oauth = oauth
        self.blueprint = Blueprint("calendar", __name__)

    def reset(self) -> None:
        """Forget calendars and events."""
