"""Builds the real adapters once per instance (cold start) and lets tests inject others.

Every component is created on first use, so a function only pays for what its requests
touch: the join check never imports the Secret Manager client unless a guest link
arrives, and never the Calendar client at all.

One laziness mechanism: each component is a ``@lazy`` attribute, built (and its module
imported) on first access. A service that needs a component only on some requests receives
a provider, ``lambda: self.component``: a zero-argument callable that reads the attribute.
Return types name the concrete classes, imported for the type checker only.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Generic, TypeVar, overload

from shared import logs
from shared.auth.certs import CertificateCache
from shared.auth.tokens import FirebaseTokenVerifier, ServiceTokenVerifier
from shared.clock import Clock, SystemClock
from shared.config import Settings

if TYPE_CHECKING:  # built lazily: a function loads only the modules its requests use
    from google.cloud import firestore

    from shared.adapters.bookings import BookingStore
    from shared.adapters.candidates import CandidateRepository
    from shared.adapters.connections import ConnectionRepository, OAuthStateRepository
    from shared.adapters.firestore import InterviewRepository, UserRepository, WorkspaceRepository
    from shared.adapters.idempotency import IdempotencyStore
    from shared.adapters.scheduling import BookingLinkRepository, SchedulingConfigRepository
    from shared.adapters.sendgrid_mail import SendGridMailer
    from shared.adapters.tasks import TaskQueue
    from shared.auth.guest_links import GuestLinks
    from shared.crypto import TokenCipher
    from shared.domain.models import JoinWindow
    from shared.google.calendar import CalendarApi, CalendarEvents
    from shared.google.credentials import CredentialsManager
    from shared.google.meet import MeetApi
    from shared.google.oauth import GoogleOAuth, OAuthClient
    from shared.ports import Cleanup, DueReminders, EndedMeetings, HostBookings, InterviewStats, JobCursors, OutboxRepository
    from shared.secrets import Secrets
    from shared.services.access import AccessPolicy
    from shared.services.analytics import Analytics
    from shared.services.attendance import AttendanceJob
    from shared.services.connections import GoogleConnections
    from shared.services.email_worker import EmailWorker
    from shared.services.emails import EmailQueue
    from shared.services.interviews import InterviewService
    from shared.services.maintenance import Maintenance
    from shared.services.meet_links import MeetLinks
    from shared.services.reminders import ReminderRun
    from shared.services.scheduling.availability import Availability
    from shared.services.scheduling.configs import SchedulingConfigs
    from shared.services.scheduling.guest import GuestSelfService
    from shared.services.scheduling.links import BookingLinks


T = TypeVar("T")


class lazy(Generic[T]):
    """Built on first access, exactly once even under concurrent first requests.

    ``functools.cached_property`` stopped locking in Python 3.12 (the deploy runtime), which
    would let two threads build two clients.
    """

    def __init__(self, build: Callable[[Container], T]):
        self._build = build
        self.__doc__ = build.__doc__

    def __set_name__(self, owner: type, name: str) -> None:
        self._name = name

    @overload
    def __get__(self, instance: None, owner: type) -> lazy[T]: ...
    @overload
    def __get__(self, instance: Container, owner: type) -> T: ...

    def __get__(self, instance: Container | None, owner: type) -> T | lazy[T]:
        if instance is None:
            return self
        cache = instance.__dict__
        if self._name not in cache:
            with instance._lock:
                if self._name not in cache:
                    cache[self._name] = self._build(instance)
        built: T = cache[self._name]
        return built


class Container:
    def __init__(
        self,
        settings: Settings,
        *,
        clock: Clock | None = None,
        firestore_client: firestore.Client | None = None,
        secrets: Secrets | None = None,
    ):
        self.settings = settings
        self.clock: Clock = clock or SystemClock()
        self._firestore_client = firestore_client
        self._secrets = secrets
        self._lock = threading.RLock()

    @lazy
    def firestore(self) -> firestore.Client:
        if self._firestore_client is None:
            from google.cloud import firestore

            self._firestore_client = firestore.Client(project=self.settings.project_id)
        return self._firestore_client

    @lazy
    def secrets(self) -> Secrets:
        from shared.secrets import LocalSecrets, SecretManagerSecrets

        if self._secrets is not None:
            return self._secrets
        if self.settings.secrets_backend == "local":
            return LocalSecrets(self.settings.local_secrets_file)
        return SecretManagerSecrets(self.settings.project_id, self.settings.secret_manager_endpoint)

    @lazy
    def interviews(self) -> InterviewRepository:
        from shared.adapters.firestore import InterviewRepository

        return InterviewRepository(self.firestore)

    @lazy
    def users(self) -> UserRepository:
        from shared.adapters.firestore import UserRepository

        return UserRepository(self.firestore)

    @lazy
    def workspaces(self) -> WorkspaceRepository:
        from shared.adapters.firestore import WorkspaceRepository

        return WorkspaceRepository(self.firestore)

    @lazy
    def id_tokens(self) -> FirebaseTokenVerifier:
        return FirebaseTokenVerifier(self.settings.firebase_project_id, CertificateCache(self.settings.firebase_certs_url))

    @lazy
    def service_tokens(self) -> ServiceTokenVerifier:
        return ServiceTokenVerifier(
            self.settings.internal_audience,
            self.settings.internal_invokers,
            CertificateCache(self.settings.google_oidc_certs_url),
        )

    @lazy
    def guest_links(self) -> GuestLinks:
        from shared.auth.guest_links import GuestLinks

        return GuestLinks(self.secrets, self.settings.guest_link_secret)

    @lazy
    def connections(self) -> ConnectionRepository:
        from shared.adapters.connections import ConnectionRepository

        return ConnectionRepository(self.firestore)

    @lazy
    def oauth_states(self) -> OAuthStateRepository:
        from shared.adapters.connections import OAuthStateRepository

        return OAuthStateRepository(self.firestore)

    @lazy
    def token_cipher(self) -> TokenCipher:
        from shared.crypto import TokenCipher

        return TokenCipher(self.secrets, self.settings.token_key_secret)

    @lazy
    def oauth_client(self) -> OAuthClient:
        from shared.google.oauth import load_client

        return load_client(self.secrets, self.settings.oauth_client_secret)

    @lazy
    def google_oauth(self) -> GoogleOAuth:
        from shared.google.oauth import GoogleOAuth

        return GoogleOAuth(self.settings, self.oauth_client, CertificateCache(self.settings.google_oidc_certs_url))

    @lazy
    def calendar_api(self) -> CalendarApi:
        from shared.google.calendar import CalendarApi

        return CalendarApi(self.settings)

    @lazy
    def meet_api(self) -> MeetApi:
        from shared.google.meet import MeetApi

        return MeetApi(self.settings)

    @lazy
    def google_credentials(self) -> CredentialsManager:
        from shared.google.credentials import CredentialsManager

        return CredentialsManager(self.settings, self.oauth_client, self.token_cipher, self.connections, self.clock)

    @lazy
    def google_connections(self) -> GoogleConnections:
        """Connect/callback/status/disconnect; the Google pieces are built only when a request needs them."""
        from shared.services.connections import GoogleConnections

        return GoogleConnections(
            settings=self.settings,
            clock=self.clock,
            access=self.access,
            states=self.oauth_states,
            connections=self.connections,
            cipher=self.token_cipher,  # cheap to build: its key is read on first seal/open
            oauth=lambda: self.google_oauth,
            calendar=lambda: self.calendar_api,
            credentials=lambda: self.google_credentials,
        )

    @lazy
    def bookings(self) -> BookingStore:
        from shared.adapters.bookings import BookingStore

        return BookingStore(self.firestore)

    @lazy
    def idempotency(self) -> IdempotencyStore:
        from shared.adapters.idempotency import IdempotencyStore

        return IdempotencyStore(self.firestore)

    @lazy
    def scheduling_configs(self) -> SchedulingConfigRepository:
        from shared.adapters.scheduling import SchedulingConfigRepository

        return SchedulingConfigRepository(self.firestore)

    @lazy
    def booking_links(self) -> BookingLinkRepository:
        from shared.adapters.scheduling import BookingLinkRepository

        return BookingLinkRepository(self.firestore)

    @lazy
    def host_bookings(self) -> HostBookings:
        """A host's pending and confirmed interviews in a range; a guest's pending requests."""
        from shared.adapters.scheduling import FirestoreHostBookings

        return FirestoreHostBookings(self.firestore)

    @lazy
    def email_tasks(self) -> TaskQueue:
        from shared.adapters.tasks import TaskQueue

        return TaskQueue(self.settings, self.settings.email_queue)

    @lazy
    def email_queue(self) -> EmailQueue:
        from shared.services.emails import EmailQueue

        return EmailQueue(outbox=self.outbox, tasks=self.email_tasks, worker_url=self.settings.email_worker_url)

    @lazy
    def outbox(self) -> OutboxRepository:
        from shared.adapters.outbox import FirestoreOutbox

        return FirestoreOutbox(self.firestore)

    @lazy
    def due_reminders(self) -> DueReminders:
        from shared.adapters.interview_queries import FirestoreDueReminders

        return FirestoreDueReminders(self.firestore)

    @lazy
    def ended_meetings(self) -> EndedMeetings:
        from shared.adapters.interview_queries import FirestoreEndedMeetings

        return FirestoreEndedMeetings(self.firestore)

    @lazy
    def interview_stats(self) -> InterviewStats:
        from shared.adapters.interview_queries import FirestoreInterviewStats

        return FirestoreInterviewStats(self.firestore)

    @lazy
    def cleanup(self) -> Cleanup:
        from shared.adapters.maintenance_queries import FirestoreCleanup

        return FirestoreCleanup(self.firestore)

    @lazy
    def job_cursors(self) -> JobCursors:
        from shared.adapters.maintenance_queries import FirestoreJobCursors

        return FirestoreJobCursors(self.firestore)

    @lazy
    def calendar_events(self) -> CalendarEvents:
        from shared.google.calendar import CalendarEvents

        return CalendarEvents(self.calendar_api, self.settings)

    @lazy
    def access(self) -> AccessPolicy:
        """Who may see and change what: the one policy of every function (shared/services/access.py)."""
        from shared.services.access import AccessPolicy

        return AccessPolicy(self.users)

    @lazy
    def candidates(self) -> CandidateRepository:
        from shared.adapters.candidates import CandidateRepository

        return CandidateRepository(self.firestore)

    @lazy
    def interview_service(self) -> InterviewService:
        """Create/confirm/…; Google, Tasks and the outbox are built only when a change needs them."""
        from shared.services.interviews import InterviewService

        return InterviewService(
            settings=self.settings,
            clock=self.clock,
            access=self.access,
            interviews=self.interviews,
            bookings=self.bookings,
            idempotency=self.idempotency,
            candidates=self.candidates,
            connections=lambda: self.google_connections,
            calendar_events=lambda: self.calendar_events,
            emails=lambda: self.email_queue,
            guest_links=self.guest_links,
            workspaces=self.workspaces,
        )

    @lazy
    def mailer(self) -> SendGridMailer:
        from shared.adapters.sendgrid_mail import SendGridMailer

        return SendGridMailer(
            self.settings, lambda: self.secrets.get(self.settings.sendgrid_secret).value.decode("utf-8").strip()
        )

    @lazy
    def email_worker(self) -> EmailWorker:
        from shared.services.email_worker import EmailWorker

        return EmailWorker(
            settings=self.settings,
            clock=self.clock,
            outbox=self.outbox,
            interviews=self.interviews,
            mailer=lambda: self.mailer,
            guest_links=self.guest_links,
            meet_link_resolver=lambda interview: self.meet_links.resolve(interview),
        )

    @lazy
    def meet_links(self) -> MeetLinks:
        from shared.services.meet_links import MeetLinks

        return MeetLinks(
            clock=self.clock,
            interviews=self.interviews,
            connections=lambda: self.google_connections,
            calendar_events=lambda: self.calendar_events,
        )

    @lazy
    def reminder_run(self) -> ReminderRun:
        from shared.services.reminders import ReminderRun

        return ReminderRun(due=self.due_reminders, emails=lambda: self.email_queue)

    @lazy
    def attendance_job(self) -> AttendanceJob:
        """Ended Meet interviews → completed / no_show; Google clients only if a Meet read is needed."""
        from shared.services.attendance import AttendanceJob

        return AttendanceJob(
            ended=self.ended_meetings,
            bookings=self.bookings,
            connections=self.connections,
            google_connections=lambda: self.google_connections,
            meet=lambda: self.meet_api,
            default_window=self.default_join_window,
        )

    @lazy
    def analytics(self) -> Analytics:
        from shared.services.analytics import Analytics

        return Analytics(stats=self.interview_stats, members=self.access, clock=self.clock)

    @lazy
    def maintenance(self) -> Maintenance:
        """Connection health, calendar sync, cleanup, attendance; Google and Tasks clients only when a job needs them."""
        from datetime import timedelta

        from shared.services.maintenance import Maintenance

        s = self.settings
        return Maintenance(
            connections=self.connections,
            users=self.users,
            outbox=self.outbox,
            cleanup=self.cleanup,
            cursors=self.job_cursors,
            credentials=lambda: self.google_credentials,
            google_connections=lambda: self.google_connections,
            tasks=lambda: self.email_tasks,
            worker_url=s.email_worker_url,
            max_connections=s.maintenance_max_connections,
            max_deletions=s.maintenance_max_deletions,
            outbox_retention=timedelta(days=s.outbox_retention_days),
            reconnect_page=s.oauth_result_urls[0] if s.oauth_result_urls else None,
        )

    @lazy
    def availability(self) -> Availability:
        """Free slots: one free/busy call and one interviews query per request (SPEC §2.6)."""
        from shared.services.scheduling.availability import Availability

        return Availability(
            host_bookings=self.host_bookings,
            connections=lambda: self.google_connections,
            calendar=lambda: self.calendar_api,
            max_duration_minutes=self.settings.max_duration_minutes,
        )

    @lazy
    def scheduling_configs_service(self) -> SchedulingConfigs:
        from shared.services.interviews.booking import limits
        from shared.services.scheduling.configs import SchedulingConfigs

        return SchedulingConfigs(
            clock=self.clock,
            access=self.access,
            configs=self.scheduling_configs,
            links=self.booking_links,
            connections=self.connections,
            limits=limits(self.settings),
        )

    @lazy
    def booking_link_service(self) -> BookingLinks:
        from shared.services.scheduling.links import BookingLinks, LinkLimits

        s = self.settings
        return BookingLinks(
            clock=self.clock,
            access=self.access,
            users=self.users,
            configs=self.scheduling_configs,
            links=self.booking_links,
            host_bookings=self.host_bookings,
            availability=self.availability,
            interviews=lambda: self.interview_service,  # built on a booking, not on a link view
            page_url=f"{s.scheduling_url}/book" if s.scheduling_url else None,
            limits=LinkLimits(),
            duration_limits=(s.min_duration_minutes, s.max_duration_minutes),
        )

    @lazy
    def guest_self_service(self) -> GuestSelfService:
        from shared.services.scheduling.guest import GuestSelfService

        return GuestSelfService(
            clock=self.clock,
            interviews=self.interviews,
            workspaces=self.workspaces,
            configs=self.scheduling_configs,
            links=self.booking_link_service,
            interview_service=self.interview_service,
            emails=lambda: self.email_queue,
        )

    @lazy
    def default_join_window(self) -> JoinWindow:
        from shared.domain.models import JoinWindow

        return JoinWindow(self.settings.join_opens_minutes, self.settings.join_closes_minutes)


_container: Container | None = None
_container_lock = threading.Lock()


def container() -> Container:
    """The instance-wide container, built from the environment on first use."""
    global _container
    if _container is None:
        with _container_lock:
            if _container is None:
                settings = Settings.from_env()
                logs.configure(settings.log_level)
                _container = Container(settings)
    return _container


def use_container(replacement: Container | None) -> None:
    """Tests: run the functions against injected adapters (or ``None`` to rebuild from env)."""
    global _container
    with _container_lock:
        _container = replacement
