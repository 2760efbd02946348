"""The app in a real browser: headless Chromium (Debian's) driven by Playwright.

Opens the page, goes through every model tab (one per card) checking its title, uploads a real
sample (from assets/samples.yaml) in the tab of a binary image model and a DICOM slice in the tab of
the card that reads DICOM, clicks Analyse and waits for the probabilities and the Grad-CAM overlay,
starts an analysis from the sample gallery, switches the language to Korean and checks that Korean
text appears, and keeps full-page screenshots in the artifacts folder. Which tabs play which part
comes from the cards. Skips when Chromium or the shared data are missing.

The page is a projector's, 1280 x 800 (issue 21): in English and in Korean, every tab is checked from
the DOM (LAYOUT_JS): the tab bar is one row with every tab on it, no gallery item or caption is cut,
no table cell overflows and no word or number in a table is broken across lines (the open model
card's tables included; a table wider than its column scrolls sideways). Gradio's own texts
("Drop File Here", "Use via API") follow the language radio. The screenshots of the README
(assets/screenshot.png, assets/screenshot_ko.png) are written by this test when
MEDHUB_UPDATE_SCREENSHOTS=1.
"""

from __future__ import annotations

import os
import re
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
STEP_TIMEOUT_MS = 60_000
PROJECTOR = {"width": 1280, "height": 800}
ASSETS = Path(__file__).resolve().parent.parent / "assets"
# The top-level tabs: one per tab group of the cards, class mode, About / API.
TOP_TABS = len({c.tab for c in CARDS.values()}) + 2
HANGUL = re.compile(r"[\uac00-\ud7a3]")

# What is visibly wrong on the page as shown: returns {"rows", "tabs", "problems"} for the top tab bar
# and every visible gallery and table. A word broken across lines has client rects on two lines (a
# hyphenated word may break after its hyphen, and a line may break before an opening parenthesis).
LAYOUT_JS = """() => {
  const shown = (e) => { const r = e.getBoundingClientRect();
    return r.width > 0 && r.height > 0 && e.offsetParent !== null; };
  const problems = [];
  const bar = document.querySelector('[role=tablist]');
  const buttons = bar ? [...bar.querySelectorAll('button[role=tab]')].filter(shown) : [];
  const rows = new Set(buttons.map((b) => Math.round(b.getBoundingClientRect().top))).size;
  for (const gallery of [...document.querySelectorAll('[id^=samples-]')].filter(shown)) {
    const wrap = gallery.querySelector('.grid-wrap') || gallery;
    const box = wrap.getBoundingClientRect();
    if (wrap.scrollHeight > wrap.clientHeight + 1) problems.push(`${gallery.id}: rows scrolled out of sight`);
    for (const item of [...gallery.querySelectorAll('.thumbnail-item')].filter(shown)) {
      const r = item.getBoundingClientRect();
      if (r.bottom > box.bottom + 1 || r.right > box.right + 1) problems.push(`${gallery.id}: a tile is clipped`);
      const cap = item.querySelector('.caption-label');
      if (!cap) continue;
      const c = cap.getBoundingClientRect();
      if (cap.scrollWidth > cap.clientWidth + 1 || cap.scrollHeight > cap.clientHeight + 1
          || c.right > r.right + 1 || c.bottom > r.bottom + 1 || c.left < r.left - 1)
        problems.push(`${gallery.id}: caption '${cap.textContent.trim()}' is cut`);
    }
  }
  for (const table of [...document.querySelectorAll('table')].filter(shown)) {
    const holder = table.parentElement.getBoundingClientRect();
    if (table.getBoundingClientRect().right > holder.right + 1) problems.push('a table is wider than its column');
    for (const cell of [...table.querySelectorAll('td, th')].filter(shown)) {
      if (cell.scrollWidth > cell.clientWidth + 1) problems.push(`cell '${cell.textContent.trim()}' overflows`);
      const walker = document.createTreeWalker(cell, NodeFilter.SHOW_TEXT);
      for (let node = walker.nextNode(); node; node = walker.nextNode()) {
        for (const m of node.textContent.matchAll(/\\(?[^\\s(-]+-?/g)) {  // a line may end after '-' or before '('
          const range = document.createRange();
          range.setStart(node, m.index); range.setEnd(node, m.index + m[0].length);
          const lines = new Set([...range.getClientRects()].filter((q) => q.width > 0).map((q) => Math.round(q.top)));
          if (lines.size > 1) problems.push(`'${m[0]}' is broken across lines`);
        }
      }
    }
  }
  return {rows, tabs: buttons.length, problems};
}"""

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
        context = browser.new_context(viewport=PROJECTOR, locale="en-US")
        pg = context.new_page()
        # A hang guard, not a speed check: a language switch redraws every tab (about 10 s at load 4 on
        # this machine, more with results, open cards and the teaching panels on the page).
        pg.set_default_timeout(STEP_TIMEOUT_MS)
        sync_api.expect.set_options(timeout=STEP_TIMEOUT_MS)
        pg.goto(app_url)
        pg.wait_for_selector("button[role=tab]")
        yield pg
        context.close()
        browser.close()


def open_tab(page, card: ModelCard, lang: str = "en") -> None:
    """Open the card's tab; a card that shares a tab (e.g. the two scalp models) sits in a sub-tab."""
    group = [c for c in CARDS.values() if c.tab == card.tab]
    page.get_by_role("tab", name=group[0].tab_title_for(lang), exact=True).click()
    if len(group) > 1:
        page.get_by_role("tab", name=card.title_for(lang), exact=True).click()
    page.locator(f"#file-{card.id}").wait_for(state="visible")


def upload(page, card: ModelCard, path: Path) -> None:
    """Put `path` into the tab's file box and wait until the upload is done (its name is listed).

    A tab's components are created when the tab is first opened; a file set in that instant can
    be dropped, so the upload is retried a few times before the test gives up.
    """
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    box = page.locator(f"#file-{card.id}")
    chooser = box.locator("input[type=file]")
    tries = 0
    for _attempt in range(3):
        if chooser.count():  # gone once a file is in the box (a slow upload is still an upload)
            chooser.set_input_files(str(path))
            tries += 1
        try:
            box.get_by_text(path.name).wait_for(timeout=STEP_TIMEOUT_MS)
            return
        except PlaywrightTimeout:
            continue
    # What the page showed, for whoever reads the failure (seen once, with a CPU hog beside the suite).
    shot = Path(__file__).resolve().parent.parent / "artifacts" / f"upload_failure_{card.id}.png"
    shot.parent.mkdir(exist_ok=True)
    page.screenshot(path=str(shot), full_page=True)
    raise AssertionError(
        f"{card.id}: the upload of {path.name} never finished ({tries} file chooser sets; the chooser is "
        f"{'still there' if chooser.count() else 'gone'}; the box shows {box.inner_text()[:300]!r}; "
        f"the page: {shot})"
    )


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
    assert_layout(page, "About (en)")

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
    thumbs.first.wait_for(state="visible", timeout=STEP_TIMEOUT_MS)
    assert thumbs.count() >= 1, f"{card.id}: its gallery shows no thumbnail"
    thumbs.first.click()
    wait_for_result(page, card)
    assert page.locator(f"#decision-{card.id}").inner_text().strip(), "the sample was analysed"

    # the projector layout in English, every tab (results shown where they were analysed)
    check_every_tab(page, "en")
    untouched = next(c for c in CARDS.values() if _drop_text_shown(page, c))
    if IMAGE_CARD is not None:
        open_tab(page, IMAGE_CARD)
    keep_screenshot(page, artifacts_dir, "en")

    # Korean: the radio switches labels and result texts, and gradio's own texts with them
    page.get_by_text("한국어", exact=True).click()
    shown = next(iter(CARDS.values()))
    page.get_by_role("tab", name=shown.tab_title_for("ko"), exact=True).wait_for()
    open_tab(page, untouched, "ko")
    box = page.locator(f"#file-{untouched.id}")
    box.get_by_text("Drop File Here").wait_for(state="detached")
    assert HANGUL.search(box.inner_text()), box.inner_text()
    footer = page.locator("footer").inner_text()
    assert "Use via API" not in footer and "Settings" not in footer and HANGUL.search(footer), footer
    if IMAGE_CARD is not None:
        card = IMAGE_CARD
        open_tab(page, card, "ko")
        # the file boxes are drawn anew in Korean (app._wire_language) and keep their file
        from playwright.sync_api import expect

        expect(page.locator(f"#file-{card.id}")).to_contain_text(sample_image(card, data_root).stem)
        decision = page.locator(f"#decision-{card.id}")
        expect(decision).to_contain_text("임계값", timeout=ANALYSIS_TIMEOUT_MS)  # the result, redrawn in Korean
        page.locator(".medhub-disclaimer:visible", has_text="진단이 아닙니다").first.wait_for()
        readfirst = page.locator(f"#readfirst-{card.id}")
        if readfirst.count():
            assert HANGUL.search(readfirst.inner_text()) and "misses project targets" not in readfirst.inner_text()
    page.screenshot(path=str(artifacts_dir / f"browser_{IMAGE_CARD.id if IMAGE_CARD else 'app'}_ko.png"), full_page=True)
    check_every_tab(page, "ko")
    if IMAGE_CARD is not None:
        open_tab(page, IMAGE_CARD, "ko")
    keep_screenshot(page, artifacts_dir, "ko")

    # and back: the radio, not the browser's language, decides
    page.get_by_text("English", exact=True).click()
    open_tab(page, untouched)
    page.locator(f"#file-{untouched.id}").get_by_text("Drop File Here").wait_for()


def _drop_text_shown(page, card: ModelCard) -> bool:
    open_tab(page, card)
    return page.locator(f"#file-{card.id}").get_by_text("Drop File Here").count() > 0


def assert_layout(page, where: str) -> None:
    got = page.evaluate(LAYOUT_JS)
    assert got["tabs"] == TOP_TABS, f"{where}: {got['tabs']} of {TOP_TABS} tabs in the tab bar"
    assert got["rows"] == 1, f"{where}: the tab bar wraps onto {got['rows']} rows"
    assert not got["problems"], f"{where}: {got['problems']}"


def check_every_tab(page, lang: str) -> None:
    """Every tab (each sub-tab of a shared one), class mode and About, at 1280 x 800, from the DOM."""
    from medhub.i18n import t
    from tabs.classmode import class_tab_title

    for card in CARDS.values():
        open_tab(page, card, lang)
        thumbs = page.locator(f"#samples-{card.id} .thumbnail-item img")
        if thumbs.count():
            thumbs.last.wait_for(state="visible")
        if lang == "en":  # open the card (its metrics and its own tables); it stays open in Korean
            page.get_by_text(t("card.accordion", lang), exact=True).locator("visible=true").first.click()
            page.get_by_text(t("metrics.header", lang)).locator("visible=true").first.wait_for()
        assert_layout(page, f"{card.id} ({lang})")
    for title in (class_tab_title(lang), t("tab.about", lang)):
        page.get_by_role("tab", name=title, exact=True).click()
        page.get_by_role("tab", name=title, exact=True, selected=True).wait_for()
        assert_layout(page, f"{title} ({lang})")


def keep_screenshot(page, artifacts_dir: Path, lang: str) -> None:
    """The projector's view (1280 x 800, not the full page): in the artifacts, and in assets/ for the
    README when MEDHUB_UPDATE_SCREENSHOTS=1."""
    name = "screenshot.png" if lang == "en" else f"screenshot_{lang}.png"
    page.evaluate("window.scrollTo(0, 0)")
    page.screenshot(path=str(artifacts_dir / f"browser_projector_{lang}.png"))
    if os.environ.get("MEDHUB_UPDATE_SCREENSHOTS") == "1":
        page.screenshot(path=str(ASSETS / name))


def test_a_lang_link_opens_the_page_in_korean(page, app_url):
    """`?lang=ko` (and the radio's remembered choice) decides the language from the first paint, on a
    browser set to English: the radio, the tab bar and gradio's own upload texts."""
    card = next(iter(CARDS.values()))
    context = page.context.browser.new_context(viewport=PROJECTOR, locale="en-US")
    other = context.new_page()
    other.set_default_timeout(STEP_TIMEOUT_MS)
    try:
        other.goto(f"{app_url}/?lang=ko")
        other.get_by_role("tab", name=card.tab_title_for("ko"), exact=True).wait_for()
        other.locator("#medhub-lang input[value=ko]:checked").wait_for(state="attached")
        box = other.locator(f"#file-{card.id}")
        box.get_by_text("Drop File Here").wait_for(state="detached")
        assert HANGUL.search(box.inner_text()), box.inner_text()
        # the radio's choice is remembered: a plain reload stays Korean, English brings English back
        other.goto(app_url)
        other.get_by_role("tab", name=card.tab_title_for("ko"), exact=True).wait_for()
        other.get_by_text("English", exact=True).click()
        other.get_by_role("tab", name=card.tab_title_for("en"), exact=True).wait_for()
        other.locator(f"#file-{card.id}").get_by_text("Drop File Here").wait_for()
    finally:
        context.close()
