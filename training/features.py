"""Cache the frozen trunk's features once per image, so training only runs the last block + head.

The trunk is EfficientNet-Lite0 up to the end of stage 6 (`conv_stem`, `bn1`, `blocks[0..5]`), kept
frozen in eval mode; its output for a 224x224 input is 192 x 7 x 7. Each image is cached twice:
as is and flipped left-right (a cheap augmentation for the fine-tuning step; for val/test files the
second view is a copy of the first, to save time). Preprocessing is the
app's own: `medhub.preprocess.read_rgb` + `to_model_input` with the card's input contract.

Stored as float16 in chunks of 256 files under `training/cache/features/<id>/`, so an interrupted
run resumes at the next missing chunk.

    python -m training.features --model melanoma
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

from medhub._torch_compat import import_timm, import_torch
from medhub.cards import InputContract
from medhub.preprocess import read_rgb, to_model_input
from training.common import CACHE, DATA_ROOT, SPLITS, read_split_file
from training.convert_backbones import LITE0_OUT, convert_lite0

CHUNK = 256
TRUNK_STAGES = 6  # blocks[0..5] frozen; blocks[6] + conv_head + bn2 + classifier are trained
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


def trunk_forward(model, x):
    x = model.bn1(model.conv_stem(x))
    for block in model.blocks[:TRUNK_STAGES]:
        x = block(x)
    return x


def feature_dir(model_id: str) -> Path:
    return CACHE / "features" / model_id


def extract(model_id: str, threads: int = 2, batch: int = 32) -> None:
    torch = import_torch()
    torch.set_num_threads(threads)
    items = read_split_file(SPLITS / f"{model_id}.csv")
    paths = [it.path for it in items]
    is_train = np.array([it.split == "train" for it in items])
    out = feature_dir(model_id)
    out.mkdir(parents=True, exist_ok=True)
    model = imagenet_lite0().to(memory_format=torch.channels_last)  # ~2x faster on CPU here
    todo = [c for c in range(0, len(paths), CHUNK) if not (out / f"chunk_{c // CHUNK:04d}.npz").exists()]
    print(f"{model_id}: {len(paths)} files, {len(todo)} chunks to extract", flush=True)
    for c in todo:
        t0 = time.time()
        chunk_paths = paths[c : c + CHUNK]
        x = np.stack([to_model_input(read_rgb(DATA_ROOT / p), CONTRACT) for p in chunk_paths])
        x = torch.from_numpy(np.ascontiguousarray(x.transpose(0, 3, 1, 2)))
        feats = []
        with torch.inference_mode():
            train = torch.from_numpy(is_train[c : c + CHUNK])
            for view in (x, x[train].flip(3)):
                view = view.contiguous(memory_format=torch.channels_last)
                parts = [trunk_forward(model, view[i : i + batch]) for i in range(0, len(view), batch)]
                feats.append(torch.cat(parts).contiguous().numpy().astype(np.float16))
            flipped = feats[0].copy()
            flipped[train.numpy()] = feats[1]
            feats[1] = flipped
        tmp = out / f"chunk_{c // CHUNK:04d}.tmp.npz"
        np.savez(tmp, paths=np.array(chunk_paths), feats=np.stack(feats, 1))  # [n, 2, 192, 7, 7]
        tmp.rename(out / f"chunk_{c // CHUNK:04d}.npz")
        dt = time.time() - t0
        print(f"  chunk {c // CHUNK}: {len(chunk_paths)} images x2 views in {dt:.1f}s "
              f"({(len(chunk_paths) + int(train.sum())) / dt:.1f} forward passes/s incl. decode)", flush=True)


def load_features(model_id: str) -> tuple[list[str], np.ndarray]:
    """(paths, features [N, 2, 192, 7, 7] float16) in split-file order."""
    out = feature_dir(model_id)
    paths: list[str] = []
    feats = []
    for f in sorted(out.glob("chunk_[0-9][0-9][0-9][0-9].npz")):
        with np.load(f) as z:
            paths.extend(z["paths"].tolist())
            feats.append(z["feats"])
    return paths, np.concatenate(feats)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", nargs="+", required=True)
    for model_id in ap.parse_args().model:
        extract(model_id)


if __name__ == "__main__":
    main()
