"""The connect attempt's small parts: hashes of its state and browser binding, its cookie, and
what the start and the callback answer."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime
from urllib.parse import urlencode, urlsplit, urlunsplit

from shared.errors import ConveneError, PermissionDenied

COOKIE_PREFIX = "convene_oauth_"


def state_hash(state: str) -> str:
    return hashlib.sha256(state.encode("utf-8")).hexdigest()


def binding_hash(nonce: str) -> str:
    return hashlib.sha256(("browser:" + nonce).encode("utf-8")).hexdigest()


def cookie_name(hashed_state: str) -> str:
    """One cookie per attempt, so two tabs connecting at once do not overwrite each other."""
    return COOKIE_PREFIX + hashed_state[:16]


@dataclass(frozen=True)
class ConnectLink:
    url: str
    expires_at: datetime


@dataclass(frozen=True)
class BrowserStart:
    google_url: str
    cookie_name: str
    cookie_value: str
    max_age_seconds: int


@dataclass(frozen=True)
class Outcome:
    """What the callback tells the host (redirect parameters or the result page)."""

    connected: bool
    code: str
    message: str
    result_url: str | None
    account_email: str | None = None
    missing_scopes: tuple[str, ...] = ()
    convene_user: str | None = None  # the Convene user (email, else uid) the Google account was linked to

    def redirect_location(self) -> str | None:
        if self.result_url is None:
            return None
        params = {"google_connection": "connected" if self.connected else "failed"}
        if not self.connected:
            params["error"] = self.code
        parts = urlsplit(self.result_url)  # keep the front-end's own query and fragment intact
        query = f"{parts.query}&{urlencode(params)}" if parts.query else urlencode(params)
        return urlunsplit(parts._replace(query=query))


class OAuthRejected(ConveneError):
    """A callback that must not proceed; answered on the result page or redirect, never as JSON."""

    status = 400
    code = "oauth_rejected"


class StartRefused(PermissionDenied):
    """A start that came from elsewhere than the front-end, or from another user: nothing is bound."""


def origin_of(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"
