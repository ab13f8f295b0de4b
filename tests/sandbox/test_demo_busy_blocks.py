"""The demo host's busy blocks (devstack/seed.py), seeded into a sandbox as `make dev` does and
read back through freebusy.query: real gaps in working hours, the same blocks for the same date."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from google.oauth2.credentials import Credentials
from googleapiclient.discovery import build

from devstack.sandbox import SandboxServer
from devstack.seed import BUSY_DAYS, HOST, HOST_INTERVIEWS_CALENDAR, HOST_ZONE, demo_busy_blocks, seed_busy_blocks

BERLIN = ZoneInfo(HOST_ZONE)
NOW = datetime(2030, 3, 25, 6, 30, tzinfo=UTC)  # a Monday, 08:30 in Berlin; clocks go forward on the 31st
CLIENT_ID = "convene-seed-test.apps.googleusercontent.com"


@pytest.fixture(scope="module")
def server() -> Iterator[SandboxServer]:
    with SandboxServer("convene-seed-test") as running:
        running.add_google_account(HOST.email, HOST.display_name)
        running.add_calendar(HOST.email, HOST_INTERVIEWS_CALENDAR, "Interviews", time_zone=HOST_ZONE)  # as dev.py does
        seed_busy_blocks(running.url, NOW)
        yield running


def busy(server: SandboxServer, start: datetime, end: datetime) -> dict[str, list[tuple[datetime, datetime]]]:
    token = server.sandbox.oauth.issue_tokens(CLIENT_ID, HOST.email, ["https://www.googleapis.com/auth/calendar.freebusy"])[
        "access_token"
    ]
    service = build(
        "calendar",
        "v3",
        credentials=Credentials(token=token),
        static_discovery=True,
        client_options={"api_endpoint": server.url + "/calendar/v3/"},
    )
    body = {
        "timeMin": start.isoformat(),
        "timeMax": end.isoformat(),
        "timeZone": HOST_ZONE,
        "items": [{"id": HOST.email}, {"id": HOST_INTERVIEWS_CALENDAR}],
    }
    calendars = service.freebusy().query(body=body).execute()["calendars"]
    return {
        calendar_id: [(datetime.fromisoformat(p["start"]), datetime.fromisoformat(p["end"])) for p in answer["busy"]]
        for calendar_id, answer in calendars.items()
    }


def test_the_blocks_depend_on_the_local_date_only() -> None:
    same_day_later = NOW + timedelta(hours=13)  # 21:30 in Berlin, still the 25th
    next_day = NOW + timedelta(days=1)

    assert demo_busy_blocks(NOW) == demo_busy_blocks(same_day_later)
    assert demo_busy_blocks(NOW) != demo_busy_blocks(next_day)


def test_timed_blocks_are_on_weekdays_in_working_hours_of_the_next_fortnight() -> None:
    blocks = demo_busy_blocks(NOW)
    today = NOW.astimezone(BERLIN).date()
    timed = [b for b in blocks if isinstance(b.start, datetime)]
    all_day = [b for b in blocks if not isinstance(b.start, datetime)]

    assert len(timed) >= 8
    for block in timed:
        start, end = block.start.astimezone(BERLIN), block.end.astimezone(BERLIN)
        assert today <= start.date() < today + timedelta(days=BUSY_DAYS), block
        assert start.weekday() < 5 and 9 <= start.hour and end.hour <= 17 and start < end, block
    [offsite] = all_day
    assert offsite.start == date(2030, 4, 4) and offsite.end == date(2030, 4, 5)  # the second week's Thursday


def test_free_busy_shows_the_blocks_and_the_gaps_between_them(server: SandboxServer) -> None:
    start = datetime(2030, 3, 25, tzinfo=BERLIN)
    found = busy(server, start, start + timedelta(days=BUSY_DAYS))
    primary, interviews = found[HOST.email], found[HOST_INTERVIEWS_CALENDAR]

    # Monday 25 March (CET) and Monday 1 April (CEST): the sync at 10:00 local both times.
    assert (datetime(2030, 3, 25, 10, tzinfo=BERLIN), datetime(2030, 3, 25, 11, tzinfo=BERLIN)) in primary
    assert (datetime(2030, 4, 1, 10, tzinfo=BERLIN), datetime(2030, 4, 1, 11, tzinfo=BERLIN)) in primary
    # The offsite: Berlin midnight to midnight.
    assert (datetime(2030, 4, 4, tzinfo=BERLIN), datetime(2030, 4, 5, tzinfo=BERLIN)) in primary
    # Focus time is shown as free; the panel prep overlaps Wednesday's sync in another calendar.
    assert not any(s.hour == 14 and s.weekday() == 1 for s, _ in primary)
    assert (datetime(2030, 3, 27, 10, 30, tzinfo=BERLIN), datetime(2030, 3, 27, 11, 30, tzinfo=BERLIN)) in interviews
    # Every weekday but the offsite keeps most of 09:00–17:00 free.
    for offset in range(BUSY_DAYS):
        day = start + timedelta(days=offset)
        if day.weekday() >= 5 or day.date() == date(2030, 4, 4):
            continue
        opening, closing = day.replace(hour=9), day.replace(hour=17)
        taken = sum(
            ((min(e, closing) - max(s, opening)) for s, e in primary + interviews if s < closing and e > opening),
            timedelta(),
        )
        assert timedelta(0) < taken <= timedelta(hours=2, minutes=30), day
