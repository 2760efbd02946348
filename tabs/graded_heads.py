"""How the `graded_heads` result extra is shown (e.g. the scalp microscope): one row per symptom with
its grade and P(present), and the result sentence in the original project's style. The numbers come from
the core (`medhub.result_extras.graded_heads`); this only lays them out."""

from __future__ import annotations

import gradio as gr

from medhub.cards import ModelCard
from medhub.i18n import normalise_lang
from medhub.result_extras import ResultExtras
from tabs.hooks import TabHooks
from tabs.localise import Localiser


class GradedHooks(TabHooks):
    def build_outputs(self, card: ModelCard, ui: Localiser):
        return [gr.Markdown(elem_id=f"graded-{card.id}")]

    def render(self, card: ModelCard, result: ResultExtras | None, lang: str):
        data = result.ui.get("graded_heads") if result is not None else None
        if not data:
            return [""]
        lang = normalise_lang(lang)
        heads = data["heads_ko"] if lang == "ko" else data["heads"]
        head = "| 증상 | 등급 | 있을 확률 |" if lang == "ko" else "| symptom | grade | P(present) |"
        rows = [f"| {h['name']} | {h['grade']} · {h['grade_name']} | {h['p_present']:.2f} |" for h in heads]
        note = data.get(f"note_{lang}") or ""
        disagree = data.get(f"disagreement_{lang}") or ""
        # The grade column and the sentence follow the same P(present) (medhub.graded.head_grade).
        return ["\n".join([f"### {data[f'sentence_{lang}']}", "", head, "|---|---|---|", *rows, "",
                           disagree, "", f"*{note}*" if note else ""])]


Hooks = GradedHooks
