"""Graded heads: cards with `output: graded_heads` grade several symptoms of one image, each 0-3.

The scalp project this hub follows graded each symptom of a scalp-microscope image on 0 good /
1 mild / 2 moderate / 3 severe and said so in one sentence ("Your scalp shows mild dandruff and
moderate oiliness"). A card declares its heads under `medhub.heads`:

    output: graded_heads
    heads:
      - id: dandruff
        en: dandruff
        ko: 비듬
        area_columns: [dandruff_area, dandruff_sensitive_area]   # labels.csv columns, summed
        bins: [0.0, 0.01, 0.04]      # grade = number of bins the labelled area fraction exceeds
        grades:
          - {en: none, ko: 양호}
          - {en: mild, ko: 경증}
          - {en: moderate, ko: 중등도}
          - {en: severe, ko: 중증}

`bins` turn the labelled area fraction `a` of a symptom into its reference grade: grade 0 when
`a <= bins[0]`, 1 when `bins[0] < a <= bins[1]`, ... (so len(bins) == len(grades) - 1). That grade
is a proxy stated on the card, not a clinical grade. The network (see
`medhub.architectures.torch_nets.GradedHeadsNet`) returns one softmax over each head's grades;
P(present) = 1 - P(grade 0).

Nothing here imports torch or gradio, nor a model: `graded_summary` is a pure function the app calls
with the backend's per-head probabilities; `medhub.evaluation.evaluate_graded` is what `python -m
medhub evaluate` runs for such a card, from the reference grades and metrics here.
"""

from __future__ import annotations

import csv
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from pydantic import TypeAdapter, ValidationError

from medhub.card_schema import HeadBlock, check_heads, describe
from medhub.cards import CardError, Grade, HeadSpec, ModelCard, _convert, grade_from_area  # noqa: F401
from medhub.errors import EvaluationError

OUTPUT = "graded_heads"
_HEADS = TypeAdapter(list[HeadBlock])


def parse_heads(raw: Any, where: str = "card") -> tuple[HeadSpec, ...]:
    """The heads of a `medhub.heads` list, validated by the card schema (`HeadBlock`, `check_heads`);
    raises CardError naming the problem. A card's own heads are parsed once, when it is read
    (`card.heads`); this is for lists that are not (yet) on a card."""
    if not isinstance(raw, list):
        raise CardError(f"{where}: output 'graded_heads' needs a non-empty 'heads' list")
    try:
        heads = _HEADS.validate_python(raw)
        check_heads(heads)
    except ValidationError as err:
        raise CardError(describe(err, where).replace("'medhub.", "'medhub.heads.")) from None
    except ValueError as err:
        raise CardError(f"{where}: {err}") from None
    return tuple(_convert(HeadSpec, h) for h in heads)


def card_heads(card: ModelCard) -> tuple[HeadSpec, ...]:
    """The card's heads, parsed when the card was read."""
    if card.output != OUTPUT or not card.heads:
        raise CardError(f"{card.id}: output is {card.output!r}, not {OUTPUT!r}")
    return card.heads


def is_graded(card: ModelCard) -> bool:
    return card.output == OUTPUT


# ------------------------------------------------------------------------------- the result


# A head's result states the symptom when its P(present) = 1 - P(grade 0), the number the result
# table shows, reaches this; then at the most probable grade above 0 (`head_grade`).
PRESENCE_THRESHOLD = 0.5


def head_grade(probs: Sequence[float]) -> int:
    """The grade a result states for one head: 0 unless P(present) >= PRESENCE_THRESHOLD, else the most
    probable grade above 0. The sentence and the table then follow the same number: the flat argmax
    could say "no dandruff" (P(grade 0) = 0.37, the largest single grade) with P(present) = 0.63."""
    p = np.asarray(probs, dtype=np.float64).reshape(-1)
    if len(p) < 2 or 1.0 - p[0] < PRESENCE_THRESHOLD:
        return 0
    return 1 + int(np.argmax(p[1:]))


def _join(parts: list[str], lang: str) -> str:
    if len(parts) == 1:
        return parts[0]
    if lang == "ko":
        from medhub.i18n import josa

        return f"{', '.join(parts[:-2] + [josa(parts[-2], '과/와')])} {parts[-1]}"
    return f"{', '.join(parts[:-1])} and {parts[-1]}"


def result_sentence(heads: Sequence[HeadSpec], grades: Sequence[int], lang: str = "en", hedge: str | None = None) -> str:
    """'Your scalp shows mild dandruff and moderate oiliness.' / '두피에 경증 비듬과 중등도 피지 과다가 보입니다.'

    A weak model's result (`hedge`, from `medhub.caution`) leads with the hedge and claims nothing:
    'Near-chance guess: mild dandruff and moderate oiliness.' / '... 추정: 경증 비듬과 중등도 피지 과다.'"""
    from medhub.i18n import josa

    found = [f"{h.grades[g].name(lang)} {h.name(lang)}" for h, g in zip(heads, grades) if g > 0]
    names = [h.name(lang) for h in heads]
    if lang == "ko":
        absent = f"{josa(names[0], '이나/나')} {names[1]}" if len(names) == 2 else ", ".join(names)
        if hedge:
            return f"{hedge}: {_join(found, 'ko')}." if found else f"{hedge}: {absent} 없음."
        if not found:
            return f"두피에 {josa(absent, '이/가')} 보이지 않습니다."
        return f"두피에 {josa(_join(found, 'ko'), '이/가')} 보입니다."
    absent = " or ".join(names) if len(names) == 2 else ", ".join(names)
    if hedge:
        return f"{hedge}: {_join(found, 'en')}." if found else f"{hedge}: no {absent}."
    if not found:
        return f"Your scalp shows no {absent}."
    return f"Your scalp shows {_join(found, 'en')}."


def graded_summary(
    card: ModelCard, probs_per_head: Mapping[str, Sequence[float]], lang: str = "en", hedge: str | None = None
) -> dict[str, Any]:
    """Per head: grade (`head_grade`: present when P(present) >= 0.5, then the most probable grade above
    0), its name, P(present) = 1 - P(grade 0), the grade probabilities; plus the one-sentence result in
    the original project's style (led by `hedge` for a weak model). Pure: no model, no I/O.

    `probs_per_head` maps head id -> probabilities over that head's grades (one image), as
    `TorchBackend.predict_heads` returns them (row 0 of each array). Extra keys (e.g. 'primary')
    are ignored; a missing head or a wrong length raises ValueError.
    """
    heads = card_heads(card)
    out = []
    grades = []
    for h in heads:
        if h.id not in probs_per_head:
            raise ValueError(f"{card.id}: no probabilities for head '{h.id}'")
        p = np.asarray(probs_per_head[h.id], dtype=np.float64).reshape(-1)
        if p.shape[0] != len(h.grades) or not np.all(np.isfinite(p)) or p.min() < 0:
            raise ValueError(
                f"{card.id}: head '{h.id}' needs {len(h.grades)} probabilities, got {p.tolist()}"
            )
        p = p / p.sum() if p.sum() > 0 else np.full(len(h.grades), 1.0 / len(h.grades))
        g = head_grade(p)
        grades.append(g)
        out.append(
            {
                "id": h.id,
                "name": h.name(lang),
                "grade": g,
                "grade_name": h.grades[g].name(lang),
                "p_present": round(float(1.0 - p[0]), 4),
                "probabilities": {gr.name(lang): round(float(q), 4) for gr, q in zip(h.grades, p)},
            }
        )
    return {
        "heads": out,
        "sentence": result_sentence(heads, grades, lang, hedge=hedge),
        "note": (card.grade_note or {}).get(lang, ""),
    }


# ------------------------------------------------------------------------------- evaluation


def reference_grades(
    card: ModelCard, data_dir: Path, labels_file: str = "labels.csv"
) -> dict[str, dict[str, Any]]:
    """file (relative to data_dir) -> {'group': .., head id: reference grade, head id + '_area': area},
    from the data set's labels.csv and the card's bins."""
    heads = card_heads(card)
    path = Path(data_dir) / labels_file
    if not path.exists():
        raise EvaluationError(f"{path} not found: a graded-heads evaluation reads the area fractions there")
    out: dict[str, dict[str, Any]] = {}
    with open(path, newline="", encoding="utf-8") as fh:
        for row in csv.DictReader(fh):
            rec: dict[str, Any] = {"group": row.get("group", row["file"])}
            for h in heads:
                area = min(1.0, sum(float(row[c] or 0) for c in h.area_columns))
                rec[h.id + "_area"] = area
                rec[h.id] = h.grade_of_area(area)
            out[row["file"]] = rec
    return out


def weighted_kappa(a: Sequence[int], b: Sequence[int], k: int) -> float:
    """Cohen's kappa with quadratic weights between two gradings on 0..k-1."""
    a, b = np.asarray(a, int), np.asarray(b, int)
    obs = np.zeros((k, k))
    for i, j in zip(a, b):
        obs[i, j] += 1
    if obs.sum() == 0:
        return float("nan")
    w = np.array([[(i - j) ** 2 for j in range(k)] for i in range(k)], float) / (k - 1) ** 2
    exp = np.outer(obs.sum(1), obs.sum(0)) / obs.sum()
    den = (w * exp).sum()
    return float(1.0 - (w * obs).sum() / den) if den > 0 else float("nan")


def _auroc(y: np.ndarray, s: np.ndarray) -> float:
    from sklearn.metrics import roc_auc_score

    return float(roc_auc_score(y, s)) if 0 < y.sum() < len(y) else float("nan")


def head_metrics(
    ref: np.ndarray, probs: np.ndarray, groups: Sequence[str], n_boot: int = 1000, seed: int = 0
) -> dict[str, Any]:
    """Metrics of one head: presence AUROC (with a 95% bootstrap CI over source groups), grade
    accuracy, MAE, quadratic weighted kappa, confusion matrix."""
    ref = np.asarray(ref, int)
    probs = np.asarray(probs, float)
    k = probs.shape[1]
    pred = probs.argmax(1)
    present = (ref > 0).astype(int)
    score = 1.0 - probs[:, 0]
    auc = _auroc(present, score)
    groups = np.asarray(groups)
    uniq = np.unique(groups)
    members = [np.nonzero(groups == g)[0] for g in uniq]
    rng = np.random.default_rng(seed)
    boots = []
    for _ in range(n_boot if np.isfinite(auc) else 0):
        idx = np.concatenate([members[i] for i in rng.integers(0, len(uniq), len(uniq))])
        v = _auroc(present[idx], score[idx])
        if np.isfinite(v):
            boots.append(v)
    cm = np.zeros((k, k), int)
    for i, j in zip(ref, pred):
        cm[i, j] += 1
    pred_present = (pred > 0).astype(int)
    return {
        "n": int(len(ref)),
        "n_groups": int(len(uniq)),
        "n_present": int(present.sum()),
        "n_present_groups": int(len(np.unique(groups[present == 1]))),
        "presence_auroc": round(auc, 4),
        "presence_auroc_95ci_group_bootstrap": [
            round(float(np.percentile(boots, 2.5)), 3),
            round(float(np.percentile(boots, 97.5)), 3),
        ]
        if boots
        else None,
        "presence_sensitivity_argmax": round(float(pred_present[present == 1].mean()), 4)
        if present.any()
        else None,
        "presence_specificity_argmax": round(float(1 - pred_present[present == 0].mean()), 4)
        if (1 - present).any()
        else None,
        "grade_accuracy": round(float((pred == ref).mean()), 4),
        "grade_mae": round(float(np.abs(pred - ref).mean()), 4),
        "grade_kappa_quadratic": round(weighted_kappa(ref, pred, k), 4),
        "reference_grade_counts": np.bincount(ref, minlength=k).tolist(),
        "confusion_matrix": cm.tolist(),
    }


def primary_label(card: ModelCard, grade: int) -> str:
    """The card label of an overall grade: the label whose `grade` is it (else the grade-th label)."""
    for label in card.labels:
        if label.grade is not None and int(label.grade) == int(grade):
            return label.id
    return card.labels[min(int(grade), len(card.labels) - 1)].id


def predict_heads(predictor, images: list[np.ndarray]) -> dict[str, np.ndarray]:
    """Per-head probabilities [N, grades] for RGB uint8 images, through the app's preprocessing."""
    batch = np.stack([predictor.model_input(img) for img in images])
    fn = getattr(predictor.backend, "predict_heads", None)
    if fn is None:
        raise CardError(f"{predictor.card.id}: its backend has no graded heads")
    return {k: np.asarray(v, dtype=np.float64) for k, v in fn(batch).items()}
