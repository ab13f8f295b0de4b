"""Cloud Function ``email_worker``: sends one queued email per Cloud Tasks delivery (SPEC §2.5).

POST /   body {"email_id": "..."}; only Cloud Tasks' OIDC token of the configured service
account is accepted. 2xx tells Cloud Tasks the task is done (sent, duplicate, or refused
for good); 503/409 make it retry with the queue's backoff.
"""

import functions_framework

# Every delivery reads and writes Firestore: load its client library before gunicorn forks.
import shared.adapters.firestore  # noqa: F401
from shared.auth.callers import authenticate_service
from shared.bootstrap import container
from shared.errors import BadRequest
from shared.http import Request, Router

container()  # read the configuration now: a bad value stops the instance at start-up
router = Router("email_worker", container)


@router.route("POST", "/")
def deliver(request: Request) -> dict:
    authenticate_service(request.bearer_token(), service_tokens=container().service_tokens, caller="Cloud Tasks")
    email_id = request.json().get("email_id")
    if not isinstance(email_id, str) or not 1 <= len(email_id) <= 500:
        raise BadRequest("email_id is required.", code="invalid_field", details={"field": "email_id"})
    delivery = request.headers.get("X-Cloudtasks-Taskexecutioncount", request.headers.get("X-CloudTasks-TaskExecutionCount", "0"))
    return container().email_worker.handle(email_id, int(delivery) if delivery.isdigit() else 0)


@functions_framework.http
def email_worker(request):
    return router.handle(request)
