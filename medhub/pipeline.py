"""One request, from upload to result, for the app, the CLI and the bench.

`run(card, source, ...)` decodes the upload through the one input gate (`medhub.imaging.load_upload`),
runs the model once (probabilities, pooled features, Grad-CAM in one forward and one backward pass),
applies the out-of-scope check (`medhub.scope`), maps the heat map onto the shown image, blends the
overlay and builds the JSON summary the API returns, with the fields the card's `result_extras` add
(`medhub.result_extras`). The summary is the same dict everywhere; the CLI adds `file`.

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

from medhub.cards import InputContract, ModelCard

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
    from medhub.explain import overlay

    return overlay(image, heat, float(np.clip(opacity, 0.0, 1.0)))


HEAD_BODY_PARTS = {"", "HEAD", "BRAIN", "SKULL", "HEADNECK", "HEAD_NECK"}


def _trust_dicom_header(card: ModelCard, decoded, analysis):
    """A DICOM file that says it is a CT of the head (Modality CT, body part head or unstated) is a head
    CT, whatever its distance to the training slices: slices of other scanners and hospitals lie a
    little further from the 160 training PNGs than the validation split, and refusing them would
    refuse real head CTs. The distance is still reported; the reason says why it was accepted."""
    scope = analysis.scope
    if (scope is None or scope.in_scope or decoded.kind != "dicom" or card.scope is None
            or "head_ct" not in card.scope.accepts or not scope.family_ok):
        return analysis
    meta = decoded.meta or {}
    modality = str(meta.get("modality") or "").upper()
    body = str(meta.get("body_part") or "").upper().replace(" ", "")
    if modality == "CT" and body in HEAD_BODY_PARTS:
        analysis.scope = dataclasses.replace(scope, in_scope=True, accepted_by="dicom_header")
        analysis.suggested_model = None
    return analysis


@dataclass
class Result:
    card: ModelCard
    decoded: Any  # medhub.imaging.DecodedImage as the model read it
    shown: Any  # the same, at most MAX_DISPLAY_SIDE long
    analysis: Any  # medhub.inference.Analysis
    heat: np.ndarray  # float32 [0, 1] at the shown image's size
    overlay: np.ndarray  # uint8 RGB at the shown image's size
    summary: dict[str, Any]
    result_extras: Any = None  # medhub.result_extras.ResultExtras (None out of scope)


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
    from medhub.imaging import load_for_card
    from medhub.inference import get_predictor

    step = progress or (lambda *a, **k: None)
    # Decode first: a bad upload is refused at once, even while a model is still loading.
    step(0.05, desc="decoding")
    decoded = load_for_card(card, source, **(decode_options or {}))  # DICOM window: the card's unless asked
    step(0.2, desc="loading model")
    predictor = get_predictor(card.id)
    step(0.35, desc="classifying")
    analysis = predictor.analyse(decoded.rgb, explain=True, progress=progress, **(analyse_options or {}))
    analysis = _trust_dicom_header(card, decoded, analysis)
    step(0.8, desc="heat map")
    # The model read the full image; what is shown, overlaid and analysed further is at most
    # MAX_DISPLAY_SIDE pixels long (the same geometry, so the heat map lands in the same place).
    shown = dataclasses.replace(decoded, rgb=fit_for_display(decoded.rgb))
    h, w = shown.rgb.shape[:2]
    heat = heat_on_image(analysis.heatmap, (h, w), card.input)
    summary = analysis.summary(revision=predictor.revision, source=predictor.source, show_anyway=show_anyway)
    summary["input"] = {
        "kind": decoded.kind,
        "format": decoded.format,
        "width": int(decoded.rgb.shape[1]),
        "height": int(decoded.rgb.shape[0]),
    }
    if shown.rgb is not decoded.rgb:
        summary["input"]["shown_width"], summary["input"]["shown_height"] = w, h
    extras = None
    if analysis.in_scope or show_anyway:
        from medhub import result_extras

        extras = result_extras.compute(card, shown, analysis, heat)
        summary.update(extras.json)
    return Result(
        card=card,
        decoded=decoded,
        shown=shown,
        analysis=analysis,
        heat=heat,
        overlay=blend(shown.rgb, heat, opacity),
        summary=summary,
        result_extras=extras,
    )
