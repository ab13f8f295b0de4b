"""Interview emails: every kind for both sides, in the booking zone, with untrusted text kept harmless."""

from __future__ import annotations

import itertools
import json
import time
from datetime import UTC, datetime, timedelta

import jinja2
import pytest
from icalendar import Calendar

from shared.auth.guest_links import CONFIRM, DECLINE, JOIN, MANAGE, GuestLinks
from shared.config import Settings
from shared.domain.models import BookingOrigin, Interview, InterviewStatus, InterviewType, Person
from shared.errors import Unauthenticated
from shared.mail import Audience, EmailKind, RenderedEmail, content, describe_time, render_email
from shared.mail.content import AUDIENCES, REQUEST_KINDS
from shared.secrets import LocalSecrets
from shared.services.portal import manage_url, respond_url
from tests.factories import GUEST, HOST, NOW, interview

START = datetime(2026, 6, 1, 12, 10, tzinfo=UTC)  # Monday 14:10 in Berlin (CEST)
PORTAL = "https://convene.example/join/iv-1?token=abc&sig=def"
MANAGE_LINK = "https://scheduling.example/manage#token=cvg1.manage&x"
CONFIRM_LINK = "https://scheduling.example/respond#token=cvg1.confirm&x"
DECLINE_LINK = "https://scheduling.example/respond#token=cvg1.decline&x"
# Every kind with each side it is sent to (a booking request goes to the host only, its receipt and decline to the guest only).
PAIRS = [(kind, audience) for kind in EmailKind for audience in AUDIENCES[kind]]
CLASSIC = [kind for kind in EmailKind if kind not in REQUEST_KINDS]  # sent to both sides
SCRIPT = "<script>alert(1)</script>"
TYPES = {
    InterviewType.GOOGLE_MEET: {"meet_link": "https://meet.google.com/abc-mnop-xyz"},
    InterviewType.CUSTOM_VIDEO: {"meet_link": "https://video.example/room/42"},
    InterviewType.PHONE: {"phone": "+49 30 1234567", "meet_link": None},
    InterviewType.IN_PERSON: {"location": "Acme HQ, Torstraße 1, 10119 Berlin", "meet_link": None},
}


def render(
    kind: EmailKind,
    audience: Audience,
    iv: Interview | None = None,
    *,
    now: datetime | None = None,
    portal: str | None = PORTAL,
    manage: str | None = MANAGE_LINK,
) -> RenderedEmail:
    """Every link given, as the worker would for the candidate: each email must show only its own."""
    iv = iv or interview(start=START, note=SCRIPT)
    return render_email(
        kind,
        audience,
        iv,
        portal_join_url=portal,
        manage_url=manage,
        confirm_url=CONFIRM_LINK,
        decline_url=DECLINE_LINK,
        now=now or iv.start - timedelta(days=2),
    )


@pytest.mark.parametrize(("kind", "audience", "type_"), [(k, a, t) for (k, a), t in itertools.product(PAIRS, InterviewType)])
def test_every_kind_renders_for_its_sides_and_every_type(kind: EmailKind, audience: Audience, type_: InterviewType):
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
    if type_.has_video_link and kind not in REQUEST_KINDS:
        assert iv.meet_link in email.text and iv.meet_link in email.html
    if type_ is InterviewType.PHONE:
        assert iv.phone in email.text and iv.phone in email.html
    if type_ is InterviewType.IN_PERSON:
        assert iv.location in email.text and iv.location in email.html
    if not type_.has_video_link or kind in REQUEST_KINDS:  # a request has no video link yet
        assert "meet.google.com" not in email.text + email.html
        assert "Video link" not in email.text + email.html


@pytest.mark.parametrize("kind", CLASSIC)
def test_the_candidate_gets_the_job_title_the_host_and_the_portal_link(kind: EmailKind):
    email = render(kind, Audience.CANDIDATE)
    assert HOST.name in email.subject and "Backend Engineer" in email.subject
    for body in (email.text, email.html.replace("&amp;", "&")):
        assert HOST.name in body and "Backend Engineer" in body
        assert (PORTAL in body) is (kind is not EmailKind.CANCELLATION)


@pytest.mark.parametrize("kind", [kind for kind in EmailKind if Audience.HOST in AUDIENCES[kind]])
def test_the_host_variant_names_the_candidate(kind: EmailKind):
    email = render(kind, Audience.HOST, portal=None)
    assert GUEST.name in email.subject
    for body in (email.text, email.html):
        assert GUEST.name in body and GUEST.email in body
        assert "Join via portal" not in body
        assert "Manage your booking" not in body and "/manage#token=" not in body  # the guest's link, never the host's
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
    subjects = {kind: render(kind, Audience.CANDIDATE).subject for kind in CLASSIC}
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


# Booking links (SPEC §2.6): the guest's manage link, and the emails of a request.


def _shows(email: RenderedEmail, url: str) -> bool:
    """Whether both parts show ``url`` (a link in HTML has its ``&`` escaped, as it must)."""
    in_text, in_html = url in email.text, url.replace("&", "&amp;") in email.html
    assert in_text is in_html, (email.subject, url)
    return in_text


@pytest.mark.parametrize(("kind", "audience"), PAIRS)
def test_every_guest_email_but_a_cancellation_or_a_decline_carries_the_manage_link(kind: EmailKind, audience: Audience):
    email = render(kind, audience)
    expected = audience is Audience.CANDIDATE and kind not in (EmailKind.CANCELLATION, EmailKind.REQUEST_DECLINED)
    assert _shows(email, MANAGE_LINK) is expected
    assert ("Manage your booking" in email.text and "Manage your booking" in email.html) is expected
    assert content.carries_manage_link(kind, audience) is expected
    assert MANAGE_LINK not in email.html  # only ever the escaped form in HTML


@pytest.mark.parametrize(("kind", "audience"), PAIRS)
def test_without_a_manage_link_the_guest_email_simply_has_none(kind: EmailKind, audience: Audience):
    email = render(kind, audience, manage=None)
    assert "Manage your booking" not in email.text + email.html and "None" not in email.text + email.html


@pytest.mark.parametrize(("kind", "audience"), PAIRS)
def test_only_a_booking_request_carries_the_confirm_and_decline_links(kind: EmailKind, audience: Audience):
    email = render(kind, audience)
    expected = kind is EmailKind.BOOKING_REQUEST
    assert _shows(email, CONFIRM_LINK) is expected and _shows(email, DECLINE_LINK) is expected


def test_the_manage_link_says_what_the_page_offers():
    booked = interview(start=START, origin=BookingOrigin(config_id="cfg-1", link_id="bl-1"))
    assert "cancel it or pick another time" in render(EmailKind.INVITATION, Audience.CANDIDATE, booked).text
    assert "cancel it." in render(EmailKind.INVITATION, Audience.CANDIDATE, interview(start=START)).text  # not from a link
    assert "withdraw it" in render(EmailKind.REQUEST_RECEIVED, Audience.CANDIDATE, booked).text


def pending(**changes) -> Interview:
    """A request made through a booking link: pending, no Calendar event nor Meet link yet, the guest's note."""
    values = {
        "start": START,
        "status": InterviewStatus.PENDING,
        "meet_link": None,
        "calendar_event_id": None,
        "note": "Happy to talk about the\nqueue design.",
        "origin": BookingOrigin(config_id="cfg-1", link_id="bl-1"),
    } | changes
    return interview(**values)


def test_a_booking_request_asks_the_host_with_the_guests_details_and_two_links():
    email = render(EmailKind.BOOKING_REQUEST, Audience.HOST, pending())
    assert (email.to_email, email.to_name) == (HOST.email, HOST.name)
    assert email.subject == "New booking request from Gus Guest for Mon 1 Jun, 14:10 CEST"
    assert (email.ics, email.ics_method) == (None, None)  # nothing is scheduled yet
    for body in (email.text, email.html):
        assert GUEST.name in body and GUEST.email in body
        assert "Monday, 1 June 2026, 14:10–14:55 (Europe/Berlin, UTC+02:00)" in body
        assert "Note from Gus Guest" in body and "Happy to talk about the\nqueue design." in body
        assert "Confirm" in body and "Decline" in body
        assert "Join" not in body and "Manage your booking" not in body and "Video link" not in body
    assert (
        f'href="{CONFIRM_LINK.replace("&", "&amp;")}"' in email.html
        and f'href="{DECLINE_LINK.replace("&", "&amp;")}"' in email.html
    )
    assert f"Confirm: {CONFIRM_LINK}" in email.text and f"Decline: {DECLINE_LINK}" in email.text


def test_a_booking_request_shows_the_time_in_the_interviews_zone():
    email = render(
        EmailKind.BOOKING_REQUEST,
        Audience.HOST,
        pending(start=datetime(2026, 6, 1, 18, 0, tzinfo=UTC), timezone="America/New_York"),
    )
    assert email.subject == "New booking request from Gus Guest for Mon 1 Jun, 14:00 EDT"
    assert "Monday, 1 June 2026, 14:00–14:45 (America/New_York, UTC-04:00)" in email.text


def test_without_respond_links_a_booking_request_says_where_to_answer():
    email = render_email(
        EmailKind.BOOKING_REQUEST,
        Audience.HOST,
        pending(),
        portal_join_url=None,
        from_name="Acme Hiring",
        now=START - timedelta(days=1),
    )
    for body in (email.text, email.html):
        assert "Answer the request in Acme Hiring" in body and "#token=" not in body


def test_a_guests_note_with_html_is_escaped_in_the_booking_request():
    iv = pending(note=SCRIPT, guest=Person(email="gus@candidates.example", name='Gus <img src=x onerror="alert(1)">'))
    email = render(EmailKind.BOOKING_REQUEST, Audience.HOST, iv)
    assert "<script>" not in email.html and "<img" not in email.html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in email.html and "Gus &lt;img src=x" in email.html
    assert SCRIPT in email.text and '<img src=x onerror="alert(1)">' in email.text  # text is shown as written
    assert email.subject == 'New booking request from Gus <img src=x onerror="alert(1)"> for Mon 1 Jun, 14:10 CEST'


def test_the_request_receipt_tells_the_guest_what_happens_next_and_how_to_withdraw():
    email = render(EmailKind.REQUEST_RECEIVED, Audience.CANDIDATE, pending())
    assert (email.to_email, email.to_name) == (GUEST.email, GUEST.name)
    assert email.subject == "Your request for Mon 1 Jun, 14:10 CEST was sent to Hana Host"
    assert (email.ics, email.ics_method) == (None, None)
    for body in (email.text, email.html.replace("&#39;", "'")):
        assert "Your request for Monday, 1 June 2026, 14:10–14:55 (Europe/Berlin, UTC+02:00) was sent to Hana Host" in body
        assert "you'll get an invitation once Hana Host confirms" in body
        assert "Your note" in body and "Manage your booking" in body
        assert "Join" not in body and "Confirm" not in body
    assert _shows(email, MANAGE_LINK) and not _shows(email, PORTAL)


def test_a_declined_request_tells_the_guest_and_offers_nothing_more():
    email = render(EmailKind.REQUEST_DECLINED, Audience.CANDIDATE, pending(status=InterviewStatus.CANCELLED))
    assert email.subject == "Hana Host declined your request for Mon 1 Jun, 14:10 CEST"
    assert (email.ics, email.ics_method) == (None, None)
    for body in (email.text, email.html):
        assert "Hana Host declined your request for Monday, 1 June 2026, 14:10–14:55 (Europe/Berlin, UTC+02:00)" in body
        assert "Manage your booking" not in body and "Join" not in body and "#token=" not in body


@pytest.mark.parametrize(
    ("kind", "audience"),
    [
        (EmailKind.BOOKING_REQUEST, Audience.CANDIDATE),
        (EmailKind.REQUEST_RECEIVED, Audience.HOST),
        (EmailKind.REQUEST_DECLINED, Audience.HOST),
    ],
)
def test_a_request_email_is_never_rendered_for_the_other_side(kind: EmailKind, audience: Audience):
    with pytest.raises(ValueError, match="not sent to"):
        render(kind, audience, pending())


def test_an_invitation_of_a_link_booking_names_the_guest_as_the_notes_author():
    booked = pending(status=InterviewStatus.CONFIRMED, meet_link="https://meet.google.com/abc-mnop-xyz")
    assert "Note from Gus Guest" in render(EmailKind.INVITATION, Audience.HOST, booked).text
    assert "Your note" in render(EmailKind.INVITATION, Audience.CANDIDATE, booked).text
    assert "Note from Hana Host" in render(EmailKind.INVITATION, Audience.CANDIDATE).text  # the host's own note


# The links themselves, signed as the email worker signs them (shared.services.portal).

SCHEDULING = "https://europe-west1-p.cloudfunctions.net/convene-scheduling"


@pytest.fixture
def guest_links(tmp_path):
    path = tmp_path / "secrets.json"
    path.write_text(json.dumps({"convene-guest-link-key": ["k" * 40]}))
    return GuestLinks(LocalSecrets(path), "convene-guest-link-key")


def _token(url: str, base: str) -> str:
    assert url.startswith(base + "#token="), url
    return url.split("#token=", 1)[1]


def _linked(email: RenderedEmail, base: str) -> list[str]:
    """The tokens of the links to ``base`` in the text part."""
    return [word.split("#token=", 1)[1] for word in email.text.split() if word.startswith(base + "#token=")]


def test_the_manage_link_verifies_as_manage_only_until_the_interviews_end(guest_links):
    iv = pending()
    url = manage_url(Settings(project_id="p", scheduling_url=SCHEDULING), guest_links, iv)
    assert url is not None
    email = render_email(EmailKind.REQUEST_RECEIVED, Audience.CANDIDATE, iv, portal_join_url=None, manage_url=url, now=NOW)
    (token,) = _linked(email, f"{SCHEDULING}/manage")
    assert token == _token(url, f"{SCHEDULING}/manage")
    principal = guest_links.verify(token, now=iv.end - timedelta(seconds=1), purpose=MANAGE)
    assert (principal.interview_id, principal.workspace_id) == (iv.id, iv.workspace_id)
    with pytest.raises(Unauthenticated) as expired:
        guest_links.verify(token, now=iv.end, purpose=MANAGE)
    assert expired.value.code == "guest_link_expired"
    for other in (JOIN, CONFIRM):
        with pytest.raises(Unauthenticated):
            guest_links.verify(token, now=NOW, purpose=other)


def test_the_respond_links_verify_as_confirm_and_decline_only_until_the_start(guest_links):
    iv = pending()
    settings = Settings(project_id="p", scheduling_url=SCHEDULING)
    confirm, decline = (respond_url(settings, guest_links, iv, p) for p in (CONFIRM, DECLINE))
    assert confirm and decline
    email = render_email(
        EmailKind.BOOKING_REQUEST, Audience.HOST, iv, portal_join_url=None, confirm_url=confirm, decline_url=decline, now=NOW
    )
    assert _linked(email, f"{SCHEDULING}/respond") == [
        _token(confirm, f"{SCHEDULING}/respond"),
        _token(decline, f"{SCHEDULING}/respond"),
    ]
    for url, purpose, others in (
        (confirm, CONFIRM, (DECLINE, MANAGE)),
        (decline, DECLINE, (CONFIRM, MANAGE)),
    ):
        token = _token(url, f"{SCHEDULING}/respond")
        assert guest_links.verify(token, now=iv.start - timedelta(seconds=1), purpose=purpose).interview_id == iv.id
        with pytest.raises(Unauthenticated) as expired:
            guest_links.verify(token, now=iv.start, purpose=purpose)
        assert expired.value.code == "guest_link_expired"
        for other in others:
            with pytest.raises(Unauthenticated):
                guest_links.verify(token, now=NOW, purpose=other)


def test_without_a_scheduling_url_there_are_no_links_and_nothing_is_signed():
    class NoSigning:
        def sign(self, **claims):
            raise AssertionError("nothing to sign")

    settings = Settings(project_id="p")
    assert manage_url(settings, NoSigning(), pending()) is None
    assert respond_url(settings, NoSigning(), pending(), "confirm") is None


def test_a_respond_link_is_for_confirm_or_decline_only(guest_links):
    with pytest.raises(ValueError, match="confirm or decline"):
        respond_url(Settings(project_id="p", scheduling_url=SCHEDULING), guest_links, pending(), "manage")


def test_a_request_withdrawn_before_it_was_confirmed_is_cancelled_without_a_calendar_attachment():
    """A pending request never reached a calendar (no event, no iCalendar UID): nothing to remove."""
    withdrawn = pending(status=InterviewStatus.CANCELLED, ical_uid="")
    email = render(EmailKind.CANCELLATION, Audience.HOST, withdrawn)
    assert (email.ics, email.ics_method) == (None, None)
    for body in (email.text, email.html):
        assert "has been cancelled" in body and "never in your calendar" in body and "attached" not in body
    assert render(EmailKind.CANCELLATION, Audience.HOST).ics_method == "CANCEL"  # a confirmed one still carries it
