"""Errors that people see: one base class with a stable code and an English and a Korean message.

`MedhubError` carries `code` (stable, for programs and tests), `message_en` and `message_ko`;
`str(err)` is "English / 한국어" so that API clients get both languages. `InputError` is an upload
that cannot be analysed (the input gate, `medhub.imaging.load_upload`, raises nothing else);
`BudgetError` is the kind of `InputError` raised when a file would cost more memory or decode work
than the gate allows (the limits live in `medhub.limits`, documented in docs/SECURITY.md).

This module imports nothing from the rest of `medhub`, so every module can import it (it breaks the
old `imaging` <-> `dicom` import circle).
"""

from __future__ import annotations

from typing import Any


class MedhubError(Exception):
    """Base of every error the hub shows to a person: a stable `code` and a bilingual message."""

    def __init__(self, code: str, message_en: str, message_ko: str) -> None:
        super().__init__(f"{message_en} / {message_ko}")
        self.code = code
        self.message_en = message_en
        self.message_ko = message_ko

    # code -> (English, Korean); subclasses point this at their own table.
    MESSAGES: dict[str, tuple[str, str]] = {}

    @classmethod
    def make(cls, code: str, **params: Any) -> MedhubError:
        """Build the error for `code` from the class's message table, filling in `params`."""
        en, ko = cls.MESSAGES[code]
        return cls(code, en.format(**params), ko.format(**params))

    def message(self, lang: str = "en") -> str:
        """The message in `lang` ("en" or "ko"; anything else gives English)."""
        return self.message_ko if str(lang).lower().startswith("ko") else self.message_en

    def __str__(self) -> str:
        return f"{self.message_en} / {self.message_ko}"

    def __reduce__(self):  # picklable across processes (code and both messages survive)
        return (type(self), (self.code, self.message_en, self.message_ko))


# Input-gate messages; str.format fields are filled from InputError.make(**params).
INPUT_MESSAGES: dict[str, tuple[str, str]] = {
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
    # --- the decode budget (medhub.limits): one code per kind of cost ---------------------------
    "inflated_too_large": (
        "The file's compressed data would expand to more than {limit_mb:g} MB ({what}); it is refused.",
        "파일의 압축된 데이터가 {limit_mb:g} MB 넘게 풀리므로 처리하지 않습니다.",
    ),
    "too_complex": (
        "The file is built in a way that would take too much work to decode ({what}).",
        "파일 구조가 지나치게 복잡해 해독하는 데 너무 많은 작업이 듭니다.",
    ),
    "too_deep": (
        "The file's structure is nested too deeply ({what}).",
        "파일 구조의 중첩 단계가 너무 깊어 처리할 수 없습니다.",
    ),
    "too_slow": (
        "Decoding the file took longer than the {limit_s:g} s allowed; it is refused.",
        "파일 해독이 허용 시간({limit_s:g}초)을 넘어 처리를 중단했습니다.",
    ),
}


BUDGET_CODES = frozenset({"inflated_too_large", "too_complex", "too_deep", "too_slow"})


class InputError(MedhubError):
    """An upload that cannot be analysed; `code` is stable, messages are for people.

    `InputError.make(code)` gives a `BudgetError` for the codes of the decode budget."""

    MESSAGES = INPUT_MESSAGES

    @classmethod
    def make(cls, code: str, **params: Any) -> InputError:
        target = BudgetError if code in BUDGET_CODES and not issubclass(cls, BudgetError) else cls
        en, ko = INPUT_MESSAGES[code]
        return target(code, en.format(**params), ko.format(**params))


class BudgetError(InputError):
    """An upload refused because decoding it would exceed a limit of the decode budget:
    inflated bytes (`inflated_too_large`), decode work (`too_complex`), nesting (`too_deep`) or
    time (`too_slow`). Pixel and frame counts (`too_many_pixels`, `too_many_frames`) stay plain
    `InputError`s, as before."""


class EvaluationError(ValueError):
    """The data directory or split file cannot be evaluated as given (`medhub.evaluation`)."""
