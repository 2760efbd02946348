"""`python -m medhub evaluate` on each card's test split reproduces the figures on the card.

This runs the real bundled weights over the real held-out images, through the CLI and so through
the same input gate, preprocessing and backend as the app.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from medhub.cards import load_cards

REPO = Path(__file__).resolve().parent.parent
CARDS = load_cards()


@pytest.mark.parametrize("card", CARDS, ids=[c.id for c in CARDS])
def test_evaluate_reproduces_card(card, data_root):
    metrics = card.metrics
    split_file = REPO / "training" / "splits" / f"{card.id}.csv"
    assert split_file.is_file(), f"{split_file} missing"
    data_dir = data_root / metrics["data_dir"]
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    out = subprocess.run(
        [sys.executable, "-m", "medhub", "evaluate", card.id, str(data_dir), "--json",
         "--split-file", str(split_file), "--subset", "test"],
        capture_output=True, text=True, cwd=REPO, env=env, timeout=900,
    )
    assert out.returncode == 0, out.stderr[-2000:]
    result = json.loads(out.stdout)
    assert result["n"] == int(metrics["n"])
    assert result["confusion_matrix"] == metrics["confusion_matrix"]
    for key in ("accuracy", "balanced_accuracy", "auroc", "ece"):
        assert result[key] == pytest.approx(float(metrics[key]), abs=2e-3), key


CROSS = [c for c in CARDS if c.cross_collection is not None]


@pytest.mark.parametrize("card", CROSS, ids=[c.id for c in CROSS])
def test_cross_collection_check_reproduces_card(card, data_root):
    """The light re-check stored on the card (`check_limit_per_label` images per label and
    collection, chosen by file-name hash) comes out the same from `medhub.crosscollection`, the
    code behind `python -m medhub cross-collection` (the full figures use every eligible image)."""
    from medhub.crosscollection import matrix

    stored = card.cross_collection
    result = matrix([card.id], data_root, int(stored["check_limit_per_label"]))[card.id]
    assert result["trained_on"] == stored["trained_on"]
    for col, want in stored["check"].items():
        got = result["collections"][col]
        assert got["n"] == want["n"], col
        assert got["confusion_matrix"] == want["confusion_matrix"], col
        for key in ("auroc", "balanced_accuracy"):
            if want.get(key) is not None:
                assert got[key] == pytest.approx(want[key], abs=2e-3), (col, key)
