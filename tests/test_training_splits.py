"""The split file of every model (`training/splits/<id>.csv`, named on its card) keeps every
photo/person in one split and covers every label."""

from __future__ import annotations

import csv
import re
from collections import defaultdict
from pathlib import Path

import pytest

from medhub.cards import load_cards

REPO = Path(__file__).resolve().parent.parent
MODELS = [c.id for c in load_cards()]
SPLITS = ("train", "val", "test")


def _rows(model_id: str) -> list[dict[str, str]]:
    path = REPO / "training" / "splits" / f"{model_id}.csv"
    assert path.is_file(), f"{path} missing"
    with open(path, newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


@pytest.mark.parametrize("model_id", MODELS)
def test_columns_and_split_names(model_id):
    rows = _rows(model_id)
    assert rows and set(rows[0]) == {"path", "label", "split", "group"}
    assert {r["split"] for r in rows} == set(SPLITS)


@pytest.mark.parametrize("model_id", MODELS)
def test_no_file_and_no_group_in_two_splits(model_id):
    rows = _rows(model_id)
    paths = [r["path"] for r in rows]
    assert len(paths) == len(set(paths)), "a file is listed twice"
    splits_of_group = defaultdict(set)
    for r in rows:
        splits_of_group[r["group"]].add(r["split"])
    straddling = {g: s for g, s in splits_of_group.items() if len(s) > 1}
    assert not straddling, f"groups in more than one split: {list(straddling)[:5]}"


@pytest.mark.parametrize("model_id", MODELS)
def test_every_label_in_every_split(model_id):
    from medhub.cards import get_card

    rows = _rows(model_id)
    try:
        labels = set(get_card(model_id).label_ids)
    except KeyError:  # card not written yet: the labels the split file uses
        labels = {r["label"] for r in rows}
    assert {r["label"] for r in rows} == labels
    for split in SPLITS:
        assert {r["label"] for r in rows if r["split"] == split} == labels, split


def test_known_groupings_hold():
    """The grouping rules the splits rely on: DermNet t-/v- pairs and scalp multi-view subjects."""
    group = {r["path"]: r["group"] for r in _rows("scalp_severity")}
    views = [p for p in group if "/ds3_2_" in p]
    assert len(views) >= 2 and len({group[p] for p in views}) == 1
    rows = _rows("shingles")
    by_name = defaultdict(set)
    for r in rows:
        name = Path(r["path"]).name
        if name[:2].lower() in ("t-", "v-"):
            by_name[name[2:].lower()].add(r["group"])
    pairs = [g for g in by_name.values()]
    assert pairs and all(len(g) == 1 for g in pairs)
    # DermNet NZ has no patient ids: names that differ only by a number are one group, in one split
    nz = defaultdict(set)
    for r in rows:
        if r["path"].startswith("dermnet_nz/"):
            p = Path(r["path"])
            nz[(p.parent.name, re.sub(r"[0-9]+", "#", p.stem.lower()))].add((r["group"], r["split"]))
    assert len(nz[("herpes_zoster", "zoster-#")]) == 1, nz[("herpes_zoster", "zoster-#")]
    assert all(len(v) == 1 for v in nz.values())


@pytest.mark.data
@pytest.mark.parametrize("model_id", MODELS)
def test_every_file_exists(model_id, data_root):
    missing = [r["path"] for r in _rows(model_id) if not (data_root / r["path"]).is_file()]
    assert not missing, missing[:5]


def _specified() -> list[str]:
    """The models whose data folders training/datasets.py describes (the torch recipes)."""
    from training.datasets import SPECS

    return [m for m in MODELS if m in SPECS]


@pytest.mark.data
@pytest.mark.parametrize("model_id", _specified())
def test_split_covers_the_data_folders(model_id, data_root):
    from training.datasets import POOL_OF, POOLS, SPECS

    pooled_file = len({r["path"].split("/", 1)[0] for r in _rows(model_id)}) > 1
    if model_id in POOL_OF and pooled_file:  # pooled: mapped folders, minus dropped copies and conflicts
        folders = POOLS[POOL_OF[model_id]].models[model_id]
        listed = {r["path"] for r in _rows(model_id)}
        on_disk = {p.relative_to(data_root).as_posix() for folder in folders
                   for p in (data_root / folder).iterdir() if p.is_file() and p.suffix != ".csv"}
        assert listed <= on_disk
        assert {p.rsplit("/", 1)[0] for p in listed} == set(folders)
        assert len(listed) >= 0.75 * len(on_disk)  # web set: 444 of 2512 files are augmented copies
        return
    listed = {r["path"] for r in _rows(model_id)}
    on_disk = {
        p.relative_to(data_root).as_posix()
        for folder in SPECS[model_id].folders
        for p in (data_root / folder).iterdir()
        if p.is_file()
    }
    assert listed == on_disk


def test_pooled_shingles_split_drops_copies():
    """The clinical pool keeps one copy of the web set's augmented photos."""
    shingles = _rows("shingles")
    web_zoster = [r for r in shingles if r["path"].startswith("skin_condition_web/herpes_zoster/")]
    assert 15 <= len(web_zoster) <= 40  # 114 augmented files of about 22 photos


def test_dermoscopy_models_share_one_lesion_split():
    """skin_lesion (7 diagnoses) and melanoma (melanoma vs the rest) list the same HAM10000 images with
    the same split, grouped by lesion, and their labels agree (melanoma <-> malignant)."""
    mel = {r["path"]: r for r in _rows("melanoma")}
    les = {r["path"]: r for r in _rows("skin_lesion")}
    assert set(mel) == set(les) and len(mel) > 8000
    assert all(p.startswith("ham10000/images/ISIC_") for p in mel)
    assert all(mel[p]["split"] == les[p]["split"] and mel[p]["group"] == les[p]["group"] for p in mel)
    assert all((les[p]["label"] == "melanoma") == (mel[p]["label"] == "malignant") for p in mel)
    assert all(r["group"].startswith("HAM_") for r in les.values())
    assert {r["label"] for r in les.values()} == {"actinic_keratosis", "basal_cell_carcinoma", "benign_keratosis",
                                                  "dermatofibroma", "melanoma", "nevus", "vascular_lesion"}


@pytest.mark.data
def test_ham10000_split_follows_the_lesion_ids(data_root):
    meta = data_root / "ham10000" / "metadata.csv"
    if not meta.is_file():
        pytest.skip("no ham10000 data")
    with open(meta, newline="", encoding="utf-8") as fh:
        lesion = {f"ham10000/images/{r['image_id']}.jpg": r["lesion_id"] for r in csv.DictReader(fh)}
    rows = _rows("skin_lesion")
    assert all(lesion[r["path"]] == r["group"] for r in rows)
    assert len(rows) == len(lesion)
