"""Cross-collection check: perceptual duplicates over flips/rotations, which images a model may be
scored on, label aliases in `python -m medhub evaluate`, and the `cross-collection` command."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from medhub import heldout
from medhub.cards import get_card
from medhub.fingerprints import Fingerprints, find_duplicates
from medhub.studies import crosscollection as cc

REPO = Path(__file__).resolve().parent.parent


def _lesion(seed: int, size: int = 224) -> np.ndarray:
    """A synthetic 'lesion' photo: skin-toned background, an irregular dark blob, some texture."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32)
    cx, cy = rng.uniform(0.3, 0.7, 2) * size
    r = rng.uniform(0.12, 0.3) * size
    ang = np.arctan2(yy - cy, xx - cx)
    wobble = 1 + 0.25 * np.sin(3 * ang + rng.uniform(0, 6)) + 0.15 * np.sin(5 * ang + rng.uniform(0, 6))
    blob = (np.hypot(xx - cx, yy - cy) < r * wobble).astype(np.float32)
    base = np.array([220, 170, 150], np.float32) * (0.9 + 0.1 * np.sin(xx / rng.uniform(9, 30)))[..., None]
    img = base * (1 - 0.6 * blob[..., None]) + rng.normal(0, 6, (size, size, 3))
    return np.clip(img, 0, 255).astype(np.uint8)


def _save(path: Path, arr: np.ndarray, quality: int | None = None) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    if quality:
        Image.fromarray(arr).save(path, quality=quality)
    else:
        Image.fromarray(arr).save(path)
    return path


def test_duplicates_found_under_every_flip_and_rotation(tmp_path):
    fps = Fingerprints(tmp_path / "cache")
    original = _lesion(1)
    ref = [_save(tmp_path / "ref" / "a.png", original), _save(tmp_path / "ref" / "b.png", _lesion(2))]
    views = [np.rot90(original, k) for k in range(4)] + [np.rot90(original[:, ::-1], k) for k in range(4)]
    query = [_save(tmp_path / "q" / f"v{i}.jpg", np.ascontiguousarray(v), quality=85) for i, v in enumerate(views)]
    query += [_save(tmp_path / "q" / f"other{i}.png", _lesion(10 + i)) for i in range(6)]
    found = find_duplicates(fps.get(query, tmp_path / "q"), fps.get(ref, tmp_path / "ref"))
    assert found[:8] == [[0]] * 8  # every dihedral view of a, re-encoded as JPEG, is a copy of a
    assert found[8:] == [[]] * 6  # different lesions are not


def test_fingerprints_are_cached_on_disk(tmp_path):
    folder = tmp_path / "imgs"
    paths = [_save(folder / f"{i}.png", _lesion(i)) for i in range(3)]
    first = Fingerprints(tmp_path / "cache").get(paths, folder)
    assert list((tmp_path / "cache").glob("*.npz"))
    again = Fingerprints(tmp_path / "cache").get(paths, folder)
    assert np.array_equal(first[0], again[0]) and np.array_equal(first[1], again[1])


def test_eligible_files_drop_training_images_and_their_copies(tmp_path, monkeypatch):
    """Other collection: every labelled file but copies of train/val images (any rotation);
    folders without a label or alias are not scored."""
    root = tmp_path / "data"
    train_img, val_img = _lesion(5), _lesion(6)
    _save(root / "own" / "benign" / "t.png", train_img)
    _save(root / "own" / "benign" / "v.png", val_img)
    _save(root / "own" / "malignant" / "x.png", _lesion(7))
    splits = tmp_path / "splits"
    splits.mkdir()
    (splits / "melanoma.csv").write_text(
        "path,label,split,group\nown/benign/t.png,benign,train,a\nown/benign/v.png,benign,val,b\n"
        "own/malignant/x.png,malignant,test,c\n")
    monkeypatch.setattr(heldout, "SPLITS_DIR", splits)
    _save(root / "other" / "nevus" / "copy_of_train.jpg", np.ascontiguousarray(np.rot90(train_img)), 90)
    _save(root / "other" / "nevus" / "fresh.png", _lesion(8))
    _save(root / "other" / "melanoma" / "copy_of_val.png", np.ascontiguousarray(val_img[::-1]))
    _save(root / "other" / "melanoma" / "fresh2.png", _lesion(9))
    _save(root / "other" / "seborrheic_keratosis" / "c.png", _lesion(11))  # no label or alias of the card
    card = get_card("melanoma")  # aliases: nevus -> benign, melanoma -> malignant
    fps = Fingerprints(tmp_path / "cache")
    keep, info = heldout.eligible_files(card, "other", root, fps)
    assert {Path(p).name for p in keep} == {"fresh.png", "fresh2.png"}
    assert info["duplicates_of_training_images_dropped"] == 2
    own, info = heldout.eligible_files(card, "own", root, fps)
    assert {Path(p).name for p in own} == {"x.png"}  # only the test row of the model's own collection
    assert info["train_or_val_rows_dropped"] == 2
    assert heldout.trained_on("melanoma") == ["own"]


def test_a_light_check_picks_what_deduplicating_everything_would(tmp_path, monkeypatch):
    """With `limit_per_label` only as many files are fingerprinted as fill each label, in file-name
    hash order; the files chosen are those of deduplicating every file and then taking the first
    `limit` of each label in that order."""
    root = tmp_path / "data"
    seen = [_lesion(20 + i) for i in range(3)]
    rows = ["path,label,split,group"]
    for i, img in enumerate(seen):
        _save(root / "own" / "benign" / f"t{i}.png", img)
        rows.append(f"own/benign/t{i}.png,benign,train,g{i}")
    splits = tmp_path / "splits"
    splits.mkdir()
    (splits / "melanoma.csv").write_text("\n".join(rows) + "\n")
    monkeypatch.setattr(heldout, "SPLITS_DIR", splits)
    for i in range(8):  # nevus: fresh lesions and flipped copies of training images, interleaved
        img = np.ascontiguousarray(seen[i % 3][:, ::-1]) if i % 2 else _lesion(40 + i)
        _save(root / "other" / "nevus" / f"n{i}.png", img)
    for i in range(3):
        _save(root / "other" / "melanoma" / f"m{i}.png", _lesion(60 + i))
    card = get_card("melanoma")
    full, _ = heldout.eligible_files(card, "other", root, Fingerprints(tmp_path / "c0"))
    assert len(full) == 7  # 4 fresh nevi + 3 melanomas; the 4 copies are dropped
    for limit in (1, 2, 3, 5):
        expected = set()
        for label in ("nevus", "melanoma"):
            mine = [p for p in sorted((root / "other" / label).iterdir()) if str(p.resolve()) in full]
            expected |= {str(p.resolve()) for p in heldout._hash_order(mine)[:limit]}
        cache = tmp_path / f"c{limit}"
        got, info = heldout.eligible_files(card, "other", root, Fingerprints(cache), limit)
        assert got == expected, limit
        assert info["duplicates_of_training_images_dropped"] <= 4


def test_card_block_and_value_are_honest_about_kind(tmp_path):
    card = get_card("melanoma")
    cell = {"n": 3, "support": {"benign": 2, "malignant": 1}, "accuracy": 0.667, "balanced_accuracy": 0.75,
            "auroc": 0.5, "recall": {"benign": 0.5, "malignant": 1.0}, "confusion_matrix": [[1, 1], [0, 1]],
            "skipped_folders": {"basal_cell_carcinoma": 7}}
    row = {"trained_on": ["melanoma"], "collections": {"melanoma": cell, "skin_lesion": cell}}
    block = cc.card_block(card, row)
    assert "| `skin_lesion` | **other collection** | 3 |" in block
    assert "| `melanoma` | own test split | 3 |" in block
    assert "basal_cell_carcinoma (7)" in block
    value = cc.card_value(card, row, row)
    assert value["collections"]["skin_lesion"]["auroc"] == 0.5 and "skipped_folders" not in value["collections"]["skin_lesion"]


def _cli(*args: str, timeout: int = 600) -> subprocess.CompletedProcess:
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    return subprocess.run([sys.executable, "-m", "medhub", *args], capture_output=True, text=True, cwd=REPO,
                          env=env, timeout=timeout)


@pytest.mark.slow
@pytest.mark.data
def test_evaluate_melanoma_on_skin_lesion_maps_aliases_and_counts_skipped(data_root):
    out = _cli("evaluate", "melanoma", str(data_root / "skin_lesion"), "--limit-per-label", "4", "--json")
    assert out.returncode == 0, out.stderr[-2000:]
    m = json.loads(out.stdout)
    # nevus 4 + benign_keratosis 4 + basal_cell_carcinoma 4 -> benign (every diagnosis but melanoma);
    # melanoma 4 -> malignant; the clinical seborrheic-keratosis photos map to no label
    assert m["per_class"]["benign"]["support"] == 12 and m["per_class"]["malignant"]["support"] == 4
    assert set(m["skipped_folders"]) == {"seborrheic_keratosis"}
    assert all(v > 0 for v in m["skipped_folders"].values())


@pytest.mark.slow
@pytest.mark.data
def test_evaluate_skin_lesion_on_melanoma_gives_melanoma_recall(data_root):
    out = _cli("evaluate", "skin_lesion", str(data_root / "melanoma"), "--limit-per-label", "5")
    assert out.returncode == 0, out.stderr[-2000:]
    assert "melanoma" in out.stdout and "n=5" in out.stdout
    assert "skipped folders" in out.stdout and "benign" in out.stdout


def test_cross_collection_command_rejects_unknown_model():
    out = _cli("cross-collection", "no_such_model", timeout=120)
    assert out.returncode == 2
    assert "unknown model" in out.stderr and "Traceback" not in out.stderr
