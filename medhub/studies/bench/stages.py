"""In-process timings: the bare forward pass, predict + Grad-CAM, and one request split into its
stages (decode, preprocess, forward, Grad-CAM, scope check, the whole `medhub.pipeline.run`, image
encodings); and a cProfile of `medhub.pipeline.run`. Nothing here starts the app or imports it."""

from __future__ import annotations

import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from medhub.studies.bench.samples import decode
from medhub.studies.bench.util import _ms, percentile


def _timed(fn: Callable[[], Any], repeats: int) -> list[float]:
    out = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        out.append(time.perf_counter() - t0)
    return out


def bench_in_process(model_id: str, images: list[Path], repeats: int, handler: bool = True) -> dict[str, Any]:
    """Forward, predict + Grad-CAM and a per-stage breakdown of one request, in this process."""
    from medhub.cards import get_card
    from medhub.registry import get_predictor

    card = get_card(model_id)
    t0 = time.perf_counter()
    predictor = get_predictor(model_id)
    load_s = time.perf_counter() - t0
    rgbs = [decode(p, card) for p in images]
    x = predictor.model_input(rgbs[0])[None]
    predictor.backend.predict(x)  # untimed calls: lazy init and tracing must not count as a request
    predictor.analyse(rgbs[0], explain=True)

    forward = _timed(lambda: predictor.backend.predict(x), repeats)
    cam: list[float] = []
    for i in range(repeats):
        rgb = rgbs[i % len(rgbs)]
        t1 = time.perf_counter()
        predictor.analyse(rgb, explain=True)
        cam.append(time.perf_counter() - t1)
    return {
        "forward_ms_p50": _ms(percentile(forward, 50)),
        "forward_ms_p95": _ms(percentile(forward, 95)),
        "predict_cam_ms_p50": _ms(percentile(cam, 50)),
        "predict_cam_ms_p95": _ms(percentile(cam, 95)),
        "load_s": round(load_s, 3),
        "stages_ms": stage_breakdown(predictor, images[0], max(3, repeats // 2), handler),
    }


def stage_breakdown(
    predictor, path: Path, repeats: int, handler: bool = True
) -> dict[str, float]:
    """Median time of each step the app does for one upload, in this process.

    decode (input gate), preprocess, forward, gradcam (backend), then `handler`: the app's whole
    request function (`medhub.pipeline.run`: decode, analyse, scope check, result extras, overlay
    blend), and the PNG / WebP / JPEG encoding of the overlay (the app sends JPEG).
    """
    import io

    from PIL import Image

    rgb = decode(path, predictor.card)
    x = predictor.model_input(rgb)
    index = int(np.argmax(predictor.backend.predict(x[None])[0]))
    stages: dict[str, Callable[[], Any]] = {
        "decode": lambda: decode(path, predictor.card),
        "preprocess": lambda: predictor.model_input(rgb),
        "forward": lambda: predictor.backend.predict(x[None]),
        "gradcam": lambda: predictor.backend.explain(x, index),
    }
    if hasattr(predictor.backend, "analyse_one"):
        # the request path: one forward + one backward pass (probabilities, features, heat map)
        stages["predict_cam_one_pass"] = lambda: predictor.backend.analyse_one(x)
        if predictor.scope is not None:
            from medhub.scope import appearance

            _, feats = predictor.features_batch([rgb])
            # the whole added cost of the check: appearance statistics + distance + family head
            stages["scope_check"] = lambda: predictor.scope.check(
                feats[0], appearance(rgb) if predictor.scope.uses_appearance else None
            )
    overlay_img = None
    try:
        if not handler:
            raise ImportError("skipped (--quick)")
        from medhub import pipeline

        card = predictor.card

        def handler():
            return pipeline.run(card, str(path), opacity=0.5)

        overlay_img = handler().overlay
        stages["handler"] = handler
    except Exception as err:  # noqa: BLE001  (the core stages are still worth reporting)
        print(f"bench: app handler not timed: {type(err).__name__}: {err}", file=sys.stderr)
    if overlay_img is not None:

        def encode(fmt: str) -> Callable[[], Any]:
            return lambda: Image.fromarray(overlay_img).save(io.BytesIO(), format=fmt)

        stages["encode_png"] = encode("PNG")
        stages["encode_webp"] = encode("WEBP")
        stages["encode_jpeg"] = encode("JPEG")  # what the app sends (tabs/layout.py IMAGE_FORMAT)
    out = {name: _ms(statistics.median(_timed(fn, repeats))) for name, fn in stages.items()}
    if overlay_img is not None:
        out["overlay_pixels"] = int(overlay_img.shape[0] * overlay_img.shape[1])
    return out


def profile_handler(model_id: str, path: Path, out_dir: Path, calls: int = 10) -> Path:
    """cProfile of the app's request function (`medhub.pipeline.run`) over `calls` requests.

    Writes the 30 most expensive functions by cumulative and by own time to out_dir/<id>.txt.
    """
    import cProfile
    import io
    import pstats

    from medhub import pipeline
    from medhub.cards import get_card
    from medhub.registry import get_predictor

    card = get_card(model_id)
    get_predictor(model_id)
    pipeline.run(card, str(path), opacity=0.5)  # warm
    prof = cProfile.Profile()
    prof.enable()
    for _ in range(calls):
        pipeline.run(card, str(path), opacity=0.5)
    prof.disable()
    buf = io.StringIO()
    buf.write(f"{model_id}: {calls} calls of medhub.pipeline.run on {path}\n")
    for key in ("cumulative", "tottime"):
        pstats.Stats(prof, stream=buf).sort_stats(key).print_stats(30)
    out_dir.mkdir(parents=True, exist_ok=True)
    out = out_dir / f"profile_{model_id}.txt"
    out.write_text(buf.getvalue())
    return out
