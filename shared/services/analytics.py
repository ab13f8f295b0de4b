"""Analytics for a host or a whole workspace (SPEC §2.7, Appendix A): totals by status, the
no-show rate, cancellations and the average actual duration, over a range of start times.

Everything comes from Firestore aggregation queries: one count per status, and one count
with the average of ``actual_duration_minutes`` over completed interviews (the top-level
copy of the outcome's duration, there to be aggregated). They are billed per batch of
index entries, not per interview, and download no document, so a report costs the same
few reads whether the range holds ten interviews or ten thousand.

Composite indexes on ``interviews`` (the list's, plus the averaged field):
workspace_id, [host.uid], status, start — and the same followed by actual_duration_minutes.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from shared.adapters.firestore import INTERVIEWS
from shared.auth.principal import Principal
from shared.domain.booking import parse_instant, valid_id
from shared.domain.models import InterviewStatus, Role
from shared.errors import PermissionDenied, Unprocessable

DEFAULT_RANGE = timedelta(days=30)
EARLIEST = datetime.min.replace(tzinfo=UTC)  # Firestore's earliest timestamp too
DURATION_FIELD = "actual_duration_minutes"


def _rfc3339(value: datetime) -> str:
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


class Analytics:
    def __init__(self, *, firestore_client: Any, members: Any, clock: Any):
        # members: the interview service, whose member() authorizes exactly as the interview list does.
        self._db = firestore_client
        self._members = members
        self._clock = clock

    def report(self, principal: Principal, query: Mapping[str, str]) -> dict[str, Any]:
        """A host's own numbers; an admin's for the workspace or, with ``host_uid``, one host."""
        member = self._members.member(principal)
        host_uid = valid_id(query["host_uid"], "host_uid") if query.get("host_uid") else None
        if member.role is not Role.ADMIN:
            if host_uid not in (None, member.uid):
                raise PermissionDenied("Only an admin sees the analytics of another host.", code="not_an_admin")
            host_uid = member.uid
        until = parse_instant(query["to"], "to") if query.get("to") else self._clock.now()
        default_since = max(EARLIEST + DEFAULT_RANGE, until) - DEFAULT_RANGE  # never before year 1
        since = parse_instant(query["from"], "from") if query.get("from") else default_since
        if since >= until:
            raise Unprocessable("from must be before to.", code="invalid_range", details={"field": "from"})

        from google.cloud.firestore_v1.base_query import FieldFilter

        base = self._db.collection(INTERVIEWS).where(filter=FieldFilter("workspace_id", "==", member.workspace_id))
        if host_uid:
            base = base.where(filter=FieldFilter("host.uid", "==", host_uid))
        base = base.where(filter=FieldFilter("start", ">=", since)).where(filter=FieldFilter("start", "<", until))

        by_status = {
            s.value: int(_aggregate(base.where(filter=FieldFilter("status", "==", s.value)).count(alias="n"))["n"])
            for s in InterviewStatus
        }
        completed_base = base.where(filter=FieldFilter("status", "==", InterviewStatus.COMPLETED.value))
        # An average over no value is null in Firestore but 0 in its emulator, which then counts 0 in
        # the same query (it counts only the documents that hold the averaged field): both mean "none".
        timed = _aggregate(completed_base.count(alias="n").avg(DURATION_FIELD, alias="average"))
        completed, no_shows = by_status[InterviewStatus.COMPLETED.value], by_status[InterviewStatus.NO_SHOW.value]
        return {
            "total_interviews": sum(by_status.values()),
            "completed_interviews": completed,
            "no_shows": no_shows,
            "cancellations": by_status[InterviewStatus.CANCELLED.value],
            "pending": by_status[InterviewStatus.PENDING.value],
            "confirmed": by_status[InterviewStatus.CONFIRMED.value],
            "no_show_rate": round(no_shows / (completed + no_shows), 4) if completed + no_shows else None,
            "average_duration": round(float(timed["average"]), 1) if timed["n"] and timed["average"] is not None else None,
            "by_status": by_status,
            "from": _rfc3339(since),
            "to": _rfc3339(until),
            "host_uid": host_uid,
        }


def _aggregate(aggregation: Any) -> dict[str, Any]:
    """The one result row of an aggregation query, by alias."""
    return {result.alias: result.value for row in aggregation.get() for result in row}
