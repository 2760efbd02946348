"""What a result means, beside it in every model tab (issue 19): predictive values at a prevalence,
an icon array, the card's calibration, and the threshold on the probability bar.

`add_teaching_panel(parts, ui, lang)` puts one panel at the foot of the tab's result column:

- a probability bar with the card's threshold drawn on it (binary cards: P(positive class) against
  the threshold, the decided class named);
- predictive values (binary cards, and multi-class cards read as one label against the rest: a
  `one_vs_rest` label in `prevalence_presets.yaml`, flagged when it is the top class; no threshold
  bar for those): a prevalence control (the presets of
  `medhub/teaching/prevalence_presets.yaml`, each with its cited source or marked illustrative, the test
  split's own prevalence, and a free value), sensitivity and specificity of the card's test split with
  their 95 % intervals, PPV and NPV, the natural-frequency sentence and an icon array of 1,000 people
  (a native scatter plot coloured true/false positive/negative). The numbers come from
  `medhub.teaching.ppv.at_prevalence`, the function `python -m medhub ppv` prints, so the tab and the
  CLI say the same. A multi-class card without `one_vs_rest` names no positive class: the panel says so;
- calibration: the reliability diagram of the card's test split (a native line plot from a DataFrame,
  `medhub.teaching.calibration`) with its ECE, and where this result's probability falls on it.

Every event here is UI-only (`api_visibility="private"`): `/predict_<id>` and the MCP tools keep their
shape. The texts go through `medhub.i18n.t` (English and Korean; glossary words). The functions that
make the panel's values are pure (card, summary, language, prevalence) and tested without a browser.
"""

from __future__ import annotations

import html
from dataclasses import dataclass
from typing import Any

import gradio as gr
import pandas as pd

from medhub.cards import ModelCard
from medhub.i18n import both, normalise_lang, t

ICON_COLUMNS = 40  # 1,000 icons as 40 x 25
ICONS_PER = 1000
CUSTOM = "custom"
# Outcome colours of the icon array: told apart without red/green (true positive dark red, missed
# purple, false alarm orange, true negative light grey).
OUTCOME_COLOURS = {"tp": "#b71c1c", "fn": "#6a1b9a", "fp": "#ef8f00", "tn": "#c5cdd3"}
OUTCOMES = ("tp", "fn", "fp", "tn")  # those with the condition first, as icon arrays group them
PRIVATE = {"api_visibility": "private", "show_progress": "hidden"}


def _pct(x: float) -> str:
    return f"{100 * x:.1f} %"


def _range(lo: float, hi: float) -> str:
    return f"{_pct(lo)} - {_pct(hi)}"


# ------------------------------------------------------------------------------ predictive values


def supports_pv(card: ModelCard) -> bool:
    """Predictive values need a binary card (or a multi-class card's `one_vs_rest` label) whose test
    metrics give sensitivity and specificity."""
    from medhub.teaching import ppv

    try:
        ppv.card_counts(card)
    except ppv.NotBinary:
        return False
    return True


def preset_choices(card: ModelCard, lang: str) -> list[tuple[str, str]]:
    """(shown text, preset id) of the prevalence control: the card's presets, then a free value."""
    from medhub.teaching import ppv

    lang = normalise_lang(lang)
    out = [(f"{p[lang] if lang in p else p['en']} · {_pct(float(p['prevalence']))}", p["id"])
           for p in ppv.presets(card)]
    return [*out, (t("pv.custom", lang), CUSTOM)]


def preset_prevalence(card: ModelCard, preset_id: str | None) -> float | None:
    from medhub.teaching import ppv

    for p in ppv.presets(card):
        if p["id"] == preset_id:
            return float(p["prevalence"])
    return None


def default_preset(card: ModelCard) -> str:
    """The test split's own prevalence, as `python -m medhub ppv` defaults to."""
    from medhub.teaching import ppv

    return ppv.presets(card)[0]["id"]


def parse_percent(value: Any) -> float | None:
    """The prevalence control's value (in %) as a fraction, or None when it is not in (0.1 %, 99.9 %)."""
    try:
        pct = float(value)
    except (TypeError, ValueError):
        return None
    if not 0.1 <= pct <= 99.9:
        return None
    return pct / 100


def _source_line(card: ModelCard, preset_id: str | None, prevalence: float, lang: str) -> str:
    from medhub.teaching import ppv

    chosen = next((p for p in ppv.presets(card) if p["id"] == preset_id), None)
    if chosen is None or abs(float(chosen["prevalence"]) - prevalence) > 5e-5:
        return t("pv.own", lang)
    if chosen.get("illustrative"):
        return t("pv.illustrative", lang)
    source = " ".join(str(chosen.get("source") or "").split())
    return t("pv.source", lang, source=source)


def pv_markdown(card: ModelCard, summary: dict[str, Any] | None, lang: str, prevalence: float | None,
                preset_id: str | None = None) -> str:
    """The predictive-value text: source of the prevalence, sens/spec with CIs, PPV/NPV, the
    natural-frequency sentence, and what it means for this image's decision."""
    from medhub.teaching import ppv

    lang = normalise_lang(lang)
    if not card.is_binary:
        try:
            if ppv.one_vs_rest(card) is None:
                return t("pv.not_binary", lang, n=len(card.labels))
        except ppv.NotBinary as err:
            return t("pv.unavailable", lang, reason=str(err))
    if prevalence is None:
        return t("pv.bad_value", lang)
    try:
        res = ppv.at_prevalence(card, prevalence)
    except (ppv.NotBinary, ValueError) as err:
        return t("pv.unavailable", lang, reason=str(err))
    se, sp = res["sensitivity"], res["specificity"]
    subj = ppv.subject(card)
    condition, unit = subj["condition"][lang], subj["unit"][lang]
    positive = res["positive_class"]
    counts = dict(sens=_pct(se["value"]), sens_ci=_range(*se["ci95"]), tp=se["successes"], n_pos=se["n"],
                  spec=_pct(sp["value"]), spec_ci=_range(*sp["ci95"]), tn=sp["successes"], n_neg=sp["n"])
    if res["threshold"] is None:  # one label against the rest: flagged when it is the top label
        rates = t("pv.rates_top", lang, condition=condition, others=len(res["negative_classes"]), **counts)
    else:
        rates = t("pv.rates", lang, threshold=f"{res['threshold']:g}", **counts)
    lines = [
        _source_line(card, preset_id, prevalence, lang),
        rates,
        t("pv.values", lang, prev=_pct(prevalence), ppv=_pct(res["ppv"]["value"]), ppv_ci=_range(*res["ppv"]["range"]),
          npv=_pct(res["npv"]["value"]), npv_ci=_range(*res["npv"]["range"])),
        res["text"][lang],
    ]
    decision = (summary or {}).get("decision")
    if summary and summary.get("probabilities") and decision is not None:
        if decision == positive:
            lines.append(t("pv.this_flagged", lang, positive=card.label(decision).name(lang), unit=unit,
                           condition=condition, ppv=_pct(res["ppv"]["value"])))
        elif res["threshold"] is None and decision in card.label_ids:
            lines.append(t("pv.this_not_top", lang, top=card.label(decision).name(lang), unit=unit,
                           condition=condition, npv=_pct(res["npv"]["value"])))
        else:
            lines.append(t("pv.this_not_flagged", lang, unit=unit, condition=condition,
                           npv=_pct(res["npv"]["value"])))
    lines.append(f"<small>{t('pv.range_note', lang)}</small>")
    return "\n\n".join(lines)


def outcome_names() -> dict[str, str]:
    """The icon array's categories, in both languages at once: Gradio's native plot keeps the colour
    domain it was first drawn with, so categories renamed on a language switch would not be drawn."""
    return {k: both(f"icons.{k}") for k in OUTCOMES}


def icon_frame(card: ModelCard, prevalence: float, per: int = ICONS_PER) -> pd.DataFrame:
    """One row per icon (x, y, outcome): `per` people at the prevalence, in the counts of
    `ppv.natural_frequencies` (the sentence's numbers), those with the condition first."""
    from medhub.teaching import ppv

    c = ppv.card_counts(card)
    f = ppv.natural_frequencies(c.sensitivity.value, c.specificity.value, prevalence, per)
    names = outcome_names()
    counts = {"tp": f.true_positive, "fn": f.false_negative, "fp": f.false_positive, "tn": f.true_negative}
    columns = ICON_COLUMNS if per >= 200 else 10
    rows_total = -(-per // columns)
    outcome = [names[k] for k in OUTCOMES for _ in range(counts[k])]
    index = range(len(outcome))
    return pd.DataFrame({
        "x": [i % columns for i in index],
        "y": [rows_total - i // columns for i in index],
        "outcome": outcome,
    })


def icon_label(card: ModelCard, prevalence: float, lang: str) -> str:
    from medhub.teaching import ppv

    lang = normalise_lang(lang)
    unit = ppv.subject(card)["unit"]
    return t("icons.label", lang, per=f"{ICONS_PER:,}", unit=unit[lang], prev=_pct(prevalence),
             counter=unit.get("ko_counter", "건"))


def icon_update(card: ModelCard, prevalence: float | None, lang: str) -> dict[str, Any]:
    if prevalence is None:
        return gr.update()
    return gr.update(value=icon_frame(card, prevalence), label=icon_label(card, prevalence, lang))


# ------------------------------------------------------------------------------------ calibration


def calibration_series() -> tuple[str, str]:
    """The diagram's two lines, named in both languages (see `outcome_names`)."""
    return both("cal.model"), both("cal.perfect")


def calibration_frame(card: ModelCard, lang: str) -> pd.DataFrame | None:
    """The reliability diagram as rows (series, confidence, accuracy, images): the model's bins and
    the diagonal of perfect calibration; None without the stored test predictions."""
    from medhub.teaching.calibration import reliability

    rel = reliability(card)
    if rel is None:
        return None
    model, perfect = calibration_series()
    rows = [{"series": perfect, "confidence": 0.0, "accuracy": 0.0, "images": 0},
            {"series": perfect, "confidence": 1.0, "accuracy": 1.0, "images": 0}]
    rows += [{"series": model, "confidence": round(b.confidence, 4), "accuracy": round(b.accuracy, 4),
              "images": b.count} for b in rel.bins]
    return pd.DataFrame(rows)


def calibration_markdown(card: ModelCard, summary: dict[str, Any] | None, lang: str) -> str:
    """The ECE (recomputed and as the card states it) and where this result falls on the diagram."""
    from medhub.teaching.calibration import PREDICTIONS_FILE, reliability, top_label_confidence

    lang = normalise_lang(lang)
    rel = reliability(card)
    card_ece = (card.metrics or {}).get("ece")
    if rel is None:
        return t("cal.missing", lang, file=f"weights/{card.id}/{PREDICTIONS_FILE}",
                 ece="-" if card_ece is None else f"{float(card_ece):.3f}")
    lines = [t("cal.ece", lang, ece=f"{rel.ece:.3f}", n=f"{rel.n:,}",
               card_ece="-" if rel.card_ece is None else f"{rel.card_ece:.3f}")]
    probs = (summary or {}).get("probabilities")
    if probs:
        try:
            decided, conf = top_label_confidence(card, probs)
        except (KeyError, TypeError, ValueError):
            decided = None
        b = rel.bin_of(conf) if decided else None
        if b is not None:
            lines.append(t("cal.this", lang, conf=f"{conf:.2f}", decided=card.label(decided).name(lang),
                           count=b.count, low=f"{b.low:.1f}", high=f"{b.high:.1f}", acc=_pct(b.accuracy)))
    return "\n\n".join(lines)


# ---------------------------------------------------------------------------- the threshold bar


def threshold_bar_html(card: ModelCard, summary: dict[str, Any] | None, lang: str) -> str:
    """P(positive class) as a bar with the card's threshold drawn on it (binary cards; else "")."""
    if not card.is_binary or card.threshold is None:
        return ""
    from medhub.result_text import compare

    lang = normalise_lang(lang)
    pos = card.label(card.positive_class)
    thr = float(card.threshold)
    probs = (summary or {}).get("probabilities")
    p = None if not probs else float(probs[card.positive_class])
    if p is None:
        text = t("bar.none", lang) if summary else t("bar.waiting", lang, threshold=f"{thr:g}", positive=pos.name(lang))
        fill, colour = 0.0, "#90a4ae"
    else:
        shown_p, op, shown_thr = compare(p, thr)
        decided = card.label(summary.get("decision") or (card.positive_class if p >= thr else
                                                          next(i for i in card.label_ids if i != card.positive_class)))
        text = t("bar.result", lang, positive=pos.name(lang), p=shown_p, op=op, threshold=shown_thr,
                 decision=decided.name(lang))
        fill, colour = p, ("#b71c1c" if p >= thr else "#1565c0")
    title = html.escape(t("bar.label", lang))
    return (
        f'<div class="medhub-pbar" id="pbar-{card.id}" data-threshold="{thr:g}" '
        f'data-p="{"" if p is None else f"{p:.6f}"}" role="img" aria-label="{html.escape(text)}">'
        f'<div style="font-size:0.85em;color:#455a64;margin-bottom:2px">{title}</div>'
        '<div style="position:relative;height:22px;background:#eceff1;border-radius:4px;'
        'border:1px solid #b0bec5;overflow:visible">'
        f'<div style="width:{100 * fill:.2f}%;height:100%;background:{colour};border-radius:3px"></div>'
        f'<div title="threshold {thr:g}" style="position:absolute;left:{100 * thr:.2f}%;top:-5px;bottom:-5px;'
        'border-left:3px solid #111"></div></div>'
        f'<div style="margin-top:4px">{html.escape(text)}</div></div>'
    )


# ------------------------------------------------------------------------------------- the panel


@dataclass
class TeachingPanel:
    card: ModelCard
    bar: gr.HTML
    preset: gr.Dropdown | None
    prevalence: gr.Number | None
    pv: gr.Markdown
    icons: gr.ScatterPlot | None
    calibration: gr.LinePlot | None
    calibration_text: gr.Markdown


def render(card: ModelCard, summary: dict[str, Any] | None, lang: str, preset_id: str | None,
           percent: Any, cause: str = "prevalence") -> list[Any]:
    """(preset, bar, pv text, icon array, calibration plot, calibration text) for one state.

    `cause` says what changed, so a plot is redrawn only when its data did: a new result touches
    neither plot; a language switch relabels them (their categories and axes are in both languages);
    a new prevalence redraws the icon array. A browser redraws a native plot whole, which is slow on
    a loaded classroom laptop, and the language switch reaches every tab at once."""
    lang = normalise_lang(lang)
    binary = supports_pv(card)
    prevalence = parse_percent(percent) if binary else None
    preset = gr.update()
    if binary and prevalence is not None and preset_id != CUSTOM:
        value = preset_prevalence(card, preset_id)
        if value is None or abs(value - prevalence) > 5e-5:
            preset = gr.update(value=CUSTOM)
    icons = calibration = gr.update()
    if binary and prevalence is not None:
        if cause == "prevalence":
            icons = icon_update(card, prevalence, lang)
        elif cause == "language":
            icons = gr.update(label=icon_label(card, prevalence, lang))
    if cause == "language":
        calibration = gr.update(label=t("cal.plot", lang))
    return [
        preset,
        threshold_bar_html(card, summary, lang),
        pv_markdown(card, summary, lang, prevalence, preset_id),
        icons,
        calibration,
        calibration_markdown(card, summary, lang),
    ]


def _result_column(parts):
    """The tab's result column (the one holding the decision sentence), to add the panel beside the result."""
    return parts.decision.parent


def add_teaching_panel(parts, ui, lang: gr.Radio) -> TeachingPanel:
    """The panel at the foot of the tab's result column, and its private events."""
    card = parts.card
    binary = supports_pv(card)
    column = _result_column(parts)
    outer = column.parent
    # build_tab has closed the column; entering it again appends to it. Gradio's __enter__ points the
    # column's parent at the current context (the tab), so the real parent is put back afterwards.
    with column:
        with gr.Accordion(t("teach.accordion", "en"), open=True, elem_id=f"teach-{card.id}") as acc:
            bar = gr.HTML(threshold_bar_html(card, None, "en"), visible=card.is_binary, padding=False,
                          elem_id=f"bar-{card.id}")
            with gr.Row(equal_height=False):
                with gr.Column(min_width=280):
                    pv_head = gr.Markdown(f"#### {t('pv.header', 'en')}")
                    preset = number = icons = None
                    if binary:
                        first = default_preset(card)
                        percent = round(100 * preset_prevalence(card, first), 2)
                        preset = gr.Dropdown(preset_choices(card, "en"), value=first, label=t("pv.preset", "en"),
                                             elem_id=f"pv-preset-{card.id}")
                        number = gr.Number(value=percent, label=t("pv.value", "en"), step=0.1,
                                           elem_id=f"pv-value-{card.id}")
                    pv = gr.Markdown(pv_markdown(card, None, "en", percent / 100 if binary else None,
                                                 first if binary else None), elem_id=f"pv-{card.id}")
                    if binary:
                        names = outcome_names()
                        icons = gr.ScatterPlot(
                            icon_frame(card, percent / 100), x="x", y="y", color="outcome",
                            color_map={names[k]: OUTCOME_COLOURS[k] for k in OUTCOMES},
                            label=icon_label(card, percent / 100, "en"), x_title=" ", y_title=" ",
                            x_lim=[-1, ICON_COLUMNS], y_lim=[0, ICONS_PER // ICON_COLUMNS + 1],
                            x_axis_labels_visible="hidden", tooltip=["outcome"], height=300,
                            elem_id=f"icons-{card.id}")
                with gr.Column(min_width=280):
                    cal_head = gr.Markdown(f"#### {t('cal.header', 'en')}")
                    frame = calibration_frame(card, "en")
                    calibration = None
                    if frame is not None:
                        model, perfect = calibration_series()
                        calibration = gr.LinePlot(frame, x="confidence", y="accuracy", color="series",
                                                  color_map={model: "#1565c0", perfect: "#9e9e9e"},
                                                  x_lim=[0, 1], y_lim=[0, 1], label=t("cal.plot", "en"),
                                                  x_title=both("cal.x"), y_title=both("cal.y"),
                                                  tooltip=["series", "confidence", "accuracy", "images"],
                                                  height=300, elem_id=f"cal-{card.id}")
                    cal_text = gr.Markdown(calibration_markdown(card, None, "en"), elem_id=f"cal-text-{card.id}")
    column.parent = outer

    ui.add(acc, lambda lg: gr.update(label=t("teach.accordion", lg)))
    ui.value(pv_head, lambda lg: f"#### {t('pv.header', lg)}")
    ui.value(cal_head, lambda lg: f"#### {t('cal.header', lg)}")
    if number is not None:
        ui.add(number, lambda lg: gr.update(label=t("pv.value", lg)))
        ui.add(preset, lambda lg: gr.update(label=t("pv.preset", lg), choices=preset_choices(card, lg)))

    panel = TeachingPanel(card, bar, preset, number, pv, icons, calibration, cal_text)
    _wire(panel, parts, lang)
    return panel


def _wire(panel: TeachingPanel, parts, lang: gr.Radio) -> None:
    card = panel.card
    dummy = gr.State(None)  # stands in for the controls a multi-class card has not got
    controls = [panel.preset or dummy, panel.prevalence or dummy]
    shown = [panel.bar, panel.pv, panel.icons or dummy, panel.calibration or dummy, panel.calibration_text]

    def on_result(summary, lg, preset_id, percent):
        return render(card, summary, lg, preset_id, percent, cause="result")[1:]

    def on_language(summary, lg, preset_id, percent):
        return render(card, summary, lg, preset_id, percent, cause="language")[1:]

    # A new result (the summary the public event returned) and a language switch redraw the panel; the
    # preset list itself is relabelled by the app's language event (ui.add), so these leave it alone.
    parts.summary.change(on_result, [parts.summary, lang, *controls], shown, **PRIVATE)
    lang.change(on_language, [parts.summary, lang, *controls], shown, **PRIVATE)
    if panel.prevalence is None:
        return

    def typed(summary, lg, preset_id, percent):
        return render(card, summary, lg, preset_id, percent)  # a value no preset has: "another value"

    panel.prevalence.change(typed, [parts.summary, lang, *controls], [panel.preset, *shown],
                            trigger_mode="always_last", **PRIVATE)

    def pick(summary, lg, preset_id, percent):
        value = preset_prevalence(card, preset_id)
        if value is None:  # "another value": keep what is typed
            return [gr.update(), *render(card, summary, lg, preset_id, percent)[1:]]
        pct = round(100 * value, 2)
        return [pct, *render(card, summary, lg, preset_id, pct)[1:]]

    panel.preset.input(pick, [parts.summary, lang, *controls], [panel.prevalence, *shown], **PRIVATE)
