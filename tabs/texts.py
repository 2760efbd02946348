"""The Markdown and HTML a tab shows, as pure functions of a card, a summary and a language (tested
without a browser): the decision with its rule, why an image was not answered, the card's metrics,
its body, the intro and the disclaimer."""

from __future__ import annotations

import re
from typing import Any

from medhub.cards import ModelCard
from medhub.disclaimers import disclaimer
from medhub.i18n import normalise_lang, t


def disclaimer_html(lang: str, domain: str = "general") -> str:
    return (
        f'<div class="medhub-disclaimer"><strong>{t("disclaimer.title", lang)}.</strong> '
        f"{disclaimer(domain, normalise_lang(lang))}</div>"
    )


def scope_text(summary: dict[str, Any], card: ModelCard, lang: str) -> str:
    """Why an image was not answered: what the tab reads and what the image looks like to it (said
    once), the tab that would answer it (only one whose own model accepts it), and why nothing is shown."""
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
        lines.append(t("scope.suggest", lang, tab=tab))
    lines.append(t("scope.no_answer", lang))
    return "\n\n".join(lines)


def decision_text(summary: dict[str, Any], card: ModelCard, lang: str) -> str:
    """The decision as a heading, then its rule: "P(Malignant) = 0.83 ≥ threshold 0.49", from the rules
    of `medhub.result_text` (threshold precision, borderline band, heat-map class, weak-model hedge).

    Out of scope: why it was not answered (scope_text), or, shown anyway, a warning banner first."""
    if summary.get("in_scope") is False and not summary.get("shown_anyway"):
        return scope_text(summary, card, lang)
    from medhub.result_text import decision_markdown

    return decision_markdown(summary, card, lang)


def placeholder_markdown(card: ModelCard, lang: str) -> str:
    """The result area before any result: what to do, and a weak model's banner (`medhub.caution`)."""
    from medhub.caution import card_caution
    from medhub.result_text import caution_banner

    caution = card_caution(card)
    text = t("result.placeholder", lang)
    return f"{caution_banner(caution.json(card), lang)}\n\n{text}" if caution else text


READ_FIRST = re.compile(r"^\*\*Read this first[:.]?\*\*:?.*?(?=\n[ \t]*\n|\Z)", re.MULTILINE | re.DOTALL)


def read_first(card: ModelCard) -> str | None:
    """The card body's "**Read this first:** ..." paragraph (what a card says before anything else), or None."""
    found = READ_FIRST.search(card.body)
    return found.group(0).strip() if found else None


# The card's Korean summary: a managed block of the card body (`<!-- medhub:ko:start -->`, kept across
# card rewrites by medhub/cardblocks.py `carry_over`) with bold-led paragraphs, one per field.
KO_FIELDS = {"read_first": "먼저 읽어 주세요", "intended_use": "사용 목적", "out_of_scope": "사용 범위 밖",
             "limits": "한계"}


def korean_summary(card: ModelCard) -> dict[str, str]:
    """The fields of the card's Korean summary block (keys of KO_FIELDS that it has), each without its
    bold lead; {} for a card without the block."""
    from medhub.cardblocks import get_blocks

    block = get_blocks(card.body).get("ko")
    if not block:
        return {}
    out = {}
    for key, lead in KO_FIELDS.items():
        found = re.search(rf"^\*\*{re.escape(lead)}:\*\*[ \t]*(.*?)(?=\n\*\*[^*\n]+:\*\*|\n<!-- medhub:|\Z)",
                          block, flags=re.MULTILINE | re.DOTALL)
        if found and found.group(1).strip():
            out[key] = found.group(1).strip()
    return out


def read_first_markdown(card: ModelCard, lang: str) -> str:
    """The card's "Read this first" paragraph for the result area, in the page's language (the Korean
    one from the card's Korean summary; English, said so, if the card has none); "" for a card
    without one."""
    text = read_first(card)
    if not text:
        return ""
    head = f"**{t('readfirst.title', lang)}**"
    ko = korean_summary(card).get("read_first") if lang == "ko" else None
    if ko:
        return f"> {head} {ko}"
    body = re.sub(r"^\*\*Read this first[:.]?\*\*:?\s*", "", text)
    if lang == "ko":
        head += f" · {t('readfirst.from_card', lang)}"
    return f"> {head} {body}"


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


def _push_headings(text: str) -> str:
    """Headings two levels down (the card sits inside an accordion)."""
    return re.sub(r"^(#{1,4})(\s)", lambda mt: "#" * min(len(mt.group(1)) + 2, 6) + mt.group(2),
                  text.strip(), flags=re.MULTILINE)


def card_english_markdown(card: ModelCard) -> str:
    """The card's Markdown body without its Korean summary block: the same on the English and the
    Korean page (so a language switch does not send it again)."""
    from medhub.cardblocks import get_blocks

    body = card.body.strip()
    block = get_blocks(body).get("ko")
    return _push_headings(body.replace(block, "") if block else body)


def card_korean_markdown(card: ModelCard, lang: str) -> str:
    """On the Korean page, the card's Korean summary (what it is for, what not, its limits) and a line
    saying the English card follows; "" on the English page or for a card without the block."""
    from medhub.cardblocks import get_blocks

    if lang != "ko" or not korean_summary(card):
        return ""
    block = get_blocks(card.body.strip())["ko"]
    summary = "\n".join(line for line in block.splitlines() if not line.startswith("<!-- medhub:"))
    return _push_headings(f"{summary.strip()}\n\n---\n\n{t('card.english_follows', lang)}")


def card_body_markdown(card: ModelCard, lang: str = "en") -> str:
    """The card as the page shows it in `lang`: in Korean, its Korean summary first, then the English
    card without that block."""
    korean = card_korean_markdown(card, lang)
    return f"{korean}\n\n{card_english_markdown(card)}" if korean else card_english_markdown(card)


def intro_markdown(card: ModelCard, lang: str) -> str:
    key = f"intro.{card.input.modality}"
    from medhub.i18n import STRINGS

    intro = t(key if key in STRINGS else "intro.generic", lang)
    return f"### {card.title_for(lang)}\n{intro}"
