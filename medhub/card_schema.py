"""The schema of a model card's `medhub:` block (pydantic v2).

`medhub/cards.py` validates every card against `MedhubBlock` when it reads it: an unknown key is an
error (a misspelt `heatmap_clas:` would otherwise be ignored silently), every key has a type, and
`schema_version` says which version of this schema the card was written for (today: 1). A card
writer (`training/write_card.py`, `training/brain_hemorrhage_card.py`,
`training/scalp_microscope_card.py`) emits `schema_version: SCHEMA_VERSION`.

What the schema does not check needs the hub's registries or several keys at once (a disclaimer
domain, a result extra, a label named by `positive_class`, graded heads' bins, a scope fit's file);
`medhub/cards.py` checks those after the schema.

Blocks that are measured tables written by commands (`scope` by `training/fit_scope.py`,
`cross_collection` by `python -m medhub cross-collection`, `robustness` by `python -m medhub
robustness`) are typed as mappings only: their presence is declared here, their content belongs to
the command that writes them (`medhub/scope.py` validates `scope`). The same holds for `metrics`
beyond the keys every card needs (`dataset`, `split`, `n`), and for the entries of `heads`, which
`medhub/graded.py` validates (grades against bins).

Changing the schema in a way an old card cannot satisfy means raising SCHEMA_VERSION, teaching
`cards.py` to read both versions or rewriting every card (`medhub/cardblocks.py` `update_card_file`).
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

SCHEMA_VERSION = 1
FRAMEWORKS = ("torch", "keras")
OUTPUTS = ("softmax", "graded_heads")  # graded_heads: see medhub/graded.py

# The CT window presets (medhub/dicom.py WINDOW_PRESETS) plus "file" (the window stored in the DICOM
# file). Kept as a literal list so the schema needs no DICOM import; tests/test_cards.py checks it
# against medhub.dicom.WINDOW_CHOICES.
DICOM_WINDOWS = ("brain", "subdural", "stroke", "bone", "file")


class _Block(BaseModel):
    # strict: YAML already gives numbers, booleans and strings their types; "1" is not 1, and a
    # sha256 of digits only that YAML read as a number is refused rather than turned into a string.
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


class Bilingual(_Block):
    en: str = Field(min_length=1)
    ko: str = Field(min_length=1)


class HubFile(_Block):
    name: str = Field(min_length=1)
    sha256: str = Field(pattern=r"^[0-9a-fA-F]{64}$")


class Hub(_Block):
    repo_id: str = Field(min_length=1)
    revision: str = Field(min_length=1)
    files: list[HubFile] = Field(min_length=1)


class CTWindowBlock(_Block):
    center: float
    width: float = Field(ge=1)


class InputBlock(_Block):
    modality: str = Field(min_length=1)
    size: int | list[int]  # one side, or [height, width]
    channels: int = Field(ge=1)
    mean: list[float] = Field(min_length=3, max_length=3)
    std: list[float] = Field(min_length=3, max_length=3)
    resize: Literal["squash", "center_crop"] = "squash"
    # Longest side an image is first brought down to (INTER_AREA), before the resize to `size`:
    # every source then reaches the model at the training collection's resolution, so resolution
    # cannot become a shortcut between collections (HAM10000 is 200x150).
    prescale: int | None = Field(default=None, ge=16)
    dicom: bool = False
    # The CT window the model was trained on (documentation of the training preprocessing).
    ct_window: CTWindowBlock | None = None
    # The window a DICOM upload is rendered with when the caller names none (the app's default
    # choice, `python -m medhub predict` without --window, `evaluate`, the bench): a preset name
    # of medhub/dicom.py or "file". Required when `dicom` is true.
    dicom_window: Literal[DICOM_WINDOWS] | None = None  # type: ignore[valid-type]

    @field_validator("size")
    @classmethod
    def _size(cls, v: int | list[int]) -> int | list[int]:
        sides = [v] if isinstance(v, int) else v
        if len(sides) not in (1, 2) or any(s <= 0 for s in sides):
            raise ValueError("size is one positive side or [height, width]")
        return v

    @field_validator("std")
    @classmethod
    def _std(cls, v: list[float]) -> list[float]:
        if any(s <= 0 for s in v):
            raise ValueError("input.std must be positive")
        return v


class LabelBlock(_Block):
    id: str = Field(min_length=1)
    en: str = Field(min_length=1)
    ko: str = Field(min_length=1)
    # Folder names that also count as this label when evaluating a data directory.
    aliases: list[str] = []
    # Position on a graded scale (0 good .. 3 severe).
    grade: int | None = None


class MetricsBlock(BaseModel):
    """The test figures: the keys every card needs are typed; the rest is the measured table."""

    model_config = ConfigDict(extra="allow", strict=True, frozen=True)

    dataset: str = Field(min_length=1)
    split: str = Field(min_length=1)
    n: int = Field(ge=0)


class MedhubBlock(_Block):
    """The `medhub:` mapping of a card's front matter."""

    schema_version: int  # required
    id: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    title: Bilingual
    framework: Literal[FRAMEWORKS]  # type: ignore[valid-type]
    architecture: str = Field(min_length=1)
    backbone: str | None = None  # where the pretrained backbone came from (prose)
    hub: Hub
    input: InputBlock
    output: Literal[OUTPUTS] = "softmax"  # type: ignore[valid-type]
    labels: list[LabelBlock] = Field(min_length=2)
    positive_class: str | None = None
    threshold: float | None = Field(default=None, gt=0.0, lt=1.0)
    gradcam_layer: str = Field(min_length=1)
    # Graded heads {id, en, ko, grades, bins, area_columns}: validated by medhub/graded.py
    # parse_heads (grades against bins), whose messages name the head.
    heads: list[dict[str, Any]] | None = None
    grade_note: Bilingual | None = None  # what the grades of a graded model mean
    metrics: MetricsBlock
    license: str | None = None  # else the front matter's top-level `license`
    # Behaviour in the app, the CLI and the bench:
    disclaimer: str = "general"  # a domain of medhub/disclaimers.py DOMAINS
    result_extras: list[str] = []  # names in medhub/result_extras.py REGISTRY
    heatmap_class: Literal["decision", "positive"] = "decision"
    tta: bool = False  # test-time augmentation offered: the tab's checkbox, the API's `tta`, predict --tta
    tab: str | None = None  # the tab it is served in (default: its own id)
    order: int | None = None  # position of its tab
    tab_title: Bilingual | None = None  # the title of a tab shared by several cards
    # The minimum each figure of `metrics` should reach on the test split (metric -> minimum: a key of
    # `metrics`, `recall:<label>` / `precision:<label>` / `f1:<label>`, or a dotted path into `metrics`).
    # A card whose own figures miss one carries a caution on every result (medhub/caution.py).
    targets: dict[str, float] | None = None
    # Measured by other commands (medhub/cardblocks.py OWNED_META_KEYS), typed loosely:
    scope: dict[str, Any] | None = None
    cross_collection: dict[str, Any] | None = None
    robustness: dict[str, Any] | None = None

    @field_validator("schema_version")
    @classmethod
    def _version(cls, v: int) -> int:
        if v != SCHEMA_VERSION:
            raise ValueError(f"schema_version {v} is not one this hub reads (it reads {SCHEMA_VERSION})")
        return v


def _is_type_tag(part: Any) -> bool:
    """pydantic names the member of a union in the error location ('int', 'list[int]'): not a key."""
    return isinstance(part, str) and (part in ("int", "float", "str", "bool") or "[" in part or part[:1].isupper())


def describe(err: ValidationError, where: str) -> str:
    """The problems of a `medhub:` block, each naming its key (`medhub.input.dicom_window`)."""
    problems = []
    for e in err.errors():
        key = ".".join(["medhub", *(str(p) for p in e["loc"] if not _is_type_tag(p))])
        if e["type"] == "extra_forbidden":
            problems.append(f"unknown key '{key}' (not in the card schema, medhub/card_schema.py)")
        elif e["type"] == "missing":
            hint = f" (this hub reads schema_version: {SCHEMA_VERSION})" if key == "medhub.schema_version" else ""
            problems.append(f"missing '{key}'{hint}")
        else:
            got = repr(e.get("input"))
            got = got if len(got) <= 60 else got[:57] + "..."
            msg = e["msg"].removeprefix("Value error, ")
            problems.append(f"'{key}': {msg} (got {got})")
    return f"{where}: " + "; ".join(problems)


def validate_block(raw: Any, where: str) -> MedhubBlock:
    """The validated `medhub:` block; raises ValueError (cards.py turns it into a CardError)."""
    if not isinstance(raw, dict):
        raise ValueError(f"{where}: 'medhub' must be a mapping")
    try:
        return MedhubBlock.model_validate(raw)
    except ValidationError as err:
        raise ValueError(describe(err, where)) from None
