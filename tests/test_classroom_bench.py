"""The classroom scenario of the bench (medhub/studies/bench/classroom.py): its inputs and its command line.
The run itself starts the app and 30 clients; it is recorded in docs/BENCHMARKS.md, not run here."""

from __future__ import annotations

import hashlib

from PIL import Image

from medhub.cli import build_parser
from medhub.studies.bench.classroom import TARGET_P95_S, distinct_uploads, format_classroom


def test_thirty_uploads_are_thirty_different_files(tmp_path):
    src = tmp_path / "a.png"
    Image.new("RGB", (40, 30), (10, 20, 30)).save(src)
    uploads = distinct_uploads([src], 30, tmp_path / "up")
    assert len({hashlib.sha256(p.read_bytes()).hexdigest() for p in uploads}) == 30
    with Image.open(uploads[5]) as im:
        assert im.size == (40, 30)


def test_command_line_and_table():
    args = build_parser().parse_args(["bench", "--classroom", "--clients", "30", "--models", "melanoma"])
    assert args.classroom and args.clients == 30
    row = {"requests": 30, "errors": 0, "p50_ms": 900.0, "p95_ms": 1500.0, "max_ms": 1600.0, "wall_s": 2.0,
           "rps": 15.0, "target_p95_ms": TARGET_P95_S["same_sample"] * 1000, "meets_target": True}
    table = format_classroom({"clients": 30, "models": {"melanoma": {"same_sample": row}},
                              "cold_start_s": 9.0, "rss_mb": 900.0, "load_avg_1m_start": 0.2,
                              "load_avg_1m_end": 1.0})
    assert "| melanoma | same_sample | 0 |" in table and "yes" in table


def test_transport_and_cold_start_options():
    from medhub.studies.bench.command import format_cold_starts

    args = build_parser().parse_args(["bench", "--classroom", "--transport", "http"])
    assert args.transport == "http"
    assert build_parser().parse_args(["bench"]).transport == "client"
    args = build_parser().parse_args(["bench", "--cold-start", "3"])
    assert args.cold_start == 3
    run = {"api_s": 6.1, "page_s": 6.3, "ready_s": {"melanoma": 9.0}, "all_ready_s": 9.0,
           "first_answer_ms": {"melanoma": 120.0}, "all_warm_s": 9.4, "rss_mb": 900.0}
    table = format_cold_starts({"runs": [run], "load_avg_1m_start": 0.3, "load_avg_1m_end": 1.1})
    assert "| 1 | 6.1 | 6.3 | 9.0 | 9.4 | 900.0 |" in table


def test_a_round_reports_where_the_cpu_went(monkeypatch, tmp_path):
    """`_round` adds CPU per request of the app and of the load generator, and Gradio's phases."""
    from medhub.studies.bench import classroom

    monkeypatch.setattr(classroom, "run_http_clients", lambda url, jobs, clients: {
        "latencies": [0.5] * clients, "requests": clients, "errors": 0, "error_samples": [], "wall_s": 1.0})
    monkeypatch.setattr(classroom, "_http", lambda url, method="GET": [
        {"fn_name": "predict_x", "fn_call_ms": 10.0, "queue_wait_ms": 5.0}] * 3 if method == "GET" else {})
    row = classroom._round("http://127.0.0.1:1/", [("m", tmp_path / "a.png")], 4, tmp_path, "http", app_pid=None)
    assert row["transport"] == "http" and row["requests"] == 4 and row["p95_ms"] == 500.0
    assert row["app_cpu_ms_per_request"] is None and row["loadgen_cpu_ms_per_request"] >= 0
    assert row["gradio_phases_ms"]["fn_call"] == {"p50": 10.0, "p95": 10.0} and row["gradio_phases_ms"]["n"] == 3
