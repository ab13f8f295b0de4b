"""The secrets port: Google Secret Manager in production, a JSON file for development.

Every value is cached for a few minutes: a rotation (a new ``latest``) and a disabled
version (a revoked key) both take effect without a redeploy, and a secret costs one
Secret Manager call per instance per few minutes, not one per request. A caller that
meets a version newer than its cached ``latest`` may ask once for a fresh one.
Secret values never reach a log line or an error message.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from shared.errors import InternalError, Unavailable

logger = logging.getLogger(__name__)

CACHE_TTL_SECONDS = 300.0
MIN_FORCED_REFRESH_SECONDS = 10.0


@dataclass(frozen=True)
class SecretValue:
    value: bytes
    version: str  # the resolved version number, never "latest"

    def __repr__(self) -> str:  # keep values out of tracebacks and debug output
        return f"SecretValue(version={self.version!r}, value=<redacted>)"


class SecretNotFound(InternalError):
    """A secret the deployment should have is missing: an operator error, logged, answered 500."""


class Secrets(Protocol):
    def get(self, name: str, version: str = "latest") -> SecretValue: ...

    def refresh_latest(self, name: str) -> SecretValue:
        """``latest`` re-resolved now (at most every few seconds), e.g. after meeting a newer version."""
        ...


class _CachingSecrets:
    def __init__(self, monotonic: Callable[[], float] = time.monotonic):
        self._lock = threading.Lock()
        self._cache: dict[tuple[str, str], tuple[SecretValue, float]] = {}
        self._monotonic = monotonic

    def get(self, name: str, version: str = "latest") -> SecretValue:
        now = self._monotonic()
        with self._lock:
            hit = self._cache.get((name, version))
            if hit and hit[1] > now:
                return hit[0]
        return self._load(name, version, now)

    def refresh_latest(self, name: str) -> SecretValue:
        now = self._monotonic()
        with self._lock:
            hit = self._cache.get((name, "latest"))
            if hit and now - (hit[1] - CACHE_TTL_SECONDS) < MIN_FORCED_REFRESH_SECONDS:
                return hit[0]  # resolved moments ago: a flood of forged versions cannot hammer Secret Manager
        return self._load(name, "latest", now)

    def _load(self, name: str, version: str, now: float) -> SecretValue:
        value = self._fetch(name, version)
        with self._lock:
            self._cache[(name, version)] = (value, now + CACHE_TTL_SECONDS)
            self._cache[(name, value.version)] = (value, now + CACHE_TTL_SECONDS)
        return value

    def _fetch(self, name: str, version: str) -> SecretValue:
        raise NotImplementedError


class SecretManagerSecrets(_CachingSecrets):
    """Google Secret Manager through the official client over REST (no gRPC channel to open)."""

    def __init__(self, project_id: str, endpoint: str = "", **kwargs: Any):
        super().__init__(**kwargs)
        self._project_id = project_id
        self._endpoint = endpoint
        self._client: Any = None
        self._client_lock = threading.Lock()

    def _get_client(self) -> Any:
        with self._client_lock:
            if self._client is None:
                from google.cloud import secretmanager_v1  # heavy: only when a secret is first needed

                options: dict[str, Any] = {}
                credentials = None
                if self._endpoint:  # the local sandbox: plain HTTP, no Google credentials
                    from google.auth.credentials import AnonymousCredentials

                    options = {"client_options": {"api_endpoint": self._endpoint}}
                    credentials = AnonymousCredentials()
                self._client = secretmanager_v1.SecretManagerServiceClient(transport="rest", credentials=credentials, **options)
            return self._client

    def _fetch(self, name: str, version: str) -> SecretValue:
        from google.api_core import exceptions as gexc

        path = f"projects/{self._project_id}/secrets/{name}/versions/{version}"
        try:
            response = self._get_client().access_secret_version(request={"name": path}, timeout=10.0)
        # Over REST the client maps errors by HTTP status alone: a disabled or destroyed
        # version (FAILED_PRECONDITION) arrives as BadRequest.
        except (gexc.NotFound, gexc.BadRequest, gexc.FailedPrecondition, gexc.PermissionDenied) as exc:
            logger.error("secret unavailable", extra={"fields": {"secret": name, "error_code": type(exc).__name__}})
            raise SecretNotFound() from None
        except (gexc.GoogleAPICallError, gexc.RetryError, OSError) as exc:
            logger.warning("secret manager error", extra={"fields": {"secret": name, "error_code": type(exc).__name__}})
            raise Unavailable("A dependency is temporarily unavailable; retry shortly.") from None
        return SecretValue(bytes(response.payload.data), response.name.rsplit("/", 1)[-1])


class LocalSecrets(_CachingSecrets):
    """Development and tests: ``{"name": "value"}`` or ``{"name": ["v1", "v2"]}`` in a JSON file."""

    def __init__(self, path: str | Path, **kwargs: Any):
        super().__init__(**kwargs)
        self._path = Path(path)

    def _fetch(self, name: str, version: str) -> SecretValue:
        try:
            data = json.loads(self._path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            logger.error("local secrets file unreadable", extra={"fields": {"secret": name}})
            raise SecretNotFound() from None
        raw = data.get(name)
        versions = [raw] if isinstance(raw, str) else raw if isinstance(raw, list) else []
        index = len(versions) if version == "latest" else int(version) if version.isdigit() else 0
        if not 1 <= index <= len(versions):
            logger.error("secret unavailable", extra={"fields": {"secret": name}})
            raise SecretNotFound()
        return SecretValue(versions[index - 1].encode("utf-8"), str(index))
