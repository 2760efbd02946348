"""The card in Korean (issue 21): every card carries a Korean summary (its "Read this first", intended
use, out-of-scope use and limits) as a managed block of the card itself, the page shows it in Korean,
and it survives a rewrite of the card by its writer."""

from __future__ import annotations

import re

import pytest

from medhub.cardblocks import carry_over, get_blocks
from medhub.cards import load_cards
from tabs.texts import KO_FIELDS, card_body_markdown, korean_summary, read_first, read_first_markdown

CARDS = load_cards()
IDS = [c.id for c in CARDS]
HANGUL = re.compile(r"[\uac00-\ud7a3]")
LATIN = re.compile(r"[A-Za-z]")
NUMBER = re.compile(r"\d+(?:\.\d+)?")


@pytest.mark.parametrize("card", CARDS, ids=IDS)
def test_every_card_has_its_korean_summary(card):
    ko = korean_summary(card)
    assert {"intended_use", "out_of_scope", "limits"} <= set(ko), f"{card.id}: {sorted(ko)}"
    # a Korean "Read this first" exactly when the card has an English one
    assert ("read_first" in ko) == (read_first(card) is not None), card.id
    for key, text in ko.items():
        hangul, latin = len(HANGUL.findall(text)), len(LATIN.findall(text))
        assert hangul > latin, f"{card.id}.{key} is not Korean: {text[:80]}"


@pytest.mark.parametrize("card", [c for c in CARDS if read_first(c)], ids=lambda c: c.id)
def test_korean_read_first_states_the_same_figures(card):
    """A retrain changes the English "Read this first" (written by the card writer); the Korean one
    then has stale figures, and this fails until it is updated."""
    english = set(NUMBER.findall(read_first(card)))
    korean = set(NUMBER.findall(korean_summary(card)["read_first"]))
    assert english <= korean, f"{card.id}: figures missing from the Korean text: {sorted(english - korean)}"


@pytest.mark.parametrize("card", CARDS, ids=IDS)
def test_the_korean_page_shows_the_korean_card(card):
    ko = korean_summary(card)
    if read_first(card):
        shown = read_first_markdown(card, "ko")
        assert ko["read_first"] in shown and "misses project targets" not in shown
        assert read_first(card).split("**", 2)[2].strip() in read_first_markdown(card, "en")
    body = card_body_markdown(card, "ko")
    assert body.index(ko["intended_use"]) < body.index("Intended use")  # the Korean summary first
    assert body.count(ko["limits"]) == 1 and "<!-- medhub:ko" not in body
    assert "Intended use" in card_body_markdown(card, "en") and "<!-- medhub:ko" not in card_body_markdown(card, "en")


def test_korean_fields_are_parsed_from_the_block():
    """The parser reads each bold-led field up to the next one, and nothing outside the block."""
    from dataclasses import replace

    card = CARDS[0]
    block = "\n".join(["<!-- medhub:ko:start -->", "## 한국어 요약", "",
                       *(f"**{lead}:** {key} 본문\n둘째 줄" for key, lead in KO_FIELDS.items()),
                       "<!-- medhub:ko:end -->"])
    fake = replace(card, body=f"**사용 목적:** 블록 밖\n\n{block}\n\n## Limitations\n")
    got = korean_summary(fake)
    assert got == {key: f"{key} 본문\n둘째 줄" for key in KO_FIELDS}
    assert korean_summary(replace(card, body="no block")) == {}


@pytest.mark.parametrize("card", CARDS, ids=IDS)
def test_a_rewritten_card_keeps_its_korean_summary(card):
    """A card writer's new text has no Korean block: carry_over (called by every writer) keeps it."""
    old = card.path.read_text(encoding="utf-8")
    block = get_blocks(old)["ko"]
    rewritten = old.replace(block, "")
    assert "ko" not in get_blocks(rewritten)
    assert get_blocks(carry_over(old, rewritten))["ko"] == block


def test_the_language_radio_shows_the_korean_summary_only_on_the_korean_page():
    """The tab's card: the Korean summary is its own Markdown, shown on the Korean page and hidden on
    the English one; the English card below it is not redrawn by a language switch."""
    import gradio as gr

    from tabs.hooks import TabHooks
    from tabs.layout import build_tab
    from tabs.localise import Localiser
    from tabs.texts import card_english_markdown, card_korean_markdown

    card = next(c for c in CARDS if korean_summary(c))
    with gr.Blocks():
        lang = gr.Radio(["en", "ko"], value="en")
        ui = Localiser(gr.I18n())
        build_tab(card, TabHooks(), ui, lang, [])
    english = card_english_markdown(card)
    assert "Intended use" in english and "<!-- medhub:ko" not in english
    assert not any(getattr(c, "value", None) == english for c in ui.components)  # never redrawn
    summary = next(i for i, c in enumerate(ui.components)
                   if isinstance(c, gr.Markdown) and ui.updates("ko")[i].get("value") == card_korean_markdown(card, "ko"))
    assert ui.updates("ko")[summary]["visible"] is True and korean_summary(card)["limits"] in ui.updates("ko")[summary]["value"]
    assert ui.updates("en")[summary] == {"__type__": "update", "value": "", "visible": False}
