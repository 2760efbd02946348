"""One code base for a CPU Space, a ZeroGPU Space and a local run: the `@spaces.GPU` path.

`spaces.GPU` (the `spaces` package, Hugging Face's ZeroGPU client) gives a function a GPU for the
length of one call on a ZeroGPU Space (`SPACES_ZERO_GPU=true`) and returns the function unchanged
everywhere else, so the decorated path below is the plain path on this machine, on CPU Basic and
locally. Without the `spaces` package installed, `gpu` is an identity decorator.

`analyse_on_gpu(model_id, image)` is `Predictor.analyse` through that decorator: on ZeroGPU it moves
the model to CUDA inside the call (where CUDA exists) and back; elsewhere it is the same call, giving
the same probabilities (tests/test_zerogpu.py). The app's request path does not use it yet: whether
the hub's small CNNs (about 30 ms a slice on 2 CPU cores, docs/BENCHMARKS.md) should run on the GPU at
all on ZeroGPU is not measured (no GPU here); a GPU call's allocation and the visitors' daily quota
(2 min anonymous, 5 min with a free account) argue for the CPU, so `MEDHUB_ZEROGPU_MODELS` defaults
to "cpu" and only "gpu" would route analyses through this path.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any, TypeVar

F = TypeVar("F", bound=Callable[..., Any])

GPU_DURATION_S = 20  # one analysis, or one series, with margin (ZeroGPU bills the requested duration)


def spaces_installed() -> bool:
    try:
        import spaces  # noqa: F401
    except ImportError:
        return False
    return True


def on_zerogpu() -> bool:
    """True on a ZeroGPU Space (the `spaces` package reads SPACES_ZERO_GPU)."""
    if not spaces_installed():
        return False
    from spaces.config import Config

    return bool(Config.zero_gpu)


def models_on_gpu() -> bool:
    """Whether analyses should take the GPU path: only on ZeroGPU and when MEDHUB_ZEROGPU_MODELS=gpu."""
    return on_zerogpu() and os.environ.get("MEDHUB_ZEROGPU_MODELS", "cpu") == "gpu"


def gpu(fn: F) -> F:
    """`spaces.GPU(duration=GPU_DURATION_S)` when `spaces` is installed (a no-op off ZeroGPU), else `fn`."""
    if not spaces_installed():
        return fn
    import spaces

    return spaces.GPU(duration=GPU_DURATION_S)(fn)


def _to_device(predictor: Any, device: str) -> None:
    model = getattr(predictor.backend, "model", None)
    if model is not None and hasattr(model, "to"):
        model.to(device)


def _analyse(model_id: str, image, **options) -> Any:
    from medhub.registry import get_predictor

    predictor = get_predictor(model_id)
    cuda = False
    try:
        import torch

        cuda = bool(torch.cuda.is_available())
    except ImportError:
        pass
    if not cuda:
        return predictor.analyse(image, **options)
    _to_device(predictor, "cuda")  # pragma: no cover - only on a ZeroGPU Space
    try:  # pragma: no cover
        return predictor.analyse(image, **options)
    finally:  # pragma: no cover
        _to_device(predictor, "cpu")


analyse_on_gpu = gpu(_analyse)
analyse_on_gpu.__doc__ = "Predictor.analyse(image, **options) for `model_id` through @spaces.GPU (see the module)."
