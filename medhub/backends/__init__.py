"""Backends: one object per loaded model that turns normalised images into probabilities and heat maps.

A backend hides the framework (PyTorch through timm, or Keras/TensorFlow) behind three calls:

- `predict(batch)`: float32 NHWC batch, normalised as the card says -> probabilities [N, K], the
  softmax of the logits, one column per card label, rows summing to 1;
- `explain(x, class_index)`: one float32 HWC image -> Grad-CAM heat map, float32 2-D in [0, 1] at
  the model input's height x width (all zeros only when the gradient really is zero);
- `features(batch)`: (probabilities, pooled penultimate features [N, D]) from one forward pass;
- `analyse_one(x, explain_index=None)`: one forward and one backward pass for one image -> a
  `OnePass` (probabilities [K], pooled features [D], Grad-CAM map, explained class index, and for a
  graded-heads model the per-head grade probabilities); the class is the card's decision unless
  `explain_index` is given. This is the request path: the features feed the scope check
  (medhub/scope.py) and the heads the graded result (medhub/result_extras.py) at no extra forward pass;
- `warmup()`: one dummy predict and explain, so the first user does not pay for tracing/allocation.

`load_backend(card, weights)` picks the implementation from `card.framework` and imports torch or
TensorFlow only then, so an app serving one framework never imports the other.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from medhub.backends.base import (  # noqa: F401  (the package's public names)
    Backend,
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


def load_backend(card: ModelCard, weights: ResolvedWeights) -> Backend:
    """Build the card's architecture, load its verified weights and return a ready backend."""
    if card.framework == "torch":
        from medhub.backends.torch_backend import TorchBackend

        return TorchBackend(card, weights)
    if card.framework == "keras":
        from medhub.backends.keras_backend import KerasBackend

        return KerasBackend(card, weights)
    raise BackendError(f"{card.id}: no backend for framework '{card.framework}'")
