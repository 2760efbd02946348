"""The running app through its API (gradio_client, offline), one case per model card.

The app is started once per session by `tests/app_server.py` (`python app.py` in a subprocess) and
serves the cards and weights of the repository. Every `/predict_<id>` endpoint gets a real sample of
its model's TEST split (from assets/samples.yaml; skipped without ../shared/data). Iterating over
`load_cards()` means a new card is tested without a new test.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from medhub.cards import ModelCard, load_cards
from medhub.disclaimers import disclaimer
from medhub.imaging import load_upload
from medhub.pipeline import MAX_DISPLAY_SIDE
from tabs.samples import sample_list
from tests.app_server import make_client

CARDS = load_cards()
CARD_IDS = [c.id for c in CARDS]
DICOM_SLICE = Path("dicom") / "cq500" / "CT000001.dcm"  # JPEG Lossless


@pytest.fixture(scope="module")
def client(app_url):
    return make_client(app_url)


def sample_for(card: ModelCard, data_root: Path) -> Path:
    """The first listed test-split image of this model (not a DICOM file)."""
    for item in sample_list().get(card.id, []):
        path = data_root / item["path"]
        if path.suffix.lower() != ".dcm" and path.is_file():
            return path
    pytest.skip(f"no sample image for {card.id} under {data_root}")


def check_result(card: ModelCard, result, input_path: Path, **decode) -> dict:
    """The three outputs of a /predict_<id> call, checked against the card; returns the summary."""
    assert isinstance(result, (tuple, list)) and len(result) == 3, "expected (label, overlay, summary)"
    label, overlay_path, summary = result

    confidences = {c["label"]: c["confidence"] for c in label["confidences"]}
    assert set(confidences) == set(card.label_ids), "the Label lists every class of the card, by label id"
    assert abs(sum(confidences.values()) - 1.0) < 1e-3
    assert summary["labels"] == {lab.id: {"en": lab.en, "ko": lab.ko} for lab in card.labels}

    assert list(summary["probabilities"]) == card.label_ids, "probabilities over exactly the card's labels"
    assert abs(sum(summary["probabilities"].values()) - 1.0) < 1e-3
    for lid, p in summary["probabilities"].items():
        assert abs(confidences[lid] - p) < 1e-4, "Label and JSON disagree"
    assert summary["model_id"] == card.id
    assert summary["decision"] in card.label_ids
    assert summary["threshold"] == card.threshold
    assert summary["revision"], "the summary names the weights' revision"
    assert summary["disclaimer"] == disclaimer(card.disclaimer_domain, "en")
    assert summary["in_scope"] is True, f"{card.id}: its own test sample was refused"
    assert summary["suggested_model"] is None
    if card.is_binary:
        p = summary["probabilities"][card.positive_class]
        assert (summary["decision"] == card.positive_class) == (p >= card.threshold)
    else:
        assert summary["decision"] == max(summary["probabilities"], key=summary["probabilities"].get)

    decoded = load_upload(input_path, allow_dicom=card.input.dicom, **decode)
    assert max(decoded.rgb.shape[:2]) <= MAX_DISPLAY_SIDE, "test inputs are shown at their own size"
    with Image.open(overlay_path) as img:
        assert img.size == (decoded.rgb.shape[1], decoded.rgb.shape[0]), "overlay at the input's size"
        overlay = np.asarray(img.convert("RGB"))
    assert not np.array_equal(overlay, decoded.rgb), "the overlay must differ from the plain input"
    assert (summary["input"]["width"], summary["input"]["height"]) == img.size
    return summary


@pytest.mark.server
def test_view_api_lists_exactly_one_endpoint_per_card(client):
    api = client.view_api(return_format="dict", print_info=False)
    named = set(api["named_endpoints"]) - {f"/report_{cid}" for cid in CARD_IDS}  # issue 19: PDF reports
    from tabs.series import supports_series  # a CT card also has /predict_<id>_series (issue 20)

    series = {f"/predict_{c.id}_series" for c in CARDS if supports_series(c)}
    assert named == {f"/predict_{cid}" for cid in CARD_IDS} | series, "UI-only events must stay private"
    assert not api["unnamed_endpoints"]
    for cid in CARD_IDS:
        params = api["named_endpoints"][f"/predict_{cid}"]["parameters"]
        # file or image_url (issue 20: MCP clients send URLs): neither alone is required
        assert params[0]["parameter_name"] == "file" and params[-1]["parameter_name"] == "image_url"
        assert all(p["parameter_has_default"] for p in params), "file defaults to None, image_url to ''"
        assert len(api["named_endpoints"][f"/predict_{cid}"]["returns"]) == 3


@pytest.mark.server
def test_tta_parameter_exactly_where_the_card_offers_it(client):
    """The `tta` parameter (and the tab's checkbox) comes from the card's `tta: true`, nowhere else."""
    api = client.view_api(return_format="dict", print_info=False)
    for card in CARDS:
        names = [p["parameter_name"] for p in api["named_endpoints"][f"/predict_{card.id}"]["parameters"]]
        assert ("tta" in names) == card.tta, card.id
    assert any(card.tta for card in CARDS) and not all(card.tta for card in CARDS)


@pytest.mark.server
@pytest.mark.data
@pytest.mark.timeout(60, func_only=True)  # a hang guard on the request only; timings belong to the bench
@pytest.mark.parametrize("card", CARDS, ids=CARD_IDS)
def test_endpoint_on_a_real_test_sample(client, card, data_root):
    path = sample_for(card, data_root)
    from gradio_client import handle_file

    result = client.predict(handle_file(str(path)), api_name=f"/predict_{card.id}")
    summary = check_result(card, result, path)
    assert summary["input"]["kind"] == "image"


# What each result extra (medhub/result_extras.py, named by a card's `result_extras`) adds to the summary.
EXTRA_KEYS = {
    "ct_region": ("hotspot_outside_head", "explanation_en", "explanation_ko"),  # region: None outside the head
    "abcd": ("abcd",),
    "severity": ("severity",),
    "see_a_doctor_soon": ("advice_en", "advice_ko"),
    "graded_heads": ("graded",),
}
WITH_EXTRAS = [c for c in CARDS if c.result_extras]


def test_every_result_extra_has_its_summary_keys_listed():
    from medhub.result_extras import REGISTRY

    assert set(EXTRA_KEYS) == set(REGISTRY)


@pytest.mark.server
@pytest.mark.data
@pytest.mark.parametrize("card", WITH_EXTRAS, ids=[c.id for c in WITH_EXTRAS])
def test_result_extras_are_in_the_summary(client, card, data_root):
    from gradio_client import handle_file

    path = sample_for(card, data_root)
    summary = client.predict(handle_file(str(path)), api_name=f"/predict_{card.id}")[2]
    for name in card.result_extras:
        for key in EXTRA_KEYS[name]:
            assert summary.get(key) is not None, f"{card.id}: '{key}' ({name}) missing from the summary"
    if "severity" in card.result_extras:
        sev = summary["severity"]
        assert 0 <= sev["expected_grade"] <= sev["max_grade"]
        assert sev["grade"] == card.label(summary["decision"]).grade
    if "abcd" in card.result_extras:
        assert isinstance(summary["abcd"]["found"], bool)
    if "graded_heads" in card.result_extras:
        assert [h["id"] for h in summary["graded"]["heads"]] == [h.id for h in card.heads]


@pytest.mark.server
@pytest.mark.data
@pytest.mark.skipif("melanoma" not in CARD_IDS, reason="no melanoma card")
def test_melanoma_tta_averages_six_views(client, data_root):
    from gradio_client import handle_file

    card = next(c for c in CARDS if c.id == "melanoma")
    path = sample_for(card, data_root)
    plain = client.predict(handle_file(str(path)), api_name="/predict_melanoma")[2]
    tta = client.predict(handle_file(str(path)), True, api_name="/predict_melanoma")[2]
    assert tta["tta_views"] == 6 and "tta_views" not in plain
    assert abs(sum(tta["probabilities"].values()) - 1.0) < 1e-3


@pytest.mark.server
@pytest.mark.data
@pytest.mark.skipif("brain_hemorrhage" not in CARD_IDS, reason="no brain_hemorrhage card")
def test_dicom_with_subdural_window_and_no_identifiers(client, data_root):
    import pydicom
    from gradio_client import handle_file

    card = next(c for c in CARDS if c.id == "brain_hemorrhage")
    path = data_root / DICOM_SLICE
    if not path.is_file():
        pytest.skip(f"{path} not found")
    result = client.predict(handle_file(str(path)), "subdural", api_name="/predict_brain_hemorrhage")
    summary = check_result(card, result, path, window="subdural")
    assert summary["input"]["kind"] == "dicom"
    assert summary["dicom"]["window"].startswith("subdural"), summary["dicom"]
    assert summary["dicom"]["modality"] == "CT"

    header = pydicom.dcmread(path, stop_before_pixels=True)
    text = json.dumps(summary, ensure_ascii=False)
    identifiers = (
        "PatientName", "PatientID", "PatientBirthDate", "StudyInstanceUID", "SeriesInstanceUID",
        "SOPInstanceUID", "AccessionNumber", "InstitutionName", "StudyDate", "ReferringPhysicianName",
    )
    for keyword in identifiers:
        assert keyword not in text
        value = str(header.get(keyword, "") or "").strip()
        if len(value) >= 4:  # short values (e.g. "0") could appear by chance in numbers
            assert value not in text, f"{keyword} leaked into the summary"


@pytest.mark.server
@pytest.mark.data
def test_bad_upload_is_a_clean_bilingual_error_and_the_server_keeps_serving(client, tmp_path, data_root):
    from gradio_client import handle_file
    from gradio_client.exceptions import AppError

    fake = tmp_path / "not_an_image.png"
    fake.write_text("<html><body>hello</body></html>")
    card = CARDS[0]
    with pytest.raises(AppError) as err:
        client.predict(handle_file(str(fake)), api_name=f"/predict_{card.id}")
    message = str(err.value)
    assert "not a supported image" in message and "지원하지 않는" in message
    assert "Traceback" not in message
    check_result(card, client.predict(handle_file(str(sample_for(card, data_root))),
                                      api_name=f"/predict_{card.id}"), sample_for(card, data_root))


@pytest.mark.server
@pytest.mark.data
def test_plain_http_flow_of_the_about_tab(app_url, data_root):
    """The curl recipe shown in the About tab: upload, start the call, read the event stream."""
    import httpx

    card = CARDS[-1]
    path = sample_for(card, data_root)
    with httpx.Client(base_url=app_url, timeout=60) as http:
        info = http.get("/gradio_api/info").json()["named_endpoints"][f"/predict_{card.id}"]
        uploaded = http.post("/gradio_api/upload", files={"files": (path.name, path.read_bytes())})
        uploaded.raise_for_status()
        server_path = uploaded.json()[0]
        # plain HTTP wants one value per parameter: the file, then every default
        defaults = [p["parameter_default"] for p in info["parameters"][1:]]
        payload = {"data": [{"path": server_path, "meta": {"_type": "gradio.FileData"}}, *defaults]}
        started = http.post(f"/gradio_api/call/predict_{card.id}", json=payload)
        started.raise_for_status()
        event_id = started.json()["event_id"]
        stream = http.get(f"/gradio_api/call/predict_{card.id}/{event_id}").text
    lines = [line for line in stream.splitlines() if line.startswith("data:")]
    assert "event: complete" in stream, stream[-500:]
    label, overlay, summary, page_state = json.loads(lines[-1][len("data:"):])
    assert page_state is None, "the UI's state never leaves the server"
    assert summary["model_id"] == card.id
    assert abs(sum(summary["probabilities"].values()) - 1.0) < 1e-3
    assert overlay["url"], "the overlay comes back as a file URL"


# ---- the tab helpers, without a server -------------------------------------------------------


def test_large_images_are_shown_smaller_with_the_same_shape():
    from medhub.pipeline import fit_for_display

    small = np.zeros((300, 200, 3), np.uint8)
    assert fit_for_display(small) is small
    big = fit_for_display(np.zeros((4000, 3000, 3), np.uint8))
    assert big.shape == (MAX_DISPLAY_SIDE, 1200, 3)


@pytest.mark.server
@pytest.mark.data
def test_a_large_upload_is_analysed_and_shown_downscaled(client, data_root, tmp_path):
    """An image longer than MAX_DISPLAY_SIDE: the model reads it all, the overlay comes back smaller
    with the same aspect, and the summary states both sizes."""
    from gradio_client import handle_file
    from PIL import Image

    card = next(c for c in CARDS if not c.input.dicom)
    with Image.open(sample_for(card, data_root)) as img:
        big = img.convert("RGB").resize((MAX_DISPLAY_SIDE * 3 // 2, MAX_DISPLAY_SIDE * 9 // 8))
    path = tmp_path / "large.png"
    big.save(path)
    label, overlay_path, summary = client.predict(handle_file(str(path)), api_name=f"/predict_{card.id}")
    assert (summary["input"]["width"], summary["input"]["height"]) == big.size
    shown = (summary["input"]["shown_width"], summary["input"]["shown_height"])
    assert max(shown) == MAX_DISPLAY_SIDE and shown == (MAX_DISPLAY_SIDE, MAX_DISPLAY_SIDE * 3 // 4)
    with Image.open(overlay_path) as overlay:
        assert overlay.size == shown


@pytest.mark.server
@pytest.mark.data
def test_out_of_scope_upload_gets_no_decision_and_names_the_right_tab(client, data_root):
    """A head-CT slice sent to a dermoscopy endpoint: no class bars, no decision, the reason, the
    suggested tab; asked to show it anyway, the probabilities and the decision come back flagged."""
    from gradio_client import handle_file

    ids = {c.id for c in CARDS}
    if not {"melanoma", "brain_hemorrhage"} <= ids:
        pytest.skip("needs the melanoma and brain hemorrhage cards")
    ct = sample_for(next(c for c in CARDS if c.id == "brain_hemorrhage"), data_root)
    label, overlay_path, summary = client.predict(handle_file(str(ct)), api_name="/predict_melanoma")
    assert summary["in_scope"] is False and summary["decision"] is None
    assert summary["suggested_model"] == "brain_hemorrhage"
    assert summary["scope_score"] > summary["scope_threshold"] or summary["scope_reason"] == "family"
    assert not (label or {}).get("confidences"), "no class bars out of scope"
    assert summary["probabilities"] is None and overlay_path is None, "no probabilities, no heat map"
    assert "not a diagnosis" in summary["disclaimer"]
    label, _, anyway = client.predict(handle_file(str(ct)), False, 0.45, True, api_name="/predict_melanoma")
    assert anyway["decision"] in ("benign", "malignant") and anyway["shown_anyway"] is True
    assert len(label["confidences"]) == 2


def test_every_ui_string_exists_in_english_and_korean():
    from medhub.i18n import STRINGS, translations

    for key, value in STRINGS.items():
        assert value.get("en") and value.get("ko"), f"'{key}' lacks a language"
    # the browser's formatter gets no Python format fields
    assert all("{" not in text for texts in translations().values() for text in texts.values())


def test_heat_map_goes_where_the_model_looked():
    from medhub.cards import InputContract
    from medhub.pipeline import heat_on_image

    heat = np.zeros((8, 8), np.float32)
    heat[0, 0] = 1.0  # top-left of what the model saw
    squash = InputContract("dermoscopy", (8, 8), 3, (0.5,) * 3, (0.5,) * 3, resize="squash")
    crop = InputContract("dermoscopy", (8, 8), 3, (0.5,) * 3, (0.5,) * 3, resize="center_crop")
    full = heat_on_image(heat, (40, 80), squash)
    assert full.shape == (40, 80) and np.unravel_index(full.argmax(), full.shape)[1] < 10
    cropped = heat_on_image(heat, (40, 80), crop)  # the model saw the central 40 x 40 square
    assert cropped.shape == (40, 80)
    assert cropped[:, :20].max() == 0 and cropped[:, 60:].max() == 0
    assert 20 <= np.unravel_index(cropped.argmax(), cropped.shape)[1] < 30


@pytest.mark.parametrize("card", [c for c in CARDS if c.is_binary], ids=lambda c: c.id)
def test_decision_sentence_states_the_threshold_rule(card):
    from tabs.texts import decision_text

    pos = card.positive_class
    other = next(lid for lid in card.label_ids if lid != pos)
    at = {"probabilities": {pos: card.threshold, other: 1 - card.threshold}, "decision": pos}
    below = {"probabilities": {pos: card.threshold - 0.01, other: 1.01 - card.threshold}, "decision": other}
    assert f"≥ threshold {card.threshold:.2f}" in decision_text(at, card, "en")
    assert f"< threshold {card.threshold:.2f}" in decision_text(below, card, "en")
    assert "임계값" in decision_text(at, card, "ko")
    assert card.label(pos).ko in decision_text(at, card, "ko")


@pytest.mark.parametrize("card", CARDS, ids=CARD_IDS)
def test_metrics_table_comes_from_the_card(card):
    from tabs.texts import metrics_markdown

    text = metrics_markdown(card, "en")
    assert f"n = {card.metrics['n']}" in text
    for label_id in (card.metrics.get("per_class") or {}):
        assert card.label(label_id).en in text


@pytest.mark.server
@pytest.mark.data
def test_a_model_that_cannot_load_leaves_its_tab_up_with_the_reason(artifacts_dir, tmp_path, data_root):
    """No weights anywhere: the app still starts, every endpoint answers with how to fix it."""
    from gradio_client import handle_file
    from gradio_client.exceptions import AppError

    from tests.app_server import running_app

    if not CARDS:
        pytest.skip("no cards")
    card = CARDS[0]
    empty = tmp_path / "no_weights"
    empty.mkdir()
    env = {"MEDHUB_WEIGHTS_DIR": str(empty), "MEDHUB_WEIGHTS_ORDER": "local"}
    with running_app(artifacts_dir / "app_server_no_weights.log", **env) as url:
        client = make_client(url)
        api = client.view_api(return_format="dict", print_info=False)
        assert f"/predict_{card.id}" in api["named_endpoints"]
        listed = [data_root / item["path"] for item in sample_list().get(card.id, [])]
        image = next(p for p in listed if p.is_file())
        with pytest.raises(AppError) as err:
            client.predict(handle_file(str(image)), api_name=f"/predict_{card.id}")
        assert f"no weights for '{card.id}'" in str(err.value) and "To fix" in str(err.value)


@pytest.mark.data
def test_sample_gallery_is_hidden_without_a_source_and_filled_with_one(monkeypatch, tmp_path, data_root):
    from tabs.samples import load_samples

    monkeypatch.delenv("MEDHUB_SAMPLES_DIR", raising=False)
    monkeypatch.delenv("MEDHUB_SAMPLES_REPO", raising=False)
    samples, root = load_samples(CARDS)
    assert root is None and all(not items for items in samples.values())

    monkeypatch.setenv("MEDHUB_SAMPLES_DIR", str(tmp_path))  # a folder without the listed files
    samples, root = load_samples(CARDS)
    assert all(not items for items in samples.values())

    monkeypatch.setenv("MEDHUB_SAMPLES_DIR", str(data_root))
    samples, root = load_samples(CARDS)
    for card in CARDS:
        listed = sample_list().get(card.id, [])
        assert listed and len(samples[card.id]) == len(listed), f"{card.id}: a listed sample is missing or refused"
        # The gallery shows more than one answer, in the card's own labels (no fixed count per model).
        labels = {item["label"] for item in listed if item.get("label")}
        assert labels <= set(card.label_ids), f"{card.id}: samples labelled {labels - set(card.label_ids)}"
        assert len(labels) >= 2, f"{card.id}: its samples show one label only"
        for sample in samples[card.id]:
            assert Path(sample.thumb).is_file() and Path(sample.path).is_file()
            assert sample.caption("en") and sample.caption("ko")


@pytest.mark.parametrize("card", CARDS, ids=CARD_IDS)
def test_labelled_samples_come_from_the_test_split_with_their_label(card):
    import csv

    from medhub.cards import REPO_ROOT

    split_file = REPO_ROOT / "training" / "splits" / f"{card.id}.csv"
    if not split_file.is_file():
        pytest.skip(f"no split file for {card.id}")
    with split_file.open(newline="") as fh:
        rows = {row["path"]: row for row in csv.DictReader(fh)}
    for item in sample_list().get(card.id, []):
        if "label" not in item:
            continue  # unlabelled extras (the CQ500 DICOM slices are in no split)
        row = rows.get(item["path"])
        assert row is not None, f"{item['path']} is not in {split_file.name}"
        assert row["split"] == "test", f"{item['path']} is in the {row['split']} split"
        assert row["label"] == item["label"] and item["label"] in card.label_ids
