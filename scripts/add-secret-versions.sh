#!/usr/bin/env bash
# Add a version to one of Convene's Secret Manager secrets (infra/ creates the secrets
# without values: no value is ever in the repository or in the Terraform state).
#
#   scripts/add-secret-versions.sh PROJECT_ID generate token-key
#   scripts/add-secret-versions.sh PROJECT_ID generate guest-link-key
#   scripts/add-secret-versions.sh PROJECT_ID set oauth-client     < client_secret.json
#   scripts/add-secret-versions.sh PROJECT_ID set sendgrid-api-key < sendgrid.key
#
# Values travel only through pipes (gcloud --data-file=-), never as command-line
# arguments (visible in `ps` and shell history) nor in temporary files.
#
# Formats (what the code expects):
#   convene-token-key           base64 of 32 random bytes, no newline (shared/crypto.py:
#                               AES-256-GCM; base64.b64decode(validate=True) refuses a
#                               trailing newline). Generated here with a CSPRNG.
#   convene-guest-link-key      random bytes used as the HMAC-SHA256 key of guest links
#                               (shared/auth/guest_links.py); generated the same way.
#   convene-google-oauth-client {"client_id": ..., "client_secret": ...}. The JSON that the
#                               console downloads ({"web": {...}}) is accepted and reduced
#                               to those two fields.
#   convene-sendgrid-api-key    the API key (SG....), surrounding whitespace removed.
#
# Rotation (each function caches a secret for 5 minutes, shared/secrets.py):
#   token-key       `generate token-key` adds a new version; new tokens are sealed with it
#                   and every stored ciphertext names the version that sealed it, so old
#                   versions must stay ENABLED until nothing references them (tokens are
#                   re-sealed under the newest key when next written; the hourly
#                   maintenance run refreshes connected accounts). Never destroy a token-key
#                   version that may still be referenced: those tokens become unreadable
#                   and their hosts must reconnect Google.
#   guest-link-key  `generate guest-link-key`; a link carries its key version, so keep the
#                   old version enabled until the last link signed with it expires
#                   (interview end + CONVENE_GUEST_LINK_DAYS_AFTER_END, 7 days by default).
#                   To revoke every outstanding link at once (key leaked), add a version and
#                   disable the old one: `gcloud secrets versions disable N --secret ...`.
#   oauth-client    create a new client secret on the same OAuth client in the console,
#                   `set oauth-client` with it, wait 5 minutes, then delete the old client
#                   secret in the console and disable the old version.
#   sendgrid-api-key create a new key in SendGrid, `set sendgrid-api-key`, wait 5 minutes,
#                   revoke the old key in SendGrid and disable the old version.
set -euo pipefail

usage() {
  cat >&2 <<'EOF'
usage: scripts/add-secret-versions.sh PROJECT_ID generate token-key|guest-link-key
       scripts/add-secret-versions.sh PROJECT_ID set oauth-client|sendgrid-api-key < FILE

  generate  a new random key (32 bytes from a CSPRNG, base64) as the secret's newest version
  set       the secret's newest version read from stdin (never from the command line)
EOF
  exit 2
}

[ "$#" -eq 3 ] || usage
PROJECT_ID=$1
ACTION=$2
WHICH=$3

[[ $PROJECT_ID =~ ^[a-z][a-z0-9-]{4,28}[a-z0-9]$ ]] || { echo "error: '$PROJECT_ID' is not a project id" >&2; exit 2; }
command -v gcloud >/dev/null || { echo "error: gcloud is not on PATH" >&2; exit 1; }
command -v python3 >/dev/null || { echo "error: python3 is not on PATH" >&2; exit 1; }

# Secret ids: infra/locals.tf local.secrets (the defaults in shared/config.py).
case "$WHICH" in
  token-key) SECRET=convene-token-key ;;
  guest-link-key) SECRET=convene-guest-link-key ;;
  oauth-client) SECRET=convene-google-oauth-client ;;
  sendgrid-api-key) SECRET=convene-sendgrid-api-key ;;
  *) usage ;;
esac

add_version() {  # $1: the value. printf is a bash builtin: the value never appears in argv.
  local value=$1
  if [ -z "$value" ]; then
    echo "error: refusing to add an empty version to $SECRET" >&2
    exit 1
  fi
  printf '%s' "$value" | gcloud secrets versions add "$SECRET" --project "$PROJECT_ID" --data-file=- --format='value(name)'
}

# Each value is produced (and checked) completely before gcloud runs: a failed check
# never leaves a half-made version as "latest".
case "$ACTION:$WHICH" in
  generate:token-key | generate:guest-link-key)
    value=$(python3 -c 'import base64, secrets, sys; sys.stdout.write(base64.b64encode(secrets.token_bytes(32)).decode())')
    ;;

  set:oauth-client)
    [ -t 0 ] && { echo "error: pipe the OAuth client JSON on stdin: ... set oauth-client < client_secret.json" >&2; exit 2; }
    value=$(python3 -c '
import json, sys
try:
    data = json.load(sys.stdin)
except ValueError as exc:
    sys.exit(f"error: stdin is not JSON ({exc})")
if isinstance(data, dict) and isinstance(data.get("web"), dict):
    data = data["web"]  # the file the console downloads
elif isinstance(data, dict) and "installed" in data:
    sys.exit("error: this is a desktop (installed) client; Convene needs a Web application client")
if not isinstance(data, dict) or not all(isinstance(data.get(k), str) and data[k].strip() for k in ("client_id", "client_secret")):
    sys.exit("error: expected {\"client_id\": ..., \"client_secret\": ...} (or the console download {\"web\": {...}})")
sys.stdout.write(json.dumps({"client_id": data["client_id"].strip(), "client_secret": data["client_secret"].strip()}, separators=(",", ":")))
')
    ;;

  set:sendgrid-api-key)
    if [ -t 0 ]; then
      # Interactive: read without echo rather than take the key as an argument.
      IFS= read -r -s -p "SendGrid API key: " value
      echo >&2
    else
      value=$(cat)
    fi
    value=$(printf '%s' "$value" | tr -d '[:space:]')
    [ -n "$value" ] || { echo "error: empty SendGrid API key" >&2; exit 1; }
    [[ $value == SG.* ]] || echo "warning: SendGrid API keys start with SG." >&2
    ;;

  *) usage ;;
esac

add_version "$value"
unset value
echo "added a version to $SECRET (functions pick it up within 5 minutes)" >&2
