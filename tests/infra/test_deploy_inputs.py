"""Bad deploy input stops early with a clear message: Cloud Build substitutions, the
package manifest that names each function's zip, and Terraform's required variables."""

from __future__ import annotations

import json
import re
import subprocess
import sys

import pytest
import yaml

from tests.infra import code_contract

ROOT = code_contract.ROOT
CLOUDBUILD = yaml.safe_load((ROOT / "cloudbuild.yaml").read_text())


def _step(step_id: str) -> dict:
    return next(step for step in CLOUDBUILD["steps"] if step.get("id") == step_id)


def _run_step_script(step_id: str, substitutions: dict[str, str]) -> subprocess.CompletedProcess:
    """Runs a bash step as Cloud Build would: substitutions first, then $$ -> $."""
    step = _step(step_id)
    script = step["args"][-1]
    values = (
        {k: v for k, v in CLOUDBUILD["substitutions"].items()} | {"PROJECT_ID": "acme-prod", "BUILD_ID": "b1"} | substitutions
    )

    def substitute(match: re.Match[str]) -> str:
        name = match.group(1) or match.group(2)
        return values.get(name, "")

    script = re.sub(r"(?<!\$)\$\{(_?[A-Z_]+)\}|(?<!\$)\$([A-Z_][A-Z_]+)", substitute, script).replace("$$", "$")
    flags = [a for a in step["args"][:-1] if a != "-c"]
    return subprocess.run(["bash", *flags, "-c", script], capture_output=True, text=True, timeout=30)


GOOD = {"_REGION": "europe-west1", "_ARTIFACTS_BUCKET": "acme-artifacts", "_STATE_BUCKET": "acme-tfstate", "_APPLY": "false"}


def test_good_substitutions_pass_the_first_step():
    result = _run_step_script("check-substitutions", GOOD)
    assert result.returncode == 0, result.stderr
    assert "apply=false" in result.stdout


@pytest.mark.parametrize(
    "override, message",
    [
        ({"_STATE_BUCKET": ""}, "set the _STATE_BUCKET substitution"),
        ({"_ARTIFACTS_BUCKET": ""}, "set the _ARTIFACTS_BUCKET substitution"),
        ({"_REGION": ""}, "set the _REGION substitution"),
        ({"_REGION": "Europe West"}, "is not a region"),
        ({"_APPLY": "yes"}, "_APPLY must be true or false"),
    ],
)
def test_a_missing_or_bad_substitution_stops_the_build_first(override, message):
    result = _run_step_script("check-substitutions", GOOD | override)
    assert result.returncode == 1
    assert message in result.stderr


def test_every_other_step_waits_for_the_substitution_check():
    """Nothing is tested, uploaded or created before the inputs are known to be good."""
    order = [step["id"] for step in CLOUDBUILD["steps"]]
    assert order[0] == "check-substitutions"
    for step in CLOUDBUILD["steps"][1:]:
        assert step.get("waitFor"), f"{step['id']} runs in parallel with the check (no waitFor)"
    apply = _step("terraform-apply")
    assert "tfplan" in apply["args"][-1], "apply must run the saved plan, not plan again"
    assert 'if [ "${_APPLY}" != "true" ]' in apply["args"][-1]


def test_terraform_runs_in_a_pinned_image():
    images = {step["name"] for step in CLOUDBUILD["steps"] if "terraform" in step["id"]}
    assert images == {"hashicorp/terraform:1.11.4"}


def _tfvars(tmp_path, manifest: dict | None) -> subprocess.CompletedProcess:
    path = tmp_path / "manifest.json"
    if manifest is not None:
        path.write_text(json.dumps(manifest))
    return subprocess.run(
        [
            sys.executable,
            str(ROOT / "scripts" / "tfvars_from_manifest.py"),
            "--manifest",
            str(path),
            "--out",
            str(tmp_path / "objects.tfvars.json"),
        ],
        capture_output=True,
        text=True,
        timeout=30,
    )


def test_the_manifest_becomes_function_objects(tmp_path):
    manifest = {name: {"zip": f"{name}-0123abcd4567.zip"} for name in code_contract.function_names()}
    result = _tfvars(tmp_path, manifest)
    assert result.returncode == 0, result.stderr
    objects = json.loads((tmp_path / "objects.tfvars.json").read_text())["function_objects"]
    assert objects == {name: f"functions/{name}-0123abcd4567.zip" for name in code_contract.function_names()}


def test_a_missing_manifest_or_function_stops_with_a_clear_message(tmp_path):
    missing = _tfvars(tmp_path, None)
    assert missing.returncode != 0 and "manifest" in missing.stderr
    partial = {name: {"zip": f"{name}-0123abcd4567.zip"} for name in code_contract.function_names() if name != "reminders"}
    result = _tfvars(tmp_path, partial)
    assert result.returncode != 0
    assert "reminders" in result.stderr
    assert not (tmp_path / "objects.tfvars.json").exists()


def test_function_keyed_variables_and_the_example_name_every_function_folder():
    """variables.tf validates the keys of function_objects, min_instances and max_instances
    against literal lists of function names: a folder added under functions/ (packaged and
    given an object by the manifest) but missing there would stop the plan."""
    text = (ROOT / "infra" / "variables.tf").read_text()
    functions = set(code_contract.function_names())
    for variable in ("function_objects", "min_instances", "max_instances"):
        block = text[text.index(f'variable "{variable}"') :]
        block = block[: block.index("\n}\n")]
        literals = re.findall(r'\[((?:\s*"[a-z_]+"\s*,?)+)\]', block)
        assert literals, variable
        for literal in literals:
            assert set(re.findall(r'"([a-z_]+)"', literal)) == functions, (variable, literal)
    example = (ROOT / "infra" / "terraform.tfvars.example").read_text()
    for name in functions:
        assert re.search(rf'^#\s+{name}\s*=\s*"functions/{name}-[0-9a-f]+\.zip"', example, re.MULTILINE), (
            f"terraform.tfvars.example: function_objects lacks {name}"
        )


def _variables() -> dict[str, dict]:
    import hcl2
    from hcl2 import SerializationOptions

    with (ROOT / "infra" / "variables.tf").open() as handle:
        document = hcl2.load(handle, serialization_options=SerializationOptions(strip_string_quotes=True, explicit_blocks=False))
    return {name: body for block in document["variable"] for name, body in block.items()}


def test_required_variables_have_no_default_and_are_in_the_example():
    """Terraform stops on a missing required variable ("No value for required variable")
    before it creates anything; the example file shows each one."""
    variables = _variables()
    required = {name for name, body in variables.items() if "default" not in body}
    assert {"project_id", "artifacts_bucket", "function_objects"} <= required
    example = (ROOT / "infra" / "terraform.tfvars.example").read_text()
    for name, body in variables.items():
        assert body.get("type"), f"variable {name} has no type"
        if name in required and name not in ("project_id", "artifacts_bucket", "function_objects"):  # set by cloudbuild
            assert re.search(rf"^\s*#?\s*{name}\s*=", example, re.MULTILINE), (
                f"{name} is required but not in terraform.tfvars.example"
            )


def test_the_firestore_database_cannot_be_destroyed_by_accident():
    text = (ROOT / "infra" / "firestore.tf").read_text()
    database = text[text.index('resource "google_firestore_database"') :]
    database = database[: database.index("\n}\n")]
    assert "prevent_destroy = true" in database
    assert re.search(r'delete_protection_state\s*=\s*"DELETE_PROTECTION_ENABLED"', database)
    assert re.search(r'deletion_policy\s*=\s*"ABANDON"', database)
    assert re.search(r'point_in_time_recovery_enablement\s*=\s*"POINT_IN_TIME_RECOVERY_ENABLED"', database)
