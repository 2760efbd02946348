"""Class mode in a real browser (issue 19): headless Chromium at 1280x800 (a projector), a 3-case deck
of the first card: vote with a button and with a number key, reveal with space, next with the right
arrow, then the same in Korean; screenshots in the artifacts folder (and, with MEDHUB_README_SCREENSHOTS=1,
the Korean reveal as the README's assets/class_mode.png). Skips without Chromium or data."""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

import pytest

from medhub.cards import load_cards
from tests.test_browser import CHROMIUM, CHROMIUM_ARGS

CARD = load_cards()[0]  # the class tab's default model
DECK_TIMEOUT_MS = 300_000
README_SHOT = Path(__file__).resolve().parent.parent / "assets" / "class_mode.png"

pytestmark = [pytest.mark.skipif(not CHROMIUM.exists(), reason=f"{CHROMIUM} not installed"),
              pytest.mark.browser, pytest.mark.server, pytest.mark.data]


@pytest.mark.timeout(900)
def test_class_mode_flow_en_ko(app_url, data_root, artifacts_dir) -> None:
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
        context = browser.new_context(viewport={"width": 1280, "height": 800}, locale="en-US")
        page = context.new_page()
        page.set_default_timeout(30_000)
        page.set_default_navigation_timeout(180_000)  # a loaded CI machine serves the first page slowly
        sync_api.expect.set_options(timeout=30_000)  # a language switch redraws every tab; a loaded machine is slow
        try:
            page.goto(app_url)
            page.wait_for_selector("button[role=tab]")
            page.get_by_role("tab", name="Class mode", exact=True).click()
            page.locator("#class-start").wait_for(state="visible")
            n_box = page.locator("#class-n input[type=number]")
            n_box.fill("3")
            n_box.press("Enter")
            page.locator("#class-start").click()
            header = page.locator("#class-header")
            header.get_by_text("Case 1 of 3").wait_for(timeout=DECK_TIMEOUT_MS)

            tally = page.locator("#class-tally")
            page.locator("#class-answer-0").click()
            first = CARD.labels[0].en
            sync_api.expect(tally).to_contain_text(re.compile(rf"{re.escape(first)}:\s*1"))
            header.click()  # focus on the page, not on a control
            page.keyboard.press("1")
            sync_api.expect(tally).to_contain_text(re.compile(rf"{re.escape(first)}:\s*2"))
            page.keyboard.press(" ")
            reveal = page.locator("#class-reveal-text")
            sync_api.expect(reveal).to_contain_text("Truth")
            page.locator("#class-overlay img").wait_for(state="visible")
            page.screenshot(path=str(artifacts_dir / "browser_class_mode_en.png"))
            page.keyboard.press("ArrowRight")
            sync_api.expect(header).to_contain_text("Case 2 of 3")
            sync_api.expect(reveal).not_to_contain_text("Truth")

            page.get_by_text("한국어", exact=True).click()
            sync_api.expect(header).to_contain_text("사례 2 / 3")
            header.click()
            page.keyboard.press(" ")
            sync_api.expect(reveal).to_contain_text("정답")
            sync_api.expect(page.locator("#class-reveal")).to_contain_text("정답 보기")
            sync_api.expect(reveal).to_contain_text("이 사례 묶음에 대해")  # the deck's note from the card
            page.screenshot(path=str(artifacts_dir / "browser_class_mode_ko.png"))
            if os.environ.get("MEDHUB_README_SCREENSHOTS") == "1":
                shutil.copyfile(artifacts_dir / "browser_class_mode_ko.png", README_SHOT)
        finally:
            context.close()
            browser.close()
