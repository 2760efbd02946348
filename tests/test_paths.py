"""Where things are is said once: medhub/paths.py is a leaf, the data root has one variable, and the
scripts do not borrow from the tests."""

from __future__ import annotations

import ast
import os
import re
import subprocess
import sys
from pathlib import Path

from medhub import paths

REPO = Path(__file__).resolve().parent.parent
CODE = ("medhub", "tabs", "training", "scripts", "app.py")


def _python_files(*entries: str) -> list[Path]:
    files: list[Path] = []
    for entry in entries:
        path = REPO / entry
        files += [path] if path.is_file() else sorted(p for p in path.rglob("*.py") if "cache" not in p.parts)
    return files


def _imported(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    return {node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom) and node.module} | {
        alias.name for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names
    }


def test_paths_is_a_leaf():
    imported = _imported(REPO / "medhub" / "paths.py")
    assert not {m for m in imported if m == "medhub" or m.startswith("medhub.")}, imported


def test_the_repository_folders():
    assert paths.REPO_ROOT == REPO
    assert (paths.REPO_ROOT / "app.py").is_file()
    assert paths.MODEL_CARDS.is_dir() and paths.WEIGHTS.is_dir() and paths.SPLITS.is_dir()


def test_one_variable_names_the_data_root():
    """Only medhub/paths.py reads the data root from the environment (through DATA_ROOT_VARIABLE); the
    old second name (`MEDHUB_DATA` + `_DIR`) is gone from the code and the docs."""
    reads = re.compile(r"""(environ\.get\(|environ\[|getenv\()\s*["']MEDHUB_DATA""")
    readers = [str(p.relative_to(REPO)) for p in _python_files(*CODE, "tests") if reads.search(p.read_text("utf-8"))]
    assert not readers, f"read the data root through medhub.paths: {readers}"
    old = "MEDHUB_DATA" + "_DIR"
    texts = [*_python_files(*CODE, "tests"), *REPO.glob("*.md"), *(REPO / "docs").glob("*.md"),
             *(REPO / "training").glob("*.md"), REPO / "Makefile"]
    assert not [str(p.relative_to(REPO)) for p in texts if old in p.read_text("utf-8")]


def test_data_root_follows_the_variable(monkeypatch, tmp_path):
    monkeypatch.setenv(paths.DATA_ROOT_VARIABLE, str(tmp_path))
    assert paths.data_root() == tmp_path
    monkeypatch.setenv(paths.DATA_ROOT_VARIABLE, "")
    assert paths.data_root() == paths.DEFAULT_DATA_ROOT
    monkeypatch.delenv(paths.DATA_ROOT_VARIABLE)
    assert paths.data_root() == REPO.parent / "shared" / "data"


def test_every_module_sees_the_same_data_root(tmp_path):
    """Read at import by each user (scope sets, bench, training, tests): one value in a fresh process."""
    script = (
        "from medhub import paths, scope_sets; from medhub.studies import scope_report; from medhub.studies.bench import samples;"
        "from training import common; from tests import conftest;"
        "roots = {str(m.DATA_ROOT) for m in (paths, scope_sets, scope_report, samples, common, conftest)};"
        "print(sorted(roots))"
    )
    env = {**os.environ, "MEDHUB_DATA_ROOT": str(tmp_path)}
    out = subprocess.run([sys.executable, "-c", script], cwd=REPO, env=env, capture_output=True, text=True,
                         timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip() == str([str(tmp_path)])


def test_scripts_do_not_import_the_tests():
    offenders = {
        str(path.relative_to(REPO)): sorted(m for m in _imported(path) if m == "tests" or m.startswith("tests."))
        for path in _python_files("scripts", "medhub", "tabs", "training", "app.py")
    }
    assert not {k: v for k, v in offenders.items() if v}
