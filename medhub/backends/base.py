"""What every backend shares (the `OnePass` result, errors, checks, the decision index): the floor
of `medhub.backends`, imported by `torch_backend` and `keras_backend` (which the package's
`load_backend` imports only when a card needs that framework)."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, NamedTuple, Protocol, runtime_checkable

import numpy as np

from medhub.weights import WeightsError

if TYPE_CHECKING:
    from medhub.cards import ModelCard


class OnePass(NamedTuple):
    """What `analyse_one` returns: everything one request needs from one forward + one backward pass."""

    probs: np.ndarray  # [K] float32, softmax over the card's labels
    features: np.ndarray  # [D] float32, pooled penultimate features
    heatmap: np.ndarray  # float32 [0, 1] at the model input's size
    index: int  # the explained class
    heads: dict[str, np.ndarray] | None = None  # graded heads: head id -> probabilities over its grades


class BackendError(RuntimeError):
    """A backend cannot be built or cannot run the request it was given."""


class IncompatibleWeights(WeightsError, BackendError):
    """The weights file does not fit the architecture the card describes (keys or shapes differ)."""


@runtime_checkable
class Backend(Protocol):
    def predict(self, batch: np.ndarray) -> np.ndarray: ...

    def explain(self, x: np.ndarray, class_index: int) -> np.ndarray: ...

    def warmup(self) -> None: ...


def thread_count() -> int:
    """Threads per framework: `MEDHUB_THREADS`, else min(2, CPU count) (Spaces' free tier has 2)."""
    raw = os.environ.get("MEDHUB_THREADS", "").strip()
    if raw:
        try:
            value = int(raw)
        except ValueError:
            raise BackendError(f"MEDHUB_THREADS must be a positive integer, not {raw!r}") from None
        if value < 1:
            raise BackendError(f"MEDHUB_THREADS must be a positive integer, not {raw!r}")
        return value
    return max(1, min(2, os.cpu_count() or 1))


def check_batch(batch: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Validate an NHWC batch against the model's input size; returns it as contiguous float32."""
    batch = np.asarray(batch)
    height, width = size
    if batch.ndim != 4 or batch.shape[1:] != (height, width, 3):
        raise BackendError(f"expected a float32 batch of shape (N, {height}, {width}, 3), got {batch.shape}")
    return np.ascontiguousarray(batch, dtype=np.float32)


def check_image(x: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Validate one HWC image against the model's input size; returns it as contiguous float32."""
    x = np.asarray(x)
    height, width = size
    if x.shape != (height, width, 3):
        raise BackendError(f"expected a float32 image of shape ({height}, {width}, 3), got {x.shape}")
    return np.ascontiguousarray(x, dtype=np.float32)


def check_class(class_index: int, n_classes: int) -> int:
    index = int(class_index)
    if not 0 <= index < n_classes:
        raise BackendError(f"class index {class_index} is outside 0..{n_classes - 1}")
    return index


def normalise_map(cam: np.ndarray) -> np.ndarray:
    """Scale a non-negative map to [0, 1]; a map with no positive value stays all zeros."""
    cam = np.nan_to_num(np.asarray(cam, dtype=np.float32), nan=0.0, posinf=0.0, neginf=0.0)
    cam = np.maximum(cam, 0.0)
    peak = float(cam.max()) if cam.size else 0.0
    if peak <= 0.0:
        return np.zeros_like(cam, dtype=np.float32)
    return np.clip(cam / peak, 0.0, 1.0).astype(np.float32)


def decide_index(card: ModelCard, probs: np.ndarray) -> int:
    """The decided class of one probability row: the card's threshold for binary models, else argmax."""
    if card.is_binary:
        pos = card.positive_index
        return pos if float(probs[pos]) >= card.threshold else 1 - pos
    return int(np.argmax(probs))
