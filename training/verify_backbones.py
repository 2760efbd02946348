"""ImageNet sanity check of the converted backbone: top-5 classes on a few natural photographs.

A wrong key mapping or wrong normalisation still loads with strict=True but predicts nonsense; a
correct one names the photo's content. The photos ship inside installed packages (no download):
scikit-learn's `china.jpg` (a temple) and `flower.jpg`, matplotlib's `grace_hopper.jpg` (a portrait
in navy uniform). Preprocessing is the hub's own path (`read_rgb` + `to_model_input`, 224 px squash,
mean = std = 0.5).

    python -m training.verify_backbones
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from medhub._torch_compat import import_timm, import_torch
from medhub.cards import InputContract
from medhub.preprocess import read_rgb, to_model_input
from training.convert_backbones import LITE0_OUT, convert_lite0

# What a correct ImageNet classifier should put among its top-5 for each photo (any one suffices).
EXPECTED = {
    "china.jpg": {"palace", "pagoda", "monastery", "stupa", "dome", "church", "mosque", "temple"},
    "flower.jpg": {"daisy", "bee", "hummingbird", "pot", "vase", "ant", "cardoon", "rapeseed"},
    "grace_hopper.jpg": {"military uniform", "suit", "bow tie", "Windsor tie", "mortarboard",
                         "academic gown", "pickelhaube", "bulletproof vest"},
}
CONTRACT = InputContract(modality="photo", size=(224, 224), channels=3, mean=(0.5, 0.5, 0.5),
                         std=(0.5, 0.5, 0.5))


def sample_photos() -> dict[str, Path]:
    import matplotlib
    import sklearn.datasets

    sk = Path(sklearn.datasets.__file__).parent / "images"
    mpl = Path(matplotlib.get_data_path()) / "sample_data"
    return {"china.jpg": sk / "china.jpg", "flower.jpg": sk / "flower.jpg",
            "grace_hopper.jpg": mpl / "grace_hopper.jpg"}


def verify_lite0() -> dict[str, list[tuple[str, float]]]:
    """Top-5 (class name, probability) per photo; raises AssertionError if a photo is not recognised."""
    torch = import_torch()
    timm = import_timm()
    from safetensors.torch import load_file
    from timm.data import ImageNetInfo

    if not LITE0_OUT.exists():
        convert_lite0()
    model = timm.create_model("tf_efficientnet_lite0", pretrained=False, num_classes=1000)
    model.load_state_dict(load_file(str(LITE0_OUT)), strict=True)
    model.eval()
    info = ImageNetInfo()
    results: dict[str, list[tuple[str, float]]] = {}
    for name, path in sample_photos().items():
        x = to_model_input(read_rgb(path), CONTRACT)
        with torch.no_grad():
            probs = model(torch.from_numpy(np.ascontiguousarray(x.transpose(2, 0, 1)))[None]).softmax(1)[0]
        top = probs.topk(5)
        results[name] = [(info.index_to_description(int(i)), round(float(p), 3))
                         for p, i in zip(top.values, top.indices, strict=True)]
    for name, top5 in results.items():
        names = {n for desc, _ in top5 for n in desc.split(", ")}
        if not names & EXPECTED[name]:
            raise AssertionError(f"{name}: top-5 {top5} has none of {sorted(EXPECTED[name])}")
    return results


def main() -> None:
    results = verify_lite0()
    for name, top5 in results.items():
        print(name, "->", "; ".join(f"{d} {p:.3f}" for d, p in top5))
    out = LITE0_OUT.with_suffix(".verify.json")
    out.write_text(json.dumps(results, indent=1))
    print("OK: every photo recognised; written", out)


if __name__ == "__main__":
    main()
