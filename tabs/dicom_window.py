"""What a tab of any DICOM card (`input.dicom: true`) adds: a CT window selector, shown when the
chosen file is a DICOM, starting on the card's `input.dicom_window` (the window its model was trained
on, as `predict`, `evaluate` and the bench use). The choice goes to the input gate as is:
`medhub.imaging.load_for_card` resolves it once per request (none chosen: the card's window)."""

from __future__ import annotations

from typing import Any

import gradio as gr

from medhub.cards import ModelCard
from medhub.dicom import WINDOW_PRESETS
from medhub.i18n import STRINGS, t
from medhub.imaging import dicom_window
from tabs.hooks import TabHooks
from tabs.localise import Localiser
from tabs.parts import TabParts


def window_choices(lang: str = "en") -> list[tuple[str, str]]:
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


class DicomWindowHooks(TabHooks):
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
        return {"window": options.get("window")}  # resolved once, by load_for_card

    def wire(self, card: ModelCard, tab: TabParts) -> None:
        # The window selector only matters for DICOM: show it when the chosen file is one.
        tab.file.change(
            lambda path: gr.update(visible=looks_like_dicom(path)), tab.file, self.window,
            api_visibility="private", show_progress="hidden",
        )


Hooks = DicomWindowHooks
