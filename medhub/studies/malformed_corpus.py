"""A corpus of hostile, broken and odd-but-valid uploads, generated in code (no binary fixtures).

`build_corpus(tmpdir)` writes every file and returns `(name, path, expected_code)`; expected_code is
the `InputError.code` that `medhub.imaging.load_upload(path, allow_dicom=True)` must raise, or None
when the file must decode. Items whose name starts with "dicom_" carry a DICOM signature: with
`allow_dicom=False` they must give "not_allowed_dicom" instead. Used by tests/test_imaging.py, the API
tests (the same files must give the same codes over HTTP), the fuzzer (tests/test_fuzz_gate.py) and by
the gate's measurement, scripts/gate_bench.py: it lives with the studies (medhub/studies/), so that
no script imports from tests/.

`budget_items()` (part of the corpus) holds the cases of issue 12: each costs memory or time per
uploaded byte (deflate and zTXt bombs, JPEG scan bombs, thousands of chunks, segments, pages, tags,
strips, fragments, DICOM elements, nested sequences, RLE delta runs), files cut and closed with an
end marker, and DICOM in every transfer syntax the gate reads (implicit / explicit VR, big endian,
deflated, RLE, JPEG baseline, JPEG 2000) or refuses.
"""

from __future__ import annotations

import io
import struct
import zlib
from pathlib import Path

import numpy as np
from PIL import Image

CorpusItem = tuple[str, Path, str | None]
# Every DICOM item has this instance UID: generated UIDs would change the bytes (and so what a
# corrupted deflate stream inflates to) from run to run.
FIXED_UID = "1.2.826.0.1.3680043.8.498.12345678901234567890"

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


def _png_one_idat(width: int, height: int, bit_depth: int, color_type: int, idat: bytes, interlace: int = 0) -> bytes:
    """A PNG of one IDAT: signature, IHDR (correct CRC), IDAT, IEND."""
    ihdr = struct.pack(">IIBBBBB", width, height, bit_depth, color_type, 0, 0, interlace)
    return b"\x89PNG\r\n\x1a\n" + _png_chunk(b"IHDR", ihdr) + _png_chunk(b"IDAT", idat) + _png_chunk(b"IEND", b"")


def _png_header_only(width: int, height: int, bit_depth: int = 8, color_type: int = 0) -> bytes:
    """A PNG whose IHDR (with a correct CRC) claims `width` x `height`; one tiny IDAT; IEND."""
    idat = zlib.compress(b"\x00" * 64)
    return _png_one_idat(width, height, bit_depth, color_type, idat)


def _png_bomb(side: int = 30000) -> bytes:
    """A real, complete 1-bit `side` x `side` PNG of zeros: about 100 kB compressed."""
    row = b"\x00" * (1 + (side + 7) // 8)  # filter byte + packed bits
    comp = zlib.compressobj(9)
    parts = [comp.compress(row * 1000) for _ in range(side // 1000)]
    parts.append(comp.compress(row * (side % 1000)))
    parts.append(comp.flush())
    return _png_one_idat(side, side, 1, 0, b"".join(parts))


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
    from pydicom.uid import UID, CTImageStorage

    ds = Dataset()
    ds.SOPClassUID = CTImageStorage
    ds.SOPInstanceUID = FIXED_UID  # fixed: the corpus is the same bytes on every run
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
    ds.compress(RLELossless, arr, generate_instance_uid=False)
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
    return items + budget_items()


def _zip_bytes() -> bytes:
    import zipfile

    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr(zipfile.ZipInfo("image.png", date_time=(2026, 1, 1, 0, 0, 0)), b"not inside")
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


# --------------------------------------------------------------------------------------------
# The decode budget (issue 12): what costs memory or time per uploaded byte, and DICOM as scanners
# write it (every transfer syntax the gate reads, and the ones it refuses).


def _segment(marker: int, payload: bytes) -> bytes:
    return bytes([0xFF, marker]) + struct.pack(">H", len(payload) + 2) + payload


def jpeg_scan_bomb(side: int = 2048, scans: int = 4000) -> bytes:
    """A progressive JPEG of `side` x `side` grey pixels with `scans` tiny AC scans (each one EOB run
    over the whole image: a few bytes that make the decoder visit every block). 80 KB for 4000."""
    img = Image.fromarray(np.full((side, side), 128, np.uint8), "L")
    d = _encode(img, "JPEG", progressive=True, quality=50)
    first = d.find(b"\xff\xda")
    second = d.find(b"\xff\xda", first + 2)
    # AC table 1 with one code of length 1: symbol 0xE0 (an EOB run of 2^14 blocks, 14 extra bits).
    dht = _segment(0xC4, bytes([0x11]) + bytes([1] + [0] * 15) + bytes([0xE0]))
    blocks = ((side + 7) // 8) ** 2
    bits = "0" * 15 * max(1, blocks // 16384)
    bits += "1" * (-len(bits) % 8)
    data = bytes(int(bits[i : i + 8], 2) for i in range(0, len(bits), 8))
    sos = _segment(0xDA, bytes([1, 1, 0x01, 1, 63, 0x00]))
    return d[:second] + dht + (sos + data) * scans + b"\xff\xd9"


def jpeg_cut_with_eoi(progressive: bool, fraction: float = 1 / 3) -> bytes:
    """A JPEG cut inside its scan data with an EOI appended (libjpeg pads the rest with grey)."""
    d = _encode(_noise_image(320, 240), "JPEG", quality=90, progressive=progressive)
    sos = d.find(b"\xff\xda")
    return d[: sos + int((len(d) - sos) * fraction)] + b"\xff\xd9"


def _dataset(rows: int = 64, cols: int = 64, *, pixels: bytes | None = None, bits: int = 16):
    from pydicom.dataset import Dataset
    from pydicom.uid import CTImageStorage

    ds = Dataset()
    ds.SOPClassUID = CTImageStorage
    ds.SOPInstanceUID = FIXED_UID
    ds.PatientName = "Corpus^Test"
    ds.PatientID = "CORPUS-0002"
    ds.Modality = "CT"
    ds.Rows, ds.Columns = rows, cols
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = "MONOCHROME2"
    ds.BitsAllocated, ds.BitsStored, ds.HighBit = bits, (12 if bits == 16 else 8), (11 if bits == 16 else 7)
    ds.PixelRepresentation = 0
    ds.RescaleSlope, ds.RescaleIntercept = 1, (-1024 if bits == 16 else 0)
    ds.WindowCenter, ds.WindowWidth = 40, 80
    if pixels is None:
        if bits == 16:
            pixels = np.linspace(0, 4095, rows * cols).astype(np.uint16).tobytes()
        else:
            pixels = np.tile(np.linspace(0, 255, cols).astype(np.uint8), rows).tobytes()
    ds.PixelData = pixels
    ds["PixelData"].VR = "OW" if bits == 16 else "OB"
    return ds


def _save(ds, tsyntax: str, *, little: bool = True, implicit: bool = False) -> bytes:
    from pydicom.dataset import FileMetaDataset
    from pydicom.uid import UID

    ds.file_meta = FileMetaDataset()
    ds.file_meta.MediaStorageSOPClassUID = ds.SOPClassUID
    ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
    ds.file_meta.TransferSyntaxUID = UID(tsyntax)
    buf = io.BytesIO()
    ds.save_as(buf, enforce_file_format=True, implicit_vr=implicit, little_endian=little)
    return buf.getvalue()


def _file_meta_bytes(tsyntax: str) -> bytes:
    """Preamble, "DICM" and a file meta group naming `tsyntax`."""
    from pydicom.dataset import FileMetaDataset
    from pydicom.filebase import DicomBytesIO
    from pydicom.filewriter import write_file_meta_info
    from pydicom.uid import UID, CTImageStorage

    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = CTImageStorage
    meta.MediaStorageSOPInstanceUID = FIXED_UID
    meta.TransferSyntaxUID = UID(tsyntax)
    fp = DicomBytesIO()
    fp.write(b"\x00" * 128 + b"DICM")
    write_file_meta_info(fp, meta, enforce_standard=True)
    return fp.getvalue()


def _explicit_le_body(ds) -> bytes:
    from pydicom.filebase import DicomBytesIO
    from pydicom.filewriter import write_dataset

    fp = DicomBytesIO()
    fp.is_little_endian, fp.is_implicit_VR = True, False
    write_dataset(fp, ds)
    return fp.getvalue()


DEFLATED = "1.2.840.10008.1.2.1.99"


def dicom_deflated(ds=None) -> bytes:
    ds = ds if ds is not None else _dataset()
    comp = zlib.compressobj(9, zlib.DEFLATED, -zlib.MAX_WBITS)
    return _file_meta_bytes(DEFLATED) + comp.compress(_explicit_le_body(ds)) + comp.flush()


def dicom_deflate_bomb(inflated_mb: int = 300) -> bytes:
    """A deflated DICOM whose dataset inflates to `inflated_mb` MB (a private OB element of zeros
    before a small, valid image): about 1 KB per MB."""
    ds = _dataset()
    head = _explicit_le_body(ds)
    pixel_at = head.find(b"\xe0\x7f\x10\x00")
    size = inflated_mb * 1024 * 1024
    private = b"\x09\x00\x00\x10OB\x00\x00" + struct.pack("<I", size)  # (0009,1000) OB
    comp = zlib.compressobj(9, zlib.DEFLATED, -zlib.MAX_WBITS)
    parts = [comp.compress(head[:pixel_at] + private)]
    zeros = b"\x00" * (1 << 20)
    parts += [comp.compress(zeros) for _ in range(inflated_mb)]
    parts.append(comp.compress(head[pixel_at:]))
    parts.append(comp.flush())
    return _file_meta_bytes(DEFLATED) + b"".join(parts)


def dicom_deflate_corrupt(where: str = "start") -> bytes:
    """A deflated DICOM with a corrupt stream: "start": the first block header names the reserved
    block type 3 (zlib: "invalid block type"); "middle": 24 bytes of 0xFF a third of the way in."""
    data = bytearray(dicom_deflated())
    start = len(_file_meta_bytes(DEFLATED))
    if where == "start":
        data[start] = (data[start] & 0xF8) | 0x07  # BFINAL=1, BTYPE=11
    else:
        mid = start + (len(data) - start) // 3
        data[mid : mid + 24] = b"\xff" * 24
    return bytes(data)


def dicom_deflate_truncated() -> bytes:
    data = dicom_deflated()
    start = len(_file_meta_bytes(DEFLATED))
    return data[: start + (len(data) - start) // 2]


def dicom_nested(depth: int) -> bytes:
    """A valid image whose header holds one private sequence nested `depth` deep (undefined lengths)."""
    ds = _dataset()
    body = _explicit_le_body(ds)
    pixel_at = body.find(b"\xe0\x7f\x10\x00")
    sq_open = b"\x09\x00\x00\x10SQ\x00\x00\xff\xff\xff\xff"  # (0009,1000) SQ, undefined length
    item_open = b"\xfe\xff\x00\xe0\xff\xff\xff\xff"
    item_close = b"\xfe\xff\x0d\xe0\x00\x00\x00\x00"
    sq_close = b"\xfe\xff\xdd\xe0\x00\x00\x00\x00"
    nested = (sq_open + item_open) * depth + (item_close + sq_close) * depth
    return _file_meta_bytes("1.2.840.10008.1.2.1") + body[:pixel_at] + nested + body[pixel_at:]


def dicom_many_elements(n: int) -> bytes:
    """A valid image with `n` tiny private elements (12 bytes each) before its pixels."""
    ds = _dataset()
    body = _explicit_le_body(ds)
    pixel_at = body.find(b"\xe0\x7f\x10\x00")
    # (0009,xxxx) would need creators; one private group per element: (0011,1000)..., all UL 0.
    elements = b"".join(
        struct.pack("<HH", 0x0011 + 2 * (i // 0xF000), 0x1000 + i % 0xF000) + b"UL\x04\x00\x00\x00\x00\x00"
        for i in range(n)
    )
    return _file_meta_bytes("1.2.840.10008.1.2.1") + body[:pixel_at] + elements + body[pixel_at:]


def dicom_encapsulated(tsyntax: str, frames: list[bytes], *, rows=64, cols=64, bits=8, samples=1) -> bytes:
    from pydicom.encaps import encapsulate

    ds = _dataset(rows, cols, bits=bits)
    ds.SamplesPerPixel = samples
    if samples == 3:
        ds.PhotometricInterpretation = "YBR_FULL_422" if "4.50" in tsyntax else "RGB"
        ds.PlanarConfiguration = 0
    if len(frames) > 1:
        ds.NumberOfFrames = len(frames)
    ds.PixelData = encapsulate(frames)
    ds["PixelData"].VR = "OB"
    ds["PixelData"].is_undefined_length = True
    return _save(ds, tsyntax)


def dicom_many_fragments(n: int) -> bytes:
    """JPEG baseline Pixel Data split into `n` fragments (one frame): pydicom walks each one."""
    jpeg = _encode(Image.fromarray(np.full((64, 64), 100, np.uint8)), "JPEG", quality=90)
    step = max(2, len(jpeg) // n // 2 * 2)  # even: no padding byte inside the JPEG stream
    pieces = [jpeg[i : i + step] for i in range(0, len(jpeg), step)]
    pieces += [b"\x00\x00"] * max(0, n - len(pieces))
    ds = _dataset(64, 64, bits=8)
    # An empty basic offset table, then the n fragments of the one frame.
    items = b"\xfe\xff\x00\xe0\x00\x00\x00\x00" + b"".join(
        b"\xfe\xff\x00\xe0" + struct.pack("<I", len(p) + len(p) % 2) + p + b"\x00" * (len(p) % 2) for p in pieces
    )
    ds.PixelData = items + b"\xfe\xff\xdd\xe0\x00\x00\x00\x00"
    ds["PixelData"].VR = "OB"
    ds["PixelData"].is_undefined_length = True
    return _save(ds, "1.2.840.10008.1.2.4.50")


def dicom_compressed(tsyntax: str, *, rows: int = 64, cols: int = 64, plugin: str = "") -> bytes:
    """A pydicom-encoded file (RLE, JPEG 2000) of a 12-bit ramp."""
    from pydicom.dataset import FileMetaDataset

    ds = _dataset(rows, cols)

    ds.file_meta = FileMetaDataset()
    ds.file_meta.TransferSyntaxUID = "1.2.840.10008.1.2.1"
    arr = (np.add.outer(np.arange(rows), np.arange(cols)) * 4095 // max(rows + cols - 2, 1)).astype(np.uint16)
    kwargs = {"encoding_plugin": plugin} if plugin else {}
    ds.compress(tsyntax, arr, generate_instance_uid=False, **kwargs)
    return _save(ds, tsyntax)


def _png(width: int, height: int, extra_before_idat: bytes = b"", *, idat_parts: int = 1) -> bytes:
    raw = b"".join(b"\x00" + bytes(range(width * 3 % 256)) * 0 + b"\x40" * (width * 3) for _ in range(height))
    stream = zlib.compress(raw)
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    step = max(1, len(stream) // idat_parts)
    idats = [stream[i : i + step] for i in range(0, len(stream), step)]
    idats += [b""] * max(0, idat_parts - len(idats))
    return (
        b"\x89PNG\r\n\x1a\n"
        + _png_chunk(b"IHDR", ihdr)
        + extra_before_idat
        + b"".join(_png_chunk(b"IDAT", part) for part in idats)
        + _png_chunk(b"IEND", b"")
    )


def _zeros_stream(mb: int) -> bytes:
    comp = zlib.compressobj(9)
    zeros = b"\x00" * (1 << 20)
    return b"".join([comp.compress(zeros) for _ in range(mb)] + [comp.flush()])


def _tiff(
    width: int,
    height: int,
    *,
    pages: int = 1,
    extra_entries: list[tuple[int, int, int, int]] | None = None,
    rows_per_strip: int | None = None,
    loop: bool = False,
    tile: tuple[int, int] | None = None,
) -> bytes:
    """A little-endian 8-bit gray TIFF (uncompressed, zero pixels) with `pages` IFDs all pointing at
    the same pixel data; optional extra IFD entries (tag, type, count, value) and strip layout."""
    rows_per_strip = rows_per_strip or height
    strips = (height + rows_per_strip - 1) // rows_per_strip
    pixel_bytes = width * height
    out = bytearray(b"II*\x00\x00\x00\x00\x00")
    pixels_at = len(out)
    out += b"\x00" * pixel_bytes
    # strip offset/count arrays
    strip_len = width * rows_per_strip
    offsets_at = len(out)
    out += b"".join(struct.pack("<I", pixels_at + min(i * strip_len, pixel_bytes - 1)) for i in range(strips))
    counts_at = len(out)
    out += b"".join(
        struct.pack("<I", min(strip_len, pixel_bytes - i * strip_len)) for i in range(strips)
    )
    entries = [
        (256, 4, 1, width),
        (257, 4, 1, height),
        (258, 3, 1, 8),
        (259, 3, 1, 1),
        (262, 3, 1, 1),
        (273, 4, strips, offsets_at if strips > 1 else pixels_at),
        (277, 3, 1, 1),
        (278, 4, 1, rows_per_strip),
        (279, 4, strips, counts_at if strips > 1 else pixel_bytes),
    ]
    if tile:
        entries += [(322, 4, 1, tile[0]), (323, 4, 1, tile[1])]
    entries += extra_entries or []
    entries.sort()
    first_ifd = None
    for page in range(pages):
        if len(out) % 2:
            out += b"\x00"
        ifd_at = len(out)
        if first_ifd is None:
            first_ifd = ifd_at
            out[4:8] = struct.pack("<I", ifd_at)
        out += struct.pack("<H", len(entries))
        for tag, typ, count, value in entries:
            if typ == 3 and count == 1:
                out += struct.pack("<HHIHH", tag, typ, count, value, 0)
            else:
                out += struct.pack("<HHII", tag, typ, count, value)
        last = page == pages - 1
        nxt = (first_ifd if loop else 0) if last else len(out) + 4
        out += struct.pack("<I", nxt)
    return bytes(out)


def _bmp_rle8(width: int, height: int, body: bytes) -> bytes:
    palette = b"".join(bytes([i, i, i, 0]) for i in range(256))
    offset = 14 + 40 + len(palette)
    header = struct.pack("<2sIHHI", b"BM", offset + len(body), 0, 0, offset)
    dib = struct.pack("<IiiHHIIiiII", 40, width, height, 1, 8, 1, len(body), 2835, 2835, 256, 0)
    return header + dib + palette + body


def _gif_with_extensions(n: int) -> bytes:
    screen = struct.pack("<HHBBB", 32, 32, 0x80, 0, 0) + b"\x00\x00\x00\xff\xff\xff"
    comments = b"!\xfe\x00" * n  # empty comment extensions
    return b"GIF89a" + screen + comments + _GIF_GCE + _GIF_FRAME_1X1 + b";"


def _webp_with_chunks(n: int) -> bytes:
    """A lossless WebP (extended format) with `n` unknown chunks before the image."""
    base = _encode(_noise_image(32, 32), "WEBP", lossless=True)
    vp8l = base[12:]
    vp8x = b"VP8X" + struct.pack("<I", 10) + b"\x00\x00\x00\x00" + (31).to_bytes(3, "little") + (31).to_bytes(3, "little")
    junk = (b"ZZZZ" + struct.pack("<I", 0)) * n
    body = b"WEBP" + vp8x + junk + vp8l
    return b"RIFF" + struct.pack("<I", len(body)) + body


def _exif_ifd(entries: list[tuple[int, int, int, bytes]]) -> bytes:
    """A little-endian EXIF/TIFF block with one IFD of `entries` (tag, type, count, 4-byte value)."""
    out = b"II*\x00" + struct.pack("<I", 8) + struct.pack("<H", len(entries))
    out += b"".join(struct.pack("<HHI", t, ty, c) + v for t, ty, c, v in entries) + b"\x00" * 4
    return out


def _png_with_huge_exif() -> bytes:
    """A valid PNG whose eXIf block holds one LONG tag with 400,000 values (1.6 MB): Pillow's
    getexif() would build a 400,000-item tuple; the gate reads the orientation only."""
    count = 400_000
    head = _exif_ifd([(0x0112, 3, 1, struct.pack("<HH", 1, 0)), (0x8298, 4, count, struct.pack("<I", 38))])
    exif = head + b"\x00" * (4 * count)
    return _png(64, 48, _png_chunk(b"eXIf", exif))


def _jpeg_with_exif_orientation(orientation: int, size=(48, 32)) -> bytes:
    arr = np.zeros((size[1], size[0], 3), dtype=np.uint8)
    arr[:8, :8] = 255
    exif = Image.Exif()
    exif[0x0112] = orientation
    return _encode(Image.fromarray(arr), "JPEG", quality=95, exif=exif.tobytes())


def budget_items() -> list[tuple[str, bytes, str | None]]:
    """The six cases of issue 12, the decode budget per format, and DICOM transfer syntaxes."""
    from pydicom.uid import JPEG2000, JPEG2000Lossless, RLELossless

    items: list[tuple[str, bytes, str | None]] = []
    # --- the six cases of issue 12 --------------------------------------------------------------
    items += [
        ("dicom_deflate_corrupt.dcm", dicom_deflate_corrupt("start"), "dicom_invalid"),
        ("dicom_deflate_corrupt_middle.dcm", dicom_deflate_corrupt("middle"), "dicom_invalid"),
        ("dicom_deflate_truncated.dcm", dicom_deflate_truncated(), "truncated"),
        ("dicom_nested_3000.dcm", dicom_nested(3000), "too_deep"),
        ("dicom_deflate_bomb_300mb.dcm", dicom_deflate_bomb(300), "inflated_too_large"),
        ("jpeg_scan_bomb_4000.jpg", jpeg_scan_bomb(2048, 4000), "too_complex"),
        ("jpeg_cut_third_with_eoi.jpg", jpeg_cut_with_eoi(False), "truncated"),
    ]
    # --- JPEG -------------------------------------------------------------------------------------
    items += [
        ("jpeg_progressive_cut_with_eoi.jpg", jpeg_cut_with_eoi(True), "truncated"),
        ("jpeg_cut_90pct_with_eoi.jpg", jpeg_cut_with_eoi(False, 0.9), "truncated"),
        ("jpeg_scan_bomb_700.jpg", jpeg_scan_bomb(2048, 700), "too_complex"),
        ("ok_jpeg_scans_100.jpg", jpeg_scan_bomb(1024, 100), None),
        ("jpeg_many_segments.jpg", _with_com_segments(2000), "too_complex"),
        ("ok_jpeg_some_segments.jpg", _with_com_segments(200), None),
        ("jpeg_no_sof.jpg", _drop_segment(0xC0), "truncated"),
        # libjpeg falls back to the standard (Motion-JPEG) Huffman tables: odd but valid.
        ("ok_jpeg_no_huffman_tables.jpg", _drop_all_segments(0xC4), None),
        ("jpeg_bad_huffman_data.jpg", _jpeg_scribbled(), "truncated"),
        ("jpeg_zero_width.jpg", _jpeg_claiming(0, 32), "truncated"),
        ("jpeg_eoi_first.jpg", b"\xff\xd8\xff\xd9" + b"\x00" * 64, "truncated"),
        ("jpeg_length_past_end.jpg", b"\xff\xd8\xff\xe0\xff\xff" + b"\x00" * 100, "truncated"),
        ("ok_jpeg_fill_bytes.jpg", _jpeg_with_fill_bytes(), None),
        ("ok_gray.jpg", _encode(_noise_image().convert("L"), "JPEG", quality=85), None),
        ("ok_progressive_gray.jpg", _encode(_noise_image().convert("L"), "JPEG", progressive=True), None),
        ("ok_jpeg_444.jpg", _encode(_noise_image(), "JPEG", quality=95, subsampling=0), None),
        ("ok_jpeg_restart_markers.jpg", _jpeg_restart(), None),
        ("ok_jpeg_icc.jpg", _encode(_noise_image(), "JPEG", icc_profile=b"\x00" * 200_000), None),
    ]
    items += [(f"ok_exif_orientation_{o}.jpg", _jpeg_with_exif_orientation(o), None) for o in range(1, 9)]
    items += [
        ("ok_exif_broken.jpg", _jpeg_broken_exif(), None),
    ]
    # --- PNG --------------------------------------------------------------------------------------
    items += [
        ("png_many_chunks.png", _png(32, 32, _png_chunk(b"zzZz", b"") * 25_000), "too_complex"),
        ("png_many_idat.png", _png(32, 32, idat_parts=25_000), "too_complex"),
        ("ok_png_some_idat.png", _png(32, 32, idat_parts=300), None),
        ("png_ztxt_bomb.png", _png(32, 32, _png_chunk(b"zTXt", b"k\x00\x00" + _zeros_stream(50))), "inflated_too_large"),
        ("png_iccp_bomb.png", _png(32, 32, _png_chunk(b"iCCP", b"icc\x00\x00" + _zeros_stream(50))), "inflated_too_large"),
        (
            "png_itxt_bomb.png",
            _png(32, 32, _png_chunk(b"iTXt", b"k\x00\x01\x00en\x00\x00" + _zeros_stream(50))),
            "inflated_too_large",
        ),
        (
            "png_many_small_ztxt.png",
            _png(32, 32, _png_chunk(b"zTXt", b"k\x00\x00" + _zeros_stream(1)) * 6),
            "inflated_too_large",
        ),
        ("ok_png_small_ztxt.png", _png(32, 32, _png_chunk(b"zTXt", b"k\x00\x00" + zlib.compress(b"hi" * 100))), None),
        ("ok_png_huge_exif.png", _png_with_huge_exif(), None),
        ("png_chunk_length_past_end.png", _png(32, 32)[:33] + b"\x7f\xff\xff\xff" + b"IDAT" + b"\x00" * 40, "truncated"),
        ("png_bad_crc.png", _png_bad_crc(), "truncated"),
        ("png_idat_garbage.png", _png_garbage_idat(), "truncated"),
        ("png_bad_ihdr_depth.png", _png_header_only(64, 64, bit_depth=7), "truncated"),
        ("png_bad_color_type.png", _png_header_only(64, 64, color_type=5), "truncated"),
        ("png_zero_size.png", _png_header_only(0, 0), "truncated"),
        ("png_apng_frames_bomb.png", _apng_claiming(100_000), "too_many_frames"),
        ("ok_interlaced.png", _encode_interlaced(), None),
        ("ok_png_16bit_rgba.png", _png16_rgba(), None),
    ]
    # --- GIF --------------------------------------------------------------------------------------
    items += [
        ("gif_many_extensions.gif", _gif_with_extensions(50_000), "too_complex"),
        ("gif_800000_frames.gif", _gif(32, 32, 800_000), "too_many_frames"),
        ("gif_one_byte_sub_blocks.gif", _gif_tiny_sub_blocks(5_000_000), "too_complex"),
        ("gif_no_trailer.gif", _gif(32, 32, 3)[:-1], "truncated"),
        ("gif_cut_in_frame.gif", _gif(32, 32, 3)[:-8], "truncated"),
        ("gif_bad_block.gif", _gif(32, 32, 1)[:-1] + b"\x99;", "truncated"),
        ("ok_gif_87a.gif", b"GIF87a" + _gif(32, 32, 1)[6:], None),
    ]
    # --- TIFF -------------------------------------------------------------------------------------
    items += [
        ("tiff_many_pages.tif", _tiff(32, 32, pages=1500), "too_many_frames"),
        ("ok_tiff_pages.tif", _tiff(32, 32, pages=5), None),
        ("ok_tiff_ifd_loop.tif", _tiff(32, 32, pages=2, loop=True), None),
        ("tiff_many_tags.tif", _tiff(32, 32, extra_entries=[(40000 + i, 3, 1, 0) for i in range(1500)]), "too_complex"),
        ("tiff_huge_tag_values.tif", _tiff_huge_values(), "too_complex"),
        ("tiff_many_strips.tif", _tiff(16, 70_000, rows_per_strip=1), "too_complex"),
        ("tiff_huge_tile.tif", _tiff(32, 32, tile=(65_536, 65_536)), "too_many_pixels"),
        ("tiff_huge_strip.tif", _tiff_huge_rows_per_strip(), None),
        ("tiff_bad_offset.tif", b"II*\x00" + struct.pack("<I", 1 << 30) + b"\x00" * 64, "truncated"),
        ("ok_tiff_lzw.tif", _encode(_noise_image(), "TIFF", compression="tiff_lzw"), None),
        ("ok_tiff_packbits.tif", _encode(_noise_image(), "TIFF", compression="packbits"), None),
        ("ok_tiff_jpeg.tif", _encode(_noise_image(), "TIFF", compression="jpeg"), None),
        ("ok_tiff_big_endian.tif", _tiff_big_endian(), None),
    ]
    # --- BMP / WebP ---------------------------------------------------------------------------------
    items += [
        ("bmp_rle_delta_bomb.bmp", _bmp_rle8(4000, 4000, b"\x00\x02\x01\x00" * 3_000_000 + b"\x00\x01"), "too_complex"),
        ("ok_bmp_rle8.bmp", _bmp_rle8(32, 32, (b"\x20\x80" + b"\x00\x00") * 32 + b"\x00\x01"), None),
        ("bmp_rle_cut.bmp", _bmp_rle8(32, 32, (b"\x20\x80" + b"\x00\x00") * 8), "truncated"),
        ("bmp_cut_pixels.bmp", _encode(_noise_image(), "BMP")[:2000], "truncated"),
        ("ok_bmp_top_down.bmp", _bmp_top_down(), None),
        ("ok_bmp_32bit.bmp", _encode(_noise_image().convert("RGBA"), "BMP"), None),
        ("webp_many_chunks.webp", _webp_with_chunks(50_000), None),
        ("webp_riff_size_lies.webp", _webp_riff_lies(), "truncated"),
        ("ok_webp_alpha.webp", _encode(_noise_image().convert("RGBA"), "WEBP", quality=80), None),
        ("ok_webp_animated.webp", _webp_animated(), None),
    ]
    # --- DICOM: transfer syntaxes and budget ----------------------------------------------------------
    jpeg8 = _encode(Image.fromarray(np.tile(np.linspace(0, 255, 64).astype(np.uint8), (64, 1))), "JPEG", quality=90)
    items += [
        ("dicom_ok_implicit_vr.dcm", _save(_dataset(), "1.2.840.10008.1.2", implicit=True), None),
        ("dicom_ok_explicit_le.dcm", _save(_dataset(), "1.2.840.10008.1.2.1"), None),
        ("dicom_ok_explicit_be.dcm", _save(_dataset(), "1.2.840.10008.1.2.2", little=False), None),
        ("dicom_ok_deflated.dcm", dicom_deflated(), None),
        ("dicom_ok_8bit.dcm", _save(_dataset(bits=8), "1.2.840.10008.1.2.1"), None),
        ("dicom_ok_rle.dcm", dicom_compressed(RLELossless), None),
        ("dicom_ok_jpeg2000_lossless.dcm", dicom_compressed(JPEG2000Lossless, plugin="pylibjpeg"), None),
        ("dicom_ok_jpeg_baseline.dcm", dicom_encapsulated("1.2.840.10008.1.2.4.50", [jpeg8]), None),
        ("dicom_ok_jpeg_baseline_2_frames.dcm", dicom_encapsulated("1.2.840.10008.1.2.4.50", [jpeg8, jpeg8]), None),
        ("dicom_ok_nested_5.dcm", dicom_nested(5), None),
        ("dicom_nested_40.dcm", dicom_nested(40), "too_deep"),
        ("dicom_ok_1000_elements.dcm", dicom_many_elements(1000), None),
        ("dicom_many_elements.dcm", dicom_many_elements(600_000), "too_complex"),
        ("dicom_many_fragments.dcm", dicom_many_fragments(20_000), "too_complex"),
        ("dicom_ok_few_fragments.dcm", dicom_many_fragments(20), None),
        (
            "dicom_jpeg_scan_bomb.dcm",
            dicom_encapsulated("1.2.840.10008.1.2.4.50", [jpeg_scan_bomb(2048, 4000)], rows=2048, cols=2048),
            "too_complex",
        ),
        (
            "dicom_jpeg_cut_with_eoi.dcm",
            dicom_encapsulated("1.2.840.10008.1.2.4.50", [jpeg8[: len(jpeg8) * 2 // 3] + b"\xff\xd9"]),
            "truncated",
        ),
        ("dicom_jpeg_garbage_frame.dcm", dicom_encapsulated("1.2.840.10008.1.2.4.50", [b"\x00" * 512]), "truncated"),
        ("dicom_jpeg_lossless_garbage.dcm", dicom_encapsulated("1.2.840.10008.1.2.4.70", [b"\xff\xd8" + b"\x00" * 512], bits=16), "truncated"),
        ("dicom_j2k_garbage.dcm", dicom_encapsulated(str(JPEG2000), [b"\xff\x4f\xff\x51" + b"\x00" * 200]), "truncated"),
        ("dicom_rle_garbage.dcm", dicom_encapsulated(str(RLELossless), [b"\x05" + b"\x00" * 200], bits=16), "truncated"),
        ("dicom_jpeg_ls_garbage.dcm", dicom_encapsulated("1.2.840.10008.1.2.4.80", [b"\xff\xd8\xff\xf7" + b"\x00" * 64]), "truncated"),
        ("dicom_hevc.dcm", dicom_encapsulated("1.2.840.10008.1.2.4.107", [b"\x00\x00\x00\x01" * 16]), "dicom_unsupported_syntax"),
        ("dicom_deflate_empty_stream.dcm", _file_meta_bytes(DEFLATED), "truncated"),
        ("dicom_deflate_zlib_header.dcm", _file_meta_bytes(DEFLATED) + zlib.compress(_explicit_le_body(_dataset())), "dicom_invalid"),
        ("dicom_deflate_bomb_80mb.dcm", dicom_deflate_bomb(80), "inflated_too_large"),
        ("dicom_huge_frame_count.dcm", _dicom_frames_claim(100_000), "dicom_too_large"),
        ("dicom_bits_12.dcm", _dicom_bits(12), "dicom_invalid"),
        ("dicom_rows_zero.dcm", _dicom_rows(0), "dicom_invalid"),
        ("dicom_rows_text.dcm", _dicom_rows_text(), "dicom_invalid"),
        ("dicom_samples_2.dcm", _dicom_samples(2), "dicom_invalid"),
        ("dicom_palette_no_lut.dcm", _dicom_palette_without_lut(), "dicom_invalid"),
        # pydicom reads the meta group element by element, not by its stated length: odd but valid.
        ("dicom_meta_length_lies.dcm", _dicom_meta_length_lies(), None),
        ("dicom_element_length_past_end.dcm", _dicom_element_past_end(), "dicom_no_pixels"),
        ("dicom_ok_rgb.dcm", _dicom_rgb(), None),
        ("dicom_ok_monochrome1.dcm", _dicom_monochrome1(), None),
        ("dicom_ok_signed.dcm", _dicom_signed(), None),
        ("dicom_ok_nan_rescale.dcm", _dicom_nan_rescale(), None),
        ("dicom_ok_no_window.dcm", _dicom_without_window(), None),
    ]
    return items


def _base_jpeg() -> bytes:
    return _encode(_noise_image(), "JPEG", quality=90)


def _with_com_segments(n: int) -> bytes:
    d = _base_jpeg()
    return d[:2] + _segment(0xFE, b"c") * n + d[2:]


def _segments(d: bytes) -> list[tuple[int, int, int]]:
    """(marker, start, end) of each segment before the first scan."""
    out, pos = [], 2
    while pos + 4 <= len(d) and d[pos] == 0xFF:
        marker = d[pos + 1]
        if marker == 0xDA:
            break
        end = pos + 2 + struct.unpack(">H", d[pos + 2 : pos + 4])[0]
        out.append((marker, pos, end))
        pos = end
    return out


def _drop_segment(marker: int) -> bytes:
    d = _base_jpeg()
    for m, start, end in _segments(d):
        if m == marker:
            return d[:start] + d[end:]
    raise AssertionError(f"no segment {marker:#x}")


def _drop_all_segments(marker: int) -> bytes:
    d = _base_jpeg()
    for m, start, end in reversed(_segments(d)):
        if m == marker:
            d = d[:start] + d[end:]
    return d


def _jpeg_scribbled() -> bytes:
    """Entropy-coded data overwritten with a pattern that is not valid Huffman code."""
    d = bytearray(_base_jpeg())
    sos = d.find(b"\xff\xda")
    start = sos + 2 + struct.unpack(">H", d[sos + 2 : sos + 4])[0]
    # 0xFF 0x00 is a stuffed 0xFF: runs of 1 bits, which no Huffman table may use as a code.
    span = len(d) - 2 - start - 10
    d[start + 10 : len(d) - 2] = (b"\xff\x00" * (span // 2 + 1))[:span]
    return bytes(d)


def _jpeg_with_fill_bytes() -> bytes:
    d = _base_jpeg()
    segs = _segments(d)
    _, start, _ = segs[1]
    return d[:start] + b"\xff" * 5 + d[start:]


def _jpeg_restart() -> bytes:
    return _encode(_noise_image(), "JPEG", quality=90, restart_marker_blocks=4)


def _jpeg_broken_exif() -> bytes:
    d = _base_jpeg()
    app1 = _segment(0xE1, b"Exif\x00\x00II*\x00\xff\xff\xff\x7f" + b"\x00" * 20)
    return d[:2] + app1 + d[2:]


def _png_bad_crc() -> bytes:
    d = bytearray(_png(32, 32))
    d[29] ^= 0xFF  # last CRC byte of IHDR
    return bytes(d)


def _png_garbage_idat() -> bytes:
    return _png_one_idat(32, 32, 8, 2, b"\x78\x9c" + b"\xff" * 200)


def _apng_claiming(frames: int) -> bytes:
    actl = _png_chunk(b"acTL", struct.pack(">II", frames, 0))
    return _png(32, 32, actl)


def _encode_interlaced() -> bytes:
    # Pillow writes no interlaced PNG: Adam7 by hand (8-bit gray, filter 0 on every row).
    w, h = 40, 33
    img = np.add.outer(np.arange(h), np.arange(w)).astype(np.uint8) * 3
    passes = [(0, 0, 8, 8), (4, 0, 8, 8), (0, 4, 4, 8), (2, 0, 4, 4), (0, 2, 2, 4), (1, 0, 2, 2), (0, 1, 1, 2)]
    raw = b""
    for x0, y0, dx, dy in passes:
        sub = img[y0::dy, x0::dx]
        if sub.size:
            raw += b"".join(b"\x00" + row.tobytes() for row in sub)
    return _png_one_idat(w, h, 8, 0, zlib.compress(raw), interlace=1)


def _png16_rgba() -> bytes:
    w, h = 24, 20
    arr = np.zeros((h, w, 4), dtype=">u2")
    arr[..., 0] = 40000
    arr[..., 3] = np.linspace(0, 65535, w).astype(np.uint16)[None, :]
    raw = b"".join(b"\x00" + row.tobytes() for row in arr)
    return _png_one_idat(w, h, 16, 6, zlib.compress(raw))


def _tiff_huge_values() -> bytes:
    """One SHORT tag with 400,000 values (800 KB): Pillow would make a 400,000-item tuple."""
    count = 400_000
    base = _tiff(32, 32)
    values_at = len(base) + (len(base) % 2)
    return _tiff(32, 32, extra_entries=[(40001, 3, count, values_at)]) + b"\x00" * (len(base) % 2) + b"\x00" * (2 * count)


def _tiff_huge_rows_per_strip() -> bytes:
    data = bytearray(_tiff(32, 32))
    # RowsPerStrip far beyond the height: readers clamp it to the height.
    i = data.find(struct.pack("<HHI", 278, 4, 1))
    data[i + 8 : i + 12] = struct.pack("<I", 0x7FFFFFFF)
    return bytes(data)


def _tiff_big_endian() -> bytes:
    return _encode(Image.fromarray(np.full((20, 20), 700, np.uint16)).convert("I;16B"), "TIFF")


def _bmp_top_down() -> bytes:
    w, h = 20, 18
    row = bytes([0, 0, 255]) * w + b"\x00" * ((4 - (3 * w) % 4) % 4)
    body = row * h
    header = struct.pack("<2sIHHI", b"BM", 54 + len(body), 0, 0, 54)
    dib = struct.pack("<IiiHHIIiiII", 40, w, -h, 1, 24, 0, len(body), 2835, 2835, 0, 0)
    return header + dib + body


def _webp_riff_lies() -> bytes:
    d = bytearray(_encode(_noise_image(), "WEBP", quality=80))
    d[4:8] = struct.pack("<I", len(d) * 4)
    return bytes(d)


def _webp_animated() -> bytes:
    frames = [_noise_image(40, 40, seed=s) for s in range(3)]
    buf = io.BytesIO()
    frames[0].save(buf, "WEBP", save_all=True, append_images=frames[1:], duration=50, lossless=True)
    return buf.getvalue()


def _std(ds) -> bytes:
    return _save(ds, "1.2.840.10008.1.2.1")


def _dicom_frames_claim(frames: int) -> bytes:
    ds = _dataset()
    ds.NumberOfFrames = frames
    return _std(ds)


def _dicom_bits(bits: int) -> bytes:
    ds = _dataset()
    ds.BitsAllocated = bits
    return _std(ds)


def _dicom_rows(rows: int) -> bytes:
    ds = _dataset()
    ds.Rows = rows
    return _std(ds)


def _dicom_rows_text() -> bytes:
    data = _std(_dataset())
    # Rows (0028,0010) US 2 bytes -> change its VR to a text VR with a non-number.
    i = data.find(b"\x28\x00\x10\x00US\x02\x00")
    return data[:i] + b"\x28\x00\x10\x00IS\x02\x00ab" + data[i + 10 :]


def _dicom_samples(samples: int) -> bytes:
    ds = _dataset()
    ds.SamplesPerPixel = samples
    return _std(ds)


def _dicom_palette_without_lut() -> bytes:
    ds = _dataset(bits=8)
    ds.PhotometricInterpretation = "PALETTE COLOR"
    return _std(ds)


def _dicom_meta_length_lies() -> bytes:
    data = bytearray(_std(_dataset()))
    # (0002,0000) UL group length: claim far more than there is.
    i = data.find(b"\x02\x00\x00\x00UL\x04\x00")
    data[i + 8 : i + 12] = struct.pack("<I", 0x7FFFFFF0)
    return bytes(data)


def _dicom_element_past_end() -> bytes:
    data = _std(_dataset())
    i = data.find(b"\x10\x00\x10\x00PN")  # PatientName
    return data[: i + 6] + struct.pack("<H", 0xFFF0) + data[i + 8 : i + 40]


def _dicom_rgb() -> bytes:
    ds = _dataset(32, 32, bits=8, pixels=np.tile(np.arange(3, dtype=np.uint8) * 100, 32 * 32).tobytes())
    ds.SamplesPerPixel = 3
    ds.PhotometricInterpretation = "RGB"
    ds.PlanarConfiguration = 0
    ds.Modality = "OT"
    return _std(ds)


def _dicom_monochrome1() -> bytes:
    ds = _dataset()
    ds.PhotometricInterpretation = "MONOCHROME1"
    return _std(ds)


def _dicom_signed() -> bytes:
    pixels = np.linspace(-2000, 2000, 64 * 64).astype(np.int16).tobytes()
    ds = _dataset(pixels=pixels)
    ds.PixelRepresentation = 1
    ds.RescaleIntercept = 0
    return _std(ds)


def _dicom_nan_rescale() -> bytes:
    ds = _dataset()
    ds.RescaleSlope = "NaN"
    return _std(ds)


def _dicom_without_window() -> bytes:
    ds = _dataset()
    del ds.WindowCenter
    del ds.WindowWidth
    ds.Modality = "MR"
    return _std(ds)


def _gif_tiny_sub_blocks(n: int) -> bytes:
    """One 32 x 32 frame whose LZW data is split into `n` one-byte sub-blocks (10 MB for 5 M)."""
    screen = struct.pack("<HHBBB", 32, 32, 0x80, 0, 0) + b"\x00\x00\x00\xff\xff\xff"
    descriptor = b",\x00\x00\x00\x00\x20\x00\x20\x00\x00\x02"
    return b"GIF89a" + screen + descriptor + b"\x01\x00" * n + b"\x00;"
