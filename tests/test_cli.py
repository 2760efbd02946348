"""The command line on the bundled weights: predict (text and JSON), errors, evaluate's JSON keys."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from medhub.cards import load_cards
from tests.cli_runner import run_cli

REPO = Path(__file__).resolve().parent.parent
ENV = {**os.environ, "HF_HUB_OFFLINE": "1"}


def _run(*args: str, timeout: int = 300) -> subprocess.CompletedProcess:
    """The real entry point, in a new interpreter (the tests of the commands' output use `run_cli`)."""
    return subprocess.run(
        [sys.executable, "-m", "medhub", *args],
        capture_output=True, text=True, cwd=REPO, env=ENV, timeout=timeout,
    )


def _first(folder: Path) -> Path:
    return sorted(p for p in folder.iterdir() if p.is_file())[0]


@pytest.mark.slow
@pytest.mark.data
def test_predict_json_and_overlay(data_root, tmp_path):
    image = _first(data_root / "melanoma" / "malignant")
    overlay = tmp_path / "overlay.png"
    out = _run("predict", "melanoma", str(image), "--json", "--overlay", str(overlay))
    assert out.returncode == 0, out.stderr[-2000:]
    summary = json.loads(out.stdout)
    assert summary["model_id"] == "melanoma"
    assert abs(sum(summary["probabilities"].values()) - 1) < 1e-4
    assert summary["decision"] in summary["probabilities"]
    assert "not a diagnosis" in summary["disclaimer"]
    from PIL import Image

    with Image.open(overlay) as im, Image.open(image) as src:
        assert im.size == src.size


@pytest.mark.slow
@pytest.mark.data
def test_predict_dicom_with_window(data_root):
    dcm = data_root / "dicom" / "cq500" / "CT000001.dcm"
    out = run_cli("predict", "brain_hemorrhage", str(dcm), "--json", "--window", "subdural")
    assert out.returncode == 0, out.stderr[-2000:]
    summary = json.loads(out.stdout)
    assert set(summary["probabilities"]) == {"normal", "hemorrhage"}
    text = json.dumps(summary).lower()
    assert "patientname" not in text and "patient_name" not in text


def test_predict_bad_file_is_a_clean_error(tmp_path):
    bad = tmp_path / "not_an_image.png"
    bad.write_text("<html>hello</html>")
    out = _run("predict", "melanoma", str(bad))
    assert out.returncode == 4, "every input failed"
    assert "error:" in out.stderr
    assert "Traceback" not in out.stderr


@pytest.mark.slow
@pytest.mark.data
def test_predict_several_files_and_a_folder_as_json_lines(data_root, tmp_path):
    """One JSON object per input, one per line: the API's summary plus 'file'; a file that cannot be
    read gives 'file' and 'error' on its line and the command goes on."""
    folder = tmp_path / "cases"
    folder.mkdir()
    import shutil

    lesion = _first(data_root / "melanoma" / "malignant")
    ct = _first(data_root / "head_ct" / "hemorrhage")
    shutil.copy(lesion, folder / "a_lesion.jpg")
    (folder / "b_broken.png").write_bytes(b"\x89PNG\r\n\x1a\nnot really")
    out = run_cli("predict", "melanoma", str(ct), str(folder), "--json")
    assert out.returncode == 0, out.stderr[-2000:]
    lines = [json.loads(line) for line in out.stdout.splitlines()]
    assert [Path(x["file"]).name for x in lines] == [ct.name, "a_lesion.jpg", "b_broken.png"]
    head_ct, lesion_line, broken = lines
    assert head_ct["in_scope"] is False and head_ct["decision"] is None
    assert head_ct["suggested_model"] == "brain_hemorrhage"
    assert head_ct["scope_score"] is not None and head_ct["scope_threshold"] is not None
    assert lesion_line["in_scope"] is True and lesion_line["decision"] in ("benign", "malignant")
    assert set(broken) >= {"file", "error"} and "probabilities" not in broken
    # the same head CT, shown anyway for teaching
    anyway = json.loads(run_cli("predict", "melanoma", str(ct), "--json", "--show-anyway").stdout)
    assert anyway["decision"] in ("benign", "malignant") and anyway["shown_anyway"] is True


@pytest.mark.slow
@pytest.mark.data
def test_scope_report_json(data_root):
    out = run_cli("scope-report", "scalp_severity", "--json", "--per-set", "7")
    assert out.returncode == 0, out.stderr[-2000:]
    (line,) = out.stdout.splitlines()
    report = json.loads(line)
    assert report["model"] == "scalp_severity"
    names = {r["set"]: r for r in report["sets"]}
    assert names["own test split"]["expected"] == "accept"
    assert any(n.startswith("synthetic") for n in names) and "natural photos (packages)" in names
    for row in report["sets"]:
        assert row["n"] >= 1 and 0.0 <= row["rate"] <= 1.0


@pytest.mark.slow
@pytest.mark.data
def test_evaluate_json_keys(data_root):
    out = run_cli("evaluate", "shingles", str(data_root / "skin_condition"), "--json", "--limit-per-label", "4")
    assert out.returncode == 0, out.stderr[-2000:]
    result = json.loads(out.stdout)
    for key in ("n", "accuracy", "balanced_accuracy", "auroc", "per_class", "confusion_matrix", "labels"):
        assert key in result
    # 4 zoster + 4 of each of the six aliased 'other' folders.
    assert result["n"] == 28
    assert result["per_class"]["herpes_zoster"]["support"] == 4
    assert 0.0 <= result["auroc"] <= 1.0
    # the scope check's view beside the all-images figures
    assert 0.0 <= result["in_scope_rate"] <= 1.0
    assert result["metrics_in_scope"] is None or result["metrics_in_scope"]["n"] <= result["n"]


CARD_IDS = [c.id for c in load_cards()]


def test_predict_tta_only_where_the_card_offers_it(tmp_path):
    card = next(c for c in load_cards() if not c.tta)
    image = tmp_path / "x.png"
    image.write_bytes(b"not read: the option is refused first")
    out = run_cli("predict", card.id, str(image), "--tta")
    assert out.returncode == 2 and "does not offer --tta" in out.stderr


@pytest.mark.slow
@pytest.mark.data
@pytest.mark.parametrize("model_id", CARD_IDS)
def test_predict_text_output(model_id, data_root):
    """Every card's model answers `predict` in text, on the first image its gallery lists."""
    from tabs.samples import sample_list

    listed = [data_root / item["path"] for item in sample_list().get(model_id, [])]
    images = [p for p in listed if p.suffix.lower() != ".dcm" and p.is_file()]
    if not images:
        pytest.skip(f"no sample image of {model_id} under {data_root} (assets/samples.yaml)")
    sample = images[0]
    out = run_cli("predict", model_id, str(sample))
    assert out.returncode == 0, out.stderr[-2000:]
    assert "decision:" in out.stdout and "not a diagnosis" in out.stdout
