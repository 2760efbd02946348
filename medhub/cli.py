"""Command line: `python -m medhub predict|evaluate|publish|bench ...`.

`predict` and `evaluate` go through `medhub.inference`, the code path the app uses.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from medhub import DISCLAIMER


def _cmd_predict(args: argparse.Namespace) -> int:
    from medhub.cards import get_card
    from medhub.imaging import InputError, load_upload
    from medhub.inference import ModelUnavailable, get_predictor

    card = get_card(args.model_id)
    try:
        image = load_upload(Path(args.image), allow_dicom=card.input.dicom, window=args.window)
        predictor = get_predictor(card.id)
        result = predictor.analyse(image.rgb, explain=args.overlay is not None, tta=args.tta)
    except InputError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    except ModelUnavailable as err:
        print(f"error: {err}", file=sys.stderr)
        return 3
    summary = result.summary(predictor.revision, predictor.source)
    if image.meta:
        summary["input"] = image.meta
    if args.overlay is not None:
        from PIL import Image

        from medhub.explain import overlay

        Image.fromarray(overlay(image.rgb, result.heatmap)).save(args.overlay)
        summary["overlay"] = str(args.overlay)
    if args.json:
        print(json.dumps(summary, ensure_ascii=False, indent=2))
        return 0
    print(f"{card.title_for('en')} ({card.id}, revision {predictor.revision})")
    for label in card.labels:
        print(f"  {label.en:<32} {result.probabilities[label.id]:7.2%}")
    print(f"decision: {summary['decision_en']}  [{summary['decision_rule']}]")
    print(DISCLAIMER["en"])
    return 0


def _cmd_evaluate(args: argparse.Namespace) -> int:
    from medhub.evaluation import EvaluationError, evaluate_dir, save_reliability_plot
    from medhub.inference import ModelUnavailable

    try:
        metrics, rows = evaluate_dir(
            args.model_id,
            Path(args.data_dir),
            split_file=args.split_file,
            subset=args.subset,
            limit_per_label=args.limit_per_label,
        )
    except (EvaluationError, ModelUnavailable, KeyError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    if args.predictions_out:
        import csv

        with open(args.predictions_out, "w", newline="", encoding="utf-8") as fh:
            writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
            writer.writeheader()
            writer.writerows(rows)
    if args.reliability_plot:
        save_reliability_plot(metrics, Path(args.reliability_plot), title=args.model_id)
    if args.json:
        print(json.dumps(metrics, ensure_ascii=False))
        return 0
    print(f"{args.model_id}: n={metrics['n']} accuracy={metrics['accuracy']:.4f} "
          f"balanced_accuracy={metrics['balanced_accuracy']:.4f} auroc={metrics['auroc']} "
          f"ece={metrics['ece']:.4f}")
    for label, row in metrics["per_class"].items():
        print(f"  {label:<24} P={row['precision']:.3f} R={row['recall']:.3f} F1={row['f1']:.3f} "
              f"n={row['support']}")
    print("confusion matrix (rows = truth, columns = prediction):", metrics["labels"])
    for row in metrics["confusion_matrix"]:
        print("  ", row)
    if metrics.get("skipped_folders"):
        print("skipped folders (no label or alias on the card): "
              + ", ".join(f"{k} ({v} images)" for k, v in metrics["skipped_folders"].items()))
    for head, row in (metrics.get("heads") or {}).items():  # graded-heads cards (medhub/graded.py)
        print(f"  head {head:<14} presence AUROC={row['presence_auroc']} (95% CI "
              f"{row['presence_auroc_95ci_group_bootstrap']}) n={row['n']} present={row['n_present']} "
              f"kappa={row['grade_kappa_quadratic']} MAE={row['grade_mae']}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m medhub", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("predict", help="classify one image or DICOM file")
    p.add_argument("model_id")
    p.add_argument("image")
    p.add_argument("--json", action="store_true", help="print the JSON summary the API returns")
    p.add_argument("--window", default=None, help="CT window preset for DICOM (brain, subdural, ...)")
    p.add_argument("--tta", action="store_true", help="average over flips/rotations")
    p.add_argument("--overlay", type=Path, default=None, help="write the Grad-CAM overlay PNG here")
    p.set_defaults(func=_cmd_predict)

    e = sub.add_parser("evaluate", help="metrics on a folder with one sub-folder per label")
    e.add_argument("model_id")
    e.add_argument("data_dir")
    e.add_argument("--json", action="store_true", help="print one JSON object")
    e.add_argument("--split-file", type=Path, default=None, help="training/splits/<id>.csv")
    e.add_argument("--subset", default="test", help="which split of --split-file (default: test)")
    e.add_argument("--limit-per-label", type=int, default=None)
    e.add_argument("--predictions-out", type=Path, default=None, help="CSV of per-file probabilities")
    e.add_argument("--reliability-plot", type=Path, default=None, help="PNG reliability diagram")
    e.set_defaults(func=_cmd_evaluate)

    try:
        from medhub.publish import add_publish_parser

        add_publish_parser(sub)
    except ImportError:
        pass
    from medhub.crosscollection import add_parser as add_cross_collection_parser

    add_cross_collection_parser(sub)
    from medhub.robustness import add_parser as add_robustness_parser

    add_robustness_parser(sub)
    try:
        from medhub.bench import add_bench_parser

        add_bench_parser(sub)
    except ImportError:
        pass
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return int(args.func(args) or 0)
