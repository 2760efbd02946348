"""The PDF report from the app (issue 19): every tab has a named `/report_<id>` endpoint beside its
unchanged `/predict_<id>`; through the running app it returns a PDF with the model id, the decision
and the disclaimer."""

from __future__ import annotations

import pytest

from medhub.cards import load_cards
from medhub.disclaimers import disclaimer

CARDS = load_cards()
CARD_IDS = [c.id for c in CARDS]


@pytest.fixture(scope="module")
def api_info():
    import app

    demo, _ = app.build_demo(CARDS)
    return demo.get_api_info()


def test_every_card_has_a_report_endpoint(api_info) -> None:
    named = api_info["named_endpoints"]
    for cid in CARD_IDS:
        params = [p["parameter_name"] for p in named[f"/report_{cid}"]["parameters"]]
        assert params[0] == "file" and params[-2:] == ["show_anyway", "lang"]
        assert len(named[f"/report_{cid}"]["returns"]) == 1


def test_predict_endpoints_unchanged(api_info) -> None:
    """The /predict_<id> parameters are still (file, <tab options>, opacity, show_anyway, image_url), three
    returns; the report endpoints come beside them (and the CT series endpoint of issue 20)."""
    from tabs.series import supports_series

    named = api_info["named_endpoints"]
    series = {f"/predict_{c.id}_series" for c in load_cards() if supports_series(c)}
    assert {k for k in named if k.startswith("/predict_")} == {f"/predict_{cid}" for cid in CARD_IDS} | series
    assert set(named) == ({f"/predict_{cid}" for cid in CARD_IDS} | {f"/report_{cid}" for cid in CARD_IDS}
                          | series)
    for cid in CARD_IDS:
        params = [p["parameter_name"] for p in named[f"/predict_{cid}"]["parameters"]]
        assert params[0] == "file" and params[-3:] == ["opacity", "show_anyway", "image_url"]
        assert len(named[f"/predict_{cid}"]["returns"]) == 3


@pytest.mark.timeout(300, func_only=True)
@pytest.mark.parametrize("lang", ["en", "ko"])
def test_report_endpoint_returns_a_pdf(app_url, data_root, lang, tmp_path) -> None:
    pypdf = pytest.importorskip("pypdf")
    from gradio_client import handle_file

    from medhub.teaching.report import find_font
    from tests.app_server import make_client

    client = make_client(app_url)
    path = client.predict(handle_file(str(data_root / "melanoma/malignant/melanoma_9118.jpg")), False, False, lang,
                          api_name="/report_melanoma")
    reader = pypdf.PdfReader(path)
    text = "".join("\n".join(p.extract_text() for p in reader.pages).split())
    assert "melanoma" in text
    used = lang if find_font() else "en"
    assert "".join(disclaimer("dermatology", used).split()) in text
    assert ("판정" if used == "ko" else "Decision") in text


pytestmark = [pytest.mark.server, pytest.mark.data]
