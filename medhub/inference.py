"""The one code path from a decoded image to a result, shared by the app, the CLI and evaluation.

`load_predictor(card)` resolves a card's weights and loads its backend (the process-wide predictors
are `medhub.registry`'s: `get_predictor(model_id)`, loaded once, warmed, with a status per model);
`Predictor.analyse(image)` gives probabilities over the card's labels, the decision (threshold for
binary models, argmax otherwise), the scope verdict (`medhub.scope.decide`) and, on request, a
Grad-CAM heat map. The JSON summary of an analysis is built by `medhub.summary`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from medhub import scope
from medhub.backends import decide_index, load_backend
from medhub.cards import ModelCard, load_cards
from medhub.preprocess import to_model_input
from medhub.scope import ScopeError, ScopeModel
from medhub.weights import WeightsError, resolve_weights


class ModelUnavailable(RuntimeError):
    """A model's weights or backend could not be loaded; the message says why and how to fix it."""


@dataclass
class Analysis:
    card: ModelCard
    probabilities: dict[str, float]  # label id -> probability, card order, sums to 1
    decision: str  # label id
    heatmap: np.ndarray | None = None  # float32 in [0, 1] at the model input's size
    explained_label: str | None = None
    # fields this analysis adds to the JSON summary (tta_views, heatmap_empty)
    summary_fields: dict[str, Any] = field(default_factory=dict)
    features: np.ndarray | None = None  # pooled penultimate features of the (identity view of the) image
    scope: Any = None  # medhub.scope.ScopeResult, or None when the card has no scope check
    suggested_model: str | None = None
    # graded-heads cards: head id -> probabilities over its grades, from the same forward pass
    heads: dict[str, np.ndarray] | None = None

    @property
    def in_scope(self) -> bool:
        return self.scope is None or bool(self.scope.in_scope)

    @property
    def positive_probability(self) -> float | None:
        pos = self.card.positive_class
        return self.probabilities[pos] if pos else None


def decide(card: ModelCard, probs: np.ndarray) -> str:
    """Decision from one probability row: the card's threshold for binary models, else argmax."""
    return card.labels[decide_index(card, probs)].id


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

    def __init__(
        self, card: ModelCard, backend: Any, source: str = "", revision: str = "", scope: Any = None
    ):
        self.card = card
        self.backend = backend
        self.source = source
        self.revision = revision or card.revision
        self.scope = scope  # medhub.scope.ScopeModel or None

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
        dicom_meta: dict[str, Any] | None = None,
        accepts: Callable[[ModelCard], bool] | None = None,
    ) -> Analysis:
        """Probabilities, decision and (optionally) a Grad-CAM map for one RGB uint8 image.

        `tta` (the mean over flips/rotations) only where the card offers it (`tta: true`). The scope
        verdict is `medhub.scope.decide`'s (`dicom_meta`: the DICOM header of a DICOM upload). `accepts(card)`
        says whether another card's model takes this image: a refused image names a tab only when it
        does (the request path passes `medhub.registry.accepted_by`; a retina photo that looks most
        like dermoscopy to this model's family head is not sent to a dermoscopy tab that refuses it)."""
        if tta and not self.card.tta:
            raise ValueError(f"{self.card.id}: its card does not offer test-time augmentation (tta)")
        x = self.model_input(image)
        heat = features = heads = None
        if explain_label is None and self.card.heatmap_class == "positive" and self.card.positive_class:
            explain_label = self.card.positive_class  # the card says which class the map explains
        forced = self.card.label_ids.index(explain_label) if explain_label else None
        one_pass = getattr(self.backend, "analyse_one", None)
        if explain and one_pass is not None and not tta:
            # The request path: one forward + one backward pass give probabilities, features, heat map.
            one = one_pass(x, forced)
            probs = np.asarray(one.probs, dtype=np.float64)
            features, heat, heads = one.features, one.heatmap, one.heads
        elif tta:
            probs = self.predict_tta(image, progress=progress)
        else:
            probs, features = self._probs_and_features(x)
        probs = probs / probs.sum()
        decision = decide(self.card, probs)
        result = Analysis(
            card=self.card,
            probabilities={lid: float(p) for lid, p in zip(self.card.label_ids, probs)},
            decision=decision,
        )
        if tta:
            result.summary_fields["tta_views"] = len(TTA_VIEWS)
        if explain:
            target = explain_label or decision
            index = self.card.label_ids.index(target)
            if heat is None and one_pass is not None:
                # TTA: the map and the features come from the identity view, for the averaged decision.
                one = one_pass(x, index)
                features, heat, heads = one.features, one.heatmap, one.heads
            elif heat is None:
                heat = self.backend.explain(x, index)
            result.heatmap = np.asarray(heat, dtype=np.float32)
            result.explained_label = target
            # Grad-CAM is all zero when no region has positive evidence for the class: say so
            # rather than show an empty overlay without comment.
            result.summary_fields["heatmap_empty"] = bool(float(result.heatmap.max(initial=0.0)) <= 1e-6)
        if features is None and self.scope is not None:
            _, features = self._probs_and_features(x)
        result.features = None if features is None else np.asarray(features, dtype=np.float32)
        result.heads = heads
        cards = load_cards(self.card.path.parent) if self.scope is not None else ()  # the tabs to suggest
        result.scope, result.suggested_model = scope.decide(
            self.scope, self.card, cards, result.features, image, dicom_meta, accepts=accepts
        )
        return result

    def _probs_and_features(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
        feats = getattr(self.backend, "features", None)
        if feats is None:
            return np.asarray(self.backend.predict(x[None]), dtype=np.float64)[0], None
        probs, pooled = feats(x[None])
        return np.asarray(probs, dtype=np.float64)[0], np.asarray(pooled)[0]

    def scope_batch(self, images: list[np.ndarray]) -> tuple[np.ndarray, list]:
        """(probabilities [N, K], scope verdicts) for RGB uint8 images: evaluation and tests."""
        probs, feats = self.features_batch(images)
        if self.scope is None:
            return probs, [None] * len(images)
        looks = np.stack([scope.appearance(img) for img in images]) if self.scope.uses_appearance else None
        return probs, self.scope.check_many(feats, looks)

    def features_batch(self, images: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
        """(probabilities [N, K], pooled features [N, D]) for RGB uint8 images: evaluation and fitting."""
        batch = np.stack([self.model_input(img) for img in images])
        probs, pooled = self.backend.features(batch)
        return np.asarray(probs, dtype=np.float64), np.asarray(pooled, dtype=np.float32)


def load_predictor(card: ModelCard, order: list[str] | None = None) -> Predictor:
    """Resolve a card's weights and load its backend (not cached; see medhub.registry.get_predictor)."""
    try:
        resolved = resolve_weights(card, order=order)
    except WeightsError as err:
        raise ModelUnavailable(str(err)) from err
    try:
        backend = load_backend(card, resolved)
    except Exception as err:  # noqa: BLE001  (any load failure is reported to the user, never raised raw)
        raise ModelUnavailable(f"{card.id}: the weights could not be loaded: {err}") from err
    scope_model = None
    if card.scope is not None:
        try:
            scope_model = ScopeModel.load(card.scope, resolved.path(card.scope.file))
        except (ScopeError, WeightsError) as err:
            raise ModelUnavailable(f"{card.id}: the scope check could not be loaded: {err}") from err
    return Predictor(card, backend, source=resolved.source, revision=resolved.revision, scope=scope_model)
