"""The Firestore query recorder for the index-coverage check (see convene_querylog.py)."""

from __future__ import annotations

import contextlib
import time
from pathlib import Path

from tests.infra.querylog.convene_querylog import ENV, install, shapes, subprocess_env

__all__ = ["ENV", "install", "prepare", "shapes", "subprocess_env"]

STALE_AFTER = 24 * 3600  # seconds; a run takes minutes, so an older log belongs to no running session


def prepare(log_path: Path) -> None:
    """Start ``log_path`` empty and remove other runs' ``queries-*.jsonl`` logs left beside it
    (only stale ones: a parallel run may be writing its own)."""
    log_path.parent.mkdir(parents=True, exist_ok=True)
    log_path.write_bytes(b"")
    for old in log_path.parent.glob("queries-*.jsonl"):
        with contextlib.suppress(OSError):
            if old != log_path and time.time() - old.stat().st_mtime > STALE_AFTER:
                old.unlink()
