"""``make dev``: the whole system on this machine, with no Google credentials.

Starts the Firestore emulator, the Google sandbox and every function on 127.0.0.1,
seeds a demo workspace, connects its mentor (a second host) to Google through the real
connect flow so that her booking link offers slots at once (the demo host is left for you
to connect), writes ``.convene/dev.json`` (URLs, ID tokens, guest link tokens, ready-to-run
curl commands) and waits.

Every port is checked before anything starts: if one is taken, it says which port, for
which service and held by which process, and exits with status 1, having started nothing
(an emulator left running would otherwise be seeded instead of a new one).

Ctrl-C, SIGTERM (``kill``, a process manager; ``make`` passes it on) and SIGHUP all stop
it the same way, at any moment, even half-way through starting: every process group it
started is stopped (gcloud, bash and java for the emulator, gunicorn and its workers) and
the exit status is 0.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import signal
import sys
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from devstack import processes
from devstack.stack import (
    FUNCTIONS,
    GUEST_LINK_SECRET,
    INTERNAL_FUNCTIONS,
    SENDGRID_SECRET,
    create_email_queue,
    function_env,
    internal_env,
    oauth_client,
    stack_secrets,
)

STATE_DIR = Path(os.environ.get("CONVENE_DEV_STATE_DIR", processes.ROOT / ".convene"))
DEV_JSON = STATE_DIR / "dev.json"
MAIL_OUTBOX = STATE_DIR / "outbox"  # every email the local SendGrid accepts, as .eml files a person can open
SCHEDULED = ("reminders", "maintenance")
DEFAULT_CORS = "http://localhost:3000,http://localhost:5173,http://127.0.0.1:5173"
TOKEN_LIFETIME = timedelta(hours=12)


STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
FUNCTION_PORT_OFFSET = 10  # emulator = base, sandbox = base + 1, functions = base + 10, + 11, …
MAX_PORT = 65_535


class _StopRequest:
    """Which stop signal arrived, if any. The handler only assigns an attribute: it runs
    between two bytecodes of the main thread, which may be holding any lock at that moment."""

    def __init__(self) -> None:
        self.signum: int | None = None

    def __call__(self) -> bool:
        return self.signum is not None

    def handle(self, signum: int, _frame: Any) -> None:
        self.signum = self.signum or signum


def plan_ports(base: int) -> dict[str, int]:
    """Service → port: from ``base`` (emulator, sandbox, then the functions), or free ports if 0."""
    names = ["firestore", "sandbox", "frontend", *FUNCTIONS]
    if base:
        offsets = [0, 1, 2, *(FUNCTION_PORT_OFFSET + index for index in range(len(FUNCTIONS)))]
        if not 0 < base <= MAX_PORT - offsets[-1]:
            raise ValueError(f"the base port must be between 1 and {MAX_PORT - offsets[-1]}, or 0 for free ports; got {base}")
        return {name: base + offset for name, offset in zip(names, offsets, strict=True)}
    chosen: set[int] = set()
    while len(chosen) < len(names):
        chosen.add(processes.free_port())
    return dict(zip(names, sorted(chosen), strict=True))


def _service_label(name: str) -> str:
    labels = {"firestore": "the Firestore emulator", "sandbox": "the Google sandbox", "frontend": "the front-end stand-in page"}
    return labels.get(name, f"the {name} function")


def port_problems(ports: dict[str, int]) -> list[str]:
    """One line per port that cannot be used: the port, the service that wants it, the holder."""
    return [
        f"port {port} ({_service_label(name)}) {problem}"
        for name, port in ports.items()
        if (problem := processes.port_problem(port)) is not None
    ]


def _busy_message(problems: list[str], base: int) -> str:
    lines = ["make dev: nothing was started: a port the local stack needs is not free.", *(f"  {p}" for p in problems)]
    advice = "Stop that process, or move every port of the stack: "
    alternative = _free_base(base) if base else None
    if alternative:
        advice += f"CONVENE_DEV_BASE_PORT={alternative} make dev (its ports are free now), "
    else:
        advice += "CONVENE_DEV_BASE_PORT=<another base> make dev, "
    advice += "or python -m devstack.dev --base-port 0 (free ports chosen at start; URLs in .convene/dev.json)."
    return "\n".join([*lines, advice])


def _free_base(base: int) -> int | None:
    """A base port near ``base`` whose every port is free now, to suggest."""
    for step in range(1, 9):
        candidate = base + 1000 * step
        try:
            ports = plan_ports(candidate)
        except ValueError:
            return None
        if all(processes.port_is_free(port) for port in ports.values()):
            return candidate
    return None


def _control(sandbox_url: str, path: str, body: dict[str, Any]) -> Any:
    """Configure the sandbox through its control API (it runs in its own process)."""
    import requests

    response = requests.post(sandbox_url + path, json=body, timeout=10)
    response.raise_for_status()
    return response.json()


def _demo_google_accounts(sandbox_url: str) -> None:
    """Google accounts for the demo users, with calendars to see after connecting."""
    from devstack import seed

    for user in (seed.HOST, seed.MENTOR, seed.ADMIN):
        _control(sandbox_url, "/sandbox/oauth/accounts", {"email": user.email, "name": user.display_name})
    _control(
        sandbox_url,
        "/sandbox/calendar/calendars",
        {
            "account": seed.HOST.email,
            "id": seed.HOST_INTERVIEWS_CALENDAR,
            "summary": "Interviews",
            "access_role": "owner",
            "time_zone": "Europe/Berlin",
            "background_color": "#16a765",
        },
    )
    _control(
        sandbox_url,
        "/sandbox/calendar/calendars",
        {
            "account": seed.HOST.email,
            "id": "en.german#holiday@group.v.calendar.google.com",
            "summary": "Holidays in Germany",
            "access_role": "reader",
            "time_zone": "Europe/Berlin",
            "background_color": "#9fc6e7",
        },
    )
    _control(
        sandbox_url,
        "/sandbox/calendar/calendars",
        {
            "account": seed.MENTOR.email,
            "id": seed.MENTOR_CALENDAR,
            "summary": "Mentoring",
            "access_role": "owner",
            "time_zone": "Europe/Berlin",
            "background_color": "#f691b2",
        },
    )
    # Busy blocks over the next fortnight, so availability and the booking pages show real gaps.
    now = datetime.now(UTC)
    seed.seed_busy_blocks(sandbox_url, now)
    seed.seed_busy_blocks(sandbox_url, now, host=seed.MENTOR, second=seed.MENTOR_CALENDAR)


def connect_google(urls: dict[str, str], id_token: str, email: str) -> dict[str, Any]:
    """Connect Google as the user of ``id_token`` through the real flow, with ``requests`` as the
    browser: ``POST /connect``; the front-end's form POST of the ID token to the returned
    ``google_auth_url`` (``/start``) from the front-end's origin, which sets the binding cookie
    and redirects to the sandbox's consent page; the person's Allow for ``email`` (the sandbox's
    control API instead of a click); the redirect to ``/callback``, with the cookie; then a sync
    of the calendar list. ``urls``: ``oauth``, ``sandbox``, ``frontend``. Returns ``/status``."""
    import requests

    oauth = urls["oauth"]
    auth = {"Authorization": f"Bearer {id_token}"}

    def ok(response: requests.Response, step: str) -> requests.Response:
        if response.status_code >= 400:
            raise processes.StartFailed(
                f"connecting Google as {email}: {step} answered {response.status_code}: {response.text[:300]}"
            )
        return response

    try:
        link = ok(requests.post(f"{oauth}/connect", headers=auth, json={}, timeout=10), "POST /connect").json()
        with requests.Session() as browser:  # keeps the binding cookie /start sets, for /callback
            consent_page = ok(
                browser.post(
                    link["google_auth_url"], data={"id_token": id_token}, headers={"Origin": urls["frontend"]}, timeout=10
                ),
                "the start form (POST /start, then the consent page)",
            )
            if not consent_page.url.startswith(urls["sandbox"] + "/"):
                raise processes.StartFailed(
                    f"connecting Google as {email}: /start led to {consent_page.url}, not the consent page"
                )
            decision = ok(
                requests.post(
                    f"{urls['sandbox']}/sandbox/oauth/consent",
                    json={"authorization_url": consent_page.url, "email": email, "approve": True},
                    timeout=10,
                ),
                "the sandbox's consent",
            ).json()
            # Not followed further: with CONVENE_DEV_OAUTH_RESULT_URLS the callback sends the browser to a front-end.
            ok(browser.get(decision["redirect"], timeout=10, allow_redirects=False), "GET /callback")
        ok(requests.post(f"{oauth}/calendars/sync", headers=auth, timeout=10), "POST /calendars/sync")
        status = ok(requests.get(f"{oauth}/status", headers=auth, timeout=10), "GET /status").json()
    except requests.RequestException as exc:
        raise processes.StartFailed(f"connecting Google as {email}: {exc}") from exc
    if status.get("connected") is not True:
        raise processes.StartFailed(f"connecting Google as {email} did not connect: {status}")
    return dict(status)


def _mint(sandbox_url: str, user: Any) -> str:
    return str(
        _control(
            sandbox_url,
            "/sandbox/identity/id-token",
            {
                "uid": user.uid,
                "email": user.email,
                "name": user.display_name,
                "claims": {"workspace_id": user.workspace_id, "role": user.role.value},
                "expires_in": int(TOKEN_LIFETIME.total_seconds()),
            },
        )["id_token"]
    )


def start_stack(
    project_id: str, ports: dict[str, int], log_dir: Path, services: list[processes.Service], stop_requested: Callable[[], bool]
) -> dict[str, Any]:
    """Start everything on ``ports``, appending each started service to ``services`` at once
    (the caller stops them all, whatever happens here). ``StartCancelled`` when a stop is
    asked for meanwhile; ``StartFailed`` when a process does not come up."""

    def check_stop() -> None:
        if stop_requested():
            raise processes.StartCancelled("stopped while starting")

    check_stop()
    firestore = processes.start_firestore_emulator(port=ports["firestore"], log_dir=log_dir, stop_requested=stop_requested)
    services.append(firestore)
    check_stop()
    secrets_file = STATE_DIR / "sandbox-secrets.json"
    secrets_file.touch(mode=0o600)
    secret_values = stack_secrets()
    secrets_file.write_text(json.dumps(secret_values))
    sandbox = processes.start_sandbox(
        project_id,
        secrets_file=secrets_file,
        port=ports["sandbox"],
        log_dir=log_dir,
        mail_outbox=MAIL_OUTBOX,
        stop_requested=stop_requested,
    )
    services.append(sandbox)
    check_stop()
    # devstack/frontend (the connect button a front-end must have) on a front-end origin of its own.
    frontend_url = f"http://{processes.LOOPBACK}:{ports['frontend']}"
    services.append(
        processes.start(
            "frontend",
            [
                sys.executable,
                "-m",
                "http.server",
                str(ports["frontend"]),
                "--bind",
                processes.LOOPBACK,
                "--directory",
                str(processes.ROOT / "devstack" / "frontend"),
            ],
            url=frontend_url,
            port=ports["frontend"],
            log_dir=log_dir,
            stop_requested=stop_requested,
            ready=lambda: processes.http_ok(frontend_url + "/connect-google.html"),
        )
    )
    check_stop()
    sandbox_url = sandbox.url
    urls = {name: f"http://{processes.LOOPBACK}:{ports[name]}" for name in FUNCTIONS}
    oauth_url = urls["oauth"]
    _control(sandbox_url, "/sandbox/sendgrid/keys", {"key": secret_values[SENDGRID_SECRET]})
    create_email_queue(sandbox_url, project_id)
    client_id, client_secret = oauth_client(secret_values)
    _control(
        sandbox_url,
        "/sandbox/oauth/clients",
        {
            "client_id": client_id,
            "client_secret": client_secret,
            "redirect_uris": [oauth_url + "/callback"],
            "name": "Convene (local)",
        },
    )
    _demo_google_accounts(sandbox_url)
    check_stop()
    env = function_env(
        project_id=project_id,
        firestore_host=firestore.extra["host"],
        sandbox_url=sandbox_url,
        cors_origins=",".join([os.environ.get("CONVENE_DEV_CORS_ORIGINS", DEFAULT_CORS), frontend_url]),
        oauth_url=oauth_url,
        oauth_result_urls=os.environ.get("CONVENE_DEV_OAUTH_RESULT_URLS", ""),
        worker_url=urls["email_worker"],
        portal_url=urls["join"] + "/portal",
        scheduling_url=urls["scheduling"],
    )
    with ThreadPoolExecutor(max_workers=len(FUNCTIONS)) as pool:
        # An internal function checks that OIDC tokens were minted for its own URL.
        futures = [
            pool.submit(
                processes.start_function,
                name,
                env=env | (internal_env(name, urls[name], project_id) if name in INTERNAL_FUNCTIONS else {}),
                port=ports[name],
                log_dir=log_dir,
                stop_requested=stop_requested,
            )
            for name in FUNCTIONS
        ]
    failures = []
    for future in futures:  # keep every function that did start, so that a failure stops them too
        try:
            services.append(future.result())
        except Exception as exc:  # noqa: BLE001
            failures.append(exc)
    cancelled = [f for f in failures if isinstance(f, processes.StartCancelled)]
    if cancelled or failures:
        raise (cancelled or failures)[0]
    check_stop()
    return {"env": env, "sandbox_url": sandbox_url, "firestore_host": firestore.extra["host"], "frontend_url": frontend_url}


def seed_and_describe(project_id: str, wiring: dict[str, Any], function_urls: dict[str, str]) -> dict[str, Any]:
    os.environ["FIRESTORE_EMULATOR_HOST"] = wiring["firestore_host"]
    from google.cloud import firestore

    from devstack import seed
    from shared.auth.guest_links import GuestLinks
    from shared.secrets import SecretManagerSecrets

    now = datetime.now(UTC)
    # Guest links are signed through the real Secret Manager client, against the sandbox.
    links = GuestLinks(SecretManagerSecrets(project_id, wiring["sandbox_url"]), GUEST_LINK_SECRET)
    client = firestore.Client(project=project_id)
    demos, link_tokens = seed.seed_demo(client, now, links)
    host_config, host_link = seed.seed_booking_link(client, now)
    config, booking_link = seed.seed_mentor_booking_link(client, now)
    users = {
        role: {
            "uid": u.uid,
            "email": u.email,
            "name": u.display_name,
            "role": u.role.value,
            "workspace_id": u.workspace_id,
            "id_token": _mint(wiring["sandbox_url"], u),
        }
        for role, u in seed.USERS.items()
    }
    # The mentor is connected now, as she would connect in a browser, so her booking page has slots at once.
    connect_google(
        {"oauth": function_urls["oauth"], "sandbox": wiring["sandbox_url"], "frontend": wiring["frontend_url"]},
        users["mentor"]["id_token"],
        seed.MENTOR.email,
    )
    join_url = function_urls["join"]
    interviews = []
    for demo in demos:
        interview, token = demo.interview, link_tokens[demo.interview.id]
        check_url = f"{join_url}/interviews/{interview.id}"
        interviews.append(
            {
                "id": interview.id,
                "label": demo.label,
                "workspace_id": interview.workspace_id,
                "expected_meeting_status": demo.expected_meeting_status,
                "status": interview.status.value,
                "start": interview.start.isoformat(),
                "join_check_url": check_url,
                "guest_link_token": token,
                "curl_as_guest": f"curl -s {shlex.quote(check_url)} -H {shlex.quote('Authorization: Bearer ' + token)}",
            }
        )
    scheduling_url = function_urls["scheduling"]
    booking = {
        "how": "the mentor's booking link (users.mentor, connected to Google at start): open page_url in a browser "
        "(the booking page), or GET api_url (host, configuration summary, free slots between her calendars' busy blocks)",
        "host": "mentor",
        "config_id": config.id,
        "link_id": booking_link.id,
        "page_url": f"{scheduling_url}/book/{booking_link.id}",
        "api_url": f"{scheduling_url}/links/{booking_link.id}",
    }
    host_booking = {
        "how": "the demo host's own booking link: api_url answers 409 host_not_bookable until you connect Google as "
        "the demo host (google_connect), then the same as booking",
        "host": "host",
        "config_id": host_config.id,
        "link_id": host_link.id,
        "page_url": f"{scheduling_url}/book/{host_link.id}",
        "api_url": f"{scheduling_url}/links/{host_link.id}",
    }
    return {
        "project_id": project_id,
        "started_at": now.isoformat(),
        "tokens_expire_at": (now + TOKEN_LIFETIME).isoformat(),
        "functions": function_urls,
        "sandbox": wiring["sandbox_url"],
        "firestore_emulator": wiring["firestore_host"],
        "users": users,
        "interviews": interviews,
        "booking": booking,
        "host_booking": host_booking,
        "mail_outbox": str(MAIL_OUTBOX),
        "scheduled": {name: f"python -m devstack.trigger {name}" for name in SCHEDULED},
        "create_interview": {
            "how": "POST /interviews as the demo host (after connecting Google); the invitations land in mail_outbox",
            "curl": f"curl -s -X POST {function_urls['interviews']}/interviews -H 'Authorization: Bearer '$(jq -r .users.host.id_token .convene/dev.json) "
            "-H 'Content-Type: application/json' -H 'Idempotency-Key: '$(uuidgen || date +%s%N) "
            f'-d \'{{"candidate": {{"email": "gina.guest@candidates.example", "name": "Gina Guest"}}, '
            f'"job_title": "Backend Engineer", "date": "{(now + timedelta(days=3)).date().isoformat()}", '
            '"time": "10:00", "timezone": "Europe/Berlin", "interview_type": "google_meet"}\'',
        },
        "google_connect": {
            "how": "open `open` in a browser and click Connect: the stand-in front-end POSTs /connect as the host, then a "
            "form with the host's id_token to google_auth_url; the browser lands on the sandbox's consent page: click Allow",
            "curl": f"curl -s -X POST {function_urls['oauth']}/connect -H 'Authorization: Bearer '$(jq -r .users.host.id_token .convene/dev.json)",
            "status_curl": f"curl -s {function_urls['oauth']}/status -H 'Authorization: Bearer '$(jq -r .users.host.id_token .convene/dev.json)",
            # A stand-in for the front-end's button (served by `make dev` on an allowed origin of its own).
            "open": f"{wiring['frontend_url']}/connect-google.html#oauth={function_urls['oauth']}&id_token={users['host']['id_token']}",
        },
        "mint_token": f"curl -s -X POST {wiring['sandbox_url']}/sandbox/identity/id-token -H 'Content-Type: application/json' "
        '-d \'{"uid": "uid-demo-host", "email": "hugo.host@demo.example", "claims": {"workspace_id": "ws-demo"}}\'',
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="make dev", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--project", default=os.environ.get("CONVENE_DEV_PROJECT", "convene-dev"))
    parser.add_argument(
        "--base-port",
        type=int,
        default=os.environ.get("CONVENE_DEV_BASE_PORT", "8180"),
        help="emulator = base, sandbox = base+1, functions = base+10…; 0 picks free ports",
    )
    parser.add_argument("--exit-after-start", action="store_true", help="stop again once up (smoke test)")
    args = parser.parse_args(argv)

    stop = _StopRequest()
    for signum in STOP_SIGNALS:
        signal.signal(signum, stop.handle)
    began = time.monotonic()
    try:
        ports = plan_ports(args.base_port)
    except ValueError as exc:
        print(f"make dev: {exc}", file=sys.stderr)
        return 2
    problems = port_problems(ports)
    if problems:
        print(_busy_message(problems, args.base_port), file=sys.stderr)
        return 1

    STATE_DIR.mkdir(exist_ok=True)
    DEV_JSON.unlink(missing_ok=True)
    log_dir = STATE_DIR / "logs"
    services: list[processes.Service] = []
    try:
        try:
            wiring = start_stack(args.project, ports, log_dir, services, stop)
            function_urls = {s.name: s.url for s in services if s.name in FUNCTIONS}
            info = seed_and_describe(args.project, wiring, function_urls)
        except processes.StartCancelled:
            return 0
        except processes.StartFailed as exc:
            print(f"make dev: could not start the local stack: {exc}\n(logs: {log_dir})", file=sys.stderr)
            return 1
        if stop():
            return 0
        DEV_JSON.write_text(json.dumps(info, indent=2))
        DEV_JSON.chmod(0o600)
        print(_summary(info, time.monotonic() - began, log_dir), flush=True)
        while not stop() and not args.exit_after_start:
            dead = [s.name for s in services if s.process.poll() is not None]
            if dead:
                print(f"stopping: {', '.join(dead)} exited (see {log_dir})", file=sys.stderr)
                return 1
            time.sleep(0.2)
        return 0
    finally:
        for service in reversed(services):
            service.stop()
        print("stopped every process of the local stack", flush=True)


def _summary(info: dict[str, Any], seconds: float, log_dir: Path) -> str:
    from devstack import seed

    lines = [f"Convene is up in {seconds:.1f} s (project {info['project_id']}).", ""]
    lines += [f"  function {name:<12} {url}" for name, url in info["functions"].items()]
    lines += [f"  booking page          {info['booking']['page_url']}   ({seed.MENTOR.display_name}, connected to Google)"]
    lines += [f"  sandbox               {info['sandbox']}", f"  firestore emulator    {info['firestore_emulator']}", ""]
    lines += ["Demo users (ID tokens in .convene/dev.json, valid 12 h):"]
    lines += [f"  {role:<11} {u['email']:<34} {u['workspace_id']}" for role, u in info["users"].items()]
    lines += ["", "Demo interviews (join check as the guest):"]
    lines += [f"  {iv['label']:<16} {iv['expected_meeting_status']:<12} {iv['join_check_url']}" for iv in info["interviews"]]
    lines += [
        "",
        "Connect Google as the demo host (a browser completes it on the sandbox's consent page):",
        f"  {info['google_connect']['curl']}",
        "  then the front-end POSTs a form (id_token=<the host's>) to the returned google_auth_url; click Allow.",
        "",
        "Then create an interview (jq -r .create_interview.curl .convene/dev.json); the emails arrive as .eml in",
        f"  {info['mail_outbox']}",
        "",
        f"Book {seed.MENTOR.display_name}'s {seed.MENTOR_CONFIG['name']!r} as a guest on the booking page above (she is",
        f"  connected to Google: the gaps between her calendars' busy blocks); the slots as JSON: {info['booking']['api_url']}",
        f"  The demo host's own link offers slots once you connect Google as the demo host: {info['host_booking']['page_url']}",
        "",
        "Run a scheduled function as Cloud Scheduler would: make trigger JOB=reminders (or maintenance)",
    ]
    first = info["interviews"][1]
    lines += [
        "",
        "Try:",
        f"  {first['curl_as_guest'][:110]}…",
        "  (full commands: jq -r '.interviews[].curl_as_guest' .convene/dev.json)",
        f"Logs: {log_dir}   Stop: Ctrl-C",
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
