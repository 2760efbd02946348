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

# Images per source, chosen by a hash of the path *inside the data folder*, so that every machine draws
# the same images. 24 images were too few: the mean of 24 differences has a spread of about 0.035, and a
# draw of 24 once showed a "systematic" rise of 0.08 that 200 images do not confirm (mean +0.007).
N = 96
SYSTEMATIC = 0.05  # bound on the mean signed change (a push in one direction)
TYPICAL = 0.10  # bound on the median absolute change of one image
MODELS = [m for m in ("melanoma", "skin_lesion") if get_card(m).input.prescale]


def _jpeg(rgb: np.ndarray, size: tuple[int, int], quality: int) -> np.ndarray:
    buf = io.BytesIO()
    Image.fromarray(rgb).resize(size, Image.Resampling.BICUBIC).save(buf, "JPEG", quality=quality)
    buf.seek(0)
    with Image.open(buf) as im:
        return np.asarray(im.convert("RGB"))


def _pick(paths, root, n=N):
    return sorted(paths, key=lambda p: hashlib.sha1(p.relative_to(root).as_posix().encode()).hexdigest())[:n]


@pytest.fixture(scope="module")
def sources(data_root):
    card = get_card("skin_lesion")
    ham = [c.path for c in cases_from_split(card, data_root / "ham10000",
                                            REPO_ROOT / "training" / "splits" / "skin_lesion.csv", "test")]
    kaggle = sorted((data_root / "melanoma" / "malignant").glob("*.jpg")) + sorted(
        (data_root / "melanoma" / "benign").glob("*.jpg"))
    if not ham or not kaggle:
        pytest.skip("ham10000 or melanoma data missing")
    return {"ham10000": _pick(ham, data_root), "melanoma": _pick(kaggle, data_root)}


@pytest.mark.parametrize("model_id", MODELS)
def test_scores_do_not_move_when_an_image_is_reencoded_the_other_way(model_id, sources):
    from medhub.preprocess import read_rgb
    from medhub.registry import get_predictor

    predictor = get_predictor(model_id)
    card = predictor.card
    col = card.positive_index if card.is_binary else card.label_ids.index("melanoma")
    for name, paths in sources.items():
        originals = [read_rgb(p) for p in paths]
        if name == "ham10000":  # like the Kaggle set: 224x224, quality 95
            other = [_jpeg(im, (224, 224), 95) for im in originals]
        else:  # like HAM10000: 200x150, quality 60
            other = [_jpeg(im, (200, 150), 60) for im in originals]
        a = predictor.predict_batch(originals)[:, col]
        b = predictor.predict_batch(other)[:, col]
        d = b - a
        # no systematic push in one direction, and a typical image barely moves
        assert abs(float(np.mean(d))) < SYSTEMATIC, (name, float(np.mean(d)))
        assert float(np.median(np.abs(d))) < TYPICAL, (name, np.round(d, 3).tolist())
