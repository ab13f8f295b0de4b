"""Resources per kind in infra/, with ``for_each`` expanded: ``python -m tests.infra.inventory``.

Expands the iterations infra/ uses (a local map, a filter of ``local.functions`` on one
flag, ``local.secret_grants``, a literal ``toset([...])``); anything else is reported as
unknown rather than guessed, so docs/deploy.md's figures are what the configuration says.
"""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path
from typing import Any

from tests.infra import wiring


def instances(for_each: Any, local: dict[str, Any]) -> int | None:
    """How many instances a ``for_each`` makes, or None when it is not a known form."""
    if for_each is None:
        return 1
    text = re.sub(r"\s+", " ", str(for_each))
    if match := re.fullmatch(r"\$\{local\.(\w+)\}", text):
        name = match.group(1)
        if name == "secret_grants":
            return sum(len(f.get("secrets") or []) for f in local["functions"].values())
        if isinstance(local.get(name), dict):
            return len(local[name])
        filtered = re.search(r"if \w+\.(\w+)\s*\}", str(local.get(name, "")))
        if filtered:
            return sum(1 for f in local["functions"].values() if f.get(filtered.group(1)))
        return None
    if match := re.fullmatch(r"\$\{toset\(\[(.*)\]\)\}", text):
        return len([item for item in match.group(1).split(",") if item.strip()])
    return None


def inventory(infra_dir: Path) -> tuple[Counter[str], list[str]]:
    infra = wiring.load(infra_dir)
    counts: Counter[str] = Counter()
    unknown: list[str] = []
    for kind, name, body, _file in infra.resources:
        n = instances(body.get("for_each"), infra.locals)
        if n is None:
            unknown.append(f"{kind}.{name}")
            n = 1
        counts[kind] += n
    return counts, unknown


if __name__ == "__main__":
    counts, unknown = inventory(Path(__file__).resolve().parents[2] / "infra")
    print("| kind | count |\n|---|---|")
    for kind, n in sorted(counts.items()):
        print(f"| `{kind}` | {n} |")
    print(f"| **total** | **{sum(counts.values())}** |")
    if unknown:
        print("\nfor_each not expanded (counted once):", ", ".join(unknown))
