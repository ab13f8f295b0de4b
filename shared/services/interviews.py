"""Interviews (SPEC §2.2): create, confirm, get, list, reschedule, cancel, complete / no-show.

Each change follows the same order, so that a failure part-way leaves nothing a retry
cannot finish:
1. validate and authorize (nothing written on a refusal);
2. make sure the host's Google connection works (or answer needs_google_auth);
3. one Firestore transaction: the status change and the host's slot (no double booking);
4. Google Calendar: insert / patch / cancel the event under an id derived from the
   interview, so a retry finds the event its first attempt made (one event, always);
5. queue the emails (outbox + named Cloud Tasks: duplicates refused).
With an ``Idempotency-Key`` the interview id itself derives from the key, and the first
answer is replayed to every retry (its guest link signed afresh: none is stored). A retry
that takes over from an attempt that died part-way (shared.adapters.idempotency) finishes
the steps after the transaction when the transaction had committed.
"""

from __future__ import annotations

import base64
import json
import logging
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from shared import logs
from shared.auth.principal import Principal, PrincipalKind, host_principal
from shared.domain.models import Interview, InterviewStatus, InterviewType, Person, Role
from shared.domain.timezones import to_local_iso
from shared.errors import BadRequest, Conflict, ConveneError, NotFound, PermissionDenied, Unprocessable

if TYPE_CHECKING:
    from shared.domain.booking import BookingLimits, BookingRequest

# Booking rules, the status machine, reminders and portal links are imported by the methods
# that change interviews: a get (the most frequent cold start) never loads them, a list only
# the input rules it checks its query with.

logger = logging.getLogger(__name__)

NOT_FOUND = "No interview with this id is visible to you."
MAX_PAGE_SIZE = 100
DEFAULT_PAGE_SIZE = 25
MAX_PAGE_TOKEN = 512  # a real one is about 100 characters
GUEST_LINK = "portal_join_url"  # holds a signed guest link: answered, never stored


@dataclass(frozen=True)
class Member:
    """A host or admin of a workspace, as its users/{uid} document says."""

    uid: str
    workspace_id: str
    role: Role
    email: str
    name: str


def _rfc3339(value: datetime | None) -> str | None:
    return None if value is None else value.astimezone(UTC).isoformat().replace("+00:00", "Z")


class InterviewService:
    def __init__(
        self,
        *,
        settings: Any,
        clock: Any,
        interviews: Any,
        bookings: Any,
        idempotency: Any,
        users: Any,
        firestore_client: Any,
        connections: Any,
        calendar_events: Any,
        emails: Any,
        guest_links: Any,
        workspaces: Any = None,
    ):
        # connections, calendar_events and emails are zero-argument factories: a get or a list never builds them.
        self._settings = settings
        self._clock = clock
        self._interviews = interviews
        self._bookings = bookings
        self._idempotency = idempotency
        self._users = users
        self._db = firestore_client
        self._connections = connections
        self._calendar_events = calendar_events
        self._emails = emails
        self._guest_links = guest_links
        self._workspaces = workspaces

    @property
    def _limits(self) -> BookingLimits:
        from shared.domain.booking import BookingLimits

        s = self._settings
        return BookingLimits(s.min_duration_minutes, s.max_duration_minutes, s.default_duration_minutes, s.booking_horizon_days)

    # -- who is calling ---------------------------------------------------------------------

    def member(self, principal: Principal) -> Member:
        if principal.kind is not PrincipalKind.USER:
            raise PermissionDenied("Sign in as a host of the workspace.", code="not_a_member")
        user = self._users.get(principal.subject)
        if user is None or user.role not in (Role.HOST, Role.ADMIN):
            raise PermissionDenied("Only hosts and admins of a workspace manage interviews.", code="not_a_member")
        if principal.workspace_id not in (None, user.workspace_id):
            raise PermissionDenied("Your sign-in belongs to another workspace.", code="not_a_member")
        return Member(user.uid, user.workspace_id, user.role, user.email, user.display_name)

    def _visible(self, member: Member, interview: Interview | None) -> Interview:
        """A host sees its own interviews, an admin every interview of its workspace; others get 404."""
        if interview is None or interview.workspace_id != member.workspace_id:
            raise NotFound(NOT_FOUND, code="interview_not_found")
        if member.role is not Role.ADMIN and interview.host.uid != member.uid:
            raise NotFound(NOT_FOUND, code="interview_not_found")
        return interview

    def _idempotent(
        self, member: Member, operation: str, key: str | None, fingerprint: str, work: Any
    ) -> tuple[dict[str, Any], int]:
        """``work(seed, resumed)`` once per key: seed derives ids from the key, resumed says a dead attempt ran before."""
        if key is None:
            return work(None, False)
        from shared.adapters.idempotency import key_seed, record_id

        record = record_id(member.workspace_id, member.uid, operation, key)
        return self._idempotency.run(
            record,
            fingerprint,
            self._clock.now(),
            lambda resumed: work(key_seed(record), resumed),
            seal=_without_guest_link,
            unseal=self._with_fresh_guest_link,
        )

    def _with_fresh_guest_link(self, body: dict[str, Any]) -> dict[str, Any]:
        """A replayed answer with the portal link signed again for the interview as it is now."""
        if "interview_id" not in body:
            return body
        from shared.services.portal import portal_join_url

        interview = self._interviews.get(str(body["interview_id"]))
        return body | {GUEST_LINK: portal_join_url(self._settings, self._guest_links, interview) if interview else None}

    # -- create ---------------------------------------------------------------------------

    def create(self, principal: Principal, body: dict[str, Any], key: str | None, fingerprint: str) -> tuple[dict[str, Any], int]:
        from shared.domain.booking import parse_booking

        member = self.member(principal)
        booking = parse_booking(body, now=self._clock.now(), limits=self._limits)
        host = self._host_for(member, booking)
        guest = self._candidate_for(member, booking)
        return self._idempotent(
            member, "create", key, fingerprint, lambda seed, _resumed: self._create(principal, member, host, guest, booking, seed)
        )

    def _reminder_offsets(self, workspace_id: str) -> tuple[int, ...]:
        workspace = self._workspaces.get(workspace_id) if self._workspaces is not None else None
        return (
            workspace.reminder_offsets_minutes
            if workspace and workspace.reminder_offsets_minutes
            else tuple(self._settings.reminder_offsets_minutes)
        )

    def _armed(self, interview: Interview) -> Interview:
        """Reminders for the interview's (new) time; none unless it is confirmed."""
        from shared.domain.reminders import arm

        if interview.status is not InterviewStatus.CONFIRMED:
            return replace(interview, next_reminder_at=None)
        done, next_at = arm(interview.start, interview.reminder_offsets, self._clock.now())
        return replace(interview, reminders_done=done, next_reminder_at=next_at)

    def _host_for(self, member: Member, booking: BookingRequest) -> Member:
        if booking.host_uid is None or booking.host_uid == member.uid:
            return member
        if member.role is not Role.ADMIN:
            raise PermissionDenied("Only an admin books for another host.", code="not_an_admin")
        user = self._users.get(booking.host_uid)
        if user is None or user.workspace_id != member.workspace_id or user.role not in (Role.HOST, Role.ADMIN):
            raise Unprocessable("host_uid is not a host of this workspace.", code="unknown_host", details={"field": "host_uid"})
        return Member(user.uid, user.workspace_id, user.role, user.email, user.display_name)

    def _candidate_for(self, member: Member, booking: BookingRequest) -> Person:
        from shared.domain.booking import valid_email

        if booking.candidate is not None:
            return Person(email=booking.candidate.email, name=booking.candidate.name)
        snapshot = self._db.collection("candidates").document(booking.candidate_id).get()
        data = snapshot.to_dict() or {}
        if not snapshot.exists or data.get("workspace_id") != member.workspace_id:
            raise Unprocessable(
                "candidate_id is not a candidate of this workspace.", code="unknown_candidate", details={"field": "candidate_id"}
            )
        return Person(email=valid_email(data.get("email"), "candidate.email"), name=str(data.get("name", "")))

    def _create(
        self, principal: Principal, member: Member, host: Member, guest: Person, booking: BookingRequest, seed: bytes | None
    ) -> tuple[dict[str, Any], int]:
        from shared.domain.booking import new_interview_id
        from shared.domain.reminders import arm

        now = self._clock.now()
        acting_host = (
            principal if host.uid == member.uid else Principal(PrincipalKind.USER, host.uid, host.email, True, host.workspace_id)
        )
        connection = self._connections().usable_connection(acting_host) if booking.confirm else None
        offsets = self._reminder_offsets(member.workspace_id)
        done, next_at = arm(booking.start, offsets, now) if booking.confirm else ((), None)
        interview = Interview(
            id=new_interview_id(seed),
            workspace_id=member.workspace_id,
            host=Person(
                email=connection.account_email if connection and connection.account_email else host.email,
                name=host.name,
                uid=host.uid,
            ),
            guest=guest,
            start=booking.start,
            timezone=booking.timezone,
            duration_minutes=booking.duration_minutes,
            type=booking.type,
            status=InterviewStatus.CONFIRMED if booking.confirm else InterviewStatus.PENDING,
            job_title=booking.job_title,
            note=booking.note,
            location=booking.location,
            phone=booking.phone,
            meet_link=booking.video_url if booking.type is InterviewType.CUSTOM_VIDEO else None,
            created_at=now,
            updated_at=now,
            reminder_offsets=offsets,
            reminders_done=done,
            next_reminder_at=next_at,
        )
        logs.bind(interview_id=interview.id, workspace_id=interview.workspace_id)
        existing = self._interviews.get(interview.id) if seed is not None else None
        if existing is None:
            try:
                self._bookings.create(interview, now)
            except Conflict as taken:
                if seed is None or taken.code != "already_exists":
                    raise
                existing = self._interviews.get(interview.id)  # an attempt that lost its lease committed meanwhile
                if existing is None:
                    raise
        if existing is not None:
            interview = existing  # a retry after a failure part-way: finish what the first attempt began
        emails: dict[str, str] = {}
        if interview.status is InterviewStatus.CONFIRMED:
            interview, emails = self._publish(acting_host, interview, connection, "invitation")
        logs.log(logger, logging.INFO, "interview created", event="interview_created")
        return self._created_view(interview, emails), 201

    # -- the Google side of a confirmed interview -------------------------------------------

    def _event_body(self, interview: Interview) -> dict[str, Any]:
        summary = (
            f"Interview: {interview.job_title} — {interview.guest.name}"
            if interview.job_title
            else f"Interview with {interview.guest.name}"
        )
        body: dict[str, Any] = {
            "summary": summary[:250],
            "description": (interview.note or "")[:4000],
            "start": {"dateTime": to_local_iso(interview.start, interview.timezone), "timeZone": interview.timezone},
            "end": {"dateTime": to_local_iso(interview.end, interview.timezone), "timeZone": interview.timezone},
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
            body["conferenceData"] = {
                "createRequest": {"requestId": interview.id, "conferenceSolutionKey": {"type": "hangoutsMeet"}}
            }
        return body

    def _credentials(self, acting_host: Principal, connection: Any) -> Any:
        from shared.google.credentials import GoogleAuthRequired

        connections = self._connections()
        try:
            return connections.credentials_for(connection)
        except GoogleAuthRequired as required:
            raise connections.consent_error(acting_host, required.reason) from None

    def _publish(
        self, acting_host: Principal, interview: Interview, connection: Any, kind: str
    ) -> tuple[Interview, dict[str, str]]:
        """Create (or find) the Calendar event, store its Meet link and UID, then queue the emails."""
        if connection is None:
            connection = self._connections().usable_connection(acting_host)
        credentials = self._credentials(acting_host, connection)
        events = self._calendar_events()
        event = events.insert(
            credentials,
            "primary",
            interview.id,
            self._event_body(interview),
            conference=interview.type is InterviewType.GOOGLE_MEET,
        )
        link = interview.meet_link
        if interview.type is InterviewType.GOOGLE_MEET:
            event, link = events.wait_for_meet_link(credentials, "primary", event)
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

    # -- confirm, reschedule, cancel, complete ----------------------------------------------

    def _change(
        self,
        principal: Principal,
        interview_id: str,
        operation: str,
        key: str | None,
        fingerprint: str,
        apply: Any,
        after_commit: Any,
        applied: Any = None,
    ) -> tuple[dict[str, Any], int]:
        """The transaction ``apply``, then ``after_commit`` (Calendar, emails).

        ``applied(interview)`` tells a resumed attempt that the dead one's transaction committed:
        then only ``after_commit`` runs again (its Calendar calls and emails are idempotent).
        """
        member = self.member(principal)
        self._visible(member, self._interviews.get(interview_id))
        logs.bind(interview_id=interview_id, workspace_id=member.workspace_id)

        def work(_seed: bytes | None, resumed: bool) -> tuple[dict[str, Any], int]:
            if resumed and applied is not None:
                current = self._interviews.get(interview_id)
                if current is not None and applied(current):
                    return after_commit(member, current, current)
            before, after = self._bookings.change(interview_id, apply, self._clock.now())
            return after_commit(member, before, after)

        return self._idempotent(member, f"{operation}:{interview_id}", key, fingerprint, work)

    def confirm(self, principal: Principal, interview_id: str, key: str | None, fingerprint: str) -> tuple[dict[str, Any], int]:
        # Fail early (nothing written) when Google needs the host's consent.
        current = self._interviews.get(interview_id)
        if current is not None and current.status is InterviewStatus.PENDING:
            member = self.member(principal)
            self._visible(member, current)
            self._connections().usable_connection(host_principal(current))

        def apply(before: Interview) -> Interview:
            from shared.domain import status as status_machine

            if before.start <= self._clock.now():
                raise Unprocessable("The interview's start has passed; reschedule it first.", code="start_in_past")
            return self._armed(replace(before, status=status_machine.transition(before.status, InterviewStatus.CONFIRMED)))

        def after(member: Member, before: Interview, interview: Interview) -> tuple[dict[str, Any], int]:
            published, emails = self._publish(host_principal(interview), interview, None, "invitation")
            return self._created_view(published, emails), 200

        return self._change(
            principal,
            interview_id,
            "confirm",
            key,
            fingerprint,
            apply,
            after,
            applied=lambda interview: interview.status is InterviewStatus.CONFIRMED,
        )

    def reschedule(
        self, principal: Principal, interview_id: str, body: dict[str, Any], key: str | None, fingerprint: str
    ) -> tuple[dict[str, Any], int]:
        from shared.domain.booking import check_window, parse_duration, parse_start

        current = self._visible(self.member(principal), self._interviews.get(interview_id))
        start, tz_name = parse_start(body, current.timezone)
        duration = parse_duration(body, current.duration_minutes)
        check_window(start, duration, self._clock.now(), self._limits)

        def apply(before: Interview) -> Interview:
            if before.status not in (InterviewStatus.PENDING, InterviewStatus.CONFIRMED):
                raise Unprocessable(
                    f"An interview that is {before.status.value} cannot be rescheduled.",
                    code="invalid_transition",
                    details={"from": before.status.value},
                )
            return self._armed(
                replace(before, start=start, timezone=tz_name, duration_minutes=duration, ical_sequence=before.ical_sequence + 1)
            )

        def after(member: Member, before: Interview, interview: Interview) -> tuple[dict[str, Any], int]:
            emails: dict[str, str] = {}
            if interview.status is InterviewStatus.CONFIRMED and interview.calendar_event_id:
                host = host_principal(interview)
                credentials = self._credentials(host, self._connections().usable_connection(host))
                self._calendar_events().patch(
                    credentials,
                    "primary",
                    interview.calendar_event_id,
                    {
                        "start": {"dateTime": to_local_iso(interview.start, interview.timezone), "timeZone": interview.timezone},
                        "end": {"dateTime": to_local_iso(interview.end, interview.timezone), "timeZone": interview.timezone},
                    },
                )
                emails = self._emails().enqueue(interview, "update", self._clock.now())
            return self._created_view(interview, emails), 200

        def applied(interview: Interview) -> bool:
            return interview.status in (InterviewStatus.PENDING, InterviewStatus.CONFIRMED) and (
                interview.start,
                interview.timezone,
                interview.duration_minutes,
            ) == (start, tz_name, duration)

        return self._change(principal, interview_id, "reschedule", key, fingerprint, apply, after, applied=applied)

    def cancel(
        self, principal: Principal, interview_id: str, body: dict[str, Any], key: str | None, fingerprint: str
    ) -> tuple[dict[str, Any], int]:
        from shared.domain.booking import text

        text(body, "reason", 500, multi_line=True)  # checked by the rule of every text field; not stored

        def apply(before: Interview) -> Interview:
            from shared.domain import status as status_machine

            return replace(
                before,
                status=status_machine.transition(before.status, InterviewStatus.CANCELLED),
                ical_sequence=before.ical_sequence + 1,
                next_reminder_at=None,
            )

        def after(member: Member, before: Interview, interview: Interview) -> tuple[dict[str, Any], int]:
            emails: dict[str, str] = {}
            if interview.calendar_event_id:  # it was confirmed (a pending interview has no event)
                host = host_principal(interview)
                try:
                    credentials = self._credentials(host, self._connections().usable_connection(host))
                    self._calendar_events().cancel(credentials, "primary", interview.calendar_event_id)
                except ConveneError as failure:  # cancelled for us all the same; the host's calendar is told by the email
                    logs.log(logger, logging.WARNING, "calendar event not cancelled", error_code=failure.code)
                emails = self._emails().enqueue(interview, "cancellation", self._clock.now())
            return self._created_view(interview, emails), 200

        return self._change(
            principal,
            interview_id,
            "cancel",
            key,
            fingerprint,
            apply,
            after,
            applied=lambda interview: interview.status is InterviewStatus.CANCELLED,
        )

    def mark(self, principal: Principal, interview_id: str, target: InterviewStatus) -> dict[str, Any]:
        def apply(before: Interview) -> Interview:
            from shared.domain import status as status_machine

            if before.start > self._clock.now():
                raise Unprocessable("An interview can be marked only once it has started.", code="not_started")
            return replace(before, status=status_machine.transition(before.status, target), next_reminder_at=None)

        body, _ = self._change(
            principal, interview_id, target.value, None, "", apply, lambda member, before, interview: (self.view(interview), 200)
        )
        return body

    # -- read -------------------------------------------------------------------------------

    def get(self, principal: Principal, interview_id: str) -> dict[str, Any]:
        member = self.member(principal)
        return self.view(self._visible(member, self._interviews.get(interview_id)))

    def list(self, principal: Principal, query: dict[str, str]) -> dict[str, Any]:
        from shared.domain.booking import parse_instant, valid_id

        member = self.member(principal)
        statuses = _statuses(query.get("status"))
        when = query.get("when")
        if when not in (None, "upcoming", "past"):
            raise BadRequest("when must be upcoming or past.", code="invalid_field", details={"field": "when"})
        now = self._clock.now()
        start_from = parse_instant(query["from"], "from") if query.get("from") else (now if when == "upcoming" else None)
        start_to = parse_instant(query["to"], "to") if query.get("to") else (now if when == "past" else None)
        try:
            page_size = int(query.get("page_size", DEFAULT_PAGE_SIZE))
        except ValueError:
            raise BadRequest("page_size must be a number.", code="invalid_field", details={"field": "page_size"}) from None
        if not 1 <= page_size <= MAX_PAGE_SIZE:
            raise BadRequest(
                f"page_size must be between 1 and {MAX_PAGE_SIZE}.", code="invalid_field", details={"field": "page_size"}
            )
        asked_host = valid_id(query["host_uid"], "host_uid") if query.get("host_uid") else None
        host_uid = member.uid if member.role is not Role.ADMIN else asked_host
        descending = when == "past"
        cursor = _decode_cursor(query.get("page_token"))
        items, next_cursor = self._interviews.list(
            workspace_id=member.workspace_id,
            host_uid=host_uid,
            statuses=statuses,
            start_from=start_from,
            start_to=start_to,
            descending=descending,
            limit=page_size,
            cursor=cursor,
        )
        return {
            "interviews": [self.view(i) for i in items],
            "next_page_token": _encode_cursor(next_cursor) if next_cursor else None,
        }

    # -- views ------------------------------------------------------------------------------

    def view(self, interview: Interview) -> dict[str, Any]:
        """The seeds' list item (id, candidate_name, date, time, …) plus the full picture."""
        local = datetime.fromisoformat(to_local_iso(interview.start, interview.timezone))
        return {
            "id": interview.id,
            "status": interview.status.value,
            "interview_type": interview.type.value,
            "candidate_name": interview.guest.name,
            "candidate": {"email": interview.guest.email, "name": interview.guest.name},
            "host": {"uid": interview.host.uid, "email": interview.host.email, "name": interview.host.name},
            "job_title": interview.job_title,
            "note": interview.note,
            "date": local.date().isoformat(),
            "time": local.strftime("%H:%M"),
            "timezone": interview.timezone,
            "start": _rfc3339(interview.start),
            "end": _rfc3339(interview.end),
            "scheduled_time": local.isoformat(),
            "duration_minutes": interview.duration_minutes,
            "meeting_link": interview.meet_link,
            "location": interview.location,
            "phone": interview.phone,
            "calendar_event_id": interview.calendar_event_id,
            "ical_uid": interview.ical_uid or None,
            "sequence": interview.ical_sequence,
            "portal_join_count": interview.portal_join_count,
            "created_at": _rfc3339(interview.created_at),
            "updated_at": _rfc3339(interview.updated_at),
        }

    def _created_view(self, interview: Interview, emails: dict[str, str]) -> dict[str, Any]:
        from shared.services.portal import portal_join_url

        body = self.view(interview)
        body.update(
            interview_id=interview.id,
            portal_join_url=portal_join_url(self._settings, self._guest_links, interview),
            emails_sent={"candidate": emails.get("candidate", "not_sent"), "recruiter": emails.get("host", "not_sent")},
        )
        return body


def _without_guest_link(body: dict[str, Any]) -> dict[str, Any]:
    """What an idempotency record keeps of an answer: all but the signed guest link (a usable credential)."""
    return {name: value for name, value in body.items() if name != GUEST_LINK}


def _statuses(raw: str | None) -> tuple[InterviewStatus, ...]:
    """Each status asked for once, in a fixed order: at most 5 values, far below Firestore's 30 for ``in``."""
    if not raw:
        return ()
    try:
        wanted = {InterviewStatus(s.strip()) for s in raw.split(",") if s.strip()}
    except ValueError:
        raise BadRequest(
            f"status must be a comma-separated list of {', '.join(s.value for s in InterviewStatus)}.",
            code="invalid_field",
            details={"field": "status"},
        ) from None
    return tuple(s for s in InterviewStatus if s in wanted)


def _encode_cursor(cursor: tuple[datetime, str]) -> str:
    return base64.urlsafe_b64encode(json.dumps([cursor[0].isoformat(), cursor[1]]).encode()).decode().rstrip("=")


def _decode_cursor(token: str | None) -> tuple[datetime, str] | None:
    """Only what ``_encode_cursor`` makes: [aware ISO start, interview id]; anything else is a 400."""
    if not token:
        return None
    from shared.domain.booking import valid_id

    invalid = BadRequest(
        "page_token is not valid; send the next_page_token of the previous page.",
        code="invalid_page_token",
        details={"field": "page_token"},
    )
    if len(token) > MAX_PAGE_TOKEN:
        raise invalid
    try:
        value = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
        if not (isinstance(value, list) and len(value) == 2 and all(isinstance(v, str) for v in value)):
            raise invalid
        start = datetime.fromisoformat(value[0])
        if start.tzinfo is None:
            raise invalid
        return start.astimezone(UTC), valid_id(value[1], "page_token")
    except (ValueError, TypeError, OverflowError, RecursionError, BadRequest):
        raise invalid from None
