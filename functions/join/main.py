"""Cloud Function ``join``: the participant's join check (SPEC §2.3).

GET  /interviews/{id}       what the participant sees (read-only)
POST /interviews/{id}/join  record the join and get the meeting link
Auth: a Firebase ID token (host or guest) or a signed guest link token, as a bearer token.
"""

import functions_framework

# Every request reads Firestore: import its client library with the module, which
# functions-framework loads before gunicorn forks its worker (the client itself is still
# created on first use, since a gRPC channel must not cross a fork).
import shared.adapters.firestore  # noqa: F401
from shared.auth.callers import authenticate_participant
from shared.bootstrap import container
from shared.http import Request, Router
from shared.services import join as join_service

container()  # read the configuration now: a bad value stops the instance at start-up, not on a request
router = Router("join", container)
INTERVIEW = r"/interviews/(?P<interview_id>[A-Za-z0-9_-]{1,128})"


def _run(use_case, request: Request) -> dict:
    c = container()
    now = c.clock.now()  # one instant per request: authentication and the window agree
    principal = authenticate_participant(request.bearer_token(), id_tokens=c.id_tokens, guest_links=c.guest_links, now=now)
    view = use_case(c.interviews, principal, request.params["interview_id"], now=now, default_window=c.default_join_window)
    return join_service.to_response(view)


@router.route("GET", INTERVIEW)
def get_join_status(request: Request) -> dict:
    return _run(join_service.check, request)


@router.route("POST", INTERVIEW + "/join")
def record_join(request: Request) -> dict:
    return _run(join_service.join, request)


@functions_framework.http
def join(request):
    return router.handle(request)
