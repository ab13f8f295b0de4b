"""Cloud Function ``join``: the participant's join check (SPEC §2.3).

GET  /interviews/{id}       what the participant sees (read-only)
POST /interviews/{id}/join  record the join and get the meeting link
GET  /portal/{id}           the "join via portal" page of emailed links (HTML, no auth)
Auth: a Firebase ID token (host or guest) or a signed guest link token, as a bearer token.
"""

from datetime import datetime
from typing import NamedTuple

import flask
import functions_framework

# Every request reads Firestore: import its client library with the module, which
# functions-framework loads before gunicorn forks its worker (the client itself is still
# created on first use, since a gRPC channel must not cross a fork).
import shared.adapters.firestore  # noqa: F401
from shared.auth.callers import authenticate_participant
from shared.auth.principal import Principal
from shared.bootstrap import container
from shared.http import ID_PATTERN, PUBLIC, Request, Router
from shared.services import join as join_service


class Participant(NamedTuple):
    principal: Principal
    now: datetime  # one instant per request: authentication and the window agree


def _participant(request: Request) -> Participant:
    c = container()
    now = c.clock.now()
    return Participant(
        authenticate_participant(request.bearer_token(), id_tokens=c.id_tokens, guest_links=c.guest_links, now=now), now
    )


container()  # read the configuration now: a bad value stops the instance at start-up, not on a request
router = Router("join", container, auth=_participant)
INTERVIEW = rf"/interviews/(?P<interview_id>{ID_PATTERN})"


def _run(use_case, request: Request) -> dict:
    c, caller = container(), request.caller
    view = use_case(
        c.interviews, caller.principal, request.params["interview_id"], now=caller.now, default_window=c.default_join_window
    )
    return join_service.to_response(view)


@router.route("GET", INTERVIEW)
def get_join_status(request: Request) -> dict:
    return _run(join_service.check, request)


@router.route("POST", INTERVIEW + "/join")
def record_join(request: Request) -> dict:
    return _run(join_service.join, request)


@router.route("GET", rf"/portal/(?P<interview_id>{ID_PATTERN})", auth=PUBLIC)
def portal_page(request: Request) -> flask.Response:
    """The same static page for every interview: no auth, no read, nothing about the
    interview in it. Its script takes the guest link token from the URL fragment (never
    sent to a server) and calls the two routes above with it."""
    from shared.pages import page_response

    return page_response(
        "portal.html",
        extra_csp=("media-src 'self' blob: mediastream:",),  # the camera and microphone check
        extra_headers={
            "Permissions-Policy": "camera=(self), microphone=(self), geolocation=()",
            "Cross-Origin-Opener-Policy": "same-origin-allow-popups",
        },
    )


@functions_framework.http
def join(request):
    return router.handle(request)
