"""The default CT window of a DICOM upload comes from the card (`input.dicom_window`), through one
function (`medhub.imaging.dicom_window`), for the app's tab, `python -m medhub predict`, `evaluate`
and the bench: a temporary copy of the CT card that names another window changes what all of them
decode."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from medhub.cards import get_card, load_cards, read_card

REPO = Path(__file__).resolve().parent.parent
DICOM_CARDS = [c for c in load_cards() if c.input.dicom]


@pytest.fixture(scope="module")
def ct_card():
    if not DICOM_CARDS:
        pytest.skip("no bundled card reads DICOM")
    return DICOM_CARDS[0]


@pytest.fixture
def subdural_cards(tmp_path, ct_card):
    """A copy of every card, the CT one set to the subdural window (and trained on it, so it validates)."""
    folder = tmp_path / "cards"
    folder.mkdir()
    for card in load_cards():
        shutil.copy(card.path, folder / card.path.name)
    path = folder / ct_card.path.name
    text = path.read_text(encoding="utf-8")
    assert f"dicom_window: {ct_card.input.dicom_window}\n" in text and ct_card.input.dicom_window != "subdural"
    text = text.replace(f"dicom_window: {ct_card.input.dicom_window}\n", "dicom_window: subdural\n", 1)
    text = text.replace("ct_window: {center: 40, width: 80}", "ct_window: {center: 80, width: 200}", 1)
    path.write_text(text, encoding="utf-8")
    return folder, read_card(path)


@pytest.fixture(scope="module")
def dcm(data_root) -> Path:
    path = data_root / "dicom" / "CT_Explicit_Little.dcm"
    if not path.is_file():
        pytest.skip(f"no DICOM slice at {path}")
    return path


def test_the_card_names_the_window_and_one_function_reads_it(ct_card, subdural_cards):
    from medhub.imaging import dicom_window

    _, sub = subdural_cards
    assert dicom_window(ct_card) == ct_card.input.dicom_window == "brain"
    assert dicom_window(sub) == "subdural"
    assert dicom_window(sub, "bone") == "bone" and dicom_window(sub, (50.0, 100.0)) == (50.0, 100.0)
    assert dicom_window(sub, "") == "subdural"
    other = next(c for c in load_cards() if not c.input.dicom)
    assert dicom_window(other) is None and dicom_window(other, "bone") is None


@pytest.mark.data
def test_decoded_slice_and_bench_follow_the_card_window(ct_card, subdural_cards, dcm):
    from medhub.imaging import load_for_card, load_upload
    from medhub.studies.bench.samples import decode

    _, sub = subdural_cards
    brain = load_for_card(ct_card, dcm)
    subdural = load_for_card(sub, dcm)
    assert brain.meta["window"].startswith("brain") and subdural.meta["window"].startswith("subdural")
    assert not np.array_equal(brain.rgb, subdural.rgb), "the window changed nothing"
    assert np.array_equal(subdural.rgb, load_upload(dcm, allow_dicom=True, window="subdural").rgb)
    assert np.array_equal(decode(dcm, sub), subdural.rgb)  # the bench's decode
    assert np.array_equal(decode(dcm, ct_card), brain.rgb)
    # A window the caller names still wins over the card's.
    assert load_for_card(sub, dcm, window="brain").meta["window"].startswith("brain")


@pytest.mark.data
def test_evaluate_decodes_with_the_card_window(monkeypatch, tmp_path, subdural_cards, dcm):
    """`medhub.evaluation.evaluate_dir` (python -m medhub evaluate) hands the model the slice rendered
    with the card's window (the model is a stand-in that records what it is given)."""
    from medhub import evaluation, registry
    from medhub.imaging import load_upload

    _, sub = subdural_cards
    seen: list[np.ndarray] = []

    class Recorder:
        card = sub
        scope = None
        revision = "test"
        source = "test"

        def predict_batch(self, images):
            seen.extend(images)
            return np.tile([0.5, 0.5], (len(images), 1))

    monkeypatch.setattr(registry, "get_predictor", lambda model_id: Recorder())
    data = tmp_path / "data"
    for label in sub.label_ids:
        (data / label).mkdir(parents=True)
        shutil.copy(dcm, data / label / "slice.dcm")
    evaluation.evaluate_dir(sub.id, data)
    expected = load_upload(dcm, allow_dicom=True, window="subdural").rgb
    assert len(seen) == len(sub.label_ids)
    assert all(np.array_equal(img, expected) for img in seen)


def test_the_tab_starts_on_and_passes_the_card_window(subdural_cards):
    """Any DICOM card gets the window selector (tabs.views.hooks_for, not by id); it starts on the
    card's window and hands the choice to the input gate, which resolves it once (none: the card's)."""
    import gradio as gr

    from medhub.imaging import dicom_window
    from tabs.localise import Localiser
    from tabs.views import hooks_for

    _, sub = subdural_cards
    hooks = hooks_for(sub)
    assert hooks.decode_options(sub, {}) == {"window": None}
    assert dicom_window(sub, hooks.decode_options(sub, {})["window"]) == "subdural"
    assert hooks.decode_options(sub, {"window": "bone"}) == {"window": "bone"}
    with gr.Blocks():
        inputs = dict(hooks.build_inputs(sub, Localiser(gr.I18n(en={}))))
    assert inputs["window"].value == "subdural"


@pytest.mark.slow
@pytest.mark.data
def test_predict_cli_renders_with_the_card_window(subdural_cards, dcm):
    folder, sub = subdural_cards
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "MEDHUB_CARDS_DIR": str(folder)}
    out = subprocess.run(
        [sys.executable, "-m", "medhub", "predict", sub.id, str(dcm), "--json", "--show-anyway"],
        capture_output=True, text=True, cwd=REPO, env=env, timeout=600,
    )
    assert out.returncode == 0, out.stderr[-2000:]
    summary = json.loads(out.stdout.strip().splitlines()[-1])
    assert summary["dicom"]["window"].startswith("subdural"), summary.get("dicom")
    assert get_card(sub.id).input.dicom_window == "brain"  # the bundled card is untouched
