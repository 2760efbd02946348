"""CT as a series (medhub/series.py, issue 20) on the real CQ500 slices: order by position, one series
of one study, the zip and its limits, the study result, the CLI's JSON and the API endpoint.

`dicom/cq500_series/` holds 30 slices of one series whose file names are out of position order (and
whose gantry is tilted: the slice normal is not the z axis); `dicom/cq500/CT000000.dcm` belongs to
another series. Header-only checks run without the model; one test scores the series in process,
one through the CLI and one through the running app.
"""

from __future__ import annotations

import json
import random
import zipfile
from pathlib import Path

import numpy as np
import pydicom
import pytest

from medhub import limits
from medhub.series import SeriesError, collect, order_slices, read_header
from tests.cli_runner import run_cli

REPO = Path(__file__).resolve().parent.parent
SERIES = Path("dicom") / "cq500_series"
OTHER_SERIES = Path("dicom") / "cq500" / "CT000000.dcm"


@pytest.fixture(scope="module")
def series_dir(data_root) -> Path:
    folder = data_root / SERIES
    if not folder.is_dir():
        pytest.skip(f"no CT series at {folder}")
    return folder


def expected_order(folder: Path) -> list[str]:
    """File names by ImagePositionPatient projected on the slice normal, computed here with pydicom."""
    rows = []
    for path in folder.iterdir():
        ds = pydicom.dcmread(path, stop_before_pixels=True)
        iop = np.array(ds.ImageOrientationPatient, dtype=float)
        normal = np.cross(iop[:3], iop[3:])
        rows.append((float(np.dot(np.array(ds.ImagePositionPatient, dtype=float), normal)), path.name))
    return [name for _, name in sorted(rows)]


def ordered_names(inputs) -> list[str]:
    return [Path(h.name).name for h, _ in order_slices([read_header(s) for s in collect(inputs)])]


def test_slices_are_ordered_by_position_not_name(series_dir):
    names = ordered_names(series_dir)
    assert len(names) == 30
    assert names == expected_order(series_dir)
    assert names != sorted(names), "the file names are out of order: a name sort must not pass this"
    zs = [z for _, z in order_slices([read_header(s) for s in collect(series_dir)])]
    assert all(b > a for a, b in zip(zs, zs[1:]))


def _modified_copy(src: Path, dst: Path, **changes) -> Path:
    ds = pydicom.dcmread(src)
    for key, value in changes.items():
        setattr(ds, key, value)
    ds.save_as(dst)
    return dst


def test_order_ignores_instance_number_and_file_name(series_dir, tmp_path):
    """Copies with shuffled names and reversed InstanceNumbers come out in the same position order."""
    order = expected_order(series_dir)
    shuffled = list(order)
    random.Random(20).shuffle(shuffled)
    for k, name in enumerate(shuffled):
        _modified_copy(series_dir / name, tmp_path / f"IM{k:04d}", InstanceNumber=1000 - order.index(name))
    got = ordered_names(tmp_path)
    assert got == [f"IM{shuffled.index(name):04d}" for name in order]


def test_a_slice_of_another_series_is_named(series_dir, data_root):
    files = sorted(series_dir.iterdir()) + [data_root / OTHER_SERIES]
    with pytest.raises(SeriesError) as info:
        ordered_names(files)
    assert info.value.code in {"series_mixed", "series_mixed_study"}
    assert "CT000000.dcm" in info.value.message_en and "CT000000.dcm" in info.value.message_ko
    assert "30" in info.value.message_en  # the other 30 slices are the series
    assert "1.2.276" not in str(info.value), "no UID in a message"


def test_same_study_other_series_localiser_orientation_modality_and_non_dicom(series_dir, tmp_path):
    files = sorted(series_dir.iterdir())
    base = files[0]

    def check(code: str, path: Path) -> None:
        with pytest.raises(SeriesError) as info:
            ordered_names([*files[1:6], path])
        assert info.value.code == code, str(info.value)
        assert path.name in info.value.message_en

    check("series_mixed", _modified_copy(base, tmp_path / "other_series.dcm",
                                         SeriesInstanceUID=pydicom.uid.generate_uid()))
    check("series_localizer", _modified_copy(base, tmp_path / "scout.dcm",
                                             ImageType=["ORIGINAL", "PRIMARY", "LOCALIZER"]))
    check("series_orientation", _modified_copy(base, tmp_path / "sagittal.dcm",
                                               ImageOrientationPatient=[0, 1, 0, 0, 0, -1]))
    check("series_not_ct", _modified_copy(base, tmp_path / "mr.dcm", Modality="MR"))
    png = tmp_path / "photo.png"
    from PIL import Image

    Image.new("RGB", (64, 64), "white").save(png)
    check("series_not_dicom", png)
    with pytest.raises(SeriesError) as info:
        ordered_names([files[0], files[0]])
    assert info.value.code == "series_duplicate_position"


def _zip(folder: Path, target: Path, junk: bool = True) -> Path:
    with zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as zf:
        for path in sorted(folder.iterdir(), reverse=True):
            zf.write(path, f"study/series/{path.name}")
        if junk:
            zf.writestr("__MACOSX/study/._CT000003.dcm", b"junk")
            zf.writestr("study/.DS_Store", b"junk")
    return target


def test_zip_of_one_series(series_dir, tmp_path):
    archive = _zip(series_dir, tmp_path / "series.zip")
    assert ordered_names(archive) == expected_order(series_dir)
    assert ordered_names([archive.read_bytes()]) == expected_order(series_dir)


def test_zip_limits(series_dir, tmp_path, monkeypatch):
    archive = _zip(series_dir, tmp_path / "series.zip")
    monkeypatch.setattr(limits, "MAX_ZIP_ENTRIES", 10)
    with pytest.raises(SeriesError) as info:
        collect(archive)
    assert info.value.code == "series_too_many_files"
    monkeypatch.setattr(limits, "MAX_ZIP_ENTRIES", 1000)
    monkeypatch.setattr(limits, "MAX_SERIES_FILES", 29)
    with pytest.raises(SeriesError) as info:
        collect(archive)
    assert info.value.code == "series_too_many_files"
    with pytest.raises(SeriesError):
        collect(series_dir)
    monkeypatch.setattr(limits, "MAX_SERIES_FILES", 300)
    monkeypatch.setattr(limits, "MAX_SERIES_TOTAL_BYTES", 2_000_000)
    with pytest.raises(SeriesError) as info:
        collect(archive)
    assert info.value.code == "series_too_large"
    monkeypatch.setattr(limits, "MAX_SERIES_TOTAL_BYTES", 200 * 2**20)
    # A member that inflates 1000 times (8 MB of zeros) is refused before it is read.
    bomb = tmp_path / "bomb.zip"
    with zipfile.ZipFile(bomb, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("a.dcm", bytes(8 * 2**20))
    with pytest.raises(SeriesError) as info:
        collect(bomb)
    assert info.value.code == "series_zip_unsupported"
    # Not a zip at all but named like one: the gate reads content, so it is one (non-DICOM) slice.
    fake = tmp_path / "fake.zip"
    fake.write_bytes(b"not a zip")
    with pytest.raises(SeriesError) as info:
        ordered_names(fake)
    assert info.value.code == "series_not_dicom"
    broken = tmp_path / "broken.zip"
    broken.write_bytes(archive.read_bytes()[: archive.stat().st_size // 2])
    with pytest.raises(SeriesError) as info:
        collect(broken)
    assert info.value.code == "series_bad_zip"


def test_study_result_from_slice_scores():
    """max, top-3 mean, the threshold on the chosen one, the driving slice; out-of-scope slices do
    not count unless shown anyway."""
    from medhub.cards import get_card
    from medhub.series import SliceResult, study_result

    card = get_card("brain_hemorrhage")
    scores = [0.1, 0.9, 0.05, 0.3, 0.2, 0.95]
    in_scope = [True, True, True, True, True, False]
    slices = [SliceResult(i, f"s{i}", float(i), None, p, {"in_scope": ok}) for i, (p, ok) in
              enumerate(zip(scores, in_scope))]
    study = study_result(card, slices, "top3_mean")
    assert study["max_score"] == pytest.approx(0.9)
    assert study["top3_mean"] == pytest.approx((0.9 + 0.3 + 0.2) / 3)
    assert study["score"] == study["top3_mean"]
    assert study["driving_slice"]["index"] == 1 and study["top3_slices"] == [1, 3, 4]
    assert study["decision"] == ("hemorrhage" if study["score"] >= card.threshold else "normal")
    assert study["n_out_of_scope"] == 1
    anyway = study_result(card, slices, "max", show_anyway=True)
    assert anyway["score"] == pytest.approx(0.95) and anyway["driving_slice"]["index"] == 5
    none = study_result(card, [SliceResult(0, "s", 0.0, None, 0.9, {"in_scope": False})], "max")
    assert none["decision"] is None and none["driving_slice"] is None


@pytest.mark.slow
def test_cli_series_json(series_dir, tmp_path):
    """`predict --series --json` prints ONE object: study and slices in position order; each slice's
    score is the single-slice pipeline's P(hemorrhage) for that file."""
    out = run_cli("predict", "brain_hemorrhage", str(series_dir), "--series", "--json")
    assert out.returncode == 0, out.stderr[-3000:]
    lines = [line for line in out.stdout.splitlines() if line.strip()]
    assert len(lines) == 1, "one JSON object"
    summary = json.loads(lines[0])
    slices, study = summary["slices"], summary["study"]
    assert [Path(s["file"]).name for s in slices] == expected_order(series_dir)
    assert [s["index"] for s in slices] == list(range(30))
    assert all(b["z"] > a["z"] for a, b in zip(slices, slices[1:]))
    scores = [s["score"] for s in slices]
    counted = sorted((s["score"] for s in slices if s["in_scope"]), reverse=True)
    assert study["max_score"] == pytest.approx(counted[0], abs=1e-6)
    assert study["top3_mean"] == pytest.approx(sum(counted[:3]) / 3, abs=1e-6)
    assert study["aggregate"] == "top3_mean" and study["score"] == study["top3_mean"]
    assert study["decision"] == ("hemorrhage" if study["score"] >= summary["threshold"] else "normal")
    driver = study["driving_slice"]
    assert driver["score"] == max(s["score"] for s in slices if s["in_scope"])
    assert slices[driver["index"]]["file"] == driver["file"]
    assert "not a diagnosis" in summary["disclaimer"]
    assert len(set(scores)) > 1
    # The same number as one slice through the single-image path (the app's /predict_<id> path).
    from medhub import pipeline
    from medhub.cards import get_card

    one = pipeline.run(get_card("brain_hemorrhage"), series_dir / driver["file"])
    assert one.analysis.probabilities["hemorrhage"] == pytest.approx(driver["score"], abs=1e-5)

    # An error is one JSON object with its code, and a non-zero exit.
    bad = run_cli("predict", "brain_hemorrhage", str(series_dir), str(series_dir.parent / "cq500" / "CT000000.dcm"),
                  "--series", "--json")
    assert bad.returncode == 4
    error = json.loads(bad.stdout)
    assert error["error_code"] in {"series_mixed", "series_mixed_study"} and "CT000000.dcm" in error["error_en"]


@pytest.mark.server
def test_api_series_endpoint(app_url, series_dir, tmp_path):
    """`/predict_brain_hemorrhage_series`: files in, summary JSON and a per-slice plot out; the
    single-slice endpoint keeps its parameters and outputs."""
    from gradio_client import handle_file

    from tests.app_server import make_client

    client = make_client(app_url)
    api = client.view_api(return_format="dict", print_info=False)
    single = api["named_endpoints"]["/predict_brain_hemorrhage"]
    assert [p["parameter_name"] for p in single["parameters"]] == ["file", "window", "opacity", "show_anyway", "image_url"]
    assert len(single["returns"]) == 3
    series = api["named_endpoints"]["/predict_brain_hemorrhage_series"]
    assert [p["parameter_name"] for p in series["parameters"]] == ["files", "window", "aggregate", "show_anyway"]

    archive = _zip(series_dir, tmp_path / "series.zip")
    summary, plot = client.predict([handle_file(str(archive))], api_name="/predict_brain_hemorrhage_series")
    assert [Path(s["file"]).name for s in summary["slices"]] == expected_order(series_dir)
    assert summary["study"]["decision"] in {"hemorrhage", "normal"}
    assert summary["study"]["driving_slice"]["file"]
    # The plot carries one score per slice (and the threshold line).
    data = plot["value"]["data"] if "value" in plot else plot["data"]
    assert len(data) == 60

    files = [handle_file(str(p)) for p in sorted(series_dir.iterdir())[:4]]
    files.append(handle_file(str(series_dir.parent / "cq500" / "CT000000.dcm")))
    with pytest.raises(Exception) as info:
        client.predict(files, api_name="/predict_brain_hemorrhage_series")
    assert "CT000000.dcm" in str(info.value)


pytestmark = pytest.mark.data
