"""What a tab adds to the generic tab: `TabHooks`, subclassed once per thing a card can ask for.

The generic tab (`tabs.layout.build_tab`) calls these hooks to build extra inputs (e.g. the CT
window), to turn their values into options for the pipeline (`decode_options`, `analyse_options`),
to build and fill extra outputs (`build_outputs`, `render`) and to wire UI-only events (`wire`).
The numbers a tab shows are computed in the core from the card's `result_extras`
(`medhub.result_extras.ResultExtras`); a hook only renders them. A tab's hooks are chosen from its
card (`tabs.views.hooks_for`: one view per result extra by name, the DICOM window selector for a DICOM
card) and composed (`ComposedHooks`), never by card id.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import gradio as gr

from medhub.cards import ModelCard
from medhub.result_extras import ResultExtras
from tabs.localise import Localiser
from tabs.parts import TabParts


class TabHooks:
    """What is special about one tab; the defaults add nothing (the skin_lesion tab uses them as is)."""

    # (parameter name, component) pairs built under the upload box; their values reach the hooks below
    # as a dict keyed by parameter name. The components need an initial value: it is the API default.
    def build_inputs(self, card: ModelCard, ui: Localiser) -> list[tuple[str, gr.components.Component]]:
        return []

    def decode_options(self, card: ModelCard, options: dict[str, Any]) -> dict[str, Any]:
        """Keyword arguments for `load_upload` besides the file (e.g. the CT window)."""
        return {}

    def analyse_options(self, card: ModelCard, options: dict[str, Any]) -> dict[str, Any]:
        """Keyword arguments for `Predictor.analyse` from the tab's inputs (e.g. tta=True)."""
        return {}

    def build_outputs(self, card: ModelCard, ui: Localiser) -> list[gr.components.Component]:
        """Extra output components, placed under the decision sentence."""
        return []

    def render(self, card: ModelCard, result: ResultExtras | None, lang: str) -> list[Any]:
        """Values for `build_outputs`' components (one per component) in `lang`; None = no result yet."""
        return []

    def wire(self, card: ModelCard, tab: TabParts) -> None:
        """Extra UI-only events (never part of the public API)."""


class ComposedHooks(TabHooks):
    """Several hooks as one, in order: inputs, options, outputs and renders are concatenated."""

    def __init__(self, parts: Iterable[TabHooks]) -> None:
        self.parts = list(parts)

    def build_inputs(self, card: ModelCard, ui: Localiser) -> list[tuple[str, gr.components.Component]]:
        return [named for part in self.parts for named in part.build_inputs(card, ui)]

    def decode_options(self, card: ModelCard, options: dict[str, Any]) -> dict[str, Any]:
        return {k: v for part in self.parts for k, v in part.decode_options(card, options).items()}

    def analyse_options(self, card: ModelCard, options: dict[str, Any]) -> dict[str, Any]:
        return {k: v for part in self.parts for k, v in part.analyse_options(card, options).items()}

    def build_outputs(self, card: ModelCard, ui: Localiser) -> list[gr.components.Component]:
        return [c for part in self.parts for c in part.build_outputs(card, ui)]

    def render(self, card: ModelCard, result: ResultExtras | None, lang: str) -> list[Any]:
        return [v for part in self.parts for v in part.render(card, result, lang)]

    def wire(self, card: ModelCard, tab: TabParts) -> None:
        for part in self.parts:
            part.wire(card, tab)
