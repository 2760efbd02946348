"""A card's calibration for the result view (issue 19): the reliability diagram behind its ECE.

The card states the test split's expected calibration error (`metrics.ece`, top-label, 10 equal-width
bins) but not the bins themselves (the card writers drop `reliability` from the metrics they write).
The bins are recomputed here from the test split's stored probabilities,
`weights/<id>/test_predictions.csv` (one row per test image, written by `python -m medhub evaluate
--predictions-out`), with `medhub.evaluation.compute_metrics`: the very function that gave the card
its ECE, so the diagram and the card's figure come from one computation
(tests/test_card_metrics_reproduce.py ties that file to the card; tests/test_teaching_panel.py ties
the recomputed ECE to `metrics.ece`). Without the file there is no diagram, only the card's ECE.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from medhub.paths import WEIGHTS

PREDICTIONS_FILE = "test_predictions.csv"


@dataclass(frozen=True)
class Bin:
    low: float
    high: float
    confidence: float  # mean top-label confidence of the test images in the bin
    accuracy: float  # share of them the model got right
    count: int


@dataclass(frozen=True)
class Reliability:
    """The reliability diagram of a card's test split (top-label confidence against accuracy)."""

    model: str
    bins: tuple[Bin, ...]
    ece: float  # recomputed from the stored predictions
    card_ece: float | None  # as the card states it
    n: int

    def bin_of(self, confidence: float) -> Bin | None:
        """The bin a confidence falls in (edges as `medhub.evaluation` bins them: (low, high])."""
        for b in self.bins:
            if b.low < confidence <= b.high or (b.low == 0.0 and confidence == 0.0):
                return b
        return None


def predictions_path(card, weights_dir: Path | None = None) -> Path:
    return (weights_dir or WEIGHTS) / card.id / PREDICTIONS_FILE


def _read(path: Path, card) -> tuple[list[str], np.ndarray]:
    with open(path, newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    truth = [r["label"] for r in rows]
    probs = np.array([[float(r[lid]) for lid in card.label_ids] for r in rows], dtype=np.float64)
    return truth, probs


def reliability(card, weights_dir: Path | None = None) -> Reliability | None:
    """The card's reliability diagram from its stored test predictions, or None without them."""
    path = predictions_path(card, weights_dir)
    key = (card.id, str(path), path.stat().st_mtime_ns if path.is_file() else None)
    if key not in _CACHE:
        _CACHE[key] = _compute(card, path)
    return _CACHE[key]


_CACHE: dict[tuple, Reliability | None] = {}  # cards are read once per process; a few entries at most


def _compute(card, path: Path) -> Reliability | None:
    from medhub.evaluation import compute_metrics

    if not path.is_file():
        return None
    try:
        truth, probs = _read(path, card)
    except (KeyError, ValueError):  # a file of another label set: no diagram rather than a wrong one
        return None
    if not truth:
        return None
    m = compute_metrics(card, truth, probs)
    bins = tuple(Bin(round(r["bin"][0], 6), round(r["bin"][1], 6), r["confidence"], r["accuracy"], r["count"])
                 for r in m["reliability"])
    card_ece = (card.metrics or {}).get("ece")
    return Reliability(card.id, bins, float(m["ece"]), None if card_ece is None else float(card_ece), m["n"])


def top_label_confidence(card, probabilities: dict[str, float]) -> tuple[str, float]:
    """The decided class of one result and its probability (the confidence the diagram bins)."""
    from medhub.inference import decide

    row = np.array([float(probabilities[lid]) for lid in card.label_ids])
    decided = decide(card, row)
    return decided, float(probabilities[decided])
