"""What data each torch model trains on: folders -> card labels, and what makes two files one group.

Grouping keeps one photo (or one person) inside a single split:
- every model: exact duplicates (same sha256) and near duplicates (same or nearly same dHash);
- shingles (DermNet): `t-name.jpg` / `v-name.jpg` are thumbnail and full view of one photo;
- scalp_severity: `ds3_<subject>_<view>.jpg` are several views of one person;
- skin_condition_web: `groups.csv` names the source photo of each (augmented) copy.
- dermnet_nz: no group ids; files of one condition whose names differ only by a number
  (`zoster-01`, `zoster-02`, `3360`, `3397`) may be one patient, so they form one group.

Pooled recipes (issue 10/11): several collections feed one model. A `PoolSpec` lists every
collection folder with its *fine* label (the source folder) and the card label per model; the pool
is split once (grouped, stratified by collection x fine label, perceptual duplicates across
collections in one group) and each model's split file is the pool's split restricted to the
folders it maps, so a test image is a test image for every model of the pool.
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


def _nz_key(path: str) -> str:
    """dermnet_nz: `<condition>/<name with its numbers as #>`: names that differ only by a number are
    one group (one patient, when in doubt), names of digits only included (consecutive image numbers
    of one condition, e.g. bullous_pemphigoid/3360-3397, are likely one patient's series)."""
    p = PurePosixPath(path)
    return f"nz:{p.parent.name}/{re.sub(r'[0-9]+', '#', p.stem.lower())}"


def _web_group_key() -> Callable[[str], str]:
    """skin_condition_web: the source group from its groups.csv; dermnet_nz: `_nz_key`; other paths:
    DermNet rules."""
    import csv

    from training.common import DATA_ROOT

    groups: dict[str, str] = {}
    f = DATA_ROOT / "skin_condition_web" / "groups.csv"
    if f.exists():
        with open(f, newline="", encoding="utf-8") as fh:
            for row in csv.DictReader(fh):
                groups[f"skin_condition_web/{row['file']}"] = f"web:{row['group']}"

    def key(path: str) -> str:
        if path.startswith("skin_condition_web/"):
            return groups.get(path, path)
        if path.startswith("dermnet_nz/"):
            return _nz_key(path)
        return _dermnet_key(path)

    return key


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


@dataclass(frozen=True)
class PoolSpec:
    name: str
    folders: tuple[str, ...]  # collection/fine-label folders, relative to the data root
    models: dict[str, dict[str, str]]  # model id -> {folder: card label}; folders not listed are left out
    name_key: Callable[[str], str] | None = None
    seed: int = 20261121


# The dermoscopy models train on HAM10000 (training/ham10000.py, issue 17); the pooled split of the
# two Kaggle re-publications they used before is in the git history (the "dermoscopy" pool).

SHINGLES_WEB_OTHER = ("chickenpox", "cellulitis", "impetigo", "athlete_foot", "nail_fungus", "ringworm",
                      "larva_migrans")

# DermNet NZ (issue 17): a third site; every condition but zoster is a look-alike (hard negative).
SHINGLES_NZ_OTHER = ("herpes_simplex", "eczema_herpeticum", "impetigo", "scabies", "cellulitis", "molluscum",
                     "bullous_pemphigoid", "pemphigus", "atopic_dermatitis", "discoid_eczema", "urticaria",
                     "insect_bites", "erythema_multiforme", "pompholyx", "contact_dermatitis")

CLINICAL_POOL = PoolSpec(
    "clinical",
    folders=("skin_condition/herpes_zoster", *(f"skin_condition/{c}" for c in SHINGLES_OTHER),
             "skin_condition_web/herpes_zoster", *(f"skin_condition_web/{c}" for c in SHINGLES_WEB_OTHER),
             "dermnet_nz/herpes_zoster", *(f"dermnet_nz/{c}" for c in SHINGLES_NZ_OTHER)),
    models={"shingles": {"skin_condition/herpes_zoster": "herpes_zoster",
                         "skin_condition_web/herpes_zoster": "herpes_zoster",
                         "dermnet_nz/herpes_zoster": "herpes_zoster",
                         **{f"skin_condition/{c}": "other" for c in SHINGLES_OTHER},
                         **{f"skin_condition_web/{c}": "other" for c in SHINGLES_WEB_OTHER},
                         **{f"dermnet_nz/{c}": "other" for c in SHINGLES_NZ_OTHER}}},
    name_key=None,  # set below (reads groups.csv lazily)
)

POOLS: dict[str, PoolSpec] = {"clinical": CLINICAL_POOL}
POOL_OF: dict[str, str] = {mid: pool.name for pool in POOLS.values() for mid in pool.models}


def pool_name_key(pool: PoolSpec) -> Callable[[str], str] | None:
    return _web_group_key() if pool.name == "clinical" else pool.name_key
