# Inputs. Required variables have no default: a missing one stops plan with Terraform's
# "No value for required variable" before anything is created. Cloud Build passes
# project_id, region and artifacts_bucket with -var, function_objects from
# dist/manifest.json (scripts/tfvars_from_manifest.py) and everything else from the
# deployment's tfvars file (see terraform.tfvars.example).

variable "project_id" {
  type        = string
  description = "Google Cloud project id that hosts Convene."

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{4,28}[a-z0-9]$", var.project_id))
    error_message = "project_id must be a Google Cloud project id: 6-30 lowercase letters, digits or hyphens, starting with a letter."
  }
}

variable "region" {
  type        = string
  description = "Region of the functions, the Cloud Tasks queue, the Scheduler jobs and the artifacts bucket."
  default     = "europe-west1"

  validation {
    condition     = can(regex("^[a-z]+-[a-z]+[0-9]+$", var.region))
    error_message = "region must be a Google Cloud region such as europe-west1 (not a zone, not a multi-region)."
  }
}

variable "name_prefix" {
  type        = string
  description = "Prefix of every function and service account name (function names are <prefix>-<function>)."
  default     = "convene"

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{0,10}[a-z0-9]$", var.name_prefix))
    error_message = "name_prefix must be 2-12 lowercase letters, digits or hyphens, starting with a letter (service account ids are at most 30 characters)."
  }
}

variable "firestore_location" {
  type        = string
  description = "Location of the (default) Firestore database, e.g. eur3 or europe-west1. It cannot be changed after creation."

  validation {
    condition     = can(regex("^(nam5|eur3|nam7|[a-z]+-[a-z]+[0-9]+)$", var.firestore_location))
    error_message = "firestore_location must be a Firestore multi-region (nam5, nam7, eur3) or a region such as europe-west1."
  }
}

variable "artifacts_bucket" {
  type        = string
  description = "Name of the bucket (created here) that holds the function zips under functions/."

  validation {
    condition     = can(regex("^[a-z0-9][a-z0-9_-]{1,61}[a-z0-9]$", var.artifacts_bucket)) && !startswith(var.artifacts_bucket, "goog")
    error_message = "artifacts_bucket must be a valid bucket name: 3-63 lowercase letters, digits, hyphens or underscores, not starting with goog."
  }
}

variable "function_objects" {
  type        = map(string)
  description = "Object name of each function's zip in the artifacts bucket, e.g. {join = \"functions/join-0123456789ab.zip\"}. Made from dist/manifest.json by scripts/tfvars_from_manifest.py."

  validation {
    condition = (
      length(setsubtract(keys(var.function_objects), ["join", "oauth", "interviews", "scheduling", "email_worker", "reminders", "maintenance"])) == 0 &&
      length(setsubtract(["join", "oauth", "interviews", "scheduling", "email_worker", "reminders", "maintenance"], keys(var.function_objects))) == 0
    )
    error_message = "function_objects must have exactly the keys join, oauth, interviews, scheduling, email_worker, reminders and maintenance (one per folder under functions/)."
  }

  validation {
    condition     = alltrue([for object in values(var.function_objects) : endswith(object, ".zip") && !startswith(object, "gs://")])
    error_message = "Each function_objects value must be an object name inside the artifacts bucket (no gs:// prefix) ending in .zip."
  }
}

variable "cors_origins" {
  type        = list(string)
  description = "Front-end origins allowed by CORS on the public functions (exact match: scheme://host[:port], no path, no trailing slash)."

  validation {
    condition     = alltrue([for origin in var.cors_origins : can(regex("^(https://[a-z0-9.-]+(:[0-9]+)?|http://(localhost|127\\.0\\.0\\.1)(:[0-9]+)?)$", origin))])
    error_message = "Each cors_origins entry must be an origin such as https://app.example.com (https, no path, no trailing slash; http only for localhost)."
  }
}

variable "oauth_result_urls" {
  type        = list(string)
  description = "Front-end URLs the OAuth callback may redirect to (exact match); the first is also the link in reconnect emails. Empty: a small result page is shown."
  default     = []

  validation {
    condition     = alltrue([for url in var.oauth_result_urls : can(regex("^https://[^\\s,]+$", url))])
    error_message = "Each oauth_result_urls entry must be an https URL without commas or spaces."
  }
}

variable "mail_from" {
  type        = string
  description = "Sender address of every email (must be a verified sender or domain in SendGrid)."

  validation {
    condition     = can(regex("^[^@\\s]+@[^@\\s]+\\.[a-z]{2,}$", var.mail_from))
    error_message = "mail_from must be an email address."
  }
}

variable "mail_from_name" {
  type        = string
  description = "Sender name of every email."
  default     = "Convene"

  validation {
    condition     = length(trimspace(var.mail_from_name)) > 0 && length(var.mail_from_name) <= 100
    error_message = "mail_from_name must be 1-100 characters."
  }
}

variable "google_optional_scopes" {
  type        = list(string)
  description = "Extra Google scopes asked for at connect but not required, e.g. https://www.googleapis.com/auth/meetings.space.readonly (real Meet attendance)."
  default     = []

  validation {
    condition     = alltrue([for scope in var.google_optional_scopes : startswith(scope, "https://www.googleapis.com/auth/")])
    error_message = "Each google_optional_scopes entry must be a Google OAuth scope URL (https://www.googleapis.com/auth/...)."
  }
}

variable "log_level" {
  type        = string
  description = "Minimum log severity of every function."
  default     = "INFO"

  validation {
    condition     = contains(["DEBUG", "INFO", "WARNING", "ERROR"], var.log_level)
    error_message = "log_level must be DEBUG, INFO, WARNING or ERROR."
  }
}

variable "reminders_schedule" {
  type        = string
  description = "Cron schedule of the reminders job (unix-cron, in scheduler_time_zone)."
  default     = "*/5 * * * *"

  validation {
    condition     = can(regex("^\\S+( \\S+){4}$", trimspace(var.reminders_schedule))) && can(regex("^[0-9*/,A-Za-z -]+$", var.reminders_schedule))
    error_message = "reminders_schedule must be a five-field unix-cron expression such as */5 * * * *."
  }
}

variable "maintenance_schedule" {
  type        = string
  description = "Cron schedule of the maintenance job (unix-cron, in scheduler_time_zone)."
  default     = "17 * * * *"

  validation {
    condition     = can(regex("^\\S+( \\S+){4}$", trimspace(var.maintenance_schedule))) && can(regex("^[0-9*/,A-Za-z -]+$", var.maintenance_schedule))
    error_message = "maintenance_schedule must be a five-field unix-cron expression such as 17 * * * *."
  }
}

variable "scheduler_time_zone" {
  type        = string
  description = "Time zone (IANA name) of the Scheduler jobs' cron schedules."
  default     = "Etc/UTC"

  validation {
    condition     = can(regex("^[A-Za-z_]+(/[A-Za-z0-9_+-]+)*$", var.scheduler_time_zone))
    error_message = "scheduler_time_zone must be an IANA time zone name such as Etc/UTC or Europe/Paris."
  }
}

variable "min_instances" {
  type        = map(number)
  description = "Minimum instances per function (keys: function folder names); missing keys mean 0 (scale to zero)."
  default     = {}

  validation {
    condition = (
      length(setsubtract(keys(var.min_instances), ["join", "oauth", "interviews", "scheduling", "email_worker", "reminders", "maintenance"])) == 0 &&
      alltrue([for n in values(var.min_instances) : n >= 0 && n <= 100 && floor(n) == n])
    )
    error_message = "min_instances keys must be function folder names (join, oauth, interviews, scheduling, email_worker, reminders, maintenance) and values whole numbers 0-100."
  }
}

variable "max_instances" {
  type        = map(number)
  description = "Maximum instances per function (keys: function folder names); missing keys use the defaults in locals.tf."
  default     = {}

  validation {
    condition = (
      length(setsubtract(keys(var.max_instances), ["join", "oauth", "interviews", "scheduling", "email_worker", "reminders", "maintenance"])) == 0 &&
      alltrue([for n in values(var.max_instances) : n >= 1 && n <= 1000 && floor(n) == n])
    )
    error_message = "max_instances keys must be function folder names (join, oauth, interviews, scheduling, email_worker, reminders, maintenance) and values whole numbers 1-1000."
  }
}

variable "alert_email" {
  type        = string
  description = "Email address that receives the alerts (email send failures, 5xx rates)."

  validation {
    condition     = can(regex("^[^@\\s]+@[^@\\s]+\\.[a-z]{2,}$", var.alert_email))
    error_message = "alert_email must be an email address."
  }
}

variable "error_rate_threshold" {
  type        = number
  description = "Share of a function's requests answered 5xx (over 5 minutes) above which an alert opens."
  default     = 0.05

  validation {
    condition     = var.error_rate_threshold > 0 && var.error_rate_threshold <= 1
    error_message = "error_rate_threshold must be a fraction in (0, 1]."
  }
}

variable "identity_authorized_domains" {
  type        = list(string)
  description = "Domains allowed to use Identity Platform (Firebase Auth) sign-in, e.g. the front-end's host. Empty: leave the project's list as it is."
  default     = []

  validation {
    condition     = alltrue([for domain in var.identity_authorized_domains : can(regex("^[a-z0-9.-]+$", domain))])
    error_message = "Each identity_authorized_domains entry must be a bare host name such as app.example.com (no scheme, no path)."
  }
}

variable "email_dispatches_per_second" {
  type        = number
  description = "Rate at which Cloud Tasks hands emails to the worker (SendGrid's API allows far more; this bounds bursts)."
  default     = 10

  validation {
    condition     = var.email_dispatches_per_second > 0 && var.email_dispatches_per_second <= 500
    error_message = "email_dispatches_per_second must be between 0 (exclusive) and 500."
  }
}

variable "artifacts_noncurrent_days" {
  type        = number
  description = "Days a replaced or deleted zip version is kept in the artifacts bucket before deletion."
  default     = 30

  validation {
    condition     = var.artifacts_noncurrent_days >= 1 && floor(var.artifacts_noncurrent_days) == var.artifacts_noncurrent_days
    error_message = "artifacts_noncurrent_days must be a whole number of days, at least 1."
  }
}
