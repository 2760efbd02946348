"""The result text: every rule of `medhub.result_text.RULES`, checked in English and Korean through the
functions the tab, the API summary and the CLI use (no model, no server); and the Korean particle
helper on the strings that use it."""

from __future__ import annotations

import dataclasses
import re
from types import SimpleNamespace

import numpy as np
import pytest

from medhub.cards import get_card, load_cards
from medhub.i18n import STRINGS, josa, particle, t
from medhub.result_text import BORDERLINE_BAND, RULES, borderline_of, compare

LANGS = ("en", "ko")
CARDS = load_cards()
BINARY = [c for c in CARDS if c.is_binary]
WORDS = {  # what the rules print, per language
    "threshold": {"en": "threshold", "ko": "임계값"},
    "borderline": {"en": "(borderline)", "ko": "(경계선)"},
}


def _summary(card, probs: dict[str, float], **extra) -> dict:
    """An answered summary as `medhub.summary.build` builds it, for a probability row."""
    from medhub.inference import Analysis, decide
    from medhub.summary import build

    row = np.array([probs[lid] for lid in card.label_ids])
    analysis = Analysis(card=card, probabilities=dict(probs), decision=decide(card, row),
                        explained_label=extra.pop("explained", None))
    analysis.explained_label = analysis.explained_label or (
        card.positive_class if card.heatmap_class == "positive" else analysis.decision)
    return {**build(analysis), **extra}


def _binary(card, p: float) -> dict[str, float]:
    return {lid: (p if lid == card.positive_class else 1.0 - p) for lid in card.label_ids}


def _text(summary, card, lang) -> str:
    from tabs.texts import decision_text

    return decision_text(summary, card, lang)


def _printed_comparison(text: str) -> tuple[float, str, float]:
    m = re.search(r"= (\d+\.\d+) ([≥<]) (?:threshold|임계값|기준) (\d+\.\d+)", text)
    assert m, text
    return float(m.group(1)), m.group(2), float(m.group(3))


# ------------------------------------------------------------------------------------ the rules


def rule_threshold_precision(lang):
    card = dataclasses.replace(get_card("melanoma"), threshold=0.492)
    text = _text(_summary(card, _binary(card, 0.4915)), card, lang)
    assert f"0.491 < {WORDS['threshold'][lang]} 0.492" in text, text
    # the brain tab's sentence follows the same rule
    from medhub.explain import hemorrhage_explanation

    assert "P = 0.2310 < " in hemorrhage_explanation(0.231, 0.2315, None, lang)
    # and it holds for any probability and any threshold a card can state (4 decimals), down to
    # probabilities 1e-5 from it (the summary keeps 6 decimals): the printed comparison is true
    rng = np.random.default_rng(0)
    for p, thr in rng.uniform(0.01, 0.99, (300, 2)):
        thr = round(float(thr), 4)
        for near in (p, thr + rng.choice([-1, 1]) * 10.0 ** -rng.integers(3, 6)):
            near = float(np.clip(near, 0.0, 1.0))
            other = dataclasses.replace(card, threshold=thr)
            ps, op, ts = _printed_comparison(_text(_summary(other, _binary(other, near)), other, lang))
            assert (ps >= ts) if op == "≥" else (ps < ts), (near, thr)
            assert op == ("≥" if near >= thr else "<"), (near, thr, ps, op, ts)


def rule_borderline_band(lang):
    """Symmetric around every binary card's threshold; the issue's brain examples (threshold 0.2315):
    P = 0.27 is borderline, not "suggests"; P = 0.12 is not borderline."""
    from medhub.explain import hemorrhage_explanation

    assert BINARY, "no binary card"
    for card in BINARY:
        thr, tag = card.threshold, WORDS["borderline"][lang]
        for offset, borderline in ((-0.6, True), (0.6, True), (-0.99, True), (-1.2, False), (1.2, False), (3.0, False)):
            p = float(np.clip(thr + offset * BORDERLINE_BAND, 0.001, 0.999))
            if abs(p - thr) >= BORDERLINE_BAND and borderline:
                continue  # clipped away from the band at an extreme threshold
            summary = _summary(card, _binary(card, p))
            heading = _text(summary, card, lang).split("### ", 1)[1].split("\n", 1)[0]
            assert (tag in heading) is borderline, (card.id, p, heading)
            assert summary["borderline"] is borderline is borderline_of(card, summary["probabilities"])
    brain = dataclasses.replace(get_card("brain_hemorrhage"), threshold=0.2315)
    above = hemorrhage_explanation(0.27, brain.threshold, None, lang)
    below = hemorrhage_explanation(0.20, brain.threshold, None, lang)
    far = hemorrhage_explanation(0.12, brain.threshold, None, lang)
    clear = hemorrhage_explanation(0.40, brain.threshold, None, lang)
    word = {"en": "Borderline", "ko": "경계선"}[lang]
    assert word in above and word in below and word not in far and word not in clear
    assert ("suggests" if lang == "en" else "시사합니다") in clear
    assert ("no clear sign" if lang == "en" else "뚜렷한 징후를 찾지 못했습니다") in far
    # a multi-class result whose top two are within the band is a close call
    multi = next(c for c in CARDS if not c.is_binary and c.output == "softmax")
    ids = multi.label_ids
    probs = {lid: 0.0 for lid in ids}
    probs[ids[0]], probs[ids[1]] = 0.51, 0.49
    text = _text(_summary(multi, probs), multi, lang)
    assert t("decision.close_tag", lang) in text and multi.label(ids[1]).name(lang) in text


def rule_heatmap_names_class(lang):
    """The sentence names the class the map explains; a card that maps its positive class whatever
    the decision says so under a negative heading."""
    positive_mapping = [c for c in BINARY if c.heatmap_class == "positive"]
    assert positive_mapping, "no card maps its positive class"
    for card in positive_mapping:
        negative = next(lid for lid in card.label_ids if lid != card.positive_class)
        text = _text(_summary(card, _binary(card, 0.01)), card, lang)
        heading = text.split("### ", 1)[1].split("\n", 1)[0]
        heat = next(line for line in text.split("\n\n") if "**" + card.label(card.positive_class).name(lang) in line)
        assert card.label(negative).name(lang) in heading
        assert card.label(negative).name(lang) in heat, "names the decision it does not explain"
    for card in CARDS:
        if card.heatmap_class != "decision" or card.output != "softmax":
            continue
        probs = {lid: 0.0 for lid in card.label_ids}
        probs[card.label_ids[-1]] = 1.0
        text = _text(_summary(card, probs), card, lang)
        assert t("heat.explained", lang, label=card.label(card.label_ids[-1]).name(lang)) in text


def rule_ct_region_inside_head(lang):
    """A bright disk (the head) on a black slice: a hot spot on it is named, one in the corner is
    said to lie outside the head, and no region is named then."""
    from medhub.result_extras import ct_region

    card = next(c for c in CARDS if "ct_region" in c.result_extras)
    size = 256
    yy, xx = np.mgrid[0:size, 0:size]
    slice_ = np.where((yy - 128) ** 2 + (xx - 128) ** 2 < 80**2, 140, 0).astype(np.uint8)
    decoded = SimpleNamespace(rgb=np.repeat(slice_[:, :, None], 3, axis=2), kind="image", meta={})
    analysis = SimpleNamespace(positive_probability=0.6)

    def hot(cy, cx):
        return np.exp(-((yy - cy) ** 2 + (xx - cx) ** 2) / (2 * 12.0**2)).astype(np.float32)

    inside = ct_region(card, decoded, analysis, hot(128, 90)).ui
    outside = ct_region(card, decoded, analysis, hot(20, 230)).ui
    assert inside["region"] is not None and not inside["hotspot_outside_head"]
    assert inside["region"][f"name_{lang}"] in inside[f"explanation_{lang}"]
    assert outside["region"] is None and outside["hotspot_outside_head"]
    assert t("ct.outside", lang) in outside[f"explanation_{lang}"]
    region_words = {"en": "region (approx.", "ko": "구역)"}[lang]
    assert t("ct.outside", lang) not in inside[f"explanation_{lang}"]
    assert region_words not in outside[f"explanation_{lang}"].replace("3 x 3", "")


def rule_refused_no_heatmap(lang):
    """Out of scope: the summary carries no probabilities, no decision, no explained class; the text
    is the refusal, without a heat-map sentence; shown anyway, everything comes back."""
    from medhub.inference import Analysis
    from medhub.scope import ScopeResult
    from medhub.summary import build

    card = next(c for c in CARDS if c.scope is not None and c.is_binary)
    refused = ScopeResult(in_scope=False, score=2.0, threshold=1.0, family="other", family_probability=0.9,
                          distance_ok=False, family_ok=False)
    analysis = Analysis(card=card, probabilities=_binary(card, 0.7), decision=card.positive_class,
                        heatmap=np.ones((4, 4), np.float32), explained_label=card.positive_class,
                        scope=refused, summary_fields={"heatmap_empty": False})
    summary = build(analysis)
    assert summary["probabilities"] is None and summary["decision"] is None
    assert summary["explained_label"] is None and summary["borderline"] is None and "heatmap_empty" not in summary
    text = _text(summary, card, lang)
    assert t("scope.refused", lang) in text
    assert ("heat map shows" if lang == "en" else "히트맵은 위") not in text
    shown = build(analysis, show_anyway=True)
    assert shown["probabilities"] and shown["explained_label"] == card.positive_class
    assert t("scope.banner", lang) in _text(shown, card, lang)


def rule_graded_follows_table(lang):
    """The sentence follows P(present), the number the table shows: P(grade 0) = 0.37 is the largest
    single grade, but P(present) = 0.63 says the symptom is there."""
    from medhub.graded import card_heads, graded_summary
    from medhub.result_extras import ResultExtras
    from tabs.graded_heads import GradedHooks

    card = next(c for c in CARDS if c.output == "graded_heads")
    heads = card_heads(card)
    probs = {h.id: [0.9, 0.05, 0.03, 0.02] for h in heads}
    probs[heads[0].id] = [0.37, 0.21, 0.22, 0.20]
    out = graded_summary(card, probs, lang)
    first = out["heads"][0]
    assert first["p_present"] == pytest.approx(0.63) and first["grade"] == 2
    assert heads[0].name(lang) in out["sentence"] and heads[0].grades[2].name(lang) in out["sentence"]
    for head in out["heads"]:
        assert (head["grade"] > 0) is (head["p_present"] >= 0.5), head
    view = {"heads": out["heads"], "heads_ko": out["heads"], f"sentence_{lang}": out["sentence"]}
    table = GradedHooks().render(card, ResultExtras(ui={"graded_heads": view}), lang)[0]
    assert f"| 2 · {heads[0].grades[2].name(lang)} | 0.63 |" in table
    probs[heads[0].id] = [0.52, 0.30, 0.10, 0.08]
    absent = graded_summary(card, probs, lang)
    assert absent["heads"][0]["grade"] == 0
    assert ("no " + heads[0].name(lang) if lang == "en" else "보이지 않습니다") in absent["sentence"]


def rule_weak_model_hedged(lang):
    """A card whose figures are near chance, or below its stated targets, carries a banner on every
    result and claims nothing confidently; a card within its targets carries none."""
    from medhub.caution import card_caution
    from medhub.explain import hemorrhage_explanation
    from medhub.graded import card_heads, graded_summary
    from medhub.result_extras import severity_sentence

    base = get_card("melanoma")
    fine = dataclasses.replace(base, metrics={**base.metrics, "auroc": 0.95, "balanced_accuracy": 0.9}, targets=None)
    weak = dataclasses.replace(base, metrics={**base.metrics, "auroc": 0.55, "balanced_accuracy": 0.52})
    short = dataclasses.replace(fine, targets={"auroc": 0.97, "recall:malignant": 0.5})
    assert card_caution(fine) is None
    assert card_caution(weak).level == "near_chance" and card_caution(short).level == "below_target"
    for card in (weak, short):
        caution = card_caution(card)
        summary = _summary(card, _binary(card, 0.97))
        assert summary["caution"]["level"] == caution.level and summary["caution"][lang] == caution.text(card, lang)
        text = _text(summary, card, lang)
        heading = text.split("### ", 1)[1].split("\n", 1)[0]
        assert caution.text(card, lang) in text and heading.startswith(caution.hedge(lang) + ":"), heading
    assert "AUROC 0.55" in card_caution(weak).text(weak, lang) and "0.97" in card_caution(short).text(short, lang)
    summary = _summary(fine, _binary(fine, 0.97))
    assert summary["caution"] is None and "⚠️" not in _text(summary, fine, lang)
    # the other result sentences: the CT verdict never says "strongly", the scales lead with the hedge
    hedge = card_caution(weak).hedge(lang)
    strong = {"en": "strongly", "ko": "강하게"}[lang]
    assert strong in hemorrhage_explanation(0.99, 0.3, None, lang)
    assert strong not in hemorrhage_explanation(0.99, 0.3, None, lang, hedge=hedge)
    assert severity_sentence(3, 3, lang, hedge).startswith(hedge)
    graded = next(c for c in CARDS if c.output == "graded_heads")
    probs = {h.id: [0.1, 0.7, 0.1, 0.1] for h in card_heads(graded)}
    sentence = graded_summary(graded, probs, lang, hedge=hedge)["sentence"]
    assert sentence.startswith(hedge) and ("Your scalp shows" if lang == "en" else "두피에") not in sentence


CHECKS = {name[len("rule_"):]: fn for name, fn in globals().items() if name.startswith("rule_")}


def test_every_rule_has_a_check():
    assert set(CHECKS) == set(RULES)


@pytest.mark.parametrize("lang", LANGS)
@pytest.mark.parametrize("rule", RULES)
def test_rule(rule, lang):
    CHECKS[rule](lang)


def test_compare_prints_the_fewest_digits_that_keep_the_comparison_true():
    assert compare(0.4915, 0.492) == ("0.491", "<", "0.492")
    assert compare(0.83, 0.492) == ("0.83", "≥", "0.49")
    assert compare(0.492, 0.492) == ("0.49", "≥", "0.49")
    assert compare(0.49199, 0.492) == ("0.49199", "<", "0.49200")


# ------------------------------------------------------------------------------ Korean particles


@pytest.mark.parametrize(("word", "pair", "expected"), [
    ("영상", "을/를", "영상을"), ("이미지", "을/를", "이미지를"), ("사진", "으로/로", "사진으로"),
    ("이미지", "으로/로", "이미지로"), ("파일", "으로/로", "파일로"), ("비듬", "이나/나", "비듬이나"),
    ("피지 과다", "이/가", "피지 과다가"), ("흑색종", "은/는", "흑색종은"), ("경증 비듬", "과/와", "경증 비듬과"),
    ("**흑색종**", "을/를", "**흑색종**을"), ("악성 (흑색종)", "이/가", "악성 (흑색종)이"),
    ("피부경(더모스코피) 영상", "으로/로", "피부경(더모스코피) 영상으로"), ("(melanoma)", "을/를", "(melanoma)를"),
    ("CT", "을/를", "CT를"), ("MRI", "으로/로", "MRI로"), ("URL", "으로/로", "URL로"), ("HAM", "이/가", "HAM이"),
    ("Grad-CAM", "을/를", "Grad-CAM을"), ("model", "을/를", "model을"), ("image", "이/가", "image가"),
    ("web", "으로/로", "web으로"), ("3", "을/를", "3을"), ("2", "이/가", "2가"), ("7", "으로/로", "7로"),
    ("10", "은/는", "10은"), ("0.5", "이/가", "0.5가"), ("1,000", "이/가", "1,000이"), ("50%", "이/가", "50%가"),
])
def test_josa(word, pair, expected):
    assert josa(word, pair) == expected


def test_no_string_keeps_a_both_ways_particle():
    forms = ("을(를)", "를(을)", "(으)로", "이(가)", "가(이)", "은(는)", "는(은)", "과(와)", "와(과)", "(이)나")
    for key, value in STRINGS.items():
        assert not any(f in value["ko"] for f in forms), key


FAMILY_KO = {  # what a refusal says after each image family's Korean name (read by ear)
    "head_ct": "두부 CT 영상으로", "dermoscopy": "피부 병변의 피부경(더모스코피) 영상으로",
    "clinical_sk": "지루각화증의 (피부경이 아닌) 임상 사진으로", "clinical_skin": "피부 질환의 임상 사진으로",
    "whole_head": "머리 전체(모발선) 사진으로", "scalp_microscope": "두피 현미경 확대 사진으로",
    "people": "인물·전신·손을 찍은 사람 사진으로",
    "other": "이 종류의 의료 영상이 아닌 이미지로",
}


@pytest.mark.parametrize("reason", ["family", "distance"])
def test_refusal_texts_read_right_in_korean_and_say_each_thing_once(reason):
    """Every card's refusal of every image family: particles fitted to the words, no repeated
    sentence, the suggested tab once."""
    from medhub.scope import FAMILIES, family_name
    from tabs.texts import scope_text

    assert set(FAMILY_KO) <= set(FAMILIES)
    for card in [c for c in CARDS if c.scope is not None]:
        expects = " / ".join(family_name(f, "ko") for f in card.scope.accepts)
        for family, said in FAMILY_KO.items():
            other = next((c for c in CARDS if c.scope and family in c.scope.accepts and c.id != card.id), None)
            summary = {"in_scope": False, "scope_reason": reason, "scope_family": family, "scope_score": 2.0,
                       "scope_threshold": 1.0, "suggested_model": other.id if other else None}
            for lang in LANGS:
                text = scope_text(summary, card, lang)
                sentences = [s.strip() for s in re.split(r"(?<=[.!?다])\s+|\n+", text) if s.strip()]
                assert len(sentences) == len(set(sentences)), text
                assert text.count("looks like") + text.count("보입니다") == 1, text
                if other:
                    assert text.count(other.title_for(lang)) == 1
            text = scope_text(summary, card, "ko")
            assert f"모델은 {josa(expects, '을/를')} 판독합니다" in text
            assert f"{said} 보입니다" in text, text


def test_heat_map_sentences_fit_the_particle_to_every_label():
    for card in CARDS:
        for label in card.labels:
            text = t("heat.empty", "ko", label=label.ko)
            assert text.startswith(f"**{label.ko}**{particle(label.ko, '을/를')} 뒷받침"), text
    assert t("heat.empty", "ko", label="흑색종").startswith("**흑색종**을 ")
    assert t("heat.empty", "ko", label="출혈 없음").startswith("**출혈 없음**을 ")
    assert t("heat.empty", "ko", label="기타 피부 질환").startswith("**기타 피부 질환**을 ")
    assert t("heat.empty", "ko", label="양성 각화성 병변").startswith("**양성 각화성 병변**을 ")
    assert t("heat.empty", "ko", label="멜라닌세포모반 (점)").startswith("**멜라닌세포모반 (점)**을 ")
    assert t("heat.empty", "ko", label="증상 없음 (0단계)").startswith("**증상 없음 (0단계)**을 ")
    assert t("heat.empty", "ko", label="대상포진").startswith("**대상포진**을 ")
    assert t("heat.empty", "ko", label="혈관 병변").startswith("**혈관 병변**을 ")
    assert t("heat.empty", "ko", label="피부섬유종").startswith("**피부섬유종**을 ")
    assert t("heat.empty", "ko", label="양성 병변").startswith("**양성 병변**을 ")
    assert t("heat.empty", "ko", label="정상").startswith("**정상**을 ")
    assert t("heat.empty", "ko", label="중증 (가장 심한 증상 3단계)").startswith("**중증 (가장 심한 증상 3단계)**을 ")
    assert t("heat.empty", "ko", label="경증").startswith("**경증**을 ")
    assert t("heat.empty", "ko", label="기저세포암").startswith("**기저세포암**을 ")
    assert t("heat.empty", "ko", label="뇌출혈").startswith("**뇌출혈**을 ")
    assert t("heat.empty", "ko", label="양호").startswith("**양호**를 ")
