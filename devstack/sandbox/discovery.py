"""Request checks the Calendar and Meet surfaces share: discovery documents and page tokens.

Requests are checked against the discovery documents that ship in google-api-python-client,
the same documents the real client is generated from. A misspelt field, a wrong type or a
value outside a documented set is then a 400 naming the field, instead of being silently
dropped as a lenient fake would, so the project's bugs show up in tests.

Calendar's document lists most enumerations only in prose ("Possible values are: - "opaque"
..."); those lists are read from the descriptions and enforced like formal `enum`s.
"""

from __future__ import annotations

import base64
import binascii
import functools
import importlib.resources
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from werkzeug.datastructures import MultiDict

from .core import JsonObject

_PROSE_ENUM = re.compile(r"(?<!some of the )possible values are:(.*)", re.IGNORECASE | re.DOTALL)
_PROSE_VALUE = re.compile(r'^\s*- "([^"]+)"', re.MULTILINE)
_RFC3339 = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})?", re.IGNORECASE)
_INT_RANGES = {"int32": (-(2**31), 2**31 - 1), "int64": (-(2**63), 2**63 - 1)}
_TYPE_NAMES = {"string": "TYPE_STRING", "boolean": "TYPE_BOOL", "object": "TYPE_MESSAGE", "array": "TYPE_LIST"}


class InvalidRequest(ValueError):
    """A request the discovery document does not allow; `field` says where, e.g. `resource.start`."""

    def __init__(self, message: str, field: str) -> None:
        super().__init__(message)
        self.message = message
        self.field = field


@dataclass(frozen=True)
class Method:
    """One API method as its discovery document describes it."""

    id: str
    scopes: tuple[str, ...]
    parameters: Mapping[str, JsonObject]
    request_schema: str | None


class Discovery:
    """A parsed discovery document (e.g. `calendar.v3`) with its methods indexed by id."""

    def __init__(self, document: JsonObject) -> None:
        self._schemas: dict[str, JsonObject] = document["schemas"]
        self._global_parameters: dict[str, JsonObject] = document.get("parameters", {})
        self.methods: dict[str, Method] = {}
        self._index(document.get("resources", {}))

    @classmethod
    @functools.cache
    def load(cls, name: str) -> Discovery:
        """The document `name` (e.g. "calendar.v3") as shipped in googleapiclient; parsed once per process."""
        documents = importlib.resources.files("googleapiclient") / "discovery_cache" / "documents"
        return cls(json.loads((documents / f"{name}.json").read_text()))

    def _index(self, resources: JsonObject) -> None:
        for resource in resources.values():
            for method in resource.get("methods", {}).values():
                self.methods[method["id"]] = Method(
                    id=method["id"],
                    scopes=tuple(method.get("scopes", ())),
                    parameters=method.get("parameters", {}),
                    request_schema=method.get("request", {}).get("$ref"),
                )
            self._index(resource.get("resources", {}))

    def check_query(self, method: Method, args: MultiDict[str, str]) -> None:
        """Reject unknown query parameters and values of the wrong type, range or enum."""
        for name in args:
            spec = method.parameters.get(name) or self._global_parameters.get(name)
            if spec is None or spec.get("location") == "path":
                raise InvalidRequest(f'Unknown query parameter "{name}".', name)
            values = args.getlist(name)
            if len(values) > 1 and not spec.get("repeated"):
                raise InvalidRequest(f'Query parameter "{name}" may only be given once.', name)
            for value in values:
                _check_parameter(spec, name, value)

    def check_body(self, method: Method, body: JsonObject) -> None:
        """Check `body` against the method's request schema, including fields required for this method."""
        if method.request_schema is not None:
            self._check_value({"$ref": method.request_schema}, body, "resource", method.id)

    def _check_value(self, schema: JsonObject, value: Any, field: str, method_id: str) -> None:
        if "$ref" in schema:
            schema = self._schemas[schema["$ref"]]
        if value is None:  # JSON null clears a field (patch semantics); any field may be cleared
            return
        kind = schema.get("type")
        if kind == "object":
            self._check_object(schema, value, field, method_id)
        elif kind == "array":
            if not isinstance(value, list):
                raise _wrong_type(field, "array", value)
            for index, item in enumerate(value):
                self._check_value(schema["items"], item, f"{field}[{index}]", method_id)
        elif kind in ("string", "integer", "boolean"):
            _check_scalar(schema, value, field)

    def _check_object(self, schema: JsonObject, value: Any, field: str, method_id: str) -> None:
        if not isinstance(value, dict):
            raise _wrong_type(field, "object", value)
        properties: dict[str, JsonObject] = schema.get("properties", {})
        extra: JsonObject | None = schema.get("additionalProperties")
        for key, item in value.items():
            if key in properties:
                self._check_value(properties[key], item, f"{field}.{key}", method_id)
            elif extra is not None:
                self._check_value(extra, item, f"{field}.{key}", method_id)
            else:
                raise InvalidRequest(
                    f"Invalid JSON payload received. Unknown name \"{key}\" at '{field}': Cannot find field.",
                    f"{field}.{key}",
                )
        for key, spec in properties.items():
            if method_id in spec.get("annotations", {}).get("required", ()) and value.get(key) is None:
                raise InvalidRequest(f"Required field '{field}.{key}' is missing.", f"{field}.{key}")


def _wrong_type(field: str, kind: str, value: Any) -> InvalidRequest:
    return InvalidRequest(f"Invalid value at '{field}' ({_TYPE_NAMES.get(kind, kind)}), {json.dumps(value)}", field)


def _allowed_values(schema: JsonObject) -> Sequence[str]:
    """The documented value set of a string field: `enum`, or the prose list in its description."""
    if "enum" in schema:
        values: list[str] = schema["enum"]
        return values
    match = _PROSE_ENUM.search(schema.get("description", ""))
    return _PROSE_VALUE.findall(match.group(1)) if match else ()


def _check_scalar(schema: JsonObject, value: Any, field: str) -> None:
    kind, fmt = schema["type"], schema.get("format")
    if kind == "boolean":
        if not isinstance(value, bool):
            raise _wrong_type(field, kind, value)
    elif kind == "integer" or fmt in _INT_RANGES:
        # Proto JSON accepts integers as numbers or decimal strings.
        low, high = _INT_RANGES.get(fmt or "int32", _INT_RANGES["int64"])
        number = _as_int(value)
        if number is None or not low <= number <= high:
            raise InvalidRequest(f"Invalid value at '{field}' (TYPE_{(fmt or 'int32').upper()}), {json.dumps(value)}", field)
    elif not isinstance(value, str):
        raise _wrong_type(field, kind, value)
    elif fmt in ("date-time", "google-datetime") and not is_rfc3339(value):
        raise InvalidRequest(f"Invalid value at '{field}': {value!r} is not an RFC 3339 date-time.", field)
    elif fmt == "date" and not _is_date(value):
        raise InvalidRequest(f"Invalid value at '{field}': {value!r} is not a yyyy-mm-dd date.", field)
    else:
        allowed = _allowed_values(schema)
        if allowed and value not in allowed:
            raise InvalidRequest(f"Invalid value at '{field}', {value!r}: expected one of {', '.join(allowed)}.", field)


def _check_parameter(spec: JsonObject, name: str, value: str) -> None:
    """Query strings carry text: decode it per the parameter's type before the checks bodies get."""
    kind = spec.get("type")
    if kind == "boolean":
        if value not in ("true", "false"):
            raise InvalidRequest(f"Invalid boolean value for {name}: {value!r}.", name)
        return
    if kind == "integer":
        number = _as_int(value)
        if number is None:
            raise InvalidRequest(f"Invalid integer value for {name}: {value!r}.", name)
        if ("minimum" in spec and number < int(spec["minimum"])) or ("maximum" in spec and number > int(spec["maximum"])):
            raise InvalidRequest(f"Invalid value for {name}: {number} is out of range.", name)
        return
    _check_scalar(spec, value, name)


def _as_int(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and re.fullmatch(r"-?\d+", value):
        return int(value)
    return None


def parse_rfc3339(value: str) -> datetime:
    """An RFC 3339 date-time; naive when it has no offset (allowed in `EventDateTime`). ValueError if invalid."""
    if not _RFC3339.fullmatch(value):
        raise ValueError(f"not an RFC 3339 date-time: {value!r}")
    return datetime.fromisoformat(value.upper())


def is_rfc3339(value: str) -> bool:
    try:
        parse_rfc3339(value)
    except ValueError:
        return False
    return True


def _is_date(value: str) -> bool:
    try:
        date.fromisoformat(value)
    except ValueError:
        return False
    return bool(re.fullmatch(r"\d{4}-\d{2}-\d{2}", value))


def page(items: Sequence[Any], size: int, token: str | None) -> tuple[Sequence[Any], str | None]:
    """One page of `items` and the token of the next; tokens are opaque, as clients must treat them."""
    start = 0
    if token:
        try:
            start = int(base64.urlsafe_b64decode(token.encode()).decode().removeprefix("offset:"))
        except (binascii.Error, UnicodeDecodeError, ValueError):
            raise InvalidRequest("Invalid page token.", "pageToken") from None
        if not 0 <= start <= len(items):
            raise InvalidRequest("Invalid page token.", "pageToken")
    end = start + size
    next_token = base64.urlsafe_b64encode(f"offset:{end}".encode()).decode() if end < len(items) else None
    return items[start:end], next_token
