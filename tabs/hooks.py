"""What one model's tab adds to the generic tab: `TabHooks`, subclassed in `tabs/<id>.py`.

The generic tab (`tabs.layout.build_tab`) calls these hooks to build extra inputs (e.g. the CT
window), to turn their values into options for the pipeline (`decode_options`, `analyse_options`),
to build and fill extra outputs (`build_outputs`, `render`) and to wire UI-only events (`wire`).
The numbers a tab shows are computed in the core from the card's `result_extras`
(`medhub.result_extras.ResultExtras`); a hook only renders them. A tab's hooks are registered by card
id in `tabs.TAB_HOOKS`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import gradio as gr

from medhub.cards import ModelCard
from medhub.result_extras import ResultExtras
from tabs.localise import Localiser

if TYPE_CHECKING:
    from tabs.layout import TabParts


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
