"""Cloud Tasks: every email send is an HTTP task for the email worker.

Tasks are named deterministically, so enqueueing the same email twice is refused by
Cloud Tasks itself (409) and counted as already queued. The client speaks REST (no gRPC
channel to open on a cold start) and is created once per instance.
"""

from __future__ import annotations

import json
import threading
from datetime import datetime
from typing import Any

from shared.config import Settings
from shared.errors import InternalError, Unavailable


class TaskQueue:
    def __init__(self, settings: Settings, queue: str):
        self._settings = settings
        self._queue = queue
        self._lock = threading.Lock()
        self._client: Any = None

    def _get_client(self) -> Any:
        with self._lock:
            if self._client is None:
                from google.cloud import tasks_v2

                options: dict[str, Any] = {}
                if self._settings.tasks_endpoint:  # the local sandbox: plain HTTP, no Google credentials
                    from google.auth.credentials import AnonymousCredentials

                    options = {
                        "credentials": AnonymousCredentials(),
                        "client_options": {"api_endpoint": self._settings.tasks_endpoint},
                    }
                self._client = tasks_v2.CloudTasksClient(transport="rest", **options)
            return self._client

    @property
    def path(self) -> str:
        return f"projects/{self._settings.project_id}/locations/{self._settings.tasks_location}/queues/{self._queue}"

    def enqueue(self, task_id: str, url: str, payload: dict[str, Any], *, schedule_at: datetime | None = None) -> bool:
        """Create the task; False if a task with this id exists (or recently existed) already."""
        from google.api_core import exceptions as gexc

        if not url or not self._settings.tasks_service_account:
            raise InternalError()  # misconfigured deployment: the target or the invoker is missing
        task: dict[str, Any] = {
            "name": f"{self.path}/tasks/{task_id}",
            "http_request": {
                "url": url,
                "http_method": "POST",
                "headers": {"Content-Type": "application/json"},
                "body": json.dumps(payload, separators=(",", ":")).encode(),
                "oidc_token": {"service_account_email": self._settings.tasks_service_account, "audience": url},
            },
        }
        if schedule_at is not None:
            task["schedule_time"] = schedule_at
        try:
            self._get_client().create_task(request={"parent": self.path, "task": task}, timeout=10.0)
        except (gexc.Conflict, gexc.AlreadyExists):
            return False
        except (gexc.GoogleAPICallError, gexc.RetryError):
            raise Unavailable("The email queue is unavailable; try again shortly.") from None
        return True
