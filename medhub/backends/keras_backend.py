"""Keras backend: an architecture built in code, `.weights.h5` weights, Grad-CAM from one pass.

The model comes from `medhub.architectures.keras_nets.build_keras_model(card)` (a flat functional
model giving logits), and only its weights are loaded from the file; the hub never calls
`keras.models.load_model` on a file (its deserialisation can run code, and safe_mode has been
bypassed before).

Keras 3 runs on several frameworks. The hub runs it on **PyTorch** (`KERAS_BACKEND=torch`, the
default set by `import_keras` when nothing chose one before), the framework its other models use:
the same weights give the same logits as on TensorFlow (`tests/test_keras_runtimes.py`), and the
app then never loads TensorFlow (about 800 MB of memory and 7-14 s of start-up on this machine,
docs/BENCHMARKS.md). On PyTorch, Keras builds the model and loads its weights, and the graph then
runs as native torch operations (`medhub.backends.keras_graph.TorchGraph`: 31 ms instead of 147 ms
for the CT model's forward pass here); a model with a layer that module does not know runs through
Keras' own call. `KERAS_BACKEND=tensorflow` still works, through `tf.function`s.

Grad-CAM (Selvaraju et al., ICCV 2017): the model is split at `card.gradcam_layer` into a trunk
(input -> activations A) and a tail (A -> pooled features, logits). The trunk runs without
gradients; only the tail is differentiated, from the class logit back to A. The channel weights are
the gradients averaged over H and W; cam = relu(sum_c w_c * A_c), resized bilinearly to the input
and divided by its maximum.
"""

from __future__ import annotations

import logging
import os
import sys
import threading
import warnings
from typing import TYPE_CHECKING

import numpy as np

from medhub.backends.base import (
    BackendError,
    IncompatibleWeights,
    OnePass,
    check_batch,
    check_class,
    check_image,
    decide_index,
    normalise_map,
    thread_count,
)

if TYPE_CHECKING:
    from medhub.cards import ModelCard
    from medhub.weights import ResolvedWeights

DEFAULT_KERAS_BACKEND = "torch"
log = logging.getLogger("medhub.backends")


def import_tensorflow():
    """Import TensorFlow quietly with a thread count sane for a small shared CPU."""
    # Must be set before TensorFlow's C++ runtime starts logging (i.e. before the import).
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import tensorflow as tf

    tf.get_logger().setLevel("ERROR")
    threads = thread_count()
    try:
        tf.config.threading.set_intra_op_parallelism_threads(threads)
        tf.config.threading.set_inter_op_parallelism_threads(1 if threads <= 2 else 2)
    except RuntimeError:
        pass  # the runtime is already initialised (another model loaded first): keep its setting
    return tf


def import_keras():
    """Import Keras 3 on its PyTorch backend, unless KERAS_BACKEND (or an earlier import) chose one.

    The backend is fixed by the first `import keras` of a process; this reads what it became."""
    if "keras" not in sys.modules:
        os.environ.setdefault("KERAS_BACKEND", DEFAULT_KERAS_BACKEND)
    import keras

    if keras.backend.backend() == "tensorflow":
        import_tensorflow()  # its thread settings
    elif keras.backend.backend() == "torch":
        from medhub._torch_compat import import_torch
        from medhub.backends.torch_backend import configure_threads

        configure_threads(import_torch())
    return keras


def _cam(act: np.ndarray, grad: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Grad-CAM from one image's activations and gradients (H, W, C) -> map at `size`, max 1."""
    import cv2

    cam = np.maximum((grad.mean(axis=(0, 1)) * act).sum(axis=-1), 0.0).astype(np.float32)
    cam = cv2.resize(cam, (size[1], size[0]), interpolation=cv2.INTER_LINEAR)
    top = float(cam.max())
    return cam / top if top > 0 else np.zeros_like(cam)


class KerasBackend:
    """A Keras classifier ready for CPU inference and Grad-CAM."""

    def __init__(self, card: ModelCard, weights: ResolvedWeights) -> None:
        keras = import_keras()

        from medhub.architectures.keras_nets import build_keras_model

        self.card = card
        self.size = tuple(card.input.size)
        self.n_classes = len(card.labels)
        self.runtime = keras.backend.backend()
        if self.runtime not in ("torch", "tensorflow"):
            raise BackendError(f"{card.id}: Keras runs on {self.runtime!r}; the hub supports torch or tensorflow")
        model = build_keras_model(card)
        path = weights.path(card.weights_file.name)
        try:
            # Keras only warns when it skips a part of the file it cannot match ("Affected layers
            # will retain their freshly-initialized weights"); a partly loaded model is refused.
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                model.load_weights(str(path))
            skipped = [str(w.message) for w in caught if issubclass(w.category, UserWarning)]
            if skipped:
                raise ValueError(f"Keras skipped parts of the file: {skipped[0]}")
        except (ValueError, KeyError, OSError, TypeError) as exc:
            # Keras raises ValueError for shape/count mismatches, KeyError/OSError for an h5 that
            # lacks a layer's group or is not an h5 file at all.
            detail = "\n".join(str(exc).splitlines()[:6])
            raise IncompatibleWeights(
                f"{path} does not fit the architecture: {type(exc).__name__}: {detail}"
            ) from exc
        try:
            layer = model.get_layer(card.gradcam_layer)
        except ValueError:
            raise BackendError(
                f"{card.id}: the model has no layer {card.gradcam_layer!r} for Grad-CAM"
            ) from None
        if len(layer.output.shape) != 4:
            raise BackendError(
                f"{card.id}: Grad-CAM layer {card.gradcam_layer!r} outputs {layer.output.shape}; "
                "it needs a spatial (N, H, W, C) map"
            )
        pools = [lyr for lyr in model.layers if isinstance(lyr, keras.layers.GlobalAveragePooling2D)]
        if not pools:
            raise BackendError(f"{card.id}: the model has no global average pooling layer for its features")
        self.model = model
        self._layer_name, self._pool_name = layer.name, pools[-1].name
        # Trunk: input -> Grad-CAM activations; tail: activations -> (pooled features, logits).
        self._trunk = keras.Model(model.inputs, layer.output)
        self._tail = keras.Model(layer.output, [pools[-1].output, model.outputs[0]])
        self._lock = threading.Lock()
        self.graph = None  # medhub.backends.keras_graph.TorchGraph on the torch runtime, when it applies
        if self.runtime == "tensorflow":
            self._tf_functions()
        else:
            from medhub._torch_compat import import_torch
            from medhub.backends.keras_graph import TorchGraph, UnsupportedGraph

            self._torch = import_torch()
            try:
                self.graph = TorchGraph(model, self._torch)
            except UnsupportedGraph as err:
                log.info("%s: Keras' own call runs the model (%s)", card.id, err)
                self.graph = None

    # ---------------------------------------------------------------- the three entry points

    def predict(self, batch: np.ndarray) -> np.ndarray:
        probs, _ = self.features(batch)
        if probs.ndim != 2 or probs.shape[1] != self.n_classes:
            raise BackendError(
                f"{self.card.id}: the model returned {probs.shape}, expected (N, {self.n_classes})"
            )
        return probs

    def features(self, batch: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(probabilities [N, K], pooled penultimate features [N, D]) from one forward pass."""
        batch = check_batch(batch, self.size)
        if self.runtime == "tensorflow":
            probs, pooled = self._tf_features(self._tf.constant(batch))
            return probs.numpy().astype(np.float32), pooled.numpy().astype(np.float32)
        torch = self._torch
        with self._lock, torch.inference_mode():
            if self.graph is not None:
                out = self.graph.run(torch.from_numpy(batch), keep=(self._pool_name,))
                pooled, logits = out[self._pool_name], out[self.graph.output_name]
            else:
                pooled, logits = self._tail(self._trunk(torch.from_numpy(batch), training=False), training=False)
            probs = torch.softmax(logits.float(), dim=-1)
        return probs.numpy().astype(np.float32), pooled.float().numpy().astype(np.float32)

    def explain(self, x: np.ndarray, class_index: int) -> np.ndarray:
        return self.analyse_one(x, class_index).heatmap

    def analyse_one(self, x: np.ndarray, explain_index: int | None = None) -> OnePass:
        """One forward pass and one backward pass through the tail -> OnePass (probs [K], pooled [D],
        heat map, index) for the card's decision (threshold for binary cards, else argmax), or for
        `explain_index` when given."""
        x = check_image(x, self.size)
        forced = None if explain_index is None else check_class(explain_index, self.n_classes)
        if self.runtime == "tensorflow":
            tf = self._tf
            probs, pooled, cam, index = self._tf_analyse(
                tf.constant(x[None]), tf.constant(-1 if forced is None else forced, dtype=tf.int32)
            )
            return OnePass(probs.numpy().astype(np.float32), pooled.numpy().astype(np.float32),
                           normalise_map(cam.numpy()), int(index.numpy()))
        torch = self._torch
        with self._lock:
            if self.graph is not None:  # NCHW; the layer's output is made a gradient leaf in the run
                with torch.enable_grad():
                    out = self.graph.run(torch.from_numpy(x[None]), leaf=self._layer_name,
                                         keep=(self._layer_name, self._pool_name))
                act, pooled, logits = out[self._layer_name], out[self._pool_name], out[self.graph.output_name]
            else:
                with torch.no_grad():
                    act = self._trunk(torch.from_numpy(x[None]), training=False)
                act = act.detach().requires_grad_(True)
                with torch.enable_grad():
                    pooled, logits = self._tail(act, training=False)
            with torch.enable_grad():
                probs = torch.softmax(logits.detach().float(), dim=-1)[0].numpy().astype(np.float32)
                index = decide_index(self.card, probs) if forced is None else forced
                logits[0, index].backward()
        if act.grad is None:
            raise BackendError(f"{self.card.id}: Grad-CAM layer {self.card.gradcam_layer!r} saw no gradient")
        act_hwc, grad_hwc = act.detach()[0].float(), act.grad[0].float()
        if self.graph is not None:  # (C, H, W) -> (H, W, C)
            act_hwc, grad_hwc = act_hwc.permute(1, 2, 0), grad_hwc.permute(1, 2, 0)
        cam = _cam(act_hwc.numpy(), grad_hwc.numpy(), self.size)
        return OnePass(probs, pooled.detach()[0].float().numpy(), normalise_map(cam), int(index))

    def warmup(self) -> None:
        x = np.zeros((*self.size, 3), dtype=np.float32)
        self.predict(x[None])
        self.analyse_one(x)

    # ---------------------------------------------------------------- TensorFlow: traced once each

    def _tf_functions(self) -> None:
        """`tf.function`s with fixed signatures (eager Grad-CAM took 480 ms here, traced 48 ms)."""
        tf = import_tensorflow()
        self._tf = tf
        height, width = self.size
        trunk, tail, card = self._trunk, self._tail, self.card
        positive = card.positive_index if card.is_binary else -1
        threshold = float(card.threshold) if card.is_binary else 0.0

        @tf.function(input_signature=[tf.TensorSpec([None, height, width, 3], tf.float32)])
        def features(x):
            pooled, logits = tail(trunk(x, training=False), training=False)
            return tf.nn.softmax(logits, axis=-1), pooled

        @tf.function(
            input_signature=[tf.TensorSpec([1, height, width, 3], tf.float32), tf.TensorSpec([], tf.int32)]
        )
        def analyse(x, forced):
            activations = trunk(x, training=False)
            with tf.GradientTape() as tape:
                tape.watch(activations)
                pooled, logits = tail(activations, training=False)
                probs = tf.nn.softmax(logits, axis=-1)
                if positive >= 0:
                    decided = tf.where(probs[0, positive] >= threshold, positive, 1 - positive)
                else:
                    decided = tf.cast(tf.argmax(probs[0]), tf.int32)
                index = tf.where(forced >= 0, forced, tf.cast(decided, tf.int32))
                score = tf.gather(logits[0], index)
            grads = tape.gradient(score, activations)
            channel_weights = tf.reduce_mean(grads, axis=(1, 2), keepdims=True)
            cam = tf.nn.relu(tf.reduce_sum(channel_weights * activations, axis=-1, keepdims=True))
            cam = tf.image.resize(cam, (height, width), method="bilinear")[0, :, :, 0]
            return probs[0], pooled[0], tf.math.divide_no_nan(cam, tf.reduce_max(cam)), index

        self._tf_features = features
        self._tf_analyse = analyse
