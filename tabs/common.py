"""The generic, card-driven tab: everything a tab shows comes from its model card.

`build_tab(card, extras, ui)` lays out one tab (upload, Analyse, probabilities, the model-input image
beside the Grad-CAM overlay, an opacity slider, the decision with its threshold, the disclaimer, the
model card and its metrics, a sample gallery) and wires one public API event, `/predict_<id>`, that
returns exactly (Label value, overlay image, JSON summary). What a tab adds beyond that lives in a
small `TabExtras` subclass in `tabs/<id>.py`.

Untrusted files are decoded by `medhub.imaging.load_upload` (the one input gate), never by Gradio:
the input component is a `gr.File` of type filepath, not a `gr.Image`.

Errors: an `InputError` or `ModelUnavailable` becomes a `gr.Error` with its English / Korean text;
any other exception is logged here and replaced by a generic message, so no traceback reaches a user
and the worker keeps serving.
"""

from __future__ import annotations

import html
import inspect
import logging
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import gradio as gr
import numpy as np

from medhub.cards import ModelCard
from medhub.disclaimers import disclaimer
from medhub.i18n import normalise_lang, t
from medhub.imaging import upload_file_types
from medhub.pipeline import (  # noqa: F401  (re-exported for the tabs and tests)
    DEFAULT_OPACITY,
    MAX_DISPLAY_SIDE,
    blend,
    fit_for_display,
    heat_on_image,
)
from medhub.result_extras import ResultExtras

log = logging.getLogger("medhub.app")

# Analyses that may run at once across all models (one group): one per CPU core.
MODEL_CONCURRENCY = 2


# --------------------------------------------------------------------------------------------
# language: static strings through gr.I18n (browser locale) and a radio that redraws everything


class Localiser:
    """Remembers which component shows which string, so the language radio can redraw them all."""

    def __init__(self, i18n: gr.I18n) -> None:
        self.i18n = i18n
        self._items: list[tuple[gr.components.Component | gr.blocks.Block, Callable[[str], Any]]] = []

    def add(self, component, update: Callable[[str], Any]):
        """On language change, apply `update(lang)` (a gr.update) to the component."""
        self._items.append((component, update))
        return component

    def label(self, component, key: str):
        """Use the translated string `key` as the component's label (now and on language change)."""
        return self.add(component, lambda lang: gr.update(label=t(key, lang)))

    def value(self, component, render: Callable[[str], str]):
        """Re-render the component's value with `render(lang)` on language change."""
        return self.add(component, lambda lang: gr.update(value=render(lang)))

    def text(self, key: str):
        """A static string for gr.I18n (translated in the browser by its locale)."""
        return self.i18n(key)

    @staticmethod
    def api_text(key: str) -> str:
        """English for the components of the public API: their labels name the API's parameters and
        outputs in `view_api`, where a translation placeholder would be unreadable. The language
        radio still translates them in the page."""
        return t(key, "en")

    @property
    def components(self) -> list:
        return [c for c, _ in self._items]

    def updates(self, lang: str) -> list:
        return [render(lang) for _, render in self._items]


def bilingual(en: str, ko: str) -> str:
    """"English · 한국어", or one name when both are the same."""
    return en if en == ko else f"{en} · {ko}"


def short_name(name: str) -> str:
    """"Malignant (melanoma)" -> "Malignant": for tight places (formulas, thumbnail captions)."""
    return re.sub(r"\s*\(.*?\)", "", name).strip() or name


def label_names(card: ModelCard) -> dict[str, str]:
    """Label id -> the bilingual name the gr.Label shows (readable whatever the UI language)."""
    return {label.id: bilingual(label.en, label.ko) for label in card.labels}


def disclaimer_html(lang: str, domain: str = "general") -> str:
    return (
        f'<div class="medhub-disclaimer"><strong>{t("disclaimer.title", lang)}.</strong> '
        f"{disclaimer(domain, normalise_lang(lang))}</div>"
    )


# --------------------------------------------------------------------------------------------
# what a tab may add


# What a result adds (JSON for the API, data for the tab's outputs) is computed in the core from the
# card's `result_extras` (medhub/result_extras.py); a tab only renders it.
ExtraResult = ResultExtras


class TabExtras:
    """What is special about one tab; the defaults add nothing (the skin_lesion tab uses them as is)."""

    # (parameter name, component) pairs built under the upload box; their values reach the hooks below
    # as a dict keyed by parameter name. The components need an initial value: it is the API default.
    def build_inputs(self, card: ModelCard, ui: Localiser) -> list[tuple[str, gr.components.Component]]:
        return []

    def decode_options(self, card: ModelCard, options: dict[str, Any]) -> dict[str, Any]:
        """Keyword arguments for `load_upload` besides the file (e.g. the CT window)."""
        return {}

    def analyse_options(self, card: ModelCard, options: dict[str, Any]) -> dict[str, Any]:
        """Keyword arguments for `Predictor.analyse` from the tab's inputs (e.g. tta=True)."""
        return {}

    def build_outputs(self, card: ModelCard, ui: Localiser) -> list[gr.components.Component]:
        """Extra output components, placed under the decision sentence."""
        return []

    def render(self, card: ModelCard, result: ExtraResult | None, lang: str) -> list[Any]:
        """Values for `build_outputs`' components (one per component) in `lang`; None = no result yet."""
        return []

    def wire(self, card: ModelCard, tab: TabParts) -> None:
        """Extra UI-only events (never part of the public API)."""


# --------------------------------------------------------------------------------------------
# pure helpers (tested without a browser)


def scope_text(summary: dict[str, Any], card: ModelCard, lang: str) -> str:
    """Why an image was not answered, what the model expects, and which tab fits it."""
    from medhub.cards import get_card
    from medhub.scope import family_name

    expects = " / ".join(family_name(f, lang) for f in card.scope.accepts) if card.scope else card.input.modality
    seen = family_name(summary.get("scope_family") or "other", lang)
    lines = [t("scope.refused", lang)]
    if summary.get("scope_reason") == "distance":
        lines.append(t("scope.why", lang, expects=expects, seen=seen, score=summary["scope_score"],
                       threshold=summary["scope_threshold"]))
    else:
        lines.append(t("scope.why_family", lang, expects=expects, seen=seen))
    if summary.get("suggested_model"):
        try:
            tab = get_card(summary["suggested_model"], card.path.parent).title_for(lang)
        except KeyError:
            tab = summary["suggested_model"]
        lines.append(t("scope.suggest", lang, seen=seen, tab=tab))
    lines.append(t("scope.no_answer", lang))
    return "\n\n".join(lines)


def decision_text(summary: dict[str, Any], card: ModelCard, lang: str) -> str:
    """The decision as a heading, then its rule: "P(Malignant) = 0.83 ≥ threshold 0.43".

    Out of scope: why it was not answered (scope_text), or, shown anyway, a warning banner first."""
    if summary.get("in_scope") is False and not summary.get("shown_anyway"):
        return scope_text(summary, card, lang)
    probs = summary["probabilities"]
    decided = summary["decision"] or max(probs, key=probs.get)
    decision = card.label(decided).name(lang)
    if card.is_binary:
        p = float(probs[card.positive_class])
        rule = t(
            "decision.binary", lang, positive=short_name(card.label(card.positive_class).name(lang)), p=p,
            op="≥" if p >= card.threshold else "<", threshold=card.threshold,
        )
    else:
        rule = t("decision.multi", lang, n=len(card.labels), p=float(probs[decided]))
    lines = [f"### {decision}", rule]
    if summary.get("shown_anyway"):
        lines.insert(0, t("scope.banner", lang))
    if summary.get("tta_views"):
        lines.append(t("decision.tta", lang, n=summary["tta_views"]))
    if summary.get("explained_label"):
        lines.append(t("heat.explained", lang, label=card.label(summary["explained_label"]).name(lang)))
    if summary.get("heatmap_empty"):
        lines.append(t("heat.empty", lang))
    return "\n\n".join(lines)


def _num(value: Any) -> str:
    if value is None:
        return "–"
    if isinstance(value, float):
        return f"{value:.3f}"
    return str(value)


def metrics_markdown(card: ModelCard, lang: str) -> str:
    """The card's held-out metrics as Markdown tables (overall, then per class)."""
    m = card.metrics
    out = [f"**{t('metrics.header', lang)}**", "", t("metrics.intro", lang, dataset=m["dataset"],
                                                       split=m["split"], n=m["n"]), ""]
    out += [t("metrics.columns", lang), "|---|---|"]
    for key in ("accuracy", "balanced_accuracy", "auroc", "ece"):
        if m.get(key) is not None:
            out.append(f"| {t('metrics.' + key, lang)} | {_num(m[key])} |")
    if card.threshold is not None:
        out.append(f"| {t('metrics.threshold', lang)} ({card.label(card.positive_class).name(lang)}) "
                   f"| {card.threshold:g} |")
    per_class = m.get("per_class") or {}
    if per_class:
        out += ["", t("metrics.per_class", lang), "|---|---|---|---|---|"]
        for label in card.labels:
            row = per_class.get(label.id)
            if row:
                out.append(f"| {label.name(lang)} | {_num(row.get('precision'))} | {_num(row.get('recall'))} "
                           f"| {_num(row.get('f1'))} | {_num(row.get('support'))} |")
    return "\n".join(out)


def card_body_markdown(card: ModelCard) -> str:
    """The card's Markdown body with headings pushed down two levels (it sits inside an accordion)."""
    return re.sub(r"^(#{1,4})(\s)", lambda mt: "#" * min(len(mt.group(1)) + 2, 6) + mt.group(2),
                  card.body.strip(), flags=re.MULTILINE)


def intro_markdown(card: ModelCard, lang: str) -> str:
    key = f"intro.{card.input.modality}"
    from medhub.i18n import STRINGS

    intro = t(key if key in STRINGS else "intro.generic", lang)
    return f"### {card.title_for(lang)}\n{intro}"


# --------------------------------------------------------------------------------------------
# model status (set by the app's warm-up thread)

MODEL_STATUS: dict[str, str | None] = {}  # id -> None (ready) | "loading" | error message


def status_markdown(card: ModelCard, lang: str) -> str:
    state = MODEL_STATUS.get(card.id, "loading")
    if state is None:
        return ""
    if state == "loading":
        return t("status.loading", lang)
    return t("status.unavailable", lang, reason=state)


# --------------------------------------------------------------------------------------------
# the analysis behind the public endpoint


def analyse_file(
    card: ModelCard,
    extras: TabExtras,
    file: str | None,
    options: dict[str, Any],
    opacity: float,
    progress: Callable[..., Any] | None = None,
    show_anyway: bool = False,
) -> tuple[dict[str, float] | None, np.ndarray, dict[str, Any], dict[str, Any]]:
    """One upload through `medhub.pipeline.run` -> (Label value, overlay, summary, state for the UI).

    Out of scope (and not `show_anyway`), the Label is empty and the image comes back without a heat
    map: no class bars, no decision; the summary says why. Raises gr.Error for everything a user can
    cause or fix; nothing else escapes.
    """
    from medhub import pipeline
    from medhub.imaging import InputError
    from medhub.inference import ModelUnavailable

    if not file:
        raise gr.Error(f"{t('error.no_file', 'en')} / {t('error.no_file', 'ko')}", print_exception=False)
    try:
        try:
            result = pipeline.run(
                card, file, decode_options=extras.decode_options(card, options),
                analyse_options=extras.analyse_options(card, options), opacity=opacity,
                show_anyway=bool(show_anyway), progress=progress,
            )
        except ModelUnavailable as err:
            MODEL_STATUS[card.id] = str(err)
            raise
        MODEL_STATUS[card.id] = None
    except (InputError, ModelUnavailable) as err:
        # gr.Error renders its message as HTML, and parts of an InputError come from the file itself
        # (a DICOM's transfer-syntax UID, ...): escape them.
        raise gr.Error(html.escape(str(err), quote=False), print_exception=False) from None
    except gr.Error:
        raise
    except Exception:  # noqa: BLE001 - logged with its traceback here; users get a plain message
        log.exception("analysis failed (model %s, file %s)", card.id, file)
        generic = f"{t('error.generic', 'en')} / {t('error.generic', 'ko')}"
        raise gr.Error(generic, print_exception=False) from None
    summary, shown = result.summary, result.shown
    answered = result.analysis.in_scope or bool(show_anyway)
    names = label_names(card)
    label_value = ({names[lid]: float(p) for lid, p in result.analysis.probabilities.items()}
                   if answered else None)
    # The heat map is kept as uint8 for re-blending: a quarter of the memory, no visible difference.
    heat8 = np.rint(result.heat * 255).astype(np.uint8) if answered else None
    state = {"image": shown.rgb, "heat": heat8, "summary": summary, "extra": result.tab_result}
    return label_value, (result.overlay if answered else shown.rgb), summary, state


# --------------------------------------------------------------------------------------------
# layout


@dataclass
class TabParts:
    """The components of one tab that the app and the extras wire events to."""

    card: ModelCard
    extras: TabExtras
    file: gr.File
    button: gr.Button
    option_names: list[str]
    options: list[gr.components.Component]
    label: gr.Label
    model_input: gr.Image
    overlay: gr.Image
    opacity: gr.Slider
    show_anyway: gr.Checkbox
    summary: gr.JSON
    decision: gr.Markdown
    extra_outputs: list[gr.components.Component]
    state: gr.State
    status: gr.Markdown
    gallery: gr.Gallery | None = None
    samples: list[str] = field(default_factory=list)

    @property
    def result_outputs(self) -> list:
        """The language-dependent result components (redrawn by `render_result`)."""
        return [self.model_input, self.decision, *self.extra_outputs, self.status]

    def render_result(self, state: dict[str, Any] | None, lang: str) -> list[Any]:
        lang = normalise_lang(lang)
        if not state:
            return [None, t("result.placeholder", lang), *self.extras.render(self.card, None, lang),
                    status_markdown(self.card, lang)]
        return [
            state["image"],
            decision_text(state["summary"], self.card, lang),
            *self.extras.render(self.card, state["extra"], lang),
            status_markdown(self.card, lang),
        ]


def _analyse_fn(parts: TabParts) -> Callable[..., Any]:
    """The event function with a real signature (file, <tab options>, opacity, progress).

    Gradio reads parameter names for the API docs and finds gr.Progress by its default value, so
    the generic function gets an explicit `__signature__` built from the tab's option names.
    """
    card, extras, names = parts.card, parts.extras, parts.option_names

    def analyse(*args):
        file, *rest = args
        options = dict(zip(names, rest[: len(names)], strict=True))
        opacity, show_anyway, progress = rest[len(names) :]
        return analyse_file(card, extras, file, options, opacity, progress, show_anyway=show_anyway)

    params = [inspect.Parameter("file", inspect.Parameter.POSITIONAL_OR_KEYWORD)]
    params += [inspect.Parameter(n, inspect.Parameter.POSITIONAL_OR_KEYWORD) for n in names]
    params += [
        inspect.Parameter("opacity", inspect.Parameter.POSITIONAL_OR_KEYWORD, default=DEFAULT_OPACITY),
        inspect.Parameter("show_anyway", inspect.Parameter.POSITIONAL_OR_KEYWORD, default=False),
        inspect.Parameter("progress", inspect.Parameter.POSITIONAL_OR_KEYWORD, default=gr.Progress()),
    ]
    analyse.__signature__ = inspect.Signature(params)  # type: ignore[attr-defined]
    analyse.__name__ = f"predict_{card.id}"
    analyse.__doc__ = f"Classify one image for '{card.id}' and explain it with Grad-CAM."
    return analyse


def build_tab(card: ModelCard, extras: TabExtras, ui: Localiser, lang: gr.Radio, samples: list) -> TabParts:
    """Lay out one tab inside the current gr.Tab and wire its events. Returns its parts."""
    status = gr.Markdown(status_markdown(card, "en"), elem_classes=["medhub-status"])
    ui.value(gr.Markdown(ui.text(f"intro.{card.id}")), lambda lg: intro_markdown(card, lg))

    with gr.Row(equal_height=False):
        with gr.Column(scale=2, min_width=300):
            types = upload_file_types(card.input.dicom)  # any file name: the input gate decides by content
            upload_key = "upload.label_dicom" if card.input.dicom else "upload.label"
            file = ui.label(
                gr.File(label=ui.api_text(upload_key), type="filepath", file_types=types, file_count="single",
                        height=170, elem_id=f"file-{card.id}"),
                upload_key,
            )
            named_inputs = extras.build_inputs(card, ui)
            show_anyway = ui.label(
                gr.Checkbox(value=False, label=ui.api_text("scope.toggle"), elem_id=f"anyway-{card.id}"),
                "scope.toggle",
            )
            button = ui.value(
                gr.Button(ui.text("analyse.button"), variant="primary", elem_id=f"analyse-{card.id}"),
                lambda lg: t("analyse.button", lg),
            )
            gallery = None
            if samples:
                gallery = gr.Gallery(
                    value=[(s.thumb, s.caption("en")) for s in samples], label=ui.text("samples.label"),
                    columns=3, height="auto", allow_preview=False, object_fit="cover", buttons=[],
                    interactive=False, elem_id=f"samples-{card.id}",
                )
                # captions in one language: two do not fit under a thumbnail
                ui.add(gallery, lambda lg: gr.update(label=t("samples.label", lg),
                                                     value=[(s.thumb, s.caption(lg)) for s in samples]))
        with gr.Column(scale=3, min_width=320):
            label = ui.label(
                # No heading: gr.Label would head it with the most probable class, but a binary model's
                # decision follows the card's threshold (P = 0.45 >= 0.43 is positive); the decision
                # sentence right below says it with its rule.
                gr.Label(label=ui.api_text("probs.label"), num_top_classes=len(card.labels),
                         show_heading=False,
                         elem_id=f"probs-{card.id}"),
                "probs.label",
            )
            decision = gr.Markdown(ui.text("result.placeholder"), elem_id=f"decision-{card.id}")
            with gr.Row():
                model_input = ui.label(
                    gr.Image(label=ui.text("input.label"), type="numpy", format="png", interactive=False,
                             height=300, elem_id=f"input-{card.id}"),
                    "input.label",
                )
                overlay = ui.label(
                    gr.Image(label=ui.api_text("overlay.label"), type="numpy", format="png",
                             interactive=False,
                             height=300, elem_id=f"overlay-{card.id}"),
                    "overlay.label",
                )
            opacity = ui.label(
                gr.Slider(0.0, 1.0, value=DEFAULT_OPACITY, step=0.05, label=ui.api_text("opacity.label"),
                          elem_id=f"opacity-{card.id}"),
                "opacity.label",
            )
            extra_outputs = extras.build_outputs(card, ui)
            ui.value(gr.HTML(disclaimer_html("en", card.disclaimer_domain)),
                     lambda lg: disclaimer_html(lg, card.disclaimer_domain))
            with gr.Accordion(ui.text("summary.label"), open=False) as acc_json:
                summary = gr.JSON(label="Summary", show_label=False)
            ui.label(acc_json, "summary.label")

    with gr.Accordion(ui.text("card.accordion"), open=False) as acc_card:
        ui.value(gr.Markdown(metrics_markdown(card, "en")), lambda lg: metrics_markdown(card, lg))
        gr.Markdown(card_body_markdown(card))
    ui.label(acc_card, "card.accordion")

    state = gr.State(None)
    parts = TabParts(
        card=card, extras=extras, file=file, button=button,
        option_names=[name for name, _ in named_inputs], options=[c for _, c in named_inputs],
        label=label, model_input=model_input, overlay=overlay, opacity=opacity, show_anyway=show_anyway,
        summary=summary,
        decision=decision, extra_outputs=extra_outputs, state=state, status=status, gallery=gallery,
        samples=[s.path for s in samples],
    )
    _wire(parts, lang)
    extras.wire(card, parts)
    return parts


def _wire(parts: TabParts, lang: gr.Radio) -> None:
    card = parts.card
    inputs = [parts.file, *parts.options, parts.opacity, parts.show_anyway]
    outputs = [parts.label, parts.overlay, parts.summary, parts.state]
    analyse = _analyse_fn(parts)
    # All analyses share one group of MODEL_CONCURRENCY workers (2 cores): measured with 8 mixed
    # clients, this cut p95 from 2.1 to 1.6 s against one worker per model (docs/BENCHMARKS.md).
    # The backends are thread-safe (their Grad-CAM holds a per-model lock).
    event = parts.button.click(
        analyse, inputs, outputs, api_name=f"predict_{card.id}", concurrency_limit=MODEL_CONCURRENCY,
        concurrency_id="models",
    )
    event.success(parts.render_result, [parts.state, lang], parts.result_outputs, api_visibility="private")

    # Re-blend the stored heat map when the opacity changes: no model run.
    def reblend(state, opacity):
        if not state or state.get("heat") is None:
            return gr.update()
        return blend(state["image"], state["heat"].astype(np.float32) / 255.0, opacity)

    parts.opacity.change(reblend, [parts.state, parts.opacity], parts.overlay, api_visibility="private",
                         show_progress="hidden", trigger_mode="always_last")

    if parts.gallery is not None:
        paths = list(parts.samples)

        def pick(evt: gr.SelectData):
            return paths[evt.index] if evt.index is not None and 0 <= evt.index < len(paths) else None

        picked = parts.gallery.select(pick, None, parts.file, api_visibility="private",
                                      show_progress="hidden")
        picked.success(
            analyse, inputs, outputs, api_visibility="private", concurrency_limit=MODEL_CONCURRENCY,
            concurrency_id="models",
        ).success(parts.render_result, [parts.state, lang], parts.result_outputs, api_visibility="private")
