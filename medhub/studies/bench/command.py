"""`python -m medhub bench`: run every part and print the table or one JSON object."""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from medhub.studies.bench.load import bench_api, bench_http, make_client, run_clients
from medhub.studies.bench.samples import images_for
from medhub.studies.bench.server import AppProcess, wait_first_prediction
from medhub.studies.bench.stages import bench_in_process, profile_handler
from medhub.studies.bench.util import BenchError, _ms, machine_info, percentile


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
                # Each its own download folder (see load.run_clients).
                users = [make_client(app.url, downloads / f"user{i}") for i in range(clients)]
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


def cold_starts(models: list[str], runs: int, app_env: dict[str, str] | None = None) -> dict[str, Any]:
    """`runs` cold starts of the app, one after the other (each a new process, every card warmed)."""
    from medhub.studies.bench.server import cold_start_timeline

    result: dict[str, Any] = {"scenario": "cold_start", "machine": machine_info(), "app_env": app_env or {},
                              "load_avg_1m_start": round(os.getloadavg()[0], 2), "runs": []}
    with tempfile.TemporaryDirectory(prefix="medhub-cold-") as tmp:
        samples = {m: images_for(m, 1, Path(tmp))[0][0] for m in models}
        for _ in range(runs):
            with AppProcess(env={**(app_env or {})}) as app:
                result["runs"].append(cold_start_timeline(app, models, samples))
    result["load_avg_1m_end"] = round(os.getloadavg()[0], 2)
    return result


def format_cold_starts(result: dict[str, Any]) -> str:
    lines = ["| run | API s | page s | all models ready s | all warm s (one answer each) | peak RSS MB |",
             "|---|---|---|---|---|---|"]
    for i, run in enumerate(result["runs"], 1):
        lines.append(f"| {i} | {run['api_s']} | {run['page_s']} | {run['all_ready_s']} | {run['all_warm_s']} | "
                     f"{run['rss_mb']} |")
    lines.append(f"load average {result['load_avg_1m_start']} -> {result['load_avg_1m_end']}")
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
    b.add_argument("--classroom", action="store_true",
                   help="the classroom scenario instead (medhub/studies/bench/classroom.py): --clients (use 30) at once "
                        "on each model, the same sample and then different uploads")
    b.add_argument("--cold-start", type=int, default=0, metavar="N",
                   help="only the cold start, N times: `python app.py` to the page and to every model warm "
                        "(medhub.studies.bench.server.cold_start_timeline)")
    b.add_argument("--transport", choices=("client", "http"), default="client",
                   help="classroom: send the requests with gradio_client (default) or over plain HTTP as a "
                        "browser or curl does (a much lighter load generator on the same cores)")
    b.set_defaults(func=run_bench)


def run_bench(args: argparse.Namespace) -> int:
    """Entry point of `python -m medhub bench`."""
    real_stdout = sys.stdout
    try:
        models = model_ids(args.models)
        # Libraries print to stdout (TF, gradio); with --json nothing but the object may go there.
        with contextlib.redirect_stdout(sys.stderr):
            app_env = dict(kv.split("=", 1) for kv in args.app_env)
            if getattr(args, "cold_start", 0):  # issue 20: time to a page and to every model warm
                result = cold_starts(models, args.cold_start, app_env)
                real_stdout.write((json.dumps(result, ensure_ascii=False) if args.json
                                   else format_cold_starts(result)) + "\n")
                return 0
            if getattr(args, "classroom", False):  # issue 20: 30 clients on one tab
                from medhub.studies.bench.classroom import classroom, format_classroom

                result = classroom(models, clients=args.clients, app_env=app_env,
                                   transport=getattr(args, "transport", "client"))
                real_stdout.write((json.dumps(result, ensure_ascii=False) if args.json
                                   else format_classroom(result)) + "\n")
                return 0 if all(r["errors"] == 0 for rounds in result["models"].values()
                                for r in rounds.values()) else 1
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
