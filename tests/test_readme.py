"""The README keeps its promises: two set-up commands, the model table and the endpoints from the cards,
the disclaimer from medhub/disclaimers.py."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
README = (REPO / "README.md").read_text(encoding="utf-8")


def test_space_front_matter():
    head = README.split("---")[1]
    assert "sdk: gradio" in head and "app_file: app.py" in head


def test_exactly_two_setup_commands_and_ci_uses_the_test_one():
    setup = README.split("## Set up", 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(r"```bash\n(.*?)```", setup, flags=re.DOTALL)
    assert [b.strip() for b in blocks] == ["make run", "make test"]
    assert "make test" in (REPO / ".ci" / "run").read_text()


def test_model_table_matches_cards():
    out = subprocess.run([sys.executable, "scripts/update_readme.py", "--check"], cwd=REPO,
                         capture_output=True, text=True)
    assert out.returncode == 0, out.stderr


def test_every_card_and_its_endpoint_are_named():
    """The endpoint list is written by hand: every card's `/predict_<id>` is in it, and no endpoint that
    does not exist (a DICOM card also has `/predict_<id>_series`)."""
    from medhub.cards import load_cards

    cards = load_cards()
    ids = {card.id for card in cards}
    existing = ids | {f"{card.id}_series" for card in cards if card.input.dicom}
    named = set(re.findall(r"`/predict_(\w+)`", README))
    assert ids <= named, f"missing from the README: {sorted(ids - named)}"
    assert named <= existing, f"not an endpoint: {sorted(named - existing)}"


def test_disclaimer_in_both_languages():
    """The README's disclaimer is the general text of medhub/disclaimers.py, in both languages."""
    from medhub.disclaimers import disclaimer

    quoted = " ".join(line[1:].strip() for line in README.splitlines() if line.startswith(">"))
    for lang in ("en", "ko"):
        assert disclaimer("general", lang) in quoted, lang
    assert "not a diagnosis" in quoted and "진단이 아니며" in quoted


def test_fast_subset_is_a_note_not_a_setup_command():
    setup = README.split("## Set up", 1)[1].split("\n## ", 1)[0]
    assert "make test-fast" in setup
    assert "test-fast:" in (REPO / "Makefile").read_text()


def test_architecture_names_every_module_and_command():
    """docs/ARCHITECTURE.md names every module of medhub/ and tabs/ (a tab's own hooks as `tabs/<id>.py`)
    and every sub-command of `python -m medhub`."""
    from medhub.cards import load_cards
    from medhub.cli import build_parser

    doc = (REPO / "docs" / "ARCHITECTURE.md").read_text(encoding="utf-8")
    card_ids = {card.id for card in load_cards()}
    missing = []
    for package in ("medhub", "tabs"):
        for path in sorted((REPO / package).rglob("*.py")):
            rel = path.relative_to(REPO).as_posix()
            if package == "tabs" and path.stem in card_ids:
                continue  # a model's own hooks: the `tabs/<id>.py` row
            # a package's __init__ / __main__: its folder is named (`medhub/bench/`)
            shown = rel.rsplit("/", 1)[0] + "/" if path.name in ("__init__.py", "__main__.py") else rel
            if shown not in doc and f"`{path.name}`" not in doc:
                missing.append(rel)
    assert not missing, f"not in docs/ARCHITECTURE.md: {missing}"
    sub = next(a for a in build_parser()._actions if a.__class__.__name__ == "_SubParsersAction")
    commands = set(sub.choices)
    assert {"predict", "evaluate", "bench"} <= commands
    cli_row = next(line for line in doc.splitlines() if line.startswith("| CLI:"))
    assert not [c for c in commands if c not in cli_row], cli_row
