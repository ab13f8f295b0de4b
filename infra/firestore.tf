# The (default) Firestore database, every composite index the code's queries need, and
# the TTL policies. The emulator ignores indexes; production answers FAILED_PRECONDITION
# to a query whose composite index is missing, so each query shape has one here (the
# table in infra/README.md says which query uses which index).

resource "google_firestore_database" "default" {
  project     = var.project_id
  name        = "(default)"
  location_id = var.firestore_location
  type        = "FIRESTORE_NATIVE"

  app_engine_integration_mode       = "DISABLED"
  point_in_time_recovery_enablement = "POINT_IN_TIME_RECOVERY_ENABLED"
  delete_protection_state           = "DELETE_PROTECTION_ENABLED"
  # On destroy, Terraform forgets the database instead of deleting it; with delete
  # protection on, even a direct API delete is refused.
  deletion_policy = "ABANDON"

  depends_on = [google_project_service.service]

  lifecycle {
    # `terraform destroy` (or a change forcing replacement) stops with an error instead of
    # planning to delete every interview.
    prevent_destroy = true
  }
}

# Every composite index the code's queries need, by name: the collection and its fields in
# order (`__name__` last, in the direction of the last order field). tests/infra checks this
# list against every query the test suites record (tests/infra/firestore_indexes.py).
locals {
  composite_indexes = {
    # admin list (GET /interviews), oldest first
    interviews_workspace_start_asc = { collection = "interviews", fields = [["workspace_id", "ASCENDING"], ["start", "ASCENDING"], ["__name__", "ASCENDING"]] }
    # admin list (GET /interviews), newest first
    interviews_workspace_start_desc = { collection = "interviews", fields = [["workspace_id", "ASCENDING"], ["start", "DESCENDING"], ["__name__", "DESCENDING"]] }
    # list filtered by status (== or in), oldest first; also the analytics counts (status ==, start range)
    interviews_workspace_status_start_asc = { collection = "interviews", fields = [["workspace_id", "ASCENDING"], ["status", "ASCENDING"], ["start", "ASCENDING"], ["__name__", "ASCENDING"]] }
    # list filtered by status (== or in), newest first
    interviews_workspace_status_start_desc = { collection = "interviews", fields = [["workspace_id", "ASCENDING"], ["status", "ASCENDING"], ["start", "DESCENDING"], ["__name__", "DESCENDING"]] }
    # host list, oldest first
    interviews_workspace_host_start_asc = { collection = "interviews", fields = [["workspace_id", "ASCENDING"], ["host.uid", "ASCENDING"], ["start", "ASCENDING"], ["__name__", "ASCENDING"]] }
    # host list, newest first
    interviews_workspace_host_start_desc = { collection = "interviews", fields = [["workspace_id", "ASCENDING"], ["host.uid", "ASCENDING"], ["start", "DESCENDING"], ["__name__", "DESCENDING"]] }
    # host list filtered by status, oldest first; also the analytics counts (host.uid, status ==, start range)
    # and the host's active interviews of booking-link availability (status in, start range)
    interviews_workspace_host_status_start_asc = { collection = "interviews", fields = [["workspace_id", "ASCENDING"], ["host.uid", "ASCENDING"], ["status", "ASCENDING"], ["start", "ASCENDING"], ["__name__", "ASCENDING"]] }
    # host list filtered by status, newest first
    interviews_workspace_host_status_start_desc = { collection = "interviews", fields = [["workspace_id", "ASCENDING"], ["host.uid", "ASCENDING"], ["status", "ASCENDING"], ["start", "DESCENDING"], ["__name__", "DESCENDING"]] }
    # analytics average duration (completed, start range)
    interviews_workspace_status_start_duration = { collection = "interviews", fields = [["workspace_id", "ASCENDING"], ["status", "ASCENDING"], ["start", "ASCENDING"], ["actual_duration_minutes", "ASCENDING"]] }
    # analytics average duration for one host
    interviews_workspace_host_status_start_duration = { collection = "interviews", fields = [["workspace_id", "ASCENDING"], ["host.uid", "ASCENDING"], ["status", "ASCENDING"], ["start", "ASCENDING"], ["actual_duration_minutes", "ASCENDING"]] }
    # attendance job: confirmed Meet interviews ended in a window, ordered by end
    interviews_status_type_end = { collection = "interviews", fields = [["status", "ASCENDING"], ["type", "ASCENDING"], ["end", "ASCENDING"]] }
    # maintenance calendar sync: connected, last_sync_at older than a day
    connections_status_last_sync_at = { collection = "connections", fields = [["status", "ASCENDING"], ["last_sync_at", "ASCENDING"]] }
    # maintenance reconnect notices: needs_reauth since the lookback
    connections_status_last_error_at = { collection = "connections", fields = [["status", "ASCENDING"], ["last_error.at", "ASCENDING"]] }
    # maintenance cleanup: final outbox documents older than the retention
    outbox_status_updated_at = { collection = "outbox", fields = [["status", "ASCENDING"], ["updated_at", "ASCENDING"]] }
    # booking links (shared/adapters/scheduling.py): a guest's pending requests to a host from a
    # time on, counted (an aggregation); the host's active interviews in a range use
    # interviews_workspace_host_status_start_asc
    interviews_workspace_host_status_guest_start = { collection = "interviews", fields = [["workspace_id", "ASCENDING"], ["host.uid", "ASCENDING"], ["status", "ASCENDING"], ["guest_email_key", "ASCENDING"], ["start", "ASCENDING"], ["__name__", "ASCENDING"]] }
    # scheduling configurations of a workspace, oldest first
    scheduling_configs_workspace_created = { collection = "scheduling_configs", fields = [["workspace_id", "ASCENDING"], ["created_at", "ASCENDING"], ["__name__", "ASCENDING"]] }
    # scheduling configurations of one host, oldest first
    scheduling_configs_workspace_host_created = { collection = "scheduling_configs", fields = [["workspace_id", "ASCENDING"], ["host_uid", "ASCENDING"], ["created_at", "ASCENDING"], ["__name__", "ASCENDING"]] }
    # booking links of a workspace, newest first
    booking_links_workspace_created = { collection = "booking_links", fields = [["workspace_id", "ASCENDING"], ["created_at", "DESCENDING"], ["__name__", "DESCENDING"]] }
    # booking links of one host, newest first
    booking_links_workspace_host_created = { collection = "booking_links", fields = [["workspace_id", "ASCENDING"], ["host_uid", "ASCENDING"], ["created_at", "DESCENDING"], ["__name__", "DESCENDING"]] }
    # booking links of one configuration, newest first
    booking_links_workspace_config_created = { collection = "booking_links", fields = [["workspace_id", "ASCENDING"], ["config_id", "ASCENDING"], ["created_at", "DESCENDING"], ["__name__", "DESCENDING"]] }
    # booking links of one host's configuration, newest first
    booking_links_workspace_host_config_created = { collection = "booking_links", fields = [["workspace_id", "ASCENDING"], ["host_uid", "ASCENDING"], ["config_id", "ASCENDING"], ["created_at", "DESCENDING"], ["__name__", "DESCENDING"]] }
  }
}

resource "google_firestore_index" "index" {
  for_each = local.composite_indexes

  project     = var.project_id
  database    = google_firestore_database.default.name
  collection  = each.value.collection
  query_scope = "COLLECTION"

  dynamic "fields" {
    for_each = each.value.fields
    content {
      field_path = fields.value[0]
      order      = fields.value[1]
    }
  }
}

# TTL policies: Firestore deletes a document some time (usually within a day) after its
# expires_at. The maintenance cleanup job deletes the same documents sooner with an
# `expires_at <` query, so the field keeps its ascending single-field index (an explicit
# index_config, so the TTL override never leaves the field unindexed).
resource "google_firestore_field" "oauth_states_expires_at" {
  project    = var.project_id
  database   = google_firestore_database.default.name
  collection = "oauth_states"
  field      = "expires_at"

  ttl_config {}

  index_config {
    indexes {
      order       = "ASCENDING"
      query_scope = "COLLECTION"
    }
  }
}

resource "google_firestore_field" "idempotency_expires_at" {
  project    = var.project_id
  database   = google_firestore_database.default.name
  collection = "idempotency"
  field      = "expires_at"

  ttl_config {}

  index_config {
    indexes {
      order       = "ASCENDING"
      query_scope = "COLLECTION"
    }
  }
}

# host_blocks (shared/adapters/bookings.py): one document per host and 15-minute block of a
# confirmed interview, read by id only while the block can still be booked. expires_at is
# the block's end + 2 days. No query uses the field, so it has no index at all (a steadily
# increasing timestamp's index is the write hotspot Firestore's TTL guidance warns of).
resource "google_firestore_field" "host_blocks_expires_at" {
  project    = var.project_id
  database   = google_firestore_database.default.name
  collection = "host_blocks"
  field      = "expires_at"

  ttl_config {}

  index_config {}
}

# booking_link_rates (shared/adapters/scheduling.py): one counter per booking link and UTC
# hour, incremented by each booking attempt through the link and read back only by that
# write. expires_at is the hour's end + 1 hour; no query uses it, so it has no index.
resource "google_firestore_field" "booking_link_rates_expires_at" {
  project    = var.project_id
  database   = google_firestore_database.default.name
  collection = "booking_link_rates"
  field      = "expires_at"

  ttl_config {}

  index_config {}
}
