"""Counts the Firestore documents a client reads and writes, for tests and benchmarks.

Wraps the client's low-level API object (the one every read, query, commit and
transaction goes through) so the counts are what Firestore would bill: documents
returned by reads and queries, writes in commits. ``rpcs`` names each call in order
(``batch_get_documents`` once per document read by key, ``run_query`` and
``run_aggregation_query`` once per query, ``begin_transaction``, ``commit``), from which
``queries`` and ``transactions`` are counted.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any


@dataclass
class OperationCounts:
    reads: int = 0
    writes: int = 0

    @property
    def transactions(self) -> int:
        return self.rpcs.count("begin_transaction")

    @property
    def queries(self) -> int:
        """Queries run (``RunQuery`` and ``RunAggregationQuery`` RPCs), whatever they returned."""
        return sum(1 for rpc in self.rpcs if rpc in ("run_query", "run_aggregation_query"))

    rpcs: list[str] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def reset(self) -> None:
        with self._lock:
            self.reads = self.writes = 0
            self.rpcs.clear()

    def _add(self, rpc: str, reads: int = 0, writes: int = 0) -> None:
        with self._lock:
            self.rpcs.append(rpc)
            self.reads += reads
            self.writes += writes


class _CountingApi:
    def __init__(self, api: Any, counts: OperationCounts):
        self._api = api
        self._counts = counts

    def batch_get_documents(self, *args: Any, **kwargs: Any) -> Iterator[Any]:
        for response in self._api.batch_get_documents(*args, **kwargs):
            self._counts._add("batch_get_documents", reads=1)  # found or missing, one read each
            yield response

    def run_query(self, *args: Any, **kwargs: Any) -> Iterator[Any]:
        returned = 0
        for response in self._api.run_query(*args, **kwargs):
            if response.document and response.document.name:
                returned += 1
            yield response
        self._counts._add("run_query", reads=max(returned, 1))  # an empty query costs one read

    def run_aggregation_query(self, *args: Any, **kwargs: Any) -> Any:
        # Billed one read per batch of up to 1,000 index entries matched: counted as one.
        responses = self._api.run_aggregation_query(*args, **kwargs)
        self._counts._add("run_aggregation_query", reads=1)
        return responses

    def begin_transaction(self, *args: Any, **kwargs: Any) -> Any:
        self._counts._add("begin_transaction")
        return self._api.begin_transaction(*args, **kwargs)

    def commit(self, *args: Any, **kwargs: Any) -> Any:
        request = kwargs.get("request") or (args[0] if args else {})
        writes = request.get("writes", []) if isinstance(request, dict) else list(request.writes)
        self._counts._add("commit", writes=len(writes))
        return self._api.commit(*args, **kwargs)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._api, name)


def count_operations(client: Any) -> OperationCounts:
    """Start counting on ``client`` (a ``google.cloud.firestore.Client``); returns the live counts."""
    counts = OperationCounts()
    api = client._firestore_api  # creates the underlying API object if needed
    client._firestore_api_internal = _CountingApi(api, counts)
    return counts
