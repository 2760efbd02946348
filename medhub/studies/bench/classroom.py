"""The classroom scenario (issue 20): a class of `clients` (30) on one model's tab at once.

`python -m medhub bench --classroom [--models brain_hemorrhage,melanoma] [--clients 30] [--json]`
starts the app as a process (`AppProcess`) and, per model, runs two rounds of `clients` simultaneous
requests, each from its own client and a fresh Gradio session (a new visitor):
- `same_sample`: everyone sends the same gallery sample (the result cache serves it once);
- `mixed_uploads`: everyone sends a different upload (the test images, each a distinct file: a copy
  whose corner pixel differs, so no two share bytes and every one runs the model).
Reported per round: p50 / p95 / max latency, errors (e.g. "Queue is full"), requests per second, and
whether the round meets the issue's targets (0 errors; p95 <= 2.0 s same sample, <= 3.0 s mixed);
and where the two cores went: CPU seconds of the app and of the load generator per request, and
Gradio's own phases of the app's requests (`GRADIO_PROFILING=1`: queue wait, preprocess, fn_call,
postprocess, medians and p95).

`transport`: `client` (default) sends every request with `gradio_client` (one Client per student);
`http` sends them as a browser or curl does, over plain HTTP (upload, call, the SSE result, the
overlay download; `medhub.studies.bench.load.http_predict`), each from its own connection. On this 2-core
machine the load generator shares the cores with the app: 30 gradio_client threads cost about as much
CPU as the app itself, which 30 students' own computers would not. Like the rest of the bench it
never imports the app or gradio's server side.
"""

from __future__ import annotations

import contextlib
import os
import sys
import tempfile
import threading
import time
import urllib.error
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from medhub.studies.bench.load import _http, http_predict, run_clients
from medhub.studies.bench.samples import images_for
from medhub.studies.bench.server import AppProcess, wait_first_prediction
from medhub.studies.bench.util import _ms, machine_info, percentile, process_tree_sum

TARGET_P95_S = {"same_sample": 2.0, "mixed_uploads": 3.0}
TRANSPORTS = ("client", "http")


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


def run_http_clients(url: str, jobs: list[tuple[str, Path]], clients: int) -> dict[str, Any]:
    """`clients` threads, each sending one request of `jobs` (round robin) at the same moment over plain
    HTTP from its own connection (a new visitor: a fresh session). Same result shape as `run_clients`."""
    import httpx

    latencies: list[float] = []
    errors: list[str] = []
    lock = threading.Lock()
    gate = threading.Barrier(clients)
    conns = [httpx.Client(timeout=300) for _ in range(clients)]

    def worker(k: int) -> None:
        model_id, path = jobs[k % len(jobs)]
        gate.wait()
        t0 = time.perf_counter()
        try:
            http_predict(conns[k], url, model_id, path)
            with lock:
                latencies.append(time.perf_counter() - t0)
        except Exception as err:  # noqa: BLE001  (every failure is counted, none stops the run)
            with lock:
                errors.append(f"{model_id}: {type(err).__name__}: {err}"[:300])

    t_start = time.perf_counter()
    with ThreadPoolExecutor(max_workers=clients) as pool:
        list(pool.map(worker, range(clients)))
    wall = time.perf_counter() - t_start
    for c in conns:
        c.close()
    return {"latencies": latencies, "requests": clients, "errors": len(errors), "error_samples": errors[:5],
            "wall_s": wall}


def _cpu_s(pid: int | None) -> float:
    """User + system CPU seconds of a process and its children so far (0 if it is gone)."""
    return process_tree_sum(pid, lambda p: sum(p.cpu_times()[:2]))


def _phases(url: str) -> dict[str, Any]:
    """Median and p95 (ms) of each phase Gradio traced for the prediction requests since the last clear."""
    try:
        traces = _http(url + "gradio_api/profiling/traces")
    except (urllib.error.URLError, OSError, ValueError):
        return {}
    rows = [t for t in traces if t.get("fn_name") != "gradio_file_upload"]
    if not rows:
        return {}
    out: dict[str, Any] = {"n": len(rows)}
    for key in rows[0]:
        if key.endswith("_ms"):
            vals = [float(r[key]) for r in rows if isinstance(r.get(key), (int, float))]
            if vals and max(vals) > 0:
                out[key[:-3]] = {"p50": round(percentile(vals, 50), 1), "p95": round(percentile(vals, 95), 1)}
    return out


def _round(url: str, jobs: list, clients: int, downloads: Path, transport: str = "client",
           app_pid: int | None = None) -> dict[str, Any]:
    with contextlib.suppress(urllib.error.URLError, OSError, ValueError):
        _http(url + "gradio_api/profiling/clear", "POST")
    app_cpu0, own_cpu0 = _cpu_s(app_pid), time.process_time()
    if transport == "http":
        run = run_http_clients(url, jobs, clients)
    else:
        run = run_clients(url, jobs, clients, downloads, per_client=1, fresh_sessions=True)
    app_cpu, own_cpu = _cpu_s(app_pid) - app_cpu0, time.process_time() - own_cpu0
    lat = run["latencies"]
    row = {
        "requests": run["requests"],
        "errors": int(run["errors"]),
        "p50_ms": _ms(percentile(lat, 50)) if lat else None,
        "p95_ms": _ms(percentile(lat, 95)) if lat else None,
        "max_ms": _ms(max(lat)) if lat else None,
        "wall_s": round(run["wall_s"], 2),
        "rps": round(len(lat) / run["wall_s"], 2) if run["wall_s"] else None,
        "transport": transport,
        # Where the two cores went during the round, per request (the load generator runs here too).
        "app_cpu_ms_per_request": _ms(app_cpu / max(1, run["requests"])) if app_pid else None,
        "loadgen_cpu_ms_per_request": _ms(own_cpu / max(1, run["requests"])),
    }
    phases = _phases(url)
    if phases:
        row["gradio_phases_ms"] = phases
    if run["error_samples"]:
        row["error_samples"] = run["error_samples"]
    return row


def classroom(
    models: list[str],
    clients: int = 30,
    log: Callable[[str], None] = lambda s: print(s, file=sys.stderr),
    app_env: dict[str, str] | None = None,
    transport: str = "client",
) -> dict[str, Any]:
    """Run the classroom scenario; returns {"models": {id: {same_sample: ..., mixed_uploads: ...}}, ...}."""
    if transport not in TRANSPORTS:
        raise ValueError(f"transport must be one of {TRANSPORTS}, not {transport!r}")
    result: dict[str, Any] = {"scenario": "classroom", "clients": clients, "transport": transport,
                              "app_env": app_env or {}, "machine": machine_info(),
                              "load_avg_1m_start": round(os.getloadavg()[0], 2), "models": {}}
    with tempfile.TemporaryDirectory(prefix="medhub-classroom-") as tmp:
        scratch = Path(tmp)
        downloads = scratch / "downloads"
        downloads.mkdir()
        samples = {m: images_for(m, 6, scratch)[0] for m in models}
        # GRADIO_PROFILING: Gradio times each request's phases (queue wait, pre/postprocess, fn_call).
        with AppProcess(env={"GRADIO_PROFILING": "1", **(app_env or {})}) as app:
            cold = wait_first_prediction(app, models[0], samples[models[0]][0], downloads)
            result["cold_start_s"] = round(cold, 2)
            log(f"app on {app.url}, cold start {cold:.1f} s")
            pid = app.proc.pid if app.proc is not None else None
            for m in models:
                # Warm this endpoint (model loaded, first trace) with an image nobody else sends.
                warm = distinct_uploads(samples[m], 1, scratch / f"{m}-warm")[0]
                run_clients(app.url, [(m, warm)], 1, downloads / "warm", per_client=1)
                same = _round(app.url, [(m, samples[m][0])], clients, downloads / f"{m}-same", transport, pid)
                uploads = distinct_uploads(samples[m], clients, scratch / f"{m}-uploads")
                mixed = _round(app.url, [(m, p) for p in uploads], clients, downloads / f"{m}-mixed",
                               transport, pid)
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
    lines = [f"classroom: {result['clients']} clients at once ({result.get('transport', 'client')}), fresh sessions, "
             "one request each",
             "| model | round | errors | p50 ms | p95 ms | max ms | req/s | target p95 | met | app CPU ms/req | "
             "load generator CPU ms/req |",
             "|---|---|---|---|---|---|---|---|---|---|---|"]
    for m, rounds in result["models"].items():
        for name, row in rounds.items():
            lines.append(f"| {m} | {name} | {row['errors']} | {row['p50_ms']} | {row['p95_ms']} | {row['max_ms']} | "
                         f"{row['rps']} | {row['target_p95_ms']:.0f} | {'yes' if row['meets_target'] else 'no'} | "
                         f"{row.get('app_cpu_ms_per_request', '-')} | {row.get('loadgen_cpu_ms_per_request', '-')} |")
    lines.append(f"cold start {result.get('cold_start_s')} s; peak RSS {result.get('rss_mb')} MB; load average "
                 f"{result['load_avg_1m_start']} -> {result['load_avg_1m_end']} (2 cores: above ~1 the figures are "
                 "not this machine's own)")
    return "\n".join(lines)
