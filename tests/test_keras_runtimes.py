"""The Keras CT model runs on Keras's PyTorch backend in the app; on TensorFlow it gives the same
answers, and an app with every card loaded never imports TensorFlow.

The TensorFlow side runs in a subprocess (Keras's backend is fixed at a process's first import) and
is skipped where TensorFlow is not installed (the app's requirements do not need it)."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from medhub.cards import load_cards

REPO = Path(__file__).resolve().parent.parent
KERAS_CARDS = [c for c in load_cards() if c.framework == "keras"]

# Prints, for the card and the images given, each image's probabilities and heat map.
SCRIPT = """
import json, sys
import numpy as np
from medhub.registry import get_predictor
from medhub.imaging import load_for_card
card_id, paths = sys.argv[1], sys.argv[2:]
p = get_predictor(card_id)
out = []
for path in paths:
    one = p.backend.analyse_one(p.model_input(load_for_card(p.card, path).rgb))
    out.append({"probs": one.probs.tolist(), "heat": one.heatmap.tolist(), "index": one.index})
import keras
print(json.dumps({"runtime": keras.backend.backend(), "tf": "tensorflow" in sys.modules, "out": out}))
"""


def _run(card_id: str, paths: list[Path], backend: str) -> dict:
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "KERAS_BACKEND": backend}
    out = subprocess.run([sys.executable, "-c", SCRIPT, card_id, *map(str, paths)], cwd=REPO, env=env,
                         capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    return json.loads(out.stdout.strip().splitlines()[-1])


def _samples(card, data_root: Path) -> list[Path]:
    folder = data_root / card.metrics["data_dir"]
    return [sorted((folder / label.id).glob("*"))[i] for label in card.labels for i in (0, 7)]


@pytest.mark.slow
@pytest.mark.data
@pytest.mark.skipif(importlib.util.find_spec("tensorflow") is None, reason="TensorFlow not installed")
@pytest.mark.parametrize("card", KERAS_CARDS, ids=[c.id for c in KERAS_CARDS])
def test_torch_and_tensorflow_runtimes_agree(card, data_root):
    paths = _samples(card, data_root)
    on_torch, on_tf = _run(card.id, paths, "torch"), _run(card.id, paths, "tensorflow")
    assert (on_torch["runtime"], on_tf["runtime"]) == ("torch", "tensorflow")
    assert not on_torch["tf"]
    for path, a, b in zip(paths, on_torch["out"], on_tf["out"], strict=True):
        np.testing.assert_allclose(a["probs"], b["probs"], atol=1e-4, err_msg=str(path))
        assert a["index"] == b["index"], path
        ha, hb = np.asarray(a["heat"]), np.asarray(b["heat"])
        # Same activations and gradients; the two bilinear resizes differ only at the last pixels.
        assert np.corrcoef(ha.ravel(), hb.ravel())[0, 1] > 0.999, path
        assert np.abs(ha - hb).max() < 0.05, path


@pytest.mark.slow
def test_an_app_with_every_card_never_imports_tensorflow():
    script = """
import sys
from medhub.cards import load_cards
from medhub.registry import get_predictor
for card in load_cards():
    get_predictor(card.id).backend.warmup()
import keras
print(keras.backend.backend(), "tensorflow" in sys.modules)
"""
    env = {k: v for k, v in os.environ.items() if k != "KERAS_BACKEND"}
    env["HF_HUB_OFFLINE"] = "1"
    out = subprocess.run([sys.executable, "-c", script], cwd=REPO, env=env, capture_output=True, text=True,
                         timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.split()[-2:] == ["torch", "False"]


@pytest.mark.slow
@pytest.mark.data
@pytest.mark.parametrize("card", KERAS_CARDS, ids=[c.id for c in KERAS_CARDS])
def test_native_graph_matches_keras_own_call(card, data_root):
    """`keras_graph.TorchGraph` (the request path on PyTorch) gives Keras' own logits, pooled features
    and Grad-CAM map on real images."""
    from medhub.imaging import load_for_card
    from medhub.registry import get_predictor

    predictor = get_predictor(card.id)
    backend = predictor.backend
    if backend.runtime != "torch":
        pytest.skip("Keras runs on TensorFlow in this process")
    assert backend.graph is not None, "the bundled Keras model should run as a native torch graph"
    for path in _samples(card, data_root):
        x = predictor.model_input(load_for_card(card, path).rgb)
        native = backend.analyse_one(x)
        graph, backend.graph = backend.graph, None
        try:
            reference = backend.analyse_one(x)
            ref_probs, ref_pooled = backend.features(x[None])
        finally:
            backend.graph = graph
        probs, pooled = backend.features(x[None])
        np.testing.assert_allclose(native.probs, reference.probs, atol=1e-5, err_msg=str(path))
        np.testing.assert_allclose(probs, ref_probs, atol=1e-5, err_msg=str(path))
        np.testing.assert_allclose(pooled, ref_pooled, atol=1e-4, err_msg=str(path))
        assert native.index == reference.index
        np.testing.assert_allclose(native.heatmap, reference.heatmap, atol=1e-4, err_msg=str(path))


def test_unknown_layers_leave_the_model_to_keras():
    from medhub.backends.keras_backend import import_keras
    from medhub.backends.keras_graph import TorchGraph, UnsupportedGraph

    keras = import_keras()
    if keras.backend.backend() != "torch":
        pytest.skip("Keras runs on TensorFlow in this process")
    import torch

    inputs = keras.Input((8, 8, 3))
    x = keras.layers.Conv2D(4, 3, padding="same", activation="relu")(inputs)  # a fused activation
    model = keras.Model(inputs, keras.layers.Dense(2)(keras.layers.GlobalAveragePooling2D()(x)))
    with pytest.raises(UnsupportedGraph, match="activation"):
        TorchGraph(model, torch)
    x = keras.layers.LayerNormalization()(inputs)
    model = keras.Model(inputs, keras.layers.Dense(2)(keras.layers.GlobalAveragePooling2D()(x)))
    with pytest.raises(UnsupportedGraph, match="LayerNormalization"):
        TorchGraph(model, torch)
