"""Write shared/api_limits.py: the request limits the code checks, read from docs/openapi.yaml.

The API document is the one place a limit is stated; the code imports the generated constants,
so a changed limit reaches both by editing docs/openapi.yaml and running `make api-limits`
(tests/unit/test_api_limits.py fails while the two differ). The generated module is plain
constants: a function's cold start never parses YAML.

A limit the document states in several places (``host_uid`` of the list and of analytics, a
timestamp's length) must say the same everywhere, and every place named below must state it:
either mistake stops the generator with the place named.

    python scripts/gen_api_limits.py           # rewrite shared/api_limits.py
    python scripts/gen_api_limits.py --check   # exit 1 if it is stale
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parent.parent
SPEC = ROOT / "docs" / "openapi.yaml"
TARGET = ROOT / "shared" / "api_limits.py"

Place = tuple[str, ...]  # keys from the document's root; "name=x" picks the parameter named x of a list

CREATE: Place = ("components", "schemas", "CreateInterview", "properties")
RESCHEDULE: Place = ("components", "schemas", "RescheduleInterview", "properties")
CANCEL: Place = ("components", "schemas", "CancelInterview", "properties")
LIST: Place = ("paths", "/interviews/interviews", "get", "parameters")
ANALYTICS: Place = ("paths", "/interviews/analytics", "get", "parameters")


def _of_type(kind: str, field: str) -> Place:
    """``field`` as refined by the ``allOf`` branch of CreateInterview for ``interview_type`` ``kind``."""
    return ("components", "schemas", "CreateInterview", "allOf", f"type={kind}", "then", "properties", field)


def _query(operation: Place, name: str) -> Place:
    return (*operation, f"name={name}", "schema")


# (section comment, [(constant, keyword, places)]): the order of the generated module.
LIMITS: list[tuple[str, list[tuple[str, str, list[Place]]]]] = [
    (
        "Create (POST /interviews) and reschedule bodies: components.schemas.CreateInterview, RescheduleInterview.",
        [
            ("CANDIDATE_EMAIL_MAX_LENGTH", "maxLength", [(*CREATE, "candidate", "properties", "email")]),
            ("CANDIDATE_NAME_MAX_LENGTH", "maxLength", [(*CREATE, "candidate", "properties", "name")]),
            ("JOB_TITLE_MAX_LENGTH", "maxLength", [(*CREATE, "job_title")]),
            ("NOTE_MAX_LENGTH", "maxLength", [(*CREATE, "note")]),
            ("LOCATION_MAX_LENGTH", "maxLength", [(*CREATE, "location")]),
            ("PHONE_MAX_LENGTH", "maxLength", [(*CREATE, "phone")]),
            ("PHONE_PATTERN", "pattern", [_of_type("phone", "phone")]),
            ("VIDEO_URL_MAX_LENGTH", "maxLength", [(*CREATE, "video_url")]),
            ("VIDEO_URL_PATTERN", "pattern", [_of_type("custom_video", "video_url")]),
            ("INTERVIEW_TYPE_MAX_LENGTH", "maxLength", [(*CREATE, "interview_type")]),
            ("INTERVIEW_TYPE_DEFAULT", "default", [(*CREATE, "interview_type")]),
            ("BOOKING_MAX_LENGTH", "maxLength", [(*CREATE, "booking")]),
            ("BOOKING_VALUES", "enum", [(*CREATE, "booking")]),
            ("BOOKING_DEFAULT", "default", [(*CREATE, "booking")]),
            ("TIMEZONE_MAX_LENGTH", "maxLength", [(*CREATE, "timezone"), (*RESCHEDULE, "timezone")]),
            ("DATE_MAX_LENGTH", "maxLength", [(*CREATE, "date"), (*RESCHEDULE, "date")]),
            ("DATE_PATTERN", "pattern", [(*CREATE, "date"), (*RESCHEDULE, "date")]),
            ("TIME_MAX_LENGTH", "maxLength", [(*CREATE, "time"), (*RESCHEDULE, "time")]),
            ("TIME_PATTERN", "pattern", [(*CREATE, "time"), (*RESCHEDULE, "time")]),
            ("DURATION_MINUTES_DEFAULT", "default", [(*CREATE, "duration_minutes")]),
            *(
                (name, keyword, [(*body, field) for body in (CREATE, RESCHEDULE) for field in ("duration_minutes", "duration")])
                for name, keyword in (("DURATION_MINUTES_MIN", "minimum"), ("DURATION_MINUTES_MAX", "maximum"))
            ),
        ],
    ),
    (
        "Cancel (POST /interviews/{id}/cancel) body: components.schemas.CancelInterview.",
        [("REASON_MAX_LENGTH", "maxLength", [(*CANCEL, "reason")])],
    ),
    (
        "List (GET /interviews) query.",
        [
            ("PAGE_SIZE_MIN", "minimum", [_query(LIST, "page_size")]),
            ("PAGE_SIZE_MAX", "maximum", [_query(LIST, "page_size")]),
            ("PAGE_SIZE_DEFAULT", "default", [_query(LIST, "page_size")]),
            ("PAGE_TOKEN_MAX_LENGTH", "maxLength", [_query(LIST, "page_token")]),
            ("WHEN_VALUES", "enum", [_query(LIST, "when")]),
        ],
    ),
    (
        "Shared by bodies and queries (analytics: timestamps and host_uid).",
        [
            (
                "TIMESTAMP_MAX_LENGTH",
                "maxLength",
                [(*CREATE, "start"), *(_query(op, name) for op in (LIST, ANALYTICS) for name in ("from", "to"))],
            ),
            (
                "ID_PATTERN",
                "pattern",
                [
                    ("components", "parameters", "InterviewId", "schema"),
                    (*CREATE, "candidate_id"),
                    (*CREATE, "host_uid"),
                    _query(LIST, "host_uid"),
                    _query(ANALYTICS, "host_uid"),
                ],
            ),
            ("INTERVIEW_STATUSES", "enum", [("components", "schemas", "InterviewStatus")]),
            ("INTERVIEW_TYPES", "enum", [("components", "schemas", "InterviewType")]),
        ],
    ),
]


class LimitError(Exception):
    """The document does not state a limit where the table says, or states two values for it."""


def _step(node: Any, key: str, where: str) -> Any:
    if isinstance(node, list) and key.startswith(("name=", "type=")):
        field, _, wanted = key.partition("=")
        for item in node:
            branch = item.get("if", {}).get("properties", {}).get("interview_type", {}) if field == "type" else {}
            if (field == "name" and item.get("name") == wanted) or branch.get("const") == wanted:
                return item
        raise LimitError(f"{where}: no item with {key}")
    if not isinstance(node, dict) or key not in node:
        raise LimitError(f"{where}: no {key!r}")
    return node[key]


def _resolve(document: dict[str, Any], node: Any) -> Any:
    while isinstance(node, dict) and "$ref" in node and len(node) == 1:
        node = _at(document, tuple(node["$ref"].removeprefix("#/").split("/")))
    return node


def _at(document: dict[str, Any], place: Place) -> Any:
    node: Any = document
    for depth, key in enumerate(place):
        node = _step(_resolve(document, node), key, "/".join(place[:depth]) or "#")
    return node


def _value(document: dict[str, Any], place: Place, keyword: str) -> Any:
    """``keyword`` of the schema at ``place``: its own (beside a ``$ref`` too), else the referenced one's."""
    node = _at(document, place)
    while isinstance(node, dict):
        if keyword in node:
            value = node[keyword]
            return tuple(value) if isinstance(value, list) else value
        if "$ref" not in node:
            break
        node = _at(document, tuple(node["$ref"].removeprefix("#/").split("/")))
    raise LimitError(f"{'/'.join(place)}: no {keyword}")


def limits(document: dict[str, Any]) -> list[tuple[str, list[tuple[str, Any]]]]:
    """Each section's (constant, value), every place of a constant checked to state the same value."""
    sections = []
    for comment, rows in LIMITS:
        values = []
        for name, keyword, places in rows:
            found = {"/".join(place): _value(document, place, keyword) for place in places}
            if len(set(found.values())) != 1:
                raise LimitError(f"{name}: the document states different values: {found}")
            values.append((name, next(iter(found.values()))))
        sections.append((comment, values))
    return sections


def _literal(value: Any) -> str:
    """Python source for a value, as ``ruff format`` writes it (double quotes; raw when it has backslashes)."""
    if isinstance(value, tuple):
        return "(" + ", ".join(_literal(v) for v in value) + ("," if len(value) == 1 else "") + ")"
    if isinstance(value, str):
        if "\\" in value and '"' not in value and not value.endswith("\\") and value.isprintable():
            return f'r"{value}"'
        return json.dumps(value)
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise LimitError(f"unsupported value {value!r}")
    return repr(value)


def render(document: dict[str, Any]) -> str:
    lines = [
        '"""Request limits of the API: generated by scripts/gen_api_limits.py from docs/openapi.yaml; do not edit.',
        "",
        "Edit docs/openapi.yaml, then run `make api-limits`. Patterns are the document's (ECMA-262, anchored):",
        "use them with ``re.fullmatch``.",
        '"""',
    ]
    for comment, values in limits(document):
        lines += ["", f"# {comment}"]
        lines += [f"{name} = {_literal(value)}" for name, value in values]
    return "\n".join(lines) + "\n"


def render_file(spec: Path | None = None) -> str:
    return render(yaml.safe_load((spec or SPEC).read_text(encoding="utf-8")))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="exit 1 if shared/api_limits.py is not what the document says")
    args = parser.parse_args(argv)
    text = render_file()
    if args.check:
        if TARGET.read_text(encoding="utf-8") != text:
            print(f"{TARGET.relative_to(ROOT)} is stale: run `make api-limits`", file=sys.stderr)
            return 1
        return 0
    TARGET.write_text(text, encoding="utf-8")
    print(f"wrote {TARGET.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
