"""The class-mode deck kinds added for issue 19's "Done when": `shortcut` (what the model looks at) and
`history` (a split's figure is not the model's figure), without data or models: the heat-map measure
by hand, which cards support which kind, the teaching notes from the cards, and the picking logic
with a stand-in model. (tests/test_deck.py runs every kind on the real test images.)"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from medhub.cards import get_card, load_cards
from medhub.teaching import deck

CARDS = load_cards()


def test_heat_frame_share_by_hand() -> None:
    heat = np.zeros((100, 100), np.float32)  # margin 12 px: the centre is [12:88, 12:88]
    heat[0:12, :] = 1.0  # 1,200 px of heat on the border
    heat[50, 50] = 300.0  # 300 in the centre
    assert deck.heat_frame_share(heat) == pytest.approx(1200 / 1500)
    assert deck.frame_area_share((100, 100)) == pytest.approx(1 - 76 * 76 / 10_000)
    assert deck.heat_frame_share(np.zeros((10, 10))) is None


def test_which_cards_have_which_kinds() -> None:
    for card in CARDS:
        assert deck.supports(card, "shortcut")
        has_other = any(name not in (card.cross_collection or {}).get("trained_on", [])
                        for name in ((card.cross_collection or {}).get("collections") or {}))
        assert deck.supports(card, "history") == has_other, card.id
    # the melanoma model's history: the collection it did worst on (the card's figures)
    mel = get_card("melanoma")
    name, figures = deck.history_collection(mel)
    collections = mel.cross_collection["collections"]
    others = {k: v for k, v in collections.items() if k not in mel.cross_collection["trained_on"]}
    assert name == min(others, key=lambda k: others[k]["balanced_accuracy"])
    assert figures == collections[name]


@pytest.mark.parametrize("kind", ["shortcut", "history"])
def test_teaching_notes_come_from_the_card(kind) -> None:
    for card in CARDS:
        if not deck.supports(card, kind):
            continue
        en, ko = deck.deck_note(card, kind, "en"), deck.deck_note(card, kind, "ko")
        assert en and ko and en != ko
        if kind == "history":
            name, figures = deck.history_collection(card)
            assert f"balanced accuracy {figures['balanced_accuracy']}" in en and name in en
            assert f"balanced accuracy {card.metrics['balanced_accuracy']}" in en
            assert "History, measured" in card.body and "From the model card: History, measured" in en
            assert "모델 카드에서" in ko
    # the CT card names its shortcut, the burned-in letters, and the note quotes it
    ct = get_card("brain_hemorrhage")
    assert "burned-in" in deck.deck_note(ct, "shortcut", "en")


def _files(tmp_path: Path, labels: list[str], k: int) -> list[deck.Candidate]:
    out = []
    for lab in labels:
        for i in range(k):
            p = tmp_path / lab / f"{i}.png"
            p.parent.mkdir(parents=True, exist_ok=True)
            p.write_bytes(b"x")
            out.append(deck.Candidate(p, lab, "test_split", None, True))
    return out


def test_shortcut_deck_ranks_maps_by_the_border(tmp_path, monkeypatch) -> None:
    card = get_card("melanoma")
    cands = _files(tmp_path, card.label_ids, 10)
    monkeypatch.setattr(deck, "own_candidates", lambda c, root: cands)
    share = {str(c.path): (i % 10) / 10 for i, c in enumerate(cands)}  # 0.0 .. 0.9

    def run(c, path):
        truth = path.parent.name
        return {"probabilities": {lab: float(lab == truth) for lab in c.label_ids}, "decision": truth,
                "in_scope": True, "heat_frame_share": share[str(path)], "frame_area_share": 0.42}

    # the pool (at least SHORTCUT_MIN_POOL = 20) covers all 20 images: the 4 highest shares come back
    cases = deck.build_deck(card, "shortcut", n=4, seed=1, root=tmp_path, run=run)
    assert sorted(c.extra["heat_frame_share"] for c in cases) == [0.8, 0.8, 0.9, 0.9]
    assert all(c.kind == "shortcut" and "border" in c.note and "가장자리" in c.note_ko for c in cases)
    assert all("more than its share" in c.note for c in cases)  # 0.8, 0.9 > 0.42
    low = deck.build_deck(card, "shortcut", n=20, seed=1, root=tmp_path, run=run)
    assert len(low) == 20
    assert sum("less than its share" in c.note for c in low) == sum(1 for v in share.values() if v <= 0.42)


def test_history_deck_alternates_labels_and_says_where(tmp_path, monkeypatch) -> None:
    card = get_card("melanoma")
    name, _ = deck.history_collection(card)
    cands = [deck.Candidate(c.path, c.truth, f"collection:{name}") for c in _files(tmp_path, card.label_ids, 6)]
    monkeypatch.setattr(deck, "history_candidates", lambda c, root: cands)

    def run(c, path):  # says "benign" to everything
        return {"probabilities": {"benign": 0.9, "malignant": 0.1}, "decision": "benign", "in_scope": True}

    cases = deck.build_deck(card, "history", n=4, seed=2, root=tmp_path, run=run)
    assert len(cases) == 4
    assert [c.truth for c in cases].count("malignant") == 2  # labels in turn
    for c in cases:
        assert name in c.note and c.source == f"collection:{name}"
        assert ("wrong" in c.note) == (c.truth == "malignant")
