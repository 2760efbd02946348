"""HAM10000 (one dermoscopy collection, ISIC 2018 task 3): items, the lesion-grouped split, box.

Both dermoscopy models train on it (issue 17): `skin_lesion` on the seven diagnoses, `melanoma` on
melanoma against every benign diagnosis. One split serves both (a test lesion is a test lesion for
each model), grouped by `lesion_id` (1,956 lesions have several images) and stratified by `dx`:
10 folds, 2 test (~20 %), 1 val (~10 %), 7 train.

    python -m training.ham10000          # writes training/splits/{skin_lesion,melanoma}.csv
"""

from __future__ import annotations

import csv
import functools
from collections import Counter

from training.common import (
    CACHE,
    DATA_ROOT,
    SPLITS,
    Item,
    grouped_stratified_split,
    write_json,
    write_split_file,
)

FOLDER = "ham10000"
SEED = 20261206
# dx code -> card label id of the seven-diagnosis model (ISIC 2018 task 3 order)
DX_LABEL = {
    "akiec": "actinic_keratosis",
    "bcc": "basal_cell_carcinoma",
    "bkl": "benign_keratosis",
    "df": "dermatofibroma",
    "mel": "melanoma",
    "nv": "nevus",
    "vasc": "vascular_lesion",
}
MODELS = ("skin_lesion", "melanoma")


def label_for(model_id: str, dx: str) -> str:
    if model_id == "melanoma":
        return "malignant" if dx == "mel" else "benign"
    return DX_LABEL[dx]


@functools.cache
def metadata() -> dict[str, dict[str, str]]:
    """image path (relative to the data root) -> its metadata row."""
    rows = {}
    with open(DATA_ROOT / FOLDER / "metadata.csv", newline="", encoding="utf-8") as fh:
        for r in csv.DictReader(fh):
            rows[f"{FOLDER}/images/{r['image_id']}.jpg"] = r
    return rows


def box_of(path: str) -> tuple[int, int, int, int] | None:
    """(top, bottom, left, right) of the lesion in the image, from the metadata."""
    r = metadata().get(path)
    if r is None or not r.get("top"):
        return None
    return int(r["top"]), int(r["bottom"]), int(r["left"]), int(r["right"])


def pool_split_path():
    return CACHE / "pools" / "ham10000.csv"


def make_split() -> list[Item]:
    """The lesion-grouped split (label = dx code), and each model's split file from it."""
    meta = metadata()
    items = [Item(p, r["dx"], group=r["lesion_id"]) for p, r in sorted(meta.items())
             if (DATA_ROOT / p).exists()]
    split = grouped_stratified_split(items, seed=SEED, n_folds=10, val_folds=1, test_folds=2)
    write_split_file(pool_split_path(), split)
    report = {"files": len(split), "lesions": len({it.group for it in split}),
              "counts": {f"{s}/{dx}": n for (s, dx), n in sorted(Counter((it.split, it.label) for it in split).items())}}
    for model_id in MODELS:
        write_split_file(SPLITS / f"{model_id}.csv",
                         [Item(it.path, label_for(model_id, it.label), it.group, it.split) for it in split])
    write_json(CACHE / "pools" / "ham10000_report.json", report)
    print(f"ham10000: {report['files']} images of {report['lesions']} lesions; {report['counts']}")
    return split


def pool_items() -> list[Item]:
    from training.common import read_split_file

    if not pool_split_path().exists():
        make_split()
    return read_split_file(pool_split_path())


if __name__ == "__main__":
    make_split()
