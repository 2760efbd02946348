"""The split files of the torch models keep every photo/person in one split and cover every label."""

from __future__ import annotations

import csv
from collections import defaultdict
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
MODELS = ("melanoma", "skin_lesion", "shingles", "scalp_severity")
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


@pytest.mark.parametrize("model_id", MODELS)
def test_every_file_exists(model_id, data_root):
    missing = [r["path"] for r in _rows(model_id) if not (data_root / r["path"]).is_file()]
    assert not missing, missing[:5]


@pytest.mark.parametrize("model_id", MODELS)
def test_split_covers_the_data_folders(model_id, data_root):
    from training.datasets import SPECS

    listed = {r["path"] for r in _rows(model_id)}
    on_disk = {
        p.relative_to(data_root).as_posix()
        for folder in SPECS[model_id].folders
        for p in (data_root / folder).iterdir()
        if p.is_file()
    }
    assert listed == on_disk
