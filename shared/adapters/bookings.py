"""Firestore writes that must be atomic for interviews: booking a slot, moving it, freeing it.

No double booking. A confirmed interview holds its interval in every 15-minute block
(UTC-aligned) that its [start, end) intersects: one document per host and block,
``host_blocks/{uid}_{YYYY-MM-DDTHH:MMZ}`` (the block's UTC start), listing the intervals
booked in it (``interview_id``, ``start``, ``end``: the whole interview, not its part in the
block). Two interviews overlap exactly when they share an instant, so exactly when a block
they both touch lists the other; back-to-back interviews sharing a partly booked block both
fit. A block whose last interval leaves is deleted; every block carries ``expires_at``
(its end + ``BLOCK_RETENTION``), and a Firestore TTL policy (infra/firestore.tf) deletes
the past ones.

Concurrency is optimistic. Inside one transaction the interview document is read (its id is
unique: nothing else waits on it), the block documents are read without a lock, and the
commit writes the interview and each block under a precondition: ``create`` for a block that
was absent, ``update``/``delete`` at the ``update_time`` that was read for one that existed.
If another booking changed one of those blocks in between, the whole commit is refused and
the work starts again from fresh reads: a loser then sees the winner's interval and answers
409 ``slot_taken``. Only bookings that touch a common block ever contend, and then only for
the instant of a commit. (Reading the blocks in the transaction instead would take shared
locks that each racing commit waits on until a lock timeout aborts it: ≈ 2 s a round on the
emulator, 20 concurrent bookings of one host's day answered 503 after 42 s with the former
one-document-per-day layout; see docs/benchmarks.md.)
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any

from google.api_core import exceptions as gexc
from google.cloud import firestore

from shared.adapters.firestore import INTERVIEWS, interview_from_document, interview_to_document
from shared.domain.booking import overlaps
from shared.domain.models import Interview, InterviewStatus
from shared.errors import Conflict, NotFound, Unavailable

HOST_BLOCKS = "host_blocks"
BLOCK = timedelta(minutes=15)
BLOCK_RETENTION = timedelta(days=2)  # a block document expires this long after its end (TTL on expires_at)
OUTER_ATTEMPTS = 8  # each failed commit means another booking of a shared block committed: progress
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


class SlotTaken(Conflict):
    code = "slot_taken"


def block_starts(start: datetime, end: datetime) -> list[datetime]:
    """The UTC starts of the blocks that [start, end) intersects, in order."""
    first = _EPOCH + (start.astimezone(UTC) - _EPOCH) // BLOCK * BLOCK
    starts = []
    block = first
    while block < end:
        starts.append(block)
        block += BLOCK
    return starts


def block_id(uid: str, start: datetime) -> str:
    return f"{uid}_{start.astimezone(UTC):%Y-%m-%dT%H:%MZ}"


@dataclass
class _Block:
    uid: str
    start: datetime
    read_at: Any  # the document's update_time when read; None when it did not exist
    intervals: list[dict[str, Any]]


class BookingStore:
    def __init__(self, client: firestore.Client):
        self._client = client
        self._interviews = client.collection(INTERVIEWS)
        self._blocks = client.collection(HOST_BLOCKS)

    def _run(self, work: Callable[[Any], Any]) -> Any:
        """Run ``work`` in a transaction, starting it again (with jitter) when contention refuses it.

        A commit refused by a block's precondition (another booking changed it after it was read)
        starts over almost at once (a few ms of jitter): the fresh read then decides. Firestore's server libraries lock the
        documents a transaction reads pessimistically (here only the interview's own): a lock
        timeout or an abort also starts over. Only persistent contention is a 503.
        """
        for attempt in range(OUTER_ATTEMPTS):
            try:
                return firestore.transactional(work)(self._client.transaction(max_attempts=5))
            except (gexc.FailedPrecondition, gexc.AlreadyExists):
                time.sleep(random.uniform(0.0, 0.02) * (attempt + 1))
            except (gexc.Aborted, gexc.DeadlineExceeded, ValueError) as exc:
                if isinstance(exc, ValueError) and not isinstance(exc.__cause__, gexc.GoogleAPICallError):
                    raise  # not the library's "failed to commit in N attempts"
                time.sleep(random.uniform(0.05, 0.25) * (attempt + 1))
        raise Unavailable("The calendar of this host is busy; try again.")

    def _read_blocks(self, wanted: Iterable[tuple[str, datetime]]) -> dict[str, _Block]:
        """The blocks (uid, block start) as they are now, absent ones empty; read without a lock."""
        blocks = {block_id(uid, start): _Block(uid, start, None, []) for uid, start in wanted}
        refs = [self._blocks.document(key) for key in sorted(blocks)]
        for snapshot in self._client.get_all(refs):
            if snapshot.exists:
                block = blocks[snapshot.id]
                block.read_at = snapshot.update_time
                block.intervals = list((snapshot.to_dict() or {}).get("intervals", []))
        return blocks

    @staticmethod
    def _check_free(blocks: dict[str, _Block], interview: Interview) -> None:
        for key in sorted(blocks):
            for held in blocks[key].intervals:
                if held["interview_id"] != interview.id and overlaps(held["start"], held["end"], interview.start, interview.end):
                    raise SlotTaken(
                        "The host already has a confirmed interview at that time.",
                        details={"conflicting_start": held["start"].isoformat(), "conflicting_end": held["end"].isoformat()},
                    )

    def _write_blocks(
        self, transaction: Any, blocks: dict[str, _Block], *, remove: str | None, add: Interview | None, now: datetime
    ) -> None:
        """Take ``remove`` out of every block read and put ``add`` in its own; each write conditional on the read."""
        adding = {block_id(add.host.uid or "", start) for start in block_starts(add.start, add.end)} if add is not None else set()
        for key in sorted(blocks):
            block = blocks[key]
            kept = [held for held in block.intervals if held["interview_id"] != remove]
            if add is not None and key in adding:
                kept.append({"interview_id": add.id, "start": add.start, "end": add.end})
            ref = self._blocks.document(key)
            if block.read_at is None:
                if kept:
                    transaction.create(ref, self._block_document(block, kept, now))
                continue  # absent and still empty: nothing to write, nothing this decision relies on
            option = self._client.write_option(last_update_time=block.read_at)
            if kept:
                transaction.update(ref, self._block_document(block, kept, now), option=option)
            else:
                transaction.delete(ref, option=option)

    @staticmethod
    def _block_document(block: _Block, intervals: list[dict[str, Any]], now: datetime) -> dict[str, Any]:
        end = block.start + BLOCK
        return {
            "uid": block.uid,
            "block_start": block.start,
            "block_end": end,
            "intervals": intervals,
            "expires_at": end + BLOCK_RETENTION,
            "updated_at": now,
        }

    def create(self, interview: Interview, now: datetime) -> None:
        """Create the interview; a confirmed one takes its slot atomically (SlotTaken if busy)."""
        uid = interview.host.uid or ""
        ref = self._interviews.document(interview.id)

        def work(transaction: Any) -> None:
            if ref.get(transaction=transaction).exists:
                raise Conflict("An interview with this id already exists.", code="already_exists")
            if interview.status is InterviewStatus.CONFIRMED:
                blocks = self._read_blocks((uid, start) for start in block_starts(interview.start, interview.end))
                self._check_free(blocks, interview)
                self._write_blocks(transaction, blocks, remove=None, add=interview, now=now)
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
            if held_before or held_after:
                wanted = (
                    [(before.host.uid or "", start) for start in block_starts(before.start, before.end)] if held_before else []
                ) + ([(after.host.uid or "", start) for start in block_starts(after.start, after.end)] if held_after else [])
                blocks = self._read_blocks(wanted)
                if held_after:
                    self._check_free(blocks, after)
                self._write_blocks(transaction, blocks, remove=before.id, add=after if held_after else None, now=now)
            transaction.set(ref, interview_to_document(after))
            return before, after

        return self._run(work)
