"""Availability and scheduling configurations on fakes (the HTTP paths are in
tests/integration/test_scheduling_api.py; the slot rules themselves in tests/unit/test_slots.py)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from shared.auth.principal import Principal, PrincipalKind
from shared.domain.booking import BookingLimits
from shared.domain.connections import CalendarEntry, Connection, ConnectionStatus, GoogleAuthRequired
from shared.domain.errors import InvalidInput, RuleViolation
from shared.domain.models import BookingOrigin, InterviewStatus, Role, User
from shared.domain.scheduling import parse_config
from shared.domain.slots import Interval
from shared.errors import Conflict, NeedsGoogleAuth, NotFound, Unprocessable
from shared.google.calendar import FreeBusy
from shared.services.access import AccessPolicy
from shared.services.scheduling.availability import Availability, HostNotBookable, without
from shared.services.scheduling.configs import SchedulingConfigs
from tests import factories
from tests.factories import HOST, WORKSPACE
from tests.fakes import (
    FakeBookingLinkRepository,
    FakeConnectionRepository,
    FakeHostBookings,
    FakeInterviewRepository,
    FakeSchedulingConfigRepository,
    FakeUserRepository,
)

NOW = datetime(2026, 6, 1, 8, 0, tzinfo=UTC)  # a Monday, 10:00 in Berlin
DAY = timedelta(days=1)
WEEK = {d: [{"start": "09:00", "end": "17:00"}] for d in ("monday", "tuesday", "wednesday", "thursday", "friday")}
ADMIN = User("uid-ada", WORKSPACE, Role.ADMIN, "ada@acme.example", "Ada Admin")
OTHER_HOST = User("uid-otto", WORKSPACE, Role.HOST, "otto@acme.example", "Otto Other")


def config(**changes):
    body = {
        "name": "Intro",
        "timezone": "Europe/Berlin",
        "calendar_ids": ["primary"],
        "duration_minutes": 30,
        "working_hours": WEEK,
    } | changes
    return parse_config(body, config_id="cfg-1", workspace_id=WORKSPACE, host_uid=HOST.uid or "", limits=BookingLimits())


class FakeClock:
    def now(self):
        return NOW


class FakeCalendar:
    def __init__(self):
        self.calls: list[tuple[tuple[str, ...], datetime, datetime]] = []
        self.busy: tuple[tuple[datetime, datetime], ...] = ()
        self.errors: dict[str, str] = {}

    def free_busy(self, credentials, calendar_ids, time_min, time_max):
        self.calls.append((tuple(calendar_ids), time_min, time_max))
        return FreeBusy(self.busy, self.errors)


class FakeConnections:
    def __init__(self, usable: bool = True):
        self.usable = usable

    def credentials_of(self, uid):
        if not self.usable:
            raise GoogleAuthRequired("not_connected")
        return "credentials"

    def consent_error(self, principal, reason):
        return NeedsGoogleAuth("reconnect", "https://consent.example", reason=reason)


class World:
    def __init__(self, usable: bool = True):
        self.interviews = FakeInterviewRepository()
        self.calendar = FakeCalendar()
        self.connections = FakeConnections(usable)
        self.availability = Availability(
            host_bookings=FakeHostBookings(self.interviews),
            connections=lambda: self.connections,
            calendar=lambda: self.calendar,
            max_duration_minutes=480,
        )

    def free(self, cfg, day_offset=1, *, for_guest=False, moving=None):
        start = datetime(2026, 6, 1, 22, 0, tzinfo=UTC) + (day_offset - 1) * DAY  # Berlin midnight of the day after
        return self.availability.free_time(
            cfg,
            host=Principal(PrincipalKind.USER, HOST.uid or "", HOST.email, True, WORKSPACE),
            window_start=start,
            window_end=start + DAY,
            now=NOW,
            for_guest=for_guest,
            moving=moving,
        )


def berlin(hour: int, minute: int = 0, day: int = 2) -> datetime:
    return datetime(2026, 6, day, hour - 2, minute, tzinfo=UTC)  # CEST = UTC+2


def test_one_freebusy_call_for_the_span_that_can_touch_a_slot():
    world = World()
    cfg = config(calendar_ids=["primary", "team@group.calendar.google.com"], buffer_before_minutes=10)
    free = world.free(cfg)
    assert len(world.calendar.calls) == 1
    calendars, time_min, time_max = world.calendar.calls[0]
    assert calendars == ("primary", "team@group.calendar.google.com")
    assert time_min == datetime(2026, 6, 1, 22, 0, tzinfo=UTC) - timedelta(minutes=10)
    assert time_max == datetime(2026, 6, 2, 22, 0, tzinfo=UTC) + timedelta(minutes=30)
    assert [s.start for s in free.slots][:2] == [berlin(9), berlin(9, 30)] and len(free.slots) == 16


def test_google_busy_blocks_and_buffered_bookings_remove_slots_and_a_moving_booking_ignores_itself():
    world = World()
    cfg = config(buffer_after_minutes=15)
    world.calendar.busy = ((berlin(10), berlin(11)),)
    booked = factories.interview(
        start=berlin(14), duration_minutes=30, origin=BookingOrigin("cfg-1", "link-1", 0, 30), status=InterviewStatus.PENDING
    )
    world.interviews.add(booked)
    starts = [s.start for s in world.free(cfg).slots]
    assert berlin(9, 30) not in starts and berlin(11) in starts  # 09:30 + 30 + 15 after-buffer overlaps 10:00
    assert berlin(13, 30) not in starts and berlin(14, 30) not in starts and berlin(15) in starts
    moved = [s.start for s in world.free(cfg, moving=booked).slots]
    assert berlin(14) in moved and berlin(14, 30) in moved
    assert Interval(berlin(10), berlin(11)) in world.free(cfg).busy


def test_outside_notice_and_horizon_google_is_not_asked():
    world = World()
    assert world.free(config(days_ahead=1), day_offset=5).slots == []
    assert world.calendar.calls == []


def test_a_calendar_google_cannot_read_is_a_conflict_never_free_time():
    world = World()
    world.calendar.errors = {"gone@group.calendar.google.com": "notFound"}
    with pytest.raises(Conflict) as host_view:
        world.free(config())
    assert host_view.value.code == "calendar_unavailable"
    assert host_view.value.details == {"calendars": {"gone@group.calendar.google.com": "notFound"}}
    with pytest.raises(Conflict) as guest_view:
        world.free(config(), for_guest=True)
    assert guest_view.value.code == "calendar_unavailable" and guest_view.value.details == {}


def test_a_host_without_google_needs_auth_and_its_guests_are_told_it_cannot_be_booked():
    world = World(usable=False)
    with pytest.raises(NeedsGoogleAuth):
        world.free(config())
    with pytest.raises(HostNotBookable) as guest_view:
        world.free(config(), for_guest=True)
    assert "consent" not in str(guest_view.value.to_body())


def test_without_cuts_one_interval_out_of_busy_blocks():
    a, b, c, d = (berlin(h) for h in (9, 10, 11, 12))
    assert without([Interval(a, d)], Interval(b, c)) == [Interval(a, b), Interval(c, d)]
    assert without([Interval(a, b), Interval(c, d)], Interval(b, c)) == [Interval(a, b), Interval(c, d)]
    assert without([Interval(b, c)], Interval(a, d)) == []


# --- configurations ------------------------------------------------------------------------


class Configs:
    def __init__(self):
        self.users = FakeUserRepository()
        for user in (User(HOST.uid or "", WORKSPACE, Role.HOST, HOST.email, HOST.name), ADMIN, OTHER_HOST):
            self.users.put(user)
        self.connections = FakeConnectionRepository()
        self.connections.save(
            Connection(
                uid=HOST.uid or "",
                workspace_id=WORKSPACE,
                provider="google",
                status=ConnectionStatus.CONNECTED,
                account_email="hana@gmail.example",
                calendars=(CalendarEntry("team@group.calendar.google.com", "Team", False, "owner"),),
            )
        )
        self.repo = FakeSchedulingConfigRepository()
        self.service = SchedulingConfigs(
            clock=FakeClock(),
            access=AccessPolicy(self.users),
            configs=self.repo,
            links=FakeBookingLinkRepository(),
            connections=self.connections,
            limits=BookingLimits(),
        )

    @staticmethod
    def as_user(user_uid: str) -> Principal:
        return Principal(PrincipalKind.USER, user_uid, None, True, WORKSPACE)


BODY = {"name": "Intro", "timezone": "Europe/Berlin", "duration_minutes": 30, "working_hours": WEEK}


def test_only_the_hosts_synced_calendars_its_account_and_primary_may_be_checked():
    world = Configs()
    host = world.as_user(HOST.uid or "")
    ok = world.service.create(host, BODY | {"calendar_ids": ["primary", "team@group.calendar.google.com", "hana@gmail.example"]})
    assert ok["calendar_ids"] == ["primary", "team@group.calendar.google.com", "hana@gmail.example"]
    with pytest.raises(Unprocessable) as refused:
        world.service.create(host, BODY | {"calendar_ids": ["primary", "boss@acme.example"]})
    assert refused.value.code == "unknown_calendar" and refused.value.details["field"] == "calendar_ids[1]"
    with pytest.raises(Unprocessable):  # another host has no connection at all
        world.service.create(
            world.as_user(ADMIN.uid), BODY | {"calendar_ids": ["team@group.calendar.google.com"], "host_uid": OTHER_HOST.uid}
        )


def test_a_host_manages_its_own_an_admin_every_hosts():
    world = Configs()
    mine = world.service.create(world.as_user(HOST.uid or ""), BODY | {"calendar_ids": ["primary"]})
    with pytest.raises(NotFound):
        world.service.get(world.as_user(OTHER_HOST.uid), mine["id"])
    assert world.service.get(world.as_user(ADMIN.uid), mine["id"])["id"] == mine["id"]
    assert world.service.list(world.as_user(OTHER_HOST.uid), None) == {"scheduling_configs": []}
    assert [c["id"] for c in world.service.list(world.as_user(ADMIN.uid), None)["scheduling_configs"]] == [mine["id"]]
    by_admin = world.service.create(world.as_user(ADMIN.uid), BODY | {"calendar_ids": ["primary"], "host_uid": HOST.uid})
    assert by_admin["host_uid"] == HOST.uid


def test_patch_is_validated_as_a_whole_and_ids_cannot_change():
    world = Configs()
    host = world.as_user(HOST.uid or "")
    created = world.service.create(host, BODY | {"calendar_ids": ["primary"]})
    with pytest.raises(Unprocessable) as read_only:
        world.service.update(host, created["id"], {"host_uid": "uid-otto"})
    assert read_only.value.code == "read_only_field"
    with pytest.raises((InvalidInput, RuleViolation)):
        world.service.update(host, created["id"], {"working_hours": {"monday": [{"start": "10:00", "end": "09:00"}]}})
    assert world.service.get(host, created["id"]) == created  # nothing stored by a refusal
    changed = world.service.update(host, created["id"], {"duration_minutes": 45})
    assert changed["duration_minutes"] == 45 and changed["slot_step_minutes"] == 45  # the step followed the duration
    world.service.delete(host, created["id"])
    with pytest.raises(NotFound):
        world.service.get(host, created["id"])
