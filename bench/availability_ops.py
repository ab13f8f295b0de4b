"""What one availability request costs: Google free/busy calls and Firestore queries and reads.

``python -m bench.availability_ops [--repeat N] [--json PATH]``

Issue 11: every availability request makes exactly ONE Google free/busy call, whatever the
number of calendars and days, and at most TWO Firestore queries. Runs the scheduling
function in-process (functions-framework's test client) with a `Container` injected, against
the Firestore emulator and an in-thread sandbox (strict Calendar free/busy, OAuth, Secret
Manager, Cloud Tasks with the email queue paused), for a connected host whose configuration
checks 3 calendars: the Google account's primary and 2 secondary calendars added to its
calendar list in the sandbox (and to the connection's synced calendar list, which the
configuration's ``calendar_ids`` must come from). The configuration and the booking link are
created through the function's HTTP API with the host's ID token; busy events are added to
all three calendars, 3 bookings are made through the link (``POST /links/{id}/bookings``) and
a pending and a cancelled interview are seeded, so the interviews query returns documents.

Counted per request:
- free/busy calls: ``POST /calendar/v3/freeBusy`` in the sandbox's call log (and the number
  of calendars the call asked about);
- OAuth token refreshes (``POST /token``): one on an instance's first request for a host,
  none while the access token lives;
- Firestore, by a counting client (`devstack.firestore_ops.count_operations` on the
  container's client): documents read by key (``BatchGetDocuments``), queries
  (``RunQuery``/``RunAggregationQuery`` RPCs), documents read in all, writes.

Request kinds: the host's ``GET /availability?config_id=…&date=…`` (once as the instance's
first Google call for the host, then ``--repeat`` times), the host's ``from``/``to`` over 14
days, the guest's ``GET /links/{link}?date=…`` and ``from``/``to`` over 14 days. Answers are
checked: 200, free slots returned, every seeded busy block and booking of the day in the
host's ``busy_times`` and none of them offered. Goals: exactly 1 free/busy call and at most
2 Firestore queries per request. Exits 1 if missed.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from bench import in_process_stack, pause_email_queue
from devstack import processes
from devstack.firestore_ops import count_operations
from devstack.sandbox.server import SandboxServer
from devstack.stack import OAUTH_CLIENT_ID, create_email_queue, function_env, oauth_client, stack_secrets

FREEBUSY = "/calendar/v3/freeBusy"
TOKEN = "/token"
MAX_FREEBUSY_CALLS = 1  # per availability request: exactly this many
MAX_QUERIES = 2  # per availability request: at most this many
WORKSPACE = "ws-bench"
ZONE = "Europe/Berlin"
TZ = ZoneInfo(ZONE)
RANGE_DAYS = 14
WORKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday")


# --- set-up shared with bench.link_contention --------------------------------------------------


@dataclass(frozen=True)
class SchedulingHost:
    uid: str
    email: str  # the Google account, whose primary calendar has this id
    token: str  # a Firebase ID token (workspace claim) minted by the sandbox
    secondary_calendars: tuple[str, ...]


def prepare_sandbox(sandbox: SandboxServer, project: str) -> dict[str, str]:
    """Secrets, OAuth client, the email queue (paused: tasks are created, not dispatched), Meet
    links in the insert answer; returns the function environment pointing at the stack."""
    secrets = stack_secrets()
    for name, value in secrets.items():
        sandbox.put_secret(name, value, project=project)
    client_id, client_secret = oauth_client(secrets)
    sandbox.register_oauth_client(client_id, client_secret, ["http://127.0.0.1:9/callback"])
    create_email_queue(sandbox.url, project)
    pause_email_queue(sandbox.url, project)
    sandbox.sandbox.calendar.set_conferences(settle_on_insert=True)
    return function_env(
        project_id=project,
        firestore_host=os.environ["FIRESTORE_EMULATOR_HOST"],
        sandbox_url=sandbox.url,
        oauth_url="http://127.0.0.1:9",
        worker_url="http://127.0.0.1:9/worker",
    ) | {"CONVENE_SCHEDULING_URL": "http://127.0.0.1:9/scheduling"}


def scheduling_host(sandbox: SandboxServer, container: Any, db: Any, *, secondary: int = 2) -> SchedulingHost:
    """A host of the bench workspace with a connected Google account holding ``secondary`` more
    calendars than its primary, all on its calendar list in the sandbox and in the connection's
    synced list (as a calendar sync stores it)."""
    from shared.adapters.firestore import UserRepository
    from shared.domain.connections import (
        CALENDAR_EVENTS,
        CALENDAR_FREEBUSY,
        CALENDAR_LIST,
        EMAIL,
        GOOGLE,
        OPENID,
        CalendarEntry,
        Connection,
        ConnectionStatus,
        refresh_token_context,
    )
    from shared.domain.models import Role, User

    tag = uuid.uuid4().hex[:6]
    uid, email = f"uid-{tag}", f"host-{tag}@gmail.example"
    UserRepository(db).put(User(uid, WORKSPACE, Role.HOST, email, "Bench Host"))
    sandbox.add_google_account(email, "Bench Host")
    calendar = sandbox.sandbox.calendar
    calendar.add_calendar(email, email, email, time_zone=ZONE, primary=True)
    others = tuple(f"{name}-{tag}@group.calendar.google.com" for name in ("team", "oncall", "hiring")[:secondary])
    for calendar_id in others:
        calendar.add_calendar(email, calendar_id, calendar_id.split("-")[0].title(), time_zone=ZONE)
    scopes = [OPENID, EMAIL, CALENDAR_EVENTS, CALENDAR_FREEBUSY, CALENDAR_LIST]
    refresh = sandbox.sandbox.oauth.issue_tokens(OAUTH_CLIENT_ID, email, scopes)["refresh_token"]
    container.connections.save(
        Connection(
            uid=uid,
            workspace_id=WORKSPACE,
            provider=GOOGLE,
            status=ConnectionStatus.CONNECTED,
            account_email=email,
            scopes=tuple(scopes),
            calendars=(
                CalendarEntry(email, email, True, "owner", ZONE),
                *(CalendarEntry(c, c.split("-")[0].title(), False, "owner", ZONE) for c in others),
            ),
            refresh_token=container.token_cipher.seal(refresh, context=refresh_token_context(uid, GOOGLE)),
        )
    )
    token = sandbox.mint_id_token(uid, email, name="Bench Host", claims={"workspace_id": WORKSPACE})
    return SchedulingHost(uid, email, token, others)


def config_body(host: SchedulingHost, **changes: Any) -> dict[str, Any]:
    """Working hours 08:00–12:00 and 13:00–18:00 Monday to Friday in Berlin, 30-minute slots every
    15 minutes, buffers 10 before and 5 after, 60 minutes' notice, 30 days ahead; its calendars:
    ``primary`` and the host's secondary calendars."""
    hours = [{"start": "08:00", "end": "12:00"}, {"start": "13:00", "end": "18:00"}]
    return {
        "name": "30-minute screening",
        "timezone": ZONE,
        "calendar_ids": ["primary", *host.secondary_calendars],
        "duration_minutes": 30,
        "slot_step_minutes": 15,
        "buffer_before_minutes": 10,
        "buffer_after_minutes": 5,
        "minimum_notice_minutes": 60,
        "days_ahead": 30,
        "working_hours": {day: hours for day in WORKDAYS},
        "interview_type": "google_meet",
        "booking_mode": "direct",
    } | changes


def api(client: Any, method: str, path: str, *, token: str | None = None, body: Any = None) -> tuple[int, Any]:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    response = client.open(path, method=method, headers=headers, json=body)
    return response.status_code, response.get_json(silent=True)


def expect(status: int, body: Any, wanted: int, what: str) -> Any:
    if status != wanted:
        raise SystemExit(f"{what} answered {status} (expected {wanted}): {json.dumps(body)[:500]}")
    return body


def local(day: date, hhmm: str) -> datetime:
    hour, minute = map(int, hhmm.split(":"))
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=TZ)


def workdays_from(first: date, count: int) -> list[date]:
    days, d = [], first
    while len(days) < count:
        if d.weekday() < 5:
            days.append(d)
        d += timedelta(days=1)
    return days


def guest_body(start: datetime) -> dict[str, Any]:
    return {
        "start": start.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "name": "Gus Guest",
        "email": f"gus-{uuid.uuid4().hex[:8]}@candidates.example",
        "timezone": "America/New_York",
    }


# --- the measurement ------------------------------------------------------------------------------


@dataclass(frozen=True)
class RequestKind:
    name: str
    path: str
    token: str | None
    check_day: bool  # the host's view of the seeded day: every busy block and booking shown, none offered


@dataclass
class Result:
    kind: RequestKind
    statuses: list[int] = field(default_factory=list)
    freebusy_calls: list[int] = field(default_factory=list)
    calendars_asked: list[int] = field(default_factory=list)
    token_refreshes: list[int] = field(default_factory=list)
    gets: list[int] = field(default_factory=list)
    queries: list[int] = field(default_factory=list)
    reads: list[int] = field(default_factory=list)
    writes: list[int] = field(default_factory=list)
    slots: list[int] = field(default_factory=list)
    rpcs: list[str] = field(default_factory=list)
    documents: list[str] = field(default_factory=list)  # read by key, in order (last request)
    problems: list[str] = field(default_factory=list)

    @property
    def meets_goal(self) -> bool:
        return all(n == MAX_FREEBUSY_CALLS for n in self.freebusy_calls) and all(q <= MAX_QUERIES for q in self.queries)

    @property
    def ok(self) -> bool:
        return self.meets_goal and all(s == 200 for s in self.statuses) and not self.problems


def measure(repeat: int) -> dict[str, Any]:
    from functions_framework import create_app
    from google.cloud import firestore

    from shared import bootstrap
    from shared.adapters.firestore import InterviewRepository
    from shared.bootstrap import Container
    from shared.config import Settings
    from shared.domain.models import InterviewStatus, Person
    from tests import factories

    with in_process_stack() as (project, _, sandbox):
        env = prepare_sandbox(sandbox, project)
        os.environ.update(env)
        db = firestore.Client(project=project)
        container = Container(Settings.from_env(env), firestore_client=db)
        bootstrap.use_container(container)
        try:
            host = scheduling_host(sandbox, container, db)
            client = create_app("scheduling", str(processes.ROOT / "functions" / "scheduling" / "main.py")).test_client()
            config = expect(
                *api(client, "POST", "/scheduling-configs", token=host.token, body=config_body(host)), 201, "create config"
            )
            link = expect(
                *api(
                    client, "POST", f"/scheduling-configs/{config['id']}/booking-links", token=host.token, body={"label": "bench"}
                ),
                201,
                "create link",
            )
            today = datetime.now(TZ).date()
            first = today + timedelta(days=1)
            day = workdays_from(today + timedelta(days=3), 1)[0]  # the day of the single-day requests
            calendars = [host.email, *host.secondary_calendars]

            # Busy events on all three calendars over the 14 days: every workday one block per calendar
            # at hours of its own, and one all-day block; the seeded day gets blocks that stand alone.
            expected_busy: list[tuple[datetime, datetime]] = []
            for i, d in enumerate(workdays_from(first, RANGE_DAYS)):
                if d == day:
                    continue
                for j, calendar_id in enumerate(calendars):
                    start = local(d, f"{9 + (i + 3 * j) % 8:02d}:00")
                    sandbox.sandbox.calendar.add_busy_event(calendar_id, start, start + timedelta(minutes=45))
            allday = workdays_from(day + timedelta(days=1), 1)[0]
            sandbox.sandbox.calendar.add_busy_event(calendars[2], allday.isoformat(), (allday + timedelta(days=1)).isoformat())
            for calendar_id, (begin, end) in zip(
                calendars, (("10:00", "10:30"), ("13:00", "13:30"), ("15:30", "16:00")), strict=True
            ):
                sandbox.sandbox.calendar.add_busy_event(calendar_id, local(day, begin), local(day, end))
                expected_busy.append((local(day, begin), local(day, end)))

            # Bookings through the link (each a confirmed interview, its Calendar event, two email tasks).
            for hhmm in ("09:00", "14:00", "17:00"):
                start = local(day, hhmm)
                expect(*api(client, "POST", f"/links/{link['id']}/bookings", body=guest_body(start)), 201, f"book {hhmm}")
                expected_busy.append((start, start + timedelta(minutes=30)))
            # A pending request (keeps its slot) and a cancelled interview (does not), stored directly.
            person = Person(email=host.email, name="Bench Host", uid=host.uid)
            repo = InterviewRepository(db)
            pending_start = local(day, "11:00")
            repo.add(
                factories.interview(
                    workspace_id=WORKSPACE, host=person, start=pending_start, duration_minutes=30, status=InterviewStatus.PENDING
                )
            )
            expected_busy.append((pending_start, pending_start + timedelta(minutes=30)))
            cancelled_start = local(day, "16:30")
            repo.add(
                factories.interview(
                    workspace_id=WORKSPACE,
                    host=person,
                    start=cancelled_start,
                    duration_minutes=30,
                    status=InterviewStatus.CANCELLED,
                )
            )

            last = first + timedelta(days=RANGE_DAYS - 1)
            span = f"from={first.isoformat()}&to={last.isoformat()}"
            kinds = [
                RequestKind("host, one day", f"/availability?config_id={config['id']}&date={day.isoformat()}", host.token, True),
                RequestKind(
                    f"host, {RANGE_DAYS} days (from/to)", f"/availability?config_id={config['id']}&{span}", host.token, False
                ),
                RequestKind("guest link, one day", f"/links/{link['id']}?date={day.isoformat()}", None, False),
                RequestKind(
                    f"guest link, {RANGE_DAYS} days (from/to)",
                    f"/links/{link['id']}?{span}&timezone=America/New_York",
                    None,
                    False,
                ),
            ]
            counts = count_operations(db)
            documents = _DocumentLog(db)
            container.google_credentials.forget(host.uid)  # the first request: as on a fresh instance
            first_kind = replace(kinds[0], name="host, one day: first (cold)")
            results = [_run(client, sandbox, counts, documents, first_kind, 1, expected_busy, cancelled_start)]
            results += [_run(client, sandbox, counts, documents, kind, repeat, expected_busy, cancelled_start) for kind in kinds]
        finally:
            bootstrap.use_container(None)
    return {
        "repeat": repeat,
        "calendars": 1 + len(host.secondary_calendars),
        "day": day.isoformat(),
        "range": [first.isoformat(), last.isoformat()],
        "results": results,
    }


class _DocumentLog:
    """Which documents are read by key (wraps the counting API object of ``client``)."""

    def __init__(self, client: Any):
        self._api = client._firestore_api
        self.paths: list[str] = []
        client._firestore_api_internal = self

    def batch_get_documents(self, *args: Any, **kwargs: Any) -> Any:
        request = kwargs.get("request") or (args[0] if args else {})
        names = request.get("documents", []) if isinstance(request, dict) else list(request.documents)
        self.paths += [str(name).split("/documents/", 1)[-1] for name in names]
        return self._api.batch_get_documents(*args, **kwargs)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._api, name)


def _run(
    client: Any,
    sandbox: SandboxServer,
    counts: Any,
    documents: _DocumentLog,
    kind: RequestKind,
    repeat: int,
    expected_busy: Sequence[tuple[datetime, datetime]],
    cancelled_start: datetime,
) -> Result:
    result = Result(kind)
    for _ in range(repeat):
        freebusy_before = len(sandbox.calls(FREEBUSY))
        token_before = len([c for c in sandbox.calls(TOKEN) if c["path"] == TOKEN])
        counts.reset()
        documents.paths.clear()
        status, body = api(client, "GET", kind.path, token=kind.token)
        result.rpcs = list(counts.rpcs)
        result.documents = list(documents.paths)
        result.gets.append(counts.rpcs.count("batch_get_documents"))
        result.queries.append(counts.queries)
        result.reads.append(counts.reads)
        result.writes.append(counts.writes)
        calls = sandbox.calls(FREEBUSY)[freebusy_before:]
        result.freebusy_calls.append(len(calls))
        result.calendars_asked.append(len(((calls[-1].get("body") or {}).get("items")) or []) if calls else 0)
        result.token_refreshes.append(len([c for c in sandbox.calls(TOKEN) if c["path"] == TOKEN]) - token_before)
        result.statuses.append(status)
        slots = (body or {}).get("available_slots") or []
        result.slots.append(len(slots))
        if status != 200:
            result.problems.append(f"answered {status}: {json.dumps(body)[:300]}")
            continue
        if not slots:
            result.problems.append("no free slot returned")
        if kind.check_day:
            result.problems += _check_day(body, expected_busy, cancelled_start)
    return result


def _check_day(body: Mapping[str, Any], expected_busy: Sequence[tuple[datetime, datetime]], cancelled: datetime) -> list[str]:
    """Every seeded busy block and booking of the day is among the busy times and overlaps no offered slot."""
    problems = []
    busy = {(b["start"], b["end"]) for b in body.get("busy_times") or []}
    offered = [(datetime.fromisoformat(s["start_time"]), datetime.fromisoformat(s["end_time"])) for s in body["available_slots"]]
    for start, end in expected_busy:
        if (start.isoformat(), end.isoformat()) not in busy:
            problems.append(f"busy block {start:%H:%M}–{end:%H:%M} not in busy_times")
        if any(s < end and start < e for s, e in offered):
            problems.append(f"a slot overlapping {start:%H:%M}–{end:%H:%M} is offered")
    if any(b[0] == cancelled.isoformat() for b in busy):
        problems.append("the cancelled interview is shown as busy")
    return problems


def _span(values: Sequence[int]) -> str:
    if not values:
        return "-"
    low, high = min(values), max(values)
    return str(low) if low == high else f"{low}–{high}"


def render(measured: Mapping[str, Any]) -> str:
    header = (
        f"{'request':<36}{'status':>7}{'free/busy':>10}{'cals':>5}{'refresh':>8}{'gets':>6}{'queries':>8}"
        f"{'reads':>7}{'writes':>7}{'slots':>7}   goal: {MAX_FREEBUSY_CALLS} free/busy, ≤ {MAX_QUERIES} queries"
    )
    rows = [header]
    for r in measured["results"]:
        verdict = "meets goal" if r.meets_goal else "ABOVE GOAL"
        if r.problems:
            verdict += "; CHECK FAILED"
        rows.append(
            f"{r.kind.name:<36}{_span(r.statuses):>7}{_span(r.freebusy_calls):>10}{_span(r.calendars_asked):>5}"
            f"{_span(r.token_refreshes):>8}{_span(r.gets):>6}{_span(r.queries):>8}{_span(r.reads):>7}{_span(r.writes):>7}"
            f"{_span(r.slots):>7}   {verdict}"
        )
    rows.append("")
    rows.append("Firestore RPCs and the documents read by key, last request of each kind:")
    for r in measured["results"]:
        rows.append(f"  {r.kind.name:<36}{', '.join(r.rpcs) or '-'}")
        rows.append(f"  {'':<36}{', '.join(p.split('/')[0] + '/…' for p in r.documents) or '-'}")
    for r in measured["results"]:
        for problem in dict.fromkeys(r.problems):
            rows.append(f"  {r.kind.name}: {problem}")
    return "\n".join(rows)


def to_json(measured: Mapping[str, Any]) -> dict[str, Any]:
    return {
        **{k: v for k, v in measured.items() if k != "results"},
        "goal": {"freebusy_calls": MAX_FREEBUSY_CALLS, "max_queries": MAX_QUERIES},
        "requests": [
            {
                "name": r.kind.name,
                "path": r.kind.path.split("?")[0],
                "statuses": r.statuses,
                "freebusy_calls": r.freebusy_calls,
                "calendars_per_freebusy_call": r.calendars_asked,
                "token_refreshes": r.token_refreshes,
                "document_gets": r.gets,
                "queries": r.queries,
                "documents_read": r.reads,
                "writes": r.writes,
                "slots": r.slots,
                "rpcs": r.rpcs,
                "documents_read_by_key": r.documents,
                "problems": r.problems,
                "meets_goal": r.meets_goal,
            }
            for r in measured["results"]
        ],
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.availability_ops", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--repeat", type=int, default=3, help="requests per kind (default 3)")
    parser.add_argument("--json", type=Path, metavar="PATH", help="also write the counts as JSON")
    args = parser.parse_args(argv)
    if args.repeat < 1:
        parser.error("--repeat must be ≥ 1")
    measured = measure(args.repeat)
    print(
        f"Per availability request ({measured['calendars']} calendars; one day {measured['day']}, range "
        f"{measured['range'][0]}..{measured['range'][1]}; {args.repeat} requests per kind after the first):\n"
    )
    print(render(measured))
    ok = all(r.ok for r in measured["results"])
    print("\ngoals: exactly 1 free/busy call and ≤ 2 Firestore queries per request:", "met" if ok else "MISSED")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(to_json(measured), indent=2) + "\n")
        print(f"counts written to {args.json}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
