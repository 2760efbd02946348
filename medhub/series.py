"""A CT study as a series of slices: several DICOM files (or one zip of them) -> per-slice scores and
one study-level result.

`analyse_series(card, inputs)`:
1. `collect(inputs)`: the slices as given: file paths, folders (expanded, for the CLI), bytes, or a
   zip of one series (read in memory, never extracted to disk). Bounded before anything is decoded:
   at most `limits.MAX_SERIES_FILES` slices and `limits.MAX_SERIES_TOTAL_BYTES` in all (a zip's
   members counted decompressed), a zip's directory at most `limits.MAX_ZIP_ENTRIES` entries (read
   from its end record before `zipfile` parses it), stored or deflated members only, no encryption,
   no member inflating more than `limits.MAX_ZIP_RATIO` times its compressed size or above the gate's
   byte limit. Each slice then goes through the one input gate (`medhub.imaging`) like any upload.
2. `read_header()` per slice (budgeted, header only, no pixels): modality, image type, position and
   orientation, series and study identity. The identity is used to group and never leaves this
   module (no UID appears in a result or a message).
3. `order_slices()`: one series of one study, CT, no localiser, one orientation, ordered by the
   projection of ImagePositionPatient on the slice normal (row x column direction cosines), never by
   file name or InstanceNumber. Anything else is a `SeriesError` (an `InputError`) naming the file.
4. Every slice through `medhub.pipeline.run` (the card's DICOM window unless another is asked, the
   scope check, Grad-CAM), then the study (its summary assembled by `medhub.summary.series`): the maximum and the mean of the top 3 slice scores
   (P(positive class)), the decision by the card's threshold on the chosen one (`aggregate`), and
   the slice that drove it (the highest-scoring slice).

Out-of-scope slices (the scope check refuses them, e.g. the vertex of the skull) keep their score in
the list but do not count for the study unless `show_anyway` is set; with no slice in scope the study
gets no decision.
"""

from __future__ import annotations

import io
import re
import struct
import zipfile
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from medhub import dicom, limits, pipeline
from medhub.errors import InputError
from medhub.imaging import _maybe_headerless_dicom, dicom_window, sniff_format
from medhub.summary import series as build_series_summary

AGGREGATES = ("top3_mean", "max")
DEFAULT_AGGREGATE = "top3_mean"
TOP_K = 3
# Slices whose normals differ by more than this are not one stack (a localiser, a reformat).
MAX_ORIENTATION_DEGREES = 10.0
# Two slices closer than this along the normal are the same position.
SAME_POSITION_MM = 1e-3

SERIES_MESSAGES: dict[str, tuple[str, str]] = {
    "series_empty": ("No DICOM slices were given.", "DICOM 슬라이스가 없습니다."),
    "series_too_many_files": (
        "The series has {n} files; at most {limit} are accepted.",
        "시리즈 파일이 {n}개입니다. 최대 {limit}개까지 받을 수 있습니다.",
    ),
    "series_too_large": (
        "The slices add up to {size_mb:.0f} MB; at most {limit_mb:.0f} MB are accepted.",
        "슬라이스 크기의 합이 {size_mb:.0f} MB로 허용 한도({limit_mb:.0f} MB)를 넘습니다.",
    ),
    "series_bad_zip": (
        "The zip file cannot be read ({detail}).",
        "zip 파일을 읽을 수 없습니다({detail}).",
    ),
    "series_zip_unsupported": (
        "The zip file uses {what}, which is not accepted; upload a plain zip of one series.",
        "이 zip 파일은 {what}을(를) 사용하므로 받을 수 없습니다. 한 시리즈만 담은 일반 zip 파일을 올려 주세요.",
    ),
    "series_not_dicom": (
        "{file} is not a DICOM file; a series takes DICOM slices only.",
        "{file}은(는) DICOM 파일이 아닙니다. 시리즈에는 DICOM 슬라이스만 넣을 수 있습니다.",
    ),
    "series_not_ct": (
        "{file} is not a CT image (modality {modality}); this model reads head CT slices.",
        "{file}은(는) CT 영상이 아닙니다(모달리티 {modality}). 이 모델은 두부 CT 슬라이스를 읽습니다.",
    ),
    "series_localizer": (
        "{file} is a localiser (scout) image, not a slice of the series; leave it out.",
        "{file}은(는) 위치 확인용(스카우트) 영상이며 시리즈의 슬라이스가 아닙니다. 빼고 올려 주세요.",
    ),
    "series_orientation": (
        "{file} is oriented {angle:.0f} degrees away from the other slices; upload one axial series.",
        "{file}은(는) 다른 슬라이스와 방향이 {angle:.0f}도 다릅니다. 한 축상(axial) 시리즈만 올려 주세요.",
    ),
    "series_mixed": (
        "The files come from {n} series: {files} not in the series of the other {k} slice(s). "
        "Upload one series.",
        "파일이 {n}개 시리즈에서 왔습니다. {files}은(는) 나머지 {k}개 슬라이스와 다른 시리즈입니다. "
        "한 시리즈만 올려 주세요.",
    ),
    "series_mixed_study": (
        "The files come from different studies: {files} from another study than the other {k} "
        "slice(s). Upload one series of one study.",
        "파일이 서로 다른 검사에서 왔습니다. {files}은(는) 나머지 {k}개 슬라이스와 다른 검사입니다. "
        "한 검사의 한 시리즈만 올려 주세요.",
    ),
    "series_no_position": (
        "{file} has no slice position (ImagePositionPatient / ImageOrientationPatient); the slices "
        "cannot be put in order.",
        "{file}에 슬라이스 위치 정보(ImagePositionPatient / ImageOrientationPatient)가 없어 순서를 정할 수 "
        "없습니다.",
    ),
    "series_duplicate_position": (
        "{file_a} and {file_b} lie at the same position ({z:.2f} mm); each slice may be given once.",
        "{file_a}와(과) {file_b}의 위치가 같습니다({z:.2f} mm). 슬라이스는 한 번씩만 올려 주세요.",
    ),
    "series_multiframe": (
        "{file} holds {n} frames; upload the single-slice files of one series.",
        "{file}에는 프레임이 {n}개 있습니다. 한 시리즈의 단일 슬라이스 파일들을 올려 주세요.",
    ),
    "series_bad_slice": ("{file}: {message_en}", "{file}: {message_ko}"),
}


class SeriesError(InputError):
    """A set of slices that cannot be read as one CT series; `code` is stable (`series_*`).

    An `InputError`, so every caller that reports a bad upload reports this too. For
    `series_bad_slice` (one slice refused by the input gate), `slice_code` is the gate's code."""

    MESSAGES = SERIES_MESSAGES
    slice_code: str | None = None

    @classmethod
    def make(cls, code: str, **params: Any) -> SeriesError:  # type: ignore[override]
        en, ko = SERIES_MESSAGES[code]
        return cls(code, en.format(**params), ko.format(**params))


def _shown_name(name: str) -> str:
    """A file name fit for a message: its last path part, printable, at most 80 characters."""
    base = re.split(r"[\\/]", str(name))[-1] or str(name)
    base = "".join(ch if ch.isprintable() else "?" for ch in base)
    return base if len(base) <= 80 else base[:77] + "..."


def _names(files: list[str], at_most: int = 5) -> str:
    shown = ", ".join(_shown_name(f) for f in files[:at_most])
    return shown + (f" and {len(files) - at_most} more" if len(files) > at_most else "")


# ------------------------------------------------------------------------------------------------
# 1. collecting the slices


@dataclass(frozen=True)
class SliceSource:
    """One slice as given: a name (the file name, or the member's path in a zip) and its bytes."""

    name: str
    size: int
    _read: Callable[[], bytes] = field(repr=False)

    def read(self) -> bytes:
        return self._read()


def _path_source(path: Path, name: str | None = None) -> SliceSource:
    try:
        size = path.stat().st_size
    except OSError:
        raise InputError.make("unreadable") from None
    return SliceSource(name or path.name, size, lambda p=path: limits.read_source(p))


def is_zip(head: bytes) -> bool:
    return head[:4] in (b"PK\x03\x04", b"PK\x05\x06")


def _zip_entry_count(data: bytes) -> int:
    """Entries in a zip's central directory, from its end record (read before zipfile parses the
    directory: a 20 MB zip can list a million empty entries)."""
    pos = data.rfind(b"PK\x05\x06", max(0, len(data) - 65_557))
    if pos < 0 or pos + 22 > len(data):
        raise SeriesError.make("series_bad_zip", detail="no end of central directory")
    total = struct.unpack("<H", data[pos + 10 : pos + 12])[0]
    if total == 0xFFFF or data.rfind(b"PK\x06\x06", max(0, pos - 4096), pos) >= 0:
        raise SeriesError.make("series_zip_unsupported", what="ZIP64")
    return total


_SKIPPED_MEMBERS = re.compile(r"(^|/)(__MACOSX/|\.|DICOMDIR$|Thumbs\.db$)", re.IGNORECASE)


def zip_sources(data: bytes, zip_name: str = "series.zip") -> list[SliceSource]:
    """The members of a zip of one series as `SliceSource`s (in memory; folders, hidden files,
    `__MACOSX/` and DICOMDIR skipped). Checks the limits of the module docstring first."""
    entries = _zip_entry_count(data)
    if entries > limits.MAX_ZIP_ENTRIES:
        raise SeriesError.make("series_too_many_files", n=entries, limit=limits.MAX_ZIP_ENTRIES)
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
        infos = archive.infolist()
    except (zipfile.BadZipFile, zipfile.LargeZipFile, NotImplementedError, ValueError, OSError, EOFError) as exc:
        raise SeriesError.make("series_bad_zip", detail=f"{type(exc).__name__}: {str(exc)[:120]}") from None
    members = [i for i in infos if not i.is_dir() and not _SKIPPED_MEMBERS.search(i.filename)]
    if len(members) > limits.MAX_SERIES_FILES:
        raise SeriesError.make("series_too_many_files", n=len(members), limit=limits.MAX_SERIES_FILES)
    total = 0
    out: list[SliceSource] = []
    for info in members:
        if info.flag_bits & 0x1:
            raise SeriesError.make("series_zip_unsupported", what="encryption")
        if info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
            raise SeriesError.make("series_zip_unsupported", what=f"compression method {info.compress_type}")
        if info.file_size > limits.max_upload_bytes():
            raise SeriesError.make(
                "series_bad_slice", file=_shown_name(info.filename),
                **_messages(limits.too_large(info.file_size)),
            )
        if info.file_size > limits.MAX_ZIP_RATIO * max(info.compress_size, 1) and info.file_size > 1 << 20:
            raise SeriesError.make(
                "series_zip_unsupported",
                what=f"a member that inflates {info.file_size / max(info.compress_size, 1):,.0f} times",
            )
        total += info.file_size
        if total > limits.MAX_SERIES_TOTAL_BYTES:
            raise SeriesError.make(
                "series_too_large", size_mb=total / 1e6, limit_mb=limits.MAX_SERIES_TOTAL_BYTES / 1e6
            )

        def read(info=info) -> bytes:
            try:
                # zipfile stops at the declared size and checks the CRC: a member cannot inflate past it.
                with archive.open(info) as fh:
                    return fh.read(limits.max_upload_bytes() + 1)
            except (zipfile.BadZipFile, EOFError, OSError, ValueError, NotImplementedError) as exc:
                raise SeriesError.make(
                    "series_bad_zip", detail=f"{_shown_name(info.filename)}: {type(exc).__name__}"
                ) from None
            except Exception as exc:  # noqa: BLE001 - zlib.error and the like: a damaged member
                raise SeriesError.make(
                    "series_bad_zip", detail=f"{_shown_name(info.filename)}: {type(exc).__name__}"
                ) from None

        out.append(SliceSource(info.filename, info.file_size, read))
    return out


def _messages(err: InputError) -> dict[str, str]:
    return {"message_en": err.message_en, "message_ko": err.message_ko}


def collect(inputs: str | Path | bytes | Iterable[str | Path | bytes]) -> list[SliceSource]:
    """The slices of `inputs`: file paths, folders (expanded recursively, hidden files skipped),
    bytes, or zips of them (a zip is opened wherever a file or bytes start with a zip signature)."""
    if isinstance(inputs, (str, Path, bytes, bytearray)):
        inputs = [inputs]
    sources: list[SliceSource] = []
    for k, item in enumerate(inputs):
        if isinstance(item, (bytes, bytearray, memoryview)):
            data = bytes(item)
            if is_zip(data[:4]):
                sources += zip_sources(data)
            else:
                sources.append(SliceSource(f"slice{k + 1}", len(data), lambda d=data: d))
        else:
            path = Path(item)
            if path.is_dir():
                files = sorted(p for p in path.rglob("*") if p.is_file()
                               and not any(part.startswith(".") for part in p.relative_to(path).parts))
                sources += [_path_source(p, str(p.relative_to(path))) for p in files if p.name != "DICOMDIR"]
            else:
                try:
                    with path.open("rb") as fh:
                        head = fh.read(4)
                except OSError:
                    raise InputError.make("unreadable") from None
                if is_zip(head):
                    sources += zip_sources(limits.read_source(path), path.name)
                else:
                    sources.append(_path_source(path))
        if len(sources) > limits.MAX_SERIES_FILES:
            raise SeriesError.make("series_too_many_files", n=len(sources), limit=limits.MAX_SERIES_FILES)
    if not sources:
        raise SeriesError.make("series_empty")
    total = sum(s.size for s in sources)
    if total > limits.MAX_SERIES_TOTAL_BYTES:
        raise SeriesError.make("series_too_large", size_mb=total / 1e6,
                               limit_mb=limits.MAX_SERIES_TOTAL_BYTES / 1e6)
    return sources


# ------------------------------------------------------------------------------------------------
# 2. headers


@dataclass
class SliceHeader:
    name: str
    modality: str
    image_type: tuple[str, ...]
    series_uid: str
    study_uid: str
    frames: int
    position: np.ndarray | None  # ImagePositionPatient (mm), or None
    orientation: np.ndarray | None  # ImageOrientationPatient (6 direction cosines), or None
    instance_number: int | None

    @property
    def normal(self) -> np.ndarray | None:
        if self.orientation is None:
            return None
        n = np.cross(self.orientation[:3], self.orientation[3:])
        norm = float(np.linalg.norm(n))
        return None if norm < 1e-6 else n / norm


def _floats(value: Any, n: int) -> np.ndarray | None:
    try:
        arr = np.array([float(v) for v in value], dtype=np.float64)
    except (TypeError, ValueError):
        return None
    return arr if arr.shape == (n,) and np.all(np.isfinite(arr)) else None


def read_header(source: SliceSource, data: bytes | None = None) -> SliceHeader:
    """The header of one slice (no pixels), parsed inside the gate's decode budget. A file that is
    not DICOM is `series_not_dicom`; a DICOM file the gate refuses is `series_bad_slice`."""

    name = _shown_name(source.name)
    try:
        data = source.read() if data is None else data
        if not data:
            raise InputError.make("empty")
        if len(data) > limits.max_upload_bytes():
            raise limits.too_large(len(data))
        budget = limits.Budget()
        fmt = sniff_format(data)
        force = False
        if fmt is None and _maybe_headerless_dicom(data, budget):
            fmt, force = "DICOM", True
        if fmt != "DICOM":
            raise SeriesError.make("series_not_dicom", file=name)
        budget.max_reads = min(budget.max_reads, limits.MAX_DICOM_READ_CALLS)
        if not force and dicom._is_deflated(data, budget):
            data = dicom.inflate_dataset(data, budget)
        dicom.check_structure(data, force, budget)
        header, _ = dicom._read_header(data, force, budget)
        modality = str(header.get("Modality", "") or "").strip().upper()
        image_type = tuple(str(v).strip().upper() for v in (header.get("ImageType") or []))
        try:
            frames = int(header.get("NumberOfFrames", 1) or 1)
        except (TypeError, ValueError):
            frames = 1
        try:
            instance = int(header.get("InstanceNumber")) if header.get("InstanceNumber") not in (None, "") else None
        except (TypeError, ValueError):
            instance = None
        return SliceHeader(
            name=source.name,
            modality=modality,
            image_type=image_type,
            series_uid=str(header.get("SeriesInstanceUID", "") or ""),
            study_uid=str(header.get("StudyInstanceUID", "") or ""),
            frames=frames,
            position=_floats(header.get("ImagePositionPatient") or [], 3),
            orientation=_floats(header.get("ImageOrientationPatient") or [], 6),
            instance_number=instance,
        )
    except SeriesError:
        raise
    except InputError as err:
        raise _bad_slice(name, err) from None
    except Exception as exc:  # noqa: BLE001 - an untrusted header pydicom chokes on
        raise _bad_slice(name, InputError.make("dicom_invalid", detail=type(exc).__name__)) from None


def _bad_slice(name: str, err: InputError) -> SeriesError:
    out = SeriesError.make("series_bad_slice", file=_shown_name(name), **_messages(err))
    out.slice_code = err.code
    return out


# ------------------------------------------------------------------------------------------------
# 3. one series, in order


def _angle(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.degrees(np.arccos(np.clip(abs(float(np.dot(a, b))), 0.0, 1.0))))


def order_slices(headers: list[SliceHeader]) -> list[tuple[SliceHeader, float]]:
    """Check that `headers` are one CT series of one study and order them along the slice normal.

    Returns (header, z) pairs, z = ImagePositionPatient . normal in mm, ascending. The normal is
    the cross product of the row and column direction cosines of the series (the most common
    orientation), so a tilted gantry or a sagittal stack are ordered correctly too."""
    if not headers:
        raise SeriesError.make("series_empty")
    for h in headers:  # what each file is, before how they fit together
        if h.modality != "CT":
            raise SeriesError.make("series_not_ct", file=_shown_name(h.name), modality=h.modality or "none")
        if "LOCALIZER" in h.image_type or "SCOUT" in h.image_type:
            raise SeriesError.make("series_localizer", file=_shown_name(h.name))
        if h.frames > 1:
            raise SeriesError.make("series_multiframe", file=_shown_name(h.name), n=h.frames)
    series = Counter(h.series_uid for h in headers)
    if len(series) > 1:
        main_uid, k = series.most_common(1)[0]
        main = next(h for h in headers if h.series_uid == main_uid)
        others = [h for h in headers if h.series_uid != main_uid]
        files = _names([h.name for h in others])
        if any(h.study_uid != main.study_uid for h in others):
            raise SeriesError.make("series_mixed_study", files=files, k=k)
        raise SeriesError.make("series_mixed", n=len(series), files=files, k=k)
    for h in headers:
        if h.position is None or h.normal is None:
            raise SeriesError.make("series_no_position", file=_shown_name(h.name))
    # The series' orientation: the most common one (rounded), so one odd slice is the one named.
    keys = Counter(tuple(np.round(h.orientation, 3)) for h in headers)
    reference = np.array(keys.most_common(1)[0][0], dtype=np.float64)
    normal = np.cross(reference[:3], reference[3:])
    normal /= np.linalg.norm(normal)
    for h in headers:
        angle = _angle(h.normal, normal)
        if angle > MAX_ORIENTATION_DEGREES:
            raise SeriesError.make("series_orientation", file=_shown_name(h.name), angle=angle)
    ordered = sorted(((h, float(np.dot(h.position, normal))) for h in headers), key=lambda p: p[1])
    for (a, za), (b, zb) in zip(ordered, ordered[1:]):
        if zb - za < SAME_POSITION_MM:
            raise SeriesError.make("series_duplicate_position", file_a=_shown_name(a.name),
                                   file_b=_shown_name(b.name), z=za)
    return ordered


# ------------------------------------------------------------------------------------------------
# 4. scoring


@dataclass
class SliceResult:
    """One scored slice. Only what a caller needs is kept (a 300-slice series' full pipeline
    results, HU arrays, heat maps and overlays, would hold about a gigabyte)."""

    index: int  # position in the ordered series, 0 = lowest z
    name: str
    z: float
    instance_number: int | None
    score: float  # P(positive class)
    summary: dict[str, Any]  # the slice's pipeline summary (the /predict_<id> summary)
    overlay_jpeg: bytes | None = None  # with keep_overlays: the overlay (or the slice, out of scope)

    @property
    def in_scope(self) -> bool:
        return bool(self.summary["in_scope"])

    def json(self) -> dict[str, Any]:
        s = self.summary
        return {
            "index": self.index,
            "file": self.name,
            "z": round(self.z, 3),
            "instance_number": self.instance_number,
            "score": round(self.score, 6),
            "probabilities": s["probabilities"],
            "decision": s["decision"],
            "in_scope": s["in_scope"],
            "scope_score": s["scope_score"],
        }


def _jpeg(rgb: np.ndarray, quality: int = 85) -> bytes:
    from PIL import Image

    buffer = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(rgb, dtype=np.uint8)).save(buffer, format="JPEG", quality=quality)
    return buffer.getvalue()


@dataclass
class SeriesResult:
    card: Any
    slices: list[SliceResult]
    summary: dict[str, Any]

    @property
    def driving(self) -> SliceResult | None:
        index = (self.summary["study"]["driving_slice"] or {}).get("index")
        return None if index is None else self.slices[index]


def study_result(card: Any, slices: list[SliceResult], aggregate: str = DEFAULT_AGGREGATE,
                 show_anyway: bool = False) -> dict[str, Any]:
    """The study-level part of the summary: both study scores, the chosen one, its decision by the
    card's threshold, and the slice that drove it (the highest score among the slices that count)."""
    if aggregate not in AGGREGATES:
        raise ValueError(f"aggregate must be one of {AGGREGATES}, not {aggregate!r}")
    counted = [s for s in slices if s.in_scope or show_anyway]
    out: dict[str, Any] = {
        "aggregate": aggregate,
        "score": None, "max_score": None, f"top{TOP_K}_mean": None,
        "threshold": card.threshold, "positive_class": card.positive_class,
        "decision": None, "decision_en": None, "decision_ko": None,
        "decision_rule": (f"{card.positive_class} if the {aggregate.replace('_', ' ')} of the slices' "
                          f"P({card.positive_class}) >= {card.threshold:g}"),
        "driving_slice": None, f"top{TOP_K}_slices": [],
        "n_slices": len(slices), "n_counted": len(counted),
        "n_out_of_scope": sum(not s.in_scope for s in slices),
    }
    if not counted:
        out["reason"] = "no slice is in the model's scope: no study decision"
        return out
    best = sorted(counted, key=lambda s: (-s.score, s.index))
    top = best[:TOP_K]
    max_score = best[0].score
    top_mean = float(np.mean([s.score for s in top]))
    score = max_score if aggregate == "max" else top_mean
    negative = next(lab.id for lab in card.labels if lab.id != card.positive_class)
    decision = card.positive_class if score >= card.threshold else negative
    label = card.label(decision)
    driver = best[0]
    out.update({
        "score": round(score, 6), "max_score": round(max_score, 6), f"top{TOP_K}_mean": round(top_mean, 6),
        "decision": decision, "decision_en": label.en, "decision_ko": label.ko,
        "driving_slice": {"index": driver.index, "file": driver.name, "z": round(driver.z, 3),
                          "instance_number": driver.instance_number, "score": round(driver.score, 6)},
        f"top{TOP_K}_slices": [s.index for s in top],
    })
    return out


def analyse_series(
    card: Any,
    inputs: Any,
    *,
    window: str | tuple[float, float] | None = None,
    aggregate: str = DEFAULT_AGGREGATE,
    show_anyway: bool = False,
    opacity: float | None = None,
    keep_overlays: bool = False,
    progress: Callable[..., Any] | None = None,
) -> SeriesResult:
    """Score every slice of one CT series for `card` (a binary DICOM card) and summarise the study.

    `inputs`: what `collect` takes. `window`: the CT window (default: the card's). `keep_overlays`: keep each
    slice's Grad-CAM overlay as JPEG bytes (the app's slice slider). Raises
    `SeriesError` / `InputError` for the input, `ModelUnavailable` when the model cannot load."""
    if not (card.input.dicom and card.is_binary):
        raise ValueError(f"{card.id}: a series needs a binary model that reads DICOM")
    if aggregate not in AGGREGATES:
        raise ValueError(f"aggregate must be one of {AGGREGATES}, not {aggregate!r}")
    step = progress or (lambda *a, **k: None)
    sources = collect(inputs)
    step(0.02, desc="reading headers")
    headers: list[SliceHeader] = []
    by_name: dict[int, SliceSource] = {}
    for source in sources:
        header = read_header(source)
        by_name[id(header)] = source
        headers.append(header)
    ordered = order_slices(headers)
    chosen_window = dicom_window(card, window)
    slices: list[SliceResult] = []
    n = len(ordered)
    for index, (header, z) in enumerate(ordered):
        step(0.05 + 0.9 * index / n, desc=f"slice {index + 1} of {n}")
        source = by_name[id(header)]
        try:
            result = pipeline.run(
                card, source.read(), decode_options={"window": chosen_window}, show_anyway=show_anyway,
                **({} if opacity is None else {"opacity": opacity}),
            )
        except SeriesError:
            raise
        except InputError as err:
            raise _bad_slice(source.name, err) from None
        score = float(result.analysis.probabilities[card.positive_class])
        overlay = _jpeg(result.overlay if result.answered else result.shown.rgb) if keep_overlays else None
        if index == 0:
            window_label = (result.decoded.meta or {}).get("window")
        slices.append(SliceResult(index, source.name, z, header.instance_number, score, result.summary, overlay))
        del result
    first = slices[0].summary
    zs = np.array([s.z for s in slices])
    spacing = np.diff(zs)
    series = {
        "n_slices": n,
        "z_range_mm": [round(float(zs[0]), 3), round(float(zs[-1]), 3)],
        "median_spacing_mm": round(float(np.median(spacing)), 3) if n > 1 else None,
        "ordered_by": "ImagePositionPatient projected on the slice normal",
    }
    summary = build_series_summary(
        card, revision=first["revision"], source=first["weights_source"], window=window_label,
        study=study_result(card, slices, aggregate, show_anyway), series=series,
        slices=[s.json() for s in slices],
    )
    step(1.0, desc="done")
    return SeriesResult(card=card, slices=slices, summary=summary)
