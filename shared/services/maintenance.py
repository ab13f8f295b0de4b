"""The maintenance run (SPEC §2.7): connection health, the daily calendar-list sync, cleanup.

Cloud Scheduler calls the maintenance function; it runs the requested jobs one after the
other. Each job is bounded per run and says whether work is left (``more``); a job that
fails is reported and logged, and the others still run.

- ``connections``: every connected connection gets a real refresh (its cached access
  token is dropped first). Google refresh tokens have no expiry date: they stop working
  when the person revokes access or changes the password, and after six months unused (a
  week for an app in "testing" mode). A refresh both keeps them in use and finds the dead
  ones: ``invalid_grant`` marks the connection ``needs_reauth`` (CredentialsManager); any
  other failure is recorded as its ``last_error``. Then each host whose connection needs
  consent again gets ONE email per incident — the incident is the time of the failure that
  marked it, so a later reconnect and a new revocation email again — with a fresh reconnect
  link, through the outbox and Cloud Tasks like every email. Connections are visited in
  document-id order from where the previous run stopped (``maintenance/connections``), so
  when there are more than one run may check, each is still checked every few runs.
- ``calendars``: connected connections whose calendar list is older than a day (or was
  never read) are re-read; a failure is recorded on the connection.
- ``cleanup``: expired OAuth states and idempotency records, and outbox documents in a
  final state (sent, failed, skipped) older than the retention period, deleted in batches
  by queries that read only what they delete.

Every query lives in an adapter: the connection ones on ``ConnectionRepository``
(shared/adapters/connections.py), the deletions in ``Cleanup`` and the round robin's
place in ``JobCursors`` (shared/adapters/maintenance_queries.py), the reconnect email in
the outbox (shared/adapters/outbox.py).
"""

from __future__ import annotations

import hashlib
import logging
import re
import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from shared import logs
from shared.domain.connections import GOOGLE, Connection, ConnectionStatus, GoogleAuthRequired, ProviderError
from shared.domain.timezones import rfc3339_utc
from shared.errors import BadRequest, ConveneError, NotFound
from shared.ports import (
    CalendarListSync,
    Cleanup,
    ConnectionCredentials,
    ConnectionRepository,
    JobCursors,
    OutboxEmail,
    OutboxRepository,
    TaskQueue,
    UserRepository,
)

logger = logging.getLogger(__name__)

Job = Callable[[datetime], Mapping[str, Any]]

MAX_CONNECTIONS = 1000  # per job and run: each is a call to Google
MAX_DELETIONS = 5000  # per collection and run
BATCH = 500  # Firestore's limit of writes in one batch
SYNC_EVERY = timedelta(hours=24)
OUTBOX_RETENTION = timedelta(days=30)
NOTICE_LOOKBACK = timedelta(days=7)  # an incident older than this is no longer news: not emailed
_TASK_SAFE = re.compile(r"[A-Za-z0-9_-]{1,128}")


def notice_id(uid: str, incident_at: datetime) -> str:
    """The reconnect email's outbox id and task name: one per host and incident, whoever queues it."""
    safe_uid = uid if _TASK_SAFE.fullmatch(uid) else hashlib.sha256(uid.encode()).hexdigest()[:32]
    return f"reconnect-{safe_uid}-{incident_at.astimezone(UTC):%Y%m%dt%H%M%S%f}"


class Maintenance:
    """The jobs of SPEC §2.7 that keep connections usable and collections small."""

    def __init__(
        self,
        *,
        connections: ConnectionRepository,
        users: UserRepository,
        outbox: OutboxRepository,
        cleanup: Cleanup,
        cursors: JobCursors,
        credentials: Callable[[], ConnectionCredentials],
        google_connections: Callable[[], CalendarListSync],
        tasks: Callable[[], TaskQueue],
        worker_url: str,
        max_connections: int = MAX_CONNECTIONS,
        max_deletions: int = MAX_DELETIONS,
        batch_size: int = BATCH,
        outbox_retention: timedelta = OUTBOX_RETENTION,
        reconnect_page: str | None = None,
    ):
        # credentials, google_connections and tasks are zero-argument factories: a cleanup run builds no Google or Tasks client.
        self._connections = connections
        self._users = users
        self._outbox = outbox
        self._cleanup = cleanup
        self._cursors = cursors
        self._credentials = credentials
        self._google = google_connections
        self._tasks = tasks
        self._worker_url = worker_url
        self._max_connections = max_connections
        self._max_deletions = max_deletions
        self._batch_size = batch_size
        self._outbox_retention = outbox_retention
        self._reconnect_page = reconnect_page

    def jobs(self) -> dict[str, Job]:
        """By name, in the order a default run takes them (the health check first: the sync then skips dead grants)."""
        return {"connections": self.check_connections, "calendars": self.sync_calendars, "cleanup": self.clean_up}

    # -- connections ------------------------------------------------------------------------

    def check_connections(self, now: datetime) -> dict[str, Any]:
        """Refresh the next connected connections, then email the hosts of new ``needs_reauth`` incidents."""
        counts = {"checked": 0, "healthy": 0, "needs_reauth": 0, "errors": 0}
        uids, more = self._next_connected()
        for uid in uids:
            connection = self._connections.get(uid, GOOGLE)  # fresh: the host may have reconnected or left meanwhile
            if connection is None or connection.status is not ConnectionStatus.CONNECTED:
                continue
            counts["checked"] += 1
            counts[self._check(connection, now)] += 1
        notified, failed = self._notify_needs_reauth(now)
        return {**counts, "notified": notified, "notices_failed": failed, "more": more}

    def _next_connected(self) -> tuple[list[str], bool]:
        """The connected connections after where the previous run stopped (round robin by document id)."""
        page = self._connections.connected_page(after=self._cursors.get("connections"), limit=self._max_connections + 1)
        more = len(page) > self._max_connections
        page = page[: self._max_connections]
        self._cursors.set("connections", page[-1].key if more else None)
        return [entry.uid for entry in page], more

    def _check(self, connection: Connection, now: datetime) -> str:
        """Refresh for real (a cached access token proves nothing); the outcome's counter name."""
        credentials = self._credentials()
        credentials.forget(connection.uid)
        try:
            credentials.for_connection(connection)
        except GoogleAuthRequired:
            return "needs_reauth"  # marked, with last_error and the dead token deleted, by the credentials manager
        except ConveneError as failure:
            self._connections.record_error(connection.uid, GOOGLE, ProviderError(failure.code, failure.message, now))
            logs.log(
                logger,
                logging.WARNING,
                "connection check failed",
                event="connection_check_failed",
                user_id=connection.uid,
                error_code=failure.code,
            )
            return "errors"
        return "healthy"

    def _notify_needs_reauth(self, now: datetime) -> tuple[int, int]:
        """Email each host whose connection needs consent again, once per incident; (notified, failed)."""
        incidents = self._connections.needs_reauth_since(now - NOTICE_LOOKBACK, self._max_connections)
        notified = failed = 0
        for incident in incidents:
            notice = notice_id(incident.uid, incident.at)
            if incident.notice_id == notice:
                continue  # told about this incident already
            try:
                self._queue_reconnect_notice(incident.uid, incident.workspace_id, notice, now)
            except ConveneError as failure:  # the host left, or Tasks is down: the next run tries again
                failed += 1
                logs.log(
                    logger,
                    logging.WARNING,
                    "reconnect notice not queued",
                    event="reconnect_notice_failed",
                    user_id=incident.uid,
                    error_code=failure.code,
                )
                continue
            notified += 1
            logs.log(logger, logging.INFO, "reconnect notice queued", event="reconnect_notice_queued", user_id=incident.uid)
        return notified, failed

    def _queue_reconnect_notice(self, uid: str, workspace_id: str, notice: str, now: datetime) -> None:
        host = self._users.get(uid)
        if host is None or host.workspace_id != workspace_id:
            raise NotFound("The host is no longer a member of the workspace.", code="not_a_host")
        # The link is the front-end's settings page (stable, no secret in it): a consent link
        # would expire within minutes and would put a live OAuth state into the outbox. An
        # email queued by an earlier or overlapping run stays: Cloud Tasks refuses the task as a duplicate too.
        email = OutboxEmail(
            id=notice,
            kind="reconnect",
            audience="host",
            to_email=host.email,
            workspace_id=workspace_id,
            uid=uid,
            to_name=host.display_name,
            reconnect_url=self._reconnect_page,
        )
        self._outbox.add(email, now)
        self._tasks().enqueue(notice, self._worker_url, {"email_id": notice})
        self._connections.mark_notified(uid, GOOGLE, notice, now)

    # -- calendars --------------------------------------------------------------------------

    def sync_calendars(self, now: datetime) -> dict[str, Any]:
        """Re-read the calendar lists never read or older than a day, oldest first."""
        wanted = self._max_connections + 1
        uids = self._connections.never_synced_uids(wanted)
        if len(uids) < wanted:  # then the oldest lists first
            uids += self._connections.synced_before_uids(now - SYNC_EVERY, wanted - len(uids))
        counts = {"synced": 0, "needs_reauth": 0, "errors": 0}
        for uid in uids[: self._max_connections]:
            connection = self._connections.get(uid, GOOGLE)
            if connection is None or connection.status is not ConnectionStatus.CONNECTED:
                continue
            try:
                self._google().sync_connection(connection)
            except GoogleAuthRequired:
                counts["needs_reauth"] += 1  # the connections job emails the host
                continue
            except ConveneError as failure:  # recorded on the connection by the sync
                counts["errors"] += 1
                logs.log(
                    logger,
                    logging.WARNING,
                    "calendar sync failed",
                    event="calendar_sync_failed",
                    user_id=uid,
                    error_code=failure.code,
                )
                continue
            counts["synced"] += 1
        return {**counts, "more": len(uids) > self._max_connections}

    # -- cleanup ----------------------------------------------------------------------------

    def clean_up(self, now: datetime) -> dict[str, Any]:
        """Delete expired connect attempts and idempotency records, and finished emails past retention."""
        budget = {"budget": self._max_deletions, "batch": self._batch_size}
        done = {
            "oauth_states": self._cleanup.expired_oauth_states(now, **budget),
            "idempotency": self._cleanup.expired_idempotency(now, **budget),
            "outbox": self._cleanup.finished_emails(now - self._outbox_retention, **budget),
        }
        summary: dict[str, Any] = {f"{name}_deleted": deleted for name, (deleted, _) in done.items()}
        return {"more": any(more for _, more in done.values()), **summary}


def run_jobs(jobs: Mapping[str, Job], requested: object, now: datetime) -> dict[str, Any]:
    """Run the requested jobs (all by default: ``requested`` None; else the body's list of names)
    in order; a job's failure is reported, not fatal to the others."""
    results: dict[str, Any] = {}
    for name in _selected(jobs, requested):
        started = time.perf_counter()
        try:
            result = {"ok": True, **jobs[name](now)}
        except Exception as exc:
            code = exc.code if isinstance(exc, ConveneError) else "internal"
            logger.exception("maintenance job failed", extra={"fields": {"event": f"maintenance_{name}", "error_code": code}})
            result = {"ok": False, "error": code}
        counts = " ".join(f"{key}={value}" for key, value in result.items() if key != "ok")
        logs.log(
            logger,
            logging.INFO if result["ok"] else logging.ERROR,
            f"maintenance {name}: {counts}",
            event=f"maintenance_{name}",
            status="ok" if result["ok"] else "failed",
            duration_ms=round((time.perf_counter() - started) * 1000, 1),
        )
        results[name] = result
    return {"ran_at": rfc3339_utc(now), "jobs": results}


def _selected(jobs: Mapping[str, Job], requested: object) -> list[str]:
    if requested is None:
        return list(jobs)
    if not isinstance(requested, list) or not requested or not all(isinstance(n, str) and n in jobs for n in requested):
        raise BadRequest(
            f"jobs must be a non-empty list of: {', '.join(jobs)}.",
            code="invalid_field",
            details={"field": "jobs", "allowed": list(jobs)},
        )
    return list(dict.fromkeys(requested))  # each once, in the order asked
