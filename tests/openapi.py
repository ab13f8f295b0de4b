"""docs/openapi.yaml as a test oracle: every response a test sees must match it."""

from __future__ import annotations

import re
from functools import cached_property
from typing import Any

import jsonschema
import yaml
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

from devstack.processes import ROOT

SPEC_PATH = ROOT / "docs" / "openapi.yaml"


class OpenApi:
    instance: OpenApi | None = None  # the session's one, for the coverage check at the end

    def __init__(self) -> None:
        self.document: dict[str, Any] = yaml.safe_load(SPEC_PATH.read_text(encoding="utf-8"))
        self.seen: set[tuple[str, str, str]] = set()  # (path template, method, status) exercised
        OpenApi.instance = self

    def documented(self) -> set[tuple[str, str, str]]:
        return {
            (template, method.upper(), status)
            for template, item in self.document["paths"].items()
            for method, operation in item.items()
            if isinstance(operation, dict) and "responses" in operation
            for status in operation["responses"]
        }

    @cached_property
    def _registry(self) -> Registry:
        return Registry().with_resource("urn:openapi", Resource.from_contents(self.document, default_specification=DRAFT202012))

    def _operation(self, server: str, method: str, path: str, status: int) -> tuple[str, dict[str, Any]]:
        for template, item in self.document["paths"].items():
            if not template.startswith(f"/{server}/"):
                continue
            local = template[len(server) + 1 :]
            pattern = re.sub(r"\\{[^}]+\\}", "[^/]+", re.escape(local))
            if re.fullmatch(pattern, path.split("?")[0]) and method.lower() in item:
                return template, item[method.lower()]
        if status in (404, 405):  # documented once, for every function: unknown path or method
            return f"/{server}/*", {"responses": {str(status): {"$ref": "#/components/responses/Error"}}}
        raise AssertionError(f"{method} {path} of {server} is not documented in docs/openapi.yaml")

    def validate_response(self, server: str, method: str, path: str, status: int, body: Any, headers: Any) -> None:
        template, operation = self._operation(server, method, path, status)
        responses = operation["responses"]
        spec = responses.get(str(status))
        assert spec is not None, f"{method} {template} answered {status}, which docs/openapi.yaml does not document"
        self.seen.add((template, method.upper(), str(status)))
        spec = self._resolve(spec)
        content = spec.get("content")
        if not content:
            assert not body, f"{method} {template} {status} should have no body"
            return
        media = headers.get("Content-Type", "").split(";")[0].strip()
        assert media in content, f"{method} {template} {status}: {media!r} is not documented"
        if media != "application/json":
            return  # pages (HTML) are checked by the browser tests
        schema = _absolute_refs(content["application/json"]["schema"])
        validator = jsonschema.Draft202012Validator(schema, registry=self._registry, format_checker=jsonschema.FormatChecker())
        errors = sorted(validator.iter_errors(body), key=lambda e: list(e.path))
        assert not errors, f"{method} {template} {status}: " + "; ".join(
            f"{'/'.join(map(str, e.path))}: {e.message}" for e in errors
        )

    def _resolve(self, node: dict[str, Any]) -> dict[str, Any]:
        while "$ref" in node:
            target: Any = self.document
            for part in node["$ref"].lstrip("#/").split("/"):
                target = target[part]
            node = target
        return node


def _absolute_refs(node: Any) -> Any:
    """Point the document's local references ("#/components/…") at the registered document."""
    if isinstance(node, dict):
        return {
            k: ("urn:openapi" + v if k == "$ref" and isinstance(v, str) and v.startswith("#/") else _absolute_refs(v))
            for k, v in node.items()
        }
    if isinstance(node, list):
        return [_absolute_refs(v) for v in node]
    return node
