"""Verifier for the OIDC tokens Cloud Scheduler and Cloud Tasks send to internal functions."""

import time

import pytest

from devstack.stack import GOOGLE_OIDC_CERTS_PATH
from shared.auth.certs import CertificateCache
from shared.auth.principal import PrincipalKind
from shared.auth.tokens import ServiceTokenVerifier
from shared.errors import PermissionDenied, Unauthenticated

AUDIENCE = "https://europe-west1-p.cloudfunctions.net/reminders"
SCHEDULER = "scheduler@p.iam.gserviceaccount.com"


@pytest.fixture
def verifier(sandbox):
    return ServiceTokenVerifier(AUDIENCE, (SCHEDULER,), CertificateCache(sandbox.url + GOOGLE_OIDC_CERTS_PATH))


def test_the_configured_service_account_is_accepted(verifier, sandbox):
    principal = verifier.verify(sandbox.mint_oidc_token(SCHEDULER, AUDIENCE))
    assert (principal.kind, principal.subject) == (PrincipalKind.SERVICE, SCHEDULER)


def test_another_service_account_is_forbidden(verifier, sandbox):
    with pytest.raises(PermissionDenied):
        verifier.verify(sandbox.mint_oidc_token("intruder@p.iam.gserviceaccount.com", AUDIENCE))


@pytest.mark.parametrize(
    "make",
    [
        lambda s: s.mint_oidc_token(SCHEDULER, "https://another-function.example"),
        lambda s: s.mint_oidc_token(SCHEDULER, AUDIENCE, issued_at=int(time.time()) - 7200),
        lambda s: s.mint_id_token("uid", SCHEDULER, audience=AUDIENCE),  # a Firebase token is not Google OIDC
        lambda s: "garbage",
    ],
    ids=["wrong-audience", "expired", "firebase-token", "garbage"],
)
def test_bad_tokens_are_unauthenticated(verifier, sandbox, make):
    with pytest.raises(Unauthenticated):
        verifier.verify(make(sandbox))


def test_unconfigured_verifier_accepts_nobody(sandbox):
    verifier = ServiceTokenVerifier("", (), CertificateCache(sandbox.url + GOOGLE_OIDC_CERTS_PATH))
    with pytest.raises(Unauthenticated):
        verifier.verify(sandbox.mint_oidc_token(SCHEDULER, AUDIENCE))
