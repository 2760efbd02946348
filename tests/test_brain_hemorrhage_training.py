"""Brain hemorrhage recipe parts: the burned-in letter detector and its removal, the CT augmentation,
the cross-validated threshold (never fitted on the fold it scores), and the card they produce."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from training.train_brain_hemorrhage import (
    ct_augment,
    letter_mask,
    paste_letters,
    remove_letters,
    summarise_cv,
    youden_threshold,
)

REPO = Path(__file__).resolve().parent.parent


def synthetic_slice(size: int = 256) -> np.ndarray:
    """A head-like image: gray brain inside a bright skull ring on black, RGB uint8."""
    import cv2

    img = np.zeros((size, size), np.uint8)
    centre, axes = (size // 2, size // 2), (size * 2 // 5, size * 9 // 20)
    cv2.ellipse(img, centre, axes, 0, 0, 360, 240, -1)
    cv2.ellipse(img, centre, (axes[0] - 8, axes[1] - 8), 0, 0, 360, 110, -1)
    return np.repeat(img[..., None], 3, axis=2)


def test_letter_mask_finds_a_corner_letter_and_not_the_head():
    import cv2

    img = synthetic_slice()
    assert not letter_mask(img).any()
    cv2.putText(img, "A", (4, 250), cv2.FONT_HERSHEY_SIMPLEX, 0.7, (255, 255, 255), 2)
    mask = letter_mask(img)
    letter = np.zeros(img.shape[:2], bool)
    letter[225:256, 0:30] = True
    assert mask.any() and (mask & ~letter).sum() == 0, "the mask must stay on the letter"
    cleaned = remove_letters(img)
    assert cleaned[225:256, 0:30].max() == 0
    assert np.array_equal(cleaned[40:216, 40:216], img[40:216, 40:216]), "the head is untouched"


def test_pasted_letters_are_found_by_the_detector():
    rng = np.random.default_rng(3)
    found = 0
    for _ in range(10):
        img = paste_letters(synthetic_slice(), rng)
        assert img.shape == (256, 256, 3) and img.dtype == np.uint8
        found += bool(letter_mask(img).any())
    assert found >= 8


def test_ct_augment_is_seeded_and_keeps_the_format():
    img = synthetic_slice()
    a = ct_augment(img, np.random.default_rng([42, 7]))
    b = ct_augment(img, np.random.default_rng([42, 7]))
    c = ct_augment(img, np.random.default_rng([42, 8]))
    assert a.shape == img.shape and a.dtype == np.uint8
    assert np.array_equal(a, b) and not np.array_equal(a, c)


def test_cv_thresholds_come_from_the_other_folds(monkeypatch):
    """Each fold is scored at the Youden threshold of the other folds' OOF probabilities."""
    import training.train_brain_hemorrhage as bh

    monkeypatch.setattr(bh, "letter_mask", lambda gray: np.zeros((4, 4), bool))
    monkeypatch.setattr(bh, "_gray", lambda path: np.zeros((4, 4), np.uint8))
    rng = np.random.default_rng(0)
    n = 100
    y = np.array([0, 1] * (n // 2))
    p = np.clip(0.5 * y + rng.normal(0.25, 0.2, n), 0, 1)
    fold = np.arange(n) % 5
    rows = [{"fold": k, "index": np.nonzero(fold == k)[0].tolist(), "p": p[fold == k].tolist(),
             "p_noletters": p[fold == k].tolist(), "temperature": 1.0, "best_epoch": 1} for k in range(5)]
    out = summarise_cv(rows, y, [f"x/{i}.png" for i in range(n)], "base")
    for r in out["per_fold"]:
        others = fold != r["fold"]
        assert r["threshold"] == youden_threshold(y[others], p[others])
    assert out["pooled_threshold"] == youden_threshold(y, p)
    assert out["pooled"]["n"] == n and out["letters_removed"]["decision_flips"] == 0
    lo, hi = out["pooled"]["sensitivity_95ci"]
    assert lo <= out["pooled"]["sensitivity"] <= hi


def test_card_has_cv_figures_with_intervals_and_the_radiology_disclaimer():
    from medhub.cards import read_card

    path = REPO / "model_cards" / "brain_hemorrhage.md"
    card = read_card(path)
    pooled = card.metrics["cv_pooled"]
    assert pooled["n"] == 200
    for key in ("accuracy", "sensitivity", "specificity"):
        lo, hi = pooled[f"{key}_95ci"]
        assert lo <= pooled[key] <= hi
    domain = card.disclaimer_domain
    assert domain == "radiology"
    assert "dermatologist" not in card.body.lower()
    assert "radiologist" in card.body.lower()
    assert "letters" in card.body.lower() and "out-of-fold" in card.body.lower()


@pytest.mark.data
@pytest.mark.parametrize("name", ["hemorrhage/041.png"])
def test_letter_detector_on_a_real_slice_with_a_letter(name, data_root):
    from medhub.preprocess import read_rgb

    path = data_root / "head_ct" / name
    if not path.is_file():
        pytest.skip(f"{path} missing")
    rgb = read_rgb(path)
    mask = letter_mask(rgb)
    assert mask.any(), "041.png carries a burned-in 'A' in the lower left corner"
    h, w = mask.shape
    ys, xs = np.nonzero(mask)
    assert ys.min() > h * 0.75 and xs.max() < w * 0.25
    assert not letter_mask(remove_letters(rgb)).any()
