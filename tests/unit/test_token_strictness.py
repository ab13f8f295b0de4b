"""Strict reading of Google-signed JWTs (issue 9, items 3 and 4): one string per credential,
a few seconds of clock skew and no more, odd input a 401 and never an exception.

Tokens are signed with the sandbox's own keys, in-process; time is a FixedClock."""

from __future__ import annotations

import base64
import json
import logging
from datetime import UTC, datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from devstack.sandbox.identity import Identity
from shared.auth import tokens
from shared.auth.certs import CertificateCache
from shared.auth.principal import PrincipalKind
from shared.auth.tokens import (
    CLOCK_SKEW_SECONDS,
    FirebaseTokenVerifier,
    ServiceTokenVerifier,
    b64url_decode,
    b64url_encode,
    json_object,
)
from shared.clock import FixedClock
from shared.errors import Unauthenticated

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
T = int(NOW.timestamp())
PROJECT = "convene-unit"
AUDIENCE = "https://europe-west1-p.cloudfunctions.net/reminders"
SCHEDULER = "scheduler@p.iam.gserviceaccount.com"
ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"


class StaticCerts:
    """The issuer's certificate map, as CertificateCache.get returns it (no network)."""

    def __init__(self, certs: dict[str, str]):
        self.certs = certs
        self.asked: list[object] = []

    def get(self, key_id):
        self.asked.append(key_id)
        return self.certs


@pytest.fixture(scope="module")
def identity() -> Identity:
    return Identity(PROJECT)


@pytest.fixture
def firebase(identity):
    return FirebaseTokenVerifier(PROJECT, StaticCerts(identity.firebase_key.certs()), clock=FixedClock(NOW))


@pytest.fixture
def oidc(identity):
    return ServiceTokenVerifier(AUDIENCE, (SCHEDULER,), StaticCerts(identity.google_key.certs()), clock=FixedClock(NOW))


def id_token(identity, *, issued_at: int = T - 60, expires_in: int = 3600, **kwargs) -> str:
    return identity.mint_id_token("uid-hana", "hana@acme.example", issued_at=issued_at, expires_in=expires_in, **kwargs)


def rejected(verifier, token: str) -> str:
    with pytest.raises(Unauthenticated) as excinfo:
        verifier.verify(token)
    assert excinfo.value.status == 401
    return excinfo.value.code


def segment(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def signed(identity, header: bytes, payload: bytes) -> str:
    """A token with exactly these header and payload bytes, validly signed by the Firebase key."""
    body = f"{segment(header)}.{segment(payload)}"
    return f"{body}.{segment(identity.firebase_key.signer.sign(body.encode()))}"


def lenient(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def same_bytes_variants(text: str) -> list[str]:
    """Other last characters that Python's lenient decoder reads as the same bytes."""
    return [text[:-1] + c for c in ALPHABET if c != text[-1] and lenient(text[:-1] + c) == lenient(text)]


# --- the clock skew --------------------------------------------------------------------------


def test_the_skew_allowance_is_a_few_seconds():
    assert CLOCK_SKEW_SECONDS == 5


@pytest.mark.parametrize(("expired_ago", "accepted"), [(4, True), (5, True), (6, False), (30, False)])
def test_an_id_token_is_accepted_at_most_five_seconds_after_exp(identity, firebase, expired_ago, accepted):
    token = id_token(identity, issued_at=T - 3600 - expired_ago, expires_in=3600)
    if accepted:
        assert firebase.verify(token).subject == "uid-hana"
    else:
        assert rejected(firebase, token) == "token_expired"


@pytest.mark.parametrize(("ahead", "accepted"), [(4, True), (5, True), (6, False), (10, False)])
def test_an_id_token_is_accepted_at_most_five_seconds_before_iat(identity, firebase, ahead, accepted):
    token = id_token(identity, issued_at=T + ahead)
    if accepted:
        assert firebase.verify(token).kind is PrincipalKind.USER
    else:
        assert rejected(firebase, token) == "invalid_token"


@pytest.mark.parametrize(("expired_ago", "accepted"), [(4, True), (6, False)])
def test_an_oidc_token_has_the_same_allowance(identity, oidc, expired_ago, accepted):
    token = identity.mint_oidc_token(SCHEDULER, AUDIENCE, issued_at=T - 3600 - expired_ago, expires_in=3600)
    if accepted:
        assert oidc.verify(token).subject == SCHEDULER
    else:
        assert rejected(oidc, token) == "token_expired"


def test_a_firebase_sign_in_in_the_future_is_refused(identity, firebase):
    token = signed(
        identity,
        json.dumps({"alg": "RS256", "kid": identity.firebase_key.kid}).encode(),
        json.dumps(
            {
                "iss": f"https://securetoken.google.com/{PROJECT}",
                "aud": PROJECT,
                "sub": "uid-hana",
                "iat": T,
                "exp": T + 60,
                "auth_time": T + 3600,
            }
        ).encode(),
    )
    assert rejected(firebase, token) == "invalid_token"


# --- one string per credential ----------------------------------------------------------------


def test_a_valid_token_is_accepted(identity, firebase, oidc):
    assert firebase.verify(id_token(identity)).subject == "uid-hana"
    assert oidc.verify(identity.mint_oidc_token(SCHEDULER, AUDIENCE, issued_at=T - 60)).subject == SCHEDULER


@pytest.mark.parametrize("kind", ["firebase", "oidc"])
def test_every_other_spelling_of_a_valid_token_is_refused(identity, firebase, oidc, kind):
    verifier = firebase if kind == "firebase" else oidc
    token = id_token(identity) if kind == "firebase" else identity.mint_oidc_token(SCHEDULER, AUDIENCE, issued_at=T - 60)
    header, payload, signature = token.split(".")
    variants = [
        token + "=",
        token + "==",
        token + "%3D",
        f"{header}=.{payload}.{signature}",
        f"{header}.{payload}==.{signature}",
        f"{header}.{payload}.{signature[:20]}+{signature[21:]}",
        f"{header}.{payload}.{signature[:20]}/{signature[21:]}",
        f"{header}.{payload}.{signature[:20]} {signature[20:]}",
        f"{header}.{payload}.{signature}\n",
    ]
    variants += [f"{header}.{payload}.{v}" for v in same_bytes_variants(signature)]
    variants += [f"{v}.{payload}.{signature}" for v in same_bytes_variants(header)]
    variants += [f"{header}.{v}.{signature}" for v in same_bytes_variants(payload)]
    assert len(variants) > 12  # RSA-2048 signatures (256 bytes) leave 4 unused bits: 15 twins
    for variant in variants:
        assert rejected(verifier, variant) == "invalid_token", variant[-6:]


@pytest.mark.parametrize("text", ["QQ==", "QQ=", "QR", "QU", "Q", "Q+", "Q/", "Q Q", "Q\n", "ＱＱ", "QQ%3D", "====", "AB=C"])
def test_b64url_decode_refuses_non_canonical_strings(text):
    with pytest.raises(ValueError):
        b64url_decode(text)


@settings(max_examples=300, derandomize=True, deadline=None)
@given(st.binary(max_size=64))
def test_b64url_round_trips_bytes(data):
    assert b64url_decode(b64url_encode(data)) == data


@settings(max_examples=500, derandomize=True, deadline=None)
@given(st.text(alphabet=ALPHABET + "=+/ .", max_size=12))
def test_b64url_accepts_exactly_one_string_per_byte_string(text):
    try:
        data = b64url_decode(text)
    except ValueError:
        return
    assert b64url_encode(data) == text


# --- odd input: a 401, never an exception of another kind, never an ERROR log --------------------


def _odd_tokens(identity) -> dict[str, str]:
    kid = identity.firebase_key.kid
    nested = "[" * 1500 + "]" * 1500
    claims = json.dumps({"iss": f"https://securetoken.google.com/{PROJECT}", "aud": PROJECT, "sub": "u", "iat": T, "exp": T + 60})
    header = json.dumps({"alg": "RS256", "kid": kid})
    unsigned = {
        "kid-list": {"alg": "RS256", "kid": [kid]},
        "kid-object": {"alg": "RS256", "kid": {"kid": kid}},
        "kid-number": {"alg": "RS256", "kid": 1},
        "kid-missing": {"alg": "RS256"},
        "kid-huge": {"alg": "RS256", "kid": "k" * 500},
        "alg-none": {"alg": "none", "kid": kid},
        "alg-hs256": {"alg": "HS256", "kid": kid},
        "header-array": [kid],
        "header-string": "RS256",
        "header-number": 1,
        "header-null": None,
        "header-huge": {"alg": "RS256", "kid": kid, "x": "x" * 5000},
    }
    odd = {name: f"{segment(json.dumps(h).encode())}.{segment(claims.encode())}.c2ln" for name, h in unsigned.items()}
    deep_header = ('{"alg":"RS256","x":' + nested + "}").encode()
    odd |= {
        "header-1500-deep": f"{segment(deep_header)}.{segment(claims.encode())}.c2ln",
        "header-duplicate-alg": signed(identity, ('{"alg":"none","alg":"RS256","kid":"' + kid + '"}').encode(), claims.encode()),
        "header-not-utf8": signed(identity, b'{"alg":"RS256","kid":"\xff"}', claims.encode()),
        "header-bom": signed(identity, b"\xef\xbb\xbf" + header.encode(), claims.encode()),
        "payload-1500-deep-signed": signed(identity, header.encode(), ('{"sub":"u","x":' + nested + "}").encode()),
        "payload-array-signed": signed(identity, header.encode(), b"[1]"),
        "payload-nan-signed": signed(identity, header.encode(), claims.replace('"iat": ' + str(T), '"iat": NaN').encode()),
        "payload-duplicate-sub-signed": signed(
            identity, header.encode(), claims.replace('"sub": "u"', '"sub": "u", "sub": "v"').encode()
        ),
        "payload-times-as-strings": signed(identity, header.encode(), claims.replace(str(T + 60), f'"{T + 60}"').encode()),
        "payload-times-as-booleans": signed(identity, header.encode(), claims.replace(str(T + 60), "true").encode()),
        "payload-aud-list": signed(
            identity, header.encode(), claims.replace(f'"aud": "{PROJECT}"', f'"aud": ["{PROJECT}"]').encode()
        ),
        "two-parts": "e30.e30",
        "four-parts": "e30.e30.e30.e30",
        "empty-parts": "..",
        "huge": "e30." + "A" * 20_000 + ".c2ln",
        "not-ascii": "é.é.é",
    }
    return odd


def test_odd_tokens_are_a_401_and_log_no_error(identity, firebase, caplog):
    caplog.set_level(logging.DEBUG)
    odd = _odd_tokens(identity)
    for name, token in odd.items():
        assert rejected(firebase, token) == "invalid_token", name
    assert [r for r in caplog.records if r.levelno >= logging.WARNING] == []
    assert all(token not in caplog.text for token in odd.values())  # a rejection logs its reason, never the token


def test_a_key_id_that_is_not_a_string_never_reaches_the_certificate_cache(identity):
    certs = StaticCerts(identity.firebase_key.certs())
    verifier = FirebaseTokenVerifier(PROJECT, certs, clock=FixedClock(NOW))
    for name in ("kid-list", "kid-object", "kid-number", "kid-missing"):
        rejected(verifier, _odd_tokens(identity)[name])
    assert certs.asked == []


def test_the_certificate_cache_treats_a_non_string_key_id_as_none(tmp_path, identity):
    path = tmp_path / "certs.json"
    path.write_text(json.dumps(identity.firebase_key.certs() | {"not-a-pem": 42}))
    cache = CertificateCache(path.as_uri())
    assert cache.get(["a", "list"]) == identity.firebase_key.certs()  # no TypeError; the non-PEM entry dropped
    assert cache.get({"an": "object"}) == identity.firebase_key.certs()


def test_json_object_bounds_nesting_without_recursion():
    assert json_object(b'{"a": [[1]]}') == {"a": [[1]]}
    assert json_object(('{"a": "' + "[" * 5000 + '"}').encode()) == {"a": "[" * 5000}  # brackets in strings do not count
    for bad in (
        b"[" * 5000 + b"]" * 5000,
        ('{"a":' + "[" * 17 + "]" * 17 + "}").encode(),
        b'{"a":1,"a":2}',
        b"[]",
        b'{"a": Infinity}',
        b"\xff",
    ):
        with pytest.raises(ValueError):
            json_object(bad)
    assert tokens.MAX_JSON_DEPTH == 16
