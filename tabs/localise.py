"""Language: static strings through gr.I18n (the browser's locale), and a radio that redraws them all.

`Localiser` remembers which component shows which string, so one private event of the language radio
(`app._wire_language`) can redraw every label and text; the small name helpers make a label readable
whatever the UI language.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import gradio as gr

from medhub.cards import ModelCard
from medhub.i18n import t
from medhub.result_text import short_name  # noqa: F401  (tabs import it from here)


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


def label_names(card: ModelCard) -> dict[str, str]:
    """Label id -> the bilingual name the gr.Label shows (readable whatever the UI language)."""
    return {label.id: bilingual(label.en, label.ko) for label in card.labels}
