"""Identical requests served once: a class clicking the same gallery sample together.

`RESULTS.get_or_compute(key, compute)` returns the cached result of `key` or computes it once: while
one request computes, the others with the same key wait for it (single flight) instead of each
running the model; a failure is handed to the waiters too (the same file fails the same way) and is
not cached. The key (`request_key`) is the sha256 of the uploaded file's bytes, the model id, its
revision and weights' sha256 from the card, and every option that changes the result (the tab's
options, opacity, show_anyway). A URL is not cached (what it points to may change).

Bounded: at most `MAX_ENTRIES` results and `MAX_BYTES` of their arrays (a result keeps the shown
image, at most 1600 px long, and the heat map for re-blending: up to ~6 MB for a large photo, ~250 KB
for a CT slice). A cached overlay file the output sweep has removed (`tabs.output_files`, 10 min)
makes the entry stale: it is dropped and computed again. `MEDHUB_RESULT_CACHE=0` turns the cache off.
"""

from __future__ import annotations

import hashlib
import json
import os
import threading
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

import numpy as np

MAX_ENTRIES = int(os.environ.get("MEDHUB_RESULT_CACHE_ENTRIES", "64"))
MAX_BYTES = int(os.environ.get("MEDHUB_RESULT_CACHE_BYTES", str(96 * 2**20)))
HASH_CHUNK = 1 << 20


def enabled() -> bool:
    return os.environ.get("MEDHUB_RESULT_CACHE", "1") != "0"


def file_sha256(path: str) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(HASH_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def request_key(card: Any, file: str, options: dict[str, Any]) -> str | None:
    """The cache key of one request, or None when it must not be cached (no file, unreadable)."""
    if not file or not isinstance(file, str):
        return None
    try:
        sha = file_sha256(file)
    except OSError:
        return None
    model = {"id": card.id, "revision": card.revision, "weights": [f.sha256 for f in card.files]}
    blob = json.dumps({"file": sha, "model": model, "options": options}, sort_keys=True, default=str)
    return hashlib.sha256(blob.encode()).hexdigest()


def _size(value: Any) -> int:
    if isinstance(value, np.ndarray):
        return int(value.nbytes)
    if isinstance(value, dict):
        return sum(_size(v) for v in value.values())
    if isinstance(value, (list, tuple)):
        return sum(_size(v) for v in value)
    return 0


def _files_exist(value: Any) -> bool:
    """Every output file path in a result tuple still exists (the sweep may have removed it)."""
    return all(os.path.exists(v) for v in value if isinstance(v, str) and os.path.isabs(v))


class _Flight:
    def __init__(self) -> None:
        self.done = threading.Event()
        self.value: Any = None
        self.error: BaseException | None = None


class ResultCache:
    def __init__(self, max_entries: int = MAX_ENTRIES, max_bytes: int = MAX_BYTES) -> None:
        self.max_entries, self.max_bytes = max_entries, max_bytes
        self._lock = threading.Lock()
        self._items: OrderedDict[str, tuple[Any, int]] = OrderedDict()
        self._flights: dict[str, _Flight] = {}
        self.bytes = 0
        self.hits = self.misses = self.joined = 0

    def __len__(self) -> int:
        return len(self._items)

    def clear(self) -> None:
        with self._lock:
            self._items.clear()
            self.bytes = 0

    def get_or_compute(self, key: str | None, compute: Callable[[], Any]) -> Any:
        if key is None or not enabled():
            return compute()
        with self._lock:
            item = self._items.get(key)
            if item is not None and _files_exist(item[0]):
                self._items.move_to_end(key)
                self.hits += 1
                return item[0]
            if item is not None:  # stale: its overlay file was swept
                self._drop(key)
            flight = self._flights.get(key)
            leader = flight is None
            if leader:
                flight = self._flights[key] = _Flight()
                self.misses += 1
            else:
                self.joined += 1
        if not leader:
            flight.done.wait()
            if flight.error is not None:
                raise flight.error
            return flight.value
        try:
            value = compute()
        except BaseException as exc:
            flight.error = exc
            raise
        else:
            flight.value = value
            self._store(key, value)
            return value
        finally:
            with self._lock:
                self._flights.pop(key, None)
            flight.done.set()

    def _drop(self, key: str) -> None:
        _, size = self._items.pop(key)
        self.bytes -= size

    def _store(self, key: str, value: Any) -> None:
        size = _size(value)
        if size > self.max_bytes:
            return
        with self._lock:
            if key in self._items:
                self._drop(key)
            self._items[key] = (value, size)
            self.bytes += size
            while self._items and (len(self._items) > self.max_entries or self.bytes > self.max_bytes):
                self._drop(next(iter(self._items)))

    def stats(self) -> dict[str, int]:
        return {"entries": len(self._items), "bytes": self.bytes, "hits": self.hits, "misses": self.misses,
                "joined": self.joined}


RESULTS = ResultCache()
