"""What a model's flag means at a prevalence: PPV, NPV and natural frequencies per 1,000.

Binary cards: sensitivity and specificity come from the card's test split at the card's threshold
(`metrics.per_class[<class>].recall` and `.support` of the positive and the negative class, turned
back into counts). A multi-class card whose entry in `prevalence_presets.yaml` names a label under
`one_vs_rest` (e.g. melanoma among seven diagnoses) is read as that label against every other one at
its own decision rule, the top label: "flagged" = the model's top label is that one. Its counts come
from the card's `metrics.confusion_matrix` (rows = truth, columns = prediction, card label order;
checked against `per_class` support, recall and precision before use): TP = cm[i][i], positives = row
i, false positives = column i without cm[i][i], negatives = every other row. Both kinds get Wilson
95 % intervals from those counts. PPV and NPV at a prevalence p:

    PPV = sens p / (sens p + (1 - spec)(1 - p))        NPV = spec (1 - p) / (spec (1 - p) + (1 - sens) p)

Both rise with sensitivity and with specificity, so their interval here is PPV/NPV at the two ends of
the sens/spec intervals (lower with lower, upper with upper): a plain, somewhat conservative bound
from two independent 95 % intervals, not a joint confidence interval; the prevalence is taken as
exact. Presets (`prevalence_presets.yaml`) name their source, or say "illustrative".
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

PRESETS_FILE = Path(__file__).with_name("prevalence_presets.yaml")
Z95 = 1.959963984540054


class NotBinary(ValueError):
    """The card has no positive class and threshold (nor a `one_vs_rest` label in the presets file), or
    its test metrics lack the counts."""


TOP_LABEL = "top label"  # the decision rule of a one-vs-rest reading (no threshold)


def wilson(successes: int, n: int, z: float = Z95) -> tuple[float, float]:
    """Wilson score interval of a proportion successes/n (95 % by default)."""
    if n <= 0:
        raise ValueError("n must be positive")
    if not 0 <= successes <= n:
        raise ValueError("successes must be in [0, n]")
    phat = successes / n
    denom = 1 + z * z / n
    centre = (phat + z * z / (2 * n)) / denom
    half = z * math.sqrt(phat * (1 - phat) / n + z * z / (4 * n * n)) / denom
    return max(0.0, centre - half), min(1.0, centre + half)


def ppv(sens: float, spec: float, prevalence: float) -> float:
    tp = sens * prevalence
    fp = (1 - spec) * (1 - prevalence)
    return tp / (tp + fp) if tp + fp > 0 else float("nan")


def npv(sens: float, spec: float, prevalence: float) -> float:
    tn = spec * (1 - prevalence)
    fn = (1 - sens) * prevalence
    return tn / (tn + fn) if tn + fn > 0 else float("nan")


@dataclass(frozen=True)
class Rate:
    """A proportion measured on the test split: value = successes / n, with its Wilson interval."""

    value: float
    successes: int
    n: int
    ci95: tuple[float, float]

    @classmethod
    def of(cls, successes: int, n: int) -> Rate:
        return cls(successes / n, successes, n, wilson(successes, n))


@dataclass(frozen=True)
class Frequencies:
    """Natural frequencies in a group of `per` people (or lesions, or scans) at the prevalence."""

    per: int
    with_condition: int
    without_condition: int
    flagged: int
    true_positive: int  # flagged and with the condition
    false_positive: int  # flagged, without it
    false_negative: int  # with it, not flagged (missed)
    true_negative: int


def natural_frequencies(sens: float, spec: float, prevalence: float, per: int = 1000) -> Frequencies:
    """Whole numbers that add up: with = round(per p); TP = round(sens with); FP = round((1 - spec) without)."""
    with_c = round(per * prevalence)
    without = per - with_c
    tp = round(sens * with_c)
    fp = round((1 - spec) * without)
    return Frequencies(per, with_c, without, tp + fp, tp, fp, with_c - tp, without - fp)


@dataclass(frozen=True)
class TestCounts:
    positive_class: str
    negative_classes: tuple[str, ...]  # the binary card's other class, or every other label (one vs rest)
    threshold: float | None  # None: flagged when the positive class is the top label
    sensitivity: Rate
    specificity: Rate
    n: int

    @property
    def test_prevalence(self) -> float:
        return self.sensitivity.n / self.n

    @property
    def decision_rule(self) -> str:
        return "threshold" if self.threshold is not None else TOP_LABEL


def one_vs_rest(card) -> str | None:
    """The label a multi-class card is read for (`one_vs_rest` in prevalence_presets.yaml), or None."""
    if card.is_binary:
        return None
    label = (_presets_file().get(card.id) or {}).get("one_vs_rest")
    if label is None:
        return None
    if label not in card.label_ids:
        raise NotBinary(f"{card.id}: one_vs_rest {label!r} in {PRESETS_FILE.name} is not one of its labels")
    return str(label)


def _one_vs_rest_counts(card, pos: str) -> TestCounts:
    """One label against the rest from the card's confusion matrix, at the argmax rule."""
    metrics = card.metrics or {}
    cm, per_class, ids = metrics.get("confusion_matrix"), metrics.get("per_class") or {}, card.label_ids
    where = f"{card.id}: metrics.confusion_matrix"
    try:
        cm = [[int(v) for v in row] for row in cm]
    except (TypeError, ValueError) as err:
        raise NotBinary(f"{where} missing or not a matrix of counts") from err
    if len(cm) != len(ids) or any(len(row) != len(ids) for row in cm):
        raise NotBinary(f"{where} is not {len(ids)} x {len(ids)} (one row and column per label)")
    i = ids.index(pos)
    # rows must be the truth: each row sums to that class's support, and the positive class's
    # recall (diagonal / row) and precision (diagonal / column) are the card's
    try:
        for k, lid in enumerate(ids):
            if sum(cm[k]) != int(per_class[lid]["support"]):
                raise NotBinary(f"{where}: row {lid} sums to {sum(cm[k])}, not its support "
                                f"{per_class[lid]['support']} (rows must be the truth)")
        recall, precision = float(per_class[pos]["recall"]), float(per_class[pos]["precision"])
    except (KeyError, TypeError) as err:
        raise NotBinary(f"{card.id}: metrics.per_class lacks support/recall/precision") from err
    tp, n_pos = cm[i][i], sum(cm[i])
    flagged = sum(row[i] for row in cm)
    if n_pos == 0 or n_pos == sum(map(sum, cm)):
        raise NotBinary(f"{where}: no test images of {pos}, or none of the other labels")
    if abs(tp / n_pos - recall) > 5e-4 or (flagged and abs(tp / flagged - precision) > 5e-4):
        raise NotBinary(f"{where} disagrees with per_class.{pos} recall/precision")
    n = sum(map(sum, cm))
    if metrics.get("n") is not None and int(metrics["n"]) != n:
        raise NotBinary(f"{where} holds {n} images, the card's metrics.n is {metrics['n']}")
    n_neg = n - n_pos
    tn = n_neg - (flagged - tp)
    rest = tuple(lid for lid in ids if lid != pos)
    return TestCounts(pos, rest, None, Rate.of(tp, n_pos), Rate.of(tn, n_neg), n)


def card_counts(card) -> TestCounts:
    """Sensitivity and specificity of a card on its test split, as counts: a binary card at its
    threshold, or a multi-class card's `one_vs_rest` label against the others at the top-label rule."""
    pos = one_vs_rest(card)
    if pos is not None:
        return _one_vs_rest_counts(card, pos)
    if not card.is_binary or card.threshold is None:
        raise NotBinary(f"{card.id}: not a binary model (no positive_class and threshold on its card, "
                        f"no one_vs_rest label in {PRESETS_FILE.name})")
    per_class = (card.metrics or {}).get("per_class") or {}
    pos = card.positive_class
    neg = next(label.id for label in card.labels if label.id != pos)
    try:
        p, q = per_class[pos], per_class[neg]
        n_pos, n_neg = int(p["support"]), int(q["support"])
        tp = round(float(p["recall"]) * n_pos)
        tn = round(float(q["recall"]) * n_neg)
    except (KeyError, TypeError) as err:
        raise NotBinary(f"{card.id}: metrics.per_class lacks recall/support of {pos} and {neg}") from err
    return TestCounts(pos, (neg,), float(card.threshold), Rate.of(tp, n_pos), Rate.of(tn, n_neg), n_pos + n_neg)


@lru_cache(maxsize=1)
def _presets_file() -> dict[str, Any]:
    return yaml.safe_load(PRESETS_FILE.read_text(encoding="utf-8")) or {}


def presets(card) -> list[dict[str, Any]]:
    """The card's prevalence presets: the test split's own prevalence first (source: the card),
    then those of prevalence_presets.yaml (each with `source` or `illustrative: true`)."""
    counts = card_counts(card)
    own = {
        "id": "test_split",
        "prevalence": round(counts.test_prevalence, 4),
        "en": f"the model's test split ({counts.sensitivity.n} of {counts.n})",
        "ko": f"모델의 시험 세트 ({counts.n}건 중 {counts.sensitivity.n}건)",
        "source": f"model card {card.id}: metrics.per_class support",
        "illustrative": False,
    }
    return [own, *((_presets_file().get(card.id) or {}).get("presets") or [])]


def subject(card) -> dict[str, dict[str, str]]:
    """What is counted (`unit`: scans, lesions, ...) and the condition's name, per language."""
    entry = _presets_file().get(card.id) or {}
    from medhub.teaching.glossary import term

    label = card.label(card_counts(card).positive_class)
    condition = entry.get("condition")
    cond = term(condition) if condition else {"en": label.en.lower(), "ko": label.ko}
    unit = entry.get("unit") or {"en": "people", "ko": "사람", "ko_counter": "명"}
    return {"condition": cond, "unit": unit}


def _pct(x: float) -> str:
    return f"{100 * x:.1f} %"


def sentence(freq: Frequencies, condition: dict[str, str], unit: dict[str, str], lang: str = "en") -> str:
    """The natural-frequency sentence ("of 1,000 ..., N are flagged, M of them have ...")."""
    if lang == "ko":
        c = unit.get("ko_counter", "건")  # 건 (cases) or 명 (people)
        return (
            f"이런 {unit['ko']} {freq.per:,}{c} 중 {freq.with_condition}{c}이 {condition['ko']}입니다. "
            f"모델은 {freq.flagged}{c}을 양성으로 표시하고, 그중 {freq.true_positive}{c}만 실제 "
            f"{condition['ko']}입니다 ({freq.false_positive}{c}은 위양성). "
            f"{condition['ko']} {freq.with_condition}{c} 중 {freq.false_negative}{c}은 놓칩니다 (위음성)."
        )
    return (
        f"Of {freq.per:,} {unit['en']} like these, {freq.with_condition} have {condition['en']}. "
        f"The model flags {freq.flagged}: {freq.true_positive} of them have {condition['en']} and "
        f"{freq.false_positive} do not (false positives). It misses {freq.false_negative} of the "
        f"{freq.with_condition} (false negatives)."
    )


def at_prevalence(card, prevalence: float) -> dict[str, Any]:
    """Everything `python -m medhub ppv` prints, as one JSON-ready dict."""
    if not 0 < prevalence < 1:
        raise ValueError("prevalence must be strictly between 0 and 1")
    c = card_counts(card)
    se, sp = c.sensitivity, c.specificity
    freq = natural_frequencies(se.value, sp.value, prevalence, 1000)
    subj = subject(card)
    from medhub.teaching.glossary import term

    # Six decimals: texts print these as percentages with one decimal, and rounding twice (to 4, then
    # to 0.1 %) can move the last digit (77 of 95 = 81.0526 % was shown as 81.0 %).
    def rate(r: Rate) -> dict[str, Any]:
        return {"value": round(r.value, 6), "ci95": [round(r.ci95[0], 6), round(r.ci95[1], 6)],
                "successes": r.successes, "n": r.n}

    def pv(f) -> dict[str, Any]:
        lo, hi = f(se.ci95[0], sp.ci95[0], prevalence), f(se.ci95[1], sp.ci95[1], prevalence)
        return {"value": round(f(se.value, sp.value, prevalence), 6), "range": [round(lo, 6), round(hi, 6)]}

    return {
        "model": card.id,
        "positive_class": c.positive_class,
        "negative_classes": list(c.negative_classes),
        "threshold": c.threshold,
        "decision_rule": c.decision_rule,  # "threshold", or "top label" (flagged when it is the argmax)
        "prevalence": prevalence,
        "sensitivity": rate(se),
        "specificity": rate(sp),
        "ppv": pv(ppv),
        "npv": pv(npv),
        "ci_method": "Wilson 95 % on the test counts; PPV/NPV range = values at the lower and at the upper "
        "ends of both intervals (not a joint interval; prevalence taken as exact)",
        "per_1000": asdict(freq),
        "text": {lang: sentence(freq, subj["condition"], subj["unit"], lang) for lang in ("en", "ko")},
        "terms": {k: term(k) for k in ("sensitivity", "specificity", "positive predictive value",
                                       "negative predictive value", "prevalence")},
        "presets": presets(card),
        "source": "model card metrics (test split, python -m medhub evaluate)",
    }


def summary_lines(result: dict[str, Any], lang: str = "en") -> list[str]:
    """Human-readable lines for the CLI and the report."""
    t = {k: v["ko" if lang == "ko" else "en"] for k, v in result["terms"].items()}

    def fmt(name: str, d: dict[str, Any], key: str) -> str:
        lo, hi = d[key]
        return f"{name}: {_pct(d['value'])} ({_pct(lo)} - {_pct(hi)})"

    return [
        f"{t['prevalence']}: {_pct(result['prevalence'])}",
        fmt(t["sensitivity"], result["sensitivity"], "ci95"),
        fmt(t["specificity"], result["specificity"], "ci95"),
        fmt(t["positive predictive value"], result["ppv"], "range"),
        fmt(t["negative predictive value"], result["npv"], "range"),
        result["text"]["ko" if lang == "ko" else "en"],
    ]
