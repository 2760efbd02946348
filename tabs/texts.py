"""The Markdown and HTML a tab shows, as pure functions of a card, a summary and a language (tested
without a browser): the decision with its rule, why an image was not answered, the card's metrics,
its body, the intro and the disclaimer."""

from __future__ import annotations

import re
from typing import Any

from medhub.cards import ModelCard
from medhub.disclaimers import disclaimer
from medhub.i18n import normalise_lang, t
from tabs.localise import short_name


def disclaimer_html(lang: str, domain: str = "general") -> str:
    return (
        f'<div class="medhub-disclaimer"><strong>{t("disclaimer.title", lang)}.</strong> '
        f"{disclaimer(domain, normalise_lang(lang))}</div>"
    )


def scope_text(summary: dict[str, Any], card: ModelCard, lang: str) -> str:
    """Why an image was not answered, what the model expects, and which tab fits it."""
    from medhub.cards import get_card
    from medhub.scope import family_name

    expects = " / ".join(family_name(f, lang) for f in card.scope.accepts) if card.scope else card.input.modality
    seen = family_name(summary.get("scope_family") or "other", lang)
    lines = [t("scope.refused", lang)]
    if summary.get("scope_reason") == "distance":
        lines.append(t("scope.why", lang, expects=expects, seen=seen, score=summary["scope_score"],
                       threshold=summary["scope_threshold"]))
    else:
        lines.append(t("scope.why_family", lang, expects=expects, seen=seen))
    if summary.get("suggested_model"):
        try:
            tab = get_card(summary["suggested_model"], card.path.parent).title_for(lang)
        except KeyError:
            tab = summary["suggested_model"]
        lines.append(t("scope.suggest", lang, seen=seen, tab=tab))
    lines.append(t("scope.no_answer", lang))
    return "\n\n".join(lines)


def decision_text(summary: dict[str, Any], card: ModelCard, lang: str) -> str:
    """The decision as a heading, then its rule: "P(Malignant) = 0.83 ≥ threshold 0.43".

    Out of scope: why it was not answered (scope_text), or, shown anyway, a warning banner first."""
    if summary.get("in_scope") is False and not summary.get("shown_anyway"):
        return scope_text(summary, card, lang)
    probs = summary["probabilities"]
    decided = summary["decision"] or max(probs, key=probs.get)
    decision = card.label(decided).name(lang)
    if card.is_binary:
        p = float(probs[card.positive_class])
        rule = t(
            "decision.binary", lang, positive=short_name(card.label(card.positive_class).name(lang)), p=p,
            op="≥" if p >= card.threshold else "<", threshold=card.threshold,
        )
    else:
        rule = t("decision.multi", lang, n=len(card.labels), p=float(probs[decided]))
    lines = [f"### {decision}", rule]
    if summary.get("shown_anyway"):
        lines.insert(0, t("scope.banner", lang))
    if summary.get("tta_views"):
        lines.append(t("decision.tta", lang, n=summary["tta_views"]))
    if summary.get("explained_label"):
        lines.append(t("heat.explained", lang, label=card.label(summary["explained_label"]).name(lang)))
    if summary.get("heatmap_empty"):
        lines.append(t("heat.empty", lang))
    return "\n\n".join(lines)


def _num(value: Any) -> str:
    if value is None:
        return "–"
    if isinstance(value, float):
        return f"{value:.3f}"
    return str(value)


def metrics_markdown(card: ModelCard, lang: str) -> str:
    """The card's held-out metrics as Markdown tables (overall, then per class)."""
    m = card.metrics
    out = [f"**{t('metrics.header', lang)}**", "", t("metrics.intro", lang, dataset=m["dataset"],
                                                       split=m["split"], n=m["n"]), ""]
    out += [t("metrics.columns", lang), "|---|---|"]
    for key in ("accuracy", "balanced_accuracy", "auroc", "ece"):
        if m.get(key) is not None:
            out.append(f"| {t('metrics.' + key, lang)} | {_num(m[key])} |")
    if card.threshold is not None:
        out.append(f"| {t('metrics.threshold', lang)} ({card.label(card.positive_class).name(lang)}) "
                   f"| {card.threshold:g} |")
    per_class = m.get("per_class") or {}
    if per_class:
        out += ["", t("metrics.per_class", lang), "|---|---|---|---|---|"]
        for label in card.labels:
            row = per_class.get(label.id)
            if row:
                out.append(f"| {label.name(lang)} | {_num(row.get('precision'))} | {_num(row.get('recall'))} "
                           f"| {_num(row.get('f1'))} | {_num(row.get('support'))} |")
    return "\n".join(out)


def card_body_markdown(card: ModelCard) -> str:
    """The card's Markdown body with headings pushed down two levels (it sits inside an accordion)."""
    return re.sub(r"^(#{1,4})(\s)", lambda mt: "#" * min(len(mt.group(1)) + 2, 6) + mt.group(2),
                  card.body.strip(), flags=re.MULTILINE)


def intro_markdown(card: ModelCard, lang: str) -> str:
    key = f"intro.{card.input.modality}"
    from medhub.i18n import STRINGS

    intro = t(key if key in STRINGS else "intro.generic", lang)
    return f"### {card.title_for(lang)}\n{intro}"
