"""Firestore storage of scheduling configurations and booking links (SPEC §2.6), and the two
queries over ``interviews`` that availability and the booking links' abuse limits need.

Documents are laid out for an admin reading the Firestore console, as in
shared/adapters/firestore.py: readable field names, enums as their string values, timestamps
as Firestore timestamps, absent optional fields left out (``created_at`` is always written,
``null`` when unknown, so that the lists, which order by it, never skip a document).

- ``scheduling_configs/{config_id}``: ``workspace_id``, ``host_uid``, ``name``, ``timezone``,
  ``calendar_ids`` (list), ``duration_minutes``, ``working_hours``
  (``{"monday": [{"start": "09:00", "end": "12:00"}, …], …}``: lower-case weekday names,
  ``HH:MM`` wall-clock times in ``timezone``, ``"24:00"`` for the next midnight; a weekday not
  listed has no ranges), ``workdays`` (weekday names; absent = every day with ranges),
  ``slot_step_minutes``, ``buffer_before_minutes``, ``buffer_after_minutes``,
  ``minimum_notice_minutes``, ``days_ahead``, ``interview_type``, ``location``, ``phone``,
  ``video_url``, ``booking_mode``, ``daily_cap`` (absent = no cap), ``created_at``,
  ``updated_at``. No secret.
- ``booking_links/{link_id}``: ``workspace_id``, ``host_uid``, ``config_id``, ``created_by``,
  ``label``, ``single_use``, ``expires_at``, ``used_at`` + ``used_by`` (the interview that used
  a single-use link up), ``revoked_at``, ``booking_count``, ``created_at``. The link id IS the
  secret of the shareable URL (like Calendly's), and it is the document id: hosts expect to
  see and copy their links again later, so it is stored as it is, not as a hash. Whoever reads
  the collection in the console (an admin of the project) can book through any link, as they
  could through the API; revoking a link ends that. No other secret is stored.
- ``booking_link_rates/{link_id}-{YYYYMMDDHH}``: one small counter per link and UTC hour
  (``link_id``, ``hour_start``, ``count``, ``expires_at`` = the hour's end + 1 h, the field of a
  TTL policy in infra/firestore.tf). A booking attempt is one atomic ``Increment`` on it (a
  merge write that creates it), whose result the write returns: concurrent bookings through one
  link never contend, unlike a transaction over the link document would.

Single-use claims (and their release, and revocation) are compare-and-set writes on the link
document: read it, decide, write under a precondition on the update time read; if anything
wrote the document in between (another claim, a booking's count), read again. Atomic like a
transaction, without the read locks concurrent transactions would wait on.

Queries and their composite indexes (infra/firestore.tf ``local.composite_indexes``):

- configurations: ``workspace_id`` [+ ``host_uid``], by ``created_at`` ↑ then ``__name__`` ↑;
- links: ``workspace_id`` [+ ``host_uid``] [+ ``config_id``], by ``created_at`` ↓ then
  ``__name__`` ↓;
- ``HostBookings.active_between``: ``interviews`` ``workspace_id`` + ``host.uid`` + ``status in
  [pending, confirmed]`` + ``start`` range, by ``start`` (the host list's existing index
  ``interviews_workspace_host_status_start_asc``);
- ``HostBookings.pending_requests``: a count (aggregation: no document is downloaded) of
  ``interviews`` ``workspace_id`` + ``host.uid`` + ``status == pending`` + ``guest_email_key ==``
  + ``start >=``. ``guest_email_key`` is the guest's email trimmed and lower-cased, written with
  every interview (shared.adapters.firestore.guest_email_key): guest emails are stored as typed,
  and ``Gus@x`` must not escape the limit on ``gus@x``.

Firestore's refusals are the ports' (shared.ports): ``Conflict`` on a create is
``AlreadyExists``, ``NotFound`` on an update ``DoesNotExist``. The Firestore client is imported
only when a method runs: the mapping functions (which tests/fakes.py uses too) need none.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Mapping
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

from shared.domain.models import Interview, InterviewStatus, InterviewType
from shared.domain.scheduling import WEEKDAYS, BookingLink, BookingMode, SchedulingConfig, WorkingRange, ranges_json
from shared.errors import Unavailable
from shared.refusals import AlreadyExists, DoesNotExist

SCHEDULING_CONFIGS = "scheduling_configs"
BOOKING_LINKS = "booking_links"
BOOKING_LINK_RATES = "booking_link_rates"
RATE_BUCKET = timedelta(hours=1)
RATE_RETENTION = timedelta(hours=1)  # a counter expires this long after its hour ends (TTL on expires_at)
ACTIVE_STATUSES = (InterviewStatus.PENDING, InterviewStatus.CONFIRMED)  # the ones that keep a slot
# Compare-and-set rounds on one link document before giving up (503). A round fails only when
# another write to the link committed in between: a burst of 20 bookings writes it at most 21 times.
CAS_ATTEMPTS = 25


def _utc(value: datetime | None) -> datetime | None:
    return value.astimezone(UTC) if value is not None else None


def _drop_none(data: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in data.items() if v is not None}


def _storable(value: str) -> bool:
    from shared.adapters.firestore import storable_id

    return storable_id(value)


# --- scheduling_configs --------------------------------------------------------------------------


def _minute(text: str) -> int:
    hours, minutes = text.split(":")
    return int(hours) * 60 + int(minutes)


def config_to_document(config: SchedulingConfig) -> dict[str, Any]:
    document = _drop_none(
        {
            "workspace_id": config.workspace_id,
            "host_uid": config.host_uid,
            "name": config.name,
            "timezone": config.timezone,
            "calendar_ids": list(config.calendar_ids),
            "duration_minutes": config.duration_minutes,
            "working_hours": {WEEKDAYS[day]: ranges_json(config.working_hours[day]) for day in sorted(config.working_hours)},
            "workdays": [WEEKDAYS[day] for day in config.workdays] or None,
            "slot_step_minutes": config.slot_step_minutes,
            "buffer_before_minutes": config.buffer_before_minutes,
            "buffer_after_minutes": config.buffer_after_minutes,
            "minimum_notice_minutes": config.minimum_notice_minutes,
            "days_ahead": config.days_ahead,
            "interview_type": config.interview_type.value,
            "location": config.location,
            "phone": config.phone,
            "video_url": config.video_url,
            "booking_mode": config.booking_mode.value,
            "daily_cap": config.daily_cap,
            "updated_at": config.updated_at,
        }
    )
    document["created_at"] = config.created_at  # always: the list orders by it
    return document


def config_from_document(config_id: str, data: Mapping[str, Any]) -> SchedulingConfig:
    hours = data.get("working_hours") or {}
    return SchedulingConfig(
        id=config_id,
        workspace_id=data["workspace_id"],
        host_uid=data["host_uid"],
        name=data.get("name", ""),
        timezone=data["timezone"],
        calendar_ids=tuple(data.get("calendar_ids") or ()),
        duration_minutes=int(data["duration_minutes"]),
        working_hours={
            WEEKDAYS.index(name): tuple(WorkingRange(_minute(r["start"]), _minute(r["end"])) for r in ranges or ())
            for name, ranges in hours.items()
            if name in WEEKDAYS
        },
        slot_step_minutes=int(data["slot_step_minutes"]),
        buffer_before_minutes=int(data.get("buffer_before_minutes", 0)),
        buffer_after_minutes=int(data.get("buffer_after_minutes", 0)),
        minimum_notice_minutes=int(data.get("minimum_notice_minutes", 0)),
        days_ahead=int(data["days_ahead"]),
        interview_type=InterviewType(data.get("interview_type", InterviewType.GOOGLE_MEET.value)),
        location=data.get("location"),
        phone=data.get("phone"),
        video_url=data.get("video_url"),
        booking_mode=BookingMode(data.get("booking_mode", BookingMode.DIRECT.value)),
        daily_cap=None if data.get("daily_cap") is None else int(data["daily_cap"]),
        created_at=_utc(data.get("created_at")),
        updated_at=_utc(data.get("updated_at")),
        workdays=tuple(sorted(WEEKDAYS.index(d) for d in data.get("workdays") or () if d in WEEKDAYS)),
    )


class SchedulingConfigRepository:
    def __init__(self, client: Any):
        self._client = client
        self._collection = client.collection(SCHEDULING_CONFIGS)

    def add(self, config: SchedulingConfig) -> None:
        """Create; ``AlreadyExists`` if the id is taken."""
        from google.api_core import exceptions as gexc

        try:
            self._collection.document(config.id).create(config_to_document(config))
        except gexc.Conflict:
            raise AlreadyExists(config.id) from None

    def get(self, config_id: str) -> SchedulingConfig | None:
        if not _storable(config_id):
            return None
        snapshot = self._collection.document(config_id).get()
        return config_from_document(snapshot.id, snapshot.to_dict() or {}) if snapshot.exists else None

    def list(self, *, workspace_id: str, host_uid: str | None, limit: int) -> list[SchedulingConfig]:
        """Oldest first; composite index workspace_id [+ host_uid] + created_at ↑."""
        from google.cloud.firestore_v1.base_query import FieldFilter

        query = self._collection.where(filter=FieldFilter("workspace_id", "==", workspace_id))
        if host_uid:
            query = query.where(filter=FieldFilter("host_uid", "==", host_uid))
        query = query.order_by("created_at").order_by("__name__").limit(limit)
        return [config_from_document(s.id, s.to_dict() or {}) for s in query.stream()]

    def replace(self, config: SchedulingConfig) -> None:
        """Every mapped field written (the ones now absent deleted); ``DoesNotExist`` if absent."""
        from google.api_core import exceptions as gexc
        from google.cloud import firestore

        document = config_to_document(config)
        cleared = {"workdays", "location", "phone", "video_url", "daily_cap", "updated_at"} - set(document)
        if not _storable(config.id):
            raise DoesNotExist(config.id)
        try:
            self._collection.document(config.id).update(document | dict.fromkeys(cleared, firestore.DELETE_FIELD))
        except gexc.NotFound:
            raise DoesNotExist(config.id) from None

    def delete(self, config_id: str) -> bool:
        from google.api_core import exceptions as gexc

        if not _storable(config_id):
            return False
        try:
            self._collection.document(config_id).delete(option=self._client.write_option(exists=True))
        except gexc.NotFound:
            return False
        return True


# --- booking_links -------------------------------------------------------------------------------


def link_to_document(link: BookingLink) -> dict[str, Any]:
    document = _drop_none(
        {
            "workspace_id": link.workspace_id,
            "host_uid": link.host_uid,
            "config_id": link.config_id,
            "created_by": link.created_by,
            "label": link.label,
            "single_use": link.single_use,
            "expires_at": link.expires_at,
            "used_at": link.used_at,
            "revoked_at": link.revoked_at,
            "booking_count": link.booking_count,
        }
    )
    document["created_at"] = link.created_at  # always: the list orders by it
    return document


def link_from_document(link_id: str, data: Mapping[str, Any]) -> BookingLink:
    return BookingLink(
        id=link_id,
        workspace_id=data["workspace_id"],
        host_uid=data["host_uid"],
        config_id=data["config_id"],
        created_by=data.get("created_by", ""),
        expires_at=_utc(data.get("expires_at")),
        single_use=bool(data.get("single_use", False)),
        used_at=_utc(data.get("used_at")),
        revoked_at=_utc(data.get("revoked_at")),
        created_at=_utc(data.get("created_at")),
        label=data.get("label"),
        booking_count=int(data.get("booking_count", 0)),
    )


def rate_bucket(at: datetime) -> datetime:
    """The start of the UTC hour of ``at``: the counter an attempt at ``at`` counts in."""
    return at.astimezone(UTC).replace(minute=0, second=0, microsecond=0)


def rate_id(link_id: str, at: datetime) -> str:
    return f"{link_id}-{rate_bucket(at):%Y%m%d%H}"


def rate_fields(link_id: str, at: datetime) -> dict[str, Any]:
    """The counter's fields besides ``count``."""
    hour = rate_bucket(at)
    return {"link_id": link_id, "hour_start": hour, "expires_at": hour + RATE_BUCKET + RATE_RETENTION}


# What a compare-and-set decides from the link's stored fields: the fields to write (None:
# write nothing) and the answer.
Decision = tuple[dict[str, Any] | None, Any]


class BookingLinkRepository:
    def __init__(self, client: Any):
        self._client = client
        self._collection = client.collection(BOOKING_LINKS)
        self._rates = client.collection(BOOKING_LINK_RATES)

    def add(self, link: BookingLink) -> None:
        """Create; ``AlreadyExists`` if the id is taken."""
        from google.api_core import exceptions as gexc

        try:
            self._collection.document(link.id).create(link_to_document(link))
        except gexc.Conflict:
            raise AlreadyExists(link.id) from None

    def get(self, link_id: str) -> BookingLink | None:
        if not _storable(link_id):
            return None
        snapshot = self._collection.document(link_id).get()
        return link_from_document(snapshot.id, snapshot.to_dict() or {}) if snapshot.exists else None

    def list(self, *, workspace_id: str, host_uid: str | None, config_id: str | None, limit: int) -> list[BookingLink]:
        """Newest first; composite index workspace_id [+ host_uid] [+ config_id] + created_at ↓."""
        from google.cloud import firestore
        from google.cloud.firestore_v1.base_query import FieldFilter

        query = self._collection.where(filter=FieldFilter("workspace_id", "==", workspace_id))
        if host_uid:
            query = query.where(filter=FieldFilter("host_uid", "==", host_uid))
        if config_id:
            query = query.where(filter=FieldFilter("config_id", "==", config_id))
        descending = firestore.Query.DESCENDING
        query = query.order_by("created_at", direction=descending).order_by("__name__", direction=descending)
        return [link_from_document(s.id, s.to_dict() or {}) for s in query.limit(limit).stream()]

    def _compare_and_set(self, link_id: str, decide: Callable[[dict[str, Any] | None], Decision]) -> Any:
        """Read the link, let ``decide`` choose, write under a precondition on the update time read;
        when the document changed in between, start again from a fresh read."""
        from google.api_core import exceptions as gexc

        if not _storable(link_id):
            return decide(None)[1]
        ref = self._collection.document(link_id)
        for attempt in range(CAS_ATTEMPTS):
            snapshot = ref.get()
            fields, answer = decide(snapshot.to_dict() if snapshot.exists else None)
            if fields is None:
                return answer
            try:
                ref.update(fields, option=self._client.write_option(last_update_time=snapshot.update_time))
                return answer
            except (gexc.FailedPrecondition, gexc.NotFound):
                time.sleep(random.uniform(0.0, 0.02) * (attempt + 1))
        raise Unavailable("This booking link is busy; try again.")

    def revoke(self, link_id: str, at: datetime) -> BookingLink | None:
        def decide(data: dict[str, Any] | None) -> Decision:
            if data is None:
                return None, None
            link = link_from_document(link_id, data)
            if link.revoked_at is not None:
                return None, link
            return {"revoked_at": at}, replace(link, revoked_at=_utc(at))

        revoked: BookingLink | None = self._compare_and_set(link_id, decide)
        return revoked

    def claim_single_use(self, link_id: str, interview_id: str, at: datetime) -> bool:
        def decide(data: dict[str, Any] | None) -> Decision:
            if data is None:
                raise DoesNotExist(link_id)
            if not data.get("single_use"):
                return None, True
            holder = data.get("used_by")
            if holder is not None:
                return None, holder == interview_id
            return {"used_at": at, "used_by": interview_id}, True

        return bool(self._compare_and_set(link_id, decide))

    def release_single_use(self, link_id: str, interview_id: str) -> None:
        from google.cloud import firestore

        def decide(data: dict[str, Any] | None) -> Decision:
            if data is None or data.get("used_by") != interview_id:
                return None, None
            return {"used_at": firestore.DELETE_FIELD, "used_by": firestore.DELETE_FIELD}, None

        self._compare_and_set(link_id, decide)

    def record_booking(self, link_id: str, at: datetime, *, hourly_limit: int) -> bool:
        """One merge write with an ``Increment`` on the hour's counter (its result: the new count);
        if within the limit, one ``Increment`` of the link's ``booking_count``."""
        from google.api_core import exceptions as gexc
        from google.cloud import firestore

        if not _storable(link_id):
            raise DoesNotExist(link_id)
        result = self._rates.document(rate_id(link_id, at)).set(
            rate_fields(link_id, at) | {"count": firestore.Increment(1)}, merge=True
        )
        if result.transform_results[0].integer_value > hourly_limit:
            return False
        try:
            self._collection.document(link_id).update({"booking_count": firestore.Increment(1)})
        except gexc.NotFound:
            raise DoesNotExist(link_id) from None
        return True


# --- queries over interviews ---------------------------------------------------------------------


class FirestoreHostBookings:
    def __init__(self, client: Any):
        from shared.adapters.firestore import INTERVIEWS

        self._collection = client.collection(INTERVIEWS)

    def active_between(
        self, *, workspace_id: str, host_uid: str, start_from: datetime, start_before: datetime
    ) -> list[Interview]:
        """One query; the host list's index (workspace_id, host.uid, status, start ↑)."""
        from google.cloud.firestore_v1.base_query import FieldFilter

        from shared.adapters.firestore import interview_from_document

        query = (
            self._collection.where(filter=FieldFilter("workspace_id", "==", workspace_id))
            .where(filter=FieldFilter("host.uid", "==", host_uid))
            .where(filter=FieldFilter("status", "in", [s.value for s in ACTIVE_STATUSES]))
            .where(filter=FieldFilter("start", ">=", start_from))
            .where(filter=FieldFilter("start", "<", start_before))
            .order_by("start")
        )
        return [interview_from_document(s.id, s.to_dict() or {}) for s in query.stream()]

    def pending_requests(self, *, workspace_id: str, host_uid: str, guest_email: str, since: datetime) -> int:
        """A count aggregation; index (workspace_id, host.uid, status, guest_email_key, start ↑)."""
        from google.cloud.firestore_v1.base_query import FieldFilter

        from shared.adapters.firestore import guest_email_key

        query = (
            self._collection.where(filter=FieldFilter("workspace_id", "==", workspace_id))
            .where(filter=FieldFilter("host.uid", "==", host_uid))
            .where(filter=FieldFilter("status", "==", InterviewStatus.PENDING.value))
            .where(filter=FieldFilter("guest_email_key", "==", guest_email_key(guest_email)))
            .where(filter=FieldFilter("start", ">=", since))
        )
        return int(next(iter(query.count(alias="n").get()))[0].value)
