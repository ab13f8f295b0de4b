output "function_urls" {
  description = "URL of every function (internal ones answer only their Scheduler / Tasks caller)."
  value       = local.function_urls
}

output "join_url" {
  description = "Public URL of the join function (participants' join check)."
  value       = local.function_urls["join"]
}

output "oauth_url" {
  description = "Public URL of the oauth function (hosts connect Google)."
  value       = local.function_urls["oauth"]
}

output "interviews_url" {
  description = "Public URL of the interviews function (hosts and admins)."
  value       = local.function_urls["interviews"]
}

output "scheduling_url" {
  description = "Public URL of the scheduling function (CONVENE_SCHEDULING_URL): hosts' scheduling configurations and booking links; guests' booking pages <url>/book/<link> and manage page <url>/manage; hosts' confirm / decline page <url>/respond."
  value       = local.function_urls["scheduling"]
}

output "oauth_redirect_uri" {
  description = "Authorized redirect URI to register on the Google OAuth web client."
  value       = "${local.function_urls["oauth"]}/callback"
}

output "portal_url" {
  description = "Base of the emailed join-via-portal links."
  value       = "${local.function_urls["join"]}/portal"
}

output "function_service_accounts" {
  description = "Runtime service account email of each function."
  value       = { for k, sa in google_service_account.function : k => sa.email }
}

output "tasks_invoker_email" {
  description = "Account whose OIDC token Cloud Tasks attaches to email deliveries (email_worker's only invoker)."
  value       = google_service_account.tasks_invoker.email
}

output "scheduler_invoker_email" {
  description = "Account whose OIDC token Cloud Scheduler attaches (reminders' and maintenance's only invoker)."
  value       = google_service_account.scheduler_invoker.email
}

output "email_queue" {
  description = "Cloud Tasks queue of email sends."
  value       = google_cloud_tasks_queue.emails.id
}

output "email_queue_name" {
  description = "Short name of the email queue (CONVENE_EMAIL_QUEUE)."
  value       = google_cloud_tasks_queue.emails.name
}

output "artifacts_bucket" {
  description = "Bucket holding the function zips."
  value       = google_storage_bucket.artifacts.name
}

output "secret_ids" {
  description = "Secret Manager secrets to give versions with scripts/add-secret-versions.sh."
  value       = { for k, s in google_secret_manager_secret.secret : k => s.secret_id }
}
