"""Service tests: the services on the in-memory fakes of their ports (tests/fakes.py), no
emulator, no sandbox: each test runs in milliseconds. tests/contract/ proves the fakes
behave as the Firestore adapters do."""

import pytest

from shared import logs


@pytest.fixture(autouse=True)
def _own_log_context():
    """Services bind ids to the log context (``logs.bind``) as a request would; in a test the
    context is the test's thread's, so each test gets its own and leaves none behind."""
    with logs.bound():
        yield
