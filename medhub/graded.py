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

Nothing here imports torch or gradio: `graded_summary` is a pure function the app calls with the
backend's per-head probabilities, and `evaluate_graded` is what `python -m medhub evaluate` runs for
such a card.
"""

from __future__ import annotations

import csv
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from medhub.cards import CardError

if TYPE_CHECKING:
    from medhub.cards import ModelCard

OUTPUT = "graded_heads"


@dataclass(frozen=True)
class Grade:
    en: str
    ko: str

    def name(self, lang: str = "en") -> str:
        return self.ko if lang == "ko" else self.en


@dataclass(frozen=True)
class HeadSpec:
    id: str
    en: str
    ko: str
    grades: tuple[Grade, ...]
    bins: tuple[float, ...]
    area_columns: tuple[str, ...]

    def name(self, lang: str = "en") -> str:
        return self.ko if lang == "ko" else self.en

    def grade_of_area(self, area: float) -> int:
        return grade_from_area(area, self.bins)


def grade_from_area(area: float, bins: Sequence[float]) -> int:
    """Number of bin edges the area fraction exceeds (0 .. len(bins))."""
    return int(sum(float(area) > float(b) for b in bins))


def parse_heads(raw: Any, where: str = "card") -> tuple[HeadSpec, ...]:
    """Validate `medhub.heads` of a graded-heads card; raises CardError naming the problem."""
    if not isinstance(raw, list) or not raw:
        raise CardError(f"{where}: output 'graded_heads' needs a non-empty 'heads' list")
    heads = []
    for entry in raw:
        if not isinstance(entry, dict) or not entry.get("id"):
            raise CardError(f"{where}: every head needs an 'id'")
        hid = str(entry["id"])
        for key in ("en", "ko", "grades", "bins"):
            if key not in entry:
                raise CardError(f"{where}: head '{hid}' needs '{key}'")
        grades_raw = entry["grades"]
        if not isinstance(grades_raw, list) or len(grades_raw) < 2:
            raise CardError(f"{where}: head '{hid}': 'grades' must list at least two {{en, ko}} names")
        grades = []
        for g in grades_raw:
            if not isinstance(g, dict) or not g.get("en") or not g.get("ko"):
                raise CardError(f"{where}: head '{hid}': every grade needs 'en' and 'ko'")
            grades.append(Grade(str(g["en"]), str(g["ko"])))
        bins = entry["bins"]
        if not isinstance(bins, list) or len(bins) != len(grades) - 1:
            raise CardError(
                f"{where}: head '{hid}': 'bins' needs {len(grades) - 1} edges (one fewer than grades)"
            )
        try:
            edges = tuple(float(b) for b in bins)
        except (TypeError, ValueError):
            raise CardError(f"{where}: head '{hid}': 'bins' must be numbers") from None
        if any(b >= c for b, c in zip(edges, edges[1:])) or edges[0] < 0:
            raise CardError(f"{where}: head '{hid}': 'bins' must increase strictly from >= 0")
        cols = entry.get("area_columns") or []
        if not isinstance(cols, list) or not all(isinstance(c, str) for c in cols):
            raise CardError(f"{where}: head '{hid}': 'area_columns' must be a list of column names")
        heads.append(HeadSpec(hid, str(entry["en"]), str(entry["ko"]), tuple(grades), edges, tuple(cols)))
    ids = [h.id for h in heads]
    if len(set(ids)) != len(ids) or "primary" in ids:
        raise CardError(f"{where}: head ids must be unique and not 'primary'")
    return tuple(heads)


def card_heads(card: ModelCard) -> tuple[HeadSpec, ...]:
    if card.output != OUTPUT:
        raise CardError(f"{card.id}: output is {card.output!r}, not {OUTPUT!r}")
    return parse_heads(card.heads, card.id)


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
        from medhub.evaluation import EvaluationError

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


def evaluate_graded(
    model_id: str,
    data_dir: Path,
    split_file: Path | None = None,
    subset: str = "test",
    limit: int | None = None,
    batch_size: int = 32,
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """`python -m medhub evaluate` for a graded-heads card: per-head metrics and one row per file."""
    from medhub.evaluation import EvaluationError, _split_filter
    from medhub.imaging import InputError, load_upload
    from medhub.inference import get_predictor

    predictor = get_predictor(model_id)
    card = predictor.card
    heads = card_heads(card)
    data_dir = Path(data_dir)
    refs = reference_grades(card, data_dir)
    keep = _split_filter(Path(split_file), subset) if split_file else (lambda p: True)
    files = [f for f in sorted(refs) if keep(data_dir / f)]
    if limit:
        files = files[:limit]
    if not files:
        raise EvaluationError(f"no labelled image of {data_dir} is in split '{subset}'")
    kept, skipped = [], []
    probs: dict[str, list[np.ndarray]] = {h.id: [] for h in heads}
    probs["primary"] = []
    for start in range(0, len(files), batch_size):
        images = []
        for f in files[start : start + batch_size]:
            try:
                images.append(load_upload(data_dir / f).rgb)
                kept.append(f)
            except InputError as err:
                skipped.append({"path": str(data_dir / f), "error": err.code})
        if images:
            out = predict_heads(predictor, images)
            for name in probs:
                probs[name].append(out[name])
    if not kept:
        raise EvaluationError("no file could be decoded")
    from medhub.evaluation import compute_metrics

    groups = [refs[f]["group"] for f in kept]
    stacked = {name: np.concatenate(v) for name, v in probs.items()}
    # The primary classifier (the card's labels): the overall grade = the worst head grade.
    primary_truth = [primary_label(card, max(refs[f][h.id] for h in heads)) for f in kept]
    metrics = compute_metrics(card, primary_truth, stacked["primary"])
    metrics.update(
        {
            "n_groups": len(set(groups)),
            "output": OUTPUT,
            "heads": {},
            "revision": predictor.revision,
            "weights_source": predictor.source,
            "skipped": skipped,
        }
    )
    for h in heads:
        ref = np.array([refs[f][h.id] for f in kept])
        metrics["heads"][h.id] = head_metrics(ref, stacked[h.id], groups)
        metrics["heads"][h.id]["bins"] = list(h.bins)
    rows = []
    for i, f in enumerate(kept):
        row: dict[str, Any] = {
            "path": f,  # relative to DATA_DIR, as in evaluate_dir
            "group": refs[f]["group"],
            "label": primary_truth[i],
            **{lid: round(float(q), 5) for lid, q in zip(card.label_ids, stacked["primary"][i])},
        }
        for h in heads:
            row[f"{h.id}_ref"] = refs[f][h.id]
            row[f"{h.id}_area"] = round(refs[f][h.id + "_area"], 5)
            for g, q in enumerate(stacked[h.id][i]):
                row[f"{h.id}_p{g}"] = round(float(q), 5)
        rows.append(row)
    return metrics, rows
