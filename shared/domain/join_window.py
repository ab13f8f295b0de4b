"""When a participant may join, and what to tell them about the meeting's state.

meeting_status:
- ``cancelled``: the interview was cancelled;
- ``ended``: completed / no-show, or the join window has closed;
- ``upcoming``: before the window opens;
- ``ready``: the window is open and the start has not come;
- ``in_progress``: from the start until the window closes (scheduled end + grace), since
  meetings overrun and a late joiner must still get in.
"""

from __future__ import annotations

import enum
import math
from dataclasses import dataclass
from datetime import datetime, timedelta

from shared.domain.models import Interview, InterviewStatus, JoinWindow


class MeetingStatus(str, enum.Enum):
    UPCOMING = "upcoming"
    READY = "ready"
    IN_PROGRESS = "in_progress"
    ENDED = "ended"
    CANCELLED = "cancelled"


@dataclass(frozen=True)
class JoinState:
    meeting_status: MeetingStatus
    can_join: bool
    opens_at: datetime
    closes_at: datetime
    minutes_until_start: int  # whole minutes, rounded up; 0 once started


def window_bounds(interview: Interview, window: JoinWindow) -> tuple[datetime, datetime]:
    """[opens_at, closes_at): inclusive at the opening second, exclusive at the closing one."""
    opens_at = interview.start - timedelta(minutes=window.opens_minutes_before)
    closes_at = interview.end + timedelta(minutes=window.closes_minutes_after_end)
    return opens_at, closes_at


def join_state(interview: Interview, now: datetime, default_window: JoinWindow) -> JoinState:
    window = interview.join_window or default_window
    opens_at, closes_at = window_bounds(interview, window)
    seconds_to_start = (interview.start - now).total_seconds()
    minutes_until_start = max(0, math.ceil(seconds_to_start / 60))

    if interview.status is InterviewStatus.CANCELLED:
        status = MeetingStatus.CANCELLED
    elif interview.status in (InterviewStatus.COMPLETED, InterviewStatus.NO_SHOW) or now >= closes_at:
        status = MeetingStatus.ENDED
    elif now < opens_at:
        status = MeetingStatus.UPCOMING
    elif now < interview.start:
        status = MeetingStatus.READY
    else:
        status = MeetingStatus.IN_PROGRESS

    # Only a confirmed interview has a meeting to join (a pending one has no event yet).
    can_join = interview.status is InterviewStatus.CONFIRMED and status in (MeetingStatus.READY, MeetingStatus.IN_PROGRESS)
    return JoinState(status, can_join, opens_at, closes_at, minutes_until_start)
