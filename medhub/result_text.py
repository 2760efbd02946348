"""The sentences of a result, from one small set of rules, the same for the tab, the API summary and the
CLI. `tests/test_result_text.py` enumerates `RULES` and checks each in English and Korean.

| rule | what it says |
|---|---|
| `threshold_precision` | a probability and a threshold are printed with the fewest decimals (2 or more) at which the printed comparison is true: "P = 0.4915 < threshold 0.492" prints "0.491 < 0.492", never "0.49 < 0.49" |
| `borderline_band` | a binary result is borderline when \\|P - threshold\\| < BORDERLINE_BAND, on either side of the threshold, for every binary model (the heading says so, and a sentence says why); a multi-class result whose top two classes are nearer than the band is a close call |
| `heatmap_names_class` | the heat-map sentence names the class the map explains; when that is not the decision in the heading (a card whose map always explains its positive class), it names both |
| `ct_region_inside_head` | the CT region sentence names a region only when the Grad-CAM hot spot lies inside the head (a mask of the windowed slice: threshold, largest component, holes filled); otherwise it says the hot spot lies outside the head |
| `refused_no_heatmap` | an image refused as out of scope gets no probabilities (summary, Label, CLI), no overlay and no heat-map sentence, unless the caller asked `show_anyway` |
| `graded_follows_table` | a graded head's sentence states the symptom exactly when the P(present) its table shows is >= 0.5, at the most probable grade above 0 (`medhub.graded.head_grade`) |
| `weak_model_hedged` | a model whose card's own figures are near chance or miss its targets (`medhub.caution`) carries the banner on every result, and its headings and sentences lead with a hedge ("Near-chance guess: ...") instead of a confident claim |
"""

from __future__ import annotations

import re
from typing import Any

from medhub.i18n import t

RULES = (
    "threshold_precision",
    "borderline_band",
    "heatmap_names_class",
    "ct_region_inside_head",
    "refused_no_heatmap",
    "graded_follows_table",
    "weak_model_hedged",
)

# Half-width of the borderline band around a binary model's threshold, in probability.
BORDERLINE_BAND = 0.05
# A positive CT result at or above this probability (and beyond the band) is said "strongly".
STRONG_PROBABILITY = 0.9


def band_for(card) -> float:
    """The borderline band of a card's results (one value for every model today)."""
    return BORDERLINE_BAND


def compare(p: float, threshold: float) -> tuple[str, str, str]:
    """(p, "≥" or "<", threshold) as printed, with the fewest decimals (at least 2) that keep the printed
    comparison true; once 2 do not, at least as many as the threshold has ("0.2310 < 0.2315", not
    "0.231 < 0.232"). Rounding is monotone, so only "<" can need more digits."""
    p, threshold = float(p), float(threshold)
    above = p >= threshold
    op = "≥" if above else "<"
    shown = f"{threshold:g}"
    own = min(6, len(shown.split(".")[1])) if "." in shown and "e" not in shown else 2
    for digits in range(2, 13):
        if digits > 2:
            digits = max(digits, own)
        ps, ts = f"{p:.{digits}f}", f"{threshold:.{digits}f}"
        if above or float(ps) < float(ts):
            return ps, op, ts
    return repr(p), op, repr(threshold)


def is_borderline(p: float, threshold: float, band: float = BORDERLINE_BAND) -> bool:
    """Within the band around the threshold, on either side."""
    return abs(float(p) - float(threshold)) < band


def borderline_of(card, probabilities: dict[str, float]) -> bool:
    """Binary: P(positive) within the band of the threshold; otherwise the top two within the band."""
    band = band_for(card)
    if card.is_binary:
        return is_borderline(probabilities[card.positive_class], card.threshold, band)
    top = sorted(probabilities.values(), reverse=True)
    return len(top) > 1 and top[0] - top[1] < band


def short_name(name: str) -> str:
    """"Malignant (melanoma)" -> "Malignant": for tight places (formulas, thumbnail captions)."""
    return re.sub(r"\s*\(.*?\)", "", name).strip() or name


def band_edges(threshold: float, band: float) -> tuple[str, str]:
    """The borderline band's edges, printed with the threshold's own precision (0.492 -> 0.442, 0.542)."""
    shown = f"{threshold:g}"
    digits = max(2, len(shown.split(".")[1]) if "." in shown else 0)
    return f"{max(0.0, threshold - band):.{digits}f}", f"{min(1.0, threshold + band):.{digits}f}"


def _fmt_band(band: float) -> str:
    return f"±{band:g}"


def decision_markdown(summary: dict[str, Any], card, lang: str) -> str:
    """The answered result in Markdown: banners, the heading (decision, hedged and tagged by the rules),
    its rule with the threshold, the borderline or close-call sentence, TTA, the heat-map sentences."""
    probs = summary["probabilities"]
    decided = summary["decision"] or max(probs, key=probs.get)
    name = card.label(decided).name(lang)
    band = band_for(card)
    caution = summary.get("caution")
    lines: list[str] = []
    if summary.get("shown_anyway"):
        lines.append(t("scope.banner", lang))
    if caution:
        lines.append(caution_banner(caution, lang))
    if card.is_binary:
        positive = short_name(card.label(card.positive_class).name(lang))
        p = float(probs[card.positive_class])
        ps, op, ts = compare(p, card.threshold)
        rule = t("decision.binary", lang, positive=positive, p=ps, op=op, threshold=ts)
        extra = None
        if is_borderline(p, card.threshold, band):
            name = f"{name} ({t('decision.borderline_tag', lang)})"
            low, high = band_edges(card.threshold, band)
            extra = t("decision.borderline", lang, positive=positive, band=_fmt_band(band), low=low, high=high)
    else:
        ranked = sorted(probs, key=probs.get, reverse=True)
        rule = t("decision.multi", lang, n=len(card.labels), p=float(probs[decided]))
        extra = None
        if len(ranked) > 1 and probs[ranked[0]] - probs[ranked[1]] < band:
            name = f"{name} ({t('decision.close_tag', lang)})"
            extra = t("decision.close", lang, second=card.label(ranked[1]).name(lang),
                      p2=f"{probs[ranked[1]]:.2f}", p1=f"{probs[ranked[0]]:.2f}", band=f"{band:g}")
    if caution:
        name = f"{t('hedge.' + caution['level'], lang)}: {name}"
    lines += [f"### {name}", rule]
    if extra:
        lines.append(extra)
    if summary.get("tta_views"):
        lines.append(t("decision.tta", lang, n=summary["tta_views"]))
    heat = heatmap_sentence(card, decided, summary.get("explained_label"), lang)
    if heat:
        lines.append(heat)
    if summary.get("heatmap_empty") and summary.get("explained_label"):
        lines.append(t("heat.empty", lang, label=card.label(summary["explained_label"]).name(lang)))
    return "\n\n".join(lines)


def heatmap_sentence(card, decided: str, explained: str | None, lang: str) -> str:
    """Which class the heat map explains, and whether that is the decision in the heading."""
    if not explained:
        return ""
    label = card.label(explained).name(lang)
    if explained == decided:
        return t("heat.explained", lang, label=label)
    return t("heat.explained_other", lang, label=label, decision=card.label(decided).name(lang))


def caution_banner(caution: dict[str, Any], lang: str) -> str:
    """The summary's `caution` as a Markdown call-out."""
    text = caution.get("ko" if lang == "ko" else "en") or caution.get("en", "")
    return f"> ⚠️ **{text}**"


# ------------------------------------------------------------------------- head CT sentences


def ct_verdict(p: float, threshold: float, band: float = BORDERLINE_BAND) -> str:
    """"strong", "positive", "borderline" or "negative": the borderline band first, on both sides."""
    if is_borderline(p, threshold, band):
        return "borderline"
    if p >= threshold:
        return "strong" if p >= max(STRONG_PROBABILITY, threshold + band) else "positive"
    return "negative"


def ct_verdict_sentence(p: float, threshold: float, lang: str, band: float = BORDERLINE_BAND,
                        hedge: str | None = None) -> str:
    """The hemorrhage sentence of one slice; with a hedge (a weak model) never "strongly"."""
    verdict = ct_verdict(p, threshold, band)
    if hedge and verdict == "strong":
        verdict = "positive"
    ps, op, ts = compare(p, threshold)
    text = t(f"ct.{verdict}", lang, p=ps, op=op, threshold=ts, band=_fmt_band(band))
    return f"{hedge}: {text}" if hedge else text


def ct_location_sentence(region, outside: bool, lang: str) -> str:
    """Where the map's hot spot is: a region of the head, or outside the head (never a region then)."""
    if outside:
        return t("ct.outside", lang)
    if region is not None:
        return t("ct.region", lang, region=region.name(lang))
    return ""
