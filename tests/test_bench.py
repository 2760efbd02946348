"""The benchmark command and the load-test script: they run and report the promised schema.

No timing is asserted here (a shared CI machine makes timings meaningless); docs/BENCHMARKS.md
records measured runs. The end-to-end test runs `python -m medhub bench --quick --json` for the
smallest model with bundled weights: it starts the real app, so it checks the whole measuring
path (cold start, API round trips, 8 concurrent clients, RSS, in-process timings).
"""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from medhub.cards import load_cards
from medhub.studies import bench

REPO = Path(__file__).resolve().parent.parent
MODEL_KEYS = ("forward_ms_p50", "predict_cam_ms_p50", "api_ms_p50", "api_ms_p95", "concurrent8_p95_ms")


def smallest_model_with_weights() -> str | None:
    """The card whose bundled weights file is smallest (fastest to load), or None."""
    sizes = {}
    for card in load_cards():
        path = REPO / "weights" / card.id / card.weights_file.name
        if path.is_file():
            sizes[card.id] = path.stat().st_size
    return min(sizes, key=sizes.get) if sizes else None


def test_percentile_and_interleave():
    assert bench.percentile([1, 2, 3, 4], 50) == pytest.approx(2.5)
    assert bench.percentile([5.0], 95) == 5.0
    assert math.isnan(bench.percentile([], 50))
    groups = [[Path("a1"), Path("a2"), Path("a3")], [Path("b1")]]
    assert bench._interleave(groups, 3) == [Path("a1"), Path("b1"), Path("a2")]


def test_synthetic_images_pass_the_input_gate(tmp_path):
    paths = bench.synthetic_images(tmp_path, 2, size=96)
    from medhub.cards import load_cards

    card = load_cards()[0]  # any card reads PNGs (decode takes the card for its DICOM window)
    rgbs = [bench.decode(p, card) for p in paths]
    assert all(r.shape == (96, 96, 3) and r.dtype == np.uint8 for r in rgbs)
    assert not np.array_equal(rgbs[0], rgbs[1])


def test_sample_images_from_a_data_root(tmp_path):
    from medhub.cards import get_card

    # the card's data folder and one of its label folders (no split-file row lies under tmp_path)
    folder = tmp_path / get_card("melanoma").metrics["data_dir"] / "benign"
    folder.mkdir(parents=True)
    bench.synthetic_images(folder, 2, size=32)
    (folder / "notes.txt").write_text("not an image")
    found = bench.sample_images("melanoma", 5, data_root=tmp_path)
    assert sorted(p.name for p in found) == ["synthetic_0.png", "synthetic_1.png"]
    assert bench.sample_images("melanoma", 5, data_root=tmp_path / "absent") == []


def test_unknown_model_is_a_clean_error():
    with pytest.raises(bench.BenchError, match="unknown model"):
        bench.model_ids("no_such_model")
    proc = subprocess.run([sys.executable, "-m", "medhub", "bench", "--json", "--models", "nope"],
                          capture_output=True, text=True, timeout=120, cwd=REPO)
    assert proc.returncode == 2 and "unknown model" in proc.stderr and proc.stdout == ""


NO_APP_PROBE = """
import importlib, pkgutil, sys
import medhub.studies.bench
for info in pkgutil.iter_modules(medhub.studies.bench.__path__):
    if info.name != "__main__":
        importlib.import_module(f"medhub.studies.bench.{info.name}")
from medhub.cli import main
code = main(["bench", "--json", "--models", "no_such_model"])  # the command's own path up to the models
assert code == 2, code
bad = sorted(m for m in sys.modules if m in ("app", "tabs", "gradio") or m.startswith(("tabs.", "gradio.")))
print("LOADED", len(sys.modules), "BAD", bad)
"""


def test_the_bench_never_imports_the_app_or_gradio():
    """The bench is core code: it times `medhub.pipeline.run` in process and the app only as a
    process, so importing it (every submodule) and running its command must not import `app`,
    `tabs` or gradio (whose Blocks the app builds at import)."""
    proc = subprocess.run([sys.executable, "-c", NO_APP_PROBE], capture_output=True, text=True, timeout=120,
                          cwd=REPO)
    assert proc.returncode == 0, proc.stderr[-2000:]
    line = next(x for x in proc.stdout.splitlines() if x.startswith("LOADED"))
    assert int(line.split()[1]) > 50, "the probe must have imported the bench"
    assert line.endswith("BAD []"), line
    assert {"run_bench", "AppProcess", "FALLBACK_DATA_DIRS", "main"} <= set(bench.__all__)


def test_loadtest_refuses_other_hosts():
    proc = subprocess.run([sys.executable, "scripts/loadtest.py", "--url", "http://192.0.2.1:7860/",
                           "--seconds", "1"], capture_output=True, text=True, timeout=120, cwd=REPO)
    assert proc.returncode == 2 and "only 127.0.0.1" in proc.stderr
    proc = subprocess.run([sys.executable, "scripts/loadtest.py", "--clients", "500", "--seconds", "1"],
                          capture_output=True, text=True, timeout=120, cwd=REPO)
    assert proc.returncode == 2 and "--clients" in proc.stderr


@pytest.mark.server
@pytest.mark.timeout(300)
def test_bench_quick_json_schema(artifacts_dir):
    model = smallest_model_with_weights()
    if model is None:
        pytest.skip("no bundled weights in weights/")
    if not (REPO / "app.py").is_file():
        pytest.skip("app.py not found")
    proc = subprocess.run(
        [sys.executable, "-m", "medhub", "bench", "--quick", "--json", "--models", model],
        capture_output=True, text=True, timeout=280, cwd=REPO,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    lines = [line for line in proc.stdout.splitlines() if line.strip()]
    assert len(lines) == 1, f"--json must print exactly one object, got: {proc.stdout[:500]}"
    result = json.loads(lines[0])
    (artifacts_dir / "bench-quick.json").write_text(json.dumps(result, indent=2))

    assert set(result["models"]) == {model}
    row = result["models"][model]
    for key in MODEL_KEYS:
        assert isinstance(row[key], (int, float)) and row[key] > 0 and math.isfinite(row[key]), key
    assert isinstance(row["concurrent8_errors"], int) and row["concurrent8_errors"] == 0
    assert row["api_ms_p95"] >= row["api_ms_p50"]
    assert isinstance(result["cold_start_s"], (int, float)) and result["cold_start_s"] > 0
    assert isinstance(result["rss_mb"], (int, float)) and result["rss_mb"] > 50
    assert result["machine"]["logical_cores"] >= 1 and result["machine"]["gradio"]
    assert set(row["stages_ms"]) >= {"decode", "preprocess", "forward", "gradcam"}


@pytest.mark.server
def test_loadtest_soak_smoke(app_url):
    """A tiny bounded soak through scripts/loadtest.py against the session's app: the JSON it reports."""
    model = smallest_model_with_weights()
    if model is None:
        pytest.skip("no bundled weights in weights/")
    proc = subprocess.run(
        [sys.executable, "scripts/loadtest.py", "--url", app_url, "--soak", "6", "--clients", "2",
         "--fresh-sessions", "--models", model],
        capture_output=True, text=True, timeout=240, cwd=REPO,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    soak = json.loads(proc.stdout)["soak"]
    assert soak["requests"] == 6 and soak["ok"] == 6 and soak["errors"] == 0, soak["error_samples"]
    assert 0 < soak["latency_ms"]["p50"] <= soak["latency_ms"]["p95"] <= soak["latency_ms_max"]
    assert set(soak["per_model_p50_ms"]) == {model}
