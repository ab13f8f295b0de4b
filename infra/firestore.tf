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

# admin list (GET /interviews), oldest first
resource "google_firestore_index" "interviews_workspace_start_asc" {
  project     = var.project_id
  database    = google_firestore_database.default.name
  collection  = "interviews"
  query_scope = "COLLECTION"

  fields {
    field_path = "workspace_id"
    order      = "ASCENDING"
  }

  fields {
    field_path = "start"
    order      = "ASCENDING"
  }

  fields {
    field_path = "__name__"
    order      = "ASCENDING"
  }
}

# admin list (GET /interviews), newest first
resource "google_firestore_index" "interviews_workspace_start_desc" {
  project     = var.project_id
  database    = google_firestore_database.default.name
  collection  = "interviews"
  query_scope = "COLLECTION"

  fields {
    field_path = "workspace_id"
    order      = "ASCENDING"
  }

  fields {
    field_path = "start"
    order      = "DESCENDING"
  }

  fields {
    field_path = "__name__"
    order      = "DESCENDING"
  }
}

# list filtered by status (== or in), oldest first; also the analytics counts (status ==, start range)
resource "google_firestore_index" "interviews_workspace_status_start_asc" {
  project     = var.project_id
  database    = google_firestore_database.default.name
  collection  = "interviews"
  query_scope = "COLLECTION"

  fields {
    field_path = "workspace_id"
    order      = "ASCENDING"
  }

  fields {
    field_path = "status"
    order      = "ASCENDING"
  }

  fields {
    field_path = "start"
    order      = "ASCENDING"
  }

  fields {
    field_path = "__name__"
    order      = "ASCENDING"
  }
}

# list filtered by status (== or in), newest first
resource "google_firestore_index" "interviews_workspace_status_start_desc" {
  project     = var.project_id
  database    = google_firestore_database.default.name
  collection  = "interviews"
  query_scope = "COLLECTION"

  fields {
    field_path = "workspace_id"
    order      = "ASCENDING"
  }

  fields {
    field_path = "status"
    order      = "ASCENDING"
  }

  fields {
    field_path = "start"
    order      = "DESCENDING"
  }

  fields {
    field_path = "__name__"
    order      = "DESCENDING"
  }
}

# host list, oldest first
resource "google_firestore_index" "interviews_workspace_host_start_asc" {
  project     = var.project_id
  database    = google_firestore_database.default.name
  collection  = "interviews"
  query_scope = "COLLECTION"

  fields {
    field_path = "workspace_id"
    order      = "ASCENDING"
  }

  fields {
    field_path = "host.uid"
    order      = "ASCENDING"
  }

  fields {
    field_path = "start"
    order      = "ASCENDING"
  }

  fields {
    field_path = "__name__"
    order      = "ASCENDING"
  }
}

# host list, newest first
resource "google_firestore_index" "interviews_workspace_host_start_desc" {
  project     = var.project_id
  database    = google_firestore_database.default.name
  collection  = "interviews"
  query_scope = "COLLECTION"

  fields {
    field_path = "workspace_id"
    order      = "ASCENDING"
  }

  fields {
    field_path = "host.uid"
    order      = "ASCENDING"
  }

  fields {
    field_path = "start"
    order      = "DESCENDING"
  }

  fields {
    field_path = "__name__"
    order      = "DESCENDING"
  }
}

# host list filtered by status, oldest first; also the analytics counts (host.uid, status ==, start range)
resource "google_firestore_index" "interviews_workspace_host_status_start_asc" {
  project     = var.project_id
  database    = google_firestore_database.default.name
  collection  = "interviews"
  query_scope = "COLLECTION"

  fields {
    field_path = "workspace_id"
    order      = "ASCENDING"
  }

  fields {
    field_path = "host.uid"
    order      = "ASCENDING"
  }

  fields {
    field_path = "status"
    order      = "ASCENDING"
  }

  fields {
    field_path = "start"
    order      = "ASCENDING"
  }

  fields {
    field_path = "__name__"
    order      = "ASCENDING"
  }
}

# host list filtered by status, newest first
resource "google_firestore_index" "interviews_workspace_host_status_start_desc" {
  project     = var.project_id
  database    = google_firestore_database.default.name
  collection  = "interviews"
  query_scope = "COLLECTION"

  fields {
    field_path = "workspace_id"
    order      = "ASCENDING"
  }

  fields {
    field_path = "host.uid"
    order      = "ASCENDING"
  }

  fields {
    field_path = "status"
    order      = "ASCENDING"
  }

  fields {
    field_path = "start"
    order      = "DESCENDING"
  }

  fields {
    field_path = "__name__"
    order      = "DESCENDING"
  }
}

# analytics average duration (completed, start range)
resource "google_firestore_index" "interviews_workspace_status_start_duration" {
  project     = var.project_id
  database    = google_firestore_database.default.name
  collection  = "interviews"
  query_scope = "COLLECTION"

  fields {
    field_path = "workspace_id"
    order      = "ASCENDING"
  }

  fields {
    field_path = "status"
    order      = "ASCENDING"
  }

  fields {
    field_path = "start"
    order      = "ASCENDING"
  }

  fields {
    field_path = "actual_duration_minutes"
    order      = "ASCENDING"
  }
}

# analytics average duration for one host
resource "google_firestore_index" "interviews_workspace_host_status_start_duration" {
  project     = var.project_id
  database    = google_firestore_database.default.name
  collection  = "interviews"
  query_scope = "COLLECTION"

  fields {
    field_path = "workspace_id"
    order      = "ASCENDING"
  }

  fields {
    field_path = "host.uid"
    order      = "ASCENDING"
  }

  fields {
    field_path = "status"
    order      = "ASCENDING"
  }

  fields {
    field_path = "start"
    order      = "ASCENDING"
  }

  fields {
    field_path = "actual_duration_minutes"
    order      = "ASCENDING"
  }
}

# attendance job: confirmed Meet interviews ended in a window, ordered by end
resource "google_firestore_index" "interviews_status_type_end" {
  project     = var.project_id
  database    = google_firestore_database.default.name
  collection  = "interviews"
  query_scope = "COLLECTION"

  fields {
    field_path = "status"
    order      = "ASCENDING"
  }

  fields {
    field_path = "type"
    order      = "ASCENDING"
  }

  fields {
    field_path = "end"
    order      = "ASCENDING"
  }
}

# maintenance calendar sync: connected, last_sync_at older than a day
resource "google_firestore_index" "connections_status_last_sync_at" {
  project     = var.project_id
  database    = google_firestore_database.default.name
  collection  = "connections"
  query_scope = "COLLECTION"

  fields {
    field_path = "status"
    order      = "ASCENDING"
  }

  fields {
    field_path = "last_sync_at"
    order      = "ASCENDING"
  }
}

# maintenance reconnect notices: needs_reauth since the lookback
resource "google_firestore_index" "connections_status_last_error_at" {
  project     = var.project_id
  database    = google_firestore_database.default.name
  collection  = "connections"
  query_scope = "COLLECTION"

  fields {
    field_path = "status"
    order      = "ASCENDING"
  }

  fields {
    field_path = "last_error.at"
    order      = "ASCENDING"
  }
}

# maintenance cleanup: final outbox documents older than the retention
resource "google_firestore_index" "outbox_status_updated_at" {
  project     = var.project_id
  database    = google_firestore_database.default.name
  collection  = "outbox"
  query_scope = "COLLECTION"

  fields {
    field_path = "status"
    order      = "ASCENDING"
  }

  fields {
    field_path = "updated_at"
    order      = "ASCENDING"
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
