"""The "Report (PDF)" button of a tab and its API endpoint `/report_<id>` (issue 19).

`add_report(parts, ui, lang)` adds, at the foot of a tab, a button and a file output. One event serves
the page and the API: `report_<id>(file, <tab options>, show_anyway=False, lang="en") -> PDF file`,
which runs the upload through `medhub.pipeline.run` (the app's path, as `/predict_<id>` does) and lays
it out with `medhub.teaching.report`. `/predict_<id>` is not touched.
"""

from __future__ import annotations

import html
import inspect
import logging
import tempfile
import threading
import time
from functools import cache
from pathlib import Path
from typing import Any

import gradio as gr

from medhub.i18n import normalise_lang, t
from tabs.output_files import remove_older_than

log = logging.getLogger("medhub.app")

MAX_AGE_S = 600.0
_lock = threading.Lock()


def _text(key: str, lang: str) -> str:
    """The Report button's strings (medhub/i18n.py, keys `report_ui.<key>`)."""
    return t(f"report_ui.{key}", lang)


@cache
def _folder() -> Path:
    return Path(tempfile.mkdtemp(prefix="medhub-reports-"))


def _write(pdf: bytes, card_id: str) -> str:
    """The PDF in a fresh folder of its own (Gradio copies it to its cache); old ones are swept."""
    folder = _folder()
    now = time.time()
    with _lock:
        remove_older_than(folder, now - MAX_AGE_S)
    sub = Path(tempfile.mkdtemp(dir=folder))
    stamp = time.strftime("%Y%m%d-%H%M%S", time.gmtime(now))
    path = sub / f"medhub-report-{card_id}-{stamp}.pdf"
    path.write_bytes(pdf)
    return str(path)


def report_event(card, hooks, names: list[str]):
    """The event function, with a real signature for the API docs."""

    def report(*args):
        from medhub.imaging import InputError
        from medhub.inference import ModelUnavailable
        from medhub.teaching.report import report_for_file

        file, *rest = args
        options = dict(zip(names, rest[: len(names)], strict=True))
        show_anyway, lang = rest[len(names):]
        if not file:
            raise gr.Error(f"{t('error.no_file', 'en')} / {t('error.no_file', 'ko')}", print_exception=False)
        analyse_options = {**({"tta": bool(options.get("tta"))} if card.tta else {}),
                           **hooks.analyse_options(card, options)}
        try:
            rep = report_for_file(card, file, normalise_lang(lang or "en"),
                                  decode_options=hooks.decode_options(card, options),
                                  analyse_options=analyse_options, show_anyway=bool(show_anyway),
                                  file_name=Path(str(file)).name)
        except (InputError, ModelUnavailable) as err:
            raise gr.Error(html.escape(str(err), quote=False), print_exception=False) from None
        except Exception:  # noqa: BLE001 - logged here; users get a plain message
            log.exception("report failed (model %s, file %s)", card.id, file)
            raise gr.Error(f"{t('error.generic', 'en')} / {t('error.generic', 'ko')}", print_exception=False) from None
        return _write(rep.pdf, card.id)

    params = [inspect.Parameter("file", inspect.Parameter.POSITIONAL_OR_KEYWORD)]
    params += [inspect.Parameter(n, inspect.Parameter.POSITIONAL_OR_KEYWORD) for n in names]
    params += [
        inspect.Parameter("show_anyway", inspect.Parameter.POSITIONAL_OR_KEYWORD, default=False),
        inspect.Parameter("lang", inspect.Parameter.POSITIONAL_OR_KEYWORD, default="en"),
    ]
    report.__signature__ = inspect.Signature(params)  # type: ignore[attr-defined]
    report.__name__ = f"report_{card.id}"
    report.__doc__ = f"A PDF report of one analysis by '{card.id}' (lang: en or ko)."
    return report


def add_report(parts, ui, lang: gr.Radio) -> dict[str, Any]:
    """A "Report (PDF)" button and its file output at the foot of the current tab."""
    from tabs.wiring import MODEL_CONCURRENCY

    card = parts.card
    with gr.Row():
        button = ui.value(gr.Button(_text("button", "en"), variant="secondary", elem_id=f"report-{card.id}"),
                          lambda lg: _text("button", lg))
        out = ui.add(gr.File(label=_text("file", "en"), interactive=False, elem_id=f"report-file-{card.id}"),
                     lambda lg: gr.update(label=_text("file", lg)))
    button.click(
        report_event(card, parts.hooks, parts.option_names),
        [parts.file, *parts.options, parts.show_anyway, lang], out,
        api_name=f"report_{card.id}", concurrency_limit=MODEL_CONCURRENCY, concurrency_id="models",
    )
    return {"button": button, "file": out}
