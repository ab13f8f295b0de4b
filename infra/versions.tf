# Terraform and provider pins, and the remote state.
#
# The state lives in a GCS bucket made by scripts/bootstrap.sh; the bucket and prefix are
# given at init time, never written here:
#   terraform init -backend-config=bucket=<project>-tfstate -backend-config=prefix=convene/terraform
terraform {
  required_version = ">= 1.5"

  required_providers {
    google = {
      source  = "hashicorp/google"
      version = "~> 6.50"
    }
  }

  backend "gcs" {}
}

provider "google" {
  project = var.project_id
  region  = var.region

  default_labels = {
    app        = "convene"
    managed-by = "terraform"
  }
}
