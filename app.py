"""medhub: the Gradio app, one tab per model card plus an About / API tab.

`demo` is built at import (tests and `gradio` tooling import this same object); the server starts
only under `__main__` (`python app.py`, which is also what a Hugging Face Space runs). Host and port
come from Gradio's own environment variables, GRADIO_SERVER_NAME and GRADIO_SERVER_PORT.

Each tab is generic (`tabs/layout.py`, `tabs/wiring.py`, `tabs/handler.py`) and reads everything from
its card; what a card asks for beyond that (a view per result extra, the DICOM window selector) comes
from `tabs.views.hooks_for(card)`, never from the card's id.
Every tab's Analyse event is a public API endpoint `/predict_<id>` returning (Label value, overlay
image, JSON summary); all other events are private.

Serving limits, chosen for a 2-core CPU Space:
- at most two analyses at a time across all models (one concurrency group, one per core; measured
  better than one worker per model), and DEFAULT_CONCURRENCY=2 for the cheap UI events;
- at most STATE_SESSIONS sessions keep their last result (image + heat map) for re-blending: Gradio's
  default of 10,000 let memory grow 1.65x over a 1,000-request soak, 100 keeps it flat (1.28x);
- at most QUEUE_MAX_SIZE waiting requests: beyond that a user is told the queue is full instead of
  waiting minutes (one analysis takes ~0.1-0.5 s: 256 queued requests clear in about a minute at worst,
  and a class sending the same sample is served from the result cache);
- uploads above MAX_FILE_SIZE (the input gate's 20 MiB + 1 MiB) are refused by Gradio before our
  code runs; the gate refuses anything above its own limit, and decompression bombs;
- uploaded files are deleted from Gradio's cache after an hour.
No flagging (a Blocks app has none), no analytics, no tracebacks to users (show_error=False; our
handlers turn every failure into a gr.Error with a plain English / Korean message).
"""

from __future__ import annotations

import os

# Before gradio is imported: it reads these at import time.
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")

import logging  # noqa: E402
import threading  # noqa: E402

import gradio as gr  # noqa: E402

import medhub.zerogpu  # noqa: E402, F401  - defines the @spaces.GPU function a ZeroGPU Space needs at start
from medhub.cards import ModelCard, load_cards, model_table  # noqa: E402
from medhub.disclaimers import disclaimer  # noqa: E402
from medhub.i18n import LANG_CHOICES, normalise_lang, t, translations  # noqa: E402
from medhub.imaging import max_upload_bytes  # noqa: E402
from medhub.registry import REGISTRY  # noqa: E402
from tabs.api_docs import endpoints_markdown  # noqa: E402
from tabs.classmode import build_class_tab, class_tab_title  # noqa: E402  (issue 19)
from tabs.layout import TabParts, build_tab  # noqa: E402
from tabs.localise import Localiser  # noqa: E402
from tabs.report import add_report  # noqa: E402  (issue 19)
from tabs.samples import load_samples  # noqa: E402
from tabs.series import add_series_section  # noqa: E402 - CT series section (issue 20)
from tabs.status import status_markdown  # noqa: E402
from tabs.teaching_panel import add_teaching_panel  # noqa: E402  (issue 19)
from tabs.texts import intro_markdown  # noqa: E402
from tabs.views import hooks_for  # noqa: E402

log = logging.getLogger("medhub.app")

# Far above a class (issue 20: 30 students clicking together got "Queue is full" at 24): a request
# waits its turn instead; identical ones are served once (tabs/result_cache.py).
QUEUE_MAX_SIZE = 256
DEFAULT_CONCURRENCY = 2
STATE_SESSIONS = 100
# Gradio refuses uploads 1 MiB above the input gate's own limit before they reach the disk; between
# the two limits the gate answers, so a slightly-too-large file gets its English / Korean message.
MAX_FILE_SIZE = max_upload_bytes() + 2**20
DELETE_CACHE = (1800, 3600)  # every 30 min, delete cached uploads older than 1 h
# The MCP server (gradio[mcp]): one tool per model, `predict_<id>`; MEDHUB_MCP=0 turns it off.
MCP_SERVER = os.environ.get("MEDHUB_MCP", "1") != "0"

CSS = """
.medhub-disclaimer {border-left: 5px solid #c62828; background: #fdecea; color: #3b0d0c;
  padding: 10px 14px; border-radius: 6px; font-size: 1.02em;}
.medhub-status p {color: #8a4b00; font-weight: 600;}
.medhub-advice {border-left: 5px solid #1565c0; background: #e8f1fb; color: #0d2a4a; padding: 6px 12px;
  border-radius: 6px;}
.medhub-header h1 {margin-bottom: 0.2em;}
#medhub-lang {max-width: 260px; margin-left: auto;}
/* A 1280 x 800 projector (issue 21). Tables wrap between words only (keep-all: Korean words too)
   and never inside a number; a table wider than its column (a card's wide tables) scrolls sideways rather
   than squeezing letters. */
.prose table td, .prose table th {word-break: keep-all; overflow-wrap: normal; hyphens: none;}
.prose table {table-layout: auto; display: block; max-width: 100%; overflow-x: auto;}
/* Korean lines break between words, not between the syllables of one word (the front end sets
   html[lang] to its locale). */
html[lang="ko"] .prose, html[lang="ko"] .prose p, html[lang="ko"] label span {word-break: keep-all;}
/* Sample galleries show every row (gradio caps a gallery at 55vh and scrolls the rest out of sight)
   and the whole caption (wrapped, instead of "Benign lesi..."). */
[id^="samples-"] .grid-wrap {max-height: none !important; overflow-y: visible !important;}
[id^="samples-"] .caption-label {white-space: normal !important; overflow: visible !important;
  text-overflow: clip !important; max-width: calc(100% - 6px) !important; word-break: keep-all;
  font-size: 0.78rem !important; line-height: 1.2; padding: 2px 5px !important;}
"""
THEME = gr.themes.Soft(primary_hue="blue", text_size=gr.themes.sizes.text_lg)

# The language radio follows the browser's language on first load (the static strings already do,
# through gr.I18n); a click on the radio then switches everything.
BROWSER_LANG_JS = "() => ((navigator.language || 'en').toLowerCase().startsWith('ko') ? 'ko' : 'en')"

# Gradio's own texts ("Drop File Here", "Click to Upload", "Use via API", "Settings", ...) and every
# gr.I18n string follow the front end's svelte-i18n locale, which gradio 6.31 takes from the browser's
# language at start-up and changes only from its Settings panel (`changeLocale`, exported by the front
# end's core module; there is no URL parameter or Python setting for it). So the language radio calls
# that same function: the core module is found among the page's loaded scripts (its file name carries
# a build hash) and imported again, which returns the one module instance the page already runs.
SET_LOCALE_JS = """async (lang) => {
  const want = lang === 'ko' ? 'ko' : 'en';
  try { localStorage.setItem('medhub-lang', want); } catch (err) { /* private mode: this page only */ }
  const urls = performance.getEntriesByType('resource').map((e) => e.name)
    .concat([...document.querySelectorAll('link[rel=modulepreload], script[src]')].map((e) => e.href || e.src));
  const core = urls.find((u) => /\\/assets\\/core-[\\w-]+\\.js(\\?|$)/.test(u));
  if (core) {
    try { const m = await import(core); if (m.changeLocale) m.changeLocale(want); }
    catch (err) { console.warn('medhub: could not switch gradio locale', err); }
  }
  document.documentElement.lang = want;
  return [];
}"""
# The choice is remembered (localStorage) and, like a `?lang=ko` / `?lang=en` link, decides the language
# of the next page load from its first paint: gradio reads its start-up locale from navigator.language,
# so the page's head answers that with the chosen language before gradio's scripts run (and the
# radio, which follows navigator.language on load, agrees).
HEAD = """<script>
(() => {
  let want = new URLSearchParams(location.search).get('lang');
  try { if (want !== 'ko' && want !== 'en') want = localStorage.getItem('medhub-lang'); } catch (err) { want = null; }
  if (want === 'ko' || want === 'en') {
    Object.defineProperty(navigator, 'language', {get: () => want, configurable: true});
    Object.defineProperty(navigator, 'languages', {get: () => [want], configurable: true});
  }
})();
</script>"""


def tab_groups(cards: tuple[ModelCard, ...]) -> list[list[ModelCard]]:
    """Cards grouped by the tab they belong to (card key `tab`, default its own id), in card order."""
    groups: dict[str, list[ModelCard]] = {}
    for card in cards:
        groups.setdefault(card.tab, []).append(card)
    return list(groups.values())


def tab_bar_css(cards: tuple[ModelCard, ...]) -> str:
    """Tab buttons small enough that the top-level tabs (one per tab group, plus About) fit side by
    side on a 1280 px projector instead of folding into an overflow menu: 0.92rem and 10 px padding
    fit six, the size shrinks in proportion for more (never below 0.7rem / 4 px)."""
    scale = min(1.0, 6 / (len(tab_groups(cards)) + 1))
    font, pad = max(0.7, round(0.92 * scale, 3)), max(4, round(10 * scale))
    return (f'button[role="tab"] {{font-size: {font}rem !important; padding-left: {pad}px !important;\n'
            f"  padding-right: {pad}px !important;}}\n")


def card_strings(cards: tuple[ModelCard, ...]) -> dict[str, dict[str, str]]:
    """Per-card strings for gr.I18n: tab titles and intros."""
    # The page-wide banner: the general text of medhub/disclaimers.py (each result adds its card's domain).
    out: dict[str, dict[str, str]] = {"disclaimer": {lang: disclaimer("general", lang) for lang in ("en", "ko")}}
    for card in cards:
        out[f"title.{card.id}"] = {lang: card.title_for(lang) for lang in ("en", "ko")}
        out[f"intro.{card.id}"] = {lang: intro_markdown(card, lang) for lang in ("en", "ko")}
        out.setdefault(f"tabtitle.{card.tab}", {lang: card.tab_title_for(lang) for lang in ("en", "ko")})
    return out


def api_markdown(cards: tuple[ModelCard, ...], lang: str) -> str:
    """How to call the endpoints: a Python example, then every card's endpoint with its parameters and
    curl recipe (tabs/api_docs.py, the same text as the README's)."""
    cid = cards[0].id if cards else "<model_id>"
    python_code = f"""```python
from gradio_client import Client, handle_file

client = Client("http://127.0.0.1:7860/")  # or the Space's name, "owner/space"
label, overlay_path, summary = client.predict(handle_file("image.png"), api_name="/predict_{cid}")
print(summary["decision"], summary["probabilities"], summary["threshold"])
```"""
    endpoints = ", ".join(f"`/predict_{c.id}`" for c in cards)
    return "\n\n".join([
        f"### {t('about.api', lang)}", f"{t('about.api_text', lang)} {endpoints}", python_code,
        endpoints_markdown(cards, lang), t("about.api_params", lang),
    ])


def about_markdown(cards: tuple[ModelCard, ...], lang: str) -> str:
    return "\n\n".join([
        t("about.intro", lang),
        f"### {t('about.models', lang)}",
        model_table(cards, lang=lang),
        api_markdown(cards, lang),
        f"### {t('about.disclaimer', lang)}",
        disclaimer("general", normalise_lang(lang)),
    ])


def build_demo(cards: tuple[ModelCard, ...] | None = None) -> tuple[gr.Blocks, gr.I18n]:
    """The app and the I18n to launch it with."""
    cards = cards or load_cards()
    i18n = gr.I18n(**translations(card_strings(cards)))
    ui = Localiser(i18n)
    samples, _root = load_samples(cards)
    tabs: list[TabParts] = []
    tab_blocks: list[gr.Tab] = []

    with gr.Blocks(title="medhub", analytics_enabled=False, delete_cache=DELETE_CACHE) as demo:
        with gr.Row(equal_height=True):
            with gr.Column(scale=4):
                ui.value(
                    gr.Markdown(f"# {t('app.title', 'en')}\n{t('app.subtitle', 'en')}",
                                elem_classes=["medhub-header"]),
                    lambda lg: f"# {t('app.title', lg)}\n{t('app.subtitle', lg)}",
                )
            with gr.Column(scale=1, min_width=200):
                lang = gr.Radio(list(LANG_CHOICES), value="en", label=t("lang.label", "en"),
                                elem_id="medhub-lang")
        with gr.Tabs(overflow_behavior="wrap"):  # every tab visible, also on a narrow screen
            for group in tab_groups(cards):
                first = group[0]
                # the tab bar shows the card's short `tab_title` (one line at 1280 px); the tab's heading
                # keeps the full title
                with gr.Tab(i18n(f"tabtitle.{first.tab}"), id=first.id if len(group) == 1 else f"group-{first.tab}",
                            elem_id=f"tab-{first.id}" if len(group) == 1 else f"tab-group-{first.tab}") as tab:
                    if len(group) == 1:
                        tabs.append(build_tab(first, hooks_for(first), ui, lang, samples.get(first.id, [])))
                        add_report(tabs[-1], ui, lang)  # issue 19: Report (PDF), /report_<id>
                        add_teaching_panel(tabs[-1], ui, lang)  # issue 19: predictive values, calibration
                        add_series_section(tabs[-1], ui, lang)  # only for a card that reads a CT series
                        tab_blocks.append(tab)
                    else:
                        # A tab that holds several models (e.g. whole-head photo and scalp microscope):
                        # one sub-tab each; the scope check of one names the other for a photo it refuses.
                        with gr.Tabs():
                            for card in group:
                                with gr.Tab(i18n(f"title.{card.id}"), id=f"sub-{card.id}",
                                            elem_id=f"tab-{card.id}") as sub:
                                    tabs.append(build_tab(card, hooks_for(card), ui, lang,
                                                          samples.get(card.id, [])))
                                    add_report(tabs[-1], ui, lang)  # issue 19
                                    add_teaching_panel(tabs[-1], ui, lang)
                                    add_series_section(tabs[-1], ui, lang)
                                tab_blocks.append(sub)
                                ui.add(sub, lambda lg, c=card: gr.update(label=c.title_for(lg)))
                ui.add(tab, lambda lg, c=first: gr.update(label=c.tab_title_for(lg)))
            with gr.Tab(class_tab_title("en"), id="class", elem_id="tab-class") as class_tab:  # issue 19
                build_class_tab(cards, ui, lang, demo)
            ui.add(class_tab, lambda lg: gr.update(label=class_tab_title(lg)))
            with gr.Tab(i18n("tab.about"), id="about", elem_id="tab-about") as about_tab:
                ui.value(gr.Markdown(about_markdown(cards, "en")), lambda lg: about_markdown(cards, lg))
            ui.add(about_tab, lambda lg: gr.update(label=t("tab.about", lg)))

        _wire_language(ui, lang, tabs, upload_boxes(demo))
        demo.load(None, None, lang, js=BROWSER_LANG_JS, api_visibility="private")
        lang.change(None, lang, None, js=SET_LOCALE_JS, api_visibility="private", queue=False)

        # Until a model has loaded, its tab says so; refreshed on page load and whenever a tab is opened.
        def refresh_status(lg):
            return [status_markdown(c, lg) for c in cards]

        statuses = [p.status for p in tabs]
        demo.load(refresh_status, lang, statuses, api_visibility="private", show_progress="hidden")
        for tab, parts in zip(tab_blocks, tabs, strict=True):
            tab.select(lambda lg, c=parts.card: status_markdown(c, lg), lang, parts.status,
                       api_visibility="private", show_progress="hidden")

    return demo, i18n


def upload_boxes(demo: gr.Blocks) -> list[gr.File]:
    """The page's visible file boxes (each tab's upload, the CT series box, ...)."""
    return [b for b in demo.blocks.values() if isinstance(b, gr.File) and b.visible is True]


def _wire_language(ui: Localiser, lang: gr.Radio, tabs: list[TabParts], boxes: list[gr.File]) -> None:
    """One private event redraws every translated label and every result text; then the file boxes
    are drawn anew. A file box writes gradio's own "Drop File Here / Click to Upload" when it is
    mounted and does not follow a later change of the front end's locale (gradio 6.31; the boxes of
    the first tab are mounted before the Korean dictionary has loaded, even on a Korean browser), so
    they are hidden and shown again (their value stays with the page)."""
    components: list = []
    for c in ui.components + [o for p in tabs for o in p.result_outputs]:
        if all(c is not x for x in components):
            components.append(c)
    states = [p.state for p in tabs]

    def switch(lg, *state_values):
        lg = normalise_lang(lg)
        merged: dict[int, dict] = {}
        for comp, update in zip(ui.components, ui.updates(lg), strict=True):
            merged.setdefault(id(comp), {}).update({k: v for k, v in update.items() if k != "__type__"})
        for parts, state in zip(tabs, state_values, strict=True):
            values = parts.render_result(state, lg)
            # values[0] is the model-input image: unchanged by a language switch
            for comp, value in zip(parts.result_outputs[1:], values[1:], strict=True):
                merged.setdefault(id(comp), {})["value"] = value
        return [gr.update(**merged.get(id(c), {})) for c in components]

    lang.change(switch, [lang, *states], components, api_visibility="private", show_progress="hidden").then(
        lambda: [gr.update(visible=False)] * len(boxes), None, boxes, api_visibility="private",
        show_progress="hidden", queue=False,
    ).then(lambda: [gr.update(visible=True)] * len(boxes), None, boxes, api_visibility="private",
           show_progress="hidden", queue=False)


def warm_models(cards: tuple[ModelCard, ...]) -> threading.Thread:
    """Load every model in the background so the first click is fast; each tab shows its model's
    status (loading, or why it is unavailable) from the registry."""
    return REGISTRY.warm_in_background(card.id for card in cards)


CARDS = load_cards()
demo, I18N = build_demo(CARDS)


def main() -> None:
    # One compute thread per analysis (read when the first model loads). Gradio runs each request
    # in whichever AnyIO worker thread is free, and each thread that calls torch gets its own OpenMP
    # team: with 2 threads per call, a forward pass from rotating threads took 106 ms instead of
    # 49 ms (teams spinning against each other on 2 cores); with 1 thread, 53 ms from any thread.
    # The two cores serve two analyses at once (the queue's concurrency group) instead.
    os.environ.setdefault("MEDHUB_THREADS", "1")
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("httpx").setLevel(logging.WARNING)  # Gradio's own start-up probes
    warm_models(CARDS)
    from tabs.session_state import install as lazy_session_configs

    lazy_session_configs()  # a new visitor / API call no longer builds every block's config (issue 20)
    demo.queue(max_size=QUEUE_MAX_SIZE, default_concurrency_limit=DEFAULT_CONCURRENCY)
    if MCP_SERVER:
        from tabs.mcp_compat import install as fix_mcp_state_outputs

        fix_mcp_state_outputs()  # gradio 6.31 pops State outputs twice on queued tool calls
        from tabs.mcp_compat import install_server_start_timeout

        install_server_start_timeout()  # gradio's 5 s start limit + MCP's run-once lifespan (see there)
    demo.launch(
        show_error=False,
        max_file_size=MAX_FILE_SIZE,
        i18n=I18N,
        theme=THEME,
        css=CSS + tab_bar_css(CARDS),
        head=HEAD,
        footer_links=["api", "settings"],
        state_session_capacity=STATE_SESSIONS,
        mcp_server=MCP_SERVER,  # every public endpoint is an MCP tool at /gradio_api/mcp/ (README)
    )


if __name__ == "__main__":
    main()
