"""Test data builders: valid by default, changed only where a test cares."""

from __future__ import annotations

import uuid
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

from shared.domain.models import Interview, InterviewStatus, InterviewType, Person

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
WORKSPACE = "ws-acme"
OTHER_WORKSPACE = "ws-globex"
HOST = Person(email="hana.host@acme.example", name="Hana Host", uid="uid-hana")
GUEST = Person(email="gus.guest@candidates.example", name="Gus Guest")


def interview(**changes: Any) -> Interview:
    base = Interview(
        id=f"iv-{uuid.uuid4().hex[:12]}",
        workspace_id=WORKSPACE,
        host=HOST,
        guest=GUEST,
        start=NOW + timedelta(hours=2),
        timezone="Europe/Berlin",
        type=InterviewType.GOOGLE_MEET,
        status=InterviewStatus.CONFIRMED,
        duration_minutes=45,
        job_title="Backend Engineer",
        meet_link="https://meet.google.com/abc-mnop-xyz",
        calendar_event_id="convene0123456789",
        ical_uid="iv@convene",
        created_at=NOW - timedelta(days=1),
        updated_at=NOW - timedelta(days=1),
    )
    return replace(base, **changes)
