"""Output images are written atomically: identical results from concurrent requests never leave a
reader with a truncated file (Gradio's own array path writes in place; see tabs/output_files.py)."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import numpy as np
from PIL import Image

from tabs import output_files


def test_same_image_from_many_threads_is_always_complete():
    rgb = np.random.default_rng(0).integers(0, 255, (600, 800, 3), dtype=np.uint8)
    first = output_files.image_file(rgb, "overlay")
    size = len(open(first, "rb").read())
    stop = threading.Event()
    seen: list[int] = []

    def read():
        while not stop.is_set():
            with open(first, "rb") as fh:
                seen.append(len(fh.read()))

    reader = threading.Thread(target=read)
    reader.start()
    try:
        with ThreadPoolExecutor(8) as pool:
            paths = list(pool.map(lambda _: output_files.image_file(rgb, "overlay"), range(64)))
    finally:
        stop.set()
        reader.join(timeout=60)
    assert set(paths) == {first}
    assert seen and set(seen) == {size}, "a reader saw a partly written file"
    with Image.open(first) as im:
        assert im.format == "JPEG" and im.size == (800, 600)


def test_different_images_get_different_files_and_none_stays_none():
    a = np.zeros((32, 32, 3), np.uint8)
    b = np.full((32, 32, 3), 200, np.uint8)
    assert output_files.image_file(a) != output_files.image_file(b)
    assert output_files.image_file(None) is None


def test_old_entries_are_removed_and_new_ones_kept(tmp_path):
    import os
    import time

    old_dir, new_dir, old_file = tmp_path / "old", tmp_path / "new", tmp_path / "old.pdf"
    for d in (old_dir, new_dir):
        d.mkdir()
        (d / "x.jpg").write_bytes(b"x")
    old_file.write_bytes(b"%PDF")
    past = time.time() - 3600
    for path in (old_dir, old_file):
        os.utime(path, (past, past))
    output_files.remove_older_than(tmp_path, time.time() - 600)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["new"]
