"""The one code path from a decoded image to a result, shared by the app, the CLI and evaluation.

`get_predictor(model_id)` resolves a card's weights, loads its backend once per process and
returns a `Predictor`; `Predictor.analyse(image)` gives probabilities over the card's labels, the
decision (threshold for binary models, argmax otherwise) and, on request, a Grad-CAM heat map.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from medhub import DISCLAIMER
from medhub.cards import ModelCard, get_card
from medhub.preprocess import to_model_input


class ModelUnavailable(RuntimeError):
    """A model's weights or backend could not be loaded; the message says why and how to fix it."""


@dataclass
class Analysis:
    card: ModelCard
    probabilities: dict[str, float]  # label id -> probability, card order, sums to 1
    decision: str  # label id
    heatmap: np.ndarray | None = None  # float32 in [0, 1] at the model input's size
    explained_label: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def positive_probability(self) -> float | None:
        pos = self.card.positive_class
        return self.probabilities[pos] if pos else None

    def summary(self, revision: str | None = None, source: str | None = None) -> dict[str, Any]:
        """The JSON summary the API returns next to the Label and the overlay."""
        card = self.card
        label = card.label(self.decision)
        return {
            "model_id": card.id,
            "architecture": card.architecture,
            "revision": revision or card.revision,
            "weights_source": source,
            "probabilities": {k: round(float(v), 6) for k, v in self.probabilities.items()},
            "decision": self.decision,
            "decision_en": label.en,
            "decision_ko": label.ko,
            "positive_class": card.positive_class,
            "threshold": card.threshold,
            "decision_rule": decision_rule(card),
            "explained_label": self.explained_label,
            **self.extra,
            "disclaimer": DISCLAIMER["en"],
            "disclaimer_ko": DISCLAIMER["ko"],
        }


def decision_rule(card: ModelCard) -> str:
    if card.is_binary:
        return f"{card.positive_class} if P({card.positive_class}) >= {card.threshold:g}"
    return "the label with the highest probability"


def decide(card: ModelCard, probs: np.ndarray) -> str:
    """Decision from one probability row: the card's threshold for binary models, else argmax."""
    if card.is_binary:
        pos = card.positive_index
        other = 1 - pos
        return card.labels[pos].id if probs[pos] >= card.threshold else card.labels[other].id
    return card.labels[int(np.argmax(probs))].id


# Test-time augmentation: the dihedral views that make sense for a skin photo (no up/down
# semantics), applied to the model-sized input.
TTA_VIEWS = (
    ("identity", lambda x: x),
    ("flip_lr", lambda x: x[:, ::-1]),
    ("flip_ud", lambda x: x[::-1]),
    ("rot90", lambda x: np.rot90(x, 1)),
    ("rot180", lambda x: np.rot90(x, 2)),
    ("rot270", lambda x: np.rot90(x, 3)),
)


class Predictor:
    """A loaded model: its card, its backend and where its weights came from."""

    def __init__(self, card: ModelCard, backend: Any, source: str = "", revision: str = ""):
        self.card = card
        self.backend = backend
        self.source = source
        self.revision = revision or card.revision

    def model_input(self, image: np.ndarray) -> np.ndarray:
        return to_model_input(image, self.card.input)

    def predict_batch(self, images: list[np.ndarray]) -> np.ndarray:
        """Probabilities [N, K] for RGB uint8 images of any size."""
        batch = np.stack([self.model_input(img) for img in images])
        return np.asarray(self.backend.predict(batch), dtype=np.float64)

    def predict_tta(self, image: np.ndarray, progress=None) -> np.ndarray:
        """Mean probabilities over the TTA views of one image."""
        x = self.model_input(image)
        views = [np.ascontiguousarray(fn(x)) for _, fn in TTA_VIEWS]
        if progress is not None:
            progress(0.5, desc="TTA")
        probs = np.asarray(self.backend.predict(np.stack(views)), dtype=np.float64)
        return probs.mean(axis=0)

    def analyse(
        self,
        image: np.ndarray,
        *,
        explain: bool = True,
        explain_label: str | None = None,
        tta: bool = False,
        progress=None,
    ) -> Analysis:
        """Probabilities, decision and (optionally) a Grad-CAM map for one RGB uint8 image."""
        x = self.model_input(image)
        if tta:
            probs = self.predict_tta(image, progress=progress)
        else:
            probs = np.asarray(self.backend.predict(x[None]), dtype=np.float64)[0]
        probs = probs / probs.sum()
        decision = decide(self.card, probs)
        result = Analysis(
            card=self.card,
            probabilities={lid: float(p) for lid, p in zip(self.card.label_ids, probs)},
            decision=decision,
        )
        if tta:
            result.extra["tta_views"] = len(TTA_VIEWS)
        if explain:
            target = explain_label or decision
            index = self.card.label_ids.index(target)
            result.heatmap = np.asarray(self.backend.explain(x, index), dtype=np.float32)
            result.explained_label = target
            # Grad-CAM is all zero when no region has positive evidence for the class: say so
            # rather than show an empty overlay without comment.
            result.extra["heatmap_empty"] = bool(float(result.heatmap.max(initial=0.0)) <= 1e-6)
        return result


_LOCK = threading.Lock()
_PREDICTORS: dict[str, Predictor] = {}


def load_predictor(card: ModelCard, order: list[str] | None = None) -> Predictor:
    """Resolve a card's weights and load its backend (not cached; see get_predictor)."""
    from medhub.backends import load_backend
    from medhub.weights import WeightsError, resolve_weights

    try:
        resolved = resolve_weights(card, order=order)
    except WeightsError as err:
        raise ModelUnavailable(str(err)) from err
    try:
        backend = load_backend(card, resolved)
    except Exception as err:  # noqa: BLE001  (any load failure is reported to the user, never raised raw)
        raise ModelUnavailable(f"{card.id}: the weights could not be loaded: {err}") from err
    return Predictor(card, backend, source=resolved.source, revision=resolved.revision)


def get_predictor(model_id: str) -> Predictor:
    """The process-wide predictor for a model, loaded and warmed on first use."""
    with _LOCK:
        predictor = _PREDICTORS.get(model_id)
        if predictor is None:
            predictor = load_predictor(get_card(model_id))
            warm = getattr(predictor.backend, "warmup", None)
            if warm:
                warm()
            _PREDICTORS[model_id] = predictor
        return predictor
