"""Google Calendar v3 surface: calendar lists, events with Google Meet conferences, free/busy.

Each request is authorised by the OAuth surface with the scopes the discovery document
lists for its method, and its query and body are checked against that document. Rules
Google documents and clients trip over are kept: client event ids are base32hex and never
reusable (not even after deletion); a deleted event reads back as `status: "cancelled"` and
a second delete is 410; conference data is ignored without `conferenceDataVersion=1`; Meet
creation is asynchronous (`pending`, then `success` or `failure` on a later read); free/busy
counts opaque, non-cancelled events (all-day ones from midnight to midnight in their
calendar's zone), merges each calendar's overlapping periods, clips them to the window,
refuses windows over 90 days (`timeRangeTooLong`) and reports unknown calendars and
queries over 50 calendars per calendar.

Errors carry Calendar's v3 shape, `error.errors[{domain, reason, message}]`, which
googleapiclient reads (`HttpError.error_details`, and its retry of 403 rate limits).
State is kept per account email; `primary` is the account's own calendar (id = email),
created the first time the account is seen. Not implemented: recurrence expansion, sync
tokens, ACLs, watch channels, partial responses (`fields`), secondary calendars' own CRUD.
"""

from __future__ import annotations

import base64
import copy
import itertools
import random
import re
import string
import threading
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from datetime import time as clock_time
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from flask import Blueprint, Response, jsonify, request
from werkzeug.datastructures import MultiDict

from .core import GoogleError, JsonObject, json_object
from .discovery import Discovery, InvalidRequest, is_rfc3339, page, parse_rfc3339
from .oauth import OAuth

API = "/calendar/v3"
CONTROL = "/sandbox/calendar"
MEET_ICON = "https://fonts.gstatic.com/s/i/productlogos/meet_2020q4/v6/web-512dp/logo_meet_2020q4_color_2x_web_512dp.png"
EVENT_ID = re.compile(r"[a-v0-9]{5,1024}")  # base32hex, as Google requires of client ids
MAX_FREEBUSY_CALENDARS = 50  # Google's cap on calendarExpansionMax
# The longest window freebusy.query answers; a longer one is a 400 `timeRangeTooLong`, "The
# requested time range is too long." Google does not document the figure: 90 days is what
# clients observe, e.g. Cal.com, which splits its queries into spans of at most 90 days for
# this error (calcom/cal.com PRs #11696 and #11962, "The Google /freeBusy endpoint has a
# maximum time span of 90 days").
MAX_FREEBUSY_RANGE = timedelta(days=90)
ROLE_RANK = {"freeBusyReader": 0, "reader": 1, "writerWithoutPrivateAccess": 2, "writer": 3, "owner": 4}
# Event fields the server owns: ignored in patch/update bodies (clients often send a whole
# event back); `conferenceData` is handled on its own, as `conferenceDataVersion` decides.
SERVER_FIELDS = frozenset(
    {"kind", "etag", "id", "iCalUID", "htmlLink", "created", "updated", "creator", "organizer", "hangoutLink", "conferenceData"}
)
# Kept from the stored event when an update (PUT) replaces the rest.
KEPT_ON_UPDATE = ("kind", "id", "iCalUID", "htmlLink", "created", "creator", "organizer", "eventType")
AUTH_REASONS = {401: "authError", 403: "insufficientPermissions"}


class CalendarError(GoogleError):
    """An error in Calendar v3's shape: the `errors` list is where clients read `reason` from.

    `status` is only sent when given: Calendar's own errors omit it, while those of
    Google's front end (credentials, scopes, request parsing) carry it.
    """

    def __init__(
        self,
        code: int,
        message: str,
        reason: str,
        domain: str = "global",
        parameter: str | None = None,
        status: str | None = None,
        details: list[JsonObject] | None = None,
    ) -> None:
        super().__init__(code, message, status, details)
        self.reason = reason
        self.domain = domain
        self.parameter = parameter
        self.send_status = status is not None

    def body(self) -> JsonObject:
        error = super().body()["error"]
        if not self.send_status:
            del error["status"]
        detail = {"domain": self.domain, "reason": self.reason, "message": self.message}
        if self.parameter:
            detail |= {"locationType": "parameter", "location": self.parameter}
        return {"error": {"errors": [detail], **error}}


def rate_limit_exceeded(status: int = 403) -> JsonObject:
    """Calendar's `usageLimits/rateLimitExceeded` body (sent as 403 or 429), which googleapiclient retries."""
    return CalendarError(status, "Rate Limit Exceeded", "rateLimitExceeded", domain="usageLimits").body()


def _not_found() -> CalendarError:
    return CalendarError(404, "Not Found", "notFound")


# -- time ----------------------------------------------------------------------------


def _zone(name: str, what: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise CalendarError(400, f"Invalid time zone definition for {what}.", "invalid") from None


def _query_instant(name: str) -> datetime | None:
    """A timestamp query parameter; Google requires the offset in these."""
    value = request.args.get(name)
    if value is None:
        return None
    instant = parse_rfc3339(value)
    if instant.tzinfo is None:
        raise CalendarError(400, f"Invalid value for {name}: a time zone offset is required.", "invalid", parameter=name)
    return instant


def _rfc3339(moment: datetime) -> str:
    """Seconds precision with the moment's own offset, `Z` for UTC, as Calendar renders times."""
    text = moment.isoformat(timespec="seconds")
    return text[:-6] + "Z" if text.endswith("+00:00") else text


def _stamp(moment: datetime) -> str:
    """Millisecond UTC timestamps, as in `created`/`updated` and free/busy's echoed bounds."""
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _event_span(resource: JsonObject, calendar_zone: str) -> tuple[datetime, datetime]:
    """Check an event's start/end by Google's rules, render dateTimes in their zone; the span in UTC."""
    bounds: list[datetime] = []
    kinds: set[str] = set()
    for which in ("start", "end"):
        moment = resource.get(which)
        if not isinstance(moment, dict) or moment.get("date") is None and moment.get("dateTime") is None:
            raise CalendarError(400, f"Missing {which} time.", "required")
        if moment.get("date") is not None and moment.get("dateTime") is not None:
            raise CalendarError(400, f"Invalid {which} time.", "invalid")
        zone_name = moment.get("timeZone")
        if zone_name is None and resource.get("recurrence"):
            raise CalendarError(400, f"Missing time zone definition for {which} time.", "required")
        own_zone = _zone(zone_name, f"{which} time") if zone_name else None
        if moment.get("dateTime") is not None:
            kinds.add("dateTime")
            instant = parse_rfc3339(moment["dateTime"])
            if instant.tzinfo is None:
                if own_zone is None:
                    raise CalendarError(400, f"Missing time zone definition for {which} time.", "required")
                instant = instant.replace(tzinfo=own_zone)
            moment["dateTime"] = _rfc3339(instant.astimezone(own_zone or _zone(calendar_zone, "calendar")))
        else:
            kinds.add("date")
            day = date.fromisoformat(moment["date"])
            instant = datetime.combine(day, clock_time(), own_zone or _zone(calendar_zone, "calendar"))
        bounds.append(instant.astimezone(UTC))
    if len(kinds) > 1:
        raise CalendarError(400, "Start and end times must either both be date or both be dateTime.", "invalid")
    if bounds[1] <= bounds[0]:
        raise CalendarError(400, "The specified time range is empty.", "timeRangeEmpty", domain="calendar")
    return bounds[0], bounds[1]


# -- state -----------------------------------------------------------------------------


@dataclass
class _PendingConference:
    """A Meet conference being created: reads see `pending` until `pending_reads` runs out."""

    request_id: str
    pending_reads: int
    fails: bool

    def create_request(self, status: str) -> JsonObject:
        return {
            "requestId": self.request_id,
            "conferenceSolutionKey": {"type": "hangoutsMeet"},
            "status": {"statusCode": status},
        }


@dataclass
class _Event:
    resource: JsonObject  # as Google returns it, but for a conference still pending
    span: tuple[datetime, datetime]  # UTC, for time filters and free/busy
    conference: _PendingConference | None = None

    @property
    def cancelled(self) -> bool:
        return bool(self.resource["status"] == "cancelled")

    def busy(self) -> bool:
        return not self.cancelled and self.resource.get("transparency", "opaque") == "opaque"


@dataclass
class _Calendar:
    id: str
    summary: str
    time_zone: str
    events: dict[str, _Event] = field(default_factory=dict)


@dataclass
class _ListEntry:
    """A calendar as it appears on one account's calendar list."""

    calendar: _Calendar
    access_role: str
    primary: bool
    etag: str
    color_id: str = "14"
    background_color: str = "#9fe1e7"
    foreground_color: str = "#000000"
    hidden: bool = False

    def json(self) -> JsonObject:
        body: JsonObject = {
            "kind": "calendar#calendarListEntry",
            "etag": self.etag,
            "id": self.calendar.id,
            "summary": self.calendar.summary,
            "timeZone": self.calendar.time_zone,
            "colorId": self.color_id,
            "backgroundColor": self.background_color,
            "foregroundColor": self.foreground_color,
            "selected": not self.hidden,
            "accessRole": self.access_role,
            "defaultReminders": [],
            "conferenceProperties": {"allowedConferenceSolutionTypes": ["hangoutsMeet"]},
        }
        if self.primary:
            body["primary"] = True
        if self.hidden:
            body["hidden"] = True
        return body


class Calendar:
    """Calendars, their events and Meet conference creation, behind one lock."""

    def __init__(self, oauth: OAuth) -> None:
        self.oauth = oauth
        self._discovery = Discovery.load("calendar.v3")
        self._lock = threading.RLock()
        self._etags = itertools.count(int(time.time() * 1_000_000))
        self._calendars: dict[str, _Calendar] = {}
        self._lists: dict[str, dict[str, _ListEntry]] = {}  # account email -> calendar id -> entry
        self._meeting_codes: set[str] = set()
        self._pending_reads = 0
        self._settle_on_insert = False
        self._failures = 0
        self.blueprint = self._blueprint()

    def reset(self) -> None:
        """Forget calendars, events and conference settings."""
        with self._lock:
            self._calendars.clear()
            self._lists.clear()
            self._meeting_codes.clear()
            self._pending_reads = self._failures = 0
            self._settle_on_insert = False

    # -- state, called with the lock held -------------------------------------------

    def _etag(self) -> str:
        return f'"{next(self._etags)}"'

    def _list_for(self, email: str) -> dict[str, _ListEntry]:
        """The account's calendar list; its primary calendar exists from the first time it is seen."""
        entries = self._lists.get(email)
        if entries is None:
            calendar = self._calendars.setdefault(email, _Calendar(email, email, "UTC"))
            entries = self._lists[email] = {email: _ListEntry(calendar, "owner", True, self._etag())}
        return entries

    def _entry(self, email: str, calendar_id: str, needed_role: str) -> _ListEntry:
        entry = self._list_for(email).get(email if calendar_id == "primary" else calendar_id)
        if entry is None:
            raise _not_found()
        if ROLE_RANK[entry.access_role] < ROLE_RANK[needed_role]:
            raise CalendarError(
                403, f"You need to have {needed_role} access to this calendar.", "requiredAccessLevel", domain="calendar"
            )
        return entry

    def _event(self, calendar: _Calendar, event_id: str) -> _Event:
        event = calendar.events.get(event_id)
        if event is None:
            raise _not_found()
        return event

    def _new_meeting_code(self) -> str:
        while True:
            code = "-".join("".join(random.choices(string.ascii_lowercase, k=n)) for n in (3, 4, 3))
            if code not in self._meeting_codes:
                self._meeting_codes.add(code)
                return code

    def _read(self, event: _Event) -> JsonObject:
        """Render for a get or list: each read takes a pending conference one step towards its outcome."""
        conference = event.conference
        if conference is not None:
            if conference.pending_reads > 0:
                conference.pending_reads -= 1
            else:
                self._settle(event, conference)
        return _render(event)

    def _settle(self, event: _Event, conference: _PendingConference) -> None:
        if conference.fails:
            event.resource["conferenceData"] = {"createRequest": conference.create_request("failure")}
        else:
            code = self._new_meeting_code()
            uri = f"https://meet.google.com/{code}"
            event.resource["conferenceData"] = {
                "createRequest": conference.create_request("success"),
                "entryPoints": [{"entryPointType": "video", "uri": uri, "label": uri.removeprefix("https://")}],
                "conferenceSolution": {"key": {"type": "hangoutsMeet"}, "name": "Google Meet", "iconUri": MEET_ICON},
                "conferenceId": code,
            }
            event.resource["hangoutLink"] = uri
        event.conference = None
        event.resource["etag"] = self._etag()

    def _apply_conference(self, event: _Event, data: JsonObject | None) -> None:
        """Conference data of a body sent with `conferenceDataVersion=1`."""
        current = event.conference.request_id if event.conference else _request_id(event.resource.get("conferenceData"))
        request_data = (data or {}).get("createRequest")
        if request_data:
            if (request_data.get("conferenceSolutionKey") or {}).get("type") != "hangoutsMeet":
                raise CalendarError(400, "Invalid conference type value.", "invalid")
            request_id = request_data.get("requestId")
            if not request_id:
                raise CalendarError(400, "Missing conference create request id.", "required")
            if request_id == current:
                return  # Google ignores a repeated requestId: no second conference
            fails = self._failures > 0
            self._failures -= fails
            event.conference = _PendingConference(request_id, self._pending_reads, fails)
            event.resource.pop("conferenceData", None)
            event.resource.pop("hangoutLink", None)
            if self._settle_on_insert and not fails:
                self._settle(event, event.conference)  # Google often has the Meet link in the insert response
            return
        event.conference = None
        event.resource.pop("hangoutLink", None)
        if not data:
            event.resource.pop("conferenceData", None)
            return
        # Copying a conference from another event: a solution and an entry point are required.
        if not data.get("conferenceSolution") or not data.get("entryPoints"):
            raise CalendarError(400, "Invalid conference data.", "invalid")
        event.resource["conferenceData"] = copy.deepcopy(data)
        video = [p for p in data["entryPoints"] if p.get("entryPointType") == "video"]
        if video and data["conferenceSolution"].get("key", {}).get("type") == "hangoutsMeet":
            event.resource["hangoutLink"] = video[0].get("uri")

    def _stamp_write(self, resource: JsonObject, calendar: _Calendar) -> tuple[datetime, datetime]:
        """What every write does: check times and attendees, bump `updated` and the etag; the new span."""
        span = _event_span(resource, calendar.time_zone)
        attendees = _attendees(resource.get("attendees"), calendar.id)
        if attendees:
            resource["attendees"] = attendees
        else:
            resource.pop("attendees", None)
        resource["updated"] = _stamp(datetime.now(UTC))
        resource["etag"] = self._etag()
        return span

    def _insert(self, calendar: _Calendar, author: str, body: JsonObject, conference_version: int) -> _Event:
        event_id = body.get("id")
        if event_id is None:
            event_id = base64.b32hexencode(uuid.uuid4().bytes).decode().lower().rstrip("=")
        elif not isinstance(event_id, str) or not EVENT_ID.fullmatch(event_id):
            raise CalendarError(400, "Invalid resource id value.", "invalid")
        if event_id in calendar.events:  # deleted events keep their id too
            raise CalendarError(409, "The requested identifier already exists.", "duplicate")
        now = _stamp(datetime.now(UTC))
        resource = {k: copy.deepcopy(v) for k, v in body.items() if k not in SERVER_FIELDS and v is not None}
        eid = base64.urlsafe_b64encode(f"{event_id} {calendar.id}".encode()).decode().rstrip("=")
        resource |= {
            "kind": "calendar#event",
            "id": event_id,
            "status": body.get("status") or "confirmed",
            "htmlLink": f"https://www.google.com/calendar/event?eid={eid}",
            "created": now,
            "creator": {"email": author, "self": True} if author == calendar.id else {"email": author},
            "organizer": _organizer(calendar, primary=calendar.id in self._lists),
            "iCalUID": body.get("iCalUID") or f"{event_id}@google.com",
            "sequence": body.get("sequence") or 0,
            "reminders": body.get("reminders") or {"useDefault": True},
            "eventType": body.get("eventType") or "default",
        }
        event = _Event(resource, self._stamp_write(resource, calendar))
        if conference_version == 1 and body.get("conferenceData") is not None:
            self._apply_conference(event, body["conferenceData"])
        calendar.events[event_id] = event
        return event

    def _replace(self, calendar: _Calendar, event: _Event, body: JsonObject, conference_version: int, patch: bool) -> None:
        """events.patch (merge) or events.update (replace), validated before anything is stored."""
        writable = {k: v for k, v in body.items() if k not in SERVER_FIELDS}
        if patch:
            resource = _merge(event.resource, writable)
        else:
            resource = {k: event.resource[k] for k in KEPT_ON_UPDATE if k in event.resource}
            resource |= {k: copy.deepcopy(v) for k, v in writable.items() if v is not None}
            resource.setdefault("status", "confirmed")
            resource.setdefault("reminders", {"useDefault": True})
            for key in ("conferenceData", "hangoutLink"):
                if key in event.resource:
                    resource[key] = event.resource[key]
        resource["sequence"] = _next_sequence(event.resource.get("sequence", 0), body.get("sequence"))
        candidate = _Event(resource, self._stamp_write(resource, calendar), event.conference)
        if conference_version == 1 and (not patch or "conferenceData" in body):
            self._apply_conference(candidate, body.get("conferenceData"))
        event.resource, event.span, event.conference = candidate.resource, candidate.span, candidate.conference

    def _visible_for_freebusy(self, email: str, calendar_id: str) -> _Calendar | None:
        """Calendars on the caller's list, and other known accounts' primaries (same organisation)."""
        calendar_id = email if calendar_id == "primary" else calendar_id
        entry = self._list_for(email).get(calendar_id)
        if entry is not None:
            return entry.calendar
        return self._calendars[calendar_id] if calendar_id in self._lists else None

    # -- Python API (the control routes and SandboxServer use these) -----------------

    def add_calendar(
        self,
        account: str,
        calendar_id: str,
        summary: str,
        access_role: str = "owner",
        time_zone: str = "UTC",
        background_color: str | None = None,
        color_id: str | None = None,
        primary: bool = False,
        hidden: bool = False,
    ) -> JsonObject:
        """Put a calendar on `account`'s calendar list (creating it if new); its CalendarListEntry is returned.
        Every account already has its primary calendar; `primary=True` with the account's
        email as id changes that one's summary, time zone or colour."""
        if access_role not in ROLE_RANK:
            raise GoogleError(400, f"access_role must be one of {sorted(ROLE_RANK)}")
        if primary != (calendar_id == account):
            raise GoogleError(400, "a primary calendar's id is its account's email, and only it is primary")
        _zone(time_zone, "calendar")
        with self._lock:
            entries = self._list_for(account)
            calendar = self._calendars.setdefault(calendar_id, _Calendar(calendar_id, summary, time_zone))
            calendar.summary, calendar.time_zone = summary, time_zone
            entry = entries.get(calendar_id) or _ListEntry(calendar, access_role, primary, self._etag())
            entry.access_role, entry.hidden, entry.etag = access_role, hidden, self._etag()
            entry.background_color = background_color or entry.background_color
            entry.color_id = color_id or entry.color_id
            entries[calendar_id] = entry
            return entry.json()

    def events(self, calendar_id: str) -> list[JsonObject]:
        """Every event of a calendar, cancelled ones included, without counting as a read."""
        with self._lock:
            calendar = self._calendars.get(calendar_id)
            return [_render(e) for e in calendar.events.values()] if calendar else []

    def add_busy_event(
        self,
        calendar_id: str,
        start: datetime | date | str,
        end: datetime | date | str,
        summary: str = "Busy",
        transparency: str = "opaque",
    ) -> JsonObject:
        """Add an event as its owner would; an unknown calendar id is taken as an account's primary.

        `start` and `end` are both RFC 3339 date-times (with an offset), or both dates
        (`yyyy-mm-dd`, end exclusive) for an all-day event, busy from midnight to midnight
        in the calendar's zone."""
        start, end = (t if isinstance(t, str) else t.isoformat() for t in (start, end))
        if transparency not in ("opaque", "transparent"):
            raise GoogleError(400, f"transparency must be opaque or transparent, got {transparency!r}")
        if _is_day(start) and _is_day(end):
            kind = "date"
        elif is_rfc3339(start) and is_rfc3339(end) and parse_rfc3339(start).tzinfo and parse_rfc3339(end).tzinfo:
            kind = "dateTime"
        else:
            raise GoogleError(
                400, f"start and end must both be RFC 3339 date-times with an offset, or both dates, got {start!r} and {end!r}"
            )
        body = {"summary": summary, "start": {kind: start}, "end": {kind: end}, "transparency": transparency}
        with self._lock:
            if calendar_id not in self._calendars:
                self._list_for(calendar_id)
            calendar = self._calendars[calendar_id]
            return _render(self._insert(calendar, calendar_id, body, conference_version=0))

    def set_conferences(
        self, pending_reads: int | None = None, fail_next: int | None = None, settle_on_insert: bool | None = None
    ) -> JsonObject:
        """How Meet creation behaves: reads that still see `pending`, how many next creations fail, and
        whether the insert response already carries the link (`settle_on_insert`, off by default)."""
        for name, value in (("pending_reads", pending_reads), ("fail_next", fail_next)):
            if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 0):
                raise GoogleError(400, f"{name} must be a non-negative integer")
        with self._lock:
            if pending_reads is not None:
                self._pending_reads = pending_reads
            if fail_next is not None:
                self._failures = fail_next
            if settle_on_insert is not None:
                self._settle_on_insert = bool(settle_on_insert)
            return {"pending_reads": self._pending_reads, "fail_next": self._failures, "settle_on_insert": self._settle_on_insert}

    # -- HTTP ------------------------------------------------------------------------

    def _begin(self, method_id: str) -> tuple[str, JsonObject]:
        """Authorise as Google does (credentials before anything else), then check the request."""
        method = self._discovery.methods[method_id]
        try:
            account = self.oauth.authorize_api_request(request.headers.get("Authorization"), method.scopes)
        except GoogleError as error:
            reason = AUTH_REASONS.get(error.code, "invalid")
            raise CalendarError(error.code, error.message, reason, status=error.status, details=error.details) from None
        try:
            self._discovery.check_query(method, request.args)
        except InvalidRequest as error:
            raise CalendarError(400, error.message, "invalid", parameter=error.field, status="INVALID_ARGUMENT") from None
        try:
            body = json_object(request.get_data()) if method.request_schema else {}
            self._discovery.check_body(method, body)
        except GoogleError as error:
            raise CalendarError(400, error.message, "parseError", status="INVALID_ARGUMENT") from None
        except InvalidRequest as error:
            raise CalendarError(400, error.message, "invalid", status="INVALID_ARGUMENT") from None
        return account.email, body

    def _blueprint(self) -> Blueprint:
        bp = Blueprint("calendar", __name__)

        @bp.get(f"{API}/users/me/calendarList")
        def calendar_list() -> Response:
            email, _ = self._begin("calendar.calendarList.list")
            _reject_sync_token()
            min_rank = ROLE_RANK[request.args.get("minAccessRole", "freeBusyReader")]
            show_hidden = request.args.get("showHidden") == "true"
            with self._lock:
                entries = [
                    e.json()
                    for e in self._list_for(email).values()
                    if ROLE_RANK[e.access_role] >= min_rank and (show_hidden or not e.hidden)
                ]
                etag = self._etag()
            items, token = _page(entries, default=100, maximum=250)
            return jsonify(_listing({"kind": "calendar#calendarList", "etag": etag}, items, token))

        @bp.route(f"{API}/calendars/<calendar_id>/events", methods=["GET", "POST"])
        def events(calendar_id: str) -> Response:
            if request.method == "POST":
                email, body = self._begin("calendar.events.insert")
                with self._lock:
                    calendar = self._entry(email, calendar_id, "writer").calendar
                    return jsonify(_render(self._insert(calendar, email, body, _conference_version())))
            email, _ = self._begin("calendar.events.list")
            return self._list_events(email, calendar_id)

        @bp.route(f"{API}/calendars/<calendar_id>/events/<event_id>", methods=["GET", "PATCH", "PUT", "DELETE"])
        def event(calendar_id: str, event_id: str) -> Response:
            if request.method == "GET":
                email, _ = self._begin("calendar.events.get")
                with self._lock:
                    calendar = self._entry(email, calendar_id, "reader").calendar
                    return jsonify(self._read(self._event(calendar, event_id)))
            if request.method == "DELETE":
                email, _ = self._begin("calendar.events.delete")
                with self._lock:
                    calendar = self._entry(email, calendar_id, "writer").calendar
                    found = self._event(calendar, event_id)
                    if found.cancelled:
                        raise CalendarError(410, "Resource has been deleted", "deleted")
                    found.resource["status"] = "cancelled"
                    found.resource["updated"] = _stamp(datetime.now(UTC))
                    found.resource["etag"] = self._etag()
                return Response(status=204)
            patch = request.method == "PATCH"
            email, body = self._begin("calendar.events.patch" if patch else "calendar.events.update")
            with self._lock:
                calendar = self._entry(email, calendar_id, "writer").calendar
                found = self._event(calendar, event_id)
                self._replace(calendar, found, body, _conference_version(), patch=patch)
                return jsonify(_render(found))

        @bp.post(f"{API}/freeBusy")
        def free_busy() -> Response:
            email, body = self._begin("calendar.freebusy.query")
            time_min, time_max = _body_instant(body, "timeMin"), _body_instant(body, "timeMax")
            if time_max <= time_min:
                raise CalendarError(
                    400, "The specified time range is empty.", "timeRangeEmpty", domain="calendar", parameter="timeMax"
                )
            if time_max - time_min > MAX_FREEBUSY_RANGE:
                raise CalendarError(400, "The requested time range is too long.", "timeRangeTooLong", domain="calendar")
            zone = _zone(body.get("timeZone") or "UTC", "timeZone")
            items = body.get("items") or []
            limit = min(int(body.get("calendarExpansionMax") or MAX_FREEBUSY_CALENDARS), MAX_FREEBUSY_CALENDARS)
            too_many = len(items) > limit  # then every calendar of the query carries the error
            calendars: JsonObject = {}
            with self._lock:
                for item in items:
                    calendar_id = item.get("id")
                    if not calendar_id:
                        raise CalendarError(400, "Missing calendar id in items.", "required")
                    calendar = self._visible_for_freebusy(email, calendar_id)
                    if too_many:
                        calendars[calendar_id] = _freebusy_error("tooManyCalendarsRequested")
                    elif calendar is None:
                        calendars[calendar_id] = _freebusy_error("notFound")
                    else:
                        calendars[calendar_id] = {"busy": _busy(calendar, time_min, time_max, zone)}
            return jsonify(
                {"kind": "calendar#freeBusy", "timeMin": _stamp(time_min), "timeMax": _stamp(time_max), "calendars": calendars}
            )

        self._control_routes(bp)
        return bp

    def _list_events(self, email: str, calendar_id: str) -> Response:
        _reject_sync_token()
        time_min, time_max, updated_min = _query_instant("timeMin"), _query_instant("timeMax"), _query_instant("updatedMin")
        if time_min and time_max and time_max <= time_min:
            raise CalendarError(
                400, "The specified time range is empty.", "timeRangeEmpty", domain="calendar", parameter="timeMax"
            )
        order_by = request.args.get("orderBy")
        if order_by == "startTime" and request.args.get("singleEvents") != "true":
            raise CalendarError(
                400, "The requested ordering is not available for the particular query.", "invalid", parameter="orderBy"
            )
        show_deleted = request.args.get("showDeleted") == "true"
        ical_uid = request.args.get("iCalUID")
        terms = request.args.get("q", "").lower().split()
        with self._lock:
            entry = self._entry(email, calendar_id, "reader")
            selected = [
                e
                for e in entry.calendar.events.values()
                if (show_deleted or not e.cancelled)
                and (time_min is None or e.span[1] > time_min)
                and (time_max is None or e.span[0] < time_max)
                and (updated_min is None or parse_rfc3339(e.resource["updated"]) >= updated_min)
                and (ical_uid is None or e.resource["iCalUID"] == ical_uid)
                and _has_properties(e.resource, request.args)
                and all(term in _search_text(e.resource) for term in terms)
            ]
            if order_by == "startTime":
                selected.sort(key=lambda e: e.span[0])
            elif order_by == "updated":
                selected.sort(key=lambda e: e.resource["updated"])
            chosen, token = _page(selected, default=250, maximum=2500)
            items = [self._read(e) for e in chosen]
            head: JsonObject = {
                "kind": "calendar#events",
                "etag": self._etag(),
                "summary": entry.calendar.summary,
                "updated": max((i["updated"] for i in items), default=_stamp(datetime.now(UTC))),
                "timeZone": entry.calendar.time_zone,
                "accessRole": entry.access_role,
                "defaultReminders": [],
            }
        return jsonify(_listing(head, items, token))

    def _control_routes(self, bp: Blueprint) -> None:
        @bp.post(f"{CONTROL}/calendars")
        def add_calendar() -> Response:
            body = json_object(request.get_data())
            _reject_unknown(body, {"account", "id", "summary", "access_role", "time_zone", "background_color",
                                   "color_id", "primary", "hidden"})  # fmt: skip
            entry = self.add_calendar(
                _required(body, "account"),
                _required(body, "id"),
                _required(body, "summary"),
                access_role=body.get("access_role", "owner"),
                time_zone=body.get("time_zone", "UTC"),
                background_color=body.get("background_color"),
                color_id=body.get("color_id"),
                primary=body.get("primary") is True,
                hidden=body.get("hidden") is True,
            )
            return jsonify(entry)

        @bp.get(f"{CONTROL}/calendars/<calendar_id>/events")
        def list_events(calendar_id: str) -> Response:
            return jsonify({"items": self.events(calendar_id)})

        @bp.post(f"{CONTROL}/calendars/<calendar_id>/busy")
        def add_busy(calendar_id: str) -> Response:
            body = json_object(request.get_data())
            _reject_unknown(body, {"start", "end", "summary", "transparency"})
            event = self.add_busy_event(
                calendar_id,
                _required(body, "start"),
                _required(body, "end"),
                summary=body.get("summary", "Busy"),
                transparency=body.get("transparency", "opaque"),
            )
            return jsonify(event)

        @bp.post(f"{CONTROL}/conferences")
        def conferences() -> Response:
            body = json_object(request.get_data())
            _reject_unknown(body, {"pending_reads", "fail_next", "settle_on_insert"})
            return jsonify(self.set_conferences(body.get("pending_reads"), body.get("fail_next"), body.get("settle_on_insert")))


# -- helpers without state ------------------------------------------------------------


def _render(event: _Event) -> JsonObject:
    body = copy.deepcopy(event.resource)
    if event.conference is not None:
        body["conferenceData"] = {"createRequest": event.conference.create_request("pending")}
    return body


def _request_id(conference_data: JsonObject | None) -> str | None:
    request_id = ((conference_data or {}).get("createRequest") or {}).get("requestId")
    return str(request_id) if request_id else None


def _organizer(calendar: _Calendar, primary: bool) -> JsonObject:
    """The calendar itself organises its events; secondary calendars also show their name."""
    organizer: JsonObject = {"email": calendar.id, "self": True}
    if not primary:
        organizer["displayName"] = calendar.summary
    return organizer


def _attendees(attendees: list[JsonObject] | None, calendar_id: str) -> list[JsonObject]:
    result = []
    for attendee in attendees or []:
        email = attendee.get("email")
        if not email:
            raise CalendarError(400, "Missing attendee email.", "required")
        if not re.fullmatch(r"[^@\s]+@[^@\s]+\.[^@\s]+", email):
            raise CalendarError(400, "Invalid attendee email.", "invalid")
        if email.lower() == calendar_id.lower():  # the organiser listed as a guest has accepted
            attendee = {"responseStatus": "accepted", **attendee, "self": True, "organizer": True}
        else:
            attendee = {"responseStatus": "needsAction", **attendee}
        result.append(attendee)
    return result


def _merge(target: JsonObject, patch: JsonObject) -> JsonObject:
    """Patch semantics: objects merge field by field, arrays and scalars replace, null clears."""
    merged = copy.deepcopy(target)
    for key, value in patch.items():
        if value is None:
            merged.pop(key, None)
        elif isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = _merge(merged[key], value)
        else:
            merged[key] = copy.deepcopy(value)
    return merged


def _next_sequence(current: int, given: Any) -> int:
    """Every change bumps `sequence`; a client may set it higher, never lower."""
    if given is None:
        return current + 1
    if int(given) < current:
        raise CalendarError(
            400,
            "Invalid sequence value. The specified sequence number is below the current sequence number of the resource.",
            "invalid",
        )
    return max(int(given), current + 1)


def _conference_version() -> int:
    return int(request.args.get("conferenceDataVersion", "0"))


def _page(items: list[Any], default: int, maximum: int) -> tuple[list[Any], str | None]:
    """Calendar paging: `maxResults` has a default, and values above the maximum are lowered to it."""
    size = min(int(request.args.get("maxResults", default)), maximum)
    try:
        chosen, token = page(items, size, request.args.get("pageToken"))
    except InvalidRequest as error:
        raise CalendarError(400, error.message, "invalid", parameter="pageToken") from None
    return list(chosen), token


def _listing(head: JsonObject, items: list[JsonObject], token: str | None) -> JsonObject:
    body = head | {"items": items}
    if token:
        body["nextPageToken"] = token
    return body


def _reject_sync_token() -> None:
    if request.args.get("syncToken"):
        raise GoogleError(501, "The sandbox does not implement sync tokens.")


def _search_text(resource: JsonObject) -> str:
    """What free-text `q` searches: summary, description, location, organiser and attendees."""
    people = [resource.get("organizer") or {}, *(resource.get("attendees") or [])]
    parts = [resource.get(k, "") for k in ("summary", "description", "location")]
    parts += [f"{p.get('email', '')} {p.get('displayName', '')}" for p in people]
    return " ".join(parts).lower()


def _has_properties(resource: JsonObject, args: MultiDict[str, str]) -> bool:
    """`privateExtendedProperty` / `sharedExtendedProperty` constraints (`name=value`, all must hold)."""
    properties = resource.get("extendedProperties") or {}
    for scope in ("private", "shared"):
        for constraint in args.getlist(f"{scope}ExtendedProperty"):
            name, _, value = constraint.partition("=")
            if (properties.get(scope) or {}).get(name) != value:
                return False
    return True


def _is_day(value: str) -> bool:
    try:
        date.fromisoformat(value)
    except ValueError:
        return False
    return bool(re.fullmatch(r"\d{4}-\d{2}-\d{2}", value))


def _body_instant(body: JsonObject, name: str) -> datetime:
    value = body.get(name)
    if value is None:
        raise CalendarError(400, f"Required parameter: {name}", "required")
    instant = parse_rfc3339(value)
    if instant.tzinfo is None:
        raise CalendarError(400, f"Invalid value for {name}: a time zone offset is required.", "invalid")
    return instant


def _busy(calendar: _Calendar, time_min: datetime, time_max: datetime, zone: ZoneInfo) -> list[JsonObject]:
    """Opaque, non-cancelled events clipped to the window, overlapping ones merged, in `zone`."""
    spans = sorted(
        (max(e.span[0], time_min), min(e.span[1], time_max))
        for e in calendar.events.values()
        if e.busy() and e.span[0] < time_max and e.span[1] > time_min
    )
    merged: list[list[datetime]] = []
    for start, end in spans:
        if merged and start <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], end)
        else:
            merged.append([start, end])
    return [{"start": _rfc3339(s.astimezone(zone)), "end": _rfc3339(e.astimezone(zone))} for s, e in merged]


def _freebusy_error(reason: str) -> JsonObject:
    return {"errors": [{"domain": "global", "reason": reason}], "busy": []}


def _required(body: JsonObject, key: str) -> Any:
    value = body.get(key)
    if value is None or value == "":
        raise GoogleError(400, f"{key} is required")
    return value


def _reject_unknown(body: JsonObject, allowed: set[str]) -> None:
    unknown = set(body) - allowed
    if unknown:
        raise GoogleError(400, f"unknown fields: {sorted(unknown)}")
