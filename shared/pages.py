"""Small server-rendered pages (OAuth result, portal, booking, manage, respond), with Jinja2 autoescaping.

Jinja2 is imported on first render only: JSON requests never pay for it.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

TEMPLATES = Path(__file__).resolve().parent / "templates"
_environment: Any = None
_lock = threading.Lock()


def render(template: str, **context: Any) -> str:
    global _environment
    with _lock:
        if _environment is None:
            import jinja2

            _environment = jinja2.Environment(
                loader=jinja2.FileSystemLoader(TEMPLATES), autoescape=True, undefined=jinja2.StrictUndefined
            )
    return _environment.get_template(template).render(**context)


def page_response(
    template: str, *, extra_csp: tuple[str, ...] = (), extra_headers: dict[str, str] | None = None, **context: Any
) -> Any:
    """A static page of ours (booking, manage, respond): a fresh nonce, a strict CSP, no caching.

    The page holds nothing about any booking: its script reads the link from the URL (the
    token from the fragment, never sent to a server) and calls the JSON routes of the same
    origin with it.
    """
    import secrets

    import flask

    nonce = secrets.token_urlsafe(18)
    return flask.Response(
        render(template, nonce=nonce, **context),
        status=200,
        content_type="text/html; charset=utf-8",
        headers={
            "Content-Security-Policy": "; ".join(
                [
                    "default-src 'none'",
                    f"script-src 'nonce-{nonce}'",
                    f"style-src 'nonce-{nonce}'",
                    "connect-src 'self'",
                    "img-src 'self' data:",
                    *extra_csp,
                    "base-uri 'none'",
                    "form-action 'none'",
                    "frame-ancestors 'none'",
                ]
            ),
            "Cache-Control": "no-store",
            "Referrer-Policy": "no-referrer",
            "X-Content-Type-Options": "nosniff",
            "X-Frame-Options": "DENY",
            **(extra_headers or {}),
        },
    )
