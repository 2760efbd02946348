"""Evaluate a model on a folder of labelled images, through the same path the app uses.

`evaluate_dir` walks DATA_DIR (one sub-folder per label; names match the card's label ids or their
aliases, case-insensitively; a subset of labels may be present), decodes every file with the input
gate, predicts with the model's `Predictor` and computes `compute_metrics`. A split file
(`training/splits/<id>.csv`) can restrict the files to one subset (e.g. the test split).
"""

from __future__ import annotations

import csv
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from medhub import graded, registry
from medhub.cards import ModelCard
from medhub.errors import EvaluationError  # noqa: F401  (defined low: medhub.graded raises it too)
from medhub.imaging import InputError, load_for_card, load_upload
from medhub.inference import decide

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".webp", ".bmp", ".tif", ".tiff", ".gif", ".dcm"}
ECE_BINS = 10


@dataclass(frozen=True)
class Case:
    path: Path
    label: str  # card label id


def folder_to_label(card: ModelCard) -> dict[str, str]:
    """Lower-cased folder name -> card label id (label ids and their aliases)."""
    mapping: dict[str, str] = {}
    for label in card.labels:
        for name in (label.id, *label.aliases):
            mapping[name.lower()] = label.id
    return mapping


def _split_filter(split_file: Path, subset: str) -> Callable[[Path], bool]:
    """A predicate keeping the files a split file assigns to `subset`.

    Split files list paths relative to the shared data root (e.g. `melanoma/benign/x.jpg`); a file
    matches when its path ends with one of them, so DATA_DIR can be any folder inside that root.
    """
    wanted: set[tuple[str, ...]] = set()
    with open(split_file, newline="", encoding="utf-8") as fh:
        for row in csv.DictReader(fh):
            if row["split"] == subset:
                wanted.add(tuple(Path(row["path"]).parts))
    if not wanted:
        raise EvaluationError(f"{split_file} has no rows in split '{subset}'")
    depth = max(len(p) for p in wanted)

    def keep(path: Path) -> bool:
        parts = path.resolve().parts
        return any(parts[-k:] in wanted for k in range(1, min(depth, len(parts)) + 1))

    return keep


def cases_from_split(card: ModelCard, data_dir: Path, split_file: Path, subset: str | None = "test") -> list[Case]:
    """Cases of a split file's `subset` rows (every row with None) that lie under `data_dir`, labelled by
    the row's label (a card label id or alias); rows of other labels are left out."""
    mapping = folder_to_label(card)
    out: list[Case] = []
    with open(split_file, newline="", encoding="utf-8") as fh:
        for row in csv.DictReader(fh):
            label = mapping.get(row["label"].lower())
            if label is None or (subset is not None and row["split"] != subset):
                continue
            parts = Path(row["path"]).parts
            for k in range(len(parts)):
                path = data_dir.joinpath(*parts[k:])
                if path.is_file():
                    out.append(Case(path, label))
                    break
    return sorted(out, key=lambda c: c.path)


def collect_cases(
    card: ModelCard,
    data_dir: Path,
    split_file: Path | None = None,
    subset: str = "test",
    limit_per_label: int | None = None,
    keep_file: Callable[[Path], bool] | None = None,
    skipped_folders: dict[str, int] | None = None,
) -> list[Case]:
    """Labelled files under `data_dir`. Folders whose name is no label id or alias are skipped;
    pass a dict as `skipped_folders` to get their image counts. `keep_file` filters further (e.g.
    the cross-collection check drops files the model trained on)."""
    data_dir = Path(data_dir)
    if not data_dir.is_dir():
        raise EvaluationError(f"{data_dir} is not a directory")
    mapping = folder_to_label(card)
    keep = _split_filter(Path(split_file), subset) if split_file else (lambda p: True)
    cases: list[Case] = []
    folders = sorted(p for p in data_dir.iterdir() if p.is_dir())
    if split_file and not any(f.name.lower() in mapping for f in folders):
        # A collection labelled by a table, not by folders (ham10000/images/): the split file's
        # label column says what each file is.
        cases = [c for c in cases_from_split(card, data_dir, Path(split_file), subset)
                 if keep_file is None or keep_file(c.path)]
        by_label: dict[str, list[Case]] = {}
        for c in cases:
            by_label.setdefault(c.label, []).append(c)
        cases = [c for cs in by_label.values() for c in (cs[:limit_per_label] if limit_per_label else cs)]
        folders = []
    for folder in folders:
        label = mapping.get(folder.name.lower())
        if label is None:
            if skipped_folders is not None:
                skipped_folders[folder.name] = sum(
                    1 for p in folder.rglob("*") if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES
                )
            continue
        files = sorted(p for p in folder.rglob("*") if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)
        files = [p for p in files if keep(p) and (keep_file is None or keep_file(p))]
        if limit_per_label:
            files = files[:limit_per_label]
        cases.extend(Case(p, label) for p in files)
    if not cases:
        known = ", ".join(sorted(mapping))
        raise EvaluationError(f"no labelled images under {data_dir} (folders must be named: {known})")
    return cases


def expected_calibration_error(confidence: np.ndarray, correct: np.ndarray, bins: int = ECE_BINS) -> float:
    """Top-label ECE with equal-width bins: sum over bins of |accuracy - confidence| * share."""
    edges = np.linspace(0.0, 1.0, bins + 1)
    index = np.clip(np.digitize(confidence, edges[1:-1], right=True), 0, bins - 1)
    ece = 0.0
    for b in range(bins):
        sel = index == b
        if sel.any():
            ece += abs(correct[sel].mean() - confidence[sel].mean()) * sel.mean()
    return float(ece)


def reliability_curve(confidence: np.ndarray, correct: np.ndarray, bins: int = ECE_BINS) -> list[dict]:
    edges = np.linspace(0.0, 1.0, bins + 1)
    index = np.clip(np.digitize(confidence, edges[1:-1], right=True), 0, bins - 1)
    rows = []
    for b in range(bins):
        sel = index == b
        if sel.any():
            rows.append(
                {
                    "bin": [float(edges[b]), float(edges[b + 1])],
                    "confidence": float(confidence[sel].mean()),
                    "accuracy": float(correct[sel].mean()),
                    "count": int(sel.sum()),
                }
            )
    return rows


def compute_metrics(card: ModelCard, y_true: Iterable[str], probs: np.ndarray) -> dict[str, Any]:
    """Metrics of one model on labelled cases, with the card's own decision rule."""
    from sklearn.metrics import confusion_matrix, precision_recall_fscore_support, roc_auc_score

    labels = card.label_ids
    y = np.array([labels.index(t) for t in y_true])
    probs = np.asarray(probs, dtype=np.float64)
    pred = np.array([labels.index(decide(card, row)) for row in probs])
    present = sorted(set(y.tolist()))

    precision, recall, f1, support = precision_recall_fscore_support(
        y, pred, labels=list(range(len(labels))), zero_division=0
    )
    per_class = {
        labels[i]: {
            "precision": round(float(precision[i]), 4),
            "recall": round(float(recall[i]), 4),
            "f1": round(float(f1[i]), 4),
            "support": int(support[i]),
        }
        for i in range(len(labels))
    }
    balanced = float(np.mean([recall[i] for i in present]))

    auroc: float | None
    if card.is_binary:
        pos = card.positive_index
        positives = y == pos
        auroc = float(roc_auc_score(positives, probs[:, pos])) if 0 < positives.sum() < len(y) else None
    else:
        scores = [roc_auc_score(y == i, probs[:, i]) for i in present if 0 < (y == i).sum() < len(y)]
        auroc = float(np.mean(scores)) if scores else None

    confidence = probs[np.arange(len(pred)), pred]
    correct = (pred == y).astype(np.float64)
    return {
        "model_id": card.id,
        "n": int(len(y)),
        "accuracy": round(float(correct.mean()), 4),
        "balanced_accuracy": round(balanced, 4),
        "auroc": round(auroc, 4) if auroc is not None else None,
        "ece": round(expected_calibration_error(confidence, correct), 4),
        "per_class": per_class,
        "confusion_matrix": confusion_matrix(y, pred, labels=list(range(len(labels)))).tolist(),
        "labels": labels,
        "threshold": card.threshold,
        "positive_class": card.positive_class,
        "reliability": reliability_curve(confidence, correct),
    }


def save_reliability_plot(metrics: dict[str, Any], path: Path, title: str = "") -> None:
    """Reliability diagram (top-label confidence vs accuracy) with the ECE in the title."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = metrics["reliability"]
    fig, ax = plt.subplots(figsize=(4, 4), dpi=100)
    ax.plot([0, 1], [0, 1], "--", color="gray", lw=1, label="perfect calibration")
    ax.plot([r["confidence"] for r in rows], [r["accuracy"] for r in rows], "o-", label="model")
    for r in rows:
        ax.annotate(
            str(r["count"]),
            (r["confidence"], r["accuracy"]),
            fontsize=7,
            textcoords="offset points",
            xytext=(3, -9),
        )
    ax.set_xlabel("confidence (top label)")
    ax.set_ylabel("accuracy")
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    ax.set_title(f"{title} ECE={metrics['ece']:.3f} n={metrics['n']}", fontsize=9)
    ax.legend(loc="upper left", fontsize=7)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def evaluate_dir(
    model_id: str,
    data_dir: Path,
    split_file: Path | None = None,
    subset: str = "test",
    limit_per_label: int | None = None,
    batch_size: int = 32,
    keep_file: Callable[[Path], bool] | None = None,
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Run a model over a labelled folder: (metrics, one row per file with its probabilities).

    `metrics["skipped_folders"]` counts the images of folders that map to no label of the card."""
    predictor = registry.get_predictor(model_id)
    card = predictor.card
    if graded.is_graded(card):  # per-symptom grades from the data set's labels.csv (medhub/graded.py)
        return evaluate_graded(model_id, data_dir, split_file, subset, limit_per_label, batch_size)
    skipped_folders: dict[str, int] = {}
    cases = collect_cases(card, data_dir, split_file, subset, limit_per_label, keep_file, skipped_folders)
    probs: list[np.ndarray] = []
    kept: list[Case] = []
    skipped: list[dict[str, str]] = []
    in_scope: list[bool] = []
    for start in range(0, len(cases), batch_size):
        chunk = cases[start : start + batch_size]
        images = []
        for case in chunk:
            try:
                images.append(load_for_card(card, case.path).rgb)
                kept.append(case)
            except InputError as err:
                skipped.append({"path": str(case.path), "error": err.code})
        if images and predictor.scope is not None:
            batch_probs, verdicts = predictor.scope_batch(images)
            probs.append(batch_probs)
            in_scope.extend(r.in_scope for r in verdicts)
        elif images:
            probs.append(predictor.predict_batch(images))
    if not kept:
        raise EvaluationError("no file in the data directory could be decoded")
    all_probs = np.concatenate(probs)
    metrics = compute_metrics(card, [c.label for c in kept], all_probs)
    # The existing keys mean all images; the scope check's view comes beside them.
    if predictor.scope is not None:
        accepted = np.array(in_scope, dtype=bool)
        metrics["in_scope_rate"] = round(float(accepted.mean()), 4)
        metrics["n_in_scope"] = int(accepted.sum())
        labels_in = [c.label for c, a in zip(kept, accepted) if a]
        try:
            metrics["metrics_in_scope"] = (
                compute_metrics(card, labels_in, all_probs[accepted]) if labels_in else None
            )
        except (EvaluationError, ValueError):
            metrics["metrics_in_scope"] = None
    else:
        metrics["in_scope_rate"] = None
        metrics["metrics_in_scope"] = None
    metrics["revision"] = predictor.revision
    metrics["weights_source"] = predictor.source
    metrics["skipped"] = skipped
    metrics["skipped_folders"] = skipped_folders
    # Paths relative to DATA_DIR (portable: `weights/<id>/test_predictions.csv` is such a file).
    rows = [
        {"path": _relative(c.path, data_dir), "label": c.label, **{k: float(v) for k, v in zip(card.label_ids, p)}}
        for c, p in zip(kept, all_probs)
    ]
    if predictor.scope is not None:
        for row, accepted in zip(rows, in_scope):
            row["in_scope"] = int(accepted)
    return metrics, rows


def _relative(path: Path, data_dir: Path) -> str:
    try:
        return Path(path).relative_to(data_dir).as_posix()
    except ValueError:
        return str(path)


def evaluate_graded(
    model_id: str,
    data_dir: Path,
    split_file: Path | None = None,
    subset: str = "test",
    limit: int | None = None,
    batch_size: int = 32,
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """`python -m medhub evaluate` for a graded-heads card (medhub/graded.py): per-head metrics and one row per file."""
    predictor = registry.get_predictor(model_id)
    card = predictor.card
    heads = graded.card_heads(card)
    data_dir = Path(data_dir)
    refs = graded.reference_grades(card, data_dir)
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
            out = graded.predict_heads(predictor, images)
            for name in probs:
                probs[name].append(out[name])
    if not kept:
        raise EvaluationError("no file could be decoded")
    groups = [refs[f]["group"] for f in kept]
    stacked = {name: np.concatenate(v) for name, v in probs.items()}
    # The primary classifier (the card's labels): the overall grade = the worst head grade.
    primary_truth = [graded.primary_label(card, max(refs[f][h.id] for h in heads)) for f in kept]
    metrics = compute_metrics(card, primary_truth, stacked["primary"])
    metrics.update(
        {
            "n_groups": len(set(groups)),
            "output": graded.OUTPUT,
            "heads": {},
            "revision": predictor.revision,
            "weights_source": predictor.source,
            "skipped": skipped,
        }
    )
    for h in heads:
        ref = np.array([refs[f][h.id] for f in kept])
        metrics["heads"][h.id] = graded.head_metrics(ref, stacked[h.id], groups)
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
