"""Every model card validates, and what it declares is usable by the hub (iterates over the cards)."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

import pytest

from medhub.cards import CardError, load_cards, parse_card, read_card

REPO = Path(__file__).resolve().parent.parent
CARDS = load_cards()
IDS = [c.id for c in CARDS]


def test_cards_come_in_the_order_their_cards_state():
    orders = [c.order for c in CARDS]
    assert all(o is not None for o in orders), "every bundled card states its tab position"
    assert orders == sorted(orders) and len(set(orders)) == len(orders)
    assert IDS[0] == "brain_hemorrhage"


@pytest.mark.parametrize("card", CARDS, ids=IDS)
def test_card_contract(card):
    assert card.path.stem == card.id
    assert card.title["en"] and card.title["ko"]
    assert re.search(r"[\uac00-\ud7a3]", card.title["ko"]), "Korean title has no Hangul"
    for label in card.labels:
        assert re.search(r"[\uac00-\ud7a3]", label.ko), f"label {label.id} has no Korean name"
    assert card.input.size[0] >= 32 and card.input.size[1] >= 32
    if len(card.labels) == 2:
        assert card.positive_class in card.label_ids and 0 < card.threshold < 1
    metrics = card.metrics
    assert int(metrics["n"]) > 0, "metrics need the number of test cases"
    for key in ("accuracy", "balanced_accuracy", "auroc", "ece", "per_class", "confusion_matrix"):
        assert key in metrics, f"metrics lack {key}"
    assert set(metrics["per_class"]) <= set(card.label_ids)
    cm = metrics["confusion_matrix"]
    assert sum(map(sum, cm)) == int(metrics["n"])
    assert "not a diagnosis" in card.body.lower() or "not for diagnosis" in card.body.lower()


@pytest.mark.parametrize("card", CARDS, ids=IDS)
def test_bundled_weights_match_card(card):
    folder = REPO / "weights" / card.id
    for f in card.files:
        path = folder / f.name
        assert path.is_file(), f"{path} missing"
        assert hashlib.sha256(path.read_bytes()).hexdigest() == f.sha256, f"{path} sha256 differs from card"
        assert path.stat().st_size <= 30 * 1024 * 1024
    # The weights folder mirrors the Hub repo: it carries the card too.
    assert (folder / "README.md").read_text(encoding="utf-8") == card.path.read_text(encoding="utf-8")


def test_all_bundled_weights_under_100_mb():
    total = sum(p.stat().st_size for p in (REPO / "weights").rglob("*") if p.is_file())
    assert total <= 100 * 1024 * 1024


@pytest.mark.slow
@pytest.mark.parametrize("card", CARDS, ids=IDS)
def test_gradcam_layer_is_spatial(card):
    """The target layer exists in the architecture and is a spatial map, not the pooled 1x1."""
    if card.framework == "torch":
        from medhub._torch_compat import import_torch
        from medhub.architectures.torch_nets import build_torch_model

        torch = import_torch()
        model = build_torch_model(card).eval()
        layer = model.get_submodule(card.gradcam_layer)
        seen = {}
        handle = layer.register_forward_hook(lambda m, i, o: seen.__setitem__("shape", o.shape))
        with torch.no_grad():
            logits = model(torch.zeros(1, 3, *card.input.size))
        handle.remove()
        assert logits.shape == (1, len(card.labels))
        assert seen["shape"][-1] > 1 and seen["shape"][-2] > 1
    else:
        from medhub.architectures.keras_nets import build_keras_model

        model = build_keras_model(card)
        shape = model.get_layer(card.gradcam_layer).output.shape
        assert shape[1] > 1 and shape[2] > 1
        assert model.output.shape[-1] == len(card.labels)


def _template() -> str:
    return (REPO / "model_cards" / "melanoma.md").read_text(encoding="utf-8")


@pytest.mark.parametrize(
    "old,new,message",
    [
        ("framework: torch", "framework: caffe", "framework"),
        ("positive_class: malignant", "positive_class: cancer", "positive_class"),
        ("gradcam_layer:", "gradcam_layr:", "gradcam_layer"),
        ("## Disclaimer", "## Notes", "Disclaimer"),
    ],
)
def test_schema_refuses_broken_cards(old, new, message):
    text = _template()
    assert old in text
    with pytest.raises(CardError, match=message):
        parse_card(text.replace(old, new, 1))


def test_schema_refuses_bad_threshold_and_sha():
    text = _template()
    broken = re.sub(r"threshold: [0-9.]+", "threshold: 1.5", text, count=1)
    with pytest.raises(CardError, match="threshold"):
        parse_card(broken)
    broken = re.sub(r"sha256: \"?[0-9a-f]{64}\"?", "sha256: abc", text, count=1)
    with pytest.raises(CardError, match="sha256"):
        parse_card(broken)


@pytest.mark.parametrize("card", CARDS, ids=IDS)
def test_parsed_card_matches_its_yaml_and_its_published_copy(card):
    """What the hub reads is what the file says (checked against an independent YAML read), and the
    copy published with the weights (weights/<id>/README.md) is the same card."""
    import yaml

    text = card.path.read_text(encoding="utf-8")
    raw = yaml.safe_load(text.split("\n---", 1)[0][3:])["medhub"]
    assert card.id == raw["id"] and card.framework == raw["framework"]
    assert card.label_ids == [lab["id"] for lab in raw["labels"]]
    assert [(f.name, f.sha256) for f in card.files] == [(f["name"], f["sha256"]) for f in raw["hub"]["files"]]
    assert card.threshold == (float(raw["threshold"]) if raw.get("threshold") is not None else None)
    size = raw["input"]["size"]
    assert card.input.size == (tuple(size) if isinstance(size, list) else (size, size))
    assert card.metrics["n"] == raw["metrics"]["n"]
    published = REPO / "weights" / card.id / "README.md"
    if published.is_file():
        assert published.read_text(encoding="utf-8") == text, f"{published} differs from {card.path}"
    import dataclasses

    again = read_card(published if published.is_file() else card.path)
    assert dataclasses.replace(again, path=card.path) == card


def test_every_result_extra_has_a_view_and_every_view_is_registered():
    """Tabs render by what a card asks for: every result extra the schema knows has a view in
    tabs.views.VIEWS, and every tabs/<name>.py that defines `Hooks` is a registered view or the DICOM
    window selector (a misspelt file would otherwise be skipped silently)."""
    import importlib

    from medhub.card_schema import RESULT_EXTRAS
    from tabs.hooks import TabHooks
    from tabs.views import VIEWS

    assert set(VIEWS) == set(RESULT_EXTRAS)
    registered = {cls.__module__ for cls in VIEWS.values()} | {"tabs.dicom_window"}
    for path in sorted((REPO / "tabs").glob("*.py")):
        if path.stem in ("__init__", "samples"):
            continue
        module = importlib.import_module(f"tabs.{path.stem}")
        if hasattr(module, "Hooks"):
            assert issubclass(module.Hooks, TabHooks), f"tabs/{path.name}: Hooks is not a TabHooks"
            assert f"tabs.{path.stem}" in registered, f"tabs/{path.name} is not registered"


@pytest.mark.parametrize("card", CARDS, ids=IDS)
def test_card_behaviour_fields_are_valid(card):
    from medhub.disclaimers import DOMAINS
    from medhub.result_extras import REGISTRY

    assert card.disclaimer_domain in DOMAINS and card.disclaimer_domain != "general", card.id
    assert set(card.result_extras) <= set(REGISTRY)
    assert card.heatmap_class in ("decision", "positive")
    assert card.tab in IDS, f"{card.id}: tab '{card.tab}' is no card id"


# ------------------------------------------------------------------------- the schema of `medhub:`


def _ct_card() -> str:
    return (REPO / "model_cards" / "brain_hemorrhage.md").read_text(encoding="utf-8")


def _read_broken(tmp_path, text: str):
    path = tmp_path / "broken_card.md"
    path.write_text(text, encoding="utf-8")
    return read_card(path)


@pytest.mark.parametrize("card", CARDS, ids=IDS)
def test_every_bundled_card_and_its_copy_validate_against_the_schema(card):
    import yaml

    from medhub.card_schema import SCHEMA_VERSION, MedhubBlock

    for path in (card.path, REPO / "weights" / card.id / "README.md"):
        raw = yaml.safe_load(path.read_text(encoding="utf-8").split("\n---", 1)[0][3:])["medhub"]
        assert raw["schema_version"] == SCHEMA_VERSION, f"{path}: schema_version"
        MedhubBlock.model_validate(raw)  # raises on an unknown key or a wrong type
    assert card.schema_version == SCHEMA_VERSION


def test_an_unknown_key_is_an_error_naming_the_file_and_the_key(tmp_path):
    text = _ct_card().replace("  heatmap_class: positive\n", "  heatmap_clas: positive\n", 1)
    assert text != _ct_card()
    with pytest.raises(CardError, match=r"broken_card\.md.*unknown key 'medhub\.heatmap_clas'"):
        _read_broken(tmp_path, text)
    nested = _ct_card().replace("    dicom_window: brain\n", "    dicom_window: brain\n    windw: bone\n", 1)
    with pytest.raises(CardError, match=r"unknown key 'medhub\.input\.windw'"):
        _read_broken(tmp_path, nested)


@pytest.mark.parametrize(
    "line,message",
    [
        ("", r"broken_card\.md.*missing 'medhub\.schema_version' \(this hub reads schema_version: 1\)"),
        ("  schema_version: 2\n", r"'medhub\.schema_version': schema_version 2 is not one this hub reads"),
        ("  schema_version: '1'\n", r"'medhub\.schema_version': Input should be a valid integer"),
        ("  schema_version: true\n", r"'medhub\.schema_version': Input should be a valid integer"),
    ],
)
def test_a_missing_or_wrong_schema_version_is_an_error(tmp_path, line, message):
    text = _ct_card()
    assert "  schema_version: 1\n" in text
    with pytest.raises(CardError, match=message):
        _read_broken(tmp_path, text.replace("  schema_version: 1\n", line, 1))


@pytest.mark.parametrize(
    "old,new,message",
    [
        ("  order: 10\n", "  order: ten\n", r"'medhub\.order': Input should be a valid integer \(got 'ten'\)"),
        ("  result_extras: [ct_region]\n", "  result_extras: ct_region\n", r"'medhub\.result_extras': Input should be a valid list"),
        ("    dicom: true\n", "    dicom: 'yes'\n", r"'medhub\.input\.dicom': Input should be a valid boolean"),
        ("  heatmap_class: positive\n", "  heatmap_class: negative\n", r"'medhub\.heatmap_class': Input should be 'decision' or 'positive'"),
        ("    dicom_window: brain\n", "    dicom_window: lung\n", r"'medhub\.input\.dicom_window': Input should be 'brain'"),
    ],
)
def test_a_wrong_type_is_an_error_naming_the_key(tmp_path, old, new, message):
    text = _ct_card()
    assert old in text
    with pytest.raises(CardError, match=message):
        _read_broken(tmp_path, text.replace(old, new, 1))


def test_the_schema_knows_the_dicom_window_choices():
    from medhub.card_schema import DICOM_WINDOWS
    from medhub.dicom import WINDOW_CHOICES

    assert tuple(DICOM_WINDOWS) == tuple(WINDOW_CHOICES)


def test_a_dicom_card_names_its_window_and_it_is_the_trained_one(tmp_path):
    text = _ct_card()
    with pytest.raises(CardError, match=r"needs input\.dicom_window"):
        _read_broken(tmp_path, text.replace("    dicom_window: brain\n", "", 1))
    with pytest.raises(CardError, match=r"dicom_window 'subdural' .* is not the window the model was trained on"):
        _read_broken(tmp_path, text.replace("    dicom_window: brain\n", "    dicom_window: subdural\n", 1))
    assert _read_broken(tmp_path, text).input.dicom_window == "brain"
