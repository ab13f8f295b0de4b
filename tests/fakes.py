"""In-memory fakes of the ports (shared/ports.py): one per port, for service tests that run in
milliseconds. tests/contract/ runs the same assertions against each fake and its Firestore
adapter on the emulator, so a fake cannot say yes where Firestore says no.

Interviews and connections are kept as the documents their adapters write (the adapters'
own mapping functions), so field-path updates and the queries' filters see what Firestore
would see; every write bumps a document's version, which preconditions compare.
"""

from __future__ import annotations

import copy
import math
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from shared.adapters.bookings import BLOCK, BLOCK_RETENTION, SlotTaken, block_id, block_starts
from shared.adapters.connections import connection_from_document, connection_id, connection_to_document
from shared.adapters.firestore import guest_email_key, interview_from_document, interview_to_document, storable_id
from shared.adapters.idempotency import IN_PROGRESS_LEASE, IdempotencyInProgress
from shared.adapters.idempotency import RETENTION as IDEMPOTENCY_RETENTION
from shared.adapters.idempotency import RETRYABLE_CODES as IDEMPOTENCY_RETRYABLE_CODES
from shared.adapters.outbox import outbox_document
from shared.adapters.scheduling import (
    config_from_document,
    config_to_document,
    link_from_document,
    link_to_document,
    rate_fields,
    rate_id,
)
from shared.domain.booking import overlaps
from shared.domain.connections import Connection, ConnectionStatus, OAuthState, ProviderError
from shared.domain.models import Attendance, Interview, InterviewStatus, InterviewType, User, Workspace
from shared.domain.scheduling import BookingLink, SchedulingConfig
from shared.errors import Conflict, ConveneError, NotFound, Unprocessable
from shared.ports import (
    FINAL_EMAIL_STATES,
    AlreadyExists,
    ClaimedEmail,
    ConnectedEntry,
    DoesNotExist,
    DueInterview,
    LeaseHeld,
    OutboxEmail,
    ReauthIncident,
    ReminderState,
)


def _is_delete(value: Any) -> bool:
    """``firestore.DELETE_FIELD`` (a sentinel), without importing the client here."""
    return type(value).__name__ == "Sentinel" and "Delete" in repr(value)


def apply_fields(document: dict[str, Any], fields: Mapping[str, Any]) -> None:
    """Firestore ``update``: dotted field paths set nested values; DELETE_FIELD removes."""
    for path, value in fields.items():
        *parents, leaf = path.split(".")
        target = document
        for part in parents:
            target = target.setdefault(part, {})
        if _is_delete(value):
            target.pop(leaf, None)
        else:
            target[leaf] = copy.deepcopy(value)


class _Documents:
    """Documents by id with a version per write (what ``last_update_time`` is to Firestore)."""

    def __init__(self) -> None:
        self.docs: dict[str, dict[str, Any]] = {}
        self.versions: dict[str, int] = {}
        self._clock = 0
        self.lock = threading.RLock()

    def write(self, doc_id: str, document: dict[str, Any]) -> None:
        with self.lock:
            self._clock += 1
            self.docs[doc_id] = document
            self.versions[doc_id] = self._clock

    def delete(self, doc_id: str) -> None:
        with self.lock:
            self.docs.pop(doc_id, None)
            self.versions.pop(doc_id, None)


# -- interviews -------------------------------------------------------------------------------


class FakeInterviewRepository:
    def __init__(self) -> None:
        self.store = _Documents()

    def get(self, interview_id: str) -> Interview | None:
        if not storable_id(interview_id):
            return None
        data = self.store.docs.get(interview_id)
        return interview_from_document(interview_id, copy.deepcopy(data)) if data is not None else None

    def add(self, interview: Interview) -> None:
        with self.store.lock:
            if interview.id in self.store.docs:
                raise AlreadyExists(interview.id)  # as the Firestore adapter (see ports.InterviewRepository.add)
            self.store.write(interview.id, interview_to_document(interview))

    def update(self, interview_id: str, fields: Mapping[str, Any]) -> None:
        with self.store.lock:
            if interview_id not in self.store.docs:
                raise DoesNotExist(interview_id)
            document = copy.deepcopy(self.store.docs[interview_id])
            apply_fields(document, fields)
            self.store.write(interview_id, document)

    def put(self, interview: Interview) -> None:
        """Test setup: store as is (a booking's transaction writes the whole document too)."""
        self.store.write(interview.id, interview_to_document(interview))

    def all(self) -> list[Interview]:
        return [interview_from_document(i, copy.deepcopy(d)) for i, d in sorted(self.store.docs.items())]

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
    ) -> tuple[list[Interview], tuple[datetime, str] | None]:
        matching = [
            i
            for i in self.all()
            if i.workspace_id == workspace_id
            and (not host_uid or i.host.uid == host_uid)
            and (not statuses or i.status in statuses)
            and (start_from is None or i.start >= start_from)
            and (start_to is None or i.start < start_to)
        ]
        matching.sort(key=lambda i: (i.start, i.id), reverse=descending)
        if cursor is not None:
            after = (lambda i: (i.start, i.id) < cursor) if descending else (lambda i: (i.start, i.id) > cursor)
            matching = [i for i in matching if after(i)]
        items = matching[:limit]
        return items, ((items[-1].start, items[-1].id) if len(matching) > limit and items else None)

    def record_join(self, interview: Interview, participant: Any, at: datetime) -> None:
        with self.store.lock:
            current = self.get(interview.id)
            if current is None:
                raise DoesNotExist(interview.id)
            before = current.attendance.get(participant, Attendance())
            attendance = {
                **current.attendance,
                participant: Attendance(before.join_count + 1, before.first_joined_at or at, at),
            }
            self.put(replace(current, attendance=attendance, updated_at=at))


def _documents(repo: FakeInterviewRepository) -> list[tuple[str, dict[str, Any]]]:
    return sorted(repo.store.docs.items())


class FakeDueReminders:
    def __init__(self, interviews: FakeInterviewRepository):
        self._repo = interviews

    def due(self, now: datetime, limit: int) -> list[DueInterview]:
        with self._repo.store.lock:
            due = [
                (d["next_reminder_at"], i)
                for i, d in _documents(self._repo)
                if d.get("next_reminder_at") is not None and d["next_reminder_at"] <= now
            ]
            due.sort()
            return [
                DueInterview(interview_from_document(i, copy.deepcopy(self._repo.store.docs[i])), self._repo.store.versions[i])
                for _, i in due[:limit]
            ]

    def advance(self, updates: Sequence[tuple[DueInterview, ReminderState]]) -> list[int]:
        lost = []
        with self._repo.store.lock:
            for index, (due, state) in enumerate(updates):
                if self._repo.store.versions.get(due.interview.id) != due.version:
                    lost.append(index)
                    continue
                fields: dict[str, Any] = {"next_reminder_at": state.next_at}
                if state.done is not None:
                    fields["reminders.done_minutes"] = list(state.done)
                self._repo.update(due.interview.id, fields)
        return lost


class FakeEndedMeetings:
    def __init__(self, interviews: FakeInterviewRepository):
        self._repo = interviews

    def ended(self, *, closed_before: datetime, not_before: datetime, limit: int) -> list[Interview]:
        found = [
            i
            for i in self._repo.all()
            if i.status is InterviewStatus.CONFIRMED
            and i.type is InterviewType.GOOGLE_MEET
            and not_before <= i.end < closed_before
        ]
        return sorted(found, key=lambda i: (i.end, i.id))[:limit]


class FakeInterviewStats:
    def __init__(self, interviews: FakeInterviewRepository):
        self._repo = interviews

    def _scope(self, workspace_id: str, host_uid: str | None, since: datetime, until: datetime) -> list[dict[str, Any]]:
        return [
            d
            for _, d in _documents(self._repo)
            if d["workspace_id"] == workspace_id
            and (not host_uid or d["host"].get("uid") == host_uid)
            and since <= d["start"] < until
        ]

    def count_by_status(
        self, *, workspace_id: str, host_uid: str | None, since: datetime, until: datetime
    ) -> dict[InterviewStatus, int]:
        docs = self._scope(workspace_id, host_uid, since, until)
        return {s: sum(1 for d in docs if d["status"] == s.value) for s in InterviewStatus}

    def average_duration(self, *, workspace_id: str, host_uid: str | None, since: datetime, until: datetime) -> float | None:
        values = [
            d["actual_duration_minutes"]
            for d in self._scope(workspace_id, host_uid, since, until)
            if d["status"] == InterviewStatus.COMPLETED.value and d.get("actual_duration_minutes") is not None
        ]
        return sum(values) / len(values) if values else None


class FakeBookingStore:
    """Creates and changes interviews atomically; a confirmed interview holds its interval in
    every 15-minute block it touches, as BookingStore does (``blocks``: the host_blocks
    documents by id), so an overlap is SlotTaken and back-to-back interviews both fit."""

    def __init__(self, interviews: FakeInterviewRepository):
        self._repo = interviews
        self.blocks: dict[str, dict[str, Any]] = {}
        self.before_write: Callable[[str], None] | None = None  # a test's hook: someone else writes meanwhile

    @staticmethod
    def _wanted(interview: Interview) -> list[tuple[str, datetime]]:
        return [(interview.host.uid or "", start) for start in block_starts(interview.start, interview.end)]

    def _move(self, held: list[Interview], *, remove: str | None, add: Interview | None, now: datetime) -> None:
        """The blocks of ``held``: check ``add`` against them, take ``remove`` out of each, put ``add`` in its own."""
        keys = {block_id(uid, start): (uid, start) for interview in held for uid, start in self._wanted(interview)}
        if add is not None:
            for key in sorted(keys):
                for taken in (self.blocks.get(key) or {}).get("intervals", []):
                    if taken["interview_id"] != add.id and overlaps(taken["start"], taken["end"], add.start, add.end):
                        raise SlotTaken(
                            "The host already has a confirmed interview at that time.",
                            details={
                                "conflicting_start": taken["start"].isoformat(),
                                "conflicting_end": taken["end"].isoformat(),
                            },
                        )
        adding = {block_id(uid, start) for uid, start in self._wanted(add)} if add is not None else set()
        for key in sorted(keys):
            uid, start = keys[key]
            existing = self.blocks.get(key)
            kept = [h for h in (existing or {}).get("intervals", []) if h["interview_id"] != remove]
            if key in adding and add is not None:
                kept.append({"interview_id": add.id, "start": add.start, "end": add.end})
            if kept:
                end = start + BLOCK
                self.blocks[key] = {
                    "uid": uid,
                    "block_start": start,
                    "block_end": end,
                    "intervals": kept,
                    "expires_at": end + BLOCK_RETENTION,
                    "updated_at": now,
                }
            else:
                self.blocks.pop(key, None)

    def create(self, interview: Interview, now: datetime) -> None:
        with self._repo.store.lock:
            if interview.id in self._repo.store.docs:
                raise Conflict("An interview with this id already exists.", code="already_exists")
            if interview.status is InterviewStatus.CONFIRMED:
                self._move([interview], remove=None, add=interview, now=now)
            self._repo.put(interview)

    def change(self, interview_id: str, apply: Callable[[Interview], Interview], now: datetime) -> tuple[Interview, Interview]:
        if self.before_write is not None:
            self.before_write(interview_id)
        with self._repo.store.lock:
            before = self._repo.get(interview_id)
            if before is None:
                raise NotFound("No interview with this id is visible to you.", code="interview_not_found")
            after = replace(apply(before), updated_at=now)
            held_before = before.status is InterviewStatus.CONFIRMED
            held_after = after.status is InterviewStatus.CONFIRMED
            if held_before or held_after:
                held = ([before] if held_before else []) + ([after] if held_after else [])
                self._move(held, remove=before.id, add=after if held_after else None, now=now)
            self._repo.put(after)
            return before, after


class FakeIdempotencyStore:
    """IdempotencyStore: the records as the adapter writes them (``records``: record id → document).
    A record is created once; a live ``in_progress`` lease refuses, a lapsed one is taken over;
    every later write of an attempt is conditioned on the version of its own last write."""

    def __init__(self) -> None:
        self.store = _Documents()

    @property
    def records(self) -> dict[str, dict[str, Any]]:
        return self.store.docs

    def run(
        self,
        record: str,
        fingerprint: str,
        now: datetime,
        operation: Callable[[bool], tuple[dict[str, Any], int]],
        *,
        seal: Callable[[dict[str, Any]], dict[str, Any]] = lambda body: body,
        unseal: Callable[[dict[str, Any]], dict[str, Any]] = lambda body: body,
    ) -> tuple[dict[str, Any], int]:
        claim = self._claim(record, fingerprint, now)
        if isinstance(claim, tuple):  # a completed record: its answer replayed
            body, status = claim
            return (unseal(body) if 200 <= status < 300 else body), status
        version, resumed = claim.version, claim.resumed
        try:
            body, status = operation(resumed)
        except ConveneError as error:
            if error.status >= 500 or error.status == 429 or error.code in IDEMPOTENCY_RETRYABLE_CODES:
                self._release(record, version)
            else:
                self._complete(record, version, {"status": error.status, "body": error.to_body(), "completed_at": now})
            raise
        except BaseException:
            self._release(record, version)
            raise
        self._complete(record, version, {"status": status, "body": seal(body), "completed_at": now})
        return body, status

    def _claim(self, record: str, fingerprint: str, now: datetime) -> _IdempotencyClaim | tuple[dict[str, Any], int]:
        with self.store.lock:
            data = self.store.docs.get(record)
            if data is None:
                self.store.write(
                    record,
                    {
                        "fingerprint": fingerprint,
                        "state": "in_progress",
                        "created_at": now,
                        "lease_expires_at": now + IN_PROGRESS_LEASE,
                        "expires_at": now + IDEMPOTENCY_RETENTION,
                    },
                )
                return _IdempotencyClaim(self.store.versions[record], resumed=False)
            if data.get("fingerprint") != fingerprint:
                raise Unprocessable(
                    "This Idempotency-Key was already used for a different request.", code="idempotency_key_reused"
                )
            if data.get("state") == "completed":
                return copy.deepcopy(data["body"]), int(data["status"])
            lease_ends = data.get("lease_expires_at") or data.get("created_at", now) + IN_PROGRESS_LEASE
            if now < lease_ends:
                raise IdempotencyInProgress(max(1, math.ceil((lease_ends - now).total_seconds())))
            taken = copy.deepcopy(data)  # the attempt that held the lease died: taken over
            taken.update(lease_expires_at=now + IN_PROGRESS_LEASE, resumed_at=now, expires_at=now + IDEMPOTENCY_RETENTION)
            self.store.write(record, taken)
            return _IdempotencyClaim(self.store.versions[record], resumed=True)

    def _complete(self, record: str, version: int, answer: dict[str, Any]) -> None:
        with self.store.lock:
            if self.store.versions.get(record) == version:  # else a retry took the record over: its answer is kept
                self.store.write(record, {**self.store.docs[record], "state": "completed", **copy.deepcopy(answer)})

    def _release(self, record: str, version: int) -> None:
        with self.store.lock:
            if self.store.versions.get(record) == version:
                self.store.delete(record)


@dataclass(frozen=True)
class _IdempotencyClaim:
    version: int
    resumed: bool


# -- people -----------------------------------------------------------------------------------


class FakeUserRepository:
    def __init__(self, *users: User):
        self._users = {u.uid: u for u in users}

    def get(self, uid: str) -> User | None:
        return self._users.get(uid) if storable_id(uid) else None

    def put(self, user: User) -> None:
        self._users[user.uid] = user


class FakeWorkspaceRepository:
    def __init__(self, *workspaces: Workspace):
        self._workspaces = {w.id: w for w in workspaces}

    def get(self, workspace_id: str) -> Workspace | None:
        return self._workspaces.get(workspace_id) if storable_id(workspace_id) else None

    def put(self, workspace: Workspace) -> None:
        self._workspaces[workspace.id] = workspace


# -- connections ------------------------------------------------------------------------------


class FakeConnectionRepository:
    def __init__(self) -> None:
        self.store = _Documents()

    def get(self, uid: str, provider: str) -> Connection | None:
        data = self.store.docs.get(connection_id(uid, provider))
        return connection_from_document(copy.deepcopy(data)) if data is not None else None

    def document(self, uid: str, provider: str) -> dict[str, Any] | None:
        """Test inspection: the stored fields, as the Firestore console shows them."""
        return copy.deepcopy(self.store.docs.get(connection_id(uid, provider)))

    def save(self, connection: Connection) -> None:
        self.store.write(connection_id(connection.uid, connection.provider), connection_to_document(connection))

    def update(self, uid: str, provider: str, fields: Mapping[str, Any]) -> None:
        key = connection_id(uid, provider)
        with self.store.lock:
            if key not in self.store.docs:
                raise DoesNotExist(key)
            document = copy.deepcopy(self.store.docs[key])
            apply_fields(document, fields)
            self.store.write(key, document)

    def record_sync(self, uid: str, provider: str, calendars: Any, at: datetime) -> None:
        from shared.adapters.connections import calendar_to_document

        self.update(
            uid,
            provider,
            {"calendars": [calendar_to_document(c) for c in calendars], "last_sync_at": at, "last_error": None, "updated_at": at},
        )

    def record_error(self, uid: str, provider: str, error: ProviderError, *, needs_reauth: bool = False) -> None:
        key = connection_id(uid, provider)
        self.update(
            uid, provider, {"last_error": {"code": error.code, "message": error.message, "at": error.at}, "updated_at": error.at}
        )
        if needs_reauth:
            with self.store.lock:
                document = copy.deepcopy(self.store.docs[key])
                document["status"] = ConnectionStatus.NEEDS_REAUTH.value
                document.pop("refresh_token", None)
                self.store.write(key, document)

    def store_refresh_token(self, uid: str, provider: str, sealed: Any, at: datetime) -> None:
        from shared.adapters.connections import sealed_to_document

        self.update(uid, provider, {"refresh_token": sealed_to_document(sealed), "updated_at": at})

    def disconnect(self, uid: str, provider: str, at: datetime) -> None:
        key = connection_id(uid, provider)
        self.update(
            uid,
            provider,
            {
                "status": ConnectionStatus.NOT_CONNECTED.value,
                "scopes": [],
                "calendars": [],
                "disconnected_at": at,
                "updated_at": at,
                "last_error": None,
            },
        )
        with self.store.lock:
            self.store.docs[key].pop("refresh_token", None)

    def _with_status(self, status: ConnectionStatus) -> list[tuple[str, dict[str, Any]]]:
        return [(k, d) for k, d in sorted(self.store.docs.items()) if d.get("status") == status.value]

    def connected_page(self, *, after: str | None, limit: int) -> list[ConnectedEntry]:
        page = [(k, d) for k, d in self._with_status(ConnectionStatus.CONNECTED) if not after or k > after]
        return [ConnectedEntry(k, d["uid"]) for k, d in page[:limit]]

    def never_synced_uids(self, limit: int) -> list[str]:
        # Firestore's `== None` matches a stored null only (a document without the field is not in the index)
        return [
            d["uid"]
            for _, d in self._with_status(ConnectionStatus.CONNECTED)
            if "last_sync_at" in d and d["last_sync_at"] is None
        ][:limit]

    def synced_before_uids(self, before: datetime, limit: int) -> list[str]:
        found = [
            (d["last_sync_at"], k, d["uid"])
            for k, d in self._with_status(ConnectionStatus.CONNECTED)
            if d.get("last_sync_at") is not None and d["last_sync_at"] < before
        ]
        return [uid for _, _, uid in sorted(found)][:limit]

    def needs_reauth_since(self, since: datetime, limit: int) -> list[ReauthIncident]:
        found = [
            (d["last_error"]["at"], k, d)
            for k, d in self._with_status(ConnectionStatus.NEEDS_REAUTH)
            if (d.get("last_error") or {}).get("at") is not None and d["last_error"]["at"] >= since
        ]
        return [
            ReauthIncident(d["uid"], d["workspace_id"], at, d.get("reauth_notice_id"))
            for at, _, d in sorted(found, key=lambda f: f[:2])
        ][:limit]

    def mark_notified(self, uid: str, provider: str, notice_id: str, at: datetime) -> None:
        self.update(uid, provider, {"reauth_notice_id": notice_id, "reauth_notified_at": at})


class FakeOAuthStateRepository:
    def __init__(self) -> None:
        self.states: dict[str, OAuthState] = {}
        self._lock = threading.Lock()

    def add(self, state: OAuthState) -> None:
        with self._lock:
            if state.state_hash in self.states:
                raise AlreadyExists(state.state_hash)
            self.states[state.state_hash] = replace(state, browser_binding=None)

    def get(self, state_hash: str) -> OAuthState | None:
        return self.states.get(state_hash)

    def bind_browser(self, state_hash: str, binding: str, now: datetime) -> OAuthState | None:
        with self._lock:
            state = self.states.get(state_hash)
            if state is None or state.browser_binding is not None or state.expired(now):
                return None
            self.states[state_hash] = replace(state, browser_binding=binding)
            return state

    def consume(self, state_hash: str) -> OAuthState | None:
        with self._lock:
            return self.states.pop(state_hash, None)


# -- outbox -----------------------------------------------------------------------------------


class FakeOutbox:
    def __init__(self) -> None:
        self.records: dict[str, dict[str, Any]] = {}
        self._lock = threading.Lock()

    def add(self, email: OutboxEmail, now: datetime) -> bool:
        with self._lock:
            if email.id in self.records:
                return False
            self.records[email.id] = outbox_document(email, now)
            return True

    def add_many(self, emails: Sequence[OutboxEmail], now: datetime) -> None:
        for email in emails:
            self.add(email, now)

    def get(self, email_id: str) -> dict[str, Any] | None:
        record = self.records.get(email_id)
        return copy.deepcopy(record) if record is not None else None

    def claim(self, email_id: str, now: datetime, lease_until: datetime) -> ClaimedEmail | None:
        with self._lock:
            record = self.records.get(email_id)
            if record is None:
                return None
            before = copy.deepcopy(record)
            if record.get("status") in FINAL_EMAIL_STATES:
                return ClaimedEmail(before, False)
            lease = record.get("lease_until")
            if record.get("status") == "sending" and lease is not None and lease > now:
                raise LeaseHeld(email_id)
            record.update(status="sending", lease_until=lease_until, attempts=record.get("attempts", 0) + 1, updated_at=now)
            return ClaimedEmail(before, True)

    def _update(self, email_id: str, fields: Mapping[str, Any]) -> None:
        with self._lock:
            if email_id not in self.records:
                raise DoesNotExist(f"outbox/{email_id}")
            record = self.records[email_id]
            record.pop("lease_until", None)
            record.update(copy.deepcopy(dict(fields)))

    def release(self, email_id: str, code: str, message: str, now: datetime) -> None:
        self._update(
            email_id, {"status": "queued", "updated_at": now, "last_error": {"code": code, "message": message[:300], "at": now}}
        )

    def finish(self, email_id: str, fields: Mapping[str, Any], now: datetime) -> None:
        self._update(email_id, {**fields, "updated_at": now})


# -- maintenance ------------------------------------------------------------------------------


class FakeCleanup:
    def __init__(self, states: FakeOAuthStateRepository, outbox: FakeOutbox, idempotency: dict[str, datetime] | None = None):
        self._states = states
        self._outbox = outbox
        self.idempotency = idempotency if idempotency is not None else {}  # record id -> expires_at

    @staticmethod
    def _delete(ids: list[str], remove: Callable[[str], Any], budget: int) -> tuple[int, bool]:
        for identifier in ids[:budget]:
            remove(identifier)
        return min(len(ids), budget), len(ids) >= budget

    def expired_oauth_states(self, now: datetime, *, budget: int, batch: int) -> tuple[int, bool]:
        ids = sorted(h for h, s in self._states.states.items() if s.expires_at < now)
        return self._delete(ids, self._states.states.pop, budget)

    def expired_idempotency(self, now: datetime, *, budget: int, batch: int) -> tuple[int, bool]:
        ids = sorted(r for r, expires in self.idempotency.items() if expires < now)
        return self._delete(ids, self.idempotency.pop, budget)

    def finished_emails(self, updated_before: datetime, *, budget: int, batch: int) -> tuple[int, bool]:
        ids = sorted(
            i
            for i, r in self._outbox.records.items()
            if r.get("status") in FINAL_EMAIL_STATES and r["updated_at"] < updated_before
        )
        return self._delete(ids, self._outbox.records.pop, budget)


class FakeJobCursors:
    def __init__(self) -> None:
        self.cursors: dict[str, str | None] = {}

    def get(self, job: str) -> str | None:
        return self.cursors.get(job)

    def set(self, job: str, after: str | None) -> None:
        self.cursors[job] = after


# -- outside world ----------------------------------------------------------------------------


@dataclass
class FakeTaskQueue:
    """Cloud Tasks: a task name is accepted once; ``fail`` makes every enqueue raise it."""

    tasks: dict[str, tuple[str, dict[str, Any]]] = field(default_factory=dict)
    fail: Exception | None = None

    def __post_init__(self) -> None:
        self._lock = threading.Lock()

    def enqueue(self, task_id: str, url: str, payload: dict[str, Any], *, schedule_at: datetime | None = None) -> bool:
        if self.fail is not None:
            raise self.fail
        with self._lock:
            if task_id in self.tasks:
                return False
            self.tasks[task_id] = (url, payload)
            return True


@dataclass
class FakeMailer:
    """SendGrid: records what it is asked to send; ``results`` (a queue) decides the answers, else ok."""

    sent: list[tuple[Any, dict[str, str]]] = field(default_factory=list)
    results: list[Any] = field(default_factory=list)

    def send(self, email: Any, *, categories: list[str], custom_args: dict[str, str]) -> Any:
        from shared.adapters.sendgrid_mail import SendResult

        result = self.results.pop(0) if self.results else SendResult(True, message_id=f"msg-{len(self.sent) + 1}")
        if result.ok:
            self.sent.append((email, custom_args))
        return result


# -- scheduling (SPEC §2.6) -------------------------------------------------------------------


def _created_order(doc_id: str, document: Mapping[str, Any]) -> tuple[bool, float, str]:
    """Firestore's order of ``created_at`` (null before every timestamp), then the document id."""
    created = document.get("created_at")
    return (created is not None, created.timestamp() if created is not None else 0.0, doc_id)


class FakeSchedulingConfigRepository:
    """Kept as the documents SchedulingConfigRepository writes (its own mapping functions)."""

    def __init__(self) -> None:
        self.store = _Documents()

    def add(self, config: SchedulingConfig) -> None:
        with self.store.lock:
            if config.id in self.store.docs:
                raise AlreadyExists(config.id)
            self.store.write(config.id, config_to_document(config))

    def get(self, config_id: str) -> SchedulingConfig | None:
        if not storable_id(config_id):
            return None
        data = self.store.docs.get(config_id)
        return config_from_document(config_id, copy.deepcopy(data)) if data is not None else None

    def list(self, *, workspace_id: str, host_uid: str | None, limit: int) -> list[SchedulingConfig]:
        with self.store.lock:
            found = [
                (i, d)
                for i, d in self.store.docs.items()
                if d["workspace_id"] == workspace_id and (not host_uid or d["host_uid"] == host_uid)
            ]
            found.sort(key=lambda item: _created_order(*item))
            return [config_from_document(i, copy.deepcopy(d)) for i, d in found[:limit]]

    def replace(self, config: SchedulingConfig) -> None:
        with self.store.lock:
            if config.id not in self.store.docs:
                raise DoesNotExist(config.id)
            self.store.write(config.id, config_to_document(config))

    def delete(self, config_id: str) -> bool:
        with self.store.lock:
            if config_id not in self.store.docs:
                return False
            self.store.delete(config_id)
            return True


class FakeBookingLinkRepository:
    """Kept as the documents BookingLinkRepository writes; ``rates`` are the
    booking_link_rates counters by id, as the adapter writes them."""

    def __init__(self) -> None:
        self.store = _Documents()
        self.rates: dict[str, dict[str, Any]] = {}

    def add(self, link: BookingLink) -> None:
        with self.store.lock:
            if link.id in self.store.docs:
                raise AlreadyExists(link.id)
            self.store.write(link.id, link_to_document(link))

    def get(self, link_id: str) -> BookingLink | None:
        if not storable_id(link_id):
            return None
        data = self.store.docs.get(link_id)
        return link_from_document(link_id, copy.deepcopy(data)) if data is not None else None

    def document(self, link_id: str) -> dict[str, Any] | None:
        """Test inspection: the stored fields, as the Firestore console shows them."""
        return copy.deepcopy(self.store.docs.get(link_id))

    def list(self, *, workspace_id: str, host_uid: str | None, config_id: str | None, limit: int) -> list[BookingLink]:
        with self.store.lock:
            found = [
                (i, d)
                for i, d in self.store.docs.items()
                if d["workspace_id"] == workspace_id
                and (not host_uid or d["host_uid"] == host_uid)
                and (not config_id or d["config_id"] == config_id)
            ]
            found.sort(key=lambda item: _created_order(*item), reverse=True)
            return [link_from_document(i, copy.deepcopy(d)) for i, d in found[:limit]]

    def _change(self, link_id: str, fields: Mapping[str, Any]) -> None:
        document = copy.deepcopy(self.store.docs[link_id])
        apply_fields(document, fields)
        self.store.write(link_id, document)

    def revoke(self, link_id: str, at: datetime) -> BookingLink | None:
        with self.store.lock:
            data = self.store.docs.get(link_id) if storable_id(link_id) else None
            if data is None:
                return None
            if data.get("revoked_at") is None:
                self._change(link_id, {"revoked_at": at})
            return self.get(link_id)

    def claim_single_use(self, link_id: str, interview_id: str, at: datetime) -> bool:
        with self.store.lock:
            data = self.store.docs.get(link_id) if storable_id(link_id) else None
            if data is None:
                raise DoesNotExist(link_id)
            if not data.get("single_use"):
                return True
            if data.get("used_by") is not None:
                return bool(data["used_by"] == interview_id)
            self._change(link_id, {"used_at": at, "used_by": interview_id})
            return True

    def release_single_use(self, link_id: str, interview_id: str) -> None:
        with self.store.lock:
            data = self.store.docs.get(link_id) if storable_id(link_id) else None
            if data is not None and data.get("used_by") == interview_id:
                document = copy.deepcopy(data)
                document.pop("used_at", None)
                document.pop("used_by", None)
                self.store.write(link_id, document)

    def record_booking(self, link_id: str, at: datetime, *, hourly_limit: int) -> bool:
        if not storable_id(link_id):
            raise DoesNotExist(link_id)
        with self.store.lock:
            key = rate_id(link_id, at)
            counter = {**self.rates.get(key, {}), **rate_fields(link_id, at)}
            counter["count"] = counter.get("count", 0) + 1
            self.rates[key] = counter
            if counter["count"] > hourly_limit:
                return False
            if link_id not in self.store.docs:
                raise DoesNotExist(link_id)
            self._change(link_id, {"booking_count": self.store.docs[link_id].get("booking_count", 0) + 1})
            return True


class FakeHostBookings:
    """The two HostBookings queries over a FakeInterviewRepository's documents."""

    def __init__(self, interviews: FakeInterviewRepository):
        self._repo = interviews

    def active_between(
        self, *, workspace_id: str, host_uid: str, start_from: datetime, start_before: datetime
    ) -> list[Interview]:
        active = {s.value for s in (InterviewStatus.PENDING, InterviewStatus.CONFIRMED)}
        with self._repo.store.lock:
            found = [
                (d["start"], i, d)
                for i, d in _documents(self._repo)
                if d["workspace_id"] == workspace_id
                and d["host"].get("uid") == host_uid
                and d["status"] in active
                and start_from <= d["start"] < start_before
            ]
            return [interview_from_document(i, copy.deepcopy(d)) for _, i, d in sorted(found, key=lambda f: f[:2])]

    def pending_requests(self, *, workspace_id: str, host_uid: str, guest_email: str, since: datetime) -> int:
        key = guest_email_key(guest_email)
        return sum(
            1
            for _, d in _documents(self._repo)
            if d["workspace_id"] == workspace_id
            and d["host"].get("uid") == host_uid
            and d["status"] == InterviewStatus.PENDING.value
            and d.get("guest_email_key") == key
            and d["start"] >= since
        )
