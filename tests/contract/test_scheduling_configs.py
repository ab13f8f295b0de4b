"""SchedulingConfigRepository: what the services rely on, on the fake and on Firestore."""

from __future__ import annotations

from dataclasses import MISSING, fields, replace
from datetime import timedelta
from typing import Any

import pytest

from shared.domain.models import InterviewType
from shared.domain.scheduling import BookingMode, SchedulingConfig, WorkingRange
from shared.ports import AlreadyExists, DoesNotExist
from tests.contract.conftest import BACKENDS, backend_param
from tests.factories import NOW, OTHER_WORKSPACE, WORKSPACE
from tests.fakes import FakeSchedulingConfigRepository

HOURS = {
    0: (WorkingRange(9 * 60, 12 * 60), WorkingRange(13 * 60, 17 * 60 + 30)),
    2: (WorkingRange(8 * 60, 24 * 60),),
    4: (WorkingRange(0, 30),),
}


def config(**changes: Any) -> SchedulingConfig:
    base = SchedulingConfig(
        id="cfg-screening",
        workspace_id=WORKSPACE,
        host_uid="uid-hana",
        name="30-minute screening",
        timezone="Europe/Berlin",
        calendar_ids=("hana.host@acme.example", "team@group.calendar.google.com"),
        duration_minutes=30,
        working_hours=HOURS,
        slot_step_minutes=15,
        created_at=NOW - timedelta(days=1),
        updated_at=NOW,
    )
    return replace(base, **changes)


class Backend:
    def __init__(self, db: Any):
        self.db = db
        if db is None:
            self.repo: Any = FakeSchedulingConfigRepository()
        else:
            from shared.adapters.scheduling import SchedulingConfigRepository

            self.repo = SchedulingConfigRepository(db)

    def document(self, config_id: str) -> dict[str, Any] | None:
        """The stored fields, as the Firestore console shows them."""
        if self.db is None:
            return self.repo.store.docs.get(config_id)
        return self.db.collection("scheduling_configs").document(config_id).get().to_dict()


@pytest.fixture(params=BACKENDS)
def backend(request) -> Backend:
    return Backend(backend_param(request))


@pytest.fixture
def repo(backend):
    return backend.repo


def test_absent_and_unstorable_ids_are_none(repo):
    assert repo.get("cfg-nope") is None
    assert repo.get("a/b") is None and repo.get("__x__") is None and repo.get("") is None


def test_round_trip_keeps_every_field(repo):
    full = config(
        buffer_before_minutes=10,
        buffer_after_minutes=5,
        minimum_notice_minutes=240,
        days_ahead=14,
        interview_type=InterviewType.CUSTOM_VIDEO,
        location="Room 4",
        phone="+49 30 1234567",
        video_url="https://video.example/hana",
        booking_mode=BookingMode.REQUEST,
        daily_cap=4,
        workdays=(0, 2),
    )
    # every field away from its default, so a field added to SchedulingConfig must be mapped to pass
    assert [f.name for f in fields(SchedulingConfig) if f.default is not MISSING and getattr(full, f.name) == f.default] == []
    repo.add(full)
    assert repo.get(full.id) == full


def test_defaults_and_unknown_times_round_trip(repo):
    bare = config(created_at=None, updated_at=None, working_hours={1: (WorkingRange(600, 660),), 3: ()})
    repo.add(bare)
    stored = repo.get(bare.id)
    assert stored == bare
    assert (stored.workdays, stored.daily_cap, stored.location, stored.booking_mode) == ((), None, None, BookingMode.DIRECT)


def test_the_document_reads_well_in_the_console(backend):
    backend.repo.add(config(daily_cap=3, workdays=(0, 4)))
    doc = backend.document("cfg-screening")
    assert doc["working_hours"] == {
        "monday": [{"start": "09:00", "end": "12:00"}, {"start": "13:00", "end": "17:30"}],
        "wednesday": [{"start": "08:00", "end": "24:00"}],
        "friday": [{"start": "00:00", "end": "00:30"}],
    }
    assert doc["workdays"] == ["monday", "friday"]
    assert (doc["interview_type"], doc["booking_mode"], doc["daily_cap"]) == ("google_meet", "direct", 3)
    assert (doc["workspace_id"], doc["host_uid"], doc["timezone"]) == (WORKSPACE, "uid-hana", "Europe/Berlin")
    assert doc["calendar_ids"] == ["hana.host@acme.example", "team@group.calendar.google.com"]
    assert doc["created_at"] == NOW - timedelta(days=1) and doc["updated_at"] == NOW  # timestamps, not strings
    assert "location" not in doc and "phone" not in doc and "video_url" not in doc  # absent, not null


def test_adding_a_taken_id_is_refused(repo):
    repo.add(config())
    with pytest.raises(AlreadyExists):
        repo.add(config(name="Another"))
    assert repo.get("cfg-screening").name == "30-minute screening"


def test_replace_writes_the_whole_configuration_and_needs_it(backend):
    repo = backend.repo
    repo.add(config(daily_cap=3, workdays=(0, 2), location="Room 4", video_url="https://video.example/x"))
    changed = config(
        name="Renamed",
        working_hours={1: (WorkingRange(600, 720),)},
        daily_cap=None,
        workdays=(),
        location=None,
        video_url=None,
        updated_at=NOW + timedelta(hours=1),
    )
    repo.replace(changed)
    assert repo.get(changed.id) == changed
    doc = backend.document(changed.id)
    assert doc["working_hours"] == {"tuesday": [{"start": "10:00", "end": "12:00"}]}  # monday and wednesday gone
    assert not {"daily_cap", "workdays", "location", "video_url"} & set(doc)
    with pytest.raises(DoesNotExist):
        repo.replace(config(id="cfg-nope"))
    assert repo.get("cfg-nope") is None


def test_delete_says_whether_there_was_one(repo):
    repo.add(config())
    assert repo.delete("cfg-screening") is True
    assert repo.get("cfg-screening") is None
    assert repo.delete("cfg-screening") is False
    assert repo.delete("cfg-never") is False and repo.delete("a/b") is False


def test_list_filters_by_workspace_and_host_oldest_first(repo):
    day = NOW - timedelta(days=10)
    configs = [
        config(id="cfg-c", created_at=day + timedelta(hours=1)),
        config(id="cfg-a", created_at=day + timedelta(hours=3)),
        config(id="cfg-b", created_at=day + timedelta(hours=1)),  # same instant as cfg-c: by id
        config(id="cfg-olga", host_uid="uid-olga", created_at=day + timedelta(hours=2)),
        config(id="cfg-old", created_at=None),  # no created_at: listed first (null orders first)
        config(id="cfg-globex", workspace_id=OTHER_WORKSPACE, created_at=day),
    ]
    for item in configs:
        repo.add(item)
    listed = repo.list(workspace_id=WORKSPACE, host_uid="uid-hana", limit=10)
    assert [c.id for c in listed] == ["cfg-old", "cfg-b", "cfg-c", "cfg-a"]
    assert listed[1] == configs[2]
    assert [c.id for c in repo.list(workspace_id=WORKSPACE, host_uid=None, limit=10)] == [
        "cfg-old",
        "cfg-b",
        "cfg-c",
        "cfg-olga",
        "cfg-a",
    ]
    assert [c.id for c in repo.list(workspace_id=WORKSPACE, host_uid=None, limit=2)] == ["cfg-old", "cfg-b"]
    assert [c.id for c in repo.list(workspace_id=OTHER_WORKSPACE, host_uid=None, limit=10)] == ["cfg-globex"]
    assert repo.list(workspace_id=OTHER_WORKSPACE, host_uid="uid-olga", limit=10) == []
