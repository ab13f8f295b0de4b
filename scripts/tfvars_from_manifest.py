#!/usr/bin/env python3
"""Turn dist/manifest.json into the Terraform variable ``function_objects``.

    python3 scripts/tfvars_from_manifest.py [--manifest dist/manifest.json]
                                            [--out infra/function_objects.tfvars.json]

``scripts/package.py`` writes ``dist/manifest.json`` ({function: {"zip": "<function>-<hash>.zip",
...}}) and Cloud Build uploads each zip to ``gs://<artifacts bucket>/functions/<zip>``. This
writes ``{"function_objects": {"join": "functions/join-<hash>.zip", ...}}`` for
``terraform plan -var-file=...``: one entry per function folder under ``functions/`` (a
folder with a main.py), each the object name inside the bucket.

Exits non-zero, naming the problem, when the manifest is missing or unreadable, or lacks
(or has a malformed entry for) a function that exists under ``functions/``. Entries for
functions no longer in ``functions/`` are ignored with a warning. Standard library only
(Python 3.11+).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OBJECT_PREFIX = "functions/"  # where cloudbuild.yaml uploads the zips in the bucket


class ManifestError(Exception):
    """The manifest cannot give every function's object; the message says why."""


def function_folders(functions_dir: Path) -> list[str]:
    if not functions_dir.is_dir():
        raise ManifestError(f"{functions_dir}: no functions folder")
    names = sorted(p.name for p in functions_dir.iterdir() if (p / "main.py").is_file())
    if not names:
        raise ManifestError(f"{functions_dir}: no function folders (a folder with a main.py)")
    return names


def function_objects(manifest_path: Path, functions: list[str], prefix: str = OBJECT_PREFIX) -> dict[str, str]:
    if not manifest_path.is_file():
        raise ManifestError(f"{manifest_path}: not found; run `make package` (scripts/package.py) first")
    try:
        manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ManifestError(f"{manifest_path}: not readable JSON ({exc})") from None
    if not isinstance(manifest, dict):
        raise ManifestError(f'{manifest_path}: expected a JSON object {{function: {{"zip": ...}}}}')

    problems: list[str] = []
    objects: dict[str, str] = {}
    for name in functions:
        entry = manifest.get(name)
        if entry is None:
            problems.append(f"{name}: missing from the manifest (package every function: `make package`)")
            continue
        zip_name = entry.get("zip") if isinstance(entry, dict) else None
        if not isinstance(zip_name, str) or not re.fullmatch(rf"{re.escape(name)}-[0-9a-f]{{8,64}}\.zip", zip_name):
            problems.append(f'{name}: "zip" must be "{name}-<hash>.zip", got {zip_name!r}')
            continue
        objects[name] = prefix + zip_name
    if problems:
        raise ManifestError(f"{manifest_path}:\n  " + "\n  ".join(problems))
    for extra in sorted(set(manifest) - set(functions)):
        print(f"warning: {manifest_path}: {extra!r} is not a folder under functions/; ignored", file=sys.stderr)
    return objects


def write(path: str, data: dict) -> None:
    text = json.dumps(data, indent=2, sort_keys=True) + "\n"
    if path == "-":
        sys.stdout.write(text)
        return
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--manifest", default=str(ROOT / "dist" / "manifest.json"), help="default: dist/manifest.json")
    parser.add_argument("--functions-dir", default=str(ROOT / "functions"), help="default: functions/")
    parser.add_argument("--prefix", default=OBJECT_PREFIX, help=f"object name prefix in the bucket (default: {OBJECT_PREFIX})")
    parser.add_argument(
        "--out",
        default=str(ROOT / "infra" / "function_objects.tfvars.json"),
        help="output file, or - for stdout (default: infra/function_objects.tfvars.json)",
    )
    args = parser.parse_args(argv)
    try:
        objects = function_objects(Path(args.manifest), function_folders(Path(args.functions_dir)), args.prefix)
    except ManifestError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    write(args.out, {"function_objects": objects})
    if args.out != "-":
        print(f"wrote {args.out}: " + ", ".join(f"{k}={v}" for k, v in objects.items()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
