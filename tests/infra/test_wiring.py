"""infra/ gives each function what its code reads, and nothing more (tests.infra.wiring).

The real infra/ must agree with the code; each broken copy (one realistic mistake each)
must be caught with a message that names the function and the mistake.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

from tests.infra import code_contract, wiring

INFRA = code_contract.ROOT / "infra"


def test_the_real_infra_agrees_with_the_code():
    assert wiring.check(INFRA) == []


def test_the_contract_is_derived_from_the_code():
    """Spot checks of the derivation itself, on facts visible in the code."""
    needs = code_contract.all_needs()
    assert set(needs) == {"join", "oauth", "interviews", "scheduling", "email_worker", "reminders", "maintenance"}
    assert {n for n, need in needs.items() if need.internal} == {"email_worker", "reminders", "maintenance"}
    assert {n for n, need in needs.items() if need.enqueues_tasks} == {"interviews", "scheduling", "reminders", "maintenance"}
    assert needs["join"].secret_vars == {"CONVENE_GUEST_LINK_SECRET"}
    # scheduling verifies signed links and reads the host's Google credentials (free/busy, events)
    assert needs["scheduling"].secret_vars == {
        "CONVENE_GUEST_LINK_SECRET",
        "CONVENE_TOKEN_KEY_SECRET",
        "CONVENE_OAUTH_CLIENT_SECRET",
    }
    assert needs["scheduling"].uses_firestore
    # booking pages ({base}/book/{link}) and the emailed manage / respond links
    assert "CONVENE_SCHEDULING_URL" in needs["scheduling"].required_env
    assert "CONVENE_SCHEDULING_URL" in needs["email_worker"].required_env
    assert "CONVENE_SCHEDULING_URL" not in needs["join"].env_vars
    assert "CONVENE_SENDGRID_SECRET" in needs["email_worker"].secret_vars
    assert not any("CONVENE_SENDGRID_SECRET" in needs[n].secret_vars for n in needs if n != "email_worker")
    assert needs["reminders"].secret_vars == frozenset()
    assert "CONVENE_JOIN_OPENS_MINUTES" in needs["join"].env_vars
    assert "CONVENE_MAIL_FROM" not in needs["join"].env_vars
    # a property (oauth_callback_url) counts as the field it reads
    assert "CONVENE_OAUTH_PUBLIC_URL" in needs["oauth"].required_env


@pytest.fixture
def broken(tmp_path):
    """A copy of infra/ to break one thing in."""
    copy = tmp_path / "infra"
    shutil.copytree(INFRA, copy, ignore=shutil.ignore_patterns(".terraform", "*.tfstate*"))

    def edit(file: str, old: str | re.Pattern[str], new: str, *, function: str | None = None) -> Path:
        path = copy / file
        text = path.read_text()
        start, end = _function_block(text, function) if function else (0, len(text))
        block = text[start:end]
        changed = re.sub(old, new, block, count=1) if isinstance(old, re.Pattern) else block.replace(old, new, 1)
        assert changed != block, f"fixture edit did not apply: {old!r} in {file}"
        path.write_text(text[:start] + changed + text[end:])
        return copy

    return edit


def _function_block(text: str, function: str) -> tuple[int, int]:
    match = re.search(rf"\n    {function} = \{{\n", text)
    assert match, function
    return match.start(), text.index("\n    }\n", match.end()) + 7


def _errors(path: Path) -> str:
    return "\n".join(wiring.check(path))


def test_an_unknown_variable_is_caught(broken):
    infra = broken("locals.tf", "env = {\n", 'env = {\n        CONVENE_NOT_A_SETTING = "x"\n', function="join")
    assert "local.functions.join.env sets CONVENE_NOT_A_SETTING, which shared/config.py does not know" in _errors(infra)


def test_a_missing_variable_is_caught(broken):
    infra = broken("locals.tf", re.compile(r"\n\s*CONVENE_PORTAL_URL\s*=.*"), "", function="interviews")
    assert "local.functions.interviews.env lacks CONVENE_PORTAL_URL" in _errors(infra)


def test_a_missing_scheduling_url_is_caught(broken):
    infra = broken("locals.tf", re.compile(r"\n\s*CONVENE_SCHEDULING_URL\s*=.*"), "", function="email_worker")
    assert "local.functions.email_worker.env lacks CONVENE_SCHEDULING_URL" in _errors(infra)


def test_a_public_booking_function_marked_internal_is_caught(broken):
    infra = broken("locals.tf", "public        = true", "public        = false", function="scheduling")
    assert "scheduling authenticates its own callers" in _errors(infra)


def test_a_local_override_in_a_deployment_is_caught(broken):
    infra = broken("locals.tf", "env = {\n", 'env = {\n        CONVENE_SECRETS_BACKEND = "local"\n', function="oauth")
    assert "CONVENE_SECRETS_BACKEND, a local/test override" in _errors(infra)


def test_a_variable_the_function_never_reads_is_caught(broken):
    infra = broken("locals.tf", "env = {\n", "env = {\n        CONVENE_MAIL_FROM = var.mail_from\n", function="join")
    assert "local.functions.join.env sets CONVENE_MAIL_FROM, which join's code never reads" in _errors(infra)


def test_a_project_wide_secret_grant_is_caught(broken):
    infra = broken(
        "iam.tf",
        'resource "google_project_iam_member" "datastore_user"',
        """resource "google_project_iam_member" "secrets_for_all" {
  project = var.project_id
  role    = "roles/secretmanager.secretAccessor"
  member  = google_service_account.function["join"].member
}

resource "google_project_iam_member" "datastore_user\"""",
    )
    assert "google_project_iam_member.secrets_for_all grants roles/secretmanager.secretAccessor on the whole project" in _errors(
        infra
    )


def test_a_secret_read_but_not_granted_is_caught(broken):
    infra = broken("locals.tf", ', "sendgrid_api_key"]', "]", function="email_worker")
    assert "local.functions.email_worker.secrets must be exactly the secrets its code reads" in _errors(infra)
    assert "not granted: ['sendgrid_api_key']" in _errors(infra)


def test_a_secret_granted_but_not_read_is_caught(broken):
    infra = broken(
        "locals.tf",
        'secrets       = ["guest_link_key"]',
        'secrets       = ["guest_link_key", "sendgrid_api_key"]',
        function="join",
    )
    assert "not read: ['sendgrid_api_key']" in _errors(infra)


def test_an_internal_function_open_to_all_users_is_caught(broken):
    infra = broken(
        "locals.tf", re.compile(r'invoker\s*=\s*"serviceAccount:[^"]*"'), 'invoker = "allUsers"', function="email_worker"
    )
    assert "local.functions.email_worker.invoker must be serviceAccount:${google_service_account.tasks_invoker.email}" in _errors(
        infra
    )


def test_an_extra_public_grant_anywhere_is_caught(broken):
    infra = broken(
        "iam.tf",
        "# Invokers of the Cloud Run service",
        """resource "google_cloud_run_service_iam_member" "open_reminders" {
  project  = var.project_id
  location = var.region
  service  = google_cloudfunctions2_function.function["reminders"].name
  role     = "roles/run.invoker"
  member   = "allUsers"
}

# Invokers of the Cloud Run service""",
    )
    assert "google_cloud_run_service_iam_member.open_reminders: invoker grants must iterate local.functions" in _errors(infra)


def test_a_public_function_marked_internal_is_caught(broken):
    infra = broken("locals.tf", "public        = true", "public        = false", function="interviews")
    assert "interviews authenticates its own callers" in _errors(infra)


def test_a_wrong_audience_is_caught(broken):
    infra = broken(
        "locals.tf",
        re.compile(r'CONVENE_INTERNAL_AUDIENCE\s*=\s*local.function_urls\["reminders"\]'),
        'CONVENE_INTERNAL_AUDIENCE = local.function_urls["maintenance"]',
        function="reminders",
    )
    assert 'local.functions.reminders.env.CONVENE_INTERNAL_AUDIENCE must be local.function_urls["reminders"]' in _errors(infra)


def test_invokers_that_do_not_match_the_caller_are_caught(broken):
    infra = broken(
        "locals.tf",
        re.compile(r"CONVENE_INTERNAL_INVOKERS\s*=\s*google_service_account.scheduler_invoker.email"),
        "CONVENE_INTERNAL_INVOKERS = google_service_account.tasks_invoker.email",
        function="maintenance",
    )
    assert (
        "local.functions.maintenance.env.CONVENE_INTERNAL_INVOKERS must be ${google_service_account.scheduler_invoker.email}"
        in _errors(infra)
    )


def test_a_scheduler_job_with_the_wrong_audience_is_caught(broken):
    infra = broken(
        "scheduler.tf", re.compile(r'audience\s*=\s*local.function_urls\["maintenance"\]'), 'audience = "https://example.com"'
    )
    assert 'oidc_token.audience must be ${local.function_urls["maintenance"]}' in _errors(infra)


def test_a_missing_scheduler_job_is_caught(broken):
    infra = broken("scheduler.tf", re.compile(r'uri\s*=\s*local.function_urls\["reminders"\]'), 'uri = "https://example.com"')
    assert "no google_cloud_scheduler_job calls reminders" in _errors(infra)


def test_a_queue_retry_policy_unlike_the_codes_is_caught(broken):
    infra = broken("tasks.tf", re.compile(r"max_attempts\s*=\s*8"), "max_attempts = 100")
    assert "retry_config.max_attempts is 100, the code expects 8" in _errors(infra)


def test_a_secret_value_in_terraform_is_caught(broken):
    infra = broken(
        "secrets.tf",
        'resource "google_secret_manager_secret"',
        """resource "google_secret_manager_secret_version" "leak" {
  secret      = google_secret_manager_secret.secret["token_key"].id
  secret_data = "c2VjcmV0"
}

resource "google_secret_manager_secret\"""",
    )
    assert "google_secret_manager_secret_version.leak: secret values never go into Terraform" in _errors(infra)


def test_a_function_missing_from_infra_is_caught(broken):
    text = (INFRA / "locals.tf").read_text()
    start, end = _function_block(text, "maintenance")
    infra = broken("locals.tf", text[start:end], "\n")
    assert (
        "local.functions has ['email_worker', 'interviews', 'join', 'oauth', 'reminders', 'scheduling'], functions/ has"
        in _errors(infra)
    )
