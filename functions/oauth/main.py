"""Cloud Function ``oauth``: a host connects its Google account (SPEC §2.1).

POST /connect          host → {google_auth_url}: the front-end then POSTs a form to that URL
POST /start            the front-end's top-level form POST with the host's ``id_token``: binds the
                       attempt to this browser (only for the user who asked), then on to Google's consent
GET  /start            a connect link opened outside the app: a page saying so; binds nothing
GET  /callback         Google's redirect: stores the connection, then back to the front-end
GET  /status           host → connected / not_connected / needs_reauth, account, scopes, calendars
POST /disconnect       host → revokes at Google and forgets the token
POST /calendars/sync   host → re-reads the calendar list from Google
"""

import logging
from typing import NamedTuple
from urllib.parse import parse_qsl

import flask
import functions_framework

# Most requests read Firestore: load its client library before gunicorn forks.
import shared.adapters.connections  # noqa: F401
from shared import logs
from shared.auth.callers import authenticate_user
from shared.auth.principal import Principal
from shared.bootstrap import container
from shared.domain.timezones import rfc3339_utc
from shared.errors import BadRequest, ConveneError, UnsupportedMediaType
from shared.http import PUBLIC, Request, Router

logger = logging.getLogger(__name__)

FORM_TYPE = "application/x-www-form-urlencoded"
# Every page of ours: no script, no form, no framing; only the inline style of the template.
PAGE_CSP = "default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"


def _host(request: Request) -> Principal:
    return authenticate_user(request.bearer_token(), id_tokens=container().id_tokens)


container()  # read the configuration now: a bad value stops the instance at start-up
router = Router("oauth", container, auth=_host)


@router.route("POST", "/connect")
def connect(request: Request) -> dict:
    link = container().google_connections.start(request.caller, request.json().get("redirect_to"))
    return {"google_auth_url": link.url, "expires_at": rfc3339_utc(link.expires_at)}


@router.route("GET", "/status")
def status(request: Request) -> dict:
    return container().google_connections.status(request.caller)


@router.route("POST", "/disconnect")
def disconnect(request: Request) -> dict:
    return container().google_connections.disconnect(request.caller)


@router.route("POST", "/calendars/sync")
def sync_calendars(request: Request) -> dict:
    return container().google_connections.sync_calendars(request.caller)


class StartForm(NamedTuple):
    state: str
    id_token: str | None


def _start_form(request: Request) -> StartForm:
    """``state`` (a form field, or the query of the ``google_auth_url`` used as the form's action)
    and ``id_token``; each at most once, and the two places must agree."""
    if request.raw.mimetype != FORM_TYPE:
        raise UnsupportedMediaType(f"Post the start form as {FORM_TYPE}.")
    try:
        pairs = parse_qsl(request.body().decode("ascii"), keep_blank_values=True, strict_parsing=False, max_num_fields=8)
    except ValueError:  # not ASCII (a form is percent-encoded), or too many fields
        raise BadRequest("The start form is not valid.", code="invalid_form") from None
    fields: dict[str, str] = {}
    for name, value in pairs:
        if name in fields:
            raise BadRequest("The start form is not valid.", code="invalid_form")
        fields[name] = value
    in_query, in_form = request.query.get("state"), fields.get("state")
    if in_query and in_form and in_query != in_form:
        raise BadRequest("The start form is not valid.", code="invalid_form")
    return StartForm(state=in_form or in_query or "", id_token=fields.get("id_token") or None)


@router.route("POST", "/start", auth=PUBLIC)
def start(request: Request) -> flask.Response:
    """Bound only for the user who asked for the link, posting from the front-end's origin."""
    c = container()
    try:
        c.google_connections.check_start_origin(request.headers.get("Origin"))
        form = _start_form(request)
        user = authenticate_user(form.id_token, id_tokens=c.id_tokens)
        begun = c.google_connections.open_in_browser(form.state, user)
    except ConveneError as failure:
        return _refusal(failure)
    response = flask.redirect(begun.google_url, code=303)  # See Other: the browser GETs Google's consent page
    secure = c.settings.oauth_public_url.startswith("https://")
    response.set_cookie(
        begun.cookie_name,
        begun.cookie_value,
        max_age=begun.max_age_seconds,
        httponly=True,
        secure=secure,
        samesite="Lax",
        path="/",
    )
    response.headers["Cache-Control"] = "no-store"
    response.headers["Referrer-Policy"] = "no-referrer"
    return response


@router.route("GET", "/start", auth=PUBLIC)
def start_link_opened(request: Request) -> flask.Response:
    """A connect link followed as a plain link (e-mailed, pasted, forwarded): it binds nothing,
    reads nothing and says how to connect, so a link planted on someone else is inert."""
    return _page(
        False,
        "This link only works when the Convene app opens it for you, signed in as the user who "
        "asked for it. Go back to the app and choose Connect Google Calendar again.",
        "open_from_app",
        status=400,
    )


@router.route("GET", "/callback", auth=PUBLIC)
def callback(request: Request) -> flask.Response:
    outcome = container().google_connections.complete(
        state=request.query.get("state"),
        code=request.query.get("code"),
        error=request.query.get("error"),
        cookies=dict(request.raw.cookies),
    )
    location = outcome.redirect_location()
    response = (
        flask.redirect(location, code=302)
        if location
        else _page(
            outcome.connected,
            outcome.message,
            outcome.code,
            status=200 if outcome.connected else 400,
            google_account=outcome.account_email,
            convene_user=outcome.convene_user,
        )
    )
    state = request.query.get("state")
    if state:
        from shared.services.connections import cookie_name, state_hash

        response.delete_cookie(cookie_name(state_hash(state)), path="/")
    response.headers["Cache-Control"] = "no-store"
    response.headers["Referrer-Policy"] = "no-referrer"  # the callback URL carries the code
    return response


def _refusal(failure: ConveneError) -> flask.Response:
    """A refused start as a page (a browser navigated here), with the error's status and code."""
    if failure.status == 401:
        message = "Your Convene sign-in could not be confirmed. Sign in again, then connect Google from the app."
    elif failure.status >= 500:
        logs.log(logger, logging.WARNING, "oauth start failed", event="oauth_start_failed", error_code=failure.code)
        message = "Convene could not start connecting Google right now. Try again shortly from the app."
    else:
        message = failure.message
    response = _page(False, message, failure.code, status=failure.status)
    if failure.status == 503:
        response.headers["Retry-After"] = "5"
    return response


def _page(
    connected: bool, message: str, code: str, *, status: int, google_account: str | None = None, convene_user: str | None = None
) -> flask.Response:
    from shared.pages import render

    html = render(
        "oauth_result.html",
        connected=connected,
        message=message,
        code=code,
        google_account=google_account,
        convene_user=convene_user,
    )
    return flask.Response(
        html,
        status=status,
        content_type="text/html; charset=utf-8",
        headers={
            "Cache-Control": "no-store",
            "Referrer-Policy": "no-referrer",
            "Content-Security-Policy": PAGE_CSP,
            "X-Content-Type-Options": "nosniff",
        },
    )


@functions_framework.http
def oauth(request):
    return router.handle(request)
