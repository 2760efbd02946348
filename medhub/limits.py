"""The decode budget of the input gate: every limit an upload must stay under, in one place.

Each limit was chosen by measurement on the 2-core machine (`python scripts/gate_bench.py --stress`,
results in docs/SECURITY.md) so that no upload of at most `MAX_UPLOAD_BYTES` costs more than about
2 s of decode time or 200 MB of memory. Each limit can be changed through the environment variable named
next to it; the functions below read the module attributes at call time (tests patch them).

Kinds of cost and how they are bounded (one error code each, see `medhub.errors`):
- bytes in: `MAX_UPLOAD_BYTES` (`too_large`), checked before a file is read;
- bytes out: pixels per frame `MAX_PIXELS` (`too_many_pixels`), frames `MAX_FRAMES`
  (`too_many_frames`), inflated bytes `MAX_INFLATED_BYTES` for DICOM deflate and
  `MAX_METADATA_INFLATED_BYTES` for compressed text/ICC chunks (`inflated_too_large`);
- decode work: JPEG scans x pixels, marker segments, PNG chunks, TIFF pages/strips/tiles/tag values,
  GIF blocks, DICOM fragments, and the number of reads a decoder makes from the file
  (`too_complex`); nesting depth of DICOM sequences (`too_deep`);
- time: the CPU time of the decoding thread, `MAX_DECODE_CPU_S`, checked on every read the decoders
  make and between stages (`too_slow`). CPU time, not wall time, so that a busy machine does not
  refuse a valid file; a wall-clock ceiling `MAX_DECODE_WALL_S` stops a decode that is starved.
"""

from __future__ import annotations

import io
import os
import re
import time
from pathlib import Path

from medhub.errors import InputError


def _env_int(name: str, default: int) -> int:
    return int(os.environ.get(name, str(default)))


def _env_float(name: str, default: float) -> float:
    return float(os.environ.get(name, str(default)))


MAX_UPLOAD_BYTES = _env_int("MEDHUB_MAX_UPLOAD_BYTES", 20 * 1024 * 1024)
# Chosen by measurement (scripts/gate_bench.py --stress): a 40-megapixel RGB image raised memory by
# 248 MB (Pillow's copy, 4 bytes a pixel, and ours, 3), over the 200 MB target; 24 M gives ~150 MB.
MAX_PIXELS = _env_int("MEDHUB_MAX_PIXELS", 24_000_000)
# WebP: libwebp's animation decoder keeps its own RGBA canvas and hands Pillow another copy
# (measured: 13.8 bytes a pixel at 40 M, 553 MB; 190 MB at 12 M): a lower limit.
MAX_WEBP_PIXELS = _env_int("MEDHUB_MAX_WEBP_PIXELS", 10_000_000)
# 32-bit integer or float samples: 4 bytes a pixel, held twice by libtiff and Pillow while loading
# (measured: 200.5 MB for a 24-megapixel float TIFF).
MAX_32BIT_PIXELS = _env_int("MEDHUB_MAX_32BIT_PIXELS", 20_000_000)
# DICOM frames become float32 modality values, a uint8 window and RGB (~11 bytes a pixel besides
# the file): measured 254 MB for a deflated 4096 x 4096 frame, so a lower limit of their own.
MAX_DICOM_PIXELS = _env_int("MEDHUB_MAX_DICOM_PIXELS", 10 * 1024 * 1024)  # a 20 MB native 16-bit frame fits
MAX_FRAMES = _env_int("MEDHUB_MAX_FRAMES", 1000)
MAX_TOTAL_FRAME_PIXELS_FACTOR = 4  # total pixels of all frames <= this x MAX_PIXELS
MAX_DICOM_FRAMES = _env_int("MEDHUB_MAX_DICOM_FRAMES", 2000)
MIN_SIDE = 16

# Bytes a DICOM deflate stream may inflate to (the whole dataset, pixels included).
# (Inflating costs about twice the output while it is joined; a 10-megapixel 16-bit frame is 20 MB.)
MAX_INFLATED_BYTES = _env_int("MEDHUB_MAX_INFLATED_BYTES", 32 * 1024 * 1024)
# Compressed metadata (PNG zTXt / iTXt / iCCP): total inflated bytes per file.
MAX_METADATA_INFLATED_BYTES = _env_int("MEDHUB_MAX_METADATA_INFLATED_BYTES", 4 * 1024 * 1024)

# JPEG: a progressive decoder walks every block of the image once per scan (measured: about
# 0.2 ns per pixel per scan), so the scan count is bounded relative to the pixel count.
MAX_JPEG_SCANS = _env_int("MEDHUB_MAX_JPEG_SCANS", 1000)
MAX_JPEG_SCAN_PIXELS = _env_int("MEDHUB_MAX_JPEG_SCAN_PIXELS", 2_500_000_000)
# A progressive decoder keeps every DCT coefficient of the image until the last scan (2 bytes each):
# 6 bytes a pixel at 4:4:4, 3 at 4:2:0, on top of the decoded image.
MAX_JPEG_COEFFICIENT_BYTES = _env_int("MEDHUB_MAX_JPEG_COEFFICIENT_BYTES", 96 * 1024 * 1024)
# Marker segments before the first scan (Pillow parses them one by one in Python).
MAX_JPEG_SEGMENTS = _env_int("MEDHUB_MAX_JPEG_SEGMENTS", 1000)
MAX_PNG_CHUNKS = _env_int("MEDHUB_MAX_PNG_CHUNKS", 20_000)
MAX_TIFF_TAGS = _env_int("MEDHUB_MAX_TIFF_TAGS", 1000)  # entries of one IFD
MAX_TIFF_VALUES = _env_int("MEDHUB_MAX_TIFF_VALUES", 300_000)  # numeric tag values in one IFD
MAX_TIFF_BLOCKS = _env_int("MEDHUB_MAX_TIFF_BLOCKS", 65_536)  # strips or tiles of the first page
MAX_GIF_BLOCKS = _env_int("MEDHUB_MAX_GIF_BLOCKS", 20_000)  # extension / image blocks walked
# Data sub-blocks (at most 255 bytes each: a 20 MB GIF written normally has ~82,000).
MAX_GIF_SUB_BLOCKS = _env_int("MEDHUB_MAX_GIF_SUB_BLOCKS", 200_000)
MAX_DICOM_FRAGMENTS = _env_int("MEDHUB_MAX_DICOM_FRAGMENTS", 10_000)
MAX_DICOM_ELEMENTS = _env_int("MEDHUB_MAX_DICOM_ELEMENTS", 100_000)  # data elements before Pixel Data
MAX_SEQUENCE_DEPTH = _env_int("MEDHUB_MAX_SEQUENCE_DEPTH", 32)
# Reads a decoder makes from the file (each is one step of a Python-level parsing loop).
# (Measured: BMP RLE delta runs cost 0.7-1.2 µs per read on this machine under load; 500,000 reads
# stay well inside the CPU budget, and a 20 MB animated GIF read normally needs about 330,000.)
MAX_READ_CALLS = _env_int("MEDHUB_MAX_READ_CALLS", 500_000)
# pydicom reads once or twice per data element, at a few microseconds each: its own, lower cap.
MAX_DICOM_READ_CALLS = _env_int("MEDHUB_MAX_DICOM_READ_CALLS", 250_000)

MAX_DECODE_CPU_S = _env_float("MEDHUB_MAX_DECODE_CPU_S", 2.0)
MAX_DECODE_WALL_S = _env_float("MEDHUB_MAX_DECODE_WALL_S", 20.0)


def max_upload_bytes() -> int:
    """The byte limit in force (read at call time so tests and deployments can change it)."""
    return MAX_UPLOAD_BYTES


def max_pixels() -> int:
    """The pixel-count limit in force (per frame) for images."""
    return MAX_PIXELS


def pixel_limit(fmt: str, mode: str = "") -> int:
    """The pixel limit for one frame of an image in `fmt` ("PNG", "WEBP", ...) and Pillow `mode`."""
    limit = min(MAX_WEBP_PIXELS, MAX_PIXELS) if fmt == "WEBP" else MAX_PIXELS
    if mode in ("I", "F"):
        limit = min(limit, MAX_32BIT_PIXELS)
    return limit


def max_dicom_pixels() -> int:
    """The pixel-count limit for one DICOM frame (never above the image limit)."""
    return min(MAX_DICOM_PIXELS, MAX_PIXELS)


def too_large(size: int) -> InputError:
    return InputError.make("too_large", size_mb=size / 1e6, limit_mb=max_upload_bytes() / 1e6)


def read_source(source: str | os.PathLike | bytes) -> bytes:
    """The bytes of an upload (path or bytes), refusing a file over the byte limit before reading it."""
    if isinstance(source, (bytes, bytearray, memoryview)):
        return bytes(source)
    if not isinstance(source, (str, os.PathLike)):
        raise TypeError(f"load_upload takes a path or bytes, not {type(source).__name__}")
    path = Path(source)
    try:
        if not path.is_file():
            raise InputError.make("unreadable")
        size = path.stat().st_size
        if size > max_upload_bytes():
            raise too_large(size)
        with path.open("rb") as fh:
            # +1 so that a file which grew after stat() is still caught by the size check.
            return fh.read(max_upload_bytes() + 1)
    except OSError as exc:
        raise InputError.make("unreadable") from exc


class Budget:
    """The time and work budget of one decode (one `load_upload` call, in one thread).

    `check()` raises `too_slow` once the thread has used `MAX_DECODE_CPU_S` of CPU time or
    `MAX_DECODE_WALL_S` have passed; `count_read()` also bounds the number of reads decoders make.
    """

    def __init__(
        self, cpu_s: float | None = None, wall_s: float | None = None, max_reads: int | None = None
    ) -> None:
        self.cpu_s = MAX_DECODE_CPU_S if cpu_s is None else cpu_s
        self.wall_s = MAX_DECODE_WALL_S if wall_s is None else wall_s
        self.max_reads = MAX_READ_CALLS if max_reads is None else max_reads
        self._cpu0 = time.thread_time()
        self._wall0 = time.monotonic()
        self.reads = 0

    def cpu_used(self) -> float:
        return time.thread_time() - self._cpu0

    def check(self) -> None:
        if self.cpu_used() > self.cpu_s:
            raise InputError.make("too_slow", limit_s=self.cpu_s)
        if time.monotonic() - self._wall0 > self.wall_s:
            raise InputError.make("too_slow", limit_s=self.wall_s)

    def count_read(self) -> None:
        self.reads += 1
        if self.reads > self.max_reads:
            raise InputError.make("too_complex", what=f"more than {self.max_reads:,} reads from the file")
        if self.reads % 64 == 0:
            self.check()


class BudgetedReader(io.BytesIO):
    """An in-memory file whose every `read` is counted against a `Budget` (decoders that parse in
    Python, such as Pillow's PNG/GIF/TIFF/BMP-RLE code and pydicom, read through it)."""

    def __init__(self, data: bytes, budget: Budget) -> None:
        super().__init__(data)
        self.budget = budget

    def read(self, size: int | None = -1) -> bytes:  # type: ignore[override]
        self.budget.count_read()
        return super().read(size)

    def read1(self, size: int = -1) -> bytes:  # type: ignore[override]
        self.budget.count_read()
        return super().read1(size)

    def readinto(self, buffer) -> int:  # type: ignore[override]
        self.budget.count_read()
        return super().readinto(buffer)

    def readline(self, size: int | None = -1) -> bytes:  # type: ignore[override]
        self.budget.count_read()
        return super().readline(size)


def check_jpeg_scans(data: bytes, width: int, height: int) -> int:
    """Refuse a JPEG whose scans would take too much work: a progressive decoder passes over every
    block of the image once per scan, so the budget is scans x pixels (`MAX_JPEG_SCAN_PIXELS`) and
    at most `MAX_JPEG_SCANS` scans. The count is of SOS markers in the whole file (entropy-coded
    data cannot contain one: 0xFF there is stuffed), so it is exact or, with an embedded thumbnail,
    a little high. Returns the count."""
    scans = data.count(b"\xff\xda")
    pixels = max(int(width), 1) * max(int(height), 1)
    allowed = min(MAX_JPEG_SCANS, max(1, MAX_JPEG_SCAN_PIXELS // pixels))
    if scans > allowed:
        raise InputError.make(
            "too_complex", what=f"{scans:,} JPEG scans; at most {allowed:,} at {width} x {height} pixels"
        )
    return scans


# libjpeg's "N extraneous bytes before marker": a few are junk some encoders write; many mean the
# decoder finished the scan early on damaged data and skipped the rest.
_MAX_EXTRANEOUS_BYTES = 256


def check_jpeg_entropy(data: bytes, components: int) -> None:
    """Decode the entropy-coded data once with libjpeg-turbo in strict mode, at 1/8 scale (the
    Huffman decoding is complete, the inverse DCT mostly skipped): libjpeg pads a scan that ends
    early, even one cut and closed with an EOI, with grey, and only reports it as a warning that
    Pillow ignores. A warning of missing or corrupt data means "truncated".
    Without simplejpeg installed this check is skipped (logged once)."""
    try:
        import simplejpeg
    except ImportError:  # pragma: no cover - simplejpeg is a requirement
        _warn_once("simplejpeg is not installed: JPEG files cut and closed with an EOI are not detected")
        return
    colorspace = "CMYK" if components == 4 else ("GRAY" if components == 1 else "RGB")
    try:
        simplejpeg.decode_jpeg(
            data, colorspace=colorspace, min_height=1, min_width=1, min_factor=8, strict=True
        )
    except ValueError as exc:
        text = str(exc).lower()
        extraneous = re.search(r"(\d+) extraneous bytes", text)
        if extraneous and int(extraneous.group(1)) <= _MAX_EXTRANEOUS_BYTES:
            return  # a few junk bytes before a marker: some encoders write them, the image is whole
        if "unsupported color conversion" in text or "colorspace" in text:
            return  # a colour model turbo cannot convert; Pillow decodes it
        raise InputError.make("truncated") from None


_WARNED: set[str] = set()


def _warn_once(message: str) -> None:
    if message not in _WARNED:
        _WARNED.add(message)
        import logging

        logging.getLogger("medhub.imaging").warning(message)


def check_jpeg_coefficients(width: int, height: int, sampling: list[tuple[int, int]]) -> int:
    """Refuse a progressive JPEG whose coefficient buffer would exceed MAX_JPEG_COEFFICIENT_BYTES;
    `sampling` is the (h, v) factor of each component from the SOF. Returns the bytes."""
    if not sampling:
        return 0
    hmax = max(max(h for h, _ in sampling), 1)
    vmax = max(max(v for _, v in sampling), 1)
    total = 0
    for h, v in sampling:
        cols = _ceil_div(_ceil_div(width * max(h, 1), hmax), 8)
        rows = _ceil_div(_ceil_div(height * max(v, 1), vmax), 8)
        total += cols * rows * 128
    if total > MAX_JPEG_COEFFICIENT_BYTES:
        raise InputError.make(
            "too_complex",
            what=f"a progressive JPEG that needs {total / 2**20:,.0f} MB of coefficients; "
            f"at most {MAX_JPEG_COEFFICIENT_BYTES / 2**20:,.0f} MB",
        )
    return total


def _ceil_div(a: int, b: int) -> int:
    return -(-a // b)


# --- CT series (medhub.series): several DICOM slices in one request -----------------------------
# Each slice still passes the gate above on its own (MAX_UPLOAD_BYTES, the decode budget, ...); these
# bound the request as a whole. A thin-slice head CT has ~250-300 slices of ~0.5 MB.
MAX_SERIES_FILES = _env_int("MEDHUB_MAX_SERIES_FILES", 300)
# Bytes of all slices together (files as given, or the members of a zip once decompressed).
MAX_SERIES_TOTAL_BYTES = _env_int("MEDHUB_MAX_SERIES_TOTAL_BYTES", 200 * 1024 * 1024)
# Entries of a zip's central directory (folders and skipped files included), read before Python's
# zipfile parses the directory; and the largest ratio of decompressed to compressed size per member.
MAX_ZIP_ENTRIES = _env_int("MEDHUB_MAX_ZIP_ENTRIES", 1000)
MAX_ZIP_RATIO = _env_int("MEDHUB_MAX_ZIP_RATIO", 200)
