"""Connecting a host's Google account (SPEC §2.1): connect, callback, status, disconnect, sync.

The parts: ``connect`` (steps 1–3 below), ``account`` (status, sync, usable credentials,
disconnect), ``outcomes`` (the attempt's hashes, cookie and answers). Who may act is the
access policy (shared.services.access), as for every function.

The flow, and why each step exists:
1. ``start`` (host, ID token): a random ``state`` is created and bound to the host; only its
   hash is stored, with the PKCE verifier encrypted. The host gets a start URL of ours.
2. ``open_in_browser`` (the front-end's top-level form POST of the start URL, carrying the
   host's ID token): binds the attempt to that browser with an HttpOnly cookie, then sends
   it to Google's consent page. The binding is set only when the POST comes from one of
   the configured front-end origins AND its ID token is the user who asked for the link:
   a link forwarded to (or planted on) someone else binds nothing, so it can never connect
   the victim's Google account to the requester (OAuth account-linking CSRF). The origin
   check is what stops a requester from posting their own token from a page of theirs.
3. ``complete`` (Google's redirect to our callback): the state is consumed in a
   transaction (single use), the browser binding checked, the code exchanged with the
   stored verifier, the granted scopes checked, the refresh token stored encrypted, the
   calendar list synced. The result names the Google account and the Convene user linked.
"""

from shared.services.connections.account import GoogleConnections, connection_view
from shared.services.connections.outcomes import (
    BrowserStart,
    ConnectLink,
    OAuthRejected,
    Outcome,
    StartRefused,
    binding_hash,
    cookie_name,
    state_hash,
)

__all__ = [
    "BrowserStart",
    "ConnectLink",
    "GoogleConnections",
    "OAuthRejected",
    "Outcome",
    "StartRefused",
    "binding_hash",
    "connection_view",
    "cookie_name",
    "state_hash",
]
