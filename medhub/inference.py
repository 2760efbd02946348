"""The one code path from a decoded image to a result, shared by the app, the CLI and evaluation.

`load_predictor(card)` resolves a card's weights and loads its backend; `get_predictor(model_id)`
returns the process-wide `Predictor` held by `medhub.registry.REGISTRY` (loaded once, warmed, with a
status per model); `Predictor.analyse(image)` gives probabilities over the card's labels, the
decision (threshold for binary models, argmax otherwise) and, on request, a Grad-CAM heat map.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from medhub.cards import ModelCard
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

    def summary(
        self, revision: str | None = None, source: str | None = None, show_anyway: bool = False
    ) -> dict[str, Any]:
        """The JSON summary the API returns next to the Label and the overlay.

        Out of scope, unless `show_anyway` is set, the summary answers nothing: `probabilities`,
        `decision` (and its names), `explained_label` and `borderline` are None, as the Label and the
        overlay are empty; the scope fields say why and `suggested_model` which tab would answer.
        `labels` maps each label id to its display names; `caution` is the card's warning about its
        own figures (`medhub.caution`), None for a model within its targets.
        """
        from medhub.caution import card_caution
        from medhub.disclaimers import disclaimer
        from medhub.result_text import borderline_of

        card = self.card
        label = card.label(self.decision)
        answered = self.in_scope or show_anyway
        scope = self.scope
        caution = card_caution(card)
        extra = {k: v for k, v in self.summary_fields.items() if answered or k != "heatmap_empty"}
        return {
            "model_id": card.id,
            "architecture": card.architecture,
            "revision": revision or card.revision,
            "weights_source": source,
            "probabilities": {k: round(float(v), 6) for k, v in self.probabilities.items()} if answered else None,
            "labels": {lab.id: {"en": lab.en, "ko": lab.ko} for lab in card.labels},
            "decision": self.decision if answered else None,
            "decision_en": label.en if answered else None,
            "decision_ko": label.ko if answered else None,
            "positive_class": card.positive_class,
            "threshold": card.threshold,
            "decision_rule": decision_rule(card),
            "borderline": borderline_of(card, self.probabilities) if answered else None,
            "explained_label": self.explained_label if answered else None,
            "in_scope": self.in_scope,
            "scope_score": None if scope is None else round(scope.score, 6),
            "scope_threshold": None if scope is None else round(scope.threshold, 6),
            "scope_family": None if scope is None else scope.family,
            "scope_reason": None if scope is None else scope.reason(),
            "suggested_model": self.suggested_model,
            "shown_anyway": bool(show_anyway and not self.in_scope),
            **extra,
            "caution": caution.json(card) if caution else None,
            "disclaimer": disclaimer(card.disclaimer_domain, "en"),
            "disclaimer_ko": disclaimer(card.disclaimer_domain, "ko"),
        }


def decision_rule(card: ModelCard) -> str:
    if card.is_binary:
        return f"{card.positive_class} if P({card.positive_class}) >= {card.threshold:g}"
    return "the label with the highest probability"


def decide(card: ModelCard, probs: np.ndarray) -> str:
    """Decision from one probability row: the card's threshold for binary models, else argmax."""
    from medhub.backends import decide_index

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

    def check_scope(self, features: np.ndarray, image: np.ndarray | None = None):
        """(ScopeResult or None, suggested model id or None) for one image's pooled features.

        A refused image's suggestion is a tab whose scope accepts the family the image looks like and
        whose own model, run on the image, accepts it too (`accepted_by`): a tab is never suggested
        for an image it would refuse as well (a retina photo that looks most like dermoscopy to this
        model's family head is not sent to a dermoscopy tab that refuses it)."""
        if self.scope is None or features is None:
            return None, None
        from medhub.cards import load_cards
        from medhub.scope import appearance, suggested_model

        looks = appearance(image) if (image is not None and self.scope.uses_appearance) else None
        result = self.scope.check(features, looks)
        verify = None if image is None or result.in_scope else (lambda card: accepted_by(card, image))
        return result, suggested_model(result, self.card, load_cards(self.card.path.parent), accepts=verify)

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
        """Probabilities, decision and (optionally) a Grad-CAM map for one RGB uint8 image.

        `tta` (the mean over flips/rotations) only where the card offers it (`tta: true`)."""
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
        result.scope, result.suggested_model = self.check_scope(result.features, image)
        return result

    def _probs_and_features(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
        feats = getattr(self.backend, "features", None)
        if feats is None:
            return np.asarray(self.backend.predict(x[None]), dtype=np.float64)[0], None
        probs, pooled = feats(x[None])
        return np.asarray(probs, dtype=np.float64)[0], np.asarray(pooled)[0]

    def scope_batch(self, images: list[np.ndarray]) -> tuple[np.ndarray, list]:
        """(probabilities [N, K], scope verdicts) for RGB uint8 images: evaluation and tests."""
        from medhub.scope import appearance

        probs, feats = self.features_batch(images)
        if self.scope is None:
            return probs, [None] * len(images)
        looks = np.stack([appearance(img) for img in images]) if self.scope.uses_appearance else None
        return probs, self.scope.check_many(feats, looks)

    def features_batch(self, images: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
        """(probabilities [N, K], pooled features [N, D]) for RGB uint8 images: evaluation and fitting."""
        batch = np.stack([self.model_input(img) for img in images])
        probs, pooled = self.backend.features(batch)
        return np.asarray(probs, dtype=np.float64), np.asarray(pooled, dtype=np.float32)


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
    scope = None
    if card.scope is not None:
        from medhub.scope import ScopeError, ScopeModel

        try:
            scope = ScopeModel.load(card.scope, resolved.path(card.scope.file))
        except (ScopeError, WeightsError) as err:
            raise ModelUnavailable(f"{card.id}: the scope check could not be loaded: {err}") from err
    return Predictor(card, backend, source=resolved.source, revision=resolved.revision, scope=scope)


def accepted_by(card: ModelCard, image: np.ndarray) -> bool:
    """Whether `card`'s own model takes `image` as in scope (its scope check on its own features).
    A model that cannot be loaded takes nothing."""
    try:
        predictor = get_predictor(card.id)
    except (ModelUnavailable, KeyError):
        return False
    if predictor.scope is None:
        return True
    _, (verdict,) = predictor.scope_batch([image])
    return bool(verdict.in_scope)


def get_predictor(model_id: str) -> Predictor:
    """The process-wide predictor for a model, loaded and warmed on first use (`medhub.registry`)."""
    from medhub.registry import REGISTRY

    return REGISTRY.get(model_id)


def __getattr__(name: str):
    # `_PREDICTORS` was the cache before the registry; training scripts still drop a retrained model
    # from it. It is the registry's own table.
    if name == "_PREDICTORS":
        from medhub.registry import REGISTRY

        return REGISTRY._predictors
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
