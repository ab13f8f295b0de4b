"""Google Meet REST v2 surface (conference records, participants, sessions), read-only.

Tests put down what a real meeting leaves behind with `add_conference_record`; the
project reads it back as it reads Meet. `filter` implements the subset of AIP-160 the
discovery document documents: `space.meeting_code`, `space.name`, `start_time` and
`end_time` for records, `earliest_start_time`/`latest_end_time` for participants,
`start_time`/`end_time` for sessions, compared with `= != < <= > >=` or `IS [NOT] NULL`
and joined with `AND`. Lists are newest first, as Google documents. Errors have the One
Platform shape (`core.GoogleError`); OR, NOT and parentheses answer 501.
"""

from __future__ import annotations

import operator
import re
import secrets
import string
import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from flask import Blueprint, Response, jsonify, request

from .core import GoogleError, JsonObject, json_object
from .discovery import Discovery, InvalidRequest, page, parse_rfc3339
from .identity import service_account_id
from .oauth import OAuth

CONTROL = "/sandbox/meet/conference-records"
MEETING_CODE = re.compile(r"[a-z]+-[a-z]+-[a-z]+")
RECORD_LIFETIME = timedelta(days=30)  # Google deletes a record 30 days after the conference ends
_COMPARISON = re.compile(r'([a-z_.]+)\s*(>=|<=|!=|=|>|<)\s*("(?:[^"\\]|\\.)*"|\S+)')
_NULL_TEST = re.compile(r"([a-z_.]+)\s+IS\s+(NOT\s+)?NULL")
_OPERATORS: dict[str, Callable[[Any, Any], Any]] = {
    "=": operator.eq,
    "!=": operator.ne,
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
}


@dataclass
class _Participant:
    id: str
    display_name: str
    email: str | None
    phone: bool
    earliest_start: datetime
    latest_end: datetime | None


@dataclass
class _Record:
    id: str
    space: str
    meeting_code: str
    start: datetime
    end: datetime | None
    organizer: str | None
    participants: dict[str, _Participant] = field(default_factory=dict)


def _timestamp(moment: datetime) -> str:
    """Proto JSON Timestamp: UTC, `Z`, fractional seconds only when there are some."""
    text = moment.astimezone(UTC).isoformat(timespec="microseconds" if moment.microsecond else "seconds")
    return text.replace("+00:00", "Z")


def _record_json(record: _Record) -> JsonObject:
    body: JsonObject = {"name": f"conferenceRecords/{record.id}", "startTime": _timestamp(record.start), "space": record.space}
    if record.end is not None:
        body["endTime"] = _timestamp(record.end)
        body["expireTime"] = _timestamp(record.end + RECORD_LIFETIME)
    return body


def _participant_json(record: _Record, participant: _Participant) -> JsonObject:
    body: JsonObject = {
        "name": f"conferenceRecords/{record.id}/participants/{participant.id}",
        "earliestStartTime": _timestamp(participant.earliest_start),
    }
    if participant.latest_end is not None:
        body["latestEndTime"] = _timestamp(participant.latest_end)
    if participant.email:
        body["signedinUser"] = {"user": f"users/{service_account_id(participant.email)}", "displayName": participant.display_name}
    elif participant.phone:
        body["phoneUser"] = {"displayName": participant.display_name}
    else:
        body["anonymousUser"] = {"displayName": participant.display_name}
    return body


def _session_json(record: _Record, participant: _Participant) -> JsonObject:
    """Each participant has one session here, spanning their time in the conference."""
    body: JsonObject = {
        "name": f"conferenceRecords/{record.id}/participants/{participant.id}/participantSessions/{participant.id}",
        "startTime": _timestamp(participant.earliest_start),
    }
    if participant.latest_end is not None:
        body["endTime"] = _timestamp(participant.latest_end)
    return body


def _record_fields(record: _Record) -> Mapping[str, Any]:
    return {
        "space.meeting_code": record.meeting_code,
        "space.name": record.space,
        "start_time": record.start,
        "end_time": record.end,
    }


def _participant_fields(participant: _Participant) -> Mapping[str, Any]:
    return {"earliest_start_time": participant.earliest_start, "latest_end_time": participant.latest_end}


def _session_fields(participant: _Participant) -> Mapping[str, Any]:
    return {"start_time": participant.earliest_start, "end_time": participant.latest_end}


@dataclass(frozen=True)
class _Term:
    """One condition of a filter: `field <operator> value`, or `field IS [NOT] NULL`."""

    field: str
    operator: str
    value: Any = None

    def holds(self, fields: Mapping[str, Any]) -> bool:
        actual = fields[self.field]
        if self.operator.startswith("IS "):
            return (actual is None) == (self.operator == "IS NULL")
        return actual is not None and bool(_OPERATORS[self.operator](actual, self.value))


def _parse_filter(text: str, timestamps: set[str], strings: set[str]) -> list[_Term]:
    """The AND-joined conditions of `text`, over the given timestamp and string fields."""
    if re.search(r"\bOR\b|\bNOT\s+(?!NULL)|[()]", text):
        raise GoogleError(501, "The sandbox's Meet filters support AND-joined comparisons only.")
    terms = []
    for term in (t.strip() for t in re.split(r"\s+AND\s+", text.strip()) if t.strip()):
        null_test, comparison = _NULL_TEST.fullmatch(term), _COMPARISON.fullmatch(term)
        if null_test and null_test.group(1) in timestamps | strings:
            terms.append(_Term(null_test.group(1), "IS NOT NULL" if null_test.group(2) else "IS NULL"))
        elif comparison and comparison.group(1) in timestamps | strings:
            name, op, raw = comparison.groups()
            value: Any = raw[1:-1].replace('\\"', '"') if raw.startswith('"') else raw
            if name in timestamps:
                try:
                    value = parse_rfc3339(value)
                except ValueError:
                    value = None
                if value is None or value.tzinfo is None:
                    raise GoogleError(400, f"Invalid timestamp in filter (RFC 3339 with an offset expected): {raw}")
            elif op not in ("=", "!="):
                raise GoogleError(400, f"Operator {op} does not apply to {name}.")
            terms.append(_Term(name, op, value))
        else:
            raise GoogleError(400, f"Invalid filter: {term!r} (filterable: {', '.join(sorted(timestamps | strings))}).")
    return terms


def _matches(terms: list[_Term], fields: Mapping[str, Any]) -> bool:
    return all(term.holds(fields) for term in terms)


def _as_time(value: datetime | str, what: str) -> datetime:
    try:
        moment = value if isinstance(value, datetime) else parse_rfc3339(value)
    except (TypeError, ValueError):
        raise GoogleError(400, f"{what} must be an RFC 3339 timestamp with an offset, got {value!r}") from None
    if moment.tzinfo is None:
        raise GoogleError(400, f"{what} needs a time zone offset, got {value!r}")
    return moment


class Meet:
    """Conference records keyed by id, behind one lock."""

    def __init__(self, oauth: OAuth) -> None:
        self.oauth = oauth
        self._discovery = Discovery.load("meet.v2")
        self._lock = threading.Lock()
        self._records: dict[str, _Record] = {}
        self._spaces: dict[str, str] = {}  # meeting code -> space name, stable like Google's
        self.blueprint = self._blueprint()

    def reset(self) -> None:
        """Forget conference records."""
        with self._lock:
            self._records.clear()
            self._spaces.clear()

    def add_conference_record(
        self,
        meeting_code: str,
        start: datetime | str,
        end: datetime | str | None = None,
        participants: Iterable[Mapping[str, Any]] = (),
        organizer: str | None = None,
    ) -> str:
        """Record a conference held in the space of `meeting_code`; returns its name.

        Participants are `{"display_name", "email"?, "phone"?, "earliest_start", "latest_end"?}`:
        with an email they are signed-in users, with `phone: true` dial-ins, else anonymous.
        `end=None` is a conference still running. With `organizer` (an account email) only
        that account can read the record, as only a space's owner can in Meet.
        """
        if not isinstance(meeting_code, str) or not MEETING_CODE.fullmatch(meeting_code):
            raise GoogleError(400, f"meeting_code must look like abc-mnop-xyz, got {meeting_code!r}")
        start_time = _as_time(start, "start")
        end_time = None if end is None else _as_time(end, "end")
        if end_time is not None and end_time <= start_time:
            raise GoogleError(400, "end must be after start")
        record_id = secrets.token_urlsafe(15)
        with self._lock:
            space = self._spaces.setdefault(
                meeting_code, "spaces/" + "".join(secrets.choice(string.ascii_letters) for _ in range(12))
            )
            record = _Record(record_id, space, meeting_code, start_time, end_time, organizer and organizer.lower())
            for spec in participants:
                participant = _new_participant(spec)
                record.participants[participant.id] = participant
            self._records[record_id] = record
        return f"conferenceRecords/{record_id}"

    # -- HTTP ------------------------------------------------------------------------

    def _begin(self, method_id: str) -> str:
        """Authorise (credentials are checked first, as Google does), then check the query."""
        method = self._discovery.methods[method_id]
        account = self.oauth.authorize_api_request(request.headers.get("Authorization"), method.scopes)
        try:
            self._discovery.check_query(method, request.args)
        except InvalidRequest as error:
            raise GoogleError(400, error.message) from None
        return account.email

    def _record(self, email: str, record_id: str) -> _Record:
        record = self._records.get(record_id)
        if record is None or record.organizer not in (None, email):
            raise GoogleError(404, "Requested entity was not found.")
        return record

    def _participant(self, email: str, record_id: str, participant_id: str) -> tuple[_Record, _Participant]:
        record = self._record(email, record_id)
        participant = record.participants.get(participant_id)
        if participant is None:
            raise GoogleError(404, "Requested entity was not found.")
        return record, participant

    def _blueprint(self) -> Blueprint:
        bp = Blueprint("meet", __name__)

        @bp.get("/v2/conferenceRecords")
        def list_records() -> Response:
            email = self._begin("meet.conferenceRecords.list")
            terms = _parse_filter(
                request.args.get("filter", ""), {"start_time", "end_time"}, {"space.meeting_code", "space.name"}
            )
            with self._lock:
                records = [
                    r for r in self._records.values() if r.organizer in (None, email) and _matches(terms, _record_fields(r))
                ]
            records.sort(key=lambda r: r.start, reverse=True)
            chosen, token = _page(records, default=25, maximum=100)
            return jsonify(_listing("conferenceRecords", [_record_json(r) for r in chosen], token))

        @bp.get("/v2/conferenceRecords/<record_id>")
        def get_record(record_id: str) -> Response:
            email = self._begin("meet.conferenceRecords.get")
            with self._lock:
                return jsonify(_record_json(self._record(email, record_id)))

        @bp.get("/v2/conferenceRecords/<record_id>/participants")
        def list_participants(record_id: str) -> Response:
            email = self._begin("meet.conferenceRecords.participants.list")
            terms = _parse_filter(request.args.get("filter", ""), {"earliest_start_time", "latest_end_time"}, set())
            with self._lock:
                record = self._record(email, record_id)
                chosen = [p for p in record.participants.values() if _matches(terms, _participant_fields(p))]
            chosen.sort(key=lambda p: p.earliest_start, reverse=True)
            shown, token = _page(chosen, default=100, maximum=250)
            return jsonify(_listing("participants", [_participant_json(record, p) for p in shown], token))

        @bp.get("/v2/conferenceRecords/<record_id>/participants/<participant_id>")
        def get_participant(record_id: str, participant_id: str) -> Response:
            email = self._begin("meet.conferenceRecords.participants.get")
            with self._lock:
                return jsonify(_participant_json(*self._participant(email, record_id, participant_id)))

        @bp.get("/v2/conferenceRecords/<record_id>/participants/<participant_id>/participantSessions")
        def list_sessions(record_id: str, participant_id: str) -> Response:
            email = self._begin("meet.conferenceRecords.participants.participantSessions.list")
            terms = _parse_filter(request.args.get("filter", ""), {"start_time", "end_time"}, set())
            with self._lock:
                record, participant = self._participant(email, record_id, participant_id)
            sessions = [_session_json(record, participant)] if _matches(terms, _session_fields(participant)) else []
            shown, token = _page(sessions, default=100, maximum=250)
            return jsonify(_listing("participantSessions", list(shown), token))

        @bp.post(CONTROL)
        def add_record() -> Response:
            body = json_object(request.get_data())
            unknown = set(body) - {"meeting_code", "start", "end", "participants", "organizer"}
            if unknown:
                raise GoogleError(400, f"unknown fields: {sorted(unknown)}")
            participants = body.get("participants") or []
            if not isinstance(participants, list) or not all(isinstance(p, dict) for p in participants):
                raise GoogleError(400, "participants must be a list of objects")
            name = self.add_conference_record(
                body.get("meeting_code", ""), body.get("start", ""), body.get("end"), participants, body.get("organizer")
            )
            return jsonify({"name": name})

        return bp


def _new_participant(spec: Mapping[str, Any]) -> _Participant:
    unknown = set(spec) - {"display_name", "email", "phone", "earliest_start", "latest_end"}
    if unknown:
        raise GoogleError(400, f"unknown participant fields: {sorted(unknown)}")
    display_name = spec.get("display_name")
    if not isinstance(display_name, str) or not display_name:
        raise GoogleError(400, "each participant needs a display_name")
    earliest = _as_time(spec.get("earliest_start", ""), "earliest_start")
    latest = None if spec.get("latest_end") is None else _as_time(spec["latest_end"], "latest_end")
    if latest is not None and latest < earliest:
        raise GoogleError(400, "latest_end must not be before earliest_start")
    participant_id = "".join(secrets.choice(string.digits) for _ in range(14))
    email = spec.get("email")
    if email is not None and not (isinstance(email, str) and "@" in email):
        raise GoogleError(400, f"participant email must be an email address, got {email!r}")
    # Lower-cased as the OAuth surface does, so `users/<id>` is the `sub` of that account.
    email = email and email.strip().lower()
    return _Participant(participant_id, display_name, email, spec.get("phone") is True, earliest, latest)


def _page(items: Sequence[Any], default: int, maximum: int) -> tuple[Sequence[Any], str | None]:
    """Meet paging: no or zero `pageSize` means the default; larger values are coerced to the maximum."""
    size = int(request.args.get("pageSize") or 0)
    if size < 0:
        raise GoogleError(400, "pageSize must not be negative.")
    try:
        return page(items, min(size or default, maximum), request.args.get("pageToken"))
    except InvalidRequest as error:
        raise GoogleError(400, error.message) from None


def _listing(key: str, items: list[JsonObject], token: str | None) -> JsonObject:
    """Proto3 JSON: empty lists and tokens are left out, as Google leaves them out."""
    body: JsonObject = {key: items} if items else {}
    if token:
        body["nextPageToken"] = token
    return body
