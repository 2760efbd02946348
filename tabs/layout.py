"""The generic, card-driven tab: everything a tab shows comes from its model card.

`build_tab(card, hooks, ui, lang, samples)` lays out one tab (upload, Analyse, probabilities, the
model-input image beside the Grad-CAM overlay, an opacity slider, the decision with its threshold, the
disclaimer, the model card and its metrics, a sample gallery) and wires its events
(`tabs.wiring.wire_tab`): one public API event, `/predict_<id>`, that returns exactly (Label value,
overlay image, JSON summary). What a tab adds beyond that comes from what its card asks for
(`tabs.views.hooks_for`: a view per result extra, the DICOM window selector for a DICOM card).
"""

from __future__ import annotations

import gradio as gr

from medhub.cards import ModelCard
from medhub.i18n import t
from medhub.imaging import upload_file_types
from medhub.pipeline import DEFAULT_OPACITY
from tabs.hooks import TabHooks
from tabs.localise import Localiser
from tabs.parts import IMAGE_FORMAT, TabParts, page_label
from tabs.status import status_markdown
from tabs.texts import (
    card_english_markdown,
    card_korean_markdown,
    disclaimer_html,
    intro_markdown,
    metrics_markdown,
    placeholder_markdown,
    read_first_markdown,
)
from tabs.wiring import wire_tab

__all__ = ["IMAGE_FORMAT", "TabParts", "build_tab", "page_label", "tta_inputs"]


def tta_inputs(card: ModelCard, ui: Localiser) -> list[tuple[str, gr.components.Component]]:
    """The test-time augmentation checkbox (API parameter `tta`), for a card with `tta: true`."""
    if not card.tta:
        return []
    tta = gr.Checkbox(value=False, label=ui.api_text("tta.label"), elem_id=f"tta-{card.id}")
    ui.label(tta, "tta.label")
    return [("tta", tta)]


def build_tab(card: ModelCard, hooks: TabHooks, ui: Localiser, lang: gr.Radio, samples: list) -> TabParts:
    """Lay out one tab inside the current gr.Tab and wire its events. Returns its parts."""
    status = gr.Markdown(status_markdown(card, "en"), elem_classes=["medhub-status"])
    ui.value(gr.Markdown(ui.text(f"intro.{card.id}")), lambda lg: intro_markdown(card, lg))

    with gr.Row(equal_height=False):
        with gr.Column(scale=2, min_width=300):
            types = upload_file_types(card.input.dicom)  # any file name: the input gate decides by content
            upload_key = "upload.label_dicom" if card.input.dicom else "upload.label"
            file = ui.label(
                gr.File(label=ui.api_text(upload_key), type="filepath", file_types=types, file_count="single",
                        height=170, elem_id=f"file-{card.id}"),
                upload_key,
            )
            image_url = ui.label(
                gr.Textbox(value="", label=ui.api_text("url.label"), placeholder="https://...", max_lines=1,
                           elem_id=f"url-{card.id}"),
                "url.label",
            )
            named_inputs = tta_inputs(card, ui) + hooks.build_inputs(card, ui)
            show_anyway = ui.label(
                gr.Checkbox(value=False, label=ui.api_text("scope.toggle"), elem_id=f"anyway-{card.id}"),
                "scope.toggle",
            )
            button = ui.value(
                gr.Button(ui.text("analyse.button"), variant="primary", elem_id=f"analyse-{card.id}"),
                lambda lg: t("analyse.button", lg),
            )
            gallery = None
            if samples:
                gallery = gr.Gallery(
                    value=[(s.thumb, s.caption("en")) for s in samples], label=ui.text("samples.label"),
                    columns=3, height="auto", allow_preview=False, object_fit="cover", buttons=[],
                    interactive=False, elem_id=f"samples-{card.id}",
                )
                # captions in one language: two do not fit under a thumbnail
                ui.add(gallery, lambda lg: gr.update(label=t("samples.label", lg),
                                                     value=[(s.thumb, s.caption(lg)) for s in samples]))
        with gr.Column(scale=3, min_width=320):
            # The card's own "Read this first" stays on screen beside the result, not only in the
            # collapsed card below.
            if read_first_markdown(card, "en"):
                ui.value(gr.Markdown(read_first_markdown(card, "en"), elem_id=f"readfirst-{card.id}"),
                         lambda lg: read_first_markdown(card, lg))
            # The endpoint's Label, keyed by label id (the API's answer); hidden: the page shows the
            # same probabilities under display names in `label`, drawn by the private render step.
            api_label = gr.Label(label=ui.api_text("probs.label"), num_top_classes=len(card.labels),
                                 show_heading=False, visible=False, elem_id=f"probs-api-{card.id}")
            label = ui.label(
                # No heading: gr.Label would head it with the most probable class, but a binary model's
                # decision follows the card's threshold (P = 0.45 >= 0.43 is positive); the decision
                # sentence right below says it with its rule.
                gr.Label(label=ui.api_text("probs.label"), num_top_classes=len(card.labels),
                         show_heading=False,
                         elem_id=f"probs-{card.id}"),
                "probs.label",
            )
            placeholder = placeholder_markdown(card, "en")
            # A plain string, not a gr.I18n key: the front end re-translates a key-valued component when its
            # locale changes (the language radio, issue 21), which would overwrite a result drawn since.
            decision = gr.Markdown(placeholder, elem_id=f"decision-{card.id}")
            with gr.Row():
                model_input = ui.label(
                    gr.Image(label=ui.text("input.label"), type="numpy", format=IMAGE_FORMAT, interactive=False,
                             height=300, elem_id=f"input-{card.id}"),
                    "input.label",
                )
                overlay = ui.label(
                    gr.Image(label=ui.api_text("overlay.label"), type="numpy", format=IMAGE_FORMAT,
                             interactive=False,
                             height=300, elem_id=f"overlay-{card.id}"),
                    "overlay.label",
                )
            opacity = ui.label(
                gr.Slider(0.0, 1.0, value=DEFAULT_OPACITY, step=0.05, label=ui.api_text("opacity.label"),
                          elem_id=f"opacity-{card.id}"),
                "opacity.label",
            )
            hook_outputs = hooks.build_outputs(card, ui)
            ui.value(gr.HTML(disclaimer_html("en", card.disclaimer_domain)),
                     lambda lg: disclaimer_html(lg, card.disclaimer_domain))
            with gr.Accordion(ui.text("summary.label"), open=False) as acc_json:
                summary = gr.JSON(label="Summary", show_label=False)
            ui.label(acc_json, "summary.label")

    with gr.Accordion(ui.text("card.accordion"), open=False) as acc_card:
        ui.value(gr.Markdown(metrics_markdown(card, "en")), lambda lg: metrics_markdown(card, lg))
        # the Korean summary on the Korean page; the English card below never changes with the language
        ui.add(gr.Markdown(visible=False), lambda lg: _shown_if_any(card_korean_markdown(card, lg)))
        gr.Markdown(card_english_markdown(card))
    ui.label(acc_card, "card.accordion")

    state = gr.State(None)
    parts = TabParts(
        card=card, hooks=hooks, file=file, button=button,
        option_names=[name for name, _ in named_inputs], options=[c for _, c in named_inputs],
        label=label, api_label=api_label, model_input=model_input, overlay=overlay, opacity=opacity, show_anyway=show_anyway,
        summary=summary,
        decision=decision, hook_outputs=hook_outputs, state=state, status=status, gallery=gallery,
        samples=[s.path for s in samples], image_url=image_url,
    )
    wire_tab(parts, lang)
    hooks.wire(card, parts)
    return parts


def _shown_if_any(text: str) -> dict:
    """A Markdown's update: this text, visible only when there is any."""
    return gr.update(value=text, visible=bool(text))
