# Secret Manager secrets WITHOUT values: no google_secret_manager_secret_version here, so
# no value is ever in this repository or in the Terraform state. Versions are added with
# scripts/add-secret-versions.sh (CSPRNG keys; OAuth client and SendGrid key from stdin).
#
# Each secret is readable only by the functions whose code reads it: one
# secretAccessor binding per (function, secret) pair on the secret itself, never a
# project-wide grant.

resource "google_secret_manager_secret" "secret" {
  for_each = local.secrets

  project   = var.project_id
  secret_id = each.value

  replication {
    auto {}
  }

  labels = {
    secret = replace(each.key, "_", "-")
  }

  # Losing the token key makes every stored Google token undecryptable; losing the
  # guest-link key invalidates every emailed link. Set to false deliberately before a
  # real teardown.
  deletion_protection = true

  depends_on = [google_project_service.service]
}

resource "google_secret_manager_secret_iam_member" "accessor" {
  for_each = local.secret_grants

  project   = var.project_id
  secret_id = google_secret_manager_secret.secret[each.value.secret].secret_id
  role      = "roles/secretmanager.secretAccessor"
  member    = google_service_account.function[each.value.function].member
}
