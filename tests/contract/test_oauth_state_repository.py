"""OAuthStateRepository: a connect attempt is created once, bound to one browser, used once."""

from __future__ import annotations

from datetime import timedelta

import pytest

from shared.domain.connections import GOOGLE, OAuthState, SealedSecret
from shared.ports import AlreadyExists
from tests.contract.conftest import BACKENDS, backend_param
from tests.factories import NOW, WORKSPACE
from tests.fakes import FakeOAuthStateRepository


@pytest.fixture(params=BACKENDS)
def repo(request):
    db = backend_param(request)
    if db is None:
        return FakeOAuthStateRepository()
    from shared.adapters.connections import OAuthStateRepository

    return OAuthStateRepository(db)


def state(state_hash="h1", expires_in=timedelta(minutes=10)):
    return OAuthState(state_hash, "uid-a", WORKSPACE, GOOGLE, None, SealedSecret("dmVy", "1"), None, NOW, NOW + expires_in)


def test_created_once_read_back_consumed_once(repo):
    assert repo.get("h1") is None and repo.consume("h1") is None
    repo.add(state())
    with pytest.raises(AlreadyExists):
        repo.add(state())
    assert repo.get("h1") == state()
    assert repo.consume("h1") == state()
    assert repo.consume("h1") is None and repo.get("h1") is None


def test_bound_to_the_first_browser_only_and_never_when_expired(repo):
    repo.add(state())
    repo.add(state("h2", expires_in=timedelta(0)))
    assert repo.bind_browser("h1", "b1", NOW) == state()
    assert repo.bind_browser("h1", "b2", NOW) is None
    assert repo.get("h1").browser_binding == "b1"
    assert repo.bind_browser("h2", "b1", NOW) is None
    assert repo.bind_browser("nope", "b1", NOW) is None
