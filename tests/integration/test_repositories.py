"""Firestore repositories on the real emulator: round trips and console-readable documents."""

from __future__ import annotations

from datetime import timedelta

import pytest

from shared.adapters.firestore import InterviewRepository, UserRepository, WorkspaceRepository
from shared.domain.models import Attendance, InterviewType, JoinWindow, Participant, Role, User, Workspace
from shared.ports import AlreadyExists
from tests import factories
from tests.factories import NOW


def test_interview_round_trip_keeps_every_field(db):
    repo = InterviewRepository(db)
    original = factories.interview(
        type=InterviewType.IN_PERSON,
        meet_link=None,
        location="Main St 1, Berlin",
        note="Bring ID",
        join_window=JoinWindow(5, 30),
        ical_sequence=3,
        attendance={Participant.HOST: Attendance(2, NOW, NOW + timedelta(minutes=3))},
    )
    repo.add(original)
    assert repo.get(original.id) == original


def test_interview_document_reads_well_in_the_console(db):
    interview = factories.interview()
    InterviewRepository(db).add(interview)
    doc = db.collection("interviews").document(interview.id).get().to_dict()
    assert doc["workspace_id"] == factories.WORKSPACE
    assert doc["host"] == {"uid": "uid-hana", "email": "hana.host@acme.example", "name": "Hana Host"}
    assert doc["guest"] == {"email": "gus.guest@candidates.example", "name": "Gus Guest"}
    assert (doc["status"], doc["type"], doc["timezone"]) == ("confirmed", "google_meet", "Europe/Berlin")
    assert doc["start"] == interview.start and doc["end"] == interview.end  # Firestore timestamps, not strings
    assert "note" not in doc and "location" not in doc  # absent optional fields are left out, not null


def test_creating_an_existing_id_is_refused(db):
    repo = InterviewRepository(db)
    interview = factories.interview()
    repo.add(interview)
    with pytest.raises(AlreadyExists):
        repo.add(interview)


def test_missing_interview_is_none(db):
    assert InterviewRepository(db).get("iv-nope") is None


def test_record_join_counts_concurrent_joins(db):
    from concurrent.futures import ThreadPoolExecutor

    repo = InterviewRepository(db)
    interview = factories.interview()
    repo.add(interview)
    with ThreadPoolExecutor(4) as pool:
        list(pool.map(lambda i: repo.record_join(interview, Participant.GUEST, NOW + timedelta(seconds=i)), range(8)))
    stored = repo.get(interview.id)
    assert stored.attendance[Participant.GUEST].join_count == 8
    assert stored.portal_join_count == 8


def test_users_and_workspaces(db):
    users, workspaces = UserRepository(db), WorkspaceRepository(db)
    user = User("uid-1", "ws-1", Role.ADMIN, "a@example.com", "Ada")
    users.put(user)
    workspaces.put(Workspace("ws-1", "Acme", guest_can_cancel=True, created_at=NOW))
    assert users.get("uid-1") == user
    assert workspaces.get("ws-1") == Workspace("ws-1", "Acme", True, NOW)
    assert db.collection("users").document("uid-1").get().to_dict()["role"] == "admin"
    assert users.get("uid-none") is None and workspaces.get("ws-none") is None
