"""Whether a model's own test figures say to distrust its results, and the short banner that says so.

Decided from the card alone, the same way for every card (no card id here):

1. **near chance**: every chance-referenced figure of the card's `metrics` (AUROC against 0.5, balanced
   accuracy against 1 / number of labels) closes less than `NEAR_CHANCE_GAP` of the way from chance to
   perfect (AUROC < 0.625; balanced accuracy < 0.4375 with four labels, < 0.625 with two);
2. **below target**: the card states `targets` (metric -> the minimum it should reach on its test
   split, card key `medhub.targets`) and one of its own figures is below it. A target names a key of
   `metrics` (`auroc`, `balanced_accuracy`, `accuracy`), a per-class figure as `recall:<label>`,
   `precision:<label>` or `f1:<label>`, or any figure by a dotted path into `metrics`
   (`heads.dandruff.presence_auroc`).

A card that trips either rule gets a `Caution`: its level, the figures that tripped it, and a one-line
bilingual banner built from them ("Experimental: near chance on its test split (balanced accuracy 0.33
(chance 0.25), AUROC 0.57 (chance 0.50); n = 130) ..."). Every result of that model carries it: the API
summary's `caution` field, the banner in the tab's result area, and hedged result sentences
(`medhub.result_text`, `Caution.hedge`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from medhub.cards import ModelCard
from medhub.i18n import t

NEAR_CHANCE_GAP = 0.25  # share of the way from chance to perfect below which a figure is "near chance"
CHANCE_METRICS = ("balanced_accuracy", "auroc")


@dataclass(frozen=True)
class Figure:
    metric: str  # as in the card's metrics or targets ("auroc", "recall:melanoma", "heads.x.presence_auroc")
    value: float | None  # None: the card does not state this figure
    reference: float  # chance level, or the target
    kind: str  # "chance" or "target"


@dataclass(frozen=True)
class Caution:
    level: str  # "near_chance" or "below_target"
    figures: tuple[Figure, ...]
    n: Any  # the test split's size, as on the card

    def text(self, card: ModelCard, lang: str = "en") -> str:
        """The banner: "Experimental: near chance on its test split (...)" / "실험용 모델: ..."."""
        parts = []
        for f in self.figures:
            name = metric_name(card, f.metric, lang)
            value = "n/a" if f.value is None else f"{f.value:.2f}"
            if f.kind == "chance":
                parts.append(t("caution.chance", lang, metric=name, value=value, chance=f"{f.reference:.2f}"))
            else:
                parts.append(t("caution.target", lang, metric=name, value=value, target=f"{f.reference:g}"))
        return t(f"caution.{self.level}", lang, figures="; ".join(parts), n=self.n)

    def hedge(self, lang: str = "en") -> str:
        """The word that replaces a confident lead: "Near-chance guess" / "Tentative"."""
        return t(f"hedge.{self.level}", lang)

    def json(self, card: ModelCard) -> dict[str, Any]:
        return {
            "level": self.level,
            "en": self.text(card, "en"),
            "ko": self.text(card, "ko"),
            "figures": [{"metric": f.metric, "value": f.value, f.kind: f.reference} for f in self.figures],
            "n": self.n,
        }


def metric_value(metrics: dict[str, Any], key: str) -> float | None:
    """A figure of the card's `metrics` by a target's name (see the module docstring); None if absent."""
    if ":" in key:
        stat, label = key.split(":", 1)
        value = ((metrics.get("per_class") or {}).get(label) or {}).get(stat)
    else:
        value: Any = metrics
        for part in key.split("."):
            value = value.get(part) if isinstance(value, dict) else None
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def metric_name(card: ModelCard, key: str, lang: str = "en") -> str:
    """How a figure is named in the banner: "balanced accuracy", "recall of Melanoma", ..."""
    from medhub.i18n import STRINGS

    if ":" in key:
        stat, label = key.split(":", 1)
        try:
            shown = card.label(label).name(lang)
        except KeyError:
            shown = label
        return t(f"caution.{stat}", lang, label=shown) if f"caution.{stat}" in STRINGS else key
    if f"metrics.{key}" in STRINGS:
        return t(f"metrics.{key}", lang)
    return key.replace("_", " ")


def chance_level(card: ModelCard, metric: str) -> float:
    return 0.5 if metric == "auroc" else 1.0 / len(card.labels)


def near_chance_figures(card: ModelCard) -> tuple[Figure, ...]:
    """The chance-referenced figures of the card, if every one of them is near chance; else ()."""
    figures = []
    for metric in CHANCE_METRICS:
        value = metric_value(card.metrics, metric)
        if value is None:
            continue
        chance = chance_level(card, metric)
        figures.append((Figure(metric, round(value, 4), round(chance, 4), "chance"),
                        value < chance + NEAR_CHANCE_GAP * (1.0 - chance)))
    if figures and all(near for _, near in figures):
        return tuple(f for f, _ in figures)
    return ()


def missed_targets(card: ModelCard) -> tuple[Figure, ...]:
    """The card's targets that its own test figures miss (a target whose figure is absent counts as missed)."""
    out = []
    for metric, goal in (card.targets or {}).items():
        value = metric_value(card.metrics, metric)
        if value is None or value < float(goal):
            out.append(Figure(metric, None if value is None else round(value, 4), float(goal), "target"))
    return tuple(out)


def card_caution(card: ModelCard) -> Caution | None:
    """The caution every result of this card's model carries, or None for a model within its targets."""
    near = near_chance_figures(card)
    missed = missed_targets(card)
    if near:
        return Caution("near_chance", near + missed, card.metrics.get("n"))
    if missed:
        return Caution("below_target", missed, card.metrics.get("n"))
    return None
