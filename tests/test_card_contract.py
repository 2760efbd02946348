"""The card is one contract and a leaf (issue 18): the schema's literal sets are the registries they
mirror, every card and the template pass it, the one card writer round-trips every card byte for byte,
and `medhub.cards` imports nothing above the schema and the small leaf modules."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from medhub.card_io import card_text, dump_card
from medhub.cards import CARDS_DIR, CardError, parse_card, split_front_matter

REPO = Path(__file__).resolve().parent.parent
CARD_FILES = sorted(CARDS_DIR.glob("*.md"))


def test_each_literal_set_of_the_schema_equals_the_registry_it_mirrors():
    from medhub import card_schema, dicom, disclaimers, result_extras, scope

    assert tuple(card_schema.DICOM_WINDOWS) == tuple(dicom.WINDOW_CHOICES)
    assert set(card_schema.RESULT_EXTRAS) == set(result_extras.REGISTRY)
    assert set(card_schema.DISCLAIMER_DOMAINS) == set(disclaimers.DOMAINS)
    assert tuple(card_schema.SCOPE_METHODS) == tuple(scope.METHODS)


def test_the_card_template_passes_the_schema():
    card = parse_card((REPO / "docs" / "CARD_TEMPLATE.md").read_text(encoding="utf-8"))
    assert card.id == "melanoma" and card.schema_version == 1


@pytest.mark.parametrize("path", CARD_FILES, ids=[p.stem for p in CARD_FILES])
def test_dump_card_round_trips_every_card(path, tmp_path):
    text = path.read_text(encoding="utf-8")
    meta, body = split_front_matter(text)
    assert card_text(meta, body) == text
    out = tmp_path / path.name
    assert dump_card(meta, out, body=body) == text and out.read_text(encoding="utf-8") == text


def test_dump_card_stamps_the_schema_version_and_refuses_an_invalid_card(tmp_path):
    meta, body = split_front_matter(CARD_FILES[0].read_text(encoding="utf-8"))
    block = {k: v for k, v in meta["medhub"].items() if k != "schema_version"}
    text = dump_card({**meta, "medhub": block}, body=body)
    assert "\n  schema_version: 1\n" in text
    out = tmp_path / "broken.md"
    with pytest.raises(CardError, match="result_extras"):
        dump_card({**meta, "medhub": {**block, "result_extras": ["no_such_extra"]}}, out, body=body)
    assert not out.exists()  # validated before it writes


def test_graded_heads_are_parsed_once_with_the_card():
    from medhub.cards import HeadSpec, load_cards

    graded = [c for c in load_cards() if c.output == "graded_heads"]
    assert graded, "no graded-heads card"
    for card in graded:
        assert card.heads and all(isinstance(h, HeadSpec) for h in card.heads)


def test_medhub_cards_is_a_leaf():
    code = "import medhub.cards, medhub.card_io, sys; print(json.dumps(sorted(m for m in sys.modules if m.startswith('medhub'))))"
    out = subprocess.run([sys.executable, "-c", "import json; " + code], capture_output=True, text=True, cwd=REPO,
                         timeout=120)
    assert out.returncode == 0, out.stderr
    loaded = set(json.loads(out.stdout))
    assert loaded <= {"medhub", "medhub.card_schema", "medhub.cards", "medhub.card_io", "medhub.constants",
                      "medhub.paths"}, loaded
