"""The image sets the scope check is fitted on and reported on.

Every image of `../shared/data` belongs to one *family* (what kind of image it is), by its folder:

| folder | family |
|---|---|
| head_ct/ | head_ct |
| melanoma/, ham10000/images/, skin_lesion/ (all but seborrheic_keratosis) | dermoscopy |
| skin_lesion/seborrheic_keratosis (clinical DermNet photos) | clinical_sk |
| skin_condition/, skin_condition_web/, dermnet_nz/, scalp/hair_disease/ | clinical_skin |
| scalp/bald_vs_not/, scalp/hair_loss_severity/ | whole_head |
| scalp/microscope/ | scalp_microscope |
| ood/chest_xray/ | other (report only) |
| ood/people | people (half fitting, half report, by file hash): portraits, figures, hands |
| ood/brain_mri, animals, natural, documents, other_medical | other (half fitting, half report, by file hash) |
| dicom/ (CQ500 and a public sample, DICOM) | head_ct (report only) |

Which images may be used for fitting and which for reporting: an image listed in a model's split file
(`training/splits/<id>.csv`) keeps its split there (train = fitting, val = threshold, test = report);
an image listed by no split file goes to the fitting or the report half by a hash of its source group
(`groups.csv`, `labels.csv`), never both. Chest radiographs, natural photos shipped inside installed
packages (scikit-image, scikit-learn, matplotlib) and the synthetic images of the report seed are
never used for fitting; synthetic images of another seed are the fitted `other` family.
"""

from __future__ import annotations

import csv
import hashlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from medhub.paths import DATA_ROOT, SPLITS

SPLITS_DIR = SPLITS
IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".webp", ".bmp", ".dcm"}

FOLDER_FAMILIES = (  # (path prefix, family); the first match wins
    ("head_ct/", "head_ct"),
    ("melanoma/", "dermoscopy"),
    ("ham10000/images/", "dermoscopy"),
    ("skin_lesion/seborrheic_keratosis/", "clinical_sk"),
    ("skin_lesion/", "dermoscopy"),
    ("skin_condition/", "clinical_skin"),
    ("skin_condition_web/", "clinical_skin"),
    ("dermnet_nz/", "clinical_skin"),
    ("scalp/hair_disease/", "clinical_skin"),
    ("scalp/bald_vs_not/", "whole_head"),
    ("scalp/hair_loss_severity/", "whole_head"),
    ("scalp/microscope/", "scalp_microscope"),
)
OOD_FAMILIES = {"people": "people"}  # ood/<kind> with a family of its own; every other kind is `other`


def family_of(rel: str) -> str | None:
    for prefix, family in FOLDER_FAMILIES:
        if rel.startswith(prefix):
            return family
    return None


@dataclass(frozen=True)
class Item:
    path: str  # relative to DATA_ROOT, or "synthetic:<kind>:<seed>:<i>", or "package:<name>"
    family: str
    role: str  # "fit", "val" or "report"
    source: str  # which set it belongs to in the report (a split file's model id, or a folder)


def _hash_half(key: str) -> str:
    return "fit" if int(hashlib.sha256(key.encode()).hexdigest()[:8], 16) % 2 == 0 else "report"


def _groups(root: Path) -> dict[str, str]:
    """path -> source group, from the data sets that ship augmented copies of one photo."""
    out: dict[str, str] = {}
    web = root / "skin_condition_web" / "groups.csv"
    if web.is_file():
        with web.open(newline="", encoding="utf-8") as fh:
            for row in csv.DictReader(fh):
                out[f"skin_condition_web/{row['file']}"] = f"web:{row['group']}"
    micro = root / "scalp" / "microscope" / "labels.csv"
    if micro.is_file():
        with micro.open(newline="", encoding="utf-8") as fh:
            for row in csv.DictReader(fh):
                name = row.get("file") or row.get("image") or row.get("filename") or ""
                rel = name if name.startswith("scalp/") else f"scalp/microscope/images/{Path(name).name}"
                out[rel] = f"micro:{row.get('group', rel)}"
    return out


def split_roles(root: Path = DATA_ROOT, splits_dir: Path = SPLITS_DIR) -> dict[str, tuple[str, str]]:
    """path -> (role, source model id) for every image a split file lists (the first file wins)."""
    roles: dict[str, tuple[str, str]] = {}
    role_of = {"train": "fit", "val": "val", "test": "report"}
    for split_file in sorted(splits_dir.glob("*.csv")):
        with split_file.open(newline="", encoding="utf-8") as fh:
            for row in csv.DictReader(fh):
                rel = row["path"]
                role = role_of.get(row["split"])
                if role is None:
                    continue
                previous = roles.get(rel)
                # An image that any model trains on is never a report image for another.
                if previous is None or (role == "fit" and previous[0] != "fit"):
                    roles[rel] = (role, split_file.stem)
    return roles


def data_items(root: Path = DATA_ROOT, splits_dir: Path = SPLITS_DIR) -> list[Item]:
    """Every image of the shared data with its family, role and report set."""
    if not root.is_dir():
        return []
    roles = split_roles(root, splits_dir)
    groups = _groups(root)
    items = []
    for path in sorted(root.rglob("*")):
        if path.suffix.lower() not in IMAGE_SUFFIXES or not path.is_file():
            continue
        rel = path.relative_to(root).as_posix()
        if rel.startswith("ood/"):
            # Chest radiographs stay a report-only set (no one fits on them); the other kinds (MRI,
            # animals, people, documents, other medical images, ...) go half to fitting the `other`
            # family, half to the report, by a hash of the file.
            kind = rel.split("/")[1]
            role = "report" if kind == "chest_xray" else _hash_half(rel)
            items.append(Item(rel, OOD_FAMILIES.get(kind, "other"), role, kind))
            continue
        if rel.startswith("dicom/") and path.suffix.lower() == ".dcm":
            # real head-CT DICOM slices of other collections (CQ500, a public sample): report only
            items.append(Item(rel, "head_ct", "report", "dicom (other collections)"))
            continue
        family = family_of(rel)
        if family is None:
            continue
        if rel in roles:
            role, source = roles[rel]
        else:
            role = _hash_half(groups.get(rel, rel))
            source = "/".join(rel.split("/")[:2]) if rel.startswith("scalp/") else rel.split("/")[0]
        items.append(Item(rel, family, role, source))
    return items


# ------------------------------------------------------------------------------------------------
# images made in code: flat colours, noise, gradients, text, a screenshot-like render, a drawing

SYNTHETIC_KINDS = ("flat", "noise", "gradient", "text", "screenshot", "drawing", "skin_tone")


def synthetic_image(kind: str, seed: int, size: int = 256) -> np.ndarray:
    import cv2

    rng = np.random.default_rng(seed)
    if kind == "flat":
        return np.full((size, size, 3), rng.integers(0, 256, 3), np.uint8)
    if kind == "skin_tone":  # a flat skin-coloured square (the hair-loss example)
        base = np.array([224, 172, 140]) + rng.integers(-30, 30, 3)
        return np.clip(np.full((size, size, 3), base), 0, 255).astype(np.uint8)
    if kind == "noise":
        scale = int(rng.choice([1, 4, 16]))
        small = rng.integers(0, 256, (size // scale, size // scale, 3), dtype=np.uint8)
        return cv2.resize(small, (size, size), interpolation=cv2.INTER_NEAREST)
    if kind == "gradient":
        a, b = rng.integers(0, 256, 3), rng.integers(0, 256, 3)
        t = np.linspace(0, 1, size)[:, None, None]
        img = a * (1 - t) + b * t
        img = (
            np.repeat(img, size, axis=1)
            if rng.random() < 0.5
            else np.repeat(img, size, axis=1).transpose(1, 0, 2)
        )
        return img.astype(np.uint8)
    if kind == "text":
        img = np.full((size, size, 3), 255 if rng.random() < 0.7 else 0, np.uint8)
        colour = (0, 0, 0) if img[0, 0, 0] == 255 else (255, 255, 255)
        words = ["medical", "report", "patient", "hello", "image", "scan", "lorem", "ipsum", "2026", "test"]
        for row in range(8):
            text = " ".join(rng.choice(words, 3))
            cv2.putText(img, text, (8, 28 + row * 30), cv2.FONT_HERSHEY_SIMPLEX, 0.6, colour, 1, cv2.LINE_AA)
        return img
    if kind == "screenshot":
        img = np.full((size, size, 3), 245, np.uint8)
        cv2.rectangle(img, (0, 0), (size, 24), tuple(int(c) for c in rng.integers(40, 120, 3)), -1)
        for _ in range(int(rng.integers(3, 7))):
            x, y = int(rng.integers(8, size - 80)), int(rng.integers(32, size - 40))
            w, h = int(rng.integers(40, 120)), int(rng.integers(16, 40))
            cv2.rectangle(
                img,
                (x, y),
                (min(size - 4, x + w), min(size - 4, y + h)),
                tuple(int(c) for c in rng.integers(150, 255, 3)),
                -1,
            )
            cv2.putText(img, "OK", (x + 4, y + 14), cv2.FONT_HERSHEY_SIMPLEX, 0.4, (0, 0, 0), 1)
        return img
    if kind == "drawing":
        img = np.full((size, size, 3), 255, np.uint8)
        for _ in range(int(rng.integers(4, 10))):
            colour = tuple(int(c) for c in rng.integers(0, 256, 3))
            centre = tuple(int(c) for c in rng.integers(20, size - 20, 2))
            if rng.random() < 0.5:
                cv2.circle(img, centre, int(rng.integers(8, 60)), colour, int(rng.choice([-1, 2, 4])))
            else:
                end = tuple(int(c) for c in rng.integers(0, size, 2))
                cv2.line(img, centre, end, colour, int(rng.integers(1, 6)))
        return img
    raise ValueError(f"unknown synthetic kind {kind!r}")


def synthetic_items(seed: int, per_kind: int, role: str) -> list[tuple[Item, np.ndarray]]:
    out = []
    for k, kind in enumerate(SYNTHETIC_KINDS):
        for i in range(per_kind):
            s = seed * 100_003 + k * 1009 + i
            out.append(
                (Item(f"synthetic:{kind}:{seed}:{i}", "other", role, "synthetic"), synthetic_image(kind, s))
            )
    return out


def package_photos() -> list[tuple[Item, np.ndarray]]:
    """Natural photos shipped inside installed packages (never used for fitting)."""
    out: list[tuple[Item, np.ndarray]] = []
    try:
        from sklearn.datasets import load_sample_images

        for name, img in zip(("china", "flower"), load_sample_images().images):
            out.append(
                (Item(f"package:sklearn:{name}", "other", "report", "package_photos"), np.asarray(img))
            )
    except Exception:  # noqa: BLE001 - a package without its data is skipped
        pass
    try:
        import matplotlib
        from PIL import Image

        sample = Path(matplotlib.get_data_path()) / "sample_data"
        for name in ("grace_hopper.jpg", "logo2.png", "Minduka_Present_Blue_Pack.png"):
            if (sample / name).is_file():
                with Image.open(sample / name) as im:
                    out.append(
                        (
                            Item(f"package:matplotlib:{name}", "other", "report", "package_photos"),
                            np.asarray(im.convert("RGB")),
                        )
                    )
    except Exception:  # noqa: BLE001
        pass
    try:
        import skimage.data as skd

        for name in (
            "astronaut",
            "coffee",
            "chelsea",
            "rocket",
            "camera",
            "coins",
            "moon",
            "page",
            "text",
            "horse",
            "clock",
            "hubble_deep_field",
            "immunohistochemistry",
            "retina",
            "skin",
            "cat",
            "logo",
            "motorcycle_left",
            "colorwheel",
            "brick",
            "grass",
            "gravel",
        ):
            fn = getattr(skd, name, None)
            if fn is None:
                continue
            try:
                img = np.asarray(fn())
            except (KeyboardInterrupt, SystemExit):
                raise
            except BaseException:  # noqa: BLE001 - images that skimage would download are skipped (under
                # pytest, skimage raises pytest's Skipped, a BaseException, instead of downloading)
                continue
            if img.ndim == 2:
                img = np.repeat(img[..., None], 3, axis=2)
            if img.dtype != np.uint8:
                img = (255 * (img.astype(np.float64) / max(float(img.max()), 1e-9))).astype(np.uint8)
            out.append((Item(f"package:skimage:{name}", "other", "report", "package_photos"), img[..., :3]))
    except ImportError:
        pass
    return out
