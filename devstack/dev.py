"""``make dev``: the whole system on this machine, with no Google credentials.

Starts the Firestore emulator, the Google sandbox and every function on 127.0.0.1,
seeds a demo workspace, writes ``.convene/dev.json`` (URLs, ID tokens, guest link
tokens, ready-to-run curl commands) and waits. Ctrl-C stops every process group it
started.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import signal
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from devstack import processes
from devstack.stack import (
    FUNCTIONS,
    INTERNAL_FUNCTIONS,
    internal_env,
    GUEST_LINK_SECRET,
    SENDGRID_SECRET,
    create_email_queue,
    function_env,
    oauth_client,
    stack_secrets,
)

STATE_DIR = Path(os.environ.get("CONVENE_DEV_STATE_DIR", processes.ROOT / ".convene"))
DEV_JSON = STATE_DIR / "dev.json"
MAIL_OUTBOX = STATE_DIR / "outbox"  # every email the local SendGrid accepts, as .eml files a person can open
SCHEDULED = ("reminders", "maintenance")
DEFAULT_CORS = "http://localhost:3000,http://localhost:5173,http://127.0.0.1:5173"
TOKEN_LIFETIME = timedelta(hours=12)


def _port(base: int, offset: int) -> int:
    return base + offset if base else processes.free_port()


def _control(sandbox_url: str, path: str, body: dict[str, Any]) -> Any:
    """Configure the sandbox through its control API (it runs in its own process)."""
    import requests

    response = requests.post(sandbox_url + path, json=body, timeout=10)
    response.raise_for_status()
    return response.json()


def _demo_google_accounts(sandbox_url: str) -> None:
    """Google accounts for the demo users, with calendars to see after connecting."""
    from devstack import seed

    for user in (seed.HOST, seed.ADMIN):
        _control(sandbox_url, "/sandbox/oauth/accounts", {"email": user.email, "name": user.display_name})
    _control(sandbox_url, "/sandbox/calendar/calendars", {
        "account": seed.HOST.email, "id": "interviews.demo@group.calendar.google.com", "summary": "Interviews",
        "access_role": "owner", "time_zone": "Europe/Berlin", "background_color": "#16a765"})
    _control(sandbox_url, "/sandbox/calendar/calendars", {
        "account": seed.HOST.email, "id": "en.german#holiday@group.v.calendar.google.com", "summary": "Holidays in Germany",
        "access_role": "reader", "time_zone": "Europe/Berlin", "background_color": "#9fc6e7"})


def _mint(sandbox_url: str, user: Any) -> str:
    return str(_control(sandbox_url, "/sandbox/identity/id-token", {
        "uid": user.uid, "email": user.email, "name": user.display_name,
        "claims": {"workspace_id": user.workspace_id, "role": user.role.value},
        "expires_in": int(TOKEN_LIFETIME.total_seconds()),
    })["id_token"])


def start_stack(project_id: str, base_port: int, log_dir: Path) -> tuple[list[processes.Service], dict[str, Any]]:
    services: list[processes.Service] = []
    try:
        firestore = processes.start_firestore_emulator(port=_port(base_port, 0), log_dir=log_dir)
        services.append(firestore)
        secrets_file = STATE_DIR / "sandbox-secrets.json"
        secrets_file.touch(mode=0o600)
        secret_values = stack_secrets()
        secrets_file.write_text(json.dumps(secret_values))
        sandbox = processes.start_sandbox(project_id, secrets_file=secrets_file, port=_port(base_port, 1), log_dir=log_dir,
                                          mail_outbox=MAIL_OUTBOX)
        services.append(sandbox)
        sandbox_url = sandbox.url
        ports = {name: _port(base_port, 10 + index) for index, name in enumerate(FUNCTIONS)}
        urls = {name: f"http://{processes.LOOPBACK}:{port}" for name, port in ports.items()}
        oauth_url = urls["oauth"]
        _control(sandbox_url, "/sandbox/sendgrid/keys", {"key": secret_values[SENDGRID_SECRET]})
        create_email_queue(sandbox_url, project_id)
        client_id, client_secret = oauth_client(secret_values)
        _control(sandbox_url, "/sandbox/oauth/clients", {"client_id": client_id, "client_secret": client_secret,
                                                          "redirect_uris": [oauth_url + "/callback"], "name": "Convene (local)"})
        _demo_google_accounts(sandbox_url)
        env = function_env(project_id=project_id, firestore_host=firestore.extra["host"], sandbox_url=sandbox_url,
                           cors_origins=os.environ.get("CONVENE_DEV_CORS_ORIGINS", DEFAULT_CORS), oauth_url=oauth_url,
                           oauth_result_urls=os.environ.get("CONVENE_DEV_OAUTH_RESULT_URLS", ""),
                           worker_url=urls["email_worker"], portal_url=urls["join"] + "/portal")
        with ThreadPoolExecutor(max_workers=len(FUNCTIONS)) as pool:
            # An internal function checks that OIDC tokens were minted for its own URL.
            futures = [pool.submit(processes.start_function, name,
                                   env=env | (internal_env(name, urls[name], project_id) if name in INTERNAL_FUNCTIONS else {}),
                                   port=ports[name], log_dir=log_dir)
                       for name in FUNCTIONS]
        failures = []
        for future in futures:  # keep every function that did start, so that a failure stops them too
            try:
                services.append(future.result())
            except Exception as exc:  # noqa: BLE001
                failures.append(exc)
        if failures:
            raise failures[0]
        return services, {"env": env, "sandbox_url": sandbox_url, "firestore_host": firestore.extra["host"]}
    except BaseException:
        for service in reversed(services):
            service.stop()
        raise


def seed_and_describe(project_id: str, wiring: dict[str, Any], function_urls: dict[str, str]) -> dict[str, Any]:
    os.environ["FIRESTORE_EMULATOR_HOST"] = wiring["firestore_host"]
    from google.cloud import firestore

    from devstack import seed
    from shared.auth.guest_links import GuestLinks
    from shared.secrets import SecretManagerSecrets

    now = datetime.now(timezone.utc)
    # Guest links are signed through the real Secret Manager client, against the sandbox.
    links = GuestLinks(SecretManagerSecrets(project_id, wiring["sandbox_url"]), GUEST_LINK_SECRET)
    demos, link_tokens = seed.seed_demo(firestore.Client(project=project_id), now, links)
    users = {role: {"uid": u.uid, "email": u.email, "name": u.display_name, "role": u.role.value,
                    "workspace_id": u.workspace_id, "id_token": _mint(wiring["sandbox_url"], u)}
             for role, u in seed.USERS.items()}
    join_url = function_urls["join"]
    interviews = []
    for demo in demos:
        interview, token = demo.interview, link_tokens[demo.interview.id]
        check_url = f"{join_url}/interviews/{interview.id}"
        interviews.append({
            "id": interview.id, "label": demo.label, "workspace_id": interview.workspace_id,
            "expected_meeting_status": demo.expected_meeting_status, "status": interview.status.value,
            "start": interview.start.isoformat(), "join_check_url": check_url,
            "guest_link_token": token,
            "curl_as_guest": f"curl -s {shlex.quote(check_url)} -H {shlex.quote('Authorization: Bearer ' + token)}",
        })
    return {
        "project_id": project_id, "started_at": now.isoformat(),
        "tokens_expire_at": (now + TOKEN_LIFETIME).isoformat(),
        "functions": function_urls, "sandbox": wiring["sandbox_url"],
        "firestore_emulator": wiring["firestore_host"], "users": users, "interviews": interviews,
        "mail_outbox": str(MAIL_OUTBOX),
        "scheduled": {name: f"python -m devstack.trigger {name}" for name in SCHEDULED},
        "create_interview": {
            "how": "POST /interviews as the demo host (after connecting Google); the invitations land in mail_outbox",
            "curl": f"curl -s -X POST {function_urls['interviews']}/interviews -H 'Authorization: Bearer '$(jq -r .users.host.id_token .convene/dev.json) "
                    "-H 'Content-Type: application/json' -H 'Idempotency-Key: '$(uuidgen || date +%s%N) "
                    f"-d '{{\"candidate\": {{\"email\": \"gina.guest@candidates.example\", \"name\": \"Gina Guest\"}}, "
                    f"\"job_title\": \"Backend Engineer\", \"date\": \"{(now + timedelta(days=3)).date().isoformat()}\", "
                    "\"time\": \"10:00\", \"timezone\": \"Europe/Berlin\", \"interview_type\": \"google_meet\"}'",
        },
        "google_connect": {
            "how": "POST /connect as the host, then open google_auth_url in a browser and click Allow on the sandbox's consent page",
            "curl": f"curl -s -X POST {function_urls['oauth']}/connect -H 'Authorization: Bearer '$(jq -r .users.host.id_token .convene/dev.json)",
            "status_curl": f"curl -s {function_urls['oauth']}/status -H 'Authorization: Bearer '$(jq -r .users.host.id_token .convene/dev.json)",
        },
        "mint_token": f"curl -s -X POST {wiring['sandbox_url']}/sandbox/identity/id-token -H 'Content-Type: application/json' "
                      "-d '{\"uid\": \"uid-demo-host\", \"email\": \"hugo.host@demo.example\", \"claims\": {\"workspace_id\": \"ws-demo\"}}'",
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="make dev", description=__doc__)
    parser.add_argument("--project", default=os.environ.get("CONVENE_DEV_PROJECT", "convene-dev"))
    parser.add_argument("--base-port", type=int, default=int(os.environ.get("CONVENE_DEV_BASE_PORT", "8180")),
                        help="emulator = base, sandbox = base+1, functions = base+10…; 0 picks free ports")
    parser.add_argument("--exit-after-start", action="store_true", help="stop again once up (smoke test)")
    args = parser.parse_args(argv)

    began = time.monotonic()
    STATE_DIR.mkdir(exist_ok=True)
    DEV_JSON.unlink(missing_ok=True)
    log_dir = STATE_DIR / "logs"
    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())

    services, wiring = start_stack(args.project, args.base_port, log_dir)
    try:
        function_urls = {s.name: s.url for s in services if s.name in FUNCTIONS}
        info = seed_and_describe(args.project, wiring, function_urls)
        DEV_JSON.write_text(json.dumps(info, indent=2))
        DEV_JSON.chmod(0o600)
        print(_summary(info, time.monotonic() - began, log_dir), flush=True)
        while not stop.is_set() and not args.exit_after_start:
            dead = [s.name for s in services if s.process.poll() is not None]
            if dead:
                print(f"stopping: {', '.join(dead)} exited (see {log_dir})", file=sys.stderr)
                return 1
            stop.wait(1.0)
        return 0
    finally:
        for service in reversed(services):
            service.stop()
        print("stopped every process of the local stack", flush=True)


def _summary(info: dict[str, Any], seconds: float, log_dir: Path) -> str:
    lines = [f"Convene is up in {seconds:.1f} s (project {info['project_id']}).", ""]
    lines += [f"  function {name:<12} {url}" for name, url in info["functions"].items()]
    lines += [f"  sandbox               {info['sandbox']}", f"  firestore emulator    {info['firestore_emulator']}", ""]
    lines += ["Demo users (ID tokens in .convene/dev.json, valid 12 h):"]
    lines += [f"  {role:<11} {u['email']:<34} {u['workspace_id']}" for role, u in info["users"].items()]
    lines += ["", "Demo interviews (join check as the guest):"]
    lines += [f"  {iv['label']:<16} {iv['expected_meeting_status']:<12} {iv['join_check_url']}" for iv in info["interviews"]]
    lines += ["", "Connect Google as the demo host (a browser completes it on the sandbox's consent page):",
              f"  {info['google_connect']['curl']}", "  then open the returned google_auth_url and click Allow.",
              "", "Then create an interview (jq -r .create_interview.curl .convene/dev.json); the emails arrive as .eml in",
              f"  {info['mail_outbox']}",
              "", "Run a scheduled function as Cloud Scheduler would: make trigger JOB=reminders (or maintenance)"]
    first = info["interviews"][1]
    lines += ["", "Try:", f"  {first['curl_as_guest'][:110]}…", "  (full commands: jq -r '.interviews[].curl_as_guest' .convene/dev.json)",
              f"Logs: {log_dir}   Stop: Ctrl-C"]
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
