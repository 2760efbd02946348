"""A tab's events: the public `/predict_<id>` (Analyse), and private ones (re-blend on an opacity
change, analyse a gallery sample, redraw the result texts)."""

from __future__ import annotations

from typing import Any

import gradio as gr
import numpy as np

from medhub.cards import ModelCard
from medhub.pipeline import blend, heat_on_image
from tabs.handler import analyse_event
from tabs.output_files import image_file
from tabs.parts import TabParts

# Analyses that may run at once across all models (one group): one per CPU core.
MODEL_CONCURRENCY = 2


def reblend_state(card: ModelCard, state: dict[str, Any] | None, opacity: float) -> np.ndarray | None:
    """The overlay again at another opacity from a tab's stored state (the shown image and the heat
    map at the model's input size, uint8): no model run. None when there is nothing to blend."""
    if not state or state.get("heat") is None:
        return None
    image = state["image"]
    heat = heat_on_image(state["heat"].astype(np.float32) / 255.0, image.shape[:2], card.input)
    return blend(image, heat, opacity)


def wire_tab(parts: TabParts, lang: gr.Radio) -> None:
    card = parts.card
    inputs = [parts.file, *parts.options, parts.opacity, parts.show_anyway, parts.image_url]
    # The public answer: (Label keyed by label id, overlay, summary) + the page's state; the page's
    # own Label (display names), texts and extras are drawn from the state by `render_result`.
    outputs = [parts.api_label, parts.overlay, parts.summary, parts.state]
    analyse = analyse_event(parts)
    # All analyses share one group of MODEL_CONCURRENCY workers (2 cores): measured with 8 mixed
    # clients, this cut p95 from 2.1 to 1.6 s against one worker per model (docs/BENCHMARKS.md).
    # The backends are thread-safe (their Grad-CAM holds a per-model lock).
    event = parts.button.click(
        analyse, inputs, outputs, api_name=f"predict_{card.id}", concurrency_limit=MODEL_CONCURRENCY,
        concurrency_id="models",
    )
    event.success(parts.render_result, [parts.state, lang], parts.result_outputs, api_visibility="private")

    def reblend(state, opacity):
        out = reblend_state(card, state, opacity)
        return gr.update() if out is None else image_file(out, "overlay")

    parts.opacity.change(reblend, [parts.state, parts.opacity], parts.overlay, api_visibility="private",
                         show_progress="hidden", trigger_mode="always_last")

    if parts.gallery is not None:
        paths = list(parts.samples)

        def pick(evt: gr.SelectData):
            return paths[evt.index] if evt.index is not None and 0 <= evt.index < len(paths) else None

        picked = parts.gallery.select(pick, None, parts.file, api_visibility="private",
                                      show_progress="hidden")
        picked.success(
            analyse, inputs, outputs, api_visibility="private", concurrency_limit=MODEL_CONCURRENCY,
            concurrency_id="models",
        ).success(parts.render_result, [parts.state, lang], parts.result_outputs, api_visibility="private")
