"""The one gate for untrusted uploads: every tab, the API and the CLI decode user files here.

`load_upload()` takes a path or bytes and returns a `DecodedImage` (RGB uint8, what the model sees
and what overlays are drawn on) or raises `InputError`, whose `code` is stable and whose message
exists in English and Korean (`str(err)` is "English / 한국어").

Order of checks, so that nothing expensive happens to a hostile file:
1. byte size (empty, over `MAX_UPLOAD_BYTES`), before the file is read when it is a path;
2. format by content (magic bytes), never by file name; unknown signatures are refused;
3. structure checks that Pillow would not make (PNG has IEND, JPEG has EOI after its scan,
   RIFF size of WebP), so truncated files are refused rather than padded with grey;
4. pixel count and frame count from the header (Pillow's lazy open), before decoding;
5. full decode inside a try that maps every decoder error to `InputError("truncated")`.
DICOM goes to `medhub.dicom.read_dicom()`, which does the same for DICOM headers.

Conversion choices (documented here because they change what a model sees):
- EXIF orientation is applied (phones store portrait photos rotated).
- Transparent images are composited on black: CT slices and dermoscopy borders are black, and a
  black background adds no bright edge for a classifier to pick up.
- 16-bit and float images (I;16, I, F) are stretched linearly from their own min..max to 0..255:
  such uploads seldom use the whole dtype range (12-bit CT exports store 0..4095), so scaling by
  the dtype range would give an almost black image. A constant image becomes all zeros.
"""

from __future__ import annotations

import io
import os
import re
import struct
import warnings
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, ImageFile, ImageOps

MAX_UPLOAD_BYTES = int(os.environ.get("MEDHUB_MAX_UPLOAD_BYTES", str(20 * 1024 * 1024)))
MAX_PIXELS = int(os.environ.get("MEDHUB_MAX_PIXELS", str(40_000_000)))
# Multi-frame images (GIF, TIFF pages, animated WebP/PNG): only the first frame is used, but a file
# that claims thousands of frames or gigapixels in total is refused as a bomb.
MAX_FRAMES = int(os.environ.get("MEDHUB_MAX_FRAMES", "1000"))
MAX_TOTAL_FRAME_PIXELS_FACTOR = 4  # total pixels of all frames <= this x MAX_PIXELS
MIN_SIDE = 16

# Pillow must refuse truncated files instead of padding them (this is also its default).
ImageFile.LOAD_TRUNCATED_IMAGES = False
Image.MAX_IMAGE_PIXELS = MAX_PIXELS
# Pillow only warns between MAX_IMAGE_PIXELS and twice that; a bomb must be an error. Our own
# header check fires first, this is the second line of defence. (Process-wide: training data is
# far below the limit.)
warnings.simplefilter("error", Image.DecompressionBombWarning)

IMAGE_FORMATS = ("PNG", "JPEG", "WEBP", "BMP", "TIFF", "GIF")


def max_upload_bytes() -> int:
    """The byte limit in force (read at call time so tests and deployments can change it)."""
    return MAX_UPLOAD_BYTES


def max_pixels() -> int:
    """The pixel-count limit in force (per frame)."""
    return MAX_PIXELS


# code -> (English, Korean); str.format fields are filled from InputError.make(**params).
_MESSAGES: dict[str, tuple[str, str]] = {
    "empty": ("The file is empty.", "파일이 비어 있습니다."),
    "unreadable": ("The uploaded file could not be read.", "업로드한 파일을 읽을 수 없습니다."),
    "too_large": (
        "The file is {size_mb:.1f} MB; the limit is {limit_mb:.0f} MB.",
        "파일 크기가 {size_mb:.1f} MB로 허용 한도({limit_mb:.0f} MB)를 넘습니다.",
    ),
    "unknown_format": (
        "This file is not a supported image. Upload PNG, JPEG, WebP, BMP, TIFF or GIF{dicom_en}.",
        "지원하지 않는 파일 형식입니다. PNG, JPEG, WebP, BMP, TIFF, GIF{dicom_ko} 파일을 올려 주세요.",
    ),
    "truncated": (
        "The image file is damaged or incomplete and cannot be read.",
        "이미지 파일이 손상되었거나 일부가 잘려 있어 읽을 수 없습니다.",
    ),
    "too_many_pixels": (
        "The image has {mp:,.0f} million pixels; at most {limit_mp:g} million are accepted.",
        "이미지가 너무 큽니다({mp:,.0f}백만 화소). 최대 {limit_mp:g}백만 화소까지 처리할 수 있습니다.",
    ),
    "too_many_frames": (
        "The file holds too many frames ({n}); upload a single image.",
        "프레임 수가 너무 많습니다({n}개). 한 장짜리 이미지를 올려 주세요.",
    ),
    "too_small": (
        "The image is only {w} x {h} pixels; it must be at least 16 pixels on each side.",
        "이미지가 너무 작습니다({w} x {h}). 가로와 세로 모두 16픽셀 이상이어야 합니다.",
    ),
    "unsupported_image": (
        "This image's pixel format ({mode}) is not supported.",
        "이 이미지의 픽셀 형식({mode})은 지원하지 않습니다.",
    ),
    "not_allowed_dicom": (
        "DICOM files are not accepted for this model; upload a photograph (PNG or JPEG).",
        "이 모델은 DICOM 파일을 받지 않습니다. PNG 또는 JPEG 사진을 올려 주세요.",
    ),
    "dicom_invalid": (
        "The DICOM file is invalid and cannot be read ({detail}).",
        "DICOM 파일의 구조가 올바르지 않아 읽을 수 없습니다.",
    ),
    "dicom_no_pixels": (
        "The DICOM file contains no image (no Pixel Data).",
        "DICOM 파일에 영상 데이터(Pixel Data)가 없습니다.",
    ),
    "dicom_unsupported_syntax": (
        "The DICOM transfer syntax {name} ({uid}) is not supported.",
        "이 DICOM 전송 구문({name}, {uid})은 지원하지 않습니다.",
    ),
    "dicom_too_large": (
        "The DICOM image is too large ({detail}).",
        "DICOM 영상이 너무 큽니다({detail}).",
    ),
    "dicom_bad_frame": (
        "Frame {frame} does not exist; this file has {n} frame(s), numbered 0 to {last}.",
        "{frame}번 프레임이 없습니다. 이 파일의 프레임 번호는 0부터 {last}까지입니다.",
    ),
    "bad_window": (
        "Unknown CT window '{name}'; choose one of {choices}, or give (centre, width) with width >= 1.",
        "알 수 없는 CT 창 설정('{name}')입니다. {choices} 중 하나를 고르거나 (중심, 폭)을 폭 1 이상으로"
        " 지정해 주세요.",
    ),
}


class InputError(Exception):
    """An upload that cannot be analysed; `code` is stable, messages are for people.

    `str(err)` is "English / 한국어" so API clients get both languages.
    """

    def __init__(self, code: str, message_en: str, message_ko: str) -> None:
        super().__init__(f"{message_en} / {message_ko}")
        self.code = code
        self.message_en = message_en
        self.message_ko = message_ko

    @classmethod
    def make(cls, code: str, **params: Any) -> InputError:
        """Build the error for `code` from the message table, filling in `params`."""
        en, ko = _MESSAGES[code]
        return cls(code, en.format(**params), ko.format(**params))

    def message(self, lang: str = "en") -> str:
        """The message in `lang` ("en" or "ko"; anything else gives English)."""
        return self.message_ko if lang.lower().startswith("ko") else self.message_en

    def __str__(self) -> str:
        return f"{self.message_en} / {self.message_ko}"


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
    (centre, width); None picks the default (see `dicom.resolve_window`). `frame`: which frame of a
    multi-frame DICOM (0-based). Raises `InputError`.
    """
    data = read_source(source)
    if not data:
        raise InputError.make("empty")
    if len(data) > max_upload_bytes():
        raise InputError.make("too_large", size_mb=len(data) / 1e6, limit_mb=max_upload_bytes() / 1e6)

    fmt = sniff_format(data)
    if fmt is None and _maybe_headerless_dicom(data):
        fmt = "DICOM-RAW"
    if fmt is None:
        raise _unknown(allow_dicom)
    if fmt.startswith("DICOM"):
        if not allow_dicom:
            raise InputError.make("not_allowed_dicom")
        return _load_dicom(data, window=window, frame=frame, force=fmt == "DICOM-RAW")
    return _load_image(data, fmt)


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
            raise InputError.make("too_large", size_mb=size / 1e6, limit_mb=max_upload_bytes() / 1e6)
        with path.open("rb") as fh:
            # +1 so that a file which grew after stat() is still caught by the size check.
            return fh.read(max_upload_bytes() + 1)
    except OSError as exc:
        raise InputError.make("unreadable") from exc


def _maybe_headerless_dicom(data: bytes) -> bool:
    """A DICOM dataset without preamble: accepted only if it starts like one AND has image attributes.

    Conservative on purpose: the first element must be in group 0002 or 0008 (file meta or
    identifying group, the usual start of a preamble-less file) and pydicom must find Rows, Columns
    and Bits Allocated in it.
    """
    if len(data) < 64 or data[:2] not in (b"\x02\x00", b"\x08\x00", b"\x00\x08"):
        return False
    import pydicom

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ds = pydicom.dcmread(io.BytesIO(data), stop_before_pixels=True, force=True)
        return all(ds.get(k) not in (None, "") for k in ("Rows", "Columns", "BitsAllocated"))
    except Exception:  # noqa: BLE001 - any parse failure just means "not DICOM"
        return False


def _load_dicom(data: bytes, *, window: Any, frame: int, force: bool) -> DecodedImage:
    from medhub.dicom import read_dicom, render_slice

    if isinstance(frame, bool) or not isinstance(frame, (int, np.integer)):
        raise TypeError("frame must be an int")
    dslice = read_dicom(data, int(frame), force=force)
    rgb, window_label = render_slice(dslice, window)
    meta = dict(dslice.meta)
    meta["window"] = window_label
    return DecodedImage(rgb=rgb, kind="dicom", format="DICOM", meta=meta, hu=dslice.hu)


def _check_structure(data: bytes, fmt: str) -> None:
    """Catch truncation that Pillow tolerates (it can decode a PNG without IEND, a JPEG without EOI)."""
    if fmt == "PNG" and data.rfind(b"IEND\xaeB`\x82") < 0:
        raise InputError.make("truncated")
    if fmt == "JPEG" and not _jpeg_complete(data):
        raise InputError.make("truncated")
    if fmt == "WEBP" and struct.unpack("<I", data[4:8])[0] + 8 > len(data):
        raise InputError.make("truncated")
    if fmt == "GIF" and not data.rstrip(b"\x00").endswith(b";"):
        # The GIF trailer byte; encoders write it, and a cut file lacks it.
        raise InputError.make("truncated")


def _jpeg_complete(data: bytes) -> bool:
    """True if the marker segments up to the first scan are intact and an EOI follows the scan."""
    pos, n = 2, len(data)
    while pos + 4 <= n:
        if data[pos] != 0xFF:
            return False
        marker = data[pos + 1]
        if marker == 0xFF:  # fill byte
            pos += 1
            continue
        if marker == 0xDA:  # start of scan: entropy-coded data follows, EOI must come after it
            return data.find(b"\xff\xd9", pos) >= 0
        if marker == 0xD9:
            return False
        if marker == 0x01 or 0xD0 <= marker <= 0xD7:
            pos += 2
            continue
        pos += 2 + struct.unpack(">H", data[pos + 2 : pos + 4])[0]
    return False


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
)


def _load_image(data: bytes, fmt: str) -> DecodedImage:
    _check_structure(data, fmt)
    Image.MAX_IMAGE_PIXELS = max_pixels()
    w = h = 0
    try:
        img = Image.open(io.BytesIO(data), formats=[fmt])
        w, h = img.size
        if w * h > max_pixels():
            raise _too_many_pixels(w * h)
        if min(w, h) < MIN_SIDE:
            raise InputError.make("too_small", w=w, h=h)
        n_frames = int(getattr(img, "n_frames", 1))
        if n_frames > MAX_FRAMES or n_frames * w * h > MAX_TOTAL_FRAME_PIXELS_FACTOR * max_pixels():
            raise InputError.make("too_many_frames", n=n_frames)
        if n_frames > 1:
            img.seek(0)
        original_mode = img.mode
        img.load()
        rotated = ImageOps.exif_transpose(img) if _has_orientation(img) else img
        rgb = _to_rgb(rotated)
    except InputError:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning, MemoryError) as exc:
        # Pillow refuses at open() before we see the size; its message carries the pixel count.
        found = re.search(r"\((\d+) pixels\)", str(exc))
        raise _too_many_pixels(int(found.group(1)) if found else w * h) from None
    except _DECODE_ERRORS as exc:
        raise InputError.make("truncated") from exc
    meta = {
        "width": int(rgb.shape[1]),
        "height": int(rgb.shape[0]),
        "mode": original_mode,
        "frames": n_frames,
        "exif_rotated": rotated is not img,
    }
    return DecodedImage(rgb=rgb, kind="image", format=fmt, meta=meta, hu=None)


def _too_many_pixels(n_pixels: int) -> InputError:
    return InputError.make("too_many_pixels", mp=n_pixels / 1e6, limit_mp=max_pixels() / 1e6)


def _has_orientation(img: Image.Image) -> bool:
    try:
        return img.getexif().get(0x0112, 1) not in (1, None)
    except _DECODE_ERRORS:
        # A broken EXIF block is metadata damage, not image damage: decode without rotating.
        return False


def _to_rgb(img: Image.Image) -> np.ndarray:
    """Any Pillow mode -> (H, W, 3) uint8; see the module docstring for the choices."""
    mode = img.mode
    if mode == "RGB":
        return np.ascontiguousarray(np.asarray(img, dtype=np.uint8))
    if mode in ("I", "F") or mode.startswith("I;16"):
        return _gray_to_rgb(_stretch(np.asarray(img)))
    has_alpha = (
        mode in ("RGBA", "LA", "PA", "La", "RGBa")
        or (mode == "P" and "transparency" in img.info)
        or (mode in ("L", "RGB") and "transparency" in img.info)
    )
    try:
        if has_alpha:
            rgba = np.asarray(img.convert("RGBA"), dtype=np.float32)
            out = rgba[:, :, :3] * (rgba[:, :, 3:4] / 255.0)  # composite on black
            return np.rint(out).astype(np.uint8)
        return np.ascontiguousarray(np.asarray(img.convert("RGB"), dtype=np.uint8))
    except ValueError as exc:
        raise InputError.make("unsupported_image", mode=mode) from exc


def _stretch(values: np.ndarray) -> np.ndarray:
    x = values.astype(np.float64)
    finite = np.isfinite(x)
    if not finite.any():
        return np.zeros(x.shape, dtype=np.uint8)
    lo, hi = float(x[finite].min()), float(x[finite].max())
    # NaN and infinities take the nearest end of the finite range (NaN the low end).
    x = np.where(np.isposinf(x), hi, np.where(finite, x, lo))
    if hi <= lo:
        return np.zeros(x.shape, dtype=np.uint8)
    return np.rint((x - lo) * (255.0 / (hi - lo))).astype(np.uint8)


def _gray_to_rgb(gray: np.ndarray) -> np.ndarray:
    return np.repeat(gray[:, :, None], 3, axis=2)
