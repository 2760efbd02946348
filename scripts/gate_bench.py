"""Decode time and memory growth of the input gate, per file: `python scripts/gate_bench.py`.

Every file of the malformed corpus (scripts/malformed_corpus.py) and, with `--stress`, a set of valid
files at the limits (the largest images and DICOM frames the gate accepts, built here) goes through
`medhub.imaging.load_upload(..., allow_dicom=True)` in a process forked for that file alone (so one
file's memory cannot hide behind another's), from a parent that has imported and warmed up every
decoder. Per file: the gate's answer, CPU seconds of the decoding thread, wall seconds, and the peak
growth of the resident memory (VmHWM after the decode minus VmRSS before it; VmHWM is reset through
/proc/self/clear_refs, so this is Linux only).

Targets (issue 12): no file of at most the upload limit takes more than 2 s to decode or raises
memory by more than 200 MB. The run prints the worst files and exits 1 when a target is missed.
Heavy: run it alone (`flock /tmp/medhub-cpu.lock python scripts/gate_bench.py --stress`).
"""

from __future__ import annotations

import argparse
import io
import json
import os
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

TARGET_DECODE_S = 2.0
TARGET_MEMORY_MB = 200.0


def _status_kb(field: str) -> int:
    with open("/proc/self/status", encoding="ascii") as fh:
        for line in fh:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise RuntimeError(f"{field} not in /proc/self/status")


def _measure_child(data: bytes, write_fd: int) -> None:
    # Give free heap pages back first: the parent built the files (large arrays since freed), and
    # a child reusing those already-resident pages would show no growth at all.
    import ctypes
    import gc

    from medhub.errors import InputError
    from medhub.imaging import load_upload

    gc.collect()
    ctypes.CDLL("libc.so.6").malloc_trim(0)
    with open("/proc/self/clear_refs", "w", encoding="ascii") as fh:
        fh.write("5")  # reset the peak resident size (VmHWM) to the current one
    before = _status_kb("VmRSS")
    wall0, cpu0 = time.perf_counter(), time.thread_time()
    try:
        result = load_upload(data, allow_dicom=True)
        answer = f"ok {result.format} {result.rgb.shape[1]}x{result.rgb.shape[0]}"
    except InputError as err:
        answer = err.code
    except Exception as err:  # noqa: BLE001 - reported, it is what the bench looks for
        answer = f"UNCAUGHT {type(err).__name__}: {str(err)[:100]}"
    cpu, wall = time.thread_time() - cpu0, time.perf_counter() - wall0
    peak = _status_kb("VmHWM")
    os.write(
        write_fd,
        json.dumps(
            {"answer": answer, "cpu_s": cpu, "wall_s": wall, "peak_growth_mb": (peak - before) / 1024}
        ).encode(),
    )


def measure(data: bytes) -> dict:
    read_fd, write_fd = os.pipe()
    pid = os.fork()
    if pid == 0:  # child
        os.close(read_fd)
        code = 0
        try:
            _measure_child(data, write_fd)
        except BaseException:  # noqa: BLE001
            code = 1
        finally:
            os._exit(code)
    os.close(write_fd)
    chunks = []
    while chunk := os.read(read_fd, 65536):
        chunks.append(chunk)
    os.close(read_fd)
    _, status = os.waitpid(pid, 0)
    if not chunks:
        return {"answer": f"CHILD DIED (status {status})", "cpu_s": 0, "wall_s": 0, "peak_growth_mb": 0}
    return json.loads(b"".join(chunks))


def stress_items() -> list[tuple[str, bytes, str | None]]:
    """Valid files at the gate's limits: the most memory and time an accepted upload can cost."""
    from PIL import Image

    from medhub import limits
    from scripts import malformed_corpus as mc

    side = int(limits.MAX_PIXELS**0.5) // 16 * 16
    w, h = side, limits.MAX_PIXELS // side
    rng = np.random.default_rng(7)
    yy, xx = np.mgrid[0:h, 0:w]
    smooth = ((xx * 255 // max(w - 1, 1)) ^ (yy * 255 // max(h - 1, 1))).astype(np.uint8)
    noise = rng.integers(0, 24, size=(h, w), dtype=np.uint8)
    base = np.stack([smooth, smooth // 2 + noise, 255 - smooth], axis=2)
    rgb = Image.fromarray(base, "RGB")

    fw = int(limits.pixel_limit("TIFF", "F") ** 0.5) // 16 * 16
    fh = min(h, limits.pixel_limit("TIFF", "F") // fw)
    coefficient_pixels = limits.MAX_JPEG_COEFFICIENT_BYTES // 6
    pw = min(w, int(coefficient_pixels**0.5) // 8 * 8)
    ph = min(h, coefficient_pixels // pw // 8 * 8)
    ww = int(limits.pixel_limit("WEBP") ** 0.5) // 16 * 16
    wh = limits.pixel_limit("WEBP") // ww
    webp_img = Image.fromarray(np.ascontiguousarray(np.stack([smooth] * 3, 2)[:wh, :ww]))

    def enc(img, fmt, **kw):
        buf = io.BytesIO()
        img.save(buf, fmt, **kw)
        return buf.getvalue()

    items = [
        (f"stress_jpeg_{w}x{h}.jpg", enc(rgb, "JPEG", quality=80), None),
        (f"stress_jpeg_progressive_420_{w}x{h}.jpg", enc(rgb, "JPEG", quality=80, progressive=True), None),
        # 4:4:4 progressive keeps 6 bytes of coefficients a pixel: refused at the full pixel limit,
        # accepted up to MAX_JPEG_COEFFICIENT_BYTES / 6 pixels.
        (
            f"stress_jpeg_progressive_444_{w}x{h}.jpg",
            enc(rgb, "JPEG", quality=70, progressive=True, subsampling=0),
            "too_complex",
        ),
        (
            f"stress_jpeg_progressive_444_{pw}x{ph}.jpg",
            enc(rgb.crop((0, 0, pw, ph)), "JPEG", quality=70, progressive=True, subsampling=0),
            None,
        ),
        (f"stress_png_rgb_{w}x{h}.png", enc(Image.fromarray(np.stack([smooth] * 3, 2)), "PNG"), None),
        (
            f"stress_png_rgba_{w}x{h}.png",
            enc(Image.fromarray(np.dstack([smooth, smooth, smooth, smooth]), "RGBA"), "PNG"),
            None,
        ),
        (f"stress_png_gray16_{w}x{h}.png", enc(Image.fromarray(smooth.astype(np.uint16) * 200), "PNG"), None),
        (
            f"stress_tiff_deflate_{w}x{h}.tif",
            enc(Image.fromarray(np.stack([smooth] * 3, 2)), "TIFF", compression="tiff_deflate"),
            None,
        ),
        (
            f"stress_tiff_float_{fw}x{fh}.tif",
            enc(Image.fromarray(smooth[:fh, :fw].astype(np.float32)), "TIFF", compression="tiff_deflate"),
            None,
        ),
        (f"stress_gif_{w}x{h}.gif", enc(Image.fromarray(smooth).convert("P"), "GIF"), None),
        (f"stress_webp_lossless_{ww}x{wh}.webp", enc(webp_img, "WEBP", lossless=True, quality=0), None),
        (f"stress_webp_lossy_{ww}x{wh}.webp", enc(webp_img, "WEBP", quality=80), None),
        (f"stress_bmp_rle8_{w}x{h}.bmp", _bmp_rle8_runs(w, h), None),
    ]
    # DICOM at the DICOM pixel limit, and a deflated dataset just under the inflate ceiling.
    dside = int(limits.max_dicom_pixels() ** 0.5)
    ramp = (np.add.outer(np.arange(dside), np.arange(dside)) % 4096).astype(np.uint16)
    from pydicom.uid import RLELossless

    ds = mc._dataset(dside, dside, pixels=ramp.tobytes())
    items.append((f"stress_dicom_deflated_{dside}x{dside}.dcm", mc.dicom_deflated(ds), None))
    ds = mc._dataset(dside, dside, pixels=ramp.tobytes())
    from pydicom.dataset import FileMetaDataset

    ds.file_meta = FileMetaDataset()
    ds.file_meta.TransferSyntaxUID = "1.2.840.10008.1.2.1"
    ds.compress(RLELossless, ramp)
    items.append((f"stress_dicom_rle_{dside}x{dside}.dcm", mc._save(ds, str(RLELossless)), None))
    native_side = int((limits.MAX_UPLOAD_BYTES // 2 - 4096) ** 0.5)
    items.append(
        (
            f"stress_dicom_native_{native_side}x{native_side}.dcm",
            mc._save(mc._dataset(native_side, native_side), "1.2.840.10008.1.2.1"),
            None,
        )
    )
    return [(name, data, code) for name, data, code in items if len(data) <= limits.MAX_UPLOAD_BYTES]


def _bmp_rle8_runs(w: int, h: int) -> bytes:
    from scripts.malformed_corpus import _bmp_rle8

    row = b"".join(bytes([min(255, w - x), x % 256]) for x in range(0, w, 255)) + b"\x00\x00"
    return _bmp_rle8(w, h, row * h + b"\x00\x01")


def warm_up() -> None:
    """Import and run every decoder once in the parent, so children measure decoding only."""
    from medhub.imaging import load_upload
    from scripts.malformed_corpus import corpus_bytes

    for name, data, code in corpus_bytes():
        if code is None:
            try:
                load_upload(data, allow_dicom=True)
            except Exception:  # noqa: BLE001
                pass
        del name


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--stress", action="store_true", help="also valid files at the limits")
    parser.add_argument("--only", default="", help="only files whose name contains this")
    parser.add_argument("--json", type=Path, default=None, help="write every measurement here")
    parser.add_argument("--top", type=int, default=12, help="how many of the worst files to print")
    args = parser.parse_args(argv)
    warnings.simplefilter("ignore")
    os.environ.setdefault("OMP_NUM_THREADS", "1")

    from medhub import limits
    from scripts.malformed_corpus import build_corpus, corpus_bytes

    items = corpus_bytes()
    with tempfile.TemporaryDirectory() as tmp:
        sparse = [(n, p, c) for n, p, c in build_corpus(tmp) if n == "too_large.png"]
        items += [
            (n, p.read_bytes()[:64] + b"\x00" * (limits.MAX_UPLOAD_BYTES + 1 - 64), c) for n, p, c in sparse
        ]
    if args.stress:
        items += stress_items()
    items = [item for item in items if args.only in item[0]]
    warm_up()
    rows = []
    started = time.perf_counter()
    for name, data, expected in items:
        result = measure(data)
        answer = result["answer"]
        got = None if answer.startswith("ok ") else answer
        rows.append(
            {"file": name, "bytes": len(data), "expected": expected, **result, "as_expected": got == expected}
        )
    elapsed = time.perf_counter() - started
    load = os.getloadavg()
    worst_cpu = sorted(rows, key=lambda r: -r["cpu_s"])[: args.top]
    worst_mem = sorted(rows, key=lambda r: -r["peak_growth_mb"])[: args.top]

    def line(r: dict) -> str:
        return (
            f"  {r['file'][:46]:46s} {r['bytes'] / 1e6:7.2f} MB  cpu {r['cpu_s']:5.2f} s  wall "
            f"{r['wall_s']:5.2f} s  +{r['peak_growth_mb']:6.1f} MB  {r['answer'][:40]}"
        )

    print(f"{len(rows)} files in {elapsed:.0f} s (load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f})")
    print("slowest (CPU time of the decoding thread):")
    print("\n".join(line(r) for r in worst_cpu))
    print("most memory (peak growth of resident memory):")
    print("\n".join(line(r) for r in worst_mem))
    over_time = [r for r in rows if r["cpu_s"] > TARGET_DECODE_S or r["wall_s"] > TARGET_DECODE_S]
    over_mem = [r for r in rows if r["peak_growth_mb"] > TARGET_MEMORY_MB]
    uncaught = [r for r in rows if r["answer"].startswith(("UNCAUGHT", "CHILD DIED"))]
    unexpected = [r for r in rows if not r["as_expected"]]
    print(
        f"max CPU {max(r['cpu_s'] for r in rows):.2f} s, max wall {max(r['wall_s'] for r in rows):.2f} s, "
        f"max memory growth {max(r['peak_growth_mb'] for r in rows):.1f} MB"
    )
    print(
        f"over {TARGET_DECODE_S} s: {len(over_time)}; over {TARGET_MEMORY_MB:.0f} MB: {len(over_mem)}; "
        f"uncaught: {len(uncaught)}; answer not as the corpus expects: {len(unexpected)}"
    )
    for r in over_time + over_mem + uncaught + unexpected:
        print(line(r), "expected", r["expected"])
    if args.json:
        args.json.write_text(json.dumps({"load_average": load, "files": rows}, indent=1), encoding="utf-8")
    return 1 if (over_time or over_mem or uncaught) else 0


if __name__ == "__main__":
    raise SystemExit(main())
