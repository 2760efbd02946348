"""`python -m medhub ...` for the tests, run in this process: the same `medhub.cli.main` the entry point
calls, with its stdout, stderr and exit code, without a new interpreter importing torch and loading the
model again for every call (3-8 s each). `tests/test_cli.py` keeps real subprocesses for the entry point
itself; tests that change the environment the CLI reads at start-up (MEDHUB_CARDS_DIR, ...) keep theirs.
"""

from __future__ import annotations

import contextlib
import io
import subprocess


def run_cli(*args: str) -> subprocess.CompletedProcess:
    from medhub.cli import main

    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = main(list(args))
        except SystemExit as exc:  # argparse errors and --help
            code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 2)
    return subprocess.CompletedProcess(["python", "-m", "medhub", *args], int(code or 0), out.getvalue(),
                                       err.getvalue())
