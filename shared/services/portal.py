"""Emailed links that carry a signed guest link: the page's URL plus the token.

- ``portal_join_url``: the candidate's "join via portal" link (purpose ``join``);
- ``manage_url``: the guest's page to see, cancel or reschedule its booking, served by the
  scheduling function (purpose ``manage``);
- ``respond_url``: the host's page to confirm or decline a pending booking request, served
  by the scheduling function (purpose ``confirm`` or ``decline``).

The token travels in the URL fragment, which browsers never send to a server (so it
stays out of every request log); the page reads it and calls the API with it.
Each URL is a usable credential: it is signed for each answer and email and never stored
(an idempotent replay signs it again, see shared.services.interviews). Each helper
answers None when its page's base URL is not configured: the email then has no such link.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from shared.auth.guest_links import CONFIRM, DECLINE, MANAGE
from shared.domain.models import Interview

RESPOND_PURPOSES = (CONFIRM, DECLINE)


def portal_join_url(settings: Any, guest_links: Any, interview: Interview) -> str | None:
    if not settings.portal_url:
        return None
    token = guest_links.sign(
        interview_id=interview.id,
        workspace_id=interview.workspace_id,
        expires_at=interview.end + timedelta(days=settings.guest_link_days_after_end),
    )
    return f"{settings.portal_url}/{interview.id}#token={token}"


def manage_url(settings: Any, guest_links: Any, interview: Interview) -> str | None:
    """``{scheduling}/manage#token=<manage link>``, valid until the interview's scheduled end
    (a pending request's too): there is nothing to cancel or move after it."""
    if not settings.scheduling_url:
        return None
    token = guest_links.sign(
        interview_id=interview.id, workspace_id=interview.workspace_id, expires_at=interview.end, purpose=MANAGE
    )
    return f"{settings.scheduling_url}/manage#token={token}"


def respond_url(settings: Any, guest_links: Any, interview: Interview, purpose: str) -> str | None:
    """``{scheduling}/respond#token=<confirm or decline link>`` for the host of a pending
    request, valid until the interview's start: a request cannot be answered after it."""
    if purpose not in RESPOND_PURPOSES:
        raise ValueError(f"a respond link is for {' or '.join(RESPOND_PURPOSES)}, not {purpose!r}")
    if not settings.scheduling_url:
        return None
    token = guest_links.sign(
        interview_id=interview.id,
        workspace_id=interview.workspace_id,
        expires_at=interview.start,
        purpose=purpose,
        version=interview.ical_sequence,  # a request moved since answers 409 request_changed
    )
    return f"{settings.scheduling_url}/respond#token={token}"
