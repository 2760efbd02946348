"""What the head-CT tab adds: a CT window selector for DICOM, safe DICOM header fields, and where
the Grad-CAM peak lies (a cell of a 3 x 3 grid over the head, or outside the head) with a
confidence-dependent sentence.

The heat map explains the positive class (hemorrhage) whatever the decision, as the originating
project did: the question a teacher asks of the map is "where does the model see bleeding?".
The overlay is drawn on the windowed slice, which is also what the model read.
"""

from __future__ import annotations

from typing import Any

import gradio as gr

from medhub.cards import ModelCard
from medhub.i18n import t
from medhub.imaging import dicom_window

# DICOM header fields shown to users (safe_meta in medhub.dicom never holds patient identifiers).
from medhub.result_extras import CT_SHOWN_FIELDS as SHOWN_FIELDS  # noqa: E402
from medhub.result_extras import ResultExtras
from tabs.hooks import TabHooks
from tabs.layout import TabParts
from tabs.localise import Localiser


def window_choices(lang: str = "en") -> list[tuple[str, str]]:
    from medhub.dicom import WINDOW_PRESETS
    from medhub.i18n import STRINGS

    def named(name: str) -> str:
        return t(f"window.{name}", lang) if f"window.{name}" in STRINGS else name

    choices = [(f"{named(name)} (C {c:g} / W {w:g})", name) for name, (c, w) in WINDOW_PRESETS.items()]
    return [*choices, (t("window.file", lang), "file")]


def looks_like_dicom(path: str | None) -> bool:
    """By content, like the input gate: the 'DICM' marker after the 128-byte preamble."""
    if not path:
        return False
    try:
        with open(path, "rb") as fh:
            head = fh.read(132)
    except OSError:
        return False
    return len(head) == 132 and head[128:132] == b"DICM"


class BrainHemorrhageHooks(TabHooks):
    def build_inputs(self, card: ModelCard, ui: Localiser):
        self.window = gr.Radio(
            # starts on the card's window (input.dicom_window), as predict, evaluate and the bench use
            window_choices("en"), value=dicom_window(card), label=ui.api_text("window.label"),
            info=ui.api_text("window.info"), visible=False, elem_id=f"window-{card.id}",
        )
        ui.add(
            self.window,
            lambda lg: gr.update(label=t("window.label", lg), info=t("window.info", lg),
                                 choices=window_choices(lg)),
        )
        return [("window", self.window)]

    def decode_options(self, card: ModelCard, options: dict[str, Any]) -> dict[str, Any]:
        return {"window": dicom_window(card, options.get("window"))}


    def build_outputs(self, card: ModelCard, ui: Localiser):
        self.details = gr.Markdown(elem_id=f"details-{card.id}")
        return [self.details]

    def render(self, card: ModelCard, result: ResultExtras | None, lang: str):
        if result is None:
            return [""]
        data = result.ui
        # The verdict, where the hot spot is (a region of the head, or outside the head) and "not a
        # diagnosis", from the rules of medhub/result_text.py (computed in the core, ct_region).
        parts = [data.get(f"explanation_md_{lang}") or data[f"explanation_{lang}"]]
        meta = data.get("dicom")
        if meta:
            rows = [f"| {t('ct.field.' + k, lang)} | {meta[k]} |" for k in SHOWN_FIELDS if k in meta]
            head = f"| {t('ct.field', lang)} | {t('ct.value', lang)} |"
            parts.append("\n".join([f"**{t('ct.header', lang)}**", "", head, "|---|---|", *rows]))
        return ["\n\n".join(parts)]

    def wire(self, card: ModelCard, tab: TabParts) -> None:
        # The window selector only matters for DICOM: show it when the chosen file is one.
        tab.file.change(
            lambda path: gr.update(visible=looks_like_dicom(path)), tab.file, self.window,
            api_visibility="private", show_progress="hidden",
        )


Hooks = BrainHemorrhageHooks
