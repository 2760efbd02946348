"""Benchmark: what a user waits for, per model, in this process and through the app's API.

`python -m medhub bench [--json] [--quick] [--models a,b]` measures, for every model card:

- `forward_ms`: the bare backend forward pass on one preprocessed input (`backend.predict`);
- `predict_cam_ms`: `Predictor.analyse(rgb, explain=True)` in process (preprocessing, forward,
  decision and Grad-CAM), the work the app does per request before drawing the overlay;
- `api_ms`: one round trip through the real app started on 127.0.0.1 with `gradio_client`
  (upload, queue, analysis, overlay encoding, download of the overlay), p50 and p95;
- `http_ms`: the same round trip over plain HTTP as curl makes it (upload, call, SSE result,
  overlay download): gradio_client itself adds about 100 ms per call (it polls its message queue
  in 50 ms sleeps), so this is the figure that shows what the app costs;
- `gradio_phases_ms`: Gradio's own trace of the server side (queue wait, preprocess, our handler
  `fn_call`, postprocess incl. image encoding), the app being started with GRADIO_PROFILING=1;
- `stages_ms`: decode, preprocess, forward, Grad-CAM, the app's whole handler and image encodings,
  timed in process;
- `concurrent8_*`: the same with 8 clients at once (one `Client` per thread), p95 and errors;
- `cold_start_s`: from starting `python app.py` to the first successful API prediction;
- `rss_mb`: the peak resident memory of the app process (children included) once every
  benchmarked model has answered.

The app runs in a subprocess that this module starts (`AppProcess`); `scripts/loadtest.py` and the
security tests can use it. Sample images come from the test split of `training/splits/<id>.csv` under
the data root (`MEDHUB_DATA_ROOT`, default `../shared/data`), else from the data folders, else are
synthetic. Run it under `flock /tmp/medhub-cpu.lock` on a shared machine: timings are only
meaningful when nothing else is using the cores.
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import json
import os
import platform
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

REPO_ROOT = Path(__file__).resolve().parent.parent
DATA_ROOT = Path(os.environ.get("MEDHUB_DATA_ROOT", REPO_ROOT.parent / "shared" / "data"))

# Where each model's images live in ../shared/data, used when no split file exists yet.
FALLBACK_DATA_DIRS = {
    "brain_hemorrhage": ("head_ct/hemorrhage", "head_ct/normal"),
    "melanoma": ("melanoma/benign", "melanoma/malignant"),
    "skin_lesion": ("skin_lesion/melanoma", "skin_lesion/nevus", "skin_lesion/basal_cell_carcinoma"),
    "scalp_severity": ("scalp/hair_loss_severity/healthy", "scalp/hair_loss_severity/severe"),
    "shingles": ("skin_condition/herpes_zoster", "skin_condition/eczema"),
}
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg")


class BenchError(RuntimeError):
    """The benchmark could not run (app did not start, a model failed, an answer was malformed)."""


# ---------------------------------------------------------------------------------------------
# small helpers


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


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# ---------------------------------------------------------------------------------------------
# sample images


def sample_images(model_id: str, count: int, data_root: Path | None = None) -> list[Path]:
    """Up to `count` real images for a model: test split first, then its data folders.

    Returns [] when no data is available (callers fall back to synthetic images).
    """
    root = DATA_ROOT if data_root is None else data_root
    if not root.is_dir():
        return []
    found: list[Path] = []
    split_file = REPO_ROOT / "training" / "splits" / f"{model_id}.csv"
    if split_file.is_file():
        by_label: dict[str, list[Path]] = {}
        with split_file.open(newline="", encoding="utf-8") as fh:
            for row in csv.DictReader(fh):
                path = root / row.get("path", "")
                if row.get("split") == "test" and path.suffix.lower() in IMAGE_SUFFIXES and path.is_file():
                    by_label.setdefault(row.get("label", ""), []).append(path)
        found = _interleave(by_label.values(), count)
    if not found:
        dirs = [root / d for d in FALLBACK_DATA_DIRS.get(model_id, ())]
        per_dir = [
            sorted(p for p in d.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES) for d in dirs if d.is_dir()
        ]
        found = _interleave(per_dir, count)
    return [p for p in found if p.is_file()]


def _interleave(groups, count: int) -> list[Path]:
    """Take from each group in turn so a few samples cover every class."""
    lists = [list(g) for g in groups if g]
    out: list[Path] = []
    i = 0
    while len(out) < count and any(i < len(g) for g in lists):
        out.extend(g[i] for g in lists if i < len(g))
        i += 1
    return out[:count]


def synthetic_images(folder: Path, count: int, size: int = 320) -> list[Path]:
    """Deterministic textured PNGs (a blob on noise), for machines without the data sets."""
    from PIL import Image

    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[0:size, 0:size]
    paths = []
    for i in range(count):
        base = rng.integers(90, 200, size=(size, size, 3)).astype(np.float32)
        cy, cx, r = rng.integers(size // 4, 3 * size // 4, size=2).tolist() + [size // 6 + 5 * i]
        blob = ((yy - cy) ** 2 + (xx - cx) ** 2) < r**2
        base[blob] *= 0.45
        path = folder / f"synthetic_{i}.png"
        Image.fromarray(base.clip(0, 255).astype(np.uint8)).save(path)
        paths.append(path)
    return paths


def images_for(model_id: str, count: int, scratch: Path) -> tuple[list[Path], str]:
    """Real samples when present, else synthetic ones; with where they came from."""
    real = sample_images(model_id, count)
    if real:
        return real, "data"
    folder = scratch / f"synthetic_{model_id}"
    folder.mkdir(parents=True, exist_ok=True)
    return synthetic_images(folder, count), "synthetic"


def decode(path: Path, allow_dicom: bool = False) -> np.ndarray:
    """Decode a file through the app's input gate (RGB uint8)."""
    from medhub.imaging import load_upload

    return load_upload(path, allow_dicom=allow_dicom).rgb


# ---------------------------------------------------------------------------------------------
# in-process timings


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
    from medhub.inference import get_predictor

    card = get_card(model_id)
    t0 = time.perf_counter()
    predictor = get_predictor(model_id)
    load_s = time.perf_counter() - t0
    rgbs = [decode(p, allow_dicom=card.input.dicom) for p in images]
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
        "stages_ms": stage_breakdown(predictor, images[0], card.input.dicom, max(3, repeats // 2), handler),
    }


def stage_breakdown(
    predictor, path: Path, allow_dicom: bool, repeats: int, handler: bool = True
) -> dict[str, float]:
    """Median time of each step the app does for one upload, in this process.

    decode (input gate), preprocess, forward, gradcam (backend), then `handler`: the app's whole
    request function (`medhub.pipeline.run`: decode, analyse, scope check, result extras, overlay
    blend), and the PNG / WebP encoding Gradio applies to each output image.
    """
    import io

    from PIL import Image

    rgb = decode(path, allow_dicom)
    x = predictor.model_input(rgb)
    index = int(np.argmax(predictor.backend.predict(x[None])[0]))
    stages: dict[str, Callable[[], Any]] = {
        "decode": lambda: decode(path, allow_dicom),
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
                feats[0], appearance(rgb) if predictor.scope.uses_appearance else None)
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
    from medhub.inference import get_predictor

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


# ---------------------------------------------------------------------------------------------
# the app in a subprocess


@dataclass
class AppProcess:
    """`python app.py` on 127.0.0.1 at a free port, with its start time and peak memory.

    Use as a context manager. Memory (RSS of the process and all its children) is sampled every
    `sample_s` seconds in a background thread; `peak_rss_mb` is the largest sum seen.
    """

    env: dict[str, str] = field(default_factory=dict)
    app_file: Path = REPO_ROOT / "app.py"
    port: int = 0
    sample_s: float = 0.2
    log_path: Path | None = None
    proc: subprocess.Popen | None = None
    started_at: float = 0.0
    peak_rss_mb: float = 0.0
    _stop: threading.Event = field(default_factory=threading.Event)
    _sampler: threading.Thread | None = None
    _log: Any = None
    _own_log: bool = False

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/"

    def start(self) -> AppProcess:
        self.port = self.port or free_port()
        env = dict(os.environ)
        env.update(
            {
                "GRADIO_SERVER_NAME": "127.0.0.1",
                "GRADIO_SERVER_PORT": str(self.port),
                "GRADIO_ANALYTICS_ENABLED": "False",
                "HF_HUB_OFFLINE": "1",
                "PYTHONUNBUFFERED": "1",
            }
        )
        if DATA_ROOT.is_dir():
            env.setdefault("MEDHUB_SAMPLES_DIR", str(DATA_ROOT))
        env.update(self.env)
        if self.log_path is None:
            fd, name = tempfile.mkstemp(prefix="medhub-app-", suffix=".log")
            os.close(fd)
            self.log_path = Path(name)
            self._own_log = True
        self._log = open(self.log_path, "wb")  # noqa: SIM115  (closed in stop())
        self.started_at = time.perf_counter()
        self.proc = subprocess.Popen(
            [sys.executable, str(self.app_file)],
            cwd=REPO_ROOT,
            env=env,
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )
        self._sampler = threading.Thread(target=self._sample, daemon=True)
        self._sampler.start()
        return self

    def rss_mb(self) -> float:
        """Current RSS of the app and its children, in MiB (0 if it is gone)."""
        import psutil

        if self.proc is None:
            return 0.0
        try:
            root = psutil.Process(self.proc.pid)
            procs = [root, *root.children(recursive=True)]
        except psutil.NoSuchProcess:
            return 0.0
        total = 0
        for p in procs:
            with contextlib.suppress(psutil.NoSuchProcess, psutil.AccessDenied):
                total += p.memory_info().rss
        return total / 2**20

    def _sample(self) -> None:
        while not self._stop.is_set():
            self.peak_rss_mb = max(self.peak_rss_mb, self.rss_mb())
            self._stop.wait(self.sample_s)

    def log_tail(self, chars: int = 3000) -> str:
        if self.log_path is None or not self.log_path.exists():
            return ""
        return self.log_path.read_text(errors="replace")[-chars:]

    def wait_ready(self, timeout: float = 120.0) -> float:
        """Block until the app answers HTTP; seconds since start. BenchError if it dies or hangs."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc is not None and self.proc.poll() is not None:
                raise BenchError(f"app exited with {self.proc.returncode}:\n{self.log_tail()}")
            try:
                with urllib.request.urlopen(self.url + "gradio_api/info", timeout=2) as resp:
                    if resp.status == 200:
                        return time.perf_counter() - self.started_at
            except (urllib.error.URLError, ConnectionError, TimeoutError, OSError):
                pass
            time.sleep(0.1)
        raise BenchError(f"app did not answer within {timeout:.0f} s:\n{self.log_tail()}")

    def stop(self) -> None:
        self._stop.set()
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=5)
        if self._log is not None:
            self._log.close()
            self._log = None
        if self._own_log and self.log_path is not None:
            self.log_path.unlink(missing_ok=True)  # errors already carry its tail

    def __enter__(self) -> AppProcess:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


# ---------------------------------------------------------------------------------------------
# API round trips


def make_client(url: str, download_dir: Path):
    """A gradio_client Client that does not call home and downloads overlays into download_dir."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    from gradio_client import Client

    return Client(url, verbose=False, download_files=str(download_dir), analytics_enabled=False)


def api_predict(client, model_id: str, path: Path) -> dict[str, Any]:
    """One call of `/predict_<id>`; checks the answer carries probabilities and an overlay file."""
    from gradio_client import handle_file

    result = client.predict(handle_file(str(path)), api_name=f"/predict_{model_id}")
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
        _DEFAULTS[key] = [p.get("parameter_default") for p in params[1:]]
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


def wait_first_prediction(
    app: AppProcess, model_id: str, path: Path, download_dir: Path, timeout: float = 180.0
) -> float:
    """Seconds from app start to the first successful prediction (the cold start).

    The app holds a request until the model has loaded, so an error answered by the app itself
    (`AppError`) is real: three in a row end the wait with the app's log.
    """
    from gradio_client.exceptions import AppError

    app.wait_ready(timeout)
    client = make_client(app.url, download_dir)
    deadline = time.monotonic() + timeout
    last: Exception | None = None
    app_errors = 0
    while time.monotonic() < deadline:
        try:
            api_predict(client, model_id, path)
            return time.perf_counter() - app.started_at
        except AppError as err:
            last, app_errors = err, app_errors + 1
            if app_errors >= 3:
                break
        except Exception as err:  # noqa: BLE001  (connection hiccups while starting: retry until timeout)
            last = err
        time.sleep(0.2)
    raise BenchError(f"no successful prediction of {model_id}: {last}\n{app.log_tail()}")


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
        conns = [make_client(url, download_dir) for _ in range(clients)]
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


# ---------------------------------------------------------------------------------------------
# the command


def model_ids(selection: str | None) -> list[str]:
    from medhub.cards import load_cards

    known = [c.id for c in load_cards()]
    if not selection:
        return known
    wanted = [m.strip() for m in selection.split(",") if m.strip()]
    unknown = [m for m in wanted if m not in known]
    if unknown:
        raise BenchError(f"unknown model id(s): {', '.join(unknown)} (known: {', '.join(known)})")
    return wanted


def bench(
    models: list[str],
    quick: bool = False,
    clients: int = 8,
    api: bool = True,
    in_process: bool = True,
    log: Callable[[str], None] = lambda s: print(s, file=sys.stderr),
    app_env: dict[str, str] | None = None,
) -> dict[str, Any]:
    """Run the whole benchmark and return the result object (see the module docstring)."""
    repeats = 3 if quick else 20
    per_client = 1 if quick else 4
    result: dict[str, Any] = {"models": {m: {} for m in models}, "cold_start_s": None, "rss_mb": None}
    result["machine"] = machine_info()
    # Other work on the machine skews every figure: keep the load average next to them.
    result["load_avg_1m_start"] = round(os.getloadavg()[0], 2)
    result["settings"] = {
        "quick": quick,
        "repeats": repeats,
        "clients": clients,
        "requests_per_client": per_client,
        "app_env": app_env or {},
    }
    with tempfile.TemporaryDirectory(prefix="medhub-bench-") as tmp:
        scratch = Path(tmp)
        downloads = scratch / "downloads"
        downloads.mkdir()
        samples = {}
        for m in models:
            samples[m], origin = images_for(m, 6, scratch)
            result["models"][m]["images"] = origin
        # The app first, on an idle machine: its cold start must not compete with models loaded here.
        if api:
            # GRADIO_PROFILING: Gradio times each request's phases (upload, queue, pre/postprocess).
            with AppProcess(env={"GRADIO_PROFILING": "1", **(app_env or {})}) as app:
                log(f"app starting on {app.url}")
                cold = wait_first_prediction(app, models[0], samples[models[0]][0], downloads)
                result["cold_start_s"] = round(cold, 2)
                log(f"cold start {cold:.1f} s")
                client = make_client(app.url, downloads)
                # One Client per simulated user, made once: making a Client costs ~0.2 s (config fetch).
                users = [make_client(app.url, downloads) for _ in range(clients)]
                for m in models:
                    try:
                        result["models"][m].update(bench_api(client, m, samples[m], repeats, app.url))
                        result["models"][m].update(bench_http(app.url, m, samples[m], repeats))
                        run = run_clients(
                            app.url,
                            [(m, p) for p in samples[m]],
                            clients,
                            downloads,
                            per_client=per_client,
                            conns=users,
                        )
                    except Exception as err:  # noqa: BLE001  (one broken model must not hide the others)
                        result["models"][m]["error"] = f"api: {type(err).__name__}: {err}"[:500]
                        log(f"{m}: {result['models'][m]['error']}")
                        continue
                    row = result["models"][m]
                    row["concurrent8_p95_ms"] = _ms(percentile(run["latencies"], 95))
                    row["concurrent8_p50_ms"] = _ms(percentile(run["latencies"], 50))
                    row["concurrent8_errors"] = int(run["errors"])
                    row["concurrent8_rps"] = round(len(run["latencies"]) / run["wall_s"], 2)
                    if run["error_samples"]:
                        row["concurrent8_error_samples"] = run["error_samples"]
                    log(
                        f"{m}: api p50 {row['api_ms_p50']} ms, {clients} clients p95 "
                        f"{row['concurrent8_p95_ms']} ms, errors {run['errors']}"
                    )
                for c in users:
                    with contextlib.suppress(Exception):
                        c.close()
                time.sleep(2 * app.sample_s)  # let the sampler see the state after the last call
                result["rss_mb"] = round(max(app.peak_rss_mb, app.rss_mb()), 1)
                # The app warms every card's model at start; these also answered requests.
                result["rss_models_answered"] = sum("api_ms_p50" in result["models"][m] for m in models)
        if in_process:
            for m in models:
                try:
                    result["models"][m].update(bench_in_process(m, samples[m], repeats, handler=not quick))
                except Exception as err:  # noqa: BLE001  (reported in the result, exit status 1)
                    result["models"][m]["error_in_process"] = f"{type(err).__name__}: {err}"[:500]
                    log(f"{m}: {result['models'][m]['error_in_process']}")
                    continue
                log(
                    f"{m}: forward p50 {result['models'][m]['forward_ms_p50']} ms, "
                    f"predict+CAM p50 {result['models'][m]['predict_cam_ms_p50']} ms"
                )
    result["load_avg_1m_end"] = round(os.getloadavg()[0], 2)
    for row in result["models"].values():
        for key in ("api", "http"):
            if f"{key}_ms_p50" in row and "predict_cam_ms_p50" in row:
                row[f"{key}_over_in_process"] = round(row[f"{key}_ms_p50"] / row["predict_cam_ms_p50"], 2)
    return result


def format_table(result: dict[str, Any]) -> str:
    cols = (
        "forward_ms_p50",
        "predict_cam_ms_p50",
        "api_ms_p50",
        "api_ms_p95",
        "http_ms_p50",
        "concurrent8_p95_ms",
        "concurrent8_errors",
    )
    lines = ["| model | " + " | ".join(cols) + " |", "|---" * (len(cols) + 1) + "|"]
    for m, row in result["models"].items():
        lines.append(f"| {m} | " + " | ".join(str(row.get(c, "-")) for c in cols) + " |")
    lines.append(
        f"cold start: {result['cold_start_s']} s; peak RSS of the app (all models warmed): "
        f"{result['rss_mb']} MB"
    )
    for m, row in result["models"].items():
        for key in ("error", "error_in_process"):
            if key in row:
                lines.append(f"{m}: {row[key]}")
    return "\n".join(lines)


def add_bench_parser(subparsers) -> None:
    """Register `bench` on the CLI's sub-command parser."""
    b = subparsers.add_parser("bench", help="time every model in process and through the app's API")
    b.add_argument("--json", action="store_true", help="print exactly one JSON object on stdout")
    b.add_argument("--quick", action="store_true", help="few repeats (under a minute)")
    b.add_argument("--models", default=None, help="comma-separated model ids (default: all cards)")
    b.add_argument("--clients", type=int, default=8, help="concurrent clients (default 8)")
    b.add_argument("--no-api", action="store_true", help="in-process timings only (no app)")
    b.add_argument("--no-in-process", action="store_true", help="API timings only")
    b.add_argument(
        "--app-env",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="extra environment for the app process (repeatable), e.g. MALLOC_ARENA_MAX=2",
    )
    b.add_argument(
        "--profile",
        type=Path,
        default=None,
        metavar="DIR",
        help="also cProfile the app's request function per model into DIR/profile_<id>.txt",
    )
    b.set_defaults(func=run_bench)


def run_bench(args: argparse.Namespace) -> int:
    """Entry point of `python -m medhub bench`."""
    real_stdout = sys.stdout
    try:
        models = model_ids(args.models)
        # Libraries print to stdout (TF, gradio); with --json nothing but the object may go there.
        with contextlib.redirect_stdout(sys.stderr):
            app_env = dict(kv.split("=", 1) for kv in args.app_env)
            result = bench(
                models,
                quick=args.quick,
                clients=args.clients,
                api=not args.no_api,
                in_process=not args.no_in_process,
                app_env=app_env,
            )
            if args.profile is not None:
                with tempfile.TemporaryDirectory() as tmp:
                    for m in models:
                        images, _ = images_for(m, 1, Path(tmp))
                        result["models"][m]["profile"] = str(profile_handler(m, images[0], args.profile))
    except BenchError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    if args.json:
        real_stdout.write(json.dumps(result, ensure_ascii=False) + "\n")
    else:
        real_stdout.write(format_table(result) + "\n")
    failed = any("error" in row or "error_in_process" in row for row in result["models"].values())
    return 1 if failed else 0


def iter_jobs(models: list[str], scratch: Path, per_model: int = 4) -> Iterator[tuple[str, Path]]:
    """(model id, image path) pairs over all models, for load tests."""
    for m in models:
        paths, _ = images_for(m, per_model, scratch)
        for p in paths:
            yield m, p
