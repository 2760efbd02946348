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


# ------------------------------------------------------------- the endpoints, from the cards (issue 21)


def test_every_endpoint_and_its_recipe_are_in_the_readme():
    """The generated block names every card's endpoint, its parameters and a curl call with every value."""
    from medhub.cards import load_cards
    from tabs.api_docs import endpoint_parameters

    block = README.split("<!-- endpoints:start -->", 1)[1].split("<!-- endpoints:end -->", 1)[0]
    for card in load_cards():
        row = next((line for line in block.splitlines() if f"`/predict_{card.id}`" in line), None)
        assert row is not None, f"/predict_{card.id} is not in the endpoint table"
        assert [n for n, _ in endpoint_parameters(card)] == re.findall(r"`(\w+)` \(", row), row
        call = next((line for line in block.splitlines() if line.startswith(f"call predict_{card.id} ")), None)
        assert call is not None and call.count(",") == len(endpoint_parameters(card)) - 1, call


def test_endpoint_parameters_are_the_apps():
    """What the README and the About tab say each endpoint takes (name and default, in order) is what the
    app's API says (a tab option added in a hook but not here fails this)."""
    import app
    from medhub.cards import load_cards
    from tabs.api_docs import endpoint_parameters

    named = app.demo.get_api_info()["named_endpoints"]
    for card in load_cards():
        params = named[f"/predict_{card.id}"]["parameters"]
        assert params[0]["parameter_name"] == "file"
        assert [(p["parameter_name"], p["parameter_default"]) for p in params[1:]] == endpoint_parameters(card)


def test_about_tab_has_every_endpoint_and_recipe_in_both_languages():
    import app
    from medhub.cards import load_cards

    cards = load_cards()
    for lang in ("en", "ko"):
        about = app.about_markdown(cards, lang)
        for card in cards:
            assert f"`/predict_{card.id}`" in about and f"call predict_{card.id} " in about, (lang, card.id)


def test_curl_recipe_is_valid_bash():
    from medhub.cards import load_cards
    from tabs.api_docs import curl_recipes

    script = curl_recipes(load_cards()).removeprefix("```bash\n").removesuffix("\n```")
    out = subprocess.run(["bash", "-n"], input=script, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr


def test_readme_says_what_an_out_of_scope_answer_carries():
    api = README.split("## Use it from code", 1)[1].split("\n## ", 1)[0]
    assert "keyed by **label id**" in api
    for null in ("`probabilities`", "`decision`", "the overlay is `null`", "the Label is\nempty"):
        assert null in api, null


def test_readme_screenshots_exist():
    shots = re.findall(r"!\[[^\]]*\]\((assets/[^)]+)\)", README)
    assert {"assets/screenshot.png", "assets/screenshot_ko.png"} <= set(shots)
    assert all((REPO / s).is_file() for s in shots), shots


def test_an_unlabelled_sample_names_no_class():
    """A sample without a ground-truth label (CQ500 slices) is captioned without a finding, and the
    listing's comments claim none for it either."""
    from medhub.cards import load_cards
    from tabs.samples import SAMPLES_FILE, sample_list

    cards = {c.id: c for c in load_cards()}
    comments = " ".join(line for line in SAMPLES_FILE.read_text(encoding="utf-8").splitlines()
                        if line.lstrip().startswith("#")).lower()
    unlabelled = 0
    for model_id, items in sample_list().items():
        names = {w.lower() for lab in cards[model_id].labels for w in (lab.id, lab.en, lab.ko)}
        names |= {"normal", "hemorrhage", "bleed", "looks"}
        for item in items:
            if item.get("label"):
                continue
            unlabelled += 1
            captions = f"{item.get('caption', '')} {item.get('caption_ko', '')}".lower()
            assert not [n for n in names if n in captions], item
            assert "no label" in captions and "라벨 없음" in captions, item
            stem = item["path"].rsplit("/", 1)[-1].rsplit(".", 1)[0].lower()
            near = comments.split(stem, 1)[1][:60] if stem in comments else ""
            assert not [n for n in names if n in near], f"the comment about {stem} claims '{near}'"
    assert unlabelled, "the listing has unlabelled samples (the DICOM files)"
