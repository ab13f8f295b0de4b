"""Cloud Function ``maintenance``: Cloud Scheduler calls it periodically (SPEC §2.7).

POST /   body {"jobs": [...]} optional (default: every job: connections, calendars, cleanup, attendance); only the OIDC token of the
configured scheduler service account, with this function's URL as audience, is accepted.
Answers what each job did; a job that failed is reported in the answer, the others run.
"""

import functions_framework

# Every run queries Firestore: load its client library before gunicorn forks.
import shared.adapters.firestore  # noqa: F401
from shared.auth.callers import internal_router
from shared.bootstrap import container
from shared.http import Request
from shared.services.maintenance import run_jobs

router = internal_router("maintenance", container, caller="Cloud Scheduler")  # reads the configuration now


@router.route("POST", "/")
def run(request: Request) -> dict:
    c = container()
    jobs = c.maintenance.jobs() | {"attendance": lambda now: c.attendance_job.run(now)}
    return run_jobs(jobs, request.json().get("jobs"), c.clock.now())


@functions_framework.http
def maintenance(request):
    return router.handle(request)
