"""SendGrid v3 Mail Send surface, for the real `sendgrid.SendGridAPIClient(host=sandbox.url)`.

Bodies are validated against SendGrid's own OpenAPI description of Mail Send (copied into
`data/`, Draft 2020-12 as OpenAPI 3.1 uses it), then against the documented rules that
schema does not express. Errors have SendGrid's shape, `{"errors": [{message, field,
help}]}`, so `python_http_client` raises what it would in production. Accepted mail is
recorded and, with an outbox folder, written as `.eml` files a person can open in a mail
client. Templates and substitutions are not rendered; scheduled sends are not delayed.
"""

from __future__ import annotations

import base64
import binascii
import copy
import email.policy
import email.utils
import json
import re
import secrets
import threading
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from email.headerregistry import Address
from email.message import EmailMessage
from functools import cache
from pathlib import Path

from flask import Blueprint, Response, jsonify, request
from jsonschema import Draft202012Validator, FormatChecker, ValidationError
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

from .core import GoogleError, JsonObject, json_object

PATH_PREFIX = "/v3/"  # every SendGrid path; errors under it have SendGrid's shape
SEND_PATH = "/v3/mail/send"
CONTROL = "/sandbox/sendgrid"
OPENAPI = Path(__file__).with_name("data") / "sendgrid-mail-v3.openapi.json"
_SCHEMA_URI = "urn:sendgrid:mail-v3"
_BODY_SCHEMA = "#/components/requestBodies/PostMailSend/content/application~1json/schema"
ERRORS_URL = "http://sendgrid.com/docs/API_Reference/Web_API_v3/Mail/errors.html"
MAX_MESSAGE_BYTES = 30 * 1024 * 1024  # "the total size of your email, including attachments, must be less than 30MB"
MAX_RECIPIENTS = 1000
ITIP_METHODS = ("PUBLISH", "REQUEST", "REPLY", "ADD", "CANCEL", "REFRESH", "COUNTER", "DECLINECOUNTER")
# SendGrid refuses ';' in content and attachment types, except a calendar's `method` parameter.
_CALENDAR_TYPE = re.compile(rf"text/calendar;\s*method=({'|'.join(ITIP_METHODS)})", re.IGNORECASE)
# Address syntax SendGrid accepts in practice: ASCII, a dotted domain, no quoted or commented forms.
_EMAIL = re.compile(r"[^@\s<>()\[\],;:\"\\]+@(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z][A-Za-z0-9-]{1,62}")
RESERVED_HEADERS = frozenset(
    ["x-sg-id", "x-sg-eid", "received", "dkim-signature", "content-type", "content-transfer-encoding",
     "to", "from", "subject", "reply-to", "cc", "bcc"]
)  # fmt: skip

# SendGrid's messages, by field with indices dropped (and the failing keyword where it matters).
_FROM_REQUIRED = (
    "The from object must be provided for every email send. It is an object that requires the email parameter, "
    'but may also contain a name parameter.  e.g. {"email" : "example@example.com"}  or '
    '{"email" : "example@example.com", "name" : "Example Recipient"}.'
)
_PERSONALIZATIONS_REQUIRED = "The personalizations field is required and must have at least one personalization."
_TO_REQUIRED = (
    "The to array is required for all personalization objects, and must have at least one email object "
    "with a valid email address."
)
_INVALID_ADDRESS = "Does not contain a valid address."
_SUBJECT_EMPTY = "The subject of your email must be a string at least one character in length."
_MESSAGES: dict[str, str] = {
    "personalizations": _PERSONALIZATIONS_REQUIRED,
    "personalizations:maxItems": (
        "The personalization block is limited to 1000 personalizations per API request. You have provided {n} "
        "personalizations. Please consider splitting this into multiple requests and resending your request."
    ),
    "personalizations.to": _TO_REQUIRED,
    "personalizations.to.email": _INVALID_ADDRESS,
    "personalizations.cc.email": _INVALID_ADDRESS,
    "personalizations.bcc.email": _INVALID_ADDRESS,
    "personalizations.from.email": "The from email does not contain a valid address.",
    "personalizations.subject": _SUBJECT_EMPTY,
    "personalizations.send_at": "The send_at parameter is expecting a UNIX timestamp as an integer.",
    "from.email": _FROM_REQUIRED,
    "from.email:format": "The from email does not contain a valid address.",
    "reply_to.email": (
        "The reply_to object, when used, must at least have an email parameter with a valid email address "
        "and it may also contain a name parameter."
    ),
    "subject": _SUBJECT_EMPTY,
    "content.type": "Your content type must be a string with length of at least one character.",
    "content.value": "The content value must be a string at least one character in length.",
    "attachments.content": "The attachment content must be a string at least one character in length.",
    "attachments.filename": "The filename of your attachment must be a string.",
    "attachments.filename:required": "filename is required.",
    "attachments.type": "The attachment type must be a string and at least one character in length.",
    "attachments.disposition": 'The disposition of your attachment can be either "inline" or "attachment". You provided {value}.',
    "categories": "Categories must be an array of strings.",
    "categories:maxItems": "There is a limit of 10 categories for each email that is sent. You provided {n} categories.",
    "categories:maxLength": "Each category must not be longer than 255 characters. {value} exceeds this limit.",
    "categories:uniqueItems": "The categories must be a unique list.",
    "send_at": "The send_at parameter is expecting a UNIX timestamp as an integer.",
}


@dataclass(frozen=True)
class FieldError:
    """One entry of SendGrid's `errors` list; `help` links the documented error table."""

    message: str
    field: str | None

    def as_json(self) -> JsonObject:
        help_url = None if self.field is None else f"{ERRORS_URL}#message.{_anchor(self.field)}"
        return {"message": self.message, "field": self.field, "help": help_url}


class SendGridError(Exception):
    """An error answered in SendGrid's shape."""

    def __init__(self, status: int, errors: list[FieldError]) -> None:
        super().__init__(errors[0].message)
        self.status = status
        self.errors = errors

    def response(self) -> Response:
        body = {"errors": [error.as_json() for error in self.errors]}
        return Response(json.dumps(body), status=self.status, mimetype="application/json")


def error_body(_status: int, message: str) -> JsonObject:
    """SendGrid's error shape without a field, for injected faults and unknown routes."""
    return {"errors": [FieldError(message, None).as_json()]}


def _anchor(field: str) -> str:
    """SendGrid's help anchor for a field: indices dropped, an address's `.email` too
    (`personalizations.0.to.0.email` -> `personalizations.to`)."""
    return re.sub(r"\.\d+", "", field).removesuffix(".email")


def _checked_key(key: str) -> str:
    if not key.startswith("SG."):
        raise ValueError(f"a SendGrid API key starts with 'SG.', got {key!r}")
    return key


def _message_id() -> str:
    """22 URL-safe characters, the shape of SendGrid's X-Message-Id."""
    return base64.urlsafe_b64encode(secrets.token_bytes(16)).decode().rstrip("=")


def _timestamp(moment: datetime) -> str:
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


# -- validation ---------------------------------------------------------------------


@cache
def _validator() -> Draft202012Validator:
    """The `PostMailSend` body schema with its `$ref`s resolved inside the OpenAPI document.

    One correction: the document types the message-level `custom_args` as a string, but
    SendGrid takes an object of strings, which is what the official client sends.
    """
    document = json.loads(OPENAPI.read_text())
    schema = document["components"]["requestBodies"]["PostMailSend"]["content"]["application/json"]["schema"]
    schema["properties"]["custom_args"] = {"type": "object", "additionalProperties": {"type": "string"}}
    registry = Registry().with_resource(_SCHEMA_URI, Resource.from_contents(document, default_specification=DRAFT202012))
    formats = FormatChecker(formats=())
    formats.checks("email")(lambda value: not isinstance(value, str) or _EMAIL.fullmatch(value) is not None)
    return Draft202012Validator({"$ref": _SCHEMA_URI + _BODY_SCHEMA}, registry=registry, format_checker=formats)


def _schema_error(error: ValidationError) -> FieldError:
    path = [str(part) for part in error.absolute_path]
    if error.validator == "required":
        path.append(next(name for name in error.validator_value if name not in error.instance))
    field = "from.email" if path == ["from"] else ".".join(path)  # SendGrid names the address, not the object
    key = re.sub(r"\.\d+", "", field)
    template = _MESSAGES.get(f"{key}:{error.validator}") or _MESSAGES.get(key)
    if template is None:
        return FieldError(f"Invalid value for {field}: {error.message[:200]}", field)
    count = len(error.instance) if isinstance(error.instance, (list, dict)) else 0
    return FieldError(template.replace("{n}", str(count)).replace("{value}", str(error.instance)[:100]), field)


def _attachment_bytes(content: str) -> bytes:
    """Base64 as SendGrid reads it: line breaks are allowed, any other non-base64 character is not."""
    return base64.b64decode("".join(content.split()), validate=True)


def _is_base64(content: str) -> bool:
    try:
        _attachment_bytes(content)
    except (binascii.Error, ValueError):
        return False
    return True


def _type_refused(content_type: str) -> bool:
    """SendGrid's "cannot contain ';', or CRLF characters", with its `text/calendar; method=` exception."""
    if "\r" in content_type or "\n" in content_type:
        return True
    return ";" in content_type and _CALENDAR_TYPE.fullmatch(content_type.strip()) is None


def _mime_rank(content_type: str) -> int:
    base = content_type.split(";", 1)[0].strip().lower()
    return {"text/plain": 0, "text/html": 1}.get(base, 2)


def _recipients(personalization: JsonObject) -> Iterator[tuple[str, JsonObject]]:
    for kind in ("to", "cc", "bcc"):
        for address in personalization.get(kind, []):
            yield kind, address


def _personalization_errors(personalizations: list[JsonObject]) -> Iterator[FieldError]:
    if not personalizations:
        yield FieldError(_PERSONALIZATIONS_REQUIRED, "personalizations")
    total = 0
    for index, personalization in enumerate(personalizations):
        if not personalization["to"]:
            yield FieldError(_TO_REQUIRED, f"personalizations.{index}.to")
        seen: set[str] = set()
        for kind, address in _recipients(personalization):
            total += 1
            if address["email"].lower() in seen:
                yield FieldError(
                    "Each email address in the personalization block should be unique between to, cc, and bcc. "
                    f"We found the first duplicate instance of [{address['email']}] in the "
                    f"personalizations.{index}.{kind} field.",
                    f"personalizations.{index}",
                )
                break
            seen.add(address["email"].lower())
    if total > MAX_RECIPIENTS:
        yield FieldError("There is a limit of 1000 total recipients (to + cc + bcc) per request.", "personalizations")


def _header_errors(headers: JsonObject, field: str) -> Iterator[FieldError]:
    for name, value in headers.items():
        if name.lower() in RESERVED_HEADERS:
            yield FieldError("Header can not be one of the reserved keys.", f"{field}.{name}")
        elif not isinstance(value, str):
            yield FieldError("The header values must be strings.", f"{field}.{name}")
        elif not name.isascii() or re.search(r"\s", name):
            yield FieldError("Header keys can't contain non-ASCII characters and empty spaces.", f"{field}.{name}")


def _content_errors(body: JsonObject) -> Iterator[FieldError]:
    contents: list[JsonObject] = body.get("content", [])
    if not contents and "template_id" not in body:
        yield FieldError(
            "The content param is required unless you are using a transactional template and have defined a template_id.",
            "content",
        )
    ranks = [_mime_rank(content["type"]) for content in contents]
    misplaced = next((i for i, (rank, expected) in enumerate(zip(ranks, sorted(ranks))) if rank != expected), None)
    if misplaced is not None:
        yield FieldError(
            "Following RFC 1341, section 7.2, if either text/html or text/plain are to be sent in your email: "
            "text/plain needs to be first, followed by text/html, followed by any other content.",
            f"content.{misplaced}.type",
        )
    for index, content in enumerate(contents):
        if _type_refused(content["type"]):
            yield FieldError("The content type cannot contain ';', or CRLF characters.", f"content.{index}.type")


def _attachment_errors(attachments: list[JsonObject]) -> Iterator[FieldError]:
    for index, attachment in enumerate(attachments):
        field = f"attachments.{index}"
        if not _is_base64(attachment["content"]):
            yield FieldError("The attachment content must be base64 encoded.", f"{field}.content")
        if _type_refused(attachment.get("type", "")):
            yield FieldError("The attachment type cannot contain ';', or CRLF characters.", f"{field}.type")
        if re.search(r"[\r\n]", attachment["filename"]):
            yield FieldError("The filename of your attachment can't contain CRLF characters.", f"{field}.filename")
        if re.search(r"[\r\n;\\]", attachment.get("content_id", "")):
            yield FieldError("The content ID of your attachment can't contain CRLF characters.", f"{field}.content_id")


def _validation_errors(body: JsonObject) -> list[FieldError]:
    """Everything SendGrid would refuse in this Mail Send body (schema first, then its rules)."""
    schema_errors = [_schema_error(error) for error in _validator().iter_errors(body)]
    if schema_errors:
        return schema_errors
    personalizations: list[JsonObject] = body["personalizations"]
    errors = list(_personalization_errors(personalizations))
    templated = "template_id" in body
    if not templated and "subject" not in body and not all("subject" in p for p in personalizations):
        errors.append(FieldError(
            "The subject is required. You can get around this requirement if you use a template with a subject "
            "defined or if every personalization has a subject defined.",
            "subject",
        ))  # fmt: skip
    errors += _content_errors(body)
    errors += _attachment_errors(body.get("attachments", []))
    errors += _header_errors(body.get("headers", {}), "headers")
    for index, personalization in enumerate(personalizations):
        errors += _header_errors(personalization.get("headers", {}), f"personalizations.{index}.headers")
    return errors


def _parse(raw: bytes) -> JsonObject:
    try:
        body = json.loads(raw)
    except UnicodeDecodeError as exc:
        raise SendGridError(400, [FieldError("Invalid UTF8 in request.", None)]) from exc
    except ValueError as exc:
        raise SendGridError(400, [FieldError("Bad Request", None)]) from exc
    if not isinstance(body, dict):
        raise SendGridError(400, [FieldError("Bad Request", None)])
    return body


# -- the outbox: what each recipient would find in their mailbox -------------------------


def _address(value: JsonObject) -> Address:
    return Address(_one_line(value.get("name", "")), addr_spec=value["email"])


def _one_line(text: str) -> str:
    return " ".join(text.splitlines())


def _mime_type(content_type: str) -> tuple[str, str, dict[str, str]]:
    """(maintype, subtype, params); validation leaves `method` as the only possible parameter."""
    header = email.policy.default.header_factory("Content-Type", content_type)
    return header.maintype, header.subtype, dict(header.params)


def _add_body(message: EmailMessage, contents: list[JsonObject]) -> None:
    """The content blocks in order: one part, or a multipart/alternative of them."""
    for index, content in enumerate(contents):
        add = message.set_content if index == 0 else message.add_alternative
        maintype, subtype, params = _mime_type(content["type"])
        if maintype == "text":
            add(content["value"], subtype=subtype, params=params)
        else:
            add(content["value"].encode(), maintype, subtype, params=params)


def _is_calendar(attachment: JsonObject) -> bool:
    return _mime_type(attachment.get("type", ""))[:2] == ("text", "calendar") or attachment["filename"].lower().endswith(".ics")


def _email_message(
    body: JsonObject, personalization: JsonObject, message_id: str, index: int, received: datetime
) -> EmailMessage:
    """The message one personalization delivers, as SendGrid would build it."""
    message = EmailMessage()
    message["From"] = _address(personalization.get("from") or body["from"])
    message["To"] = [_address(a) for a in personalization["to"]]
    if personalization.get("cc"):
        message["Cc"] = [_address(a) for a in personalization["cc"]]
    reply_to = body.get("reply_to_list") or ([body["reply_to"]] if "reply_to" in body else [])
    if reply_to:
        message["Reply-To"] = [_address(a) for a in reply_to]
    message["Subject"] = _one_line(personalization.get("subject") or body.get("subject", ""))
    message["Date"] = email.utils.format_datetime(received)
    message["Message-ID"] = f"<{message_id}.{index}@sendgrid.sandbox.invalid>"
    for name, value in {**body.get("headers", {}), **personalization.get("headers", {})}.items():
        del message[name]
        message[name] = _one_line(value)
    template_note = f"(SendGrid template {body.get('template_id')}: not rendered by the sandbox)"
    _add_body(message, body.get("content") or [{"type": "text/plain", "value": template_note}])
    for attachment in body.get("attachments", []):
        maintype, subtype, params = _mime_type(attachment.get("type", "application/octet-stream"))
        content_id = attachment.get("content_id")
        message.add_attachment(
            _attachment_bytes(attachment["content"]), maintype, subtype, params=params, filename=attachment["filename"],
            disposition=attachment.get("disposition", "attachment"), cid=f"<{content_id}>" if content_id else None,
        )  # fmt: skip
    return message


def _file_part(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9@._+-]", "_", text)


def _write_outbox(outbox: Path, record: JsonObject, received: datetime) -> None:
    """One `.eml` per recipient, each calendar attachment beside it as its own file."""
    outbox.mkdir(parents=True, exist_ok=True)
    body, message_id = record["body"], record["message_id"]
    stamp = record["received_at"].replace("-", "").replace(":", "")  # 20300304T100000.123Z
    calendars = [a for a in body.get("attachments", []) if _is_calendar(a)]
    for index, personalization in enumerate(body["personalizations"]):
        data = bytes(_email_message(body, personalization, message_id, index, received))
        for _, address in _recipients(personalization):
            stem = f"{stamp}-{message_id}-{_file_part(address['email'])}" + (f"-p{index}" if index else "")
            (outbox / f"{stem}.eml").write_bytes(data)
            for attachment in calendars:
                (outbox / f"{stem}-{_file_part(attachment['filename'])}").write_bytes(_attachment_bytes(attachment["content"]))


class SendGrid:
    """API keys and accepted mail behind one lock; keys given here survive `reset`."""

    def __init__(self, keys: Iterable[str] = (), outbox: Path | None = None) -> None:
        self._lock = threading.Lock()
        self._configured_keys = frozenset(_checked_key(key) for key in keys)
        self._keys = set(self._configured_keys)
        self._messages: list[JsonObject] = []
        self.outbox = outbox
        _validator()  # load the schema now, not on the first send
        self.blueprint = self._blueprint()

    def reset(self) -> None:
        """Forget accepted mail and the keys added since construction."""
        with self._lock:
            self._keys = set(self._configured_keys)
            self._messages.clear()

    def add_key(self, key: str) -> None:
        with self._lock:
            self._keys.add(_checked_key(key))

    def messages(self, to: str | None = None) -> list[JsonObject]:
        """Accepted mail, oldest first; with `to`, only mail that address receives (to, cc or bcc)."""
        with self._lock:
            messages = copy.deepcopy(self._messages)
        if to is None:
            return messages
        return [
            m for m in messages
            if any(a["email"].lower() == to.lower() for p in m["body"]["personalizations"] for _, a in _recipients(p))
        ]  # fmt: skip

    def clear_messages(self) -> None:
        with self._lock:
            self._messages.clear()

    def _authenticate(self, authorization: str) -> str:
        scheme, _, key = authorization.partition(" ")
        if scheme.lower() != "bearer" or not key.strip():
            raise SendGridError(401, [FieldError("authorization required", None)])
        with self._lock:
            known = key in self._keys
        if not known:
            raise SendGridError(401, [FieldError("The provided authorization grant is invalid, expired, or revoked", None)])
        return key

    def _send(self) -> Response:
        key = self._authenticate(request.headers.get("Authorization", ""))
        raw = request.get_data()
        if len(raw) >= MAX_MESSAGE_BYTES:
            raise SendGridError(413, [FieldError("content too large", None)])
        body = _parse(raw)
        errors = _validation_errors(body)
        if errors:
            raise SendGridError(400, errors)
        if body.get("mail_settings", {}).get("sandbox_mode", {}).get("enable") is True:
            return Response(status=200)  # SendGrid's sandbox mode: valid, and not delivered
        received = datetime.now(UTC)
        record = {"message_id": _message_id(), "api_key": key, "received_at": _timestamp(received), "body": body}
        if self.outbox is not None:
            _write_outbox(self.outbox, record, received)
        with self._lock:
            self._messages.append(record)
        return Response(status=202, headers={"X-Message-Id": record["message_id"]})

    def _blueprint(self) -> Blueprint:
        bp = Blueprint("sendgrid", __name__)
        bp.register_error_handler(SendGridError, SendGridError.response)
        bp.add_url_rule(SEND_PATH, "send", self._send, methods=["POST"])

        @bp.post(f"{CONTROL}/keys")
        def add_key() -> Response:
            try:
                self.add_key(str(json_object(request.get_data()).get("key", "")))
            except ValueError as exc:
                raise GoogleError(400, str(exc)) from exc
            return jsonify({"ok": True})

        @bp.get(f"{CONTROL}/messages")
        def list_messages() -> Response:
            return jsonify({"messages": self.messages(request.args.get("to"))})

        @bp.delete(f"{CONTROL}/messages")
        def clear_messages() -> Response:
            self.clear_messages()
            return jsonify({"ok": True})

        return bp
