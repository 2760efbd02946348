"""The schema of a model card's `medhub:` block (pydantic v2): the card's one contract.

`medhub/cards.py` validates every card against `MedhubBlock` when it reads it: an unknown key is an
error (a misspelt `heatmap_clas:` would otherwise be ignored silently), every key has a type, and
`schema_version` says which version of this schema the card was written for (today: 1). The one card
writer, `medhub.card_io.dump_card`, emits `schema_version: SCHEMA_VERSION` and validates before it
writes.

The schema owns every check of a card, including those that name things the hub defines elsewhere:
the result extras (`RESULT_EXTRAS`, the names of `medhub/result_extras.py` REGISTRY), the disclaimer
domains (`DISCLAIMER_DOMAINS`, `medhub/disclaimers.py` DOMAINS) and the DICOM windows
(`DICOM_WINDOWS`, `medhub/dicom.py` WINDOW_CHOICES) are literal sets here, so this module imports
no feature module; `tests/test_card_contract.py` checks that each set equals the registry it mirrors.
Graded heads (grades against bins), the scope block (`medhub/scope.py` reads it), the label named
by `positive_class` and the scope file listed under `hub.files` are checked here too.

Blocks that are measured tables written by commands (`cross_collection` by `python -m medhub
cross-collection`, `robustness` by `python -m medhub robustness`, the scope block's `report`) are typed
as mappings only: their presence is declared here, their content belongs to the command that writes
them. The same holds for `metrics` beyond the keys every card needs (`dataset`, `split`, `n`).

Changing the schema in a way an old card cannot satisfy means raising SCHEMA_VERSION, teaching
`cards.py` to read both versions or rewriting every card (`medhub/cardblocks.py` `update_card_file`).
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from medhub.constants import WINDOW_PRESETS

SCHEMA_VERSION = 1
FRAMEWORKS = ("torch", "keras")
OUTPUTS = ("softmax", "graded_heads")  # graded_heads: see medhub/graded.py

# Literal sets that mirror registries defined elsewhere (tests/test_card_contract.py checks each one
# against its registry), so that the schema needs no feature module:
# the CT window presets (medhub/constants.py, medhub/dicom.py WINDOW_CHOICES) plus "file" (the window
# stored in the DICOM file);
DICOM_WINDOWS = ("brain", "subdural", "stroke", "bone", "file")
# what a result adds, by name (medhub/result_extras.py REGISTRY);
RESULT_EXTRAS = ("graded_heads", "ct_region", "abcd", "severity", "see_a_doctor_soon")
# the domains of the medical disclaimer (medhub/disclaimers.py DOMAINS);
DISCLAIMER_DOMAINS = ("general", "radiology", "dermatology", "scalp")
# how the scope check measures distance (medhub/scope.py METHODS).
SCOPE_METHODS = ("knn", "mahalanobis")


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

    @field_validator("sha256")
    @classmethod
    def _lower(cls, v: str) -> str:
        return v.lower()


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

    @property
    def height_width(self) -> tuple[int, int]:
        sides = [self.size] if isinstance(self.size, int) else list(self.size)
        return (int(sides[0]), int(sides[-1]))

    @model_validator(mode="after")
    def _dicom_window(self) -> InputBlock:
        """A DICOM card names the window its uploads are rendered with by default; it must be the
        window the model was trained on (`ct_window`) when that is a preset."""
        if not self.dicom:
            if self.dicom_window is not None:
                raise ValueError("input.dicom_window is set but input.dicom is false")
            return self
        if self.dicom_window is None:
            raise ValueError(
                "a DICOM card (input.dicom: true) needs input.dicom_window, the window uploads are "
                f"rendered with by default (one of {', '.join(DICOM_WINDOWS)})"
            )
        preset = WINDOW_PRESETS.get(self.dicom_window)
        trained = self.ct_window
        if preset is not None and trained is not None and preset != (trained.center, trained.width):
            raise ValueError(
                f"input.dicom_window '{self.dicom_window}' (C {preset[0]:g} / W {preset[1]:g}) is not the "
                f"window the model was trained on, input.ct_window (C {trained.center:g} / W {trained.width:g})"
            )
        return self

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


class HeadBlock(_Block):
    """One graded head of an `output: graded_heads` card (medhub/graded.py): a symptom graded 0..n.

    `bins` turn a labelled area fraction into the reference grade (one edge fewer than grades)."""

    id: str = Field(min_length=1)
    en: str = Field(min_length=1)
    ko: str = Field(min_length=1)
    grades: list[Bilingual] = Field(min_length=2)
    bins: list[float]
    area_columns: list[str] = []  # labels.csv columns, summed

    @model_validator(mode="after")
    def _bins(self) -> HeadBlock:
        if len(self.bins) != len(self.grades) - 1:
            raise ValueError(f"head '{self.id}': 'bins' needs {len(self.grades) - 1} edges (one fewer than grades)")
        if any(b >= c for b, c in zip(self.bins, self.bins[1:])) or self.bins[0] < 0:
            raise ValueError(f"head '{self.id}': 'bins' must increase strictly from >= 0")
        return self


def check_heads(heads: list[HeadBlock] | None) -> None:
    """The heads of a graded-heads card, together: at least one, ids unique and not 'primary'."""
    if not heads:
        raise ValueError("output 'graded_heads' needs a non-empty 'heads' list")
    ids = [h.id for h in heads]
    if len(set(ids)) != len(ids) or "primary" in ids:
        raise ValueError("head ids must be unique and not 'primary'")


class ScopeBlock(_Block):
    """The scope check's block (`medhub/scope.py`, fitted by training/fit_scope.py)."""

    file: str = Field(default="scope.safetensors", min_length=1)
    method: Literal[SCOPE_METHODS]  # type: ignore[valid-type]
    k: int = Field(default=10, ge=1)
    threshold: float
    # tuples (not strict: YAML gives lists), so that a spec is hashable and reads like the card
    accepts: tuple[str, ...] = Field(min_length=1, strict=False)
    families: tuple[str, ...] = Field(min_length=1, strict=False)
    min_family_probability: float = 0.5
    report: dict[str, Any] | None = None  # acceptance and refusal rates (python -m medhub scope-report)

    @model_validator(mode="after")
    def _accepts(self) -> ScopeBlock:
        if not set(self.accepts) <= set(self.families):
            raise ValueError("scope.accepts must name some of scope.families")
        return self


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
    # Graded heads {id, en, ko, grades, bins, area_columns} of an `output: graded_heads` card.
    heads: list[HeadBlock] | None = None
    grade_note: Bilingual | None = None  # what the grades of a graded model mean
    metrics: MetricsBlock
    license: str | None = None  # else the front matter's top-level `license`
    # Behaviour in the app, the CLI and the bench:
    disclaimer: Literal[DISCLAIMER_DOMAINS] = "general"  # type: ignore[valid-type]  # medhub/disclaimers.py
    result_extras: list[Literal[RESULT_EXTRAS]] = []  # type: ignore[valid-type]  # medhub/result_extras.py
    heatmap_class: Literal["decision", "positive"] = "decision"
    tta: bool = False  # test-time augmentation offered: the tab's checkbox, the API's `tta`, predict --tta
    tab: str | None = None  # the tab it is served in (default: its own id)
    order: int | None = None  # position of its tab
    tab_title: Bilingual | None = None  # the title of a tab shared by several cards
    # The minimum each figure of `metrics` should reach on the test split (metric -> minimum: a key of
    # `metrics`, `recall:<label>` / `precision:<label>` / `f1:<label>`, or a dotted path into `metrics`).
    # A card whose own figures miss one carries a caution on every result (medhub/caution.py).
    targets: dict[str, float] | None = None
    # Measured by other commands (medhub/cardblocks.py OWNED_META_KEYS); the scope check is typed,
    # the measured tables loosely:
    scope: ScopeBlock | None = None
    cross_collection: dict[str, Any] | None = None
    robustness: dict[str, Any] | None = None

    @field_validator("schema_version")
    @classmethod
    def _version(cls, v: int) -> int:
        if v != SCHEMA_VERSION:
            raise ValueError(f"schema_version {v} is not one this hub reads (it reads {SCHEMA_VERSION})")
        return v

    @model_validator(mode="after")
    def _together(self) -> MedhubBlock:
        """Checks of several keys at once."""
        ids = [label.id for label in self.labels]
        if len(set(ids)) != len(ids):
            raise ValueError("label ids repeat")
        if self.positive_class is not None and self.positive_class not in ids:
            raise ValueError(f"positive_class '{self.positive_class}' is not a label")
        if len(self.labels) == 2 and (self.positive_class is None or self.threshold is None):
            raise ValueError("a binary model needs positive_class and threshold")
        if self.output == "graded_heads":
            check_heads(self.heads)
        if self.scope is not None and self.scope.file not in [f.name for f in self.hub.files]:
            raise ValueError(f"the scope file {self.scope.file} is not listed under medhub.hub.files")
        return self


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
            msg = e["msg"].removeprefix("Value error, ")
            if isinstance(e.get("input"), dict):  # a check of several keys at once: no value to show
                problems.append(f"'{key}': {msg}")
                continue
            got = repr(e.get("input"))
            got = got if len(got) <= 60 else got[:57] + "..."
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
