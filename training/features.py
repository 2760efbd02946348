"""Cache the frozen trunk's features once per image, so training only runs the last block + head.

The trunk is EfficientNet-Lite0 up to the end of stage 6 (`conv_stem`, `bn1`, `blocks[0..5]`), kept
frozen in eval mode; its output for a 224x224 input is 192 x 7 x 7. A recipe may freeze fewer
stages (`trunk_stages: 5` caches the 112 x 14 x 14 output of `blocks[4]`). Each image is cached twice:
as is and flipped left-right (a cheap augmentation for the fine-tuning step; for val/test files the
second view is a copy of the first, to save time). Preprocessing is the
app's own: `medhub.preprocess.read_rgb` + `to_model_input` with the card's input contract.

Stored as float16 in chunks of 256 files under `training/cache/features/<id>/`, so an interrupted
run resumes at the next missing chunk.

    python -m training.features --model melanoma
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

from medhub._torch_compat import import_timm, import_torch
from medhub.cards import InputContract
from medhub.preprocess import read_rgb, to_model_input
from training.common import CACHE, DATA_ROOT, SPLITS, read_split_file
from training.convert_backbones import LITE0_OUT, convert_lite0

CHUNK = 256
TRUNK_STAGES = 6  # default: blocks[0..5] frozen; blocks[6] + conv_head + bn2 + classifier are trained
ARCH = "tf_efficientnet_lite0"
CONTRACT = InputContract(modality="photo", size=(224, 224), channels=3, mean=(0.5, 0.5, 0.5),
                         std=(0.5, 0.5, 0.5), resize="squash")


def imagenet_lite0():
    """timm tf_efficientnet_lite0 with the converted ImageNet weights (1000-class head)."""
    timm = import_timm()
    from safetensors.torch import load_file

    if not LITE0_OUT.exists():
        convert_lite0()
    model = timm.create_model(ARCH, pretrained=False, num_classes=1000)
    model.load_state_dict(load_file(str(LITE0_OUT)), strict=True)
    return model.eval()


def trunk_forward(model, x, stages: int = TRUNK_STAGES):
    x = model.bn1(model.conv_stem(x))
    for block in model.blocks[:stages]:
        x = block(x)
    return x


def feature_dir(model_id: str, stages: int = TRUNK_STAGES) -> Path:
    """Cache folder; a recipe that trains more stages caches an earlier block's output."""
    return CACHE / "features" / (model_id if stages == TRUNK_STAGES else f"{model_id}_s{stages}")


def _lesion_crop(rgb: np.ndarray, box: tuple[int, int, int, int], rng) -> np.ndarray:
    """A crop around the lesion box with a random margin (15-80 % of the box on each side)."""
    h, w = rgb.shape[:2]
    top, bottom, left, right = box
    bh, bw = max(bottom - top, 8), max(right - left, 8)
    m = rng.uniform(0.15, 0.8, 4)
    t, b = max(0, int(top - m[0] * bh)), min(h, int(bottom + m[1] * bh))
    lft, r = max(0, int(left - m[2] * bw)), min(w, int(right + m[3] * bw))
    return rgb[t:b, lft:r] if b - t >= 16 and r - lft >= 16 else rgb


def augment(rgb: np.ndarray, seed: int, box: tuple[int, int, int, int] | None = None,
            strong: bool = False) -> np.ndarray:
    """One random view of a training image against collection cues (seeded per image): a
    left-right flip, a random resized crop (area 55-100 %, aspect 3:4-4:3: rulers, vignettes and
    borders move or leave the frame), a random illuminant (per-channel gain, sd 8 %) with
    brightness/contrast jitter (+-20 %), and with probability 0.3 each a Gaussian blur
    (sigma 0.5-1.5 px) and a JPEG re-encode (quality 30-80).
    With a lesion `box` (HAM10000), half of the views are crops around the lesion instead; with
    `strong` also a vertical flip, a rotation by a multiple of 90 degrees (dermoscopy has no up),
    a down-and-up resampling (50-100 %) and JPEG with probability 0.5 (quality 30-95), so neither
    resolution nor compression can tell one collection from another."""
    import cv2

    rng = np.random.default_rng(seed)
    if box is not None and rng.random() < 0.5:
        rgb = _lesion_crop(rgb, box, rng)
    h, w = rgb.shape[:2]
    area = rng.uniform(0.55, 1.0) * h * w
    aspect = np.exp(rng.uniform(np.log(3 / 4), np.log(4 / 3)))
    ch = int(min(h, round(np.sqrt(area / aspect))))
    cw = int(min(w, round(np.sqrt(area * aspect))))
    top, left = rng.integers(0, h - ch + 1), rng.integers(0, w - cw + 1)
    x = rgb[top : top + ch, left : left + cw][:, ::-1]  # crop + flip
    if strong:
        if rng.random() < 0.5:
            x = x[::-1]
        x = np.rot90(x, int(rng.integers(0, 4)))
        s = rng.uniform(0.5, 1.0)
        if s < 0.95:
            hh, ww = x.shape[:2]
            small = cv2.resize(np.ascontiguousarray(x), (max(8, int(ww * s)), max(8, int(hh * s))),
                               interpolation=cv2.INTER_AREA)
            x = cv2.resize(small, (ww, hh), interpolation=cv2.INTER_LINEAR)
    x = np.ascontiguousarray(x).astype(np.float32)
    gain = rng.normal(1.0, 0.08, 3).clip(0.75, 1.25)
    bright, contrast = rng.uniform(0.8, 1.2), rng.uniform(0.8, 1.2)
    mean = x.mean()
    x = ((x * gain - mean) * contrast + mean) * bright
    x = np.clip(x, 0, 255).astype(np.uint8)
    if rng.random() < 0.3:
        x = cv2.GaussianBlur(x, (0, 0), float(rng.uniform(0.5, 1.5)))
    if rng.random() < (0.5 if strong else 0.3):
        quality = int(rng.integers(30, 96 if strong else 81))
        ok, buf = cv2.imencode(".jpg", np.ascontiguousarray(x[:, :, ::-1]), [cv2.IMWRITE_JPEG_QUALITY, quality])
        if ok:
            x = cv2.imdecode(buf, cv2.IMREAD_COLOR)[:, :, ::-1]
    return np.ascontiguousarray(x)


def _pool_source(model_id: str):
    """(cache name, items) when the model reads a shared pool cache, else None."""
    from training.datasets import POOL_OF, POOLS
    from training.recipes import RECIPES

    if RECIPES.get(model_id, {}).get("source") == "ham10000":
        from training import ham10000

        return "pool_ham10000", ham10000.pool_items()
    if model_id not in POOL_OF:
        return None
    from training.make_splits import pool_items

    pool = POOLS[POOL_OF[model_id]]
    return f"pool_{pool.name}", pool_items(pool)


def n_views(model_id: str) -> int:
    """Cached views per image (view 0 as is; the others augmented for training images)."""
    from training.recipes import RECIPES

    return int(RECIPES.get(model_id, {}).get("views", 2))


def uses_augmented_view(model_id: str) -> bool:
    from training.recipes import RECIPES

    return bool(RECIPES.get(model_id, {}).get("augment_view"))


def contract_for(model_id: str) -> InputContract:
    """The training input contract: CONTRACT with the recipe's `prescale` (longest side first)."""
    import dataclasses

    from training.recipes import RECIPES

    return dataclasses.replace(CONTRACT, prescale=RECIPES.get(model_id, {}).get("prescale"))


def _box_source(model_id: str):
    """path -> lesion box, for recipes whose data has one (HAM10000), else None."""
    from training.recipes import RECIPES

    if RECIPES.get(model_id, {}).get("source") != "ham10000":
        return None
    from training.ham10000 import box_of

    return box_of


def extract(model_id: str, threads: int = 2, batch: int = 32, stages: int = TRUNK_STAGES) -> None:
    """Cache trunk features of the model's images (or of its whole pool, shared by its models).
    View 0 is the image as is; the other views of a training image are its flip, or with the
    recipe's `augment_view` random augmented views (`augment`; the recipe's `views` says how many
    views in all, default 2); the other views of a val/test image are copies of view 0."""
    torch = import_torch()
    torch.set_num_threads(threads)
    pooled = _pool_source(model_id)
    items = pooled[1] if pooled else read_split_file(SPLITS / f"{model_id}.csv")
    paths = [it.path for it in items]
    is_train = np.array([it.split == "train" for it in items])
    aug = uses_augmented_view(model_id)
    views = n_views(model_id)
    strong = views > 2
    boxes = _box_source(model_id)
    contract = contract_for(model_id)
    out = feature_dir(cache_name(model_id), stages)
    out.mkdir(parents=True, exist_ok=True)
    model = imagenet_lite0().to(memory_format=torch.channels_last)  # ~2x faster on CPU here
    todo = [c for c in range(0, len(paths), CHUNK) if not (out / f"chunk_{c // CHUNK:04d}.npz").exists()]
    print(f"{model_id}: {len(paths)} files, {len(todo)} chunks to extract ({views} views)", flush=True)

    def trunk(x: np.ndarray) -> np.ndarray:
        t = torch.from_numpy(np.ascontiguousarray(x.transpose(0, 3, 1, 2))).contiguous(
            memory_format=torch.channels_last)
        parts = [trunk_forward(model, t[i : i + batch], stages) for i in range(0, len(t), batch)]
        return torch.cat(parts).contiguous().numpy().astype(np.float16)

    for c in todo:
        t0 = time.time()
        chunk_paths = paths[c : c + CHUNK]
        rgbs = [read_rgb(DATA_ROOT / p) for p in chunk_paths]
        train = is_train[c : c + CHUNK]
        idx = np.flatnonzero(train)
        with torch.inference_mode():
            first = trunk(np.stack([to_model_input(im, contract) for im in rgbs]))
            feats = np.repeat(first[:, None], views, axis=1)
            for v in range(1, views):
                if not len(idx):
                    break
                if aug:
                    # view 1 keeps the seed of the two-view caches (same images as before)
                    seeds = [c + int(i) + (v - 1) * 1_000_003 for i in idx]
                    xa = np.stack([to_model_input(augment(rgbs[i], sd, boxes(chunk_paths[i]) if boxes else None,
                                                          strong), contract) for i, sd in zip(idx, seeds)])
                else:
                    xa = np.stack([to_model_input(rgbs[i][:, ::-1].copy(), contract) for i in idx])
                feats[idx, v] = trunk(xa)
        tmp = out / f"chunk_{c // CHUNK:04d}.tmp.npz"
        np.savez(tmp, paths=np.array(chunk_paths), feats=feats)  # [n, views, C, H, W]
        tmp.rename(out / f"chunk_{c // CHUNK:04d}.npz")
        dt = time.time() - t0
        passes = len(chunk_paths) + int(train.sum()) * (views - 1)
        timing_file = out / "timing.json"
        timing = json.loads(timing_file.read_text()) if timing_file.exists() else {}
        timing[str(c // CHUNK)] = {"seconds": round(dt, 1), "images": len(chunk_paths), "forward_passes": passes}
        timing_file.write_text(json.dumps(timing, indent=1))
        print(f"  chunk {c // CHUNK}: {len(chunk_paths)} images, {views} views in {dt:.1f}s "
              f"({passes / dt:.1f} forward passes/s incl. decode)", flush=True)


def cache_name(model_id: str) -> str:
    pooled = _pool_source(model_id)
    name = (pooled[0] + ("_aug" if uses_augmented_view(model_id) else "")) if pooled else model_id
    return name if n_views(model_id) == 2 else f"{name}_v{n_views(model_id)}"


def extraction_time(model_id: str, stages: int = TRUNK_STAGES) -> dict[str, float]:
    """Measured feature-extraction time of the cache (sum over chunks, when they were computed)."""
    timing_file = feature_dir(cache_name(model_id), stages) / "timing.json"
    if not timing_file.exists():
        return {}
    rows = json.loads(timing_file.read_text()).values()
    seconds = sum(r["seconds"] for r in rows)
    passes = sum(r["forward_passes"] for r in rows)
    return {"seconds": round(seconds, 1), "images": sum(r["images"] for r in rows),
            "forward_passes_per_s": round(passes / max(seconds, 1e-9), 1)}


def load_features(model_id: str, stages: int = TRUNK_STAGES) -> tuple[list[str], np.ndarray]:
    """(paths, features [N, 2, C, H, W] float16, e.g. 192x7x7 after 6 stages) in split-file order
    (a pooled model: the rows of its split file, taken from the pool's cache)."""
    out = feature_dir(cache_name(model_id), stages)
    paths: list[str] = []
    feats = []
    for f in sorted(out.glob("chunk_[0-9][0-9][0-9][0-9].npz")):
        with np.load(f) as z:
            paths.extend(z["paths"].tolist())
            feats.append(z["feats"])
    all_feats = np.concatenate(feats)
    if _pool_source(model_id) is None:
        return paths, all_feats
    row = {p: i for i, p in enumerate(paths)}
    mine = [it.path for it in read_split_file(SPLITS / f"{model_id}.csv")]
    return mine, all_feats[[row[p] for p in mine]]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", nargs="+", required=True)
    ap.add_argument("--stages", type=int, default=TRUNK_STAGES, help="frozen stages (blocks[:stages])")
    args = ap.parse_args()
    for model_id in args.model:
        extract(model_id, stages=args.stages)


if __name__ == "__main__":
    main()
