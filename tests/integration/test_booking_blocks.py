"""No double booking with per-block documents, through the interviews API on the local stack.

A confirmed interview holds every 15-minute UTC block its [start, end) touches
(``host_blocks/{uid}_{YYYY-MM-DDTHH:MMZ}``); interviews that share a partly booked block
both fit, an overlap is 409 ``slot_taken`` with the interval it collides with, and
reschedule, cancel, complete and no-show move or free the blocks (an emptied block
document is deleted). Concurrent creates contend only when they touch a common block.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections import Counter
from datetime import UTC, date, datetime, timedelta

import pytest

from tests.factories import HOST
from tests.integration.test_interviews_api import _settle, clock, google_email, host_token  # noqa: F401 — fixtures

pytestmark = pytest.mark.usefixtures("container", "worker_server")

BLOCKS = "host_blocks"


@pytest.fixture
def day(clock) -> date:
    return (clock.now() + timedelta(days=2)).date()


def at(day: date, hhmm: str) -> datetime:
    hours, minutes = map(int, hhmm.split(":"))
    return datetime.combine(day, datetime.min.time(), tzinfo=UTC) + timedelta(hours=hours, minutes=minutes)


def body(start: datetime, minutes: int, **changes):
    return {
        "candidate": {"email": f"gus-{uuid.uuid4().hex[:6]}@candidates.example", "name": "Gus Guest"},
        "job_title": "Backend Engineer",
        "date": start.date().isoformat(),
        "time": start.strftime("%H:%M"),
        "timezone": "UTC",
        "interview_type": "phone",
        "phone": "+49 30 1234567",
        "duration_minutes": minutes,
    } | changes


def book(api, token, start: datetime, minutes: int, **changes):
    return api.post("/interviews", token=token, json=body(start, minutes, **changes))


def reschedule(api, token, interview_id: str, start: datetime, minutes: int | None = None):
    request = {"date": start.date().isoformat(), "time": start.strftime("%H:%M"), "timezone": "UTC"}
    if minutes is not None:
        request["duration_minutes"] = minutes
    return api.post(f"/interviews/{interview_id}/reschedule", token=token, json=request)


def block_key(start: datetime) -> str:
    return f"{HOST.uid}_{start:%Y-%m-%dT%H:%MZ}"


def blocks(db) -> dict[str, dict]:
    """Every block document: {id: document}."""
    return {snapshot.id: snapshot.to_dict() for snapshot in db.collection(BLOCKS).stream()}


def held(db) -> dict[str, list[str]]:
    """Block id → the interview ids it holds."""
    return {key: [i["interview_id"] for i in doc["intervals"]] for key, doc in blocks(db).items()}


def keys(first: datetime, count: int) -> set[str]:
    return {block_key(first + timedelta(minutes=15 * i)) for i in range(count)}


def assert_slot_taken(reply, start: datetime, end: datetime):
    assert (reply.status, reply.json["error"]["code"]) == (409, "slot_taken"), reply.json
    assert reply.json["error"]["details"] == {"conflicting_start": start.isoformat(), "conflicting_end": end.isoformat()}


# --- sharing a block, overlaps -------------------------------------------------------------------


def test_back_to_back_bookings_sharing_a_partial_block_both_fit(interviews_api, host_token, db, day):
    first = book(interviews_api, host_token, at(day, "10:00"), 20)
    second = book(interviews_api, host_token, at(day, "10:20"), 20)
    assert (first.status, second.status) == (201, 201), (first.json, second.json)
    one, two = first.json["interview_id"], second.json["interview_id"]
    assert held(db) == {
        block_key(at(day, "10:00")): [one],
        block_key(at(day, "10:15")): [one, two],
        block_key(at(day, "10:30")): [two],
    }

    assert_slot_taken(book(interviews_api, host_token, at(day, "10:15"), 15), at(day, "10:00"), at(day, "10:20"))
    assert_slot_taken(book(interviews_api, host_token, at(day, "10:39"), 15), at(day, "10:20"), at(day, "10:40"))
    assert book(interviews_api, host_token, at(day, "10:40"), 15).status == 201  # ends where the next block starts
    assert book(interviews_api, host_token, at(day, "09:45"), 15).status == 201


def test_a_block_document_is_readable_and_expires_two_days_after_its_end(interviews_api, host_token, db, day):
    iid = book(interviews_api, host_token, at(day, "14:05"), 15).json["interview_id"]
    assert sorted(blocks(db)) == sorted(keys(at(day, "14:00"), 2))
    doc = blocks(db)[block_key(at(day, "14:15"))]
    assert doc["uid"] == HOST.uid
    assert (doc["block_start"], doc["block_end"]) == (at(day, "14:15"), at(day, "14:30"))
    assert doc["expires_at"] == at(day, "14:30") + timedelta(days=2)
    assert doc["intervals"] == [{"interview_id": iid, "start": at(day, "14:05"), "end": at(day, "14:20")}]


def test_across_midnight_and_block_boundaries(interviews_api, host_token, db, day):
    night = book(interviews_api, host_token, at(day, "23:35"), 60)  # 23:35 → 00:35 the next day
    assert night.status == 201, night.json
    nid = night.json["interview_id"]
    next_day = day + timedelta(days=1)
    assert set(held(db)) == keys(at(day, "23:30"), 5)
    assert {key for key in held(db) if next_day.isoformat() in key} == keys(at(next_day, "00:00"), 3)

    for start, minutes in (("23:50", 15), ("23:20", 20), ("00:20", 15)):
        when = at(next_day if start < "12:00" else day, start)
        assert_slot_taken(book(interviews_api, host_token, when, minutes), at(day, "23:35"), at(next_day, "00:35"))
    before = book(interviews_api, host_token, at(day, "23:15"), 20)  # 23:15 → 23:35, shares the 23:30 block
    after = book(interviews_api, host_token, at(next_day, "00:35"), 20)  # shares the 00:30 block
    assert (before.status, after.status) == (201, 201)
    assert held(db)[block_key(at(day, "23:30"))] == [nid, before.json["interview_id"]]
    assert held(db)[block_key(at(next_day, "00:30"))] == [nid, after.json["interview_id"]]


def test_an_eight_hour_interview_holds_every_block_it_touches(interviews_api, host_token, db, day):
    long = book(interviews_api, host_token, at(day, "09:05"), 480)  # 09:05 → 17:05: 33 blocks
    assert long.status == 201, long.json
    lid = long.json["interview_id"]
    assert held(db) == {key: [lid] for key in keys(at(day, "09:00"), 33)}
    assert_slot_taken(book(interviews_api, host_token, at(day, "16:50"), 15), at(day, "09:05"), at(day, "17:05"))
    assert_slot_taken(book(interviews_api, host_token, at(day, "08:55"), 15), at(day, "09:05"), at(day, "17:05"))
    assert book(interviews_api, host_token, at(day, "17:05"), 30).status == 201
    assert book(interviews_api, host_token, at(day, "08:50"), 15).status == 201

    moved = reschedule(interviews_api, host_token, lid, at(day + timedelta(days=1), "08:00"))
    assert moved.status == 200, moved.json
    assert {key for key, ids in held(db).items() if lid in ids} == keys(at(day + timedelta(days=1), "08:00"), 32)
    assert book(interviews_api, host_token, at(day, "12:00"), 60).status == 201  # the old day is free again


# --- reschedule, cancel, complete, no-show, confirm -----------------------------------------------


def test_reschedule_into_a_taken_slot_is_refused_into_a_free_one_frees_the_old_blocks(interviews_api, host_token, db, day):
    first = book(interviews_api, host_token, at(day, "10:00"), 60).json["interview_id"]
    second = book(interviews_api, host_token, at(day, "12:00"), 60).json["interview_id"]

    assert_slot_taken(reschedule(interviews_api, host_token, second, at(day, "10:30")), at(day, "10:00"), at(day, "11:00"))
    assert {key for key, ids in held(db).items() if second in ids} == keys(at(day, "12:00"), 4)  # still where it was
    assert_slot_taken(book(interviews_api, host_token, at(day, "12:15"), 15), at(day, "12:00"), at(day, "13:00"))

    moved = reschedule(interviews_api, host_token, second, at(day, "14:05"))
    assert moved.status == 200, moved.json
    assert held(db) == {
        **{key: [first] for key in keys(at(day, "10:00"), 4)},
        **{key: [second] for key in keys(at(day, "14:00"), 5)},
    }  # 12:00–12:45 deleted
    assert book(interviews_api, host_token, at(day, "12:00"), 60).status == 201

    shifted = reschedule(interviews_api, host_token, first, at(day, "10:15"))  # overlaps only its own old slot
    assert shifted.status == 200, shifted.json
    assert block_key(at(day, "10:00")) not in held(db)
    assert {key for key, ids in held(db).items() if first in ids} == keys(at(day, "10:15"), 4)


def test_cancel_frees_the_blocks(interviews_api, host_token, db, day):
    iid = book(interviews_api, host_token, at(day, "10:00"), 45).json["interview_id"]
    neighbour = book(interviews_api, host_token, at(day, "10:45"), 20).json["interview_id"]  # shares no block
    cancelled = interviews_api.post(f"/interviews/{iid}/cancel", token=host_token, json={"reason": "Position filled"})
    assert cancelled.status == 200, cancelled.json
    assert held(db) == {key: [neighbour] for key in keys(at(day, "10:45"), 2)}
    again = book(interviews_api, host_token, at(day, "10:00"), 45)
    assert again.status == 201, again.json


def test_completed_and_no_show_interviews_leave_their_blocks(interviews_api, host_token, db, day, clock):
    done = book(interviews_api, host_token, at(day, "10:00"), 30).json["interview_id"]
    missed = book(interviews_api, host_token, at(day, "10:30"), 30).json["interview_id"]
    kept = book(interviews_api, host_token, at(day + timedelta(days=2), "10:00"), 30).json["interview_id"]
    now = clock.now()
    clock.set(at(day, "11:05"))
    try:
        assert interviews_api.post(f"/interviews/{done}/complete", token=host_token).json["status"] == "completed"
        assert interviews_api.post(f"/interviews/{missed}/no-show", token=host_token).json["status"] == "no_show"
    finally:
        clock.set(now)
    assert held(db) == {key: [kept] for key in keys(at(day + timedelta(days=2), "10:00"), 2)}


def test_a_request_holds_nothing_until_confirmed_and_cannot_be_confirmed_onto_a_taken_slot(interviews_api, host_token, db, day):
    request = book(interviews_api, host_token, at(day, "10:00"), 60, booking="request")
    assert request.status == 201 and request.json["status"] == "pending", request.json
    assert held(db) == {}
    taken = book(interviews_api, host_token, at(day, "10:45"), 30).json["interview_id"]
    rid = request.json["interview_id"]
    assert_slot_taken(interviews_api.post(f"/interviews/{rid}/confirm", token=host_token), at(day, "10:45"), at(day, "11:15"))
    assert interviews_api.post(f"/interviews/{taken}/cancel", token=host_token, json={}).status == 200
    confirmed = interviews_api.post(f"/interviews/{rid}/confirm", token=host_token)
    assert confirmed.status == 200, confirmed.json
    assert held(db) == {key: [rid] for key in keys(at(day, "10:00"), 4)}


# --- concurrency: only bookings sharing a block contend -------------------------------------------


# The emulator locks pessimistically: a commit that waits on another transaction's lock costs a
# lock timeout (≈ 2 s) and a retry. Bookings that share no block never wait on each other, so
# each answers in a fraction of that; with one document per host and day, 6 took ≈ 10 s.
UNCONTENDED = 3.0


def concurrently(api, token, bodies):
    """Send the creates at once (released by a barrier); the replies, each with its `seconds`."""
    replies: list = [None] * len(bodies)
    barrier = threading.Barrier(len(bodies))

    def create(i):
        barrier.wait()
        started = time.perf_counter()
        replies[i] = api.post("/interviews", token=token, json=bodies[i])
        replies[i].seconds = time.perf_counter() - started

    threads = [threading.Thread(target=create, args=(i,)) for i in range(len(bodies))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return replies


def test_six_concurrent_creates_of_distinct_slots_all_succeed(interviews_api, host_token, db, day):
    replies = concurrently(interviews_api, host_token, [body(at(day, "08:00") + timedelta(minutes=30 * i), 30) for i in range(6)])
    assert [r.status for r in replies] == [201] * 6, [r.json for r in replies]
    assert max(r.seconds for r in replies) < UNCONTENDED, [r.seconds for r in replies]
    assert len(held(db)) == 12 and all(len(ids) == 1 for ids in held(db).values())


def test_four_concurrent_back_to_back_creates_sharing_blocks_all_succeed(interviews_api, host_token, db, day):
    replies = concurrently(interviews_api, host_token, [body(at(day, "08:00") + timedelta(minutes=20 * i), 20) for i in range(4)])
    assert [r.status for r in replies] == [201] * 4, [r.json for r in replies]
    assert max(r.seconds for r in replies) < UNCONTENDED, [r.seconds for r in replies]  # a refused commit retries at once
    ids = [r.json["interview_id"] for r in replies]
    assert sorted(held(db)[block_key(at(day, "08:15"))]) == sorted(ids[0:2])
    assert sorted(held(db)[block_key(at(day, "08:30"))]) == sorted(ids[1:3])
    assert Counter(i for held_ids in held(db).values() for i in held_ids) == {i: 2 for i in ids}


def test_four_concurrent_overlapping_creates_one_wins(interviews_api, host_token, db, day):
    replies = concurrently(interviews_api, host_token, [body(at(day, "15:00") + timedelta(minutes=5 * i), 30) for i in range(4)])
    assert sorted(r.status for r in replies) == [201, 409, 409, 409], [r.json for r in replies]
    winner = next(r for r in replies if r.status == 201)
    start = datetime.fromisoformat(winner.json["start"])
    for reply in replies:
        if reply.status == 409:
            assert_slot_taken(reply, start, start + timedelta(minutes=30))
    assert {i for ids in held(db).values() for i in ids} == {winner.json["interview_id"]}
