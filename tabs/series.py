"""A CT tab's series section: several DICOM slices (or one zip) -> per-slice scores, a slice slider
with each slice's overlay and score, a per-slice score plot and the study result (`medhub.series`).

Added below the tab of every card that can read a series (a binary model that reads DICOM:
`supports_series`). One public API event, `/predict_<id>_series` (files, window, aggregate,
show_anyway) -> (study summary JSON, per-slice score plot, the page's state), so `/predict_<id>`
does not change; the slider and the texts are private events fed from the state.
"""

from __future__ import annotations

import hashlib
import html
import logging
import os
import tempfile
import time
from typing import Any

import gradio as gr
import pandas as pd

from medhub.cards import ModelCard
from medhub.i18n import normalise_lang, t
from medhub.imaging import dicom_window
from medhub.series import AGGREGATES, DEFAULT_AGGREGATE
from tabs.dicom_window import window_choices
from tabs.wiring import MODEL_CONCURRENCY

log = logging.getLogger("medhub.app")

# Strings: `series.*` in medhub/i18n.py.


def supports_series(card: ModelCard) -> bool:
    """A series needs a model that reads DICOM and decides by a threshold (binary)."""
    return bool(card.input.dicom and card.is_binary)


def aggregate_choices(lang: str = "en") -> list[tuple[str, str]]:
    return [(t(f"series.agg.{a}", lang), a) for a in AGGREGATES]


def _jpeg_file(data: bytes | None, name: str = "slice") -> str | None:
    """JPEG bytes as a file in the image folder of `tabs.output_files` (named by content, written
    atomically, swept with the rest)."""
    if data is None:
        return None
    from tabs.output_files import _folder, _sweep

    folder = _folder()
    target = folder / hashlib.sha256(data).hexdigest()[:32] / f"{name}.jpg"
    if target.exists():
        os.utime(target.parent)
    else:
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=target.parent, suffix=".part")
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.replace(tmp, target)
    _sweep(folder, time.time())
    return str(target)


def score_frame(summary: dict[str, Any]) -> pd.DataFrame:
    """The per-slice score plot's data: one row per slice (x = slice index in position order) for the
    score, and the card's threshold as a second line."""
    pos = summary["positive_class"]
    rows = [{"slice": s["index"], "z_mm": s["z"], "score": s["score"], "curve": f"P({pos})", "file": s["file"]}
            for s in summary["slices"]]
    rows += [{"slice": s["index"], "z_mm": s["z"], "score": summary["threshold"], "curve": "threshold",
              "file": s["file"]} for s in summary["slices"]]
    return pd.DataFrame(rows)


def slice_text(summary: dict[str, Any], index: int, lang: str) -> str:
    s = summary["slices"][index]
    n = len(summary["slices"])
    pos = summary["positive_class"]
    scope_en = "" if s["in_scope"] else " · out of the model's scope"
    scope_ko = "" if s["in_scope"] else " · 모델 범위 밖"
    if normalise_lang(lang) == "ko":
        return (f"슬라이스 {index + 1}/{n} · z {s['z']:.2f} mm · `{html.escape(s['file'])}` · "
                f"P({pos}) **{s['score']:.3f}**{scope_ko}")
    return (f"Slice {index + 1} of {n} · z {s['z']:.2f} mm · `{html.escape(s['file'])}` · "
            f"P({pos}) **{s['score']:.3f}**{scope_en}")


def study_text(summary: dict[str, Any], lang: str) -> str:
    study = summary["study"]
    ko = normalise_lang(lang) == "ko"
    agg = t(f"series.agg.{study['aggregate']}", lang)
    if study["decision"] is None:
        return ("**검사 결과 없음**: 모델 범위 안에 있는 슬라이스가 없습니다." if ko
                else "**No study result**: no slice is within the model's scope.")
    d = study["driving_slice"]
    name = study["decision_ko"] if ko else study["decision_en"]
    if ko:
        return (f"**검사: {name}** — {agg} {study['score']:.3f}, 기준값 {study['threshold']:g} "
                f"(최고 {study['max_score']:.3f}, 상위 3개 평균 {study['top3_mean']:.3f}). 결과를 이끈 슬라이스: "
                f"{d['index'] + 1}번 (`{html.escape(d['file'])}`, z {d['z']:.2f} mm, 점수 {d['score']:.3f}).")
    return (f"**Study: {name}** — {agg} {study['score']:.3f} against the threshold {study['threshold']:g} "
            f"(highest {study['max_score']:.3f}, mean of the top 3 {study['top3_mean']:.3f}). Driven by slice "
            f"{d['index'] + 1} (`{html.escape(d['file'])}`, z {d['z']:.2f} mm, score {d['score']:.3f}).")


def series_event(card: ModelCard):
    """The public `/predict_<id>_series` function, named for the API (and MCP) by `__name__`."""

    def predict_series(files, window=None, aggregate=DEFAULT_AGGREGATE, show_anyway=False,
                       progress=gr.Progress()):  # noqa: B008 - gradio finds gr.Progress by its default
        from medhub.imaging import InputError
        from medhub.inference import ModelUnavailable
        from medhub.series import analyse_series

        paths = [f if isinstance(f, str) else getattr(f, "name", f) for f in (files or [])]
        if not paths:
            raise gr.Error(f"{t('error.no_file', 'en')} / {t('error.no_file', 'ko')}", print_exception=False)
        try:
            result = analyse_series(card, paths, window=window or None, aggregate=aggregate or DEFAULT_AGGREGATE,
                                    show_anyway=bool(show_anyway), keep_overlays=True, progress=progress)
        except (InputError, ModelUnavailable) as err:
            raise gr.Error(html.escape(str(err), quote=False), print_exception=False) from None
        except ValueError as err:  # a bad `aggregate` from an API caller
            raise gr.Error(html.escape(str(err), quote=False), print_exception=False) from None
        except Exception:  # noqa: BLE001 - logged here; users get a plain message
            log.exception("series analysis failed (model %s, %d files)", card.id, len(paths))
            raise gr.Error(f"{t('error.generic', 'en')} / {t('error.generic', 'ko')}", print_exception=False) from None
        summary = result.summary
        state = {"summary": summary, "overlays": [s.overlay_jpeg for s in result.slices]}
        return summary, score_frame(summary), state

    predict_series.__name__ = f"predict_{card.id}_series"
    predict_series.__doc__ = f"""Score every slice of ONE head-CT series with the '{card.id}' model and give a study result.

    The slices are ordered by ImagePositionPatient projected on the slice normal (not by file name or
    InstanceNumber). Slices from another series or study, localisers and non-CT files are refused
    with a message naming the file. Research and education only: not a diagnosis.

    Args:
        files: the DICOM slices of one CT series (several files, or one zip of them).
        window: CT window preset ("brain", "subdural", "stroke", "bone" or "file"); empty for the
            window the model was trained on.
        aggregate: the study score: "top3_mean" (mean of the 3 highest slice scores) or "max".
        show_anyway: count slices the scope check refuses (for teaching).

    Returns:
        The series summary (study: score, max_score, top3_mean, decision by the card's threshold,
        driving_slice; slices: one entry per slice in position order with file, z, score), a per-slice
        score plot, and the page's state (dropped by API clients).
    """
    return predict_series


def add_series_section(parts, ui, lang: gr.Radio) -> None:
    """Lay out and wire the series section of `parts.card`'s tab (inside the tab's context); does
    nothing for a card that cannot read a series."""
    card = parts.card
    if not supports_series(card):
        return
    with gr.Accordion(ui.text("series.accordion"), open=False, elem_id=f"series-{card.id}") as acc:
        ui.value(gr.Markdown(ui.text("series.intro")), lambda lg: t("series.intro", lg))
        with gr.Row(equal_height=False):
            with gr.Column(scale=2, min_width=300):
                files = ui.label(gr.File(label=ui.api_text("series.files"), file_count="multiple",
                                         type="filepath", file_types=None, height=170,
                                         elem_id=f"series-files-{card.id}"), "series.files")
                window = gr.Dropdown(window_choices("en"), value=dicom_window(card), label=ui.api_text("series.window"),
                                     elem_id=f"series-window-{card.id}")
                ui.add(window, lambda lg: gr.update(label=t("series.window", lg), choices=window_choices(lg)))
                aggregate = gr.Radio(aggregate_choices("en"), value=DEFAULT_AGGREGATE,
                                     label=ui.api_text("series.aggregate"), elem_id=f"series-aggregate-{card.id}")
                ui.add(aggregate, lambda lg: gr.update(label=t("series.aggregate", lg), choices=aggregate_choices(lg)))
                button = ui.value(gr.Button(ui.text("series.button"), variant="primary",
                                            elem_id=f"series-analyse-{card.id}"), lambda lg: t("series.button", lg))
                study = gr.Markdown(elem_id=f"series-study-{card.id}")
            with gr.Column(scale=3, min_width=320):
                plot = ui.label(gr.LinePlot(x="slice", y="score", color="curve", y_lim=[0, 1],
                                            label=ui.api_text("series.plot"), tooltip=["slice", "z_mm", "file", "score"],
                                            height=240, elem_id=f"series-plot-{card.id}"), "series.plot")
                slider = ui.label(gr.Slider(1, 2, value=1, step=1, label=ui.api_text("series.slider"),
                                            interactive=True, visible=False,
                                            elem_id=f"series-slider-{card.id}"), "series.slider")
                image = ui.label(gr.Image(label=ui.api_text("series.overlay"), type="filepath",
                                          interactive=False, height=320, elem_id=f"series-overlay-{card.id}"),
                                 "series.overlay")
                slice_md = gr.Markdown(elem_id=f"series-slice-{card.id}")
                with gr.Accordion(ui.text("series.summary"), open=False) as acc_json:
                    summary = gr.JSON(show_label=False)
                ui.label(acc_json, "series.summary")
    ui.label(acc, "series.accordion")
    state = gr.State(None)

    event = button.click(series_event(card), [files, window, aggregate, parts.show_anyway], [summary, plot, state],
                         api_name=f"predict_{card.id}_series", concurrency_limit=MODEL_CONCURRENCY,
                         concurrency_id="models")

    def show_study(st, lg):
        if not st:
            return gr.update(), None, "", ""
        s = st["summary"]
        n = len(s["slices"])
        driver = (s["study"]["driving_slice"] or {}).get("index", 0) or 0
        return (gr.update(minimum=1, maximum=max(n, 2), value=driver + 1, visible=True, interactive=n > 1),
                _jpeg_file(st["overlays"][driver]), slice_text(s, driver, lg), study_text(s, lg))

    event.success(show_study, [state, lang], [slider, image, slice_md, study], api_visibility="private",
                  show_progress="hidden")

    def show_slice(st, position, lg):
        if not st:
            return gr.update(), ""
        n = len(st["summary"]["slices"])
        index = min(max(int(position or 1) - 1, 0), n - 1)
        return _jpeg_file(st["overlays"][index]), slice_text(st["summary"], index, lg)

    slider.change(show_slice, [state, slider, lang], [image, slice_md], api_visibility="private",
                  show_progress="hidden", trigger_mode="always_last")
