"""Robustness command: the corruptions themselves, the CLI, and the card tables reproduced."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from medhub.cards import load_cards
from medhub.studies import robustness as rb

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def photo() -> np.ndarray:
    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[0:180, 0:240]
    # a smooth gradient (rotation moves it) with a dark blob and fine texture (blur removes it)
    blob = np.hypot(xx - 150, yy - 70) < 40
    img = np.stack([60 + 0.6 * xx, 40 + 0.8 * yy, 80 + 0.3 * (xx + yy)], -1) * (1 - 0.5 * blob[..., None])
    return np.clip(img + rng.normal(0, 10, img.shape), 0, 255).astype(np.uint8)


@pytest.mark.parametrize("name", list(rb.CORRUPTIONS))
def test_each_corruption_degrades_more_with_severity(photo, name):
    outs = [rb.corrupt(photo, name, s, key="x") for s in rb.SEVERITIES]
    for out in outs:
        assert out.shape == photo.shape and out.dtype == np.uint8
    err = [float(np.mean((o.astype(np.float32) - photo) ** 2)) for o in outs]
    assert err[0] > 0, "severity 1 must change the image"
    assert err[0] < err[1] < err[2], err


def test_random_corruptions_are_seeded(photo):
    a = rb.corrupt(photo, "noise", 2, key="img1.jpg")
    assert np.array_equal(a, rb.corrupt(photo, "noise", 2, key="img1.jpg"))
    assert not np.array_equal(a, rb.corrupt(photo, "noise", 2, key="img2.jpg"))


def test_bad_corruption_or_severity_is_refused(photo):
    with pytest.raises(KeyError):
        rb.corrupt(photo, "fog", 1)
    with pytest.raises(ValueError):
        rb.corrupt(photo, "jpeg", 4)


def test_card_block_lists_every_corruption():
    r = {"n": 4, "support": {"a": 2, "b": 2}, "sample": "test", "clean": {"accuracy": 1.0, "auroc": 1.0},
         "corruptions": {n: [{"accuracy": 0.5, "auroc": None}] * 3 for n in rb.CORRUPTIONS}}
    block = rb.card_block(r)
    for name in rb.CORRUPTIONS:
        assert f"| {name} | 0.500 / n/a |" in block
    assert rb.card_value(r)["corruptions"]["jpeg"] == [[0.5, None]] * 3


def test_robustness_cli_rejects_unknown_model():
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    out = subprocess.run([sys.executable, "-m", "medhub", "robustness", "no_such_model"], capture_output=True,
                         text=True, cwd=REPO, env=env, timeout=120)
    assert out.returncode == 2
    assert "unknown model" in out.stderr and "Traceback" not in out.stderr


CARDS = [c for c in load_cards() if c.robustness is not None]


@pytest.mark.slow
@pytest.mark.data
@pytest.mark.parametrize("card", CARDS, ids=[c.id for c in CARDS])
def test_robustness_table_on_card_reproduces(card, data_root):
    """The clean figures and one corruption cell (JPEG at the middle severity) recomputed on the
    card's own sample match the card (each cell is one more pass over the sample; `python -m medhub
    robustness` recomputes them all)."""
    stored = card.robustness
    limit = int(stored["sample"].split("up to ")[1].split(" ")[0])
    middle = len(rb.SEVERITIES) // 2
    r = rb.evaluate_model(card.id, data_root, limit, corruptions=["jpeg"], severities=[rb.SEVERITIES[middle]])
    assert r["n"] == stored["n"]
    assert r["clean"]["accuracy"] == pytest.approx(stored["clean"]["accuracy"], abs=2e-3)
    (got,) = r["corruptions"]["jpeg"]
    acc, auroc = stored["corruptions"]["jpeg"][middle]
    assert got["accuracy"] == pytest.approx(acc, abs=2e-3)
    if auroc is not None:
        assert got["auroc"] == pytest.approx(auroc, abs=2e-3)


def test_default_run_skips_a_card_it_cannot_score(tmp_path, monkeypatch):
    """With no model named, a card whose data has no labelled folders is listed as skipped, not fatal."""
    from medhub.evaluation import EvaluationError
    from medhub.studies import robustness

    cards = load_cards()[:2]
    monkeypatch.setattr(robustness, "load_cards", lambda: cards)

    def fake(mid, root, limit, corruptions=None):
        if mid == cards[0].id:
            raise EvaluationError("no labelled images under x")
        return {"n": 1}

    monkeypatch.setattr(robustness, "evaluate_model", fake)
    out = robustness.run(None, tmp_path, 1)
    assert out[cards[0].id] == {"skipped": "no labelled images under x"}
    assert out[cards[1].id] == {"n": 1}
    assert "skipped (no labelled images under x)" in robustness.render_text({cards[0].id: out[cards[0].id]})
    with pytest.raises(EvaluationError):
        robustness.run([cards[0].id], tmp_path, 1)


def test_graded_card_block_has_a_presence_table():
    cell = {"accuracy": 0.5, "balanced_accuracy": 0.5, "auroc": 0.6, "presence_auroc": {"dandruff": 0.7, "oiliness": 0.8}}
    r = {"n": 4, "support": {"mild": 4}, "sample": "test", "clean": cell,
         "corruptions": {n: [cell] * 3 for n in rb.CORRUPTIONS}}
    block = rb.card_block(r)
    assert "Presence AUROC per head (dandruff / oiliness), clean: 0.700 / 0.800." in block
    assert "| jpeg | 0.700 / 0.800 | 0.700 / 0.800 | 0.700 / 0.800 |" in block
    value = rb.card_value(r)
    assert value["presence_auroc"]["corruptions"]["blur"] == [{"dandruff": 0.7, "oiliness": 0.8}] * 3
