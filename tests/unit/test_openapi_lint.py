"""docs/openapi.yaml under Redocly CLI's `recommended` rules, with the CLI that `make test` installs.

The CLI is pinned in package.json / package-lock.json and installed into ./node_modules by the
Makefile (`make openapi-lint`, a dependency of `make test`); these tests only run it, offline:
telemetry off, no update check. Exceptions are in .redocly.lint-ignore.yaml, each with its reason.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from devstack.processes import ROOT
from tests.openapi import SPEC_PATH

REDOCLY = ROOT / "node_modules" / ".bin" / "redocly"
BROKEN = Path(__file__).parent / "fixtures" / "openapi_lint_broken.yaml"

# Every keyword a Schema Object may hold in OpenAPI 3.1: JSON Schema 2020-12 plus OpenAPI's own.
SCHEMA_KEYWORDS = frozenset(
    {
        *("$schema", "$id", "$ref", "$anchor", "$dynamicRef", "$dynamicAnchor", "$vocabulary", "$comment", "$defs"),
        *("allOf", "anyOf", "oneOf", "not", "if", "then", "else", "dependentSchemas", "prefixItems", "items"),
        *("contains", "properties", "patternProperties", "additionalProperties", "propertyNames"),
        *("unevaluatedItems", "unevaluatedProperties", "type", "enum", "const", "multipleOf", "maximum"),
        *("exclusiveMaximum", "minimum", "exclusiveMinimum", "maxLength", "minLength", "pattern", "maxItems"),
        *("minItems", "uniqueItems", "maxContains", "minContains", "maxProperties", "minProperties", "required"),
        *("dependentRequired", "title", "description", "default", "deprecated", "readOnly", "writeOnly"),
        *("examples", "format", "contentEncoding", "contentMediaType", "contentSchema"),
        *("discriminator", "xml", "externalDocs", "example"),  # OpenAPI's
    }
)
_ONE_SCHEMA = {"items", "not", "if", "then", "else", "contains", "additionalProperties", "propertyNames"}
_ONE_SCHEMA |= {"unevaluatedItems", "unevaluatedProperties", "contentSchema"}
_SCHEMA_LISTS = {"allOf", "anyOf", "oneOf", "prefixItems"}
_SCHEMA_MAPS = {"properties", "patternProperties", "$defs", "dependentSchemas"}


def _lint(path: Path) -> dict[str, Any]:
    if shutil.which("node") is None or shutil.which("npm") is None:
        pytest.skip("node and npm are not installed: the OpenAPI lint (Redocly CLI) needs them")
    if not REDOCLY.exists():
        pytest.fail("Redocly CLI is not installed in node_modules/: run `make test` (or `make openapi-lint`)")
    pinned = json.loads((ROOT / "package-lock.json").read_text())["packages"]["node_modules/@redocly/cli"]["version"]
    installed = json.loads((ROOT / "node_modules/@redocly/cli/package.json").read_text())["version"]
    if installed != pinned:
        pytest.fail(f"node_modules has Redocly CLI {installed}, package-lock.json pins {pinned}: run `make test`")
    env = {**os.environ, "REDOCLY_TELEMETRY": "off", "REDOCLY_SUPPRESS_UPDATE_NOTICE": "true", "NO_COLOR": "1"}
    result = subprocess.run(
        [str(REDOCLY), "lint", str(path.relative_to(ROOT)), "--config", "redocly.yaml", "--format", "json"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    try:
        report = json.loads(result.stdout)
    except json.JSONDecodeError:
        pytest.fail(f"redocly lint gave no JSON report (exit {result.returncode}):\n{result.stdout}\n{result.stderr}")
    report["exit_code"] = result.returncode
    return report


def _findings(report: dict[str, Any]) -> list[str]:
    return [f"{p['ruleId']} at {p['location'][0]['pointer']}: {p['message']}" for p in report["problems"]]


def test_the_linter_catches_an_unquoted_comma_in_a_flow_mapping_and_a_missing_operation_id():
    report = _lint(BROKEN)

    assert report["exit_code"] != 0
    assert sorted((p["ruleId"], p["message"]) for p in report["problems"]) == [
        ("operation-operationId", "Operation object should contain `operationId` field."),
        ("struct", "Property `rounded up; 0 once started.` is not expected here."),
    ]


def test_the_api_document_has_no_lint_problem_and_every_exception_is_still_needed():
    report = _lint(SPEC_PATH)

    assert report["totals"]["errors"] == report["totals"]["warnings"] == 0, "\n".join(_findings(report))
    assert report["exit_code"] == 0
    ignores = yaml.safe_load((ROOT / ".redocly.lint-ignore.yaml").read_text(encoding="utf-8"))
    listed = sum(len(pointers) for rules in ignores.values() for pointers in rules.values())
    assert report["totals"]["ignored"] == listed, "an entry of .redocly.lint-ignore.yaml no longer matches a problem"


def _stray_schema_keys(node: Any, where: str) -> list[str]:
    """Keys of a Schema Object (and its subschemas) that are no keyword: what YAML makes of the text
    after a comma in an unquoted flow-mapping scalar (`{description: a, b}` has a key `b`)."""
    if not isinstance(node, dict):
        return []
    found = [f"{where}: {key!r}" for key in node if key not in SCHEMA_KEYWORDS and not str(key).startswith("x-")]
    for key, value in node.items():
        if key in _ONE_SCHEMA:
            found += _stray_schema_keys(value, f"{where}/{key}")
        elif key in _SCHEMA_LISTS and isinstance(value, list):
            found += [k for i, sub in enumerate(value) for k in _stray_schema_keys(sub, f"{where}/{key}/{i}")]
        elif key in _SCHEMA_MAPS and isinstance(value, dict):
            found += [k for name, sub in value.items() for k in _stray_schema_keys(sub, f"{where}/{key}/{name}")]
    return found


def _schema_problems(node: Any, where: str = "#") -> list[str]:
    """Every schema of the document (under a `schema` key or in components/schemas), checked as above."""
    found: list[str] = []
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "schema":
                found += _stray_schema_keys(value, f"{where}/{key}")
            elif key == "schemas" and where == "#/components":
                found += [k for name, sub in value.items() for k in _stray_schema_keys(sub, f"{where}/{key}/{name}")]
            else:
                found += _schema_problems(value, f"{where}/{key}")
    elif isinstance(node, list):
        found += [k for i, item in enumerate(node) for k in _schema_problems(item, f"{where}/{i}")]
    return found


def test_no_schema_gains_a_keyword_from_a_description_split_at_a_comma():
    # The same class of defect without node: the fixture has one; the document none.
    assert _schema_problems(yaml.safe_load(BROKEN.read_text(encoding="utf-8"))) == [
        "#/components/schemas/Meeting/properties/minutes_left: 'rounded up; 0 once started.'"
    ]
    assert _schema_problems(yaml.safe_load(SPEC_PATH.read_text(encoding="utf-8"))) == []
