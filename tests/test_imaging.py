"""The upload gate: every item of the malformed corpus gives its exact code, odd-but-valid images decode
correctly (EXIF rotation, 16-bit scaling, alpha, CMYK), and pydicom's bundled files never escape as
anything but a decoded image or an `InputError`."""

from __future__ import annotations

import io
import os
import re
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from medhub import imaging, limits
from medhub.imaging import DecodedImage, InputError, load_upload
from scripts.malformed_corpus import _exif_rotated_jpeg, _gray16_png, _noise_image, build_corpus

HANGUL = re.compile(r"[\uac00-\ud7a3]")


@pytest.fixture(scope="session")
def corpus(tmp_path_factory) -> list[tuple[str, Path, str | None]]:
    return build_corpus(tmp_path_factory.mktemp("malformed"))


def _outcome(source, **kwargs) -> tuple[str | None, DecodedImage | None]:
    try:
        return None, load_upload(source, **kwargs)
    except InputError as err:
        return err.code, None


def test_corpus_is_big_and_covers_the_categories(corpus):
    names = [name for name, _, _ in corpus]
    assert len(corpus) >= 150
    assert len(set(names)) == len(names)
    # The same bytes on every run (no generated UIDs or time stamps): a code cannot flip between runs.
    from scripts.malformed_corpus import corpus_bytes

    assert [data for _, data, _ in corpus_bytes()] == [path.read_bytes() for _, path, _ in corpus[:-1]]
    codes = {code for _, _, code in corpus}
    for needed in (
        "empty",
        "too_large",
        "unknown_format",
        "truncated",
        "too_many_pixels",
        "too_many_frames",
        "dicom_no_pixels",
        "dicom_unsupported_syntax",
        "dicom_too_large",
        "too_small",
        "inflated_too_large",
        "too_complex",
        "too_deep",
        None,
    ):
        assert needed in codes, needed
    assert sum(code is None for code in codes) == 1
    assert sum(1 for _, _, code in corpus if code is None) >= 15
    # Every supported format has broken and valid members; DICOM in several transfer syntaxes.
    kinds = {"png", "jpg", "gif", "tif", "bmp", "webp", "dcm"}
    for ext in kinds:
        of_kind = [code for name, _, code in corpus if name.endswith("." + ext)]
        assert None in of_kind and len(set(of_kind)) >= 3, ext
    valid_dicom = [name for name, _, code in corpus if name.startswith("dicom_ok_") and code is None]
    assert len(valid_dicom) >= 10, valid_dicom


def test_every_corpus_item_gives_its_exact_code(corpus):
    wrong = []
    for name, path, expected in corpus:
        code, result = _outcome(path, allow_dicom=True)
        if code != expected:
            wrong.append(f"{name}: expected {expected}, got {code}")
        if result is not None:
            rgb = result.rgb
            if not (
                rgb.ndim == 3 and rgb.shape[2] == 3 and rgb.dtype == np.uint8 and min(rgb.shape[:2]) >= 16
            ):
                wrong.append(f"{name}: bad array {rgb.shape} {rgb.dtype}")
            if result.kind not in ("image", "dicom"):
                wrong.append(f"{name}: kind {result.kind}")
    assert not wrong, "\n".join(wrong)


def test_bytes_and_path_give_the_same_answer(corpus):
    for name, path, expected in corpus:
        if name == "too_large.png":
            continue  # sparse on disk; reading it into memory is the point of the other test
        code, result = _outcome(path.read_bytes(), allow_dicom=True)
        assert code == expected, name


def test_dicom_is_refused_where_not_allowed(corpus):
    dicom_items = [(n, p) for n, p, _ in corpus if n.startswith("dicom_")]
    assert len(dicom_items) >= 8
    for name, path in dicom_items:
        code, _ = _outcome(path, allow_dicom=False)
        assert code == "not_allowed_dicom", name


def test_format_is_decided_by_content_not_name(corpus):
    by_name = {name: path for name, path, _ in corpus}
    result = load_upload(by_name["ok_wrong_extension.gif"])
    assert result.format == "PNG"
    assert load_upload(by_name["dicom_valid.dcm"], allow_dicom=True).format == "DICOM"


def test_byte_limit_from_the_module_setting(monkeypatch, tmp_path):
    png = io.BytesIO()
    _noise_image(64, 64).save(png, "PNG")
    data = png.getvalue()
    assert load_upload(data).rgb.shape == (64, 64, 3)
    monkeypatch.setattr(limits, "MAX_UPLOAD_BYTES", len(data) - 1)
    path = tmp_path / "a.png"
    path.write_bytes(data)
    for source in (data, path):
        with pytest.raises(InputError) as info:
            load_upload(source)
        assert info.value.code == "too_large"


def test_pixel_limit_from_the_module_setting(monkeypatch):
    png = io.BytesIO()
    _noise_image(100, 100).save(png, "PNG")
    monkeypatch.setattr(limits, "MAX_PIXELS", 100 * 100 - 1)
    with pytest.raises(InputError) as info:
        load_upload(png.getvalue())
    assert info.value.code == "too_many_pixels"


def test_exif_orientation_is_applied():
    result = load_upload(_exif_rotated_jpeg())
    # Stored 64 wide x 32 high with a white block top-left; orientation 6 shows it 32 x 64,
    # block at the top-right.
    assert result.rgb.shape == (64, 32, 3)
    assert result.rgb[:6, -6:].mean() > 200
    assert result.rgb[:6, :6].mean() < 50
    assert result.meta["exif_rotated"] is True


def test_16bit_is_stretched_from_its_own_range():
    result = load_upload(_gray16_png())
    row = result.rgb[0, :, 0].astype(np.int32)
    source = np.linspace(1000, 5000, 64).astype(np.uint16).astype(np.float64)
    expected = np.rint((source - 1000.0) * 255.0 / 4000.0).astype(np.int32)
    np.testing.assert_array_equal(row, expected)
    assert row[0] == 0 and row[-1] == 255
    assert (result.rgb[..., 0] == result.rgb[..., 2]).all()


def test_alpha_is_composited_on_black():
    rgba = np.zeros((20, 20, 4), dtype=np.uint8)
    rgba[..., 1] = 200
    rgba[:, :10, 3] = 0
    rgba[:, 10:, 3] = 255
    buf = io.BytesIO()
    Image.fromarray(rgba, "RGBA").save(buf, "PNG")
    rgb = load_upload(buf.getvalue()).rgb
    assert (rgb[:, :10] == 0).all()
    assert (rgb[:, 10:, 1] == 200).all() and (rgb[:, 10:, 0] == 0).all()


def test_cmyk_jpeg_keeps_its_colours():
    source = _noise_image(64, 64)
    buf = io.BytesIO()
    source.convert("CMYK").save(buf, "JPEG", quality=95)
    rgb = load_upload(buf.getvalue()).rgb.astype(np.float64)
    # JPEG loss aside, colours must come back (an inverted-CMYK bug would be off by ~128).
    assert np.abs(rgb - np.asarray(source, dtype=np.float64)).mean() < 20


def test_error_messages_are_bilingual():
    for code, (en, ko) in imaging._MESSAGES.items():
        assert en and HANGUL.search(ko), code
    err = load_upload_error(b"")
    assert err.code == "empty"
    assert str(err) == f"{err.message_en} / {err.message_ko}"
    assert err.message("ko") == err.message_ko and err.message("en") == err.message_en
    assert HANGUL.search(err.message("ko-KR"))


def load_upload_error(source, **kwargs) -> InputError:
    with pytest.raises(InputError) as info:
        load_upload(source, **kwargs)
    return info.value


def test_unreadable_paths(tmp_path):
    assert load_upload_error(tmp_path).code == "unreadable"
    assert load_upload_error(tmp_path / "missing.png").code == "unreadable"
    with pytest.raises(TypeError):
        load_upload(12345)  # type: ignore[arg-type]


def test_window_and_frame_arguments(corpus):
    path = {name: p for name, p, _ in corpus}["dicom_valid.dcm"]
    assert load_upload_error(path, allow_dicom=True, window="lung").code == "bad_window"
    assert load_upload_error(path, allow_dicom=True, window=(40, 0)).code == "bad_window"
    assert load_upload_error(path, allow_dicom=True, frame=1).code == "dicom_bad_frame"
    assert load_upload_error(path, allow_dicom=True, frame=-1).code == "dicom_bad_frame"
    custom = load_upload(path, allow_dicom=True, window=(0.0, 4000.0))
    assert custom.meta["window"].startswith("custom")


# --- pydicom's own bundled test files (never get_testdata_files(): it downloads) ---------------


def _pydicom_test_dir() -> Path:
    from pydicom.data import get_testdata_file

    ct = get_testdata_file("CT_small.dcm")
    if ct is None:
        pytest.skip("pydicom test files not installed")
    return Path(str(ct)).parent


def test_pydicom_bundled_files_decode_or_fail_typed():
    folder = _pydicom_test_dir()
    files = sorted(p for p in folder.iterdir() if p.suffix == ".dcm")
    assert len(files) >= 2
    decoded = {}
    for path in files:
        code, result = _outcome(path, allow_dicom=True)
        assert (code is None) != (result is None)
        if result is not None:
            assert result.rgb.dtype == np.uint8 and result.rgb.shape[2] == 3
            decoded[path.name] = result
    assert "CT_small.dcm" in decoded and "MR_small.dcm" in decoded
    ct = decoded["CT_small.dcm"]
    assert ct.kind == "dicom" and ct.hu is not None and ct.meta["modality"] == "CT"


def test_multiframe_dicom_frames_differ():
    from pydicom.data import get_testdata_file

    path = get_testdata_file("examples_ybr_color.dcm")  # 30 colour frames
    if path is None or not os.path.exists(path):
        pytest.skip("examples_ybr_color.dcm not installed")
    first = load_upload(path, allow_dicom=True, frame=0)
    later = load_upload(path, allow_dicom=True, frame=15)
    assert first.meta["frame"] == "1 of 30" and later.meta["frame"] == "16 of 30"
    assert not np.array_equal(first.rgb, later.rgb)
    assert load_upload_error(path, allow_dicom=True, frame=30).code == "dicom_bad_frame"


# --- issue 12: the six cases, each refused with its own code, and the decode budget ------------


def test_jpeg_scan_bomb_is_refused_before_decoding():
    """80 KB, 2048 x 2048, 4,000 scans: took 3.5-8.9 s to decode; the scan count x pixels is
    over the budget, so it is refused from the marker count (no decoding)."""
    from scripts.malformed_corpus import jpeg_scan_bomb

    data = jpeg_scan_bomb(2048, 4000)
    assert len(data) < 100_000
    err = load_upload_error(data)
    assert err.code == "too_complex" and isinstance(err, imaging.BudgetError)
    assert "4,001 JPEG scans" in err.message_en  # the first (DC) scan + 4,000 and HANGUL.search(err.message_ko)


def test_jpeg_scans_within_the_budget_decode():
    from scripts.malformed_corpus import jpeg_scan_bomb

    result = load_upload(jpeg_scan_bomb(1024, 100))
    assert result.rgb.shape == (1024, 1024, 3) and int(result.rgb.mean()) == 128


def test_scan_budget_scales_with_the_pixel_count(monkeypatch):
    from scripts.malformed_corpus import jpeg_scan_bomb

    data = jpeg_scan_bomb(1024, 100)
    monkeypatch.setattr(limits, "MAX_JPEG_SCAN_PIXELS", 1024 * 1024 * 50)
    assert load_upload_error(data).code == "too_complex"


@pytest.mark.parametrize("progressive", [False, True])
def test_jpeg_cut_and_closed_with_an_eoi_is_truncated(progressive):
    """Cut at a third of its scan data, EOI appended: libjpeg pads the rest with grey and Pillow
    accepts it; the gate's strict entropy pass refuses it."""
    from scripts.malformed_corpus import _noise_image, jpeg_cut_with_eoi

    assert load_upload_error(jpeg_cut_with_eoi(progressive)).code == "truncated"
    whole = io.BytesIO()
    _noise_image(320, 240).save(whole, "JPEG", quality=90, progressive=progressive)
    assert load_upload(whole.getvalue()).rgb.shape == (240, 320, 3)


@pytest.mark.parametrize(
    ("builder", "code"),
    [
        ("png_ztxt_bomb.png", "inflated_too_large"),
        ("png_iccp_bomb.png", "inflated_too_large"),
        ("png_many_chunks.png", "too_complex"),
        ("png_many_idat.png", "too_complex"),
        ("jpeg_many_segments.jpg", "too_complex"),
        ("gif_800000_frames.gif", "too_many_frames"),
        ("gif_many_extensions.gif", "too_complex"),
        ("tiff_many_pages.tif", "too_many_frames"),
        ("tiff_many_tags.tif", "too_complex"),
        ("tiff_huge_tag_values.tif", "too_complex"),
        ("tiff_many_strips.tif", "too_complex"),
        ("tiff_huge_tile.tif", "too_many_pixels"),
        ("bmp_rle_delta_bomb.bmp", "too_complex"),
    ],
)
def test_work_per_byte_is_bounded_per_format(corpus, builder, code):
    """Each of these took seconds (PNG with 1.5 M chunks: 9.6 s of CPU; JPEG with 5 M COM segments:
    13 s; BMP RLE delta runs: 6.8 s) or hundreds of MB before the budget."""
    path = {name: p for name, p, _ in corpus}[builder]
    err = load_upload_error(path, allow_dicom=True)
    assert err.code == code
    assert err.message_en and HANGUL.search(err.message_ko)


def test_budget_errors_are_input_errors_with_bilingual_messages():
    from medhub.errors import BUDGET_CODES, BudgetError, MedhubError

    assert issubclass(BudgetError, InputError) and issubclass(InputError, MedhubError)
    assert imaging.InputError is InputError  # old import path still works
    params = {"limit_mb": 64, "what": "x", "limit_s": 2}
    for code in BUDGET_CODES:
        err = InputError.make(code, **params)
        assert isinstance(err, BudgetError) and err.code == code
        assert HANGUL.search(err.message_ko) and str(err) == f"{err.message_en} / {err.message_ko}"


def test_cpu_budget_stops_a_python_level_parse(monkeypatch):
    """The CPU-time budget is checked on the reads decoders make: with a budget of zero, a PNG
    walked chunk by chunk by Pillow is stopped as too slow."""
    from scripts.malformed_corpus import _png, _png_chunk

    monkeypatch.setattr(limits, "MAX_DECODE_CPU_S", 0.0)
    err = load_upload_error(_png(32, 32, _png_chunk(b"zzZz", b"") * 5000))
    assert err.code == "too_slow"


def test_read_budget_is_a_typed_error(monkeypatch):
    from scripts.malformed_corpus import _png

    monkeypatch.setattr(limits, "MAX_READ_CALLS", 3)
    assert load_upload_error(_png(32, 32, idat_parts=50)).code == "too_complex"


def test_exif_orientation_is_read_without_parsing_every_value():
    """A 1.6 MB eXIf block with 400,000 values decodes (only IFD0's orientation is read)."""
    from scripts.malformed_corpus import _png_with_huge_exif

    assert load_upload(_png_with_huge_exif()).rgb.shape == (48, 64, 3)


@pytest.mark.parametrize("orientation", range(1, 9))
def test_every_exif_orientation_matches_pillow(orientation):
    from PIL import ImageOps

    from scripts.malformed_corpus import _jpeg_with_exif_orientation

    data = _jpeg_with_exif_orientation(orientation)
    expected = np.asarray(ImageOps.exif_transpose(Image.open(io.BytesIO(data))).convert("RGB"))
    np.testing.assert_array_equal(load_upload(data).rgb, expected)


def test_alpha_compositing_in_integers_equals_the_float_formula():
    c = np.arange(256, dtype=np.uint8)[:, None].repeat(256, axis=1)
    a = np.arange(256, dtype=np.uint8)[None, :].repeat(256, axis=0)
    rgba = np.stack([c, c, c, a], axis=2)
    expected = np.rint(c.astype(np.float64) * a / 255.0).astype(np.uint8)
    out = imaging._composite_on_black(rgba)
    assert (out == expected[:, :, None]).all()
