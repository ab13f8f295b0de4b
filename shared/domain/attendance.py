"""Who attended an ended interview, and whether it was completed or a no-show (SPEC §2.7). Pure.

An interview is decided once its join window has closed (scheduled end + grace: a late
joiner may still get in until then) and at most 30 days after its end, because Google
deletes Meet conference records 30 days after the conference.

From Meet (the host granted the Meet scope): the participants of the conferences in the
interview's meeting space whose presence overlaps the join window count. The host is the
signed-in user ``users/<the host's Google account id>``; everybody else (the candidate, a
colleague on the panel, a dial-in, an anonymous guest) is the guest side.
- the guest side joined → ``completed``, even without the host: the candidate came, and
  ``host_attended`` false records that the host did not (the status says what happened
  to the candidate, the outcome says who failed);
- otherwise → ``no_show``: the host alone, or no conference at all;
- someone still in the conference (no leave time yet) → no decision yet: the real end
  and duration are known only once everybody has left;
- actual start / end: the earliest join and the latest leave of the counted participants,
  recorded for a completed interview only (a no-show did not take place).

From the portal joins (no Meet scope, no connection, Meet refusing): the guest joined →
``completed`` with the first join of either side as the actual start and no known end;
otherwise ``no_show``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from urllib.parse import urlsplit

from shared.domain import status as status_machine
from shared.domain.join_window import window_bounds
from shared.domain.models import Attendance, Interview, InterviewStatus, InterviewType, JoinWindow, Outcome, Participant

MEET_RETENTION = timedelta(days=30)
# A conference that belongs to the interview starts inside its join window, or earlier if
# the room was already open (someone joined long before): look back this far for one.
RECORD_LOOKBACK = timedelta(hours=6)
SOURCE_MEET = "meet"
SOURCE_PORTAL = "portal"

_MEETING_CODE = re.compile(r"[a-z]+-[a-z]+-[a-z]+")


@dataclass(frozen=True)
class Presence:
    """One participant of a Meet conference: who (``users/<id>`` when signed in) and when."""

    user: str | None
    joined_at: datetime | None
    left_at: datetime | None  # None: still in the conference


@dataclass(frozen=True)
class Decision:
    status: InterviewStatus
    outcome: Outcome


def meeting_code(meet_link: str | None) -> str | None:
    """``abc-mnop-xyz`` of ``https://meet.google.com/abc-mnop-xyz``; None for anything else."""
    if not meet_link:
        return None
    parts = urlsplit(meet_link)
    code = parts.path.rstrip("/").rsplit("/", 1)[-1]
    return code if parts.hostname == "meet.google.com" and _MEETING_CODE.fullmatch(code) else None


def _bounds(interview: Interview, default_window: JoinWindow) -> tuple[datetime, datetime]:
    return window_bounds(interview, interview.join_window or default_window)


def ready_for_decision(interview: Interview, default_window: JoinWindow, now: datetime) -> bool:
    """A confirmed Meet interview whose join window has closed, while Meet still has its records."""
    _, closes_at = _bounds(interview, default_window)
    return (
        interview.type is InterviewType.GOOGLE_MEET
        and interview.status is InterviewStatus.CONFIRMED
        and closes_at <= now
        and interview.end >= now - MEET_RETENTION
    )


def record_span(interview: Interview, default_window: JoinWindow) -> tuple[datetime, datetime]:
    """The start times of the conferences that may belong to this interview."""
    opens_at, closes_at = _bounds(interview, default_window)
    return opens_at - RECORD_LOOKBACK, closes_at


def decide_from_meet(
    interview: Interview, presences: Iterable[Presence], host_user: str, default_window: JoinWindow, now: datetime
) -> Decision | None:
    """The decision from Meet's participants; None while someone is still in the conference."""
    opens_at, closes_at = _bounds(interview, default_window)
    counted = [
        p for p in presences if (p.joined_at is None or p.joined_at < closes_at) and (p.left_at is None or p.left_at > opens_at)
    ]
    if any(p.left_at is None for p in counted):
        return None
    host_attended = any(p.user == host_user for p in counted)
    guest_attended = any(p.user != host_user for p in counted)
    if not guest_attended:
        return _decision(InterviewStatus.NO_SHOW, SOURCE_MEET, host_attended, False, None, None, now)
    joins = [p.joined_at for p in counted if p.joined_at is not None]
    leaves = [p.left_at for p in counted if p.left_at is not None]  # everybody has left by now
    return _decision(InterviewStatus.COMPLETED, SOURCE_MEET, host_attended, True, min(joins, default=None), max(leaves), now)


def decide_from_portal(interview: Interview, now: datetime) -> Decision:
    """The decision from the portal's join records: did the guest open the meeting through us?"""
    host = interview.attendance.get(Participant.HOST, Attendance())
    guest = interview.attendance.get(Participant.GUEST, Attendance())
    if guest.join_count == 0:
        return _decision(InterviewStatus.NO_SHOW, SOURCE_PORTAL, host.join_count > 0, False, None, None, now)
    firsts = [a.first_joined_at for a in (host, guest) if a.join_count > 0 and a.first_joined_at is not None]
    return _decision(InterviewStatus.COMPLETED, SOURCE_PORTAL, host.join_count > 0, True, min(firsts, default=None), None, now)


def apply_decision(interview: Interview, decision: Decision) -> Interview:
    """The interview as decided: through the status machine, with nothing left to remind."""
    return replace(
        interview,
        status=status_machine.transition(interview.status, decision.status),
        outcome=decision.outcome,
        next_reminder_at=None,
    )


def _decision(
    status: InterviewStatus,
    source: str,
    host_attended: bool,
    guest_attended: bool,
    actual_start: datetime | None,
    actual_end: datetime | None,
    now: datetime,
) -> Decision:
    return Decision(
        status,
        Outcome(
            source=source,
            host_attended=host_attended,
            guest_attended=guest_attended,
            actual_start=actual_start,
            actual_end=actual_end,
            decided_at=now,
        ),
    )
