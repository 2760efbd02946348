"""What every part of the bench shares: the error, percentiles, the machine the numbers were measured
on. Where the repo and the data are: `medhub.paths`."""

from __future__ import annotations

import contextlib
import os
import platform
from pathlib import Path
from typing import Any

import numpy as np


class BenchError(RuntimeError):
    """The benchmark could not run (app did not start, a model failed, an answer was malformed)."""


def process_tree_sum(pid: int | None, measure) -> float:
    """`measure(process)` summed over a process and its children (0 when it is gone; a child that ends
    or is out of reach meanwhile is left out). E.g. CPU seconds or RSS bytes of the app."""
    import psutil

    if pid is None:
        return 0.0
    try:
        root = psutil.Process(pid)
        procs = [root, *root.children(recursive=True)]
    except psutil.NoSuchProcess:
        return 0.0
    total = 0.0
    for proc in procs:
        with contextlib.suppress(psutil.NoSuchProcess, psutil.AccessDenied):
            total += measure(proc)
    return total


def percentile(values: list[float], q: float) -> float:
    """The q-th percentile (0..100) by linear interpolation; NaN for no values."""
    if not values:
        return float("nan")
    return float(np.percentile(np.asarray(values, dtype=np.float64), q))


def _ms(seconds: float) -> float:
    return round(seconds * 1000.0, 2)


def machine_info() -> dict[str, Any]:
    """What the numbers were measured on: CPU, memory, library versions, thread settings."""
    import psutil

    cpu = platform.processor() or ""
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    info: dict[str, Any] = {
        "cpu": cpu,
        "logical_cores": os.cpu_count(),
        "usable_cores": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None,
        "memory_gb": round(psutil.virtual_memory().total / 2**30, 1),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "medhub_threads": os.environ.get("MEDHUB_THREADS"),
    }
    from importlib.metadata import PackageNotFoundError, version

    for dist in ("torch", "timm", "tensorflow-cpu", "keras", "gradio", "gradio_client", "numpy"):
        with contextlib.suppress(PackageNotFoundError):
            info[dist] = version(dist)
    return info
