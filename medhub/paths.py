"""Where things are: the repository, its weights and model cards, and the real image sets.

One place, one variable: the data root is `MEDHUB_DATA_ROOT` (default `../shared/data`, beside the
repository); nothing else names an environment variable for it. This module imports nothing from
medhub, so any module (the card module included) may use it.

`DATA_ROOT` is read once, at import; `data_root()` reads the variable at call time, for callers
that must follow a change made after import (a test's monkeypatch, a CLI run with another root).
The per-process overrides of the weights and cards folders (`MEDHUB_WEIGHTS_DIR`, `MEDHUB_CARDS_DIR`)
stay with the modules that resolve them (`medhub/weights.py`, `medhub/cards.py`); `WEIGHTS` and
`MODEL_CARDS` are the repository's own folders.
"""

from __future__ import annotations

import os
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
WEIGHTS = REPO_ROOT / "weights"
MODEL_CARDS = REPO_ROOT / "model_cards"
SPLITS = REPO_ROOT / "training" / "splits"
DATA_ROOT_VARIABLE = "MEDHUB_DATA_ROOT"
DEFAULT_DATA_ROOT = REPO_ROOT.parent / "shared" / "data"


def data_root() -> Path:
    """The real image sets: `$MEDHUB_DATA_ROOT` when set (and not empty), else `../shared/data`."""
    return Path(os.environ.get(DATA_ROOT_VARIABLE) or DEFAULT_DATA_ROOT)


DATA_ROOT = data_root()
