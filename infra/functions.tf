# The seven Cloud Functions (2nd gen, python312), each from its own content-addressed zip
# in the artifacts bucket (scripts/package.py names it <function>-<hash>.zip, so new code
# is a new object name and a redeploy), each running as its own service account.

resource "google_service_account" "function" {
  for_each = local.functions

  project      = var.project_id
  account_id   = "${var.name_prefix}-fn-${replace(each.key, "_", "-")}"
  display_name = "Convene ${each.key} function"

  depends_on = [google_project_service.service]
}

# Builds the function images (Cloud Build, on deploy). A dedicated account: new projects
# no longer give the Compute Engine default account the roles a build needs.
resource "google_service_account" "function_build" {
  project      = var.project_id
  account_id   = "${var.name_prefix}-fn-build"
  display_name = "Convene function builds"

  depends_on = [google_project_service.service]
}

resource "google_cloudfunctions2_function" "function" {
  #checkov:skip=CKV_GCP_124:join, oauth, interviews and scheduling must be ALLOW_ALL (browsers, guests' booking pages and Google's OAuth redirect call them); the internal functions get ALLOW_INTERNAL_ONLY (Cloud Scheduler and Cloud Tasks count as internal), which checkov cannot see through the conditional
  for_each = local.functions

  project  = var.project_id
  name     = each.value.name
  location = var.region

  labels = {
    function = replace(each.key, "_", "-")
  }

  build_config {
    runtime         = "python312"
    entry_point     = each.value.entry_point
    service_account = google_service_account.function_build.id

    source {
      storage_source {
        bucket = google_storage_bucket.artifacts.name
        object = var.function_objects[each.key]
      }
    }
  }

  service_config {
    service_account_email          = google_service_account.function[each.key].email
    timeout_seconds                = each.value.timeout
    available_memory               = each.value.memory
    min_instance_count             = each.value.min_instances
    max_instance_count             = each.value.max_instances
    environment_variables          = each.value.env
    ingress_settings               = each.value.public ? "ALLOW_ALL" : "ALLOW_INTERNAL_ONLY"
    all_traffic_on_latest_revision = true
  }

  lifecycle {
    precondition {
      condition     = each.value.name == local.function_names[each.key]
      error_message = "locals.tf: functions.${each.key}.name must equal function_names.${each.key} (the URLs are derived from function_names)."
    }
    precondition {
      condition     = each.value.min_instances <= each.value.max_instances
      error_message = "min_instances.${each.key} must not exceed max_instances.${each.key}."
    }
  }

  depends_on = [
    google_project_service.service,
    google_project_iam_member.build,
    # A new instance may read its secrets and Firestore from its first request.
    google_secret_manager_secret_iam_member.accessor,
    google_project_iam_member.datastore_user,
  ]
}
