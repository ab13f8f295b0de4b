"""How deep untrusted JSON nests, judged before parsing it (request bodies, token segments).

The json module recurses once per level: a deeply nested document would end in a
RecursionError (a 500) instead of a refusal, so callers check the depth first.
"""

from __future__ import annotations

import re

_SPECIAL = re.compile(r'["\\\[\]{}]')


def nests_deeper_than(text: str, limit: int) -> bool:
    """Whether arrays and objects nest deeper than ``limit``: one linear pass over the
    brackets, quotes and backslashes (brackets inside strings do not count), no recursion,
    no backtracking, so any text of at most a request body's size is judged in milliseconds."""
    if text.count("[") + text.count("{") <= limit:
        return False
    depth, in_string, escaped = 0, False, -1
    for match in _SPECIAL.finditer(text):
        char, at = match.group(), match.start()
        if in_string:
            if at == escaped:
                continue
            if char == "\\":
                escaped = at + 1
            elif char == '"':
                in_string = False
        elif char == '"':
            in_string = True
        elif char in "[{":
            depth += 1
            if depth > limit:
                return True
        elif char in "]}":
            depth -= 1
    return False
