"""Does shingles need a stronger backbone, a higher resolution or multi-crop? A cheap, measured comparison.

    python -m training.shingles_study [--configs lite0@224,lite0@320,lite0@224+multicrop,lite2@260]

Frozen ImageNet features (global-pooled `conv_head` output, the app's squash preprocessing at each
size) of every image of the shingles split (`training/splits/shingles.csv`: DermNet + the web
collection, grouped by source photo). `+multicrop` averages the features of the whole image and of
its four overlapping corner crops (2/3 of each side) resized to the input size: the lesion seen at
1.5x scale, five forward passes per image.

For each configuration, a logistic regression (standardised features, balanced class weights, L2
chosen by inner 3-fold grouped CV AUROC) is scored by 5-fold grouped, stratified cross-validation
over the non-test rows (out-of-fold AUROC and best F1, overall and per collection: 70 positives,
steadier than the test split's 11) and, trained on one collection only, on all of the other
(cross-collection). Latency: one image, 2 threads, median. Features are cached in
`training/cache/study/`; the result goes to `training/runs/shingles/backbone_study.json`.
Frozen features rank the options for the fine-tuned model; they are not the served model's figures.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

from medhub._torch_compat import import_torch
from medhub.cards import InputContract
from medhub.preprocess import read_rgb, to_model_input
from training.common import DATA_ROOT, RUNS, SPLITS, read_split_file, write_json
from training.compare_backbones import backbone, latency

CACHE = Path(__file__).resolve().parent / "cache" / "study"
ARCHS = {"lite0": "tf_efficientnet_lite0", "lite2": "tf_efficientnet_lite2"}
DEFAULT = ("lite0@224", "lite0@320", "lite0@224+multicrop", "lite2@260")


def parse(config: str) -> tuple[str, int, bool]:
    net, rest = config.split("@")
    return ARCHS[net], int(rest.split("+")[0]), rest.endswith("+multicrop")


def views(rgb: np.ndarray, multicrop: bool) -> list[np.ndarray]:
    out = [rgb]
    if multicrop:
        h, w = rgb.shape[:2]
        ch, cw = (2 * h) // 3, (2 * w) // 3
        out += [rgb[t : t + ch, s : s + cw] for t in (0, h - ch) for s in (0, w - cw)]
    return out


def extract(config: str, items, torch) -> np.ndarray:
    path = CACHE / f"shingles_{config.replace('@', '_').replace('+', '_')}.npy"
    if path.exists():
        cached = np.load(path)
        if len(cached) == len(items):
            return cached
    arch, size, multicrop = parse(config)
    model = backbone(arch).to(memory_format=torch.channels_last)
    contract = InputContract("clinical_photo", (size, size), 3, (0.5,) * 3, (0.5,) * 3, "squash")
    feats = []
    with torch.inference_mode():
        for i, it in enumerate(items):
            x = np.stack([to_model_input(v, contract) for v in views(read_rgb(DATA_ROOT / it.path), multicrop)])
            t = torch.from_numpy(np.ascontiguousarray(x.transpose(0, 3, 1, 2))).contiguous(
                memory_format=torch.channels_last)
            feats.append(model.forward_head(model.forward_features(t), pre_logits=True).numpy().mean(0))
            if i % 500 == 0:
                print(f"  {config}: {i}/{len(items)}", flush=True)
    f = np.stack(feats).astype(np.float32)
    CACHE.mkdir(parents=True, exist_ok=True)
    np.save(path, f)
    return f


def make_probe(c: float):
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    return make_pipeline(StandardScaler(), LogisticRegression(C=c, class_weight="balanced", max_iter=3000))


def auroc(y: np.ndarray, p: np.ndarray) -> float | None:
    from sklearn.metrics import roc_auc_score

    return round(float(roc_auc_score(y, p)), 4) if 0 < y.sum() < len(y) else None


def best_f1(y: np.ndarray, p: np.ndarray) -> float:
    from sklearn.metrics import precision_recall_curve

    pr, rc, _ = precision_recall_curve(y, p)
    return round(float(np.max(2 * pr * rc / np.maximum(pr + rc, 1e-9))), 4)


def fit(x, y, groups, cs=(0.001, 0.003, 0.01, 0.03)):
    """A probe whose C is chosen by 3-fold grouped CV AUROC on (x, y)."""
    from sklearn.model_selection import StratifiedGroupKFold

    best = None
    for c in cs:
        oof = np.zeros(len(y))
        for tr, te in StratifiedGroupKFold(3, shuffle=True, random_state=0).split(x, y, groups):
            oof[te] = make_probe(c).fit(x[tr], y[tr]).predict_proba(x[te])[:, 1]
        score = auroc(y, oof) or 0.0
        if best is None or score > best[0]:
            best = (score, c)
    return make_probe(best[1]).fit(x, y)


def evaluate(f, y, groups, coll, test) -> dict:
    from sklearn.model_selection import StratifiedGroupKFold

    row: dict = {}
    idx = np.flatnonzero(~test)
    oof = np.zeros(len(y))
    for tr, te in StratifiedGroupKFold(5, shuffle=True, random_state=1).split(f[idx], y[idx], groups[idx]):
        oof[idx[te]] = fit(f[idx[tr]], y[idx[tr]], groups[idx[tr]]).predict_proba(f[idx[te]])[:, 1]
    row["cv5_oof_auroc"] = auroc(y[idx], oof[idx])
    row["cv5_oof_best_f1"] = best_f1(y[idx], oof[idx])
    for c in sorted(set(coll)):
        m = idx[coll[idx] == c]
        row[f"cv5_oof_auroc:{c}"] = auroc(y[m], oof[m])
    for a in sorted(set(coll)):
        for b in sorted(set(coll) - {a}):
            clf = fit(f[coll == a], y[coll == a], groups[coll == a])
            row[f"trained_on:{a}->all_of:{b}"] = auroc(y[coll == b], clf.predict_proba(f[coll == b])[:, 1])
    return row


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--configs", default=",".join(DEFAULT))
    args = ap.parse_args()
    import warnings

    warnings.filterwarnings("ignore")
    torch = import_torch()
    torch.set_num_threads(2)
    torch.set_flush_denormal(True)
    items = read_split_file(SPLITS / "shingles.csv")
    y = np.array([it.label == "herpes_zoster" for it in items]).astype(int)
    groups = np.array([it.group for it in items])
    coll = np.array([it.path.split("/")[0] for it in items])
    test = np.array([it.split == "test" for it in items])
    result = {"n_images": len(items), "n_positive": int(y.sum()), "n_positive_outside_test": int(y[~test].sum()),
              "configs": {}}
    for config in args.configs.split(","):
        t0 = time.time()
        f = extract(config, items, torch)
        arch, size, multicrop = parse(config)
        row = {"feature_seconds": round(time.time() - t0, 1),
               "latency_ms_1img_2threads": round(
                   latency(backbone(arch).to(memory_format=torch.channels_last), size, torch)
                   * (5 if multicrop else 1), 1)}
        row.update(evaluate(f, y, groups, coll, test))
        print(config, row, flush=True)
        result["configs"][config] = row
        write_json(RUNS / "shingles" / "backbone_study.json", result)


if __name__ == "__main__":
    main()
