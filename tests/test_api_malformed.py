"""Hostile and broken uploads through the running app's API: a clean typed error, every time.

Every file of the malformed-input corpus (`medhub/studies/malformed_corpus.py`) goes to the endpoint of a
DICOM-capable tab. A file the input gate refuses must come back as an error whose text contains the
gate's English message for that file (the message is computed here by calling the gate directly, so
sizes and names in it match; HTML-escaped, as gr.Error messages are HTML), without a traceback
(how long each decode takes is measured by a command, not asserted here); a valid-but-odd file must succeed.
DICOM files renamed to .png go to a photo tab, which must refuse them as DICOM. After every file the
server must still answer (its config route), and at the end a valid image still works everywhere.
Files without an extension (DICOM as scanners name it, IM000001), `.jfif` and `.dicom` pass the upload
box and are decided by content.
"""

from __future__ import annotations

import html
import shutil
import threading
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from medhub.cards import load_cards
from medhub.imaging import InputError, load_upload
from medhub.studies.malformed_corpus import build_corpus
from tests.app_server import make_client

CARDS = load_cards()
DICOM_CARD = next((c for c in CARDS if c.input.dicom), None)
PHOTO_CARD = next((c for c in CARDS if not c.input.dicom), None)

pytestmark = pytest.mark.server  # every test goes through the session's app on 127.0.0.1


@pytest.fixture(scope="module")
def client(app_url):
    return make_client(app_url)


def server_answers(app_url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{app_url}/config", timeout=60) as resp:
            return resp.status == 200
    except OSError:
        return False


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    return build_corpus(tmp_path_factory.mktemp("corpus"))


def gate_verdict(path: Path, allow_dicom: bool) -> tuple[str | None, str | None]:
    """(code, English message) the input gate gives this file, or (None, None) when it decodes."""
    try:
        load_upload(path, allow_dicom=allow_dicom)
    except InputError as err:
        return err.code, err.message_en
    return None, None


def call(client, card_id: str, path: Path):
    from gradio_client import handle_file

    return client.predict(handle_file(str(path)), api_name=f"/predict_{card_id}")


def check_file(client, card_id: str, path: Path, allow_dicom: bool, expected_code: str | None) -> list[str]:
    """Send one file; return the problems found (empty when all is well)."""
    from gradio_client.exceptions import AppError

    gate_code, message = gate_verdict(path, allow_dicom)
    problems = []
    if gate_code != expected_code:
        problems.append(f"{path.name}: the gate gives {gate_code}, the corpus expects {expected_code}")
    try:
        result = call(client, card_id, path)
        error = None
    except AppError as err:
        result, error = None, str(err)
    if message is None:
        if error is not None:
            problems.append(f"{path.name}: a valid file was refused: {error[:200]}")
        elif not (result and len(result) == 3 and result[2]["model_id"] == card_id):
            problems.append(f"{path.name}: unexpected result {str(result)[:200]}")
    else:
        if error is None:
            problems.append(f"{path.name}: accepted, but the gate refuses it ({message})")
        elif html.escape(message, quote=False) not in error:
            problems.append(f"{path.name}: error '{error[:200]}' lacks the gate's message '{message}'")
        elif "Traceback" in error or 'File "' in error:
            problems.append(f"{path.name}: a traceback reached the client")
    return problems


@pytest.mark.skipif(DICOM_CARD is None, reason="no card takes DICOM")
def test_every_corpus_file_gets_the_typed_error(corpus, app_url):
    assert len(corpus) >= 150

    # One client per worker thread: two predictions in flight on one gradio_client Client share its
    # event stream, and that client can end a finished job's stream early (CancelledError; seen once
    # in CI with gradio_client 2.7.2). Separate clients keep the two requests apart, as two users are.
    clients = threading.local()

    def one(item) -> list[str]:
        _name, path, expected_code = item
        if not hasattr(clients, "client"):
            clients.client = make_client(app_url)
        found = check_file(clients.client, DICOM_CARD.id, path, True, expected_code)
        if not server_answers(app_url):
            found.append(f"{path.name}: the server stopped answering afterwards")
        return found

    # Two at a time, as the app runs two analyses at once (the queue's concurrency group).
    with ThreadPoolExecutor(max_workers=2) as pool:
        problems = [problem for found in pool.map(one, corpus) for problem in found]
    assert not problems, f"{len(problems)} problem(s):\n" + "\n".join(problems)


@pytest.mark.skipif(DICOM_CARD is None or PHOTO_CARD is None, reason="needs a DICOM and a photo card")
def test_files_without_an_extension_are_decided_by_content(client, corpus, tmp_path):
    """The upload box used to refuse these ("Invalid file type") before the gate saw them."""
    by_name = {name: path for name, path, _ in corpus}
    cases = [
        (DICOM_CARD.id, "dicom_valid.dcm", "IM000001", True, None),
        (DICOM_CARD.id, "dicom_ok_deflated.dcm", "I0000002", True, None),
        (DICOM_CARD.id, "dicom_valid.dcm", "slice.dicom", True, None),
        (PHOTO_CARD.id, "ok_progressive.jpg", "photo.jfif", False, None),
        (PHOTO_CARD.id, "ok_gray16.png", "scan_0001", False, None),
        (PHOTO_CARD.id, "text.png", "README", False, "unknown_format"),
        (PHOTO_CARD.id, "dicom_valid.dcm", "IM000003", False, "not_allowed_dicom"),
    ]
    problems: list[str] = []
    for card_id, source, new_name, allow_dicom, code in cases:
        folder = tmp_path / new_name.replace(".", "_")
        folder.mkdir()
        target = folder / new_name
        shutil.copyfile(by_name[source], target)
        problems += check_file(client, card_id, target, allow_dicom, code)
    assert not problems, "\n".join(problems)


@pytest.mark.skipif(PHOTO_CARD is None, reason="no photo card")
def test_dicom_renamed_as_png_is_refused_by_a_photo_tab(client, corpus, tmp_path):
    dicoms = [(name, path, code) for name, path, code in corpus if name.startswith("dicom_")]
    assert dicoms, "the corpus has DICOM items"
    problems: list[str] = []
    for name, path, _code in dicoms:
        renamed = tmp_path / f"{Path(name).stem}.png"
        shutil.copyfile(path, renamed)
        problems += check_file(client, PHOTO_CARD.id, renamed, False, "not_allowed_dicom")
    assert not problems, "\n".join(problems)


def test_server_still_serves_after_the_corpus(client, corpus):
    """Run last in this module (pytest keeps file order): a valid image through every endpoint. The
    corpus' images are noise, which a scope check refuses: an answer either way (probabilities only
    when in scope)."""
    valid = [path for name, path, code in corpus if code is None and not name.startswith("dicom_")]
    assert valid
    for card in CARDS:
        summary = call(client, card.id, valid[0])[2]
        assert summary["model_id"] == card.id
        if summary["in_scope"]:
            assert abs(sum(summary["probabilities"].values()) - 1.0) < 1e-3
        else:
            assert summary["probabilities"] is None and summary["decision"] is None


CHROMIUM = Path("/usr/bin/chromium")


@pytest.mark.browser
@pytest.mark.skipif(DICOM_CARD is None or not CHROMIUM.exists(), reason="needs a DICOM card and chromium")
@pytest.mark.timeout(300)
def test_extensionless_dicom_is_taken_by_the_upload_box_in_a_browser(app_url, corpus, tmp_path):
    """The browser side of the upload box: an extensionless DICOM goes in through the file chooser
    and by drag and drop, with no "Invalid file type" warning (the gate then decides by content)."""
    sync_api = pytest.importorskip("playwright.sync_api")
    from tests.test_browser import CHROMIUM_ARGS, open_tab, upload

    source = {name: path for name, path, _ in corpus}["dicom_valid.dcm"]
    target = tmp_path / "IM000001"
    shutil.copyfile(source, target)
    with sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
        try:
            page = browser.new_context(viewport={"width": 1366, "height": 900}, locale="en-US").new_page()
            page.set_default_timeout(30_000)
            page.goto(app_url)
            page.wait_for_selector("button[role=tab]")
            open_tab(page, DICOM_CARD)
            box = page.locator(f"#file-{DICOM_CARD.id}")
            assert box.locator("input[type=file]").get_attribute("accept") in (None, "")
            upload(page, DICOM_CARD, target)  # the file chooser
            assert page.get_by_text("Invalid file type").count() == 0

            page.goto(app_url)
            page.wait_for_selector("button[role=tab]")
            open_tab(page, DICOM_CARD)
            box = page.locator(f"#file-{DICOM_CARD.id}")
            transfer = page.evaluate_handle(
                "(b) => { const dt = new DataTransfer();"
                " dt.items.add(new File([new Uint8Array(b)], 'IM000002')); return dt; }",
                list(target.read_bytes()),
            )
            drop_zone = box.locator("button").first
            for event in ("dragenter", "dragover", "drop"):
                drop_zone.dispatch_event(event, {"dataTransfer": transfer})
            box.get_by_text("IM000002").wait_for(timeout=30_000)
            assert page.get_by_text("Invalid file type").count() == 0
        finally:
            browser.close()
