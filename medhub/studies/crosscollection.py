"""How far a model's figures travel: every model scored on every collection of its modality.

    python -m medhub cross-collection [MODEL ...] [--json] [--limit-per-label N] [--write-cards]

A *collection* is one folder of `../shared/data` (one source data set). For a model and a
collection the check scores, through `medhub.evaluation.evaluate_dir` (the app's code path):

- the collection's images whose folder maps to a card label (label ids or their `aliases`; the
  other folders are skipped and counted);
- of those, only images the model never trained on: if the model's split file covers the
  collection, its `test` rows only; otherwise every labelled file that does not duplicate a
  train/val image of the model. Duplicates are
  found across collections by a perceptual hash over the eight flips/rotations (DCT hash, 64 bits,
  Hamming distance <= 8 under any of the 8 views), confirmed by the correlation of the aligned
  32x32 centre of the two thumbnails (>= 0.98; measured here: true copies 0.99-1.00, the closest
  different lesions <= 0.97, so the gap is clear).

"trained on" lists the collections with train rows in the model's split file. A collection the
model has train rows in is scored on its test split (an in-collection figure); any other is a
true cross-collection figure.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from medhub import heldout, paths
from medhub.cards import ModelCard, get_card, load_cards
from medhub.fingerprints import CENTRE_MIN_CORR, HASH_MAX_BITS, Fingerprints
from medhub.heldout import CHECK_LIMIT, collections_for, eligible_files, trained_on

# ----------------------------------------------------------------------------------------------
# the matrix


def cell_metrics(card: ModelCard, metrics: dict[str, Any]) -> dict[str, Any]:
    """The compact figures of one cell: n, per-class support, and the metrics that fit the labels
    present (AUROC needs both classes; with one class only its recall is meaningful)."""
    present = [lab for lab, row in metrics["per_class"].items() if row["support"] > 0]
    out: dict[str, Any] = {
        "n": metrics["n"],
        "support": {lab: metrics["per_class"][lab]["support"] for lab in present},
    }
    if len(present) > 1:
        out.update(
            accuracy=metrics["accuracy"],
            balanced_accuracy=metrics["balanced_accuracy"],
            auroc=metrics["auroc"],
        )
    out["recall"] = {lab: metrics["per_class"][lab]["recall"] for lab in present}
    out["confusion_matrix"] = metrics["confusion_matrix"]
    return out


def evaluate_cell(
    card: ModelCard, collection: str, data_root: Path, fps: Fingerprints, limit_per_label: int | None = None
) -> dict[str, Any]:
    from medhub.evaluation import EvaluationError, evaluate_dir

    keep, info = eligible_files(card, collection, data_root, fps, limit_per_label)
    if not keep:
        return {"n": 0, "note": "no labelled image the model did not train on", **info}
    split_file = heldout.SPLITS_DIR / f"{card.id}.csv"
    by_table = heldout.labelled_by_table(card, data_root / collection)
    try:
        metrics, _ = evaluate_dir(
            card.id, data_root / collection, split_file=split_file if by_table else None,
            subset="test", keep_file=lambda p: str(p.resolve()) in keep,
        )
    except EvaluationError as err:
        return {"n": 0, "note": str(err), **info}
    cell = cell_metrics(card, metrics)
    cell["skipped_folders"] = metrics.get("skipped_folders", {})
    cell.update(info)
    return cell


def matrix(
    model_ids: Iterable[str] | None = None, data_root: Path | None = None, limit_per_label: int | None = None
) -> dict[str, Any]:
    """{model_id: {"trained_on": [...], "collections": {collection: cell}}} for every model whose
    modality has more than one collection."""
    data_root = Path(data_root or paths.data_root())
    fps = Fingerprints()
    cards = (
        [get_card(m) for m in model_ids]
        if model_ids
        else [c for c in load_cards() if len(collections_for(c)) > 1]
    )
    out: dict[str, Any] = {}
    for card in cards:
        cols = [c for c in collections_for(card) if (data_root / c).is_dir()]
        row: dict[str, Any] = {"trained_on": trained_on(card.id), "collections": {}}
        for col in cols:
            row["collections"][col] = evaluate_cell(card, col, data_root, fps, limit_per_label)
        out[card.id] = row
    return out


def _headline(cell: dict[str, Any], card: ModelCard) -> str:
    if not cell.get("n"):
        return "-"
    if "auroc" in cell and cell["auroc"] is not None:
        s = f"AUROC {cell['auroc']:.3f}, bal. acc. {cell['balanced_accuracy']:.3f}"
    else:
        s = ", ".join(f"{lab} recall {r:.3f}" for lab, r in cell["recall"].items())
    return f"{s} (n={cell['n']})"


def render_text(result: dict[str, Any]) -> str:
    lines = ["trained on -> evaluated on (images the model did not train on; see the card for limits)"]
    for mid, row in result.items():
        card = get_card(mid)
        lines.append(f"{mid}: trained on {', '.join(row['trained_on']) or '-'}")
        for col, cell in row["collections"].items():
            kind = "own test split" if col in row["trained_on"] else "other collection"
            lines.append(f"  -> {col:<20} [{kind}] {_headline(cell, card)}")
            if cell.get("skipped_folders"):
                lines.append(
                    "       skipped folders: "
                    + ", ".join(f"{k} {v}" for k, v in cell["skipped_folders"].items())
                )
            if cell.get("duplicates_of_training_images_dropped"):
                lines.append(
                    f"       dropped as copies of training images: "
                    f"{cell['duplicates_of_training_images_dropped']}"
                )
    return "\n".join(lines)


def card_value(card: ModelCard, row: dict[str, Any], check: dict[str, Any], note: str = "") -> dict[str, Any]:
    """The `medhub.cross_collection` front-matter value: full figures per collection and the light
    re-check (`check_limit_per_label` images per label) a test reproduces exactly."""

    def compact(cell: dict[str, Any]) -> dict[str, Any]:
        keep = ("n", "support", "accuracy", "balanced_accuracy", "auroc", "recall", "confusion_matrix")
        return {k: cell[k] for k in keep if k in cell}

    value = {
        "trained_on": row["trained_on"],
        "source": "python -m medhub cross-collection (medhub.evaluation.evaluate_dir, the app's code path)",
        "exclusion": f"split-file train/val rows; copies of training images by DCT hash over 8 flips/rotations "
        f"(<= {HASH_MAX_BITS} bits) + centre correlation >= {CENTRE_MIN_CORR}",
        "collections": {col: compact(cell) for col, cell in row["collections"].items() if cell.get("n")},
        "check_limit_per_label": CHECK_LIMIT,
        "check": {col: compact(cell) for col, cell in check["collections"].items() if cell.get("n")},
    }
    if note:
        value["note"] = note
    return value


def card_block(card: ModelCard, row: dict[str, Any], note: str = "") -> str:
    """The Markdown block `cross_collection` of a card."""
    lines = [
        "## Across collections (다른 데이터 모음에서의 성능)",
        "",
        f"Trained on: {', '.join('`' + c + '`' for c in row['trained_on'])}. Each row scores the model "
        "on one collection of `../shared/data`, only on images it did not train on (that collection's "
        "test split if it trained on it; otherwise all its images whose folder maps to a label, minus "
        "copies of training images found by a perceptual hash over flips and rotations). Figures from "
        "`python -m medhub cross-collection` (the app's code path).",
        "",
        "| evaluated on | kind | n | per-class support | AUROC | balanced acc. | recall per class |",
        "|---|---|---|---|---|---|---|",
    ]
    for col, cell in row["collections"].items():
        if not cell.get("n"):
            continue
        kind = "own test split" if col in row["trained_on"] else "**other collection**"
        support = ", ".join(f"{k} {v}" for k, v in cell["support"].items())
        recall = ", ".join(f"{k} {v:.3f}" for k, v in cell["recall"].items())
        auroc = f"{cell['auroc']:.3f}" if cell.get("auroc") is not None else "n/a"
        bal = f"{cell['balanced_accuracy']:.3f}" if cell.get("balanced_accuracy") is not None else "n/a"
        lines.append(f"| `{col}` | {kind} | {cell['n']} | {support} | {auroc} | {bal} | {recall} |")
    skipped = {
        col: c.get("skipped_folders") for col, c in row["collections"].items() if c.get("skipped_folders")
    }
    if skipped:
        lines += [
            "",
            "Folders with no label on this card were skipped: "
            + "; ".join(
                f"`{col}`: " + ", ".join(f"{k} ({v})" for k, v in s.items()) for col, s in skipped.items()
            )
            + ".",
        ]
    if note:
        lines += ["", note]
    return "\n".join(lines)


def write_to_card(model_id: str, row: dict[str, Any], check: dict[str, Any], note: str = "") -> Path:
    from medhub.cardblocks import set_block, set_meta, update_card_file

    card = get_card(model_id)
    value = card_value(card, row, check, note)
    block = card_block(card, row, note)
    return update_card_file(
        model_id, lambda t: set_block(set_meta(t, "cross_collection", value), "cross_collection", block)
    )


def add_parser(sub) -> None:
    p = sub.add_parser("cross-collection", help="score each model on every collection of its modality")
    p.add_argument("models", nargs="*", help="model ids (default: every model with >1 collection)")
    p.add_argument("--data-root", type=Path, default=None, help="default ../shared/data")
    p.add_argument("--limit-per-label", type=int, default=None, help="subsample per folder (seeded by name)")
    p.add_argument("--json", action="store_true")
    p.add_argument(
        "--write-cards",
        action="store_true",
        help="store the figures (and a light re-check) on each card: key and block cross_collection",
    )
    p.add_argument(
        "--note",
        action="append",
        default=[],
        metavar="MODEL=TEXT",
        help="with --write-cards: a paragraph under that model's table (repeatable)",
    )
    p.set_defaults(func=_cmd)


def _cmd(args: argparse.Namespace) -> int:
    from medhub.evaluation import EvaluationError
    from medhub.inference import ModelUnavailable

    try:
        result = matrix(args.models or None, args.data_root, args.limit_per_label)
        if args.write_cards:
            notes = dict(n.split("=", 1) for n in args.note if "=" in n)
            check = matrix(list(result), args.data_root, CHECK_LIMIT)
            for mid, row in result.items():
                print(f"wrote {write_to_card(mid, row, check[mid], notes.get(mid, ''))}", file=sys.stderr)
    except (EvaluationError, ModelUnavailable, KeyError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps(result, ensure_ascii=False))
    else:
        print(render_text(result))
    return 0
