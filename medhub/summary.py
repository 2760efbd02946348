"""The JSON summary of one request: the one place it is built, for the app, the CLI and the bench.

`build(result parts)` assembles what the API returns next to the Label and the overlay: the model
and its revision, the probabilities, the decision with its rule (None out of scope unless the caller
asked `show_anyway`), the scope verdict (`medhub.scope.decide`'s), what the analysis adds (TTA views,
an empty heat map), the decoded input, the fields of the card's result extras
(`medhub.result_extras`) and the disclaimer of the card's domain. The CLI adds `file`.
"""

from __future__ import annotations

from typing import Any

from medhub.cards import ModelCard
from medhub.disclaimers import disclaimer
from medhub.inference import Analysis
from medhub.result_extras import ResultExtras


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
    """The summary of one analysis (see the module docstring). Out of scope, `decision` is None (and
    so are its names) unless `show_anyway` is set; the probabilities are always there."""
    card = analysis.card
    label = card.label(analysis.decision)
    answered = analysis.in_scope or show_anyway
    summary: dict[str, Any] = {
        "model_id": card.id,
        "architecture": card.architecture,
        "revision": revision or card.revision,
        "weights_source": source,
        "probabilities": {k: round(float(v), 6) for k, v in analysis.probabilities.items()},
        "decision": analysis.decision if answered else None,
        "decision_en": label.en if answered else None,
        "decision_ko": label.ko if answered else None,
        "positive_class": card.positive_class,
        "threshold": card.threshold,
        "decision_rule": decision_rule(card),
        "explained_label": analysis.explained_label,
        **scope_fields(analysis),
        "shown_anyway": bool(show_anyway and not analysis.in_scope),
        **analysis.summary_fields,
        "disclaimer": disclaimer(card.disclaimer_domain, "en"),
        "disclaimer_ko": disclaimer(card.disclaimer_domain, "ko"),
    }
    if decoded is not None:
        summary["input"] = input_fields(decoded, shown)
    if extras is not None:
        summary.update(extras.json)
    return summary
