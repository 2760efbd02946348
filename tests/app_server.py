"""Start the real app (`python app.py`) in a subprocess on 127.0.0.1 at a free port, for tests.

`app_url` is a session-scoped pytest fixture: the first test that asks for it starts the server,
every later one reuses it, and it is stopped at the end of the session. It is imported once, in
tests/conftest.py (imported into several test modules it would become one fixture, and one app,
per module).

The server runs offline (HF_HUB_OFFLINE=1), without analytics, with the sample gallery pointed at
the shared data when it exists; its log goes to artifacts/app_server.log for post-mortems.
"""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import DATA_ROOT, REPO

STARTUP_TIMEOUT_S = 120.0


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def app_env(port: int, **extra: str) -> dict[str, str]:
    env = {
        **os.environ,
        "GRADIO_SERVER_NAME": "127.0.0.1",
        "GRADIO_SERVER_PORT": str(port),
        "GRADIO_ANALYTICS_ENABLED": "False",
        "HF_HUB_OFFLINE": "1",
        "HF_HUB_DISABLE_TELEMETRY": "1",
        "PYTHONUNBUFFERED": "1",
    }
    if DATA_ROOT.is_dir():
        env.setdefault("MEDHUB_SAMPLES_DIR", str(DATA_ROOT))
    env.update(extra)
    return env


def wait_until_up(url: str, proc: subprocess.Popen, timeout: float = STARTUP_TIMEOUT_S) -> None:
    """Poll the config route until the server answers (or the process dies)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"the app exited with code {proc.returncode} before answering")
        try:
            with urllib.request.urlopen(f"{url}/config", timeout=2) as resp:
                if resp.status == 200:
                    return
        except (urllib.error.URLError, ConnectionError, TimeoutError, OSError):
            pass
        time.sleep(0.5)
    raise TimeoutError(f"the app did not answer at {url} within {timeout:.0f} s")


@contextlib.contextmanager
def running_app(log_path: Path, timeout: float = STARTUP_TIMEOUT_S, **extra_env: str) -> Iterator[str]:
    """Run `python app.py` until the block ends; yields its base URL (`timeout`: how long it may take
    to answer)."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with open(log_path, "w", encoding="utf-8") as log:
        proc = subprocess.Popen(
            [sys.executable, str(REPO / "app.py")], cwd=REPO, env=app_env(port, **extra_env),
            stdout=log, stderr=subprocess.STDOUT,
        )
        try:
            wait_until_up(url, proc, timeout=timeout)
            yield url
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=5)


@pytest.fixture(scope="session")
def app_url(artifacts_dir: Path) -> Iterator[str]:
    """Base URL of the real app, started once per test session."""
    with running_app(artifacts_dir / "app_server.log") as url:
        yield url


@contextlib.contextmanager
def offline_env() -> Iterator[None]:
    """HF_HUB_OFFLINE=1 while a gradio_client.Client is made (it must not look anything up online)."""
    old = os.environ.get("HF_HUB_OFFLINE")
    os.environ["HF_HUB_OFFLINE"] = "1"
    try:
        yield
    finally:
        if old is None:
            os.environ.pop("HF_HUB_OFFLINE", None)
        else:
            os.environ["HF_HUB_OFFLINE"] = old


def make_client(url: str):
    with offline_env():
        from gradio_client import Client

        return Client(url, verbose=False)
