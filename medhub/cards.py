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
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

REPO_ROOT = Path(__file__).resolve().parent.parent
CARDS_DIR = Path(os.environ.get("MEDHUB_CARDS_DIR", REPO_ROOT / "model_cards"))


FRAMEWORKS = ("torch", "keras")
OUTPUTS = ("softmax", "graded_heads")  # graded_heads: see medhub/graded.py
_SHA256 = re.compile(r"^[0-9a-f]{64}$")
_ID = re.compile(r"^[a-z][a-z0-9_]*$")
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
    dicom: bool = False
    ct_window: CTWindow | None = None


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
    extra: dict[str, Any] = field(default_factory=dict)
    scope: Any = None  # medhub.scope.ScopeSpec, or None for a card without a fitted scope check
    disclaimer_domain: str = "general"  # medhub.disclaimers: which domain's disclaimer the results carry
    result_extras: tuple[str, ...] = ()  # medhub.result_extras: what a result adds (region, ABCD, ...)
    heatmap_class: str = "decision"  # which class the heat map explains: "decision" or "positive"
    tab: str = ""  # the app tab this card is served in (default: its own id; several cards may share one)
    order: int | None = None  # position of its tab in the app (lower first)
    tab_title: dict[str, str] | None = None  # {en, ko}: the title of a tab shared by several cards

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


def _need(mapping: dict[str, Any], key: str, where: str) -> Any:
    if key not in mapping or mapping[key] in (None, ""):
        raise CardError(f"{where}: missing '{key}'")
    return mapping[key]


def _triple(value: Any, where: str) -> tuple[float, float, float]:
    if not (isinstance(value, (list, tuple)) and len(value) == 3):
        raise CardError(f"{where}: expected three numbers")
    return tuple(float(v) for v in value)  # type: ignore[return-value]


def parse_card(text: str, path: Path | None = None) -> ModelCard:
    """Parse and validate one card; raises CardError naming the first problem found."""
    meta, body = split_front_matter(text)
    where = str(path or "card")
    m = _need(meta, "medhub", where)
    cid = _need(m, "id", where)
    if not _ID.match(cid):
        raise CardError(f"{where}: id '{cid}' must be lower_snake_case")
    where = f"{where} ({cid})"

    title = _need(m, "title", where)
    if not (isinstance(title, dict) and title.get("en") and title.get("ko")):
        raise CardError(f"{where}: title needs 'en' and 'ko'")

    framework = _need(m, "framework", where)
    if framework not in FRAMEWORKS:
        raise CardError(f"{where}: framework must be one of {FRAMEWORKS}")

    hub = _need(m, "hub", where)
    files = tuple(
        WeightFile(name=_need(f, "name", where), sha256=str(_need(f, "sha256", where)).lower())
        for f in _need(hub, "files", where)
    )
    for f in files:
        if not _SHA256.match(f.sha256):
            raise CardError(f"{where}: sha256 of {f.name} is not 64 hex digits")

    inp = _need(m, "input", where)
    size = _need(inp, "size", where)
    if isinstance(size, int):
        size = [size, size]
    window = inp.get("ct_window")
    contract = InputContract(
        modality=_need(inp, "modality", where),
        size=(int(size[0]), int(size[1])),
        channels=int(_need(inp, "channels", where)),
        mean=_triple(_need(inp, "mean", where), f"{where} input.mean"),
        std=_triple(_need(inp, "std", where), f"{where} input.std"),
        resize=inp.get("resize", "squash"),
        dicom=bool(inp.get("dicom", False)),
        ct_window=CTWindow(float(window["center"]), float(window["width"])) if window else None,
    )
    if contract.resize not in ("squash", "center_crop"):
        raise CardError(f"{where}: input.resize must be 'squash' or 'center_crop'")
    if any(s <= 0 for s in contract.std):
        raise CardError(f"{where}: input.std must be positive")

    labels = []
    for raw in _need(m, "labels", where):
        labels.append(
            Label(
                id=_need(raw, "id", where),
                en=_need(raw, "en", where),
                ko=_need(raw, "ko", where),
                aliases=tuple(raw.get("aliases", ()) or ()),
                grade=raw.get("grade"),
            )
        )
    if len(labels) < 2:
        raise CardError(f"{where}: a classifier needs at least two labels")
    ids = [label.id for label in labels]
    if len(set(ids)) != len(ids):
        raise CardError(f"{where}: label ids repeat")

    output = m.get("output", "softmax")
    if output not in OUTPUTS:
        raise CardError(f"{where}: output must be one of {OUTPUTS}")
    if output == "graded_heads":
        from medhub.graded import parse_heads

        parse_heads(m.get("heads"), where)  # per-symptom heads, grades, bins
    positive = m.get("positive_class")
    threshold = m.get("threshold")
    if positive is not None and positive not in ids:
        raise CardError(f"{where}: positive_class '{positive}' is not a label")
    if len(labels) == 2:
        if positive is None or threshold is None:
            raise CardError(f"{where}: a binary model needs positive_class and threshold")
    if threshold is not None and not (0.0 < float(threshold) < 1.0):
        raise CardError(f"{where}: threshold must lie strictly between 0 and 1")

    metrics = _need(m, "metrics", where)
    for key in ("dataset", "split", "n"):
        _need(metrics, key, f"{where} metrics")

    for section in REQUIRED_BODY_SECTIONS:
        if not re.search(rf"^#+\s*{re.escape(section)}", body, flags=re.MULTILINE | re.IGNORECASE):
            raise CardError(f"{where}: the body has no '{section}' section")

    from medhub.scope import ScopeError, ScopeSpec

    try:
        scope = ScopeSpec.from_card(m.get("scope"), where)
    except ScopeError as err:
        raise CardError(str(err)) from None
    if scope is not None and scope.file not in [f.name for f in files]:
        raise CardError(f"{where}: the scope file {scope.file} is not listed under medhub.hub.files")
    from medhub.disclaimers import DOMAINS

    domain = str(m.get("disclaimer") or "general")
    if domain not in DOMAINS:
        raise CardError(f"{where}: disclaimer must be one of {sorted(DOMAINS)}")
    from medhub.result_extras import REGISTRY

    result_extras = tuple(m.get("result_extras") or ())
    unknown = [name for name in result_extras if name not in REGISTRY]
    if unknown:
        raise CardError(f"{where}: unknown result_extras {unknown} (known: {sorted(REGISTRY)})")
    heatmap_class = str(m.get("heatmap_class") or "decision")
    if heatmap_class not in ("decision", "positive"):
        raise CardError(f"{where}: heatmap_class must be 'decision' or 'positive'")
    known = {
        "id",
        "title",
        "framework",
        "architecture",
        "hub",
        "input",
        "output",
        "labels",
        "positive_class",
        "threshold",
        "gradcam_layer",
        "metrics",
        "license",
        "scope",
        "disclaimer",
        "result_extras",
        "heatmap_class",
        "tab",
        "order",
        "tab_title",
    }
    card = ModelCard(
        id=cid,
        title={"en": title["en"], "ko": title["ko"]},
        framework=framework,
        architecture=_need(m, "architecture", where),
        repo_id=_need(hub, "repo_id", where),
        revision=str(_need(hub, "revision", where)),
        files=files,
        input=contract,
        output=output,
        labels=tuple(labels),
        positive_class=positive,
        threshold=float(threshold) if threshold is not None else None,
        gradcam_layer=_need(m, "gradcam_layer", where),
        metrics=dict(metrics),
        license=str(m.get("license") or meta.get("license") or ""),
        body=body,
        path=path or Path(f"{cid}.md"),
        extra={k: v for k, v in m.items() if k not in known},
        scope=scope,
        disclaimer_domain=domain,
        result_extras=result_extras,
        heatmap_class=heatmap_class,
        tab=str(m.get("tab") or cid),
        order=int(m["order"]) if m.get("order") is not None else None,
        tab_title=dict(m["tab_title"]) if isinstance(m.get("tab_title"), dict) else None,
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


def _fmt(value: Any) -> str:
    return "n/a" if value is None else f"{float(value):.3f}"


def _cross_collection_cell(card: ModelCard) -> str:
    """Per collection of the card's `cross_collection` key: AUROC, or the recall of the one class
    present, with n; collections the model never trained on are marked 'unseen'."""
    cc = card.extra.get("cross_collection") or {}
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
