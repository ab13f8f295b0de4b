"""Cloud Function ``reminders``: Cloud Scheduler calls it every few minutes (SPEC §2.4).

POST /   (OIDC token of the configured scheduler service account, audience = this URL)
Queues the 24 h / 1 h reminder emails that are due, exactly once per participant, and
answers a summary of what it did.
"""

import functions_framework

# Every run queries Firestore: load its client library before gunicorn forks.
import shared.adapters.firestore  # noqa: F401
from shared.auth.callers import internal_router
from shared.bootstrap import container
from shared.http import Request

router = internal_router("reminders", container, caller="Cloud Scheduler")  # reads the configuration now


@router.route("POST", "/")
def run(request: Request) -> dict:
    c = container()
    return c.reminder_run.run(c.clock.now())


@functions_framework.http
def reminders(request):
    return router.handle(request)
