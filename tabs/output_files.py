"""Output images as JPEG files written atomically, so that identical results never race.

Gradio saves an image returned as an array under a folder named by the hash of its bytes, with a
plain write (`processing_utils.save_pil_to_cache`). Two requests with the same result (a class
trying the same gallery sample at once; the bench's 8 clients sending the same images) write the
same file, and a download can catch it truncated: the 8-client bench saw "peer closed connection
without sending complete message body (received 0 bytes, expected 8038)". A file path returned
instead is copied into Gradio's cache under a temporary name and renamed into place
(`processing_utils.save_file_to_cache`). `image_file` writes the image the same way, under a name
made from its own bytes, and so sets the JPEG quality too (Gradio's array path has no option).
Files older than `MAX_AGE_S` are removed as new ones are written (Gradio keeps its own copy).
"""

from __future__ import annotations

import functools
import hashlib
import io
import os
import shutil
import tempfile
import threading
import time
from pathlib import Path

import numpy as np
from PIL import Image

JPEG_QUALITY = 85  # Pillow's default 75 left visible blocks on CT slices
MAX_AGE_S = 600.0
_sweep_lock = threading.Lock()
_last_sweep = 0.0


@functools.cache
def _folder() -> Path:
    return Path(tempfile.mkdtemp(prefix="medhub-images-"))


def _sweep(folder: Path, now: float) -> None:
    global _last_sweep
    with _sweep_lock:
        if now - _last_sweep < 60.0:
            return
        _last_sweep = now
    remove_older_than(folder, now - MAX_AGE_S)


def remove_older_than(folder: Path, cutoff: float) -> None:
    """Remove the entries of `folder` last written before `cutoff` (a time.time() value); entries
    another thread removes first are skipped."""
    for entry in folder.iterdir():
        try:
            if entry.stat().st_mtime >= cutoff:
                continue
            if entry.is_dir():
                shutil.rmtree(entry, ignore_errors=True)
            else:
                entry.unlink(missing_ok=True)
        except OSError:
            pass


def image_file(rgb: np.ndarray | None, name: str = "image") -> str | None:
    """An RGB uint8 array as a JPEG file, written under a temporary name and renamed into place;
    None stays None (an empty image output)."""
    if rgb is None:
        return None
    buffer = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(rgb, dtype=np.uint8)).save(buffer, format="JPEG", quality=JPEG_QUALITY)
    data = buffer.getvalue()
    folder = _folder()
    now = time.time()
    target = folder / hashlib.sha256(data).hexdigest()[:32] / f"{name}.jpg"
    try:
        # Already written: touching its folder keeps the sweep (which removes old folders) off it.
        if not target.exists():
            raise FileNotFoundError(target)
        os.utime(target.parent)
    except FileNotFoundError:
        target.parent.mkdir(parents=True, exist_ok=True)  # a fresh folder: no sweep removes it now
        fd, tmp = tempfile.mkstemp(dir=target.parent, suffix=".part")
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.replace(tmp, target)
    _sweep(folder, now)
    return str(target)
