"""The result view's teaching panel (issue 19): predictive values at a prevalence, the icon array,
calibration in view and the threshold bar (tabs/teaching_panel.py, medhub/teaching/calibration.py).

Numbers are checked against the card (its per-class recall and support, its ECE) and against values
computed by hand here, independently of medhub.teaching.ppv; the panel's events must stay off the API.
"""

from __future__ import annotations

import csv
import html
import math
import re

import gradio as gr
import pytest
import yaml

from medhub.cards import get_card, load_cards
from medhub.i18n import STRINGS
from medhub.paths import WEIGHTS
from medhub.teaching import glossary
from medhub.teaching.calibration import reliability
from medhub.teaching.ppv import PRESETS_FILE
from tabs import teaching_panel as tp

CARDS = load_cards()
BINARY = [c for c in CARDS if c.is_binary]
# multi-class cards read as one label against the rest (`one_vs_rest` in the presets file), read here
# from the file itself rather than through medhub.teaching.ppv
_PRESETS = yaml.safe_load(PRESETS_FILE.read_text(encoding="utf-8"))
ONE_VS_REST = {c.id: _PRESETS[c.id]["one_vs_rest"] for c in CARDS
               if not c.is_binary and (_PRESETS.get(c.id) or {}).get("one_vs_rest")}
OVR = [c for c in CARDS if c.id in ONE_VS_REST]
WITH_PREDICTIONS = [c for c in CARDS if (WEIGHTS / c.id / "test_predictions.csv").is_file()]


def _hand_rates(card):
    """Sensitivity and specificity as counts from the card's per-class recall and support."""
    pc = card.metrics["per_class"]
    neg = next(lid for lid in card.label_ids if lid != card.positive_class)
    n_pos, n_neg = pc[card.positive_class]["support"], pc[neg]["support"]
    tp_ = round(pc[card.positive_class]["recall"] * n_pos)
    tn_ = round(pc[neg]["recall"] * n_neg)
    return tp_, n_pos, tn_, n_neg


def _wilson(k: int, n: int) -> tuple[float, float]:
    z = 1.959963984540054
    p = k / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return centre - half, centre + half


def _pct(x: float) -> str:
    return f"{100 * x:.1f} %"


@pytest.mark.parametrize("card", BINARY, ids=[c.id for c in BINARY])
@pytest.mark.parametrize("prevalence", [0.01, 0.061, 0.3])
def test_pv_text_holds_hand_computed_values(card, prevalence) -> None:
    _check_pv_texts(card, prevalence, *_hand_rates(card))


def _check_pv_texts(card, prevalence, tp_, n_pos, tn_, n_neg) -> tuple[str, str]:
    """The panel's English and Korean texts hold sensitivity and specificity (with their Wilson
    intervals), PPV and NPV computed here by hand from the counts; returns the two texts."""
    sens, spec = tp_ / n_pos, tn_ / n_neg
    ppv = sens * prevalence / (sens * prevalence + (1 - spec) * (1 - prevalence))
    npv = spec * (1 - prevalence) / (spec * (1 - prevalence) + (1 - sens) * prevalence)
    text = tp.pv_markdown(card, None, "en", prevalence)
    assert f"positive predictive value {_pct(ppv)}**" in text
    assert f"negative predictive value {_pct(npv)}**" in text
    lo, hi = _wilson(tp_, n_pos)
    assert f"sensitivity {_pct(sens)} (95 % confidence interval {_pct(lo)} - {_pct(hi)}; {tp_} of {n_pos})" in text
    lo, hi = _wilson(tn_, n_neg)
    assert f"specificity {_pct(spec)} (95 % confidence interval {_pct(lo)} - {_pct(hi)}; {tn_} of {n_neg})" in text
    ko = tp.pv_markdown(card, None, "ko", prevalence)
    assert f"양성예측도 {_pct(ppv)}" in ko and f"음성예측도 {_pct(npv)}" in ko
    return text, ko


def test_melanoma_at_one_in_a_hundred_by_hand() -> None:
    """109 of 181 melanomas flagged, 1312 of 1537 benign lesions not: at 1 %, 10 of 1,000 have melanoma,
    round(0.6022 x 10) = 6 are flagged, and round(0.1464 x 990) = 145 benign lesions too."""
    card = get_card("melanoma")
    if _hand_rates(card) != (109, 181, 1312, 1537):
        pytest.skip("the melanoma card has been retrained: the hand example is of the earlier figures")
    text = tp.pv_markdown(card, None, "en", 0.01)
    assert "10 have melanoma. The model flags 151: 6 of them have melanoma and 145 do not" in text
    assert "positive predictive value 4.0 %**" in text  # 0.006022 / (0.006022 + 0.144926) = 0.0399
    frame = tp.icon_frame(card, 0.01)
    names = tp.outcome_names()
    counts = frame["outcome"].value_counts().to_dict()
    assert counts == {names["tp"]: 6, names["fp"]: 145, names["fn"]: 4, names["tn"]: 845}


@pytest.mark.parametrize("card", BINARY, ids=[c.id for c in BINARY])
def test_icon_array_counts_match_the_sentence(card) -> None:
    from medhub.teaching import ppv

    for prevalence in (0.02, 0.25):
        frame = tp.icon_frame(card, prevalence)
        assert len(frame) == tp.ICONS_PER
        assert not frame.duplicated(["x", "y"]).any()  # one icon per cell
        names = tp.outcome_names()
        res = ppv.at_prevalence(card, prevalence)["per_1000"]
        counts = frame["outcome"].value_counts()
        assert counts.get(names["tp"], 0) == res["true_positive"]
        assert counts.get(names["fp"], 0) == res["false_positive"]
        assert counts.get(names["fn"], 0) == res["false_negative"]
        assert counts.get(names["tn"], 0) == res["true_negative"]


@pytest.mark.parametrize("card", BINARY, ids=[c.id for c in BINARY])
def test_prevalence_changes_the_text_and_the_result_is_read(card) -> None:
    low, high = tp.pv_markdown(card, None, "en", 0.01), tp.pv_markdown(card, None, "en", 0.4)
    assert low != high
    neg = next(lid for lid in card.label_ids if lid != card.positive_class)
    flagged = {"probabilities": {card.positive_class: 0.99, neg: 0.01}, "decision": card.positive_class}
    not_flagged = {"probabilities": {card.positive_class: 0.0, neg: 1.0}, "decision": neg}
    assert "This image was flagged" in tp.pv_markdown(card, flagged, "en", 0.05)
    assert "이 영상은 음성으로 판정" in tp.pv_markdown(card, not_flagged, "ko", 0.05)
    refused = {"probabilities": None, "decision": None, "in_scope": False}
    assert "This image" not in tp.pv_markdown(card, refused, "en", 0.05)


@pytest.mark.parametrize("card", BINARY, ids=[c.id for c in BINARY])
def test_presets_cite_a_source_or_say_illustrative(card) -> None:
    from medhub.teaching import ppv

    for preset in ppv.presets(card):
        text = tp.pv_markdown(card, None, "en", float(preset["prevalence"]), preset["id"])
        first = text.split("\n\n")[0]
        if preset.get("illustrative"):
            assert first == STRINGS["pv.illustrative"]["en"]
        else:
            assert first.startswith("Source: ") and len(first) > 20
    # a typed value that is no preset's
    assert tp.pv_markdown(card, None, "en", 0.1234, "test_split").startswith(STRINGS["pv.own"]["en"])


def test_render_flags_a_typed_value_as_custom() -> None:
    card = BINARY[0]
    first = tp.default_preset(card)
    pct = 100 * tp.preset_prevalence(card, first)
    same = tp.render(card, None, "en", first, pct)
    other = tp.render(card, None, "en", first, pct + 1.3)
    assert "value" not in same[0]  # the preset stays
    assert other[0]["value"] == tp.CUSTOM
    bad = tp.render(card, None, "en", tp.CUSTOM, 0)
    assert bad[2] == STRINGS["pv.bad_value"]["en"]


def test_a_multiclass_card_without_one_vs_rest_gets_a_clear_note(monkeypatch) -> None:
    """Every multi-class card of the hub names a one_vs_rest label; read without it, one says why no
    predictive values are shown."""
    from medhub.teaching import ppv

    card = next(c for c in OVR if len(c.labels) > 2)
    presets = {k: v for k, v in ppv._presets_file().items() if k != card.id}
    monkeypatch.setattr(ppv, "_presets_file", lambda: presets)
    assert not tp.supports_pv(card)
    assert tp.pv_markdown(card, None, "en", 0.05) == STRINGS["pv.not_binary"]["en"].format(n=len(card.labels))
    assert "양성 클래스가 없으므로" in tp.pv_markdown(card, None, "ko", 0.05)
    assert tp.threshold_bar_html(card, None, "en") == ""


def _ovr_hand_rates(card):
    """One label against the rest at the top-label rule, from the card's confusion matrix (rows truth)."""
    cm, ids = card.metrics["confusion_matrix"], card.label_ids
    i = ids.index(ONE_VS_REST[card.id])
    n_pos = sum(cm[i])
    n_neg = sum(map(sum, cm)) - n_pos
    false_alarms = sum(row[i] for row in cm) - cm[i][i]
    return cm[i][i], n_pos, n_neg - false_alarms, n_neg


def test_skin_lesion_is_read_as_melanoma_against_the_rest() -> None:
    assert "skin_lesion" in ONE_VS_REST and ONE_VS_REST["skin_lesion"] == "melanoma"


@pytest.mark.parametrize("card", OVR, ids=[c.id for c in OVR])
@pytest.mark.parametrize("prevalence", [0.01, 0.05, 0.111])
def test_one_vs_rest_text_holds_hand_computed_values(card, prevalence) -> None:
    tp_, n_pos, tn_, n_neg = _ovr_hand_rates(card)
    # the counts agree with the card's per-class figures (the matrix's rows are the truth)
    pc = card.metrics["per_class"][ONE_VS_REST[card.id]]
    assert n_pos == pc["support"] and tp_ / n_pos == pytest.approx(pc["recall"], abs=5e-4)
    assert tp.supports_pv(card)
    text, ko = _check_pv_texts(card, prevalence, tp_, n_pos, tn_, n_neg)
    condition = glossary.term(_PRESETS[card.id].get("condition") or ONE_VS_REST[card.id])
    assert f"flagged when {condition['en']} is the top class (no threshold)" in text
    assert f"against the other {len(card.labels) - 1} classes" in text
    assert re.search(f"{condition['ko']}(이|가) 최상위 분류일 때 양성으로 판정", ko)
    assert tp.threshold_bar_html(card, None, "en") == ""  # no threshold: no bar


def test_skin_lesion_at_one_in_a_hundred_by_hand() -> None:
    """Melanoma row [5, 13, 32, 9, 101, 16, 5]: 101 of 181 are the top label; the melanoma column holds
    2 + 3 + 25 + 4 + 189 + 0 = 223 other lesions, so 1314 of the 1537 others are not flagged. At 1 %:
    10 melanomas, round(0.5580 x 10) = 6 flagged; round(0.1451 x 990) = 144 other lesions flagged."""
    card = get_card("skin_lesion")
    if _ovr_hand_rates(card) != (101, 181, 1314, 1537):
        pytest.skip("the skin_lesion card has been retrained: the hand example is of the earlier figures")
    text = tp.pv_markdown(card, None, "en", 0.01, "screening_illustrative")
    assert text.split("\n\n")[0] == STRINGS["pv.illustrative"]["en"]
    assert "10 have melanoma. The model flags 150: 6 of them have melanoma and 144 do not" in text
    # 0.00558011 / (0.00558011 + 0.14363712) = 0.0374; 0.84636288 / 0.85078277 = 0.9948
    assert "positive predictive value 3.7 %**" in text and "negative predictive value 99.5 %**" in text
    frame = tp.icon_frame(card, 0.01)
    names = tp.outcome_names()
    assert frame["outcome"].value_counts().to_dict() == {names["tp"]: 6, names["fp"]: 144, names["fn"]: 4,
                                                          names["tn"]: 846}
    top_mel = {"probabilities": {"melanoma": 0.6, "nevus": 0.4}, "decision": "melanoma"}
    top_nv = {"probabilities": {"melanoma": 0.3, "nevus": 0.7}, "decision": "nevus"}
    assert "This image was flagged as **Melanoma**" in tp.pv_markdown(card, top_mel, "en", 0.01)
    assert "about **3.7 %** of flagged skin lesions" in tp.pv_markdown(card, top_mel, "en", 0.01)
    assert ("This image's top class is **Melanocytic nevus (mole)**, not melanoma, so it was not flagged"
            in tp.pv_markdown(card, top_nv, "en", 0.01))
    ko = tp.pv_markdown(card, top_nv, "ko", 0.01)
    assert "최상위 분류는 **멜라닌세포모반 (점)**입니다. 흑색종이 아니므로 음성으로 판정" in ko and "**99.5 %**" in ko


@pytest.mark.parametrize("card", OVR, ids=[c.id for c in OVR])
def test_one_vs_rest_panel_is_built_with_its_controls(card) -> None:
    from tabs.hooks import TabHooks
    from tabs.layout import build_tab
    from tabs.localise import Localiser

    with gr.Blocks() as demo:
        lang = gr.Radio(["en", "ko"], value="en")
        ui = Localiser(gr.I18n())
        parts = build_tab(card, TabHooks(), ui, lang, [])
        panel = tp.add_teaching_panel(parts, ui, lang)
    assert panel.preset is not None and panel.prevalence is not None and panel.icons is not None
    assert panel.bar.visible is False  # the threshold bar is for binary cards only
    assert [c[1] for c in tp.preset_choices(card, "en")][:-1] == [
        "test_split", *(p["id"] for p in _PRESETS[card.id]["presets"])]
    assert "positive predictive value" in panel.pv.value and "top class" in panel.pv.value
    deps = demo.get_config_file()["dependencies"]
    assert [d["api_name"] for d in deps if d["api_visibility"] != "private"] == [f"predict_{card.id}"]
    first = tp.default_preset(card)
    shown = tp.render(card, None, "ko", first, 1.0, cause="prevalence")
    assert shown[0]["value"] == tp.CUSTOM  # 1 % typed over the split's own preset
    assert shown[1] == "" and "양성예측도" in shown[2] and len(shown[3]["value"]) == tp.ICONS_PER


# --------------------------------------------------------------------------------- calibration


@pytest.mark.parametrize("card", WITH_PREDICTIONS, ids=[c.id for c in WITH_PREDICTIONS])
def test_reliability_reproduces_the_card_ece(card) -> None:
    rel = reliability(card)
    assert rel is not None
    assert rel.ece == pytest.approx(float(card.metrics["ece"]), abs=2e-3)
    assert sum(b.count for b in rel.bins) == rel.n == int(card.metrics["n"])
    # ECE = sum over bins of |accuracy - confidence| x share, from the bins the diagram shows
    assert sum(abs(b.accuracy - b.confidence) * b.count / rel.n for b in rel.bins) == pytest.approx(rel.ece, abs=1e-4)
    frame = tp.calibration_frame(card, "en")
    model_name, perfect_name = tp.calibration_series()
    assert "모델" in model_name and "model" in model_name  # both languages: the plot keeps its categories
    model = frame[frame["series"] == model_name]
    assert len(model) == len(rel.bins)
    assert (frame[frame["series"] == perfect_name][["confidence", "accuracy"]].values.tolist()
            == [[0.0, 0.0], [1.0, 1.0]])
    text = tp.calibration_markdown(card, None, "en")
    assert f"ECE) {rel.ece:.3f} on {rel.n:,} test images (the card states {float(card.metrics['ece']):.3f})" in text


def test_melanoma_bin_by_hand() -> None:
    """The 0.7-0.8 bin of the melanoma diagram, counted by hand from the stored test predictions with
    the card's threshold rule (the decided class's probability is the confidence)."""
    card = get_card("melanoma")
    path = WEIGHTS / card.id / "test_predictions.csv"
    if not path.is_file():
        pytest.skip("no stored test predictions")
    conf, right = [], []
    with open(path, newline="", encoding="utf-8") as fh:
        for row in csv.DictReader(fh):
            p = float(row["malignant"])
            decided = "malignant" if p >= card.threshold else "benign"
            c = float(row[decided])
            if 0.7 < c <= 0.8:
                conf.append(c)
                right.append(decided == row["label"])
    b = reliability(card).bin_of(0.75)
    assert b.count == len(conf) > 0
    assert b.accuracy == pytest.approx(sum(right) / len(right))
    assert b.confidence == pytest.approx(sum(conf) / len(conf))
    neg_p = 1 - 0.75
    summary = {"probabilities": {"benign": neg_p, "malignant": 0.75}, "decision": "malignant"}
    text = tp.calibration_markdown(card, summary, "en")
    assert f"Of the {len(conf)} test images the model gave 0.7-0.8, it was right on {_pct(sum(right) / len(right))}" in text
    assert f"시험 영상 {len(conf)}장 중" in tp.calibration_markdown(card, summary, "ko")


def test_missing_predictions_say_so(tmp_path) -> None:
    card = CARDS[0]
    assert reliability(card, tmp_path) is None


# ------------------------------------------------------------------------------- threshold bar


@pytest.mark.parametrize("card", BINARY, ids=[c.id for c in BINARY])
def test_threshold_bar(card) -> None:
    neg = next(lid for lid in card.label_ids if lid != card.positive_class)
    thr = float(card.threshold)
    above = {"probabilities": {card.positive_class: min(1.0, thr + 0.1), neg: max(0.0, 0.9 - thr)},
             "decision": card.positive_class}
    below = {"probabilities": {card.positive_class: thr - 0.1, neg: 1.1 - thr}, "decision": neg}
    for summary, op, decided in ((above, "≥", card.positive_class), (below, "<", neg)):
        bar = html.unescape(tp.threshold_bar_html(card, summary, "en"))
        assert f'data-threshold="{thr:g}"' in bar
        assert f"left:{100 * thr:.2f}%" in bar  # the threshold's rule on the bar
        p = summary["probabilities"][card.positive_class]
        assert f"width:{100 * p:.2f}%" in bar
        assert f" {op} threshold " in bar and card.label(decided).en in bar
    assert "임계값" in tp.threshold_bar_html(card, below, "ko")
    waiting = tp.threshold_bar_html(card, None, "en")
    assert "width:0.00%" in waiting and f"Threshold {thr:g}" in waiting
    refused = tp.threshold_bar_html(card, {"probabilities": None, "decision": None}, "en")
    assert STRINGS["bar.none"]["en"] in refused


# ---------------------------------------------------------------------------------- strings, API


def test_panel_strings_follow_the_glossary() -> None:
    """Where a panel or report string names a glossary term in English, its Korean carries the glossary's
    term (the report's strings, moved here from medhub/teaching/report.py, included)."""
    keys = [k for k in STRINGS if re.match(r"(pv|cal|icons|bar|teach|report)\.", k)]
    assert len(keys) > 20
    problems = []
    for key in keys:
        # format fields ("{decision}") are not words of the text
        en, ko = (re.sub(r"\{[^}]*\}", "", STRINGS[key][lg]) for lg in ("en", "ko"))
        for term in glossary.find_terms(en):
            if term.ko not in ko:
                problems.append(f"{key}: '{term.en}' should be '{term.ko}'")
            problems += [f"{key}: avoid '{bad}'" for bad in term.avoid if bad in ko]
    assert not problems, problems


def test_panel_events_stay_off_the_api() -> None:
    from tabs.hooks import TabHooks
    from tabs.layout import build_tab
    from tabs.localise import Localiser

    card = BINARY[0]
    with gr.Blocks() as demo:
        lang = gr.Radio(["en", "ko"], value="en")
        ui = Localiser(gr.I18n())
        parts = build_tab(card, TabHooks(), ui, lang, [])
        before = len(demo.fns)
        panel = tp.add_teaching_panel(parts, ui, lang)
    deps = demo.get_config_file()["dependencies"]
    public = [d["api_name"] for d in deps if d["api_visibility"] != "private"]
    assert public == [f"predict_{card.id}"]
    assert len(deps) > before  # the panel did add (private) events
    # beside the result: in the column that holds the decision sentence, and that column kept its place
    assert panel.pv.parent.parent.parent.parent is parts.decision.parent
    assert isinstance(parts.decision.parent.parent, gr.Row)


def test_plots_are_redrawn_only_when_their_data_changes() -> None:
    card = BINARY[0]
    first = tp.default_preset(card)
    pct = 100 * tp.preset_prevalence(card, first)
    on_result = tp.render(card, None, "ko", first, pct, cause="result")
    assert "value" not in on_result[3] and "value" not in on_result[4]
    on_language = tp.render(card, None, "ko", first, pct, cause="language")
    assert "value" not in on_language[3] and "유병률" in on_language[3]["label"]
    assert on_language[4]["label"] == STRINGS["cal.plot"]["ko"]
    on_prevalence = tp.render(card, None, "ko", first, 7.5, cause="prevalence")
    assert len(on_prevalence[3]["value"]) == tp.ICONS_PER and "7.5 %" in on_prevalence[3]["label"]
