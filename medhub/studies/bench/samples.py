"""Sample images for the bench and the load tests: the test split of `training/splits/<id>.csv` under
the data root, else the model's data folders (`FALLBACK_DATA_DIRS`), else synthetic PNGs."""

from __future__ import annotations

import csv
from collections.abc import Iterator, Mapping
from pathlib import Path

import numpy as np

from medhub.paths import DATA_ROOT, REPO_ROOT


class _CardDataDirs(Mapping):
    """{model id: its label folders}: a folder per label id and alias under the card's
    `metrics.data_dir`, read from the cards when asked (so a new card needs no entry here)."""

    def _dirs(self) -> dict[str, tuple[str, ...]]:
        from medhub.cards import load_cards

        out = {}
        for card in load_cards():
            base = str(card.metrics.get("data_dir") or "").strip("/")
            names = [name for label in card.labels for name in (label.id, *label.aliases)]
            out[card.id] = tuple(f"{base}/{name}" for name in names) if base else ()
        return out

    def __getitem__(self, model_id: str) -> tuple[str, ...]:
        return self._dirs()[model_id]

    def __iter__(self) -> Iterator[str]:
        return iter(self._dirs())

    def __len__(self) -> int:
        return len(self._dirs())


# Where each model's images live in ../shared/data, used when no split file exists yet.
FALLBACK_DATA_DIRS: Mapping[str, tuple[str, ...]] = _CardDataDirs()
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg")


def sample_images(model_id: str, count: int, data_root: Path | None = None) -> list[Path]:
    """Up to `count` real images for a model: test split first, then its data folders.

    Returns [] when no data is available (callers fall back to synthetic images).
    """
    root = DATA_ROOT if data_root is None else data_root
    if not root.is_dir():
        return []
    found: list[Path] = []
    split_file = REPO_ROOT / "training" / "splits" / f"{model_id}.csv"
    if split_file.is_file():
        by_label: dict[str, list[Path]] = {}
        with split_file.open(newline="", encoding="utf-8") as fh:
            for row in csv.DictReader(fh):
                path = root / row.get("path", "")
                if row.get("split") == "test" and path.suffix.lower() in IMAGE_SUFFIXES and path.is_file():
                    by_label.setdefault(row.get("label", ""), []).append(path)
        found = _interleave(by_label.values(), count)
    if not found:
        dirs = [root / d for d in FALLBACK_DATA_DIRS.get(model_id, ())]
        per_dir = [
            sorted(p for p in d.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES) for d in dirs if d.is_dir()
        ]
        found = _interleave(per_dir, count)
    return [p for p in found if p.is_file()]


def _interleave(groups, count: int) -> list[Path]:
    """Take from each group in turn so a few samples cover every class."""
    lists = [list(g) for g in groups if g]
    out: list[Path] = []
    i = 0
    while len(out) < count and any(i < len(g) for g in lists):
        out.extend(g[i] for g in lists if i < len(g))
        i += 1
    return out[:count]


def synthetic_images(folder: Path, count: int, size: int = 320) -> list[Path]:
    """Deterministic textured PNGs (a blob on noise), for machines without the data sets."""
    from PIL import Image

    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[0:size, 0:size]
    paths = []
    for i in range(count):
        base = rng.integers(90, 200, size=(size, size, 3)).astype(np.float32)
        cy, cx, r = rng.integers(size // 4, 3 * size // 4, size=2).tolist() + [size // 6 + 5 * i]
        blob = ((yy - cy) ** 2 + (xx - cx) ** 2) < r**2
        base[blob] *= 0.45
        path = folder / f"synthetic_{i}.png"
        Image.fromarray(base.clip(0, 255).astype(np.uint8)).save(path)
        paths.append(path)
    return paths


def images_for(model_id: str, count: int, scratch: Path) -> tuple[list[Path], str]:
    """Real samples when present, else synthetic ones; with where they came from."""
    real = sample_images(model_id, count)
    if real:
        return real, "data"
    folder = scratch / f"synthetic_{model_id}"
    folder.mkdir(parents=True, exist_ok=True)
    return synthetic_images(folder, count), "synthetic"


def decode(path: Path, card) -> np.ndarray:
    """Decode a file as the app does for `card` (the input gate; DICOM with the card's window), RGB uint8."""
    from medhub.imaging import load_for_card

    return load_for_card(card, path).rgb


def iter_jobs(models: list[str], scratch: Path, per_model: int = 4) -> Iterator[tuple[str, Path]]:
    """(model id, image path) pairs over all models, for load tests."""
    for m in models:
        paths, _ = images_for(m, per_model, scratch)
        for p in paths:
            yield m, p
