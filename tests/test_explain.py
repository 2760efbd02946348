"""Overlay drawing and the 3x3 brain-region naming, on heat maps with known peaks."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from medhub.explain import brain_mask, hemorrhage_explanation, overlay, peak_region, region_name


def _gauss(shape, cy, cx, sigma=6.0):
    yy, xx = np.mgrid[: shape[0], : shape[1]]
    return np.exp(-((yy - cy) ** 2 + (xx - cx) ** 2) / (2 * sigma**2)).astype(np.float32)


def test_overlay_shape_alpha_and_content():
    rng = np.random.default_rng(0)
    image = rng.integers(0, 255, (120, 90, 3), dtype=np.uint8)
    heat = _gauss((224, 224), 50, 50)
    out = overlay(image, heat, alpha=0.5)
    assert out.shape == image.shape and out.dtype == np.uint8
    assert np.array_equal(overlay(image, heat, alpha=0.0), image)
    assert not np.array_equal(out, overlay(image, _gauss((224, 224), 180, 180), alpha=0.5))
    assert np.array_equal(overlay(image, heat, alpha=-3), image)  # clamped


@pytest.mark.parametrize("row", [0, 1, 2])
@pytest.mark.parametrize("col", [0, 1, 2])
def test_peak_named_for_its_cell(row, col):
    size = 300
    heat = _gauss((size, size), size * (row + 0.5) / 3, size * (col + 0.5) / 3)
    heat += 0.05 * np.random.default_rng(row * 3 + col).random((size, size)).astype(np.float32)
    region = peak_region(heat / heat.max())
    assert (region.row, region.col) == (row, col)
    assert (region.name_en, region.name_ko) == region_name(row, col)
    assert 0 < region.fraction <= 1


def test_radiological_convention_image_left_is_patient_right():
    heat = _gauss((224, 224), 30, 30)  # top-left of the image
    region = peak_region(heat)
    assert region.name_en.startswith("right anterior") and region.name_ko.startswith("우측")


def test_grid_follows_the_head_mask():
    # A head occupying only the right half of the canvas: a peak at the head's left edge is "right"
    # (patient's right) even though it sits in the canvas's middle column.
    image = np.zeros((300, 300), np.uint8)
    image[60:240, 150:290] = 120
    mask = brain_mask(image)
    heat = _gauss((300, 300), 150, 160)
    assert peak_region(heat).col == 1
    assert peak_region(heat, mask).col == 0


def test_flat_map_has_no_region():
    assert peak_region(np.full((50, 50), 0.3, np.float32)) is None


@pytest.mark.parametrize("lang", ["en", "ko"])
def test_explanation_depends_on_confidence(lang):
    region = peak_region(_gauss((224, 224), 30, 30))
    strong = hemorrhage_explanation(0.97, 0.5, region, lang)
    weak = hemorrhage_explanation(0.05, 0.5, region, lang)
    border = hemorrhage_explanation(0.47, 0.5, region, lang)  # within the band (medhub/result_text.py)
    assert len({strong, weak, border}) == 3
    # where the hot spot lies is said whatever the confidence (inside the head: its region)
    assert region.name(lang) in strong and region.name(lang) in weak
    assert ("진단이 아니며" if lang == "ko" else "not a diagnosis") in weak


def test_head_mask_on_a_gray_background():
    # Scanned slices often have a dark-gray background; the head (brain ~100, skull 255) must still
    # be told apart from it, so the grid follows the head and not the canvas.
    image = np.full((300, 300), 35, np.uint8)
    cv2.ellipse(image, (170, 150), (100, 120), 0, 0, 360, 255, -1)
    cv2.ellipse(image, (170, 150), (90, 110), 0, 0, 360, 100, -1)
    mask = brain_mask(image)
    ys, xs = np.nonzero(mask)
    assert (xs.min(), xs.max(), ys.min(), ys.max()) == pytest.approx((70, 270, 30, 270), abs=3)


@pytest.mark.data
def test_head_masks_of_real_slices_leave_background_out(data_root):
    files = sorted((data_root / "head_ct").glob("*/*.png"))[::10]
    fractions = [brain_mask(cv2.imread(str(f), cv2.IMREAD_GRAYSCALE)).mean() for f in files]
    assert max(fractions) < 0.95 and min(fractions) > 0.3
