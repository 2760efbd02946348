"""Shared training helpers: seeding, file hashing, grouped stratified splits, metrics plumbing.

Generic on purpose: the Keras recipe (brain_hemorrhage) may import these too. Nothing here knows
a particular model; the recipes pass their own label maps and grouping rules.
"""

from __future__ import annotations

import csv
import hashlib
import json
import random
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from medhub.paths import DATA_ROOT  # the one data root ($MEDHUB_DATA_ROOT), for every recipe

REPO = Path(__file__).resolve().parent.parent
TRAINING = REPO / "training"
CACHE = TRAINING / "cache"
SPLITS = TRAINING / "splits"
RUNS = TRAINING / "runs"
IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".webp", ".bmp"}
SPLIT_NAMES = ("train", "val", "test")


class DataError(ValueError):
    """The data on disk does not match what a recipe expects."""


@dataclass(frozen=True)
class Item:
    path: str  # relative to DATA_ROOT, forward slashes
    label: str  # card label id
    group: str = ""
    split: str = ""


def seed_everything(seed: int) -> None:
    """Fix python, numpy and torch seeds (torch only if already importable)."""
    random.seed(seed)
    np.random.seed(seed)
    try:
        import torch

        torch.manual_seed(seed)
    except ImportError:
        pass


def list_images(folder_to_label: dict[str, str], root: Path = DATA_ROOT) -> list[Item]:
    """Items for every image under `root/<folder>` (folder relative to root), labelled by the map."""
    items = []
    for folder, label in folder_to_label.items():
        base = root / folder
        if not base.is_dir():
            raise DataError(f"missing data folder {base}")
        for p in sorted(base.iterdir()):
            if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES:
                items.append(Item(path=p.relative_to(root).as_posix(), label=label))
    if not items:
        raise DataError(f"no images under {root} for {sorted(folder_to_label)}")
    return items


def sha256_file(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def dhash(path: Path, size: int = 8) -> int:
    """Difference hash of the grayscale image (64 bits): equal or close for re-encoded copies."""
    from PIL import Image

    with Image.open(path) as img:
        g = np.asarray(img.convert("L").resize((size + 1, size), Image.Resampling.LANCZOS), dtype=np.int16)
    bits = (g[:, 1:] > g[:, :-1]).flatten()
    return int("".join("1" if b else "0" for b in bits), 2)


def file_hashes(paths: Sequence[str], root: Path = DATA_ROOT, cache_name: str = "hashes.json") -> dict:
    """{path: [sha256, dhash]} for the given relative paths, cached under training/cache/."""
    cache_file = CACHE / cache_name
    cached: dict[str, list] = json.loads(cache_file.read_text()) if cache_file.exists() else {}
    missing = [p for p in paths if p not in cached]
    for p in missing:
        cached[p] = [sha256_file(root / p), dhash(root / p)]
    if missing:
        CACHE.mkdir(parents=True, exist_ok=True)
        cache_file.write_text(json.dumps(cached))
    return {p: cached[p] for p in paths}


class UnionFind:
    def __init__(self, keys: Iterable[str]):
        self.parent = {k: k for k in keys}

    def find(self, k: str) -> str:
        while self.parent[k] != k:
            self.parent[k] = self.parent[self.parent[k]]
            k = self.parent[k]
        return k

    def union(self, a: str, b: str) -> None:
        ra, rb = self.find(a), self.find(b)
        if ra != rb:
            # keep the lexicographically smaller root so group names are deterministic
            self.parent[max(ra, rb)] = min(ra, rb)


def near_duplicate_pairs(hashes: Sequence[int], max_distance: int) -> list[tuple[int, int]]:
    """Index pairs whose 64-bit hashes differ in at most `max_distance` bits (all pairs, chunked)."""
    h = np.array(hashes, dtype=np.uint64)
    bits = np.unpackbits(h.view(np.uint8).reshape(-1, 8), axis=1).astype(np.uint8)
    pairs = []
    for start in range(0, len(h), 512):
        block = bits[start : start + 512]
        dist = (block[:, None, :] != bits[None, :, :]).sum(-1)
        ii, jj = np.nonzero(dist <= max_distance)
        for i, j in zip(ii + start, jj, strict=True):
            if i < j:
                pairs.append((int(i), int(j)))
    return pairs


def assign_groups(
    items: Sequence[Item],
    name_key: Callable[[str], str] | None = None,
    near_duplicate_bits: int = 0,
    root: Path = DATA_ROOT,
) -> list[Item]:
    """Give every item a group: one group per set of items linked by exact duplicate (sha256),
    near duplicate (dHash within `near_duplicate_bits`, 0 = identical dHash) or an equal
    `name_key(path)` (e.g. the DermNet name without its t-/v- prefix, or a scalp subject id)."""
    paths = [it.path for it in items]
    hashes = file_hashes(paths, root)
    uf = UnionFind(paths)
    by_key: dict[str, str] = {}
    for p in paths:
        for key in (f"sha:{hashes[p][0]}", f"name:{name_key(p)}" if name_key else None):
            if key is None:
                continue
            if key in by_key:
                uf.union(by_key[key], p)
            else:
                by_key[key] = p
    for i, j in near_duplicate_pairs([hashes[p][1] for p in paths], near_duplicate_bits):
        uf.union(paths[i], paths[j])
    return [Item(it.path, it.label, group=uf.find(it.path)) for it in items]


def grouped_stratified_split(
    items: Sequence[Item], seed: int, n_folds: int = 7, val_folds: int = 1, test_folds: int = 1
) -> list[Item]:
    """train/val/test by StratifiedGroupKFold: `test_folds` folds to test, `val_folds` to val."""
    from sklearn.model_selection import StratifiedGroupKFold

    y = [it.label for it in items]
    groups = [it.group for it in items]
    folds = np.zeros(len(items), dtype=int)
    sgkf = StratifiedGroupKFold(n_splits=n_folds, shuffle=True, random_state=seed)
    for k, (_, idx) in enumerate(sgkf.split(np.zeros(len(items)), y, groups)):
        folds[idx] = k
    out = []
    for it, k in zip(items, folds, strict=True):
        split = "test" if k < test_folds else "val" if k < test_folds + val_folds else "train"
        out.append(Item(it.path, it.label, it.group, split))
    return out


def grouped_folds(items: Sequence[Item], n_folds: int, seed: int) -> np.ndarray:
    """Fold index per item for grouped, stratified cross-validation."""
    from sklearn.model_selection import StratifiedGroupKFold

    folds = np.zeros(len(items), dtype=int)
    sgkf = StratifiedGroupKFold(n_splits=n_folds, shuffle=True, random_state=seed)
    split = sgkf.split(np.zeros(len(items)), [it.label for it in items], [it.group for it in items])
    for k, (_, idx) in enumerate(split):
        folds[idx] = k
    return folds


def write_split_file(path: Path, items: Sequence[Item]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh, lineterminator="\n")
        w.writerow(["path", "label", "split", "group"])
        for it in sorted(items, key=lambda it: it.path):
            w.writerow([it.path, it.label, it.split, it.group])


def read_split_file(path: Path) -> list[Item]:
    with open(path, newline="", encoding="utf-8") as fh:
        return [Item(r["path"], r["label"], r["group"], r["split"]) for r in csv.DictReader(fh)]


def sha256_hex(path: Path) -> str:
    return sha256_file(path)


def write_json(path: Path, data: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
