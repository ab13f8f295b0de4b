"""Free slots of a configuration: ONE Google free/busy query, ONE Firestore query, the pure rules.

Per request, whatever the number of calendars and days:
1. the host's Google credentials (the connection document; ``needs_google_auth`` for the host,
   ``host_not_bookable`` for a guest, who never causes a consent attempt to be written);
2. ``freebusy.query`` over every calendar of the configuration, for the span
   ``shared.domain.slots.busy_query_window`` says can touch a slot;
3. the host's pending and confirmed interviews around that span (``HostBookings.active_between``),
   each kept apart by its own buffers;
4. ``shared.domain.slots.free_slots``.
A calendar Google cannot read (``errors`` in the free/busy answer: deleted, unshared) is never
taken as free: the request answers 409 ``calendar_unavailable``, naming the calendars to the host.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, Protocol

from shared.domain.slots import Interval, Slot, booked, busy_query_window, free_slots
from shared.domain.timezones import rfc3339_utc, to_local_iso
from shared.errors import Conflict, NeedsGoogleAuth

if TYPE_CHECKING:
    from shared.auth.principal import Principal
    from shared.domain.models import Interview
    from shared.domain.scheduling import SchedulingConfig
    from shared.google.calendar import FreeBusy
    from shared.ports import HostBookings

# Interviews that can touch the busy span: one starting up to the longest duration plus the
# largest buffer before it still reaches in (their own buffers are at most 240 minutes).
MAX_BUFFER = timedelta(minutes=240)


class Connections(Protocol):
    def credentials_of(self, uid: str) -> Any: ...

    def consent_error(self, principal: Principal, reason: str) -> NeedsGoogleAuth: ...


class FreeBusyReader(Protocol):
    def free_busy(self, credentials: Any, calendar_ids: Sequence[str], time_min: datetime, time_max: datetime) -> FreeBusy: ...


@dataclass(frozen=True)
class FreeTime:
    slots: list[Slot]
    busy: tuple[Interval, ...]  # Google's busy blocks and Convene's bookings (the host's view only)


class HostNotBookable(Conflict):
    """A guest asked for a host whose calendar cannot be read now (Google connection gone)."""

    code = "host_not_bookable"


@contextmanager
def guest_facing() -> Iterator[None]:
    """A host-side refusal a guest cannot act on (the host's Google consent) becomes the guest's
    ``host_not_bookable``: a guest never receives the host's consent URL."""
    try:
        yield
    except NeedsGoogleAuth:
        raise HostNotBookable("The host's calendar cannot be reached right now; please contact the host.") from None


def without(busy: Sequence[Interval], own: Interval) -> list[Interval]:
    """``busy`` minus one interval: the interview being moved must not block its own new time."""
    out: list[Interval] = []
    for block in busy:
        if block.end <= own.start or block.start >= own.end:
            out.append(block)
            continue
        if block.start < own.start:
            out.append(Interval(block.start, own.start))
        if block.end > own.end:
            out.append(Interval(own.end, block.end))
    return out


class Availability:
    def __init__(
        self,
        *,
        host_bookings: HostBookings,
        connections: Callable[[], Connections],
        calendar: Callable[[], FreeBusyReader],
        max_duration_minutes: int,
    ):
        self._host_bookings = host_bookings
        self._connections = connections
        self._calendar = calendar
        self._reach = timedelta(minutes=max_duration_minutes) + MAX_BUFFER

    def free_time(
        self,
        config: SchedulingConfig,
        *,
        host: Principal,
        window_start: datetime,
        window_end: datetime,
        now: datetime,
        for_guest: bool,
        moving: Interview | None = None,
    ) -> FreeTime:
        """The slots of ``config`` starting in ``[window_start, window_end)``; ``moving``: an interview to ignore."""
        span = busy_query_window(config, window_start=window_start, window_end=window_end, now=now)
        if span.end <= span.start:
            return FreeTime([], ())  # outside notice and horizon: nothing to ask Google
        google = self._busy(config, host, span, for_guest)
        interviews = self._host_bookings.active_between(
            workspace_id=config.workspace_id,
            host_uid=config.host_uid,
            start_from=span.start - self._reach,
            start_before=span.end + MAX_BUFFER,
        )
        mine = [booked(i) for i in interviews if moving is None or i.id != moving.id]
        busy = [Interval(start, end) for start, end in google]
        if moving is not None:
            busy = without(busy, Interval(moving.start, moving.end))
        slots = free_slots(config, window_start=window_start, window_end=window_end, now=now, busy=busy, bookings=mine)
        shown = sorted({*busy, *(Interval(b.start, b.end) for b in mine)})
        return FreeTime(slots, tuple(shown))

    def _busy(
        self, config: SchedulingConfig, host: Principal, span: Interval, for_guest: bool
    ) -> tuple[tuple[datetime, datetime], ...]:
        from shared.domain.connections import GoogleAuthRequired

        connections = self._connections()
        try:
            credentials = connections.credentials_of(host.subject)
            answer = self._calendar().free_busy(credentials, config.calendar_ids, span.start, span.end)
        except GoogleAuthRequired as required:
            # a guest is told the host cannot be booked; only the host gets (and makes) a consent link
            if for_guest:
                raise HostNotBookable("The host's calendar cannot be read right now; please contact the host.") from None
            raise connections.consent_error(host, required.reason) from None
        if answer.errors:
            if for_guest:
                raise Conflict(
                    "The host's calendar cannot be read right now; please contact the host.", code="calendar_unavailable"
                )
            raise Conflict(
                "Google could not read some calendars of this configuration; update its calendar_ids.",
                code="calendar_unavailable",
                details={"calendars": dict(answer.errors)},
            )
        return answer.busy


def slot_view(slot: Slot, tz_name: str) -> dict[str, Any]:
    """A slot in the seeds' names (``start_time``, ``end_time``, ``available``) in ``tz_name``, plus its UTC instant."""
    local = to_local_iso(slot.start, tz_name)
    return {
        "start_time": local,
        "end_time": to_local_iso(slot.end, tz_name),
        "available": True,
        "start": rfc3339_utc(slot.start),
        "end": rfc3339_utc(slot.end),
        "date": local[:10],
        "time": local[11:16],
    }


def busy_view(block: Interval, tz_name: str) -> dict[str, str]:
    return {"start": to_local_iso(block.start, tz_name), "end": to_local_iso(block.end, tz_name)}
