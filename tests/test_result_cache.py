"""Identical requests served once (tabs/result_cache.py, issue 20): single flight, bounds, keys."""

from __future__ import annotations

import threading
import time
from types import SimpleNamespace

import numpy as np
import pytest

from tabs.result_cache import ResultCache, request_key

CARD = SimpleNamespace(id="m", revision="r1", files=[SimpleNamespace(sha256="abc")])


def test_thirty_identical_requests_compute_once():
    cache = ResultCache()
    calls = []
    start = threading.Barrier(30)
    results = []

    def compute():
        calls.append(1)
        time.sleep(0.3)
        return ("label", None, {"n": len(calls)}, None)

    def worker():
        start.wait()
        results.append(cache.get_or_compute("k", compute))

    threads = [threading.Thread(target=worker) for _ in range(30)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(calls) == 1 and len(results) == 30
    assert all(r is results[0] for r in results)
    assert cache.stats()["misses"] == 1 and cache.stats()["joined"] + cache.stats()["hits"] == 29


def test_errors_reach_the_waiters_and_are_not_cached():
    cache = ResultCache()

    def boom():
        raise ValueError("bad file")

    with pytest.raises(ValueError):
        cache.get_or_compute("k", boom)
    assert len(cache) == 0
    assert cache.get_or_compute("k", lambda: ("ok",)) == ("ok",)


def test_bounded_by_entries_and_bytes():
    cache = ResultCache(max_entries=3, max_bytes=10_000)
    for i in range(5):
        cache.get_or_compute(f"k{i}", lambda i=i: (i,))
    assert len(cache) == 3
    big = np.zeros(6000, dtype=np.uint8)
    cache.get_or_compute("a", lambda: ({"image": big},))
    cache.get_or_compute("b", lambda: ({"image": big.copy()},))
    assert cache.bytes <= 10_000 and len(cache) <= 3
    huge = np.zeros(20_000, dtype=np.uint8)
    cache.get_or_compute("h", lambda: ({"image": huge},))
    assert "h" not in cache._items, "a result larger than the whole budget is not kept"


def test_a_swept_overlay_file_is_computed_again(tmp_path):
    cache = ResultCache()
    overlay = tmp_path / "overlay.jpg"
    overlay.write_bytes(b"x")
    calls = []

    def compute():
        calls.append(1)
        overlay.write_bytes(b"x")
        return ("label", str(overlay), {}, None)

    cache.get_or_compute("k", compute)
    cache.get_or_compute("k", compute)
    assert len(calls) == 1
    overlay.unlink()
    cache.get_or_compute("k", compute)
    assert len(calls) == 2


def test_key_follows_bytes_options_and_revision(tmp_path):
    a, b, c = tmp_path / "a.png", tmp_path / "b.png", tmp_path / "c.png"
    a.write_bytes(b"same")
    b.write_bytes(b"same")
    c.write_bytes(b"other")
    opts = {"opacity": 0.45, "show_anyway": False}
    assert request_key(CARD, str(a), opts) == request_key(CARD, str(b), opts), "by content, not by name"
    assert request_key(CARD, str(a), opts) != request_key(CARD, str(c), opts)
    assert request_key(CARD, str(a), opts) != request_key(CARD, str(a), {**opts, "opacity": 0.5})
    other = SimpleNamespace(id="m", revision="r2", files=CARD.files)
    assert request_key(CARD, str(a), opts) != request_key(other, str(a), opts)
    assert request_key(CARD, None, opts) is None and request_key(CARD, str(tmp_path / "gone"), opts) is None
