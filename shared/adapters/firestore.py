"""Firestore repositories: workspaces, users and interviews.

Documents are laid out for a person reading them in the Firestore console: readable field
names, nested maps for people and attendance, timestamps as Firestore timestamps, enums
as their string values, absent optional fields left out.

Collections (top level, every document carries ``workspace_id``):
- ``workspaces/{workspace_id}``
- ``users/{uid}`` (uid = Firebase Auth uid)
- ``interviews/{interview_id}``; one booked through a booking link has ``origin`` (``config_id``,
  ``link_id``, ``buffer_before_minutes``, ``buffer_after_minutes``), and every one is written with
  ``guest_email_key`` (the guest email trimmed and lower-cased, never read back: the booking
  links' per-guest limit counts on it, shared/adapters/scheduling.py)

Firestore's refusals are the ports' (shared.ports): ``Conflict`` on a create is
``AlreadyExists``, ``NotFound`` on an update ``DoesNotExist``.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from google.api_core import exceptions as gexc
from google.cloud import firestore

from shared.domain.models import (
    Attendance,
    BookingOrigin,
    Cancellation,
    Interview,
    InterviewStatus,
    InterviewType,
    JoinWindow,
    Outcome,
    Participant,
    Person,
    Role,
    User,
    Workspace,
)
from shared.refusals import AlreadyExists, DoesNotExist

WORKSPACES = "workspaces"
USERS = "users"
INTERVIEWS = "interviews"


def _drop_none(data: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in data.items() if v is not None}


def _person_doc(person: Person) -> dict[str, Any]:
    return _drop_none({"uid": person.uid, "email": person.email, "name": person.name})


def _person(data: Mapping[str, Any]) -> Person:
    return Person(email=data["email"], name=data.get("name", ""), uid=data.get("uid"))


def storable_id(value: str) -> bool:
    """Whether Firestore can hold a document with this id; no document has any other (a read
    of ``a/b`` or ``__x__`` would be an error, not "not found")."""
    try:
        size = len(value.encode("utf-8"))
    except UnicodeEncodeError:
        return False
    reserved = len(value) >= 4 and value.startswith("__") and value.endswith("__")
    return 0 < size <= 1500 and "/" not in value and value not in (".", "..") and not reserved


def _utc(value: datetime | None) -> datetime | None:
    return value.astimezone(UTC) if value is not None else None


def interview_to_document(interview: Interview) -> dict[str, Any]:
    window = interview.join_window
    return _drop_none(
        {
            "workspace_id": interview.workspace_id,
            "host": _person_doc(interview.host),
            "guest": _person_doc(interview.guest),
            "job_title": interview.job_title,
            "type": interview.type.value,
            "status": interview.status.value,
            "start": interview.start,
            "end": interview.end,
            "timezone": interview.timezone,
            "duration_minutes": interview.duration_minutes,
            "note": interview.note,
            "location": interview.location,
            "phone": interview.phone,
            "meet_link": interview.meet_link,
            "calendar_event_id": interview.calendar_event_id,
            "ical_uid": interview.ical_uid or None,
            "ical_sequence": interview.ical_sequence,
            "join_window": None
            if window is None
            else {
                "opens_minutes_before": window.opens_minutes_before,
                "closes_minutes_after_end": window.closes_minutes_after_end,
            },
            "attendance": {
                p.value: _drop_none(
                    {"join_count": a.join_count, "first_joined_at": a.first_joined_at, "last_joined_at": a.last_joined_at}
                )
                for p, a in interview.attendance.items()
            },
            "portal_join_count": interview.portal_join_count,
            "created_at": interview.created_at,
            "updated_at": interview.updated_at,
            "reminders": {"offsets_minutes": list(interview.reminder_offsets), "done_minutes": list(interview.reminders_done)},
            "next_reminder_at": interview.next_reminder_at,
            "outcome": None if interview.outcome is None else _outcome_doc(interview.outcome),
            "actual_duration_minutes": None if interview.outcome is None else interview.outcome.actual_duration_minutes,
            "origin": None if interview.origin is None else _origin_doc(interview.origin),
            "cancellation": None
            if interview.cancellation is None
            else _drop_none(
                {"by": interview.cancellation.by, "reason": interview.cancellation.reason, "at": interview.cancellation.at}
            ),
            "guest_email_key": guest_email_key(interview.guest.email),
        }
    )


def guest_email_key(email: str) -> str:
    """The guest's email as the booking links' per-guest limit compares it (``guest_email_key``,
    derived on every write, never read back): trimmed and lower-cased."""
    return email.strip().lower()


def _origin_doc(origin: BookingOrigin) -> dict[str, Any]:
    return _drop_none(
        {
            "config_id": origin.config_id,
            "link_id": origin.link_id,
            "buffer_before_minutes": origin.buffer_before_minutes,
            "buffer_after_minutes": origin.buffer_after_minutes,
        }
    )


def _origin(data: Any) -> BookingOrigin | None:
    """Absent (every interview created before booking links, and every host-created one): None."""
    if not isinstance(data, Mapping) or not data.get("config_id"):
        return None
    return BookingOrigin(
        config_id=str(data["config_id"]),
        link_id=data.get("link_id"),
        buffer_before_minutes=int(data.get("buffer_before_minutes", 0)),
        buffer_after_minutes=int(data.get("buffer_after_minutes", 0)),
    )


def _outcome_doc(outcome: Outcome) -> dict[str, Any]:
    return _drop_none(
        {
            "source": outcome.source,
            "host_attended": outcome.host_attended,
            "guest_attended": outcome.guest_attended,
            "actual_start": outcome.actual_start,
            "actual_end": outcome.actual_end,
            "decided_at": outcome.decided_at,
        }
    )


def _cancellation(data: Any) -> Cancellation | None:
    if not isinstance(data, dict) or not isinstance(data.get("by"), str):
        return None
    return Cancellation(data["by"], data.get("reason"), data.get("at"))


def interview_from_document(doc_id: str, data: Mapping[str, Any]) -> Interview:
    window = data.get("join_window")
    attendance = {
        Participant(key): Attendance(
            join_count=int(value.get("join_count", 0)),
            first_joined_at=_utc(value.get("first_joined_at")),
            last_joined_at=_utc(value.get("last_joined_at")),
        )
        for key, value in (data.get("attendance") or {}).items()
        if key in Participant._value2member_map_
    }
    return Interview(
        id=doc_id,
        workspace_id=data["workspace_id"],
        host=_person(data["host"]),
        guest=_person(data["guest"]),
        start=_utc(data["start"]),  # type: ignore[arg-type]
        timezone=data["timezone"],
        type=InterviewType(data["type"]),
        status=InterviewStatus(data["status"]),
        duration_minutes=int(data.get("duration_minutes", 60)),
        job_title=data.get("job_title"),
        note=data.get("note"),
        location=data.get("location"),
        phone=data.get("phone"),
        meet_link=data.get("meet_link"),
        calendar_event_id=data.get("calendar_event_id"),
        ical_uid=data.get("ical_uid", ""),
        ical_sequence=int(data.get("ical_sequence", 0)),
        join_window=None
        if not window
        else JoinWindow(int(window["opens_minutes_before"]), int(window["closes_minutes_after_end"])),
        attendance=attendance,
        created_at=_utc(data.get("created_at")),
        updated_at=_utc(data.get("updated_at")),
        reminder_offsets=tuple(int(o) for o in (data.get("reminders") or {}).get("offsets_minutes", (24 * 60, 60))),
        reminders_done=tuple(int(o) for o in (data.get("reminders") or {}).get("done_minutes", ())),
        next_reminder_at=_utc(data.get("next_reminder_at")),
        outcome=_outcome(data.get("outcome")),
        origin=_origin(data.get("origin")),
        cancellation=_cancellation(data.get("cancellation")),
    )


def _outcome(data: Any) -> Outcome | None:
    if not isinstance(data, Mapping):
        return None
    return Outcome(
        source=str(data.get("source", "")),
        host_attended=bool(data.get("host_attended")),
        guest_attended=bool(data.get("guest_attended")),
        actual_start=_utc(data.get("actual_start")),
        actual_end=_utc(data.get("actual_end")),
        decided_at=_utc(data.get("decided_at")),
    )


class InterviewRepository:
    def __init__(self, client: firestore.Client):
        self._collection = client.collection(INTERVIEWS)

    def get(self, interview_id: str) -> Interview | None:
        if not storable_id(interview_id):
            return None
        snapshot = self._collection.document(interview_id).get()
        return interview_from_document(snapshot.id, snapshot.to_dict() or {}) if snapshot.exists else None

    def add(self, interview: Interview) -> None:
        """Create; ``AlreadyExists`` if the id is taken."""
        try:
            self._collection.document(interview.id).create(interview_to_document(interview))
        except gexc.Conflict:  # ALREADY_EXISTS (gRPC's AlreadyExists is a Conflict too)
            raise AlreadyExists(interview.id) from None

    def update(self, interview_id: str, fields: Mapping[str, Any]) -> None:
        """Set field paths; ``DoesNotExist`` if the interview is not stored."""
        self._update(interview_id, dict(fields))

    def _update(self, interview_id: str, fields: dict[str, Any]) -> None:
        try:
            self._collection.document(interview_id).update(fields)
        except gexc.NotFound:
            raise DoesNotExist(interview_id) from None

    def list(
        self,
        *,
        workspace_id: str,
        host_uid: str | None,
        statuses: tuple[InterviewStatus, ...],
        start_from: datetime | None,
        start_to: datetime | None,
        descending: bool,
        limit: int,
        cursor: tuple[datetime, str] | None,
    ) -> tuple[list[Interview], tuple[datetime, str] | None]:
        """One page ordered by start (then id); the cursor is the last item's (start, id).

        Composite indexes (declared in infra/): workspace_id + [host.uid] + [status] + start + __name__.
        """
        from google.cloud.firestore_v1.base_query import FieldFilter

        query = self._collection.where(filter=FieldFilter("workspace_id", "==", workspace_id))
        if host_uid:
            query = query.where(filter=FieldFilter("host.uid", "==", host_uid))
        if len(statuses) == 1:
            query = query.where(filter=FieldFilter("status", "==", statuses[0].value))
        elif statuses:
            query = query.where(filter=FieldFilter("status", "in", [s.value for s in statuses]))
        if start_from is not None:
            query = query.where(filter=FieldFilter("start", ">=", start_from))
        if start_to is not None:
            query = query.where(filter=FieldFilter("start", "<", start_to))
        direction = firestore.Query.DESCENDING if descending else firestore.Query.ASCENDING
        query = query.order_by("start", direction=direction).order_by("__name__", direction=direction)
        if cursor is not None:
            query = query.start_after({"start": cursor[0], "__name__": self._collection.document(cursor[1])})
        snapshots = list(query.limit(limit + 1).stream())
        items = [interview_from_document(s.id, s.to_dict() or {}) for s in snapshots[:limit]]
        next_cursor = (items[-1].start, items[-1].id) if len(snapshots) > limit and items else None
        return items, next_cursor

    def record_join(self, interview: Interview, participant: Participant, at: datetime) -> None:
        """One write: counters incremented server-side so concurrent joins are all counted."""
        prefix = f"attendance.{participant.value}"
        update: dict[str, Any] = {
            f"{prefix}.join_count": firestore.Increment(1),
            f"{prefix}.last_joined_at": at,
            "portal_join_count": firestore.Increment(1),
            "updated_at": at,
        }
        if interview.attendance.get(participant, Attendance()).first_joined_at is None:
            update[f"{prefix}.first_joined_at"] = at
        self._update(interview.id, update)


def _offsets(value: Any) -> tuple[int, ...] | None:
    """Offsets an admin typed in the console: whole minutes between 1 and 30 days, else ignored."""
    if not isinstance(value, list):
        return None
    offsets = tuple(
        sorted({int(v) for v in value if isinstance(v, int) and not isinstance(v, bool) and 0 < v <= 43200}, reverse=True)
    )
    return offsets or None


class WorkspaceRepository:
    def __init__(self, client: firestore.Client):
        self._collection = client.collection(WORKSPACES)

    def get(self, workspace_id: str) -> Workspace | None:
        if not storable_id(workspace_id):
            return None
        snapshot = self._collection.document(workspace_id).get()
        if not snapshot.exists:
            return None
        data = snapshot.to_dict() or {}
        return Workspace(
            id=snapshot.id,
            name=data.get("name", ""),
            guest_can_cancel=bool(data.get("guest_can_cancel", False)),
            created_at=_utc(data.get("created_at")),
            reminder_offsets_minutes=_offsets(data.get("reminder_offsets_minutes")),
        )

    def put(self, workspace: Workspace) -> None:
        self._collection.document(workspace.id).set(
            _drop_none(
                {
                    "name": workspace.name,
                    "guest_can_cancel": workspace.guest_can_cancel,
                    "created_at": workspace.created_at,
                    "reminder_offsets_minutes": None
                    if workspace.reminder_offsets_minutes is None
                    else list(workspace.reminder_offsets_minutes),
                }
            )
        )


class UserRepository:
    def __init__(self, client: firestore.Client):
        self._collection = client.collection(USERS)

    def get(self, uid: str) -> User | None:
        if not storable_id(uid):
            return None
        snapshot = self._collection.document(uid).get()
        if not snapshot.exists:
            return None
        data = snapshot.to_dict() or {}
        return User(
            uid=snapshot.id,
            workspace_id=data["workspace_id"],
            role=Role(data["role"]),
            email=data["email"],
            display_name=data.get("display_name", ""),
        )

    def put(self, user: User) -> None:
        self._collection.document(user.uid).set(
            {"workspace_id": user.workspace_id, "role": user.role.value, "email": user.email, "display_name": user.display_name}
        )
