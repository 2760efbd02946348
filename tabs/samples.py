"""Sample images for each tab's gallery, listed in `assets/samples.yaml` and found at run time.

The images are not in the repository. They come from a local directory (`MEDHUB_SAMPLES_DIR`; the
tests and `make run` point it at ../shared/data) or from a Hub dataset repo (`MEDHUB_SAMPLES_REPO`,
fetched with `snapshot_download` restricted to the listed paths, at `MEDHUB_SAMPLES_REVISION`: pin a
commit id, so the gallery is the same bytes on every start; default `main`; `HF_ENDPOINT` and
`HF_HUB_OFFLINE` are honoured, and once downloaded the snapshot is served from the Hub cache).
With neither, or when a listed file is missing, that sample is left out and a tab without samples
shows no gallery, rather than a broken one.

Gallery thumbnails (also for DICOM, which a browser cannot show) are decoded through the same input
gate as uploads and written, with a copy of each sample, to a temporary directory: Gradio serves
files from there without the whole samples directory being opened to it (`allowed_paths`).
"""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import yaml
from PIL import Image

from medhub.cards import REPO_ROOT, ModelCard

log = logging.getLogger("medhub.app")

SAMPLES_FILE = REPO_ROOT / "assets" / "samples.yaml"
THUMB_SIDE = 256


@dataclass(frozen=True)
class Sample:
    path: str  # the original file, handed to the input gate like an upload
    thumb: str  # a small PNG for the gallery
    caption_en: str
    caption_ko: str

    def caption(self, lang: str = "en") -> str:
        return self.caption_ko if lang == "ko" else self.caption_en


def sample_list(path: Path = SAMPLES_FILE) -> dict[str, list[dict]]:
    """{model id: [{path, label?, caption?}, ...]} from assets/samples.yaml."""
    if not path.is_file():
        return {}
    raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    out: dict[str, list[dict]] = {}
    for model_id, items in raw.items():
        out[model_id] = [item if isinstance(item, dict) else {"path": str(item)} for item in items or []]
    return out


def samples_root(listing: dict[str, list[dict]]) -> Path | None:
    """The directory holding the sample files: MEDHUB_SAMPLES_DIR, else a snapshot of MEDHUB_SAMPLES_REPO."""
    local = os.environ.get("MEDHUB_SAMPLES_DIR", "").strip()
    if local:
        root = Path(local).expanduser().resolve()
        if root.is_dir():
            return root
        log.warning("MEDHUB_SAMPLES_DIR=%s is not a directory; no sample gallery", local)
        return None
    repo = os.environ.get("MEDHUB_SAMPLES_REPO", "").strip()
    if not repo:
        return None
    revision = os.environ.get("MEDHUB_SAMPLES_REVISION", "").strip() or "main"
    # Read now, not at huggingface_hub's import (as medhub/weights.py does).
    endpoint = os.environ.get("HF_ENDPOINT", "").strip().rstrip("/") or None
    cache_dir = os.environ.get("HF_HUB_CACHE", "").strip() or None
    try:
        from huggingface_hub import snapshot_download

        patterns = sorted({item["path"] for items in listing.values() for item in items})
        return Path(snapshot_download(repo_id=repo, repo_type="dataset", revision=revision,
                                      allow_patterns=patterns, endpoint=endpoint, cache_dir=cache_dir))
    except Exception as err:  # noqa: BLE001 - any Hub failure only costs the gallery
        log.warning("sample repo %s@%s unavailable (%s); no sample gallery", repo, revision, err)
        return None


def _captions(card: ModelCard, item: dict) -> tuple[str, str]:
    """(English, Korean) caption: the listed caption, else the ground-truth label's short name."""
    if item.get("caption"):
        return str(item["caption"]), str(item.get("caption_ko") or item["caption"])
    label_id = item.get("label")
    if not label_id:
        name = Path(item["path"]).name
        return name, name
    try:
        label = card.label(label_id)
    except KeyError:
        return str(label_id), str(label_id)
    from tabs.localise import short_name

    return short_name(label.en), short_name(label.ko)  # short captions fit under a thumbnail


def _thumbnail(source: Path, card: ModelCard, out: Path) -> bool:
    from medhub.imaging import InputError, load_for_card

    try:
        rgb = load_for_card(card, source).rgb
    except InputError as err:
        log.warning("sample %s refused by the input gate: %s", source, err)
        return False
    img = Image.fromarray(np.ascontiguousarray(rgb))
    img.thumbnail((THUMB_SIDE, THUMB_SIDE))
    img.save(out, format="PNG")
    return True


def _points_inside(source: Path, root: Path) -> bool:
    target = source.resolve()
    allowed = [root.resolve()]
    if root.parent.name == "snapshots":  # <cache>/datasets--owner--name/snapshots/<commit>
        allowed.append(root.parent.parent.resolve() / "blobs")
    return any(target.is_relative_to(a) for a in allowed)


def load_samples(cards: tuple[ModelCard, ...]) -> tuple[dict[str, list[Sample]], Path | None]:
    """Samples per model id (only files that exist and pass the gate) and their root directory."""
    listing = sample_list()
    root = samples_root(listing) if listing else None
    result: dict[str, list[Sample]] = {card.id: [] for card in cards}
    if root is None:
        return result, None
    thumbs = Path(tempfile.gettempdir()) / "medhub-samples"
    for card in cards:
        folder = thumbs / card.id
        folder.mkdir(parents=True, exist_ok=True)
        for i, item in enumerate(listing.get(card.id, [])):
            # Inside the root by its path, and what it points to inside the root too, or, for a Hub
            # snapshot (whose files are symlinks into the cache's blobs/ folder), inside that repo's cache.
            source = Path(os.path.normpath(root / item["path"]))
            if not source.is_relative_to(root) or not source.is_file() or not _points_inside(source, root):
                log.warning("sample %s not found under %s", item["path"], root)
                continue
            thumb = folder / f"{i:02d}.png"
            if _thumbnail(source, card, thumb):
                copy = folder / f"{i:02d}-{source.name}"
                shutil.copyfile(source, copy)
                en, ko = _captions(card, item)
                result[card.id].append(Sample(path=str(copy), thumb=str(thumb), caption_en=en, caption_ko=ko))
    return result, root
