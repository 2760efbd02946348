"""Write `training/splits/<id>.csv` (path,label,split,group) for the torch models.

Stratified by label, grouped (see training/datasets.py), 7 folds: 1 test (~14%), 1 val (~14%),
5 train; fixed seed, so re-running writes the same file.

    python -m training.make_splits [--model melanoma ...]
"""

from __future__ import annotations

import argparse
from collections import Counter

from training.common import SPLITS, assign_groups, grouped_stratified_split, list_images, write_split_file
from training.datasets import SPECS


def make_split(model_id: str) -> None:
    spec = SPECS[model_id]
    items = assign_groups(list_images(spec.folders), spec.name_key, spec.near_duplicate_bits)
    items = grouped_stratified_split(items, seed=spec.seed)
    write_split_file(SPLITS / f"{model_id}.csv", items)
    groups = Counter(it.group for it in items)
    counts = Counter((it.split, it.label) for it in items)
    print(f"{model_id}: {len(items)} files, {len(groups)} groups "
          f"({sum(1 for g in groups.values() if g > 1)} with >1 file)")
    for split in ("train", "val", "test"):
        print("  ", split, {lab: n for (s, lab), n in sorted(counts.items()) if s == split})


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", nargs="*", default=list(SPECS))
    for model_id in ap.parse_args().model:
        make_split(model_id)


if __name__ == "__main__":
    main()
