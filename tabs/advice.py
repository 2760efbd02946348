"""How the `see_a_doctor_soon` result extra is shown (e.g. the shingles tab): a plain-language note,
with every result, to see a doctor promptly (antivirals work best when started early, within about
72 hours of the rash)."""

from __future__ import annotations

import gradio as gr

from medhub.cards import ModelCard
from medhub.i18n import t
from medhub.result_extras import ResultExtras
from tabs.hooks import TabHooks
from tabs.localise import Localiser


class AdviceHooks(TabHooks):
    def build_outputs(self, card: ModelCard, ui: Localiser):
        return [gr.Markdown(elem_id=f"advice-{card.id}", elem_classes=["medhub-advice"])]

    def render(self, card: ModelCard, result: ResultExtras | None, lang: str):
        # Shown before any result too: the advice does not depend on what the model says.
        return [t("shingles.note", lang)]


Hooks = AdviceHooks
