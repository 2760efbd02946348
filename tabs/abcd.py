"""How the `abcd` result extra is shown (e.g. the melanoma tab): ABCD features of the lesion with its
outline (a test-time augmentation checkbox comes from a card's `tta: true`, in `tabs.layout`).

The ABCD numbers come from an OpenCV segmentation (`medhub.abcd`); they are a teaching aid shown
beside the classifier's result, not an input to it.
"""

from __future__ import annotations

import gradio as gr

from medhub.abcd import describe
from medhub.cards import ModelCard
from medhub.i18n import t
from medhub.result_extras import ResultExtras
from tabs.hooks import TabHooks
from tabs.localise import Localiser
from tabs.output_files import image_file
from tabs.parts import IMAGE_FORMAT


class AbcdHooks(TabHooks):
    def build_outputs(self, card: ModelCard, ui: Localiser):
        with gr.Row(equal_height=False):
            with gr.Column(scale=3, min_width=320):
                self.table = gr.Markdown(elem_id=f"abcd-{card.id}")
            with gr.Column(scale=2, min_width=200):
                self.outline = ui.label(
                    gr.Image(label=ui.text("abcd.outline"), type="numpy", format=IMAGE_FORMAT, interactive=False,
                             height=240, elem_id=f"outline-{card.id}"),
                    "abcd.outline",
                )
        return [self.table, self.outline]

    def render(self, card: ModelCard, result: ResultExtras | None, lang: str):
        data = result.ui.get("abcd") if result is not None else None
        if not data:
            return ["", None]
        abcd = data["abcd"]
        described = describe(abcd, lang)
        if not abcd.found:
            reason = " ".join(meaning for _, _, meaning in described)
            return [f"{t('abcd.none', lang)}\n\n{reason}", None]
        rows = [f"| {name} | {value} | {meaning} |" for name, value, meaning in described if name]
        notes = [meaning for name, _, meaning in described if not name]
        table = "\n".join([
            f"**{t('abcd.header', lang)}**", "", t("abcd.columns", lang), "|---|---|---|", *rows,
            "", " ".join([*notes, t("abcd.note", lang)]),
        ])
        return [table, image_file(data["outline"], "outline")]


Hooks = AbcdHooks
