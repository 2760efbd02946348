"""DICOM decoding on real head-CT slices (../shared/data/dicom): HU, every CT window against the DICOM
formula computed here independently, JPEG Lossless, MONOCHROME1 inversion, no identifiers in meta."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pydicom
import pytest
from PIL import Image

from medhub.dicom import WINDOW_PRESETS, apply_window, read_dicom
from medhub.imaging import load_upload

UNCOMPRESSED = ("CT_Explicit_Little.dcm", "cq500/CT000000.dcm")
# Mid-head slices: a brain window shows tissue grey levels, not just black and white.
MID_HEAD = ("CT_Explicit_Little.dcm", "cq500/CT000000.dcm", "cq500/CT000121.dcm")
IDENTIFYING = (
    "PatientName",
    "PatientID",
    "PatientBirthDate",
    "InstitutionName",
    "AccessionNumber",
    "StudyDate",
    "SeriesDate",
    "StudyInstanceUID",
    "SeriesInstanceUID",
    "SOPInstanceUID",
    "ReferringPhysicianName",
)


# What ../shared/data/dicom holds (its README): one uncompressed sample slice and 11 CQ500 slices, of
# which all but CT000000 are JPEG Lossless. The loops below run over exactly these; a missing file is
# a failure, not a shorter loop. Without the data folder the tests skip (the `data_root` fixture).
N_SLICES = 12
N_JPEG_LOSSLESS = 10


@pytest.fixture(scope="session")
def dicom_dir(data_root) -> Path:
    folder = data_root / "dicom"
    assert folder.is_dir(), f"the data folder {data_root} has no dicom/ folder"
    return folder


def _slices(folder: Path) -> list[Path]:
    files = [folder / "CT_Explicit_Little.dcm", *sorted((folder / "cq500").glob("*.dcm"))]
    missing = [str(f) for f in files if not f.is_file()]
    assert not missing, f"missing DICOM files: {missing}"
    assert len(files) == N_SLICES, f"expected {N_SLICES} DICOM slices under {folder}, found {len(files)}"
    return files


@pytest.mark.data
def test_the_expected_slices_are_found(dicom_dir):
    names = [p.relative_to(dicom_dir).as_posix() for p in _slices(dicom_dir)]
    assert set(MID_HEAD) | set(UNCOMPRESSED) <= set(names)


def _stored_values(ds: pydicom.Dataset) -> np.ndarray:
    """Stored pixel values, read straight from the bytes for native files (independent of pydicom's
    decoders), through pydicom for compressed ones."""
    if ds.file_meta.TransferSyntaxUID.is_compressed:
        return ds.pixel_array.astype(np.int64)
    dtype = "<i2" if ds.PixelRepresentation == 1 else "<u2"
    raw = np.frombuffer(ds.PixelData, dtype=dtype)[: ds.Rows * ds.Columns].astype(np.int64)
    bits = int(ds.BitsStored)
    if ds.PixelRepresentation == 0:
        raw &= (1 << bits) - 1
    elif bits < 16:
        raw = ((raw & ((1 << bits) - 1)) ^ (1 << (bits - 1))) - (1 << (bits - 1))
    return raw.reshape(ds.Rows, ds.Columns)


def _expected_hu(ds: pydicom.Dataset) -> np.ndarray:
    slope = float(ds.get("RescaleSlope", 1))
    intercept = float(ds.get("RescaleIntercept", 0))
    return _stored_values(ds) * slope + intercept


def _dicom_window(x: np.ndarray, c: float, w: float) -> np.ndarray:
    """PS3.3 C.11.2.1.2.1, written out independently of medhub.dicom."""
    x = x.astype(np.float64)
    low = x <= c - 0.5 - (w - 1) / 2
    high = x > c - 0.5 + (w - 1) / 2
    y = ((x - (c - 0.5)) / (w - 1) + 0.5) * 255
    y = np.select([low, high], [0.0, 255.0], y)
    return np.rint(y).astype(np.uint8)


@pytest.mark.data
def test_hu_is_stored_times_slope_plus_intercept(dicom_dir):
    for path in _slices(dicom_dir):
        ds = pydicom.dcmread(path)
        dslice = read_dicom(path)
        assert dslice.hu is not None and dslice.hu.dtype == np.float32
        np.testing.assert_allclose(dslice.hu, _expected_hu(ds), atol=1e-3, err_msg=path.name)


@pytest.mark.data
def test_uncompressed_files_are_read_independently(dicom_dir):
    for name in UNCOMPRESSED:
        ds = pydicom.dcmread(dicom_dir / name)
        assert not ds.file_meta.TransferSyntaxUID.is_compressed
        np.testing.assert_array_equal(_stored_values(ds), ds.pixel_array)


@pytest.mark.data
@pytest.mark.parametrize("preset", sorted(WINDOW_PRESETS))
def test_every_preset_matches_the_dicom_formula(dicom_dir, preset):
    c, w = WINDOW_PRESETS[preset]
    for path in _slices(dicom_dir):
        ds = pydicom.dcmread(path)
        result = load_upload(path, allow_dicom=True, window=preset)
        assert result.rgb.dtype == np.uint8 and result.rgb.shape == (ds.Rows, ds.Columns, 3)
        assert (result.rgb[..., 0] == result.rgb[..., 1]).all() and (
            result.rgb[..., 1] == result.rgb[..., 2]
        ).all()
        np.testing.assert_array_equal(
            result.rgb[..., 0], _dicom_window(_expected_hu(ds), c, w), err_msg=path.name
        )
        assert result.meta["window"].startswith(preset)


@pytest.mark.data
def test_file_window_uses_the_first_stored_value(dicom_dir):
    for path in _slices(dicom_dir):
        ds = pydicom.dcmread(path)
        center, width = ds.WindowCenter, ds.WindowWidth
        c = float(center[0] if isinstance(center, pydicom.multival.MultiValue) else center)
        w = float(width[0] if isinstance(width, pydicom.multival.MultiValue) else width)
        result = load_upload(path, allow_dicom=True, window="file")
        np.testing.assert_array_equal(result.rgb[..., 0], _dicom_window(_expected_hu(ds), c, w))


@pytest.mark.data
def test_jpeg_lossless_slices_decode(dicom_dir):
    lossless = [
        p
        for p in _slices(dicom_dir)
        if pydicom.dcmread(p, stop_before_pixels=True).file_meta.TransferSyntaxUID
        in ("1.2.840.10008.1.2.4.70", "1.2.840.10008.1.2.4.57")
    ]
    assert len(lossless) == N_JPEG_LOSSLESS
    for path in lossless:
        result = load_upload(path, allow_dicom=True)
        assert "JPEG Lossless" in result.meta["transfer_syntax"]
        assert result.hu.min() < -500 and result.hu.max() > 0  # air and tissue/bone present


@pytest.mark.data
def test_brain_window_of_a_real_head_slice_has_tissue(dicom_dir):
    for name in MID_HEAD:
        gray = load_upload(dicom_dir / name, allow_dicom=True, window="brain").rgb[..., 0]
        between = ((gray > 0) & (gray < 255)).mean()
        assert between > 0.1, (name, between)
        assert (gray == 0).mean() > 0.2  # air around the head


@pytest.mark.data
def test_monochrome1_is_inverted(dicom_dir):
    path = dicom_dir / "CT_Explicit_Little.dcm"
    ds = pydicom.dcmread(path)
    ds.PhotometricInterpretation = "MONOCHROME1"
    buf = io.BytesIO()
    ds.save_as(buf)
    for preset in WINDOW_PRESETS:
        normal = load_upload(path, allow_dicom=True, window=preset).rgb
        inverted = load_upload(buf.getvalue(), allow_dicom=True, window=preset)
        assert inverted.meta["photometric"] == "MONOCHROME1"
        np.testing.assert_array_equal(inverted.rgb, 255 - normal)


@pytest.mark.data
def test_meta_has_no_patient_identifiers(dicom_dir):
    for path in _slices(dicom_dir):
        ds = pydicom.dcmread(path, stop_before_pixels=True)
        result = load_upload(path, allow_dicom=True)
        text = repr(result.meta)
        for keyword in IDENTIFYING:
            value = str(ds.get(keyword, "") or "")
            if len(value) >= 3:
                assert value not in text, (path.name, keyword)
        for key in result.meta:
            assert "patient" not in key.lower() and "uid" not in key.lower() and "date" not in key.lower()
        assert result.meta["modality"] == "CT" and result.meta["rows"] == ds.Rows


def test_apply_window_edges():
    c, w = 40.0, 80.0
    x = np.array([-1000.0, 0.0, 0.001, 39.5, 79.0, 79.001, 3000.0])
    np.testing.assert_array_equal(apply_window(x, c, w), _dicom_window(x, c, w))
    assert apply_window(np.array([0.0]), c, w)[0] == 0
    assert apply_window(np.array([79.0]), c, w)[0] == 255
    # Width 1 is a threshold at c - 0.5.
    np.testing.assert_array_equal(apply_window(np.array([9.5, 9.6]), 10, 1), [0, 255])
    with pytest.raises(ValueError):
        apply_window(x, c, 0.5)


@pytest.mark.data
def test_render_every_preset_for_a_look(dicom_dir, artifacts_dir):
    path = dicom_dir / "CT_Explicit_Little.dcm"
    out = artifacts_dir / "dicom_windows"
    out.mkdir(exist_ok=True)
    for preset in (*WINDOW_PRESETS, "file"):
        result = load_upload(path, allow_dicom=True, window=preset)
        target = out / f"CT_Explicit_Little_{preset}.png"
        Image.fromarray(result.rgb).save(target)
        assert target.stat().st_size > 1000


# --- issue 12: deflated, deeply nested and oversized DICOM ------------------------------------


def _code(data: bytes) -> str | None:
    from medhub.errors import InputError

    try:
        load_upload(data, allow_dicom=True)
    except InputError as err:
        return err.code
    return None


def test_deflated_dicom_decodes_like_its_explicit_twin():
    from medhub.studies.malformed_corpus import _dataset, _save, dicom_deflated

    deflated = load_upload(dicom_deflated(), allow_dicom=True)
    plain = load_upload(_save(_dataset(), "1.2.840.10008.1.2.1"), allow_dicom=True)
    np.testing.assert_array_equal(deflated.hu, plain.hu)
    assert deflated.meta["transfer_syntax"] == "Deflated Explicit VR Little Endian"


def test_deflated_corrupt_and_truncated_are_typed():
    """Both escaped as zlib.error from pydicom before."""
    from medhub.studies.malformed_corpus import dicom_deflate_corrupt, dicom_deflate_truncated

    assert _code(dicom_deflate_corrupt()) == "dicom_invalid"
    assert _code(dicom_deflate_truncated()) == "truncated"


def test_deflate_bomb_is_refused_before_it_is_all_inflated(monkeypatch):
    """314 KB that inflated to 300 MB (server memory +1 GB). Refused at the ceiling: with the
    inflater instrumented, no more than the ceiling + 1 byte is ever produced."""
    import zlib as zlib_module

    from medhub import dicom, limits
    from medhub.studies.malformed_corpus import dicom_deflate_bomb

    data = dicom_deflate_bomb(300)
    assert len(data) < 400_000
    produced = []
    real = zlib_module.decompressobj

    class Counting:
        def __init__(self, *args):
            self._inner = real(*args)

        def decompress(self, chunk, max_length=0):
            out = self._inner.decompress(chunk, max_length)
            produced.append(len(out))
            return out

        def __getattr__(self, name):
            return getattr(self._inner, name)

    monkeypatch.setattr(dicom.zlib, "decompressobj", Counting)
    assert _code(data) == "inflated_too_large"
    assert sum(produced) <= limits.MAX_INFLATED_BYTES + 1


def test_3000_nested_sequences_are_too_deep_not_a_recursion_error():
    from medhub.studies.malformed_corpus import dicom_nested

    assert _code(dicom_nested(3000)) == "too_deep"
    assert _code(dicom_nested(40)) == "too_deep"  # parses, but deeper than MAX_SEQUENCE_DEPTH
    assert _code(dicom_nested(5)) is None


def test_dicom_element_and_fragment_counts_are_bounded():
    from medhub.studies.malformed_corpus import dicom_many_elements, dicom_many_fragments

    assert _code(dicom_many_elements(600_000)) == "too_complex"
    assert _code(dicom_many_elements(1000)) is None
    assert _code(dicom_many_fragments(20_000)) == "too_complex"
    assert _code(dicom_many_fragments(20)) is None


def test_dicom_jpeg_frames_get_the_image_checks():
    from medhub.studies.malformed_corpus import dicom_encapsulated, jpeg_scan_bomb

    bomb = dicom_encapsulated("1.2.840.10008.1.2.4.50", [jpeg_scan_bomb(2048, 4000)], rows=2048, cols=2048)
    assert _code(bomb) == "too_complex"


def test_dicom_module_does_not_import_imaging():
    """The old imaging <-> dicom circle: dicom depends on errors and limits only."""
    import ast

    import medhub.dicom

    tree = ast.parse(Path(medhub.dicom.__file__).read_text(encoding="utf-8"))
    imported = {
        node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom) and node.module
    } | {alias.name for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names}
    assert "medhub.imaging" not in imported
    assert {"medhub.errors", "medhub.limits"} & imported


def test_windowing_in_blocks_matches_one_pass():
    """apply_window works in blocks (bounded memory); the result is the same as one pass."""
    from medhub import dicom

    rng = np.random.default_rng(3)
    hu = rng.normal(40, 300, size=(700, 900)).astype(np.float32)
    x = hu.astype(np.float64)
    c, w = 40.0 - 0.5, 80.0
    half = (w - 1) / 2
    ramp = ((x - c) / (w - 1) + 0.5) * 255
    expected = np.rint(np.clip(np.where(x <= c - half, 0, np.where(x > c + half, 255, ramp)), 0, 255))
    np.testing.assert_array_equal(dicom.apply_window(hu, 40.0, 80.0), expected.astype(np.uint8))
