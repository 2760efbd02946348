"""A PDF report of one analysis (issue 19): `python -m medhub report`, the tabs' "Report (PDF)" button
and the `/report_<id>` API endpoint all call `report_for_file()`, which runs `medhub.pipeline.run` (the
app's code path) and lays the result out with fpdf2.

The report holds the input thumbnail, the Grad-CAM overlay (when the model answered), every class's
probability, the decision with its threshold rule, the scope check, the model id, revision and weights
sha256, the date (UTC), predictive values at the test split's prevalence for a binary model, and the
disclaimer, in English or Korean. Korean needs a font with Hangul: `find_font()` looks for one
(MEDHUB_REPORT_FONT, then Nanum Gothic from Debian's fonts-nanum, then Noto Sans CJK / KR). Without one,
a Korean report is written in English with a note, and an English report uses the PDF core font
(Helvetica, Latin-1): the report never fails for want of a font.
"""

from __future__ import annotations

import argparse
import datetime as dt
import logging
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

FONT_CANDIDATES = (
    ("/usr/share/fonts/truetype/nanum/NanumGothic.ttf", "/usr/share/fonts/truetype/nanum/NanumGothicBold.ttf"),
    ("/usr/share/fonts/truetype/nanum/NanumBarunGothic.ttf",
     "/usr/share/fonts/truetype/nanum/NanumBarunGothicBold.ttf"),
    ("/usr/share/fonts/opentype/noto/NotoSansKR-Regular.otf", "/usr/share/fonts/opentype/noto/NotoSansKR-Bold.otf"),
    ("/usr/share/fonts/truetype/noto/NotoSansKR-Regular.ttf", "/usr/share/fonts/truetype/noto/NotoSansKR-Bold.ttf"),
)
# fontTools says it drops the hinting-source tables of Nanum fonts (TSI*) when subsetting: harmless.
logging.getLogger("fontTools.subset").setLevel(logging.ERROR)
THUMB_PX = 420  # images are embedded at most this many pixels on the long side
MAX_IMAGE_MM = 80  # and at most this high on the page

def _t(key: str, lang: str, **fields: Any) -> str:
    """A report string of medhub/i18n.py (keys `report.<key>`; medical words from the glossary)."""
    from medhub.i18n import t

    return t(f"report.{key}", "ko" if lang == "ko" else "en", **fields)


@dataclass(frozen=True)
class Report:
    pdf: bytes
    lang: str  # the language actually written (en when Korean was asked for without a font)
    font: str | None  # the TTF used, None for the core font
    summary: dict[str, Any]


def find_font() -> tuple[str, str | None] | None:
    """(regular, bold or None) of a font with Hangul, or None."""
    env = os.environ.get("MEDHUB_REPORT_FONT")
    if env is not None:  # set (even empty, which means: no font, for tests of the fallback)
        return (env, None) if env and Path(env).is_file() else None
    for regular, bold in FONT_CANDIDATES:
        if Path(regular).is_file():
            return regular, bold if Path(bold).is_file() else None
    return None


def _latin1(text: str) -> str:
    for a, b in {"≥": ">=", "≤": "<=", "–": "-", "—": "-", "·": "-", "’": "'", "“": '"', "”": '"', "…": "..."}.items():
        text = text.replace(a, b)
    return text.encode("latin-1", "replace").decode("latin-1")


def _thumb(rgb: np.ndarray) -> Image.Image:
    img = Image.fromarray(np.asarray(rgb, dtype=np.uint8)).convert("RGB")
    img.thumbnail((THUMB_PX, THUMB_PX))
    return img


def _family_name(family: str | None, lang: str) -> str:
    from medhub.scope import family_name

    return family_name(family, lang) if family else "-"


def build_pdf(result, lang: str = "en", *, file_name: str | None = None,
              now: dt.datetime | None = None) -> Report:
    """The PDF of one `medhub.pipeline.Result`."""
    from fpdf import FPDF

    from medhub.disclaimers import disclaimer

    card, summary = result.card, result.summary
    lang = "ko" if lang == "ko" else "en"
    font = find_font()
    asked = lang
    if font is None:
        lang = "en"
    now = now or dt.datetime.now(dt.UTC)

    pdf = FPDF(format="A4", unit="mm")
    pdf.set_auto_page_break(True, margin=15)
    pdf.set_creation_date(now)
    pdf.set_title(f"medhub report: {card.id}")
    pdf.set_creator("medhub")
    if font is not None:
        pdf.add_font("report", "", font[0])
        pdf.add_font("report", "B", font[1] or font[0])
        family = "report"
        clean = str
    else:
        family = "helvetica"
        clean = _latin1
    pdf.add_page()
    width = pdf.w - pdf.l_margin - pdf.r_margin

    def heading(text: str, size: float = 13) -> None:
        pdf.ln(2)
        pdf.set_font(family, "B", size)
        pdf.multi_cell(width, size * 0.5, clean(text), new_x="LMARGIN", new_y="NEXT")
        pdf.set_font(family, "", 10)

    def line(text: str, size: float = 10, bold: bool = False) -> None:
        pdf.set_font(family, "B" if bold else "", size)
        pdf.multi_cell(width, size * 0.5, clean(text), new_x="LMARGIN", new_y="NEXT")

    heading(_t("title", lang), 18)
    if asked == "ko" and lang == "en":
        line(_t("font_missing", "en"), 9)
    line(f"{_t('model', lang)}: {card.title_for(lang)} ({card.id})", 11, bold=True)
    if file_name:
        line(f"{_t('file', lang)}: {file_name}")
    line(f"{_t('date', lang)}: {now.strftime('%Y-%m-%d %H:%M:%S')}")

    # images: the input beside the heat map, each at most MAX_IMAGE_MM high
    answered = summary.get("decision") is not None or summary.get("shown_anyway")
    top = pdf.get_y() + 3
    side = (width - 6) / 2
    thumb = _thumb(result.shown.rgb)
    w_img = min(side, MAX_IMAGE_MM * thumb.width / thumb.height)
    h_img = w_img * thumb.height / thumb.width
    pdf.set_font(family, "", 9)
    pdf.set_xy(pdf.l_margin, top)
    pdf.cell(side, 5, clean(_t("input", lang)))
    pdf.image(thumb, x=pdf.l_margin, y=top + 5, w=w_img, h=h_img)
    pdf.set_xy(pdf.l_margin + side + 6, top)
    if answered:
        pdf.cell(side, 5, clean(_t("overlay", lang)))
        pdf.image(_thumb(result.overlay), x=pdf.l_margin + side + 6, y=top + 5, w=w_img, h=h_img)
    else:
        pdf.multi_cell(side, 5, clean(_t("no_overlay", lang)))
    pdf.set_xy(pdf.l_margin, top + 5 + h_img + 3)

    # decision and probabilities
    heading(_t("decision", lang))
    if summary.get("decision") is None:
        line(_t("no_decision", lang), 11, bold=True)
    else:
        if not summary.get("in_scope"):
            line(_t("shown_anyway", lang), 10, bold=True)
        line(card.label(summary["decision"]).name(lang), 12, bold=True)
    if card.is_binary:
        pos = card.label(card.positive_class).name(lang)
        line(f"{_t('threshold', lang)}: {_t('rule_binary', lang, pos=pos, thr=card.threshold)}")
    else:
        line(f"{_t('threshold', lang)}: {_t('rule_argmax', lang)}")
    if answered:
        heading(_t("probs", lang), 11)
        probs = summary.get("probabilities") or {}
        for label in card.labels:
            p = float(probs.get(label.id, 0.0))
            y = pdf.get_y()
            pdf.set_font(family, "", 10)
            pdf.cell(width * 0.55, 6, clean(label.name(lang)))
            pdf.set_fill_color(70, 110, 200)
            pdf.rect(pdf.l_margin + width * 0.55, y + 1.2, max(0.2, width * 0.3 * p), 3.6, style="F")
            pdf.set_xy(pdf.l_margin + width * 0.87, y)
            pdf.cell(width * 0.13, 6, f"{100 * p:5.1f} %", align="R", new_x="LMARGIN", new_y="NEXT")

    # scope
    heading(_t("scope", lang), 11)
    if summary.get("scope_score") is None and summary.get("scope_family") is None:
        line("-")
    else:
        verdict = _t("in_scope" if summary.get("in_scope") else "out_of_scope", lang)
        score, thr = summary.get("scope_score"), summary.get("scope_threshold")
        line(f"{verdict}: " + _t("scope_detail", lang,
                                  score=f"{score:.3f}" if isinstance(score, float) else score,
                                  thr=f"{thr:.3f}" if isinstance(thr, float) else thr,
                                  family=_family_name(summary.get("scope_family"), lang)))
        if summary.get("suggested_model"):
            from medhub.cards import get_card

            try:
                other = get_card(summary["suggested_model"]).title_for(lang)
            except KeyError:
                other = summary["suggested_model"]
            line(_t("suggested", lang, model=other))

    # predictive values, for every card `medhub.teaching.ppv` can read (binary cards, and a multi-class
    # card's one_vs_rest label); any other card raises NotBinary and the report goes on without them
    from medhub.teaching import ppv

    try:
        presets = ppv.presets(card)
        cited = [p for p in presets[1:] if not p.get("illustrative")]
        preset = (cited or presets)[0]
        pv = ppv.at_prevalence(card, float(preset["prevalence"]))
    except Exception:  # noqa: BLE001 - a card without the counts: the report goes on without
        pv = None
    if pv is not None:
        heading(_t("pv", lang), 11)
        line(preset["ko" if lang == "ko" else "en"] + (f" [{preset['source']}]" if lang == "en" else ""), 8)
        for text in ppv.summary_lines(pv, lang):
            line(text, 9)

    # provenance
    heading(_t("provenance", lang), 11)
    weights = card.weights_file
    line(f"{card.id} · {card.architecture} ({card.framework}) · {_t('revision', lang)} "
         f"{summary.get('revision', card.revision)} · {card.repo_id}", 9)
    line(f"{_t('weights', lang)}: {weights.name} sha256 {weights.sha256}", 8)

    heading(_t("disclaimer", lang), 11)
    line(disclaimer(card.disclaimer_domain, lang), 10, bold=True)
    return Report(bytes(pdf.output()), lang, font[0] if font else None, summary)


def report_for_file(card, source, lang: str = "en", *, decode_options: dict[str, Any] | None = None,
                    analyse_options: dict[str, Any] | None = None, show_anyway: bool = False,
                    file_name: str | None = None) -> Report:
    """Run one upload through medhub.pipeline (the app's path) and lay out its report."""
    from medhub import pipeline

    result = pipeline.run(card, source, decode_options=decode_options, analyse_options=analyse_options,
                          show_anyway=show_anyway)
    if file_name is None and isinstance(source, (str, os.PathLike)):
        file_name = Path(source).name
    return build_pdf(result, lang, file_name=file_name)


def _cmd_report(args: argparse.Namespace) -> int:
    from medhub.cards import card_for_command
    from medhub.imaging import InputError
    from medhub.inference import ModelUnavailable

    card = card_for_command(args.model_id)
    if card is None:
        return 2
    try:
        report = report_for_file(
            card, Path(args.file), args.lang,
            decode_options={"window": args.window} if card.input.dicom else {},
            show_anyway=args.show_anyway,
        )
    except ModelUnavailable as err:
        print(f"error: {err}", file=sys.stderr)
        return 3
    except (InputError, OSError) as err:
        print(f"{args.file}: error: {err}", file=sys.stderr)
        return 4
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_bytes(report.pdf)
    note = "" if report.lang == args.lang else " (no Korean font: written in English)"
    print(f"{out}: {len(report.pdf):,} bytes, {report.lang}{note}; decision: {report.summary.get('decision')}")
    return 0


def add_report_parser(sub) -> None:
    r = sub.add_parser("report", help="a PDF report of one analysis (the app's code path)")
    r.add_argument("model_id")
    r.add_argument("file", help="an image or DICOM file")
    r.add_argument("--out", required=True, help="the PDF to write")
    r.add_argument("--lang", choices=("en", "ko"), default="en")
    r.add_argument("--window", default=None, help="CT window preset for DICOM (brain, subdural, ...)")
    r.add_argument("--show-anyway", action="store_true",
                   help="give the decision even for an out-of-scope image (marked as such)")
    r.set_defaults(func=_cmd_report)
