# Alerting on failures: emails that end `failed` (the worker logs event=email_failed at
# ERROR when SendGrid refuses a message for good or the retries are spent) and the share
# of 5xx answers per function.

resource "google_monitoring_notification_channel" "email" {
  project      = var.project_id
  display_name = "Convene alerts"
  type         = "email"

  labels = {
    email_address = var.alert_email
  }

  depends_on = [google_project_service.service]
}

resource "google_logging_metric" "email_send_failed" {
  project = var.project_id
  name    = "${var.name_prefix}_email_send_failed"
  filter = join(" AND ", [
    "resource.type=\"cloud_run_revision\"",
    "resource.labels.service_name=\"${local.function_names["email_worker"]}\"",
    "severity>=ERROR",
    "jsonPayload.event=\"email_failed\"",
  ])

  metric_descriptor {
    metric_kind  = "DELTA"
    value_type   = "INT64"
    unit         = "1"
    display_name = "Convene emails failed"
  }

  depends_on = [google_project_service.service]
}

resource "google_monitoring_alert_policy" "email_send_failed" {
  project               = var.project_id
  display_name          = "Convene: email sends failed"
  combiner              = "OR"
  severity              = "ERROR"
  notification_channels = [google_monitoring_notification_channel.email.id]

  conditions {
    display_name = "An email ended failed"

    condition_threshold {
      filter          = "metric.type=\"logging.googleapis.com/user/${google_logging_metric.email_send_failed.name}\" AND resource.type=\"cloud_run_revision\""
      comparison      = "COMPARISON_GT"
      threshold_value = 0
      duration        = "0s"

      aggregations {
        alignment_period     = "300s"
        per_series_aligner   = "ALIGN_SUM"
        cross_series_reducer = "REDUCE_SUM"
      }

      trigger {
        count = 1
      }
    }
  }

  alert_strategy {
    auto_close = "86400s"
  }

  documentation {
    mime_type = "text/markdown"
    content   = "An email was refused for good by SendGrid or ran out of retries. Logs: `resource.labels.service_name=\"${local.function_names["email_worker"]}\" jsonPayload.event=\"email_failed\"` (error_code says why; the outbox document has status failed)."
  }
}

# 5xx share per function: 5xx requests / all requests over 5 minutes, on the Cloud Run
# service under the function.
resource "google_monitoring_alert_policy" "function_5xx" {
  for_each = local.functions

  project               = var.project_id
  display_name          = "Convene: ${each.value.name} 5xx rate"
  combiner              = "OR"
  severity              = "ERROR"
  notification_channels = [google_monitoring_notification_channel.email.id]

  conditions {
    display_name = "${each.value.name}: 5xx above ${var.error_rate_threshold * 100}% of requests"

    condition_threshold {
      filter = join(" AND ", [
        "metric.type=\"run.googleapis.com/request_count\"",
        "resource.type=\"cloud_run_revision\"",
        "resource.label.service_name=\"${each.value.name}\"",
        "metric.label.response_code_class=\"5xx\"",
      ])
      denominator_filter = join(" AND ", [
        "metric.type=\"run.googleapis.com/request_count\"",
        "resource.type=\"cloud_run_revision\"",
        "resource.label.service_name=\"${each.value.name}\"",
      ])
      comparison              = "COMPARISON_GT"
      threshold_value         = var.error_rate_threshold
      duration                = "300s"
      evaluation_missing_data = "EVALUATION_MISSING_DATA_INACTIVE"

      aggregations {
        alignment_period     = "300s"
        per_series_aligner   = "ALIGN_RATE"
        cross_series_reducer = "REDUCE_SUM"
        group_by_fields      = ["resource.label.service_name"]
      }

      denominator_aggregations {
        alignment_period     = "300s"
        per_series_aligner   = "ALIGN_RATE"
        cross_series_reducer = "REDUCE_SUM"
        group_by_fields      = ["resource.label.service_name"]
      }
    }
  }

  alert_strategy {
    auto_close = "86400s"
  }

  documentation {
    mime_type = "text/markdown"
    content   = "More than ${var.error_rate_threshold * 100}% of ${each.value.name}'s requests answered 5xx over 5 minutes. Logs: `resource.labels.service_name=\"${each.value.name}\" severity>=ERROR`."
  }

  depends_on = [google_project_service.service]
}
