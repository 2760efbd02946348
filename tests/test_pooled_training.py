"""Pieces of the pooled recipe: balanced loss weights, the augmented view, the per-collection score."""

from __future__ import annotations

import numpy as np

from training.features import augment


def test_balanced_weights_equalise_classes_and_collections():
    from training.train_torch import balanced_sample_weights

    # class 0: 60 from A, 20 from B; class 1: 10 from A only; 5 items outside training
    y = np.array([0] * 80 + [1] * 10 + [0] * 5)
    coll = np.array(["A"] * 60 + ["B"] * 20 + ["A"] * 10 + ["B"] * 5)
    tr = np.arange(90)
    w = balanced_sample_weights(y, coll, tr)
    assert np.all(w[90:] == 0)
    assert np.isclose(w[tr].sum(), len(tr))
    total = {c: w[tr][y[tr] == c].sum() for c in (0, 1)}
    assert np.isclose(total[0], total[1])  # classes weigh the same
    assert np.isclose(w[:60].sum(), w[60:80].sum())  # within class 0, collections A and B too


def test_selection_score_averages_collections():
    from training.train_torch import selection_score

    y = np.array([0, 1, 0, 1, 0, 1, 0, 1])
    probs = np.array([[0.9, 0.1], [0.1, 0.9], [0.8, 0.2], [0.3, 0.7],  # collection A: perfect
                      [0.2, 0.8], [0.7, 0.3], [0.4, 0.6], [0.6, 0.4]])  # collection B: inverted
    groups = np.array(["A"] * 4 + ["B"] * 4)
    # melanoma selects by AUROC: A = 1.0, B = 0.0 -> mean 0.5, while pooled AUROC is different
    assert selection_score("melanoma", y, probs, None, groups) == 0.5
    assert selection_score("melanoma", y, probs, None, None) != 0.5


def test_augment_is_seeded_and_changes_the_image():
    rng = np.random.default_rng(0)
    img = (rng.random((180, 200, 3)) * 255).astype(np.uint8)
    a, b, c = augment(img, 1), augment(img, 1), augment(img, 2)
    assert a.dtype == np.uint8 and a.ndim == 3 and a.shape[2] == 3
    assert np.array_equal(a, b)
    assert a.shape != c.shape or not np.array_equal(a, c)
    assert a.shape[0] <= 180 and a.shape[1] <= 200  # a crop, never larger
