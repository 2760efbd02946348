"""How the `severity` result extra is shown (e.g. the hair-loss tab): the result as a graded scale (0 good, 1 mild, 2 moderate, 3 severe) with a
one-sentence result, and a plain statement of what the model does not assess.

Grades come from the card (`grade` on each label), so a future multi-symptom model with its own
labels drops in. Shown: the grade of the decided label, and the expected grade sum(p * grade) as a
marker on the scale, which tells "clearly severe" from "between moderate and severe".
"""

from __future__ import annotations

import html

import gradio as gr

from medhub.cards import ModelCard
from medhub.i18n import t
from medhub.result_extras import ResultExtras
from tabs.hooks import TabHooks
from tabs.localise import Localiser

SCALE = (0, 1, 2, 3)  # good, mild, moderate, severe
COLOURS = ("#2e7d32", "#9e9d24", "#ef6c00", "#c62828")


from medhub.result_extras import label_grades as grades  # noqa: E402,F401


def scale_html(grade: int, expected: float, lang: str) -> str:
    """A four-step bar with the decided grade highlighted and a marker at the expected grade."""
    cells = []
    for g, colour in zip(SCALE, COLOURS, strict=True):
        active = g == grade
        style = (f"flex:1;padding:8px 4px;text-align:center;background:{colour};color:white;"
                 f"opacity:{1.0 if active else 0.35};font-weight:{700 if active else 400};"
                 f"{'outline:3px solid #111;outline-offset:-3px;' if active else ''}")
        cells.append(f'<div style="{style}">{g} · {html.escape(t(f"grade.{g}", lang))}</div>')
    left = 100.0 * (expected + 0.5) / len(SCALE)
    marker = (f'<div style="position:relative;height:16px"><div style="position:absolute;left:{left:.1f}%;'
              f'transform:translateX(-50%);font-size:14px" title="expected grade">▲</div></div>')
    return (f'<div class="medhub-scale"><div><strong>{html.escape(t("scalp.scale", lang))}</strong></div>'
            f'<div style="display:flex;gap:2px;border-radius:6px;overflow:hidden">{"".join(cells)}</div>'
            f"{marker}</div>")


from medhub.result_extras import severity_sentence as sentence  # noqa: E402,F401


class SeverityHooks(TabHooks):
    def build_outputs(self, card: ModelCard, ui: Localiser):
        return [gr.HTML(elem_id=f"scale-{card.id}"), gr.Markdown(elem_id=f"severity-{card.id}")]

    def render(self, card: ModelCard, result: ResultExtras | None, lang: str):
        note = f"*{t('scalp.not_assessed', lang)}*"
        d = result.ui.get("severity") if result is not None else None
        if not d:
            return ["", note]
        text = sentence(d["grade"], d["max_grade"], lang, d.get(f"hedge_{lang}"))
        expected = t("scalp.expected", lang, expected=d["expected_grade"], max_grade=d["max_grade"])
        return [scale_html(d["grade"], d["expected_grade"], lang), f"{text}\n\n{expected}\n\n{note}"]


Hooks = SeverityHooks
