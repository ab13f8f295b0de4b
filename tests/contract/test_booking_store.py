"""BookingStore: no double booking — the host_blocks each confirmed interview holds, on the fake and on Firestore.

A confirmed interview holds its interval in every 15-minute UTC block its [start, end)
touches; an overlap is SlotTaken (with the interval it collides with), touching interviews
share a block and both fit, and a change moves or frees the blocks atomically.
"""

from __future__ import annotations

import copy
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from shared.adapters.bookings import SlotTaken
from shared.domain.models import InterviewStatus, Person
from shared.errors import Conflict, NotFound
from tests import factories
from tests.contract.conftest import BACKENDS, backend_param
from tests.factories import HOST, NOW
from tests.fakes import FakeBookingStore, FakeInterviewRepository

DAY = datetime(2026, 6, 3, tzinfo=UTC)
LATER = NOW + timedelta(minutes=5)  # the instant of a change
OLGA = Person("olga@acme.example", "Olga", "uid-olga")


def at(hhmm: str, day: int = 0) -> datetime:
    hours, minutes = map(int, hhmm.split(":"))
    return DAY + timedelta(days=day, hours=hours, minutes=minutes)


def booked(hhmm: str, minutes: int, day: int = 0, **changes: Any):
    return factories.interview(start=at(hhmm, day), duration_minutes=minutes, **changes)


def key(hhmm: str, day: int = 0, uid: str = HOST.uid or "") -> str:
    return f"{uid}_{at(hhmm, day):%Y-%m-%dT%H:%MZ}"


def keys(first: str, count: int, day: int = 0, uid: str = HOST.uid or "") -> list[str]:
    start = at(first, day)
    return [f"{uid}_{start + timedelta(minutes=15 * n):%Y-%m-%dT%H:%MZ}" for n in range(count)]


class Backend:
    def __init__(self, db):
        self.db = db
        if db is None:
            self.interviews = FakeInterviewRepository()
            self.bookings = FakeBookingStore(self.interviews)
        else:
            from shared.adapters.bookings import BookingStore
            from shared.adapters.firestore import InterviewRepository

            self.interviews, self.bookings = InterviewRepository(db), BookingStore(db)

    def blocks(self) -> dict[str, dict[str, Any]]:
        """Every host_blocks document by id."""
        if self.db is None:
            return copy.deepcopy(self.bookings.blocks)
        return {snapshot.id: snapshot.to_dict() for snapshot in self.db.collection("host_blocks").stream()}

    def held(self) -> dict[str, list[str]]:
        """Block id → the interview ids it holds, in the order they were booked."""
        return {k: [i["interview_id"] for i in doc["intervals"]] for k, doc in self.blocks().items()}

    def reschedule(self, interview_id: str, hhmm: str, day: int = 0, **changes: Any):
        return self.bookings.change(interview_id, lambda i: replace(i, start=at(hhmm, day), **changes), LATER)

    def set_status(self, interview_id: str, status: InterviewStatus):
        return self.bookings.change(interview_id, lambda i: replace(i, status=status), LATER)


@pytest.fixture(params=BACKENDS)
def backend(request):
    return Backend(backend_param(request))


def assert_slot_taken(raised: pytest.ExceptionInfo[SlotTaken], start: datetime, end: datetime) -> None:
    assert raised.value.code == "slot_taken" and raised.value.status == 409
    assert raised.value.details == {"conflicting_start": start.isoformat(), "conflicting_end": end.isoformat()}


# --- create ------------------------------------------------------------------------------------


def test_a_confirmed_interview_holds_every_block_it_touches(backend):
    interview = booked("10:05", 40)  # 10:05 → 10:45
    backend.bookings.create(interview, NOW)
    assert backend.interviews.get(interview.id) == interview
    assert backend.held() == {k: [interview.id] for k in keys("10:00", 3)}
    assert backend.blocks()[key("10:15")] == {
        "uid": HOST.uid,
        "block_start": at("10:15"),
        "block_end": at("10:30"),
        "intervals": [{"interview_id": interview.id, "start": at("10:05"), "end": at("10:45")}],
        "expires_at": at("10:30") + timedelta(days=2),
        "updated_at": NOW,
    }


@pytest.mark.parametrize(
    ("start", "minutes"),
    [("10:30", 30), ("09:00", 180), ("10:15", 15), ("09:50", 11), ("10:59", 30), ("10:00", 60)],
    ids=["late-half", "around", "inside", "one-minute-in", "last-minute", "same"],
)
def test_an_overlap_is_refused_with_the_interval_it_collides_with(backend, start, minutes):
    first = booked("10:00", 60)
    backend.bookings.create(first, NOW)
    before = backend.blocks()
    second = booked(start, minutes)
    with pytest.raises(SlotTaken) as raised:
        backend.bookings.create(second, NOW)
    assert_slot_taken(raised, at("10:00"), at("11:00"))
    assert backend.interviews.get(second.id) is None
    assert backend.blocks() == before


def test_touching_interviews_share_a_block_and_both_fit(backend):
    first, second = booked("10:00", 20), booked("10:20", 20)
    before, after = booked("09:45", 15), booked("10:40", 20)  # end at the first's start; start at the second's end
    for interview in (first, second, before, after):
        backend.bookings.create(interview, NOW)
    assert backend.held() == {
        key("09:45"): [before.id],
        key("10:00"): [first.id],
        key("10:15"): [first.id, second.id],
        key("10:30"): [second.id, after.id],
        key("10:45"): [after.id],
    }
    with pytest.raises(SlotTaken) as raised:
        backend.bookings.create(booked("10:19", 2), NOW)  # one minute of each
    assert_slot_taken(raised, at("10:00"), at("10:20"))  # the first interval listed in the first block checked


def test_a_span_across_midnight_holds_the_blocks_of_both_days(backend):
    night = booked("23:35", 60)  # → 00:35 the next day
    backend.bookings.create(night, NOW)
    assert sorted(backend.held()) == sorted(keys("23:30", 2) + keys("00:00", 3, day=1))
    with pytest.raises(SlotTaken) as raised:
        backend.bookings.create(booked("00:20", 15, day=1), NOW)
    assert_slot_taken(raised, at("23:35"), at("00:35", day=1))
    backend.bookings.create(booked("00:35", 20, day=1), NOW)  # shares the 00:30 block


def test_other_hosts_and_unconfirmed_interviews_do_not_contend(backend):
    hana = booked("10:00", 60)
    olga = booked("10:00", 60, host=OLGA)
    pending = booked("10:15", 30, status=InterviewStatus.PENDING)
    for interview in (hana, olga, pending):
        backend.bookings.create(interview, NOW)
    assert backend.held() == {
        **{k: [hana.id] for k in keys("10:00", 4)},
        **{k: [olga.id] for k in keys("10:00", 4, uid="uid-olga")},
    }  # the pending request holds nothing
    assert backend.interviews.get(pending.id).status is InterviewStatus.PENDING


def test_a_taken_id_is_refused_before_any_slot_is_checked(backend):
    interview = booked("10:00", 30)
    backend.bookings.create(interview, NOW)
    with pytest.raises(Conflict) as raised:
        backend.bookings.create(replace(interview, start=at("15:00")), NOW)
    assert raised.value.code == "already_exists" and not isinstance(raised.value, SlotTaken)
    assert backend.interviews.get(interview.id) == interview
    assert backend.held() == {k: [interview.id] for k in keys("10:00", 2)}


# --- change ------------------------------------------------------------------------------------


def test_a_reschedule_moves_the_slot_and_frees_the_old_blocks(backend):
    interview = booked("10:00", 60)
    backend.bookings.create(interview, NOW)
    before, after = backend.reschedule(interview.id, "14:05")
    assert before == interview
    assert (after.start, after.updated_at) == (at("14:05"), LATER)
    assert backend.interviews.get(interview.id) == after
    assert backend.held() == {k: [interview.id] for k in keys("14:00", 5)}
    assert backend.blocks()[key("14:00")]["updated_at"] == LATER
    backend.bookings.create(booked("10:00", 60), NOW)  # the old slot is free again


def test_a_reschedule_overlapping_only_its_own_old_slot_fits(backend):
    interview = booked("10:00", 60)
    backend.bookings.create(interview, NOW)
    backend.reschedule(interview.id, "10:15")
    assert backend.held() == {k: [interview.id] for k in keys("10:15", 4)}


def test_a_change_into_a_taken_slot_is_refused_and_nothing_moves(backend):
    first, second = booked("10:00", 60), booked("12:00", 60)
    backend.bookings.create(first, NOW)
    backend.bookings.create(second, NOW)
    blocks = backend.blocks()
    with pytest.raises(SlotTaken) as raised:
        backend.reschedule(second.id, "10:30")
    assert_slot_taken(raised, at("10:00"), at("11:00"))
    assert backend.interviews.get(second.id) == second
    assert backend.blocks() == blocks


def test_a_change_to_another_host_moves_the_slot_to_their_blocks(backend):
    interview = booked("10:00", 30)
    backend.bookings.create(interview, NOW)
    backend.bookings.create(booked("10:00", 30, host=OLGA, id="iv-olga"), NOW)
    with pytest.raises(SlotTaken):
        backend.bookings.change(interview.id, lambda i: replace(i, host=OLGA), LATER)
    backend.reschedule(interview.id, "11:00", host=OLGA)
    assert backend.held() == {
        **{k: ["iv-olga"] for k in keys("10:00", 2, uid="uid-olga")},
        **{k: [interview.id] for k in keys("11:00", 2, uid="uid-olga")},
    }


@pytest.mark.parametrize("status", [InterviewStatus.CANCELLED, InterviewStatus.COMPLETED, InterviewStatus.NO_SHOW])
def test_leaving_confirmed_frees_the_blocks_and_keeps_the_neighbours(backend, status):
    first, second = booked("10:00", 20), booked("10:20", 20)
    backend.bookings.create(first, NOW)
    backend.bookings.create(second, NOW)
    _, after = backend.set_status(first.id, status)
    assert after.status is status and backend.interviews.get(first.id).status is status
    assert backend.held() == {key("10:15"): [second.id], key("10:30"): [second.id]}  # 10:00 deleted
    backend.bookings.create(booked("10:00", 20), NOW)


def test_confirming_a_request_takes_its_slot_or_is_refused(backend):
    request = booked("10:00", 60, status=InterviewStatus.PENDING)
    taken = booked("10:45", 30)
    backend.bookings.create(request, NOW)
    backend.bookings.create(taken, NOW)
    with pytest.raises(SlotTaken) as raised:
        backend.set_status(request.id, InterviewStatus.CONFIRMED)
    assert_slot_taken(raised, at("10:45"), at("11:15"))
    assert backend.interviews.get(request.id).status is InterviewStatus.PENDING
    backend.set_status(taken.id, InterviewStatus.CANCELLED)
    backend.set_status(request.id, InterviewStatus.CONFIRMED)
    assert backend.held() == {k: [request.id] for k in keys("10:00", 4)}


def test_a_change_of_an_absent_interview_is_not_found(backend):
    with pytest.raises(NotFound) as raised:
        backend.reschedule("iv-nope", "10:00")
    assert raised.value.code == "interview_not_found"
    assert backend.blocks() == {}


def test_a_change_refused_by_its_rule_writes_nothing(backend):
    interview = booked("10:00", 30)
    backend.bookings.create(interview, NOW)
    blocks = backend.blocks()

    def refuse(_interview):
        raise ValueError("not allowed")

    with pytest.raises(ValueError, match="not allowed"):
        backend.bookings.change(interview.id, refuse, LATER)
    assert backend.interviews.get(interview.id) == interview
    assert backend.blocks() == blocks
