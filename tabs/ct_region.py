"""How the `ct_region` result extra is shown (e.g. the head-CT tab): safe DICOM header fields, and
where the Grad-CAM peak lies (a cell of a 3 x 3 grid over the head, or outside the head) with a
confidence-dependent sentence. (The CT
window selector of a DICOM card is `tabs/dicom_window.py`, for any DICOM card.)

The heat map explains the positive class (hemorrhage) whatever the decision, as the originating
project did: the question a teacher asks of the map is "where does the model see bleeding?".
The overlay is drawn on the windowed slice, which is also what the model read.
"""

from __future__ import annotations

import gradio as gr

from medhub.cards import ModelCard
from medhub.i18n import t

# DICOM header fields shown to users (safe_meta in medhub.dicom never holds patient identifiers).
from medhub.result_extras import CT_SHOWN_FIELDS as SHOWN_FIELDS
from medhub.result_extras import ResultExtras
from tabs.hooks import TabHooks
from tabs.localise import Localiser


class CtRegionHooks(TabHooks):
    def build_outputs(self, card: ModelCard, ui: Localiser):
        self.details = gr.Markdown(elem_id=f"details-{card.id}")
        return [self.details]

    def render(self, card: ModelCard, result: ResultExtras | None, lang: str):
        data = result.ui.get("ct_region") if result is not None else None
        if not data:
            return [""]
        # The verdict, where the hot spot is (a region of the head, or outside the head) and "not a
        # diagnosis", from the rules of medhub/result_text.py (computed in the core, ct_region).
        parts = [data.get(f"explanation_md_{lang}") or data[f"explanation_{lang}"]]
        meta = data.get("dicom")
        if meta:
            rows = [f"| {t('ct.field.' + k, lang)} | {meta[k]} |" for k in SHOWN_FIELDS if k in meta]
            head = f"| {t('ct.field', lang)} | {t('ct.value', lang)} |"
            parts.append("\n".join([f"**{t('ct.header', lang)}**", "", head, "|---|---|", *rows]))
        return ["\n\n".join(parts)]


Hooks = CtRegionHooks
