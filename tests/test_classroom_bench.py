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
