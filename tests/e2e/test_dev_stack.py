"""`make dev`'s program, as a front-end developer uses it: start, read .convene/dev.json,
curl the join function for every demo interview, Ctrl-C, and nothing is left running."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import requests

from devstack.processes import ROOT


def _listening(url_or_host: str) -> bool:
    try:
        requests.get(url_or_host if url_or_host.startswith("http") else f"http://{url_or_host}/", timeout=1)
        return True
    except requests.ConnectionError:
        return False


def test_dev_stack_comes_up_serves_every_demo_interview_and_stops_cleanly(tmp_path):
    env = {**os.environ, "CONVENE_DEV_STATE_DIR": str(tmp_path), "PYTHONPATH": str(ROOT)}
    env.pop("FIRESTORE_EMULATOR_HOST", None)
    started = time.monotonic()
    process = subprocess.Popen([sys.executable, "-m", "devstack.dev", "--base-port", "0", "--project", "convene-devtest"],
                               cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True)
    dev_json = tmp_path / "dev.json"
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
        _connect_google_as_the_demo_host(info, auth)
        _create_an_interview_and_read_the_emails(info, auth, tmp_path)
        triggered = subprocess.run([sys.executable, "-m", "devstack.trigger", "reminders"], cwd=ROOT, env=env,
                                   capture_output=True, text=True, timeout=60)
        assert triggered.returncode == 0, triggered.stderr
        assert json.loads(triggered.stdout)["reminders_queued"] == 0  # nothing due yet, but the scheduler's path works
        guest = {"Authorization": f"Bearer {info['users']['guest']['id_token']}"}
        assert requests.get(mine["join_check_url"], headers=guest, timeout=10).json()["participant"] == "guest"
        assert requests.get(other["join_check_url"], headers=guest, timeout=10).status_code == 404
    finally:
        os.killpg(process.pid, signal.SIGINT) if process.poll() is None else None
        output = process.communicate(timeout=60)[0].decode()

    assert process.returncode == 0, output
    assert "stopped every process" in output
    assert not _listening(info["functions"]["join"])
    assert not _listening(info["sandbox"])
    assert not _listening(info["firestore_emulator"])
    emulator_port = info["firestore_emulator"].rsplit(":", 1)[1]
    for pattern in (f"host-port=127.0.0.1:{emulator_port}", f"--port={emulator_port}"):  # gcloud's wrapper, then java
        leftover = subprocess.run(["pgrep", "-f", pattern], capture_output=True, text=True)
        assert leftover.stdout.strip() == "", f"a process matching {pattern} outlived the stack"


def _connect_google_as_the_demo_host(info, auth):
    """What a front-end developer clicks through, with requests as the browser."""
    oauth = info["functions"]["oauth"]
    assert requests.get(f"{oauth}/status", headers=auth, timeout=10).json()["status"] == "not_connected"
    link = requests.post(f"{oauth}/connect", headers=auth, timeout=10).json()["google_auth_url"]
    browser = requests.Session()
    consent_page = browser.get(link, timeout=10)  # our /start, then the sandbox's consent page
    assert consent_page.status_code == 200 and 'id="allow"' in consent_page.text
    assert info["users"]["host"]["email"] in consent_page.text  # login_hint pre-fills the host's account
    decision = requests.post(f"{info['sandbox']}/sandbox/oauth/consent", timeout=10,
                             json={"authorization_url": consent_page.url, "email": info["users"]["host"]["email"]})
    result = browser.get(decision.json()["redirect"], timeout=10)
    assert result.status_code == 200 and 'data-connected="true"' in result.text
    status = requests.get(f"{oauth}/status", headers=auth, timeout=10).json()
    assert status["connected"] is True
    assert {c["summary"] for c in status["calendars"]} >= {"Interviews", "Holidays in Germany"}


def _create_an_interview_and_read_the_emails(info, auth, state_dir):
    """The documented curl, then the invitations as .eml files in the outbox folder."""
    import email
    import email.policy

    command = info["create_interview"]["curl"].replace("$(jq -r .users.host.id_token .convene/dev.json)",
                                                       auth["Authorization"].split()[1])
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
