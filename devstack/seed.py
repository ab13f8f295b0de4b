"""Demo data for the local run: one workspace with an admin, a host and a guest, and
interviews around "now" in every meeting status; plus a second workspace to try
cross-tenant access against."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from shared.adapters.firestore import InterviewRepository, UserRepository, WorkspaceRepository
from shared.auth.guest_links import GuestLinks
from shared.domain.models import Interview, InterviewStatus, InterviewType, Person, Role, User, Workspace

DEMO_WORKSPACE = "ws-demo"
OTHER_WORKSPACE = "ws-other"

ADMIN = User("uid-demo-admin", DEMO_WORKSPACE, Role.ADMIN, "ada.admin@demo.example", "Ada Admin")
HOST = User("uid-demo-host", DEMO_WORKSPACE, Role.HOST, "hugo.host@demo.example", "Hugo Host")
GUEST = User("uid-demo-guest", DEMO_WORKSPACE, Role.GUEST, "gina.guest@candidates.example", "Gina Guest")
OTHER_HOST = User("uid-other-host", OTHER_WORKSPACE, Role.HOST, "otto.other@other.example", "Otto Other")
OTHER_GUEST = Person("zoe.zed@candidates.example", "Zoe Zed")
USERS = {"admin": ADMIN, "host": HOST, "guest": GUEST, "other_host": OTHER_HOST}


@dataclass(frozen=True)
class DemoInterview:
    label: str
    interview: Interview
    expected_meeting_status: str


def _person(user: User) -> Person:
    return Person(email=user.email, name=user.display_name, uid=user.uid)


def demo_interviews(now: datetime) -> list[DemoInterview]:
    """Start times relative to ``now`` so each one is in the status its label says."""
    minute = now.replace(second=0, microsecond=0)

    def make(
        label: str,
        start: datetime,
        status: InterviewStatus = InterviewStatus.CONFIRMED,
        host: User = HOST,
        workspace: str = DEMO_WORKSPACE,
        guest: Person | None = None,
        **extra: Any,
    ) -> Interview:
        fields: dict[str, Any] = {
            "id": f"demo-{label.replace('_', '-')}",
            "workspace_id": workspace,
            "host": _person(host),
            "guest": guest or Person(GUEST.email, GUEST.display_name),
            "start": start,
            "timezone": "Europe/Berlin",
            "type": InterviewType.GOOGLE_MEET,
            "status": status,
            "duration_minutes": 45,
            "job_title": "Backend Engineer",
            "meet_link": f"https://meet.google.com/{_meet_code(label)}",
            "ical_uid": f"demo-{label}@convene.local",
            "created_at": now,
            "updated_at": now,
        }
        return Interview(**(fields | extra))

    return [
        DemoInterview("upcoming", make("upcoming", minute + timedelta(days=1, hours=2)), "upcoming"),
        DemoInterview("ready", make("ready", minute + timedelta(minutes=10)), "ready"),
        DemoInterview("in_progress", make("in_progress", minute - timedelta(minutes=10)), "in_progress"),
        DemoInterview("ended", make("ended", minute - timedelta(hours=3)), "ended"),
        DemoInterview("cancelled", make("cancelled", minute + timedelta(hours=4), InterviewStatus.CANCELLED), "cancelled"),
        DemoInterview(
            "pending", make("pending", minute + timedelta(days=2), InterviewStatus.PENDING, meet_link=None), "upcoming"
        ),
        DemoInterview(
            "phone",
            make("phone", minute + timedelta(minutes=5), type=InterviewType.PHONE, meet_link=None, phone="+49 30 5550100"),
            "ready",
        ),
        DemoInterview(
            "other_workspace",
            make(
                "other_workspace", minute + timedelta(minutes=10), host=OTHER_HOST, workspace=OTHER_WORKSPACE, guest=OTHER_GUEST
            ),
            "ready",
        ),
    ]


def _meet_code(label: str) -> str:
    """A code of Meet's shape (xxx-xxxx-xxx), fixed per demo interview."""
    letters = "".join(c for c in (label * 4) if c.isalpha())[:10].ljust(10, "x")
    return f"{letters[:3]}-{letters[3:7]}-{letters[7:10]}"


def seed_demo(client: Any, now: datetime, guest_links: GuestLinks) -> tuple[list[DemoInterview], dict[str, str]]:
    """Write the demo data; returns the interviews and a guest link token for each."""
    workspaces = WorkspaceRepository(client)
    workspaces.put(Workspace(DEMO_WORKSPACE, "Demo Corp", guest_can_cancel=True, created_at=now))
    workspaces.put(Workspace(OTHER_WORKSPACE, "Other Inc", created_at=now))
    users = UserRepository(client)
    for user in USERS.values():
        users.put(user)
    repo = InterviewRepository(client)
    demos = demo_interviews(now)
    tokens: dict[str, str] = {}
    for demo in demos:
        repo.add(demo.interview)
        tokens[demo.interview.id] = guest_links.sign(
            interview_id=demo.interview.id,
            workspace_id=demo.interview.workspace_id,
            expires_at=max(demo.interview.end, now) + timedelta(days=7),
        )
    return demos, tokens
