"""The Google side of a confirmed interview: its Calendar event (and Meet link), and the emails.

Every call is idempotent, so a retry after a failure part-way finishes the work: the event's
id derives from the interview (an insert answered 409 reads the first attempt's event),
and the emails are queued under names derived from the interview and its sequence.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import replace
from typing import TYPE_CHECKING, Any, Protocol

from shared import logs
from shared.auth.principal import Principal, host_principal
from shared.domain.models import Interview, InterviewType
from shared.domain.timezones import to_local_iso
from shared.errors import ConveneError, NeedsGoogleAuth

if TYPE_CHECKING:
    from shared.clock import Clock
    from shared.domain.connections import Connection
    from shared.ports import InterviewRepository

logger = logging.getLogger(__name__)

PRIMARY = "primary"


class HostConnections(Protocol):
    """What publishing needs of shared.services.connections.GoogleConnections."""

    def usable_connection(self, principal: Principal) -> Connection: ...

    def credentials_for(self, connection: Connection) -> Any: ...

    def consent_error(self, principal: Principal, reason: str) -> NeedsGoogleAuth: ...


class CalendarEvents(Protocol):
    def insert(
        self, credentials: Any, calendar_id: str, event_id: str, body: dict[str, Any], *, conference: bool
    ) -> dict[str, Any]: ...

    def wait_for_meet_link(
        self, credentials: Any, calendar_id: str, event: dict[str, Any]
    ) -> tuple[dict[str, Any], str | None]: ...

    def patch(self, credentials: Any, calendar_id: str, event_id: str, body: dict[str, Any]) -> dict[str, Any]: ...

    def cancel(self, credentials: Any, calendar_id: str, event_id: str) -> None: ...


class EmailQueue(Protocol):
    def enqueue(
        self, interview: Interview, kind: str, now: Any, audiences: tuple[str, ...] = ("candidate", "host")
    ) -> dict[str, str]: ...


def _when(interview: Interview) -> dict[str, Any]:
    return {
        "start": {"dateTime": to_local_iso(interview.start, interview.timezone), "timeZone": interview.timezone},
        "end": {"dateTime": to_local_iso(interview.end, interview.timezone), "timeZone": interview.timezone},
    }


def event_body(interview: Interview) -> dict[str, Any]:
    """The Calendar event of an interview: the guest invited, conference data for Google Meet."""
    summary = (
        f"Interview: {interview.job_title} — {interview.guest.name}"
        if interview.job_title
        else f"Interview with {interview.guest.name}"
    )
    body: dict[str, Any] = {
        "summary": summary[:250],
        "description": (interview.note or "")[:4000],
        **_when(interview),
        "attendees": [{"email": interview.guest.email, "displayName": interview.guest.name}],
        "extendedProperties": {"private": {"convene_interview_id": interview.id}},
        "reminders": {"useDefault": True},
    }
    location = {
        InterviewType.IN_PERSON: interview.location,
        InterviewType.PHONE: interview.phone,
        InterviewType.CUSTOM_VIDEO: interview.meet_link,
    }.get(interview.type)
    if location:
        body["location"] = location
    if interview.type is InterviewType.GOOGLE_MEET:
        body["conferenceData"] = {"createRequest": {"requestId": interview.id, "conferenceSolutionKey": {"type": "hangoutsMeet"}}}
    return body


class Publisher:
    def __init__(
        self,
        *,
        clock: Clock,
        interviews: InterviewRepository,
        connections: Callable[[], HostConnections],
        calendar_events: Callable[[], CalendarEvents],
        emails: Callable[[], EmailQueue],
    ):
        # Zero-argument factories: a get or a list never builds the Google or Tasks clients.
        self._clock = clock
        self._interviews = interviews
        self._connections = connections
        self._calendar_events = calendar_events
        self._emails = emails

    def usable_connection(self, acting_host: Principal) -> Connection:
        """The host's working Google connection, or needs_google_auth (nothing written yet)."""
        return self._connections().usable_connection(acting_host)

    def _credentials(self, acting_host: Principal, connection: Connection | None = None) -> Any:
        from shared.domain.connections import GoogleAuthRequired

        connections = self._connections()
        try:
            return connections.credentials_for(connection or connections.usable_connection(acting_host))
        except GoogleAuthRequired as required:
            raise connections.consent_error(acting_host, required.reason) from None

    @contextmanager
    def _consent_on_refusal(self, acting_host: Principal) -> Iterator[None]:
        """Google refusing the grant in the middle of a Calendar call (a token cached before the
        host revoked access) is the same needs_google_auth as one refused up front."""
        from shared.domain.connections import GoogleAuthRequired

        try:
            yield
        except GoogleAuthRequired as required:
            raise self._connections().consent_error(acting_host, required.reason) from None

    def publish(
        self, acting_host: Principal, interview: Interview, connection: Connection | None, kind: str
    ) -> tuple[Interview, dict[str, str]]:
        """Create (or find) the Calendar event, store its Meet link and UID, then queue the emails."""
        credentials = self._credentials(acting_host, connection)
        events = self._calendar_events()
        with self._consent_on_refusal(acting_host):
            event = events.insert(
                credentials, PRIMARY, interview.id, event_body(interview), conference=interview.type is InterviewType.GOOGLE_MEET
            )
            link = interview.meet_link
            if interview.type is InterviewType.GOOGLE_MEET:
                event, link = events.wait_for_meet_link(credentials, PRIMARY, event)
        published = replace(
            interview,
            calendar_event_id=event["id"],
            ical_uid=event.get("iCalUID") or f"{event['id']}@google.com",
            meet_link=link,
            updated_at=self._clock.now(),
        )
        self._interviews.update(
            interview.id,
            {
                "calendar_event_id": published.calendar_event_id,
                "ical_uid": published.ical_uid,
                "meet_link": published.meet_link,
                "updated_at": published.updated_at,
            },
        )
        return published, self._emails().enqueue(published, kind, self._clock.now())

    def move(self, interview: Interview) -> dict[str, str]:
        """A rescheduled confirmed interview: the same event at the new time, update emails."""
        if not interview.calendar_event_id:
            return {}
        credentials = self._credentials(host_principal(interview))
        with self._consent_on_refusal(host_principal(interview)):
            self._calendar_events().patch(credentials, PRIMARY, interview.calendar_event_id, _when(interview))
        return self._emails().enqueue(interview, "update", self._clock.now())

    def ask_host(self, interview: Interview) -> dict[str, str]:
        """A booking request (pending, from a booking link): the host is asked to confirm or decline,
        the guest told the request was sent. Nothing is on the calendar yet."""
        now = self._clock.now()
        sent = self._emails().enqueue(interview, "booking_request", now, audiences=("host",))
        return sent | self._emails().enqueue(interview, "request_received", now, audiences=("candidate",))

    def withdraw(self, interview: Interview) -> dict[str, str]:
        """A cancelled interview that had an event: the event cancelled (if Google lets us), cancellation emails."""
        if not interview.calendar_event_id:  # it was never confirmed: no event, nobody invited
            return {}
        from shared.domain.connections import GoogleAuthRequired

        try:
            credentials = self._credentials(host_principal(interview))
            self._calendar_events().cancel(credentials, PRIMARY, interview.calendar_event_id)
        except ConveneError as failure:  # cancelled for us all the same; the host's calendar is told by the email
            logs.log(logger, logging.WARNING, "calendar event not cancelled", error_code=failure.code)
        except GoogleAuthRequired:  # the grant was refused mid-call: the same, the email tells the calendar
            logs.log(logger, logging.WARNING, "calendar event not cancelled", error_code="needs_google_auth")
        return self._emails().enqueue(interview, "cancellation", self._clock.now())
