"""Robustness of every model to image degradation, through the app's code path.

    python -m medhub robustness [MODEL ...] [--json] [--limit-per-label N] [--write-cards]

For each model: a fixed, seeded subsample of its own test split (`training/splits/<id>.csv`, the
card's `metrics.data_dir`), decoded by the input gate (`medhub.imaging.load_for_card`, with the card's DICOM window) and scored by
its `Predictor` clean and under six degradations at three severities each (applied to the decoded
image, before the model's own resizing, as a degraded upload would arrive):

| corruption | severity 1 / 2 / 3 |
|---|---|
| jpeg | JPEG re-encode at quality 50 / 30 / 15 |
| blur | Gaussian blur, sigma 1 / 2 / 3 px per 224 px of the shorter side |
| noise | Gaussian noise, sd 8 / 16 / 32 (of 255), seeded per image |
| brightness_contrast | brightness x 0.85 / 0.7 / 0.55 and contrast x 0.8 / 0.65 / 0.5 |
| rotation | 10 / 20 / 30 degrees, reflected border |
| downscale | phone-like down- then up-scaling by 2 / 3 / 4 (area down, bilinear up) |

Reports accuracy and AUROC (macro one-vs-rest for multi-class) per cell with n, and can write a
compact table to each card (block `robustness`, key `robustness`).

A graded-heads card (scalp_microscope) is sampled from its data set's labels.csv: the table scores
its primary label (the overall grade = the worst head grade, as `evaluate` does), and a second table
gives each head's presence AUROC (P(grade > 0)) per corruption.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import numpy as np

from medhub import paths
from medhub.cards import REPO_ROOT, get_card, load_cards
from medhub.graded import is_graded

SEED = 20261201
DEFAULT_LIMIT = 50  # images per label
SEVERITIES = (1, 2, 3)
SPLITS_DIR = REPO_ROOT / "training" / "splits"


def _jpeg(img: np.ndarray, s: int, rng: np.random.Generator) -> np.ndarray:
    import cv2

    quality = {1: 50, 2: 30, 3: 15}[s]
    ok, buf = cv2.imencode(".jpg", img[:, :, ::-1], [cv2.IMWRITE_JPEG_QUALITY, quality])
    if not ok:  # pragma: no cover - cv2 encodes any uint8 RGB
        raise RuntimeError("JPEG encode failed")
    return np.ascontiguousarray(cv2.imdecode(buf, cv2.IMREAD_COLOR)[:, :, ::-1])


def _blur(img: np.ndarray, s: int, rng: np.random.Generator) -> np.ndarray:
    import cv2

    sigma = float(s) * min(img.shape[:2]) / 224.0
    return cv2.GaussianBlur(img, (0, 0), sigma)


def _noise(img: np.ndarray, s: int, rng: np.random.Generator) -> np.ndarray:
    sd = {1: 8.0, 2: 16.0, 3: 32.0}[s]
    return np.clip(img.astype(np.float32) + rng.normal(0.0, sd, img.shape), 0, 255).astype(np.uint8)


def _brightness_contrast(img: np.ndarray, s: int, rng: np.random.Generator) -> np.ndarray:
    bright, contrast = {1: (0.85, 0.8), 2: (0.7, 0.65), 3: (0.55, 0.5)}[s]
    x = img.astype(np.float32)
    mean = x.mean()
    return np.clip(((x - mean) * contrast + mean) * bright, 0, 255).astype(np.uint8)


def _rotation(img: np.ndarray, s: int, rng: np.random.Generator) -> np.ndarray:
    import cv2

    h, w = img.shape[:2]
    m = cv2.getRotationMatrix2D((w / 2, h / 2), 10.0 * s, 1.0)
    return cv2.warpAffine(img, m, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT_101)


def _downscale(img: np.ndarray, s: int, rng: np.random.Generator) -> np.ndarray:
    import cv2

    h, w = img.shape[:2]
    f = s + 1
    small = cv2.resize(img, (max(1, w // f), max(1, h // f)), interpolation=cv2.INTER_AREA)
    return cv2.resize(small, (w, h), interpolation=cv2.INTER_LINEAR)


CORRUPTIONS: dict[str, Callable[[np.ndarray, int, np.random.Generator], np.ndarray]] = {
    "jpeg": _jpeg,
    "blur": _blur,
    "noise": _noise,
    "brightness_contrast": _brightness_contrast,
    "rotation": _rotation,
    "downscale": _downscale,
}


def corrupt(img: np.ndarray, name: str, severity: int, key: str = "") -> np.ndarray:
    """`img` (RGB uint8) under corruption `name` at `severity` (1-3); `key` seeds the random ones."""
    if name not in CORRUPTIONS:
        raise KeyError(f"unknown corruption {name!r} (known: {', '.join(CORRUPTIONS)})")
    if severity not in SEVERITIES:
        raise ValueError(f"severity must be one of {SEVERITIES}")
    seed = int(hashlib.sha1(f"{SEED}|{name}|{severity}|{key}".encode()).hexdigest()[:8], 16)
    out = CORRUPTIONS[name](img, severity, np.random.default_rng(seed))
    assert out.shape == img.shape and out.dtype == np.uint8
    return out


def graded_cases(card, data_root: Path, split_file: Path) -> list:
    """Test-split cases of a graded-heads card (labels from the data set's labels.csv): the label is
    the card's primary label of the overall grade (the worst head grade), as `evaluate` scores it."""
    from medhub.evaluation import Case, _split_filter
    from medhub.graded import card_heads, primary_label, reference_grades

    data_dir = data_root / card.metrics["data_dir"]
    refs = reference_grades(card, data_dir)
    keep = _split_filter(split_file, "test")
    heads = card_heads(card)
    return [Case(data_dir / f, primary_label(card, max(r[h.id] for h in heads)))
            for f, r in sorted(refs.items()) if keep(data_dir / f)]


def sample_cases(card, data_root: Path, limit_per_label: int | None):
    """A seeded subsample (by file-name hash) of the card's own test split, `limit` per label."""
    from medhub.evaluation import collect_cases

    split_file = SPLITS_DIR / f"{card.id}.csv"
    cases = (graded_cases(card, data_root, split_file) if is_graded(card)
             else collect_cases(card, data_root / card.metrics["data_dir"], split_file, "test"))
    by_label: dict[str, list] = {}
    for c in cases:
        by_label.setdefault(c.label, []).append(c)
    out = []
    for label in card.label_ids:
        items = sorted(
            by_label.get(label, []), key=lambda c: hashlib.sha1(f"{SEED}|{c.path.name}".encode()).hexdigest()
        )
        out.extend(items[:limit_per_label] if limit_per_label else items)
    return out


def evaluate_model(
    model_id: str,
    data_root: Path,
    limit_per_label: int | None = DEFAULT_LIMIT,
    corruptions: Iterable[str] | None = None,
    batch: int = 32,
    severities: Iterable[int] | None = None,
) -> dict[str, Any]:
    """Clean figures and each corruption's at each severity (default: all of SEVERITIES, in order)
    on the card's seeded test sample."""
    from medhub.evaluation import compute_metrics
    from medhub.imaging import load_for_card
    from medhub.registry import get_predictor

    predictor = get_predictor(model_id)
    card = predictor.card
    cases = sample_cases(card, data_root, limit_per_label)
    images = [load_for_card(card, c.path).rgb for c in cases]
    labels = [c.label for c in cases]
    keys = [c.path.name for c in cases]

    graded = is_graded(card)
    if graded:
        from medhub.graded import _auroc, card_heads, predict_heads, reference_grades

        refs = reference_grades(card, data_root / card.metrics["data_dir"])
        names = {c.path: c.path.relative_to(data_root / card.metrics["data_dir"]).as_posix() for c in cases}
        presence = {h.id: np.array([refs[names[c.path]][h.id] > 0 for c in cases], int) for h in card_heads(card)}

    def score(imgs: list[np.ndarray]) -> dict[str, Any]:
        if not graded:
            probs = np.concatenate(
                [predictor.predict_batch(imgs[i : i + batch]) for i in range(0, len(imgs), batch)]
            )
            m = compute_metrics(card, labels, probs)
            return {"accuracy": m["accuracy"], "balanced_accuracy": m["balanced_accuracy"], "auroc": m["auroc"]}
        # graded heads: the primary (overall grade) figures as for any card, plus each head's
        # presence AUROC (P(grade > 0)), from one forward pass per batch
        outs = [predict_heads(predictor, imgs[i : i + batch]) for i in range(0, len(imgs), batch)]
        out = {k: np.concatenate([o[k] for o in outs]) for k in outs[0]}
        m = compute_metrics(card, labels, out["primary"])
        heads = {h: round(_auroc(y, 1.0 - out[h][:, 0]), 4) for h, y in presence.items()}
        return {"accuracy": m["accuracy"], "balanced_accuracy": m["balanced_accuracy"], "auroc": m["auroc"],
                "presence_auroc": heads}

    result: dict[str, Any] = {
        "model_id": model_id,
        "n": len(cases),
        "support": {lab: labels.count(lab) for lab in card.label_ids if lab in labels},
        "sample": f"test split of training/splits/{model_id}.csv, up to {limit_per_label} per label "
        f"(seeded by file name, seed {SEED})",
        "clean": score(images),
        "corruptions": {},
    }
    for name in corruptions or CORRUPTIONS:
        result["corruptions"][name] = [
            score([corrupt(img, name, s, k) for img, k in zip(images, keys, strict=True)])
            for s in (SEVERITIES if severities is None else severities)
        ]
    return result


def run(
    model_ids: Iterable[str] | None = None,
    data_root: Path | None = None,
    limit_per_label: int | None = DEFAULT_LIMIT,
) -> dict[str, Any]:
    from medhub.evaluation import EvaluationError

    data_root = Path(data_root or paths.data_root())
    if model_ids:
        return {mid: evaluate_model(mid, data_root, limit_per_label) for mid in model_ids}
    # Every card: one whose test data cannot be scored by folder label (e.g. graded heads read
    # from a labels file) is listed as skipped with the reason instead of failing the whole run.
    out: dict[str, Any] = {}
    for card in load_cards():
        try:
            out[card.id] = evaluate_model(card.id, data_root, limit_per_label)
        except EvaluationError as err:
            out[card.id] = {"skipped": str(err)}
    return out


def _f(v: float | None) -> str:
    return "n/a" if v is None else f"{v:.3f}"


def render_text(result: dict[str, Any]) -> str:
    lines = []
    for mid, r in result.items():
        if "skipped" in r:
            lines.append(f"{mid}: skipped ({r['skipped']})")
            continue
        c = r["clean"]
        lines.append(
            f"{mid}: n={r['n']} {r['support']}  clean accuracy {_f(c['accuracy'])} AUROC {_f(c['auroc'])}"
        )
        if "presence_auroc" in c:
            lines.append("  presence AUROC clean: " + ", ".join(f"{h} {_f(v)}" for h, v in c["presence_auroc"].items()))
        for name, cells in r["corruptions"].items():
            lines.append(
                f"  {name:<20} "
                + "  ".join(
                    f"s{s}: acc {_f(x['accuracy'])} AUROC {_f(x['auroc'])}"
                    for s, x in zip(SEVERITIES, cells, strict=True)
                )
            )
    return "\n".join(lines)


def card_value(r: dict[str, Any]) -> dict[str, Any]:
    return {
        "source": "python -m medhub robustness (the app's code path)",
        "n": r["n"],
        "support": r["support"],
        "sample": r["sample"],
        "seed": SEED,
        "clean": {"accuracy": r["clean"]["accuracy"], "auroc": r["clean"]["auroc"]},
        "corruptions": {
            name: [[x["accuracy"], x["auroc"]] for x in cells] for name, cells in r["corruptions"].items()
        },
        "cell": "[accuracy, AUROC] at severity 1, 2, 3",
        **(
            {"presence_auroc": {
                "clean": r["clean"]["presence_auroc"],
                "corruptions": {name: [x["presence_auroc"] for x in cells] for name, cells in r["corruptions"].items()},
            }}
            if "presence_auroc" in r["clean"] else {}
        ),
    }


def card_block(r: dict[str, Any]) -> str:
    c = r["clean"]
    lines = [
        "## Robustness to image degradation (영상 품질 저하에 대한 강건성)",
        "",
        f"Accuracy / AUROC on {r['n']} test images ({', '.join(f'{k} {v}' for k, v in r['support'].items())}; "
        f"{r['sample']}), clean: {_f(c['accuracy'])} / {_f(c['auroc'])}. Severity 1-3 as in "
        "`medhub/studies/robustness.py` (JPEG quality 50/30/15; blur sigma 1/2/3 px; noise sd 8/16/32; brightness "
        "x0.85/0.7/0.55 with contrast x0.8/0.65/0.5; rotation 10/20/30 degrees; down-up-scaling by 2/3/4). "
        f"With n = {r['n']} a difference of a few points is within noise.",
        "",
        "| corruption | severity 1 | severity 2 | severity 3 |",
        "|---|---|---|---|",
    ]
    for name, cells in r["corruptions"].items():
        lines.append(
            f"| {name} | " + " | ".join(f"{_f(x['accuracy'])} / {_f(x['auroc'])}" for x in cells) + " |"
        )
    if "presence_auroc" in c:
        heads = list(c["presence_auroc"])
        lines += [
            "",
            "Graded heads: the table above scores the overall grade (the worst head). Presence AUROC per head "
            f"({' / '.join(heads)}), clean: {' / '.join(_f(c['presence_auroc'][h]) for h in heads)}.",
            "",
            "| corruption | severity 1 | severity 2 | severity 3 |",
            "|---|---|---|---|",
        ]
        for name, cells in r["corruptions"].items():
            lines.append(
                f"| {name} | "
                + " | ".join(" / ".join(_f(x["presence_auroc"][h]) for h in heads) for x in cells)
                + " |"
            )
    return "\n".join(lines)


def write_to_card(model_id: str, r: dict[str, Any]) -> Path:
    from medhub.cardblocks import set_block, set_meta, update_card_file

    return update_card_file(
        model_id, lambda t: set_block(set_meta(t, "robustness", card_value(r)), "robustness", card_block(r))
    )


def add_parser(sub) -> None:
    p = sub.add_parser(
        "robustness", help="accuracy/AUROC under JPEG, blur, noise, brightness, rotation, rescaling"
    )
    p.add_argument("models", nargs="*", help="model ids (default: every card)")
    p.add_argument("--data-root", type=Path, default=None, help="default ../shared/data")
    p.add_argument(
        "--limit-per-label",
        type=int,
        default=DEFAULT_LIMIT,
        help=f"test images per label (default {DEFAULT_LIMIT}; 0 = the whole test split)",
    )
    p.add_argument("--json", action="store_true")
    p.add_argument(
        "--write-cards", action="store_true", help="store the table on each card (block/key robustness)"
    )
    p.set_defaults(func=_cmd)


def _cmd(args: argparse.Namespace) -> int:
    from medhub.evaluation import EvaluationError
    from medhub.imaging import InputError
    from medhub.inference import ModelUnavailable

    try:
        for mid in args.models:
            get_card(mid)
        result = run(args.models or None, args.data_root, args.limit_per_label or None)
    except (EvaluationError, ModelUnavailable, InputError, KeyError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    if args.write_cards:
        for mid, r in result.items():
            if "skipped" not in r:
                print(f"wrote {write_to_card(mid, r)}", file=sys.stderr)
    print(json.dumps(result, ensure_ascii=False) if args.json else render_text(result))
    return 0
