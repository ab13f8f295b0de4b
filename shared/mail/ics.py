"""The .ics attachment of interview emails: an iTIP message (RFC 5546) built with icalendar.

icalendar is imported inside ``build_ics``: functions that never send mail do not load it
at cold start.

**Times are written in UTC** (``DTSTART:20271031T003000Z``), always, with no TZID and no
VTIMEZONE. An interview is one instant, stored in UTC; a UTC time is the only form every
client reads as that same instant. A local time with a TZID is read through the file's
VTIMEZONE or the client's own zone database, and clients disagree around DST changes: in a
fold (the repeated hour after clocks go back, e.g. 02:30 in Berlin on 2027-10-31, or 01:45
on Lord Howe Island on 2027-04-04, whose clocks go back 30 minutes) RFC 5545 §3.3.5 means
the first occurrence, but libical 3.0 (Evolution and many Linux clients) reads the second,
one hour (or 30 minutes) late. UTC also needs no rule tables that could be stale, and an
interview never recurs, which is the one case where a TZID is needed. Google Calendar's own
invitations write single events the same way; Google Calendar, Outlook and Apple Calendar
show a UTC time in the viewer's zone, which is what a candidate elsewhere wants anyway. The
booking zone is not lost: the DESCRIPTION says when in it, with the UTC offset, as the
email does (``describe_time``).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from shared.domain.models import Interview, InterviewType

if TYPE_CHECKING:
    from icalendar import Event, vCalAddress

PRODID = "-//Convene//Interviews//EN"
REQUEST = "REQUEST"
CANCEL = "CANCEL"
ALARM_BEFORE = timedelta(minutes=15)


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

    calendar = Calendar()
    calendar.add("PRODID", PRODID)
    calendar.add("VERSION", "2.0")
    calendar.add("CALSCALE", "GREGORIAN")
    calendar.add("METHOD", method)
    calendar.add_component(_event(interview, method=method, now=now, organizer_name=organizer_name))
    return calendar.to_ical()


def summary(interview: Interview) -> str:
    """The calendar entry's title, the same in both participants' calendars."""
    topic = f"{interview.job_title} interview" if interview.job_title else "Interview"
    return f"{topic}: {interview.guest.name} & {interview.host.name}"


def _event(interview: Interview, *, method: str, now: datetime, organizer_name: str | None) -> Event:
    from icalendar import Alarm, Event, vCalAddress

    event = Event()
    event.add("UID", interview.ical_uid)
    event.add("SEQUENCE", interview.ical_sequence)
    event.add("DTSTAMP", now.astimezone(UTC))
    event.add("DTSTART", _utc(interview.start))  # UTC, never TZID: see the module's docstring
    event.add("DTEND", _utc(interview.end))
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

    request = method == REQUEST
    return [
        vCalAddress.new(
            interview.guest.email,
            cn=interview.guest.name,
            cutype="INDIVIDUAL",
            role="REQ-PARTICIPANT",
            partstat="NEEDS-ACTION" if request else None,
            rsvp=True if request else None,
        ),
        vCalAddress.new(
            interview.host.email,
            cn=interview.host.name,
            cutype="INDIVIDUAL",
            role="REQ-PARTICIPANT",
            partstat="ACCEPTED" if request else None,
            rsvp=False if request else None,
        ),
    ]


def _utc(instant: datetime) -> datetime:
    """``instant`` in UTC, written with a ``Z``; a naive datetime has no instant and is refused."""
    if instant.tzinfo is None:
        raise ValueError("Interview times must be timezone-aware.")
    return instant.astimezone(UTC)


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
    """Plain-text details for calendar clients, which do not show the email.

    The "When:" line gives the time in the booking zone with its UTC offset, since the
    event's own times are UTC and clients show them in the viewer's zone.
    """
    from shared.mail.content import describe_time  # content imports this module

    lines = [summary(interview), f"When: {describe_time(interview.start, interview.end, interview.timezone)}"]
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
