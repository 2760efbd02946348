"""What data each torch model trains on: folders -> card labels, and what makes two files one group.

Grouping keeps one photo (or one person) inside a single split:
- every model: exact duplicates (same sha256) and near duplicates (same or nearly same dHash);
- shingles (DermNet): `t-name.jpg` / `v-name.jpg` are thumbnail and full view of one photo;
- skin_lesion: `ISIC_x_downsampled.jpg` is `ISIC_x.jpg` again;
- scalp_severity: `ds3_<subject>_<view>.jpg` are several views of one person.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import PurePosixPath

SHINGLES_OTHER = ("herpes_simplex", "eczema", "atopic_dermatitis", "psoriasis", "fungal_infection",
                  "warts_molluscum")


def _dermnet_key(path: str) -> str:
    p = PurePosixPath(path)
    m = re.match(r"^[tv]-(.+)$", p.name, flags=re.IGNORECASE)
    # DermNet pairs can sit in different class folders; index-style names (0_1.jpg) are per folder.
    return m.group(1).lower() if m else f"{p.parent.name}/{p.name}"


def _isic_key(path: str) -> str:
    p = PurePosixPath(path)
    return p.name.replace("_downsampled", "").lower()


def _scalp_key(path: str) -> str:
    p = PurePosixPath(path)
    m = re.match(r"^(ds3_\d+)_(front|back|left|right|top-down)", p.stem, flags=re.IGNORECASE)
    return m.group(1).lower() if m else p.as_posix()


@dataclass(frozen=True)
class DatasetSpec:
    model_id: str
    folders: dict[str, str]  # folder relative to the data root -> card label id
    name_key: Callable[[str], str] | None = None
    near_duplicate_bits: int = 0  # identical dHash: wider radii chained unrelated images
    seed: int = 20261121
    notes: list[str] = field(default_factory=list)


SPECS: dict[str, DatasetSpec] = {
    "melanoma": DatasetSpec(
        "melanoma", {"melanoma/benign": "benign", "melanoma/malignant": "malignant"}
    ),
    "skin_lesion": DatasetSpec(
        "skin_lesion",
        {f"skin_lesion/{c}": c for c in ("melanoma", "nevus", "basal_cell_carcinoma", "benign_keratosis",
                                          "seborrheic_keratosis")},
        name_key=_isic_key,
    ),
    "shingles": DatasetSpec(
        "shingles",
        {"skin_condition/herpes_zoster": "herpes_zoster",
         **{f"skin_condition/{c}": "other" for c in SHINGLES_OTHER}},
        name_key=_dermnet_key,
    ),
    "scalp_severity": DatasetSpec(
        "scalp_severity",
        {"scalp/hair_loss_severity/healthy": "no_hair_loss",
         "scalp/hair_loss_severity/moderate": "moderate_hair_loss",
         "scalp/hair_loss_severity/severe": "severe_hair_loss",
         "scalp/bald_vs_not/notbald": "no_hair_loss",
         "scalp/bald_vs_not/bald": "severe_hair_loss"},
        name_key=_scalp_key,
    ),
}
