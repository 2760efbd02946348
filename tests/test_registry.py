"""The model registry: load once, status per model (idle -> loading -> ready | error), thread-safe,
and a model whose weights fail to load shows its error while the others keep working."""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np
import pytest

from medhub.cards import get_card, load_cards
from medhub.inference import ModelUnavailable
from medhub.registry import ERROR, IDLE, LOADING, READY, ModelRegistry
from medhub.weights import sha256_file
from tests.tiny_models import save_tiny_weights, tiny_card

REAL_IDS = tuple(c.id for c in load_cards()[:2])  # any two cards: the fake loader never touches their weights


class FakeLoader:
    """Loads instantly (or when released), records calls; `fail` maps id -> exception to raise."""

    def __init__(self, fail: dict[str, Exception] | None = None, gate: threading.Event | None = None):
        self.fail = dict(fail or {})
        self.gate = gate
        self.started = threading.Event()
        self.calls: list[str] = []
        self.lock = threading.Lock()

    def __call__(self, card):
        with self.lock:
            self.calls.append(card.id)
        self.started.set()
        if self.gate is not None:
            assert self.gate.wait(60), "test gate never opened"
        if card.id in self.fail:
            raise self.fail[card.id]
        return object()  # stands in for a Predictor


def test_status_goes_idle_loading_ready_and_loads_once():
    gate = threading.Event()
    loader = FakeLoader(gate=gate)
    reg = ModelRegistry(loader=loader)
    mid = REAL_IDS[0]
    assert reg.status(mid).state == IDLE
    results: list[object] = []
    threads = [threading.Thread(target=lambda: results.append(reg.get(mid))) for _ in range(4)]
    for t in threads:
        t.start()
    assert loader.started.wait(60)
    assert reg.status(mid).state == LOADING and not reg.status(mid).ready
    gate.set()
    for t in threads:
        t.join(60)
    assert reg.status(mid).state == READY and reg.status(mid).error is None
    assert loader.calls == [mid], "four concurrent requests must load the model once"
    assert len(results) == 4 and all(r is results[0] for r in results)
    assert reg.get(mid) is results[0]


def test_a_loaded_model_answers_while_another_is_loading():
    gate = threading.Event()
    loader = FakeLoader(gate=gate)
    reg = ModelRegistry(loader=loader)
    gate.set()
    first = reg.get(REAL_IDS[0])
    gate.clear()
    loader.started.clear()
    slow = threading.Thread(target=reg.get, args=(REAL_IDS[1],), daemon=True)
    slow.start()
    assert loader.started.wait(60)
    assert reg.get(REAL_IDS[0]) is first  # not blocked by the other model's load
    assert reg.status(REAL_IDS[1]).state == LOADING
    gate.set()
    slow.join(60)
    assert reg.status(REAL_IDS[1]).state == READY


def test_a_failure_is_recorded_and_the_others_work():
    broken, fine = REAL_IDS
    loader = FakeLoader(fail={broken: ModelUnavailable(f"{broken}: weights corrupt")})
    reg = ModelRegistry(loader=loader)
    statuses = reg.warm([broken, fine])
    assert statuses[broken].state == ERROR and statuses[broken].error == f"{broken}: weights corrupt"
    assert statuses[fine].state == READY
    with pytest.raises(ModelUnavailable, match="weights corrupt"):
        reg.get(broken)
    assert loader.calls.count(broken) == 2, "a failed model is retried on the next request"
    # Fixed (e.g. the weights were replaced): the next request loads it.
    del loader.fail[broken]
    reg.get(broken)
    assert reg.status(broken).state == READY


def test_an_unexpected_exception_becomes_model_unavailable():
    mid = REAL_IDS[0]
    reg = ModelRegistry(loader=FakeLoader(fail={mid: MemoryError("out of memory")}))
    with pytest.raises(ModelUnavailable, match="MemoryError: out of memory"):
        reg.get(mid)
    status = reg.status(mid)
    assert status.state == ERROR and "out of memory" in status.error


def test_mark_loading_forget_and_unknown_ids():
    reg = ModelRegistry(loader=FakeLoader())
    reg.mark_loading(REAL_IDS)
    assert {s.state for s in reg.statuses().values()} == {LOADING}
    reg.get(REAL_IDS[0])
    reg.mark_loading(REAL_IDS)  # a loaded model stays ready
    assert reg.status(REAL_IDS[0]).state == READY
    reg.forget(REAL_IDS[0])
    assert reg.status(REAL_IDS[0]).state == IDLE
    with pytest.raises(KeyError, match="unknown model"):
        reg.get("no_such_model")


def test_background_warm_says_loading_at_once():
    gate = threading.Event()
    reg = ModelRegistry(loader=FakeLoader(gate=gate))
    thread = reg.warm_in_background(REAL_IDS)
    assert all(reg.status(m).state in (LOADING, READY) for m in REAL_IDS)
    assert reg.status(REAL_IDS[1]).state == LOADING  # the warm thread is held on the first model
    gate.set()
    thread.join(60)
    assert not thread.is_alive() and all(reg.status(m).ready for m in REAL_IDS)


def test_the_tab_status_text_follows_the_registry():
    from tabs.status import status_markdown

    broken, fine = REAL_IDS
    reg = ModelRegistry(loader=FakeLoader(fail={broken: ModelUnavailable("no weights here")}))
    assert status_markdown(get_card(fine), "en", reg)  # idle: "loading" text until asked
    reg.warm([broken, fine])
    assert status_markdown(get_card(fine), "en", reg) == ""
    text = status_markdown(get_card(broken), "en", reg)
    assert "no weights here" in text


# ------------------------------------------------------------------------- real (tiny) weights


@pytest.fixture(scope="module")
def tiny_models(tmp_path_factory) -> tuple[Path, Path]:
    """(cards dir, weights dir): `tiny_ok` with real random weights, `tiny_broken` whose weights file
    is truncated (its sha256 on the card matches, so the failure is in loading, not the checksum)."""
    root = tmp_path_factory.mktemp("registry")
    cards, weights = root / "cards", root / "weights"
    cards.mkdir()
    for order, mid in enumerate(("tiny_ok", "tiny_broken")):
        path = weights / mid / "model.safetensors"
        sha = save_tiny_weights(path)
        if mid == "tiny_broken":
            path.write_bytes(path.read_bytes()[:1000])
            sha = sha256_file(path)
        (cards / f"{mid}.md").write_text(tiny_card(mid, sha, 70 + order))
    return cards, weights


def test_broken_weights_show_their_error_and_the_other_model_answers(tiny_models, monkeypatch):
    cards, weights = tiny_models
    monkeypatch.setenv("MEDHUB_WEIGHTS_DIR", str(weights))
    monkeypatch.setenv("MEDHUB_WEIGHTS_ORDER", "local")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    reg = ModelRegistry(cards_dir=cards)
    statuses = reg.warm(["tiny_broken", "tiny_ok"])
    assert statuses["tiny_broken"].state == ERROR
    assert "tiny_broken" in statuses["tiny_broken"].error and "could not be loaded" in statuses["tiny_broken"].error
    assert statuses["tiny_ok"].state == READY
    image = np.random.default_rng(0).integers(0, 255, (80, 90, 3), dtype=np.uint8)
    result = reg.get("tiny_ok").analyse(image)
    assert set(result.probabilities) == {"calm", "busy"}
    assert abs(sum(result.probabilities.values()) - 1) < 1e-6
    assert result.heatmap is not None and result.heatmap.shape == (64, 64)
    with pytest.raises(ModelUnavailable, match="tiny_broken"):
        reg.get("tiny_broken")
