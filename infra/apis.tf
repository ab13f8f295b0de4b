# The Google APIs Convene uses. scripts/bootstrap.sh enables the few Terraform itself
# needs first (serviceusage, cloudresourcemanager, iam, storage, cloudbuild).
# disable_on_destroy = false: destroying this configuration must never switch an API off
# under other workloads of the project.

resource "google_project_service" "service" {
  for_each = toset([
    "artifactregistry.googleapis.com", # images built from the function zips
    "calendar-json.googleapis.com",    # hosts' calendars and events (host OAuth tokens)
    "cloudbuild.googleapis.com",       # builds of 2nd gen functions
    "cloudfunctions.googleapis.com",   # the seven functions
    "cloudscheduler.googleapis.com",   # reminders / maintenance jobs
    "cloudtasks.googleapis.com",       # the email queue
    "firestore.googleapis.com",        # the database
    "iam.googleapis.com",              # service accounts
    "iamcredentials.googleapis.com",   # OIDC tokens minted for Scheduler and Tasks calls
    "identitytoolkit.googleapis.com",  # Identity Platform (Firebase Auth ID tokens)
    "logging.googleapis.com",          # log-based metric of failed emails
    "meet.googleapis.com",             # Meet attendance (optional scope)
    "monitoring.googleapis.com",       # alert policies
    "run.googleapis.com",              # the Cloud Run services under the functions
    "secretmanager.googleapis.com",    # keys, OAuth client, SendGrid key
    "storage.googleapis.com",          # artifacts bucket
  ])

  project = var.project_id
  service = each.value

  disable_on_destroy         = false
  disable_dependent_services = false
}
