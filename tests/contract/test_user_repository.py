"""UserRepository and WorkspaceRepository: not found, put and read back."""

from __future__ import annotations

import pytest

from shared.domain.models import Role, User, Workspace
from tests.contract.conftest import BACKENDS, backend_param
from tests.factories import NOW, WORKSPACE
from tests.fakes import FakeUserRepository, FakeWorkspaceRepository


@pytest.fixture(params=BACKENDS)
def repos(request):
    db = backend_param(request)
    if db is None:
        return FakeUserRepository(), FakeWorkspaceRepository()
    from shared.adapters.firestore import UserRepository, WorkspaceRepository

    return UserRepository(db), WorkspaceRepository(db)


def test_users_absent_unstorable_and_read_back(repos):
    users, _ = repos
    assert users.get("uid-nope") is None and users.get("a/b") is None
    user = User("uid-a", WORKSPACE, Role.ADMIN, "a@acme.example", "Ada")
    users.put(user)
    assert users.get("uid-a") == user
    users.put(User("uid-a", WORKSPACE, Role.HOST, "a@acme.example", "Ada"))
    assert users.get("uid-a").role is Role.HOST  # a put replaces


def test_workspaces_absent_and_read_back(repos):
    _, workspaces = repos
    assert workspaces.get("ws-nope") is None and workspaces.get("__x__") is None
    workspace = Workspace(WORKSPACE, "Acme", guest_can_cancel=True, created_at=NOW, reminder_offsets_minutes=(1440, 60))
    workspaces.put(workspace)
    assert workspaces.get(WORKSPACE) == workspace
