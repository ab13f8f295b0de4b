"""Cloud Function ``email_worker``: sends one queued email per Cloud Tasks delivery (SPEC §2.5).

POST /   body {"email_id": "..."}; only Cloud Tasks' OIDC token of the configured service
account is accepted. 2xx tells Cloud Tasks the task is done (sent, duplicate, or refused
for good); 503/409 make it retry with the queue's backoff.
"""

import re

import functions_framework

# Every delivery reads and writes Firestore: load its client library before gunicorn forks.
import shared.adapters.firestore  # noqa: F401
from shared.auth.callers import internal_router
from shared.bootstrap import container
from shared.errors import BadRequest
from shared.http import Request, is_id

EMAIL_ID_MAX = 500  # a Cloud Tasks task id: the queue names each task after its email


router = internal_router("email_worker", container, caller="Cloud Tasks")  # reads the configuration now


@router.route("POST", "/")
def deliver(request: Request) -> dict:
    email_id = request.json().get("email_id")
    if not is_id(email_id, EMAIL_ID_MAX):
        raise BadRequest(
            "email_id is required: up to 500 letters, digits, '-' and '_'.", code="invalid_field", details={"field": "email_id"}
        )
    delivery = request.headers.get("X-Cloudtasks-Taskexecutioncount", request.headers.get("X-CloudTasks-TaskExecutionCount", "0"))
    # str.isdigit() takes "²" and 5000 digits, which int() refuses: a count is ASCII and small, else unknown (0).
    return container().email_worker.handle(email_id, int(delivery) if re.fullmatch(r"[0-9]{1,9}", delivery) else 0)


@functions_framework.http
def email_worker(request):
    return router.handle(request)
