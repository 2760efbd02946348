"""One request, from upload to result, for the app, the CLI and the bench.

`run(card, source, ...)` decodes the upload through the one input gate (`medhub.imaging.load_upload`,
the DICOM window resolved once there), runs the model once (probabilities, pooled features, Grad-CAM
in one forward and one backward pass) with the out-of-scope verdict decided once
(`medhub.scope.decide`, which also applies the DICOM-header rule), maps the heat map onto the shown
image, computes the card's `result_extras` (`medhub.result_extras`), blends the overlay and has the
JSON summary built by `medhub.summary`. The summary is the same dict everywhere; the CLI adds `file`.

Errors a user can cause or fix are `InputError` (bad upload) and `ModelUnavailable`; anything else is
a bug, which callers log and replace by a generic message.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np

from medhub import registry, result_extras
from medhub.cards import InputContract, ModelCard
from medhub.explain import overlay
from medhub.imaging import DecodedImage, load_for_card
from medhub.inference import Analysis
from medhub.summary import answers
from medhub.summary import build as build_summary

# Images are shown (and overlaid) at most this many pixels on the long side: the model sees 224-512 px
# anyway, and a 40-megapixel photo kept at full size in every session's state would cost ~300 MB.
MAX_DISPLAY_SIDE = 1600
DEFAULT_OPACITY = 0.45


def heat_on_image(heat: np.ndarray, shape: tuple[int, int], contract: InputContract) -> np.ndarray:
    """Map a heat map at the model's input size back onto the full image (H, W).

    A squashed input covers the whole image; a centre-cropped one only the central square, so the
    map goes there and the cut-off margins get zero (the model never saw them).
    """
    h, w = shape
    heat = np.asarray(heat, dtype=np.float32)
    if contract.resize == "center_crop":
        side = min(h, w)
        top, left = (h - side) // 2, (w - side) // 2
        full = np.zeros((h, w), dtype=np.float32)
        square = cv2.resize(heat, (side, side), interpolation=cv2.INTER_LINEAR)
        full[top : top + side, left : left + side] = square
        return full
    return np.clip(cv2.resize(heat, (w, h), interpolation=cv2.INTER_LINEAR), 0.0, 1.0)


def fit_for_display(image: np.ndarray, max_side: int = MAX_DISPLAY_SIDE) -> np.ndarray:
    """The image itself when its long side is <= max_side, else a proportional downscale.

    Bilinear for a mild downscale (at least half size: no source pixel is skipped, so no aliasing;
    about 5x faster than INTER_AREA on a 2400 x 1800 photo), area averaging for a stronger one."""
    h, w = image.shape[:2]
    scale = max_side / max(h, w)
    if scale >= 1.0:
        return image
    size = (max(1, round(w * scale)), max(1, round(h * scale)))
    return cv2.resize(image, size, interpolation=cv2.INTER_LINEAR if scale >= 0.5 else cv2.INTER_AREA)


def blend(image: np.ndarray, heat: np.ndarray, opacity: float) -> np.ndarray:
    """The Grad-CAM overlay at the image's size (colour map from medhub.explain)."""
    return overlay(image, heat, float(np.clip(opacity, 0.0, 1.0)))


@dataclass
class Result:
    card: ModelCard
    decoded: DecodedImage  # as the model read it
    shown: DecodedImage  # the same, at most MAX_DISPLAY_SIDE long
    analysis: Analysis
    heat: np.ndarray  # float32 [0, 1] at the shown image's size
    overlay: np.ndarray  # uint8 RGB at the shown image's size
    summary: dict[str, Any]
    result_extras: result_extras.ResultExtras | None = None  # None out of scope
    answered: bool = True  # in scope or shown anyway (`medhub.summary.answers`): Label, overlay, extras


def run(
    card: ModelCard,
    source,
    *,
    decode_options: dict[str, Any] | None = None,
    analyse_options: dict[str, Any] | None = None,
    opacity: float = DEFAULT_OPACITY,
    show_anyway: bool = False,
    progress: Callable[..., Any] | None = None,
) -> Result:
    """Decode, classify, check scope, explain and summarise one upload (path or bytes)."""
    step = progress or (lambda *a, **k: None)
    # Decode first: a bad upload is refused at once, even while a model is still loading.
    step(0.05, desc="decoding")
    decoded = load_for_card(card, source, **(decode_options or {}))  # DICOM window: the card's unless asked
    step(0.2, desc="loading model")
    predictor = registry.get_predictor(card.id)
    step(0.35, desc="classifying")
    # The scope verdict is decided once, in the analysis (medhub.scope.decide), with the DICOM header.
    dicom_meta = (decoded.meta or {}) if decoded.kind == "dicom" else None
    # A refused image names another tab only when that tab's own model takes it (registry.accepted_by).
    analysis = predictor.analyse(
        decoded.rgb, explain=True, progress=progress, dicom_meta=dicom_meta,
        accepts=lambda other: registry.accepted_by(other, decoded.rgb), **(analyse_options or {})
    )
    step(0.8, desc="heat map")
    # The model read the full image; what is shown, overlaid and analysed further is at most
    # MAX_DISPLAY_SIDE pixels long (the same geometry, so the heat map lands in the same place).
    shown = dataclasses.replace(decoded, rgb=fit_for_display(decoded.rgb))
    h, w = shown.rgb.shape[:2]
    heat = heat_on_image(analysis.heatmap, (h, w), card.input)
    answered = answers(analysis, show_anyway)
    extras = result_extras.compute(card, shown, analysis, heat) if answered else None
    summary = build_summary(
        analysis, revision=predictor.revision, source=predictor.source, show_anyway=show_anyway,
        decoded=decoded, shown=shown, extras=extras,
    )
    return Result(
        card=card,
        decoded=decoded,
        shown=shown,
        analysis=analysis,
        heat=heat,
        overlay=blend(shown.rgb, heat, opacity),
        summary=summary,
        result_extras=extras,
        answered=answered,
    )
