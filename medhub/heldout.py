"""Which images of a collection a model may be scored on: the held-out selection that the
cross-collection study (`medhub.studies.crosscollection`) and class mode's "history" deck
(`medhub.teaching.deck`) share. A file of the model's own collection counts when its split file
marks it `test`; a file of another collection counts unless it is a perceptual copy (any flip or
rotation, `medhub.fingerprints`) of a train or validation image. Nothing here runs a model.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from medhub.cards import ModelCard
from medhub.fingerprints import Fingerprints, find_duplicates
from medhub.paths import SPLITS

# Collections (folders of the shared data root) that images of one modality come from.
COLLECTIONS: dict[str, tuple[str, ...]] = {
    "dermoscopy": ("ham10000", "melanoma", "skin_lesion"),
    "clinical_photo": ("skin_condition", "skin_condition_web", "dermnet_nz"),
}
SPLITS_DIR = SPLITS
CHECK_LIMIT = 40  # images per label for the light re-check a test runs against the card
_IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".webp", ".bmp"}


def _read_split(model_id: str) -> dict[str, str]:
    import csv

    path = SPLITS_DIR / f"{model_id}.csv"
    if not path.exists():
        return {}
    with open(path, newline="", encoding="utf-8") as fh:
        return {row["path"]: row["split"] for row in csv.DictReader(fh)}


def collections_for(card: ModelCard) -> tuple[str, ...]:
    return COLLECTIONS.get(card.input.modality, ())


def trained_on(model_id: str) -> list[str]:
    split = _read_split(model_id)
    return sorted({p.split("/")[0] for p, s in split.items() if s == "train"})


def labelled_by_table(card: ModelCard, data_dir: Path) -> bool:
    """True when no folder of `data_dir` names a label of the card (labels come from a table)."""
    from medhub.evaluation import folder_to_label

    mapping = folder_to_label(card)
    return not any(p.is_dir() and p.name.lower() in mapping for p in data_dir.iterdir())


def labelled_files(card: ModelCard, data_dir: Path) -> dict[str, list[Path]]:
    """{label folder: files}; a collection labelled by a table (no label folders) by the model's
    split file instead ({label: files}, every split)."""
    from medhub.evaluation import cases_from_split, folder_to_label

    mapping = folder_to_label(card)
    out: dict[str, list[Path]] = {}
    for folder in sorted(p for p in data_dir.iterdir() if p.is_dir()):
        if folder.name.lower() in mapping:
            out[folder.name] = sorted(
                p for p in folder.rglob("*") if p.is_file() and p.suffix.lower() in _IMAGE_SUFFIXES
            )
    split_file = SPLITS_DIR / f"{card.id}.csv"
    if not out and split_file.exists():
        for case in cases_from_split(card, data_dir, split_file, subset=None):
            out.setdefault(case.label, []).append(case.path)
    return out


def _hash_order(files: list[Path]) -> list[Path]:
    """The order a light check takes files in: by the sha1 of the file name (the same on every machine)."""
    return sorted(files, key=lambda p: hashlib.sha1(p.name.encode()).hexdigest())


def _subsample(files: list[Path], limit: int | None) -> list[Path]:
    if not limit or len(files) <= limit:
        return files
    return _hash_order(files)[:limit]


def eligible_files(
    card: ModelCard, collection: str, data_root: Path, fps: Fingerprints, limit_per_label: int | None = None
) -> tuple[set[str], dict[str, Any]]:
    """Resolved paths of `collection` that `card`'s model may be scored on, and what was dropped."""
    split = _read_split(card.id)
    data_dir = data_root / collection
    files = labelled_files(card, data_dir)
    seen = {p for p, s in split.items() if s in ("train", "val")}
    in_split = any(p.split("/", 1)[0] == collection for p in split)
    unlisted: list[Path] = []
    keep: list[Path] = []
    dropped_split = 0
    for folder_files in files.values():
        for p in folder_files:
            rel = p.relative_to(data_root).as_posix()
            if rel in split:
                if split[rel] == "test":
                    keep.append(p)
                else:
                    dropped_split += 1
            else:
                unlisted.append(p)
    dup_count = 0
    if in_split:
        # The split file covers this collection: only its test rows count; files it leaves out
        # are copies or label conflicts the pooled split removed (see training/make_splits.py).
        info_unlisted = len(unlisted)
        unlisted = []
    else:
        info_unlisted = 0
    if unlisted and seen and limit_per_label:
        # A light check (`limit_per_label`): walk each label's files in the order `_subsample` takes
        # them and fingerprint only as many unlisted files as it takes to fill the label. The same
        # files come out as deduplicating every file first (a file's verdict depends on the training
        # images only), for a fraction of the work: the other collections hold ~19,000 files.
        ref = _grouped_fingerprints([data_root / p for p in sorted(seen)], data_root, fps)
        listed, pending = set(keep), set(unlisted)
        chosen: list[Path] = []
        for folder_files in files.values():
            order = [q for q in _hash_order(sorted(folder_files)) if q in listed or q in pending]
            got: list[Path] = []
            while order and len(got) < limit_per_label:
                batch, order = order[: limit_per_label - len(got)], order[limit_per_label - len(got):]
                query = [q for q in batch if q in pending]
                dups = find_duplicates(_grouped_fingerprints(query, data_root, fps), ref) if query else []
                copies = {q for q, d in zip(query, dups, strict=True) if d}
                dup_count += len(copies)
                got += [q for q in batch if q not in copies]
            chosen += got
    else:
        if unlisted and seen:
            ref = _grouped_fingerprints([data_root / p for p in sorted(seen)], data_root, fps)
            dups = find_duplicates(_grouped_fingerprints(unlisted, data_root, fps), ref)
            for p, d in zip(unlisted, dups, strict=True):
                if d:
                    dup_count += 1
                else:
                    keep.append(p)
        else:
            keep.extend(unlisted)
        key_of = {p: key for key, folder_files in files.items() for p in folder_files}
        by_folder: dict[str, list[Path]] = {}
        for p in keep:
            by_folder.setdefault(key_of.get(p, p.parent.name), []).append(p)
        chosen = [q for fl in by_folder.values() for q in _subsample(sorted(fl), limit_per_label)]
    # with `limit_per_label`, the copies counted are those among the files examined
    info = {"train_or_val_rows_dropped": dropped_split, "duplicates_of_training_images_dropped": dup_count,
            "not_in_split_file_dropped": info_unlisted}
    return {str(p.resolve()) for p in chosen}, info


def _grouped_fingerprints(paths: Sequence[Path], data_root: Path, fps: Fingerprints):
    """Fingerprints of paths from several folders, cached per top-level collection folder."""
    paths = list(paths)
    hashes = np.zeros((len(paths), 8), np.uint64)
    thumbs = np.zeros((len(paths), 32, 32, 3), np.uint8)
    groups: dict[str, list[int]] = {}
    for i, p in enumerate(paths):
        groups.setdefault(Path(p).relative_to(data_root).parts[0], []).append(i)
    for top, idx in groups.items():
        h, t = fps.get([paths[i] for i in idx], data_root / top)
        hashes[idx], thumbs[idx] = h, t
    return hashes, thumbs
