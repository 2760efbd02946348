"""Metrics on cases with known answers, label folders/aliases, split filtering."""

from __future__ import annotations

import csv
import dataclasses

import numpy as np
import pytest

from medhub.cards import Label, load_cards
from medhub.evaluation import (
    EvaluationError,
    collect_cases,
    compute_metrics,
    expected_calibration_error,
)

CARDS = {c.id: c for c in load_cards()}


def _binary_card(threshold=0.5):
    card = CARDS["melanoma"]
    return dataclasses.replace(card, threshold=threshold)


def test_binary_metrics_known_answer():
    card = _binary_card(0.5)
    neg, pos = card.label_ids
    truth = [neg, neg, neg, pos, pos, pos]
    p_pos = np.array([0.1, 0.2, 0.7, 0.4, 0.8, 0.9])
    probs = np.stack([1 - p_pos, p_pos], axis=1)
    m = compute_metrics(card, truth, probs)
    assert m["n"] == 6
    assert m["accuracy"] == pytest.approx(4 / 6, abs=1e-4)
    assert m["confusion_matrix"] == [[2, 1], [1, 2]]
    assert m["per_class"][pos]["recall"] == pytest.approx(2 / 3, abs=1e-4)
    # AUROC: 9 pos/neg pairs, the positive ranks higher in 8 of them (0.4 < 0.7).
    assert m["auroc"] == pytest.approx(8 / 9, abs=1e-4)


def test_threshold_changes_the_decision_not_the_auroc():
    card = _binary_card(0.35)
    neg, pos = card.label_ids
    p_pos = np.array([0.1, 0.2, 0.7, 0.4, 0.8, 0.9])
    probs = np.stack([1 - p_pos, p_pos], axis=1)
    m = compute_metrics(card, [neg, neg, neg, pos, pos, pos], probs)
    assert m["confusion_matrix"] == [[2, 1], [0, 3]]
    assert m["auroc"] == pytest.approx(8 / 9, abs=1e-4)


def test_multiclass_macro_auroc_and_balanced_accuracy_over_present_labels():
    card = CARDS["skin_lesion"]
    k = len(card.labels)
    a, b = card.label_ids[:2]
    probs = np.full((4, k), 0.01)
    probs[0, 0] = probs[1, 0] = probs[2, 1] = 1.0
    probs[3, 0] = 1.0  # a 'b' case predicted as 'a'
    probs /= probs.sum(axis=1, keepdims=True)
    m = compute_metrics(card, [a, a, b, b], probs)
    assert m["balanced_accuracy"] == pytest.approx((1.0 + 0.5) / 2, abs=1e-4)
    assert m["accuracy"] == pytest.approx(0.75, abs=1e-4)
    assert m["per_class"][card.label_ids[2]]["support"] == 0
    assert 0.0 <= m["auroc"] <= 1.0


def test_ece_zero_when_calibrated_and_large_when_overconfident():
    conf = np.array([0.8] * 10)
    assert expected_calibration_error(conf, np.array([1] * 8 + [0] * 2, dtype=float)) == pytest.approx(0)
    assert expected_calibration_error(conf, np.zeros(10)) == pytest.approx(0.8)


def test_folders_match_label_ids_and_aliases_case_insensitively(tmp_path):
    card = dataclasses.replace(
        CARDS["melanoma"],
        labels=(Label("benign", "Benign", "양성", aliases=("nevus",)), Label("malignant", "M", "악성")),
    )
    for folder, n in (("Benign", 2), ("nevus", 1), ("MALIGNANT", 3), ("unrelated", 4)):
        (tmp_path / folder).mkdir()
        for i in range(n):
            (tmp_path / folder / f"{folder}{i}.png").write_bytes(b"x")
    cases = collect_cases(card, tmp_path)
    assert sorted(c.label for c in cases) == ["benign"] * 3 + ["malignant"] * 3


def test_split_file_restricts_to_subset(tmp_path):
    card = CARDS["melanoma"]
    root = tmp_path / "melanoma"
    for label in card.label_ids:
        (root / label).mkdir(parents=True)
        for i in range(3):
            (root / label / f"{i}.jpg").write_bytes(b"x")
    split = tmp_path / "split.csv"
    with open(split, "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["path", "label", "split", "group"])
        for label in card.label_ids:
            for i in range(3):
                w.writerow([f"melanoma/{label}/{i}.jpg", label, "test" if i == 0 else "train", i])
    cases = collect_cases(card, root, split_file=split, subset="test")
    assert sorted(c.path.name for c in cases) == ["0.jpg", "0.jpg"]
    with pytest.raises(EvaluationError):
        collect_cases(card, root, split_file=split, subset="nothing")


def test_empty_dir_is_a_clear_error(tmp_path):
    with pytest.raises(EvaluationError, match="folders must be named"):
        collect_cases(CARDS["melanoma"], tmp_path)
