"""The labelled gallery samples of assets/samples.yaml (test-split images, with their truth), read
without gradio: the last source of deck cases (what a Space has)."""

from __future__ import annotations

from pathlib import Path

import yaml

from medhub.paths import REPO_ROOT

SAMPLES_FILE = REPO_ROOT / "assets" / "samples.yaml"


def labelled_samples(model_id: str, path: Path = SAMPLES_FILE) -> list[dict]:
    if not path.is_file():
        return []
    raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    return [item for item in raw.get(model_id) or [] if isinstance(item, dict) and item.get("label")]
