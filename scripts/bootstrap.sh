#!/usr/bin/env bash
# One-time set-up of an empty Google Cloud project for Convene, before the first build:
#
#   scripts/bootstrap.sh PROJECT_ID REGION [STATE_BUCKET] [DEPLOYER_SA_NAME]
#
# - enables the APIs Terraform needs before it can enable the rest itself
#   (serviceusage, cloudresourcemanager, cloudbuild, storage, iam);
# - creates the Terraform state bucket (default: <project>-tfstate): versioned, uniform
#   bucket-level access, public access prevention enforced;
# - creates the deployer service account (default: convene-deployer) that cloudbuild.yaml
#   runs as, and grants it the roles `terraform apply` of infra/ needs (listed below).
#
# Idempotent: re-running it changes nothing that is already in place. Needs gcloud
# authenticated as a project Owner (or someone holding the same grants). Billing must be
# enabled on the project (Identity Platform, Cloud Functions and Cloud Scheduler need it).
set -euo pipefail

usage() {
  cat >&2 <<'EOF'
usage: scripts/bootstrap.sh PROJECT_ID REGION [STATE_BUCKET] [DEPLOYER_SA_NAME]

  PROJECT_ID        the (empty) Google Cloud project that will host Convene
  REGION            region of the state bucket, e.g. europe-west1 (use the deploy region)
  STATE_BUCKET      Terraform state bucket to create (default: PROJECT_ID-tfstate)
  DEPLOYER_SA_NAME  account id of the Cloud Build deployer (default: convene-deployer)
EOF
  exit 2
}

[ "$#" -ge 2 ] && [ "$#" -le 4 ] || usage
PROJECT_ID=$1
REGION=$2
STATE_BUCKET=${3:-${PROJECT_ID}-tfstate}
DEPLOYER=${4:-convene-deployer}

[[ $PROJECT_ID =~ ^[a-z][a-z0-9-]{4,28}[a-z0-9]$ ]] || { echo "error: '$PROJECT_ID' is not a project id" >&2; exit 2; }
[[ $REGION =~ ^[a-z]+-[a-z]+[0-9]+$ ]] || { echo "error: '$REGION' is not a region such as europe-west1" >&2; exit 2; }
command -v gcloud >/dev/null || { echo "error: gcloud is not on PATH" >&2; exit 1; }

DEPLOYER_EMAIL="${DEPLOYER}@${PROJECT_ID}.iam.gserviceaccount.com"

# Roles of the deployer (project level), and why. These are what applying infra/ takes;
# nothing here reads a secret value except secretmanager.admin, which no narrower
# predefined role avoids (creating secrets and setting their IAM policy).
ROLES=(
  roles/serviceusage.serviceUsageAdmin   # google_project_service: enable the APIs infra/ uses
  roles/iam.serviceAccountAdmin          # create the function / invoker / build accounts, set IAM on the tasks invoker
  roles/iam.serviceAccountUser           # actAs: deploy functions as their accounts, Scheduler jobs as the scheduler invoker
  roles/resourcemanager.projectIamAdmin  # project-level grants: datastore.user per function, the function build account's roles
  roles/cloudfunctions.admin             # google_cloudfunctions2_function
  roles/run.admin                        # run.invoker bindings on the Cloud Run services under the functions
  roles/datastore.owner                  # the Firestore database, composite indexes, TTL fields
  roles/secretmanager.admin              # secrets (no versions) and their per-secret accessor bindings
  roles/cloudtasks.admin                 # the email queue and its enqueuer bindings
  roles/cloudscheduler.admin             # the reminders / maintenance jobs
  roles/storage.admin                    # the artifacts bucket, zip uploads, Terraform state objects
  roles/monitoring.editor                # notification channel and alert policies
  roles/logging.configWriter             # the log-based metric of failed emails
  roles/logging.logWriter                # the build's own logs (cloudbuild.yaml: CLOUD_LOGGING_ONLY)
  roles/identitytoolkit.admin            # google_identity_platform_config
)

run() { echo "+ $*" >&2; "$@"; }

echo "== APIs needed before Terraform can run" >&2
run gcloud services enable --project "$PROJECT_ID" \
  serviceusage.googleapis.com cloudresourcemanager.googleapis.com cloudbuild.googleapis.com \
  storage.googleapis.com iam.googleapis.com

echo "== Terraform state bucket gs://$STATE_BUCKET" >&2
if gcloud storage buckets describe "gs://$STATE_BUCKET" --project "$PROJECT_ID" >/dev/null 2>&1; then
  echo "exists" >&2
else
  run gcloud storage buckets create "gs://$STATE_BUCKET" --project "$PROJECT_ID" --location "$REGION" \
    --uniform-bucket-level-access --public-access-prevention
fi
run gcloud storage buckets update "gs://$STATE_BUCKET" --versioning --uniform-bucket-level-access --public-access-prevention

echo "== Deployer service account $DEPLOYER_EMAIL" >&2
if gcloud iam service-accounts describe "$DEPLOYER_EMAIL" --project "$PROJECT_ID" >/dev/null 2>&1; then
  echo "exists" >&2
else
  run gcloud iam service-accounts create "$DEPLOYER" --project "$PROJECT_ID" \
    --display-name "Convene deployer (Cloud Build: test, package, terraform)"
fi
for role in "${ROLES[@]}"; do
  run gcloud projects add-iam-policy-binding "$PROJECT_ID" --member "serviceAccount:$DEPLOYER_EMAIL" \
    --role "$role" --condition None --quiet >/dev/null
done

cat <<EOF

Done. Next steps (infra/README.md has the details):

1. Write the deployment's variables (copy infra/terraform.tfvars.example) and store them
   next to the state:
     gcloud storage cp deploy.tfvars gs://$STATE_BUCKET/convene/terraform/deploy.tfvars
2. Let whoever submits builds run them as the deployer:
     gcloud iam service-accounts add-iam-policy-binding $DEPLOYER_EMAIL --project $PROJECT_ID \\
       --member user:YOU@example.com --role roles/iam.serviceAccountUser
3. First build (creates the artifacts bucket, uploads the zips, applies infra/):
     gcloud builds submit --project $PROJECT_ID --config cloudbuild.yaml \\
       --substitutions _REGION=$REGION,_STATE_BUCKET=$STATE_BUCKET,_ARTIFACTS_BUCKET=$PROJECT_ID-convene-artifacts,_APPLY=true,_BUILD_SERVICE_ACCOUNT=$DEPLOYER_EMAIL
4. Add the secret values (never in the repository or the Terraform state):
     scripts/add-secret-versions.sh $PROJECT_ID generate token-key
     scripts/add-secret-versions.sh $PROJECT_ID generate guest-link-key
     scripts/add-secret-versions.sh $PROJECT_ID set oauth-client < client_secret.json
     scripts/add-secret-versions.sh $PROJECT_ID set sendgrid-api-key < sendgrid.key
5. Register the OAuth web client's redirect URI (terraform output oauth_redirect_uri),
   configure Identity Platform's sign-in providers and verify the SendGrid sender.
EOF
