"""The app in a real browser: headless Chromium (Debian's) driven by Playwright.

Opens the page, goes through every model tab (one per card) checking its title, uploads a real
sample (from assets/samples.yaml) in the tab of a binary image model and a DICOM slice in the tab of
the card that reads DICOM, clicks Analyse and waits for the probabilities and the Grad-CAM overlay,
starts an analysis from the sample gallery, switches the language to Korean and checks that Korean
text appears, and keeps full-page screenshots in the artifacts folder. Which tabs play which part
comes from the cards. Skips when Chromium or the shared data are missing.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from medhub.cards import ModelCard, load_cards
from tabs.localise import label_names

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-background-networking",
    "--disable-component-update", "--no-first-run",
]
CARDS = {c.id: c for c in load_cards()}
# The parts the cards play: a binary model on images (decision with a threshold) and the DICOM reader.
IMAGE_CARD = next((c for c in CARDS.values() if c.is_binary and not c.input.dicom), None)
CT_CARD = next((c for c in CARDS.values() if c.input.dicom), None)
ANALYSIS_TIMEOUT_MS = 60_000

pytestmark = [
    pytest.mark.server,
    pytest.mark.browser,
    pytest.mark.data,
    pytest.mark.skipif(not CHROMIUM.exists(), reason=f"{CHROMIUM} not installed"),
]


@pytest.fixture(scope="module")
def page(app_url):
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
        context = browser.new_context(viewport={"width": 1366, "height": 900}, locale="en-US")
        pg = context.new_page()
        pg.set_default_timeout(20_000)
        pg.goto(app_url)
        pg.wait_for_selector("button[role=tab]")
        yield pg
        context.close()
        browser.close()


def open_tab(page, card: ModelCard) -> None:
    """Open the card's tab; a card that shares a tab (e.g. the two scalp models) sits in a sub-tab."""
    group = [c for c in CARDS.values() if c.tab == card.tab]
    if len(group) > 1:
        page.get_by_role("tab", name=group[0].tab_title_for("en"), exact=True).click()
    page.get_by_role("tab", name=card.title_for("en"), exact=True).click()
    page.locator(f"#file-{card.id}").wait_for(state="visible")


def upload(page, card: ModelCard, path: Path) -> None:
    """Put `path` into the tab's file box and wait until the upload is done (its name is listed).

    A tab's components are created when the tab is first opened; a file set in that instant can
    be dropped, so the upload is retried a few times before the test gives up.
    """
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    box = page.locator(f"#file-{card.id}")
    chooser = box.locator("input[type=file]")
    for _attempt in range(3):
        if chooser.count():  # gone once a file is in the box (a slow upload is still an upload)
            chooser.set_input_files(str(path))
        try:
            box.get_by_text(path.name).wait_for(timeout=20_000)
            return
        except PlaywrightTimeout:
            continue
    raise AssertionError(f"{card.id}: the upload of {path.name} never finished")


def analyse(page, card: ModelCard, path: Path) -> None:
    """Upload `path` in the card's tab, press Analyse and wait for probabilities and overlay."""
    upload(page, card, path)
    page.locator(f"#analyse-{card.id}").click()
    wait_for_result(page, card)


def wait_for_result(page, card: ModelCard) -> None:
    names = list(label_names(card).values())
    probs = page.locator(f"#probs-{card.id}")
    probs.get_by_text(names[0], exact=True).first.wait_for(timeout=ANALYSIS_TIMEOUT_MS)
    for name in names:
        assert probs.get_by_text(name, exact=True).count() >= 1, f"{card.id}: class '{name}' not shown"
    page.locator(f"#overlay-{card.id} img").wait_for(timeout=ANALYSIS_TIMEOUT_MS)
    page.locator(f"#input-{card.id} img").wait_for(timeout=ANALYSIS_TIMEOUT_MS)


def sample_image(card: ModelCard, data_root: Path) -> Path:
    """The first image (not DICOM) the card's gallery lists in assets/samples.yaml."""
    from tabs.samples import sample_list

    for item in sample_list().get(card.id, []):
        path = data_root / item["path"]
        if path.suffix.lower() != ".dcm" and path.is_file():
            return path
    pytest.skip(f"no sample image of {card.id} under {data_root}")


def test_tabs_analysis_language_and_screenshots(page, data_root, artifacts_dir):
    # every model tab opens and shows its card's title
    for card in CARDS.values():
        open_tab(page, card)
        assert page.get_by_role("heading", name=card.title_for("en")).is_visible(), card.id
    page.get_by_role("tab", name="About / API").click()
    page.get_by_text("/predict_", exact=False).first.wait_for()

    if IMAGE_CARD is not None:
        card = IMAGE_CARD
        open_tab(page, card)
        analyse(page, card, sample_image(card, data_root))
        assert "threshold" in page.locator(f"#decision-{card.id}").inner_text()
        page.screenshot(path=str(artifacts_dir / f"browser_{card.id}_en.png"), full_page=True)

    if CT_CARD is not None:
        card = CT_CARD
        open_tab(page, card)
        dicom = data_root / "dicom" / "cq500" / "CT000121.dcm"  # JPEG Lossless
        upload(page, card, dicom)
        # the window selector appears for a DICOM file
        page.locator(f"#window-{card.id}").wait_for(state="visible")
        page.locator(f"#window-{card.id}").get_by_text("subdural", exact=False).click()
        page.locator(f"#analyse-{card.id}").click()
        wait_for_result(page, card)
        assert "subdural" in page.locator(f"#details-{card.id}").inner_text()
        page.screenshot(path=str(artifacts_dir / "browser_ct_en.png"), full_page=True)

    # an image of another tab's kind is refused with the reason and the right tab (issue 9)
    used = {c.id for c in (IMAGE_CARD, CT_CARD) if c is not None}
    refusing = next((c for c in CARDS.values() if c.id not in used
                     and c.scope is not None and "head_ct" not in c.scope.accepts), None)
    if refusing is not None and CT_CARD is not None:
        open_tab(page, refusing)
        upload(page, refusing, sample_image(CT_CARD, data_root))
        page.locator(f"#analyse-{refusing.id}").click()
        decision = page.locator(f"#decision-{refusing.id}")
        decision.get_by_text("Not answered", exact=False).wait_for(timeout=ANALYSIS_TIMEOUT_MS)
        text = decision.inner_text()
        assert CT_CARD.title_for("en") in text, text
        assert "Show the model's output anyway" in text
        names = list(label_names(refusing).values())
        assert page.locator(f"#probs-{refusing.id}").get_by_text(names[0], exact=True).count() == 0
        page.screenshot(path=str(artifacts_dir / "browser_out_of_scope_en.png"), full_page=True)

    # a sample from the gallery fills the input and is analysed
    from tabs.samples import sample_list

    listed = sample_list()
    with_gallery = [c for c in CARDS.values() if c.id not in used and listed.get(c.id)]
    assert with_gallery, "the data folder is present, so at least one tab lists samples"
    card = with_gallery[0]
    open_tab(page, card)
    thumbs = page.locator(f"#samples-{card.id} .thumbnail-item")
    thumbs.first.wait_for(state="visible", timeout=20_000)
    assert thumbs.count() >= 1, f"{card.id}: its gallery shows no thumbnail"
    thumbs.first.click()
    wait_for_result(page, card)
    assert page.locator(f"#decision-{card.id}").inner_text().strip(), "the sample was analysed"

    # Korean: the radio switches labels and result texts
    page.get_by_text("한국어", exact=True).click()
    shown = next(iter(CARDS.values()))
    page.get_by_role("tab", name=shown.title_for("ko"), exact=True).wait_for()
    if IMAGE_CARD is not None:
        card = IMAGE_CARD
        page.get_by_role("tab", name=card.title_for("ko"), exact=True).click()
        decision = page.locator(f"#decision-{card.id}")
        decision.get_by_text("임계값", exact=False).first.wait_for()  # the borderline sentence may name it too
        page.locator(".medhub-disclaimer:visible", has_text="진단이 아닙니다").first.wait_for()
    page.screenshot(path=str(artifacts_dir / f"browser_{IMAGE_CARD.id if IMAGE_CARD else 'app'}_ko.png"), full_page=True)
