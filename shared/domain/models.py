"""The interview and the people around it, as plain immutable values."""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta


class InterviewStatus(str, enum.Enum):
    PENDING = "pending"
    CONFIRMED = "confirmed"
    COMPLETED = "completed"
    NO_SHOW = "no_show"
    CANCELLED = "cancelled"


class InterviewType(str, enum.Enum):
    GOOGLE_MEET = "google_meet"
    PHONE = "phone"
    IN_PERSON = "in_person"
    CUSTOM_VIDEO = "custom_video"

    @property
    def has_video_link(self) -> bool:
        return self in (InterviewType.GOOGLE_MEET, InterviewType.CUSTOM_VIDEO)


class Role(str, enum.Enum):
    """A user's role inside its workspace."""

    HOST = "host"
    ADMIN = "admin"
    GUEST = "guest"


class Participant(str, enum.Enum):
    """Which side of an interview a caller is on."""

    HOST = "host"
    GUEST = "guest"


@dataclass(frozen=True)
class Person:
    email: str
    name: str
    uid: str | None = None


@dataclass(frozen=True)
class Attendance:
    """Portal joins of one participant; the first and last instants feed attendance reports."""

    join_count: int = 0
    first_joined_at: datetime | None = None
    last_joined_at: datetime | None = None


@dataclass(frozen=True)
class JoinWindow:
    """How long before the start and after the scheduled end a participant may join."""

    opens_minutes_before: int = 15
    closes_minutes_after_end: int = 60


@dataclass(frozen=True)
class Outcome:
    """Who really attended, and from which source that was decided (Meet records or portal joins)."""

    source: str  # "meet" | "portal"
    host_attended: bool
    guest_attended: bool
    actual_start: datetime | None = None
    actual_end: datetime | None = None
    decided_at: datetime | None = None

    @property
    def actual_duration_minutes(self) -> float | None:
        if self.actual_start is None or self.actual_end is None:
            return None
        return round((self.actual_end - self.actual_start).total_seconds() / 60, 1)


@dataclass(frozen=True)
class Cancellation:
    """Who cancelled (``host`` — a host or admin — or ``guest``, through its manage link), why, and when."""

    by: str
    reason: str | None = None
    at: datetime | None = None


@dataclass(frozen=True)
class BookingOrigin:
    config_id: str
    link_id: str | None = None
    buffer_before_minutes: int = 0
    buffer_after_minutes: int = 0


@dataclass(frozen=True)
class Interview:
    id: str
    workspace_id: str
    host: Person
    guest: Person
    start: datetime  # timezone-aware UTC instant
    timezone: str  # IANA zone it was booked in
    type: InterviewType
    status: InterviewStatus
    duration_minutes: int = 60
    job_title: str | None = None
    note: str | None = None
    location: str | None = None
    phone: str | None = None
    meet_link: str | None = None
    calendar_event_id: str | None = None
    ical_uid: str = ""
    ical_sequence: int = 0
    join_window: JoinWindow | None = None  # None: the deployment's default window
    attendance: Mapping[Participant, Attendance] = field(default_factory=dict)
    created_at: datetime | None = None
    updated_at: datetime | None = None
    # Reminders: offsets in minutes before the start, those done for the current time, and the
    # next due instant (the field the reminder run queries; None when nothing is left).
    reminder_offsets: tuple[int, ...] = (24 * 60, 60)
    reminders_done: tuple[int, ...] = ()
    next_reminder_at: datetime | None = None
    outcome: Outcome | None = None
    # Booked through a booking link (SPEC §2.6): the configuration and link it came from, and
    # the buffers it keeps free around itself (availability subtracts [start - before, end + after)).
    origin: BookingOrigin | None = None
    cancellation: Cancellation | None = None

    @property
    def end(self) -> datetime:
        return self.start + timedelta(minutes=self.duration_minutes)

    @property
    def portal_join_count(self) -> int:
        return sum(a.join_count for a in self.attendance.values())


@dataclass(frozen=True)
class User:
    uid: str
    workspace_id: str
    role: Role
    email: str
    display_name: str = ""


@dataclass(frozen=True)
class Workspace:
    id: str
    name: str
    guest_can_cancel: bool = False
    created_at: datetime | None = None
    reminder_offsets_minutes: tuple[int, ...] | None = None  # None: the deployment's default
