"""Case decks for class mode (issue 19): medhub/teaching/deck.py and `python -m medhub deck`.

Every deck kind for every card that supports it, through the app's code path (medhub.pipeline.run) on
the real test images (skipped without ../shared/data); the picking logic with a stand-in model."""

from __future__ import annotations

import json

import pytest

from medhub.cards import get_card, load_cards
from medhub.cli import main
from medhub.teaching import deck

CARDS = load_cards()
CASES = [(c, k) for c in CARDS for k in deck.KINDS if deck.supports(c, k)]
FIELDS = {"file", "truth", "probabilities", "decision", "in_scope", "note"}


@pytest.mark.timeout(600, func_only=True)
@pytest.mark.parametrize("card,kind", CASES, ids=[f"{c.id}-{k}" for c, k in CASES])
def test_every_deck_kind_for_every_card(card, kind, data_root) -> None:
    cases = deck.build_deck(card, kind, n=2, seed=7, root=data_root)
    assert cases, f"no {kind} cases for {card.id}"
    for case in cases:
        line = case.json()
        assert FIELDS <= set(line)
        assert line["note"] and line["note_ko"]
        assert (data_root / line["file"]).is_file()
        if kind == "right":
            assert case.in_scope and case.decision == case.truth
            assert sum(case.probabilities.values()) == pytest.approx(1, abs=1e-3)
        elif kind == "wrong":
            assert case.in_scope and case.decision is not None and case.decision != case.truth
        if case.truth is not None:
            assert case.truth in card.label_ids
    if kind == "scope":
        refused = [c for c in cases if not c.in_scope]
        assert refused and all(c.decision is None for c in refused)
        assert any(c.source != "test_split" for c in refused) or all(c.truth for c in refused)
    if kind in ("right", "wrong"):
        assert len(cases) == 2


def _stub(card):
    """A stand-in model: says the truth for files whose name has an even digit sum, else the other label."""

    def run(c, path):
        probs = {lab: 0.0 for lab in c.label_ids}
        label = path.parent.name if path.parent.name in probs else c.label_ids[0]
        if sum(int(ch) for ch in path.name if ch.isdigit()) % 2:
            label = next(lab for lab in c.label_ids if lab != label)
        probs[label] = 1.0
        return {"probabilities": probs, "decision": label, "in_scope": True, "scope_score": 1.0,
                "scope_threshold": 2.0}

    return run


def test_same_seed_same_deck(data_root) -> None:
    card = get_card("brain_hemorrhage")
    a = deck.build_deck(card, "right", n=4, seed=3, root=data_root, run=_stub(card))
    b = deck.build_deck(card, "right", n=4, seed=3, root=data_root, run=_stub(card))
    c = deck.build_deck(card, "right", n=4, seed=4, root=data_root, run=_stub(card))
    assert [x.file for x in a] == [x.file for x in b]
    assert [x.file for x in a] != [x.file for x in c]


def test_samples_are_the_last_source(data_root, tmp_path, monkeypatch) -> None:
    """Without test_predictions.csv and split rows on disk, the deck falls back to assets/samples.yaml."""
    card = get_card("brain_hemorrhage")
    monkeypatch.setattr(deck, "REPO_ROOT", tmp_path)  # no weights/ or training/ there
    cands = deck.own_candidates(card, data_root)
    assert cands and {c.source for c in cands} == {"samples"}
    assert {c.truth for c in cands} == {"hemorrhage", "normal"}


def test_unknown_kind_and_no_data(tmp_path) -> None:
    card = get_card("melanoma")
    with pytest.raises(deck.DeckError):
        deck.build_deck(card, "no_such_kind", n=1)
    with pytest.raises(deck.DeckError):
        deck.build_deck(card, "right", n=1, root=tmp_path)
    with pytest.raises(deck.DeckError):  # no other collection under an empty folder
        deck.build_deck(card, "history", n=1, root=tmp_path)


@pytest.mark.timeout(600, func_only=True)
def test_cli_deck_json_lines(data_root, capsys) -> None:
    assert main(["deck", "brain_hemorrhage", "--kind", "wrong", "--n", "2", "--seed", "1", "--json",
                 "--data-dir", str(data_root)]) == 0
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.strip()]
    assert len(lines) == 2
    for line in lines:
        assert FIELDS <= set(line)
        assert line["decision"] != line["truth"] and line["in_scope"] is True
    assert main(["deck", "brain_hemorrhage", "--kind", "right", "--n", "1", "--data-dir", "/nonexistent"]) == 2


pytestmark = [pytest.mark.data, pytest.mark.slow]
