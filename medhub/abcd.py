"""ABCD features of a pigmented lesion in a dermoscopy photo (heuristics for teaching).

The dermoscopic ABCD rule (Stolz et al., 1994) scores Asymmetry, Border, Colour and Differential
structures; the originating project computed simple image versions of asymmetry, border, colour and
diameter. These numbers come from an automatic OpenCV segmentation, not from a dermatologist, and
the diameter is in pixels because a photo carries no physical scale.

- asymmetry: mean non-overlap of the mask with its mirror images about its two principal axes through
  the centroid (0 = perfectly symmetric, 1 = no overlap).
- border: irregularity 1 - (convex-hull perimeter / outline perimeter), after smoothing pixel steps:
  0 for any convex outline (a circle or an ellipse), higher for notched or ragged borders.
- colour: how many of six dermoscopic colours (white, red, light brown, dark brown, blue-gray,
  black) cover at least 5% of the lesion (0..6), plus `colour_variation`, the mean standard deviation
  of the lesion's CIELAB channels divided by 40 and clipped to 0..1.
- diameter_px: the largest distance between two points of the outline (maximum Feret diameter) in
  pixels of the uploaded image.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import cv2
import numpy as np

WORK_SIDE = 256  # segmentation runs on a copy at most this large: fast, and enough for a lesion
MIN_AREA_FRACTION = 0.005
COLOUR_MIN_SHARE = 0.05

# Reference colours (sRGB) of dermoscopy, after the ABCD rule's colour list.
PALETTE = {
    "white": (235, 230, 225),
    "red": (190, 60, 60),
    "light brown": (175, 120, 80),
    "dark brown": (95, 55, 35),
    "blue-gray": (95, 110, 135),
    "black": (25, 20, 20),
}
_PALETTE_LAB = cv2.cvtColor(np.array([list(PALETTE.values())], np.uint8), cv2.COLOR_RGB2LAB)[0].astype(
    np.float32
)


@dataclass
class ABCD:
    found: bool
    asymmetry: float | None = None
    border: float | None = None
    colour: int | None = None
    colour_variation: float | None = None
    colours: list[str] = field(default_factory=list)
    diameter_px: float | None = None
    area_fraction: float | None = None
    mask: np.ndarray | None = None  # bool, image size
    contour: np.ndarray | None = None  # (N, 2) int, image coordinates
    reason: str = ""


def _dark_frame(lightness: np.ndarray) -> np.ndarray:
    """The black frame of a dermoscope's round field of view: very dark pixels touching the border."""
    dark = (lightness < 40).astype(np.uint8)
    count, labels = cv2.connectedComponents(dark, connectivity=8)
    edge_labels = set(np.unique(np.concatenate([labels[0], labels[-1], labels[:, 0], labels[:, -1]])))
    edge_labels.discard(0)
    if not edge_labels:
        return np.zeros(dark.shape, bool)
    frame = np.isin(labels, list(edge_labels)).astype(np.uint8)
    # The frame fades into the field through a dim halo (vignetting) that Otsu calls "dark": left in,
    # it forms a ring round the field that hole filling turns into one field-sized "lesion".
    side = max(3, round(min(dark.shape) / 25)) | 1
    halo = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (side, side))
    return cv2.dilate(frame, halo).astype(bool)


def remove_hair(image: np.ndarray) -> np.ndarray:
    """DullRazor-style hair removal (Lee et al., 1997): black-hat finds thin dark strands, inpaint them."""
    gray = cv2.cvtColor(image, cv2.COLOR_RGB2GRAY)
    kernel = cv2.getStructuringElement(cv2.MORPH_RECT, (9, 9))
    blackhat = cv2.morphologyEx(gray, cv2.MORPH_BLACKHAT, kernel)
    _, hair = cv2.threshold(blackhat, 12, 255, cv2.THRESH_BINARY)
    if not hair.any():
        return image
    return cv2.inpaint(image, hair, 3, cv2.INPAINT_TELEA)


def _filled_area(component: np.ndarray) -> int:
    contours, _ = cv2.findContours(component.astype(np.uint8), cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
    return int(sum(cv2.contourArea(c) for c in contours))


def _segment(small: np.ndarray) -> np.ndarray | None:
    """Lesion mask of a small RGB image: dark region near the centre, holes filled."""
    lab = cv2.cvtColor(remove_hair(small), cv2.COLOR_RGB2LAB)
    lightness = cv2.GaussianBlur(lab[:, :, 0], (0, 0), 2)
    frame = _dark_frame(lightness)
    inside = lightness[~frame]
    if inside.size < 100 or int(inside.max()) - int(inside.min()) < 20:
        return None  # flat image: nothing stands out
    # Otsu on the field of view only, so the black frame does not set the threshold.
    threshold, _ = cv2.threshold(inside.reshape(-1, 1), 0, 255, cv2.THRESH_BINARY + cv2.THRESH_OTSU)
    binary = ((lightness <= threshold) & ~frame).astype(np.uint8)
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (5, 5))
    binary = cv2.morphologyEx(binary, cv2.MORPH_OPEN, kernel)
    binary = cv2.morphologyEx(binary, cv2.MORPH_CLOSE, kernel, iterations=2)
    count, labels, stats, centroids = cv2.connectedComponentsWithStats(binary, connectivity=8)
    if count <= 1:
        return None
    h, w = binary.shape
    centre = np.array([w / 2, h / 2])
    best, best_score = None, -1.0
    for i in range(1, count):
        x, y, bw, bh, area = stats[i]
        if area < MIN_AREA_FRACTION * h * w:
            continue
        # Shading and vignetting touch the image border and sit far from the centre; a photographed
        # lesion is usually centred. Border-touching regions win only when nothing else is there.
        touches = x == 0 or y == 0 or x + bw >= w or y + bh >= h
        if _filled_area(labels == i) > 3 * area:
            continue  # a thin ring (what is left of a vignette halo), not a lesion
        distance = np.linalg.norm(centroids[i] - centre) / np.linalg.norm(centre)
        score = np.sqrt(area) * max(0.05, 1.0 - distance) * (0.15 if touches else 1.0)
        if score > best_score:
            best, best_score = i, score
    if best is None:
        return None
    mask = (labels == best).astype(np.uint8)
    contours, _ = cv2.findContours(mask, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_NONE)
    filled = np.zeros_like(mask)
    cv2.drawContours(filled, contours, -1, 1, thickness=cv2.FILLED)
    return filled


def _asymmetry(mask: np.ndarray) -> float:
    m = cv2.moments(mask, binaryImage=True)
    area = m["m00"]
    cx, cy = m["m10"] / area, m["m01"] / area
    angle = 0.5 * np.degrees(np.arctan2(2 * m["mu11"], m["mu20"] - m["mu02"]))
    h, w = mask.shape
    side = int(np.ceil(np.hypot(h, w))) + 2
    # Move the centroid to the middle of a square canvas and align the major axis with x.
    rot = cv2.getRotationMatrix2D((cx, cy), angle, 1.0)
    rot[:, 2] += (side / 2 - cx, side / 2 - cy)
    aligned = cv2.warpAffine(mask, rot, (side, side), flags=cv2.INTER_NEAREST)
    total = float(aligned.sum()) or 1.0
    ratios = [np.logical_xor(aligned, np.flip(aligned, axis)).sum() / (2 * total) for axis in (0, 1)]
    return float(np.clip(np.mean(ratios), 0.0, 1.0))


def _border(contour: np.ndarray) -> float:
    # Pixel stair-steps would make every outline look ragged: smooth by one pixel first.
    smooth = cv2.approxPolyDP(contour, 1.0, closed=True)
    perimeter = cv2.arcLength(smooth, closed=True)
    if perimeter <= 0:
        return 0.0
    hull = cv2.arcLength(cv2.convexHull(smooth), closed=True)
    return float(np.clip(1.0 - hull / perimeter, 0.0, 1.0))


def _colours(image: np.ndarray, mask: np.ndarray) -> tuple[int, float, list[str]]:
    lab = cv2.cvtColor(image, cv2.COLOR_RGB2LAB).astype(np.float32)
    pixels = lab[mask.astype(bool)]
    distances = np.linalg.norm(pixels[:, None, :] - _PALETTE_LAB[None], axis=2)
    nearest = distances.argmin(axis=1)
    shares = np.bincount(nearest, minlength=len(PALETTE)) / max(len(pixels), 1)
    names = [name for name, share in zip(PALETTE, shares) if share >= COLOUR_MIN_SHARE]
    variation = float(np.clip(pixels.std(axis=0).mean() / 40.0, 0.0, 1.0))
    return len(names), variation, names


def _feret(points: np.ndarray) -> float:
    hull = cv2.convexHull(points.astype(np.float32)).reshape(-1, 2)
    if len(hull) < 2:
        return 0.0
    diff = hull[:, None, :] - hull[None, :, :]
    return float(np.sqrt((diff**2).sum(axis=2)).max())


def compute_abcd(image: np.ndarray) -> ABCD:
    """Segment the lesion of an RGB uint8 dermoscopy image and measure A, B, C and D."""
    h, w = image.shape[:2]
    scale = min(1.0, WORK_SIDE / max(h, w))
    small = (
        cv2.resize(image, (max(1, round(w * scale)), max(1, round(h * scale))), interpolation=cv2.INTER_AREA)
        if scale < 1
        else image
    )
    mask_small = _segment(small)
    if mask_small is None:
        return ABCD(found=False, reason="no lesion stands out from the surrounding skin")
    contours, _ = cv2.findContours(mask_small, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_NONE)
    contour = max(contours, key=cv2.contourArea)
    area = float(mask_small.sum())
    fraction = area / mask_small.size
    if fraction > 0.95:
        return ABCD(found=False, reason="the whole image looks like lesion: no border to measure")
    count, variation, names = _colours(small, mask_small)
    mask = cv2.resize(mask_small, (w, h), interpolation=cv2.INTER_NEAREST).astype(bool)
    full_contour = np.round(contour.reshape(-1, 2) / scale).astype(np.int32)
    return ABCD(
        found=True,
        asymmetry=round(_asymmetry(mask_small), 3),
        border=round(_border(contour), 3),
        colour=count,
        colour_variation=round(variation, 3),
        colours=names,
        diameter_px=round(_feret(contour.reshape(-1, 2)) / scale, 1),
        area_fraction=round(fraction, 4),
        mask=mask,
        contour=full_contour,
    )


def draw_outline(image: np.ndarray, abcd: ABCD, colour=(0, 255, 0)) -> np.ndarray:
    """The image with the lesion outline drawn (unchanged when no lesion was found)."""
    out = image.copy()
    if abcd.found and abcd.contour is not None:
        thickness = max(2, round(max(image.shape[:2]) / 200))
        cv2.polylines(out, [abcd.contour.reshape(-1, 1, 2)], True, colour, thickness, cv2.LINE_AA)
    return out


def describe(abcd: ABCD, lang: str = "en") -> list[tuple[str, str, str]]:
    """Rows (feature, value, what it means) for a table in the UI."""
    ko = lang == "ko"
    if not abcd.found:
        return [
            (
                "—",
                "—",
                ("병변을 자동으로 찾지 못했습니다: " if ko else "No lesion found automatically: ")
                + abcd.reason,
            )
        ]
    colours = ", ".join(abcd.colours) or "—"
    rows_en = [
        (
            "A · Asymmetry",
            f"{abcd.asymmetry:.2f}",
            "0 = mirror-symmetric about both axes, 1 = no overlap with its mirror image.",
        ),
        (
            "B · Border irregularity",
            f"{abcd.border:.2f}",
            "0 = smooth round outline; higher = notched or ragged border.",
        ),
        (
            "C · Colours",
            f"{abcd.colour} ({colours}); variation {abcd.colour_variation:.2f}",
            "How many of 6 dermoscopic colours cover >= 5% of the lesion; more colours, more concern.",
        ),
        (
            "D · Diameter",
            f"{abcd.diameter_px:.0f} px",
            "Largest width of the outline in image pixels (a photo has no mm scale).",
        ),
    ]
    rows_ko = [
        ("A · 비대칭성", rows_en[0][1], "0 = 두 축 모두 대칭, 1 = 거울상과 전혀 겹치지 않음."),
        ("B · 경계 불규칙성", rows_en[1][1], "0 = 매끈한 원형 경계, 높을수록 울퉁불퉁한 경계."),
        ("C · 색상", rows_en[2][1], "피부경의 6가지 색 중 병변의 5% 이상을 차지하는 색의 수, 많을수록 주의."),
        ("D · 직경", rows_en[3][1], "윤곽의 최대 폭(영상 픽셀 단위, 사진에는 mm 척도가 없음)."),
    ]
    note = (
        "자동 분할에 의한 참고용 수치이며 피부과 전문의의 ABCD 평가가 아닙니다."
        if ko
        else "Heuristics from an automatic segmentation, not the ABCD rule as a dermatologist applies it."
    )
    return [*(rows_ko if ko else rows_en), ("", "", note)]
