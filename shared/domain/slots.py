"""Free slots of a scheduling configuration (SPEC §2.6): pure, no I/O, exact instants.

``free_slots`` turns a configuration, a window, the current instant, the host's busy
blocks (ONE Google free/busy answer for all the configuration's calendars) and the host's
pending and confirmed Convene interviews into the slots a guest may book. The rules:

1. **Working range of a local date.** A range ``[start, end)`` of weekday *W* on a local date
   *D* (a *W*, in the configuration's zone) is the set of instants whose local date is *D* and
   whose local wall time lies in ``[start, end)``; ``"24:00"`` is the next local midnight.
   Its first instant is the earliest such instant: a ``start`` inside a DST gap begins at the
   transition (02:30 on a day whose clocks jump 02:00 → 03:00 begins at 03:00). A range
   containing a spring-forward gap is shorter in real time (New York 01:00–04:00 on the
   23-hour day lasts 2 hours); one containing a fall-back fold is longer (00:00–03:00 on the
   25-hour day lasts 4 hours) and its repeated wall times are offered twice, as two distinct
   instants (01:00 EDT and 01:00 EST). A range that ends inside a fold is two pieces (the
   wall clock leaves the range, then comes back into it). Ranges of a day that touch
   (09:00–12:00, 12:00–17:00) are one range; ranges of consecutive days are never joined.
2. **Grid.** Slot starts are anchored at each working range's first instant and step
   ``slot_step_minutes`` of real elapsed time; a slot ``[s, s + duration)`` must lie inside the
   range, inside one piece of it: a slot may run across a DST change inside its range
   (01:30 EST + 30 minutes = 03:00 EDT), never past the range's end (so never past midnight)
   nor across the stretch between two pieces.
3. **Buffers.** The slot's buffered span ``[s - buffer_before, s + duration + buffer_after)``
   must not overlap (half-open: touching is fine) any busy block, nor any existing booking's
   own buffered span ``[b.start - b.buffer_before, b.end + b.buffer_after)``. So two Convene
   bookings are kept apart by the first's after-buffer PLUS the second's before-buffer, and a
   plain Calendar event only by the new slot's buffers. Buffers may reach outside working
   hours and across midnight (a busy block ending at 23:55 blocks a 00:00 slot whose
   before-buffer is 15 minutes). Busy blocks may overlap one another (several calendars),
   last all day or several days: only their union matters.
4. **Notice and horizon.** ``s >= now + minimum_notice_minutes``; the local date of ``s`` is at
   most the local date of ``now`` plus ``days_ahead`` (both in the configuration's zone).
5. **Daily cap.** A local date (configuration's zone) on which ``daily_cap`` bookings of THIS
   configuration (``Booked.config_id == config.id``) already start offers no slot; bookings of
   other configurations still block their own time (rule 3) but do not count.
6. **Workdays.** Only weekdays in ``config.active_weekdays`` offer slots.
7. **Window.** Only slots with ``window_start <= s < window_end`` are returned, sorted by start,
   without duplicates. The window may come from any zone (a guest's date in the guest's
   zone: ``local_date_window``); every configuration date overlapping it is considered.

Computed on whole seconds since the epoch (every slot start is a whole second, so
sub-second bounds compare exactly: a busy block ending a microsecond after a buffered span
starts overlaps it): the zone's UTC-offset changes are found once per call (sampled daily,
bisected to the second), and busy time becomes one sorted list of disjoint forbidden
start intervals searched by bisection, so 60 days with 200 busy blocks take about a
millisecond (``python -m bench.slots``).
"""

from __future__ import annotations

from bisect import bisect_left
from collections import Counter
from collections.abc import Mapping, Sequence
from datetime import UTC, date, datetime, timedelta, tzinfo
from typing import NamedTuple

from shared.domain.models import Interview
from shared.domain.scheduling import SchedulingConfig, WorkingRange
from shared.domain.timezones import zone


class Interval(NamedTuple):
    """A busy block ``[start, end)`` (aware; from Google free/busy: any calendar, may overlap others)."""

    start: datetime
    end: datetime


class Slot(NamedTuple):
    """A bookable ``[start, end)``, aware UTC instants."""

    start: datetime
    end: datetime


class Booked(NamedTuple):
    """One of the host's pending or confirmed Convene interviews, with the buffers it keeps free."""

    start: datetime
    end: datetime
    buffer_before_minutes: int = 0
    buffer_after_minutes: int = 0
    config_id: str | None = None  # the configuration it was booked through (counts for its daily cap)


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_EPOCH_ORDINAL = date(1970, 1, 1).toordinal()
_SECOND = timedelta(seconds=1)
_ONE_DAY = timedelta(days=1)
_DAY = 86_400
# The zone's offset is sampled once a day and a change found by bisection to the second: no zone
# changes its offset twice within 24 hours (DST changes are weeks apart).
_SAMPLE = _DAY
_PAD = 2 * _DAY  # beyond any UTC offset (±14 h) and any single DST shift


def booked(interview: Interview) -> Booked:
    """An interview as availability sees it: its time, its buffers and its configuration (if any)."""
    origin = interview.origin
    if origin is None:
        return Booked(interview.start, interview.end)
    return Booked(interview.start, interview.end, origin.buffer_before_minutes, origin.buffer_after_minutes, origin.config_id)


def local_date_window(day: date, tz_name: str, *, last: date | None = None) -> Interval:
    """The instants whose local date in ``tz_name`` is ``day`` (through ``last``): ``[start, end)``.

    23 hours on a spring-forward day, 25 on a fall-back day; a day whose midnight falls in a
    DST gap begins at the transition. ``tz_name`` is checked (``unknown_time_zone``).
    """
    tz = zone(tz_name)
    last = last or day
    first_local, end_local = _local_epoch(day), _local_epoch(last) + _DAY
    pieces = _pieces(_segments(tz, first_local - _PAD, end_local + _PAD), first_local, end_local)
    return Interval(_instant(pieces[0][0]), _instant(pieces[-1][1]))


def busy_query_window(config: SchedulingConfig, *, window_start: datetime, window_end: datetime, now: datetime) -> Interval:
    """What the ONE free/busy query must cover for ``free_slots`` with the same arguments.

    From the earliest possible slot start (window, notice) minus the before-buffer to the
    latest possible slot end (window, horizon) plus the after-buffer: a busy block outside it
    cannot touch a slot. (Interviews are read for the same span widened by the longest buffer
    an interview may keep, 240 minutes each side, and for whole local days when a daily cap is
    set.) An empty window gives an empty interval at its start.
    """
    tz = zone(config.timezone)
    earliest = max(window_start, now + timedelta(minutes=config.minimum_notice_minutes))
    horizon = local_date_window(now.astimezone(tz).date() + timedelta(days=config.days_ahead), config.timezone).end
    latest = min(window_end, horizon)
    if latest <= earliest:
        return Interval(earliest.astimezone(UTC), earliest.astimezone(UTC))
    return Interval(
        (earliest - timedelta(minutes=config.buffer_before_minutes)).astimezone(UTC),
        (latest + timedelta(minutes=config.duration_minutes + config.buffer_after_minutes)).astimezone(UTC),
    )


def free_slots(
    config: SchedulingConfig,
    *,
    window_start: datetime,
    window_end: datetime,
    now: datetime,
    busy: Sequence[Interval],
    bookings: Sequence[Booked],
) -> list[Slot]:
    """The free slots of ``config`` starting in ``[window_start, window_end)``, by the module's rules.

    Every datetime must be timezone-aware. ``busy`` are the host's busy blocks from the
    configuration's calendars, ``bookings`` the host's pending and confirmed interviews (of
    every configuration, and those booked without one).
    """
    tz = zone(config.timezone)
    weekdays = config.active_weekdays
    duration = config.duration_minutes * 60
    step = config.slot_step_minutes * 60
    before, after = config.buffer_before_minutes * 60, config.buffer_after_minutes * 60
    if not weekdays or duration <= 0 or step <= 0:
        return []
    earliest = max(_ceil(window_start), _ceil(now) + config.minimum_notice_minutes * 60)
    stop = _ceil(window_end)  # a start s is in the window when s < stop
    horizon = now.astimezone(tz).date() + timedelta(days=config.days_ahead)
    if earliest >= stop:
        return []
    first_day = _local_date(tz, earliest) - _ONE_DAY
    last_day = min(_local_date(tz, stop - 1) + _ONE_DAY, horizon)
    if first_day > last_day:
        return []
    segments = _segments(tz, _local_epoch(first_day) - _PAD, _local_epoch(last_day) + _DAY + _PAD)
    los, his = _forbidden_starts(busy, bookings, duration, before, after)
    capped = _capped_days(config, bookings, tz)
    ranges = _day_ranges(config.working_hours)

    starts: list[int] = []
    day = first_day
    while day <= last_day:
        if day.weekday() in weekdays and day not in capped:
            base = _local_epoch(day)
            for range_start, range_end in ranges.get(day.weekday(), ()):
                pieces = _pieces(segments, base + range_start * 60, base + range_end * 60)
                if not pieces:
                    continue
                anchor = pieces[0][0]
                for piece_start, piece_end in pieces:
                    low = max(piece_start, earliest)
                    high = min(piece_end - duration, stop - 1)  # the last start that fits
                    s = anchor + -(-(low - anchor) // step) * step  # the first grid point >= low
                    while s <= high:
                        i = bisect_left(los, s) - 1  # the last forbidden interval opening before s
                        if i >= 0 and s < his[i]:
                            s = anchor + -(-(his[i] - anchor) // step) * step  # skip past it
                            continue
                        starts.append(s)
                        s += step
        day += _ONE_DAY
    return _as_slots(sorted(set(starts)), duration, step)


# --- the pieces ----------------------------------------------------------------------------


def _floor(instant: datetime) -> int:
    return (instant - _EPOCH) // _SECOND


def _ceil(instant: datetime) -> int:
    return -((_EPOCH - instant) // _SECOND)


def _instant(seconds: int) -> datetime:
    return datetime.fromtimestamp(seconds, UTC)


def _as_slots(starts: list[int], duration: int, step: int) -> list[Slot]:
    """Sorted whole-second starts as slots; a start one step after the previous is a cheap addition."""
    length, step_delta = timedelta(seconds=duration), timedelta(seconds=step)
    slots: list[Slot] = []
    previous, instant = None, _EPOCH
    for s in starts:
        instant = instant + step_delta if previous is not None and s - previous == step else _instant(s)
        slots.append(Slot(instant, instant + length))
        previous = s
    return slots


def _local_epoch(day: date) -> int:
    """Local midnight of ``day`` as seconds on the zone's own (naive) clock."""
    return (day.toordinal() - _EPOCH_ORDINAL) * _DAY


def _local_date(tz: tzinfo, seconds: int) -> date:
    return datetime.fromtimestamp(seconds, tz).date()


def _offset(tz: tzinfo, seconds: int) -> int:
    offset = datetime.fromtimestamp(seconds, tz).utcoffset()
    return 0 if offset is None else offset // _SECOND


def _segments(tz: tzinfo, low: int, high: int) -> list[tuple[int, int, int]]:
    """``[start, end, utc_offset)`` runs covering ``[low, high)``: the zone's offset changes between them."""
    segments: list[tuple[int, int, int]] = []
    segment_start, at, current = low, low, _offset(tz, low)
    while at < high:
        sample = min(at + _SAMPLE, high)
        target = _offset(tz, sample)
        while target != current:  # a change in (at, sample]: bisect to the second it happens
            a, b = at, sample
            while b - a > 1:
                middle = (a + b) // 2
                if _offset(tz, middle) == current:
                    a = middle
                else:
                    b = middle
            segments.append((segment_start, b, current))
            segment_start, at, current = b, b, _offset(tz, b)
        at = sample
    segments.append((segment_start, high, current))
    return segments


def _pieces(segments: Sequence[tuple[int, int, int]], local_start: int, local_end: int) -> list[tuple[int, int]]:
    """The instants whose local (naive) clock reads ``[local_start, local_end)``, as sorted UTC runs."""
    pieces: list[tuple[int, int]] = []
    for seg_start, seg_end, offset in segments:
        low, high = max(local_start - offset, seg_start), min(local_end - offset, seg_end)
        if low < high:
            if pieces and pieces[-1][1] == low:
                pieces[-1] = (pieces[-1][0], high)
            else:
                pieces.append((low, high))
    return pieces


def _forbidden_starts(
    busy: Sequence[Interval], bookings: Sequence[Booked], duration: int, before: int, after: int
) -> tuple[list[int], list[int]]:
    """Disjoint open intervals ``(lo, hi)`` of slot starts whose buffered span would overlap busy time.

    ``[s - before, s + duration + after)`` overlaps ``[a, b)`` iff ``a - duration - after < s < b + before``.
    """
    spans = [(_floor(b.start) - duration - after, _ceil(b.end) + before) for b in busy if b.end > b.start]
    spans += [
        (
            _floor(b.start) - b.buffer_before_minutes * 60 - duration - after,
            _ceil(b.end) + b.buffer_after_minutes * 60 + before,
        )
        for b in bookings
        if b.end > b.start
    ]
    spans.sort()
    los: list[int] = []
    his: list[int] = []
    for lo, hi in spans:
        if his and lo < his[-1]:  # overlapping open intervals; touching ones leave their common point free
            his[-1] = max(his[-1], hi)
        else:
            los.append(lo)
            his.append(hi)
    return los, his


def _capped_days(config: SchedulingConfig, bookings: Sequence[Booked], tz: tzinfo) -> set[date]:
    if config.daily_cap is None:
        return set()
    per_day = Counter(b.start.astimezone(tz).date() for b in bookings if b.config_id == config.id)
    return {day for day, count in per_day.items() if count >= config.daily_cap}


def _day_ranges(working_hours: Mapping[int, tuple[WorkingRange, ...]]) -> dict[int, list[tuple[int, int]]]:
    """Each weekday's ranges as minutes, sorted, touching (or overlapping) ones joined."""
    days: dict[int, list[tuple[int, int]]] = {}
    for weekday, ranges in working_hours.items():
        joined: list[tuple[int, int]] = []
        for r in sorted(ranges):
            if joined and r.start_minute <= joined[-1][1]:
                joined[-1] = (joined[-1][0], max(joined[-1][1], r.end_minute))
            elif r.start_minute < r.end_minute:
                joined.append((r.start_minute, r.end_minute))
        days[weekday] = joined
    return days
