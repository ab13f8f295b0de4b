"""One access policy (shared/services/access.py), the same rule through every function.

The workspace claim: an ID token naming a workspace acts in that workspace only. A host whose
token names another workspace than its users/{uid} document is refused by the interviews
function AND by the oauth function; before the policy, the oauth function ignored the claim
and let such a token connect Google.
"""

from __future__ import annotations

from datetime import timedelta

import pytest

from shared.adapters.firestore import UserRepository
from shared.domain.models import Role, User
from tests.factories import HOST, NOW, OTHER_WORKSPACE, WORKSPACE, interview

pytestmark = pytest.mark.usefixtures("container")

HOST_USER = User(HOST.uid, WORKSPACE, Role.HOST, HOST.email, HOST.name)  # type: ignore[arg-type]
GUEST_USER = User("uid-gwen", WORKSPACE, Role.GUEST, "gwen@candidates.example", "Gwen Guest")


@pytest.fixture
def hana(db, container):
    """The host, one of its interviews, and a token per workspace claim: its own, another, none."""
    UserRepository(db).put(HOST_USER)
    UserRepository(db).put(GUEST_USER)
    mine = interview(start=NOW + timedelta(days=1))
    container.interviews.add(mine)
    return mine


def token(sandbox, user: User, workspace: str | None) -> str:
    claims = {"workspace_id": workspace} if workspace is not None else {}
    return sandbox.mint_id_token(user.uid, user.email, name=user.display_name, claims=claims)


def code(reply) -> tuple[int, str | None]:
    return reply.status, (reply.json or {}).get("error", {}).get("code")


# --- the claim agrees (or is absent): the same host is served by both functions ------------------


@pytest.mark.parametrize("workspace", [WORKSPACE, None], ids=["own-claim", "no-claim"])
def test_a_member_is_served_by_both_functions(interviews_api, oauth_api, sandbox, hana, db, workspace):
    host = token(sandbox, HOST_USER, workspace)
    assert interviews_api.get(f"/interviews/{hana.id}", token=host).status == 200
    assert [i["id"] for i in interviews_api.get("/interviews", token=host).json["interviews"]] == [hana.id]
    assert interviews_api.get("/analytics", token=host).status == 200
    assert oauth_api.post("/connect", token=host).status == 200
    assert len(list(db.collection("oauth_states").stream())) == 1


# --- the claim disagrees with the user document: 403 not_a_member everywhere ---------------------


def test_a_token_for_another_workspace_is_refused_by_the_interviews_function(interviews_api, sandbox, hana, db):
    foreign = token(sandbox, HOST_USER, OTHER_WORKSPACE)
    replies = [
        interviews_api.get("/interviews", token=foreign),
        interviews_api.get(f"/interviews/{hana.id}", token=foreign),
        interviews_api.get("/analytics", token=foreign),
        interviews_api.post("/interviews", token=foreign, json={}),
    ]
    assert [code(r) for r in replies] == [(403, "not_a_member")] * 4
    assert [d.id for d in db.collection("interviews").stream()] == [hana.id]  # nothing created


def test_a_token_for_another_workspace_cannot_connect_google(oauth_api, sandbox, hana, db):
    """The case that disagreed before: the oauth function now applies the same claim rule."""
    foreign = token(sandbox, HOST_USER, OTHER_WORKSPACE)
    assert code(oauth_api.post("/connect", token=foreign)) == (403, "not_a_member")
    assert code(oauth_api.post("/calendars/sync", token=foreign)) == (403, "not_a_member")
    assert list(db.collection("oauth_states").stream()) == []  # no connect attempt was made


def test_a_users_own_connection_stays_readable_and_withdrawable(oauth_api, sandbox, hana):
    """A connection belongs to its user: status and disconnect answer whatever the claim says."""
    foreign = token(sandbox, HOST_USER, OTHER_WORKSPACE)
    assert oauth_api.get("/status", token=foreign).json["status"] == "not_connected"
    assert oauth_api.post("/disconnect", token=foreign).json["connected"] is False


# --- roles: a guest (or nobody) is no member; hosts see only their own ------------------------------


@pytest.mark.parametrize("who", ["guest", "nobody"])
def test_a_user_who_is_no_host_or_admin_is_refused_by_both_functions(interviews_api, oauth_api, sandbox, hana, who):
    user = GUEST_USER if who == "guest" else User("uid-nobody", WORKSPACE, Role.HOST, "nobody@acme.example")
    caller = token(sandbox, user, WORKSPACE)
    assert code(interviews_api.get("/interviews", token=caller)) == (403, "not_a_member")
    assert code(oauth_api.post("/connect", token=caller)) == (403, "not_a_member")


def test_another_host_sees_the_interview_as_missing(interviews_api, sandbox, hana, db):
    hugo = User("uid-hugo", WORKSPACE, Role.HOST, "hugo@acme.example", "Hugo Host")
    UserRepository(db).put(hugo)
    other = token(sandbox, hugo, WORKSPACE)
    assert code(interviews_api.get(f"/interviews/{hana.id}", token=other)) == (404, "interview_not_found")
    assert code(interviews_api.post(f"/interviews/{hana.id}/cancel", token=other, json={})) == (404, "interview_not_found")
    assert interviews_api.get("/interviews", token=other).json["interviews"] == []


def test_the_host_joins_only_with_a_token_for_the_interviews_workspace(join_api, sandbox, hana):
    """join reads no user document: the claim is compared with the interview's workspace."""
    assert join_api.get(f"/interviews/{hana.id}", token=token(sandbox, HOST_USER, WORKSPACE)).json["participant"] == "host"
    assert code(join_api.get(f"/interviews/{hana.id}", token=token(sandbox, HOST_USER, OTHER_WORKSPACE))) == (
        404,
        "interview_not_found",
    )
