"""What used to be a hard-coded list of models is read from the cards: the bench's fallback data
folders and the tab bar's size (a seventh card in a temporary cards folder changes both)."""

from __future__ import annotations

import dataclasses
import re
import shutil

import pytest

from medhub import cards as cards_module
from medhub.cards import load_cards


@pytest.fixture
def seven_cards(tmp_path, monkeypatch):
    """The bundled cards plus a copy of the first one under another id, as the default cards folder."""
    folder = tmp_path / "cards"
    folder.mkdir()
    bundled = load_cards()
    for card in bundled:
        shutil.copy(card.path, folder / card.path.name)
    first = bundled[0]
    text = first.path.read_text(encoding="utf-8").replace(f"  id: {first.id}\n", "  id: seventh_model\n", 1)
    text = re.sub(r"\n  tab: [a-z_]+\n", "\n", text)  # its own tab
    (folder / "seventh_model.md").write_text(text, encoding="utf-8")
    monkeypatch.setattr(cards_module, "CARDS_DIR", folder)
    return first, load_cards()


def test_bench_fallback_folders_come_from_the_cards(seven_cards):
    from medhub.studies.bench.samples import FALLBACK_DATA_DIRS

    first, cards = seven_cards
    assert set(FALLBACK_DATA_DIRS) == {c.id for c in cards} and "seventh_model" in FALLBACK_DATA_DIRS
    base = first.metrics["data_dir"]
    assert FALLBACK_DATA_DIRS["seventh_model"] == FALLBACK_DATA_DIRS[first.id]
    for label in first.labels:
        assert f"{base}/{label.id}" in FALLBACK_DATA_DIRS[first.id]
        for alias in label.aliases:
            assert f"{base}/{alias}" in FALLBACK_DATA_DIRS[first.id]
    assert FALLBACK_DATA_DIRS.get("no_such_model", ()) == ()


def _tab_font(css: str) -> float:
    return float(re.search(r"font-size: ([0-9.]+)rem", css).group(1))


def test_the_tab_bar_shrinks_with_the_number_of_tabs():
    from app import tab_bar_css, tab_groups

    cards = load_cards()
    n_tabs = len(tab_groups(cards)) + 1  # + About
    today = _tab_font(tab_bar_css(cards))
    assert today == (0.92 if n_tabs <= 6 else pytest.approx(max(0.7, 0.92 * 6 / n_tabs), abs=1e-3))
    more = cards + tuple(dataclasses.replace(cards[0], id=f"extra_{i}", tab=f"extra_{i}") for i in range(4))
    assert len(tab_groups(more)) == len(tab_groups(cards)) + 4
    assert _tab_font(tab_bar_css(more)) < today or today == 0.7
    many = cards + tuple(dataclasses.replace(cards[0], id=f"extra_{i}", tab=f"extra_{i}") for i in range(30))
    assert _tab_font(tab_bar_css(many)) == 0.7  # never unreadably small
