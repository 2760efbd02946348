"""A corpus of hostile, broken and odd-but-valid uploads, generated in code (no binary fixtures).

`build_corpus(tmpdir)` writes every file and returns `(name, path, expected_code)`; expected_code is
the `InputError.code` that `medhub.imaging.load_upload(path, allow_dicom=True)` must raise, or None
when the file must decode. Items whose name starts with "dicom_" carry a DICOM signature: with
`allow_dicom=False` they must give "not_allowed_dicom" instead. Used by tests/test_imaging.py and by
the API tests (the same files must give the same codes over HTTP).
"""

from __future__ import annotations

import io
import struct
import zlib
from pathlib import Path

import numpy as np
from PIL import Image

CorpusItem = tuple[str, Path, str | None]

# Byte limit the "too large" item is made for (the default of imaging.MAX_UPLOAD_BYTES).
DEFAULT_MAX_UPLOAD_BYTES = 20 * 1024 * 1024


def _noise_image(w: int = 96, h: int = 80, mode: str = "RGB", seed: int = 0) -> Image.Image:
    rng = np.random.default_rng(seed)
    arr = rng.integers(0, 256, size=(h, w, 3), dtype=np.uint8)
    # Smooth structure plus noise: big enough to leave data after every cut point, still realistic.
    arr[:, :, 0] = np.linspace(0, 255, w, dtype=np.uint8)[None, :]
    return Image.fromarray(arr, "RGB").convert(mode)


def _encode(img: Image.Image, fmt: str, **kwargs) -> bytes:
    buf = io.BytesIO()
    img.save(buf, format=fmt, **kwargs)
    return buf.getvalue()


def _png_chunk(kind: bytes, payload: bytes) -> bytes:
    return struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", zlib.crc32(kind + payload))


def _png_header_only(width: int, height: int, bit_depth: int = 8, color_type: int = 0) -> bytes:
    """A PNG whose IHDR (with a correct CRC) claims `width` x `height`; one tiny IDAT; IEND."""
    ihdr = struct.pack(">IIBBBBB", width, height, bit_depth, color_type, 0, 0, 0)
    idat = zlib.compress(b"\x00" * 64)
    return (
        b"\x89PNG\r\n\x1a\n"
        + _png_chunk(b"IHDR", ihdr)
        + _png_chunk(b"IDAT", idat)
        + _png_chunk(b"IEND", b"")
    )


def _png_bomb(side: int = 30000) -> bytes:
    """A real, complete 1-bit `side` x `side` PNG of zeros: about 100 kB compressed."""
    row = b"\x00" * (1 + (side + 7) // 8)  # filter byte + packed bits
    comp = zlib.compressobj(9)
    parts = [comp.compress(row * 1000) for _ in range(side // 1000)]
    parts.append(comp.compress(row * (side % 1000)))
    parts.append(comp.flush())
    ihdr = struct.pack(">IIBBBBB", side, side, 1, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + _png_chunk(b"IHDR", ihdr)
        + _png_chunk(b"IDAT", b"".join(parts))
        + _png_chunk(b"IEND", b"")
    )


# One 1x1 image block (descriptor + LZW data) for hand-made GIFs; the classic smallest GIF frame.
_GIF_FRAME_1X1 = b",\x00\x00\x00\x00\x01\x00\x01\x00\x00\x02\x02D\x01\x00"
_GIF_GCE = b"!\xf9\x04\x00\x01\x00\x00\x00"  # graphic control extension, 10 ms delay


def _gif(width: int, height: int, frames: int) -> bytes:
    screen = struct.pack("<HHBBB", width, height, 0x80, 0, 0) + b"\x00\x00\x00\xff\xff\xff"
    return b"GIF89a" + screen + (_GIF_GCE + _GIF_FRAME_1X1) * frames + b";"


def _tiff_claiming(width: int, height: int) -> bytes:
    """A little-endian baseline TIFF whose IFD claims `width` x `height` 8-bit gray, 16 data bytes."""
    entries = [
        (256, 4, 1, width),  # ImageWidth LONG
        (257, 4, 1, height),  # ImageLength LONG
        (258, 3, 1, 8),  # BitsPerSample SHORT
        (259, 3, 1, 1),  # Compression none
        (262, 3, 1, 1),  # Photometric min-is-black
        (273, 4, 1, 0),  # StripOffsets, patched below
        (277, 3, 1, 1),  # SamplesPerPixel
        (278, 4, 1, height),  # RowsPerStrip
        (279, 4, 1, 16),  # StripByteCounts
    ]
    ifd_size = 2 + 12 * len(entries) + 4
    data_offset = 8 + ifd_size
    out = bytearray(b"II*\x00" + struct.pack("<I", 8) + struct.pack("<H", len(entries)))
    for tag, typ, count, value in entries:
        if tag == 273:
            value = data_offset
        if typ == 3:
            out += struct.pack("<HHIHH", tag, typ, count, value, 0)
        else:
            out += struct.pack("<HHII", tag, typ, count, value)
    out += struct.pack("<I", 0) + b"\x00" * 16
    return bytes(out)


def _jpeg_claiming(width: int, height: int) -> bytes:
    data = bytearray(_encode(_noise_image(32, 32), "JPEG", quality=80))
    sof = data.find(b"\xff\xc0")
    data[sof + 5 : sof + 9] = struct.pack(">HH", height, width)
    return bytes(data)


def _bmp_claiming(width: int, height: int) -> bytes:
    header = struct.pack("<2sIHHI", b"BM", 14 + 40 + 64, 0, 0, 54)
    dib = struct.pack("<IiiHHIIiiII", 40, width, height, 1, 24, 0, 64, 2835, 2835, 0, 0)
    return header + dib + b"\x00" * 64


def _webp_claiming(width: int, height: int) -> bytes:
    data = bytearray(_encode(_noise_image(64, 64), "WEBP", quality=80))
    assert data[12:16] == b"VP8 ", "expected a simple lossy WebP"
    # VP8 key frame: 3-byte tag, start code 9d 01 2a, then 14-bit width and height.
    data[26:30] = struct.pack("<HH", width & 0x3FFF, height & 0x3FFF)
    return bytes(data)


def _dicom(
    rows: int = 64,
    cols: int = 64,
    *,
    pixels: bytes | None = None,
    with_pixels: bool = True,
    with_image_attrs: bool = True,
    tsyntax: str = "1.2.840.10008.1.2.1",
    encapsulated: bool = False,
    file_format: bool = True,
) -> bytes:
    """A small CT-like DICOM written by pydicom (with a fake patient name to check meta filtering)."""
    from pydicom.dataset import Dataset, FileMetaDataset
    from pydicom.encaps import encapsulate
    from pydicom.filebase import DicomBytesIO
    from pydicom.filewriter import write_dataset
    from pydicom.uid import UID, CTImageStorage, generate_uid

    ds = Dataset()
    ds.SOPClassUID = CTImageStorage
    ds.SOPInstanceUID = generate_uid()
    ds.PatientName = "Corpus^Test"
    ds.PatientID = "CORPUS-0001"
    ds.Modality = "CT"
    if with_image_attrs:
        ds.Rows, ds.Columns = rows, cols
        ds.SamplesPerPixel = 1
        ds.PhotometricInterpretation = "MONOCHROME2"
        ds.BitsAllocated, ds.BitsStored, ds.HighBit = 16, 12, 11
        ds.PixelRepresentation = 0
        ds.RescaleSlope, ds.RescaleIntercept = 1, -1024
    if with_pixels:
        if pixels is None:
            ramp = np.linspace(0, 4095, rows * cols, dtype=np.uint16)
            pixels = ramp.tobytes()
        ds.PixelData = encapsulate([pixels]) if encapsulated else pixels
        ds["PixelData"].VR = "OB" if encapsulated else "OW"
    if not file_format:
        fp = DicomBytesIO()
        fp.is_little_endian, fp.is_implicit_VR = True, True
        write_dataset(fp, ds)
        return fp.getvalue()
    ds.file_meta = FileMetaDataset()
    ds.file_meta.MediaStorageSOPClassUID = CTImageStorage
    ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
    ds.file_meta.TransferSyntaxUID = UID(tsyntax)
    if encapsulated:
        ds["PixelData"].is_undefined_length = True
    buf = io.BytesIO()
    ds.save_as(buf, implicit_vr=False, little_endian=True, enforce_file_format=True)
    return buf.getvalue()


def _dicom_rle_truncated() -> bytes:
    from pydicom import dcmread
    from pydicom.uid import RLELossless

    ds = dcmread(io.BytesIO(_dicom(64, 64)))
    arr = np.tile(np.arange(64, dtype=np.uint16) * 60, (64, 1)) + np.arange(64, dtype=np.uint16)[:, None]
    ds.compress(RLELossless, arr)
    buf = io.BytesIO()
    ds.save_as(buf, enforce_file_format=True)
    data = buf.getvalue()
    return data[: len(data) - len(data) // 4]


def _exif_rotated_jpeg() -> bytes:
    """64 wide x 32 high, white marker at the top-left, stored with EXIF orientation 6.

    Orientation 6 means "rotate 90 degrees clockwise to display": the displayed image is 32 x 64
    and the marker lands at the top-right.
    """
    arr = np.zeros((32, 64, 3), dtype=np.uint8)
    arr[:8, :8] = 255
    img = Image.fromarray(arr)
    exif = Image.Exif()
    exif[0x0112] = 6
    return _encode(img, "JPEG", quality=95, exif=exif.tobytes())


def _gray16_png() -> bytes:
    ramp = np.tile(np.linspace(1000, 5000, 64).astype(np.uint16), (48, 1))
    return _encode(Image.fromarray(ramp), "PNG")


def _truncations(name: str, data: bytes) -> list[tuple[str, bytes, str]]:
    cuts = {"q1": len(data) // 4, "half": len(data) // 2, "q3": 3 * len(data) // 4, "minus1": len(data) - 1}
    return [(f"truncated_{name}_{label}", data[:cut], "truncated") for label, cut in cuts.items()]


def corpus_bytes() -> list[tuple[str, bytes, str | None]]:
    """Every item as (file name, content, expected code), except those made on disk."""
    items: list[tuple[str, bytes, str | None]] = [
        ("empty.png", b"", "empty"),
        ("one_byte.png", b"\x89", "unknown_format"),
        ("signature_only.png", b"\x89PNG\r\n\x1a\n", "truncated"),
        ("jpeg_soi_only.jpg", b"\xff\xd8\xff", "truncated"),
    ]

    noise = _noise_image()
    valid = {
        "png": _encode(noise, "PNG"),
        "jpg": _encode(noise, "JPEG", quality=90),
        "webp": _encode(noise, "WEBP", quality=80),
        "tif": _encode(noise, "TIFF"),
        "bmp": _encode(noise, "BMP"),
        "gif": _encode(noise.convert("P"), "GIF"),
    }
    for ext, data in valid.items():
        items += [(f"{n}.{ext}", d, c) for n, d, c in _truncations(ext, data)]

    # Not images at all, under image names.
    not_images = {
        "text.png": b"Hello, this is a plain text file, not a picture.\n" * 3,
        "page.jpg": b"<!DOCTYPE html><html><body><img src=x onerror=alert(1)></body></html>",
        "vector.png": b'<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg" width="100" '
        b'height="100"><circle cx="50" cy="50" r="40"/></svg>',
        "svg_bare.jpg": b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>',
        "data.jpg": b'{"image": "not really", "width": 100000}',
        "doc.png": b"%PDF-1.7\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n",
        "archive.dcm": _zip_bytes(),
        "program.png": b"\x7fELF\x02\x01\x01\x00" + b"\x00" * 56,
        "windows.jpg": b"MZ\x90\x00" + b"\x00" * 60,
        "gzip.png": zlib.compress(b"x" * 1000),
        "bm_text.bmp": b"BMW and BMX are not bitmaps, even though they start with BM." * 2,
        "script.tif": b"#!/bin/sh\nrm -rf /\n",
    }
    items += [(name, data, "unknown_format") for name, data in not_images.items()]
    for seed in range(4):
        rng = np.random.default_rng(1000 + seed)
        blob = rng.integers(0, 256, size=4096, dtype=np.uint8).tobytes()
        items.append((f"random_{seed}.png", b"\x00" + blob, "unknown_format"))
    items.append(("gif_signature_garbage.gif", b"GIF89a" + b"\x01" * 40, "truncated"))

    # Bombs and absurd headers: refused from the header, before any decoding.
    items += [
        ("png_ihdr_100000.png", _png_header_only(100_000, 100_000), "too_many_pixels"),
        ("png_bomb_30000.png", _png_bomb(30_000), "too_many_pixels"),
        ("gif_huge_screen.gif", _gif(60_000, 60_000, 1), "too_many_pixels"),
        ("gif_frames_bomb.gif", _gif(4000, 4000, 20), "too_many_frames"),
        ("gif_many_frames.gif", _gif(32, 32, 1500), "too_many_frames"),
        ("tiff_huge.tif", _tiff_claiming(100_000, 100_000), "too_many_pixels"),
        ("jpeg_65000.jpg", _jpeg_claiming(65_000, 65_000), "too_many_pixels"),
        ("bmp_huge.bmp", _bmp_claiming(50_000, 50_000), "too_many_pixels"),
        ("webp_huge.webp", _webp_claiming(16_383, 16_383), "too_many_pixels"),
    ]

    # DICOM.
    native = _dicom(64, 64)
    items += [
        ("dicom_no_pixels.dcm", _dicom(with_pixels=False, with_image_attrs=False), "dicom_no_pixels"),
        ("dicom_attrs_no_pixels.dcm", _dicom(with_pixels=False), "dicom_no_pixels"),
        ("dicom_60000.dcm", _dicom(60_000, 60_000, pixels=b"\x00" * 1024), "dicom_too_large"),
        (
            "dicom_mpeg2.dcm",
            _dicom(tsyntax="1.2.840.10008.1.2.4.100", encapsulated=True, pixels=b"\x00\x00\x01\xb3" * 64),
            "dicom_unsupported_syntax",
        ),
        (
            "dicom_madeup_syntax.dcm",
            _dicom(tsyntax="1.2.826.0.1.3680043.2.1143.99.1", encapsulated=True, pixels=b"\x01" * 256),
            "dicom_unsupported_syntax",
        ),
        ("dicom_truncated_pixels.dcm", native[: len(native) - 4000], "truncated"),
        ("dicom_truncated_rle.dcm", _dicom_rle_truncated(), "truncated"),
        ("dicom_garbage_after_prefix.dcm", b"\x00" * 128 + b"DICM" + b"\xff\x13" * 100, "dicom_invalid"),
        ("dicom_tiny.dcm", _dicom(8, 8), "too_small"),
        # Header says 64 x 64, the JPEG inside claims 65000 x 65000: refused before decoding.
        (
            "dicom_jpeg_size_mismatch.dcm",
            _dicom(
                tsyntax="1.2.840.10008.1.2.4.50", encapsulated=True, pixels=_jpeg_claiming(65_000, 65_000)
            ),
            "dicom_invalid",
        ),
        ("dicom_valid.dcm", native, None),
        ("dicom_headerless.dcm", _dicom(file_format=False), None),
        # Preamble-less and without image attributes: not plausibly an image, so not DICOM at all.
        (
            "headerless_no_image.dcm",
            _dicom(with_pixels=False, with_image_attrs=False, file_format=False),
            "unknown_format",
        ),
    ]

    # Valid but odd: these must decode to (H, W, 3) uint8.
    rgba = np.zeros((40, 50, 4), dtype=np.uint8)
    rgba[..., 0], rgba[..., 3] = 200, np.linspace(0, 255, 50, dtype=np.uint8)[None, :]
    palette_img = noise.convert("P", palette=Image.Palette.ADAPTIVE, colors=16)
    palette_transparent = io.BytesIO()
    palette_img.save(palette_transparent, "PNG", transparency=0)
    frames = [_noise_image(40, 40, seed=s).convert("P") for s in range(3)]
    anim = io.BytesIO()
    frames[0].save(anim, "GIF", save_all=True, append_images=frames[1:], duration=50)
    float_tiff = _encode(
        Image.fromarray(np.linspace(-1, 1, 40 * 30, dtype=np.float32).reshape(30, 40)), "TIFF"
    )
    int32_tiff = _encode(Image.fromarray(np.arange(40 * 30, dtype=np.int32).reshape(30, 40) * 1000), "TIFF")
    items += [
        ("ok_gray16.png", _gray16_png(), None),
        ("ok_cmyk.jpg", _encode(noise.convert("CMYK"), "JPEG", quality=90), None),
        ("ok_rgba.png", _encode(Image.fromarray(rgba, "RGBA"), "PNG"), None),
        ("ok_palette.png", _encode(palette_img, "PNG"), None),
        ("ok_palette_transparent.png", palette_transparent.getvalue(), None),
        ("ok_la.png", _encode(noise.convert("LA"), "PNG"), None),
        ("ok_1bit.png", _encode(noise.convert("1"), "PNG"), None),
        ("ok_exif_rotated.jpg", _exif_rotated_jpeg(), None),
        ("ok_progressive.jpg", _encode(noise, "JPEG", progressive=True), None),
        ("ok_trailing_after_eoi.jpg", valid["jpg"] + b"extra bytes some phones append", None),
        ("ok_gray.webp", _encode(noise.convert("L"), "WEBP", lossless=True), None),
        ("ok_lossless.webp", _encode(noise, "WEBP", lossless=True), None),
        ("ok.tif", valid["tif"], None),
        ("ok_compressed.tif", _encode(noise, "TIFF", compression="tiff_deflate"), None),
        ("ok_float.tif", float_tiff, None),
        ("ok_int32.tif", int32_tiff, None),
        (
            "ok_gray16_big_endian.tif",
            _encode(Image.fromarray(np.full((20, 20), 700, np.uint16)).convert("I;16B"), "TIFF"),
            None,
        ),
        ("ok.bmp", valid["bmp"], None),
        ("ok.gif", valid["gif"], None),
        ("ok_animated.gif", anim.getvalue(), None),
        ("ok_wrong_extension.gif", valid["png"], None),
        ("tiny_1x1.png", _encode(Image.new("RGB", (1, 1)), "PNG"), "too_small"),
        ("thin_15x200.png", _encode(Image.new("L", (15, 200)), "PNG"), "too_small"),
    ]
    return items


def _zip_bytes() -> bytes:
    import zipfile

    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("image.png", b"not inside")
    return buf.getvalue()


def build_corpus(tmpdir: str | Path) -> list[CorpusItem]:
    """Write the corpus under `tmpdir`; return (name, path, expected_code) for each file."""
    root = Path(tmpdir)
    root.mkdir(parents=True, exist_ok=True)
    out: list[CorpusItem] = []
    for name, data, code in corpus_bytes():
        path = root / name
        path.write_bytes(data)
        out.append((name, path, code))
    # Over the byte limit without using the disk: a sparse file with a PNG signature.
    big = root / "too_large.png"
    with big.open("wb") as fh:
        fh.write(b"\x89PNG\r\n\x1a\n")
        fh.truncate(DEFAULT_MAX_UPLOAD_BYTES + 1)
    out.append(("too_large.png", big, "too_large"))
    return out
