"""The figures on each card come from the bundled weights on the card's test split.

Re-running every test split through the CLI took about 7 minutes of this 2-core machine (1336
dermoscopy images for melanoma alone), so the check is split in three, each of which can fail:

1. the card's figures (n, confusion matrix, accuracy, balanced accuracy, AUROC, ECE, in-scope rate)
   are recomputed by `medhub.evaluation.compute_metrics` from the per-image probabilities that
   `python -m medhub evaluate --predictions-out` wrote next to the weights
   (`weights/<id>/test_predictions.csv`, every test image);
2. those rows are exactly the card's test split: no image left out or added;
3. `python -m medhub evaluate` (the real CLI: input gate, preprocessing, backend, bundled weights)
   on a sample of those images, chosen by a hash of the file name, not by result, gives the stored
   probabilities again.

Regenerate the file after a retrain with
`python -m medhub evaluate <id> <data_dir> --split-file training/splits/<id>.csv --predictions-out
weights/<id>/test_predictions.csv` (paths in it are relative to the data folder).
"""

from __future__ import annotations

import csv
import hashlib
import json
from pathlib import Path

import numpy as np
import pytest

from medhub.cards import load_cards
from medhub.evaluation import compute_metrics
from tests.cli_runner import run_cli

REPO = Path(__file__).resolve().parent.parent
CARDS = load_cards()
IDS = [c.id for c in CARDS]
SAMPLE = 24  # images per card re-run through the CLI
PREDICTIONS = "test_predictions.csv"


def _stored(card) -> list[dict[str, str]]:
    path = REPO / "weights" / card.id / PREDICTIONS
    assert path.is_file(), f"{path} missing: write it with `python -m medhub evaluate ... --predictions-out`"
    with open(path, newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def _probs(card, rows) -> np.ndarray:
    return np.array([[float(r[lid]) for lid in card.label_ids] for r in rows], dtype=np.float64)


@pytest.mark.parametrize("card", CARDS, ids=IDS)
def test_stored_predictions_give_the_card_figures(card):
    rows = _stored(card)
    metrics = card.metrics
    got = compute_metrics(card, [r["label"] for r in rows], _probs(card, rows))
    assert got["n"] == int(metrics["n"]) == len(rows)
    assert got["confusion_matrix"] == metrics["confusion_matrix"]
    for key in ("accuracy", "balanced_accuracy", "auroc", "ece"):
        assert got[key] == pytest.approx(float(metrics[key]), abs=2e-3), key
    if rows and "in_scope" in rows[0] and metrics.get("in_scope_rate") is not None:
        rate = np.mean([r["in_scope"] == "1" for r in rows])
        assert rate == pytest.approx(float(metrics["in_scope_rate"]), abs=1e-3)


def _split_files(card, data_dir: Path) -> set[str]:
    """The card's test images under data_dir, relative to it, as `evaluate` would pick them."""
    split_file = REPO / "training" / "splits" / f"{card.id}.csv"
    if card.output == "graded_heads":
        from medhub.evaluation import _split_filter
        from medhub.graded import reference_grades

        keep = _split_filter(split_file, "test")
        return {f for f in reference_grades(card, data_dir) if keep(data_dir / f)}
    from medhub.evaluation import collect_cases

    return {c.path.relative_to(data_dir).as_posix() for c in collect_cases(card, data_dir, split_file, "test")}


@pytest.mark.data
@pytest.mark.parametrize("card", CARDS, ids=IDS)
def test_stored_predictions_are_the_whole_test_split(card, data_root):
    data_dir = data_root / card.metrics["data_dir"]
    stored = [r["path"] for r in _stored(card)]
    assert len(stored) == len(set(stored))
    assert set(stored) == _split_files(card, data_dir)


def _sample(rows: list[dict[str, str]], k: int) -> list[dict[str, str]]:
    return sorted(rows, key=lambda r: hashlib.sha1(r["path"].encode()).hexdigest())[:k]


@pytest.mark.slow
@pytest.mark.data
@pytest.mark.parametrize("card", CARDS, ids=IDS)
def test_cli_on_a_sample_gives_the_stored_predictions(card, data_root, tmp_path):
    data_dir = data_root / card.metrics["data_dir"]
    want = {r["path"]: r for r in _sample(_stored(card), SAMPLE)}
    split = tmp_path / "sample.csv"
    prefix = card.metrics["data_dir"].strip("/")
    with open(split, "w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(["path", "label", "split", "group"])
        for path, row in want.items():
            writer.writerow([f"{prefix}/{path}", row["label"], "test", path])
    out_csv = tmp_path / "out.csv"
    out = run_cli("evaluate", card.id, str(data_dir), "--json", "--split-file", str(split), "--subset", "test",
                  "--predictions-out", str(out_csv))
    assert out.returncode == 0, out.stderr[-2000:]
    assert json.loads(out.stdout)["n"] == len(want)
    with open(out_csv, newline="", encoding="utf-8") as fh:
        got = {r["path"]: r for r in csv.DictReader(fh)}
    assert set(got) == set(want)
    for path, row in got.items():
        assert row["label"] == want[path]["label"], path
        for lid in card.label_ids:
            assert float(row[lid]) == pytest.approx(float(want[path][lid]), abs=1e-3), (path, lid)
        if "in_scope" in row:
            assert row["in_scope"] == want[path]["in_scope"], path


CROSS = [c for c in CARDS if c.cross_collection is not None]


@pytest.mark.slow
@pytest.mark.data
@pytest.mark.parametrize("card", CROSS, ids=[c.id for c in CROSS])
def test_cross_collection_check_reproduces_card(card, data_root):
    """The light re-check stored on the card (`check_limit_per_label` images per label and
    collection, chosen by file-name hash) comes out the same from `medhub.studies.crosscollection`, the
    code behind `python -m medhub cross-collection` (the full figures use every eligible image)."""
    from medhub.studies.crosscollection import matrix

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
