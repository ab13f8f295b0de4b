"""The attendance run (SPEC §2.7): completed or no_show for ended Google Meet interviews.

The maintenance function calls it. One bounded query reads the confirmed Meet interviews
whose join window has closed within the last 30 days, oldest first (Google deletes Meet
conference records 30 days after the conference, so those are the most urgent). Each is
decided from Meet's participants when the host granted the Meet scope and its Google
account id is known, else from the portal joins (no connection, no scope, access revoked,
Meet refusing the read). The decision is written in a transaction that re-reads the
interview: one marked, cancelled or rescheduled meanwhile keeps what its user did. A
transient Google or Firestore failure leaves the interview for the next run.

The query lives in shared/adapters/interview_queries.py (``FirestoreEndedMeetings``).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from shared import logs
from shared.domain.attendance import (
    MEET_RETENTION,
    SOURCE_MEET,
    Decision,
    Presence,
    apply_decision,
    decide_from_meet,
    decide_from_portal,
    meeting_code,
    ready_for_decision,
    record_span,
)
from shared.domain.connections import GOOGLE, MEET_READONLY, GoogleAuthRequired
from shared.domain.models import Interview, InterviewStatus, JoinWindow
from shared.errors import NotFound, Unavailable, UpstreamError
from shared.ports import BookingStore, ConnectionRepository, EndedMeetings

logger = logging.getLogger(__name__)

BATCH = 100


class _ChangedMeanwhile(Exception):
    """The interview is no longer the one the decision was made for."""


class AttendanceJob:
    def __init__(
        self,
        *,
        ended: EndedMeetings,
        bookings: BookingStore,
        connections: ConnectionRepository,
        google_connections: Callable[[], Any],
        meet: Callable[[], Any],
        default_window: JoinWindow,
    ):
        # google_connections and meet are zero-argument factories: a run that needs no Meet read builds no Google client.
        self._ended = ended
        self._bookings = bookings
        self._connections = connections
        self._google = google_connections
        self._meet = meet
        self._window = default_window

    def run(self, now: datetime, limit: int = BATCH) -> dict[str, Any]:
        """Decide up to ``limit`` interviews: what happened to them, and whether more are waiting."""
        closed_before = now - timedelta(minutes=self._window.closes_minutes_after_end)
        ended = self._ended.ended(closed_before=closed_before, not_before=now - MEET_RETENTION, limit=limit + 1)
        counts = dict.fromkeys(
            ("decided_meet", "decided_portal", "completed", "no_show", "left_for_later", "changed_meanwhile"), 0
        )
        for interview in ended[:limit]:
            with logs.bound(interview_id=interview.id, workspace_id=interview.workspace_id):
                for key in self._one(interview, now):
                    counts[key] += 1
        logs.log(logger, logging.INFO, "attendance run", event="attendance_run", **counts)
        return {**counts, "more": len(ended) > limit}

    def _one(self, interview: Interview, now: datetime) -> tuple[str, ...]:
        """Decide and record one interview; returns the counts it goes to."""
        decision = self._decide(interview, now) if ready_for_decision(interview, self._window, now) else None
        if decision is None:
            return ("left_for_later",)

        def apply(before: Interview) -> Interview:
            if before.status is not InterviewStatus.CONFIRMED or (before.start, before.end) != (interview.start, interview.end):
                raise _ChangedMeanwhile()
            return apply_decision(before, decision)

        try:
            self._bookings.change(interview.id, apply, now)
        except (_ChangedMeanwhile, NotFound):
            return ("changed_meanwhile",)
        except Unavailable:
            return ("left_for_later",)
        logs.log(
            logger,
            logging.INFO,
            "attendance decided",
            event="attendance_decided",
            status=decision.status.value,
            source=decision.outcome.source,
        )
        return ("decided_meet" if decision.outcome.source == SOURCE_MEET else "decided_portal", decision.status.value)

    def _decide(self, interview: Interview, now: datetime) -> Decision | None:
        """Meet's participants when they can be read, else the portal joins; None: ask again later."""
        code = meeting_code(interview.meet_link)
        connection = self._connections.get(interview.host.uid, GOOGLE) if interview.host.uid else None
        if code is None or connection is None or MEET_READONLY not in connection.scopes or not connection.account_id:
            return decide_from_portal(interview, now)
        try:
            credentials = self._google().credentials_for(connection)
            records = self._meet().conference_records(credentials, code, started_between=record_span(interview, self._window))
        except GoogleAuthRequired:  # revoked or expired: the host is told by the connection health check
            return decide_from_portal(interview, now)
        except UpstreamError as refused:
            logs.log(logger, logging.WARNING, "meet records refused", event="meet_refused", error_code=refused.code)
            return decide_from_portal(interview, now)
        except Unavailable:
            return None
        presences = [Presence(p.user, p.earliest_start, p.latest_end) for record in records for p in record.participants]
        return decide_from_meet(interview, presences, f"users/{connection.account_id}", self._window, now)
