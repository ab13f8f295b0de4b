"""infra/ matches the google provider's schema, the offline stand-in for `terraform validate`.

Each broken case is the good fixture with exactly one defect, and the test asserts that the
check reports that defect and nothing else: the check can fail, and fails for the right reason.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.infra import tfschema

INFRA = tfschema.REPO / "infra"
GOOD = Path(__file__).parent / "fixtures" / "schema" / "good"


@pytest.fixture(scope="module")
def schema() -> tfschema.ProviderSchema:
    return tfschema.load_schema()


def test_infra_matches_provider_schema(schema: tfschema.ProviderSchema) -> None:
    if not tfschema.tf_files(INFRA):
        pytest.skip("infra/ has no .tf files yet: schema check skipped")
    errors = tfschema.check_directory(INFRA, schema)
    assert not errors, f"{len(errors)} error(s) against google provider 6.50.0:\n" + "\n".join(errors)


def test_good_fixture_passes(schema: tfschema.ProviderSchema) -> None:
    assert tfschema.check_directory(GOOD, schema) == []


# (file, text to replace, replacement, fragments the errors must contain: one per error)
BROKEN: dict[str, tuple[str, str, str, list[str]]] = {
    "unknown resource type": (
        "main.tf",
        '"google_cloud_tasks_queue" "emails"',
        '"google_cloud_task_queue" "emails"',
        [
            'good/main.tf: google_cloud_task_queue.emails: unknown resource type "google_cloud_task_queue" (did you mean google_cloud_tasks_queue?)'
        ],
    ),
    "unknown data source type": (
        "main.tf",
        'data "google_project"',
        'data "google_projekt"',
        ['data.google_projekt.current: unknown data source type "google_projekt" (did you mean google_project?)'],
    ),
    "unknown attribute, with a suggestion": (
        "main.tf",
        "timeout_seconds       = 60",
        "timeout               = 60",
        [
            'good/main.tf: google_cloudfunctions2_function.join: service_config: unknown attribute "timeout" (did you mean timeout_seconds?)'
        ],
    ),
    "unknown nested block": (
        "main.tf",
        "  retry_config {",
        "  retry {",
        ['google_cloud_tasks_queue.emails: unknown nested block "retry" (did you mean retry_config?)'],
    ),
    "missing required attribute": (
        "main.tf",
        '  name     = "convene-emails"\n  location = var.region\n',
        '  name     = "convene-emails"\n',
        ['google_cloud_tasks_queue.emails: missing required attribute "location"'],
    ),
    "computed-only attribute set": (
        "main.tf",
        '  labels   = { app = "convene" }\n',
        '  labels   = { app = "convene" }\n  url      = "https://example.invalid"\n',
        ['google_cloudfunctions2_function.join: computed-only attribute "url" cannot be set'],
    ),
    "max_items exceeded": (
        "main.tf",
        "  service_config {",
        '  build_config {\n    runtime = "python312"\n  }\n\n  service_config {',
        ['google_cloudfunctions2_function.join: too many "build_config" blocks: 2 (at most 1)'],
    ),
    "missing required nested block": (
        "main.tf",
        'data "google_project"',
        'resource "google_firestore_index" "bare" {\n  collection = "outbox"\n}\n\ndata "google_project"',
        ['google_firestore_index.bare: missing required block "fields" (at least 1)'],
    ),
    "dynamic block content checked": (
        "main.tf",
        "field_path = fields.value",
        "field = fields.value",
        ['google_firestore_index.interviews: fields: unknown attribute "field" (did you mean field_path?)'],
    ),
    "dynamic block of unknown type": (
        "main.tf",
        'dynamic "fields"',
        'dynamic "field"',
        ['dynamic: unknown nested block "field" (did you mean fields?)', 'missing required block "fields"'],
    ),
    "attribute written as a block": (
        "main.tf",
        'environment_variables = { CONVENE_ENV = "prod" }',
        'environment_variables {\n      CONVENE_ENV = "prod"\n    }',
        ['service_config: "environment_variables" is an attribute'],
    ),
    "block written as an attribute": (
        "main.tf",
        '  timeouts {\n    create = "10m"\n  }',
        '  timeouts = { create = "10m" }',
        ['google_cloudfunctions2_function.join: "timeouts" is a nested block'],
    ),
    "unknown lifecycle argument": (
        "main.tf",
        "ignore_changes",
        "ignore_change",
        ['lifecycle: unknown argument "ignore_change" (did you mean ignore_changes?)'],
    ),
    "lifecycle precondition checked": (
        "main.tf",
        "      error_message =",
        "      message       =",
        [
            'lifecycle: precondition: unknown attribute "message" (did you mean error_message?)',
            'lifecycle: precondition: missing required attribute "error_message"',
        ],
    ),
    "undeclared provider": (
        "versions.tf",
        '    random = {\n      source  = "hashicorp/random"\n      version = "~> 3.6"\n    }\n',
        "",
        ['random_id.suffix: resource type "random_id" belongs to provider "random", which is not declared in required_providers'],
    ),
    "missing backend": (
        "versions.tf",
        '  backend "gcs" {}\n',
        "",
        ['good/: terraform: no backend "gcs" block'],
    ),
    "wrong backend": (
        "versions.tf",
        'backend "gcs" {}',
        'backend "local" {}',
        ['terraform: no backend "gcs" block (found: local)'],
    ),
    "google not pinned": (
        "versions.tf",
        '      version = "~> 6.50"\n',
        "",
        ["terraform: required_providers.google has no version constraint"],
    ),
    "google pinned to another major version": (
        "versions.tf",
        '"~> 6.50"',
        '"~> 5.40"',
        ['required_providers.google.version "~> 5.40" does not admit 6.50.0'],
    ),
    "unparseable file": (
        "main.tf",
        'data "google_project" "current" {}',
        'data "google_project" "current" {',
        ["good/main.tf: cannot parse:"],
    ),
}


@pytest.mark.parametrize("case", list(BROKEN))
def test_broken_fixture_fails(case: str, tmp_path: Path, schema: tfschema.ProviderSchema) -> None:
    file, old, new, expected = BROKEN[case]
    directory = tmp_path / "good"
    shutil.copytree(GOOD, directory)
    text = (directory / file).read_text()
    assert old in text, f"fixture drifted: {old!r} not in {file}"
    (directory / file).write_text(text.replace(old, new, 1))
    errors = tfschema.check_directory(directory, schema)
    report = "\n".join(errors)
    assert len(errors) == len(expected), f"expected {len(expected)} error(s), got:\n{report}"
    for fragment in expected:
        assert any(fragment in error for error in errors), f"{fragment!r} not in:\n{report}"


def test_duplicate_resource_across_files(tmp_path: Path, schema: tfschema.ProviderSchema) -> None:
    directory = tmp_path / "good"
    shutil.copytree(GOOD, directory)
    (directory / "again.tf").write_text('resource "random_id" "suffix" {\n  byte_length = 4\n}\n')
    assert tfschema.check_directory(directory, schema) == [
        "good/main.tf: random_id.suffix: duplicate resource block (first in good/again.tf)"
    ]


def test_no_terraform_block(tmp_path: Path, schema: tfschema.ProviderSchema) -> None:
    (tmp_path / "main.tf").write_text('data "google_project" "current" {}\n')
    errors = tfschema.check_directory(tmp_path, schema)
    assert len(errors) == 1 and "no terraform block" in errors[0], errors


def test_cli_exit_status(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """`python -m tests.infra.tfschema DIR` is what a person runs: errors on stdout, exit 1."""
    assert tfschema.main([str(GOOD)]) == 0
    broken = tmp_path / "infra"
    shutil.copytree(GOOD, broken)
    main_tf = broken / "main.tf"
    main_tf.write_text(main_tf.read_text().replace("timeout_seconds ", "timeout "))
    capsys.readouterr()
    assert tfschema.main([str(broken)]) == 1
    assert (
        'infra/main.tf: google_cloudfunctions2_function.join: service_config: unknown attribute "timeout"'
        in capsys.readouterr().out
    )


@pytest.mark.parametrize(
    ("constraint", "allowed"),
    [
        ("~> 6.50", True),
        ("~> 6.50.0", True),
        ("~> 6.0", True),
        (">= 6.50, < 7.0", True),
        ("6.50.0", True),
        ("~> 6.51", False),
        ("~> 6.49.0", False),
        ("~> 5.0", False),
        ("< 6.50", False),
        ("latest", False),
    ],
)
def test_version_constraint(constraint: str, allowed: bool) -> None:
    assert tfschema.version_allows(constraint, (6, 50, 0)) is allowed
