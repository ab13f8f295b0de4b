# Cloud Scheduler calls the two scheduled functions with an OIDC token of the scheduler
# invoker account, audience = the function's URL (what CONVENE_INTERNAL_AUDIENCE
# expects). attempt_deadline covers the function's whole timeout (Scheduler allows at
# most 30 minutes): a slow run is not cut off and retried while still running.

resource "google_cloud_scheduler_job" "reminders" {
  project   = var.project_id
  region    = var.region
  name      = "${var.name_prefix}-reminders"
  schedule  = var.reminders_schedule
  time_zone = var.scheduler_time_zone

  # The function's timeout is 300 s.
  attempt_deadline = "360s"

  retry_config {
    retry_count          = 1
    min_backoff_duration = "30s"
    max_backoff_duration = "120s"
    max_doublings        = 2
  }

  http_target {
    http_method = "POST"
    uri         = local.function_urls["reminders"]
    headers = {
      "Content-Type" = "application/json"
    }
    body = base64encode("{}")

    oidc_token {
      service_account_email = google_service_account.scheduler_invoker.email
      audience              = local.function_urls["reminders"]
    }
  }

  lifecycle {
    precondition {
      condition     = local.functions["reminders"].timeout <= 360
      error_message = "The reminders job's attempt_deadline (360s) must be at least the function's timeout."
    }
  }

  depends_on = [google_project_service.service]
}

resource "google_cloud_scheduler_job" "maintenance" {
  project   = var.project_id
  region    = var.region
  name      = "${var.name_prefix}-maintenance"
  schedule  = var.maintenance_schedule
  time_zone = var.scheduler_time_zone

  # The function's timeout is 540 s (a thousand token refreshes in a row take minutes).
  attempt_deadline = "600s"

  # Each job resumes where the last run stopped (maintenance/{job} documents), so one
  # retry is enough; the next hourly run picks up the rest.
  retry_config {
    retry_count          = 1
    min_backoff_duration = "60s"
    max_backoff_duration = "300s"
    max_doublings        = 2
  }

  http_target {
    http_method = "POST"
    uri         = local.function_urls["maintenance"]
    headers = {
      "Content-Type" = "application/json"
    }
    body = base64encode("{}")

    oidc_token {
      service_account_email = google_service_account.scheduler_invoker.email
      audience              = local.function_urls["maintenance"]
    }
  }

  lifecycle {
    precondition {
      condition     = local.functions["maintenance"].timeout <= 600
      error_message = "The maintenance job's attempt_deadline (600s) must be at least the function's timeout."
    }
  }

  depends_on = [google_project_service.service]
}
