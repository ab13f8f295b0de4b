"""Demo data for the local run: one workspace with an admin, a host, a mentor (a second
host) and a guest, and interviews around "now" in every meeting status; plus a second
workspace to try cross-tenant access against; busy blocks in the hosts' sandbox calendars,
so free/busy (and the booking page) shows real gaps; and a scheduling configuration with a
booking link for each host.

The demo host starts without Google (connecting it is part of the demo); the mentor is
connected by devstack/dev.py at start through the real connect flow, so her booking link
offers slots at once."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any
from urllib.parse import quote
from zoneinfo import ZoneInfo

from shared.adapters.firestore import InterviewRepository, UserRepository, WorkspaceRepository
from shared.auth.guest_links import GuestLinks
from shared.domain.models import Interview, InterviewStatus, InterviewType, Person, Role, User, Workspace
from shared.domain.scheduling import BookingLink, SchedulingConfig

DEMO_WORKSPACE = "ws-demo"
OTHER_WORKSPACE = "ws-other"

ADMIN = User("uid-demo-admin", DEMO_WORKSPACE, Role.ADMIN, "ada.admin@demo.example", "Ada Admin")
HOST = User("uid-demo-host", DEMO_WORKSPACE, Role.HOST, "hugo.host@demo.example", "Hugo Host")
GUEST = User("uid-demo-guest", DEMO_WORKSPACE, Role.GUEST, "gina.guest@candidates.example", "Gina Guest")
# A second host of the workspace, connected to Google at start (devstack/dev.py): her booking link is bookable at once.
MENTOR = User("uid-demo-mentor", DEMO_WORKSPACE, Role.HOST, "maya.mentor@demo.example", "Maya Mentor")
OTHER_HOST = User("uid-other-host", OTHER_WORKSPACE, Role.HOST, "otto.other@other.example", "Otto Other")
OTHER_GUEST = Person("zoe.zed@candidates.example", "Zoe Zed")
USERS = {"admin": ADMIN, "host": HOST, "mentor": MENTOR, "guest": GUEST, "other_host": OTHER_HOST}


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


# -- busy blocks in the demo hosts' sandbox calendars -------------------------------------

HOST_ZONE = "Europe/Berlin"  # where the demo hosts work (the demo interviews' zone too)
HOST_INTERVIEWS_CALENDAR = "interviews.demo@group.calendar.google.com"  # as devstack/dev.py creates it
MENTOR_CALENDAR = "mentoring.demo@group.calendar.google.com"  # the mentor's second calendar, likewise
BUSY_DAYS = 14


@dataclass(frozen=True)
class BusyBlock:
    """An event in one of a demo host's calendars: timed (aware datetimes) or all-day (dates, end exclusive)."""

    calendar_id: str
    summary: str
    start: datetime | date
    end: datetime | date
    transparency: str = "opaque"  # "transparent" events show as free and never block a slot


def demo_busy_blocks(
    now: datetime, zone: str = HOST_ZONE, primary: str = HOST.email, second: str = HOST_INTERVIEWS_CALENDAR
) -> list[BusyBlock]:
    """A working fortnight from ``now``'s local date on: the same blocks for the same date.

    Weekdays only, in working hours of ``zone``: a team sync Monday and Wednesday 10:00–11:00
    (Wednesday also a panel prep 10:30–11:30 in the ``second`` calendar, overlapping it),
    lunch Tuesday and Thursday 12:30–13:30, a hiring debrief Friday 15:00–16:30 (``second``
    calendar), focus time Tuesday 14:00–16:00 shown as free, and an all-day offsite on the
    second week's Thursday. ``primary`` is the host's account email (its primary calendar's
    id); the defaults are the demo host's calendars.
    """
    tz = ZoneInfo(zone)
    today = now.astimezone(tz).date()
    interviews = second
    blocks: list[BusyBlock] = []
    # (weekdays, calendar, summary, local start, local end, transparency)
    week = (
        ((0, 2), primary, "Team sync", "10:00", "11:00", "opaque"),
        ((2,), interviews, "Panel prep", "10:30", "11:30", "opaque"),
        ((1, 3), primary, "Lunch", "12:30", "13:30", "opaque"),
        ((1,), primary, "Focus time", "14:00", "16:00", "transparent"),
        ((4,), interviews, "Hiring debrief", "15:00", "16:30", "opaque"),
    )
    for offset in range(BUSY_DAYS):
        day = today + timedelta(days=offset)
        for weekdays, calendar_id, summary, start, end, transparency in week:
            if day.weekday() in weekdays:
                blocks.append(
                    BusyBlock(
                        calendar_id,
                        summary,
                        datetime.combine(day, time.fromisoformat(start), tz),
                        datetime.combine(day, time.fromisoformat(end), tz),
                        transparency,
                    )
                )
    offsite = today + timedelta(days=7 + (3 - today.weekday()) % 7)  # the Thursday 7 to 13 days ahead
    blocks.append(BusyBlock(primary, "Team offsite", offsite, offsite + timedelta(days=1)))
    return blocks


def seed_busy_blocks(
    sandbox_url: str, now: datetime, zone: str = HOST_ZONE, host: User = HOST, second: str = HOST_INTERVIEWS_CALENDAR
) -> list[BusyBlock]:
    """Put ``demo_busy_blocks`` into ``host``'s sandbox calendars through the control API (call
    it after its ``second`` calendar exists). Its primary calendar gets ``zone``, as the all-day
    block is busy from midnight to midnight in its calendar's zone."""
    import requests

    def post(path: str, body: dict[str, Any]) -> None:
        response = requests.post(sandbox_url + path, json=body, timeout=10)
        response.raise_for_status()

    post(
        "/sandbox/calendar/calendars",
        {"account": host.email, "id": host.email, "summary": host.email, "time_zone": zone, "primary": True},
    )
    blocks = demo_busy_blocks(now, zone, host.email, second)
    for busy in blocks:
        post(
            f"/sandbox/calendar/calendars/{quote(busy.calendar_id, safe='@')}/busy",
            {
                "start": busy.start.isoformat(),
                "end": busy.end.isoformat(),
                "summary": busy.summary,
                "transparency": busy.transparency,
            },
        )
    return blocks


# -- a scheduling configuration and a booking link of each demo host ----------------------

DEMO_CONFIG_ID = "demo-intro-call"
# What a host would POST /scheduling-configs: weekday mornings and afternoons in Berlin. The
# calendars are the demo host's primary one (its account's address) and its "Interviews"
# calendar, both in the calendar list its Google connection syncs (devstack/dev.py creates
# them in the sandbox), so the busy blocks above are what availability subtracts.
DEMO_CONFIG = {
    "name": "30-minute intro call",
    "timezone": HOST_ZONE,
    "calendar_ids": [HOST.email, HOST_INTERVIEWS_CALENDAR],
    "duration_minutes": 30,
    "slot_step_minutes": 15,
    "buffer_before_minutes": 10,
    "buffer_after_minutes": 5,
    "minimum_notice_minutes": 120,
    "days_ahead": 14,
    "working_hours": {
        day: [{"start": "09:00", "end": "12:00"}, {"start": "13:00", "end": "17:00"}]
        for day in ("monday", "tuesday", "wednesday", "thursday", "friday")
    },
    "interview_type": "google_meet",
    "booking_mode": "direct",
}

MENTOR_CONFIG_ID = "demo-mentoring-call"
# The mentor's: the same weekday hours, on her primary and "Mentoring" calendars (connected and
# synced at start by devstack/dev.py), so her booking link shows free slots from the first minute.
MENTOR_CONFIG = DEMO_CONFIG | {"name": "30-minute mentoring call", "calendar_ids": [MENTOR.email, MENTOR_CALENDAR]}


def seed_booking_link(
    client: Any,
    now: datetime,
    host: User = HOST,
    body: dict[str, Any] = DEMO_CONFIG,
    config_id: str = DEMO_CONFIG_ID,
    label: str = "Demo intro call",
) -> tuple[SchedulingConfig, BookingLink]:
    """``host``'s scheduling configuration (``body``, checked by the same parser as the API's
    create) and one booking link to it, written as the scheduling function stores them. The
    link id is the secret of the shareable URL: a fresh one each run. The defaults are the demo
    host's (``DEMO_CONFIG``)."""
    from shared.adapters.scheduling import BookingLinkRepository, SchedulingConfigRepository
    from shared.domain.booking import BookingLimits
    from shared.domain.scheduling import parse_config
    from shared.services.scheduling.links import new_link_id

    config = parse_config(
        body,
        config_id=config_id,
        workspace_id=host.workspace_id,
        host_uid=host.uid,
        limits=BookingLimits(),
        created_at=now,
        updated_at=now,
    )
    SchedulingConfigRepository(client).add(config)
    link = BookingLink(
        id=new_link_id(),
        workspace_id=host.workspace_id,
        host_uid=host.uid,
        config_id=config.id,
        created_by=host.uid,
        label=label,
        created_at=now,
    )
    BookingLinkRepository(client).add(link)
    return config, link


def seed_mentor_booking_link(client: Any, now: datetime) -> tuple[SchedulingConfig, BookingLink]:
    """The mentor's configuration (``MENTOR_CONFIG``) and booking link."""
    return seed_booking_link(client, now, MENTOR, MENTOR_CONFIG, MENTOR_CONFIG_ID, "Demo mentoring call")
