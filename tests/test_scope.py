"""The out-of-scope check: its maths on made-up statistics, its card contract, and the real models
refusing what the issue measured (a portrait, a head CT in a skin tab, a dermoscopy image in the CT tab,
a flat skin-coloured square) while accepting their own test images."""

from __future__ import annotations

import csv
import dataclasses
from pathlib import Path

import numpy as np
import pytest

from medhub.cards import CardError, load_cards, parse_card
from medhub.scope import FAMILIES, ScopeError, ScopeModel, ScopeSpec, suggested_model
from medhub.scope_sets import SPLITS_DIR, family_of, synthetic_image
from medhub.summary import build as build_summary

CARDS = load_cards()
IDS = [c.id for c in CARDS]
# (model, other tab) pairs whose refusal is measured below target and stated on the model's card:
# skin_lesion's seborrheic-keratosis class is clinical DermNet photos, so clinical photos of other
# conditions (the shingles tab's) look in scope to it.
KNOWN_GAPS: set[tuple[str, str]] = set()  # skin_lesion accepted shingles photos until the HAM10000 refit (issue 17)


def _spec(method="knn", threshold=0.5, accepts=("dermoscopy",)):
    return ScopeSpec(file="scope.safetensors", method=method, k=2, threshold=threshold, accepts=accepts,
                     families=FAMILIES)


def _arrays(dim=8):
    rng = np.random.default_rng(0)
    bank = rng.normal(size=(20, dim)) + 5 * np.eye(dim)[0]
    bank /= np.linalg.norm(bank, axis=1, keepdims=True)
    weight = np.zeros((len(FAMILIES), dim), np.float32)
    weight[FAMILIES.index("dermoscopy"), 0] = 20.0  # feature 0 says "dermoscopy"
    weight[FAMILIES.index("head_ct"), 1] = 20.0  # feature 1 says "head CT"
    return {
        "pca_mean": np.zeros(dim, np.float32), "pca_components": np.eye(dim, dtype=np.float32),
        "bank": bank.astype(np.float32), "class_means": bank[:2].astype(np.float32),
        "precision": np.eye(dim, dtype=np.float32), "family_weight": weight,
        "family_bias": np.zeros(len(FAMILIES), np.float32),
    }


@pytest.mark.parametrize("method", ["knn", "mahalanobis"])
def test_distance_grows_away_from_the_training_data(method):
    model = ScopeModel(_spec(method), _arrays())
    near = np.eye(8)[0] * 3 + 0.1
    far = np.eye(8)[3] * 3
    d_near, d_far = model.distance(np.stack([near, far]))
    assert d_near < d_far


def test_verdict_needs_both_the_distance_and_the_family():
    model = ScopeModel(_spec(threshold=0.3), _arrays())
    inside = model.check(np.eye(8)[0])
    assert inside.in_scope and inside.family == "dermoscopy"
    ct_like = model.check(np.eye(8)[1] + 0.3 * np.eye(8)[0])
    assert not ct_like.in_scope and ct_like.family == "head_ct" and not ct_like.family_ok
    assert ct_like.reason() == "family"
    strict = ScopeModel(_spec(threshold=-1.0), _arrays())
    far = strict.check(np.eye(8)[0])
    assert not far.in_scope and far.family_ok and far.reason() == "distance"


def test_suggestion_names_the_tab_that_accepts_the_family():
    by_id = {c.id: c for c in CARDS}
    if not all(c.scope for c in CARDS):
        pytest.skip("not every card has a fitted scope check")
    model = ScopeModel(_spec(threshold=0.3), _arrays())
    own = next(c for c in CARDS if "dermoscopy" in c.scope.accepts)
    ct_like = model.check(np.eye(8)[1] + 0.3 * np.eye(8)[0])
    suggestion = suggested_model(ct_like, own, CARDS)
    assert suggestion is not None and "head_ct" in by_id[suggestion].scope.accepts
    # an image of the model's own family but far from its data gets no suggestion
    far = ScopeModel(_spec(threshold=-1.0), _arrays()).check(np.eye(8)[0])
    assert suggested_model(far, own, CARDS) is None


def test_spec_refuses_unknown_keys_methods_and_families():
    base = {"method": "knn", "threshold": 0.2, "accepts": ["dermoscopy"], "families": list(FAMILIES)}
    assert ScopeSpec.from_card(base).method == "knn"
    for bad in ({**base, "method": "vibes"}, {**base, "accepts": ["selfie"]}, {**base, "colour": 1},
                {k: v for k, v in base.items() if k != "threshold"}):
        with pytest.raises(ScopeError):
            ScopeSpec.from_card(bad)


def test_missing_arrays_are_a_typed_error():
    arrays = _arrays()
    del arrays["bank"]
    with pytest.raises(ScopeError, match="bank"):
        ScopeModel(_spec("knn"), arrays)


def test_a_card_whose_scope_file_is_not_listed_is_refused():
    card = next(c for c in CARDS if c.scope is not None) if any(c.scope for c in CARDS) else None
    if card is None:
        pytest.skip("no fitted scope check")
    text = card.path.read_text(encoding="utf-8")
    broken = text.replace("name: scope.safetensors", "name: other.safetensors")
    with pytest.raises(CardError, match="scope file"):
        parse_card(broken)


@pytest.mark.parametrize("card", CARDS, ids=IDS)
def test_every_card_has_a_fitted_scope_check_with_its_figures(card):
    assert card.scope is not None, f"{card.id}: run python -m training.fit_scope --model {card.id}"
    assert card.scope.file in [f.name for f in card.files]
    report = card.scope.report or {}
    own = report.get("own_test_acceptance")
    assert own and own["n"] > 0 and 0.0 <= own["rate"] <= 1.0
    assert report.get("refusal"), "the card states refusal rates"
    assert "<!-- medhub:scope:start -->" in card.path.read_text(encoding="utf-8")


# ------------------------------------------------------------------------------------------------
# the real models (bundled weights, the app's path)


def _predictor(card_id):
    from medhub.registry import get_predictor

    return get_predictor(card_id)


def _test_images(card, data_root: Path, n: int) -> list[Path]:
    split = SPLITS_DIR / f"{card.id}.csv"
    with split.open(newline="", encoding="utf-8") as fh:
        rows = [r["path"] for r in csv.DictReader(fh) if r["split"] == "test"]
    return [data_root / p for p in rows[:: max(1, len(rows) // n)][:n] if (data_root / p).is_file()]


def _verdicts(card, images: list[np.ndarray]):
    return _predictor(card.id).scope_batch(images)[1]


def _load(path: Path) -> np.ndarray:
    from medhub.imaging import load_upload

    return load_upload(path).rgb


@pytest.mark.slow
@pytest.mark.data
@pytest.mark.parametrize("card", CARDS, ids=IDS)
def test_own_test_images_are_accepted(card, data_root):
    if card.scope is None:
        pytest.fail(f"{card.id} has no scope check")
    paths = _test_images(card, data_root, 40)
    assert len(paths) >= 20
    verdicts = _verdicts(card, [_load(p) for p in paths])
    accepted = sum(v.in_scope for v in verdicts)
    # 40 fixed test images; the card's own figure is on the whole split (the report)
    assert accepted >= 0.85 * len(paths), f"{card.id}: accepted {accepted}/{len(paths)} of its own test images"


@pytest.mark.slow
@pytest.mark.parametrize("card", CARDS, ids=IDS)
def test_images_made_in_code_are_refused(card):
    from medhub.scope_sets import SYNTHETIC_KINDS

    images = [synthetic_image(kind, 987_654 + i) for kind in SYNTHETIC_KINDS for i in range(3)]
    verdicts = _verdicts(card, images)
    refused = sum(not v.in_scope for v in verdicts)
    assert refused == len(images), f"{card.id}: accepted {len(images) - refused} synthetic images"


@pytest.mark.slow
@pytest.mark.parametrize("card", CARDS, ids=IDS)
def test_photos_of_things_are_refused(card):
    """scikit-learn's two sample photos (a temple, a flower): no tab is for them."""
    from sklearn.datasets import load_sample_images

    verdicts = _verdicts(card, [np.asarray(img) for img in load_sample_images().images])
    assert not any(v.in_scope for v in verdicts), f"{card.id}: {[round(v.score, 3) for v in verdicts]}"


@pytest.mark.slow
@pytest.mark.parametrize("card", CARDS, ids=IDS)
def test_a_portrait_is_refused(card):
    """The issue's portrait (matplotlib's grace_hopper.jpg), except for a model of whole-head photos,
    for which a photo of a person's head is the kind of image it reads (its card says so)."""
    import matplotlib
    from PIL import Image

    if card.scope is not None and "whole_head" in card.scope.accepts:
        pytest.skip(f"{card.id} reads photos of heads; this portrait (a cap) is a known gap stated on its card "
                    "(test_photos_of_people_in_the_hair_loss_tab)")

    path = Path(matplotlib.get_data_path()) / "sample_data" / "grace_hopper.jpg"
    with Image.open(path) as img:
        portrait = np.asarray(img.convert("RGB"))
    (verdict,) = _verdicts(card, [portrait])
    assert not verdict.in_scope, f"{card.id} accepted a portrait (score {verdict.score:.3f})"


@pytest.mark.slow
@pytest.mark.data
def test_photos_of_people_in_the_hair_loss_tab(data_root):
    """The public uploads selfies to the hair-loss tab. Measured on the photos of people kept out of the
    scope fit (ood/people, report half, hands left out): most are refused as a photo of a person, and
    few accepted ones are graded severe. Bounded so that it cannot grow unnoticed, and stated on the
    card, because a severe grade for a full head of hair is the error the public would meet."""
    from medhub.scope_sets import data_items

    whole_head = [c for c in CARDS if c.scope is not None and "whole_head" in c.scope.accepts]
    if not whole_head:
        pytest.skip("no card of whole-head photos")
    paths = [data_root / it.path for it in data_items(data_root)
             if it.path.startswith("ood/people/") and it.role == "report" and "hands" not in it.path]
    if len(paths) < 30:
        pytest.skip("ood/people missing")
    for card in whole_head:
        probs, verdicts = _predictor(card.id).scope_batch([_load(p) for p in paths])
        refused = sum(not v.in_scope for v in verdicts)
        worst = card.label_ids[-1]  # labels run from no hair loss to the most severe grade
        severe = sum(v.in_scope and card.label_ids[int(np.argmax(pr))] == worst for pr, v in zip(probs, verdicts))
        assert refused >= 0.6 * len(paths), f"{card.id}: refused {refused}/{len(paths)} photos of people"
        assert severe <= 4, f"{card.id}: graded {severe}/{len(paths)} photos of people '{worst}'"
        assert "Portraits and selfies" in card.path.read_text(encoding="utf-8"), "the card states the gap"


@pytest.mark.slow
@pytest.mark.data
@pytest.mark.parametrize("card", CARDS, ids=IDS)
def test_other_tabs_images_are_refused_and_pointed_to_their_tab(card, data_root):
    """Ten test images of every other tab whose family this model does not accept: refused, and the
    suggestion, when there is one, is a tab that accepts that family."""
    by_id = {c.id: c for c in CARDS}
    for other in CARDS:
        if other.id == card.id or other.scope is None:
            continue
        paths = [p for p in _test_images(other, data_root, 30)
                 if family_of(p.relative_to(data_root).as_posix()) not in card.scope.accepts][:10]
        if not paths:
            continue
        predictor = _predictor(card.id)
        results = _verdicts(card, [_load(p) for p in paths])
        refused = sum(not r.in_scope for r in results)
        if (card.id, other.id) in KNOWN_GAPS:
            # documented on the card: measured, not hidden; fails loudly once it is fixed
            assert refused < 0.8 * len(paths), f"{card.id} now refuses {other.id}: remove it from KNOWN_GAPS"
            continue
        assert refused >= 0.8 * len(paths), f"{card.id} accepted {len(paths) - refused}/{len(paths)} of {other.id}"
        for r in results:
            s = suggested_model(r, card, CARDS)
            if s is not None:
                assert r.family in by_id[s].scope.accepts
        del predictor


@pytest.mark.slow
@pytest.mark.data
def test_real_dicom_head_ct_slices_of_other_collections_are_answered(data_root):
    """The CT tab answers the DICOM slices of other collections (CQ500, a public sample): their header
    says CT of the head, which vouches for them when their distance is a little over the threshold."""
    from medhub import pipeline

    by_id = {c.id: c for c in CARDS}
    if "brain_hemorrhage" not in by_id:
        pytest.skip("no CT card")
    files = sorted((data_root / "dicom").rglob("*.dcm"))
    assert files
    for path in files:
        summary = pipeline.run(by_id["brain_hemorrhage"], path).summary
        assert summary["in_scope"] is True and summary["decision"] is not None, path.name
        assert summary["scope_reason"] in ("in_scope", "dicom_header")


@pytest.mark.slow
@pytest.mark.data
def test_the_issue_examples_point_to_the_right_tab(data_root):
    """A head CT in the melanoma tab -> brain hemorrhage; a dermoscopy image in the CT tab -> a
    dermoscopy tab (issue 9's table)."""
    by_id = {c.id: c for c in CARDS}
    if not {"melanoma", "brain_hemorrhage"} <= set(by_id):
        pytest.skip("needs the melanoma and brain hemorrhage cards")
    ct = _test_images(by_id["brain_hemorrhage"], data_root, 5)
    derm = _test_images(by_id["melanoma"], data_root, 5)
    for path in ct:
        (r,) = _verdicts(by_id["melanoma"], [_load(path)])
        assert not r.in_scope and suggested_model(r, by_id["melanoma"], CARDS) == "brain_hemorrhage", path
    for path in derm:
        (r,) = _verdicts(by_id["brain_hemorrhage"], [_load(path)])
        assert not r.in_scope
        s = suggested_model(r, by_id["brain_hemorrhage"], CARDS)
        assert s is not None and "dermoscopy" in by_id[s].scope.accepts, path


def test_summary_has_the_scope_fields_and_no_decision_out_of_scope():
    card = next((c for c in CARDS if c.scope is not None), None)
    if card is None:
        pytest.skip("no fitted scope check")
    predictor = _predictor(card.id)
    analysis = predictor.analyse(synthetic_image("text", 5))
    summary = build_summary(analysis)
    for key in ("in_scope", "scope_score", "scope_threshold", "suggested_model"):
        assert key in summary
    assert summary["in_scope"] is False and summary["decision"] is None
    assert summary["scope_score"] > summary["scope_threshold"] or summary["scope_reason"] == "family"
    shown = build_summary(analysis, show_anyway=True)
    assert shown["decision"] in card.label_ids and shown["shown_anyway"] is True
    assert dataclasses.asdict(analysis.scope)["in_scope"] is False
