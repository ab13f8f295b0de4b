"""Contract tests: each port's module runs one set of assertions against its in-memory fake
(tests/fakes.py) and its Firestore adapter on the emulator (the session's ``db``)."""

from __future__ import annotations

import pytest

BACKENDS = ["fake", "firestore"]


def backend_param(request: pytest.FixtureRequest) -> object | None:
    """The emulator client for the firestore backend, None for the fake."""
    return request.getfixturevalue("db") if request.param == "firestore" else None
