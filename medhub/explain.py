"""What a heat map shows: the colour overlay, and where its peak lies in a 3x3 grid of the brain.

Grad-CAM (Selvaraju et al., ICCV 2017) maps come from the backends as 2-D float arrays in [0, 1];
this module only draws and describes them (numpy + OpenCV, no deep-learning imports).

Orientation of axial head-CT slices follows the radiological convention: the top of the image is
anterior, and the image's LEFT side is the patient's RIGHT. The 3x3 region names below use that
convention and name lobes only as approximate hints (frontal / temporal-parietal / occipital), as
the originating project did; a 3x3 grid on one slice is not an anatomical atlas.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

_COLORMAPS = {
    "jet": cv2.COLORMAP_JET,
    "turbo": cv2.COLORMAP_TURBO,
    "inferno": cv2.COLORMAP_INFERNO,
    "viridis": cv2.COLORMAP_VIRIDIS,
}

# Share of the hottest pixels whose centre of mass marks the peak: one noisy pixel does not decide.
PEAK_TOP_FRACTION = 0.05


def heat_to_rgb(heat: np.ndarray, colormap: str = "jet") -> np.ndarray:
    """Colour-map a [0, 1] heat map to RGB uint8 (NaN -> 0, values clipped to [0, 1]).

    One clipped copy, scaled in place, and OpenCV's channel swap: on a 1600 x 1200 overlay this is
    about half the time of nan_to_num + clip + a reversed-channel view copied later."""
    scaled = np.clip(np.asarray(heat, np.float32), 0.0, 1.0)
    nan = np.isnan(scaled)
    if nan.any():
        scaled[nan] = 0.0
    scaled *= 255.0
    bgr = cv2.applyColorMap(scaled.astype(np.uint8), _COLORMAPS.get(colormap, cv2.COLORMAP_JET))
    return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)


def overlay(image: np.ndarray, heat: np.ndarray, alpha: float = 0.45, colormap: str = "jet") -> np.ndarray:
    """Blend a colour-mapped heat map (any size, resized bilinearly) over an RGB uint8 image."""
    alpha = float(np.clip(alpha, 0.0, 1.0))
    h, w = image.shape[:2]
    heat = np.asarray(heat, np.float32)
    if heat.shape != (h, w):
        heat = cv2.resize(heat, (w, h), interpolation=cv2.INTER_LINEAR)
    if alpha == 0.0:
        return image.copy()
    return cv2.addWeighted(image, 1.0 - alpha, heat_to_rgb(heat, colormap), alpha, 0.0)


def colorbar(height: int = 200, width: int = 16, colormap: str = "jet") -> np.ndarray:
    """A vertical legend strip, hot at the top."""
    ramp = np.linspace(1.0, 0.0, height, dtype=np.float32)[:, None].repeat(width, axis=1)
    return heat_to_rgb(ramp, colormap)


def brain_mask(gray: np.ndarray, threshold: int | None = None) -> np.ndarray:
    """Foreground (head) mask of a windowed CT slice: threshold, largest component, holes filled.

    The default threshold is half the Otsu level (at least 15): scanned or re-encoded slices often
    have a gray, not black, background (a fixed 15 took the whole canvas on 48 of the 200 head_ct
    PNGs), while half of Otsu stays below the brain even when Otsu splits brain from skull.
    """
    if gray.ndim == 3:
        gray = cv2.cvtColor(gray, cv2.COLOR_RGB2GRAY)
    blurred = cv2.GaussianBlur(gray, (5, 5), 0)
    if threshold is None:
        otsu, _ = cv2.threshold(blurred, 0, 255, cv2.THRESH_BINARY + cv2.THRESH_OTSU)
        threshold = max(15, int(otsu * 0.5))
    binary = (blurred > threshold).astype(np.uint8)
    count, labels, stats, _ = cv2.connectedComponentsWithStats(binary, connectivity=8)
    if count <= 1:
        return np.ones_like(gray, dtype=bool)
    largest = 1 + int(np.argmax(stats[1:, cv2.CC_STAT_AREA]))
    mask = (labels == largest).astype(np.uint8)
    contours, _ = cv2.findContours(mask, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
    filled = np.zeros_like(mask)
    cv2.drawContours(filled, contours, -1, 1, thickness=cv2.FILLED)
    return filled.astype(bool)


_ROWS = (
    ("anterior", "frontal", "전두부"),
    ("middle", "temporal/parietal", "측두·두정부"),
    ("posterior", "occipital", "후두부"),
)
# Columns left to right in the image = patient's right, centre, left (radiological convention).
_COLS = (("right", "우측"), ("central", "중앙"), ("left", "좌측"))


@dataclass(frozen=True)
class Region:
    row: int  # 0 anterior, 1 middle, 2 posterior
    col: int  # 0 patient's right (image left), 1 centre, 2 patient's left (image right)
    name_en: str
    name_ko: str
    strength: float  # peak value of the heat map, 0..1
    fraction: float  # share of the heat map's mass inside this cell

    def name(self, lang: str = "en") -> str:
        return self.name_ko if lang == "ko" else self.name_en


def region_name(row: int, col: int) -> tuple[str, str]:
    position, lobe_en, lobe_ko = _ROWS[row]
    side_en, side_ko = _COLS[col]
    if row == 1 and col == 1:
        return "central region (approx. deep / midline)", "중앙부 (심부·정중선 부근)"
    return (
        f"{side_en} {position} region (approx. {lobe_en})",
        f"{side_ko} {lobe_ko}",
    )


def peak_region(heat: np.ndarray, mask: np.ndarray | None = None) -> Region | None:
    """The 3x3 cell holding the heat map's peak, over the mask's bounding box when given.

    The peak is the centre of mass of the hottest PEAK_TOP_FRACTION of (slightly smoothed) pixels
    inside the mask. Returns None for a flat map (no region stands out).
    """
    heat = np.nan_to_num(np.asarray(heat, np.float32))
    if mask is not None:
        mask = np.asarray(mask, bool)
        if heat.shape != mask.shape:
            heat = cv2.resize(heat, (mask.shape[1], mask.shape[0]), interpolation=cv2.INTER_LINEAR)
        if not mask.any():
            mask = None
    if float(heat.max() - heat.min()) < 1e-6:
        return None
    smooth = cv2.GaussianBlur(heat, (0, 0), sigmaX=max(1.0, min(heat.shape) / 100))
    inside = mask if mask is not None else np.ones(heat.shape, bool)
    values = smooth[inside]
    cutoff = np.quantile(values, 1.0 - PEAK_TOP_FRACTION)
    hot = inside & (smooth >= cutoff)
    ys, xs = np.nonzero(hot)
    weights = smooth[hot]
    cy = float(np.average(ys, weights=weights + 1e-12))
    cx = float(np.average(xs, weights=weights + 1e-12))

    if mask is not None:
        rows_any, cols_any = np.nonzero(mask.any(axis=1))[0], np.nonzero(mask.any(axis=0))[0]
        top, bottom, left, right = rows_any[0], rows_any[-1] + 1, cols_any[0], cols_any[-1] + 1
    else:
        top, bottom, left, right = 0, heat.shape[0], 0, heat.shape[1]
    row = int(np.clip((cy - top) / max(bottom - top, 1) * 3, 0, 2))
    col = int(np.clip((cx - left) / max(right - left, 1) * 3, 0, 2))

    r0, r1 = top + (bottom - top) * row // 3, top + (bottom - top) * (row + 1) // 3
    c0, c1 = left + (right - left) * col // 3, left + (right - left) * (col + 1) // 3
    total = float(heat[inside].sum()) or 1.0
    fraction = float(heat[r0:r1, c0:c1][inside[r0:r1, c0:c1]].sum()) / total
    name_en, name_ko = region_name(row, col)
    return Region(row, col, name_en, name_ko, float(heat.max()), fraction)


def hot_spot_share(heat: np.ndarray, mask: np.ndarray) -> float | None:
    """The share of the heat map's hot spot that lies inside `mask` (the head), from 0 to 1.

    The hot spot is the hottest PEAK_TOP_FRACTION of the (slightly smoothed) map over the whole image,
    weighted by its heat, as `peak_region` takes it; None for a flat map (no hot spot)."""
    heat = np.nan_to_num(np.asarray(heat, np.float32))
    mask = np.asarray(mask, bool)
    if heat.shape != mask.shape:
        heat = cv2.resize(heat, (mask.shape[1], mask.shape[0]), interpolation=cv2.INTER_LINEAR)
    if float(heat.max() - heat.min()) < 1e-6:
        return None
    smooth = cv2.GaussianBlur(heat, (0, 0), sigmaX=max(1.0, min(heat.shape) / 100))
    hot = smooth >= np.quantile(smooth, 1.0 - PEAK_TOP_FRACTION)
    weights = smooth[hot] - float(smooth.min()) + 1e-12
    return float(weights[mask[hot]].sum() / weights.sum())


# The hot spot lies outside the head when less than this share of it is inside the head mask.
INSIDE_HEAD_SHARE = 0.5


def hemorrhage_explanation(
    prob: float,
    threshold: float,
    region: Region | None,
    lang: str = "en",
    *,
    outside: bool = False,
    band: float | None = None,
    hedge: str | None = None,
) -> str:
    """The slice's sentence (medhub/result_text.py rules): the verdict (strong / positive / borderline,
    symmetric around the threshold / negative), where the hot spot is (a region of the head, or outside
    it), and that this is not a diagnosis. `hedge` (a weak model's caution) replaces a confident lead."""
    from medhub.i18n import t
    from medhub.result_text import BORDERLINE_BAND, ct_location_sentence, ct_verdict_sentence

    parts = [ct_verdict_sentence(prob, threshold, lang, BORDERLINE_BAND if band is None else band, hedge)]
    where = ct_location_sentence(region, outside, lang)
    if where:
        parts.append(where)
    parts.append(t("ct.not_diagnosis", lang))
    return " ".join(parts)
