"""Sections of a model card written by different commands, kept when another command rewrites the card.

A card (`model_cards/<id>.md`, copied to `weights/<id>/README.md`) is written by its training
recipe's card writer; some of its content is measured later by other commands (the scope check's
fit, the cross-collection matrix, the robustness table). Those commands own

- a Markdown block in the body, between `<!-- medhub:NAME:start -->` and `<!-- medhub:NAME:end -->`
  (`set_block`), placed before the Limitations section when it is new;
- a key of the front matter's `medhub:` mapping (`set_meta`).

A card writer calls `carry_over(old_text, new_text)` before saving, so a retrain never silently drops
them (the command that owns a block re-measures it after a retrain; a stale block says when it was made).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from medhub import cards
from medhub.card_io import dump_yaml
from medhub.cards import parse_card, split_front_matter

# Front-matter keys under `medhub:` that commands other than the card writer own.
OWNED_META_KEYS = ("scope", "cross_collection", "robustness", "disclaimer", "tab", "result_extras", "heatmap_class", "tta", "order", "tab_title")
# Files under `medhub.hub.files` that other commands add (the scope check's statistics).
OWNED_FILES = ("scope.safetensors",)

_BLOCK = re.compile(
    r"<!-- medhub:(?P<name>[a-z0-9_]+):start -->\n.*?<!-- medhub:(?P=name):end -->\n?", re.DOTALL
)


def _markers(name: str) -> tuple[str, str]:
    if not re.fullmatch(r"[a-z0-9_]+", name):
        raise ValueError(f"block name {name!r} must be lower_snake_case")
    return f"<!-- medhub:{name}:start -->", f"<!-- medhub:{name}:end -->"


def get_blocks(text: str) -> dict[str, str]:
    """Every managed block of a card's text: name -> the whole block (markers included)."""
    return {m.group("name"): m.group(0) for m in _BLOCK.finditer(text)}


def set_block(text: str, name: str, markdown: str) -> str:
    """The card text with block `name` replaced by (or, if absent, inserted as) `markdown`."""
    start, end = _markers(name)
    block = f"{start}\n{markdown.strip()}\n{end}\n"
    existing = get_blocks(text).get(name)
    if existing is not None:
        return text.replace(existing, block, 1)
    anchor = re.search(r"^## Limitations", text, flags=re.MULTILINE)
    if anchor is None:
        anchor = re.search(r"^## Disclaimer", text, flags=re.MULTILINE)
    if anchor is None:
        return text.rstrip("\n") + "\n\n" + block
    return text[: anchor.start()] + block + "\n" + text[anchor.start() :]


def _split(text: str) -> tuple[dict[str, Any], str]:
    return split_front_matter(text)


def _dump(meta: dict[str, Any]) -> str:
    """YAML in the card writers' layout (`medhub.card_io.dump_yaml`, the one card writer's)."""
    return dump_yaml(meta)


def set_meta(text: str, key: str, value: Any) -> str:
    """The card text with `medhub.<key>` set to `value` (None removes it); the body is kept as is.

    The front matter is re-dumped, so its layout may change; its content does not.
    """
    meta, _ = _split(text)
    body_start = text.index("\n---", 3) + len("\n---")
    rest = text[body_start:]
    medhub = dict(meta.get("medhub") or {})
    if value is None:
        medhub.pop(key, None)
    else:
        medhub[key] = value
    meta["medhub"] = medhub
    return "---\n" + _dump(meta) + "---" + rest


def carry_over(old_text: str | None, new_text: str) -> str:
    """`new_text` plus the owned front-matter keys and managed blocks of `old_text` it lacks."""
    if not old_text:
        return new_text
    try:
        old_meta, _ = _split(old_text)
    except Exception:  # noqa: BLE001 - an unreadable old card has nothing to carry over
        return new_text
    new_meta, _ = _split(new_text)
    old_medhub = old_meta.get("medhub") or {}
    new_medhub = new_meta.get("medhub") or {}
    out = new_text
    for key in OWNED_META_KEYS:
        if key in old_medhub and key not in new_medhub:
            out = set_meta(out, key, old_medhub[key])
    old_files = [f for f in (old_medhub.get("hub") or {}).get("files") or [] if f.get("name") in OWNED_FILES]
    new_hub = dict(new_medhub.get("hub") or {})
    have = {f.get("name") for f in new_hub.get("files") or []}
    missing = [f for f in old_files if f.get("name") not in have]
    if missing and new_hub:
        new_hub["files"] = list(new_hub.get("files") or []) + missing
        out = set_meta(out, "hub", new_hub)
    new_blocks = get_blocks(out)
    for name, block in get_blocks(old_text).items():
        if name not in new_blocks:
            inner = block.split("\n", 1)[1].rsplit("<!-- medhub:", 1)[0]
            out = set_block(out, name, inner)
    return out


def update_card_file(
    model_id: str, edit, cards_dir: Path | None = None, weights_dir: Path | None = None
) -> Path:
    """Apply `edit(text) -> text` to `model_cards/<id>.md` and write the same text to
    `weights/<id>/README.md` (the card is published with the weights)."""
    path = Path(cards_dir or cards.CARDS_DIR) / f"{model_id}.md"
    text = edit(path.read_text(encoding="utf-8"))
    parse_card(text, path)  # never write a card the hub cannot read
    path.write_text(text, encoding="utf-8")
    copy = Path(weights_dir or cards.REPO_ROOT / "weights") / model_id / "README.md"
    if copy.parent.is_dir():
        copy.write_text(text, encoding="utf-8")
    return path
