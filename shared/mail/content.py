"""What an interview email says, for each kind and each side, as text, HTML and .ics.

Pure: the only I/O is reading templates from shared/templates/email. Jinja2 loads on the
first render, so functions that never send mail do not pay for it at cold start. HTML
templates are autoescaped (a host's note is untrusted text); text templates are not, so
the plain-text part shows the note exactly as written.

Times are always shown in the zone the interview was booked in, with the zone's name and
UTC offset, never in the server's zone.
"""

from __future__ import annotations

import enum
import functools
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from shared.domain.models import Interview, InterviewType, Person
from shared.domain.timezones import zone
from shared.mail.ics import CANCEL, REQUEST, build_ics, video_link
from shared.pages import TEMPLATES

if TYPE_CHECKING:
    import jinja2


class EmailKind(str, enum.Enum):
    INVITATION = "invitation"
    UPDATE = "update"
    CANCELLATION = "cancellation"
    REMINDER_24H = "reminder_24h"
    REMINDER_1H = "reminder_1h"


class NoticeKind(str, enum.Enum):
    """Emails to a host about its account, with no interview behind them (rendered by ``render_notice``)."""

    RECONNECT = "reconnect"


class Audience(str, enum.Enum):
    CANDIDATE = "candidate"  # the interview's guest
    HOST = "host"  # the recruiter or mentor


@dataclass(frozen=True)
class RenderedEmail:
    to_email: str
    to_name: str
    subject: str
    text: str
    html: str
    ics: bytes | None  # the calendar attachment, sent as text/calendar; method=<ics_method>
    ics_method: str | None  # "REQUEST" or "CANCEL"


# Both reminders share one template: the lead time is data, so reminder offsets can change.
_TEMPLATE = {
    EmailKind.INVITATION: "invitation",
    EmailKind.UPDATE: "update",
    EmailKind.CANCELLATION: "cancellation",
    EmailKind.REMINDER_24H: "reminder",
    EmailKind.REMINDER_1H: "reminder",
}
_SUBJECT_PREFIX = {
    EmailKind.INVITATION: "Invitation",
    EmailKind.UPDATE: "Updated",
    EmailKind.CANCELLATION: "Cancelled",
    EmailKind.REMINDER_24H: "Reminder",
    EmailKind.REMINDER_1H: "Reminder",
}
# Reminders carry no .ics: re-sending a REQUEST would make clients treat it as a fresh
# invitation (RSVP prompts again, a declined event may come back) and adds nothing.
_ICS_METHOD = {EmailKind.INVITATION: REQUEST, EmailKind.UPDATE: REQUEST, EmailKind.CANCELLATION: CANCEL}
# Notices: template and subject.
_NOTICES = {NoticeKind.RECONNECT: ("reconnect", "Action needed: reconnect your Google account")}
_TYPE_LABEL = {
    InterviewType.GOOGLE_MEET: "Google Meet video call",
    InterviewType.CUSTOM_VIDEO: "Video call",
    InterviewType.PHONE: "Phone call",
    InterviewType.IN_PERSON: "In person",
}
# English names, independent of the server's locale.
_DAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
_MONTHS = (
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
)


def render_email(
    kind: EmailKind,
    audience: Audience,
    interview: Interview,
    *,
    portal_join_url: str | None,
    from_name: str = "Convene",
    now: datetime,
) -> RenderedEmail:
    """The email of ``kind`` for one side of ``interview``.

    ``portal_join_url`` is the recipient's own link to the portal join page (for the
    candidate, its signed guest link); it is shown whenever given, except in a cancellation.
    ``now`` stamps the .ics and says how soon a reminded interview starts, so a reminder
    sent late still tells the truth.
    """
    recipient, other = (interview.guest, interview.host) if audience is Audience.CANDIDATE else (interview.host, interview.guest)
    lead_time = _lead_time(interview.start - now)
    subject = _subject(kind, interview, other, lead_time)
    context: dict[str, Any] = {
        "audience": audience.value,
        "subject": subject,
        "from_name": from_name,
        "recipient": recipient,
        "host": interview.host,
        "guest": interview.guest,
        "job_title": interview.job_title,
        "when": describe_time(interview.start, interview.end, interview.timezone),
        "duration_minutes": interview.duration_minutes,
        "type_label": _TYPE_LABEL[interview.type],
        "has_video_link": interview.type.has_video_link,
        "meet_link": video_link(interview),
        "phone": interview.phone if interview.type is InterviewType.PHONE else None,
        "location": interview.location if interview.type is InterviewType.IN_PERSON else None,
        "portal_join_url": None if kind is EmailKind.CANCELLATION else portal_join_url,
        "note": interview.note,
        "lead_time": lead_time,
    }
    environment = _environment()
    name = _TEMPLATE[kind]
    method = _ICS_METHOD.get(kind)
    return RenderedEmail(
        to_email=recipient.email,
        to_name=recipient.name,
        subject=subject,
        text=environment.get_template(f"email/{name}.txt").render(context),
        html=environment.get_template(f"email/{name}.html").render(context),
        ics=build_ics(interview, method=method, now=now) if method else None,
        ics_method=method,
    )


def render_notice(
    kind: NoticeKind, *, to_email: str, to_name: str, reconnect_url: str | None, from_name: str = "Convene"
) -> RenderedEmail:
    """The email of a notice kind: what happened to the host's account and the link that fixes it."""
    template, subject = _NOTICES[kind]
    context = {"subject": subject, "from_name": from_name, "recipient_name": to_name, "reconnect_url": reconnect_url}
    environment = _environment()
    return RenderedEmail(
        to_email=to_email,
        to_name=to_name,
        subject=subject,
        text=environment.get_template(f"email/{template}.txt").render(context),
        html=environment.get_template(f"email/{template}.html").render(context),
        ics=None,
        ics_method=None,
    )


def describe_time(start: datetime, end: datetime, tz_name: str) -> str:
    """E.g. "Monday, 1 June 2026, 14:10–14:55 (Europe/Berlin, UTC+02:00)".

    When the clocks change during the interview each end carries its own offset, so
    "01:30 UTC-04:00 – 02:30 UTC-05:00" is not read as one hour.
    """
    tz = zone(tz_name)
    first, last = start.astimezone(tz), end.astimezone(tz)
    same_offset = first.utcoffset() == last.utcoffset()

    def at(moment: datetime) -> str:
        return f"{moment:%H:%M}" if same_offset else f"{moment:%H:%M} {_utc_offset(moment)}"

    if first.date() == last.date():
        span = f"{at(first)}–{at(last)}" if same_offset else f"{at(first)} – {at(last)}"
    else:
        span = f"{at(first)} – {_long_date(last)}, {at(last)}"
    zone_note = f"{tz_name}, {_utc_offset(first)}" if same_offset else tz_name
    return f"{_long_date(first)}, {span} ({zone_note})"


def _subject(kind: EmailKind, interview: Interview, other: Person, lead_time: str) -> str:
    """E.g. "Invitation: Backend Engineer interview with Hana Host — Mon 1 Jun, 14:10 CEST"."""
    topic = f"{interview.job_title} interview" if interview.job_title else "Interview"
    reminder = f" {lead_time}" if kind in (EmailKind.REMINDER_24H, EmailKind.REMINDER_1H) else ""
    when = _short_time(interview.start, interview.timezone)
    subject = f"{_SUBJECT_PREFIX[kind]}: {topic} with {other.name}{reminder} — {when}"
    return " ".join(subject.split())  # names and titles are user input: no line breaks in a header


def _short_time(start: datetime, tz_name: str) -> str:
    """E.g. "Mon 1 Jun, 14:10 CEST"; zones without a letter abbreviation show "UTC+03:00"."""
    local = start.astimezone(zone(tz_name))
    abbreviation = local.tzname() or ""
    label = abbreviation if abbreviation.isalpha() else _utc_offset(local)
    return f"{_DAYS[local.weekday()][:3]} {local.day} {_MONTHS[local.month - 1][:3]}, {local:%H:%M} {label}"


def _long_date(moment: datetime) -> str:
    return f"{_DAYS[moment.weekday()]}, {moment.day} {_MONTHS[moment.month - 1]} {moment.year}"


def _utc_offset(moment: datetime) -> str:
    minutes = int((moment.utcoffset() or timedelta()).total_seconds() // 60)
    hours, rest = divmod(abs(minutes), 60)
    return f"UTC{'-' if minutes < 0 else '+'}{hours:02d}:{rest:02d}"


def _lead_time(until_start: timedelta) -> str:
    """How soon the interview starts, in words: "in 24 hours", "in 1 hour", "in 40 minutes"."""
    minutes = round(until_start.total_seconds() / 60)
    if minutes < 1:
        return "now"
    if minutes < 60:
        return f"in {minutes} minute{'s' if minutes != 1 else ''}"
    hours = int(minutes / 60 + 0.5)
    if hours < 48:
        return f"in {hours} hour{'s' if hours != 1 else ''}"
    return f"in {int(hours / 24 + 0.5)} days"


@functools.cache
def _environment() -> jinja2.Environment:
    """One environment per process: HTML autoescaped, text verbatim, unknown names an error."""
    import jinja2

    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES),
        autoescape=jinja2.select_autoescape(enabled_extensions=("html",), default_for_string=True, default=False),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
