"""checkov finds no failed policy check in infra/, and every skip is justified and documented.

checkov runs from its own virtualenv (`make test` builds .venv-checkov from
requirements-checkov.txt; CONVENE_CHECKOV overrides the binary). It runs twice per session:
once on infra/, once on a deliberately insecure fixture that proves the run can fail. A missing
binary fails the suite rather than skipping it, so CI cannot pass without the policy checks.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.infra.tfschema import REPO, tf_files

INFRA = REPO / "infra"
README = INFRA / "README.md"
SUMMARY = REPO / ".convene" / "infra" / "checkov-summary.json"
FIXTURE = Path(__file__).parent / "fixtures" / "checkov" / "public_bucket.tf.fixture"
# checkov's own comment syntax (checkov/common/comment/enum.py): ids may be comma-separated.
SKIP_COMMENT = re.compile(r"(?:checkov|bridgecrew|cortex):skip= *([A-Za-z_\d-]+(?:,[A-Za-z_\d-]+)*)?(:[^\n]*)?")


@dataclass(frozen=True)
class Skip:
    """One `#checkov:skip=ID:reason` comment; `file` is relative to the scanned directory."""

    root: str
    file: str
    line: int
    check_id: str
    reason: str

    def where(self) -> str:
        return f"{self.root}/{self.file}:{self.line}"


@dataclass(frozen=True)
class Report:
    """checkov's JSON output for one directory, reduced to what the tests use."""

    directory: Path
    summary: dict[str, Any]
    failed: list[dict[str, Any]]
    skipped: list[dict[str, Any]]
    parsing_errors: list[str]

    def __repr__(self) -> str:  # pytest prints fixtures on failure: keep it to the counts
        return f"Report({self.directory}, {self.summary})"

    def where(self, check: dict[str, Any]) -> str:
        start, end = check["file_line_range"]
        return f"{self.directory.name}{check['file_path']}:{start}-{end}"

    def describe(self, check: dict[str, Any]) -> str:
        return f"{check['check_id']} {check['resource']} at {self.where(check)}: {check['check_name']}"


def checkov_binary() -> Path:
    binary = Path(os.environ.get("CONVENE_CHECKOV", REPO / ".venv-checkov" / "bin" / "checkov"))
    if not os.access(binary, os.X_OK):
        pytest.fail(f"checkov not found at {binary}: run `make test` (it installs checkov into .venv-checkov)")
    return binary


def run_checkov(directory: Path) -> Report:
    """One checkov run over the Terraform in `directory`, offline, parsed from its JSON output."""
    result = subprocess.run(
        [str(checkov_binary()), "-d", str(directory), "--framework", "terraform", "--skip-download", "--output", "json"],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=directory,
    )
    try:
        data = json.loads(result.stdout)
    except json.JSONDecodeError:
        pytest.fail(f"checkov exited {result.returncode} without JSON output:\n{result.stdout[-2000:]}\n{result.stderr[-2000:]}")
    # One framework gives a dict, several a list of dicts; with nothing to scan, a bare summary.
    runs = data if isinstance(data, list) else [data]
    summary = {"passed": 0, "failed": 0, "skipped": 0, "parsing_errors": 0, "resource_count": 0}
    failed: list[dict[str, Any]] = []
    skipped: list[dict[str, Any]] = []
    parsing_errors: list[str] = []
    for run in runs:
        counts = run.get("summary", run)
        for key in summary:
            summary[key] += int(counts.get(key, 0))
        summary["checkov_version"] = counts.get("checkov_version")
        results = run.get("results", {})
        failed += results.get("failed_checks", [])
        skipped += results.get("skipped_checks", [])
        parsing_errors += results.get("parsing_errors", [])
    return Report(directory, summary, failed, skipped, parsing_errors)


def skip_comments(directory: Path) -> list[Skip]:
    """Every checkov skip comment in the .tf files of `directory`."""
    skips: list[Skip] = []
    for path in tf_files(directory):
        relative = path.relative_to(directory).as_posix()
        for number, line in enumerate(path.read_text().splitlines(), start=1):
            for match in SKIP_COMMENT.finditer(line):
                reason = (match.group(2) or "").removeprefix(":").strip()
                for check_id in (match.group(1) or "").split(","):
                    skips.append(Skip(directory.name, relative, number, check_id, reason))
    return skips


def skip_problems(skips: list[Skip], readme: str, report: Report) -> list[str]:
    """Skips without a reason, not listed in the README, or suppressing nothing (stale or misplaced)."""
    problems: list[str] = []
    for skip in skips:
        if not skip.check_id:
            problems.append(f"{skip.where()}: checkov skip without a check id")
            continue
        if not skip.reason:
            problems.append(
                f"{skip.where()}: {skip.check_id} skipped without a reason (write #checkov:skip={skip.check_id}:<why>)"
            )
        if not re.search(rf"\b{re.escape(skip.check_id)}\b", readme):  # CKV_GCP_1 is not CKV_GCP_102
            problems.append(f"{skip.where()}: {skip.check_id} skipped but not listed in {skip.root}/README.md")
        honoured = any(
            check["check_id"] == skip.check_id
            and check["file_path"].lstrip("/") == skip.file
            and check["file_line_range"][0] <= skip.line <= check["file_line_range"][1]
            for check in report.skipped
        )
        if not honoured:
            problems.append(
                f"{skip.where()}: skip of {skip.check_id} suppresses nothing "
                "(the check does not apply to this resource, or the comment is outside it)"
            )
    for check in report.skipped:
        if not (check.get("check_result") or {}).get("suppress_comment"):
            problems.append(f"{report.describe(check)}: skipped without an inline justification")
    return problems


@pytest.fixture(scope="module")
def infra_report() -> Report:
    """checkov on infra/; the counts go to .convene/infra/checkov-summary.json for docs/."""
    if not tf_files(INFRA):
        checkov_binary()  # a missing checkov fails even before infra/ exists
        pytest.skip("infra/ has no .tf files yet: checkov skipped")
    report = run_checkov(INFRA)
    SUMMARY.parent.mkdir(parents=True, exist_ok=True)
    record = {
        **report.summary,
        "directory": "infra",
        "failed_checks": [report.describe(c) for c in report.failed],
        "skipped_checks": [
            {
                "check_id": c["check_id"],
                "resource": c["resource"],
                "reason": (c.get("check_result") or {}).get("suppress_comment"),
            }
            for c in report.skipped
        ],
    }
    SUMMARY.write_text(json.dumps(record, indent=2) + "\n")
    s = report.summary
    print(
        f"checkov {s['checkov_version']} on infra/: {s['passed']} passed, {s['failed']} failed, {s['skipped']} skipped, "
        f"{s['resource_count']} resources ({SUMMARY.relative_to(REPO)})"
    )
    return report


@pytest.fixture(scope="module")
def insecure_report(tmp_path_factory: pytest.TempPathFactory) -> Report:
    directory = tmp_path_factory.mktemp("checkov") / "infra"
    directory.mkdir()
    shutil.copy(FIXTURE, directory / "main.tf")
    return run_checkov(directory)


def test_infra_has_no_failed_checks(infra_report: Report) -> None:
    failures = [infra_report.describe(c) for c in infra_report.failed]
    assert not failures, f"{len(failures)} failed checkov check(s):\n" + "\n".join(failures)


def test_infra_parses_for_checkov(infra_report: Report) -> None:
    """A file checkov cannot parse is silently left unchecked, so a parse error is a failure."""
    assert not infra_report.parsing_errors, f"checkov could not parse: {infra_report.parsing_errors}"
    assert infra_report.summary["resource_count"] > 0, "checkov evaluated no resource in infra/: nothing was checked"


def test_infra_skips_are_justified_and_documented(infra_report: Report) -> None:
    readme = README.read_text() if README.is_file() else ""
    problems = skip_problems(skip_comments(INFRA), readme, infra_report)
    assert not problems, "\n".join(problems)


def test_no_checkov_config_that_skips_silently() -> None:
    """Skips belong inline next to the resource; a config file could skip checks without a trace."""
    configs = [p for d in (REPO, INFRA) for p in (d / ".checkov.yaml", d / ".checkov.yml") if p.exists()]
    assert not configs, f"checkov config files found (put skips inline with a reason instead): {configs}"


def test_checkov_flags_public_bucket(insecure_report: Report) -> None:
    failed = {(c["check_id"], c["resource"]) for c in insecure_report.failed}
    assert ("CKV_GCP_29", "google_storage_bucket.leaky") in failed, failed  # no uniform bucket-level access
    assert ("CKV_GCP_28", "google_storage_bucket_iam_member.public_read") in failed, failed  # readable by allUsers
    assert insecure_report.summary["failed"] == len(insecure_report.failed) > 0
    assert "infra/main.tf:" in insecure_report.describe(insecure_report.failed[0])


def test_skip_check_fails_on_stale_undocumented_or_unjustified_skips(insecure_report: Report, tmp_path: Path) -> None:
    """The fixture's CKV_GCP_62 skip is honoured by checkov; its CKV_GCP_28 skip suppresses nothing."""
    assert [(c["check_id"], c["resource"]) for c in insecure_report.skipped] == [("CKV_GCP_62", "google_storage_bucket.logs")]
    assert insecure_report.summary["skipped"] == 1
    skips = skip_comments(insecure_report.directory)
    assert [(s.check_id, bool(s.reason)) for s in skips] == [("CKV_GCP_62", True), ("CKV_GCP_28", True)]

    stale = skip_problems(skips, "CKV_GCP_62 CKV_GCP_28", insecure_report)
    assert len(stale) == 1 and "skip of CKV_GCP_28 suppresses nothing" in stale[0], stale

    undocumented = skip_problems(skips, "CKV_GCP_28", insecure_report)
    assert len(undocumented) == 2 and "CKV_GCP_62 skipped but not listed in infra/README.md" in undocumented[0], undocumented

    # The same file with the reason removed (same lines, so checkov's report still lines up).
    copy = tmp_path / "infra"
    copy.mkdir()
    reason = ":fixture: this bucket is the log sink, it does not log to itself"
    text = (insecure_report.directory / "main.tf").read_text()
    assert reason in text
    (copy / "main.tf").write_text(text.replace(reason, ""))
    unjustified = skip_problems(skip_comments(copy), "CKV_GCP_62 CKV_GCP_28", insecure_report)
    assert len(unjustified) == 2 and "infra/main.tf:17: CKV_GCP_62 skipped without a reason" in unjustified[0], unjustified
