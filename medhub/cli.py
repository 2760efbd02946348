"""Command line: `python -m medhub predict|evaluate` and, registered from `COMMANDS`, the studies'
commands (`publish`, `cross-collection`, `robustness`, `scope-report`, `bench`) and the teaching
commands (`ppv`, `report`, `deck`).

`predict` and `evaluate` go through `medhub.inference`, the code path the app uses.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from medhub.studies import bench, crosscollection, publish, robustness, scope_report
from medhub.teaching import commands as teaching

# The studies' commands (medhub/studies/), each module with `add_parser`.
STUDIES = (publish, crosscollection, robustness, scope_report, bench)
# Every command beyond predict/evaluate, in the order `--help` lists them: the studies and the teaching
# commands (medhub/teaching/commands.py: ppv, report, deck).
COMMANDS = (publish, crosscollection, robustness, scope_report, teaching, bench)


def _inputs(paths: list[str]) -> list[Path]:
    """Files as given, folders expanded (recursively, sorted; hidden files skipped)."""
    out: list[Path] = []
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            out += sorted(p for p in path.rglob("*") if p.is_file() and not p.name.startswith("."))
        else:
            out.append(path)
    return out


def _cmd_predict(args: argparse.Namespace) -> int:
    """One result per input, through medhub.pipeline (the app's request path, the same summary)."""
    from medhub import pipeline
    from medhub.cards import card_for_command
    from medhub.disclaimers import disclaimer
    from medhub.i18n import t
    from medhub.imaging import InputError
    from medhub.inference import ModelUnavailable

    card = card_for_command(args.model_id)
    if card is None:
        return 2
    if args.tta and not card.tta:
        print(f"error: {card.id} does not offer --tta (its card has no `tta: true`)", file=sys.stderr)
        return 2
    if getattr(args, "series", False):
        return _cmd_predict_series(args, card)
    files = _inputs(args.inputs)
    if args.overlay is not None and len(files) != 1:
        print("error: --overlay takes one input; use --overlay-dir for several", file=sys.stderr)
        return 2
    failures = 0
    for path in files:
        try:
            result = pipeline.run(
                card,
                path,
                decode_options={"window": args.window} if card.input.dicom else {},
                analyse_options={"tta": args.tta},
                show_anyway=args.show_anyway,
            )
        except ModelUnavailable as err:
            print(f"error: {err}", file=sys.stderr)
            return 3
        except (InputError, OSError) as err:
            failures += 1
            if args.json:
                line = {"file": str(path), "error": str(err)}
                if isinstance(err, InputError):
                    line.update(error_code=err.code, error_en=err.message_en, error_ko=err.message_ko)
                print(json.dumps(line, ensure_ascii=False), flush=True)
            else:
                print(f"{path}: error: {err}", file=sys.stderr)
            continue
        summary = {"file": str(path), **result.summary}
        target = args.overlay or (args.overlay_dir / f"{path.stem}.overlay.png" if args.overlay_dir else None)
        if target is not None and result.answered:
            from PIL import Image

            Path(target).parent.mkdir(parents=True, exist_ok=True)
            Image.fromarray(result.overlay).save(target)
            summary["overlay"] = str(target)
        if args.json:
            print(json.dumps(summary, ensure_ascii=False), flush=True)
            continue
        print(f"{path}: {card.title_for('en')} ({card.id}, revision {summary['revision']})")
        if summary["decision"] is None:
            print(
                f"  not answered: out of scope (looks like {summary['scope_family']}; distance "
                f"{summary['scope_score']:.3f} > {summary['scope_threshold']:.3f} or another kind of image)"
                + (f"; try --model {summary['suggested_model']}" if summary["suggested_model"] else "")
            )
            continue
        if not summary["in_scope"]:
            print("  WARNING: out of scope, shown anyway for teaching: not a result")
        for label in card.labels:
            print(f"  {label.en:<32} {result.analysis.probabilities[label.id]:7.2%}")
        # the result text's rules (medhub/result_text.py): a weak model's hedge, the borderline band
        caution = summary.get("caution")
        lead = f"{t('hedge.' + caution['level'], 'en')}: " if caution else ""
        tag = " (borderline)" if summary.get("borderline") else ""
        print(f"  decision: {lead}{summary['decision_en']}{tag}  [{summary['decision_rule']}]")
        if caution:
            print(f"  caution: {caution['en']}")
    if not args.json:
        print(disclaimer(card.disclaimer_domain, "en"))
    return 4 if failures and failures == len(files) else 0


def _cmd_predict_series(args: argparse.Namespace, card) -> int:
    """`predict --series`: all inputs are the slices of one CT series (files, folders or a zip);
    prints one result for the study (medhub.series), one JSON object with --json."""
    from medhub.imaging import InputError
    from medhub.inference import ModelUnavailable
    from medhub.series import analyse_series

    if not (card.input.dicom and card.is_binary):
        print(f"error: {card.id} does not read CT series (a binary model that reads DICOM)", file=sys.stderr)
        return 2
    if args.tta or args.overlay is not None or args.overlay_dir is not None:
        print("error: --series takes no --tta, --overlay or --overlay-dir", file=sys.stderr)
        return 2
    try:
        result = analyse_series(card, args.inputs, window=args.window, aggregate=args.aggregate,
                                show_anyway=args.show_anyway)
    except ModelUnavailable as err:
        print(f"error: {err}", file=sys.stderr)
        return 3
    except InputError as err:
        if args.json:
            print(json.dumps({"inputs": args.inputs, "error": str(err), "error_code": err.code,
                              "error_en": err.message_en, "error_ko": err.message_ko}, ensure_ascii=False))
        else:
            print(f"error: {err}", file=sys.stderr)
        return 4
    summary = result.summary
    if args.json:
        print(json.dumps(summary, ensure_ascii=False), flush=True)
        return 0
    study = summary["study"]
    print(f"{card.title_for('en')} ({card.id}, revision {summary['revision']}): a series of "
          f"{study['n_slices']} slices, window {summary['window']}")
    for s in summary["slices"]:
        mark = "" if s["in_scope"] else "  (out of scope)"
        print(f"  {s['index']:>3}  z {s['z']:>9.2f} mm  {s['file']:<28} P({card.positive_class}) {s['score']:.3f}{mark}")
    if study["decision"] is None:
        print(f"  study: no decision ({study.get('reason', '')})")
    else:
        d = study["driving_slice"]
        print(f"  study: {study['decision_en']}: {study['aggregate']} {study['score']:.3f} "
              f"(max {study['max_score']:.3f}, top-3 mean {study['top3_mean']:.3f}; threshold "
              f"{study['threshold']:g}); driven by slice {d['index']} ({d['file']}, z {d['z']:.2f} mm)")
    print(summary["disclaimer"])
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
    print(
        f"{args.model_id}: n={metrics['n']} accuracy={metrics['accuracy']:.4f} "
        f"balanced_accuracy={metrics['balanced_accuracy']:.4f} auroc={metrics['auroc']} "
        f"ece={metrics['ece']:.4f}"
    )
    for label, row in metrics["per_class"].items():
        print(
            f"  {label:<24} P={row['precision']:.3f} R={row['recall']:.3f} F1={row['f1']:.3f} "
            f"n={row['support']}"
        )
    print("confusion matrix (rows = truth, columns = prediction):", metrics["labels"])
    for row in metrics["confusion_matrix"]:
        print("  ", row)
    for head, row in (metrics.get("heads") or {}).items():  # graded-heads cards (medhub/graded.py)
        print(
            f"  head {head:<14} presence AUROC={row['presence_auroc']} (95% CI "
            f"{row['presence_auroc_95ci_group_bootstrap']}) n={row['n']} present={row['n_present']} "
            f"kappa={row['grade_kappa_quadratic']} MAE={row['grade_mae']}"
        )
    if metrics.get("skipped_folders"):
        print(
            "skipped folders (no label or alias on the card): "
            + ", ".join(f"{k} ({v} images)" for k, v in metrics["skipped_folders"].items())
        )
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m medhub", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("predict", help="classify images or DICOM files (files and folders)")
    p.add_argument("model_id")
    p.add_argument("inputs", nargs="+", metavar="PATH", help="image or DICOM files, or folders of them")
    p.add_argument(
        "--json",
        action="store_true",
        help="JSON Lines: one object per input (the API's summary plus 'file', or 'file' and 'error')",
    )
    p.add_argument(
        "--show-anyway",
        action="store_true",
        help="give the decision even for an out-of-scope image (for teaching)",
    )
    p.add_argument("--overlay-dir", type=Path, default=None, help="write <name>.overlay.png per input here")
    p.add_argument("--window", default=None, help="CT window preset for DICOM (brain, subdural, ...)")
    p.add_argument("--tta", action="store_true", help="average over flips/rotations (cards with `tta: true`)")
    p.add_argument("--overlay", type=Path, default=None, help="write the Grad-CAM overlay PNG here")
    # CT as a series (medhub/series.py)
    p.add_argument("--series", action="store_true",
                   help="the inputs are the slices of ONE CT series (files, folders or a zip): one study "
                        "result; with --json one object with 'study' and 'slices' (position order)")
    p.add_argument("--aggregate", choices=("top3_mean", "max"), default="top3_mean",
                   help="with --series: the study score (default: the mean of the top 3 slice scores)")
    p.set_defaults(func=_cmd_predict)

    e = sub.add_parser("evaluate", help="metrics on a folder with one sub-folder per label")
    e.add_argument("model_id")
    e.add_argument("data_dir")
    e.add_argument("--json", action="store_true", help="print one JSON object")
    e.add_argument("--split-file", type=Path, default=None, help="training/splits/<id>.csv")
    e.add_argument("--subset", default="test", help="which split of --split-file (default: test)")
    e.add_argument("--limit-per-label", type=int, default=None)
    e.add_argument("--predictions-out", type=Path, default=None, help="CSV of per-file probabilities (paths relative to DATA_DIR; in_scope when the card has a scope check)")
    e.add_argument("--reliability-plot", type=Path, default=None, help="PNG reliability diagram")
    e.set_defaults(func=_cmd_evaluate)

    for command in COMMANDS:
        command.add_parser(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return int(args.func(args) or 0)
