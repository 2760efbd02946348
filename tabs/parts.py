"""The components of one tab (`TabParts`) that the layout builds and the events and hooks wire to.

Kept apart from `tabs.layout` (which builds them) and `tabs.wiring` (which wires them), so that both,
and the hooks, import it and not each other."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import gradio as gr

from medhub.cards import ModelCard
from medhub.i18n import normalise_lang
from tabs.localise import label_names
from tabs.output_files import image_file
from tabs.status import status_markdown
from tabs.texts import decision_text, placeholder_markdown

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
    label: gr.Label  # the page's class bars, under display names (drawn by render_result)
    api_label: gr.Label  # the endpoint's Label output, keyed by label id (hidden)
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
    image_url: gr.Textbox | None = None  # an http(s) URL instead of an upload (API parameter `image_url`)

    @property
    def result_outputs(self) -> list:
        """The result components the page draws from the state (redrawn by `render_result`; the first,
        the model-input image, does not change with the language)."""
        return [self.model_input, self.label, self.decision, *self.hook_outputs, self.status]

    def render_result(self, state: dict[str, Any] | None, lang: str) -> list[Any]:
        lang = normalise_lang(lang)
        if not state:
            return [None, None, placeholder_markdown(self.card, lang), *self.hooks.render(self.card, None, lang),
                    status_markdown(self.card, lang)]
        return [
            image_file(state["image"], "input"),
            page_label(self.card, state.get("label")),
            decision_text(state["summary"], self.card, lang),
            *self.hooks.render(self.card, state["result_extras"], lang),
            status_markdown(self.card, lang),
        ]


def page_label(card: ModelCard, by_id: dict[str, float] | None) -> dict[str, float] | None:
    """The endpoint's Label value (keyed by label id) under the bilingual display names the page shows."""
    if not by_id:
        return None
    names = label_names(card)
    return {names[lid]: p for lid, p in by_id.items()}
