"""One request path (issue 18): with a fake backend, the JSON summary of every card comes out of
`medhub.pipeline.run` with the same keys everywhere plus its result extras' own; one function decides
scope (the DICOM-header rule included); and the request path's Grad-CAM (`analyse_one`) is the same
map as pytorch-grad-cam's (`explain`) on a torch model."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from medhub import pipeline, registry, scope
from medhub.backends import OnePass
from medhub.cards import load_cards
from medhub.disclaimers import disclaimer
from medhub.inference import Predictor

CARDS = load_cards()
IDS = [c.id for c in CARDS]

BASE_KEYS = {
    "model_id", "architecture", "revision", "weights_source", "probabilities", "decision", "decision_en",
    "decision_ko", "positive_class", "threshold", "decision_rule", "explained_label", "in_scope", "scope_score",
    "scope_threshold", "scope_family", "scope_reason", "suggested_model", "shown_anyway", "heatmap_empty",
    "labels", "borderline", "caution", "disclaimer", "disclaimer_ko", "input",
}
# What each result extra adds to the summary (as tests/test_app_api.py EXTRA_KEYS).
EXTRA_KEYS = {
    "ct_region": {"region", "explanation_en", "explanation_ko", "hotspot_outside_head", "hotspot_inside_share"},
    "abcd": {"abcd"},
    "severity": {"severity"},
    "see_a_doctor_soon": {"advice_en", "advice_ko"},
    "graded_heads": {"graded"},
}


class FakeBackend:
    """One pass with fixed outputs: probabilities favouring the last label, a blob of heat, heads."""

    def __init__(self, card):
        self.card = card
        self.calls = 0

    def analyse_one(self, x, explain_index=None):
        self.calls += 1
        k = len(self.card.labels)
        probs = np.linspace(1.0, 2.0, k)
        probs = (probs / probs.sum()).astype(np.float32)
        h, w = x.shape[:2]
        yy, xx = np.mgrid[0:h, 0:w]
        heat = np.exp(-(((yy - h / 3) ** 2) + ((xx - w / 2) ** 2)) / (2 * (h / 6) ** 2)).astype(np.float32)
        heads = {hd.id: np.full(len(hd.grades), 1.0 / len(hd.grades)) for hd in self.card.heads or ()} or None
        index = int(np.argmax(probs)) if explain_index is None else explain_index
        return OnePass(probs, np.zeros(8, np.float32), heat, index, heads)


def _png(seed: int = 0) -> bytes:
    rgb = np.random.default_rng(seed).integers(0, 255, (120, 160, 3), dtype=np.uint8)
    buf = io.BytesIO()
    Image.fromarray(rgb).save(buf, format="PNG")
    return buf.getvalue()


@pytest.mark.parametrize("card", CARDS, ids=IDS)
def test_the_summary_of_every_card(card, monkeypatch):
    backend = FakeBackend(card)
    predictor = Predictor(card, backend, source="fake", revision="r1")
    monkeypatch.setattr(registry, "get_predictor", lambda model_id: predictor)
    result = pipeline.run(card, _png())
    summary = result.summary
    extras = set().union(*(EXTRA_KEYS[name] for name in card.result_extras))
    assert set(summary) == BASE_KEYS | extras
    assert backend.calls == 1  # one forward + backward pass for the whole request
    assert summary["model_id"] == card.id and summary["revision"] == "r1" and summary["weights_source"] == "fake"
    assert summary["decision"] in card.label_ids and summary["in_scope"] is True
    assert abs(sum(summary["probabilities"].values()) - 1) < 1e-5
    assert summary["disclaimer"] == disclaimer(card.disclaimer_domain, "en")
    assert summary["disclaimer_ko"] == disclaimer(card.disclaimer_domain, "ko")
    assert summary["input"] == {"kind": "image", "format": "PNG", "width": 160, "height": 120}
    assert summary["heatmap_empty"] is False
    assert summary["labels"] == {lab.id: {"en": lab.en, "ko": lab.ko} for lab in card.labels}
    # what the tab draws is keyed by the extra's name
    assert set(result.result_extras.ui) == set(card.result_extras)


class _Refusing:
    """A fitted scope check that refuses every image as dermoscopy-looking and far."""

    def __init__(self, card):
        self.spec = card.scope
        self.uses_appearance = False

    def check(self, features, looks=None):
        return scope.ScopeResult(in_scope=False, score=2.0, threshold=1.0, family="dermoscopy",
                                 family_probability=0.9, distance_ok=False, family_ok=False)


@pytest.mark.parametrize("card", [c for c in CARDS if c.scope is not None], ids=lambda c: c.id)
def test_out_of_scope_the_summary_answers_nothing(card, monkeypatch):
    """Out of scope (issue 21, built once in medhub.summary): no probabilities, decision, explained class
    or borderline; no result extras; shown anyway, all of them come back. The suggested tab is one whose
    own model takes the image (registry.accepted_by, asked through scope.decide)."""
    predictor = Predictor(card, FakeBackend(card), source="fake", revision="r1", scope=_Refusing(card))
    monkeypatch.setattr(registry, "get_predictor", lambda model_id: predictor)
    asked = []
    monkeypatch.setattr(registry, "accepted_by", lambda other, image: asked.append(other.id) or False)
    refused = pipeline.run(card, _png()).summary
    assert refused["in_scope"] is False and refused["suggested_model"] is None
    for key in ("probabilities", "decision", "decision_en", "explained_label", "borderline"):
        assert refused[key] is None, key
    assert "heatmap_empty" not in refused and refused["labels"]
    others = [c.id for c in CARDS if c.id != card.id and c.scope and "dermoscopy" in c.scope.accepts]
    if "dermoscopy" not in card.scope.accepts:
        assert asked == others  # every tab that fits the family was asked, and none took it
        if others:
            monkeypatch.setattr(registry, "accepted_by", lambda other, image: other.id == others[-1])
            assert pipeline.run(card, _png()).summary["suggested_model"] == others[-1]
    shown = pipeline.run(card, _png(), show_anyway=True).summary
    assert shown["shown_anyway"] is True and shown["decision"] in card.label_ids
    assert shown["probabilities"] and shown["explained_label"] is not None


class _StubScope:
    """A fitted scope check that finds the image too far but of an accepted family."""

    def __init__(self, accepts):
        self.spec = type("Spec", (), {"accepts": accepts})()
        self.uses_appearance = False

    def check(self, features, looks=None):
        return scope.ScopeResult(in_scope=False, score=0.5, threshold=0.3, family="head_ct", family_probability=0.9,
                                 distance_ok=False, family_ok=True)


def test_one_function_decides_scope_with_the_dicom_header_rule():
    card = next(c for c in CARDS if c.scope is not None)
    stub = _StubScope(("head_ct",))
    features = np.zeros(8, np.float32)
    far, _ = scope.decide(stub, card, CARDS, features)
    assert far.in_scope is False and far.reason() == "distance"
    head = {"modality": "CT", "body_part": "HEAD"}
    vouched, suggested = scope.decide(stub, card, CARDS, features, dicom_meta=head)
    assert vouched.in_scope is True and vouched.reason() == "dicom_header" and suggested is None
    chest = {"modality": "CT", "body_part": "CHEST"}
    assert scope.decide(stub, card, CARDS, features, dicom_meta=chest)[0].in_scope is False
    # a card that does not accept the header's family is not vouched for
    assert scope.decide(_StubScope(("dermoscopy",)), card, CARDS, features, dicom_meta=head)[0].in_scope is False
    assert scope.decide(None, card, CARDS, features) == (None, None)


def test_the_request_path_heat_map_matches_pytorch_grad_cam(tmp_path):
    """`analyse_one` (the request path: a forward hook makes the target layer a gradient leaf) and
    `explain` (pytorch-grad-cam) give the same Grad-CAM on one torch model."""
    from medhub.backends import load_backend
    from medhub.cards import parse_card
    from medhub.weights import ResolvedWeights
    from tests.tiny_models import save_tiny_weights, tiny_card

    weights = tmp_path / "model.safetensors"
    sha = save_tiny_weights(weights, seed=3)
    card = parse_card(tiny_card("tiny_cam", sha, 1))
    backend = load_backend(card, ResolvedWeights(dir=tmp_path, files={"model.safetensors": weights}, source="local",
                                                 revision=None))
    predictor = Predictor(card, backend)
    rng = np.random.default_rng(4)
    compared = 0
    for seed in range(3):
        image = rng.integers(0, 255, (96, 96, 3), dtype=np.uint8)
        x = predictor.model_input(image)
        for index in range(len(card.labels)):
            ours = np.asarray(backend.analyse_one(x, index).heatmap, np.float64)
            theirs = np.asarray(backend.explain(x, index), np.float64)
            assert ours.shape == theirs.shape
            if ours.std() < 1e-6 or theirs.std() < 1e-6:
                assert np.allclose(ours, theirs, atol=1e-4)  # both flat (no positive evidence)
                continue
            corr = float(np.corrcoef(ours.ravel(), theirs.ravel())[0, 1])
            assert corr > 0.99, (seed, index, corr)
            compared += 1
    assert compared >= 1
