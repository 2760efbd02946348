"""Keras/TensorFlow backend: an architecture built in code, `.weights.h5` weights, Grad-CAM by GradientTape.

The model comes from `medhub.architectures.keras_nets.build_keras_model(card)` (a flat functional
model giving logits), and only its weights are loaded from the file; the hub never calls
`keras.models.load_model` on a file (its deserialisation can run code, and safe_mode has been
bypassed before).

Grad-CAM (Selvaraju et al., ICCV 2017): a second functional model over the same layers outputs
(activations of `card.gradcam_layer`, logits); the channel weights are the gradients of the class
logit averaged over H and W; cam = relu(sum_c w_c * A_c), resized bilinearly to the input and
divided by its maximum. Predict and Grad-CAM each run in a `tf.function` with a fixed input
signature, so each traces once (eager Grad-CAM took 480 ms here, traced 48 ms).
"""

from __future__ import annotations

import os
import warnings
from typing import TYPE_CHECKING

import numpy as np

from medhub.backends import (
    BackendError,
    IncompatibleWeights,
    OnePass,
    check_batch,
    check_class,
    check_image,
    normalise_map,
    thread_count,
)

if TYPE_CHECKING:
    from medhub.cards import ModelCard
    from medhub.weights import ResolvedWeights


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


class KerasBackend:
    """A Keras classifier ready for CPU inference and Grad-CAM."""

    def __init__(self, card: ModelCard, weights: ResolvedWeights) -> None:
        tf = import_tensorflow()
        import keras

        from medhub.architectures.keras_nets import build_keras_model

        self.card = card
        self.size = tuple(card.input.size)
        self.n_classes = len(card.labels)
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
        self.grad_model = keras.Model(model.inputs, [layer.output, model.outputs[0]])
        one_pass = keras.Model(model.inputs, [layer.output, pools[-1].output, model.outputs[0]])
        height, width = self.size
        self._tf = tf

        @tf.function(input_signature=[tf.TensorSpec([None, height, width, 3], tf.float32)])
        def _predict(x):
            return tf.nn.softmax(model(x, training=False), axis=-1)

        grad_model = self.grad_model

        @tf.function(
            input_signature=[tf.TensorSpec([1, height, width, 3], tf.float32), tf.TensorSpec([], tf.int32)]
        )
        def _gradcam(x, index):
            with tf.GradientTape() as tape:
                # Watching the input makes every activation differentiable even with frozen layers.
                tape.watch(x)
                activations, logits = grad_model(x, training=False)
                score = tf.gather(logits, index, axis=1)
            grads = tape.gradient(score, activations)
            channel_weights = tf.reduce_mean(grads, axis=(1, 2), keepdims=True)
            cam = tf.nn.relu(tf.reduce_sum(channel_weights * activations, axis=-1, keepdims=True))
            cam = tf.image.resize(cam, (height, width), method="bilinear")[0, :, :, 0]
            return tf.math.divide_no_nan(cam, tf.reduce_max(cam))

        # One pass for the request path: probabilities, pooled features and the Grad-CAM of the decided
        # class (threshold rule for binary cards, else argmax) or of `forced` when it is >= 0.
        positive = card.positive_index if card.is_binary else -1
        threshold = float(card.threshold) if card.is_binary else 0.0

        @tf.function(
            input_signature=[tf.TensorSpec([1, height, width, 3], tf.float32), tf.TensorSpec([], tf.int32)]
        )
        def _analyse(x, forced):
            with tf.GradientTape() as tape:
                tape.watch(x)
                activations, pooled, logits = one_pass(x, training=False)
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

        self._predict = _predict
        self._gradcam = _gradcam
        self._analyse = _analyse
        self._one_pass = one_pass

    def predict(self, batch: np.ndarray) -> np.ndarray:
        batch = check_batch(batch, self.size)
        probs = self._predict(self._tf.constant(batch)).numpy()
        if probs.ndim != 2 or probs.shape[1] != self.n_classes:
            raise BackendError(
                f"{self.card.id}: the model returned {probs.shape}, expected (N, {self.n_classes})"
            )
        return probs.astype(np.float32)

    def explain(self, x: np.ndarray, class_index: int) -> np.ndarray:
        x = check_image(x, self.size)
        index = check_class(class_index, self.n_classes)
        cam = self._gradcam(self._tf.constant(x[None]), self._tf.constant(index, dtype=self._tf.int32))
        return normalise_map(cam.numpy())

    def features(self, batch: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(probabilities [N, K], pooled penultimate features [N, D]) from one forward pass."""
        batch = check_batch(batch, self.size)
        _, pooled, logits = self._one_pass(self._tf.constant(batch), training=False)
        probs = self._tf.nn.softmax(logits, axis=-1).numpy()
        return probs.astype(np.float32), np.asarray(pooled, dtype=np.float32)

    def analyse_one(self, x: np.ndarray, explain_index: int | None = None) -> OnePass:
        """One forward and one backward pass -> OnePass (probs [K], pooled [D], heat map, index)."""
        x = check_image(x, self.size)
        forced = -1 if explain_index is None else check_class(explain_index, self.n_classes)
        probs, pooled, cam, index = self._analyse(
            self._tf.constant(x[None]), self._tf.constant(forced, dtype=self._tf.int32)
        )
        return OnePass(
            probs.numpy().astype(np.float32),
            pooled.numpy().astype(np.float32),
            normalise_map(cam.numpy()),
            int(index.numpy()),
        )

    def warmup(self) -> None:
        x = np.zeros((*self.size, 3), dtype=np.float32)
        self.predict(x[None])
        self.analyse_one(x)
