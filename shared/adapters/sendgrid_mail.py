"""SendGrid v3 Mail Send through the official client, created once per instance.

Failures are sorted for the email worker: 429, 5xx, timeouts and auth problems (an
operator can fix a key) are transient — Cloud Tasks retries them; any other 4xx is a
permanent refusal of this email.
"""

from __future__ import annotations

import base64
import threading
from dataclasses import dataclass
from typing import Any

from shared.config import Settings

TIMEOUT_SECONDS = 10


@dataclass(frozen=True)
class SendResult:
    ok: bool
    message_id: str | None = None
    transient: bool = False
    code: str = ""
    detail: str = ""


class SendGridMailer:
    def __init__(self, settings: Settings, api_key: Any):
        self._settings = settings
        self._api_key = api_key  # a zero-argument callable: read from Secret Manager when first needed
        self._lock = threading.Lock()
        self._client: Any = None

    def _get_client(self) -> Any:
        with self._lock:
            if self._client is None:
                from sendgrid import SendGridAPIClient

                self._client = SendGridAPIClient(api_key=self._api_key(), host=self._settings.sendgrid_host)
                self._client.client.timeout = TIMEOUT_SECONDS
            return self._client

    def send(self, email: Any, *, categories: list[str], custom_args: dict[str, str]) -> SendResult:
        from python_http_client import exceptions as http_errors
        from sendgrid.helpers.mail import (
            Attachment,
            Category,
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

        message = Mail(
            from_email=From(self._settings.mail_from, self._settings.mail_from_name),
            to_emails=To(email.to_email, email.to_name or None),
            subject=email.subject,
        )
        message.add_content(Content("text/plain", email.text))
        message.add_content(Content("text/html", email.html))
        if email.ics:
            message.add_attachment(
                Attachment(
                    FileContent(base64.b64encode(email.ics).decode("ascii")),
                    FileName("invite.ics"),
                    FileType(f"text/calendar; method={email.ics_method}"),
                    Disposition("attachment"),
                )
            )
        for category in categories:
            message.add_category(Category(category))
        for key, value in custom_args.items():
            message.add_custom_arg(CustomArg(key, value))
        try:
            response = self._get_client().send(message)
        except http_errors.HTTPError as error:
            status = int(getattr(error, "status_code", 0) or 0)
            transient = status == 429 or status >= 500 or status in (401, 403)
            return SendResult(False, transient=transient, code=f"sendgrid_{status}", detail=_first_error(error))
        except OSError as error:  # timeouts, connection refused
            return SendResult(False, transient=True, code="sendgrid_unreachable", detail=type(error).__name__)
        headers = {k.lower(): v for k, v in dict(response.headers or {}).items()}
        return SendResult(True, message_id=headers.get("x-message-id"))


def _first_error(error: Any) -> str:
    """SendGrid's own message for the refusal (it names the field), never the request."""
    import json

    try:
        errors = json.loads(error.body).get("errors") or []
        return str(errors[0].get("message", ""))[:300] if errors else ""
    except (ValueError, AttributeError, TypeError):
        return ""
