"""The sandbox's SendGrid Mail Send surface, driven by the official `sendgrid` client."""

from __future__ import annotations

import base64
import copy
import email
import email.policy
import os
import select
import signal
import subprocess
import sys
from collections.abc import Callable, Iterator
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
import requests
from python_http_client import exceptions as http_errors
from sendgrid import SendGridAPIClient
from sendgrid.helpers.mail import (
    Attachment,
    Category,
    Cc,
    Content,
    CustomArg,
    Disposition,
    FileContent,
    FileName,
    FileType,
    From,
    Mail,
    To,
)

from devstack.sandbox import SandboxServer
from devstack.sandbox.sendgrid import SEND_PATH

KEY = "SG.sandbox-test.key"
ICS = "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nMETHOD:REQUEST\r\nPRODID:-//Convene//Test//EN\r\nEND:VCALENDAR\r\n"
HELP = "http://sendgrid.com/docs/API_Reference/Web_API_v3/Mail/errors.html#message."
REPO_ROOT = Path(__file__).resolve().parents[2]
Body = dict[str, Any]


@pytest.fixture(scope="module")
def outbox(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("outbox")


@pytest.fixture(scope="module")
def server(outbox: Path) -> Iterator[SandboxServer]:
    with SandboxServer("convene-sendgrid-test", mail_outbox=outbox, sendgrid_keys=[KEY]) as running:
        yield running


@pytest.fixture(autouse=True)
def clean(server: SandboxServer) -> None:
    server.reset()


@pytest.fixture(scope="module")
def client(server: SandboxServer) -> SendGridAPIClient:
    return SendGridAPIClient(api_key=KEY, host=server.url)


def _invitation() -> Mail:
    """What Convene sends: text and HTML bodies and the invitation as a calendar attachment."""
    mail = Mail(from_email=From("interviews@convene.test", "Convene"), to_emails=To("bob@example.com", "Bob Guest"),
                subject="Invitation: Interview with Ada — 4 March 10:00")  # fmt: skip
    mail.add_cc(Cc("ada@example.com", "Ada Host"))
    mail.add_content(Content("text/plain", "You are invited to an interview."))
    mail.add_content(Content("text/html", "<p>You are invited to an <b>interview</b>.</p>"))
    mail.add_attachment(Attachment(
        FileContent(base64.b64encode(ICS.encode()).decode()), FileName("invite.ics"),
        FileType("text/calendar; method=REQUEST"), Disposition("attachment"),
    ))  # fmt: skip
    mail.add_category(Category("invitation"))
    mail.add_custom_arg(CustomArg("interview_id", "42"))
    return mail


def _body() -> Body:
    # The helper hands out its own lists: copy before changing them.
    return copy.deepcopy(_invitation().get())


def _message_id(response: Any) -> str:
    message_id: str = response.headers["X-Message-Id"]
    return message_id


def test_an_invitation_is_accepted_with_a_message_id_and_recorded(server: SandboxServer, client: SendGridAPIClient) -> None:
    response = client.send(_invitation())

    assert response.status_code == 202 and response.body == b""
    message_id = _message_id(response)
    assert len(message_id) == 22 and message_id.replace("-", "").replace("_", "").isalnum()
    [sent] = server.sent_mail()
    assert sent["message_id"] == message_id and sent["api_key"] == KEY
    assert sent["body"] == _invitation().get()
    assert sent["body"]["custom_args"] == {"interview_id": "42"}  # an object, whatever the OpenAPI file says
    assert server.sent_mail_to("ADA@example.com") == [sent] and server.sent_mail_to("eve@example.com") == []
    listed = requests.get(server.url + "/sandbox/sendgrid/messages", params={"to": "bob@example.com"}, timeout=5)
    assert listed.json() == {"messages": [sent]}
    assert [(c["path"], c["status"]) for c in server.calls()] == [("/v3/mail/send", 202)]


def _at(body: Body, path: str) -> tuple[Any, Any]:
    """The container and key that a dotted path (`personalizations.0.to`) names in a body."""
    *parents, last = [int(part) if part.isdigit() else part for part in path.split(".")]
    target: Any = body
    for part in parents:
        target = target[part]
    return target, last


def _set(path: str, value: Any) -> Callable[[Body], None]:
    def change(body: Body) -> None:
        target, key = _at(body, path)
        target[key] = value

    return change


def _delete(path: str) -> Callable[[Body], None]:
    def change(body: Body) -> None:
        target, key = _at(body, path)
        del target[key]

    return change


@pytest.mark.parametrize(
    ("change", "field", "message"),
    [
        (_delete("personalizations.0.to"), "personalizations.0.to", "The to array is required for all personalization objects"),
        (_set("personalizations.0.to", []), "personalizations.0.to", "The to array is required"),
        (_set("personalizations.0.to.0.email", "bob@"), "personalizations.0.to.0.email", "Does not contain a valid address."),
        (_set("personalizations.0.cc.0.email", "ada at example.com"), "personalizations.0.cc.0.email", "valid address"),
        (_delete("from"), "from.email", "The from object must be provided for every email send."),
        (_set("from.email", "convene"), "from.email", "The from email does not contain a valid address."),
        (_set("content.0.value", ""), "content.0.value", "The content value must be a string at least one character"),
        (_delete("content"), "content", "The content param is required unless you are using a transactional template"),
        (_set("attachments.0.content", "not base64!"), "attachments.0.content", "The attachment content must be base64 encoded."),
        (_set("attachments.0.type", "text/calendar; charset=utf-8; method=REQUEST"), "attachments.0.type",
         "The attachment type cannot contain ';', or CRLF characters."),
        (_delete("subject"), "subject", "The subject is required."),
        (_set("content", [{"type": "text/html", "value": "<p>hi</p>"}, {"type": "text/plain", "value": "hi"}]),
         "content.0.type", "text/plain needs to be first"),
        (_set("personalizations.0.cc.0.email", "BOB@example.com"), "personalizations.0",
         "We found the first duplicate instance of [BOB@example.com] in the personalizations.0.cc field."),
    ],
)  # fmt: skip
def test_invalid_mail_is_400_naming_the_field(
    server: SandboxServer, client: SendGridAPIClient, change: Callable[[Body], None], field: str, message: str
) -> None:
    body = _body()
    change(body)

    with pytest.raises(http_errors.BadRequestsError) as refused:
        client.send(body)

    [error] = refused.value.to_dict["errors"]
    assert error["field"] == field and message in error["message"]
    assert error["help"].startswith(HELP)
    assert server.sent_mail() == []


def test_every_schema_error_is_listed(client: SendGridAPIClient) -> None:
    body = _body()
    body["personalizations"][0]["to"][0]["email"] = "bob@"
    body["from"]["email"] = "convene"

    with pytest.raises(http_errors.BadRequestsError) as refused:
        client.send(body)

    assert refused.value.to_dict == {"errors": [
        {"message": "Does not contain a valid address.", "field": "personalizations.0.to.0.email",
         "help": HELP + "personalizations.to"},
        {"message": "The from email does not contain a valid address.", "field": "from.email", "help": HELP + "from"},
    ]}  # fmt: skip


def test_unknown_or_missing_key_is_401(server: SandboxServer) -> None:
    with pytest.raises(http_errors.UnauthorizedError) as unknown:
        SendGridAPIClient(api_key="SG.revoked", host=server.url).send(_invitation())
    missing = requests.post(server.url + SEND_PATH, json=_body(), timeout=5)

    assert unknown.value.to_dict == {
        "errors": [{"message": "The provided authorization grant is invalid, expired, or revoked", "field": None, "help": None}]
    }
    assert missing.status_code == 401
    assert missing.json() == {"errors": [{"message": "authorization required", "field": None, "help": None}]}
    assert server.sent_mail() == []


def test_keys_added_later_are_forgotten_on_reset(server: SandboxServer) -> None:
    added = "SG.added-later"
    assert requests.post(server.url + "/sandbox/sendgrid/keys", json={"key": added}, timeout=5).json() == {"ok": True}
    SendGridAPIClient(api_key=added, host=server.url).send(_invitation())

    server.reset()

    with pytest.raises(http_errors.UnauthorizedError):
        SendGridAPIClient(api_key=added, host=server.url).send(_invitation())
    refused = requests.post(server.url + "/sandbox/sendgrid/keys", json={"key": "not-sendgrid"}, timeout=5)
    assert refused.status_code == 400 and "SG." in refused.json()["error"]["message"]
    with pytest.raises(ValueError, match="SG."):
        server.add_sendgrid_key("sk_live_123")


def test_an_injected_503_is_sendgrid_shaped_and_sends_nothing(server: SandboxServer, client: SendGridAPIClient) -> None:
    server.inject("^/v3/mail/send$", [{"status": 503}, {"status": 429}], method="POST")

    with pytest.raises(http_errors.ServiceUnavailableError) as unavailable:
        client.send(_invitation())
    with pytest.raises(http_errors.TooManyRequestsError):
        client.send(_invitation())
    assert server.sent_mail() == []
    client.send(_invitation())

    assert unavailable.value.to_dict == {"errors": [{"message": "Injected fault (503).", "field": None, "help": None}]}
    assert [(c["status"], c["injected"]) for c in server.calls()] == [(503, True), (429, True), (202, False)]
    assert len(server.sent_mail()) == 1


def test_sandbox_mode_validates_without_sending(server: SandboxServer, client: SendGridAPIClient) -> None:
    body = _body()
    body["mail_settings"] = {"sandbox_mode": {"enable": True}}

    assert client.send(body).status_code == 200
    assert server.sent_mail() == []


def test_mail_over_the_size_limit_is_413(client: SendGridAPIClient, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("devstack.sandbox.sendgrid.MAX_MESSAGE_BYTES", 1024)
    body = _body()
    body["content"][0]["value"] = "x" * 1024

    with pytest.raises(http_errors.PayloadTooLargeError):
        client.send(body)


def test_sent_mail_is_cleared_over_http(server: SandboxServer, client: SendGridAPIClient) -> None:
    client.send(_invitation())

    assert requests.delete(server.url + "/sandbox/sendgrid/messages", timeout=5).json() == {"ok": True}
    assert server.sent_mail() == []


def _read_eml(path: Path) -> EmailMessage:
    message = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
    assert isinstance(message, EmailMessage)
    return message


def test_the_outbox_holds_one_eml_per_recipient_and_the_invitation(
    server: SandboxServer, client: SendGridAPIClient, outbox: Path
) -> None:
    message_id = _message_id(client.send(_invitation()))

    files = sorted(path.name for path in outbox.glob(f"*-{message_id}-*"))
    stamp = files[0].split(f"-{message_id}-")[0]
    assert files == [f"{stamp}-{message_id}-{name}" for name in (
        "ada@example.com-invite.ics", "ada@example.com.eml", "bob@example.com-invite.ics", "bob@example.com.eml")]  # fmt: skip
    assert stamp == server.sent_mail()[0]["received_at"].replace("-", "").replace(":", "")
    message = _read_eml(outbox / f"{stamp}-{message_id}-bob@example.com.eml")
    assert message["From"] == "Convene <interviews@convene.test>"
    assert message["To"] == "Bob Guest <bob@example.com>" and message["Cc"] == "Ada Host <ada@example.com>"
    assert message["Subject"] == "Invitation: Interview with Ada — 4 March 10:00"
    assert message["Date"] and message["Message-ID"].startswith(f"<{message_id}.")
    assert message.get_content_type() == "multipart/mixed"
    plain, html = message.get_body(("plain",)), message.get_body(("html",))
    assert plain is not None and plain.get_content().strip() == "You are invited to an interview."
    assert html is not None and "<b>interview</b>" in html.get_content()
    [invitation] = message.iter_attachments()
    assert isinstance(invitation, EmailMessage)
    assert invitation.get_content_type() == "text/calendar" and invitation.get_param("method") == "REQUEST"
    assert invitation.get_filename() == "invite.ics"
    assert invitation.get_payload(decode=True) == ICS.encode()
    assert (outbox / f"{stamp}-{message_id}-bob@example.com-invite.ics").read_bytes() == ICS.encode()


def test_the_cli_writes_the_outbox_folder(tmp_path: Path) -> None:
    outbox = tmp_path / "mail"
    proc = subprocess.Popen(
        [sys.executable, "-m", "devstack.sandbox", "--project", "cli-p", "--mail-outbox", str(outbox)],
        cwd=REPO_ROOT, stdout=subprocess.PIPE, text=True, start_new_session=True,
    )  # fmt: skip
    try:
        assert proc.stdout is not None and select.select([proc.stdout], [], [], 10)[0], "no ready line"
        url = proc.stdout.readline().strip().removeprefix("sandbox ready ")
        requests.post(url + "/sandbox/sendgrid/keys", json={"key": KEY}, timeout=5).raise_for_status()

        message_id = _message_id(SendGridAPIClient(api_key=KEY, host=url).send(_invitation()))

        assert len(list(outbox.glob(f"*-{message_id}-*.eml"))) == 2
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=5) == 0
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        if proc.stdout is not None:
            proc.stdout.close()
