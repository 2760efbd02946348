"""Make `import torchvision` (and so `import timm`) work with the CPU build of torch.

On this platform torchvision 0.28.0 exists only as a CUDA build. Importing it next to the CPU torch
fails with "operator torchvision::nms does not exist", because torchvision registers Python
fake-kernels for ops its C++ library would have declared. Declaring the two op schemas first lets
the import succeed; classification models and transforms work, nms/roi_align do not (the hub never
uses them). Where torchvision matches torch, this is a no-op.
"""

from __future__ import annotations

import functools
import threading

# The app warms its models in a background thread while a request may load another one: the first
# import (and the torchvision repair below, which walks sys.modules) runs in one thread at a time.
# Unguarded, a request failed with "dictionary changed size during iteration" (another thread was
# importing while this one listed sys.modules).
_IMPORT_LOCK = threading.RLock()


@functools.cache
def import_torch():
    """Import torch with the settings the hub relies on, and make torchvision importable."""
    with _IMPORT_LOCK:
        return _import_torch()


def _import_torch():
    import torch

    # Denormal floats made the CPU backward pass (Grad-CAM) up to 30x slower with some weights.
    torch.set_flush_denormal(True)
    try:
        import torchvision  # noqa: F401
    except (RuntimeError, ImportError):
        import sys

        for name in [m for m in list(sys.modules) if m == "torchvision" or m.startswith("torchvision.")]:
            del sys.modules[name]
        lib = torch.library.Library("torchvision", "FRAGMENT")  # noqa: F841  (kept alive below)
        lib.define("nms(Tensor dets, Tensor scores, float iou_threshold) -> Tensor")
        lib.define("qnms(Tensor dets, Tensor scores, float iou_threshold) -> Tensor")
        _KEEP.append(lib)
        import torchvision  # noqa: F401,F811
    return torch


_KEEP: list = []


@functools.cache
def import_timm():
    import_torch()
    with _IMPORT_LOCK:
        import timm

    return timm
