"""The one gate for untrusted uploads: every tab, the API and the CLI decode user files here.

`load_upload()` takes a path or bytes and returns a `DecodedImage` (RGB uint8, what the model sees
and what overlays are drawn on) or raises `InputError`, whose `code` is stable and whose message
exists in English and Korean (`str(err)` is "English / 한국어").

Order of checks, so that nothing expensive happens to a hostile file (the limits are in
`medhub.limits`, the errors in `medhub.errors`; docs/SECURITY.md lists both with their measurements):
1. byte size (empty, over `MAX_UPLOAD_BYTES`), before the file is read when it is a path;
2. format by content (magic bytes), never by file name; unknown signatures are refused;
3. a walk of the structure with early stops (`_check_structure`): truncation Pillow would pad with
   grey (PNG without IEND, JPEG without EOI after its scan, GIF without trailer, WebP RIFF size),
   and the decode budget per format (JPEG scans x pixels and marker segments, PNG chunks and
   compressed text/ICC, GIF frames and blocks, TIFF pages, tags, values, strips and tiles);
4. pixel count and frame count from the header (Pillow's lazy open), before decoding;
5. for JPEG, a strict pass over the entropy-coded data (a scan cut and closed with EOI);
6. full decode, reading through a `BudgetedReader` (read count and CPU time), inside a try that
   maps every decoder error to `InputError("truncated")`; conversion to RGB in row stripes.
DICOM goes to `medhub.dicom.read_dicom()`, which does the same for DICOM (inflate ceiling, element
count, nesting depth, fragments, JPEG frames). Anything no check named is still refused with a typed
error (and logged): `load_upload` raises `InputError` or returns a `DecodedImage`, nothing else.

Conversion choices (documented here because they change what a model sees):
- EXIF orientation is applied (phones store portrait photos rotated).
- Transparent images are composited on black: CT slices and dermoscopy borders are black, and a
  black background adds no bright edge for a classifier to pick up.
- 16-bit and float images (I;16, I, F) are stretched linearly from their own min..max to 0..255:
  such uploads seldom use the whole dtype range (12-bit CT exports store 0..4095), so scaling by
  the dtype range would give an almost black image. A constant image becomes all zeros.
"""

from __future__ import annotations

import os
import re
import struct
import warnings
import zlib
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from PIL import Image, ImageFile, PngImagePlugin

from medhub import limits
from medhub.errors import INPUT_MESSAGES as _MESSAGES  # noqa: F401 - the message table
from medhub.errors import BudgetError, InputError, MedhubError  # noqa: F401 - re-exported
from medhub.limits import (  # noqa: F401 - re-exported: the gate's public limits
    MIN_SIDE,
    Budget,
    BudgetedReader,
    max_pixels,
    max_upload_bytes,
    read_source,
)

# Kept for old imports; the values in force live in medhub.limits (patch them there).
MAX_UPLOAD_BYTES = limits.MAX_UPLOAD_BYTES
MAX_PIXELS = limits.MAX_PIXELS
MAX_FRAMES = limits.MAX_FRAMES
MAX_TOTAL_FRAME_PIXELS_FACTOR = limits.MAX_TOTAL_FRAME_PIXELS_FACTOR

# Pillow must refuse truncated files instead of padding them (this is also its default).
ImageFile.LOAD_TRUNCATED_IMAGES = False
Image.MAX_IMAGE_PIXELS = limits.MAX_PIXELS
# Pillow only warns between MAX_IMAGE_PIXELS and twice that; a bomb must be an error. Our own
# header check fires first, this is the second line of defence. (Process-wide: training data is
# far below the limit.)
warnings.simplefilter("error", Image.DecompressionBombWarning)
# Pillow's own ceilings on compressed PNG text (ours, in _walk_png, fire first).
PngImagePlugin.MAX_TEXT_CHUNK = min(PngImagePlugin.MAX_TEXT_CHUNK, limits.MAX_METADATA_INFLATED_BYTES)
PngImagePlugin.MAX_TEXT_MEMORY = min(PngImagePlugin.MAX_TEXT_MEMORY, limits.MAX_METADATA_INFLATED_BYTES)

IMAGE_FORMATS = ("PNG", "JPEG", "WEBP", "BMP", "TIFF", "GIF")

# What the upload box offers. The gate decides by content, so the list only filters the browser's file
# dialog: files without an extension (DICOM files are often named IM000001) and .jfif / .dicom are
# accepted by name too. `upload_file_types()` gives the list for a gr.File.
IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".jfif", ".jpe", ".webp", ".bmp", ".tif", ".tiff", ".gif")
DICOM_EXTENSIONS = (".dcm", ".dicom", ".dic")


@dataclass(frozen=True)
class DecodedImage:
    """An upload that passed the gate.

    `rgb`: uint8 (H, W, 3), what the model sees and what overlays are drawn on (for DICOM, the
    windowed slice replicated to three channels). `kind`: "image" or "dicom". `format`: "PNG",
    "JPEG", ..., "DICOM". `meta`: display fields only, never patient identifiers. `hu`: float32
    modality values (HU for CT) for grayscale DICOM, else None.
    """

    rgb: np.ndarray
    kind: str
    format: str
    meta: dict[str, Any] = field(default_factory=dict)
    hu: np.ndarray | None = None


def upload_file_types(allow_dicom: bool) -> list[str] | None:
    """The `file_types` for a gr.File upload box: None, so that the gate, not the file name, decides.

    Gradio 6.31 (read in its source, then checked in Chromium against the running app): the server
    refuses a file whose name matches no entry (`gradio_client.utils.is_valid_file`, "Invalid file
    type"), and a name without an extension matches no extension entry, only the category "file".
    "file" passes the server, but the browser turns it into `accept="file/*"`, which is no MIME type
    (what a file dialog offers for it is up to the browser). With None there is no check on either
    side and no `accept` attribute: the dialog offers all files, the file chooser, drag and drop and
    the API take any name (checked: an extensionless DICOM through the chooser and by drop), and the
    gate reads the content (an unsupported file gets its clear "not a supported image" message).
    `allow_dicom` names what the tab takes; the answer is the same for both.
    """
    del allow_dicom
    return None


UPLOAD_FILE_TYPES: list[str] | None = upload_file_types(True)


def accepted_extensions(allow_dicom: bool) -> tuple[str, ...]:
    """Extensions a tab names in its help text (an upload without an extension is accepted too)."""
    return IMAGE_EXTENSIONS + (DICOM_EXTENSIONS if allow_dicom else ())


def dicom_window(card: Any, requested: str | tuple[float, float] | None = None) -> str | tuple[float, float] | None:
    """The CT window a DICOM upload for `card` is rendered with: `requested` (a preset name, "file"
    or (centre, width)) when one is given, else the card's `input.dicom_window` (the window the model
    was trained on). None for a card that reads no DICOM.

    The one place the default window is chosen: the app's window selector starts on it, and the app,
    `python -m medhub predict`, `evaluate` and the bench decode through `load_for_card`, which calls it.
    """
    if not card.input.dicom:
        return None
    if requested is None or (isinstance(requested, str) and not requested.strip()):
        return card.input.dicom_window
    return requested


def load_for_card(
    card: Any,
    source: str | os.PathLike | bytes,
    *,
    window: str | tuple[float, float] | None = None,
    frame: int = 0,
) -> DecodedImage:
    """`load_upload` as `card` reads its inputs: DICOM only for a DICOM card, rendered with
    `dicom_window(card, window)`."""
    return load_upload(source, allow_dicom=card.input.dicom, window=dicom_window(card, window), frame=frame)


def load_upload(
    source: str | os.PathLike | bytes,
    *,
    allow_dicom: bool = False,
    window: str | tuple[float, float] | None = None,
    frame: int = 0,
) -> DecodedImage:
    """Check and decode an untrusted upload (path or bytes) into a `DecodedImage`.

    `allow_dicom`: whether this caller accepts DICOM (only the CT tab does). `window`: for DICOM, a
    preset name ("brain", "subdural", "stroke", "bone"), "file" for the file's own window, or
    (centre, width); None picks a generic default (see `dicom.resolve_window`; a caller that serves a
    model uses `load_for_card`, which passes the card's window). `frame`: which frame of a
    multi-frame DICOM (0-based). Raises `InputError` (a `BudgetError` for the decode budget).
    """
    budget = Budget()
    data = read_source(source)
    if not data:
        raise InputError.make("empty")
    if len(data) > max_upload_bytes():
        raise limits.too_large(len(data))

    if isinstance(frame, bool) or not isinstance(frame, (int, np.integer)):
        raise TypeError("frame must be an int")
    fmt = sniff_format(data)
    try:
        if fmt is None and _maybe_headerless_dicom(data, budget):
            fmt = "DICOM-RAW"
        if fmt is None:
            raise _unknown(allow_dicom)
        if fmt.startswith("DICOM"):
            if not allow_dicom:
                raise InputError.make("not_allowed_dicom")
            return _load_dicom(data, window=window, frame=frame, force=fmt == "DICOM-RAW", budget=budget)
        return _load_image(data, fmt, budget)
    except InputError:
        raise
    except RecursionError:
        raise InputError.make("too_deep", what=f"{fmt} structure") from None
    except MemoryError:
        raise InputError.make("too_complex", what="not enough memory to decode it") from None
    except Exception as exc:  # noqa: BLE001 - the gate's last line: a typed refusal, logged with its cause
        return _refuse_unexpected(exc, fmt)
    except BaseException as exc:  # noqa: BLE001 - Rust decoders panic with a BaseException
        if isinstance(exc, (KeyboardInterrupt, SystemExit, GeneratorExit)):
            raise
        return _refuse_unexpected(exc, fmt)


def _refuse_unexpected(exc: BaseException, fmt: str | None) -> DecodedImage:
    """A decoder failed in a way the checks above did not name: refuse the file (typed, bilingual),
    and log the cause with its traceback, since it may also be a bug of ours."""
    import logging

    logging.getLogger("medhub.imaging").warning(
        "input gate: %s while decoding a %s upload; refused", type(exc).__name__, fmt, exc_info=exc
    )
    if fmt and fmt.startswith("DICOM"):
        raise InputError.make("dicom_invalid", detail=f"{type(exc).__name__}") from None
    raise InputError.make("truncated") from None


def sniff_format(data: bytes) -> str | None:
    """The format named by the file's signature ("PNG", ..., "DICOM"), or None. Never the name."""
    # First: the DICOM prefix at 128. Its preamble is free, and some files put a TIFF header there
    # (dual-format files such as pydicom's CT_small.dcm); those are DICOM.
    if len(data) >= 132 and data[128:132] == b"DICM":
        return "DICOM"
    head = data[:32]
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "PNG"
    if head.startswith(b"\xff\xd8\xff"):
        return "JPEG"
    if head.startswith((b"GIF87a", b"GIF89a")):
        return "GIF"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "WEBP"
    if head.startswith((b"II*\x00", b"MM\x00*")):
        return "TIFF"
    # "BM" alone is too weak (text can start with it): also require a known DIB header size.
    if head[:2] == b"BM" and len(data) >= 26 and struct.unpack("<I", data[14:18])[0] in _DIB_SIZES:
        return "BMP"
    return None


_DIB_SIZES = {12, 16, 40, 52, 56, 64, 108, 124}


def _unknown(allow_dicom: bool) -> InputError:
    return InputError.make(
        "unknown_format",
        dicom_en=" (or DICOM)" if allow_dicom else "",
        dicom_ko=", DICOM" if allow_dicom else "",
    )


def _maybe_headerless_dicom(data: bytes, budget: Budget | None = None) -> bool:
    """A DICOM dataset without preamble: accepted only if it starts like one AND has image attributes.

    Conservative on purpose: the first element must be in group 0002 or 0008 (file meta or
    identifying group, the usual start of a preamble-less file) and pydicom must find Rows, Columns
    and Bits Allocated in it. A parse that exceeds the budget is refused as such.
    """
    if len(data) < 64 or data[:2] not in (b"\x02\x00", b"\x08\x00", b"\x00\x08"):
        return False
    import pydicom

    budget = budget or Budget()
    budget.max_reads = min(budget.max_reads, limits.MAX_DICOM_READ_CALLS)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ds = pydicom.dcmread(BudgetedReader(data, budget), stop_before_pixels=True, force=True)
        return all(ds.get(k) not in (None, "") for k in ("Rows", "Columns", "BitsAllocated"))
    except BudgetError:
        raise
    except RecursionError:
        raise InputError.make("too_deep", what="DICOM sequences") from None
    except Exception:  # noqa: BLE001 - any parse failure just means "not DICOM"
        return False


def _load_dicom(data: bytes, *, window: Any, frame: int, force: bool, budget: Budget) -> DecodedImage:
    from medhub.dicom import read_dicom, render_slice

    dslice = read_dicom(data, int(frame), force=force, budget=budget)
    rgb, window_label = render_slice(dslice, window)
    meta = dict(dslice.meta)
    meta["window"] = window_label
    return DecodedImage(rgb=rgb, kind="dicom", format="DICOM", meta=meta, hu=dslice.hu)


# --------------------------------------------------------------------------------------------
# structure checks before Pillow: truncation Pillow tolerates, and the decode budget per format


def _check_structure(data: bytes, fmt: str) -> dict[str, Any]:
    """Refuse truncated files Pillow would pad and files that would cost too much to decode.

    Returns what the walk learnt (JPEG: frame size; TIFF: page count; GIF: frame count).
    """
    if fmt == "PNG":
        return _walk_png(data)
    if fmt == "JPEG":
        return _walk_jpeg(data)
    if fmt == "WEBP" and struct.unpack("<I", data[4:8])[0] + 8 > len(data):
        raise InputError.make("truncated")
    if fmt == "GIF":
        return _walk_gif(data)
    if fmt == "TIFF":
        return _walk_tiff(data)
    return {}


def _walk_png(data: bytes) -> dict[str, Any]:
    """Chunk by chunk: IEND present, at most MAX_PNG_CHUNKS chunks, compressed text/ICC within
    MAX_METADATA_INFLATED_BYTES (inflated here with a ceiling, before Pillow inflates them)."""
    pos, n, chunks = 8, len(data), 0
    inflated = 0
    limit = limits.MAX_METADATA_INFLATED_BYTES
    while True:
        if pos + 12 > n:
            raise InputError.make("truncated")
        length = struct.unpack(">I", data[pos : pos + 4])[0]
        kind = data[pos + 4 : pos + 8]
        end = pos + 12 + length
        if end > n:
            raise InputError.make("truncated")
        chunks += 1
        if chunks > limits.MAX_PNG_CHUNKS:
            raise InputError.make("too_complex", what=f"more than {limits.MAX_PNG_CHUNKS:,} PNG chunks")
        if kind == b"IEND":
            return {"chunks": chunks}
        if kind in (b"zTXt", b"iCCP", b"iTXt"):
            stream = _png_compressed_payload(kind, data[pos + 8 : pos + 8 + length])
            if stream is not None:
                inflated += _inflated_size(stream, limit - inflated + 1)
                if inflated > limit:
                    raise InputError.make(
                        "inflated_too_large", limit_mb=limit / 2**20, what="PNG text and ICC chunks"
                    )
        pos = end


def _png_compressed_payload(kind: bytes, payload: bytes) -> bytes | None:
    """The zlib stream of a zTXt / iCCP chunk or a compressed iTXt chunk; None if there is none."""
    nul = payload.find(b"\x00")
    if nul < 0:
        return None
    if kind in (b"zTXt", b"iCCP"):
        return payload[nul + 2 :]
    # iTXt: keyword NUL flag method language NUL translated NUL text
    if nul + 2 >= len(payload) or payload[nul + 1] != 1:
        return None
    rest = payload[nul + 3 :]
    lang_end = rest.find(b"\x00")
    trans_end = rest.find(b"\x00", lang_end + 1) if lang_end >= 0 else -1
    return rest[trans_end + 1 :] if trans_end >= 0 else None


def _inflated_size(stream: bytes, ceiling: int) -> int:
    """Bytes `stream` inflates to, counting at most `ceiling` (a corrupt stream counts what it gave)."""
    inflater = zlib.decompressobj()
    total = 0
    try:
        chunk = inflater.decompress(stream, ceiling)
        total += len(chunk)
        while inflater.unconsumed_tail and total < ceiling:
            chunk = inflater.decompress(inflater.unconsumed_tail, ceiling - total)
            total += len(chunk)
    except zlib.error:
        pass  # Pillow reports a corrupt chunk itself ("truncated")
    return total


def _walk_jpeg(data: bytes) -> dict[str, Any]:
    """Marker segments up to the first scan (at most MAX_JPEG_SEGMENTS: Pillow parses each in
    Python) intact, an EOI after the scan, and the scan count within the budget."""
    pos, n, segments = 2, len(data), 0
    size: tuple[int, int] | None = None
    progressive, sampling = False, []
    while pos + 4 <= n:
        if data[pos] != 0xFF:
            raise InputError.make("truncated")
        marker = data[pos + 1]
        if marker == 0xFF:  # fill byte
            pos += 1
            continue
        segments += 1
        if segments > limits.MAX_JPEG_SEGMENTS:
            raise InputError.make(
                "too_complex", what=f"more than {limits.MAX_JPEG_SEGMENTS:,} JPEG marker segments"
            )
        if marker == 0xDA:  # start of scan: entropy-coded data follows, EOI must come after it
            if data.find(b"\xff\xd9", pos) < 0 or size is None:
                raise InputError.make("truncated")
            scans = limits.check_jpeg_scans(data, size[0], size[1])
            if progressive:
                limits.check_jpeg_coefficients(size[0], size[1], sampling)
            return {"size": size, "scans": scans}
        if marker == 0xD9:
            raise InputError.make("truncated")
        if marker == 0x01 or 0xD0 <= marker <= 0xD7:
            pos += 2
            continue
        length = struct.unpack(">H", data[pos + 2 : pos + 4])[0]
        if marker in _SOF_MARKERS and pos + 10 <= n and size is None:
            rows, cols = struct.unpack(">HH", data[pos + 5 : pos + 9])
            size = (cols, rows)
            progressive = marker in (0xC2, 0xC6, 0xCA, 0xCE)
            count = data[pos + 9]
            factors = data[pos + 10 : pos + 10 + 3 * count]
            sampling = [(factors[i + 1] >> 4, factors[i + 1] & 15) for i in range(0, len(factors) - 2, 3)]
        pos += 2 + length
    raise InputError.make("truncated")


_SOF_MARKERS = {0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF}


def _check_jpeg_entropy(data: bytes, components: int) -> None:
    limits.check_jpeg_entropy(data, components)


def _walk_gif(data: bytes) -> dict[str, Any]:
    """Block by block to the trailer: frames counted with an early stop at MAX_FRAMES (Pillow counts
    them all, in Python, before we could see the count), blocks within MAX_GIF_BLOCKS."""
    n = len(data)
    if n < 13:
        raise InputError.make("truncated")
    width, height, flags = struct.unpack("<HHB", data[6:11])
    pos = 13 + (3 * (2 << (flags & 7)) if flags & 0x80 else 0)
    frames = blocks = 0
    sub_blocks = [0]
    screen = max(width, 1) * max(height, 1)
    if screen > max_pixels():
        raise _too_many_pixels(screen)
    while pos < n:
        kind = data[pos]
        blocks += 1
        if blocks > limits.MAX_GIF_BLOCKS:
            raise InputError.make("too_complex", what=f"more than {limits.MAX_GIF_BLOCKS:,} GIF blocks")
        if kind == 0x3B:  # trailer
            return {"frames": frames}
        if kind == 0x21:  # extension: label, then sub-blocks
            pos = _skip_sub_blocks(data, pos + 2, sub_blocks)
        elif kind == 0x2C:  # image: descriptor, optional colour table, LZW size, sub-blocks
            if pos + 10 > n:
                raise InputError.make("truncated")
            fw, fh, fflags = struct.unpack("<HHB", data[pos + 5 : pos + 10])
            frames += 1
            if fw * fh > max_pixels():
                raise _too_many_pixels(fw * fh)
            if frames > limits.MAX_FRAMES or frames * max(screen, fw * fh) > (
                limits.MAX_TOTAL_FRAME_PIXELS_FACTOR * max_pixels()
            ):
                raise InputError.make("too_many_frames", n=f"{frames:,}+")
            pos += 10 + (3 * (2 << (fflags & 7)) if fflags & 0x80 else 0)
            pos = _skip_sub_blocks(data, pos + 1, sub_blocks)
        elif kind == 0x00:  # stray block terminator some encoders write
            pos += 1
        else:
            raise InputError.make("truncated")
    raise InputError.make("truncated")


def _skip_sub_blocks(data: bytes, pos: int, counter: list[int]) -> int:
    """Past the data sub-blocks at `pos`; `counter[0]` counts them over the whole file (a frame of
    one-byte sub-blocks would make this loop, and Pillow's, run once per two bytes)."""
    n = len(data)
    while True:
        if pos >= n:
            raise InputError.make("truncated")
        size = data[pos]
        pos += 1 + size
        counter[0] += 1
        if counter[0] > limits.MAX_GIF_SUB_BLOCKS:
            raise InputError.make(
                "too_complex", what=f"more than {limits.MAX_GIF_SUB_BLOCKS:,} GIF data sub-blocks"
            )
        if size == 0:
            return pos


_TIFF_BYTE_TYPES = {1, 2, 6, 7}  # kept as bytes by Pillow, not as tuples of numbers


def _walk_tiff(data: bytes) -> dict[str, Any]:
    """The IFD chain with an early stop at MAX_FRAMES pages (Pillow walks every page to count them),
    at most MAX_TIFF_TAGS entries per IFD, MAX_TIFF_VALUES numeric values in all (Pillow turns each
    into a Python number), and for the first page at most MAX_TIFF_BLOCKS strips or tiles, each
    within the pixel limit."""
    end = "<" if data[:2] == b"II" else ">"
    n = len(data)
    (offset,) = struct.unpack(end + "I", data[4:8])
    seen: set[int] = set()
    pages = values = 0
    first: dict[int, tuple[int, int, int]] = {}
    while offset and offset not in seen:
        seen.add(offset)
        if offset + 2 > n:
            break  # Pillow reports a broken chain itself
        (count,) = struct.unpack(end + "H", data[offset : offset + 2])
        if count > limits.MAX_TIFF_TAGS:
            raise InputError.make("too_complex", what=f"{count:,} TIFF tags in one directory")
        table = data[offset + 2 : offset + 2 + 12 * count]
        if len(table) < 12 * count:
            break
        for tag, typ, cnt, value in struct.iter_unpack(end + "HHII", table):
            if typ not in _TIFF_BYTE_TYPES:
                values += cnt
            if pages == 0 and tag in _TIFF_LAYOUT_TAGS:
                first[tag] = (typ, cnt, value)
        if values > limits.MAX_TIFF_VALUES:
            raise InputError.make("too_complex", what=f"more than {limits.MAX_TIFF_VALUES:,} TIFF tag values")
        pages += 1
        if pages > limits.MAX_FRAMES:
            raise InputError.make("too_many_frames", n=f"{pages:,}+")
        next_pos = offset + 2 + 12 * count
        if next_pos + 4 > n:
            break
        (offset,) = struct.unpack(end + "I", data[next_pos : next_pos + 4])
    _check_tiff_layout(first, end)
    return {"pages": pages}


_TIFF_LAYOUT_TAGS = {256, 257, 273, 278, 322, 323, 324}


def _tiff_short_or_long(entry: tuple[int, int, int], end: str) -> int:
    typ, _cnt, value = entry
    if typ == 3:  # SHORT stored in the first two bytes of the value field
        packed = struct.pack(end + "I", value)
        return struct.unpack(end + "H", packed[:2])[0]
    return value


def _check_tiff_layout(first: dict[int, tuple[int, int, int]], end: str) -> None:
    width = _tiff_short_or_long(first[256], end) if 256 in first else 0
    height = _tiff_short_or_long(first[257], end) if 257 in first else 0
    blocks = max(first.get(273, (0, 0, 0))[1], first.get(324, (0, 0, 0))[1])
    if blocks > limits.MAX_TIFF_BLOCKS:
        raise InputError.make("too_complex", what=f"{blocks:,} TIFF strips or tiles")
    if 322 in first and 323 in first:
        tile = _tiff_short_or_long(first[322], end) * _tiff_short_or_long(first[323], end)
        if tile > max_pixels():
            raise _too_many_pixels(tile)
    if 278 in first and width:
        rows = min(_tiff_short_or_long(first[278], end), max(height, 1))
        if rows * width > max_pixels():
            raise _too_many_pixels(rows * width)


_DECODE_ERRORS = (
    OSError,
    SyntaxError,
    ValueError,
    struct.error,
    EOFError,
    IndexError,
    KeyError,
    TypeError,
    zlib.error,
    RuntimeError,
    AttributeError,
    ArithmeticError,
    NotImplementedError,
    AssertionError,
    LookupError,
    BufferError,
)


def _load_image(data: bytes, fmt: str, budget: Budget | None = None) -> DecodedImage:
    budget = budget or Budget()
    facts = _check_structure(data, fmt)
    Image.MAX_IMAGE_PIXELS = max_pixels()
    w = h = 0
    try:
        img = Image.open(BudgetedReader(data, budget), formats=[fmt])
        w, h = img.size
        if w * h > limits.pixel_limit(fmt, img.mode):
            raise _too_many_pixels(w * h, limits.pixel_limit(fmt, img.mode))
        if min(w, h) < MIN_SIDE:
            raise InputError.make("too_small", w=w, h=h)
        budget.check()
        n_frames = int(getattr(img, "n_frames", 1))
        if n_frames > limits.MAX_FRAMES or n_frames * w * h > (
            limits.MAX_TOTAL_FRAME_PIXELS_FACTOR * max_pixels()
        ):
            raise InputError.make("too_many_frames", n=n_frames)
        if n_frames > 1:
            img.seek(0)
        if fmt == "JPEG":
            _check_jpeg_entropy(data, len(img.getbands()))
        budget.check()
        original_mode = img.mode
        img.load()
        budget.check()
        orientation = _orientation(img, fmt)
        rgb = _to_rgb(img)
        img.close()  # Pillow's copy goes before the rotated one is made
        rgb = _upright(rgb, orientation)
    except InputError:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning, MemoryError) as exc:
        # Pillow refuses at open() before we see the size; its message carries the pixel count.
        found = re.search(r"\((\d+) pixels\)", str(exc))
        raise _too_many_pixels(int(found.group(1)) if found else w * h) from None
    except RecursionError:
        raise InputError.make("too_deep", what=f"{fmt} structure") from None
    except _DECODE_ERRORS as exc:
        raise InputError.make("truncated") from exc
    budget.check()
    meta = {
        "width": int(rgb.shape[1]),
        "height": int(rgb.shape[0]),
        "mode": original_mode,
        "frames": n_frames,
        "exif_rotated": orientation in _TRANSPOSE,
    }
    del facts
    return DecodedImage(rgb=rgb, kind="image", format=fmt, meta=meta, hu=None)


def _too_many_pixels(n_pixels: int, limit: int | None = None) -> InputError:
    limit = max_pixels() if limit is None else limit
    return InputError.make("too_many_pixels", mp=n_pixels / 1e6, limit_mp=limit / 1e6)


# EXIF orientation -> how the stored array becomes upright (as ImageOps.exif_transpose does it).
_TRANSPOSE = {
    2: lambda a: a[:, ::-1],  # mirror
    3: lambda a: a[::-1, ::-1],  # rotate 180
    4: lambda a: a[::-1],  # flip
    5: lambda a: a.transpose(1, 0, 2),  # transpose
    6: lambda a: np.rot90(a, -1),  # rotate 90 clockwise
    7: lambda a: a[::-1, ::-1].transpose(1, 0, 2),  # transverse
    8: lambda a: np.rot90(a, 1),  # rotate 90 counter-clockwise
}


def _upright(rgb: np.ndarray, orientation: int) -> np.ndarray:
    """Apply the EXIF orientation to the decoded array (numpy views, one copy at the end)."""
    if orientation not in _TRANSPOSE:
        return rgb
    return np.ascontiguousarray(_TRANSPOSE[orientation](rgb))


def _orientation(img: Image.Image, fmt: str) -> int:
    """The EXIF orientation (1 when absent or unreadable), read from IFD0 only: Pillow's getexif()
    would turn every value of a crafted EXIF block (megabytes in PNG eXIf or WebP EXIF) into Python
    numbers. A broken EXIF block is metadata damage, not image damage: the image is not rotated."""
    try:
        if fmt == "TIFF":
            value = getattr(img, "tag_v2", {}).get(0x0112, 1)
            return int(value) if isinstance(value, int) else 1
        exif = img.info.get("exif")
        if not isinstance(exif, (bytes, bytearray)) or not exif:
            return 1
        return _exif_orientation(bytes(exif))
    except _DECODE_ERRORS:
        return 1


def _exif_orientation(exif: bytes) -> int:
    if exif.startswith(b"Exif\x00\x00"):
        exif = exif[6:]
    if exif[:2] not in (b"II", b"MM"):
        return 1
    end = "<" if exif[:2] == b"II" else ">"
    (offset,) = struct.unpack(end + "I", exif[4:8])
    (count,) = struct.unpack(end + "H", exif[offset : offset + 2])
    for i in range(min(count, limits.MAX_TIFF_TAGS)):
        pos = offset + 2 + 12 * i
        tag, typ = struct.unpack(end + "HH", exif[pos : pos + 4])
        if tag == 0x0112 and typ == 3:
            return struct.unpack(end + "H", exif[pos + 8 : pos + 10])[0]
    return 1


_ROW_BLOCK = 1 << 18  # pixels per block of conversions


def _to_rgb(img: Image.Image) -> np.ndarray:
    """Any Pillow mode -> (H, W, 3) uint8; see the module docstring for the choices.

    Memory: Pillow holds the decoded image (up to 4 bytes a pixel); the output is 3 bytes a pixel;
    conversions run on row stripes of that image, so no other full-size copy is ever made."""
    mode = img.mode
    if mode in ("I", "F") or mode.startswith("I;16"):
        gray = _stretch_image(img)
        img.close()  # Pillow's 4 bytes a pixel go before the RGB copy is made
        return _gray_to_rgb(gray)
    has_alpha = (
        mode in ("RGBA", "LA", "PA", "La", "RGBa")
        or (mode == "P" and "transparency" in img.info)
        or (mode in ("L", "RGB") and "transparency" in img.info)
    )
    w, h = img.size
    out = np.empty((h, w, 3), dtype=np.uint8)
    try:
        for top, stripe in _stripes(img):
            if has_alpha:
                rgba = np.asarray(stripe.convert("RGBA"), dtype=np.uint8)
                out[top : top + rgba.shape[0]] = _composite_on_black(rgba)
            else:
                rgb = stripe if stripe.mode == "RGB" else stripe.convert("RGB")
                out[top : top + stripe.size[1]] = np.asarray(rgb, dtype=np.uint8)
    except ValueError as exc:
        raise InputError.make("unsupported_image", mode=mode) from exc
    return out


def _stripes(img: Image.Image):
    """(top row, stripe image) over `img`, each about _ROW_BLOCK pixels."""
    w, h = img.size
    rows = max(1, _ROW_BLOCK // max(w, 1))
    for top in range(0, h, rows):
        yield top, img.crop((0, top, w, min(h, top + rows)))


def _composite_on_black(rgba: np.ndarray) -> np.ndarray:
    """RGBA uint8 -> RGB uint8 composited on black: round(c * a / 255), in uint16 integers (exact:
    c * a / 255 is never halfway between two integers; the same values as float math, faster)."""
    block = rgba.astype(np.uint16)
    out = block[:, :, :3] * block[:, :, 3:4]
    out += 127
    out //= 255
    return out.astype(np.uint8)


def _stretch_image(img: Image.Image) -> np.ndarray:
    """_stretch for a 16-bit / 32-bit / float Pillow image, read in stripes (no full-size copy)."""
    lo, hi = np.inf, -np.inf
    for _top, stripe in _stripes(img):
        x = np.asarray(stripe).astype(np.float64)
        x = x[np.isfinite(x)]
        if x.size:
            lo, hi = min(lo, float(x.min())), max(hi, float(x.max()))
    w, h = img.size
    out = np.zeros((h, w), dtype=np.uint8)
    if not np.isfinite(lo) or hi <= lo:
        return out
    for top, stripe in _stripes(img):
        x = np.asarray(stripe).astype(np.float64)
        x = np.where(np.isposinf(x), hi, np.where(np.isfinite(x), x, lo))
        out[top : top + x.shape[0]] = np.rint((x - lo) * (255.0 / (hi - lo)))
    return out


def _stretch(values: np.ndarray) -> np.ndarray:
    """Linear min..max -> 0..255 over the finite values, in blocks of float64 (a 40-megapixel float
    image in one float64 pass would need ~1 GB of temporaries). NaN takes the low end, +inf the
    high end, -inf the low end; a constant image gives zeros."""
    flat = values.reshape(-1)
    lo, hi = np.inf, -np.inf
    for start in range(0, flat.size, _ROW_BLOCK):
        x = flat[start : start + _ROW_BLOCK].astype(np.float64)
        x = x[np.isfinite(x)]
        if x.size:
            lo, hi = min(lo, float(x.min())), max(hi, float(x.max()))
    out = np.zeros(flat.shape, dtype=np.uint8)
    if not np.isfinite(lo) or hi <= lo:
        return out.reshape(values.shape)
    scale = 255.0 / (hi - lo)
    for start in range(0, flat.size, _ROW_BLOCK):
        x = flat[start : start + _ROW_BLOCK].astype(np.float64)
        x = np.where(np.isposinf(x), hi, np.where(np.isfinite(x), x, lo))
        out[start : start + _ROW_BLOCK] = np.rint((x - lo) * scale)
    return out.reshape(values.shape)


def _gray_to_rgb(gray: np.ndarray) -> np.ndarray:
    return np.repeat(gray[:, :, None], 3, axis=2)
