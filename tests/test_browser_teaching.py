"""The teaching panel beside a result, in a real browser (issue 19): headless Chromium at 1280x800.

In the tab of a binary image model: the probability bar carries the card's threshold; the prevalence
control changes the predictive-value text (a preset, then a typed value) and the icon array and the
reliability diagram render as plots; after an analysis the panel reads the result (the bar's
probability, "this image was ..."); then the same in Korean. Screenshots go to the artifacts folder.
Skips without Chromium or the shared data. With MEDHUB_README_SCREENSHOTS=1 the Korean panel is also
saved as the README's assets/teaching_panel.png.
"""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

import pytest

from medhub.teaching import ppv
from tests.test_browser import CHROMIUM, CHROMIUM_ARGS, IMAGE_CARD, analyse, open_tab, sample_image

README_SHOT = Path(__file__).resolve().parent.parent / "assets" / "teaching_panel.png"

pytestmark = [pytest.mark.skipif(not CHROMIUM.exists(), reason=f"{CHROMIUM} not installed"),
              pytest.mark.browser, pytest.mark.server, pytest.mark.data]


def _ppv_of(text: str, term: str) -> str:
    m = re.search(rf"{term} ([0-9.]+ %)", text)
    assert m, text
    return m.group(1)


def _plot_drawn(page, elem_id: str) -> None:
    """A native plot is drawn by Vega into a canvas or an SVG inside the component."""
    page.locator(f"#{elem_id} canvas, #{elem_id} svg").first.wait_for(state="visible", timeout=30_000)


@pytest.mark.timeout(600)
def test_prevalence_control_and_plots_en_ko(app_url, data_root, artifacts_dir) -> None:
    if IMAGE_CARD is None:
        pytest.skip("no binary image card")
    card = IMAGE_CARD
    presets = ppv.presets(card)
    sync_api = pytest.importorskip("playwright.sync_api")
    expect = sync_api.expect
    with sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
        context = browser.new_context(viewport={"width": 1280, "height": 800}, locale="en-US")
        page = context.new_page()
        page.set_default_timeout(30_000)
        page.set_default_navigation_timeout(180_000)
        sync_api.expect.set_options(timeout=30_000)  # a language switch redraws every tab; a loaded machine is slow
        try:
            page.goto(app_url)
            page.wait_for_selector("button[role=tab]")
            open_tab(page, card)
            pv = page.locator(f"#pv-{card.id}")
            pv.get_by_text("positive predictive value", exact=False).wait_for()
            bar = page.locator(f"#pbar-{card.id}")
            assert bar.get_attribute("data-threshold") == f"{float(card.threshold):g}"
            _plot_drawn(page, f"icons-{card.id}")
            _plot_drawn(page, f"cal-{card.id}")
            expect(page.locator(f"#cal-text-{card.id}")).to_contain_text(
                f"the card states {float(card.metrics['ece']):.3f}")
            before = _ppv_of(pv.inner_text(), "positive predictive value")

            # a typed prevalence: the text and the icon array's caption follow
            value = page.locator(f"#pv-value-{card.id} input")
            value.fill("1")
            value.press("Enter")
            expected = ppv.at_prevalence(card, 0.01)
            want = f"{100 * expected['ppv']['value']:.1f} %"
            expect(pv).to_contain_text(f"positive predictive value {want}")
            expect(pv).to_contain_text(f"Of 1,000 {ppv.subject(card)['unit']['en']} like these, "
                                       f"{expected['per_1000']['with_condition']} have")
            assert want != before or presets[0]["prevalence"] == 0.01
            expect(page.locator(f"#icons-{card.id}")).to_contain_text("at a prevalence of 1.0 %")
            expect(pv).to_contain_text("A prevalence you chose")
            _plot_drawn(page, f"icons-{card.id}")

            # a cited preset from the list
            cited = next((p for p in presets[1:] if not p.get("illustrative")), presets[-1])
            page.locator(f"#pv-preset-{card.id} input").click()
            page.get_by_role("option", name=re.compile(re.escape(cited["en"][:30]))).click()
            expect(value).to_have_value(re.compile(rf"^{100 * cited['prevalence']:g}"))
            expect(pv).to_contain_text("Source: " if not cited.get("illustrative") else "illustrative")
            at_preset = f"{100 * ppv.at_prevalence(card, float(cited['prevalence']))['ppv']['value']:.1f} %"
            expect(pv).to_contain_text(f"positive predictive value {at_preset}")

            # a result: the bar shows its probability against the threshold, the panel reads it
            analyse(page, card, sample_image(card, data_root))
            expect(page.locator(f"#pbar-{card.id}")).to_contain_text(f"P({card.label(card.positive_class).en}) =")
            expect(pv).to_contain_text(re.compile(r"This image was (flagged|not flagged)"))
            expect(page.locator(f"#cal-text-{card.id}")).to_contain_text("This result")
            page.locator(f"#teach-{card.id}").scroll_into_view_if_needed()
            page.screenshot(path=str(artifacts_dir / f"browser_teaching_{card.id}_en.png"))

            # Korean: the same panel, the glossary's words, and the control still works
            page.get_by_text("한국어", exact=True).click()
            expect(pv).to_contain_text("양성예측도")
            teach = page.locator(f"#teach-{card.id}")
            expect(teach).to_contain_text("유병률에 따른 예측도")  # the app's language event relabels the panel
            expect(teach).to_contain_text("유병률: 누구를 검사하나요?")
            expect(pv).to_contain_text(re.compile(r"이 영상은 (.+)으로 판정|이 영상은 음성으로 판정"))
            value.fill("20")
            value.press("Enter")
            want_ko = f"{100 * ppv.at_prevalence(card, 0.2)['ppv']['value']:.1f} %"
            expect(pv).to_contain_text(f"양성예측도 {want_ko}")
            expect(pv).to_contain_text(ppv.at_prevalence(card, 0.2)["text"]["ko"][:20])
            expect(page.locator(f"#icons-{card.id}")).to_contain_text("유병률 20.0 %")
            expect(page.locator(f"#cal-text-{card.id}")).to_contain_text("기대 보정 오차")
            _plot_drawn(page, f"icons-{card.id}")
            page.locator(f"#teach-{card.id}").scroll_into_view_if_needed()
            page.screenshot(path=str(artifacts_dir / f"browser_teaching_{card.id}_ko.png"))
            if os.environ.get("MEDHUB_README_SCREENSHOTS") == "1":
                shutil.copyfile(artifacts_dir / f"browser_teaching_{card.id}_ko.png", README_SHOT)
        finally:
            context.close()
            browser.close()
