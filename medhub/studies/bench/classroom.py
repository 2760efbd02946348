"""The classroom scenario (issue 20): a class of `clients` (30) on one model's tab at once.

`python -m medhub bench --classroom [--models brain_hemorrhage,melanoma] [--clients 30] [--json]`
starts the app as a process (`AppProcess`) and, per model, runs two rounds of `clients` simultaneous
requests, each from its own client and a fresh Gradio session (a new visitor):
- `same_sample`: everyone sends the same gallery sample (the result cache serves it once);
- `mixed_uploads`: everyone sends a different upload (the test images, each a distinct file: a copy
  whose corner pixel differs, so no two share bytes and every one runs the model).
Reported per round: p50 / p95 / max latency, errors (e.g. "Queue is full"), requests per second, and
whether the round meets the issue's targets (0 errors; p95 <= 2.0 s same sample, <= 3.0 s mixed).
Like the rest of the bench it never imports the app or gradio's server side.
"""

from __future__ import annotations

import os
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from medhub.studies.bench.load import run_clients
from medhub.studies.bench.samples import images_for
from medhub.studies.bench.server import AppProcess, wait_first_prediction
from medhub.studies.bench.util import _ms, machine_info, percentile

TARGET_P95_S = {"same_sample": 2.0, "mixed_uploads": 3.0}


def distinct_uploads(images: list[Path], n: int, folder: Path) -> list[Path]:
    """`n` uploads with distinct bytes made from `images` (round robin): PNG copies whose top-left
    pixel is set to a different value each, so the cache cannot merge them but the model sees the
    same kind of image."""
    import numpy as np
    from PIL import Image

    folder.mkdir(parents=True, exist_ok=True)
    out = []
    for i in range(n):
        src = images[i % len(images)]
        with Image.open(src) as im:
            arr = np.array(im.convert("RGB"))
        arr[0, 0] = [(i * 37) % 256, (i * 91) % 256, i % 256]
        path = folder / f"upload{i:03d}.png"
        Image.fromarray(arr).save(path)
        out.append(path)
    return out


def _round(url: str, jobs: list, clients: int, downloads: Path) -> dict[str, Any]:
    run = run_clients(url, jobs, clients, downloads, per_client=1, fresh_sessions=True)
    lat = run["latencies"]
    row = {
        "requests": run["requests"],
        "errors": int(run["errors"]),
        "p50_ms": _ms(percentile(lat, 50)) if lat else None,
        "p95_ms": _ms(percentile(lat, 95)) if lat else None,
        "max_ms": _ms(max(lat)) if lat else None,
        "wall_s": round(run["wall_s"], 2),
        "rps": round(len(lat) / run["wall_s"], 2) if run["wall_s"] else None,
    }
    if run["error_samples"]:
        row["error_samples"] = run["error_samples"]
    return row


def classroom(
    models: list[str],
    clients: int = 30,
    log: Callable[[str], None] = lambda s: print(s, file=sys.stderr),
    app_env: dict[str, str] | None = None,
) -> dict[str, Any]:
    """Run the classroom scenario; returns {"models": {id: {same_sample: ..., mixed_uploads: ...}}, ...}."""
    result: dict[str, Any] = {"scenario": "classroom", "clients": clients, "machine": machine_info(),
                              "load_avg_1m_start": round(os.getloadavg()[0], 2), "models": {}}
    with tempfile.TemporaryDirectory(prefix="medhub-classroom-") as tmp:
        scratch = Path(tmp)
        downloads = scratch / "downloads"
        downloads.mkdir()
        samples = {m: images_for(m, 6, scratch)[0] for m in models}
        with AppProcess(env={**(app_env or {})}) as app:
            cold = wait_first_prediction(app, models[0], samples[models[0]][0], downloads)
            result["cold_start_s"] = round(cold, 2)
            log(f"app on {app.url}, cold start {cold:.1f} s")
            for m in models:
                # Warm this endpoint (model loaded, first trace) with an image nobody else sends.
                warm = distinct_uploads(samples[m], 1, scratch / f"{m}-warm")[0]
                run_clients(app.url, [(m, warm)], 1, downloads / "warm", per_client=1)
                same = _round(app.url, [(m, samples[m][0])], clients, downloads / f"{m}-same")
                uploads = distinct_uploads(samples[m], clients, scratch / f"{m}-uploads")
                mixed = _round(app.url, [(m, p) for p in uploads], clients, downloads / f"{m}-mixed")
                for name, row in (("same_sample", same), ("mixed_uploads", mixed)):
                    row["target_p95_ms"] = TARGET_P95_S[name] * 1000
                    row["meets_target"] = bool(row["errors"] == 0 and row["p95_ms"] is not None
                                               and row["p95_ms"] <= row["target_p95_ms"])
                result["models"][m] = {"same_sample": same, "mixed_uploads": mixed}
                log(f"{m}: same sample p95 {same['p95_ms']} ms errors {same['errors']}; "
                    f"mixed p95 {mixed['p95_ms']} ms errors {mixed['errors']}")
            result["rss_mb"] = round(max(app.peak_rss_mb, app.rss_mb()), 1)
    result["load_avg_1m_end"] = round(os.getloadavg()[0], 2)
    return result


def format_classroom(result: dict[str, Any]) -> str:
    lines = [f"classroom: {result['clients']} clients at once, fresh sessions, one request each",
             "| model | round | errors | p50 ms | p95 ms | max ms | req/s | target p95 | met |",
             "|---|---|---|---|---|---|---|---|---|"]
    for m, rounds in result["models"].items():
        for name, row in rounds.items():
            lines.append(f"| {m} | {name} | {row['errors']} | {row['p50_ms']} | {row['p95_ms']} | {row['max_ms']} | "
                         f"{row['rps']} | {row['target_p95_ms']:.0f} | {'yes' if row['meets_target'] else 'no'} |")
    lines.append(f"cold start {result.get('cold_start_s')} s; peak RSS {result.get('rss_mb')} MB; load average "
                 f"{result['load_avg_1m_start']} -> {result['load_avg_1m_end']} (2 cores: above ~1 the figures are "
                 "not this machine's own)")
    return "\n".join(lines)
