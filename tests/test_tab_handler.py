"""The tab's request function in process (no server): what it returns and what it keeps for the
opacity slider."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from medhub.cards import get_card, load_cards

REPO = Path(__file__).resolve().parent.parent


def _card_with_weights():
    for card in load_cards():
        if card.framework == "torch" and (REPO / "weights" / card.id / card.weights_file.name).is_file() \
                and not card.input.dicom:
            return card
    pytest.skip("no bundled torch weights")


def test_handler_keeps_a_model_size_heat_map_and_reblends_to_the_same_overlay(tmp_path):
    from PIL import Image

    from tabs.handler import analyse_file
    from tabs.hooks import TabHooks
    from tabs.wiring import reblend_state

    card = _card_with_weights()
    path = tmp_path / "photo.png"
    rng = np.random.default_rng(0)
    Image.fromarray(rng.integers(0, 255, (2000, 1500, 3), dtype=np.uint8)).save(path)
    label, overlay_file, summary, state = analyse_file(card, TabHooks(), str(path), {}, 0.45, show_anyway=True)
    assert summary["model_id"] == card.id and set(label)
    shown = state["image"]
    # The overlay goes out as a JPEG file (tabs/output_files.py) of the shown image's size.
    with Image.open(overlay_file) as im:
        assert im.format == "JPEG" and im.size == (shown.shape[1], shown.shape[0])
    from medhub import pipeline

    overlay = pipeline.run(card, str(path), opacity=0.45, show_anyway=True).overlay  # the array it encodes
    assert max(shown.shape[:2]) == 1600 and overlay.shape == shown.shape
    # What the session keeps for re-blending is the map at the model's input size, not the image's.
    assert state["heat"].dtype == np.uint8 and state["heat"].shape == tuple(card.input.size)
    again = reblend_state(get_card(card.id), state, 0.45)
    assert again.shape == overlay.shape
    # The same overlay up to the uint8 quantisation of the stored map.
    assert np.abs(again.astype(int) - overlay.astype(int)).max() <= 8
    plain = reblend_state(card, state, 0.0)
    assert np.array_equal(plain, shown)
    assert reblend_state(card, None, 0.5) is None
