# The artifacts bucket: function zips under functions/ (content-addressed names, never
# overwritten: `gcloud storage cp --no-clobber`) and each build's manifest under
# functions/manifests/. Rollback = deploy an older manifest's object names.

resource "google_storage_bucket" "artifacts" {
  #checkov:skip=CKV_GCP_62:holds only build outputs (function zips and manifests) written by the build account; who read or wrote them is in Cloud Audit Logs, and a usage-log bucket would itself need a log bucket
  project  = var.project_id
  name     = var.artifacts_bucket
  location = var.region

  uniform_bucket_level_access = true
  public_access_prevention    = "enforced"
  force_destroy               = false

  versioning {
    enabled = true
  }

  # A replaced or deleted object version is kept for a while (recoverable), then deleted.
  lifecycle_rule {
    condition {
      days_since_noncurrent_time = var.artifacts_noncurrent_days
      with_state                 = "ARCHIVED"
    }
    action {
      type = "Delete"
    }
  }

  depends_on = [google_project_service.service]
}
