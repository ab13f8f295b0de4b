"""Cloud Function ``interviews``: hosts and admins manage interviews (SPEC §2.2).

POST /interviews                     create (direct: confirmed at once; booking=request: pending)
GET  /interviews                     list (status, when=upcoming|past, from, to, host_uid, page_size, page_token)
GET  /interviews/{id}                one interview
POST /interviews/{id}/confirm        pending → confirmed (Calendar event, Meet link, invitations)
POST /interviews/{id}/reschedule     new time: same event and Meet link, SEQUENCE + 1, update emails
POST /interviews/{id}/cancel         cancelled: event cancelled, METHOD:CANCEL emails
POST /interviews/{id}/complete       confirmed → completed
POST /interviews/{id}/no-show        confirmed → no_show
GET  /analytics                      totals by status, no-show rate, average duration (from, to, host_uid)
Changes accept an ``Idempotency-Key`` header: a retry returns the first answer; while the
first request still runs, 409 ``idempotency_in_progress`` with ``Retry-After``.
"""

import functions_framework

# Every request reads Firestore: load its client library before gunicorn forks.
import shared.adapters.firestore  # noqa: F401
from shared.adapters.idempotency import request_fingerprint, validate_key
from shared.auth.callers import authenticate_user
from shared.bootstrap import container
from shared.domain.models import InterviewStatus
from shared.http import ID_PATTERN, Request, Router
from shared.services.interviews.requests import parse_analytics_query, parse_list_query

container()  # read the configuration now: a bad value stops the instance at start-up


def _host_or_admin(request: Request):
    return authenticate_user(request.bearer_token(), id_tokens=container().id_tokens)


# Every route authenticates (a Firebase ID token) before anything reads the body; a handler parses
# the query string (shared.services.interviews.requests) before its use case runs.
router = Router("interviews", container, auth=_host_or_admin)
ONE = rf"/interviews/(?P<interview_id>{ID_PATTERN})"


def _change(request: Request):
    """(body, Idempotency-Key, fingerprint) of a change request."""
    body = request.json()
    return body, validate_key(request.headers.get("Idempotency-Key")), request_fingerprint(request.method, request.path, body)


@router.route("POST", "/interviews")
def create(request: Request):
    body, key, fingerprint = _change(request)
    return container().interview_service.create(request.caller, body, key, fingerprint)


@router.route("GET", "/interviews")
def list_interviews(request: Request):
    return container().interview_service.list(request.caller, parse_list_query(request.query))


@router.route("GET", ONE)
def get(request: Request):
    return container().interview_service.get(request.caller, request.params["interview_id"])


@router.route("POST", ONE + "/confirm")
def confirm(request: Request):
    _, key, fingerprint = _change(request)
    return container().interview_service.confirm(request.caller, request.params["interview_id"], key, fingerprint)


@router.route("POST", ONE + "/reschedule")
def reschedule(request: Request):
    body, key, fingerprint = _change(request)
    return container().interview_service.reschedule(request.caller, request.params["interview_id"], body, key, fingerprint)


@router.route("POST", ONE + "/cancel")
def cancel(request: Request):
    body, key, fingerprint = _change(request)
    return container().interview_service.cancel(request.caller, request.params["interview_id"], body, key, fingerprint)


@router.route("POST", ONE + "/complete")
def complete(request: Request):
    return container().interview_service.mark(request.caller, request.params["interview_id"], InterviewStatus.COMPLETED)


@router.route("POST", ONE + "/no-show")
def no_show(request: Request):
    return container().interview_service.mark(request.caller, request.params["interview_id"], InterviewStatus.NO_SHOW)


@router.route("GET", "/analytics")
def analytics(request: Request):
    return container().analytics.report(request.caller, parse_analytics_query(request.query))


@functions_framework.http
def interviews(request):
    return router.handle(request)
