"""Graded heads (`output: graded_heads`, medhub/graded.py): card validation, grades from areas, the result
sentence, the per-head metrics, the torch backend's per-head probabilities and Grad-CAM, and (with the
data and the bundled weights) `python -m medhub evaluate` reproducing the scalp microscope card."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import yaml

from medhub.cards import CardError, parse_card
from medhub.graded import (
    card_heads,
    grade_from_area,
    graded_summary,
    head_metrics,
    parse_heads,
    result_sentence,
    weighted_kappa,
)

REPO = Path(__file__).resolve().parent.parent
GRADES = [{"en": "none", "ko": "양호"}, {"en": "mild", "ko": "경증"}, {"en": "moderate", "ko": "중등도"},
          {"en": "severe", "ko": "중증"}]
HEADS = [
    {"id": "dandruff", "en": "dandruff", "ko": "비듬", "area_columns": ["d"], "bins": [0.0, 0.01, 0.03],
     "grades": GRADES},
    {"id": "oiliness", "en": "oiliness", "ko": "피지 과다", "area_columns": ["o"], "bins": [0.0, 0.02, 0.06],
     "grades": GRADES},
]
LABELS = [{"id": f"g{i}", "en": f"grade {i}", "ko": f"{i}단계", "grade": i} for i in range(4)]


def card_text(heads=HEADS, output="graded_heads", arch="test_efficientnet", size=64, sha="0" * 64) -> str:
    meta = {"license": "cc-by-4.0", "medhub": {
        "schema_version": 1, "id": "t_graded", "title": {"en": "Test", "ko": "시험"}, "framework": "torch", "architecture": arch,
        "hub": {"repo_id": "medhub-test/t_graded", "revision": "main",
                "files": [{"name": "model.safetensors", "sha256": sha}]},
        "input": {"modality": "scalp_microscope", "size": [size, size], "channels": 3, "mean": [0.5] * 3,
                  "std": [0.5] * 3},
        "output": output, "labels": LABELS, "positive_class": None, "threshold": None,
        "gradcam_layer": "body.bn2", "heads": heads,
        "metrics": {"dataset": "synthetic", "split": "none", "n": 0}, "license": "cc-by-4.0"}}
    sections = "\n".join(f"# {s}" for s in ("Intended use", "Out-of-scope use", "Training data", "Evaluation",
                                            "Limitations", "Disclaimer"))
    return "---\n" + yaml.safe_dump(meta, allow_unicode=True, sort_keys=False) + "---\n" + sections + "\n"


def test_a_graded_card_parses_and_lists_its_heads():
    card = parse_card(card_text())
    heads = card_heads(card)
    assert [h.id for h in heads] == ["dandruff", "oiliness"]
    assert heads[1].bins == (0.0, 0.02, 0.06) and heads[1].grades[2].ko == "중등도"


@pytest.mark.parametrize("change,message", [
    (lambda h: h[0].pop("bins"), r"missing 'medhub\.heads\.0\.bins'"),
    (lambda h: h[0].update(bins=[0.0, 0.01]), "3 edges"),
    (lambda h: h[0].update(bins=[0.0, 0.03, 0.01]), "increase strictly"),
    (lambda h: h[0].update(grades=[{"en": "none"}, {"en": "mild", "ko": "경증"}]), r"missing 'medhub\.heads\.0\.grades\.0\.ko'"),
    (lambda h: h[1].update(id="dandruff"), "unique"),
    (lambda h: h[0].update(area_columns="d"), "area_columns"),
    (lambda h: h.clear(), "non-empty"),
])
def test_card_validation_refuses_broken_heads(change, message):
    heads = json.loads(json.dumps(HEADS))
    change(heads)
    with pytest.raises(CardError, match=message):
        parse_card(card_text(heads))


def test_an_unknown_output_is_still_refused():
    with pytest.raises(CardError, match="'medhub.output': Input should be 'softmax' or 'graded_heads'"):
        parse_card(card_text(output="sigmoid"))


def test_grades_from_area_follow_the_bins():
    bins = (0.0, 0.01, 0.03)
    assert [grade_from_area(a, bins) for a in (0.0, 1e-6, 0.01, 0.0101, 0.03, 0.5)] == [0, 1, 1, 2, 2, 3]


def test_result_sentence_in_the_original_style():
    heads = parse_heads(HEADS)
    assert result_sentence(heads, [1, 2], "en") == "Your scalp shows mild dandruff and moderate oiliness."
    assert result_sentence(heads, [1, 2], "ko") == "두피에 경증 비듬과 중등도 피지 과다가 보입니다."
    assert result_sentence(heads, [0, 3], "en") == "Your scalp shows severe oiliness."
    assert result_sentence(heads, [3, 0], "ko") == "두피에 중증 비듬이 보입니다."
    assert result_sentence(heads, [0, 0], "en") == "Your scalp shows no dandruff or oiliness."
    assert result_sentence(heads, [0, 0], "ko") == "두피에 비듬이나 피지 과다가 보이지 않습니다."
    three = parse_heads(HEADS + [{**HEADS[0], "id": "redness", "en": "redness", "ko": "홍반"}])
    assert result_sentence(three, [1, 1, 2], "en") == "Your scalp shows mild dandruff, mild oiliness and moderate redness."
    assert result_sentence(three, [1, 1, 2], "ko") == "두피에 경증 비듬, 경증 피지 과다와 중등도 홍반이 보입니다."


def test_graded_summary_picks_the_most_probable_grade_per_head():
    card = parse_card(card_text())
    probs = {"primary": [0.1, 0.2, 0.6, 0.1], "dandruff": [0.1, 0.7, 0.1, 0.1], "oiliness": [0.2, 0.1, 0.6, 0.1]}
    out = graded_summary(card, probs, "en")
    assert [h["grade"] for h in out["heads"]] == [1, 2]
    assert out["heads"][0]["p_present"] == pytest.approx(0.9)
    assert out["heads"][1]["probabilities"] == {"none": 0.2, "mild": 0.1, "moderate": 0.6, "severe": 0.1}
    assert out["sentence"] == "Your scalp shows mild dandruff and moderate oiliness."
    ko = graded_summary(card, probs, "ko")
    assert ko["heads"][1]["grade_name"] == "중등도" and ko["sentence"].startswith("두피에 경증 비듬과")


@pytest.mark.parametrize("probs", [
    {"dandruff": [0.5, 0.5]},                                        # oiliness missing
    {"dandruff": [0.5, 0.5], "oiliness": [0.2, 0.2, 0.3, 0.3]},       # wrong length
    {"dandruff": [0.5, 0.5, np.nan, 0], "oiliness": [1, 0, 0, 0]},    # not finite
])
def test_graded_summary_refuses_bad_probabilities(probs):
    with pytest.raises(ValueError):
        graded_summary(parse_card(card_text()), probs, "en")


def test_weighted_kappa_matches_sklearn():
    from sklearn.metrics import cohen_kappa_score

    rng = np.random.default_rng(0)
    a = rng.integers(0, 4, 200)
    b = np.clip(a + rng.integers(-1, 2, 200), 0, 3)
    assert weighted_kappa(a, a, 4) == pytest.approx(1.0)
    assert weighted_kappa(a, b, 4) == pytest.approx(cohen_kappa_score(a, b, weights="quadratic"), abs=1e-9)


def test_head_metrics_presence_auroc_and_group_bootstrap():
    from sklearn.metrics import roc_auc_score

    rng = np.random.default_rng(1)
    ref = rng.integers(0, 4, 120)
    logits = np.eye(4)[ref] * 2 + rng.normal(0, 1, (120, 4))
    probs = np.exp(logits) / np.exp(logits).sum(1, keepdims=True)
    groups = [f"g{i // 2}" for i in range(120)]
    m = head_metrics(ref, probs, groups, n_boot=200)
    assert m["presence_auroc"] == pytest.approx(roc_auc_score(ref > 0, 1 - probs[:, 0]), abs=1e-4)
    lo, hi = m["presence_auroc_95ci_group_bootstrap"]
    assert lo < m["presence_auroc"] < hi
    assert m["n_groups"] == 60 and sum(map(sum, m["confusion_matrix"])) == 120
    assert m["grade_accuracy"] == pytest.approx(float((probs.argmax(1) == ref).mean()), abs=1e-4)


def test_torch_backend_returns_per_head_probabilities_and_per_head_maps(tmp_path):
    """A real (tiny) GradedHeadsNet saved as safetensors, loaded by the torch backend."""
    from safetensors.torch import save_file

    from medhub._torch_compat import import_torch
    from medhub.architectures.torch_nets import build_torch_model
    from medhub.backends import load_backend
    from medhub.weights import ResolvedWeights

    torch = import_torch()
    card = parse_card(card_text())
    torch.manual_seed(0)
    net = build_torch_model(card)
    save_file({k: v.contiguous() for k, v in net.state_dict().items()}, str(tmp_path / "model.safetensors"))
    backend = load_backend(card, ResolvedWeights(dir=tmp_path, files={"model.safetensors": tmp_path / "model.safetensors"},
                                                 source="local", revision=None))
    rng = np.random.default_rng(0)
    x = rng.normal(0, 1, (3, 64, 64, 3)).astype(np.float32)
    out = backend.predict_heads(x)
    assert set(out) == {"primary", "dandruff", "oiliness"}
    for v in out.values():
        assert v.shape == (3, 4) and np.allclose(v.sum(1), 1, atol=1e-5)
    assert np.allclose(out["primary"], backend.predict(x), atol=1e-5)  # the primary output is the softmax output
    summary = graded_summary(card, {k: v[0] for k, v in out.items()}, "en")
    assert summary["sentence"].startswith("Your scalp shows")
    heat = backend.explain_head(x[0], "dandruff")
    assert heat.shape == (64, 64) and heat.dtype == np.float32 and 0 <= heat.min() and heat.max() <= 1
    from medhub.backends import BackendError

    with pytest.raises(BackendError):
        backend.explain_head(x[0], "hair_loss")


def test_one_request_is_one_forward_pass_with_the_heads(tmp_path):
    """The request path (`Predictor.analyse` + the `graded_heads` result extra) runs the network once:
    the heads come from `analyse_one`'s pooled features and equal what `predict_heads` computes."""
    from types import SimpleNamespace

    from safetensors.torch import save_file

    from medhub import result_extras
    from medhub._torch_compat import import_torch
    from medhub.architectures.torch_nets import build_torch_model
    from medhub.backends import load_backend
    from medhub.inference import Predictor
    from medhub.weights import ResolvedWeights

    torch = import_torch()
    card = parse_card(card_text())
    torch.manual_seed(1)
    net = build_torch_model(card)
    save_file({k: v.contiguous() for k, v in net.state_dict().items()}, str(tmp_path / "model.safetensors"))
    backend = load_backend(card, ResolvedWeights(dir=tmp_path, files={"model.safetensors": tmp_path / "model.safetensors"},
                                                 source="local", revision=None))
    image = np.random.default_rng(2).integers(0, 255, (90, 80, 3), dtype=np.uint8)
    predictor = Predictor(card, backend)
    expected = backend.predict_heads(predictor.model_input(image)[None])

    body = backend.model.body
    calls = []
    original = body.forward_features
    body.forward_features = lambda t: (calls.append(1), original(t))[1]
    backend.predict_heads = lambda batch: pytest.fail("the graded result ran a second forward pass")
    analysis = predictor.analyse(image)
    extra = result_extras.graded_heads(card, SimpleNamespace(rgb=image), analysis, analysis.heatmap)
    assert len(calls) == 1, f"{len(calls)} forward passes for one request"

    assert set(analysis.heads) == {"dandruff", "oiliness"}
    for head, probs in analysis.heads.items():
        assert np.allclose(probs, expected[head][0], atol=1e-5), head
    assert np.allclose(list(analysis.probabilities.values()), expected["primary"][0], atol=1e-5)
    want = graded_summary(card, {k: v[0] for k, v in expected.items()}, "en")
    assert extra.json["graded"]["heads"] == want["heads"]
    assert extra.json["graded"]["sentence_en"] == want["sentence"]


# ----------------------------------------------------------------- the bundled scalp microscope model

WEIGHTS = REPO / "weights" / "scalp_microscope"


def _bundled_card():
    readme = WEIGHTS / "README.md"
    if not (readme.is_file() and (WEIGHTS / "model.safetensors").is_file()):
        pytest.skip("scalp_microscope is not bundled")
    return parse_card(readme.read_text(encoding="utf-8"), readme)


def test_bundled_card_states_bins_proxy_and_the_six_symptom_design():
    card = _bundled_card()
    heads = card_heads(card)
    assert {"dandruff", "oiliness"} <= {h.id for h in heads}
    for h in heads:
        assert len(h.bins) == 3 and h.area_columns
        assert str(h.bins[1]) in card.body  # bins written out in the body too
    assert "proxy" in card.body and "not clinical grades" in card.body
    for symptom in ("fine dandruff", "excess sebum", "erythema between follicles", "pustules", "hair loss"):
        assert symptom in card.body
    assert card.metrics["heads"]["dandruff"]["n"] == card.metrics["n"]


@pytest.mark.slow
@pytest.mark.data
def test_cli_evaluate_reproduces_the_bundled_card(data_root, tmp_path):
    card = _bundled_card()
    cards_dir = tmp_path / "cards"
    cards_dir.mkdir()
    shutil.copy(WEIGHTS / "README.md", cards_dir / "scalp_microscope.md")
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "MEDHUB_CARDS_DIR": str(cards_dir)}
    out = subprocess.run(
        [sys.executable, "-m", "medhub", "evaluate", "scalp_microscope", str(data_root / "scalp" / "microscope"),
         "--json", "--split-file", str(REPO / "training" / "splits" / "scalp_microscope.csv"), "--subset", "test"],
        capture_output=True, text=True, cwd=REPO, env=env, timeout=900)
    assert out.returncode == 0, out.stderr[-2000:]
    result = json.loads(out.stdout)
    assert result["n"] == card.metrics["n"]
    assert result["confusion_matrix"] == card.metrics["confusion_matrix"]
    for hid, row in card.metrics["heads"].items():
        assert result["heads"][hid]["presence_auroc"] == pytest.approx(row["presence_auroc"], abs=2e-3), hid
        assert result["heads"][hid]["confusion_matrix"] == row["confusion_matrix"], hid


@pytest.mark.slow
@pytest.mark.data
def test_bundled_model_grades_a_real_microscope_image(data_root):
    """The app's path: one real test image -> per-head probabilities -> summary sentence."""
    import csv

    from medhub.backends import load_backend
    from medhub.imaging import load_upload
    from medhub.inference import Predictor
    from medhub.weights import ResolvedWeights

    card = _bundled_card()
    with open(REPO / "training" / "splits" / "scalp_microscope.csv", newline="") as fh:
        test = [r["path"] for r in csv.DictReader(fh) if r["split"] == "test"]
    files = {f.name: WEIGHTS / f.name for f in card.files}
    backend = load_backend(card, ResolvedWeights(dir=WEIGHTS, files=files, source="local", revision=None))
    predictor = Predictor(card, backend)
    from medhub.graded import predict_heads

    image = load_upload(data_root / test[0]).rgb
    probs = predict_heads(predictor, [image])
    en = graded_summary(card, {k: v[0] for k, v in probs.items()}, "en")
    ko = graded_summary(card, {k: v[0] for k, v in probs.items()}, "ko")
    assert en["sentence"].startswith("Your scalp shows") and ko["sentence"].startswith("두피에")
    assert len(en["heads"]) == len(card_heads(card))
    # Grad-CAM per head: a map in [0, 1]; it may be empty (no positive evidence) on one image, not on all.
    maps = [backend.explain_head(predictor.model_input(load_upload(data_root / t).rgb), "dandruff") for t in test[:6]]
    for heat in maps:
        assert heat.shape == tuple(card.input.size) and np.isfinite(heat).all()
        assert 0 <= heat.min() and heat.max() <= 1
    assert any(heat.max() > 0 for heat in maps)
