"""Who may see and change what: the one access policy every service asks.

The callers, and what each may do:
- **host**: a signed-in user whose ``users/{uid}`` document gives the role ``host`` in a
  workspace. Sees and changes the interviews it hosts; connects its own Google account.
- **admin**: the same with the role ``admin``. Sees and changes every interview of its
  workspace, books for another host of it, reads the analytics of any host of it.
- **guest**: a signed-in user invited to an interview (its uid, or its verified email, is
  the interview's guest). Belongs to no workspace: the invitation is what grants access,
  so it sees (through ``join``) the interviews it is invited to, and nothing else.
- **guest link**: a signed link scoped to one interview of one workspace; sees that one.
- **internal caller**: Cloud Scheduler or Cloud Tasks with the OIDC token of the one
  configured service account (``shared.auth.callers.authenticate_service``); it acts on no
  user's behalf and reaches no user-facing route.

The workspace claim: an ID token may carry a ``workspace_id`` custom claim. When present it
must name the workspace the caller acts in — for a member, the workspace of its
``users/{uid}`` document; for a host joining, the interview's workspace. A token whose claim
disagrees is refused (403 ``not_a_member``; on ``join``, the 404 of an unknown interview),
whatever the user document says: a token minted for one workspace never acts in another.
A token without the claim is judged by the user document alone.

Refusals do not tell what exists: an interview the member may not see is the same 404 as
one that was never created.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from shared.auth.principal import Principal, PrincipalKind
from shared.domain.models import Interview, Participant, Role, User
from shared.errors import NotFound, PermissionDenied, Unprocessable

NOT_FOUND = "No interview with this id is visible to you."
MEMBER_ROLES = (Role.HOST, Role.ADMIN)


class Users(Protocol):
    def get(self, uid: str) -> User | None: ...


@dataclass(frozen=True)
class Member:
    """A host or admin of a workspace, as its users/{uid} document says."""

    uid: str
    workspace_id: str
    role: Role
    email: str
    name: str

    @property
    def is_admin(self) -> bool:
        return self.role is Role.ADMIN


def claim_allows(principal: Principal, workspace_id: str) -> bool:
    """The token's ``workspace_id`` claim, when it has one, names ``workspace_id``."""
    return principal.workspace_id is None or principal.workspace_id == workspace_id


def _member_of(user: User) -> Member:
    return Member(user.uid, user.workspace_id, user.role, user.email, user.display_name)


class AccessPolicy:
    """The rules above; one ``users/{uid}`` read per member check, none for the rest."""

    def __init__(self, users: Users):
        self._users = users

    def member(self, principal: Principal) -> Member:
        """The host or admin calling, or 403 ``not_a_member``."""
        if principal.kind is not PrincipalKind.USER:
            raise PermissionDenied("Sign in as a host of the workspace.", code="not_a_member")
        user = self._users.get(principal.subject)
        if user is None or user.role not in MEMBER_ROLES:
            raise PermissionDenied("Only hosts and admins of a workspace may do this.", code="not_a_member")
        if not claim_allows(principal, user.workspace_id):
            raise PermissionDenied("Your sign-in belongs to another workspace.", code="not_a_member")
        return _member_of(user)

    def host_for(self, member: Member, host_uid: str | None) -> Member:
        """The host a member acts for: itself, or (admins only) another host of its workspace."""
        if host_uid is None or host_uid == member.uid:
            return member
        if not member.is_admin:
            raise PermissionDenied("Only an admin books for another host.", code="not_an_admin")
        user = self._users.get(host_uid)
        if user is None or user.workspace_id != member.workspace_id or user.role not in MEMBER_ROLES:
            raise Unprocessable("host_uid is not a host of this workspace.", code="unknown_host", details={"field": "host_uid"})
        return _member_of(user)


def can_view(member: Member, interview: Interview) -> bool:
    """A host sees its own interviews, an admin every interview of its workspace."""
    if interview.workspace_id != member.workspace_id:
        return False
    return member.is_admin or interview.host.uid == member.uid


def can_change(member: Member, interview: Interview) -> bool:
    """Who sees an interview changes it (confirm, reschedule, cancel, mark); guests change nothing here."""
    return can_view(member, interview)


def visible(member: Member, interview: Interview | None) -> Interview:
    """The interview if the member may see it; otherwise the 404 of an unknown id."""
    if interview is None or not can_view(member, interview):
        raise NotFound(NOT_FOUND, code="interview_not_found")
    return interview


def changeable(member: Member, interview: Interview | None) -> Interview:
    """The interview if the member may change it; otherwise the 404 of an unknown id."""
    if interview is None or not can_change(member, interview):
        raise NotFound(NOT_FOUND, code="interview_not_found")
    return interview


def own_account(principal: Principal) -> str:
    """The uid whose own Google connection a signed-in user reads or withdraws.

    A connection belongs to its user, not to a workspace: anyone signed in may see theirs
    (none, for a non-host) and disconnect it, even after leaving the workspace — access we
    hold must always be withdrawable. Connecting, syncing and using it need ``member``.
    """
    if principal.kind is not PrincipalKind.USER:
        raise PermissionDenied("Only hosts have a Google connection.", code="not_a_member")
    return principal.subject


def participant(principal: Principal, interview: Interview) -> Participant:
    """Which side of the interview the caller is on (join), or the same 404 as a missing interview.

    No read: decided from the interview document alone (host uid, guest uid or email, the
    guest link's interview), with the workspace claim applied to the host.
    """
    if principal.kind is PrincipalKind.GUEST_LINK:
        if principal.interview_id == interview.id and principal.workspace_id == interview.workspace_id:
            return Participant.GUEST
    elif principal.kind is PrincipalKind.USER:
        if (
            claim_allows(principal, interview.workspace_id)
            and interview.host.uid is not None
            and principal.subject == interview.host.uid
        ):
            return Participant.HOST
        # A guest belongs to no workspace: the invitation to this interview is what grants access,
        # so a candidate invited by two companies sees both of its own interviews.
        if interview.guest.uid is not None and principal.subject == interview.guest.uid:
            return Participant.GUEST
        if principal.email_verified and principal.email and same_email(principal.email, interview.guest.email):
            return Participant.GUEST
    raise NotFound(NOT_FOUND, code="interview_not_found")


def same_email(a: str, b: str) -> bool:
    """Case-insensitive for ASCII addresses only: Unicode case folding merges distinct domains (ß/ss)."""
    if a.isascii() and b.isascii():
        return a.lower() == b.lower()
    return a == b
