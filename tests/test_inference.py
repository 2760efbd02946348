"""The shared code path: decision rule, TTA averaging, empty heat maps, the API summary."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from medhub.cards import get_card
from medhub.inference import TTA_VIEWS, Predictor, decide
from medhub.summary import build as build_summary


class FixedBackend:
    """Returns preset probabilities and a preset map, recording what it was given."""

    def __init__(self, probs, heat=None):
        self.probs = np.asarray(probs, dtype=np.float64)
        self.heat = heat
        self.batches = []

    def predict(self, batch):
        self.batches.append(batch)
        return np.repeat(self.probs[None], len(batch), axis=0)

    def explain(self, x, class_index):
        return self.heat if self.heat is not None else np.linspace(0, 1, x.shape[0] * x.shape[1]).reshape(x.shape[:2])


IMAGE = np.random.default_rng(0).integers(0, 255, (300, 200, 3), dtype=np.uint8)


@pytest.mark.parametrize("offset,expected", [(-0.05, "benign"), (0.0, "malignant"), (0.05, "malignant")])
def test_binary_decision_uses_card_threshold(offset, expected):
    """Below the card's threshold benign, at or above it malignant (whatever the threshold is)."""
    card = get_card("melanoma")
    assert card.threshold is not None and 0.05 < card.threshold < 0.95
    p_pos = card.threshold + offset
    assert decide(card, np.array([1 - p_pos, p_pos])) == expected


def test_threshold_not_argmax():
    card = dataclasses.replace(get_card("melanoma"), threshold=0.3)
    # 0.35 < 0.5 would lose an argmax, but crosses the card's threshold.
    assert decide(card, np.array([0.65, 0.35])) == "malignant"


def test_multiclass_is_argmax():
    card = get_card("skin_lesion")
    probs = np.full(len(card.labels), 0.1)
    probs[3] = 0.6
    assert decide(card, probs) == card.labels[3].id


def test_analyse_summary_and_model_input():
    card = get_card("melanoma")
    backend = FixedBackend([0.3, 0.7])
    result = Predictor(card, backend, source="local").analyse(IMAGE)
    assert backend.batches[0].shape == (1, *card.input.size, 3)
    summary = build_summary(result)
    assert summary["decision"] == "malignant" and summary["threshold"] == card.threshold
    assert abs(sum(summary["probabilities"].values()) - 1) < 1e-9
    assert "not a diagnosis" in summary["disclaimer"] and summary["disclaimer_ko"]
    assert summary["heatmap_empty"] is False


def test_empty_heat_map_is_flagged():
    card = get_card("melanoma")
    result = Predictor(card, FixedBackend([0.9, 0.1], heat=np.zeros((7, 7)))).analyse(IMAGE)
    assert result.summary_fields["heatmap_empty"] is True


class ViewBackend:
    """Answers each TTA view of one model input with that view's own row: it recognises the view by
    comparing the pixels with the views of `x`, so a missing, repeated or unflipped view is caught."""

    def __init__(self, x: np.ndarray, rows: dict[str, list[float]]):
        self.views = {name: np.ascontiguousarray(fn(x)) for name, fn in TTA_VIEWS}
        self.rows = {name: np.asarray(row, dtype=np.float64) for name, row in rows.items()}
        self.seen: list[str] = []

    def predict(self, batch):
        out = []
        for item in batch:
            name = next(n for n, view in self.views.items() if np.array_equal(item, view))
            self.seen.append(name)
            out.append(self.rows[name])
        return np.stack(out)


def test_tta_averages_all_views():
    card = get_card("melanoma")
    predictor = Predictor(card, FixedBackend([0.5, 0.5]))
    x = predictor.model_input(IMAGE)
    views = {name: fn(x) for name, fn in TTA_VIEWS}
    assert len({v.tobytes() for v in views.values()}) == len(TTA_VIEWS), "the test image must tell the views apart"
    # A different row per view; the mean of the positive column sits on the other side of the card's
    # threshold from the identity view's, so averaging (not the first view) decides.
    t, pos = card.threshold, card.positive_index
    assert 0.1 < t < 0.8
    positives = [t - 0.04, t + 0.20, t - 0.10, t + 0.15, t - 0.08, t + 0.05]
    rows = {name: [p if i == pos else 1 - p for i in range(2)] for (name, _), p in zip(TTA_VIEWS, positives, strict=True)}
    backend = ViewBackend(x, rows)
    result = Predictor(card, backend).analyse(IMAGE, tta=True, explain=False)
    assert sorted(backend.seen) == sorted(name for name, _ in TTA_VIEWS), "each view exactly once"
    expected = np.mean([rows[name] for name, _ in TTA_VIEWS], axis=0)
    got = np.array([result.probabilities[lid] for lid in card.label_ids])
    np.testing.assert_allclose(got, expected, atol=1e-12)
    assert expected[pos] >= t > positives[0]
    assert result.decision == decide(card, expected) == card.positive_class
    assert result.summary_fields["tta_views"] == len(TTA_VIEWS)
    assert result.heatmap is None


def test_tta_only_where_the_card_offers_it():
    from medhub.cards import load_cards

    card = next(c for c in load_cards() if not c.tta)
    n = len(card.labels)
    with pytest.raises(ValueError, match="test-time augmentation"):
        Predictor(card, FixedBackend([1.0 / n] * n)).analyse(IMAGE, tta=True)
