"""Interview emails: every kind for both sides, in the booking zone, with untrusted text kept harmless."""

from __future__ import annotations

import itertools
import time
from datetime import UTC, datetime, timedelta

import jinja2
import pytest
from icalendar import Calendar

from shared.domain.models import Interview, InterviewType, Person
from shared.mail import Audience, EmailKind, RenderedEmail, content, describe_time, render_email
from tests.factories import GUEST, HOST, interview

START = datetime(2026, 6, 1, 12, 10, tzinfo=UTC)  # Monday 14:10 in Berlin (CEST)
PORTAL = "https://convene.example/join/iv-1?token=abc&sig=def"
SCRIPT = "<script>alert(1)</script>"
TYPES = {
    InterviewType.GOOGLE_MEET: {"meet_link": "https://meet.google.com/abc-mnop-xyz"},
    InterviewType.CUSTOM_VIDEO: {"meet_link": "https://video.example/room/42"},
    InterviewType.PHONE: {"phone": "+49 30 1234567", "meet_link": None},
    InterviewType.IN_PERSON: {"location": "Acme HQ, Torstraße 1, 10119 Berlin", "meet_link": None},
}


def render(
    kind: EmailKind, audience: Audience, iv: Interview | None = None, *, now: datetime | None = None, portal: str | None = PORTAL
) -> RenderedEmail:
    iv = iv or interview(start=START, note=SCRIPT)
    return render_email(kind, audience, iv, portal_join_url=portal, now=now or iv.start - timedelta(days=2))


@pytest.mark.parametrize(("kind", "audience", "type_"), list(itertools.product(EmailKind, Audience, InterviewType)))
def test_every_kind_renders_for_both_sides_and_every_type(kind: EmailKind, audience: Audience, type_: InterviewType):
    """Rendering everything once lets StrictUndefined catch any template mistake."""
    iv = interview(start=START, type=type_, note="Ask for Dana at the desk.", **TYPES[type_])
    email = render(kind, audience, iv)
    recipient = GUEST if audience is Audience.CANDIDATE else HOST
    assert (email.to_email, email.to_name) == (recipient.email, recipient.name)
    assert email.subject and email.text.strip() and email.html.strip()
    assert "\n" not in email.subject
    for body in (email.text, email.html):
        assert "None" not in body
        assert "Monday, 1 June 2026, 14:10–14:55 (Europe/Berlin, UTC+02:00)" in body
        assert "Ask for Dana at the desk." in body
        assert "Backend Engineer" in body
    if type_.has_video_link:
        assert iv.meet_link in email.text and iv.meet_link in email.html
    if type_ is InterviewType.PHONE:
        assert iv.phone in email.text and iv.phone in email.html
    if type_ is InterviewType.IN_PERSON:
        assert iv.location in email.text and iv.location in email.html
    if not type_.has_video_link:
        assert "meet.google.com" not in email.text + email.html


@pytest.mark.parametrize("kind", list(EmailKind))
def test_the_candidate_gets_the_job_title_the_host_and_the_portal_link(kind: EmailKind):
    email = render(kind, Audience.CANDIDATE)
    assert HOST.name in email.subject and "Backend Engineer" in email.subject
    for body in (email.text, email.html.replace("&amp;", "&")):
        assert HOST.name in body and "Backend Engineer" in body
        assert (PORTAL in body) is (kind is not EmailKind.CANCELLATION)


@pytest.mark.parametrize("kind", list(EmailKind))
def test_the_host_variant_names_the_candidate(kind: EmailKind):
    email = render(kind, Audience.HOST, portal=None)
    assert GUEST.name in email.subject
    for body in (email.text, email.html):
        assert GUEST.name in body and GUEST.email in body
        assert "Join via portal" not in body
    assert f'href="mailto:{GUEST.email}"' in email.html


def test_a_cancellation_offers_nothing_to_join():
    email = render(EmailKind.CANCELLATION, Audience.CANDIDATE)
    for body in (email.text, email.html):
        assert "Join the video call" not in body and "Join via portal" not in body
    assert "cancelled" in email.text.lower()


def test_a_script_in_the_note_is_escaped_in_html_and_verbatim_in_text():
    email = render(EmailKind.INVITATION, Audience.CANDIDATE)
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in email.html
    assert SCRIPT not in email.html
    assert SCRIPT in email.text
    assert "&lt;" not in email.text and "&amp;" not in email.text


def test_names_and_titles_are_escaped_in_html_too():
    iv = interview(
        start=START,
        job_title='<img src=x onerror="alert(1)">',
        guest=Person(email="gus@candidates.example", name="Gus <b>Guest</b>"),
    )
    email = render(EmailKind.INVITATION, Audience.HOST, iv)
    assert "<img" not in email.html and "<b>" not in email.html
    assert "&lt;img" in email.html and "Gus &lt;b&gt;Guest&lt;/b&gt;" in email.html
    assert "Gus <b>Guest</b>" in email.text


def test_a_custom_link_that_is_not_a_web_address_is_never_a_link():
    iv = interview(start=START, type=InterviewType.CUSTOM_VIDEO, meet_link="javascript:alert(1)")
    email = render(EmailKind.INVITATION, Audience.CANDIDATE, iv)
    assert "javascript:" not in email.html and "javascript:" not in email.text
    assert "not available yet" in email.text


@pytest.mark.parametrize(
    ("kind", "method"),
    [
        (EmailKind.INVITATION, "REQUEST"),
        (EmailKind.UPDATE, "REQUEST"),
        (EmailKind.CANCELLATION, "CANCEL"),
    ],
)
@pytest.mark.parametrize("audience", list(Audience))
def test_invitations_and_updates_carry_a_request_and_cancellations_a_cancel(kind, method, audience):
    iv = interview(start=START, ical_sequence=3)
    email = render(kind, audience, iv)
    assert email.ics_method == method
    calendar = Calendar.from_ical(email.ics)
    (event,) = calendar.walk("VEVENT")
    assert calendar["METHOD"] == method
    assert (event["UID"], event["SEQUENCE"]) == (iv.ical_uid, 3)
    assert event["STATUS"] == ("CANCELLED" if method == "CANCEL" else "CONFIRMED")


@pytest.mark.parametrize("kind", [EmailKind.REMINDER_24H, EmailKind.REMINDER_1H])
def test_reminders_carry_no_calendar_attachment(kind: EmailKind):
    email = render(kind, Audience.CANDIDATE)
    assert (email.ics, email.ics_method) == (None, None)


@pytest.mark.parametrize(
    ("kind", "before", "words"),
    [
        (EmailKind.REMINDER_24H, timedelta(hours=24), "in 24 hours"),
        (EmailKind.REMINDER_1H, timedelta(hours=1), "in 1 hour"),
        (EmailKind.REMINDER_1H, timedelta(minutes=40), "in 40 minutes"),  # a late run says how soon it really is
    ],
)
def test_reminders_say_how_soon_the_interview_starts(kind: EmailKind, before: timedelta, words: str):
    email = render(kind, Audience.HOST, now=START - before)
    assert email.subject == f"Reminder: Backend Engineer interview with {GUEST.name} {words} — Mon 1 Jun, 14:10 CEST"
    assert f"starts {words}" in email.text and f"starts {words}" in email.html


def test_subjects_name_the_kind_the_other_side_and_the_local_time():
    subjects = {kind: render(kind, Audience.CANDIDATE).subject for kind in EmailKind}
    assert subjects[EmailKind.INVITATION] == "Invitation: Backend Engineer interview with Hana Host — Mon 1 Jun, 14:10 CEST"
    assert subjects[EmailKind.UPDATE] == "Updated: Backend Engineer interview with Hana Host — Mon 1 Jun, 14:10 CEST"
    assert subjects[EmailKind.CANCELLATION] == "Cancelled: Backend Engineer interview with Hana Host — Mon 1 Jun, 14:10 CEST"


def test_without_a_job_title_the_email_still_reads_well():
    email = render(EmailKind.INVITATION, Audience.CANDIDATE, interview(start=START, job_title=None))
    assert email.subject == "Invitation: Interview with Hana Host — Mon 1 Jun, 14:10 CEST"
    assert "Position" not in email.text and "position" not in email.html


def test_user_text_cannot_break_the_subject_line():
    email = render(EmailKind.INVITATION, Audience.CANDIDATE, interview(start=START, job_title="Backend\r\nBcc: x@evil.example"))
    assert "\r" not in email.subject and "\n" not in email.subject


def test_new_york_interviews_read_in_new_york_time_whatever_the_servers_zone(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("TZ", "Asia/Tokyo")
    time.tzset()
    try:
        iv = interview(start=datetime(2026, 6, 1, 18, 0, tzinfo=UTC), timezone="America/New_York")
        email = render(EmailKind.INVITATION, Audience.CANDIDATE, iv)
    finally:
        monkeypatch.undo()
        time.tzset()
    assert "Monday, 1 June 2026, 14:00–14:45 (America/New_York, UTC-04:00)" in email.text
    assert email.subject.endswith("Mon 1 Jun, 14:00 EDT")


def test_an_interview_across_a_clock_change_shows_both_offsets():
    start = datetime(2026, 11, 1, 5, 30, tzinfo=UTC)  # 01:30 EDT; two hours later it is 02:30 EST
    assert describe_time(start, start + timedelta(hours=2), "America/New_York") == (
        "Sunday, 1 November 2026, 01:30 UTC-04:00 – 02:30 UTC-05:00 (America/New_York)"
    )


def test_an_interview_past_midnight_names_both_days():
    start = datetime(2026, 6, 1, 21, 30, tzinfo=UTC)  # 23:30 in Berlin
    assert describe_time(start, start + timedelta(minutes=45), "Europe/Berlin") == (
        "Monday, 1 June 2026, 23:30 – Tuesday, 2 June 2026, 00:15 (Europe/Berlin, UTC+02:00)"
    )


def test_zones_without_a_letter_abbreviation_show_the_offset_in_the_subject():
    email = render(EmailKind.INVITATION, Audience.CANDIDATE, interview(start=START, timezone="America/Sao_Paulo"))
    assert email.subject.endswith("Mon 1 Jun, 09:10 UTC-03:00")


def test_the_email_environment_refuses_undefined_names():
    with pytest.raises(jinja2.UndefinedError):
        content._environment().from_string("{{ missing }}").render()
