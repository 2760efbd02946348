"""The one card writer: `dump_card(data, path)` turns a card's front matter (and body) into the text of
`model_cards/<id>.md`, stamps the schema version this hub reads and validates the result before it is
written, so no command or training script can write a card the hub cannot read.

Every writer goes through it: the training scripts' card writers (`training/write_card.py`,
`training/brain_hemorrhage_card.py`, `training/scalp_microscope_card.py`) and the commands that edit
a card's front matter (`medhub/cardblocks.py` `set_meta`, through `dump_yaml`). The YAML layout is
the cards' own: leaf mappings and lists in flow style, a sha256 always in double quotes (a sha256 of
digits only must not be read back as a number), no anchors; reading a card and dumping it again gives
the same bytes (tests/test_card_contract.py checks every card in model_cards/).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml

from medhub.card_schema import SCHEMA_VERSION
from medhub.cards import parse_card, split_front_matter


class Quoted(str):
    """A string always written in double quotes."""


class _Dumper(yaml.SafeDumper):
    def ignore_aliases(self, data: Any) -> bool:  # no &id001 anchors in a card
        return True


def _represent_dict(dumper: yaml.SafeDumper, d: dict) -> Any:
    flow = all(not isinstance(v, (dict, list)) for v in d.values()) and len(d) <= 6
    return dumper.represent_mapping("tag:yaml.org,2002:map", d.items(), flow_style=flow)


def _represent_list(dumper: yaml.SafeDumper, seq: list) -> Any:
    flow = all(not isinstance(v, (dict, list)) for v in seq) or all(
        isinstance(v, list) and all(not isinstance(x, (dict, list)) for x in v) for v in seq
    )
    return dumper.represent_sequence("tag:yaml.org,2002:seq", seq, flow_style=flow)


def _represent_str(dumper: yaml.SafeDumper, s: str) -> Any:
    style = '"' if isinstance(s, Quoted) or re.fullmatch(r"[0-9a-f]{64}", s) else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", str(s), style=style)


_Dumper.add_representer(dict, _represent_dict)
_Dumper.add_representer(list, _represent_list)
_Dumper.add_representer(str, _represent_str)
_Dumper.add_representer(Quoted, _represent_str)


def dump_yaml(meta: dict[str, Any]) -> str:
    """Front matter as YAML in the cards' layout (see the module docstring)."""
    return yaml.dump(meta, Dumper=_Dumper, sort_keys=False, allow_unicode=True, width=110)


def card_text(data: dict[str, Any], body: str = "") -> str:
    """The text of a card: `data` (the front matter, with the `medhub:` block) with `schema_version:
    SCHEMA_VERSION` first in its block, then the Markdown body (one blank line after the front matter)."""
    block = dict(data.get("medhub") or {})
    block.pop("schema_version", None)
    meta = {**data, "medhub": {"schema_version": SCHEMA_VERSION, **block}}
    return "---\n" + dump_yaml(meta) + "---\n" + ("" if body.startswith("\n") else "\n") + body


def dump_card(data: dict[str, Any], path: Path | str | None = None, *, body: str = "") -> str:
    """The card's text, validated against the schema (`parse_card`: a CardError names the key), and
    written to `path` when one is given. Returns the text."""
    text = card_text(data, body)
    parse_card(text, Path(path) if path else None)
    if path is not None:
        Path(path).write_text(text, encoding="utf-8")
    return text


def load_card_data(text: str) -> tuple[dict[str, Any], str]:
    """(front matter, body) of a card's text: what `dump_card` takes back."""
    return split_front_matter(text)
