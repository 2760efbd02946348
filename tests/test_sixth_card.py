"""Adding a condition is a card and its weights: a tiny sixth model, written to a temporary folder,
gets its tab, its API endpoint, its CLI and its card validation with no code change."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from medhub.cards import load_cards, read_card
from tests.app_server import make_client, running_app
from tests.tiny_models import save_tiny_weights, tiny_card

REPO = Path(__file__).resolve().parent.parent



@pytest.fixture(scope="module")
def sixth(tmp_path_factory):
    """(cards dir, weights dir) holding only the sixth card and its (random, seeded) weights."""
    root = tmp_path_factory.mktemp("sixth")
    cards, weights = root / "cards", root / "weights" / "tiny_sixth"
    cards.mkdir()
    sha = save_tiny_weights(weights / "model.safetensors")
    (cards / "tiny_sixth.md").write_text(tiny_card("tiny_sixth", sha, 60, "Tiny sixth model", "작은 여섯 번째 모델"))
    return cards, weights.parent


def _env(sixth) -> dict[str, str]:
    cards, weights = sixth
    return {"MEDHUB_CARDS_DIR": str(cards), "MEDHUB_WEIGHTS_DIR": str(weights), "MEDHUB_WEIGHTS_ORDER": "local",
            "HF_HUB_OFFLINE": "1"}


def test_the_card_validates(sixth):
    cards, _ = sixth
    (card,) = load_cards(cards)
    assert card.id == "tiny_sixth" and card.order == 60 and card.tab == "tiny_sixth"
    assert read_card(cards / "tiny_sixth.md") == card


@pytest.mark.slow
def test_its_cli_works(sixth, tmp_path):
    from PIL import Image

    image = tmp_path / "x.png"
    Image.fromarray(np.random.default_rng(0).integers(0, 255, (80, 90, 3), dtype=np.uint8)).save(image)
    out = subprocess.run([sys.executable, "-m", "medhub", "predict", "tiny_sixth", str(image), "--json"],
                         capture_output=True, text=True, cwd=REPO, env={**os.environ, **_env(sixth)}, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    summary = json.loads(out.stdout)
    assert summary["model_id"] == "tiny_sixth" and set(summary["probabilities"]) == {"calm", "busy"}
    assert summary["in_scope"] is True and summary["scope_score"] is None  # no scope check fitted


@pytest.mark.server
def test_its_tab_and_endpoint_work(sixth, artifacts_dir, tmp_path):
    from gradio_client import handle_file
    from PIL import Image

    image = tmp_path / "x.png"
    Image.fromarray(np.random.default_rng(1).integers(0, 255, (70, 70, 3), dtype=np.uint8)).save(image)
    with running_app(artifacts_dir / "app_server_sixth.log", **_env(sixth)) as url:
        client = make_client(url)
        api = client.view_api(return_format="dict", print_info=False)
        assert "/predict_tiny_sixth" in api["named_endpoints"]
        label, overlay, summary = client.predict(handle_file(str(image)), api_name="/predict_tiny_sixth")
        assert summary["model_id"] == "tiny_sixth"
        assert abs(sum(summary["probabilities"].values()) - 1) < 1e-4
        import httpx

        config = httpx.get(f"{url}/config", timeout=30).json()
        ids = [c.get("props", {}).get("elem_id") for c in config["components"]]
        assert "tab-tiny_sixth" in ids and "file-tiny_sixth" in ids


def _variant(text: str, model_id: str, block: str, labels: str | None = None) -> str:
    """The tiny card as another id, with extra `medhub:` keys (and other labels)."""
    text = text.replace("tiny_sixth", model_id).replace("  disclaimer: dermatology\n", f"  disclaimer: dermatology\n{block}")
    if labels is not None:
        start = text.index("  labels:\n")
        end = text.index("  positive_class:")
        text = text[:start] + labels + text[end:].replace("  positive_class: busy\n  threshold: 0.5\n", "")
    return text


SEVERITY_LABELS = """  labels:
  - {id: none, en: None, ko: 없음, grade: 0}
  - {id: mild, en: Mild, ko: 경증, grade: 1}
  - {id: severe, en: Severe, ko: 중증, grade: 3}
"""
HEADS = """  output: graded_heads
  heads:
  - id: flakes
    en: flakes
    ko: 각질
    bins: [0.0, 0.1, 0.2]
    grades:
    - {en: none, ko: 양호}
    - {en: mild, ko: 경증}
    - {en: moderate, ko: 중등도}
    - {en: severe, ko: 중증}
  result_extras: [graded_heads]
"""


@pytest.mark.parametrize("variant", ["severity_dicom", "graded"])
def test_a_sixth_card_that_reuses_views_and_dicom_input_needs_no_tab_file(sixth, variant):
    """A new card that reuses `severity`, `graded_heads` or DICOM input gets their UI from what it asks
    for (tabs.views.hooks_for), with no file under tabs/ naming it."""
    import gradio as gr

    from medhub.cards import parse_card
    from tabs.layout import build_tab
    from tabs.localise import Localiser
    from tabs.views import hooks_for

    cards, _ = sixth
    base = (cards / "tiny_sixth.md").read_text(encoding="utf-8")
    if variant == "severity_dicom":
        text = _variant(base, "tiny_scale", "  result_extras: [severity]\n", SEVERITY_LABELS)
        text = text.replace("mean: [0.5, 0.5, 0.5], std: [0.5, 0.5, 0.5]}",
                            "mean: [0.5, 0.5, 0.5], std: [0.5, 0.5, 0.5], dicom: true, dicom_window: brain}")
        wanted = ["window-tiny_scale", "scale-tiny_scale", "severity-tiny_scale"]
    else:
        text = _variant(base, "tiny_graded", HEADS, SEVERITY_LABELS)
        wanted = ["graded-tiny_graded"]
    card = parse_card(text)
    assert not list((REPO / "tabs").glob(f"{card.id}*.py"))
    hooks = hooks_for(card)
    with gr.Blocks() as demo:
        lang = gr.Radio(["en", "ko"], value="en")
        parts = build_tab(card, hooks, Localiser(gr.I18n(en={})), lang, [])
    ids = {getattr(block, "elem_id", None) for block in demo.blocks.values()}
    assert set(wanted) <= ids, sorted(i for i in ids if i)
    assert ("window" in parts.option_names) == card.input.dicom
    assert len(parts.hook_outputs) == len(hooks.render(card, None, "en"))
