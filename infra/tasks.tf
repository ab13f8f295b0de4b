# The email queue. interviews, scheduling, reminders and maintenance create one task per email
# (named after the outbox document, so a duplicate is refused); Cloud Tasks POSTs it to
# email_worker with an OIDC token of the tasks invoker account (audience = the worker's
# URL). The retry policy is the one devstack/stack.py queue_retry_config() gives the
# local queue: keep the two equal.

resource "google_cloud_tasks_queue" "emails" {
  project  = var.project_id
  name     = "convene-emails"
  location = var.region

  retry_config {
    max_attempts  = 8
    min_backoff   = "1s"
    max_backoff   = "300s"
    max_doublings = 5
  }

  # SendGrid accepts far more than this; the bound keeps bursts (a reminder run, a mass
  # reschedule) from scaling the worker past its max instances.
  rate_limits {
    max_dispatches_per_second = var.email_dispatches_per_second
    max_concurrent_dispatches = 20
  }

  stackdriver_logging_config {
    sampling_ratio = 1.0
  }

  depends_on = [google_project_service.service]
}
