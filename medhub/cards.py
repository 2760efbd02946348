"""Model cards: the single source of truth for every model in the hub.

A card is `model_cards/<id>.md` in the Hugging Face card format: YAML front matter followed by a
Markdown body. The hub's own contract lives under the `medhub:` key of the front matter; the other
top-level keys (`license`, `library_name`, `tags`, `pipeline_tag`, `datasets`) are the Hub's.

The app, the CLI and the tests iterate over `load_cards()`; adding a condition means adding a card
and its weights.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, is_dataclass
from functools import lru_cache
from pathlib import Path
from types import UnionType
from typing import Any, Union, get_args, get_origin, get_type_hints

import yaml
from pydantic import BaseModel

from medhub.card_schema import (  # noqa: F401  (the schema of `medhub:`)
    FRAMEWORKS,
    OUTPUTS,
    SCHEMA_VERSION,
    MedhubBlock,
    ScopeBlock,
    validate_block,
)
from medhub.paths import MODEL_CARDS, REPO_ROOT  # noqa: F401  (REPO_ROOT: for callers that read it here)

CARDS_DIR = Path(os.environ.get("MEDHUB_CARDS_DIR", MODEL_CARDS))


REQUIRED_BODY_SECTIONS = (
    "Intended use",
    "Out-of-scope use",
    "Training data",
    "Evaluation",
    "Limitations",
    "Disclaimer",
)


class CardError(ValueError):
    """A model card is missing a field or holds a value the hub cannot use."""


@dataclass(frozen=True)
class Label:
    id: str
    en: str
    ko: str
    # Folder names that also count as this label when evaluating a data directory
    # (e.g. shingles' "other" gathers every non-zoster condition).
    aliases: tuple[str, ...] = ()
    # Position on a graded scale (0 good .. 3 severe), for graded models such as scalp severity.
    grade: int | None = None

    def name(self, lang: str = "en") -> str:
        return self.ko if lang == "ko" else self.en


@dataclass(frozen=True)
class Grade:
    en: str
    ko: str

    def name(self, lang: str = "en") -> str:
        return self.ko if lang == "ko" else self.en


def grade_from_area(area: float, bins: tuple[float, ...] | list[float]) -> int:
    """Number of bin edges the area fraction exceeds (0 .. len(bins))."""
    return int(sum(float(area) > float(b) for b in bins))


@dataclass(frozen=True)
class HeadSpec:
    """One graded head of an `output: graded_heads` card (medhub/graded.py), parsed once with the card."""

    id: str
    en: str
    ko: str
    grades: tuple[Grade, ...]
    bins: tuple[float, ...]
    area_columns: tuple[str, ...] = ()

    def name(self, lang: str = "en") -> str:
        return self.ko if lang == "ko" else self.en

    def grade_of_area(self, area: float) -> int:
        return grade_from_area(area, self.bins)


@dataclass(frozen=True)
class WeightFile:
    name: str
    sha256: str


@dataclass(frozen=True)
class CTWindow:
    center: float
    width: float


@dataclass(frozen=True)
class InputContract:
    modality: str
    size: tuple[int, int]  # (height, width)
    channels: int  # what the model takes; grayscale images are replicated to 3 channels
    mean: tuple[float, float, float]
    std: tuple[float, float, float]
    resize: str = "squash"  # "squash" (plain resize) or "center_crop" (shorter side, then crop)
    prescale: int | None = None  # longest side first brought down to (INTER_AREA); None: no step
    dicom: bool = False
    ct_window: CTWindow | None = None  # the CT window the model was trained on
    # The window a DICOM upload is rendered with when the caller names none (a preset of
    # medhub/dicom.py or "file"); read through medhub.pipeline.dicom_window.
    dicom_window: str | None = None


@dataclass(frozen=True)
class ModelCard:
    id: str
    title: dict[str, str]
    framework: str
    architecture: str
    repo_id: str
    revision: str
    files: tuple[WeightFile, ...]
    input: InputContract
    output: str
    labels: tuple[Label, ...]
    positive_class: str | None
    threshold: float | None
    gradcam_layer: str
    metrics: dict[str, Any]
    license: str
    body: str
    path: Path
    schema_version: int = 1  # medhub/card_schema.py SCHEMA_VERSION the card was written for
    backbone: str | None = None  # where the pretrained backbone came from (prose)
    heads: tuple[HeadSpec, ...] | None = None  # graded heads (output: graded_heads, medhub/graded.py)
    grade_note: dict[str, str] | None = None  # {en, ko}: what the grades of a graded model mean
    cross_collection: dict[str, Any] | None = None  # measured by `python -m medhub cross-collection`
    robustness: dict[str, Any] | None = None  # measured by `python -m medhub robustness`
    scope: Any = None  # card_schema.ScopeBlock (medhub/scope.py), or None for a card without a fitted scope check
    disclaimer_domain: str = "general"  # medhub.disclaimers: which domain's disclaimer the results carry
    result_extras: tuple[str, ...] = ()  # medhub.result_extras: what a result adds (region, ABCD, ...)
    heatmap_class: str = "decision"  # which class the heat map explains: "decision" or "positive"
    tta: bool = False  # test-time augmentation offered (tab checkbox, API parameter `tta`, predict --tta)
    tab: str = ""  # the app tab this card is served in (default: its own id; several cards may share one)
    order: int | None = None  # position of its tab in the app (lower first)
    tab_title: dict[str, str] | None = None  # {en, ko}: the title of a tab shared by several cards
    targets: dict[str, float] | None = None  # metric -> minimum on the test split (medhub/caution.py)

    def tab_title_for(self, lang: str = "en") -> str:
        """The title of the tab this card heads (its own title unless it names a shared tab's)."""
        titles = self.tab_title or self.title
        return titles.get(lang) or titles["en"]

    @property
    def label_ids(self) -> list[str]:
        return [label.id for label in self.labels]

    @property
    def is_binary(self) -> bool:
        return len(self.labels) == 2 and self.positive_class is not None

    @property
    def positive_index(self) -> int | None:
        return self.label_ids.index(self.positive_class) if self.positive_class else None

    @property
    def weights_file(self) -> WeightFile:
        """The file holding the weights (safetensors for torch, .weights.h5 for keras)."""
        suffix = ".safetensors" if self.framework == "torch" else ".weights.h5"
        for f in self.files:
            if f.name.endswith(suffix):
                return f
        raise CardError(f"{self.id}: no {suffix} file listed under medhub.hub.files")

    def label(self, label_id: str) -> Label:
        for label in self.labels:
            if label.id == label_id:
                return label
        raise KeyError(label_id)

    def title_for(self, lang: str = "en") -> str:
        return self.title.get(lang) or self.title["en"]


def split_front_matter(text: str) -> tuple[dict[str, Any], str]:
    """Split a Hugging Face card into (front matter, Markdown body)."""
    if not text.startswith("---"):
        raise CardError("a model card starts with YAML front matter between '---' lines")
    parts = text.split("\n---", 1)
    if len(parts) != 2:
        raise CardError("the YAML front matter is not closed by a '---' line")
    head = parts[0][3:]
    body = parts[1].split("\n", 1)[1] if "\n" in parts[1] else ""
    meta = yaml.safe_load(head) or {}
    if not isinstance(meta, dict):
        raise CardError("the front matter is not a mapping")
    return meta, body


def _convert(tp: Any, value: Any) -> Any:
    """A validated schema value as the type a `ModelCard` field declares: nested pydantic blocks
    become the card's frozen dataclasses (by field name), lists become tuples, mappings plain dicts.
    A field typed `Any` keeps the validated block itself (the scope check's `ScopeBlock`)."""
    if value is None or tp is Any:
        return value
    origin, args = get_origin(tp), get_args(tp)
    if origin in (Union, UnionType):
        options = [a for a in args if a is not type(None)]
        return _convert(options[0], value) if len(options) == 1 else value
    if is_dataclass(tp):
        hints = get_type_hints(tp)
        items = value if isinstance(value, dict) else {k: getattr(value, k) for k in type(value).model_fields}
        return tp(**{k: _convert(hints[k], v) for k, v in items.items() if k in hints})
    if origin is tuple:
        if len(args) == 2 and args[1] is Ellipsis:
            return tuple(_convert(args[0], v) for v in value)
        return tuple(_convert(a, v) for a, v in zip(args, value, strict=True))
    if origin is dict or tp is dict:
        return value.model_dump() if isinstance(value, BaseModel) else dict(value)
    if tp is float:
        return float(value)
    return value


# Card keys that a ModelCard holds under another name, and the `hub:` keys it holds at the top.
_RENAMED = {"disclaimer": "disclaimer_domain"}


def card_from_block(m: MedhubBlock, *, license: str, body: str, path: Path) -> ModelCard:
    """The ModelCard of a validated `medhub:` block: one generic conversion, field by field name."""
    values: dict[str, Any] = {_RENAMED.get(k, k): getattr(m, k) for k in type(m).model_fields}
    hub = values.pop("hub")
    values.update(repo_id=hub.repo_id, revision=hub.revision, files=hub.files)
    values["input"] = {**dict(m.input), "size": m.input.height_width}
    values.update(license=license, body=body, path=path, tab=m.tab or m.id)
    hints = get_type_hints(ModelCard)
    return ModelCard(**{k: _convert(hints[k], v) for k, v in values.items()})


def parse_card(text: str, path: Path | None = None) -> ModelCard:
    """Parse and validate one card; raises CardError naming the card file and the problem.

    Every check of the `medhub:` block is the schema's (`medhub/card_schema.py`: unknown keys,
    `schema_version`, types, literal sets, graded heads, several keys at once); what is outside the
    block (the licence, the body's sections) is checked here."""
    meta, body = split_front_matter(text)
    where = str(path or "card")
    raw = meta.get("medhub")
    if raw in (None, ""):
        raise CardError(f"{where}: missing 'medhub'")
    if isinstance(raw, dict) and isinstance(raw.get("id"), str) and raw["id"]:
        where = f"{where} ({raw['id']})"
    try:
        m = validate_block(raw, where)
    except ValueError as err:
        raise CardError(str(err)) from None
    for section in REQUIRED_BODY_SECTIONS:
        if not re.search(rf"^#+\s*{re.escape(section)}", body, flags=re.MULTILINE | re.IGNORECASE):
            raise CardError(f"{where}: the body has no '{section}' section")
    card = card_from_block(
        m, license=str(m.license or meta.get("license") or ""), body=body, path=path or Path(f"{m.id}.md")
    )
    if not card.license:
        raise CardError(f"{where}: missing licence")
    card.weights_file  # noqa: B018  (validates that the weights file is listed)
    return card


def read_card(path: Path) -> ModelCard:
    return parse_card(Path(path).read_text(encoding="utf-8"), Path(path))


@lru_cache(maxsize=4)
def _load_cards(cards_dir: str) -> tuple[ModelCard, ...]:
    cards = [read_card(p) for p in sorted(Path(cards_dir).glob("*.md"))]
    # Tab order: the card's `order` (cards without one follow), then the id.
    cards.sort(key=lambda c: (c.order if c.order is not None else 10**6, c.id))
    return tuple(cards)


def load_cards(cards_dir: Path | str | None = None) -> tuple[ModelCard, ...]:
    """All cards, in tab order."""
    return _load_cards(str(cards_dir or CARDS_DIR))


def get_card(model_id: str, cards_dir: Path | str | None = None) -> ModelCard:
    for card in load_cards(cards_dir):
        if card.id == model_id:
            return card
    known = ", ".join(c.id for c in load_cards(cards_dir))
    raise KeyError(f"unknown model '{model_id}' (known: {known})")


def card_for_command(model_id: str) -> ModelCard | None:
    """A command's card: the card, or None after printing "error: unknown model ..." to stderr (the
    command then exits with 2)."""
    import sys

    try:
        return get_card(model_id)
    except KeyError as err:
        print(f"error: {err.args[0]}", file=sys.stderr)
        return None


def _fmt(value: Any) -> str:
    return "n/a" if value is None else f"{float(value):.3f}"


def _cross_collection_cell(card: ModelCard) -> str:
    """Per collection of the card's `cross_collection` key: AUROC, or the recall of the one class
    present, with n; collections the model never trained on are marked 'unseen'."""
    cc = card.cross_collection or {}
    parts = []
    for col, cell in (cc.get("collections") or {}).items():
        if cell.get("auroc") is not None:
            fig = f"AUROC {float(cell['auroc']):.3f}"
        else:
            fig = ", ".join(f"{lab} recall {float(r):.3f}" for lab, r in (cell.get("recall") or {}).items())
        seen = "" if col in (cc.get("trained_on") or []) else " unseen"
        parts.append(f"{col}{seen}: {fig} (n={cell.get('n')})")
    return "; ".join(parts) or "-"


def model_table(cards: tuple[ModelCard, ...] | None = None, lang: str = "en") -> str:
    """Markdown table of the models and their held-out metrics (README and the About tab)."""
    cards = cards or load_cards()
    head = {
        "en": "| tab | model | data (test n) | accuracy | balanced acc. | AUROC | ECE | by collection (test split or unseen) |",
        "ko": "| 탭 | 모델 | 데이터 (테스트 n) | 정확도 | 균형 정확도 | AUROC | ECE | 데이터 모음별 (테스트 또는 미학습) |",
    }[lang if lang == "ko" else "en"]
    rows = [head, "|---|---|---|---|---|---|---|---|"]
    for c in cards:
        m = c.metrics
        rows.append(
            f"| {c.title_for(lang)} | {c.architecture} ({c.framework}) | {m['dataset']} ({m['n']}) "
            f"| {_fmt(m.get('accuracy'))} | {_fmt(m.get('balanced_accuracy'))} "
            f"| {_fmt(m.get('auroc'))} | {_fmt(m.get('ece'))} | {_cross_collection_cell(c)} |"
        )
    return "\n".join(rows)
