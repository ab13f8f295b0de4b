"""The ports: what services need from storage and the outside world, as ``typing.Protocol``.

Services depend on these, never on ``google.cloud``; ``shared/adapters/`` holds the real
implementations (Firestore, Cloud Tasks, SendGrid) and tests/fakes.py one in-memory fake
each, kept honest by one contract suite per port (tests/contract/). Every Firestore query,
and so every composite index, lives in an adapter:

- interviews: ``InterviewRepository`` (shared/adapters/firestore.py), ``DueReminders``,
  ``EndedMeetings``, ``InterviewStats`` (shared/adapters/interview_queries.py);
- users, workspaces: ``UserRepository``, ``WorkspaceRepository`` (shared/adapters/firestore.py);
- connections, OAuth states: ``ConnectionRepository``, ``OAuthStateRepository``
  (shared/adapters/connections.py);
- outbox: ``OutboxRepository`` (shared/adapters/outbox.py);
- maintenance: ``Cleanup``, ``JobCursors`` (shared/adapters/maintenance_queries.py);
- bookings, idempotency: ``BookingStore``, ``IdempotencyStore`` (their own adapters).
- scheduling (SPEC §2.6): ``SchedulingConfigRepository``, ``BookingLinkRepository``,
  ``HostBookings`` (shared/adapters/scheduling.py).

A port refuses in its own terms, never a client library's: a create whose id is taken raises
``AlreadyExists``, a change to something not stored ``DoesNotExist`` (the adapters translate
Firestore's ``Conflict`` and ``NotFound``). Neither is a ``ConveneError``: a service that
expects one handles it; one it does not expect is a fault (500), as before.

Only the standard library and the domain are imported here: a service may import this
module on a cold start for free.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, NamedTuple, Protocol

from shared.clock import Clock
from shared.domain.connections import CalendarEntry, Connection, OAuthState, ProviderError, SealedSecret
from shared.domain.models import Interview, InterviewStatus, Role, User, Workspace
from shared.domain.scheduling import BookingLink, SchedulingConfig
from shared.refusals import AlreadyExists, DoesNotExist
from shared.secrets import Secrets

if TYPE_CHECKING:
    from shared.adapters.sendgrid_mail import SendResult
    from shared.auth.principal import Principal
    from shared.mail.content import RenderedEmail

__all__ = [
    "AlreadyExists",
    "BookingLinkRepository",
    "BookingStore",
    "CalendarEventReader",
    "CalendarListSync",
    "ClaimedEmail",
    "Cleanup",
    "Clock",
    "ConnectedEntry",
    "ConnectionCredentials",
    "ConnectionRepository",
    "DoesNotExist",
    "DueInterview",
    "DueReminders",
    "EndedMeetings",
    "GoogleCredentials",
    "HostBookings",
    "IdempotencyStore",
    "InterviewRepository",
    "InterviewStats",
    "JobCursors",
    "LeaseHeld",
    "Mailer",
    "Members",
    "Membership",
    "OAuthStateRepository",
    "OutboxEmail",
    "OutboxRepository",
    "ReauthIncident",
    "ReminderState",
    "SchedulingConfigRepository",
    "Secrets",
    "TaskQueue",
    "UsableConnections",
    "UserRepository",
    "WorkspaceRepository",
]

Page = tuple[list[Interview], tuple[datetime, str] | None]


# -- what a port refuses ----------------------------------------------------------------------


# AlreadyExists and DoesNotExist live in shared.refusals (light to import), re-exported here.


# -- interviews -------------------------------------------------------------------------------


class InterviewRepository(Protocol):
    def get(self, interview_id: str) -> Interview | None:
        """None when absent, and for an id Firestore could not hold."""

    def add(self, interview: Interview) -> None:
        """Create; ``AlreadyExists`` if the id is taken."""

    def update(self, interview_id: str, fields: Mapping[str, Any]) -> None:
        """Set stored fields (document field paths, e.g. ``meet_link``); ``DoesNotExist`` if absent."""

    def list(
        self,
        *,
        workspace_id: str,
        host_uid: str | None,
        statuses: tuple[InterviewStatus, ...],
        start_from: datetime | None,
        start_to: datetime | None,
        descending: bool,
        limit: int,
        cursor: tuple[datetime, str] | None,
    ) -> Page:
        """One page ordered by (start, id); the cursor is the last item's (start, id), None at the end."""

    def record_join(self, interview: Any, participant: Any, at: datetime) -> None:
        """Count a portal join (concurrent joins are all counted); ``DoesNotExist`` if absent."""


@dataclass(frozen=True)
class DueInterview:
    """An interview whose ``next_reminder_at`` has come, and the version it was read at."""

    interview: Interview
    version: Any  # opaque: what a precondition on a later write compares with


@dataclass(frozen=True)
class ReminderState:
    """The reminder state to write: ``done`` None leaves the done offsets as they are."""

    next_at: datetime | None
    done: tuple[int, ...] | None = None


class DueReminders(Protocol):
    def due(self, now: datetime, limit: int) -> list[DueInterview]:
        """Interviews with ``next_reminder_at <= now``, soonest first, at most ``limit``."""

    def advance(self, updates: Sequence[tuple[DueInterview, ReminderState]]) -> list[int]:
        """Write each new state only if the interview is unchanged since it was read; the
        indexes (into ``updates``) of those that changed or vanished meanwhile (not written)."""


class EndedMeetings(Protocol):
    def ended(self, *, closed_before: datetime, not_before: datetime, limit: int) -> list[Interview]:
        """Confirmed Google Meet interviews with ``not_before <= end < closed_before``, oldest end first."""


class InterviewStats(Protocol):
    def count_by_status(
        self, *, workspace_id: str, host_uid: str | None, since: datetime, until: datetime
    ) -> dict[InterviewStatus, int]:
        """Interviews starting in [since, until), per status (every status present, 0 if none)."""

    def average_duration(self, *, workspace_id: str, host_uid: str | None, since: datetime, until: datetime) -> float | None:
        """The average ``actual_duration_minutes`` of the completed ones among them (minutes),
        None when none of them has one."""


class BookingStore(Protocol):
    def create(self, interview: Interview, now: datetime) -> None: ...

    def change(self, interview_id: str, apply: Callable[[Interview], Interview], now: datetime) -> tuple[Interview, Interview]:
        """Atomically: read, apply, move the slot, write; ``shared.errors.NotFound`` if absent."""


class IdempotencyStore(Protocol):
    def run(
        self,
        record: str,
        fingerprint: str,
        now: datetime,
        operation: Callable[[bool], tuple[dict[str, Any], int]],
        *,
        seal: Callable[[dict[str, Any]], dict[str, Any]] = ...,
        unseal: Callable[[dict[str, Any]], dict[str, Any]] = ...,
    ) -> tuple[dict[str, Any], int]: ...


# -- people -----------------------------------------------------------------------------------


class UserRepository(Protocol):
    def get(self, uid: str) -> User | None: ...

    def put(self, user: User) -> None: ...


class WorkspaceRepository(Protocol):
    def get(self, workspace_id: str) -> Workspace | None: ...

    def put(self, workspace: Workspace) -> None: ...


class Membership(Protocol):
    @property
    def uid(self) -> str: ...
    @property
    def workspace_id(self) -> str: ...
    @property
    def role(self) -> Role: ...


class Members(Protocol):
    """Who the caller is in their workspace (the interview service authorizes this way)."""

    def member(self, principal: Principal) -> Membership: ...


# -- connections ------------------------------------------------------------------------------


@dataclass(frozen=True)
class ReauthIncident:
    """A connection that needs consent again, since ``at`` (its last error), and the notice sent, if any."""

    uid: str
    workspace_id: str
    at: datetime
    notice_id: str | None


class ConnectedEntry(NamedTuple):
    key: str  # the connection's place in the round robin (its document id)
    uid: str


class ConnectionRepository(Protocol):
    def get(self, uid: str, provider: str) -> Connection | None: ...

    def save(self, connection: Connection) -> None: ...

    def update(self, uid: str, provider: str, fields: Mapping[str, Any]) -> None:
        """Set stored fields (field paths); ``DoesNotExist`` if absent (so every change below that is no query)."""

    def record_sync(self, uid: str, provider: str, calendars: tuple[CalendarEntry, ...], at: datetime) -> None: ...

    def record_error(self, uid: str, provider: str, error: ProviderError, *, needs_reauth: bool = False) -> None: ...

    def store_refresh_token(self, uid: str, provider: str, sealed: SealedSecret, at: datetime) -> None: ...

    def disconnect(self, uid: str, provider: str, at: datetime) -> None: ...

    def connected_page(self, *, after: str | None, limit: int) -> list[ConnectedEntry]:
        """Connected connections in key order after the key ``after`` (None: from the start)."""

    def never_synced_uids(self, limit: int) -> list[str]:
        """Connected connections whose calendar list was never read."""

    def synced_before_uids(self, before: datetime, limit: int) -> list[str]:
        """Connected connections whose calendar list was last read before ``before``."""

    def needs_reauth_since(self, since: datetime, limit: int) -> list[ReauthIncident]:
        """Connections marked ``needs_reauth`` by a failure at or after ``since``."""

    def mark_notified(self, uid: str, provider: str, notice_id: str, at: datetime) -> None: ...


class OAuthStateRepository(Protocol):
    def add(self, state: OAuthState) -> None:
        """Create; ``AlreadyExists`` if the hash is taken."""

    def get(self, state_hash: str) -> OAuthState | None: ...

    def bind_browser(self, state_hash: str, binding: str, now: datetime) -> OAuthState | None: ...

    def consume(self, state_hash: str) -> OAuthState | None: ...


# -- outbox -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class OutboxEmail:
    """One email to send: about an interview (``interview_id``) or a notice to a host (``uid``)."""

    id: str
    kind: str
    audience: str
    to_email: str
    workspace_id: str
    interview_id: str | None = None
    sequence: int = 0
    uid: str | None = None
    to_name: str | None = None
    reconnect_url: str | None = None


@dataclass(frozen=True)
class ClaimedEmail:
    """An outbox record as read by a claim; ``fresh`` False: already final, not to be sent."""

    record: dict[str, Any]
    fresh: bool


class LeaseHeld(Exception):
    """Another delivery of this email holds a live lease."""


FINAL_EMAIL_STATES = ("sent", "failed", "skipped")


class OutboxRepository(Protocol):
    def add(self, email: OutboxEmail, now: datetime) -> bool:
        """Create as ``queued``; False (nothing written) if an email with this id exists."""

    def add_many(self, emails: Sequence[OutboxEmail], now: datetime) -> None:
        """Create each that does not exist yet (in batches; existing ones are left as they are)."""

    def claim(self, email_id: str, now: datetime, lease_until: datetime) -> ClaimedEmail | None:
        """``queued`` (or an expired ``sending``) → ``sending`` until ``lease_until``, atomically;
        None if absent; raises LeaseHeld while another delivery's lease is live."""

    def release(self, email_id: str, code: str, message: str, now: datetime) -> None:
        """Back to ``queued`` with the error (the queue retries); ``DoesNotExist`` if the record is gone."""

    def finish(self, email_id: str, fields: Mapping[str, Any], now: datetime) -> None:
        """A final state (``status`` in fields, with what goes with it); the lease dropped. ``DoesNotExist`` if gone."""

    def get(self, email_id: str) -> dict[str, Any] | None: ...


# -- maintenance ------------------------------------------------------------------------------


class Cleanup(Protocol):
    """Deletes what is past its time, in batches, up to a budget; each returns (deleted, budget used up)."""

    def expired_oauth_states(self, now: datetime, *, budget: int, batch: int) -> tuple[int, bool]: ...

    def expired_idempotency(self, now: datetime, *, budget: int, batch: int) -> tuple[int, bool]: ...

    def finished_emails(self, updated_before: datetime, *, budget: int, batch: int) -> tuple[int, bool]: ...


class JobCursors(Protocol):
    """Where a maintenance job stopped, for the next run."""

    def get(self, job: str) -> str | None: ...

    def set(self, job: str, after: str | None) -> None: ...


# -- outside world ----------------------------------------------------------------------------


class TaskQueue(Protocol):
    def enqueue(self, task_id: str, url: str, payload: dict[str, Any], *, schedule_at: datetime | None = None) -> bool:
        """False if a task with this id exists (or recently existed)."""


class Mailer(Protocol):
    def send(self, email: RenderedEmail, *, categories: list[str], custom_args: dict[str, str]) -> SendResult: ...


# -- Google, as services use it -----------------------------------------------------------------


class GoogleCredentials(Protocol):
    """A host's live Google credentials (``google.oauth2.credentials.Credentials``): services
    only hand them to the Google clients."""

    @property
    def valid(self) -> bool: ...


class ConnectionCredentials(Protocol):
    """shared.google.credentials.CredentialsManager: live credentials per stored connection."""

    def for_connection(self, connection: Connection) -> GoogleCredentials:
        """Refreshed if need be; ``GoogleAuthRequired`` when Google no longer accepts the grant."""

    def prime(self, connection: Connection, access_token: str | None, expires_in: int | None) -> None:
        """Start from the access token a code exchange returned."""

    def forget(self, uid: str) -> None:
        """Drop the cached access token: the next ``for_connection`` refreshes for real."""


class UsableConnections(Protocol):
    """What a job acting for a host needs of shared.services.connections.GoogleConnections."""

    def usable_connection(self, principal: Principal) -> Connection:
        """The host's connection with working credentials, or the needs_google_auth error."""

    def credentials_for(self, connection: Connection) -> GoogleCredentials: ...


class CalendarListSync(Protocol):
    """shared.services.connections.GoogleConnections.sync_connection, for the maintenance run."""

    def sync_connection(self, connection: Connection) -> Connection:
        """Re-read the calendar list; a failure is recorded on the connection and raised."""


class CalendarEventReader(Protocol):
    """shared.google.calendar.CalendarEvents, as far as reading an event goes."""

    def get(self, credentials: GoogleCredentials, calendar_id: str, event_id: str) -> dict[str, Any]: ...


# -- scheduling (SPEC §2.6) -----------------------------------------------------------------------


class SchedulingConfigRepository(Protocol):
    """A host's named scheduling configurations (``scheduling_configs/{id}``)."""

    def add(self, config: SchedulingConfig) -> None:
        """Create; ``AlreadyExists`` if the id is taken."""

    def get(self, config_id: str) -> SchedulingConfig | None:
        """None when absent, and for an id Firestore could not hold."""

    def list(self, *, workspace_id: str, host_uid: str | None, limit: int) -> list[SchedulingConfig]:
        """The workspace's configurations (one host's, when given), oldest ``created_at`` first, then by id."""

    def replace(self, config: SchedulingConfig) -> None:
        """Write the whole configuration over the stored one; ``DoesNotExist`` if absent."""

    def delete(self, config_id: str) -> bool:
        """False when there was nothing to delete."""


class BookingLinkRepository(Protocol):
    """Shareable booking links (``booking_links/{id}``; the id is the secret in the URL) and
    their per-hour booking counters (``booking_link_rates/{id}-{YYYYMMDDHH}``).

    ``revoke``, ``claim_single_use`` and ``release_single_use`` are atomic read-decide-writes
    of the link; should the link keep changing under them (persistent contention), they raise
    ``shared.errors.Unavailable`` (503, retry), as BookingStore does."""

    def add(self, link: BookingLink) -> None:
        """Create; ``AlreadyExists`` if the id is taken."""

    def get(self, link_id: str) -> BookingLink | None:
        """None when absent, and for an id Firestore could not hold."""

    def list(self, *, workspace_id: str, host_uid: str | None, config_id: str | None, limit: int) -> list[BookingLink]:
        """The workspace's links (one host's, one configuration's, when given), newest ``created_at`` first, then by id descending."""

    def revoke(self, link_id: str, at: datetime) -> BookingLink | None:
        """Set ``revoked_at`` (a revoked link keeps its first time); the link as stored, None if absent."""

    def claim_single_use(self, link_id: str, interview_id: str, at: datetime) -> bool:
        """Atomically use up a single-use link for ``interview_id``: True if it was unused (now
        ``used_at`` = at, ``used_by`` = the interview) or already used by this same interview (a
        retry; nothing rewritten), False if another interview used it. A link that is not
        single-use is never used up: True, nothing written. ``DoesNotExist`` if absent."""

    def release_single_use(self, link_id: str, interview_id: str) -> None:
        """Undo ``interview_id``'s claim (its booking failed): the link is unused again. A claim
        by another interview, an unused link and an absent one are left as they are."""

    def record_booking(self, link_id: str, at: datetime, *, hourly_limit: int) -> bool:
        """Count one booking attempt in the link's hour (UTC) of ``at``; False (the attempt is
        refused, yet counted) once that hour's count exceeds ``hourly_limit``. An accepted one
        also adds 1 to the link's ``booking_count`` (``DoesNotExist`` if the link is absent: the
        service reads the link first).
        Concurrent attempts never contend (atomic increments, no transaction)."""


class HostBookings(Protocol):
    """Queries over ``interviews`` for availability and the booking links' abuse limits."""

    def active_between(
        self, *, workspace_id: str, host_uid: str, start_from: datetime, start_before: datetime
    ) -> list[Interview]:
        """The host's pending and confirmed interviews with ``start_from <= start < start_before``, by start (then id)."""

    def pending_requests(self, *, workspace_id: str, host_uid: str, guest_email: str, since: datetime) -> int:
        """How many pending interviews of the host for this guest email (compared trimmed and
        case-insensitively) start at or after ``since``."""
