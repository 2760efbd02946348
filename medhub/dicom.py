"""DICOM decoding for uploads: header checks, pixel decoding, Hounsfield units and CT window presets.

`read_dicom()` turns the bytes of one DICOM file into a `DicomSlice`: the chosen frame in modality
units (HU for CT, via the Modality LUT / RescaleSlope+Intercept), safe display metadata (never a
patient identifier) and the file's own window. `render_slice()` applies a window (a preset, the
file's own, or explicit centre/width) and returns the RGB uint8 image a model sees.

Untrusted input: the header is parsed first (`stop_before_pixels`), the pixel matrix size is checked
against limits and the Pixel Data element is checked for truncation before any pixel is decoded.
Every failure is an `InputError` with a stable `code`. Uploads reach this module through
`medhub.imaging.load_upload()`, which also checks the byte size and the file signature.

The decode budget (`medhub.limits`): a deflated dataset is inflated here, in one bounded step, to at
most `MAX_INFLATED_BYTES` (pydicom would inflate all of it); pydicom reads through a
`BudgetedReader` (CPU time and read count); a sequence nested deeper than `MAX_SEQUENCE_DEPTH` (or
deep enough to exhaust Python's recursion) is `too_deep`; encapsulated Pixel Data may hold at most
`MAX_DICOM_FRAGMENTS` fragments and a JPEG frame at most the scans `limits.check_jpeg_scans`
allows. This module imports only `medhub.errors`, `medhub.limits` and `medhub.constants` (not
`medhub.imaging`).
"""

from __future__ import annotations

import os
import struct
import zlib
from dataclasses import dataclass
from typing import Any

import numpy as np
import pydicom
from pydicom.dataset import Dataset
from pydicom.pixels import apply_color_lut, apply_modality_lut, get_decoder, pixel_array
from pydicom.uid import UID

from medhub import limits
from medhub.constants import WINDOW_PRESETS
from medhub.errors import InputError
from medhub.limits import Budget, BudgetedReader, read_source

# (centre, width) in HU: medhub/constants.py (the card schema reads them too).
# "file" means the window stored in the file (first value if multi-valued), else the brain window.
WINDOW_CHOICES: tuple[str, ...] = (*WINDOW_PRESETS, "file")
# For a decode that names no window and serves no card (e.g. the scope report's image sets). A model's
# uploads are rendered with its card's `input.dicom_window` (medhub.imaging.dicom_window / load_for_card).
FALLBACK_WINDOW = "brain"

# A multi-frame object is refused beyond this many frames (a bound on header parsing and on what a
# demo should accept; one frame is decoded at a time anyway). Kept here for old imports.
MAX_DICOM_FRAMES = limits.MAX_DICOM_FRAMES
_ALLOWED_BITS = {1, 8, 16, 32}
_PIXEL_TAGS = {0x7FE00010, 0x7FE00008, 0x7FE00009}  # Pixel Data, Float / Double Float Pixel Data
_COLOR_PHOTOMETRIC = {"RGB", "YBR_FULL", "YBR_FULL_422", "YBR_ICT", "YBR_RCT", "YBR_PARTIAL_420"}
_GRAY_PHOTOMETRIC = {"MONOCHROME1", "MONOCHROME2"}
_SEQ_DELIMITER_LE = b"\xfe\xff\xdd\xe0\x00\x00\x00\x00"
_SEQ_DELIMITER_BE = b"\xff\xfe\xe0\xdd\x00\x00\x00\x00"


@dataclass(frozen=True)
class DicomSlice:
    """One decoded frame of a DICOM file.

    `hu` holds modality values as float32 (Hounsfield units for CT) for grayscale images and is None
    for colour images, whose pixels are in `rgb` (uint8, already converted from YBR / palette).
    `invert` is True for MONOCHROME1 (low values bright): `render_slice` inverts after windowing,
    as the DICOM display pipeline does, so that high stays bright on screen.
    """

    hu: np.ndarray | None
    rgb: np.ndarray | None
    meta: dict[str, Any]
    own_window: tuple[float, float] | None
    photometric: str
    n_frames: int
    frame: int
    modality: str
    invert: bool = False


def apply_window(hu: np.ndarray, center: float, width: float) -> np.ndarray:
    """Linear VOI window of DICOM PS3.3 C.11.2.1.2.1, output 0..255 as uint8.

    x <= c - 0.5 - (w-1)/2 -> 0; x > c - 0.5 + (w-1)/2 -> 255;
    else ((x - (c - 0.5)) / (w - 1) + 0.5) * 255, rounded to the nearest integer.
    """
    if not np.isfinite(center) or not np.isfinite(width) or width < 1:
        raise ValueError(f"window width must be >= 1 and finite (got centre {center}, width {width})")
    values = np.asarray(hu)
    flat = values.reshape(-1)
    result = np.empty(flat.shape, dtype=np.uint8)
    c = float(center) - 0.5
    half = (float(width) - 1.0) / 2.0
    # In float64 as the formula, but in blocks: a 16-megapixel frame would need ~0.5 GB of
    # float64 temporaries at once.
    for start in range(0, flat.size, _BLOCK):
        x = flat[start : start + _BLOCK].astype(np.float64)
        # width == 1 has no ramp (both bounds coincide); max() only keeps the unused branch finite.
        ramp = ((x - c) / max(float(width) - 1.0, 1e-12) + 0.5) * 255.0
        out = np.where(x <= c - half, 0.0, np.where(x > c + half, 255.0, ramp))
        result[start : start + _BLOCK] = np.rint(np.clip(out, 0.0, 255.0))
    return result.reshape(values.shape)


_BLOCK = 1 << 18  # pixels per block of the float64 steps


def resolve_window(
    window: str | tuple[float, float] | None, dslice: DicomSlice
) -> tuple[str, float, float] | None:
    """Turn a window request into (label, centre, width); None means "stretch min..max".

    None picks a sensible default: the brain window for CT (the hub's CT model reads head CT), the
    file's own window for other modalities, and a min..max stretch when the file has none.
    """
    if window is None:
        if dslice.modality == "CT":
            window = FALLBACK_WINDOW
        elif dslice.own_window is not None:
            window = "file"
        else:
            return None
    if isinstance(window, str):
        name = window.strip().lower()
        if name == "file":
            if dslice.own_window is not None:
                c, w = dslice.own_window
                return ("file", c, w)
            c, w = WINDOW_PRESETS[FALLBACK_WINDOW]
            return (f"{FALLBACK_WINDOW} (file has no window)", c, w)
        if name in WINDOW_PRESETS:
            c, w = WINDOW_PRESETS[name]
            return (name, c, w)
        raise InputError.make("bad_window", name=window, choices=", ".join(WINDOW_CHOICES))
    try:
        c, w = (float(v) for v in window)
    except (TypeError, ValueError):
        raise InputError.make("bad_window", name=str(window), choices=", ".join(WINDOW_CHOICES)) from None
    if not (np.isfinite(c) and np.isfinite(w) and w >= 1):
        raise InputError.make("bad_window", name=f"{window}", choices=", ".join(WINDOW_CHOICES))
    return ("custom", c, w)


def render_slice(
    dslice: DicomSlice, window: str | tuple[float, float] | None = None
) -> tuple[np.ndarray, str]:
    """Window a slice and replicate it to RGB uint8; returns (rgb, description of the window)."""
    if dslice.rgb is not None:
        return dslice.rgb, "none (colour image)"
    assert dslice.hu is not None
    chosen = resolve_window(window, dslice)
    if chosen is None:
        gray = _stretch(dslice.hu)
        label = "min..max"
    else:
        name, c, w = chosen
        gray = apply_window(dslice.hu, c, w)
        label = f"{name} (C {c:g} / W {w:g})"
    if dslice.invert:
        gray = 255 - gray
    return np.repeat(gray[:, :, None], 3, axis=2), label


def read_dicom(
    data: bytes | str | os.PathLike, frame: int = 0, *, force: bool = False, budget: Budget | None = None
) -> DicomSlice:
    """Decode one frame of a DICOM file (bytes or path) into a `DicomSlice`.

    `force=True` reads a dataset without the 128-byte preamble and "DICM" prefix; the caller decides
    whether such content is plausible (see `imaging.load_upload`). `budget`: the decode budget of
    this request (a fresh one if None).
    """
    if not isinstance(data, (bytes, bytearray, memoryview)):
        data = read_source(data)
    budget = budget or Budget()
    try:
        return _read_dicom(bytes(data), frame, force, budget)
    except InputError:
        raise
    except RecursionError:
        raise InputError.make("too_deep", what="DICOM sequences") from None
    except MemoryError:
        raise InputError.make("dicom_too_large", detail="not enough memory to decode") from None
    except Exception as exc:  # noqa: BLE001 - pydicom converts header values lazily, on first access:
        # a damaged value (unknown VR, odd length) fails wherever it is first read.
        raise InputError.make("dicom_invalid", detail=f"{type(exc).__name__}: {str(exc)[:150]}") from None


def _read_dicom(data: bytes, frame: int, force: bool, budget: Budget) -> DicomSlice:
    budget.max_reads = min(budget.max_reads, limits.MAX_DICOM_READ_CALLS)
    data = bytes(data)
    deflated = False
    if not force and _is_deflated(data, budget):
        data = inflate_dataset(data, budget)
        deflated = True
    check_structure(data, force, budget)
    header, pixel_pos = _read_header(data, force, budget)
    tsyntax = _transfer_syntax(header)
    shown_syntax = pydicom.uid.DeflatedExplicitVRLittleEndian if deflated else tsyntax
    geometry = _check_geometry(header, frame)
    if pixel_pos is None:
        raise InputError.make("dicom_no_pixels")
    _check_pixel_element(data, pixel_pos, tsyntax)
    _check_decoder(tsyntax)
    if tsyntax.is_encapsulated:
        _check_fragment_count(data, pixel_pos)
    budget.check()

    reader = BudgetedReader(data, budget)
    del data  # the reader holds it; closing the reader below frees an inflated dataset early
    try:
        ds = pydicom.dcmread(reader, force=force, defer_size="256 KB")
        if not getattr(ds.file_meta, "TransferSyntaxUID", None):
            ds.file_meta.TransferSyntaxUID = tsyntax
        if not any(tag in ds for tag in _PIXEL_TAGS):
            raise InputError.make("dicom_no_pixels")
        if tsyntax.is_encapsulated:
            _check_codestream(ds, frame, geometry, tsyntax)
        budget.check()
        arr = pixel_array(ds, index=frame, decoding_plugin=_plugin(tsyntax))
    except InputError:
        raise
    except RecursionError:
        raise InputError.make("too_deep", what="DICOM sequences") from None
    except (ValueError, EOFError, struct.error, OSError, RuntimeError) as exc:
        # pydicom reports a short native Pixel Data and codec failures on corrupt streams this way.
        raise InputError.make("truncated", detail=str(exc)[:200]) from exc
    except (AttributeError, KeyError, TypeError, IndexError, NotImplementedError) as exc:
        raise InputError.make("dicom_invalid", detail=str(exc)[:200]) from exc
    except MemoryError as exc:
        raise InputError.make("dicom_too_large", detail="not enough memory to decode") from exc
    except zlib.error as exc:
        raise InputError.make("truncated", detail=str(exc)[:200]) from exc
    except BaseException as exc:  # noqa: BLE001 - see _is_decoder_panic
        if not _is_decoder_panic(exc):
            raise
        raise InputError.make("truncated", detail=f"decoder failed: {str(exc)[:150]}") from None
    budget.check()
    # Memory: the file's bytes and the Pixel Data value are not needed once `arr` is decoded.
    for tag in _PIXEL_TAGS:
        if tag in ds:
            del ds[tag]
    reader.close()

    photometric = str(header.get("PhotometricInterpretation", "MONOCHROME2")).strip().upper()
    modality = str(header.get("Modality", "")).strip().upper()
    own_window = _own_window(header)
    hu: np.ndarray | None = None
    rgb: np.ndarray | None = None
    try:
        if photometric == "PALETTE COLOR":
            rgb = _to_uint8_rgb(apply_color_lut(arr, ds), bits=None)
        elif photometric in _COLOR_PHOTOMETRIC or arr.ndim == 3:
            # pydicom has converted YBR to RGB already (raw=False); colour is shown as it is.
            rgb = _to_uint8_rgb(arr, bits=int(header.get("BitsStored", 8) or 8))
        else:
            hu = _modality_values(arr, ds)
    except (ValueError, KeyError, AttributeError, IndexError, TypeError) as exc:
        raise InputError.make("dicom_invalid", detail=str(exc)[:200]) from exc
    del arr
    budget.check()

    meta = safe_meta(header, shown_syntax, n_frames=geometry["frames"], frame=frame)
    return DicomSlice(
        hu=hu,
        rgb=rgb,
        meta=meta,
        own_window=own_window,
        photometric=photometric,
        n_frames=geometry["frames"],
        frame=frame,
        modality=modality,
        invert=photometric == "MONOCHROME1",
    )


# Display fields that describe the image, never the patient, the institution or the study identity.
_SAFE_FIELDS = {
    "Modality": "modality",
    "BodyPartExamined": "body_part",
    "SliceThickness": "slice_thickness_mm",
    "PixelSpacing": "pixel_spacing_mm",
    "KVP": "kvp",
    "ConvolutionKernel": "kernel",
    "PhotometricInterpretation": "photometric",
    "BitsStored": "bits_stored",
    "Rows": "rows",
    "Columns": "columns",
}


_INT_FIELDS = {"BitsStored", "Rows", "Columns"}
_NUMERIC_FIELDS = _INT_FIELDS | {"SliceThickness", "KVP"}


def safe_meta(header: Dataset, tsyntax: UID, *, n_frames: int, frame: int) -> dict[str, Any]:
    """A whitelist of display fields; identifiers (names, IDs, dates, UIDs, institution) never appear."""
    meta: dict[str, Any] = {}
    for keyword, key in _SAFE_FIELDS.items():
        value = header.get(keyword)
        if value is None or value == "":
            continue
        try:
            if keyword in _NUMERIC_FIELDS:
                meta[key] = int(value) if keyword in _INT_FIELDS else round(float(value), 4)
            elif keyword == "PixelSpacing":
                meta[key] = [round(float(v), 4) for v in value]
            else:
                meta[key] = str(value)[:64]
        except (TypeError, ValueError):
            continue  # a malformed display field is left out, not fatal
    meta["transfer_syntax"] = tsyntax.name if tsyntax.is_valid else str(tsyntax)[:64]
    meta["frame"] = f"{frame + 1} of {n_frames}"
    return meta


def _read_header(data: bytes, force: bool, budget: Budget | None = None) -> tuple[Dataset, int | None]:
    """Parse everything before the pixel data; return it and the offset of the pixel element."""
    buf = BudgetedReader(data, budget or Budget())
    try:
        header = pydicom.dcmread(buf, stop_before_pixels=True, force=force)
    except InputError:
        raise
    except RecursionError:
        raise InputError.make("too_deep", what="DICOM sequences") from None
    except MemoryError:
        raise InputError.make("dicom_too_large", detail="not enough memory to read the header") from None
    except Exception as exc:  # noqa: BLE001 - any parse failure of untrusted bytes means "invalid"
        raise InputError.make("dicom_invalid", detail=str(exc)[:200] or type(exc).__name__) from exc
    if not any(tag.group % 2 == 0 for tag in header.keys()):
        # Only private or unparseable elements: random bytes after a "DICM" prefix parse like this.
        raise InputError.make("dicom_invalid", detail="no standard DICOM elements")
    depth = sequence_depth(header)
    if depth > limits.MAX_SEQUENCE_DEPTH:
        raise InputError.make(
            "too_deep", what=f"sequences nested {depth} deep; at most {limits.MAX_SEQUENCE_DEPTH}"
        )
    pos = buf.tell()
    if pos + 8 > len(data):
        return header, None
    return header, pos


def _transfer_syntax(header: Dataset) -> UID:
    file_meta = getattr(header, "file_meta", None)
    tsyntax = file_meta.get("TransferSyntaxUID") if file_meta is not None else None
    if tsyntax:
        return UID(str(tsyntax))
    # A dataset without file meta: pydicom worked out the encoding while parsing.
    implicit, little = header.original_encoding
    if implicit is None:
        return pydicom.uid.ImplicitVRLittleEndian
    if implicit:
        return pydicom.uid.ImplicitVRLittleEndian
    return pydicom.uid.ExplicitVRLittleEndian if little else pydicom.uid.ExplicitVRBigEndian


def _check_decoder(tsyntax: UID) -> None:
    try:
        decoder = get_decoder(tsyntax)
    except NotImplementedError:
        decoder = None
    if decoder is None or not decoder.is_available:
        name = tsyntax.name if tsyntax.is_valid and tsyntax.name != str(tsyntax) else "unknown"
        raise InputError.make("dicom_unsupported_syntax", name=name, uid=str(tsyntax)[:64])


def _int(header: Dataset, keyword: str, default: int | None = None) -> int:
    value = header.get(keyword, default)
    if value is None or value == "":
        raise (
            InputError.make("dicom_no_pixels")
            if keyword in {"Rows", "Columns"}
            else InputError.make("dicom_invalid", detail=f"{keyword} missing")
        )
    try:
        return int(value)
    except (TypeError, ValueError):
        raise InputError.make("dicom_invalid", detail=f"{keyword} is not a number") from None


def _check_geometry(header: Dataset, frame: int) -> dict[str, int]:
    """Refuse absurd or oversized matrices from the header alone, before any pixel is decoded."""
    rows, cols = _int(header, "Rows"), _int(header, "Columns")
    frames = _int(header, "NumberOfFrames", 1) or 1
    samples = _int(header, "SamplesPerPixel", 1)
    bits = _int(header, "BitsAllocated", 16)
    if rows <= 0 or cols <= 0 or frames < 0 or samples not in (1, 3) or bits not in _ALLOWED_BITS:
        raise InputError.make(
            "dicom_invalid",
            detail=f"rows {rows}, columns {cols}, samples {samples}, bits allocated {bits}",
        )
    if rows * cols > limits.max_dicom_pixels():
        raise InputError.make("dicom_too_large", detail=f"{cols} x {rows} pixels")
    if frames > limits.MAX_DICOM_FRAMES:
        raise InputError.make("dicom_too_large", detail=f"{frames} frames")
    if rows < 16 or cols < 16:
        raise InputError.make("too_small", w=cols, h=rows)
    if not 0 <= frame < frames:
        raise InputError.make("dicom_bad_frame", frame=frame, n=frames, last=frames - 1)
    return {"rows": rows, "cols": cols, "frames": frames, "samples": samples, "bits": bits}


def _check_pixel_element(data: bytes, pos: int, tsyntax: UID) -> None:
    """Check that the Pixel Data element at `pos` is complete (pydicom would drop a cut one silently)."""
    little = tsyntax != pydicom.uid.ExplicitVRBigEndian
    end = "<" if little else ">"
    group, elem = struct.unpack(end + "HH", data[pos : pos + 4])
    if (group << 16 | elem) not in _PIXEL_TAGS:
        raise InputError.make("dicom_no_pixels")
    implicit = tsyntax == pydicom.uid.ImplicitVRLittleEndian
    vr = data[pos + 4 : pos + 6]
    if implicit or not vr.isalpha():
        (length,) = struct.unpack(end + "I", data[pos + 4 : pos + 8])
        value_start = pos + 8
    elif vr in (b"OB", b"OW", b"OF", b"OD", b"OL", b"OV", b"UN"):
        if pos + 12 > len(data):
            raise InputError.make("truncated", detail="Pixel Data header cut")
        (length,) = struct.unpack(end + "I", data[pos + 8 : pos + 12])
        value_start = pos + 12
    else:
        (length,) = struct.unpack(end + "H", data[pos + 6 : pos + 8])
        value_start = pos + 8
    if length == 0xFFFFFFFF:
        delimiter = _SEQ_DELIMITER_LE if little else _SEQ_DELIMITER_BE
        if data.rfind(delimiter, value_start) < 0:
            raise InputError.make("truncated", detail="encapsulated Pixel Data has no end")
    elif length == 0:
        raise InputError.make("dicom_no_pixels")
    elif value_start + length > len(data):
        raise InputError.make(
            "truncated", detail=f"Pixel Data holds {len(data) - value_start} of {length} bytes"
        )


def _codestream_size(stream: bytes) -> tuple[int, int] | None:
    """(columns, rows) from a JPEG / JPEG-LS SOF or a JPEG 2000 SIZ marker; None if not found."""
    siz = stream.find(b"\xff\x4f\xff\x51", 0, 4096)
    if siz >= 0 and siz + 20 <= len(stream):
        xsiz, ysiz, xo, yo = struct.unpack(">IIII", stream[siz + 8 : siz + 24])
        return xsiz - xo, ysiz - yo
    if not stream.startswith(b"\xff\xd8"):
        return None
    pos = 2
    while pos + 9 <= len(stream) and stream[pos] == 0xFF:
        marker = stream[pos + 1]
        if marker in _SOF_MARKERS:
            rows, cols = struct.unpack(">HH", stream[pos + 5 : pos + 9])
            return cols, rows
        if marker == 0xDA:
            return None
        pos += 2 + struct.unpack(">H", stream[pos + 2 : pos + 4])[0]
    return None


_SOF_MARKERS = {0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF, 0xF7}


def _check_codestream(ds: Dataset, frame: int, geometry: dict[str, int], tsyntax: UID) -> None:
    """A compressed frame must not be larger than the header says: decoders allocate what the
    codestream claims, so a 64x64 header over a 60000x60000 codestream would be a bomb. A JPEG
    frame must not hold more scans than the budget allows (each scan is a pass over the image)."""
    from pydicom.encaps import get_frame

    stream = bytes(get_frame(ds.PixelData, frame, number_of_frames=geometry["frames"]))
    size = _codestream_size(stream[:65536])
    if size is not None and (size[0] > geometry["cols"] or size[1] > geometry["rows"]):
        raise InputError.make(
            "dicom_invalid",
            detail=f"compressed frame is {size[0]} x {size[1]}, header says {geometry['cols']} x {geometry['rows']}",
        )
    if stream.startswith(b"\xff\xd8"):
        limits.check_jpeg_scans(stream, geometry["cols"], geometry["rows"])
        if tsyntax == pydicom.uid.JPEGBaseline8Bit:
            # A frame cut and closed with an EOI would decode with a grey part.
            limits.check_jpeg_entropy(stream, geometry["samples"])


def _check_fragment_count(data: bytes, pixel_pos: int) -> None:
    """Encapsulated Pixel Data: pydicom walks its fragments one by one in Python."""
    limit = limits.MAX_DICOM_FRAGMENTS
    items = data.count(b"\xfe\xff\x00\xe0", pixel_pos)  # item tags (little endian)
    if items > limit + 1:  # + the basic offset table
        raise InputError.make("too_complex", what=f"{items:,} Pixel Data fragments; at most {limit:,}")


def _is_decoder_panic(exc: BaseException) -> bool:
    """A compiled decoder's crash that Python sees as an exception outside `Exception`: Rust
    plugins (pylibjpeg-rle) raise `pyo3_runtime.PanicException`, a BaseException, on some corrupt
    streams (found by tests/test_fuzz_gate.py). It would pass every `except Exception`."""
    return not isinstance(exc, (Exception, KeyboardInterrupt, SystemExit, GeneratorExit)) and (
        type(exc).__name__ == "PanicException" or type(exc).__module__.startswith("pyo3")
    )


def _plugin(tsyntax: UID) -> str:
    """The decoding plugin: for RLE the compiled one when installed (pydicom's own RLE decoder is a
    Python loop, seconds for a crafted 20 MB file); otherwise pydicom's choice."""
    if tsyntax == pydicom.uid.RLELossless:
        decoder = get_decoder(tsyntax)
        if "pylibjpeg" in decoder.available_plugins:
            return "pylibjpeg"
    return ""


def _modality_values(arr: np.ndarray, ds: Dataset) -> np.ndarray:
    """Stored values -> modality values (HU for CT) as float32, without float64 copies of a whole
    frame for the common linear rescale (a Modality LUT goes through pydicom)."""
    if "ModalityLUTSequence" in ds:
        return np.asarray(apply_modality_lut(arr, ds), dtype=np.float32)
    slope = float(ds.get("RescaleSlope", 1) or 1)
    intercept = float(ds.get("RescaleIntercept", 0) or 0)
    out = np.empty(arr.shape, dtype=np.float32)
    flat_in, flat_out = arr.reshape(-1), out.reshape(-1)
    for start in range(0, flat_in.size, _BLOCK):
        block = flat_in[start : start + _BLOCK].astype(np.float64)
        flat_out[start : start + _BLOCK] = block * slope + intercept
    return out


def sequence_depth(ds: Dataset) -> int:
    """How deep sequences nest in `ds` (0: none), walked without recursion."""
    deepest = 0
    stack: list[tuple[Dataset, int]] = [(ds, 0)]
    while stack:
        current, depth = stack.pop()
        deepest = max(deepest, depth)
        if depth > limits.MAX_SEQUENCE_DEPTH:
            break
        for elem in current:  # DataElements (raw ones converted, so implicit-VR SQs are seen)
            if elem.VR == "SQ":
                stack.extend((item, depth + 1) for item in elem.value if isinstance(item, Dataset))
    return deepest


_LONG_VRS = {b"OB", b"OD", b"OF", b"OL", b"OV", b"OW", b"SQ", b"SV", b"UC", b"UN", b"UR", b"UT", b"UV"}
_ITEM, _ITEM_END, _SEQ_END = 0xFFFEE000, 0xFFFEE00D, 0xFFFEE0DD
_PIXEL_DATA = 0x7FE00010


def check_structure(data: bytes, force: bool, budget: Budget | None = None) -> tuple[int, int]:
    """Walk the dataset's element headers without parsing values, before pydicom does: at most
    MAX_DICOM_ELEMENTS elements (pydicom spends microseconds on each) and sequences nested at most
    MAX_SEQUENCE_DEPTH deep (pydicom recurses per level: Python's recursion limit would fire at a
    depth that depends on the caller's stack, and pydicom turns it into different errors).
    Returns (elements, deepest nesting). Stops quietly where the structure is not understood (pydicom
    reports that); stops at the Pixel Data element."""
    start, little, implicit = 0, True, True
    if not force:
        meta, start = _file_meta(data, budget or Budget())
        ts = str(meta.get("TransferSyntaxUID", "") or "").strip()
        implicit = ts == pydicom.uid.ImplicitVRLittleEndian
        little = ts != pydicom.uid.ExplicitVRBigEndian
    else:
        implicit = not data[4:6].isalpha()
    from pydicom.datadict import dictionary_VR

    end_fmt = "<" if little else ">"
    h_fmt, i_fmt = end_fmt + "HH", end_fmt + "I"
    pos, n = start, len(data)
    ends: list[int] = []  # end offsets of enclosing defined-length sequences / items (or -1)
    count = deepest = 0
    limit, depth_limit = limits.MAX_DICOM_ELEMENTS, limits.MAX_SEQUENCE_DEPTH
    while pos + 8 <= n:
        while ends and ends[-1] != -1 and pos >= ends[-1]:
            ends.pop()
        group, elem = struct.unpack(h_fmt, data[pos : pos + 4])
        tag = group << 16 | elem
        count += 1
        if count > limit:
            raise InputError.make("too_complex", what=f"more than {limit:,} DICOM data elements")
        if group == 0xFFFE:  # item / delimiters: always tag + 4-byte length
            (length,) = struct.unpack(i_fmt, data[pos + 4 : pos + 8])
            pos += 8
            if tag in (_ITEM_END, _SEQ_END):
                if ends:
                    ends.pop()
                continue
            if tag == _ITEM:
                ends.append(-1 if length == 0xFFFFFFFF else pos + length)
                if len(ends) > 2 * depth_limit:
                    raise InputError.make("too_deep", what=f"sequences nested more than {depth_limit} deep")
            continue
        vr = data[pos + 4 : pos + 6]
        if implicit or not vr.isalpha():
            (length,) = struct.unpack(i_fmt, data[pos + 4 : pos + 8])
            value_at = pos + 8
            is_sq = length == 0xFFFFFFFF or _implicit_vr(dictionary_VR, tag) == "SQ"
        elif vr in _LONG_VRS:
            if pos + 12 > n:
                break
            (length,) = struct.unpack(i_fmt, data[pos + 8 : pos + 12])
            value_at = pos + 12
            is_sq = vr == b"SQ" or (vr == b"UN" and length == 0xFFFFFFFF)
        else:
            (length,) = struct.unpack(end_fmt + "H", data[pos + 6 : pos + 8])
            value_at, is_sq = pos + 8, False
        if tag == _PIXEL_DATA and not ends:
            break
        if is_sq:
            ends.append(-1 if length == 0xFFFFFFFF else value_at + length)
            deepest = max(deepest, (len(ends) + 1) // 2)
            if len(ends) > 2 * depth_limit:
                raise InputError.make("too_deep", what=f"sequences nested more than {depth_limit} deep")
            pos = value_at
            continue
        if length == 0xFFFFFFFF:
            break  # an undefined length pydicom will have to make sense of
        pos = value_at + length
    return count, deepest


def _implicit_vr(dictionary_vr, tag: int) -> str:
    try:
        return dictionary_vr(tag)
    except KeyError:
        return ""


def _is_deflated(data: bytes, budget: Budget) -> bool:
    """True if the file meta names the Deflated Explicit VR Little Endian transfer syntax."""
    if len(data) < 132 or data[128:132] != b"DICM":
        return False
    meta = _file_meta(data, budget)[0]
    return str(meta.get("TransferSyntaxUID", "")).strip() in _DEFLATED


_DEFLATED = {pydicom.uid.DeflatedExplicitVRLittleEndian}


def _file_meta(data: bytes, budget: Budget) -> tuple[Dataset, int]:
    """The file meta group and the offset where the dataset starts."""
    from pydicom.filereader import _read_file_meta_info, read_preamble

    fp = BudgetedReader(data, budget)
    try:
        read_preamble(fp, False)
        meta = _read_file_meta_info(fp)
    except InputError:
        raise
    except Exception as exc:  # noqa: BLE001 - untrusted bytes
        raise InputError.make("dicom_invalid", detail=str(exc)[:200] or type(exc).__name__) from exc
    return meta, fp.tell()


def inflate_dataset(data: bytes, budget: Budget | None = None) -> bytes:
    """A deflated DICOM file -> the same file in Explicit VR Little Endian, inflated in one bounded
    step: never more than `MAX_INFLATED_BYTES` are produced (a 314 KB file can inflate to 300 MB).

    A corrupt stream is `dicom_invalid`, a cut one `truncated`, an oversized one `inflated_too_large`.
    """
    from pydicom.filebase import DicomBytesIO
    from pydicom.filewriter import write_file_meta_info

    budget = budget or Budget()
    meta, start = _file_meta(data, budget)
    limit = limits.MAX_INFLATED_BYTES
    inflater = zlib.decompressobj(-zlib.MAX_WBITS)
    try:
        body = inflater.decompress(data[start:], limit + 1)
    except zlib.error as exc:
        raise InputError.make("dicom_invalid", detail=f"corrupt deflate stream ({exc})"[:200]) from None
    if len(body) > limit:
        raise InputError.make("inflated_too_large", limit_mb=limit / 2**20, what="DICOM deflated dataset")
    if not inflater.eof:
        raise InputError.make("truncated", detail="the deflate stream ends early")
    budget.check()
    meta = Dataset(meta) if not isinstance(meta, Dataset) else meta
    meta.TransferSyntaxUID = pydicom.uid.ExplicitVRLittleEndian
    out = DicomBytesIO()
    out.write(data[:128] + b"DICM")
    try:
        write_file_meta_info(out, meta, enforce_standard=False)
    except Exception as exc:  # noqa: BLE001 - a meta group pydicom read but cannot write back
        raise InputError.make("dicom_invalid", detail=str(exc)[:200] or type(exc).__name__) from exc
    head = out.getvalue()
    return head + body  # one copy; `body` is freed when this returns


def _own_window(header: Dataset) -> tuple[float, float] | None:
    center, width = header.get("WindowCenter"), header.get("WindowWidth")
    if center is None or width is None or center == "" or width == "":
        return None
    try:
        c = float(center[0] if isinstance(center, pydicom.multival.MultiValue) else center)
        w = float(width[0] if isinstance(width, pydicom.multival.MultiValue) else width)
    except (TypeError, ValueError, IndexError):
        return None
    if not (np.isfinite(c) and np.isfinite(w)) or w < 1:
        return None
    return (c, w)


def _stretch(values: np.ndarray) -> np.ndarray:
    finite = np.nan_to_num(values.astype(np.float64), nan=0.0, posinf=0.0, neginf=0.0)
    lo, hi = float(finite.min()), float(finite.max())
    if hi <= lo:
        return np.zeros(values.shape, dtype=np.uint8)
    return np.rint((finite - lo) * (255.0 / (hi - lo))).astype(np.uint8)


def _to_uint8_rgb(arr: np.ndarray, bits: int | None) -> np.ndarray:
    """Colour pixels of any integer depth -> uint8 RGB (scaled by the stored bit depth)."""
    if arr.ndim != 3 or arr.shape[2] != 3:
        raise ValueError(f"colour image with shape {arr.shape}")
    if arr.dtype == np.uint8:
        return np.ascontiguousarray(arr)
    top = float(2**bits - 1) if bits else float(np.iinfo(arr.dtype).max)
    scaled = np.clip(arr.astype(np.float64), 0, top) * (255.0 / top)
    return np.rint(scaled).astype(np.uint8)
