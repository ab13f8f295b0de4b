"""The certificate cache against the sandbox's certificate endpoint."""

import pytest

from devstack.stack import FIREBASE_CERTS_PATH
from shared.auth.certs import CertificateCache
from shared.errors import Unavailable


class Ticker:
    def __init__(self):
        self.now = 1000.0

    def __call__(self):
        return self.now


def test_certificates_are_fetched_once_and_refreshed_after_max_age(sandbox):
    ticker = Ticker()
    cache = CertificateCache(sandbox.url + FIREBASE_CERTS_PATH, monotonic=ticker)
    kid = next(iter(cache.get(None)))
    fetches = lambda: len(sandbox.calls(FIREBASE_CERTS_PATH))
    before = fetches()
    cache.get(kid)
    cache.get("unknown-kid")  # unknown key, but a fetch happened less than a minute ago
    assert fetches() == before
    ticker.now += 61
    cache.get("unknown-kid")  # rotation: an unknown key id triggers one early refetch
    assert fetches() == before + 1
    ticker.now += 3600  # the sandbox says max-age=3600
    cache.get(kid)
    assert fetches() == before + 2


def test_outage_keeps_serving_known_keys_but_fails_cleanly_when_none(sandbox):
    ticker = Ticker()
    cache = CertificateCache(sandbox.url + FIREBASE_CERTS_PATH, monotonic=ticker)
    known = dict(cache.get(None))
    sandbox.inject(FIREBASE_CERTS_PATH, [{"status": 503}])
    ticker.now += 4000
    assert dict(cache.get(None)) == known
    with pytest.raises(Unavailable):
        CertificateCache("http://127.0.0.1:9/nothing", timeout=0.5).get(None)
