"""Class mode (issue 19): one case per screen for a projector, from a deck (medhub.teaching.deck).

Pick a model, a kind of deck (right / wrong / in scope? / what the model looks at / a split's figure is
not the model's figure), the number of cases and a seed, press Start.
Each case shows the image alone; the class answers with one button per label (each press adds a vote
to the tally on screen, no accounts); Reveal shows the truth, the model's probabilities, the heat map
the scope check and the deck's teaching note from the card; Next goes on. Keys: 1-9 vote, space reveals, right arrow next, left arrow back.
The deck runs through `medhub.pipeline.run` (the app's path); no event here is a public API endpoint.
Strings: `class.*` in medhub/i18n.py.
"""

from __future__ import annotations

from typing import Any

import gradio as gr
import numpy as np

from medhub.i18n import normalise_lang, t

MAX_ANSWERS = 6  # answer buttons laid out (the most labels of a card, or 2 for the scope deck)
SHOW_PX = 720  # images kept at most this long for the projector

CSS = """
#medhub-class .class-big, #medhub-class .class-big * { font-size: 1.6rem !important; line-height: 1.35; }
#medhub-class .class-case h2 { font-size: 2.2rem !important; }
#medhub-class button.class-answer { font-size: 1.5rem !important; min-height: 3.2rem; font-weight: 700; }
#medhub-class .class-reveal, #medhub-class .class-reveal * { font-size: 1.25rem !important; }
"""

KEYS_JS = """
() => {
  if (window.__medhubClassKeys) return; window.__medhubClassKeys = true;
  document.addEventListener('keydown', (e) => {
    const root = document.getElementById('medhub-class');
    if (!root || root.offsetParent === null) return;  // class mode not on screen
    const tag = (e.target && e.target.tagName || '').toLowerCase();
    if (tag === 'input' || tag === 'textarea' || tag === 'select') return;
    const click = (id) => { const b = document.getElementById(id); if (b && b.offsetParent !== null) { b.click(); e.preventDefault(); } };
    if (e.key === ' ') click('class-reveal');
    else if (e.key === 'ArrowRight') click('class-next');
    else if (e.key === 'ArrowLeft') click('class-prev');
    else if (/^[1-9]$/.test(e.key)) click('class-answer-' + (parseInt(e.key, 10) - 1));
  });
}
"""


def _t(key: str, lang: str, **fields: Any) -> str:
    """A class-mode string of medhub/i18n.py (keys `class.<key>`)."""
    return t(f"class.{key}", lang, **fields)


def class_tab_title(lang: str) -> str:
    return _t("tab", lang)


def _small(rgb: np.ndarray) -> np.ndarray:
    from medhub.pipeline import fit_for_display

    return fit_for_display(np.asarray(rgb, dtype=np.uint8), SHOW_PX)


def answers(card, kind: str, lang: str) -> list[tuple[str, str]]:
    """(answer id, button text) of a deck: the card's labels, or in / out of scope."""
    if kind == "scope":
        return [("in", _t("ans.in", lang)), ("out", _t("ans.out", lang))]
    return [(lab.id, lab.name(lang)) for lab in card.labels]


def load_deck(card_id: str, kind: str, n: int, seed: int) -> dict[str, Any]:
    """The deck as the tab's state: cases with their shown image and overlay, votes, position."""
    from medhub import pipeline
    from medhub.cards import get_card
    from medhub.teaching import deck
    from tabs.samples import sample_list, samples_root

    card = get_card(card_id)
    images: dict[str, tuple[np.ndarray, np.ndarray]] = {}

    def run(c, path):
        r = pipeline.run(c, path)
        images[str(path)] = (_small(r.shown.rgb), _small(r.overlay))
        return deck.result_summary(r)  # the summary, and where the heat map lies (the shortcut deck)

    root = samples_root(sample_list()) or deck.data_root()
    try:
        cases = deck.build_deck(card, kind, int(n), int(seed), root, run=run)
    except deck.DeckError:
        cases = []
    items = []
    for case in cases:
        shown, overlay = images[case.file]
        items.append({**case.json(), "image": shown, "overlay": overlay})
    return {"card": card.id, "kind": kind, "cases": items, "i": 0, "revealed": False,
            "votes": [dict() for _ in items]}


def _tally(state: dict[str, Any], card, lang: str) -> str:
    votes = state["votes"][state["i"]]
    parts = [f"{name}: **{votes.get(aid, 0)}**" for aid, name in answers(card, state["kind"], lang)]
    return f"{_t('tally', lang)} · " + " · ".join(parts)


def _truth_answer(case: dict[str, Any], kind: str) -> str | None:
    if kind == "scope":
        return "in" if case["in_scope"] else "out"
    return case["truth"]


def render(state: dict[str, Any] | None, lang: str) -> list[Any]:
    """(header, image, tally, reveal text, probabilities, overlay, *answer buttons) for the state."""
    from medhub.cards import get_card

    lang = normalise_lang(lang)
    hidden = [gr.update(visible=False) for _ in range(MAX_ANSWERS)]
    if not state:
        return [_t("intro", lang), None, "", "", gr.update(value=None, visible=False),
                gr.update(value=None, visible=False), *hidden]
    card = get_card(state["card"])
    if not state["cases"]:
        return [f"## {_t('empty', lang)}", None, "", "", gr.update(value=None, visible=False),
                gr.update(value=None, visible=False), *hidden]
    i, n = state["i"], len(state["cases"])
    case = state["cases"][i]
    question = _t("question.scope" if state["kind"] == "scope" else "question", lang)
    header = f"## {_t('case', lang, i=i + 1, n=n)}\n{card.title_for(lang)} · {question}"
    buttons = []
    for k in range(MAX_ANSWERS):
        opts = answers(card, state["kind"], lang)
        if k < len(opts):
            buttons.append(gr.update(value=f"{k + 1}. {opts[k][1]}", visible=True))
        else:
            buttons.append(gr.update(visible=False))
    reveal_md, probs, overlay = "", gr.update(value=None, visible=False), gr.update(value=None, visible=False)
    if state["revealed"]:
        truth = card.label(case["truth"]).name(lang) if case["truth"] else _t("unknown", lang)
        says = card.label(case["decision"]).name(lang) if case["decision"] else _t("no_answer", lang)
        scope = _t("ans.in" if case["in_scope"] else "ans.out", lang)
        note = case["note_ko"] if lang == "ko" else case["note"]
        reveal_md = (f"**{_t('truth', lang)}: {truth}** · {_t('model_says', lang)}: **{says}** · {scope}\n\n{note}")
        if case["probabilities"]:
            names = {lab.id: lab.name(lang) for lab in card.labels}
            probs = gr.update(value={names[k]: float(v) for k, v in case["probabilities"].items()}, visible=True)
        if case["decision"] is not None:
            overlay = gr.update(value=case["overlay"], visible=True)
        from medhub.teaching.deck import deck_note

        reveal_md += f"\n\n**{_t('deck_note', lang)}:** {deck_note(card, state['kind'], lang)}"
        if i == n - 1:
            reveal_md += "\n\n" + _done(state, card, lang)
    return [header, case["image"], _tally(state, card, lang), reveal_md, probs, overlay, *buttons]


def _done(state: dict[str, Any], card, lang: str) -> str:
    right = 0
    for case, votes in zip(state["cases"], state["votes"], strict=True):
        if votes and max(votes, key=votes.get) == _truth_answer(case, state["kind"]):
            right += 1
    return _t("done", lang, right=right, n=len(state["cases"]))


def build_class_tab(cards, ui, lang: gr.Radio, demo: gr.Blocks) -> None:
    """Lay out the class-mode tab inside the current gr.Tab and wire its (private) events."""
    from medhub.teaching.deck import DEFAULT_N, DEFAULT_SEED, KINDS

    gr.HTML(f"<style>{CSS}</style>", padding=False)
    with gr.Column(elem_id="medhub-class"):
        # The set-up folds away once a deck starts, so a case fills a 1280 x 800 projector.
        with gr.Accordion(_t("setup", "en"), open=True, elem_id="class-setup") as setup:
            with gr.Row():
                model = gr.Dropdown([(c.title_for("en"), c.id) for c in cards], value=cards[0].id,
                                    label=_t("model", "en"), elem_id="class-model")
                kind = gr.Radio([(_t(f"kind.{k}", "en"), k) for k in KINDS], value="right",
                                label=_t("kind", "en"), elem_id="class-kind")
                n = gr.Slider(1, 20, value=DEFAULT_N, step=1, label=_t("n", "en"), elem_id="class-n")
                seed = gr.Number(value=DEFAULT_SEED, precision=0, label=_t("seed", "en"), elem_id="class-seed")
                start = gr.Button(_t("start", "en"), variant="primary", elem_id="class-start")
        ui.add(setup, lambda lg: gr.update(label=_t("setup", lg)))
        ui.add(model, lambda lg: gr.update(label=_t("model", lg), choices=[(c.title_for(lg), c.id) for c in cards]))
        ui.add(kind, lambda lg: gr.update(label=_t("kind", lg), choices=[(_t(f"kind.{k}", lg), k) for k in KINDS]))
        ui.add(n, lambda lg: gr.update(label=_t("n", lg)))
        ui.add(seed, lambda lg: gr.update(label=_t("seed", lg)))
        ui.add(start, lambda lg: gr.update(value=_t("start", lg)))
        header = gr.Markdown(_t("intro", "en"), elem_id="class-header", elem_classes=["class-case", "class-big"])
        with gr.Row(equal_height=False):
            with gr.Column(scale=3):
                with gr.Row():
                    image = gr.Image(label=None, show_label=False, type="numpy", format="jpeg", interactive=False,
                                     height=430, elem_id="class-image")
                    overlay = gr.Image(visible=False, show_label=False, type="numpy", format="jpeg",
                                       interactive=False, height=430, elem_id="class-overlay")
            with gr.Column(scale=2):
                answer_buttons = [gr.Button(f"{k + 1}", visible=False, elem_id=f"class-answer-{k}",
                                            elem_classes=["class-answer"]) for k in range(MAX_ANSWERS)]
                tally = gr.Markdown("", elem_id="class-tally", elem_classes=["class-big"])
                with gr.Row():
                    prev = gr.Button(_t("prev", "en"), elem_id="class-prev")
                    reveal = gr.Button(_t("reveal", "en"), variant="primary", elem_id="class-reveal")
                    nxt = gr.Button(_t("next", "en"), elem_id="class-next")
                ui.add(prev, lambda lg: gr.update(value=_t("prev", lg)))
                ui.add(reveal, lambda lg: gr.update(value=_t("reveal", lg)))
                ui.add(nxt, lambda lg: gr.update(value=_t("next", lg)))
                reveal_md = gr.Markdown("", elem_id="class-reveal-text", elem_classes=["class-reveal"])
                probs = gr.Label(visible=False, show_label=False, elem_id="class-probs")
    state = gr.State(None)
    outputs = [header, image, tally, reveal_md, probs, overlay, *answer_buttons]
    private = {"api_visibility": "private"}

    def on_start(card_id, k, count, s, lg):
        st = load_deck(card_id, k, int(count), int(s if s is not None else DEFAULT_SEED))
        return [st, gr.update(open=not st["cases"]), *render(st, lg)]

    start.click(on_start, [model, kind, n, seed, lang], [state, setup, *outputs], concurrency_limit=2,
                concurrency_id="models", **private)

    def vote(k):
        def fn(st, lg):
            if st and st["cases"]:
                from medhub.cards import get_card

                opts = answers(get_card(st["card"]), st["kind"], lg)
                if k < len(opts):
                    votes = st["votes"][st["i"]]
                    votes[opts[k][0]] = votes.get(opts[k][0], 0) + 1
            return [st, *render(st, lg)]

        return fn

    for k, b in enumerate(answer_buttons):
        b.click(vote(k), [state, lang], [state, *outputs], show_progress="hidden", **private)

    def do_reveal(st, lg):
        if st and st["cases"]:
            st["revealed"] = True
        return [st, *render(st, lg)]

    def step(delta):
        def fn(st, lg):
            if st and st["cases"]:
                st["i"] = max(0, min(len(st["cases"]) - 1, st["i"] + delta))
                st["revealed"] = False
            return [st, *render(st, lg)]

        return fn

    reveal.click(do_reveal, [state, lang], [state, *outputs], show_progress="hidden", **private)
    nxt.click(step(1), [state, lang], [state, *outputs], show_progress="hidden", **private)
    prev.click(step(-1), [state, lang], [state, *outputs], show_progress="hidden", **private)
    lang.change(lambda st, lg: render(st, lg), [state, lang], outputs, show_progress="hidden", **private)
    demo.load(None, None, None, js=KEYS_JS, **private)
