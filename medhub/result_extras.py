"""What a result carries beyond the probabilities, computed in the core for the app, the CLI and the bench.

A card lists what its results add, by name, under `medhub.result_extras`; each name is one function
here, `fn(card, shown, analysis, heat) -> ResultExtras` (JSON fields for the summary, plus objects a
tab may draw, such as the lesion outline). The tab renders them by name (`tabs.views.VIEWS`), so a
card that names an extra gets its view whatever its id. The names are mirrored by the card schema's
`RESULT_EXTRAS`.

| name | adds |
|---|---|
| `ct_region` | the hot spot's region in a 3x3 grid of the brain, the auto-written explanation, the DICOM display fields |
| `abcd` | asymmetry, border, colour, diameter of the segmented lesion (a teaching aid, not a model input) |
| `severity` | the graded scale (0 good .. 3 severe) from the labels' `grade`, and the result sentence |
| `see_a_doctor_soon` | the shingles advice (antivirals work best within about 72 hours) |
| `graded_heads` | per-symptom grades (0-3) of a `graded_heads` card and the sentence "Your scalp shows ..." |
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from medhub import registry
from medhub.abcd import compute_abcd, draw_outline
from medhub.cards import ModelCard
from medhub.explain import brain_mask, hemorrhage_explanation, peak_region
from medhub.graded import graded_summary, predict_heads
from medhub.i18n import t

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
    gray = decoded.rgb[:, :, 0]
    region = peak_region(heat, mask=brain_mask(gray))
    prob = analysis.positive_probability
    data: dict[str, Any] = {
        "region": None if region is None else {
            "row": region.row, "col": region.col, "name_en": region.name_en, "name_ko": region.name_ko,
            "strength": round(float(region.strength), 4), "fraction": round(float(region.fraction), 4),
        },
        "explanation_en": hemorrhage_explanation(prob, card.threshold, region, "en"),
        "explanation_ko": hemorrhage_explanation(prob, card.threshold, region, "ko"),
    }
    if decoded.kind == "dicom":
        data["dicom"] = {k: decoded.meta[k] for k in CT_SHOWN_FIELDS if k in decoded.meta}
    return ResultExtras(json=data, ui=data)


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


def severity_sentence(grade: int, max_grade: int, lang: str) -> str:
    """"Your scalp shows hair loss: severe (grade 3 of 3)" (grade 0 says "no visible hair loss")."""
    key = "scalp.sentence_none" if grade == 0 else "scalp.sentence"
    return t(key, lang, grade_name=t(f"grade.{grade}", lang), grade=grade, max_grade=max_grade)


def severity(card: ModelCard, decoded, analysis, heat: np.ndarray) -> ResultExtras:
    table = label_grades(card)
    if not table:
        return ResultExtras()
    grade = table[analysis.decision]
    expected = sum(p * table[lid] for lid, p in analysis.probabilities.items() if lid in table)
    max_grade = max(SEVERITY_SCALE)
    data = {
        "grade": grade,
        "grade_name_en": t(f"grade.{grade}", "en"),
        "grade_name_ko": t(f"grade.{grade}", "ko"),
        "expected_grade": round(float(expected), 4),
        "max_grade": max_grade,
        "sentence_en": severity_sentence(grade, max_grade, "en").replace("**", ""),
        "sentence_ko": severity_sentence(grade, max_grade, "ko").replace("**", ""),
        "not_assessed_en": t("scalp.not_assessed", "en"),
    }
    return ResultExtras(json={"severity": data}, ui=data)


def see_a_doctor_soon(card: ModelCard, decoded, analysis, heat: np.ndarray) -> ResultExtras:
    return ResultExtras(json={"advice_en": t("shingles.note", "en").replace("**", ""),
                              "advice_ko": t("shingles.note", "ko").replace("**", "")})


def graded_heads(card: ModelCard, decoded, analysis, heat: np.ndarray) -> ResultExtras:
    """Per-symptom grades of a `graded_heads` card (medhub/graded.py) and the original's sentence.

    The head probabilities come from the request's own forward pass (`analysis.heads`, filled by the
    backend's `analyse_one`); only an analysis without them (no heat map asked for) runs the heads
    once more, on the same model input."""
    one = analysis.heads
    if one is None:
        one = {k: v[0] for k, v in predict_heads(registry.get_predictor(card.id), [decoded.rgb]).items()}
    en, ko = graded_summary(card, one, "en"), graded_summary(card, one, "ko")
    data = {"graded": {"heads": en["heads"], "sentence_en": en["sentence"], "sentence_ko": ko["sentence"],
                       "heads_ko": ko["heads"], "note_en": en["note"], "note_ko": ko["note"]}}
    return ResultExtras(json=data, ui=data["graded"])


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
