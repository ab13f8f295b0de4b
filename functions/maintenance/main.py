"""Cloud Function ``maintenance``: Cloud Scheduler calls it periodically (SPEC §2.7).

POST /   body {"jobs": [...]} optional (default: every job: connections, calendars, cleanup, attendance); only the OIDC token of the
configured scheduler service account, with this function's URL as audience, is accepted.
Answers what each job did; a job that failed is reported in the answer, the others run.
"""

import functions_framework

# Every run queries Firestore: load its client library before gunicorn forks.
import shared.adapters.firestore  # noqa: F401
from shared.auth.callers import authenticate_service
from shared.bootstrap import container
from shared.http import Request, Router
from shared.services.maintenance import run_jobs


def _scheduler(request: Request):
    return authenticate_service(request.bearer_token(), service_tokens=container().service_tokens, caller="Cloud Scheduler")


container()  # read the configuration now: a bad value stops the instance at start-up
router = Router("maintenance", container, auth=_scheduler)


@router.route("POST", "/")
def run(request: Request) -> dict:
    c = container()
    jobs = c.maintenance.jobs() | {"attendance": lambda now: c.attendance_job.run(now)}
    return run_jobs(jobs, request.json().get("jobs"), c.clock.now())


@functions_framework.http
def maintenance(request):
    return router.handle(request)
