"""Cloud Function ``scheduling``: availability, booking links and guest self-service (SPEC §2.6).

Hosts and admins (Firebase ID token):
GET    /scheduling-configs                      list (admins: ``host_uid`` or every host)
POST   /scheduling-configs                      create (admins: ``host_uid`` for another host)
GET    /scheduling-configs/{id}                 one
PATCH  /scheduling-configs/{id}                 change some fields (validated as a whole)
DELETE /scheduling-configs/{id}                 delete (its links answer 410)
GET    /availability                            free slots + busy times (config_id, date | from/to, timezone)
POST   /scheduling-configs/{id}/booking-links   a shareable link (expires_at, single_use, label)
GET    /booking-links                           list (config_id, host_uid)
POST   /booking-links/{link}/revoke             revoke
Anyone with a booking link (no account):
GET    /book/{link}                             the booking page (HTML)
GET    /links/{link}                            host name, configuration summary, free slots
POST   /links/{link}/bookings                   book a slot (Idempotency-Key honoured)
The guest, with its emailed manage link (``Authorization: Bearer <manage token>``):
GET    /manage                                  the manage page (HTML; the token travels in the URL fragment)
GET    /guest/booking                           the booking;  GET /guest/booking/slots  free slots to move to
POST   /guest/booking/cancel                    cancel (reason);  POST /guest/booking/reschedule  move (start)
The host, with its emailed confirm / decline link (``Authorization: Bearer <token>``):
GET    /respond                                 the page (HTML);  GET /respond/request  what it answers
POST   /respond/confirm                         confirm the pending request;  POST /respond/decline  decline it
"""

# Every request reads Firestore, and the most frequent ones (a booking link's slots, the host's
# availability) ask Google for free/busy with the host's stored credentials: load those client
# libraries (token decryption, token refresh, the free/busy call) before gunicorn forks.
import cryptography.hazmat.primitives.ciphers.aead  # noqa: F401
import functions_framework
import google.auth.transport.requests
import google.oauth2.credentials  # noqa: F401
import google_auth_httplib2  # noqa: F401
import googleapiclient.discovery
import googleapiclient.http  # noqa: F401
import httplib2  # noqa: F401

import shared.adapters.firestore
import shared.google.calendar
import shared.google.credentials  # noqa: F401
from shared.auth.callers import authenticate_user
from shared.auth.guest_links import CONFIRM, DECLINE, MANAGE
from shared.auth.principal import Principal
from shared.bootstrap import container
from shared.errors import Unauthenticated
from shared.http import ID_PATTERN, PUBLIC, Request, Router
from shared.pages import page_response
from shared.services.scheduling.requests import parse_window

container()  # read the configuration now: a bad value stops the instance at start-up


def _host_or_admin(request: Request):
    return authenticate_user(request.bearer_token(), id_tokens=container().id_tokens)


def _signed_link(purpose: str):
    """The route's authenticator: a signed link of exactly this purpose (before any body is read)."""

    def verify(request: Request) -> Principal:
        c = container()
        return c.guest_links.verify(_bearer(request), now=c.clock.now(), purpose=purpose)

    return verify


def _respond_link(request: Request) -> tuple[Principal, str]:
    """A host's confirm or decline link, whichever it is (the respond page asks what it answers)."""
    c, token = container(), _bearer(request)
    try:
        return c.guest_links.verify(token, now=c.clock.now(), purpose=CONFIRM), CONFIRM
    except Unauthenticated as not_confirm:
        if not_confirm.code != "invalid_guest_link":
            raise
    return c.guest_links.verify(token, now=c.clock.now(), purpose=DECLINE), DECLINE


def _bearer(request: Request) -> str:
    token = request.bearer_token()
    if not token:
        raise Unauthenticated("A signed link is required (Authorization: Bearer <token>).", code="missing_credentials")
    return token


router = Router("scheduling", container, auth=_host_or_admin)
CONFIG = rf"/scheduling-configs/(?P<config_id>{ID_PATTERN})"
LINK = rf"(?P<link_id>{ID_PATTERN})"


def _once(request: Request):
    from shared.adapters.idempotency import request_fingerprint, validate_key

    body = request.json()
    return body, validate_key(request.headers.get("Idempotency-Key")), request_fingerprint(request.method, request.path, body)


# -- hosts and admins ---------------------------------------------------------------------------


@router.route("GET", "/scheduling-configs")
def list_configs(request: Request):
    return container().scheduling_configs_service.list(request.caller, request.query.get("host_uid") or None)


@router.route("POST", "/scheduling-configs")
def create_config(request: Request):
    return container().scheduling_configs_service.create(request.caller, request.json()), 201


@router.route("GET", CONFIG)
def get_config(request: Request):
    return container().scheduling_configs_service.get(request.caller, request.params["config_id"])


@router.route("PATCH", CONFIG)
def update_config(request: Request):
    return container().scheduling_configs_service.update(request.caller, request.params["config_id"], request.json())


@router.route("DELETE", CONFIG)
def delete_config(request: Request):
    container().scheduling_configs_service.delete(request.caller, request.params["config_id"])
    return {"deleted": True, "id": request.params["config_id"]}


@router.route("GET", "/availability")
def availability(request: Request):
    return container().booking_link_service.host_availability(request.caller, request.query)


@router.route("POST", CONFIG + "/booking-links")
def create_link(request: Request):
    return container().booking_link_service.create(request.caller, request.params["config_id"], request.json()), 201


@router.route("GET", "/booking-links")
def list_links(request: Request):
    q = request.query
    return container().booking_link_service.list(
        request.caller, config_id=q.get("config_id") or None, host_uid=q.get("host_uid") or None
    )


@router.route("POST", rf"/booking-links/{LINK}/revoke")
def revoke_link(request: Request):
    return container().booking_link_service.revoke(request.caller, request.params["link_id"])


# -- anyone with a booking link -----------------------------------------------------------------


@router.route("GET", rf"/book/{LINK}", auth=PUBLIC)
def booking_page(request: Request):
    return page_response("booking.html")


@router.route("GET", rf"/links/{LINK}", auth=PUBLIC)
def link_view(request: Request):
    return container().booking_link_service.public_view(request.params["link_id"], parse_window(request.query))


@router.route("POST", rf"/links/{LINK}/bookings", auth=PUBLIC)
def book(request: Request):
    body, key, fingerprint = _once(request)
    return container().booking_link_service.book(request.params["link_id"], body, key, fingerprint)


# -- the guest's manage link --------------------------------------------------------------------


@router.route("GET", "/manage", auth=PUBLIC)
def manage_page(request: Request):
    return page_response("manage.html")


@router.route("GET", "/guest/booking", auth=_signed_link(MANAGE))
def guest_view(request: Request):
    return container().guest_self_service.view(request.caller)


@router.route("GET", "/guest/booking/slots", auth=_signed_link(MANAGE))
def guest_slots(request: Request):
    return container().guest_self_service.slots(request.caller, parse_window(request.query))


@router.route("POST", "/guest/booking/cancel", auth=_signed_link(MANAGE))
def guest_cancel(request: Request):
    body, key, fingerprint = _once(request)
    return container().guest_self_service.cancel(request.caller, body, key, fingerprint)


@router.route("POST", "/guest/booking/reschedule", auth=_signed_link(MANAGE))
def guest_reschedule(request: Request):
    body, key, fingerprint = _once(request)
    return container().guest_self_service.reschedule(request.caller, body, key, fingerprint)


# -- the host's confirm / decline links ---------------------------------------------------------


@router.route("GET", "/respond", auth=PUBLIC)
def respond_page(request: Request):
    return page_response("respond.html")


@router.route("GET", "/respond/request", auth=_respond_link)
def respond_request(request: Request):
    principal, purpose = request.caller
    return container().guest_self_service.request(principal, purpose)


@router.route("POST", "/respond/confirm", auth=_signed_link(CONFIRM))
def respond_confirm(request: Request):
    return container().guest_self_service.answer(request.caller, CONFIRM, request.json())


@router.route("POST", "/respond/decline", auth=_signed_link(DECLINE))
def respond_decline(request: Request):
    return container().guest_self_service.answer(request.caller, DECLINE, request.json())


@functions_framework.http
def scheduling(request):
    return router.handle(request)
