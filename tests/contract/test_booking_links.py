"""BookingLinkRepository: links, single-use claims and the per-link hourly counter, on the fake and on Firestore."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import MISSING, fields, replace
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from shared.domain.scheduling import BookingLink
from shared.ports import AlreadyExists, DoesNotExist
from tests.contract.conftest import BACKENDS, backend_param
from tests.factories import NOW, OTHER_WORKSPACE, WORKSPACE
from tests.fakes import FakeBookingLinkRepository

LINK = "bl-Zq3xY7pLm2Rt9vWk4sHd8N"  # the URL's secret
HOUR = datetime(2026, 6, 1, 14, 0, tzinfo=UTC)


def link(**changes: Any) -> BookingLink:
    base = BookingLink(
        id=LINK,
        workspace_id=WORKSPACE,
        host_uid="uid-hana",
        config_id="cfg-screening",
        created_by="uid-hana",
        created_at=NOW - timedelta(days=1),
    )
    return replace(base, **changes)


class Backend:
    def __init__(self, db: Any):
        self.db = db
        if db is None:
            self.repo: Any = FakeBookingLinkRepository()
        else:
            from shared.adapters.scheduling import BookingLinkRepository

            self.repo = BookingLinkRepository(db)

    def document(self, link_id: str) -> dict[str, Any] | None:
        if self.db is None:
            return self.repo.document(link_id)
        return self.db.collection("booking_links").document(link_id).get().to_dict()

    def rate(self, rate_id: str) -> dict[str, Any] | None:
        if self.db is None:
            return self.repo.rates.get(rate_id)
        return self.db.collection("booking_link_rates").document(rate_id).get().to_dict()


@pytest.fixture(params=BACKENDS)
def backend(request) -> Backend:
    return Backend(backend_param(request))


@pytest.fixture
def repo(backend):
    return backend.repo


def test_absent_and_unstorable_ids_are_none(repo):
    assert repo.get("bl-nope") is None
    assert repo.get("a/b") is None and repo.get("__x__") is None and repo.get("") is None


def test_round_trip_keeps_every_field(repo):
    full = link(
        expires_at=NOW + timedelta(days=7),
        single_use=True,
        used_at=NOW - timedelta(hours=2),
        revoked_at=NOW - timedelta(hours=1),
        label="Spring hiring",
        booking_count=3,
    )
    # every field away from its default, so a field added to BookingLink must be mapped to pass
    assert [f.name for f in fields(BookingLink) if f.default is not MISSING and getattr(full, f.name) == f.default] == []
    repo.add(full)
    assert repo.get(LINK) == full
    bare = link(id="bl-bare", created_at=None)
    repo.add(bare)
    assert repo.get("bl-bare") == bare


def test_the_document_reads_well_in_the_console(backend):
    backend.repo.add(link(label="Spring hiring", expires_at=NOW + timedelta(days=7)))
    doc = backend.document(LINK)
    assert doc == {
        "workspace_id": WORKSPACE,
        "host_uid": "uid-hana",
        "config_id": "cfg-screening",
        "created_by": "uid-hana",
        "label": "Spring hiring",
        "single_use": False,
        "expires_at": NOW + timedelta(days=7),
        "booking_count": 0,
        "created_at": NOW - timedelta(days=1),
    }


def test_adding_a_taken_id_is_refused(repo):
    repo.add(link())
    with pytest.raises(AlreadyExists):
        repo.add(link(label="again"))
    assert repo.get(LINK).label is None


def test_list_filters_and_orders_newest_first(repo):
    day = NOW - timedelta(days=5)
    links = [
        link(id="bl-1", created_at=day + timedelta(hours=1)),
        link(id="bl-2", created_at=day + timedelta(hours=3), config_id="cfg-mentoring"),
        link(id="bl-3", created_at=day + timedelta(hours=3)),  # same instant as bl-2: by id, descending
        link(id="bl-olga", created_at=day + timedelta(hours=2), host_uid="uid-olga", config_id="cfg-olga"),
        link(id="bl-old", created_at=None),  # null orders first, so last when descending
        link(id="bl-globex", created_at=day, workspace_id=OTHER_WORKSPACE),
    ]
    for item in links:
        repo.add(item)

    def ids(**query: Any) -> list[str]:
        return [
            item.id
            for item in repo.list(**({"workspace_id": WORKSPACE, "host_uid": None, "config_id": None, "limit": 10} | query))
        ]

    assert ids() == ["bl-3", "bl-2", "bl-olga", "bl-1", "bl-old"]
    assert ids(limit=2) == ["bl-3", "bl-2"]
    assert ids(host_uid="uid-hana") == ["bl-3", "bl-2", "bl-1", "bl-old"]
    assert ids(config_id="cfg-screening") == ["bl-3", "bl-1", "bl-old"]
    assert ids(host_uid="uid-hana", config_id="cfg-mentoring") == ["bl-2"]
    assert ids(host_uid="uid-hana", config_id="cfg-olga") == []
    assert ids(workspace_id=OTHER_WORKSPACE) == ["bl-globex"]
    assert repo.list(workspace_id=WORKSPACE, host_uid=None, config_id=None, limit=10)[0] == links[2]


def test_revoke_sets_the_time_once_and_returns_the_link(repo):
    repo.add(link(booking_count=2))
    revoked = repo.revoke(LINK, NOW)
    assert revoked == link(booking_count=2, revoked_at=NOW) == repo.get(LINK)
    assert repo.revoke(LINK, NOW + timedelta(hours=1)).revoked_at == NOW  # the first time is kept
    assert repo.get(LINK).revoked_at == NOW
    assert repo.revoke("bl-nope", NOW) is None and repo.revoke("a/b", NOW) is None


def test_a_single_use_link_is_claimed_once_and_a_retry_of_the_same_booking_is_idempotent(backend):
    repo = backend.repo
    repo.add(link(single_use=True))
    assert repo.claim_single_use(LINK, "iv-first", NOW) is True
    assert repo.get(LINK).used_at == NOW
    assert backend.document(LINK)["used_by"] == "iv-first"
    assert repo.claim_single_use(LINK, "iv-first", NOW + timedelta(seconds=5)) is True  # a retry
    assert repo.get(LINK).used_at == NOW  # not rewritten
    assert repo.claim_single_use(LINK, "iv-second", NOW) is False
    assert backend.document(LINK)["used_by"] == "iv-first"


def test_only_the_holder_releases_a_claim(backend):
    repo = backend.repo
    repo.add(link(single_use=True))
    repo.release_single_use(LINK, "iv-first")  # unused: nothing to release
    assert repo.claim_single_use(LINK, "iv-first", NOW) is True
    repo.release_single_use(LINK, "iv-second")  # not its claim
    assert repo.get(LINK).used_at == NOW and backend.document(LINK)["used_by"] == "iv-first"
    repo.release_single_use(LINK, "iv-first")  # its booking failed
    assert repo.get(LINK) == link(single_use=True)
    assert "used_by" not in backend.document(LINK) and "used_at" not in backend.document(LINK)
    assert repo.claim_single_use(LINK, "iv-second", NOW) is True
    repo.release_single_use("bl-nope", "iv-second")  # absent: nothing happens


def test_claiming_a_reusable_link_writes_nothing_and_an_absent_one_is_refused(backend):
    repo = backend.repo
    repo.add(link())
    before = backend.document(LINK)
    assert repo.claim_single_use(LINK, "iv-first", NOW) is True
    assert repo.claim_single_use(LINK, "iv-second", NOW) is True
    assert backend.document(LINK) == before
    assert repo.get(LINK).used_at is None
    with pytest.raises(DoesNotExist):
        repo.claim_single_use("bl-nope", "iv-first", NOW)


def test_concurrent_claims_by_different_bookings_have_one_winner(backend):
    repo = backend.repo
    repo.add(link(single_use=True))
    contenders = [f"iv-{n}" for n in range(6)]
    start = threading.Barrier(len(contenders))

    def claim(interview_id: str) -> bool:
        start.wait()
        return bool(repo.claim_single_use(LINK, interview_id, NOW))

    with ThreadPoolExecutor(len(contenders)) as pool:
        results = dict(zip(contenders, pool.map(claim, contenders), strict=True))
    winners = [i for i, won in results.items() if won]
    assert len(winners) == 1
    assert backend.document(LINK)["used_by"] == winners[0]


def test_record_booking_refuses_exactly_past_the_hourly_limit(backend):
    repo = backend.repo
    repo.add(link())
    assert [repo.record_booking(LINK, HOUR + timedelta(minutes=m), hourly_limit=3) for m in (0, 10, 20)] == [True] * 3
    assert repo.record_booking(LINK, HOUR + timedelta(minutes=59, seconds=59), hourly_limit=3) is False  # the 4th
    assert repo.record_booking(LINK, HOUR + timedelta(minutes=30), hourly_limit=3) is False
    assert repo.get(LINK).booking_count == 3  # refused attempts are no bookings
    rate = backend.rate(f"{LINK}-2026060114")
    assert rate == {
        "link_id": LINK,
        "hour_start": HOUR,
        "count": 5,  # refused attempts still count against the hour
        "expires_at": HOUR + timedelta(hours=2),
    }
    # the next hour is a bucket of its own
    assert repo.record_booking(LINK, HOUR + timedelta(hours=1), hourly_limit=3) is True
    assert backend.rate(f"{LINK}-2026060115")["count"] == 1
    assert repo.get(LINK).booking_count == 4


def test_the_hour_is_utc(backend):
    repo = backend.repo
    repo.add(link())
    berlin = HOUR.astimezone(ZoneInfo("Europe/Berlin"))  # 16:00 local
    assert repo.record_booking(LINK, berlin, hourly_limit=1) is True
    assert backend.rate(f"{LINK}-2026060114")["count"] == 1


def test_recording_a_booking_needs_the_link(repo):
    with pytest.raises(DoesNotExist):
        repo.record_booking("bl-nope", HOUR, hourly_limit=3)
    with pytest.raises(DoesNotExist):
        repo.record_booking("a/b", HOUR, hourly_limit=3)


@pytest.mark.parametrize("limit", [100, 7])
def test_concurrent_bookings_through_one_link_are_all_counted(backend, limit):
    repo = backend.repo
    repo.add(link())
    start = threading.Barrier(20)

    def book(n: int) -> bool:
        start.wait()
        return bool(repo.record_booking(LINK, HOUR + timedelta(seconds=n), hourly_limit=limit))

    with ThreadPoolExecutor(20) as pool:
        results = list(pool.map(book, range(20)))
    assert results.count(True) == min(20, limit)
    assert backend.rate(f"{LINK}-2026060114")["count"] == 20
    assert repo.get(LINK).booking_count == min(20, limit)


def test_a_burst_of_bookings_through_a_single_use_link_books_once(backend):
    """Each attempt counts itself, then claims: the counts' writes to the link never make a claim fail."""
    repo = backend.repo
    repo.add(link(single_use=True))
    start = threading.Barrier(20)

    def book(n: int) -> bool:
        start.wait()
        return bool(repo.record_booking(LINK, HOUR, hourly_limit=100) and repo.claim_single_use(LINK, f"iv-{n}", NOW))

    with ThreadPoolExecutor(20) as pool:
        results = list(pool.map(book, range(20)))
    assert results.count(True) == 1
    assert backend.document(LINK)["used_by"] == f"iv-{results.index(True)}"
    assert repo.get(LINK).booking_count == 20
