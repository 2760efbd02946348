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
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

from medhub.card_schema import FRAMEWORKS, OUTPUTS, SCHEMA_VERSION, validate_block  # noqa: F401  (the schema of `medhub:`)

REPO_ROOT = Path(__file__).resolve().parent.parent
CARDS_DIR = Path(os.environ.get("MEDHUB_CARDS_DIR", REPO_ROOT / "model_cards"))


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
    heads: list[dict[str, Any]] | None = None  # graded heads as the card lists them (medhub/graded.py)
    grade_note: dict[str, str] | None = None  # {en, ko}: what the grades of a graded model mean
    cross_collection: dict[str, Any] | None = None  # measured by `python -m medhub cross-collection`
    robustness: dict[str, Any] | None = None  # measured by `python -m medhub robustness`
    scope: Any = None  # medhub.scope.ScopeSpec, or None for a card without a fitted scope check
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


def parse_card(text: str, path: Path | None = None) -> ModelCard:
    """Parse and validate one card; raises CardError naming the card file and the problem.

    The `medhub:` block is checked against the schema first (`medhub/card_schema.py`: unknown keys,
    `schema_version`, types), then against what needs the hub's registries or several keys at once."""
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
    cid = m.id

    files = tuple(WeightFile(name=f.name, sha256=f.sha256.lower()) for f in m.hub.files)
    inp = m.input
    size = [inp.size, inp.size] if isinstance(inp.size, int) else list(inp.size)
    if len(size) == 1:
        size = size * 2
    window = inp.ct_window
    contract = InputContract(
        modality=inp.modality,
        size=(int(size[0]), int(size[1])),
        channels=inp.channels,
        mean=tuple(float(v) for v in inp.mean),  # type: ignore[arg-type]
        std=tuple(float(v) for v in inp.std),  # type: ignore[arg-type]
        resize=inp.resize,
        prescale=inp.prescale,
        dicom=inp.dicom,
        ct_window=CTWindow(float(window.center), float(window.width)) if window else None,
        dicom_window=inp.dicom_window,
    )
    _check_dicom_window(contract, where)

    labels = tuple(
        Label(id=lab.id, en=lab.en, ko=lab.ko, aliases=tuple(lab.aliases), grade=lab.grade) for lab in m.labels
    )
    ids = [label.id for label in labels]
    if len(set(ids)) != len(ids):
        raise CardError(f"{where}: label ids repeat")

    output = m.output
    if output == "graded_heads":
        from medhub.graded import parse_heads

        parse_heads(raw.get("heads"), where)  # per-symptom heads, grades, bins
    positive, threshold = m.positive_class, m.threshold
    if positive is not None and positive not in ids:
        raise CardError(f"{where}: positive_class '{positive}' is not a label")
    if len(labels) == 2 and (positive is None or threshold is None):
        raise CardError(f"{where}: a binary model needs positive_class and threshold")

    for section in REQUIRED_BODY_SECTIONS:
        if not re.search(rf"^#+\s*{re.escape(section)}", body, flags=re.MULTILINE | re.IGNORECASE):
            raise CardError(f"{where}: the body has no '{section}' section")

    from medhub.scope import ScopeError, ScopeSpec

    try:
        scope = ScopeSpec.from_card(raw.get("scope"), where)
    except ScopeError as err:
        raise CardError(str(err)) from None
    if scope is not None and scope.file not in [f.name for f in files]:
        raise CardError(f"{where}: the scope file {scope.file} is not listed under medhub.hub.files")
    from medhub.disclaimers import DOMAINS

    if m.disclaimer not in DOMAINS:
        raise CardError(f"{where}: disclaimer must be one of {sorted(DOMAINS)}")
    from medhub.result_extras import REGISTRY

    unknown = [name for name in m.result_extras if name not in REGISTRY]
    if unknown:
        raise CardError(f"{where}: unknown result_extras {unknown} (known: {sorted(REGISTRY)})")
    card = ModelCard(
        id=cid,
        title={"en": m.title.en, "ko": m.title.ko},
        framework=m.framework,
        architecture=m.architecture,
        repo_id=m.hub.repo_id,
        revision=m.hub.revision,
        files=files,
        input=contract,
        output=output,
        labels=labels,
        positive_class=positive,
        threshold=float(threshold) if threshold is not None else None,
        gradcam_layer=m.gradcam_layer,
        metrics=dict(raw["metrics"]),
        license=str(m.license or meta.get("license") or ""),
        body=body,
        path=path or Path(f"{cid}.md"),
        schema_version=m.schema_version,
        backbone=m.backbone,
        heads=list(raw["heads"]) if raw.get("heads") is not None else None,
        grade_note={"en": m.grade_note.en, "ko": m.grade_note.ko} if m.grade_note else None,
        scope=scope,
        cross_collection=dict(raw["cross_collection"]) if raw.get("cross_collection") is not None else None,
        robustness=dict(raw["robustness"]) if raw.get("robustness") is not None else None,
        disclaimer_domain=m.disclaimer,
        result_extras=tuple(m.result_extras),
        heatmap_class=m.heatmap_class,
        tta=m.tta,
        tab=m.tab or cid,
        order=m.order,
        tab_title={"en": m.tab_title.en, "ko": m.tab_title.ko} if m.tab_title else None,
        targets=dict(m.targets) if m.targets else None,
    )
    if not card.license:
        raise CardError(f"{where}: missing licence")
    card.weights_file  # noqa: B018  (validates that the weights file is listed)
    return card


def _check_dicom_window(contract: InputContract, where: str) -> None:
    """A DICOM card names the window its uploads are rendered with by default; it must be the
    window the model was trained on (`input.ct_window`) when that is a preset."""
    if not contract.dicom:
        if contract.dicom_window is not None:
            raise CardError(f"{where}: input.dicom_window is set but input.dicom is false")
        return
    from medhub.dicom import WINDOW_CHOICES, WINDOW_PRESETS

    if contract.dicom_window is None:
        raise CardError(
            f"{where}: a DICOM card (input.dicom: true) needs input.dicom_window, the window uploads are "
            f"rendered with by default (one of {', '.join(WINDOW_CHOICES)})"
        )
    preset = WINDOW_PRESETS.get(contract.dicom_window)
    trained = contract.ct_window
    if preset is not None and trained is not None and preset != (trained.center, trained.width):
        raise CardError(
            f"{where}: input.dicom_window '{contract.dicom_window}' (C {preset[0]:g} / W {preset[1]:g}) is not "
            f"the window the model was trained on, input.ct_window (C {trained.center:g} / W {trained.width:g})"
        )


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
