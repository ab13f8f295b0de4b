"""The join function in-process, on the real emulator and sandbox, with a controlled clock.

Every answer is checked against docs/openapi.yaml by the client.
"""

from __future__ import annotations

import logging
import time
from datetime import timedelta

import pytest
from google.auth import crypt, jwt

from devstack.firestore_ops import count_operations
from shared.adapters.firestore import InterviewRepository
from shared.domain.models import InterviewStatus, InterviewType, Participant, Person
from tests import factories
from tests.factories import GUEST, HOST, NOW, OTHER_WORKSPACE, WORKSPACE

pytestmark = pytest.mark.usefixtures("container")


@pytest.fixture
def repo(db):
    return InterviewRepository(db)


@pytest.fixture
def seed(repo):
    def _seed(**changes):
        interview = factories.interview(**changes)
        repo.add(interview)
        return interview

    return _seed


@pytest.fixture
def host_token(sandbox):
    return sandbox.mint_id_token(HOST.uid, HOST.email, name=HOST.name, claims={"workspace_id": WORKSPACE, "role": "host"})


@pytest.fixture
def guest_link(container):
    def _link(interview, **overrides):
        args = {
            "interview_id": interview.id,
            "workspace_id": interview.workspace_id,
            "expires_at": interview.end + timedelta(hours=24),
        } | overrides
        return container.guest_links.sign(**args)

    return _link


def snapshot_times(db, interview_id):
    snap = db.collection("interviews").document(interview_id).get()
    return snap.update_time


# --- who may see what ----------------------------------------------------------------


def test_host_sees_ready_interview_with_meet_link(join_api, seed, host_token, clock, db):
    interview = seed(start=NOW + timedelta(minutes=10))
    counts = count_operations(db)
    reply = join_api.get(f"/interviews/{interview.id}", token=host_token)
    assert reply.status == 200, reply.json
    body = reply.json
    assert body["interview_id"] == interview.id
    assert (body["meeting_status"], body["can_join"], body["participant"]) == ("ready", True, "host")
    assert body["meet_link"] == interview.meet_link
    assert body["candidate_name"] == GUEST.name and body["recruiter_name"] == HOST.name
    assert body["time_until_meeting"] == 10
    assert body["scheduled_time"] == "2026-06-01T14:10:00+02:00"  # Berlin summer time
    assert body["start"] == "2026-06-01T12:10:00Z"
    assert (counts.reads, counts.writes) == (1, 0)


def test_guest_with_signed_link(join_api, seed, guest_link):
    interview = seed(start=NOW + timedelta(minutes=14))
    reply = join_api.get(f"/interviews/{interview.id}", token=guest_link(interview))
    assert reply.status == 200
    assert (reply.json["participant"], reply.json["can_join"]) == ("guest", True)


def test_guest_with_verified_id_token_matched_by_email(join_api, seed, sandbox):
    interview = seed(guest=Person(email="Gus.Guest@Candidates.example", name="Gus"))
    token = sandbox.mint_id_token("uid-gus", "gus.guest@candidates.example", name="Gus")
    reply = join_api.get(f"/interviews/{interview.id}", token=token)
    assert (reply.status, reply.json["participant"]) == (200, "guest")


def test_unverified_email_does_not_make_a_guest(join_api, seed, sandbox):
    interview = seed()
    token = sandbox.mint_id_token("uid-gus", GUEST.email, name="Gus", email_verified=False)
    reply = join_api.get(f"/interviews/{interview.id}", token=token)
    assert reply.status == 404


@pytest.mark.parametrize(
    ("offset", "status", "can_join"),
    [
        (timedelta(minutes=-16), "upcoming", False),
        (timedelta(minutes=-15), "ready", True),
        (timedelta(minutes=0), "in_progress", True),
        (timedelta(minutes=45 + 60) - timedelta(seconds=1), "in_progress", True),
        (timedelta(minutes=45 + 60), "ended", False),
    ],
)
def test_meeting_status_follows_the_clock(join_api, seed, host_token, clock, offset, status, can_join):
    interview = seed(start=NOW + timedelta(hours=2))
    clock.set(interview.start + offset)
    body = join_api.get(f"/interviews/{interview.id}", token=host_token).json
    assert (body["meeting_status"], body["can_join"]) == (status, can_join)
    assert (body["meet_link"] is not None) is can_join


def test_cancelled_interview(join_api, seed, host_token):
    interview = seed(status=InterviewStatus.CANCELLED, start=NOW + timedelta(minutes=5))
    body = join_api.get(f"/interviews/{interview.id}", token=host_token).json
    assert (body["meeting_status"], body["can_join"], body["meet_link"]) == ("cancelled", False, None)


def test_phone_interview_has_no_link_but_its_number(join_api, seed, host_token):
    interview = seed(type=InterviewType.PHONE, meet_link=None, phone="+49 30 1234567", start=NOW + timedelta(minutes=5))
    body = join_api.get(f"/interviews/{interview.id}", token=host_token).json
    assert (body["can_join"], body["meet_link"], body["phone"]) == (True, None, "+49 30 1234567")


# --- recording joins -------------------------------------------------------------------


def test_join_is_recorded_with_one_read_and_one_write(join_api, seed, guest_link, host_token, db, repo):
    interview = seed(start=NOW + timedelta(minutes=5))
    counts = count_operations(db)
    reply = join_api.post(f"/interviews/{interview.id}/join", token=guest_link(interview))
    assert reply.status == 200, reply.json
    assert reply.json["joined_at"] == "2026-06-01T12:00:00Z"
    assert reply.json["portal_join_count"] == 1
    assert (counts.reads, counts.writes) == (1, 1)

    join_api.post(f"/interviews/{interview.id}/join", token=host_token)
    join_api.post(f"/interviews/{interview.id}/join", token=guest_link(interview))
    stored = repo.get(interview.id)
    assert stored.portal_join_count == 3
    assert stored.attendance[Participant.GUEST].join_count == 2
    doc = db.collection("interviews").document(interview.id).get().to_dict()
    assert doc["portal_join_count"] == 3
    assert doc["attendance"]["guest"]["join_count"] == 2
    assert doc["attendance"]["host"]["join_count"] == 1
    assert doc["attendance"]["guest"]["first_joined_at"] == doc["attendance"]["guest"]["last_joined_at"]


@pytest.mark.parametrize(
    ("changes", "meeting_status"),
    [
        ({"start": NOW + timedelta(hours=3)}, "upcoming"),
        ({"start": NOW - timedelta(hours=3)}, "ended"),
        ({"start": NOW + timedelta(minutes=5), "status": InterviewStatus.CANCELLED}, "cancelled"),
        ({"start": NOW + timedelta(minutes=5), "status": InterviewStatus.PENDING}, "ready"),
    ],
)
def test_join_outside_the_window_is_refused_and_writes_nothing(join_api, seed, host_token, db, changes, meeting_status):
    interview = seed(**changes)
    before = snapshot_times(db, interview.id)
    reply = join_api.post(f"/interviews/{interview.id}/join", token=host_token)
    assert reply.status == 409
    assert reply.json["error"]["code"] == "join_not_open"
    assert reply.json["error"]["details"]["meeting_status"] == meeting_status
    assert snapshot_times(db, interview.id) == before


# --- rejected callers: 401 and 404, nothing written ---------------------------------


def _foreign_signed_token(sandbox, **claims):
    """A token shaped exactly like the sandbox's, with its key id, signed by another key."""
    import requests
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    kid = next(
        iter(requests.get(sandbox.url + "/robot/v1/metadata/x509/securetoken@system.gserviceaccount.com", timeout=5).json())
    )
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    signer = crypt.RSASigner.from_string(pem, key_id=kid)
    now = int(NOW.timestamp())
    payload = {
        "iss": f"https://securetoken.google.com/{sandbox.project}",
        "aud": sandbox.project,
        "sub": HOST.uid,
        "iat": now,
        "exp": now + 3600,
        "auth_time": now,
        "email": HOST.email,
        "email_verified": True,
    } | claims
    return jwt.encode(signer, payload).decode()


@pytest.mark.parametrize(
    ("make_token", "code"),
    [
        (lambda s: None, "missing_credentials"),
        (lambda s: "", "missing_credentials"),
        (lambda s: "not-a-jwt", "invalid_token"),
        (lambda s: "a.b.c", "invalid_token"),
        (lambda s: s.mint_id_token(HOST.uid, HOST.email, issued_at=int(time.time()) - 7200), "token_expired"),
        (lambda s: s.mint_id_token(HOST.uid, HOST.email, audience="another-project"), "invalid_token"),
        (
            lambda s: s.mint_id_token(HOST.uid, HOST.email, issuer="https://securetoken.google.com/another-project"),
            "invalid_token",
        ),
        (lambda s: s.mint_oidc_token("svc@p.iam.gserviceaccount.com", audience=s.project), "invalid_token"),
        (lambda s: _foreign_signed_token(s), "invalid_token"),
    ],
    ids=[
        "no-header",
        "empty",
        "garbage",
        "three-parts",
        "expired",
        "wrong-audience",
        "wrong-issuer",
        "oidc-not-firebase",
        "wrong-signature",
    ],
)
def test_bad_tokens_get_401_and_write_nothing(join_api, seed, sandbox, db, make_token, code):
    interview = seed(start=NOW + timedelta(minutes=5))
    before = snapshot_times(db, interview.id)
    for method, path in (("GET", f"/interviews/{interview.id}"), ("POST", f"/interviews/{interview.id}/join")):
        token = make_token(sandbox)
        headers = {} if token is None else {"Authorization": f"Bearer {token}"}
        reply = join_api.call(method, path, headers=headers)
        assert reply.status == 401, (method, reply.json)
        assert reply.json["error"]["code"] == code
        assert token is None or token == "" or token not in str(reply.json)
    assert snapshot_times(db, interview.id) == before


def test_tampered_and_expired_guest_links_get_401(join_api, seed, guest_link, db, clock):
    interview = seed(start=NOW + timedelta(minutes=5))
    good = guest_link(interview)
    tampered = good[:-3] + ("AAA" if not good.endswith("AAA") else "BBB")
    expired = guest_link(interview, expires_at=NOW)
    before = snapshot_times(db, interview.id)
    for token, code in ((tampered, "invalid_guest_link"), (expired, "guest_link_expired")):
        reply = join_api.post(f"/interviews/{interview.id}/join", token=token)
        assert (reply.status, reply.json["error"]["code"]) == (401, code)
    assert snapshot_times(db, interview.id) == before


def test_unknown_and_foreign_interviews_are_the_same_404(join_api, seed, sandbox, host_token, guest_link, db):
    mine = seed(start=NOW + timedelta(minutes=5))
    theirs = seed(
        workspace_id=OTHER_WORKSPACE,
        host=Person("olga@globex.example", "Olga", "uid-olga"),
        guest=Person("zed@candidates.example", "Zed"),
        start=NOW + timedelta(minutes=5),
    )
    before = snapshot_times(db, theirs.id)
    replies = [
        join_api.get("/interviews/iv-does-not-exist", token=host_token),
        join_api.get(f"/interviews/{theirs.id}", token=host_token),  # host of another workspace
        join_api.post(f"/interviews/{theirs.id}/join", token=host_token),
        join_api.get(f"/interviews/{theirs.id}", token=guest_link(mine)),  # my guest link, their interview
        join_api.post(f"/interviews/{theirs.id}/join", token=guest_link(mine)),
        join_api.get(f"/interviews/{theirs.id}", token=sandbox.mint_id_token("uid-gus", GUEST.email)),  # another guest
    ]
    assert [r.status for r in replies] == [404] * 6
    assert len({str(r.json) for r in replies}) == 1, "a foreign interview must look exactly like a missing one"
    assert snapshot_times(db, theirs.id) == before


def test_guest_link_for_a_copied_interview_id_in_another_workspace(join_api, seed, container, db):
    """A link signed for workspace A does not open an interview of workspace B with the same id."""
    interview = seed(workspace_id=OTHER_WORKSPACE)
    forged_scope = container.guest_links.sign(
        interview_id=interview.id, workspace_id=WORKSPACE, expires_at=NOW + timedelta(days=1)
    )
    assert join_api.get(f"/interviews/{interview.id}", token=forged_scope).status == 404


# --- HTTP conventions -------------------------------------------------------------------


def test_cors_preflight_and_allowed_origin(join_api, seed, host_token):
    interview = seed()
    assert join_api.call("OPTIONS", f"/interviews/{interview.id}", headers={"Origin": "http://localhost:5173"}).status == 204
    preflight = join_api.call("OPTIONS", f"/interviews/{interview.id}/join", headers={"Origin": "http://localhost:5173"})
    assert preflight.status == 204
    assert preflight.headers["Access-Control-Allow-Origin"] == "http://localhost:5173"
    assert "POST" in preflight.headers["Access-Control-Allow-Methods"]
    assert "Authorization" in preflight.headers["Access-Control-Allow-Headers"]
    allowed = join_api.get(f"/interviews/{interview.id}", token=host_token, headers={"Origin": "http://localhost:5173"})
    assert allowed.headers["Access-Control-Allow-Origin"] == "http://localhost:5173"
    denied = join_api.get(f"/interviews/{interview.id}", token=host_token, headers={"Origin": "https://evil.example"})
    assert "Access-Control-Allow-Origin" not in denied.headers


def test_unknown_path_and_wrong_method(join_api, host_token):
    assert join_api.get("/nothing-here", token=host_token).json["error"]["code"] == "no_such_endpoint"
    reply = join_api.call("DELETE", "/interviews/iv1", token=host_token)
    assert (reply.status, reply.json["error"]["code"]) == (405, "method_not_allowed")
    assert join_api.get("/interviews/bad%2Fid", token=host_token).status == 404


@pytest.mark.parametrize("interview_id", ["__x__", "____", "__iv-1__", "__a__b__", "__x__%2Fjoin", "x" * 129])
def test_ids_outside_the_id_pattern_are_404_and_never_reach_firestore(join_api, host_token, caplog, interview_id):
    """Firestore reserves ids of the form __x__ (an InvalidArgument, answered 500 with a traceback)."""
    for method, path in (
        ("GET", f"/interviews/{interview_id}"),
        ("POST", f"/interviews/{interview_id}/join"),
        ("GET", f"/portal/{interview_id}"),
        ("OPTIONS", f"/interviews/{interview_id}"),
        ("OPTIONS", f"/interviews/{interview_id}/join"),
    ):
        reply = join_api.call(method, path, token=host_token)
        assert (reply.status, reply.json["error"]["code"]) == (404, "no_such_endpoint"), (method, path, reply.json)
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


@pytest.mark.parametrize("interview_id", ["___", "__x", "x__", "_-_", "-", "x" * 128])
def test_ids_near_the_reserved_form_are_ordinary_unknown_ids(join_api, host_token, interview_id):
    reply = join_api.get(f"/interviews/{interview_id}", token=host_token)
    assert (reply.status, reply.json["error"]["code"]) == (404, "interview_not_found")


@pytest.mark.parametrize("method", ["GET", "POST"])
def test_firestore_outage_is_a_503(join_api, seed, host_token, container, monkeypatch, method):
    from google.api_core import exceptions

    def unavailable(*args, **kwargs):
        raise exceptions.ServiceUnavailable("backend down: secret-ish detail")

    monkeypatch.setattr(container.interviews, "get", unavailable)
    reply = join_api.call(method, "/interviews/iv-any" + ("/join" if method == "POST" else ""), token=host_token)
    assert (reply.status, reply.json["error"]["code"]) == (503, "unavailable")
    assert reply.headers["Retry-After"] == "5"
    assert "secret-ish" not in str(reply.json)


@pytest.mark.parametrize("method", ["GET", "POST"])
def test_an_unexpected_fault_is_a_generic_500(join_api, host_token, container, monkeypatch, caplog, method):
    def broken(*args, **kwargs):
        raise RuntimeError("internal detail /srv/app.py line 12")

    monkeypatch.setattr(container.interviews, "get", broken)
    reply = join_api.call(method, "/interviews/iv-any" + ("/join" if method == "POST" else ""), token=host_token)
    assert (reply.status, reply.json["error"]["code"]) == (500, "internal")
    assert "internal detail" not in str(reply.json)
    assert "internal detail" in caplog.text  # the traceback goes to the log, for Error Reporting


def test_a_host_token_of_another_workspace_is_a_stranger(join_api, seed, sandbox):
    interview = seed()
    moved = sandbox.mint_id_token(HOST.uid, HOST.email, claims={"workspace_id": OTHER_WORKSPACE})
    assert join_api.get(f"/interviews/{interview.id}", token=moved).status == 404
    assert join_api.post(f"/interviews/{interview.id}/join", token=moved).status == 404


def test_a_guest_sees_its_own_interview_in_any_workspace(join_api, seed, sandbox):
    interview = seed(workspace_id=OTHER_WORKSPACE, host=Person("olga@globex.example", "Olga", "uid-olga"))
    token = sandbox.mint_id_token("uid-gus", GUEST.email, claims={"workspace_id": WORKSPACE})
    reply = join_api.get(f"/interviews/{interview.id}", token=token)
    assert (reply.status, reply.json["participant"]) == (200, "guest")


def test_unicode_case_folding_does_not_match_another_address(join_api, seed, sandbox):
    interview = seed(guest=Person(email="gus@fass.example", name="Gus"))
    token = sandbox.mint_id_token("uid-x", "gus@faß.example")
    assert join_api.get(f"/interviews/{interview.id}", token=token).status == 404
    token = sandbox.mint_id_token("uid-y", "GUS@FASS.example")
    assert join_api.get(f"/interviews/{interview.id}", token=token).status == 200
