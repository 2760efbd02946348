"""The app in a subprocess (`AppProcess`: `python app.py` on 127.0.0.1 at a free port, with its start
time and peak memory), and the cold start up to its first prediction. The app is only ever started
as a process: this package never imports it."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from medhub.paths import DATA_ROOT, REPO_ROOT
from medhub.studies.bench.load import api_predict, make_client
from medhub.studies.bench.util import BenchError, process_tree_sum


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


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
        pid = self.proc.pid if self.proc is not None else None
        return process_tree_sum(pid, lambda p: p.memory_info().rss) / 2**20

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


def cold_start_timeline(
    app: AppProcess, models: list[str], samples: dict[str, Path], timeout: float = 240.0
) -> dict[str, Any]:
    """From `python app.py` to a page and to every model warm, in seconds since the process started.

    - `api_s`: the app answers `gradio_api/info`; `page_s`: the page itself (`GET /`, 200 with HTML);
    - `ready_s`: per model, when the app's warm-up logged "model <id> ready" (loaded; the log is read
      every 50 ms); `all_ready_s` the last of them;
    - `first_answer_ms`: after all are ready, one plain-HTTP prediction per model in turn (its first
      request: any first-call cost shows here); `all_warm_s`: when the last of those answered.
    """
    import re

    import httpx

    from medhub.studies.bench.load import http_predict

    out: dict[str, Any] = {"api_s": round(app.wait_ready(timeout), 2)}
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(app.url, timeout=5) as resp:
                if resp.status == 200 and b"<html" in resp.read(4096).lower():
                    break
        except (urllib.error.URLError, ConnectionError, TimeoutError, OSError):
            pass
        time.sleep(0.05)
    out["page_s"] = round(time.perf_counter() - app.started_at, 2)
    ready: dict[str, float] = {}
    pattern = re.compile(r"model (\S+) (ready|unavailable)")
    while len(ready) < len(models) and time.monotonic() < deadline:
        for mid, state in pattern.findall(app.log_tail(10**7)):
            if mid in models and mid not in ready:
                ready[mid] = round(time.perf_counter() - app.started_at, 2)
                if state != "ready":
                    out.setdefault("unavailable", []).append(mid)
        if app.proc is not None and app.proc.poll() is not None:
            raise BenchError(f"app exited with {app.proc.returncode}:\n{app.log_tail()}")
        time.sleep(0.05)
    missing = [m for m in models if m not in ready]
    if missing:
        raise BenchError(f"no 'model ... ready' in the app's log for {missing} within {timeout:.0f} s")
    out["ready_s"] = ready
    out["all_ready_s"] = max(ready.values())
    out["first_answer_ms"] = {}
    with httpx.Client(timeout=120) as http:
        for m in models:
            t0 = time.perf_counter()
            http_predict(http, app.url, m, samples[m])
            out["first_answer_ms"][m] = round((time.perf_counter() - t0) * 1000, 1)
    out["all_warm_s"] = round(time.perf_counter() - app.started_at, 2)
    out["rss_mb"] = round(max(app.peak_rss_mb, app.rss_mb()), 1)
    return out
