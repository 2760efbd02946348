"""Write `training/splits/<id>.csv` (path,label,split,group) for the torch models.

Stratified by label, grouped (see training/datasets.py), 7 folds: 1 test (~14%), 1 val (~14%),
5 train; fixed seed, so re-running writes the same file.

    python -m training.make_splits [--model melanoma ...]
"""

from __future__ import annotations

import argparse
from collections import Counter

import numpy as np

from training.common import (
    CACHE,
    DATA_ROOT,
    SPLITS,
    Item,
    UnionFind,
    assign_groups,
    grouped_stratified_split,
    list_images,
    read_split_file,
    write_json,
    write_split_file,
)
from training.datasets import POOL_OF, POOLS, SPECS, PoolSpec, pool_name_key


def pool_split_path(pool: PoolSpec):
    return CACHE / "pools" / f"{pool.name}.csv"


def make_pool_split(pool: PoolSpec, splits_dir=SPLITS) -> list[Item]:
    """One grouped split of every folder of a pool, then each model's split file from it.

    Groups join exact duplicates, equal dHash, the name key, and perceptual duplicates across and
    within collections (DCT hash over the 8 flips/rotations + aligned centre correlation, as in
    `medhub.fingerprints`). Of each set of perceptual duplicates one file is kept (de-duplication);
    a group whose files carry different card labels for a model is left out of that model (label
    conflict between collections). Stratified by folder (= collection x fine label)."""
    from medhub.fingerprints import Fingerprints, find_duplicates

    items = list_images({f: f for f in pool.folders})
    items = assign_groups(items, pool_name_key(pool), 0)
    paths = [it.path for it in items]
    fps = Fingerprints()
    hashes = np.zeros((len(paths), 8), np.uint64)
    thumbs = np.zeros((len(paths), 32, 32, 3), np.uint8)
    by_top: dict[str, list[int]] = {}
    for i, p in enumerate(paths):
        by_top.setdefault(p.split("/")[0], []).append(i)
    for top, idx in by_top.items():
        h, t = fps.get([DATA_ROOT / paths[i] for i in idx], DATA_ROOT / top)
        hashes[idx], thumbs[idx] = h, t
    dups = find_duplicates((hashes, thumbs), (hashes, thumbs), exclude_self=True)
    uf = UnionFind([it.group for it in items])
    dup_uf = UnionFind(paths)
    n_pairs = 0
    for i, js in enumerate(dups):
        for j in js:
            n_pairs += 1
            uf.union(items[i].group, items[j].group)
            dup_uf.union(paths[i], paths[j])
    kept, dropped_copies = [], []
    for it in items:
        if dup_uf.find(it.path) == it.path:  # the representative (smallest path) of its copies
            kept.append(Item(it.path, it.label, uf.find(it.group)))
        else:
            dropped_copies.append(it.path)
    split = grouped_stratified_split(kept, seed=pool.seed)
    write_split_file(pool_split_path(pool), split)
    report = {"files": len(items), "perceptual_duplicate_links": n_pairs,
              "copies_dropped": len(dropped_copies),
              "copies_dropped_by_folder": dict(Counter(p.rsplit("/", 1)[0] for p in dropped_copies)),
              "models": {}}
    for model_id, mapping in pool.models.items():
        rows = [Item(it.path, mapping[it.path.rsplit("/", 1)[0]], it.group, it.split)
                for it in split if it.path.rsplit("/", 1)[0] in mapping]
        # labels of every file of a group, the dropped copies included (a copy filed under another
        # label in another collection is a conflict even though only one copy is kept)
        labels_of: dict[str, set[str]] = {}
        for it in items:
            folder = it.path.rsplit("/", 1)[0]
            if folder in mapping:
                labels_of.setdefault(uf.find(it.group), set()).add(mapping[folder])
        conflict = {g for g, labs in labels_of.items() if len(labs) > 1}
        out = [it for it in rows if it.group not in conflict]
        write_split_file(splits_dir / f"{model_id}.csv", out)
        report["models"][model_id] = {
            "files": len(out), "conflicting_label_groups_dropped": len(conflict),
            "files_dropped_for_conflict": len(rows) - len(out),
            "counts": {f"{s}/{lab}": n for (s, lab), n in sorted(Counter((it.split, it.label) for it in out).items())},
        }
        print(f"{model_id}: {len(out)} files from pool {pool.name}; {len(conflict)} label-conflict groups left out")
    write_json(CACHE / "pools" / f"{pool.name}_report.json", report)
    print(f"pool {pool.name}: {len(items)} files, {n_pairs} duplicate links, {len(dropped_copies)} copies dropped")
    return split


def pool_items(pool: PoolSpec) -> list[Item]:
    """The pool's split (made if missing)."""
    if not pool_split_path(pool).exists():
        make_pool_split(pool)
    return read_split_file(pool_split_path(pool))


def make_split(model_id: str) -> None:
    if model_id in POOL_OF:
        make_pool_split(POOLS[POOL_OF[model_id]])
        return
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
