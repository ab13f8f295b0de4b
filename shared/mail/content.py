"""What an interview email says, for each kind and each side, as text, HTML and .ics.

Pure: the only I/O is reading templates from shared/templates/email. Jinja2 loads on the
first render, so functions that never send mail do not pay for it at cold start. HTML
templates are autoescaped (a host's note is untrusted text); text templates are not, so
the plain-text part shows the note exactly as written.

Times are always shown in the zone the interview was booked in, with the zone's name and
UTC offset, never in the server's zone.

Links are given by the caller, already signed (the email worker signs them at send time,
nothing signed is stored): each kind and side shows only its own (``carries_*_link``).
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
    # A booking link in request mode (SPEC §2.6): nothing is scheduled until the host confirms.
    BOOKING_REQUEST = "booking_request"  # to the host: confirm or decline the guest's request
    REQUEST_RECEIVED = "request_received"  # to the guest: the request went to the host
    REQUEST_DECLINED = "request_declined"  # to the guest: the host declined it


class NoticeKind(str, enum.Enum):
    """Emails to a host about its account, with no interview behind them (rendered by ``render_notice``)."""

    RECONNECT = "reconnect"


class Audience(str, enum.Enum):
    CANDIDATE = "candidate"  # the interview's guest
    HOST = "host"  # the recruiter or mentor


# Who gets each kind: a request is the host's to answer, its receipt and outcome the guest's.
AUDIENCES: dict[EmailKind, tuple[Audience, ...]] = {kind: (Audience.CANDIDATE, Audience.HOST) for kind in EmailKind} | {
    EmailKind.BOOKING_REQUEST: (Audience.HOST,),
    EmailKind.REQUEST_RECEIVED: (Audience.CANDIDATE,),
    EmailKind.REQUEST_DECLINED: (Audience.CANDIDATE,),
}
# Emails about a request: no Calendar event, Meet link, join link or .ics exists yet (or ever).
REQUEST_KINDS = frozenset({EmailKind.BOOKING_REQUEST, EmailKind.REQUEST_RECEIVED, EmailKind.REQUEST_DECLINED})
# Emails about an interview that is over before it happened: nothing left to join or manage.
_ENDED_KINDS = frozenset({EmailKind.CANCELLATION, EmailKind.REQUEST_DECLINED})


def carries_join_link(kind: EmailKind, audience: Audience) -> bool:
    """Whether the email shows the candidate's portal join link (so the worker signs one)."""
    return audience is Audience.CANDIDATE and kind not in _ENDED_KINDS and kind not in REQUEST_KINDS


def carries_manage_link(kind: EmailKind, audience: Audience) -> bool:
    """Whether the email shows the guest's "Manage your booking" link: every guest email
    about a booking still standing (a request too: the guest may withdraw it)."""
    return audience is Audience.CANDIDATE and kind not in _ENDED_KINDS


def carries_respond_links(kind: EmailKind, audience: Audience) -> bool:
    """Whether the email shows the host's Confirm and Decline links."""
    return kind is EmailKind.BOOKING_REQUEST and audience is Audience.HOST


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
    EmailKind.BOOKING_REQUEST: "booking_request",
    EmailKind.REQUEST_RECEIVED: "request_received",
    EmailKind.REQUEST_DECLINED: "request_declined",
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
    manage_url: str | None = None,
    confirm_url: str | None = None,
    decline_url: str | None = None,
    from_name: str = "Convene",
    now: datetime,
) -> RenderedEmail:
    """The email of ``kind`` for one side of ``interview``.

    The links are the recipient's own signed links, each shown only where it belongs
    (``carries_join_link``, ``carries_manage_link``, ``carries_respond_links``), so a host
    never sees the guest's: ``portal_join_url`` the portal join page (never in a
    cancellation or about a request), ``manage_url`` the guest's manage page (every guest
    email but a cancellation or a declined request), ``confirm_url`` / ``decline_url`` the
    host's answers to a booking request. A link not given is simply not shown.
    ``now`` stamps the .ics and says how soon a reminded interview starts, so a reminder
    sent late still tells the truth.
    """
    if audience not in AUDIENCES[kind]:
        raise ValueError(f"a {kind.value} email is not sent to the {audience.value}")
    recipient, other = (interview.guest, interview.host) if audience is Audience.CANDIDATE else (interview.host, interview.guest)
    lead_time = _lead_time(interview.start - now)
    subject = _subject(kind, interview, other, lead_time)
    request = kind in REQUEST_KINDS
    method = _ICS_METHOD.get(kind)
    if kind is EmailKind.CANCELLATION and not interview.ical_uid:
        method = None  # a request withdrawn before it was confirmed: it never reached a calendar
    context: dict[str, Any] = {
        "audience": audience.value,
        "subject": subject,
        "from_name": from_name,
        "recipient": recipient,
        "host": interview.host,
        "guest": interview.guest,
        "job_title": interview.job_title,
        # what the meeting is about, after "interview": a recruiter's position, or a booking link's configuration
        "about": _about(interview),
        "when": describe_time(interview.start, interview.end, interview.timezone),
        "duration_minutes": interview.duration_minutes,
        "type_label": _TYPE_LABEL[interview.type],
        # A request has no video link yet: it comes with the invitation once confirmed.
        "has_video_link": interview.type.has_video_link and not request,
        "meet_link": None if request else video_link(interview),
        "phone": interview.phone if interview.type is InterviewType.PHONE else None,
        "location": interview.location if interview.type is InterviewType.IN_PERSON else None,
        "portal_join_url": portal_join_url if carries_join_link(kind, audience) else None,
        "manage_url": manage_url if carries_manage_link(kind, audience) else None,
        "confirm_url": confirm_url if carries_respond_links(kind, audience) else None,
        "decline_url": decline_url if carries_respond_links(kind, audience) else None,
        # Booked through a booking link, the note is the guest's own (the host's otherwise);
        # only such a booking can be moved to another free slot from the manage page.
        "note": interview.note,
        # why it was cancelled or declined, and by which side (the reason is the canceller's text)
        "cancel_reason": interview.cancellation.reason if interview.cancellation else None,
        "cancelled_by_guest": bool(interview.cancellation and interview.cancellation.by == "guest"),
        "note_by_guest": request or interview.origin is not None,
        "reschedulable": interview.origin is not None,
        "request": request,
        "lead_time": lead_time,
        "has_ics": method is not None,
    }
    environment = _environment()
    name = _TEMPLATE[kind]
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


def _about(interview: Interview) -> str:
    if not interview.job_title:
        return ""
    if interview.origin is not None:  # booked through a link: the title is the configuration's name
        return f" ({interview.job_title})"
    return f" for the {interview.job_title} position"


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
    when = _short_time(interview.start, interview.timezone)
    if kind is EmailKind.BOOKING_REQUEST:
        subject = f"New booking request from {other.name} for {when}"
    elif kind is EmailKind.REQUEST_RECEIVED:
        subject = f"Your request for {when} was sent to {other.name}"
    elif kind is EmailKind.REQUEST_DECLINED:
        subject = f"{other.name} declined your request for {when}"
    else:
        topic = f"{interview.job_title} interview" if interview.job_title else "Interview"
        reminder = f" {lead_time}" if kind in (EmailKind.REMINDER_24H, EmailKind.REMINDER_1H) else ""
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
