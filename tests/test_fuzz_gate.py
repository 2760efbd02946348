"""Bounded fuzzing of the input gate: a fixed seed, a fixed count, no uncaught exception.

In process: every valid file of the malformed corpus (each image format, DICOM in several transfer
syntaxes) is mutated (bit flips, byte runs, extreme 16/32-bit fields, cut, duplicated or deleted
spans, splices of two files) `MUTATIONS_PER_SEED` times with `random.Random(SEED)`; every mutant
must give a decoded image of the right shape or an `InputError`, nothing else. A Hypothesis test
(derandomized, fixed example count) feeds arbitrary bytes behind each format's signature.
Through 127.0.0.1: a small batch of mutants goes to the running app; each must come back as a
result or as a typed error, never as the catch-all "Something went wrong" and never a traceback,
and the server must answer afterwards.

A failure names the mutant (seed file, mutation index) so it can be replayed with `mutant()`.
"""

from __future__ import annotations

import random
import warnings

import numpy as np
import pytest

from medhub.imaging import DecodedImage, InputError, load_upload
from medhub.studies.malformed_corpus import corpus_bytes

SEED = 20261201
MUTATIONS_PER_SEED = 40
HTTP_BATCH = 24
GENERIC_EN = "Something went wrong"

_EXTREMES = (
    b"\x00\x00",
    b"\xff\xff",
    b"\x7f\xff",
    b"\x80\x00",
    b"\x00\x00\x00\x00",
    b"\xff\xff\xff\xff",
    b"\x7f\xff\xff\xff",
    b"\x00\x00\x01\x00",
)


@pytest.fixture(scope="module")
def seeds() -> list[tuple[str, bytes]]:
    """The valid corpus files that are small enough to mutate quickly, one per name."""
    return [(name, data) for name, data, code in corpus_bytes() if code is None and len(data) <= 300_000]


def mutate(data: bytes, rng: random.Random, other: bytes) -> bytes:
    """One to three random edits of `data` (never longer than a few times the original)."""
    out = bytearray(data)
    for _ in range(rng.randint(1, 3)):
        n = len(out)
        if n < 4:
            out += bytes(rng.getrandbits(8) for _ in range(8))
            continue
        kind = rng.randrange(8)
        pos = rng.randrange(n)
        if kind == 0:  # flip bits
            for _ in range(rng.randint(1, 8)):
                i = rng.randrange(n)
                out[i] ^= 1 << rng.randrange(8)
        elif kind == 1:  # a run of random bytes
            run = rng.randint(1, 64)
            out[pos : pos + run] = bytes(rng.getrandbits(8) for _ in range(run))
        elif kind == 2:  # an extreme 16/32-bit value, where header fields live (mostly near the start)
            value = rng.choice(_EXTREMES)
            pos = rng.randrange(min(n, 1024)) if rng.random() < 0.7 else pos
            out[pos : pos + len(value)] = value
        elif kind == 3:  # cut
            del out[rng.randrange(max(1, n // 8), n) :]
        elif kind == 4:  # delete a span
            del out[pos : pos + rng.randint(1, max(1, n // 10))]
        elif kind == 5:  # duplicate a span in place (repeated chunks, segments, elements)
            span = bytes(out[pos : pos + rng.randint(1, 256)])
            out[pos:pos] = span * rng.randint(1, 16)
        elif kind == 6:  # splice: this file's head, another file's tail
            cut = rng.randrange(len(other)) if other else 0
            out = out[:pos] + bytearray(other[cut:])
        else:  # insert random bytes
            out[pos:pos] = bytes(rng.getrandbits(8) for _ in range(rng.randint(1, 32)))
    return bytes(out[: 4 * max(len(data), 1024)])


def mutants(seeds: list[tuple[str, bytes]], per_seed: int, seed: int = SEED):
    """(label, bytes) for every mutant, in a fixed order."""
    rng = random.Random(seed)
    for index in range(per_seed):
        for i, (name, data) in enumerate(seeds):
            other = seeds[(i + 1 + index) % len(seeds)][1]
            yield f"{name}#{index}", mutate(data, rng, other)


def outcome(data: bytes, gate=None) -> str | None:
    """None when the gate answered properly (an image or an InputError); else what went wrong."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            result = (gate or load_upload)(data, allow_dicom=True)
    except InputError as err:
        if not (err.code and err.message_en and err.message_ko):
            return f"InputError without code or messages: {err!r}"
        return None
    except KeyboardInterrupt:
        raise
    except BaseException as err:  # noqa: BLE001 - what the fuzzer looks for (Rust panics are BaseExceptions)
        return f"{type(err).__name__}: {str(err)[:200]}"
    if not isinstance(result, DecodedImage):
        return f"returned {type(result).__name__}"
    rgb = result.rgb
    if not (rgb.ndim == 3 and rgb.shape[2] == 3 and rgb.dtype == np.uint8 and min(rgb.shape[:2]) >= 16):
        return f"bad array {rgb.shape} {rgb.dtype}"
    return None


@pytest.mark.timeout(600)
def test_mutated_files_never_escape_the_gate(seeds, monkeypatch):
    """Also: no mutant reaches the gate's last line (`_refuse_unexpected`, which turns an exception
    nobody named into a typed refusal): each failure is named by the code that knows the format."""
    import medhub.imaging as imaging

    assert len(seeds) >= 40, "the corpus has valid files of every format to mutate"
    formats = {name.rsplit(".", 1)[-1] for name, _ in seeds}
    assert {"png", "jpg", "gif", "tif", "bmp", "webp", "dcm"} <= formats
    last_line: list[str] = []
    real = imaging._refuse_unexpected

    def spy(exc, fmt):
        last_line.append(f"{fmt}: {type(exc).__name__}: {str(exc)[:120]}")
        return real(exc, fmt)

    monkeypatch.setattr(imaging, "_refuse_unexpected", spy)
    failures = []
    count = 0
    for label, data in mutants(seeds, MUTATIONS_PER_SEED):
        count += 1
        before = len(last_line)
        problem = outcome(data)
        if problem:
            failures.append(f"{label}: {problem}")
        elif len(last_line) > before:
            failures.append(f"{label}: reached the last line: {last_line[-1]}")
    assert count == len(seeds) * MUTATIONS_PER_SEED
    assert not failures, f"{len(failures)} of {count} mutants escaped:\n" + "\n".join(failures[:30])


def test_the_fuzzer_would_notice_an_escape(seeds):
    """Control: with a gate that lets a decoder error through, the same harness reports it."""

    def broken(data, allow_dicom):
        raise ValueError("decoder blew up")

    png = next(data for name, data in seeds if name.endswith(".png"))
    assert outcome(png, gate=broken) == "ValueError: decoder blew up"
    assert outcome(png) is None


_SIGNATURES = (
    b"\x89PNG\r\n\x1a\n",
    b"\xff\xd8\xff",
    b"GIF89a",
    b"II*\x00",
    b"MM\x00*",
    b"BM",
    b"RIFF",  # WebP: "RIFF", a 4-byte size from the tail, "WEBP" (built in the test)
    b"\x00" * 128 + b"DICM",
    b"\x08\x00\x05\x00",
)


def test_arbitrary_bytes_behind_every_signature():
    from hypothesis import HealthCheck, given, settings
    from hypothesis import strategies as st

    @settings(
        max_examples=400,
        derandomize=True,
        database=None,
        deadline=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(st.sampled_from(_SIGNATURES), st.binary(min_size=0, max_size=2048))
    def check(signature: bytes, tail: bytes) -> None:
        data = signature + tail
        if signature == b"RIFF":
            data = b"RIFF" + tail[:4] + b"WEBP" + tail[4:]
        seen.add(signature)
        assert outcome(data) is None

    seen: set[bytes] = set()
    check()
    assert seen == set(_SIGNATURES), "every signature (and the WebP branch) was exercised"


def test_arbitrary_webp_bodies():
    from hypothesis import HealthCheck, given, settings
    from hypothesis import strategies as st

    @settings(
        max_examples=150,
        derandomize=True,
        database=None,
        deadline=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(st.binary(min_size=0, max_size=2048), st.sampled_from([b"VP8 ", b"VP8L", b"VP8X", b"ANIM"]))
    def check(body: bytes, chunk: bytes) -> None:
        import struct

        payload = b"WEBP" + chunk + struct.pack("<I", len(body)) + body
        assert outcome(b"RIFF" + struct.pack("<I", len(payload)) + payload) is None

    check()


# --- through the running app on 127.0.0.1 -------------------------------------------------------


@pytest.mark.server
@pytest.mark.timeout(600)
def test_mutants_through_the_app(app_url, seeds, tmp_path):
    from gradio_client import handle_file
    from gradio_client.exceptions import AppError

    from medhub.cards import load_cards
    from tests.app_server import make_client
    from tests.test_api_malformed import server_answers

    card = next((c for c in load_cards() if c.input.dicom), None)
    if card is None:
        pytest.skip("no card takes DICOM")
    client = make_client(app_url)
    problems = []
    batch = list(mutants(seeds, 2, seed=SEED + 1))[:HTTP_BATCH]
    for i, (label, data) in enumerate(batch):
        path = tmp_path / f"mutant_{i:03d}"
        path.write_bytes(data)
        try:
            result = client.predict(handle_file(str(path)), api_name=f"/predict_{card.id}")
            if not (result and len(result) == 3 and result[2]["model_id"] == card.id):
                problems.append(f"{label}: unexpected result {str(result)[:120]}")
        except AppError as err:
            text = str(err)
            if GENERIC_EN in text or "Traceback" in text:
                problems.append(f"{label}: {text[:160]}")
        if not server_answers(app_url):
            problems.append(f"{label}: the server stopped answering")
            break
    assert len(batch) == HTTP_BATCH
    assert not problems, "\n".join(problems)
