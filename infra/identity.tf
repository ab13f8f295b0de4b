# Identity Platform (Firebase Auth): issues the ID tokens the public functions verify
# (CONVENE_FIREBASE_PROJECT_ID defaults to this project). Terraform turns it on with
# email sign-in and the authorized domains; the Google sign-in provider needs an OAuth
# client secret, which must not enter the state: see the manual steps in infra/README.md.

resource "google_identity_platform_config" "default" {
  project = var.project_id

  authorized_domains = length(var.identity_authorized_domains) > 0 ? var.identity_authorized_domains : null

  sign_in {
    allow_duplicate_emails = false

    email {
      enabled           = true
      password_required = true
    }
  }

  depends_on = [google_project_service.service]
}
