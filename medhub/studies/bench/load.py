"""Round trips through the running app: `gradio_client` calls, the same over plain HTTP (as curl makes
them), Gradio's own trace of each phase, and the load generator (`run_clients`: N clients at once)."""

from __future__ import annotations

import contextlib
import json
import os
import statistics
import threading
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from medhub.studies.bench.util import BenchError, _ms, percentile


def make_client(url: str, download_dir: Path):
    """A gradio_client Client that does not call home and downloads overlays into download_dir."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    from gradio_client import Client

    return Client(url, verbose=False, download_files=str(download_dir), analytics_enabled=False)


def api_predict(client, model_id: str, path: Path) -> dict[str, Any]:
    """One call of `/predict_<id>`; checks the answer carries probabilities and an overlay file.

    Sent with `show_anyway`: an image the scope check refuses (the synthetic fallback images, a test
    image outside the 95 % the check accepts) gets no probabilities and no overlay otherwise, and the
    bench measures the whole answer for every image."""
    from gradio_client import handle_file

    result = client.predict(handle_file(str(path)), show_anyway=True, api_name=f"/predict_{model_id}")
    if not isinstance(result, (list, tuple)) or len(result) < 3:
        raise BenchError(f"/predict_{model_id}: expected (label, overlay, summary), got {result!r:.200}")
    label, overlay_file, summary = result[0], result[1], result[2]
    if isinstance(summary, str):
        summary = json.loads(summary)
    if not isinstance(summary, dict) or not summary.get("probabilities"):
        raise BenchError(f"/predict_{model_id}: summary without probabilities: {summary!r:.200}")
    if isinstance(overlay_file, dict):  # a FileData dict when the client did not download
        overlay_file = overlay_file.get("path")
    if not overlay_file or not Path(str(overlay_file)).is_file():
        raise BenchError(f"/predict_{model_id}: no overlay file in the answer: {overlay_file!r}")
    with contextlib.suppress(OSError):
        Path(str(overlay_file)).unlink()  # keep a long run from filling the download folder
    return {"label": label, "summary": summary}


_DEFAULTS: dict[tuple[str, str], list[Any]] = {}


def _endpoint_defaults(http, url: str, model_id: str) -> list[Any]:
    """Default values of the endpoint's inputs after the file (a plain HTTP call must send them all)."""
    key = (url, model_id)
    if key not in _DEFAULTS:
        info = http.get(url + "gradio_api/info").json()
        params = info["named_endpoints"][f"/predict_{model_id}"]["parameters"]
        # show_anyway: the whole answer for every image, as api_predict asks it
        _DEFAULTS[key] = [True if p.get("parameter_name") == "show_anyway" else p.get("parameter_default")
                          for p in params[1:]]
    return _DEFAULTS[key]


def http_predict(http, url: str, model_id: str, path: Path) -> dict[str, Any]:
    """One `/predict_<id>` call over plain HTTP, as curl would: upload, call, read the SSE result,
    download the overlay. Returns the time of each step (s); BenchError on a malformed answer.

    gradio_client waits for queue messages in 50 ms sleeps (gradio_client/utils.py), which adds
    about 100 ms to every call whatever the app does; this path shows what the app itself costs.
    """
    steps: dict[str, float] = {}
    defaults = _endpoint_defaults(http, url, model_id)
    t0 = time.perf_counter()
    with open(path, "rb") as fh:
        resp = http.post(url + "gradio_api/upload", files={"files": (path.name, fh)})
    resp.raise_for_status()
    server_path = resp.json()[0]
    t1 = time.perf_counter()
    filedata = {"path": server_path, "meta": {"_type": "gradio.FileData"}, "orig_name": path.name}
    resp = http.post(url + f"gradio_api/call/predict_{model_id}", json={"data": [filedata, *defaults]})
    resp.raise_for_status()
    event_id = resp.json()["event_id"]
    data, event = None, None
    with http.stream("GET", url + f"gradio_api/call/predict_{model_id}/{event_id}") as stream:
        for line in stream.iter_lines():
            if line.startswith("event:"):
                event = line[6:].strip()
            elif line.startswith("data:") and event == "complete":
                data = json.loads(line[5:])
                break
            elif line.startswith("data:") and event == "error":
                raise BenchError(f"/predict_{model_id}: {line[5:].strip()[:300]}")
    t2 = time.perf_counter()
    if not isinstance(data, list) or len(data) < 3 or not isinstance(data[1], dict) or not data[1].get("url"):
        raise BenchError(f"/predict_{model_id}: unexpected answer {data!r:.300}")
    resp = http.get(data[1]["url"])
    resp.raise_for_status()
    if not resp.content:
        raise BenchError(f"/predict_{model_id}: empty overlay")
    t3 = time.perf_counter()
    steps.update(upload=t1 - t0, call_and_result=t2 - t1, download=t3 - t2, total=t3 - t0)
    return steps


def bench_http(url: str, model_id: str, images: list[Path], repeats: int) -> dict[str, Any]:
    """Sequential plain-HTTP round trips: p50 / p95 in ms and the median of each step."""
    import httpx

    with httpx.Client(timeout=120) as http:
        http_predict(http, url, model_id, images[0])
        rows = [http_predict(http, url, model_id, images[i % len(images)]) for i in range(repeats)]
    totals = [r["total"] for r in rows]
    return {
        "http_ms_p50": _ms(percentile(totals, 50)),
        "http_ms_p95": _ms(percentile(totals, 95)),
        "http_steps_ms": {k: _ms(statistics.median(r[k] for r in rows)) for k in rows[0] if k != "total"},
    }


def _http(url: str, method: str = "GET") -> Any:
    req = urllib.request.Request(url, method=method, data=b"" if method == "POST" else None)
    with urllib.request.urlopen(req, timeout=10) as resp:
        return json.loads(resp.read())


def gradio_phases(url: str) -> dict[str, Any]:
    """Median of each phase Gradio traced since the last clear (app started with GRADIO_PROFILING=1).

    Prediction phases: queue_wait, preprocess (incl. moving the upload into the cache), fn_call
    (our handler), postprocess (incl. encoding the output images), total; and the upload route.
    """
    try:
        traces = _http(url + "gradio_api/profiling/traces")
    except (urllib.error.URLError, OSError, ValueError):
        return {}
    out: dict[str, Any] = {}
    for kind, rows in (
        ("upload", [t for t in traces if t.get("fn_name") == "gradio_file_upload"]),
        ("predict", [t for t in traces if t.get("fn_name") != "gradio_file_upload"]),
    ):
        if not rows:
            continue
        keys = [k for k, v in rows[0].items() if k.endswith("_ms") and isinstance(v, (int, float))]
        med = {k[:-3]: round(statistics.median(float(r[k]) for r in rows), 2) for k in keys}
        out[kind] = {k: v for k, v in med.items() if v > 0} | {"n": len(rows)}
    return out


def bench_api(
    client, model_id: str, images: list[Path], repeats: int, url: str | None = None
) -> dict[str, Any]:
    """Sequential round trips through one client: p50 and p95 in ms (+ Gradio's phase medians)."""
    api_predict(client, model_id, images[0])  # warm this endpoint (model load, first trace)
    if url:
        with contextlib.suppress(urllib.error.URLError, OSError, ValueError):
            _http(url + "gradio_api/profiling/clear", "POST")
    times = []
    for i in range(repeats):
        t0 = time.perf_counter()
        api_predict(client, model_id, images[i % len(images)])
        times.append(time.perf_counter() - t0)
    out: dict[str, Any] = {"api_ms_p50": _ms(percentile(times, 50)), "api_ms_p95": _ms(percentile(times, 95))}
    if url:
        phases = gradio_phases(url)
        if phases:
            out["gradio_phases_ms"] = phases
    return out


def run_clients(
    url: str,
    jobs: list[tuple[str, Path]],
    clients: int,
    download_dir: Path,
    per_client: int | None = None,
    seconds: float | None = None,
    total: int | None = None,
    on_done: Callable[[int], None] | None = None,
    fresh_sessions: bool = False,
    conns: list | None = None,
) -> dict[str, Any]:
    """`clients` threads, each with its own Client, calling endpoints round-robin from `jobs`.

    Bounded: each thread stops after `per_client` requests, when `seconds` have passed, or when
    `total` requests have been started by all threads together (whichever is set and comes first).
    `on_done(n)` is called after the n-th finished request. `fresh_sessions`: every request comes
    from a new Gradio session (as with curl or a new visitor), so per-session state accumulates on
    the server the way it does in public; otherwise each client keeps its session. Returns latencies (s), per-request
    records, error count, the first error messages and the wall time.
    """
    if per_client is None and seconds is None and total is None:
        raise ValueError("bound the run: give per_client, seconds or total")
    own = conns is None
    if conns is None:
        # A download folder per client: api_predict deletes each overlay after checking it, and two
        # clients given the same result download it to the same path (a folder named by its hash).
        conns = [make_client(url, download_dir / f"client{i}") for i in range(clients)]
    latencies: list[float] = []
    per_model: dict[str, list[float]] = {}
    errors: list[str] = []
    lock = threading.Lock()
    counter = {"started": 0, "done": 0}
    start_gate = threading.Barrier(clients)

    def take() -> int | None:
        with lock:
            if total is not None and counter["started"] >= total:
                return None
            counter["started"] += 1
            return counter["started"] - 1

    def worker(k: int) -> None:
        client = conns[k]
        start_gate.wait()
        end = None if seconds is None else time.monotonic() + seconds
        n = 0
        while (per_client is None or n < per_client) and (end is None or time.monotonic() < end):
            index = take()
            if index is None:
                break
            model_id, path = jobs[index % len(jobs)]
            if fresh_sessions:
                client.session_hash = str(uuid.uuid4())
            t0 = time.perf_counter()
            try:
                api_predict(client, model_id, path)
                elapsed = time.perf_counter() - t0
                with lock:
                    latencies.append(elapsed)
                    per_model.setdefault(model_id, []).append(elapsed)
            except Exception as err:  # noqa: BLE001  (every failure is counted, none stops the run)
                with lock:
                    errors.append(f"{model_id}: {type(err).__name__}: {err}"[:300])
            n += 1
            with lock:
                counter["done"] += 1
                done = counter["done"]
            if on_done is not None:
                on_done(done)

    t_start = time.perf_counter()
    with ThreadPoolExecutor(max_workers=clients) as pool:
        list(pool.map(worker, range(clients)))
    wall = time.perf_counter() - t_start
    for c in conns if own else ():
        with contextlib.suppress(Exception):
            c.close()
    return {
        "latencies": latencies,
        "per_model": per_model,
        "requests": counter["done"],
        "errors": len(errors),
        "error_samples": errors[:5],
        "wall_s": wall,
    }
