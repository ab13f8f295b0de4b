"""Public certificates of a token issuer, fetched once and cached as the issuer allows.

Google rotates the keys behind ID tokens and says for how long a set stays valid with
``Cache-Control: max-age``. Fetching per request would add a network round trip to every
call; never refetching would break at rotation. A token signed with an unknown key id
triggers at most one early refetch per minute.
"""

from __future__ import annotations

import json
import re
import threading
import time
import urllib.request
from collections.abc import Callable, Mapping

from shared.errors import Unavailable

_MAX_AGE = re.compile(r"max-age=(\d+)")
DEFAULT_TTL_SECONDS = 300
MIN_REFETCH_SECONDS = 60


class CertificateCache:
    def __init__(self, url: str, *, monotonic: Callable[[], float] = time.monotonic, timeout: float = 5.0):
        self._url = url
        self._monotonic = monotonic
        self._timeout = timeout
        self._lock = threading.Lock()
        self._certs: Mapping[str, str] = {}
        self._expires_at = 0.0
        self._fetched_at = -float("inf")

    def get(self, key_id: str | None) -> Mapping[str, str]:
        """Certificates that should contain ``key_id`` (refetched if it is missing).

        ``key_id`` comes from an unverified token header: anything but a string (a list,
        an object) is treated as no key id, never as a reason to refetch or a TypeError.
        """
        if not isinstance(key_id, str):
            key_id = None
        with self._lock:
            now = self._monotonic()
            stale = now >= self._expires_at
            unknown_key = key_id is not None and key_id not in self._certs
            if stale or (unknown_key and now - self._fetched_at >= MIN_REFETCH_SECONDS):
                self._refresh(now)
            return self._certs

    def _refresh(self, now: float) -> None:
        try:
            with urllib.request.urlopen(self._url, timeout=self._timeout) as response:
                certs = json.loads(response.read())
                cache_control = response.headers.get("Cache-Control", "")
        except (OSError, ValueError) as exc:
            if self._certs:  # keep serving the previous keys through a short outage
                self._expires_at = now + MIN_REFETCH_SECONDS
                return
            raise Unavailable("Token verification keys are unavailable; retry shortly.") from exc
        if not isinstance(certs, dict):
            raise Unavailable("Token verification keys are unavailable; retry shortly.")
        certs = {kid: pem for kid, pem in certs.items() if isinstance(pem, str)}  # only PEM strings are keys
        match = _MAX_AGE.search(cache_control)
        ttl = int(match.group(1)) if match else DEFAULT_TTL_SECONDS
        self._certs = certs
        self._fetched_at = now
        self._expires_at = now + ttl
