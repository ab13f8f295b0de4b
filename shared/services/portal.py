"""The candidate's "join via portal" link: the join page plus a signed guest link.

The token travels in the URL fragment, which browsers never send to a server (so it
stays out of every request log); the page reads it and calls the join API with it.
The URL is a usable credential: it is signed for each answer and email and never stored
(an idempotent replay signs it again, see shared.services.interviews).
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from shared.domain.models import Interview


def portal_join_url(settings: Any, guest_links: Any, interview: Interview) -> str | None:
    if not settings.portal_url:
        return None
    token = guest_links.sign(
        interview_id=interview.id,
        workspace_id=interview.workspace_id,
        expires_at=interview.end + timedelta(days=settings.guest_link_days_after_end),
    )
    return f"{settings.portal_url}/{interview.id}#token={token}"
