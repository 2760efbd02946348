"""Predictive values at a prevalence (issue 19): medhub/teaching/ppv.py and `python -m medhub ppv`."""

from __future__ import annotations

import json

import pytest

from medhub.cards import get_card, load_cards
from medhub.cli import main
from medhub.teaching import ppv


def test_wilson_against_hand_values() -> None:
    # 17/20: p = 0.85, z = 1.96: centre (0.85 + 0.096) / 1.192 = 0.7936, half 0.1540
    lo, hi = ppv.wilson(17, 20)
    assert lo == pytest.approx(0.6396, abs=1e-4) and hi == pytest.approx(0.9476, abs=1e-4)
    assert ppv.wilson(0, 10) == pytest.approx((0.0, 0.2775), abs=1e-4)
    assert ppv.wilson(20, 20) == pytest.approx((0.8389, 1.0), abs=1e-4)
    with pytest.raises(ValueError):
        ppv.wilson(3, 2)


def test_hkmj_2023_anchor_is_reproduced() -> None:
    """Abrigo et al., Hong Kong Med J 2023: 1372 head CTs, 84 with ICH, 62 TP, 22 FN; PPV 18.6 %, NPV 97.8 %.
    Specificity 79 % of 1288: 1017 TN, 271 FP (62 / (62 + 271) = 0.186)."""
    sens, spec, prev = 62 / 84, 1017 / 1288, 84 / 1372
    assert ppv.ppv(sens, spec, prev) == pytest.approx(62 / 333, abs=1e-9)
    assert round(ppv.ppv(sens, spec, prev), 3) == 0.186
    assert ppv.npv(sens, spec, prev) == pytest.approx(0.978, abs=0.0015)  # 1017 / 1039 = 0.9788 (paper: 97.8 %)


def test_ppv_npv_hand_computed() -> None:
    # sens 0.9, spec 0.8, p 0.1: PPV = 0.09 / (0.09 + 0.18) = 1/3; NPV = 0.72 / (0.72 + 0.01) = 0.98630
    assert ppv.ppv(0.9, 0.8, 0.1) == pytest.approx(1 / 3)
    assert ppv.npv(0.9, 0.8, 0.1) == pytest.approx(0.72 / 0.73)
    # perfect specificity: every flag is right
    assert ppv.ppv(0.5, 1.0, 0.01) == pytest.approx(1.0)


def test_natural_frequencies_add_up() -> None:
    f = ppv.natural_frequencies(0.9, 0.8, 0.1)
    assert (f.with_condition, f.true_positive, f.false_negative) == (100, 90, 10)
    assert (f.without_condition, f.false_positive, f.true_negative) == (900, 180, 720)
    assert f.flagged == 270
    for sens, spec, p in [(0.7823, 0.5253, 0.01), (0.25, 0.9871, 0.0333), (1.0, 0.85, 0.061)]:
        g = ppv.natural_frequencies(sens, spec, p)
        assert g.true_positive + g.false_positive + g.false_negative + g.true_negative == 1000
        assert g.flagged == g.true_positive + g.false_positive


def test_melanoma_card_counts_and_values() -> None:
    card = get_card("melanoma")
    c = ppv.card_counts(card)
    # the card (HAM10000 test split): malignant recall 0.6022 of 181, benign recall 0.8536 of 1537
    # (confusion matrix [[1312, 225], [72, 109]])
    assert (c.sensitivity.successes, c.sensitivity.n) == (109, 181)
    assert (c.specificity.successes, c.specificity.n) == (1312, 1537)
    r = ppv.at_prevalence(card, 0.01)
    # hand: 0.602210 * 0.01 / (0.602210 * 0.01 + 0.146389 * 0.99) = 0.039896
    #       0.853611 * 0.99 / (0.853611 * 0.99 + 0.397790 * 0.01) = 0.995315
    assert r["ppv"]["value"] == pytest.approx(0.0399, abs=1e-4)
    assert r["npv"]["value"] == pytest.approx(0.9953, abs=1e-4)
    lo, hi = r["ppv"]["range"]
    assert lo <= r["ppv"]["value"] <= hi
    assert r["per_1000"]["with_condition"] == 10 and r["per_1000"]["true_positive"] == 6
    assert "흑색종" in r["text"]["ko"] and "melanoma" in r["text"]["en"]


@pytest.mark.parametrize("card", [c for c in load_cards() if c.is_binary], ids=lambda c: c.id)
def test_counts_agree_with_the_confusion_matrix(card) -> None:
    """per_class recall x support gives the counts of the card's confusion matrix (rows truth, label order)."""
    c = ppv.card_counts(card)
    cm = card.metrics["confusion_matrix"]
    pos, neg = card.label_ids.index(card.positive_class), 1 - card.label_ids.index(card.positive_class)
    assert c.sensitivity.successes == cm[pos][pos] and c.sensitivity.n == sum(cm[pos])
    assert c.specificity.successes == cm[neg][neg] and c.specificity.n == sum(cm[neg])


@pytest.mark.parametrize("card", [c for c in load_cards() if c.is_binary], ids=lambda c: c.id)
def test_presets_cite_a_source_or_say_illustrative(card) -> None:
    presets = ppv.presets(card)
    assert presets[0]["id"] == "test_split"
    for p in presets:
        assert 0 < p["prevalence"] < 1
        assert p["en"] and p["ko"]
        assert p.get("illustrative") is True or p.get("source"), p


def test_cli_ppv_json(capsys) -> None:
    assert main(["ppv", "brain_hemorrhage", "--prevalence", "0.061", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["model"] == "brain_hemorrhage" and out["prevalence"] == 0.061
    # the card: hemorrhage 20/20, normal 17/20
    assert out["sensitivity"]["value"] == 1.0 and out["sensitivity"]["ci95"] == pytest.approx([0.8389, 1.0], abs=1e-4)
    assert out["specificity"]["value"] == 0.85 and out["specificity"]["ci95"] == pytest.approx([0.6396, 0.9476], abs=1e-4)
    # hand: 0.061 / (0.061 + 0.15 * 0.939) = 0.30223; NPV 1 (no false negatives)
    assert out["ppv"]["value"] == pytest.approx(0.3022, abs=1e-4)
    assert out["npv"]["value"] == 1.0
    f = out["per_1000"]
    assert (f["with_condition"], f["true_positive"], f["false_positive"], f["flagged"]) == (61, 61, 141, 202)
    assert "Of 1,000" in out["text"]["en"] and "1,000건 중" in out["text"]["ko"]
    assert any(p["id"] == "emergency_head_ct_hk" and p["prevalence"] == 0.061 for p in out["presets"])


def test_cli_ppv_percent_preset_and_errors(capsys) -> None:
    assert main(["ppv", "melanoma", "--prevalence", "1%", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["prevalence"] == pytest.approx(0.01)
    assert main(["ppv", "melanoma", "--preset", "ham10000_collection", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["prevalence"] == pytest.approx(0.111)
    assert main(["ppv", "melanoma", "--lang", "ko", "--prevalence", "0.05"]) == 0
    assert "양성예측도" in capsys.readouterr().out
    assert main(["ppv", "skin_lesion", "--prevalence", "0.1"]) == 2  # not binary
    assert main(["ppv", "melanoma", "--preset", "nope"]) == 2
    with pytest.raises(SystemExit):
        main(["ppv", "melanoma", "--prevalence", "1.5"])
