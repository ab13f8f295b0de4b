"""Analytics for a host or a whole workspace (SPEC §2.7, Appendix A): totals by status, the
no-show rate, cancellations and the average actual duration, over a range of start times.

Everything comes from aggregation queries (``InterviewStats``, in
shared/adapters/interview_queries.py): one count per status, and the average of
``actual_duration_minutes`` over completed interviews. They download no document, so a
report costs the same few reads whether the range holds ten interviews or ten thousand.
The query arrives parsed (shared.services.interviews.requests.AnalyticsQuery); the defaults
that need the clock, and the range check on them, are here.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from shared.auth.principal import Principal
from shared.domain.errors import RuleViolation
from shared.domain.models import InterviewStatus, Role
from shared.domain.timezones import rfc3339_utc
from shared.errors import PermissionDenied
from shared.ports import Clock, InterviewStats, Members

if TYPE_CHECKING:
    from shared.services.interviews.requests import AnalyticsQuery

DEFAULT_RANGE = timedelta(days=30)
EARLIEST = datetime.min.replace(tzinfo=UTC)  # Firestore's earliest timestamp too


class Analytics:
    def __init__(self, *, stats: InterviewStats, members: Members, clock: Clock):
        # members: the access policy (shared.services.access), the rule every function authorizes with.
        self._stats = stats
        self._members = members
        self._clock = clock

    def report(self, principal: Principal, query: AnalyticsQuery) -> dict[str, Any]:
        """A host's own numbers; an admin's for the workspace or, with ``host_uid``, one host."""
        member = self._members.member(principal)
        host_uid = query.host_uid
        if member.role is not Role.ADMIN:
            if host_uid not in (None, member.uid):
                raise PermissionDenied("Only an admin sees the analytics of another host.", code="not_an_admin")
            host_uid = member.uid
        until = query.until if query.until is not None else self._clock.now()
        default_since = max(EARLIEST + DEFAULT_RANGE, until) - DEFAULT_RANGE  # never before year 1
        since = query.since if query.since is not None else default_since
        if since >= until:
            raise RuleViolation("from must be before to.", code="invalid_range", details={"field": "from"})

        workspace_id = member.workspace_id
        counts = self._stats.count_by_status(workspace_id=workspace_id, host_uid=host_uid, since=since, until=until)
        by_status = {s.value: counts.get(s, 0) for s in InterviewStatus}
        average = self._stats.average_duration(workspace_id=workspace_id, host_uid=host_uid, since=since, until=until)
        completed, no_shows = by_status[InterviewStatus.COMPLETED.value], by_status[InterviewStatus.NO_SHOW.value]
        return {
            "total_interviews": sum(by_status.values()),
            "completed_interviews": completed,
            "no_shows": no_shows,
            "cancellations": by_status[InterviewStatus.CANCELLED.value],
            "pending": by_status[InterviewStatus.PENDING.value],
            "confirmed": by_status[InterviewStatus.CONFIRMED.value],
            "no_show_rate": round(no_shows / (completed + no_shows), 4) if completed + no_shows else None,
            "average_duration": round(average, 1) if average is not None else None,
            "by_status": by_status,
            "from": rfc3339_utc(since),
            "to": rfc3339_utc(until),
            "host_uid": host_uid,
        }
