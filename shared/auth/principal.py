"""The authenticated caller, whatever proved it."""

from __future__ import annotations

import enum
from dataclasses import dataclass


class PrincipalKind(str, enum.Enum):
    USER = "user"  # Firebase Auth / Identity Platform ID token
    GUEST_LINK = "guest_link"  # signed link from an email, scoped to one interview
    SERVICE = "service"  # Google OIDC token of a service account (Scheduler, Tasks)


@dataclass(frozen=True)
class Principal:
    kind: PrincipalKind
    subject: str  # uid, "guest", or the service account email
    email: str | None = None
    email_verified: bool = False
    workspace_id: str | None = None
    interview_id: str | None = None  # guest links only
