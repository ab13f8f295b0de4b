"""HostBookings: the host's active interviews in a range and a guest's pending requests, on the
fake and on Firestore; and the interviews' ``origin`` (booked through a link) as stored."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from shared.domain.models import BookingOrigin, InterviewStatus, Person
from tests import factories
from tests.contract.conftest import BACKENDS, backend_param
from tests.factories import GUEST, HOST, OTHER_WORKSPACE, WORKSPACE
from tests.fakes import FakeHostBookings, FakeInterviewRepository

DAY = datetime(2026, 6, 3, tzinfo=UTC)
OLGA = Person("olga@acme.example", "Olga", "uid-olga")
ORIGIN = BookingOrigin(
    config_id="cfg-screening", link_id="bl-Zq3xY7pLm2Rt9vWk4sHd8N", buffer_before_minutes=10, buffer_after_minutes=5
)


def at(hours: float) -> datetime:
    return DAY + timedelta(hours=hours)


class Backend:
    def __init__(self, db: Any):
        self.db = db
        if db is None:
            self.interviews: Any = FakeInterviewRepository()
            self.queries: Any = FakeHostBookings(self.interviews)
        else:
            from shared.adapters.firestore import InterviewRepository
            from shared.adapters.scheduling import FirestoreHostBookings

            self.interviews, self.queries = InterviewRepository(db), FirestoreHostBookings(db)

    def document(self, interview_id: str) -> dict[str, Any]:
        if self.db is None:
            return dict(self.interviews.store.docs[interview_id])
        return self.db.collection("interviews").document(interview_id).get().to_dict()

    def store_document(self, interview_id: str, document: dict[str, Any]) -> None:
        """Write a document as an older version of the code did."""
        if self.db is None:
            self.interviews.store.write(interview_id, document)
        else:
            self.db.collection("interviews").document(interview_id).set(document)


@pytest.fixture(params=BACKENDS)
def backend(request) -> Backend:
    return Backend(backend_param(request))


def add(backend: Backend, **changes: Any):
    interview = factories.interview(**changes)
    backend.interviews.add(interview)
    return interview


def test_active_between_is_the_hosts_pending_and_confirmed_interviews_in_range_by_start(backend):
    confirmed = add(backend, start=at(10))
    pending = add(backend, start=at(9), status=InterviewStatus.PENDING, origin=ORIGIN)
    first = add(backend, start=at(8))  # start_from itself is in
    for changes in (
        {"start": at(11), "status": InterviewStatus.CANCELLED},
        {"start": at(11), "status": InterviewStatus.COMPLETED},
        {"start": at(11), "status": InterviewStatus.NO_SHOW},
        {"start": at(11), "host": OLGA},  # another host
        {"start": at(11), "workspace_id": OTHER_WORKSPACE},
        {"start": at(7.99)},  # before the range
        {"start": at(12)},  # start_before is out
    ):
        add(backend, **changes)
    found = backend.queries.active_between(workspace_id=WORKSPACE, host_uid=HOST.uid, start_from=at(8), start_before=at(12))
    assert [i.id for i in found] == [first.id, pending.id, confirmed.id]
    assert found[1] == pending  # whole interviews, origin (its buffers) included
    assert (
        backend.queries.active_between(workspace_id=WORKSPACE, host_uid="uid-olga", start_from=at(8), start_before=at(11)) == []
    )


def test_pending_requests_counts_the_guests_pending_interviews_of_the_host_from_since(backend):
    add(backend, start=at(10), status=InterviewStatus.PENDING)
    add(backend, start=at(30), status=InterviewStatus.PENDING, guest=Person("  Gus.Guest@Candidates.EXAMPLE ", "Gus"))
    add(backend, start=at(5), status=InterviewStatus.PENDING)  # the since itself counts
    for changes in (
        {"start": at(4.5), "status": InterviewStatus.PENDING},  # before since
        {"start": at(10)},  # confirmed
        {"start": at(10), "status": InterviewStatus.CANCELLED},
        {"start": at(10), "status": InterviewStatus.PENDING, "guest": Person("other@candidates.example", "Other")},
        {"start": at(10), "status": InterviewStatus.PENDING, "host": OLGA},
        {"start": at(10), "status": InterviewStatus.PENDING, "workspace_id": OTHER_WORKSPACE},
    ):
        add(backend, **changes)

    def count(email: str, **query: Any) -> int:
        return backend.queries.pending_requests(
            **({"workspace_id": WORKSPACE, "host_uid": HOST.uid, "guest_email": email, "since": at(5)} | query)
        )

    assert count(GUEST.email) == 3
    assert count("GUS.guest@candidates.example ") == 3  # compared trimmed and case-insensitively
    assert count(GUEST.email, since=at(11)) == 1
    assert count(GUEST.email, host_uid="uid-olga") == 1
    assert count(GUEST.email, workspace_id=OTHER_WORKSPACE) == 1
    assert count("nobody@candidates.example") == 0


def test_origin_round_trips_and_reads_well_in_the_console(backend):
    interview = add(backend, status=InterviewStatus.PENDING, origin=ORIGIN, guest=Person("Gus.Guest@Candidates.example", "Gus"))
    assert backend.interviews.get(interview.id) == interview
    doc = backend.document(interview.id)
    assert doc["origin"] == {
        "config_id": "cfg-screening",
        "link_id": "bl-Zq3xY7pLm2Rt9vWk4sHd8N",
        "buffer_before_minutes": 10,
        "buffer_after_minutes": 5,
    }
    assert doc["guest"]["email"] == "Gus.Guest@Candidates.example"  # as typed
    assert doc["guest_email_key"] == "gus.guest@candidates.example"
    without_link = add(backend, origin=BookingOrigin(config_id="cfg-screening"))
    assert backend.interviews.get(without_link.id) == without_link
    assert backend.document(without_link.id)["origin"] == {
        "config_id": "cfg-screening",
        "buffer_before_minutes": 0,
        "buffer_after_minutes": 0,
    }


def test_an_interview_without_origin_stores_none_and_old_documents_still_load(backend):
    plain = add(backend)
    assert "origin" not in backend.document(plain.id)
    assert backend.interviews.get(plain.id).origin is None
    old = {k: v for k, v in backend.document(plain.id).items() if k != "guest_email_key"}
    backend.store_document("iv-old", old)
    assert backend.interviews.get("iv-old").origin is None
