"""Firestore storage of calendar connections and of in-flight OAuth attempts.

- ``connections/{uid}_{provider}``: one per host and provider; tokens only as ciphertext.
- ``oauth_states/{sha256(state)}``: one per connect attempt; the state itself is never
  stored, only its hash, and the PKCE verifier only encrypted. ``expires_at`` is the
  field a Firestore TTL policy deletes on.

Firestore's refusals are the ports' (shared.ports): ``Conflict`` on a create is
``AlreadyExists``, ``NotFound`` on an update ``DoesNotExist``.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from google.api_core import exceptions as gexc
from google.cloud import firestore

from shared.domain.connections import (
    CalendarEntry,
    Connection,
    ConnectionStatus,
    OAuthState,
    ProviderError,
    SealedSecret,
)
from shared.ports import AlreadyExists, ConnectedEntry, DoesNotExist, ReauthIncident

CONNECTIONS = "connections"
OAUTH_STATES = "oauth_states"


def _utc(value: datetime | None) -> datetime | None:
    return value.astimezone(UTC) if value is not None else None


def sealed_to_document(sealed: SealedSecret) -> dict[str, str]:
    return {"ciphertext": sealed.ciphertext, "key_version": sealed.key_version, "algorithm": "AES-256-GCM"}


def sealed_from_document(data: Any) -> SealedSecret | None:
    if not isinstance(data, Mapping) or "ciphertext" not in data or "key_version" not in data:
        return None
    return SealedSecret(str(data["ciphertext"]), str(data["key_version"]))


def calendar_to_document(entry: CalendarEntry) -> dict[str, Any]:
    return {
        "id": entry.id,
        "summary": entry.summary,
        "primary": entry.primary,
        "access_role": entry.access_role,
        "time_zone": entry.time_zone,
        "color": entry.color,
    }


def _calendar(data: Mapping[str, Any]) -> CalendarEntry:
    return CalendarEntry(
        id=data["id"],
        summary=data.get("summary", ""),
        primary=bool(data.get("primary", False)),
        access_role=data.get("access_role", ""),
        time_zone=data.get("time_zone"),
        color=data.get("color"),
    )


def connection_id(uid: str, provider: str) -> str:
    return f"{uid}_{provider}"


def connection_from_document(data: Mapping[str, Any]) -> Connection:
    error = data.get("last_error")
    return Connection(
        uid=data["uid"],
        workspace_id=data["workspace_id"],
        provider=data["provider"],
        status=ConnectionStatus(data["status"]),
        account_email=data.get("account_email"),
        scopes=tuple(data.get("scopes") or ()),
        calendars=tuple(_calendar(c) for c in data.get("calendars") or ()),
        refresh_token=sealed_from_document(data.get("refresh_token")),
        connected_at=_utc(data.get("connected_at")),
        last_sync_at=_utc(data.get("last_sync_at")),
        last_error=ProviderError(error["code"], error["message"], _utc(error["at"])) if error else None,  # type: ignore[arg-type]
        updated_at=_utc(data.get("updated_at")),
        account_id=data.get("account_id"),
    )


def connection_to_document(connection: Connection) -> dict[str, Any]:
    document: dict[str, Any] = {
        "uid": connection.uid,
        "workspace_id": connection.workspace_id,
        "provider": connection.provider,
        "status": connection.status.value,
        "account_email": connection.account_email,
        "account_id": connection.account_id,
        "scopes": list(connection.scopes),
        "calendars": [calendar_to_document(c) for c in connection.calendars],
        "connected_at": connection.connected_at,
        "last_sync_at": connection.last_sync_at,
        "last_error": None
        if connection.last_error is None
        else {"code": connection.last_error.code, "message": connection.last_error.message, "at": connection.last_error.at},
        "updated_at": connection.updated_at,
    }
    if connection.refresh_token is not None:
        document["refresh_token"] = sealed_to_document(connection.refresh_token)
    return document


class ConnectionRepository:
    def __init__(self, client: firestore.Client):
        self._client = client
        self._collection = client.collection(CONNECTIONS)

    def _ref(self, uid: str, provider: str) -> Any:
        return self._collection.document(connection_id(uid, provider))

    def get(self, uid: str, provider: str) -> Connection | None:
        snapshot = self._ref(uid, provider).get()
        return connection_from_document(snapshot.to_dict() or {}) if snapshot.exists else None

    def save(self, connection: Connection) -> None:
        """Write the whole connection (a new grant replaces the previous one)."""
        self._ref(connection.uid, connection.provider).set(connection_to_document(connection))

    def update(self, uid: str, provider: str, fields: Mapping[str, Any]) -> None:
        """Set field paths; ``DoesNotExist`` if there is no such connection."""
        try:
            self._ref(uid, provider).update(dict(fields))
        except gexc.NotFound:
            raise DoesNotExist(connection_id(uid, provider)) from None

    def record_sync(self, uid: str, provider: str, calendars: tuple[CalendarEntry, ...], at: datetime) -> None:
        self.update(
            uid,
            provider,
            {"calendars": [calendar_to_document(c) for c in calendars], "last_sync_at": at, "last_error": None, "updated_at": at},
        )

    def record_error(self, uid: str, provider: str, error: ProviderError, *, needs_reauth: bool = False) -> None:
        fields: dict[str, Any] = {
            "last_error": {"code": error.code, "message": error.message, "at": error.at},
            "updated_at": error.at,
        }
        if needs_reauth:
            fields["status"] = ConnectionStatus.NEEDS_REAUTH.value
            fields["refresh_token"] = firestore.DELETE_FIELD  # revoked or expired: useless, so not kept
        self.update(uid, provider, fields)

    def store_refresh_token(self, uid: str, provider: str, sealed: SealedSecret, at: datetime) -> None:
        self.update(uid, provider, {"refresh_token": sealed_to_document(sealed), "updated_at": at})

    # -- queries of the maintenance run (composite indexes: (status, last_sync_at), (status, last_error.at)) --

    def connected_page(self, *, after: str | None, limit: int) -> list[ConnectedEntry]:
        """Connected connections in document-id order after the key ``after`` (round robin)."""
        from google.cloud.firestore_v1.base_query import FieldFilter

        query = (
            self._collection.where(filter=FieldFilter("status", "==", ConnectionStatus.CONNECTED.value))
            .order_by("__name__")
            .select(["uid"])
            .limit(limit)
        )
        if after:
            query = query.start_after({"__name__": after})
        return [ConnectedEntry(snapshot.id, snapshot.get("uid")) for snapshot in query.stream()]

    def never_synced_uids(self, limit: int) -> list[str]:
        from google.cloud.firestore_v1.base_query import FieldFilter

        return self._connected_uids(FieldFilter("last_sync_at", "==", None), limit)

    def synced_before_uids(self, before: datetime, limit: int) -> list[str]:
        from google.cloud.firestore_v1.base_query import FieldFilter

        return self._connected_uids(FieldFilter("last_sync_at", "<", before), limit)

    def _connected_uids(self, condition: Any, limit: int) -> list[str]:
        from google.cloud.firestore_v1.base_query import FieldFilter

        query = self._collection.where(filter=FieldFilter("status", "==", ConnectionStatus.CONNECTED.value))
        return [snapshot.get("uid") for snapshot in query.where(filter=condition).select(["uid"]).limit(limit).stream()]

    def needs_reauth_since(self, since: datetime, limit: int) -> list[ReauthIncident]:
        from google.cloud.firestore_v1.base_query import FieldFilter

        query = (
            self._collection.where(filter=FieldFilter("status", "==", ConnectionStatus.NEEDS_REAUTH.value))
            .where(filter=FieldFilter("last_error.at", ">=", since))
            .select(["uid", "workspace_id", "last_error", "reauth_notice_id"])
            .limit(limit)
        )
        incidents = []
        for snapshot in query.stream():
            data = snapshot.to_dict() or {}
            at = _utc(data["last_error"]["at"])
            assert at is not None
            incidents.append(ReauthIncident(data["uid"], data["workspace_id"], at, data.get("reauth_notice_id")))
        return incidents

    def mark_notified(self, uid: str, provider: str, notice_id: str, at: datetime) -> None:
        self.update(uid, provider, {"reauth_notice_id": notice_id, "reauth_notified_at": at})

    def disconnect(self, uid: str, provider: str, at: datetime) -> None:
        self.update(
            uid,
            provider,
            {
                "status": ConnectionStatus.NOT_CONNECTED.value,
                "refresh_token": firestore.DELETE_FIELD,
                "scopes": [],
                "calendars": [],
                "disconnected_at": at,
                "updated_at": at,
                "last_error": None,
            },
        )


def _state_from(snapshot: Any) -> OAuthState:
    data = snapshot.to_dict() or {}
    verifier = sealed_from_document(data.get("code_verifier"))
    assert verifier is not None  # written by add() only
    return OAuthState(
        state_hash=snapshot.id,
        uid=data["uid"],
        workspace_id=data["workspace_id"],
        provider=data["provider"],
        result_url=data.get("result_url"),
        code_verifier=verifier,
        login_hint=data.get("login_hint"),
        created_at=_utc(data["created_at"]),  # type: ignore[arg-type]
        expires_at=_utc(data["expires_at"]),  # type: ignore[arg-type]
        browser_binding=data.get("browser_binding"),
    )


class OAuthStateRepository:
    def __init__(self, client: firestore.Client):
        self._client = client
        self._collection = client.collection(OAUTH_STATES)

    def add(self, state: OAuthState) -> None:
        """Create; ``AlreadyExists`` if the hash is taken."""
        document = {
            "uid": state.uid,
            "workspace_id": state.workspace_id,
            "provider": state.provider,
            "result_url": state.result_url,
            "code_verifier": sealed_to_document(state.code_verifier),
            "login_hint": state.login_hint,
            "created_at": state.created_at,
            "expires_at": state.expires_at,
        }
        try:
            self._collection.document(state.state_hash).create(document)
        except gexc.Conflict:  # ALREADY_EXISTS (gRPC's AlreadyExists is a Conflict too)
            raise AlreadyExists(state.state_hash) from None

    def get(self, state_hash: str) -> OAuthState | None:
        snapshot = self._collection.document(state_hash).get()
        return _state_from(snapshot) if snapshot.exists else None

    def bind_browser(self, state_hash: str, binding: str, now: datetime) -> OAuthState | None:
        """Tie the attempt to the first browser that opens it; None if missing, expired or already bound."""
        ref = self._collection.document(state_hash)

        @firestore.transactional
        def bind(transaction: Any) -> OAuthState | None:
            snapshot = ref.get(transaction=transaction)
            if not snapshot.exists:
                return None
            state = _state_from(snapshot)
            if state.browser_binding is not None or state.expired(now):
                return None
            transaction.update(ref, {"browser_binding": binding})
            return state

        return bind(self._client.transaction())

    def consume(self, state_hash: str) -> OAuthState | None:
        """Read and delete in one transaction: a state works once, even under concurrent callbacks."""
        ref = self._collection.document(state_hash)

        @firestore.transactional
        def take(transaction: Any) -> OAuthState | None:
            snapshot = ref.get(transaction=transaction)
            if not snapshot.exists:
                return None
            transaction.delete(ref)
            return _state_from(snapshot)

        return take(self._client.transaction())
