# Who may do what. Function service accounts get only resource-level grants derived from
# local.functions; nothing else is granted to them anywhere in this configuration.
#
#   datastore.user         project  (Firestore has no finer grain) - functions with firestore = true
#   secretAccessor         each secret, per reader                   - secrets.tf
#   cloudtasks.enqueuer    the email queue                           - functions with enqueues = true
#   iam.serviceAccountUser the tasks invoker account only            - the same enqueuers (tasks carry its OIDC token)
#   run.invoker            each function's Cloud Run service         - local.functions[*].invoker: allUsers (public) or the one caller account

# Identities that Cloud Tasks and Cloud Scheduler put in the OIDC tokens they attach.
# Their emails are the internal functions' CONVENE_INTERNAL_INVOKERS (devstack/stack.py
# uses the same account ids locally).
resource "google_service_account" "tasks_invoker" {
  project      = var.project_id
  account_id   = "${var.name_prefix}-tasks"
  display_name = "Convene Cloud Tasks invoker (email_worker)"

  depends_on = [google_project_service.service]
}

resource "google_service_account" "scheduler_invoker" {
  project      = var.project_id
  account_id   = "${var.name_prefix}-scheduler"
  display_name = "Convene Cloud Scheduler invoker (reminders, maintenance)"

  depends_on = [google_project_service.service]
}

resource "google_project_iam_member" "datastore_user" {
  for_each = local.firestore_users

  project = var.project_id
  role    = "roles/datastore.user"
  member  = google_service_account.function[each.key].member
}

resource "google_cloud_tasks_queue_iam_member" "enqueuer" {
  for_each = local.enqueuers

  project  = var.project_id
  location = google_cloud_tasks_queue.emails.location
  name     = google_cloud_tasks_queue.emails.name
  role     = "roles/cloudtasks.enqueuer"
  member   = google_service_account.function[each.key].member
}

# Creating a task with an OIDC token of tasks_invoker needs actAs on that account.
resource "google_service_account_iam_member" "enqueuer_acts_as_tasks_invoker" {
  for_each = local.enqueuers

  service_account_id = google_service_account.tasks_invoker.name
  role               = "roles/iam.serviceAccountUser"
  member             = google_service_account.function[each.key].member
}

# Invokers of the Cloud Run service under each function (2nd gen functions are invoked
# through run.invoker): local.functions[*].invoker is allUsers for the public functions,
# which authenticate every request themselves (Firebase ID tokens, signed guest links,
# OAuth state), and exactly the one caller account (Cloud Tasks' or Cloud Scheduler's)
# for the internal ones, the same account as their CONVENE_INTERNAL_INVOKERS.
resource "google_cloud_run_service_iam_member" "invoker" {
  #checkov:skip=CKV_GCP_102:allUsers only on join, oauth, interviews and scheduling (public APIs by design, each authenticates every request in code); internal functions get exactly their one caller account (checked by tests/infra/wiring.py). checkov cannot resolve each.value.invoker, so the public grant is declared here
  for_each = local.functions

  project  = var.project_id
  location = var.region
  service  = google_cloudfunctions2_function.function[each.key].name
  role     = "roles/run.invoker"
  member   = each.value.invoker
}

# The account that builds the function images (functions.tf): build logs, the image in
# Artifact Registry (gcf-artifacts repository, created by Cloud Functions) and reading
# the uploaded source.
resource "google_project_iam_member" "build" {
  for_each = toset([
    "roles/logging.logWriter",
    "roles/artifactregistry.writer",
    "roles/storage.objectViewer",
  ])

  project = var.project_id
  role    = each.value
  member  = google_service_account.function_build.member
}
