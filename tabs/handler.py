"""The function behind a tab's public endpoint `/predict_<id>`: one upload through the core pipeline
(`medhub.pipeline.run`) -> (Label value, overlay image, JSON summary, the page's state).

Untrusted files are decoded by `medhub.imaging.load_upload` (the one input gate), never by Gradio:
the input component is a `gr.File` of type filepath, not a `gr.Image`.

Errors: an `InputError` or `ModelUnavailable` becomes a `gr.Error` with its English / Korean text;
any other exception is logged here and replaced by a generic message, so no traceback reaches a user
and the worker keeps serving. Whether a model is loading, ready or broken is the registry's
(`medhub.registry`), which `pipeline.run` goes through.
"""

from __future__ import annotations

import html
import inspect
import logging
from collections.abc import Callable
from typing import Any

import gradio as gr
import numpy as np

from medhub import pipeline
from medhub.cards import ModelCard
from medhub.i18n import t
from medhub.imaging import InputError
from medhub.inference import ModelUnavailable
from medhub.pipeline import DEFAULT_OPACITY
from medhub.urlfetch import fetch
from tabs.hooks import TabHooks
from tabs.output_files import image_file
from tabs.parts import TabParts
from tabs.result_cache import RESULTS, request_key
from tabs.tool_docs import tool_docstring

log = logging.getLogger("medhub.app")


def analyse_file(
    card: ModelCard,
    hooks: TabHooks,
    file: str | None,
    options: dict[str, Any],
    opacity: float,
    progress: Callable[..., Any] | None = None,
    show_anyway: bool = False,
    image_url: str = "",
) -> tuple[dict[str, float] | None, str | None, dict[str, Any], dict[str, Any]]:
    """One upload through `medhub.pipeline.run` -> (Label value, overlay, summary, state for the UI).

    The Label value is keyed by label id ({"benign": 0.3, "malignant": 0.7}); the summary's `labels`
    gives their display names, and the page's own Label shows those (`TabParts.render_result`).
    Out of scope (and not `show_anyway`), there is no Label value and no overlay (None): no class bars,
    no heat map, no decision; the summary says why. Raises gr.Error for everything a user can cause or
    fix; nothing else escapes.
    """
    image_url = (image_url or "").strip() if not file else ""  # an http(s) URL instead of a file (MCP)
    if not file and not image_url:
        raise gr.Error(f"{t('error.no_file', 'en')} / {t('error.no_file', 'ko')}", print_exception=False)
    analyse_options = {**({"tta": bool(options.get("tta"))} if card.tta else {}), **hooks.analyse_options(card, options)}
    try:
        if image_url:
            file = fetch(image_url)  # bytes, checked by the input gate in pipeline.run like an upload
        result = pipeline.run(
            card, file, decode_options=hooks.decode_options(card, options), analyse_options=analyse_options,
            opacity=opacity, show_anyway=bool(show_anyway),
            # Progress steps only for the slow path (TTA): each one is a message through the server's
            # event loop, and a plain analysis is over in about a tenth of a second.
            progress=progress if analyse_options.get("tta") else None,
        )
    except (InputError, ModelUnavailable) as err:
        # gr.Error renders its message as HTML, and parts of an InputError come from the file itself
        # (a DICOM's transfer-syntax UID, ...): escape them.
        raise gr.Error(html.escape(str(err), quote=False), print_exception=False) from None
    except gr.Error:
        raise
    except Exception:  # noqa: BLE001 - logged with its traceback here; users get a plain message
        log.exception("analysis failed (model %s, file %s)", card.id, image_url or file)
        generic = f"{t('error.generic', 'en')} / {t('error.generic', 'ko')}"
        raise gr.Error(generic, print_exception=False) from None
    summary, shown = result.summary, result.shown
    answered = result.answered  # in scope or shown anyway (medhub.summary.answers)
    label_value = {lid: float(p) for lid, p in result.analysis.probabilities.items()} if answered else None
    # Kept for re-blending on an opacity change: the heat map at the model's input size as uint8
    # (224 x 224: 50 KB a session, instead of 1.9 MB at a 1600 x 1200 shown size), mapped onto the
    # shown image again by `tabs.wiring` (one small resize per slider move).
    heat8 = np.rint(result.analysis.heatmap * 255).astype(np.uint8) if answered else None
    state = {"image": shown.rgb, "heat": heat8, "summary": summary, "result_extras": result.result_extras,
             "label": label_value}
    return label_value, image_file(result.overlay, "overlay") if answered else None, summary, state


def analyse_event(parts: TabParts) -> Callable[..., Any]:
    """The event function with a real signature (file, <tab options>, opacity, show_anyway, progress).

    Gradio reads parameter names for the API docs and finds gr.Progress by its default value, so
    the generic function gets an explicit `__signature__` built from the tab's option names.
    """
    card, hooks, names = parts.card, parts.hooks, parts.option_names

    def analyse(*args):
        file, *rest = args
        options = dict(zip(names, rest[: len(names)], strict=True))
        opacity, show_anyway, image_url, progress = rest[len(names) :]
        # Identical uploads (same bytes, model revision and options) are analysed once (issue 20).
        key = request_key(card, file, {**options, "opacity": opacity, "show_anyway": bool(show_anyway)})
        return RESULTS.get_or_compute(key, lambda: analyse_file(
            card, hooks, file, options, opacity, progress, show_anyway=show_anyway, image_url=image_url))

    # `file` defaults to None so that a caller may give `image_url` instead (MCP clients send URLs).
    params = [inspect.Parameter("file", inspect.Parameter.POSITIONAL_OR_KEYWORD, default=None)]
    # (each option defaults to its component's initial value, the API default: `file` has one now)
    params += [inspect.Parameter(n, inspect.Parameter.POSITIONAL_OR_KEYWORD, default=c.value)
               for n, c in zip(names, parts.options, strict=True)]
    params += [
        inspect.Parameter("opacity", inspect.Parameter.POSITIONAL_OR_KEYWORD, default=DEFAULT_OPACITY),
        inspect.Parameter("show_anyway", inspect.Parameter.POSITIONAL_OR_KEYWORD, default=False),
        inspect.Parameter("image_url", inspect.Parameter.POSITIONAL_OR_KEYWORD, default=""),
        inspect.Parameter("progress", inspect.Parameter.POSITIONAL_OR_KEYWORD, default=gr.Progress()),
    ]
    analyse.__signature__ = inspect.Signature(params)  # type: ignore[attr-defined]
    analyse.__name__ = f"predict_{card.id}"
    analyse.__doc__ = tool_docstring(card, names)  # the MCP tool's description (Args / Returns) from the card
    return analyse
