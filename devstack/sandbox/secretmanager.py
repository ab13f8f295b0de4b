"""Secret Manager REST v1 surface, for the real `SecretManagerServiceClient(transport="rest")`.

State is kept per project id. Like Google, resource names in responses carry the
project *number* (a stable fake one here), and paths accept either id or number:
code that compares returned names with `projects/<id>/...` fails here as it would
in production. Regional (`locations/*`) paths, IAM, aliases, rotation, etags and
list filters are not implemented.
"""

from __future__ import annotations

import base64
import binascii
import enum
import hashlib
import re
import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from flask import Blueprint, Response, jsonify, request

from .core import GoogleError, JsonObject, json_object, wants_int_enums

SECRET_ID = re.compile(r"[A-Za-z0-9_-]{1,255}")
MAX_PAYLOAD_BYTES = 64 * 1024


class State(enum.IntEnum):
    """`SecretVersion.State`, numbered as in the proto."""

    ENABLED = 1
    DISABLED = 2
    DESTROYED = 3


def _crc32c_table() -> list[int]:
    table = []
    for byte in range(256):
        crc = byte
        for _ in range(8):
            crc = (crc >> 1) ^ (0x82F63B78 if crc & 1 else 0)
        table.append(crc)
    return table


_CRC32C_TABLE = _crc32c_table()


def crc32c(data: bytes) -> int:
    """CRC-32C (Castagnoli), the checksum Secret Manager uses; no C extension is installed."""
    crc = 0xFFFFFFFF
    for byte in data:
        crc = _CRC32C_TABLE[(crc ^ byte) & 0xFF] ^ (crc >> 8)
    return crc ^ 0xFFFFFFFF


def project_number(project: str) -> str:
    """The stable fake project number the sandbox reports for a project id."""
    if project.isdigit():
        return project
    digest = int.from_bytes(hashlib.sha256(project.encode()).digest()[:8], "big")
    return str(100_000_000_000 + digest % 900_000_000_000)


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")


@dataclass
class _Version:
    number: int
    create_time: str
    data: bytes | None
    client_checksum: bool
    state: State = State.ENABLED
    destroy_time: str | None = None


@dataclass
class _Secret:
    create_time: str
    replication: JsonObject
    labels: JsonObject
    versions: list[_Version] = field(default_factory=list)


def _int_field(value: Any, what: str) -> int:
    """Parse a proto int64/int32 JSON field, which may arrive as a string."""
    try:
        return int(value)
    except (TypeError, ValueError) as exc:
        raise GoogleError(400, f"Invalid value for {what}: {value!r}") from exc


def _page(items: list[Any], page_size: str | None, page_token: str | None) -> tuple[list[Any], str]:
    """Slice a listing like Google's pagers expect; tokens are opaque offsets."""
    size = _int_field(page_size or 0, "page_size")
    start = _int_field(page_token or 0, "page_token")
    if size < 0 or start < 0 or start > len(items):
        raise GoogleError(400, "Invalid page_size or page_token.")
    end = len(items) if size == 0 else min(start + size, len(items))
    return items[start:end], (str(end) if end < len(items) else "")


class SecretManager:
    """Secrets and their versions, per project, behind one lock."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._projects: dict[str, dict[str, _Secret]] = {}
        self._ids_by_number: dict[str, str] = {}
        self.blueprint = self._blueprint()

    def reset(self) -> None:
        with self._lock:
            self._projects.clear()
            self._ids_by_number.clear()

    # -- state, called with the lock held -------------------------------------------

    def _project(self, project: str) -> dict[str, _Secret]:
        project = self._ids_by_number.get(project, project)
        self._ids_by_number[project_number(project)] = project
        return self._projects.setdefault(project, {})

    def _secret(self, project: str, secret_id: str) -> _Secret:
        secret = self._project(project).get(secret_id)
        if secret is None:
            raise GoogleError(404, f"Secret [{_secret_name(project, secret_id)}] not found.")
        return secret

    def _version(self, project: str, secret_id: str, version: str) -> _Version:
        secret = self._secret(project, secret_id)
        if version == "latest":
            if not secret.versions:
                raise GoogleError(404, f"Secret [{_secret_name(project, secret_id)}] not found or has no versions.")
            return secret.versions[-1]
        if version.isdigit() and 1 <= int(version) <= len(secret.versions):
            return secret.versions[int(version) - 1]
        raise GoogleError(404, f"Secret Version [{_version_name(project, secret_id, version)}] not found.")

    def _create(self, project: str, secret_id: str, body: JsonObject) -> _Secret:
        if not SECRET_ID.fullmatch(secret_id):
            raise GoogleError(400, f"Invalid secret id {secret_id!r}: use [A-Za-z0-9_-]{{1,255}}.")
        secrets = self._project(project)
        if secret_id in secrets:
            raise GoogleError(409, f"Secret [{_secret_name(project, secret_id)}] already exists.")
        secrets[secret_id] = _Secret(_now(), body.get("replication") or {}, body.get("labels") or {})
        return secrets[secret_id]

    def _add(self, project: str, secret_id: str, data: bytes, checksum: int | None) -> _Version:
        secret = self._secret(project, secret_id)
        if len(data) > MAX_PAYLOAD_BYTES:
            raise GoogleError(400, f"Secret payload exceeds {MAX_PAYLOAD_BYTES} bytes.")
        if checksum is not None and checksum != crc32c(data):
            raise GoogleError(400, "Checksum mismatch: payload.data_crc32c does not match the data.")
        version = _Version(len(secret.versions) + 1, _now(), data, checksum is not None)
        secret.versions.append(version)
        return version

    # -- Python API ------------------------------------------------------------------

    def put(self, project: str, secret_id: str, value: bytes | str) -> str:
        """Add `value` as the newest version, creating the secret if needed; returns the number."""
        data = value.encode() if isinstance(value, str) else value
        with self._lock:
            if secret_id not in self._project(project):
                self._create(project, secret_id, {"replication": {"automatic": {}}})
            return str(self._add(project, secret_id, data, None).number)

    # -- HTTP ------------------------------------------------------------------------

    def _blueprint(self) -> Blueprint:
        bp = Blueprint("secretmanager", __name__)

        # Custom verbs (`:addVersion`, `:access`, ...) share a path segment with the
        # resource id, so each level has one route that splits the verb off itself.

        @bp.route("/v1/projects/<project>/secrets", methods=["GET", "POST"])
        def secrets(project: str) -> Response:
            if request.method == "POST":
                secret_id = request.args.get("secretId", "")
                body = json_object(request.get_data())
                with self._lock:
                    secret = self._create(project, secret_id, body)
                    return jsonify(_secret_json(project, secret_id, secret))
            _reject_filter()
            with self._lock:
                listed = list(self._project(project).items())
            page, token = _page(listed, request.args.get("pageSize"), request.args.get("pageToken"))
            return jsonify(_listing("secrets", [_secret_json(project, s, v) for s, v in page], token, len(listed)))

        @bp.route("/v1/projects/<project>/secrets/<path:secret_verb>", methods=["GET", "POST", "DELETE"])
        def secret(project: str, secret_verb: str) -> Response:
            parts = secret_verb.split("/")
            if len(parts) == 1:
                return self._secret_route(project, parts[0])
            if len(parts) == 2 and parts[1] == "versions" and request.method == "GET":
                return self._list_versions(project, parts[0])
            if len(parts) == 3 and parts[1] == "versions":
                return self._version_route(project, parts[0], parts[2])
            raise GoogleError(404, f"Unknown Secret Manager path {request.path}.")

        return bp

    def _secret_route(self, project: str, secret_verb: str) -> Response:
        secret_id, _, verb = secret_verb.partition(":")
        if request.method == "GET" and not verb:
            with self._lock:
                return jsonify(_secret_json(project, secret_id, self._secret(project, secret_id)))
        if request.method == "DELETE" and not verb:
            with self._lock:
                self._secret(project, secret_id)
                del self._project(project)[secret_id]
            return jsonify({})
        if request.method == "POST" and verb == "addVersion":
            data, checksum = _payload(json_object(request.get_data()))
            with self._lock:
                version = self._add(project, secret_id, data, checksum)
                return jsonify(_version_json(project, secret_id, version))
        raise GoogleError(404, f"Unknown Secret Manager method {request.method} {request.path}.")

    def _list_versions(self, project: str, secret_id: str) -> Response:
        _reject_filter()
        with self._lock:
            newest_first = list(reversed(self._secret(project, secret_id).versions))
        page, token = _page(newest_first, request.args.get("pageSize"), request.args.get("pageToken"))
        versions = [_version_json(project, secret_id, v) for v in page]
        return jsonify(_listing("versions", versions, token, len(newest_first)))

    def _version_route(self, project: str, secret_id: str, version_verb: str) -> Response:
        version_id, _, verb = version_verb.partition(":")
        with self._lock:
            version = self._version(project, secret_id, version_id)
            name = _version_name(project, secret_id, str(version.number))
            if request.method == "GET" and not verb:
                return jsonify(_version_json(project, secret_id, version))
            if request.method == "GET" and verb == "access":
                if version.state is not State.ENABLED or version.data is None:
                    raise GoogleError(400, f"Secret Version [{name}] is in {version.state.name} state.", "FAILED_PRECONDITION")
                payload = {
                    "data": base64.b64encode(version.data).decode(),
                    "dataCrc32c": str(crc32c(version.data)),
                }
                return jsonify({"name": name, "payload": payload})
            if request.method == "POST" and verb in ("enable", "disable", "destroy"):
                if version.state is State.DESTROYED:
                    raise GoogleError(400, f"Secret Version [{name}] is in DESTROYED state.", "FAILED_PRECONDITION")
                if verb == "destroy":
                    version.state, version.data, version.destroy_time = State.DESTROYED, None, _now()
                else:
                    version.state = State.ENABLED if verb == "enable" else State.DISABLED
                return jsonify(_version_json(project, secret_id, version))
        raise GoogleError(404, f"Unknown Secret Manager method {request.method} {request.path}.")


def _reject_filter() -> None:
    if request.args.get("filter"):
        raise GoogleError(501, "The sandbox does not implement list filters.")


def _payload(body: JsonObject) -> tuple[bytes, int | None]:
    payload = body.get("payload")
    if not isinstance(payload, dict):
        raise GoogleError(400, "payload is required.")
    encoded = payload.get("data", "")
    try:
        # Proto JSON bytes may be standard or URL-safe base64.
        data = base64.b64decode(str(encoded).replace("-", "+").replace("_", "/"), validate=True)
    except binascii.Error as exc:
        raise GoogleError(400, f"Invalid value at 'payload.data': {exc}") from exc
    checksum = payload.get("dataCrc32c")
    return data, None if checksum is None else _int_field(checksum, "payload.data_crc32c")


def _secret_name(project: str, secret_id: str) -> str:
    return f"projects/{project_number(project)}/secrets/{secret_id}"


def _version_name(project: str, secret_id: str, version: str) -> str:
    return f"{_secret_name(project, secret_id)}/versions/{version}"


def _secret_json(project: str, secret_id: str, secret: _Secret) -> JsonObject:
    body: JsonObject = {
        "name": _secret_name(project, secret_id),
        "replication": secret.replication,
        "createTime": secret.create_time,
    }
    if secret.labels:
        body["labels"] = secret.labels
    return body


def _version_json(project: str, secret_id: str, version: _Version) -> JsonObject:
    body: JsonObject = {
        "name": _version_name(project, secret_id, str(version.number)),
        "createTime": version.create_time,
        # gapic REST clients ask for numeric enums (`$alt=json;enum-encoding=int`).
        "state": int(version.state) if wants_int_enums(request.args.get("$alt", "")) else version.state.name,
    }
    if version.client_checksum:
        body["clientSpecifiedPayloadChecksum"] = True
    if version.destroy_time:
        body["destroyTime"] = version.destroy_time
    return body


def _listing(key: str, items: list[JsonObject], next_token: str, total: int) -> JsonObject:
    """A proto3-JSON list response: empty fields are omitted, as Google omits them."""
    body: JsonObject = {"totalSize": total} if total else {}
    if items:
        body[key] = items
    if next_token:
        body["nextPageToken"] = next_token
    return body
