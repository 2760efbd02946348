"""ABCD lesion features on synthetic shapes with known answers, and on real dermoscopy images."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from medhub.abcd import compute_abcd, describe, draw_outline

SKIN = (225, 180, 160)
BROWN = (90, 55, 35)
BLUE_GRAY = (95, 110, 135)


def _canvas():
    return np.full((300, 300, 3), SKIN, np.uint8)


def _circle(r=60):
    img = _canvas()
    cv2.circle(img, (150, 150), r, BROWN, -1)
    return img


def _star():
    img = _canvas()
    pts = [(150 + (90 if k % 2 == 0 else 45) * np.cos(2 * np.pi * k / 24),
            150 + (90 if k % 2 == 0 else 45) * np.sin(2 * np.pi * k / 24)) for k in range(24)]
    cv2.fillPoly(img, [np.int32(pts)], BROWN)
    return img


def test_circle_is_symmetric_smooth_and_measured():
    a = compute_abcd(_circle(60))
    assert a.found
    assert a.asymmetry < 0.05
    assert a.border < 0.05
    assert a.diameter_px == pytest.approx(120, rel=0.03)
    assert a.colour == 1


def test_ellipse_stays_symmetric_and_convex():
    img = _canvas()
    cv2.ellipse(img, (150, 150), (90, 50), 30, 0, 360, BROWN, -1)
    a = compute_abcd(img)
    assert a.asymmetry < 0.05 and a.border < 0.05


def test_jagged_border_scores_higher_than_circle():
    assert compute_abcd(_star()).border > compute_abcd(_circle()).border + 0.2


def test_lopsided_shape_is_more_asymmetric():
    img = _canvas()
    cv2.circle(img, (140, 150), 55, BROWN, -1)
    cv2.circle(img, (205, 150), 30, BROWN, -1)
    assert compute_abcd(img).asymmetry > compute_abcd(_circle()).asymmetry + 0.05


def test_two_colour_lesion_has_more_variegation():
    one = compute_abcd(_circle())
    img = _circle()
    right = img[:, 150:]
    right[np.all(right == BROWN, axis=2)] = BLUE_GRAY
    two = compute_abcd(img)
    assert two.colour == 2 and set(two.colours) == {"dark brown", "blue-gray"}
    assert two.colour_variation > one.colour_variation


def test_blank_skin_finds_no_lesion():
    a = compute_abcd(_canvas())
    assert not a.found and a.reason
    assert describe(a, "ko")[0][2].startswith("병변을")


def test_describe_and_outline():
    a = compute_abcd(_circle())
    rows_en, rows_ko = describe(a, "en"), describe(a, "ko")
    assert len(rows_en) == len(rows_ko) == 5
    assert "px" in rows_en[3][1]
    out = draw_outline(_circle(), a)
    assert out.shape == (300, 300, 3) and (out != _circle()).any()


@pytest.mark.data
def test_real_dermoscopy_images(data_root, artifacts_dir):
    files = sorted((data_root / "melanoma" / "malignant").glob("*.jpg"))[:20]
    results = [compute_abcd(cv2.cvtColor(cv2.imread(str(f)), cv2.COLOR_BGR2RGB)) for f in files]
    assert sum(r.found for r in results) >= 15
    for f, r in list(zip(files, results))[:3]:
        image = cv2.imread(str(f))
        cv2.imwrite(str(artifacts_dir / f"abcd_{f.stem}.png"), cv2.cvtColor(
            draw_outline(cv2.cvtColor(image, cv2.COLOR_BGR2RGB), r), cv2.COLOR_RGB2BGR))


def _dermoscope_field(r_lesion=30):
    """Round field of view in a black frame, with a dim vignette halo at its rim, lesion at the centre."""
    yy, xx = np.mgrid[:300, :300]
    radius = np.hypot(yy - 150, xx - 150)
    # Brightness falls from 1 to 0.25 over the outer 20 px of the field: the halo a dermoscope leaves.
    shade = np.clip((135 - radius) / 20, 0.25, 1.0)[..., None]
    img = (np.array(SKIN, np.float32) * shade).astype(np.uint8)
    img[radius > 135] = 0
    cv2.circle(img, (150, 150), r_lesion, BROWN, -1)
    return img


def test_vignette_halo_is_not_taken_for_the_lesion():
    # Regression: the halo once formed a ring round the field, and hole filling made the whole field
    # the "lesion" (seen on melanoma_5002.jpg).
    a = compute_abcd(_dermoscope_field(30))
    assert a.found
    assert a.diameter_px == pytest.approx(60, rel=0.1)
