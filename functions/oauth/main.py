"""Cloud Function ``oauth``: a host connects its Google account (SPEC §2.1).

POST /connect          host → {google_auth_url}: the front-end sends the browser there
GET  /start            browser: binds the attempt to this browser, then on to Google's consent
GET  /callback         Google's redirect: stores the connection, then back to the front-end
GET  /status           host → connected / not_connected / needs_reauth, account, scopes, calendars
POST /disconnect       host → revokes at Google and forgets the token
POST /calendars/sync   host → re-reads the calendar list from Google
"""

import functions_framework
import flask

# Most requests read Firestore: load its client library before gunicorn forks.
import shared.adapters.connections  # noqa: F401
from shared.auth.callers import authenticate_user
from shared.bootstrap import container
from shared.errors import ConveneError
from shared.http import Request, Router

container()  # read the configuration now: a bad value stops the instance at start-up
router = Router("oauth", container)


def _host(request: Request):
    c = container()
    return authenticate_user(request.bearer_token(), id_tokens=c.id_tokens)


@router.route("POST", "/connect")
def connect(request: Request) -> dict:
    body = request.json()
    link = container().google_connections.start(_host(request), body.get("redirect_to"))
    return {"google_auth_url": link.url, "expires_at": link.expires_at.isoformat().replace("+00:00", "Z")}


@router.route("GET", "/status")
def status(request: Request) -> dict:
    return container().google_connections.status(_host(request))


@router.route("POST", "/disconnect")
def disconnect(request: Request) -> dict:
    return container().google_connections.disconnect(_host(request))


@router.route("POST", "/calendars/sync")
def sync_calendars(request: Request) -> dict:
    return container().google_connections.sync_calendars(_host(request))


@router.route("GET", "/start")
def start(request: Request) -> flask.Response:
    try:
        begun = container().google_connections.open_in_browser(request.query.get("state", ""))
    except ConveneError as failure:
        return _page(False, failure.message, failure.code, status=400)
    response = flask.redirect(begun.google_url, code=302)
    secure = container().settings.oauth_public_url.startswith("https://")
    response.set_cookie(begun.cookie_name, begun.cookie_value, max_age=begun.max_age_seconds, httponly=True,
                        secure=secure, samesite="Lax", path="/")
    response.headers["Cache-Control"] = "no-store"
    return response


@router.route("GET", "/callback")
def callback(request: Request) -> flask.Response:
    outcome = container().google_connections.complete(
        state=request.query.get("state"), code=request.query.get("code"), error=request.query.get("error"),
        cookies=dict(request.raw.cookies),
    )
    location = outcome.redirect_location()
    response = (flask.redirect(location, code=302) if location
                else _page(outcome.connected, outcome.message, outcome.code, status=200 if outcome.connected else 400))
    state = request.query.get("state")
    if state:
        from shared.services.connections import cookie_name, state_hash

        response.delete_cookie(cookie_name(state_hash(state)), path="/")
    response.headers["Cache-Control"] = "no-store"
    response.headers["Referrer-Policy"] = "no-referrer"  # the callback URL carries the code
    return response


def _page(connected: bool, message: str, code: str, *, status: int) -> flask.Response:
    from shared.pages import render

    html = render("oauth_result.html", connected=connected, message=message, code=code)
    return flask.Response(html, status=status, content_type="text/html; charset=utf-8",
                          headers={"Cache-Control": "no-store", "Referrer-Policy": "no-referrer",
                                   "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'"})


@functions_framework.http
def oauth(request):
    return router.handle(request)
