"""The authenticated caller, whatever proved it."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from shared.domain.models import Interview


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
    link_version: int | None = None  # a respond link: the interview's SEQUENCE it was signed for


def host_principal(interview: Interview) -> Principal:
    """The interview's host, acting on its own Google connection (the host's uid and email as booked)."""
    return Principal(PrincipalKind.USER, interview.host.uid or "", interview.host.email, True, interview.workspace_id)
