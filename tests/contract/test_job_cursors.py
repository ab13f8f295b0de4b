"""JobCursors: where a maintenance job stopped."""

from __future__ import annotations

import pytest

from tests.contract.conftest import BACKENDS, backend_param
from tests.fakes import FakeJobCursors


@pytest.fixture(params=BACKENDS)
def cursors(request):
    db = backend_param(request)
    if db is None:
        return FakeJobCursors()
    from shared.adapters.maintenance_queries import FirestoreJobCursors

    return FirestoreJobCursors(db)


def test_none_until_set_then_the_last_value(cursors):
    assert cursors.get("connections") is None
    cursors.set("connections", "uid-b_google")
    assert cursors.get("connections") == "uid-b_google"
    cursors.set("connections", None)
    assert cursors.get("connections") is None
    assert cursors.get("calendars") is None
