"""The components of one tab (`TabParts`) that the layout builds and the events and hooks wire to.

Kept apart from `tabs.layout` (which builds them) and `tabs.wiring` (which wires them), so that both,
and the hooks, import it and not each other."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import gradio as gr

from medhub.cards import ModelCard
from medhub.i18n import normalise_lang, t
from tabs.output_files import image_file
from tabs.status import status_markdown
from tabs.texts import decision_text

if TYPE_CHECKING:
    from tabs.hooks import TabHooks

# Output images are sent as JPEG: Gradio encodes every numpy image it returns (no quality option:
# Pillow's default 75). PNG cost 21-49 ms per request and WebP 4-11 ms on the same overlays
# (docs/BENCHMARKS.md); on one 1600 x 1200 overlay Pillow's JPEG encoder was ~20x faster than WebP
# and ~90x faster than PNG (measured in process, loaded machine; the ratios are what count).
IMAGE_FORMAT = "jpeg"


@dataclass
class TabParts:
    """The components of one tab that the app and the hooks wire events to."""

    card: ModelCard
    hooks: TabHooks
    file: gr.File
    button: gr.Button
    option_names: list[str]
    options: list[gr.components.Component]
    label: gr.Label
    model_input: gr.Image
    overlay: gr.Image
    opacity: gr.Slider
    show_anyway: gr.Checkbox
    summary: gr.JSON
    decision: gr.Markdown
    hook_outputs: list[gr.components.Component]
    state: gr.State
    status: gr.Markdown
    gallery: gr.Gallery | None = None
    samples: list[str] = field(default_factory=list)

    @property
    def result_outputs(self) -> list:
        """The language-dependent result components (redrawn by `render_result`)."""
        return [self.model_input, self.decision, *self.hook_outputs, self.status]

    def render_result(self, state: dict[str, Any] | None, lang: str) -> list[Any]:
        lang = normalise_lang(lang)
        if not state:
            return [None, t("result.placeholder", lang), *self.hooks.render(self.card, None, lang),
                    status_markdown(self.card, lang)]
        return [
            image_file(state["image"], "input"),
            decision_text(state["summary"], self.card, lang),
            *self.hooks.render(self.card, state["result_extras"], lang),
            status_markdown(self.card, lang),
        ]
