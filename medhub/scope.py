"""Know when not to answer: the out-of-scope check of every model, from features it already computes.

Every request already runs the model once (`backend.analyse_one`); its pooled penultimate features
(1280 numbers for EfficientNet-Lite0 and MobileNetV2) are all the check needs, so it costs no second
forward pass (a few small matrix products, well under a millisecond).

Two parts, both fitted on the model's own training split by `python -m training.fit_scope --model ID`
and shipped as `weights/<id>/scope.safetensors` (listed with its sha256 on the card):

1. **Distance to the training data.** The features are L2-normalised and projected on the first
   principal axes of the training features, then (method `knn`) the score is one minus the mean cosine
   similarity to the k nearest training images (Sun et al., "Out-of-distribution detection with deep
   nearest neighbors", ICML 2022), or (method `mahalanobis`) the smallest class-conditional Mahalanobis
   distance with a shared, shrunk covariance (Lee et al., NeurIPS 2018). The card says which, and the
   threshold, chosen on the validation split so that at least 95 % of in-scope images pass.
2. **What kind of image it is.** A multinomial logistic regression on the same features tells the image
   family (head CT, dermoscopy, clinical skin photo, whole-head photo, scalp microscope, other), trained
   on the training splits of every tab's data plus synthetic images. An image whose family is not one
   the model accepts is out of scope however close it lies, and the family names the tab to suggest.

The card's `medhub.scope` block:

    scope:
      file: scope.safetensors
      method: knn            # or mahalanobis
      k: 10
      threshold: 0.31        # score above it = out of scope
      accepts: [dermoscopy]  # image families this model answers for
      families: [head_ct, dermoscopy, clinical_skin, whole_head, scalp_microscope, other]
      min_family_probability: 0.5
      report: {...}          # acceptance and refusal rates with n, from the scope report
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from pydantic import ValidationError

from medhub.card_schema import SCOPE_METHODS, ScopeBlock, describe
from medhub.cards import ModelCard

SCOPE_FILE = "scope.safetensors"
METHODS = SCOPE_METHODS
# The image families of the modality check, and the words the UI uses for them.
FAMILIES = (
    "head_ct",
    "dermoscopy",
    "clinical_sk",
    "clinical_skin",
    "whole_head",
    "scalp_microscope",
    "people",
    "other",
)
NO_TAB_FAMILIES = ("people", "other")  # families no tab is for: a refusal suggests no tab
FAMILY_NAMES = {
    "head_ct": ("a head CT slice", "두부 CT 영상"),
    "dermoscopy": ("a dermoscopy image of a skin lesion", "피부 병변의 피부경(더모스코피) 영상"),
    "clinical_sk": (
        "a clinical (non-dermoscopic) photo of a seborrheic keratosis",
        "지루각화증의 (피부경이 아닌) 임상 사진",
    ),
    "clinical_skin": ("a clinical photo of a skin condition", "피부 질환의 임상 사진"),
    "whole_head": ("a photo of the whole head or hairline", "머리 전체(모발선) 사진"),
    "scalp_microscope": ("a scalp microscope close-up", "두피 현미경 확대 사진"),
    # Portraits, people in the street, hands: a photo of a head is not a photo of the scalp (the
    # hair-loss model graded 4 of 21 accepted portraits with a full head of hair "severe", issue 17).
    "people": (
        "a photo of a person (a portrait, a figure, a hand), not a view of the scalp and hairline",
        "인물·전신·손을 찍은 사람 사진",
    ),
    "other": ("something that is not a medical image of these kinds", "이 종류의 의료 영상이 아닌 이미지"),
}


class ScopeError(RuntimeError):
    """The scope statistics are missing or do not fit the card."""


class ScopeSpec(ScopeBlock):
    """The card's `medhub.scope` block, validated by the card schema (`card_schema.ScopeBlock`)."""

    @classmethod
    def from_card(cls, raw: Any, where: str = "card") -> ScopeSpec | None:
        if raw is None:
            return None
        if not isinstance(raw, dict):
            raise ScopeError(f"{where}: scope must be a mapping")
        try:
            return cls.model_validate(raw)
        except ValidationError as err:
            raise ScopeError(describe(err, where).replace("'medhub.", "'medhub.scope.")) from None


@dataclass(frozen=True)
class ScopeResult:
    in_scope: bool
    score: float  # distance to the training data (higher = further)
    threshold: float
    family: str  # the modality check's verdict
    family_probability: float
    distance_ok: bool
    family_ok: bool
    accepted_by: str = ""  # "dicom_header" when the file's own header vouched for it

    def reason(self) -> str:
        if self.in_scope:
            return "dicom_header" if self.accepted_by else "in_scope"
        return "family" if not self.family_ok else "distance"


APPEARANCE_SIZE = 128
APPEARANCE_WEIGHT = 0.5  # how much the appearance statistics weigh beside the unit-length features


def appearance(rgb: np.ndarray) -> np.ndarray:
    """Cheap statistics of how an image looks (about 1 ms): colour (a 4x4x4 histogram, saturation,
    grey-ness), brightness and contrast, dark/bright borders (vignettes, CT backgrounds), edges.

    They tell the image family apart where a model's own features, tuned to its task, do not (a chest
    radiograph is grey like a CT slice; a dermoscope leaves a dark ring).
    """
    import cv2

    img = cv2.resize(np.ascontiguousarray(rgb[..., :3]), (APPEARANCE_SIZE, APPEARANCE_SIZE),
                     interpolation=cv2.INTER_AREA)
    f = img.astype(np.float32) / 255.0
    hsv = cv2.cvtColor(img, cv2.COLOR_RGB2HSV).astype(np.float32) / np.array([180.0, 255.0, 255.0], np.float32)
    gray = f.mean(axis=2)
    bins = np.minimum((f * 4).astype(np.int32), 3)
    hist = np.bincount((bins[..., 0] * 16 + bins[..., 1] * 4 + bins[..., 2]).ravel(), minlength=64)
    hist = hist.astype(np.float32) / hist.sum()
    edge = int(APPEARANCE_SIZE * 0.12)
    border = np.concatenate([gray[:edge].ravel(), gray[-edge:].ravel(), gray[:, :edge].ravel(), gray[:, -edge:].ravel()])
    centre = gray[edge:-edge, edge:-edge]
    gy, gx = np.gradient(gray)
    mag = np.sqrt(gx * gx + gy * gy)
    greyness = np.abs(f[..., 0] - f[..., 1]).mean() + np.abs(f[..., 1] - f[..., 2]).mean()
    stats = [
        greyness, hsv[..., 1].mean(), hsv[..., 1].std(), hsv[..., 2].mean(), hsv[..., 2].std(),
        gray.std(), border.mean(), centre.mean(), centre.mean() - border.mean(),
        (gray < 0.08).mean(), (gray > 0.92).mean(), mag.mean(), (mag > 0.1).mean(),
        *f.reshape(-1, 3).mean(axis=0), *f.reshape(-1, 3).std(axis=0),
    ]
    return np.concatenate([np.array(stats, np.float32), np.sqrt(hist)]).astype(np.float32)


def _normalise(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, dtype=np.float32)
    return x / np.maximum(np.linalg.norm(x, axis=-1, keepdims=True), 1e-8)


def _softmax(z: np.ndarray) -> np.ndarray:
    z = z - z.max(axis=-1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=-1, keepdims=True)


class ScopeModel:
    """The fitted statistics of one model (arrays from scope.safetensors) and its card's spec."""

    def __init__(self, spec: ScopeSpec, arrays: dict[str, np.ndarray]) -> None:
        need = {"pca_mean", "pca_components", "family_weight", "family_bias"}
        need |= {"bank"} if spec.method == "knn" else {"class_means", "precision"}
        missing = need - set(arrays)
        if missing:
            raise ScopeError(f"{spec.file} lacks {sorted(missing)}")
        self.spec = spec
        self.a = {k: np.asarray(v, dtype=np.float32) for k, v in arrays.items()}
        if self.a["family_weight"].shape[0] != len(spec.families):
            raise ScopeError(
                f"{spec.file}: the family head has {self.a['family_weight'].shape[0]} rows, "
                f"the card names {len(spec.families)} families"
            )

    @classmethod
    def load(cls, spec: ScopeSpec, path: Path) -> ScopeModel:
        from safetensors.numpy import load_file

        try:
            arrays = load_file(str(path))
        except Exception as err:  # noqa: BLE001 - any unreadable file is a typed error
            raise ScopeError(f"{path} is not a readable safetensors file: {err}") from None
        return cls(spec, arrays)

    @property
    def dim(self) -> int:
        return int(self.a["pca_mean"].shape[0])

    def project(self, features: np.ndarray) -> np.ndarray:
        z = _normalise(features)
        return (z - self.a["pca_mean"]) @ self.a["pca_components"].T

    def distance(self, features: np.ndarray) -> np.ndarray:
        """The distance score of each row of `features` [N, D] (higher = less like the training data)."""
        p = self.project(np.atleast_2d(features))
        if self.spec.method == "knn":
            sims = _normalise(p) @ self.a["bank"].T
            k = min(self.spec.k, sims.shape[1])
            top = -np.partition(-sims, k - 1, axis=1)[:, :k]
            return 1.0 - top.mean(axis=1)
        diffs = p[:, None, :] - self.a["class_means"][None]  # N, K, P
        d2 = np.einsum("nkp,pq,nkq->nk", diffs, self.a["precision"], diffs)
        return np.sqrt(np.maximum(d2.min(axis=1), 0.0))

    @property
    def uses_appearance(self) -> bool:
        return "appearance_mean" in self.a

    def family_inputs(self, features: np.ndarray, looks: np.ndarray | None) -> np.ndarray:
        """What the family head reads: the unit-length features, plus the standardised appearance
        statistics when the head was fitted with them."""
        z = _normalise(np.atleast_2d(features))
        if not self.uses_appearance:
            return z
        if looks is None:
            raise ScopeError("this scope check also reads the image's appearance statistics; pass them")
        st = (np.atleast_2d(looks) - self.a["appearance_mean"]) / self.a["appearance_std"]
        return np.concatenate([z, APPEARANCE_WEIGHT * st / np.sqrt(st.shape[1])], axis=1)

    def family_probabilities(self, features: np.ndarray, looks: np.ndarray | None = None) -> np.ndarray:
        return _softmax(self.family_inputs(features, looks) @ self.a["family_weight"].T + self.a["family_bias"])

    def check(self, features: np.ndarray, looks: np.ndarray | None = None) -> ScopeResult:
        """The verdict for one image's pooled features [D] (and appearance statistics)."""
        return self.check_many(np.atleast_2d(features), None if looks is None else np.atleast_2d(looks))[0]

    def check_many(self, features: np.ndarray, looks: np.ndarray | None = None) -> list[ScopeResult]:
        scores = self.distance(features)
        fam = self.family_probabilities(features, looks)
        accepted = [self.spec.families.index(f) for f in self.spec.accepts]
        out = []
        for score, row in zip(scores, fam):
            best = int(np.argmax(row))
            p_own = float(row[accepted].sum())
            distance_ok = bool(score <= self.spec.threshold)
            family_ok = p_own >= self.spec.min_family_probability
            out.append(
                ScopeResult(
                    in_scope=distance_ok and family_ok,
                    score=float(score),
                    threshold=self.spec.threshold,
                    family=self.spec.families[best],
                    family_probability=float(row[best]),
                    distance_ok=distance_ok,
                    family_ok=family_ok,
                )
            )
        return out


# Image families whose DICOM header can vouch for an image: family -> (modality, body parts). A DICOM
# upload whose header says it is such an image is accepted by a card that accepts that family even
# beyond the distance threshold (its family check must still pass): slices of other scanners and
# hospitals lie a little further from the training images than the validation split, and refusing
# them would refuse real scans. "" is an unstated body part.
DICOM_HEADER_FAMILIES: dict[str, tuple[str, frozenset[str]]] = {
    "head_ct": ("CT", frozenset({"", "HEAD", "BRAIN", "SKULL", "HEADNECK", "HEAD_NECK"})),
}


def header_family(dicom_meta: dict[str, Any] | None) -> str | None:
    """The image family a DICOM file's own header names (DICOM_HEADER_FAMILIES), or None."""
    if dicom_meta is None:
        return None
    modality = str(dicom_meta.get("modality") or "").upper()
    body = str(dicom_meta.get("body_part") or "").upper().replace(" ", "")
    for family, (mod, parts) in DICOM_HEADER_FAMILIES.items():
        if modality == mod and body in parts:
            return family
    return None


def decide(
    model: ScopeModel | None,
    card: ModelCard,
    cards: Sequence[ModelCard],
    features: np.ndarray | None,
    image: np.ndarray | None = None,
    dicom_meta: dict[str, Any] | None = None,
    accepts: Callable[[ModelCard], bool] | None = None,
) -> tuple[ScopeResult | None, str | None]:
    """The one place the scope verdict of a request is decided: (verdict or None, suggested tab or None).

    The distance to the training features and the image family (`ScopeModel.check`, with the image's
    appearance statistics when the fit reads them), then the DICOM-header rule (a DICOM upload whose
    header names a family this card accepts is in scope when its family check passes; the reason says
    `dicom_header`), then the tab to suggest for an image that is refused: one whose scope accepts the
    family the image looks like and, when `accepts(card)` is given (the request path: that card's own
    model run on the image, `medhub.registry.accepted_by`), whose model would answer it."""
    if model is None or features is None:
        return None, None
    looks = appearance(image) if (image is not None and model.uses_appearance) else None
    result = model.check(features, looks)
    family = header_family(dicom_meta)
    if not result.in_scope and result.family_ok and family is not None and family in model.spec.accepts:
        result = dataclasses.replace(result, in_scope=True, accepted_by="dicom_header")
    return result, suggested_model(result, card, cards, accepts=accepts)


def suggested_model(result: ScopeResult, own, cards, accepts=None) -> str | None:
    """For an out-of-scope image: the first other card (tab order) whose scope accepts the family the
    image looks like and, when `accepts(card)` is given (the request path: that card's own model run
    on the image), whose model would answer it; None when it looks like this model's own kind of
    image, like none of them, or when every such tab would refuse it too."""
    if result.in_scope or result.family in NO_TAB_FAMILIES or (own.scope and result.family in own.scope.accepts):
        return None
    for card in cards:
        spec = card.scope
        if card.id != own.id and spec is not None and result.family in spec.accepts:
            if accepts is None or accepts(card):
                return card.id
    return None


def family_name(family: str, lang: str = "en") -> str:
    en, ko = FAMILY_NAMES.get(family, (family, family))
    return ko if lang == "ko" else en
