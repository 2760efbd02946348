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

The app runs in a subprocess that this package starts (`AppProcess`); `scripts/loadtest.py` and the
security tests can use it. The package never imports `app`, `tabs` or a Gradio Blocks (a test checks
it): it times the core request function `medhub.pipeline.run` in process and the app only as a
process.

| module | what |
|---|---|
| `util.py` | `BenchError`, percentiles, paths, the machine's description |
| `samples.py` | sample images per model (`FALLBACK_DATA_DIRS`, synthetic fallbacks) |
| `stages.py` | in-process timings and the per-stage breakdown, the handler's cProfile |
| `server.py` | `AppProcess` (the app in a subprocess), cold start |
| `load.py` | API round trips (gradio_client, plain HTTP), Gradio's phase trace, the load generator |
| `command.py` | `bench()`, the table, the `bench` sub-command |
 Sample images come from the test split of `training/splits/<id>.csv` under
the data root (`MEDHUB_DATA_ROOT`, default `../shared/data`), else from the data folders, else are
synthetic. Run it under `flock /tmp/medhub-cpu.lock` on a shared machine: timings are only
meaningful when nothing else is using the cores.
"""

from medhub.paths import DATA_ROOT, REPO_ROOT
from medhub.studies.bench.command import add_bench_parser, bench, format_table, model_ids, run_bench
from medhub.studies.bench.load import (
    api_predict,
    bench_api,
    bench_http,
    gradio_phases,
    http_predict,
    make_client,
    run_clients,
)
from medhub.studies.bench.samples import (
    FALLBACK_DATA_DIRS,
    IMAGE_SUFFIXES,
    _interleave,
    decode,
    images_for,
    iter_jobs,
    sample_images,
    synthetic_images,
)
from medhub.studies.bench.server import AppProcess, free_port, wait_first_prediction
from medhub.studies.bench.stages import bench_in_process, profile_handler, stage_breakdown
from medhub.studies.bench.util import BenchError, _ms, machine_info, percentile


def main(argv: list[str] | None = None) -> int:
    """`python -m medhub bench ...` without the rest of the CLI (argv: the options after `bench`)."""
    import argparse

    parser = argparse.ArgumentParser(prog="python -m medhub")
    add_bench_parser(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(["bench", *(argv or [])])
    return int(args.func(args) or 0)


__all__ = [
    "DATA_ROOT",
    "FALLBACK_DATA_DIRS",
    "IMAGE_SUFFIXES",
    "REPO_ROOT",
    "AppProcess",
    "BenchError",
    "_interleave",
    "_ms",
    "add_bench_parser",
    "api_predict",
    "bench",
    "bench_api",
    "bench_http",
    "bench_in_process",
    "decode",
    "format_table",
    "free_port",
    "gradio_phases",
    "http_predict",
    "images_for",
    "iter_jobs",
    "machine_info",
    "main",
    "make_client",
    "model_ids",
    "percentile",
    "profile_handler",
    "run_bench",
    "run_clients",
    "sample_images",
    "stage_breakdown",
    "synthetic_images",
    "wait_first_prediction",
]

add_parser = add_bench_parser  # the CLI registers every study by `add_parser` (medhub/cli.py STUDIES)
