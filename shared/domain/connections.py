"""A host's calendar connection (Google today; the shape leaves room for other providers)."""

from __future__ import annotations

import enum
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime

GOOGLE = "google"

OPENID = "openid"
EMAIL = "https://www.googleapis.com/auth/userinfo.email"
CALENDAR_EVENTS = "https://www.googleapis.com/auth/calendar.events"
CALENDAR_FREEBUSY = "https://www.googleapis.com/auth/calendar.freebusy"
CALENDAR_LIST = "https://www.googleapis.com/auth/calendar.calendarlist.readonly"
MEET_READONLY = "https://www.googleapis.com/auth/meetings.space.readonly"
CALENDAR_FULL = "https://www.googleapis.com/auth/calendar"
CALENDAR_READONLY = "https://www.googleapis.com/auth/calendar.readonly"

# Minimal scopes (SPEC §2.1): create events, read free/busy, read the calendar list, know the account.
REQUESTED_SCOPES: tuple[str, ...] = (OPENID, EMAIL, CALENDAR_EVENTS, CALENDAR_FREEBUSY, CALENDAR_LIST)
REQUIRED_SCOPES: tuple[str, ...] = REQUESTED_SCOPES

SCOPE_LABELS = {
    OPENID: "sign-in (openid)",
    EMAIL: "your email address",
    CALENDAR_EVENTS: "create and edit calendar events",
    CALENDAR_FREEBUSY: "see when you are busy",
    CALENDAR_LIST: "see your list of calendars",
}

# A broader grant (e.g. from include_granted_scopes) covers the narrower scopes we need.
_COVERED_BY: dict[str, frozenset[str]] = {
    EMAIL: frozenset({"email"}),
    CALENDAR_EVENTS: frozenset({CALENDAR_FULL}),
    CALENDAR_FREEBUSY: frozenset({CALENDAR_FULL, CALENDAR_READONLY}),
    CALENDAR_LIST: frozenset({CALENDAR_FULL, CALENDAR_READONLY}),
}


class ConnectionStatus(str, enum.Enum):
    CONNECTED = "connected"
    NOT_CONNECTED = "not_connected"
    NEEDS_REAUTH = "needs_reauth"


@dataclass(frozen=True)
class SealedSecret:
    """An encrypted value as stored: ciphertext (base64 nonce + data + tag) and the key version."""

    ciphertext: str
    key_version: str

    def __repr__(self) -> str:
        return f"SealedSecret(key_version={self.key_version!r})"


@dataclass(frozen=True)
class CalendarEntry:
    id: str
    summary: str
    primary: bool
    access_role: str
    time_zone: str | None = None
    color: str | None = None


@dataclass(frozen=True)
class ProviderError:
    """The last failure talking to the provider, for the host and for admins."""

    code: str
    message: str
    at: datetime


@dataclass(frozen=True)
class Connection:
    uid: str
    workspace_id: str
    provider: str
    status: ConnectionStatus
    account_email: str | None = None
    scopes: tuple[str, ...] = ()
    calendars: tuple[CalendarEntry, ...] = ()
    refresh_token: SealedSecret | None = field(default=None, repr=False)
    connected_at: datetime | None = None
    last_sync_at: datetime | None = None
    last_error: ProviderError | None = None
    updated_at: datetime | None = None
    account_id: str | None = None  # Google's `sub`: Meet lists the host as users/<account_id>


def missing_scopes(granted: Iterable[str], required: Iterable[str] = REQUIRED_SCOPES) -> list[str]:
    """The required scopes a grant lacks, in a stable order."""
    have = set(granted)
    return [s for s in required if s not in have and not (_COVERED_BY.get(s, frozenset()) & have)]


@dataclass(frozen=True)
class OAuthState:
    """One connect attempt: bound to a user, then to the browser that started it, used once."""

    state_hash: str
    uid: str
    workspace_id: str
    provider: str
    result_url: str | None
    code_verifier: SealedSecret
    login_hint: str | None
    created_at: datetime
    expires_at: datetime
    browser_binding: str | None = None  # hash of the cookie nonce set when the browser started

    def expired(self, now: datetime) -> bool:
        return now >= self.expires_at


def result_url_allowed(requested: str | None, allowed: Iterable[str]) -> str | None:
    """Exact match against the allow-list (never a prefix or pattern: no open redirect)."""
    allowed = tuple(allowed)
    if requested is None:
        return allowed[0] if allowed else None
    return requested if requested in allowed else None


class GoogleAuthRequired(Exception):
    """The connection cannot be used until the host consents again (missing, revoked, expired)."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


def refresh_token_context(uid: str, provider: str) -> str:
    """Associated data of a refresh token's ciphertext: it decrypts only in its own connection."""
    return f"connections/{uid}_{provider}/refresh_token"
