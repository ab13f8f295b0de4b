"""Builds the real adapters once per instance (cold start) and lets tests inject others.

Every component is created on first use, so a function only pays for what its requests
touch: the join check never imports the Secret Manager client unless a guest link
arrives, and never the Calendar client at all.
"""

from __future__ import annotations

import threading
from functools import cached_property
from typing import Any

from shared import logs
from shared.auth.certs import CertificateCache
from shared.auth.guest_links import GuestLinks
from shared.auth.tokens import FirebaseTokenVerifier, ServiceTokenVerifier
from shared.clock import Clock, SystemClock
from shared.config import Settings
from shared.domain.models import JoinWindow
from shared.secrets import LocalSecrets, SecretManagerSecrets, Secrets


class Container:
    def __init__(self, settings: Settings, *, clock: Clock | None = None, firestore_client: Any = None,
                 secrets: Secrets | None = None):
        self.settings = settings
        self.clock: Clock = clock or SystemClock()
        self._firestore_client = firestore_client
        self._secrets = secrets
        self._lock = threading.RLock()

    @cached_property
    def firestore(self) -> Any:
        with self._lock:
            if self._firestore_client is None:
                from google.cloud import firestore

                self._firestore_client = firestore.Client(project=self.settings.project_id)
            return self._firestore_client

    @cached_property
    def secrets(self) -> Secrets:
        if self._secrets is not None:
            return self._secrets
        if self.settings.secrets_backend == "local":
            return LocalSecrets(self.settings.local_secrets_file)
        return SecretManagerSecrets(self.settings.project_id, self.settings.secret_manager_endpoint)

    @cached_property
    def interviews(self) -> Any:
        from shared.adapters.firestore import InterviewRepository

        return InterviewRepository(self.firestore)

    @cached_property
    def users(self) -> Any:
        from shared.adapters.firestore import UserRepository

        return UserRepository(self.firestore)

    @cached_property
    def workspaces(self) -> Any:
        from shared.adapters.firestore import WorkspaceRepository

        return WorkspaceRepository(self.firestore)

    @cached_property
    def id_tokens(self) -> FirebaseTokenVerifier:
        return FirebaseTokenVerifier(self.settings.firebase_project_id, CertificateCache(self.settings.firebase_certs_url))

    @cached_property
    def service_tokens(self) -> ServiceTokenVerifier:
        return ServiceTokenVerifier(
            self.settings.internal_audience,
            self.settings.internal_invokers,
            CertificateCache(self.settings.google_oidc_certs_url),
        )

    @cached_property
    def guest_links(self) -> GuestLinks:
        return GuestLinks(self.secrets, self.settings.guest_link_secret)

    @cached_property
    def default_join_window(self) -> JoinWindow:
        return JoinWindow(self.settings.join_opens_minutes, self.settings.join_closes_minutes)


_container: Container | None = None
_container_lock = threading.Lock()


def container() -> Container:
    """The instance-wide container, built from the environment on first use."""
    global _container
    if _container is None:
        with _container_lock:
            if _container is None:
                settings = Settings.from_env()
                logs.configure(settings.log_level)
                _container = Container(settings)
    return _container


def use_container(replacement: Container | None) -> None:
    """Tests: run the functions against injected adapters (or ``None`` to rebuild from env)."""
    global _container
    with _container_lock:
        _container = replacement
