"""Resolution and compression must not become the next collection shortcut (issue 17).

HAM10000 images are 200x150 and strongly compressed; the Kaggle re-publications are 224x224 JPEGs of
higher quality. The dermoscopy cards bring every source to 200 px first (`input.prescale`) and train
on resampled and re-compressed views. Here test images of each source are re-encoded the way the
*other* source is, and the models' scores must barely move: a model that read the resolution or the
JPEG quality as a cue would shift its scores when an image changes format.
"""

from __future__ import annotations

import hashlib
import io

import numpy as np
import pytest
from PIL import Image

from medhub.cards import get_card
from medhub.evaluation import cases_from_split
from medhub.paths import REPO_ROOT

pytestmark = [pytest.mark.data, pytest.mark.slow]

N = 24  # images per source, chosen by a hash of the path
# Measured and stated on the card (training/recipes.py): the melanoma head's score on the Kaggle melanoma
# set's images rises by 0.08 on average when they are made HAM10000-like (200x150, quality 60; the
# 7-diagnosis model moves by less than 0.05). Bounded here so that it cannot grow unnoticed, and so
# that the test says when it is fixed.
KNOWN_SHIFT = {("melanoma", "melanoma"): 0.12}
MODELS = [m for m in ("melanoma", "skin_lesion") if get_card(m).input.prescale]


def _jpeg(rgb: np.ndarray, size: tuple[int, int], quality: int) -> np.ndarray:
    buf = io.BytesIO()
    Image.fromarray(rgb).resize(size, Image.Resampling.BICUBIC).save(buf, "JPEG", quality=quality)
    buf.seek(0)
    with Image.open(buf) as im:
        return np.asarray(im.convert("RGB"))


def _pick(paths, n=N):
    return sorted(paths, key=lambda p: hashlib.sha1(str(p).encode()).hexdigest())[:n]


@pytest.fixture(scope="module")
def sources(data_root):
    card = get_card("skin_lesion")
    ham = [c.path for c in cases_from_split(card, data_root / "ham10000",
                                            REPO_ROOT / "training" / "splits" / "skin_lesion.csv", "test")]
    kaggle = sorted((data_root / "melanoma" / "malignant").glob("*.jpg")) + sorted(
        (data_root / "melanoma" / "benign").glob("*.jpg"))
    if not ham or not kaggle:
        pytest.skip("ham10000 or melanoma data missing")
    return {"ham10000": _pick(ham), "melanoma": _pick(kaggle)}


@pytest.mark.parametrize("model_id", MODELS)
def test_scores_do_not_move_when_an_image_is_reencoded_the_other_way(model_id, sources):
    from medhub.inference import get_predictor
    from medhub.preprocess import read_rgb

    predictor = get_predictor(model_id)
    card = predictor.card
    col = card.positive_index if card.is_binary else card.label_ids.index("melanoma")
    shifts = {}
    for name, paths in sources.items():
        originals = [read_rgb(p) for p in paths]
        if name == "ham10000":  # like the Kaggle set: 224x224, quality 95
            other = [_jpeg(im, (224, 224), 95) for im in originals]
        else:  # like HAM10000: 200x150, quality 60
            other = [_jpeg(im, (200, 150), 60) for im in originals]
        a = predictor.predict_batch(originals)[:, col]
        b = predictor.predict_batch(other)[:, col]
        shifts[name] = np.abs(a - b)
        # no systematic push in one direction either
        shift = abs(float(np.mean(b - a)))
        bound = KNOWN_SHIFT.get((model_id, name))
        if bound is None:
            assert shift < 0.05, (name, shift)
        else:
            assert shift < bound, (name, shift)
            assert shift >= 0.05, f"{model_id} on {name}: the shift is gone ({shift:.3f}): remove it from KNOWN_SHIFT"
    for name, d in shifts.items():
        loose = (model_id, name) in KNOWN_SHIFT
        assert float(np.median(d)) < (0.08 if loose else 0.05), (name, np.round(d, 3).tolist())
        assert float(np.mean(d)) < (0.15 if loose else 0.08), (name, np.round(d, 3).tolist())
