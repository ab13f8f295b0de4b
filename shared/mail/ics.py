"""The .ics attachment of interview emails: an iTIP message (RFC 5546) built with icalendar.

icalendar is imported inside ``build_ics``: functions that never send mail do not load it
at cold start.

The VTIMEZONE is built here from zoneinfo's real UTC transitions rather than with
icalendar's ``Timezone.from_tzinfo``: icalendar 7.3 writes the onset of daylight time as
the wall time *after* the jump (``DTSTART:…T030000`` with ``TZOFFSETFROM:+0100`` for
Berlin), which RFC 5545 §3.6.5 reads as one hour late, so clients that trust the
VTIMEZONE (libical, Outlook) would misplace an interview booked right after the change.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from shared.domain.models import Interview, InterviewType
from shared.domain.timezones import zone

if TYPE_CHECKING:
    from icalendar import Event, Timezone, vCalAddress

PRODID = "-//Convene//Interviews//EN"
REQUEST = "REQUEST"
CANCEL = "CANCEL"
ALARM_BEFORE = timedelta(minutes=15)
_DAY = 86_400


def build_ics(interview: Interview, *, method: str, now: datetime, organizer_name: str | None = None) -> bytes:
    """The calendar invitation (``REQUEST``) or cancellation (``CANCEL``) of ``interview``.

    Clients match updates and cancellations to the event they already hold by UID and keep
    the one with the highest SEQUENCE, so the caller bumps ``interview.ical_sequence`` on
    every reschedule and cancel. ``organizer_name`` replaces the host's name as the
    organizer's display name (CN), e.g. for a team calendar.
    """
    if not interview.ical_uid:
        raise ValueError(f"Interview {interview.id} has no iCalendar UID; it cannot be sent as an invitation.")
    if method not in (REQUEST, CANCEL):
        raise ValueError(f"Unsupported iTIP method {method!r}; use {REQUEST} or {CANCEL}.")
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware.")
    from icalendar import Calendar

    tz = zone(interview.timezone)
    calendar = Calendar()
    calendar.add("PRODID", PRODID)
    calendar.add("VERSION", "2.0")
    calendar.add("CALSCALE", "GREGORIAN")
    calendar.add("METHOD", method)
    calendar.add_component(_vtimezone(tz, interview.start, interview.end))
    calendar.add_component(_event(interview, tz, method=method, now=now, organizer_name=organizer_name))
    return calendar.to_ical()


def summary(interview: Interview) -> str:
    """The calendar entry's title, the same in both participants' calendars."""
    topic = f"{interview.job_title} interview" if interview.job_title else "Interview"
    return f"{topic}: {interview.guest.name} & {interview.host.name}"


def _event(interview: Interview, tz: ZoneInfo, *, method: str, now: datetime, organizer_name: str | None) -> Event:
    from icalendar import Alarm, Event, vCalAddress

    event = Event()
    event.add("UID", interview.ical_uid)
    event.add("SEQUENCE", interview.ical_sequence)
    event.add("DTSTAMP", now.astimezone(timezone.utc))
    event.add("DTSTART", _ical_time(interview.start, tz))
    event.add("DTEND", _ical_time(interview.end, tz))
    event.add("SUMMARY", summary(interview))
    event.add("DESCRIPTION", _description(interview))
    location = _location(interview)
    if location:
        event.add("LOCATION", location)
    link = video_link(interview)
    if link:
        event.add("URL", link)
    event.add("ORGANIZER", vCalAddress.new(interview.host.email, cn=organizer_name or interview.host.name))
    for attendee in _attendees(interview, method):
        event.add("ATTENDEE", attendee)
    event.add("STATUS", "CONFIRMED" if method == REQUEST else "CANCELLED")
    event.add("TRANSP", "OPAQUE")
    if method == REQUEST:  # RFC 5546 §3.2.5 allows no VALARM in a CANCEL
        alarm = Alarm()
        alarm.add("ACTION", "DISPLAY")
        alarm.add("TRIGGER", -ALARM_BEFORE)
        alarm.add("DESCRIPTION", f"Starts in {int(ALARM_BEFORE.total_seconds() // 60)} minutes: {summary(interview)}")
        event.add_component(alarm)
    return event


def _attendees(interview: Interview, method: str) -> list[vCalAddress]:
    """Both people: RFC 5546 wants every attendee named in a CANCEL of the whole event.

    The host is listed as an accepted attendee (as Google Calendar and Outlook do) so that
    the host's own client shows the interview as attended rather than merely organised.
    Only a REQUEST asks for a reply.
    """
    from icalendar import vCalAddress

    guest_reply = {"partstat": "NEEDS-ACTION", "rsvp": True} if method == REQUEST else {}
    host_reply = {"partstat": "ACCEPTED", "rsvp": False} if method == REQUEST else {}
    return [
        vCalAddress.new(interview.guest.email, cn=interview.guest.name, cutype="INDIVIDUAL", role="REQ-PARTICIPANT",
                        **guest_reply),
        vCalAddress.new(interview.host.email, cn=interview.host.name, cutype="INDIVIDUAL", role="REQ-PARTICIPANT",
                        **host_reply),
    ]


def _ical_time(instant: datetime, tz: ZoneInfo) -> datetime:
    """``instant`` as wall time in the booking zone, or in UTC where wall time cannot say it.

    RFC 5545 §3.3.5 reads a repeated wall time (the hour after clocks go back) as its first
    occurrence, so an instant in the second occurrence is written in UTC instead.
    """
    local = instant.astimezone(tz)
    if local.replace(fold=0).astimezone(timezone.utc) == instant:
        return local.replace(fold=0)
    return instant.astimezone(timezone.utc)


def _vtimezone(tz: ZoneInfo, start: datetime, end: datetime) -> Timezone:
    """The rules of ``tz`` for the calendar year(s) of the interview, one observance per change.

    Each onset is written, as RFC 5545 §3.6.5 defines it, in the wall time of the offset
    being left (TZOFFSETFROM). The first observance opens the window with no change.
    """
    from icalendar import Timezone, TimezoneDaylight, TimezoneStandard

    first = int(datetime(start.astimezone(tz).year, 1, 1, tzinfo=tz).timestamp())
    last = int(datetime(end.astimezone(tz).year + 1, 1, 1, tzinfo=tz).timestamp())
    vtimezone = Timezone()
    vtimezone.add("TZID", tz.key)
    offset_before = datetime.fromtimestamp(first, tz).utcoffset()
    for onset in [first, *_transitions(tz, first, last)]:
        local = datetime.fromtimestamp(onset, tz)
        observance = TimezoneDaylight() if local.dst() else TimezoneStandard()
        observance.add("DTSTART", datetime.fromtimestamp(onset, timezone.utc).replace(tzinfo=None) + offset_before)
        observance.add("TZOFFSETFROM", offset_before)
        observance.add("TZOFFSETTO", local.utcoffset())
        observance.add("TZNAME", local.tzname())
        vtimezone.add_component(observance)
        offset_before = local.utcoffset()
    return vtimezone


def _transitions(tz: ZoneInfo, first: int, last: int) -> list[int]:
    """The UTC seconds in [first, last) at which ``tz`` changes offset, DST flag or name.

    zoneinfo has no public list of transitions: scan day by day, then bisect to the second.
    """
    def state(seconds: int) -> tuple[timedelta | None, timedelta | None, str | None]:
        local = datetime.fromtimestamp(seconds, tz)
        return local.utcoffset(), local.dst(), local.tzname()

    onsets = []
    for day in range(first, last, _DAY):
        low, high = day, min(day + _DAY, last)
        if state(low) == state(high):
            continue
        while high - low > 1:
            middle = (low + high) // 2
            low, high = (middle, high) if state(middle) == state(low) else (low, middle)
        onsets.append(high)
    return onsets


def video_link(interview: Interview) -> str | None:
    """The link to the call, if the type has one and it is a web address.

    A custom video link is typed by the host: anything but http(s) (``javascript:``, ``data:``)
    is never offered as something to click.
    """
    link = interview.meet_link if interview.type.has_video_link else None
    return link if link and link.lower().startswith(("https://", "http://")) else None


def _location(interview: Interview) -> str | None:
    """Where to go: the video link, the address, or the number to call."""
    if interview.type.has_video_link:
        return video_link(interview)
    if interview.type is InterviewType.PHONE:
        return interview.phone
    return interview.location


def _description(interview: Interview) -> str:
    """Plain-text details for calendar clients, which do not show the email."""
    lines = [summary(interview)]
    if interview.type.has_video_link:
        link = video_link(interview)
        lines.append(f"Join the video call: {link}" if link else "Video call (link not available yet)")
    elif interview.type is InterviewType.PHONE:
        lines.append(f"Phone call: {interview.phone}" if interview.phone else "Phone call")
    elif interview.location:
        lines.append(f"In person at: {interview.location}")
    if interview.note:
        lines += ["", f"Note from {interview.host.name}:", interview.note]
    return "\n".join(lines)
