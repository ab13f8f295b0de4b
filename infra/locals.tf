# What each function is and needs, in one place: functions.tf, iam.tf, secrets.tf,
# scheduler.tf and monitoring.tf all iterate over these maps.
#
# Environment: each function gets exactly the shared/config.py variables that its code
# reads on a production path and whose default is not right for production. Never the
# dev-only overrides (CONVENE_SECRETS_BACKEND, *_ENDPOINT, CONVENE_GOOGLE_*_URI,
# *_CERTS_URL, CONVENE_GOOGLE_BACKOFF_SCALE, CONVENE_SENDGRID_HOST, ...): their defaults
# are the real Google and SendGrid endpoints.
#
# Who reads which secret (see shared/bootstrap.py):
#   guest_link_key   join (verifies guest links), interviews (portal link in the create
#                    answer), scheduling (verifies the guest's manage and the host's
#                    respond links; portal link of a direct booking), email_worker (signs
#                    the candidate's portal link and the manage / respond links)
#   token_key        every function that opens or seals stored Google tokens: oauth,
#                    interviews, scheduling (free/busy of the host's calendars, the Calendar
#                    event of a direct booking), maintenance, email_worker (resolves a
#                    pending Meet link through the host's Calendar)
#   oauth_client     the same five (token exchange and refresh)
#   sendgrid_api_key email_worker only
# The four functions that hold the OAuth client also build connect links (a host whose
# Google grant lapsed is answered with one), so they get the same OAuth settings
# (public URL, result URLs, optional scopes) as the oauth function.
#
# CONVENE_SCHEDULING_URL (the scheduling function's own URL) is the base of booking-link
# pages ({url}/book/{link}) and of the emailed manage / respond links: scheduling and
# email_worker use it; interviews shares the email code that builds those links.
#
# Callers: `invoker` is the run.invoker member of the function's Cloud Run service
# (iam.tf): allUsers for the public functions (they authenticate every request), the
# one caller account for the internal ones, the same account as their
# CONVENE_INTERNAL_INVOKERS (`caller` says which: tasks or scheduler).

locals {
  # Cloud Function (and Cloud Run service) names: no underscores allowed, so email_worker
  # is <prefix>-email-worker. Kept apart from local.functions so that the URLs below can
  # be used inside local.functions without a cycle.
  function_names = {
    join         = "${var.name_prefix}-join"
    oauth        = "${var.name_prefix}-oauth"
    interviews   = "${var.name_prefix}-interviews"
    email_worker = "${var.name_prefix}-email-worker"
    reminders    = "${var.name_prefix}-reminders"
    maintenance  = "${var.name_prefix}-maintenance"
    scheduling   = "${var.name_prefix}-scheduling"
  }

  # Deterministic HTTPS URLs of 2nd gen functions: known at plan time, so audiences,
  # Scheduler targets and environment variables never wait for (or cycle on) a deploy.
  function_urls = { for k, name in local.function_names : k => "https://${var.region}-${var.project_id}.cloudfunctions.net/${name}" }

  # Secret Manager secret ids (the defaults of the *_SECRET variables in shared/config.py).
  secrets = {
    guest_link_key   = "convene-guest-link-key"
    token_key        = "convene-token-key"
    oauth_client     = "convene-google-oauth-client"
    sendgrid_api_key = "convene-sendgrid-api-key"
  }

  functions = {
    join = {
      name          = "${var.name_prefix}-join"
      entry_point   = "join"
      public        = true
      caller        = null
      invoker       = "allUsers"
      firestore     = true
      enqueues      = false
      secrets       = ["guest_link_key"]
      timeout       = 60
      memory        = "256Mi"
      min_instances = lookup(var.min_instances, "join", 0)
      max_instances = lookup(var.max_instances, "join", 50)
      env = {
        CONVENE_PROJECT_ID        = var.project_id
        CONVENE_LOG_LEVEL         = var.log_level
        CONVENE_CORS_ORIGINS      = join(",", var.cors_origins)
        CONVENE_GUEST_LINK_SECRET = google_secret_manager_secret.secret["guest_link_key"].secret_id
      }
    }

    oauth = {
      name          = "${var.name_prefix}-oauth"
      entry_point   = "oauth"
      public        = true
      caller        = null
      invoker       = "allUsers"
      firestore     = true
      enqueues      = false
      secrets       = ["token_key", "oauth_client"]
      timeout       = 60
      memory        = "256Mi"
      min_instances = lookup(var.min_instances, "oauth", 0)
      max_instances = lookup(var.max_instances, "oauth", 10)
      env = {
        CONVENE_PROJECT_ID             = var.project_id
        CONVENE_LOG_LEVEL              = var.log_level
        CONVENE_CORS_ORIGINS           = join(",", var.cors_origins)
        CONVENE_OAUTH_PUBLIC_URL       = local.function_urls["oauth"]
        CONVENE_OAUTH_RESULT_URLS      = join(",", var.oauth_result_urls)
        CONVENE_GOOGLE_OPTIONAL_SCOPES = join(",", var.google_optional_scopes)
        CONVENE_TOKEN_KEY_SECRET       = google_secret_manager_secret.secret["token_key"].secret_id
        CONVENE_OAUTH_CLIENT_SECRET    = google_secret_manager_secret.secret["oauth_client"].secret_id
      }
    }

    interviews = {
      name          = "${var.name_prefix}-interviews"
      entry_point   = "interviews"
      public        = true
      caller        = null
      invoker       = "allUsers"
      firestore     = true
      enqueues      = true
      secrets       = ["guest_link_key", "token_key", "oauth_client"]
      timeout       = 60
      memory        = "512Mi"
      min_instances = lookup(var.min_instances, "interviews", 0)
      max_instances = lookup(var.max_instances, "interviews", 30)
      env = {
        CONVENE_PROJECT_ID             = var.project_id
        CONVENE_LOG_LEVEL              = var.log_level
        CONVENE_CORS_ORIGINS           = join(",", var.cors_origins)
        CONVENE_OAUTH_PUBLIC_URL       = local.function_urls["oauth"]
        CONVENE_OAUTH_RESULT_URLS      = join(",", var.oauth_result_urls)
        CONVENE_GOOGLE_OPTIONAL_SCOPES = join(",", var.google_optional_scopes)
        CONVENE_PORTAL_URL             = "${local.function_urls["join"]}/portal"
        CONVENE_SCHEDULING_URL         = local.function_urls["scheduling"]
        CONVENE_EMAIL_WORKER_URL       = local.function_urls["email_worker"]
        CONVENE_TASKS_LOCATION         = var.region
        CONVENE_EMAIL_QUEUE            = google_cloud_tasks_queue.emails.name
        CONVENE_TASKS_SERVICE_ACCOUNT  = google_service_account.tasks_invoker.email
        CONVENE_GUEST_LINK_SECRET      = google_secret_manager_secret.secret["guest_link_key"].secret_id
        CONVENE_TOKEN_KEY_SECRET       = google_secret_manager_secret.secret["token_key"].secret_id
        CONVENE_OAUTH_CLIENT_SECRET    = google_secret_manager_secret.secret["oauth_client"].secret_id
      }
    }

    # Booking links, guest self-service and hosts' confirm / decline: public like
    # interviews (hosts with ID tokens, guests with a booking link or a signed link), reads
    # the host's Google credentials (free/busy, Calendar events of direct bookings) and
    # enqueues the booking emails.
    scheduling = {
      name          = "${var.name_prefix}-scheduling"
      entry_point   = "scheduling"
      public        = true
      caller        = null
      invoker       = "allUsers"
      firestore     = true
      enqueues      = true
      secrets       = ["guest_link_key", "token_key", "oauth_client"]
      timeout       = 60
      memory        = "512Mi"
      min_instances = lookup(var.min_instances, "scheduling", 0)
      max_instances = lookup(var.max_instances, "scheduling", 30)
      env = {
        CONVENE_PROJECT_ID             = var.project_id
        CONVENE_LOG_LEVEL              = var.log_level
        CONVENE_CORS_ORIGINS           = join(",", var.cors_origins)
        CONVENE_OAUTH_PUBLIC_URL       = local.function_urls["oauth"]
        CONVENE_OAUTH_RESULT_URLS      = join(",", var.oauth_result_urls)
        CONVENE_GOOGLE_OPTIONAL_SCOPES = join(",", var.google_optional_scopes)
        CONVENE_PORTAL_URL             = "${local.function_urls["join"]}/portal"
        CONVENE_SCHEDULING_URL         = local.function_urls["scheduling"]
        CONVENE_EMAIL_WORKER_URL       = local.function_urls["email_worker"]
        CONVENE_TASKS_LOCATION         = var.region
        CONVENE_EMAIL_QUEUE            = google_cloud_tasks_queue.emails.name
        CONVENE_TASKS_SERVICE_ACCOUNT  = google_service_account.tasks_invoker.email
        CONVENE_GUEST_LINK_SECRET      = google_secret_manager_secret.secret["guest_link_key"].secret_id
        CONVENE_TOKEN_KEY_SECRET       = google_secret_manager_secret.secret["token_key"].secret_id
        CONVENE_OAUTH_CLIENT_SECRET    = google_secret_manager_secret.secret["oauth_client"].secret_id
      }
    }

    email_worker = {
      name          = "${var.name_prefix}-email-worker"
      entry_point   = "email_worker"
      public        = false
      caller        = "tasks"
      invoker       = "serviceAccount:${google_service_account.tasks_invoker.email}"
      firestore     = true
      enqueues      = false
      secrets       = ["guest_link_key", "token_key", "oauth_client", "sendgrid_api_key"]
      timeout       = 60
      memory        = "256Mi"
      min_instances = lookup(var.min_instances, "email_worker", 0)
      max_instances = lookup(var.max_instances, "email_worker", 20)
      env = {
        CONVENE_PROJECT_ID             = var.project_id
        CONVENE_LOG_LEVEL              = var.log_level
        CONVENE_INTERNAL_AUDIENCE      = local.function_urls["email_worker"]
        CONVENE_INTERNAL_INVOKERS      = google_service_account.tasks_invoker.email
        CONVENE_MAIL_FROM              = var.mail_from
        CONVENE_MAIL_FROM_NAME         = var.mail_from_name
        CONVENE_PORTAL_URL             = "${local.function_urls["join"]}/portal"
        CONVENE_SCHEDULING_URL         = local.function_urls["scheduling"]
        CONVENE_OAUTH_PUBLIC_URL       = local.function_urls["oauth"]
        CONVENE_OAUTH_RESULT_URLS      = join(",", var.oauth_result_urls)
        CONVENE_GOOGLE_OPTIONAL_SCOPES = join(",", var.google_optional_scopes)
        CONVENE_GUEST_LINK_SECRET      = google_secret_manager_secret.secret["guest_link_key"].secret_id
        CONVENE_TOKEN_KEY_SECRET       = google_secret_manager_secret.secret["token_key"].secret_id
        CONVENE_OAUTH_CLIENT_SECRET    = google_secret_manager_secret.secret["oauth_client"].secret_id
        CONVENE_SENDGRID_SECRET        = google_secret_manager_secret.secret["sendgrid_api_key"].secret_id
      }
    }

    reminders = {
      name          = "${var.name_prefix}-reminders"
      entry_point   = "reminders"
      public        = false
      caller        = "scheduler"
      invoker       = "serviceAccount:${google_service_account.scheduler_invoker.email}"
      firestore     = true
      enqueues      = true
      secrets       = []
      timeout       = 300
      memory        = "256Mi"
      min_instances = lookup(var.min_instances, "reminders", 0)
      max_instances = lookup(var.max_instances, "reminders", 2)
      env = {
        CONVENE_PROJECT_ID            = var.project_id
        CONVENE_LOG_LEVEL             = var.log_level
        CONVENE_INTERNAL_AUDIENCE     = local.function_urls["reminders"]
        CONVENE_INTERNAL_INVOKERS     = google_service_account.scheduler_invoker.email
        CONVENE_EMAIL_WORKER_URL      = local.function_urls["email_worker"]
        CONVENE_TASKS_LOCATION        = var.region
        CONVENE_EMAIL_QUEUE           = google_cloud_tasks_queue.emails.name
        CONVENE_TASKS_SERVICE_ACCOUNT = google_service_account.tasks_invoker.email
      }
    }

    maintenance = {
      name          = "${var.name_prefix}-maintenance"
      entry_point   = "maintenance"
      public        = false
      caller        = "scheduler"
      invoker       = "serviceAccount:${google_service_account.scheduler_invoker.email}"
      firestore     = true
      enqueues      = true
      secrets       = ["token_key", "oauth_client"]
      timeout       = 540
      memory        = "512Mi"
      min_instances = lookup(var.min_instances, "maintenance", 0)
      max_instances = lookup(var.max_instances, "maintenance", 1)
      env = {
        CONVENE_PROJECT_ID             = var.project_id
        CONVENE_LOG_LEVEL              = var.log_level
        CONVENE_INTERNAL_AUDIENCE      = local.function_urls["maintenance"]
        CONVENE_INTERNAL_INVOKERS      = google_service_account.scheduler_invoker.email
        CONVENE_OAUTH_PUBLIC_URL       = local.function_urls["oauth"]
        CONVENE_OAUTH_RESULT_URLS      = join(",", var.oauth_result_urls)
        CONVENE_GOOGLE_OPTIONAL_SCOPES = join(",", var.google_optional_scopes)
        CONVENE_EMAIL_WORKER_URL       = local.function_urls["email_worker"]
        CONVENE_TASKS_LOCATION         = var.region
        CONVENE_EMAIL_QUEUE            = google_cloud_tasks_queue.emails.name
        CONVENE_TASKS_SERVICE_ACCOUNT  = google_service_account.tasks_invoker.email
        CONVENE_TOKEN_KEY_SECRET       = google_secret_manager_secret.secret["token_key"].secret_id
        CONVENE_OAUTH_CLIENT_SECRET    = google_secret_manager_secret.secret["oauth_client"].secret_id
      }
    }
  }

  # "<function>/<secret>" => {function, secret}: one secretAccessor grant on one secret each.
  secret_grants = merge([
    for fn, f in local.functions : {
      for secret in f.secrets : "${fn}/${secret}" => { function = fn, secret = secret }
    }
  ]...)

  firestore_users = { for k, f in local.functions : k => f if f.firestore }
  enqueuers       = { for k, f in local.functions : k => f if f.enqueues }
}
