"""The command line on the bundled weights: predict (text and JSON), errors, evaluate's JSON keys."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
ENV = {**os.environ, "HF_HUB_OFFLINE": "1"}


def _run(*args: str, timeout: int = 300) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "medhub", *args],
        capture_output=True, text=True, cwd=REPO, env=ENV, timeout=timeout,
    )


def _first(folder: Path) -> Path:
    return sorted(p for p in folder.iterdir() if p.is_file())[0]


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


def test_predict_dicom_with_window(data_root):
    dcm = data_root / "dicom" / "cq500" / "CT000001.dcm"
    out = _run("predict", "brain_hemorrhage", str(dcm), "--json", "--window", "subdural")
    assert out.returncode == 0, out.stderr[-2000:]
    summary = json.loads(out.stdout)
    assert set(summary["probabilities"]) == {"normal", "hemorrhage"}
    text = json.dumps(summary).lower()
    assert "patientname" not in text and "patient_name" not in text


def test_predict_bad_file_is_a_clean_error(tmp_path):
    bad = tmp_path / "not_an_image.png"
    bad.write_text("<html>hello</html>")
    out = _run("predict", "melanoma", str(bad))
    assert out.returncode == 2
    assert out.stderr.startswith("error:")
    assert "Traceback" not in out.stderr


def test_evaluate_json_keys(data_root):
    out = _run("evaluate", "shingles", str(data_root / "skin_condition"), "--json", "--limit-per-label", "4")
    assert out.returncode == 0, out.stderr[-2000:]
    result = json.loads(out.stdout)
    for key in ("n", "accuracy", "balanced_accuracy", "auroc", "per_class", "confusion_matrix", "labels"):
        assert key in result
    # 4 zoster + 4 of each of the six aliased 'other' folders.
    assert result["n"] == 28
    assert result["per_class"]["herpes_zoster"]["support"] == 4
    assert 0.0 <= result["auroc"] <= 1.0


@pytest.mark.parametrize("model_id", ["brain_hemorrhage", "skin_lesion", "scalp_severity"])
def test_predict_text_output(model_id, data_root):
    sample = {
        "brain_hemorrhage": data_root / "head_ct" / "hemorrhage",
        "skin_lesion": data_root / "skin_lesion" / "nevus",
        "scalp_severity": data_root / "scalp" / "hair_loss_severity" / "severe",
    }[model_id]
    out = _run("predict", model_id, str(_first(sample)))
    assert out.returncode == 0, out.stderr[-2000:]
    assert "decision:" in out.stdout and "not a diagnosis" in out.stdout
