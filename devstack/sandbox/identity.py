"""Identity surface: Firebase ID tokens and Google-signed OIDC tokens, plus their certs.

Tokens are signed with google-auth and carry the claims Google puts in them, and
the certificate maps are served at Google's paths in Google's format, so the
project's real verification code runs unchanged with only the certs URL pointed
at the sandbox.
"""

from __future__ import annotations

import hashlib
import json
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.serialization import Encoding, NoEncryption, PrivateFormat
from cryptography.x509.oid import NameOID
from flask import Blueprint, Response, jsonify, request
from google.auth import crypt, jwt

from .core import GoogleError, JsonObject, json_object

FIREBASE_CERTS_PATH = "/robot/v1/metadata/x509/securetoken@system.gserviceaccount.com"
GOOGLE_CERTS_PATH = "/oauth2/v1/certs"
GOOGLE_ISSUER = "https://accounts.google.com"
FIREBASE_ISSUER_PREFIX = "https://securetoken.google.com/"
CERTS_CACHE_CONTROL = "public, max-age=3600"

# Names Firebase refuses as custom claims (they would shadow the token's own).
RESERVED_CLAIMS = frozenset(
    {
        "acr", "amr", "at_hash", "aud", "auth_time", "azp", "cnf", "c_hash",
        "exp", "firebase", "iat", "iss", "jti", "nbf", "nonce", "sub",
    }
)  # fmt: skip
MAX_CLAIMS_BYTES = 1000  # Firebase's limit on the serialized custom claims.


@dataclass(frozen=True)
class SigningKey:
    """An RSA key with its self-signed certificate, identified by `kid`."""

    kid: str
    signer: crypt.RSASigner
    certificate_pem: str

    def certs(self) -> dict[str, str]:
        """The `{kid: PEM certificate}` map Google serves for its signing keys."""
        return {self.kid: self.certificate_pem}


_keys_lock = threading.Lock()
_keys: dict[str, SigningKey] = {}


def signing_key(common_name: str) -> SigningKey:
    """This process's key for `common_name`; generated once, as RSA keygen dominates start-up."""
    with _keys_lock:
        if common_name not in _keys:
            _keys[common_name] = _generate_key(common_name)
        return _keys[common_name]


def _generate_key(common_name: str) -> SigningKey:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    now = datetime.now(UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=365))
        .sign(key, hashes.SHA256())
    )
    kid = hashlib.sha1(certificate.public_bytes(Encoding.DER)).hexdigest()
    private_pem = key.private_bytes(Encoding.PEM, PrivateFormat.PKCS8, NoEncryption())
    return SigningKey(
        kid=kid,
        signer=crypt.RSASigner.from_string(private_pem, key_id=kid),
        certificate_pem=certificate.public_bytes(Encoding.PEM).decode(),
    )


def service_account_id(email: str) -> str:
    """A stable 21-digit numeric id for a service account, like Google's `sub`/`azp`."""
    digest = int.from_bytes(hashlib.sha256(email.encode()).digest()[:16], "big")
    return f"1{digest % 10**20:020d}"


def _lifetime(expires_in: Any, issued_at: Any) -> tuple[int, int]:
    if isinstance(expires_in, bool) or not isinstance(expires_in, int) or expires_in <= 0:
        raise GoogleError(400, f"expires_in must be a positive integer, got {expires_in!r}")
    if issued_at is None:
        issued_at = int(time.time())
    elif isinstance(issued_at, bool) or not isinstance(issued_at, int):
        raise GoogleError(400, f"issued_at must be unix seconds, got {issued_at!r}")
    return issued_at, issued_at + expires_in


def _required_str(body: Mapping[str, Any], key: str) -> str:
    value = body.get(key)
    if not isinstance(value, str) or not value:
        raise GoogleError(400, f"{key} is required and must be a non-empty string")
    return value


def _reject_unknown(body: Mapping[str, Any], allowed: set[str]) -> None:
    unknown = set(body) - allowed
    if unknown:
        raise GoogleError(400, f"unknown fields: {sorted(unknown)}")


class Identity:
    """Mints tokens for one sandbox project; holds no state beyond the process's keys."""

    def __init__(self, project: str) -> None:
        self.project = project
        self.firebase_key = signing_key("securetoken.system.gserviceaccount.com")
        self.google_key = signing_key("accounts.google.com")
        self.blueprint = self._blueprint()

    def mint_id_token(
        self,
        uid: str,
        email: str,
        name: str | None = None,
        claims: Mapping[str, Any] | None = None,
        expires_in: int = 3600,
        issued_at: int | None = None,
        audience: str | None = None,
        issuer: str | None = None,
        email_verified: bool = True,
    ) -> str:
        """A Firebase Auth ID token for an email/password user, custom claims at top level."""
        claims = dict(claims or {})
        reserved = RESERVED_CLAIMS & set(claims)
        if reserved:
            raise GoogleError(400, f"reserved claim names cannot be custom claims: {sorted(reserved)}")
        if len(json.dumps(claims).encode()) > MAX_CLAIMS_BYTES:
            raise GoogleError(400, f"custom claims must not exceed {MAX_CLAIMS_BYTES} bytes")
        iat, exp = _lifetime(expires_in, issued_at)
        payload: JsonObject = {
            "iss": issuer or FIREBASE_ISSUER_PREFIX + self.project,
            "aud": audience or self.project,
            "auth_time": iat,
            "user_id": uid,
            "sub": uid,
            "iat": iat,
            "exp": exp,
            "email": email,
            "email_verified": email_verified,
            "firebase": {"identities": {"email": [email]}, "sign_in_provider": "password"},
            **claims,
        }
        if name is not None:
            payload["name"] = name
        token: bytes = jwt.encode(self.firebase_key.signer, payload)
        return token.decode()

    def mint_oidc_token(self, email: str, audience: str, expires_in: int = 3600, issued_at: int | None = None) -> str:
        """The token Cloud Scheduler / Cloud Tasks attach when calling as a service account."""
        iat, exp = _lifetime(expires_in, issued_at)
        account_id = service_account_id(email)
        payload: JsonObject = {
            "iss": GOOGLE_ISSUER,
            "aud": audience,
            "azp": account_id,
            "sub": account_id,
            "email": email,
            "email_verified": True,
            "iat": iat,
            "exp": exp,
        }
        token: bytes = jwt.encode(self.google_key.signer, payload)
        return token.decode()

    def _blueprint(self) -> Blueprint:
        bp = Blueprint("identity", __name__)

        def certs_response(key: SigningKey) -> Response:
            response = jsonify(key.certs())
            response.headers["Cache-Control"] = CERTS_CACHE_CONTROL
            return response

        @bp.get(FIREBASE_CERTS_PATH)
        def firebase_certs() -> Response:
            return certs_response(self.firebase_key)

        @bp.get(GOOGLE_CERTS_PATH)
        def google_certs() -> Response:
            return certs_response(self.google_key)

        @bp.post("/sandbox/identity/id-token")
        def id_token() -> Response:
            body = json_object(request.get_data())
            _reject_unknown(
                body,
                {"uid", "email", "email_verified", "name", "claims", "expires_in",
                 "issued_at", "audience", "issuer"},
            )  # fmt: skip
            claims = body.get("claims") or {}
            if not isinstance(claims, dict):
                raise GoogleError(400, "claims must be an object")
            name, email_verified = body.get("name"), body.get("email_verified", True)
            if not isinstance(name, (str, type(None))) or not isinstance(email_verified, bool):
                raise GoogleError(400, "name must be a string and email_verified a boolean")
            token = self.mint_id_token(
                _required_str(body, "uid"),
                _required_str(body, "email"),
                name=name,
                claims=claims,
                expires_in=body.get("expires_in", 3600),
                issued_at=body.get("issued_at"),
                audience=body.get("audience"),
                issuer=body.get("issuer"),
                email_verified=email_verified,
            )
            return jsonify({"id_token": token})

        @bp.post("/sandbox/identity/oidc-token")
        def oidc_token() -> Response:
            body = json_object(request.get_data())
            _reject_unknown(body, {"email", "audience", "expires_in", "issued_at"})
            token = self.mint_oidc_token(
                _required_str(body, "email"),
                _required_str(body, "audience"),
                expires_in=body.get("expires_in", 3600),
                issued_at=body.get("issued_at"),
            )
            return jsonify({"id_token": token})

        return bp
