"""The JSON summary of one request: the one place it is built, for the app, the CLI and the bench.

`build(result parts)` assembles what the API returns next to the Label and the overlay: the model
and its revision, the probabilities, the labels' display names, the decision with its rule and the
borderline band (`medhub.result_text`), the scope verdict (`medhub.scope.decide`'s), what the analysis
adds (TTA views, an empty heat map), the decoded input, the fields of the card's result extras
(`medhub.result_extras`), the card's caution about its own figures (`medhub.caution`) and the
disclaimer of the card's domain. The CLI adds `file`; a CT series (`medhub.series`) reuses
`decision_rule` and the disclaimer for its study summary.

Out of scope, unless the caller asked `show_anyway`, the summary answers nothing: `probabilities`,
`decision` (and its names), `explained_label` and `borderline` are None, as the Label and the overlay
are empty; the scope fields say why and `suggested_model` which tab would answer.
"""

from __future__ import annotations

from typing import Any

from medhub.cards import ModelCard
from medhub.caution import card_caution
from medhub.disclaimers import disclaimer
from medhub.inference import Analysis
from medhub.result_extras import ResultExtras
from medhub.result_text import borderline_of


def decision_rule(card: ModelCard) -> str:
    if card.is_binary:
        return f"{card.positive_class} if P({card.positive_class}) >= {card.threshold:g}"
    return "the label with the highest probability"


def scope_fields(analysis: Analysis) -> dict[str, Any]:
    scope = analysis.scope
    return {
        "in_scope": analysis.in_scope,
        "scope_score": None if scope is None else round(scope.score, 6),
        "scope_threshold": None if scope is None else round(scope.threshold, 6),
        "scope_family": None if scope is None else scope.family,
        "scope_reason": None if scope is None else scope.reason(),
        "suggested_model": analysis.suggested_model,
    }


def answers(analysis: Analysis, show_anyway: bool = False) -> bool:
    """Whether a result answers the question: its image is in scope, or the caller asked `show_anyway`.
    The one rule (issue 21) behind the summary's null fields, the result extras, the API's Label and
    overlay (`tabs.handler`), the CLI's overlay file and a series slice's overlay."""
    return analysis.in_scope or bool(show_anyway)


def input_fields(decoded: Any, shown: Any = None) -> dict[str, Any]:
    """What was decoded (kind, format, size) and, when it was shown smaller, the shown size."""
    out = {
        "kind": decoded.kind,
        "format": decoded.format,
        "width": int(decoded.rgb.shape[1]),
        "height": int(decoded.rgb.shape[0]),
    }
    if shown is not None and shown.rgb is not decoded.rgb:
        out["shown_width"], out["shown_height"] = int(shown.rgb.shape[1]), int(shown.rgb.shape[0])
    return out


def build(
    analysis: Analysis,
    *,
    revision: str | None = None,
    source: str | None = None,
    show_anyway: bool = False,
    decoded: Any = None,
    shown: Any = None,
    extras: ResultExtras | None = None,
) -> dict[str, Any]:
    """The summary of one analysis (see the module docstring). `labels` maps each label id to its
    display names; `caution` is the card's warning about its own figures, None for a model within its
    targets."""
    card = analysis.card
    label = card.label(analysis.decision)
    answered = answers(analysis, show_anyway)
    caution = card_caution(card)
    added = {k: v for k, v in analysis.summary_fields.items() if answered or k != "heatmap_empty"}
    summary: dict[str, Any] = {
        "model_id": card.id,
        "architecture": card.architecture,
        "revision": revision or card.revision,
        "weights_source": source,
        "probabilities": (
            {k: round(float(v), 6) for k, v in analysis.probabilities.items()} if answered else None
        ),
        "labels": {lab.id: {"en": lab.en, "ko": lab.ko} for lab in card.labels},
        "decision": analysis.decision if answered else None,
        "decision_en": label.en if answered else None,
        "decision_ko": label.ko if answered else None,
        "positive_class": card.positive_class,
        "threshold": card.threshold,
        "decision_rule": decision_rule(card),
        "borderline": borderline_of(card, analysis.probabilities) if answered else None,
        "explained_label": analysis.explained_label if answered else None,
        **scope_fields(analysis),
        "shown_anyway": bool(show_anyway and not analysis.in_scope),
        **added,
        "caution": caution.json(card) if caution else None,
        "disclaimer": disclaimer(card.disclaimer_domain, "en"),
        "disclaimer_ko": disclaimer(card.disclaimer_domain, "ko"),
    }
    if decoded is not None:
        summary["input"] = input_fields(decoded, shown)
    if extras is not None:
        summary.update(extras.json)
    return summary


def series(
    card: ModelCard,
    *,
    revision: str,
    source: str | None,
    window: str | None,
    study: dict[str, Any],
    series: dict[str, Any],
    slices: list[dict[str, Any]],
) -> dict[str, Any]:
    """The summary of a CT series (`medhub.series.analyse_series`, `/predict_<id>_series`): the model,
    the window, the study's result (`medhub.series.study_result`), the series' geometry, each slice's
    row, the per-slice decision rule and the disclaimer of the card's domain."""
    return {
        "model_id": card.id,
        "revision": revision,
        "weights_source": source,
        "kind": "series",
        "window": window,
        "positive_class": card.positive_class,
        "threshold": card.threshold,
        "slice_decision_rule": decision_rule(card),
        "study": study,
        "series": series,
        "slices": slices,
        "disclaimer": disclaimer(card.disclaimer_domain, "en"),
        "disclaimer_ko": disclaimer(card.disclaimer_domain, "ko"),
    }
