"""`make dev`'s program, as a front-end developer uses it: start, read .convene/dev.json,
curl the join function for every demo interview, open the booking page (the mentor's, whose
Google connection `make dev` made: free slots at once), connect Google as the demo host and
open its booking link too, stop it, and nothing is left running.

Stopping is checked by process group: every process the program starts is the leader of its
own group (and session), found here as a child of the program while it runs; afterwards no
live process may remain in any of those groups. A port already taken stops it before it
starts anything.
"""

from __future__ import annotations

import contextlib
import json
import os
import random
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import requests

from devstack.dev import plan_ports
from devstack.processes import LOOPBACK, ROOT, port_is_free


def _listening(url_or_host: str) -> bool:
    try:
        requests.get(url_or_host if url_or_host.startswith("http") else f"http://{url_or_host}/", timeout=1)
        return True
    except requests.ConnectionError:
        return False


def _stat(pid: int) -> list[str] | None:
    """The fields of /proc/<pid>/stat after the command name: [state, ppid, pgrp, session, …]."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None


def _all_pids() -> list[int]:
    return [int(entry) for entry in os.listdir("/proc") if entry.isdigit()]


def _live_members(groups: set[int]) -> list[str]:
    """Processes (not zombies) still in any of ``groups``, by process group or session."""
    found = []
    for pid in _all_pids():
        stat = _stat(pid)
        if stat and stat[0] != "Z" and (int(stat[2]) in groups or int(stat[3]) in groups):
            with contextlib.suppress(OSError):
                found.append(f"{pid} {Path(f'/proc/{pid}/cmdline').read_bytes().replace(bytes(1), b' ').decode()[:120]}")
    return found


def _assert_groups_gone(groups: set[int], timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout  # SIGKILLed members may take a moment to die
    while (left := _live_members(groups)) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not left, f"processes outlived the stack: {left}"


@contextlib.contextmanager
def _dev(tmp_path: Path, *args: str) -> Iterator[tuple[subprocess.Popen[bytes], set[int]]]:
    """`python -m devstack.dev` with its state in ``tmp_path``, and the set of its children's pids
    (each the leader of a process group), kept up to date by a watcher thread. However the test
    ends, nothing it started is left: the program is stopped, then any group still alive killed."""
    env = {**os.environ, "CONVENE_DEV_STATE_DIR": str(tmp_path), "PYTHONPATH": str(ROOT)}
    env.pop("FIRESTORE_EMULATOR_HOST", None)
    env.pop("CONVENE_DEV_BASE_PORT", None)
    process = subprocess.Popen(
        [sys.executable, "-m", "devstack.dev", "--project", "convene-devtest", *args],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    leaders: set[int] = set()
    done = threading.Event()

    def watch() -> None:
        while not done.is_set() and process.poll() is None:
            leaders.update(pid for pid in _all_pids() if (stat := _stat(pid)) and int(stat[1]) == process.pid)
            done.wait(0.05)

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    try:
        yield process, leaders
    finally:
        done.set()
        watcher.join()
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(timeout=30)
        if process.poll() is None:
            process.kill()
            process.wait(timeout=10)
        for group in leaders:  # only a group with a live member: a dead group's id may be reused already
            if _live_members({group}):
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.killpg(group, signal.SIGKILL)
        if process.stdout is not None:
            process.stdout.close()


def test_the_local_stack_runs_every_function_folder():
    from devstack.stack import FUNCTIONS

    assert sorted(FUNCTIONS) == sorted(p.name for p in (ROOT / "functions").iterdir() if (p / "main.py").is_file())


def test_dev_stack_comes_up_serves_every_demo_interview_and_stops_cleanly(tmp_path):
    started = time.monotonic()
    dev_json = tmp_path / "dev.json"
    with _dev(tmp_path, "--base-port", "0") as (process, leaders):
        try:
            while not dev_json.exists():
                assert process.poll() is None, process.stdout.read().decode()  # type: ignore[union-attr]
                assert time.monotonic() - started < 60, "the local stack must be up within 60 s"
                time.sleep(0.2)
            time.sleep(0.1)  # the file is written in one call; let it land
            info = json.loads(dev_json.read_text())

            for interview in info["interviews"]:
                token = interview["guest_link_token"]
                reply = requests.get(interview["join_check_url"], headers={"Authorization": f"Bearer {token}"}, timeout=10)
                assert reply.status_code == 200, (interview["label"], reply.text)
                assert reply.json()["meeting_status"] == interview["expected_meeting_status"], interview["label"]

            host = info["users"]["host"]["id_token"]
            other = next(i for i in info["interviews"] if i["label"] == "other_workspace")
            mine = next(i for i in info["interviews"] if i["label"] == "ready")
            auth = {"Authorization": f"Bearer {host}"}
            assert requests.get(mine["join_check_url"], headers=auth, timeout=10).json()["participant"] == "host"
            assert requests.get(other["join_check_url"], headers=auth, timeout=10).status_code == 404
            _open_the_booking_page(info["booking"], info)
            _read_the_mentors_free_slots_at_once(info)
            # The demo host starts unconnected: availability is its calendars' free/busy, nothing to offer yet.
            host_booking = info["host_booking"]
            _open_the_booking_page(host_booking, info)
            before = requests.get(host_booking["api_url"], timeout=10)
            assert before.status_code == 409 and before.json()["error"]["code"] == "host_not_bookable", before.text
            _connect_google_as_the_demo_host(info, auth)
            _read_the_booking_links_free_slots(info, auth)
            _create_an_interview_and_read_the_emails(info, auth, tmp_path)
            env = {**os.environ, "CONVENE_DEV_STATE_DIR": str(tmp_path), "PYTHONPATH": str(ROOT)}
            triggered = subprocess.run(
                [sys.executable, "-m", "devstack.trigger", "reminders"],
                cwd=ROOT,
                env=env,
                capture_output=True,
                text=True,
                timeout=60,
            )
            assert triggered.returncode == 0, triggered.stderr
            assert json.loads(triggered.stdout)["reminders_queued"] == 0  # nothing due yet, but the scheduler's path works
            guest = {"Authorization": f"Bearer {info['users']['guest']['id_token']}"}
            assert requests.get(mine["join_check_url"], headers=guest, timeout=10).json()["participant"] == "guest"
            assert requests.get(other["join_check_url"], headers=guest, timeout=10).status_code == 404
        finally:
            # SIGTERM, as `kill`, a process manager, or make passing it on sends; Ctrl-C's SIGINT takes the
            # same path (test_a_stop_signal_while_starting_stops_every_process_group).
            os.kill(process.pid, signal.SIGTERM) if process.poll() is None else None
            output = process.communicate(timeout=60)[0].decode()

        assert process.returncode == 0, output
        assert "stopped every process" in output
        assert len(leaders) == 3 + len(info["functions"]), (
            leaders
        )  # the emulator, the sandbox, the front-end page, every function
        _assert_groups_gone(leaders)
    assert not _listening(info["functions"]["join"])
    assert not _listening(info["sandbox"])
    assert not _listening(info["firestore_emulator"])
    emulator_port = info["firestore_emulator"].rsplit(":", 1)[1]
    for pattern in (f"host-port=127.0.0.1:{emulator_port}", f"--port={emulator_port}"):  # gcloud's wrapper, then java
        leftover = subprocess.run(["pgrep", "-f", pattern], capture_output=True, text=True)
        assert leftover.stdout.strip() == "", f"a process matching {pattern} outlived the stack"


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_a_stop_signal_while_starting_stops_every_process_group(tmp_path, signum):
    """Half-way through starting (the emulator and the sandbox up, the functions coming up), a
    stop is obeyed at once: no waiting for the rest, and no group left behind."""
    with _dev(tmp_path, "--base-port", "0") as (process, leaders):
        deadline = time.monotonic() + 60
        while len(leaders) < 3:  # the emulator, the sandbox, then the first function
            assert process.poll() is None, process.stdout.read().decode()  # type: ignore[union-attr]
            assert time.monotonic() < deadline, "the functions did not start within 60 s"
            time.sleep(0.02)
        signalled = time.monotonic()
        process.send_signal(signum)
        output = process.communicate(timeout=60)[0].decode()
        stopped_after = time.monotonic() - signalled

        assert process.returncode == 0, output
        assert "stopped every process of the local stack" in output and "Traceback" not in output
        assert "Convene is up" not in output and not (tmp_path / "dev.json").exists()
        assert stopped_after < 30, f"stopping took {stopped_after:.1f} s"
        _assert_groups_gone(leaders)


def _quiet_base() -> int:
    """A base port whose every port of the stack is free, below the ephemeral range: there no
    client connection of another program can be holding one (or leave it in TIME_WAIT)."""
    first_ephemeral = int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    candidates = list(range(10_000, first_ephemeral - 100, 100))
    random.shuffle(candidates)
    for base in candidates:
        if all(port_is_free(port) for port in plan_ports(base).values()):
            return base
    pytest.fail("no free range of ports for the stack")


@pytest.mark.parametrize(
    ("offset", "service"), [(0, "the Firestore emulator"), (1, "the Google sandbox"), (15, "the maintenance function")]
)
def test_a_taken_port_is_named_with_its_holder_and_nothing_is_started(tmp_path, offset, service):
    """Each port is checked first: the one taken (here by a plain listening socket of this test
    process) is named with the service that wanted it and the process holding it."""
    base = _quiet_base()
    port = base + offset
    with socket.socket() as holder:
        holder.bind((LOOPBACK, port))
        holder.listen()
        with _dev(tmp_path, "--base-port", str(base)) as (process, leaders):
            output = process.communicate(timeout=15)[0].decode()

            assert process.returncode not in (0, None), output
            assert f"port {port} ({service}) is already in use by " in output, output
            assert f"(pid {os.getpid()}: " in output  # the holder: this test's process
            assert "--base-port 0" in output and "CONVENE_DEV_BASE_PORT=" in output
            assert "Traceback" not in output
            assert leaders == set(), f"nothing may be started: {output}"
            assert not (tmp_path / "logs").exists() and not (tmp_path / "dev.json").exists()


def _connect_google_as_the_demo_host(info, auth):
    """What a front-end developer clicks through, with requests as the browser."""
    oauth = info["functions"]["oauth"]
    # make dev serves the stand-in front-end page on an origin of its own, which the connect check allows.
    page_url = info["google_connect"]["open"]
    page = requests.get(page_url.split("#", 1)[0], timeout=10)
    assert page.status_code == 200 and 'name="id_token"' in page.text
    origin = page_url.split("/connect-google.html", 1)[0]
    assert requests.get(f"{oauth}/status", headers=auth, timeout=10).json()["status"] == "not_connected"
    link = requests.post(f"{oauth}/connect", headers=auth, timeout=10).json()["google_auth_url"]
    browser = requests.Session()
    # The front-end's top-level form POST to our /start (from its own origin, with the host's ID
    # token), then the browser follows the redirect to the sandbox's consent page.
    consent_page = browser.post(link, data={"id_token": auth["Authorization"].split()[1]}, timeout=10, headers={"Origin": origin})
    assert consent_page.status_code == 200 and 'id="allow"' in consent_page.text
    assert info["users"]["host"]["email"] in consent_page.text  # login_hint pre-fills the host's account
    decision = requests.post(
        f"{info['sandbox']}/sandbox/oauth/consent",
        timeout=10,
        json={"authorization_url": consent_page.url, "email": info["users"]["host"]["email"]},
    )
    result = browser.get(decision.json()["redirect"], timeout=10)
    assert result.status_code == 200 and 'data-connected="true"' in result.text
    status = requests.get(f"{oauth}/status", headers=auth, timeout=10).json()
    assert status["connected"] is True
    assert {c["summary"] for c in status["calendars"]} >= {"Interviews", "Holidays in Germany"}


def _open_the_booking_page(booking, info):
    """The link a host shares: the scheduling function's booking page, HTML, for anyone holding it."""
    assert booking["page_url"] == f"{info['functions']['scheduling']}/book/{booking['link_id']}"
    assert booking["api_url"] == f"{info['functions']['scheduling']}/links/{booking['link_id']}"
    page = requests.get(booking["page_url"], timeout=10)
    assert page.status_code == 200, page.text[:500]
    assert page.headers["Content-Type"].startswith("text/html")


def _next(weekday, after_days):
    """The first date with ``weekday`` (0 = Monday) at least ``after_days`` from today in Berlin."""
    from devstack import seed

    first = datetime.now(ZoneInfo(seed.HOST_ZONE)).date() + timedelta(days=after_days)
    return first + timedelta(days=(weekday - first.weekday()) % 7)


def _read_the_mentors_free_slots_at_once(info):
    """Right after start, before anyone clicks anything: the booking link in dev.json is the
    mentor's, connected to Google by `make dev` through the real flow, so a weekday shows free
    slots, and none of them (with the configuration's buffers) touches a seeded busy block in
    either of her calendars; a block shown as free does not take slots away."""
    from devstack import seed

    booking = info["booking"]
    mentor = info["users"]["mentor"]
    assert booking["host"] == "mentor" and mentor["email"] == seed.MENTOR.email
    status = requests.get(
        f"{info['functions']['oauth']}/status", headers={"Authorization": f"Bearer {mentor['id_token']}"}, timeout=10
    ).json()
    assert status["connected"] is True and {c["summary"] for c in status["calendars"]} >= {"Mentoring"}, status
    config = seed.MENTOR_CONFIG
    blocks = seed.demo_busy_blocks(datetime.now(UTC), seed.HOST_ZONE, seed.MENTOR.email, seed.MENTOR_CALENDAR)
    before = timedelta(minutes=config["buffer_before_minutes"])
    after = timedelta(minutes=config["buffer_after_minutes"])
    # A Wednesday (a sync in her primary calendar, a panel prep in "Mentoring", overlapping) and a
    # Tuesday (lunch, then focus time shown as free), two days out at least: past the notice.
    for day, busy_summaries in ((_next(2, 2), {"Team sync", "Panel prep"}), (_next(1, 2), {"Lunch"})):
        reply = requests.get(booking["api_url"], params={"date": day.isoformat()}, timeout=10)
        assert reply.status_code == 200, reply.text
        view = reply.json()
        assert view["link_id"] == booking["link_id"] and view["host"]["name"] == mentor["name"]
        assert view["config"]["name"] == config["name"] and view["date"] == day.isoformat()
        slots = [(datetime.fromisoformat(s["start"]), datetime.fromisoformat(s["end"])) for s in view["available_slots"]]
        assert slots and all(s.astimezone(ZoneInfo(seed.HOST_ZONE)).date() == day for s, _ in slots), view
        busy = [b for b in blocks if isinstance(b.start, datetime) and b.start.date() == day and b.transparency == "opaque"]
        assert {b.summary for b in busy} == busy_summaries, busy
        for block in busy:
            taken = [(s, e) for s, e in slots if s - before < block.end and e + after > block.start]
            assert not taken, (block, taken)
        if day.weekday() == 1:  # focus time 14:00-16:00 is transparent: its slots stay bookable
            focus = next(b for b in blocks if b.summary == "Focus time" and b.start.date() == day)
            assert any(focus.start <= s and e <= focus.end for s, e in slots), view
        else:  # gaps on both sides of the morning's blocks
            starts = {s.astimezone(ZoneInfo(seed.HOST_ZONE)).strftime("%H:%M") for s, _ in slots}
            assert {"09:00", "13:00"} <= starts, view


def _read_the_booking_links_free_slots(info, auth):
    """What the demo host's booking page shows once it connected Google, as JSON: the demo
    configuration and free slots between its seeded busy blocks (devstack/seed.py)."""
    from devstack import seed

    booking = info["host_booking"]
    reply = requests.get(booking["api_url"], timeout=10)
    assert reply.status_code == 200 and reply.headers["Content-Type"].startswith("application/json"), reply.text
    view = reply.json()
    assert view["link_id"] == booking["link_id"]
    assert view["host"]["name"] == info["users"]["host"]["name"]
    assert view["config"]["name"] == seed.DEMO_CONFIG["name"] and view["config"]["duration_minutes"] == 30
    assert view["available_slots"], view  # the busy blocks leave gaps in Mon-Fri 09:00-12:00, 13:00-17:00
    # The host sees the same configuration, on its own calendars.
    scheduling = info["functions"]["scheduling"]
    config = requests.get(f"{scheduling}/scheduling-configs/{booking['config_id']}", headers=auth, timeout=10)
    assert config.status_code == 200, config.text
    assert config.json()["calendar_ids"] == [info["users"]["host"]["email"], seed.HOST_INTERVIEWS_CALENDAR]


def _create_an_interview_and_read_the_emails(info, auth, state_dir):
    """The documented curl, then the invitations as .eml files in the outbox folder."""
    import email
    import email.policy

    command = info["create_interview"]["curl"].replace(
        "$(jq -r .users.host.id_token .convene/dev.json)", auth["Authorization"].split()[1]
    )
    created = subprocess.run(["bash", "-c", command], capture_output=True, text=True, timeout=60)
    body = json.loads(created.stdout)
    assert body["status"] == "confirmed" and body["meeting_link"].startswith("https://meet.google.com/"), body
    outbox = state_dir / "outbox"
    deadline = time.monotonic() + 20
    while len(list(outbox.glob("*.eml"))) < 2:
        assert time.monotonic() < deadline, "the two invitations did not arrive in the outbox folder"
        time.sleep(0.2)
    for path in outbox.glob("*.eml"):
        message = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
        calendar = next(p for p in message.walk() if p.get_content_type() == "text/calendar")
        assert calendar.get_param("method") == "REQUEST"
        assert body["meeting_link"] in message.get_body(("html",)).get_content()


def test_a_stranger_answering_on_the_port_does_not_make_a_process_ready(tmp_path):
    """Had the port been taken after the check (or by anything the check cannot see), the stranger
    answering there (an old emulator, say) must not pass for the new process: it is stopped."""
    import http.server

    from devstack.processes import StartFailed, http_ok, start

    class Ok(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.end_headers()

        def log_message(self, *_args) -> None:
            pass

    stranger = http.server.ThreadingHTTPServer((LOOPBACK, 0), Ok)
    port = stranger.server_address[1]
    serving = threading.Thread(target=stranger.serve_forever, daemon=True)
    serving.start()
    url = f"http://{LOOPBACK}:{port}"
    marker = tmp_path / "alive"
    child = f"import pathlib, time; pathlib.Path({str(marker)!r}).write_text('x'); time.sleep(60)"
    try:
        with pytest.raises(StartFailed, match=rf"could not have port {port}: python.* \(pid {os.getpid()}"):
            start(
                "probe",
                [sys.executable, "-c", child],
                url=url,
                port=port,
                log_dir=tmp_path,
                ready=lambda: marker.exists() and http_ok(url + "/"),
            )
    finally:
        stranger.shutdown()
        stranger.server_close()
    leftover = subprocess.run(["pgrep", "-f", str(marker)], capture_output=True, text=True).stdout.strip()
    assert leftover == "", "the process that was not ready is stopped"
