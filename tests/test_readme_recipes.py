"""The README's recipes run as written (issue 20): its Python `gradio_client` snippet and its curl recipe
from "Use it from code" are taken out of README.md's code blocks and run against the running app
(tests/app_server.py) on a gallery sample saved under the file name the README uses.

The one change made to the text: the README's address, http://127.0.0.1:7860, becomes the test app's
own (a free port). Everything else runs verbatim: the Python block in a fresh interpreter, the bash
block with bash and curl.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
README = (REPO / "README.md").read_text(encoding="utf-8")
README_URL = "http://127.0.0.1:7860"


def section(title: str) -> str:
    return README.split(f"\n## {title}\n", 1)[1].split("\n## ", 1)[0]


def blocks(text: str, lang: str) -> list[str]:
    return re.findall(rf"```{lang}\n(.*?)```", text, flags=re.DOTALL)


def client_snippet() -> str:
    found = [b for b in blocks(section("Use it from code"), "python") if "Client(" in b]
    assert len(found) == 1, "one gradio_client snippet in 'Use it from code'"
    return found[0]


def curl_recipe() -> str:
    found = [b for b in blocks(section("Use it from code"), "bash") if "curl" in b]
    assert len(found) == 1, "one curl recipe in 'Use it from code'"
    return found[0]


def image_names(code: str) -> set[str]:
    return set(re.findall(r"[\w-]+\.(?:jpg|jpeg|png|dcm)", code))


def test_recipes_are_found_and_name_their_address_and_file():
    for code in (client_snippet(), curl_recipe()):
        assert README_URL in code
        assert image_names(code), "the recipe names the image it sends"
    assert "api_name=\"/predict_" in client_snippet()


def _sample_for(endpoint: str, data_root: Path) -> Path:
    from tabs.samples import sample_list

    items = sample_list().get(endpoint, [])
    path = next((data_root / i["path"] for i in items if (data_root / i["path"]).is_file()), None)
    if path is None:
        pytest.skip(f"no gallery sample of {endpoint} under {data_root}")
    return path


def _workdir(tmp_path: Path, code: str, data_root: Path) -> Path:
    endpoint = re.search(r"predict_(\w+)", code)[1]
    sample = _sample_for(endpoint, data_root)
    for name in image_names(code):
        shutil.copyfile(sample, tmp_path / name)
    return tmp_path


def _env() -> dict[str, str]:
    # gradio_client looks a name up on the Hub unless offline (docs: ENVIRONMENT); the app is local.
    return {**os.environ, "HF_HUB_OFFLINE": "1", "GRADIO_ANALYTICS_ENABLED": "False"}


@pytest.mark.server
@pytest.mark.data
def test_python_client_snippet_runs_as_written(app_url, tmp_path, data_root):
    code = client_snippet()
    work = _workdir(tmp_path, code, data_root)
    run = subprocess.run([sys.executable, "-c", code.replace(README_URL, app_url)], cwd=work, env=_env(),
                         capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr[-3000:]
    printed = run.stdout.strip().splitlines()[-1]
    # print(summary["in_scope"], summary["decision"], summary["probabilities"])
    assert printed.split()[0] in ("True", "False"), printed
    assert "{" in printed and "}" in printed, printed  # the probabilities dict


@pytest.mark.server
@pytest.mark.data
def test_curl_recipe_runs_as_written(app_url, tmp_path, data_root):
    code = curl_recipe()
    work = _workdir(tmp_path, code, data_root)
    run = subprocess.run(["bash", "-euo", "pipefail", "-c", code.replace(README_URL, app_url)], cwd=work,
                         env=_env(), capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr[-3000:]
    lines = run.stdout.splitlines()
    assert "event: complete" in lines, run.stdout[-2000:]
    data = next(line for line in lines[lines.index("event: complete"):] if line.startswith("data:"))
    label, overlay, summary, state = json.loads(data[5:])
    assert state is None  # the page's own state, as the README says
    assert summary["model_id"] == re.search(r"predict_(\w+)", code)[1]
    assert set(summary) >= {"in_scope", "decision", "probabilities", "disclaimer"}
    if summary["in_scope"]:
        assert overlay and overlay.get("url") and label
