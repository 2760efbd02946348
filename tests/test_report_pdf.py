"""The PDF report of one analysis (issue 19): medhub/teaching/report.py and `python -m medhub report`.

One real image through medhub.pipeline (the app's path); the PDF must open (pypdf) and its text must
hold the model id, the decision and the disclaimer, in English and in Korean.
"""

from __future__ import annotations

import pytest

pypdf = pytest.importorskip("pypdf")
pytest.importorskip("fpdf")

from medhub.cards import get_card  # noqa: E402
from medhub.cli import main  # noqa: E402
from medhub.disclaimers import disclaimer  # noqa: E402
from medhub.teaching import report  # noqa: E402

SAMPLE = "melanoma/malignant/melanoma_9118.jpg"  # a test-split sample of assets/samples.yaml
OTHER_TAB = "head_ct/normal/102.png"  # a head CT: out of the melanoma model's scope


def _text(pdf: bytes, tmp_path) -> str:
    path = tmp_path / "r.pdf"
    path.write_bytes(pdf)
    reader = pypdf.PdfReader(str(path))
    assert len(reader.pages) >= 1
    return "\n".join(page.extract_text() for page in reader.pages)


def _squash(text: str) -> str:
    return "".join(text.split())


@pytest.fixture(scope="module")
def result(data_root):
    from medhub import pipeline

    return pipeline.run(get_card("melanoma"), data_root / SAMPLE)


@pytest.mark.parametrize("lang", ["en", "ko"])
def test_report_text_holds_model_decision_disclaimer(result, lang, tmp_path) -> None:
    if lang == "ko" and report.find_font() is None:
        pytest.skip("no Korean font installed (fonts-nanum)")
    rep = report.build_pdf(result, lang, file_name="melanoma_9118.jpg")
    assert rep.pdf.startswith(b"%PDF") and rep.lang == lang
    text = _text(rep.pdf, tmp_path)
    card = result.card
    assert "melanoma" in text  # the model id
    decision = card.label(result.summary["decision"]).name(lang)
    assert _squash(decision) in _squash(text)
    assert _squash(disclaimer(card.disclaimer_domain, lang)) in _squash(text)
    assert card.weights_file.sha256 in _squash(text)
    assert str(card.threshold) in text
    if lang == "ko":
        assert "판정" in text and "양성예측도" in text and "임계값" in text
    else:
        assert "Decision" in text and "positive predictive value" in text


def test_out_of_scope_report_says_no_decision(data_root, tmp_path) -> None:
    from medhub import pipeline

    res = pipeline.run(get_card("melanoma"), data_root / OTHER_TAB)
    assert res.summary["decision"] is None
    text = _text(report.build_pdf(res, "en").pdf, tmp_path)
    assert "No decision" in text and "out of scope" in text


def test_report_without_korean_font_falls_back_to_english(result, monkeypatch, tmp_path) -> None:
    monkeypatch.setenv("MEDHUB_REPORT_FONT", "")  # no font
    rep = report.build_pdf(result, "ko")
    assert rep.lang == "en" and rep.font is None
    text = _text(rep.pdf, tmp_path)
    assert "No Korean font" in text and "Research and education only" in text


@pytest.mark.parametrize("lang", ["en", "ko"])
def test_cli_report(data_root, tmp_path, lang, capsys) -> None:
    out = tmp_path / f"report_{lang}.pdf"
    assert main(["report", "melanoma", str(data_root / SAMPLE), "--out", str(out), "--lang", lang]) == 0
    assert out.read_bytes().startswith(b"%PDF")
    text = _text(out.read_bytes(), tmp_path)
    assert "melanoma" in text
    expected = disclaimer("dermatology", lang if report.find_font() else "en")
    assert _squash(expected) in _squash(text)
    assert main(["report", "melanoma", str(tmp_path / "missing.jpg"), "--out", str(out)]) == 4


pytestmark = pytest.mark.data


def test_multiclass_report_gives_predictive_values_of_its_one_vs_rest_label(data_root, tmp_path) -> None:
    """The seven-diagnosis model is read as melanoma against the rest (prevalence_presets.yaml): its
    report carries the same predictive-value lines as `python -m medhub ppv skin_lesion`, at the cited
    prevalence (HAM10000's 11.1 %)."""
    from medhub import pipeline
    from medhub.teaching import ppv

    card = get_card("skin_lesion")
    res = pipeline.run(card, data_root / SAMPLE)
    assert res.summary["in_scope"]
    text = _squash(_text(report.build_pdf(res, "en").pdf, tmp_path))
    lines = ppv.summary_lines(ppv.at_prevalence(card, 0.111), "en")
    assert lines and all(_squash(line) in text for line in lines)
    assert "HAM10000" in text
