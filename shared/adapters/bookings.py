"""Firestore writes that must be atomic for interviews: booking a slot, moving it, freeing it.

No double booking: every confirmed interview holds its time in small per-host, per-UTC-day
documents ``host_slots/{uid}_{YYYY-MM-DD}``. A transaction reads the day documents the
interval touches (one, or two across midnight), refuses an overlap, and writes the
interview with the slots. Two racing bookings of the same host and day conflict on the
same small document, so Firestore lets only one of them commit; bookings of other hosts
or days never contend.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Iterable
from dataclasses import replace
from datetime import datetime, timedelta, timezone
from typing import Any

from google.api_core import exceptions as gexc
from google.cloud import firestore

from shared.adapters.firestore import INTERVIEWS, interview_from_document, interview_to_document
from shared.domain.booking import overlaps
from shared.domain.models import Interview, InterviewStatus
from shared.errors import Conflict, NotFound, Unavailable

HOST_SLOTS = "host_slots"
SLOT_RETENTION = timedelta(days=2)
OUTER_ATTEMPTS = 4  # ended slots pruned on the next write of their day document


class SlotTaken(Conflict):
    code = "slot_taken"


def _days(start: datetime, end: datetime) -> list[str]:
    day = start.astimezone(timezone.utc).date()
    last = (end - timedelta(microseconds=1)).astimezone(timezone.utc).date()
    days = []
    while day <= last:
        days.append(day.isoformat())
        day += timedelta(days=1)
    return days


class BookingStore:
    def __init__(self, client: firestore.Client):
        self._client = client
        self._interviews = client.collection(INTERVIEWS)
        self._slots = client.collection(HOST_SLOTS)

    def _slot_ref(self, uid: str, day: str) -> Any:
        return self._slots.document(f"{uid}_{day}")

    def _run(self, work: Callable[[Any], Any]) -> Any:
        """Run ``work`` in a transaction, starting it again (with jitter) when contention aborts it.

        Firestore's server libraries lock pessimistically: racing bookings of one host wait on
        each other and may time out. Starting over lets each loser read the winner's slot and
        answer 409, instead of failing with a lock timeout; only persistent contention is a 503.
        """
        for attempt in range(OUTER_ATTEMPTS):
            try:
                return firestore.transactional(work)(self._client.transaction(max_attempts=5))
            except (gexc.Aborted, gexc.DeadlineExceeded, ValueError) as exc:
                if isinstance(exc, ValueError) and not isinstance(exc.__cause__, gexc.GoogleAPICallError):
                    raise  # not the library's "failed to commit in N attempts"
                time.sleep(random.uniform(0.05, 0.25) * (attempt + 1))
        raise Unavailable("The calendar of this host is busy; try again.")

    def _read_slots(self, transaction: Any, uid: str, days: Iterable[str]) -> dict[str, list[dict[str, Any]]]:
        refs = [self._slot_ref(uid, d) for d in sorted(set(days))]
        found: dict[str, list[dict[str, Any]]] = {d: [] for d in sorted(set(days))}
        for snapshot in self._client.get_all(refs, transaction=transaction):
            if snapshot.exists:
                found[snapshot.id.rsplit("_", 1)[1]] = list((snapshot.to_dict() or {}).get("slots", []))
        return found

    @staticmethod
    def _check_free(slots: dict[str, list[dict[str, Any]]], interview: Interview) -> None:
        for day_slots in slots.values():
            for slot in day_slots:
                if slot["interview_id"] != interview.id and overlaps(slot["start"], slot["end"], interview.start, interview.end):
                    raise SlotTaken("The host already has a confirmed interview at that time.",
                                    details={"conflicting_start": slot["start"].isoformat(), "conflicting_end": slot["end"].isoformat()})

    def _write_slots(self, transaction: Any, uid: str, slots: dict[str, list[dict[str, Any]]], *, remove: str | None,
                     add: Interview | None, now: datetime) -> None:
        for day, day_slots in slots.items():
            kept = [s for s in day_slots if s["interview_id"] != remove and s["end"] > now - SLOT_RETENTION]
            if add is not None and day in _days(add.start, add.end):
                kept.append({"interview_id": add.id, "start": add.start, "end": add.end})
            transaction.set(self._slot_ref(uid, day), {"uid": uid, "day": day, "slots": kept, "updated_at": now})

    def create(self, interview: Interview, now: datetime) -> None:
        """Create the interview; a confirmed one takes its slot atomically (SlotTaken if busy)."""
        uid = interview.host.uid or ""
        ref = self._interviews.document(interview.id)

        def work(transaction: Any) -> None:
            slots = self._read_slots(transaction, uid, _days(interview.start, interview.end)) if interview.status is InterviewStatus.CONFIRMED else {}
            if ref.get(transaction=transaction).exists:
                raise Conflict("An interview with this id already exists.", code="already_exists")
            if slots:
                self._check_free(slots, interview)
                self._write_slots(transaction, uid, slots, remove=None, add=interview, now=now)
            transaction.create(ref, interview_to_document(interview))

        self._run(work)

    def change(self, interview_id: str, apply: Callable[[Interview], Interview], now: datetime) -> tuple[Interview, Interview]:
        """Read the interview, apply a pure change, re-check and move its slot, write — atomically.

        ``apply`` raises domain errors (forbidden transition, …) before anything is written.
        Returns (before, after).
        """
        ref = self._interviews.document(interview_id)

        def work(transaction: Any) -> tuple[Interview, Interview]:
            snapshot = ref.get(transaction=transaction)
            if not snapshot.exists:
                raise NotFound("No interview with this id is visible to you.", code="interview_not_found")
            before = interview_from_document(snapshot.id, snapshot.to_dict() or {})
            after = replace(apply(before), updated_at=now)
            held_before = before.status is InterviewStatus.CONFIRMED
            held_after = after.status is InterviewStatus.CONFIRMED
            uid = after.host.uid or ""
            if held_before or held_after:
                days = (_days(before.start, before.end) if held_before else []) + (_days(after.start, after.end) if held_after else [])
                slots = self._read_slots(transaction, uid, days)
                if held_after:
                    self._check_free(slots, after)
                self._write_slots(transaction, uid, slots, remove=before.id, add=after if held_after else None, now=now)
            transaction.set(ref, interview_to_document(after))
            return before, after

        return self._run(work)
