"""What a result carries beyond the probabilities, computed in the core for the app, the CLI and the bench.

A card lists what its results add, by name, under `medhub.result_extras`; each name is one function
here, `fn(card, shown, analysis, heat) -> ResultExtras` (JSON fields for the summary, plus objects a
tab may draw, such as the lesion outline). The tab renders them by name (`tabs.views.VIEWS`), so a
card that names an extra gets its view whatever its id. The names are mirrored by the card schema's
`RESULT_EXTRAS`.

| name | adds |
|---|---|
| `ct_region` | the hot spot's region in a 3x3 grid of the head (only when the hot spot lies inside the head), the auto-written explanation, the DICOM display fields |
| `abcd` | asymmetry, border, colour, diameter of the segmented lesion (a teaching aid, not a model input) |
| `severity` | the graded scale (0 good .. 3 severe) from the labels' `grade`, and the result sentence |
| `see_a_doctor_soon` | the shingles advice (antivirals work best within about 72 hours) |
| `graded_heads` | per-symptom grades (0-3) of a `graded_heads` card, the sentence "Your scalp shows ...", and whether the overall grade agrees with the worst symptom |
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from medhub import registry
from medhub.abcd import compute_abcd, draw_outline
from medhub.cards import ModelCard
from medhub.caution import card_caution
from medhub.explain import INSIDE_HEAD_SHARE, brain_mask, hemorrhage_explanation, hot_spot_share, peak_region
from medhub.graded import card_heads, graded_summary, predict_heads
from medhub.i18n import t
from medhub.result_text import band_for

CT_SHOWN_FIELDS = ("modality", "body_part", "slice_thickness_mm", "window", "rows", "columns", "transfer_syntax")
SEVERITY_SCALE = (0, 1, 2, 3)  # good, mild, moderate, severe


@dataclass
class ResultExtras:
    """JSON fields for the API summary and data for a tab's own outputs (`compute` keys `ui` by the
    extra's name: `ui["severity"]` is what the severity view draws)."""

    json: dict[str, Any] = field(default_factory=dict)
    ui: dict[str, Any] = field(default_factory=dict)

    def merge(self, other: ResultExtras) -> ResultExtras:
        return ResultExtras({**self.json, **other.json}, {**self.ui, **other.ui})


def _json_number(value: Any) -> Any:
    if isinstance(value, (np.floating, float)):
        return round(float(value), 4)
    if isinstance(value, np.integer):
        return int(value)
    return value


def ct_region(card: ModelCard, decoded, analysis, heat: np.ndarray) -> ResultExtras:
    """Where the hot spot is: a cell of a 3x3 grid over the head, named only when the hot spot lies
    inside the head (mask of the windowed slice), else `hotspot_outside_head`; and the slice's sentence."""
    gray = decoded.rgb[:, :, 0]
    mask = brain_mask(gray)
    share = hot_spot_share(heat, mask)
    outside = share is not None and share < INSIDE_HEAD_SHARE
    region = None if outside else peak_region(heat, mask=mask)
    prob = analysis.positive_probability
    caution = card_caution(card)
    data: dict[str, Any] = {
        "region": None if region is None else {
            "row": region.row, "col": region.col, "name_en": region.name_en, "name_ko": region.name_ko,
            "strength": round(float(region.strength), 4), "fraction": round(float(region.fraction), 4),
        },
        "hotspot_outside_head": bool(outside),
        "hotspot_inside_share": None if share is None else round(share, 4),
    }
    markdown = {}
    for lang in ("en", "ko"):
        markdown[lang] = hemorrhage_explanation(prob, card.threshold, region, lang, outside=outside,
                                                band=band_for(card), hedge=caution.hedge(lang) if caution else None)
        data[f"explanation_{lang}"] = markdown[lang].replace("**", "")
    if decoded.kind == "dicom":
        data["dicom"] = {k: decoded.meta[k] for k in CT_SHOWN_FIELDS if k in decoded.meta}
    return ResultExtras(json=data, ui={**data, "explanation_md_en": markdown["en"], "explanation_md_ko": markdown["ko"]})


def abcd(card: ModelCard, decoded, analysis, heat: np.ndarray) -> ResultExtras:
    features = compute_abcd(decoded.rgb)
    numbers = {
        key: _json_number(getattr(features, key, None))
        for key in ("asymmetry", "border", "colour", "colour_variation", "diameter_px", "area_fraction")
    }
    data = {"abcd": {"found": bool(features.found), **(numbers if features.found else {}),
                     "colours": list(features.colours) if features.found else [],
                     "reason": features.reason or None}}
    outline = draw_outline(decoded.rgb, features) if features.found else None
    return ResultExtras(json=data, ui={"abcd": features, "outline": outline})


def label_grades(card: ModelCard) -> dict[str, int]:
    return {label.id: int(label.grade) for label in card.labels if label.grade is not None}


def severity_sentence(grade: int, max_grade: int, lang: str, hedge: str | None = None) -> str:
    """"Your scalp shows hair loss: severe (grade 3 of 3)" (grade 0 says "no visible hair loss"); a weak
    model's (`hedge`) leads with the hedge instead ("Tentative: hair-loss grade severe (3 of 3).")."""
    if hedge:
        return t("scalp.sentence_hedged", lang, hedge=hedge, grade_name=t(f"grade.{grade}", lang), grade=grade,
                 max_grade=max_grade)
    key = "scalp.sentence_none" if grade == 0 else "scalp.sentence"
    return t(key, lang, grade_name=t(f"grade.{grade}", lang), grade=grade, max_grade=max_grade)


def severity(card: ModelCard, decoded, analysis, heat: np.ndarray) -> ResultExtras:
    table = label_grades(card)
    if not table:
        return ResultExtras()
    grade = table[analysis.decision]
    expected = sum(p * table[lid] for lid, p in analysis.probabilities.items() if lid in table)
    max_grade = max(SEVERITY_SCALE)
    caution = card_caution(card)
    hedges = {lang: caution.hedge(lang) if caution else None for lang in ("en", "ko")}
    data = {
        "grade": grade,
        "grade_name_en": t(f"grade.{grade}", "en"),
        "grade_name_ko": t(f"grade.{grade}", "ko"),
        "expected_grade": round(float(expected), 4),
        "max_grade": max_grade,
        "sentence_en": severity_sentence(grade, max_grade, "en", hedges["en"]).replace("**", ""),
        "sentence_ko": severity_sentence(grade, max_grade, "ko", hedges["ko"]).replace("**", ""),
        "not_assessed_en": t("scalp.not_assessed", "en"),
    }
    return ResultExtras(json={"severity": data}, ui={**data, "hedge_en": hedges["en"], "hedge_ko": hedges["ko"]})


def see_a_doctor_soon(card: ModelCard, decoded, analysis, heat: np.ndarray) -> ResultExtras:
    return ResultExtras(json={"advice_en": t("shingles.note", "en").replace("**", ""),
                              "advice_ko": t("shingles.note", "ko").replace("**", "")})


def graded_heads(card: ModelCard, decoded, analysis, heat: np.ndarray) -> ResultExtras:
    """Per-symptom grades of a `graded_heads` card (medhub/graded.py) and the original's sentence.

    A head's grade follows the P(present) its table shows (`medhub.graded.head_grade`); a weak model's
    sentence leads with its hedge; when the overall grade (the card's labels, the decision) and the
    worst symptom grade differ, a sentence says they come from separate outputs and disagree.

    The head probabilities come from the request's own forward pass (`analysis.heads`, filled by the
    backend's `analyse_one`); only an analysis without them (no heat map asked for) runs the heads
    once more, on the same model input."""
    one = analysis.heads
    if one is None:
        one = {k: v[0] for k, v in predict_heads(registry.get_predictor(card.id), [decoded.rgb]).items()}
    caution = card_caution(card)
    en = graded_summary(card, one, "en", hedge=caution.hedge("en") if caution else None)
    ko = graded_summary(card, one, "ko", hedge=caution.hedge("ko") if caution else None)
    data: dict[str, Any] = {"heads": en["heads"], "sentence_en": en["sentence"], "sentence_ko": ko["sentence"],
                            "heads_ko": ko["heads"], "note_en": en["note"], "note_ko": ko["note"]}
    overall = card.label(analysis.decision).grade
    worst = max((h["grade"] for h in en["heads"]), default=0)
    data["overall_grade"], data["worst_head_grade"] = overall, worst
    grades = card_heads(card)[0].grades

    def named(g: int, lang: str) -> str:
        return f"{g} · {grades[g].name(lang)}" if g < len(grades) else str(g)

    for lang in ("en", "ko"):
        disagree = overall is not None and int(overall) != worst
        data[f"disagreement_{lang}"] = (
            t("graded.disagree", lang, overall=named(int(overall), lang), worst=named(worst, lang)) if disagree else None
        )
    return ResultExtras(json={"graded": data}, ui=data)


REGISTRY: dict[str, Callable[..., ResultExtras]] = {
    "graded_heads": graded_heads,
    "ct_region": ct_region,
    "abcd": abcd,
    "severity": severity,
    "see_a_doctor_soon": see_a_doctor_soon,
}


def compute(card: ModelCard, decoded, analysis, heat: np.ndarray) -> ResultExtras:
    """Everything the card's `result_extras` names, merged (its JSON joins the summary in
    `medhub.summary`)."""
    out = ResultExtras()
    for name in card.result_extras:
        one = REGISTRY[name](card, decoded, analysis, heat)
        out = out.merge(ResultExtras(one.json, {name: one.ui}))  # what a tab draws, by the extra's name
    return out
