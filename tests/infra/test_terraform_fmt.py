"""infra/ is `terraform fmt`-clean; the check runs wherever terraform is installed.

`terraform fmt` needs no provider, so unlike validate it works offline.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.infra.tfschema import REPO

INFRA = REPO / "infra"
MISFORMATTED = Path(__file__).parent / "fixtures" / "fmt" / "misformatted.tf.fixture"


def fmt_check(directory: Path) -> subprocess.CompletedProcess[str]:
    """`terraform fmt -check -recursive -diff DIR`, or a skip where terraform is not installed."""
    terraform = shutil.which("terraform")
    if terraform is None:
        pytest.skip("terraform not on PATH: fmt check skipped")
    env = {**os.environ, "CHECKPOINT_DISABLE": "1"}  # no version check against the network
    return subprocess.run(
        [terraform, "fmt", "-check", "-recursive", "-diff", "-no-color", str(directory)],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
        cwd=directory.parent,
    )


def test_infra_is_formatted() -> None:
    result = fmt_check(INFRA)
    assert result.returncode == 0, f"run `terraform fmt -recursive infra`; differences:\n{result.stdout}{result.stderr}"


def test_fmt_check_fails_on_misformatted_file(tmp_path: Path) -> None:
    infra = tmp_path / "infra"
    infra.mkdir()
    shutil.copy(MISFORMATTED, infra / "misformatted.tf")
    result = fmt_check(infra)
    assert result.returncode != 0, f"terraform fmt -check accepted a misformatted file:\n{result.stdout}"
    assert "misformatted.tf" in result.stdout, result.stdout
