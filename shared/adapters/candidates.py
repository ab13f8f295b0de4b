"""Firestore repository of ``candidates/{candidate_id}``: people a workspace keeps to book.

Read by the interview service when a booking names ``candidate_id``; the documents are
written by the workspace's own tooling (``workspace_id``, ``email``, ``name``). One document
read per booking; no query, so no index.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

CANDIDATES = "candidates"


@dataclass(frozen=True)
class StoredCandidate:
    """A candidate document as stored: its email is checked by the booking rules when used."""

    id: str
    workspace_id: str | None
    email: object
    name: str


class CandidateRepository:
    def __init__(self, client: Any):  # a google.cloud.firestore.Client, loaded by the caller
        self._collection = client.collection(CANDIDATES)

    def get(self, candidate_id: str) -> StoredCandidate | None:
        from shared.adapters.firestore import storable_id

        if not storable_id(candidate_id):
            return None
        snapshot = self._collection.document(candidate_id).get()
        if not snapshot.exists:
            return None
        data = snapshot.to_dict() or {}
        return StoredCandidate(
            id=snapshot.id,
            workspace_id=data.get("workspace_id"),
            email=data.get("email"),
            name=str(data.get("name", "")),
        )
