"""The email worker on fakes (mirrors tests/integration/test_email_worker_api.py): each queued
email is sent once; a duplicate delivery is acknowledged, a live lease is retried later, a
permanent refusal is recorded as ``failed``, a transient one released for the queue's retry,
and an email the interview no longer wants is ``skipped``."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest

from shared.adapters.sendgrid_mail import SendResult
from shared.clock import FixedClock
from shared.config import Settings
from shared.domain.models import InterviewStatus, InterviewType
from shared.errors import Conflict, Unavailable
from shared.ports import OutboxEmail
from shared.services.email_worker import LEASE, EmailWorker
from shared.services.emails import EmailQueue, email_id
from tests import factories
from tests.factories import NOW, WORKSPACE
from tests.fakes import FakeInterviewRepository, FakeMailer, FakeOutbox, FakeTaskQueue

M = timedelta(minutes=1)
PORTAL = "http://portal.example/portal"
SCHEDULING = "http://scheduling.example"
SETTINGS = Settings(project_id="convene-test", portal_url=PORTAL, scheduling_url=SCHEDULING, mail_from_name="Acme Hiring")
MEET = "https://meet.google.com/new-link-xyz"


class FakeGuestLinks:
    """Signs ``cvg1.<purpose>.<interview>`` (so a test sees which link is which) and records every signature."""

    def __init__(self):
        self.signed: list[dict] = []

    def sign(self, **claims):
        self.signed.append(claims)
        return f"cvg1.{claims.get('purpose', 'join')}.{claims['interview_id']}"


class World:
    def __init__(self, settings: Settings = SETTINGS):
        self.clock = FixedClock(NOW)
        self.outbox = FakeOutbox()
        self.interviews = FakeInterviewRepository()
        self.tasks = FakeTaskQueue()
        self.mailer = FakeMailer()
        self.mailers_built = 0
        self.links = FakeGuestLinks()
        self.meet_link: str | None = None  # what Google answers when asked for a pending Meet link
        self.resolved: list[str] = []
        self.queue = EmailQueue(outbox=self.outbox, tasks=self.tasks, worker_url="http://worker")
        self.worker = EmailWorker(
            settings=settings,
            clock=self.clock,
            outbox=self.outbox,
            interviews=self.interviews,
            mailer=self._build_mailer,
            guest_links=self.links,
            meet_link_resolver=self._resolve,
        )

    def _build_mailer(self):
        self.mailers_built += 1
        return self.mailer

    def _resolve(self, interview):
        self.resolved.append(interview.id)
        return self.meet_link

    def booked(self, **changes):
        interview = factories.interview(**changes)
        self.interviews.add(interview)
        return interview

    def queued(self, interview, kind="invitation", audience="candidate", label=None) -> str:
        self.queue.enqueue(interview, kind, self.clock.now(), audiences=(audience,), label=label)
        return email_id(interview, kind, audience, label)

    def deliver(self, identifier: str, delivery: int = 1):
        return self.worker.handle(identifier, delivery)

    def sent_to(self) -> list[str]:
        return [email.to_email for email, _ in self.mailer.sent]


@pytest.fixture
def world():
    return World()


def test_an_invitation_is_sent_once_to_each_party(world):
    iv = world.booked()
    candidate, host = world.queued(iv, audience="candidate"), world.queued(iv, audience="host")
    assert world.deliver(candidate) == {"email_id": candidate, "status": "sent"}
    assert world.deliver(host) == {"email_id": host, "status": "sent"}
    assert world.sent_to() == [iv.guest.email, iv.host.email]
    assert [args for _, args in world.mailer.sent] == [{"email_id": candidate}, {"email_id": host}]
    record = world.outbox.get(candidate)
    assert (record["status"], record["sendgrid_message_id"], record["sent_at"], record["attempts"]) == ("sent", "msg-1", NOW, 1)
    assert record["last_error"] is None and "lease_until" not in record


def test_only_the_candidate_gets_a_signed_portal_link_and_manage_link(world):
    iv = world.booked()
    world.deliver(world.queued(iv, audience="candidate"))
    world.deliver(world.queued(iv, audience="host"))
    (to_candidate, _), (to_host, _) = world.mailer.sent
    assert f"{PORTAL}/{iv.id}#token=cvg1.join.{iv.id}" in to_candidate.text
    assert f"{SCHEDULING}/manage#token=cvg1.manage.{iv.id}" in to_candidate.text
    assert "#token=" not in to_host.text and "#token=" not in to_host.html
    assert world.links.signed == [
        {
            "interview_id": iv.id,
            "workspace_id": WORKSPACE,
            "expires_at": iv.end + timedelta(days=SETTINGS.guest_link_days_after_end),
        },
        {"interview_id": iv.id, "workspace_id": WORKSPACE, "expires_at": iv.end, "purpose": "manage"},
    ]
    assert to_candidate.ics is not None and iv.meet_link in to_candidate.text


def test_a_duplicate_delivery_is_acknowledged_without_sending_again(world):
    identifier = world.queued(world.booked())
    world.deliver(identifier)
    world.clock.advance(5 * M)
    assert world.deliver(identifier, 2) == {"email_id": identifier, "status": "sent", "duplicate": True}
    assert len(world.mailer.sent) == 1 and world.mailers_built == 1
    assert (world.outbox.get(identifier)["attempts"], world.outbox.get(identifier)["updated_at"]) == (1, NOW)


def test_a_delivery_while_another_holds_the_lease_is_retried_later(world):
    identifier = world.queued(world.booked())
    world.outbox.claim(identifier, NOW, NOW + LEASE)  # another delivery is sending it
    world.clock.advance(LEASE - M)
    with pytest.raises(Conflict) as raised:
        world.deliver(identifier, 2)
    assert (raised.value.status, raised.value.code) == (409, "email_in_progress")
    assert world.mailer.sent == [] and world.outbox.get(identifier)["attempts"] == 1
    world.clock.advance(M)  # that delivery died: its lease ran out
    assert world.deliver(identifier, 3)["status"] == "sent"
    assert len(world.mailer.sent) == 1 and world.outbox.get(identifier)["attempts"] == 2


def test_an_unknown_email_is_acknowledged(world):
    assert world.deliver("no-such-email") == {"email_id": "no-such-email", "status": "unknown"}
    assert world.mailer.sent == [] and world.mailers_built == 0


def test_a_permanent_refusal_is_recorded_as_failed_and_not_retried(world):
    identifier = world.queued(world.booked())
    world.mailer.results = [SendResult(False, code="sendgrid_400", detail="Does not contain a valid address.")]
    assert world.deliver(identifier) == {"email_id": identifier, "status": "failed"}
    record = world.outbox.get(identifier)
    assert record["status"] == "failed" and "lease_until" not in record
    assert record["last_error"] == {"code": "sendgrid_400", "message": "Does not contain a valid address.", "at": NOW}
    assert world.deliver(identifier, 2) == {"email_id": identifier, "status": "failed", "duplicate": True}
    assert world.mailer.sent == [] and world.mailers_built == 1


@pytest.mark.parametrize(("code", "detail", "message"), [("sendgrid_503", "", "sendgrid_503"), ("sendgrid_429", "slow", "slow")])
def test_a_transient_failure_is_released_for_the_queue_to_retry(world, code, detail, message):
    identifier = world.queued(world.booked())
    world.mailer.results = [SendResult(False, transient=True, code=code, detail=detail)]
    with pytest.raises(Unavailable) as raised:
        world.deliver(identifier)
    assert raised.value.status == 503
    record = world.outbox.get(identifier)
    assert record["status"] == "queued" and "lease_until" not in record
    assert record["last_error"] == {"code": code, "message": message, "at": NOW}
    world.clock.advance(M)
    assert world.deliver(identifier, 2)["status"] == "sent"
    record = world.outbox.get(identifier)
    assert (record["attempts"], record["last_error"], record["sent_at"]) == (2, None, NOW + M)
    assert world.sent_to() == [factories.GUEST.email]


@pytest.mark.parametrize(
    ("kind", "label"), [("invitation", None), ("update", None), ("reminder_24h", "24h"), ("reminder_1h", "1h")]
)
def test_an_email_about_a_cancelled_interview_is_skipped(world, kind, label):
    iv = world.booked()
    identifier = world.queued(iv, kind, label=label)
    world.interviews.update(iv.id, {"status": InterviewStatus.CANCELLED.value})
    assert world.deliver(identifier) == {"email_id": identifier, "status": "skipped"}
    record = world.outbox.get(identifier)
    assert record["status"] == "skipped" and record["last_error"]["code"] == "interview_cancelled"
    assert world.deliver(identifier, 2) == {"email_id": identifier, "status": "skipped", "duplicate": True}
    assert world.mailer.sent == [] and world.mailers_built == 0


def test_the_cancellation_itself_is_sent(world):
    iv = world.booked(status=InterviewStatus.CANCELLED, meet_link=None)  # a Meet link is not looked for either
    identifier = world.queued(iv, "cancellation")
    assert world.deliver(identifier)["status"] == "sent"
    assert world.resolved == [] and world.sent_to() == [iv.guest.email]
    email = world.mailer.sent[0][0]
    assert f"{PORTAL}/" not in email.text and "/manage#token=" not in email.text  # nothing to join or manage
    assert world.links.signed == []  # and nothing signed for it


def test_an_invitation_superseded_by_an_update_is_skipped(world):
    iv = world.booked()
    old = world.queued(iv, "invitation")
    rescheduled = replace(iv, ical_sequence=1, start=iv.start + timedelta(hours=1))
    world.interviews.put(rescheduled)
    new = world.queued(rescheduled, "update")
    assert world.deliver(old) == {"email_id": old, "status": "skipped"}
    assert world.outbox.get(old)["last_error"]["code"] == "superseded_by_update"
    assert world.deliver(new)["status"] == "sent" and len(world.mailer.sent) == 1


def test_an_email_about_a_deleted_interview_is_skipped(world):
    iv = world.booked()
    identifier = world.queued(iv)
    world.interviews.store.delete(iv.id)
    assert world.deliver(identifier)["status"] == "skipped"
    assert world.outbox.get(identifier)["last_error"]["code"] == "interview_deleted"
    assert world.mailer.sent == []


def test_a_pending_meet_link_makes_the_queue_retry_until_google_has_it(world):
    iv = world.booked(type=InterviewType.GOOGLE_MEET, meet_link=None)
    identifier = world.queued(iv)
    with pytest.raises(Unavailable):
        world.deliver(identifier)
    record = world.outbox.get(identifier)
    assert record["status"] == "queued" and record["last_error"]["code"] == "meet_link_pending"
    assert world.mailer.sent == [] and world.mailers_built == 0
    world.meet_link = MEET
    world.clock.advance(M)
    assert world.deliver(identifier, 2)["status"] == "sent"
    assert world.resolved == [iv.id, iv.id] and MEET in world.mailer.sent[0][0].text


def test_a_notice_to_a_host_carries_its_recipient_and_link(world):
    notice = OutboxEmail(
        "reconnect-uid-hana-1",
        "reconnect",
        "host",
        "hana@acme.example",
        WORKSPACE,
        uid="uid-hana",
        to_name="Hana",
        reconnect_url="http://localhost:5173/settings/integrations",
    )
    world.outbox.add(notice, NOW)
    assert world.deliver(notice.id) == {"email_id": notice.id, "status": "sent"}
    ((email, args),) = world.mailer.sent
    assert (email.to_email, email.to_name, args) == ("hana@acme.example", "Hana", {"email_id": notice.id})
    assert "http://localhost:5173/settings/integrations" in email.text and email.ics is None
    assert world.links.signed == []


# Booking links (SPEC §2.6): the guest's manage link and the emails of a request.


def _manage(iv) -> str:
    return f"{SCHEDULING}/manage#token=cvg1.manage.{iv.id}"


@pytest.mark.parametrize(
    ("kind", "label"), [("invitation", None), ("update", None), ("reminder_24h", "24h"), ("reminder_1h", "1h")]
)
def test_every_guest_email_carries_the_manage_link_and_no_host_email_does(world, kind, label):
    iv = world.booked()
    world.deliver(world.queued(iv, kind, "candidate", label))
    world.deliver(world.queued(iv, kind, "host", label))
    (to_guest, _), (to_host, _) = world.mailer.sent
    assert _manage(iv) in to_guest.text and _manage(iv) in to_guest.html
    assert "Manage your booking" in to_guest.text
    assert "/manage#token=" not in to_host.text + to_host.html and "Manage your booking" not in to_host.text
    manage = [claims for claims in world.links.signed if claims.get("purpose") == "manage"]
    assert manage == [{"interview_id": iv.id, "workspace_id": WORKSPACE, "expires_at": iv.end, "purpose": "manage"}]


def test_without_a_scheduling_url_the_guest_email_has_no_manage_link(world_without_scheduling):
    world = world_without_scheduling
    iv = world.booked()
    assert world.deliver(world.queued(iv, "invitation", "candidate"))["status"] == "sent"
    email = world.mailer.sent[0][0]
    assert "Manage your booking" not in email.text and "/manage#token=" not in email.text
    assert [claims.get("purpose", "join") for claims in world.links.signed] == ["join"]


@pytest.fixture
def world_without_scheduling():
    return World(replace(SETTINGS, scheduling_url=""))


def requested(world, **changes):
    """A request made through a booking link: pending, no Calendar event and no Meet link yet."""
    values = {"status": InterviewStatus.PENDING, "meet_link": None, "calendar_event_id": None, "note": "About <b>queues</b>"}
    return world.booked(**(values | changes))


def test_the_id_of_a_request_email_is_named_after_its_kind(world):
    iv = requested(world)
    assert world.queued(iv, "booking_request", "host") == f"{iv.id}-booking-request-0-host"
    assert world.queued(iv, "request_received", "candidate") == f"{iv.id}-request-received-0-candidate"
    assert world.queued(iv, "request_declined", "candidate") == f"{iv.id}-request-declined-0-candidate"
    assert email_id(iv, "booking_request", "host") in world.tasks.tasks


def test_a_booking_request_reaches_the_host_with_signed_confirm_and_decline_links(world):
    iv = requested(world)
    identifier = world.queued(iv, "booking_request", "host")
    assert world.deliver(identifier) == {"email_id": identifier, "status": "sent"}
    ((email, args),) = world.mailer.sent
    assert (email.to_email, args) == (iv.host.email, {"email_id": identifier})
    assert email.subject.startswith(f"New booking request from {iv.guest.name} for ")
    assert f"Confirm: {SCHEDULING}/respond#token=cvg1.confirm.{iv.id}" in email.text
    assert f"Decline: {SCHEDULING}/respond#token=cvg1.decline.{iv.id}" in email.text
    assert "About &lt;b&gt;queues&lt;/b&gt;" in email.html and "About <b>queues</b>" in email.text
    assert (email.ics, email.ics_method) == (None, None) and "/manage#token=" not in email.text
    assert world.resolved == []  # a request has no Meet link to wait for
    assert world.links.signed == [
        # bound to the request's revision: once the guest moves it, these links answer request_changed
        {
            "interview_id": iv.id,
            "workspace_id": WORKSPACE,
            "expires_at": iv.start,
            "purpose": purpose,
            "version": iv.ical_sequence,
        }
        for purpose in ("confirm", "decline")
    ]


def test_the_request_receipt_reaches_the_guest_with_the_manage_link(world):
    iv = requested(world)
    assert world.deliver(world.queued(iv, "request_received", "candidate"))["status"] == "sent"
    ((email, _),) = world.mailer.sent
    assert email.to_email == iv.guest.email and email.subject.endswith(f"was sent to {iv.host.name}")
    assert _manage(iv) in email.text and (email.ics, email.ics_method) == (None, None)
    assert f"{PORTAL}/" not in email.text  # nothing to join yet
    assert world.links.signed == [{"interview_id": iv.id, "workspace_id": WORKSPACE, "expires_at": iv.end, "purpose": "manage"}]
    assert world.resolved == []


def test_a_declined_request_is_told_to_the_guest_though_the_interview_is_cancelled(world):
    iv = requested(world)
    identifier = world.queued(iv, "request_declined", "candidate")
    world.interviews.update(iv.id, {"status": InterviewStatus.CANCELLED.value})  # declining cancels the request
    assert world.deliver(identifier) == {"email_id": identifier, "status": "sent"}
    ((email, _),) = world.mailer.sent
    assert email.subject.startswith(f"{iv.host.name} declined your request for ")
    assert "#token=" not in email.text and email.ics is None
    assert world.links.signed == [] and world.resolved == []


@pytest.mark.parametrize(("kind", "audience"), [("booking_request", "host"), ("request_received", "candidate")])
def test_a_request_withdrawn_or_declined_before_its_email_went_out_is_skipped(world, kind, audience):
    iv = requested(world)
    identifier = world.queued(iv, kind, audience)
    world.interviews.update(iv.id, {"status": InterviewStatus.CANCELLED.value})
    assert world.deliver(identifier) == {"email_id": identifier, "status": "skipped"}
    assert world.outbox.get(identifier)["last_error"]["code"] == "interview_cancelled"
    assert world.mailer.sent == [] and world.links.signed == []


@pytest.mark.parametrize(("kind", "audience"), [("booking_request", "host"), ("request_received", "candidate")])
def test_a_request_confirmed_before_its_email_went_out_is_skipped_and_the_invitation_sent(world, kind, audience):
    iv = requested(world)
    request = world.queued(iv, kind, audience)
    confirmed = replace(iv, status=InterviewStatus.CONFIRMED, meet_link=MEET, calendar_event_id="evt-1")
    world.interviews.put(confirmed)  # the host confirmed: the Calendar event exists, invitations are queued
    invitation = world.queued(confirmed, "invitation", "candidate")
    assert world.deliver(request) == {"email_id": request, "status": "skipped"}
    assert world.outbox.get(request)["last_error"]["code"] == "request_answered"
    assert world.deliver(invitation) == {"email_id": invitation, "status": "sent"}
    ((email, _),) = world.mailer.sent
    assert email.subject.startswith("Invitation:") and MEET in email.text and _manage(iv) in email.text


def test_a_booking_request_moved_to_another_time_before_it_went_out_is_superseded(world):
    """The guest moved its pending request: the host is asked again for the new time (a new email)."""
    iv = requested(world)
    old = world.queued(iv, "booking_request", "host")
    moved = replace(iv, ical_sequence=1, start=iv.start + timedelta(hours=1))
    world.interviews.put(moved)
    new = world.queued(moved, "booking_request", "host")
    assert world.deliver(old) == {"email_id": old, "status": "skipped"}
    assert world.outbox.get(old)["last_error"]["code"] == "superseded_by_update"
    assert world.deliver(new)["status"] == "sent" and len(world.mailer.sent) == 1


def test_the_receipt_of_a_request_moved_before_it_went_out_is_still_sent_with_the_new_time(world):
    """No new receipt is queued for a move: the one queued says the time as it is at send time."""
    iv = requested(world)
    receipt = world.queued(iv, "request_received", "candidate")
    world.interviews.put(replace(iv, ical_sequence=1, start=iv.start + timedelta(days=1)))
    assert world.deliver(receipt)["status"] == "sent"
    ((email, _),) = world.mailer.sent
    assert "Tue 2 Jun" in email.subject


def test_a_decline_of_a_request_that_is_not_cancelled_is_skipped(world):
    iv = requested(world)
    identifier = world.queued(iv, "request_declined", "candidate")
    assert world.deliver(identifier) == {"email_id": identifier, "status": "skipped"}
    assert world.outbox.get(identifier)["last_error"]["code"] == "request_not_declined"
    assert world.mailer.sent == []


@pytest.mark.parametrize(
    ("kind", "audience"),
    [("booking_request", "candidate"), ("request_received", "host"), ("request_declined", "host")],
)
def test_a_request_email_queued_for_the_wrong_side_is_skipped_not_retried(world, kind, audience):
    iv = requested(world, status=InterviewStatus.CANCELLED if kind == "request_declined" else InterviewStatus.PENDING)
    identifier = world.queued(iv, kind, audience)
    assert world.deliver(identifier) == {"email_id": identifier, "status": "skipped"}
    assert world.outbox.get(identifier)["last_error"]["code"] == "not_for_audience"
    assert world.mailer.sent == [] and world.links.signed == []


def test_without_a_scheduling_url_a_booking_request_says_where_to_answer(world_without_scheduling):
    world = world_without_scheduling
    iv = requested(world)
    assert world.deliver(world.queued(iv, "booking_request", "host"))["status"] == "sent"
    email = world.mailer.sent[0][0]
    assert "Answer the request in Acme Hiring" in email.text and "#token=" not in email.text
    assert world.links.signed == []


def test_the_host_learns_of_a_request_withdrawn_before_it_was_confirmed(world):
    """The guest cancelled a pending request through its manage link: the host's cancellation
    has no .ics (the request never reached a calendar) and waits for no Meet link."""
    iv = requested(world, ical_uid="")
    world.interviews.update(iv.id, {"status": InterviewStatus.CANCELLED.value})
    identifier = world.queued(iv, "cancellation", "host")
    assert world.deliver(identifier) == {"email_id": identifier, "status": "sent"}
    ((email, _),) = world.mailer.sent
    assert email.to_email == iv.host.email and (email.ics, email.ics_method) == (None, None)
    assert "never in your calendar" in email.text and world.resolved == [] and world.links.signed == []
