"""Both backends on tiny models built here: probabilities, Grad-CAM maps, refusal of unfit weights.

The models are real (timm `test_efficientnet` / `resnet10t`, Keras MobileNetV2-0.35 at 64 px) with
random weights saved the way the hub stores them (safetensors / .weights.h5), so the whole path
card -> builder -> weights file -> backend is exercised, only small.
"""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np
import pytest

from medhub.backends import Backend, BackendError, IncompatibleWeights, load_backend
from medhub.cards import parse_card
from medhub.weights import ResolvedWeights, WeightsError

CARD = """---
license: cc-by-nc-4.0
medhub:
  schema_version: 1
  id: {id}
  title: {{en: "Test", ko: "시험"}}
  framework: {framework}
  architecture: {arch}
  hub:
    repo_id: medhub-test/{id}
    revision: main
    files:
      - {{name: {weights}, sha256: "{zeros}"}}
  input:
    modality: dermoscopy
    size: [{size}, {size}]
    channels: 3
    mean: [0.5, 0.5, 0.5]
    std: [0.5, 0.5, 0.5]
  labels:
{labels}
  positive_class: {positive}
  threshold: {threshold}
  gradcam_layer: {layer}
  metrics: {{dataset: synthetic, split: none, n: 0}}
  license: cc-by-nc-4.0
---
# Intended use
# Out-of-scope use
# Training data
# Evaluation
# Limitations
# Disclaimer
"""


def make_card(framework: str, arch: str, layer: str, size: int, n_labels: int = 3, cid: str | None = None):
    weights = "model.safetensors" if framework == "torch" else "model.weights.h5"
    labels = "\n".join(f"    - {{id: c{i}, en: C{i}, ko: C{i}}}" for i in range(n_labels))
    binary = n_labels == 2
    text = CARD.format(
        id=cid or f"t_{framework}",
        framework=framework,
        arch=arch,
        weights=weights,
        zeros="0" * 64,
        size=size,
        labels=labels,
        positive="c1" if binary else "null",
        threshold=0.5 if binary else "null",
        layer=layer,
    )
    return parse_card(text)


def resolved(card, folder: Path) -> ResolvedWeights:
    name = card.weights_file.name
    return ResolvedWeights(dir=folder, files={name: folder / name}, source="local", revision=None)


def textured_image(size: int, seed: int = 0) -> np.ndarray:
    """A normalised image with structure (a bright disc on noise), so Grad-CAM has something to see."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:size, 0:size]
    disc = ((yy - size * 0.3) ** 2 + (xx - size * 0.6) ** 2 < (size * 0.2) ** 2).astype(np.float32)
    img = 0.3 * rng.standard_normal((size, size, 3)).astype(np.float32) + 1.5 * disc[..., None]
    return img.astype(np.float32)


# ------------------------------------------------------------------ torch


def _save_torch(card, folder: Path, state_edit=None) -> None:
    from medhub._torch_compat import import_torch

    torch = import_torch()
    from safetensors.torch import save_file

    from medhub.architectures.torch_nets import build_torch_model

    torch.manual_seed(0)
    model = build_torch_model(card)
    state = {k: v.detach().clone().contiguous() for k, v in model.state_dict().items()}
    if state_edit:
        state = state_edit(state)
    folder.mkdir(parents=True, exist_ok=True)
    save_file(state, str(folder / card.weights_file.name))


TORCH_CASES = {
    "test_efficientnet": ("conv_head", 64),
    "resnet10t": ("layer4.-1", 64),
}


def _he_init(model) -> None:
    """He-normal conv kernels: Keras' default (Glorot) init makes a random MobileNetV2's activations
    vanish (logits ~1e-11, every softmax 0.5/0.5), which would hide a broken backend."""
    import keras

    rng = np.random.default_rng(0)
    for layer in model.layers:
        if isinstance(layer, (keras.layers.Conv2D, keras.layers.DepthwiseConv2D)):
            shape = tuple(layer.kernel.shape)
            depthwise = isinstance(layer, keras.layers.DepthwiseConv2D)
            fan_in = shape[0] * shape[1] * (1 if depthwise else shape[2])
            layer.kernel.assign(rng.normal(0.0, np.sqrt(2.0 / fan_in), shape).astype(np.float32))


@pytest.fixture(scope="module")
def keras_card():
    return make_card("keras", "mobilenet_v2_0.35", "out_relu", 64, n_labels=2)


@pytest.fixture(scope="module")
def backends(tmp_path_factory, keras_card):
    """Backends built on first use and shared by the tests of this module (building costs seconds)."""
    built: dict[str, Backend] = {}

    def get(name: str) -> Backend:
        if name in built:
            return built[name]
        folder = tmp_path_factory.mktemp(name)
        if name == "keras":
            from medhub.backends.keras_backend import import_keras

            keras = import_keras()

            from medhub.architectures.keras_nets import build_keras_model

            keras.utils.set_random_seed(0)
            model = build_keras_model(keras_card)
            _he_init(model)
            model.save_weights(str(folder / keras_card.weights_file.name))
            built[name] = load_backend(keras_card, resolved(keras_card, folder))
        else:
            layer, size = TORCH_CASES[name]
            card = make_card("torch", name, layer, size)
            _save_torch(card, folder)
            built[name] = load_backend(card, resolved(card, folder))
        return built[name]

    return get


@pytest.fixture(params=list(TORCH_CASES))
def torch_backend(request, backends):
    return backends(request.param)


@pytest.fixture
def keras_backend(backends):
    return backends("keras")


@pytest.fixture(params=[*TORCH_CASES, "keras"])
def any_backend(request, backends):
    return backends(request.param)


# ------------------------------------------------------------------ shared behaviour


def test_is_a_backend(any_backend):
    assert isinstance(any_backend, Backend)


def test_probabilities_sum_to_one(any_backend):
    size = any_backend.size[0]
    batch = np.stack([textured_image(size, seed) for seed in range(3)])
    probs = any_backend.predict(batch)
    assert probs.shape == (3, any_backend.n_classes)
    assert probs.dtype == np.float32
    assert np.all(probs >= 0)
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, atol=1e-5)
    # Different images give different outputs (the input reaches the model).
    assert not np.allclose(probs[0], probs[1])


def test_heatmap_size_range_and_structure(any_backend):
    size = any_backend.size
    x = textured_image(size[0])
    # The predicted class: a class with only negative evidence (common for random weights) gives an
    # all-zero map after Grad-CAM's ReLU, which is correct but would not test the normalisation.
    predicted = int(any_backend.predict(x[None])[0].argmax())
    heat = any_backend.explain(x, predicted)
    assert heat.shape == size
    assert heat.dtype == np.float32
    assert heat.min() >= 0.0 and heat.max() <= 1.0
    assert heat.max() == pytest.approx(1.0, abs=1e-5)  # normalised, not all zeros
    assert heat.std() > 1e-3  # not constant for a non-constant image


def test_gradcam_repeatable_no_hook_leak(any_backend):
    size = any_backend.size[0]
    x = textured_image(size, seed=3)
    first = any_backend.explain(x, 0)
    second = any_backend.explain(x, 0)
    np.testing.assert_allclose(first, second, atol=1e-5)
    # Predict after explain is unchanged by anything Grad-CAM attached.
    p1 = any_backend.predict(x[None])
    any_backend.explain(x, 1)
    np.testing.assert_allclose(any_backend.predict(x[None]), p1, atol=1e-6)


def test_bad_requests_are_typed_errors(any_backend):
    size = any_backend.size[0]
    with pytest.raises(BackendError):
        any_backend.predict(np.zeros((1, size + 1, size, 3), np.float32))
    with pytest.raises(BackendError):
        any_backend.explain(np.zeros((size, size, 3), np.float32), any_backend.n_classes)


def test_torch_hooks_removed_after_explain(torch_backend):
    module = torch_backend.target_layer
    before = len(module._forward_hooks)
    torch_backend.explain(textured_image(torch_backend.size[0]), 0)
    assert len(module._forward_hooks) == before == 0


@pytest.mark.slow
def test_explain_thread_safe(any_backend):
    # Distinct images per thread: while one torch CAM's hooks are attached, a forward pass from another
    # thread would feed them (without the lock, about half of these maps came out wrong).
    torch_backend = any_backend
    size = torch_backend.size[0]
    images = [textured_image(size, seed) for seed in range(8)]
    expected = [torch_backend.explain(x, torch_backend.n_classes - 1) for x in images]
    results: list[tuple[int, np.ndarray]] = []
    errors: list[BaseException] = []

    def work(i: int) -> None:
        try:
            if i % 2:
                torch_backend.predict(np.stack(images[:2]))
            else:
                results.append((i, torch_backend.explain(images[i], torch_backend.n_classes - 1)))
        except BaseException as exc:  # noqa: BLE001  (collected and asserted below)
            errors.append(exc)

    for _ in range(3):
        threads = [threading.Thread(target=work, args=(i,)) for i in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    assert not errors
    assert len(results) == 12
    for i, heat in results:
        np.testing.assert_allclose(heat, expected[i], atol=1e-5)


def test_find_module_paths(torch_backend):
    from medhub.backends.torch_backend import find_module

    model = torch_backend.model
    if hasattr(model, "layer4"):
        assert find_module(model, "layer4[-1]") is model.layer4[-1]
        assert find_module(model, "layer4.-1") is model.layer4[-1]
        assert find_module(model, "layer4.0.conv1") is model.layer4[0].conv1
    else:
        assert find_module(model, "conv_head") is model.conv_head
        assert find_module(model, "blocks.-1") is model.blocks[-1]
    with pytest.raises(BackendError, match="children"):
        find_module(model, "nowhere.at_all")


def test_thread_count_setting(monkeypatch):
    from medhub.backends import thread_count

    monkeypatch.setenv("MEDHUB_THREADS", "3")
    assert thread_count() == 3
    monkeypatch.delenv("MEDHUB_THREADS")
    assert 1 <= thread_count() <= 2
    for bad in ("0", "two"):
        monkeypatch.setenv("MEDHUB_THREADS", bad)
        with pytest.raises(BackendError):
            thread_count()


# ------------------------------------------------------------------ unfit weights


def test_torch_missing_key_refused(tmp_path):
    card = make_card("torch", "test_efficientnet", "conv_head", 64)

    def drop_one(state):
        state.pop(next(k for k in state if k.startswith("classifier")))
        return state

    _save_torch(card, tmp_path, drop_one)
    with pytest.raises(IncompatibleWeights, match="Missing key"):
        load_backend(card, resolved(card, tmp_path))


def test_torch_wrong_shape_refused(tmp_path):
    card = make_card("torch", "test_efficientnet", "conv_head", 64)
    other = make_card("torch", "test_efficientnet", "conv_head", 64, n_labels=5)
    _save_torch(other, tmp_path)  # a 5-class head for a 3-class card
    with pytest.raises(IncompatibleWeights, match="size mismatch"):
        load_backend(card, resolved(card, tmp_path))
    # It is also a WeightsError, which inference.py turns into a message for the user.
    assert issubclass(IncompatibleWeights, WeightsError)


def test_torch_not_safetensors_refused(tmp_path):
    card = make_card("torch", "test_efficientnet", "conv_head", 64)
    (tmp_path / "model.safetensors").write_bytes(b"\x80\x04not a safetensors file")
    with pytest.raises(IncompatibleWeights):
        load_backend(card, resolved(card, tmp_path))


def test_torch_float16_weights_load_as_float32(tmp_path):
    card = make_card("torch", "test_efficientnet", "conv_head", 64)
    _save_torch(
        card, tmp_path, lambda s: {k: (v.half() if v.is_floating_point() else v) for k, v in s.items()}
    )
    backend = load_backend(card, resolved(card, tmp_path))
    assert next(backend.model.parameters()).dtype.is_floating_point
    assert str(next(backend.model.parameters()).dtype) == "torch.float32"
    np.testing.assert_allclose(backend.predict(textured_image(64)[None]).sum(), 1.0, atol=1e-5)


def test_torch_unknown_gradcam_layer(tmp_path):
    card = make_card("torch", "test_efficientnet", "no_such_layer", 64)
    _save_torch(card, tmp_path)
    with pytest.raises(BackendError, match="no_such_layer"):
        load_backend(card, resolved(card, tmp_path))


@pytest.mark.parametrize(
    "architecture,n_labels",
    [("mobilenet_v2_0.35", 4), ("mobilenet_v2_0.5", 2)],
    ids=["wrong_head_shape", "other_architecture"],
)
def test_keras_mismatched_weights_refused(keras_card, tmp_path, architecture, n_labels):
    import keras

    from medhub.architectures.keras_nets import build_keras_model

    other = make_card("keras", architecture, "out_relu", 64, n_labels=n_labels)
    keras.utils.set_random_seed(1)
    build_keras_model(other).save_weights(str(tmp_path / "model.weights.h5"))
    with pytest.raises(IncompatibleWeights):
        load_backend(keras_card, resolved(keras_card, tmp_path))


def test_keras_not_h5_refused(keras_card, tmp_path):
    (tmp_path / "model.weights.h5").write_bytes(b"definitely not hdf5")
    with pytest.raises(IncompatibleWeights):
        load_backend(keras_card, resolved(keras_card, tmp_path))


def test_keras_unknown_gradcam_layer(tmp_path):
    import keras

    from medhub.architectures.keras_nets import build_keras_model

    card = make_card("keras", "mobilenet_v2_0.35", "avg_pool", 64, n_labels=2)
    keras.utils.set_random_seed(0)
    build_keras_model(card).save_weights(str(tmp_path / "model.weights.h5"))
    with pytest.raises(BackendError, match="spatial"):
        load_backend(card, resolved(card, tmp_path))


@pytest.mark.slow
def test_torch_app_never_imports_tensorflow(tmp_path):
    """An app serving only torch models must not pay TensorFlow's import (3 s, 1 GB) or vice versa."""
    import subprocess
    import sys

    script = f"""
import sys
from pathlib import Path
from tests.test_backends import make_card, _save_torch, resolved, textured_image
import medhub.backends, medhub.weights, medhub.studies.publish
assert "torch" not in sys.modules and "tensorflow" not in sys.modules, "imported too early"
card = make_card("torch", "test_efficientnet", "conv_head", 32)
_save_torch(card, Path({str(tmp_path)!r}))
backend = medhub.backends.load_backend(card, resolved(card, Path({str(tmp_path)!r})))
backend.explain(textured_image(32), 0)
print("tensorflow" in sys.modules, "keras" in sys.modules)
"""
    repo = Path(__file__).resolve().parent.parent
    out = subprocess.run(
        [sys.executable, "-c", script], cwd=repo, capture_output=True, text=True, timeout=120, check=True
    )
    assert out.stdout.split()[-2:] == ["False", "False"]
