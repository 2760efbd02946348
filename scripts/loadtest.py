"""Bounded load test and soak of the app, on 127.0.0.1 only.

    python scripts/loadtest.py --clients 8 --seconds 60          # N clients for a fixed time
    python scripts/loadtest.py --soak 1000 --clients 4           # 1,000 requests, memory growth

Both start `python app.py` on a free local port (or use `--url http://127.0.0.1:PORT/` with
`--pid` of that app for memory figures), send uploads round-robin to every `/predict_<id>`
endpoint (real samples from ../shared/data when present, else synthetic images), count errors
and report latency percentiles and throughput as one JSON object on stdout. The soak samples the
app's RSS (children included) after a warm-up round over every endpoint and again at the end.

It refuses any host other than 127.0.0.1/localhost and caps clients, duration and request count:
it is a measurement tool for this machine, not a way to load someone else's server. On a shared
machine run it under `flock /tmp/medhub-cpu.lock`.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlparse

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT))

from medhub.studies.bench import (  # noqa: E402  (the repo root must be importable first)
    AppProcess,
    BenchError,
    _ms,
    api_predict,
    iter_jobs,
    machine_info,
    make_client,
    model_ids,
    percentile,
    run_clients,
)

MAX_CLIENTS = 64
MAX_SECONDS = 1800
MAX_REQUESTS = 20000
LOCAL_HOSTS = {"127.0.0.1", "localhost", "::1"}


class LoadTestError(RuntimeError):
    """Bad arguments or an app that could not be reached."""


def check_local(url: str) -> str:
    host = urlparse(url).hostname
    if host not in LOCAL_HOSTS:
        raise LoadTestError(f"refusing to load {host!r}: only 127.0.0.1/localhost are allowed")
    return url if url.endswith("/") else url + "/"


def rss_of_pid(pid: int) -> float:
    import psutil

    root = psutil.Process(pid)
    return sum(p.memory_info().rss for p in [root, *root.children(recursive=True)]) / 2**20


def summarise(run: dict, elapsed_label: str = "wall_s") -> dict:
    lat = run["latencies"]
    out = {
        "requests": run["requests"],
        "ok": len(lat),
        "errors": run["errors"],
        "error_samples": run["error_samples"],
        elapsed_label: round(run["wall_s"], 2),
        "throughput_rps": round(len(lat) / run["wall_s"], 2) if run["wall_s"] else None,
        "latency_ms": {q: _ms(percentile(lat, float(q[1:]))) for q in ("p50", "p90", "p95", "p99")},
        "latency_ms_max": _ms(max(lat)) if lat else None,
        "per_model_p50_ms": {m: _ms(percentile(v, 50)) for m, v in sorted(run["per_model"].items())},
        "per_model_p95_ms": {m: _ms(percentile(v, 95)) for m, v in sorted(run["per_model"].items())},
    }
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument("--clients", type=int, default=8, help=f"concurrent clients (<= {MAX_CLIENTS})")
    parser.add_argument("--seconds", type=float, default=None, help=f"duration (<= {MAX_SECONDS})")
    parser.add_argument("--soak", type=int, default=None, metavar="N",
                        help=f"send exactly N requests (<= {MAX_REQUESTS}) and report RSS growth")
    parser.add_argument("--fresh-sessions", action="store_true",
                        help="a new Gradio session per request (like curl users / new visitors)")
    parser.add_argument("--models", default=None, help="comma-separated model ids (default: all)")
    parser.add_argument("--url", default=None, help="an app already running on 127.0.0.1")
    parser.add_argument("--pid", type=int, default=None, help="its process id (for RSS with --url)")
    args = parser.parse_args(argv)

    try:
        if not 1 <= args.clients <= MAX_CLIENTS:
            raise LoadTestError(f"--clients must be 1..{MAX_CLIENTS}")
        if args.soak is None and args.seconds is None:
            raise LoadTestError("give --seconds S (load test) or --soak N (soak)")
        if args.seconds is not None and not 0 < args.seconds <= MAX_SECONDS:
            raise LoadTestError(f"--seconds must be in (0, {MAX_SECONDS}]")
        if args.soak is not None and not 1 <= args.soak <= MAX_REQUESTS:
            raise LoadTestError(f"--soak must be 1..{MAX_REQUESTS}")
        models = model_ids(args.models)
        result = run(args, models)
    except (LoadTestError, BenchError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    print(json.dumps(result, ensure_ascii=False))
    return 0


def run(args: argparse.Namespace, models: list[str]) -> dict:
    result: dict = {"machine": machine_info(), "models": models, "clients": args.clients,
                    "fresh_sessions": args.fresh_sessions}
    with tempfile.TemporaryDirectory(prefix="medhub-load-") as tmp:
        scratch = Path(tmp)
        downloads = scratch / "downloads"
        downloads.mkdir()
        jobs = list(iter_jobs(models, scratch))
        app = None
        if args.url:
            url = check_local(args.url)
            rss = (lambda: rss_of_pid(args.pid)) if args.pid else (lambda: None)
        else:
            app = AppProcess().start()
            url = app.url
            rss = app.rss_mb
        try:
            if app is not None:
                app.wait_ready()
            # Warm-up: one request per endpoint, so model loading is not counted as load.
            warm = make_client(url, downloads)
            t0 = time.perf_counter()
            for m in models:
                for attempt in range(300):
                    try:
                        api_predict(warm, m, next(p for mm, p in jobs if mm == m))
                        break
                    except Exception:  # noqa: BLE001  (still loading: retry for up to a minute)
                        if attempt == 299:
                            raise
                        time.sleep(0.2)
            result["warmup_s"] = round(time.perf_counter() - t0, 2)
            before = rss()
            trace: list[tuple[int, float | None]] = []
            step = max(1, (args.soak or 1000) // 10)

            def on_done(n: int) -> None:
                if n % step == 0:
                    trace.append((n, None if before is None else round(rss(), 1)))

            load_start = os.getloadavg()[0]
            run_ = run_clients(url, jobs, args.clients, downloads, seconds=args.seconds,
                               total=args.soak, on_done=on_done, fresh_sessions=args.fresh_sessions)
            after = rss()
            key = "soak" if args.soak else "load"
            result[key] = summarise(run_)
            result[key]["seconds_limit"] = args.seconds
            result[key]["load_avg_1m"] = [round(load_start, 2), round(os.getloadavg()[0], 2)]
            if before is not None and after is not None:
                result[key]["rss_mb_before"] = round(before, 1)
                result[key]["rss_mb_after"] = round(after, 1)
                result[key]["rss_growth"] = round(after / before, 3)
                result[key]["rss_trace_mb"] = trace
            if app is not None:
                result[key]["rss_mb_peak"] = round(app.peak_rss_mb, 1)
        finally:
            if app is not None:
                app.stop()
    return result


if __name__ == "__main__":
    sys.exit(main())
