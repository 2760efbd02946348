"""Perceptual fingerprints of images: a DCT hash of each of the eight flips/rotations and a small
aligned thumbnail, cached per folder, and `find_duplicates` (the same picture under some flip or
rotation). Shared by the held-out selection (`medhub.heldout`: the cross-collection study and class mode score a model
only on images it never trained on) and by training (`training/make_splits.py`: perceptual duplicates
join one group of a split).
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from medhub.paths import REPO_ROOT

HASH_MAX_BITS = 8  # measured: every confirmed copy here was within 4 bits
CENTRE_MIN_CORR = 0.98
CACHE_DIR = REPO_ROOT / ".cache" / "fingerprints"


def fingerprint(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """(8 uint64 hashes, one per flip/rotation view; 32x32x3 uint8 centre of a 64x64 thumbnail)."""
    import cv2
    from PIL import Image

    with Image.open(path) as img:
        rgb = np.asarray(img.convert("RGB"), dtype=np.float32)
    gray = cv2.resize(rgb.mean(2), (32, 32), interpolation=cv2.INTER_AREA)
    d = cv2.dct(gray)[:8, :8]
    k = np.arange(8)
    flip_cols, flip_rows = (-1.0) ** k[None, :], (-1.0) ** k[:, None]  # DCT of a mirrored image
    hashes = []
    for m in (d, d * flip_cols, d * flip_rows, d * flip_cols * flip_rows):
        for view in (m, m.T):
            f = view.flatten()[1:]
            bits = np.concatenate([[False], f > np.median(f)])
            hashes.append(np.packbits(bits).view(">u8")[0])
    thumb = cv2.resize(rgb, (64, 64), interpolation=cv2.INTER_AREA)[16:48, 16:48]
    return np.array(hashes, dtype=np.uint64), np.clip(thumb, 0, 255).astype(np.uint8)


def _dihedral(x: np.ndarray) -> list[np.ndarray]:
    out = []
    for k in range(4):
        r = np.rot90(x, k)
        out += [r, r[:, ::-1]]
    return out


def _z(x: np.ndarray) -> np.ndarray:
    v = x.astype(np.float32).ravel()
    return (v - v.mean()) / (v.std() + 1e-6)


class Fingerprints:
    """Fingerprints of image files, cached on disk per data folder (keyed by path, size, mtime)."""

    def __init__(self, cache_dir: Path = CACHE_DIR):
        self.cache_dir = Path(cache_dir)
        self._mem: dict[str, tuple[np.ndarray, np.ndarray]] = {}
        self._loaded: set[str] = set()

    def _cache_file(self, folder: Path) -> Path:
        key = hashlib.sha1(str(folder.resolve()).encode()).hexdigest()[:16]
        return self.cache_dir / f"{folder.name}-{key}.npz"

    def _load(self, folder: Path) -> None:
        f = self._cache_file(folder)
        if str(f) in self._loaded:
            return
        self._loaded.add(str(f))
        if f.exists():
            with np.load(f) as z:
                for k, h, t in zip(z["keys"].tolist(), z["hashes"], z["thumbs"], strict=True):
                    self._mem[k] = (h, t)

    def _save(self, folder: Path) -> None:
        prefix = str(folder.resolve()) + "/"
        keys = [k for k in self._mem if k.split("|")[0].startswith(prefix)]
        if not keys:
            return
        self.cache_dir.mkdir(parents=True, exist_ok=True)
        tmp = self._cache_file(folder).with_suffix(".tmp.npz")
        np.savez(
            tmp,
            keys=np.array(keys),
            hashes=np.stack([self._mem[k][0] for k in keys]),
            thumbs=np.stack([self._mem[k][1] for k in keys]),
        )
        tmp.replace(self._cache_file(folder))

    @staticmethod
    def _key(path: Path) -> str:
        st = path.stat()
        return f"{path.resolve()}|{st.st_size}|{st.st_mtime_ns}"

    def get(self, paths: Sequence[Path], cache_folder: Path) -> tuple[np.ndarray, np.ndarray]:
        """([N, 8] hashes, [N, 32, 32, 3] thumbnails) for `paths`, all inside `cache_folder`."""
        self._load(cache_folder)
        keys = [self._key(Path(p)) for p in paths]
        missing = [(k, p) for k, p in zip(keys, paths, strict=True) if k not in self._mem]
        for k, p in missing:
            self._mem[k] = fingerprint(Path(p))
        if missing:
            self._save(cache_folder)
        if not keys:
            return np.zeros((0, 8), np.uint64), np.zeros((0, 32, 32, 3), np.uint8)
        return (np.stack([self._mem[k][0] for k in keys]), np.stack([self._mem[k][1] for k in keys]))


def find_duplicates(
    query: tuple[np.ndarray, np.ndarray],
    ref: tuple[np.ndarray, np.ndarray],
    max_bits: int = HASH_MAX_BITS,
    min_corr: float = CENTRE_MIN_CORR,
    exclude_self: bool = False,
) -> list[list[int]]:
    """For each query image, the indices of reference images that are the same picture under some
    flip/rotation. `exclude_self` (query is ref) ignores each image's match with itself."""
    qh, qt = query
    rh, rt = ref
    out: list[list[int]] = [[] for _ in range(len(qh))]
    if len(qh) == 0 or len(rh) == 0:
        return out
    canon = rh[:, 0]
    for start in range(0, len(qh), 256):
        block = qh[start : start + 256]
        dist = np.full((len(block), len(canon)), 99, dtype=np.uint8)
        for v in range(8):
            dist = np.minimum(dist, np.bitwise_count(block[:, v][:, None] ^ canon[None, :]).astype(np.uint8))
        ii, jj = np.nonzero(dist <= max_bits)
        for i in np.unique(ii):
            qi = start + int(i)
            cand = jj[ii == i]
            if exclude_self:
                cand = cand[cand != qi]
            if not len(cand):
                continue
            views = np.stack([_z(v) for v in _dihedral(qt[qi])])  # [8, D]
            refs = np.stack([_z(rt[j]) for j in cand])  # [C, D]
            corr = (refs @ views.T).max(1) / views.shape[1]
            out[qi] = [int(j) for j, c in zip(cand, corr, strict=True) if c >= min_corr]
    return out
