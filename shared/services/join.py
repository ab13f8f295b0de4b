"""The join check (SPEC §2.3): what a participant sees, and recording that they joined.

Cost per request: one document read, and one write only when a join is recorded. The
caller's right to see the interview is decided from that one document (host uid, guest
email or the guest link's interview id), so nobody else learns that it exists: every
other caller gets the same 404 as for an id that was never used.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from shared import logs
from shared.auth.principal import Principal
from shared.domain.join_window import JoinState, join_state
from shared.domain.models import Interview, JoinWindow, Participant
from shared.domain.timezones import rfc3339_utc, to_local_iso
from shared.errors import Conflict, NotFound
from shared.services.access import NOT_FOUND as NOT_FOUND_MESSAGE
from shared.services.access import participant

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class JoinView:
    interview: Interview
    participant: Participant
    state: JoinState
    joined_at: datetime | None = None


def load_for_participant(repo: Any, principal: Principal, interview_id: str) -> tuple[Interview, Participant]:
    interview = repo.get(interview_id)
    if interview is None:
        raise NotFound(NOT_FOUND_MESSAGE, code="interview_not_found")
    return interview, participant(principal, interview)  # the access policy's rule


def check(repo: Any, principal: Principal, interview_id: str, *, now: datetime, default_window: JoinWindow) -> JoinView:
    interview, participant = load_for_participant(repo, principal, interview_id)
    logs.bind(interview_id=interview.id, workspace_id=interview.workspace_id, role=participant.value)
    return JoinView(interview, participant, join_state(interview, now, default_window))


def join(repo: Any, principal: Principal, interview_id: str, *, now: datetime, default_window: JoinWindow) -> JoinView:
    """Record a join (who, when) and hand out the link; refused outside the window."""
    view = check(repo, principal, interview_id, now=now, default_window=default_window)
    if not view.state.can_join:
        raise Conflict(
            "Joining is not possible now.",
            code="join_not_open",
            details={
                "meeting_status": view.state.meeting_status.value,
                "join_opens_at": rfc3339_utc(view.state.opens_at),
                "join_closes_at": rfc3339_utc(view.state.closes_at),
            },
        )
    repo.record_join(view.interview, view.participant, now)
    logs.log(logger, logging.INFO, "participant joined", event="join_recorded")
    return JoinView(view.interview, view.participant, view.state, joined_at=now)


def to_response(view: JoinView) -> dict[str, Any]:
    """The seeds' join response, plus the richer fields front-ends asked for."""
    interview, state = view.interview, view.state
    count = interview.portal_join_count + (1 if view.joined_at else 0)
    body: dict[str, Any] = {
        "interview_id": interview.id,
        "status": interview.status.value,
        "meeting_status": state.meeting_status.value,
        "can_join": state.can_join,
        "meet_link": interview.meet_link if state.can_join and interview.type.has_video_link else None,
        "candidate_name": interview.guest.name,
        "recruiter_name": interview.host.name,
        "job_title": interview.job_title,
        "interview_type": interview.type.value,
        "scheduled_time": to_local_iso(interview.start, interview.timezone),
        "start": rfc3339_utc(interview.start),
        "end": rfc3339_utc(interview.end),
        "timezone": interview.timezone,
        "duration_minutes": interview.duration_minutes,
        "time_until_meeting": state.minutes_until_start,
        "join_window": {"opens_at": rfc3339_utc(state.opens_at), "closes_at": rfc3339_utc(state.closes_at)},
        "participant": view.participant.value,
        "portal_join_count": count,
    }
    if interview.location:
        body["location"] = interview.location
    if interview.phone:
        body["phone"] = interview.phone
    if view.joined_at is not None:
        body["joined_at"] = rfc3339_utc(view.joined_at)
    return body
