"""Decks of cases for class mode and `python -m medhub deck` (issue 19).

A deck is a list of cases from a model's TEST split, each run through `medhub.pipeline.run` (the app's
code path): `file`, `truth`, `probabilities`, `decision`, `in_scope`, `note` (and `note_ko`). Kinds:

- `right`: in-scope test images the model gets right;
- `wrong`: its real failures on the test split (in scope, decision != truth);
- `scope`: "is this in scope?": about half images of other kinds (other tabs' test images, the
  out-of-scope sets under ood/) that the scope check refuses, half the model's own test images;
- `shortcut`: "what the model looks at": of max(`SHORTCUT_POOL` x n, `SHORTCUT_MIN_POOL`) in-scope test
  images run, the n whose Grad-CAM map leans most to the image's border (the outer 12 %, where rulers,
  ink, vignettes and burned-in letters sit), each with its measured share of the map there against the
  border's share of the area. Maps that favour the border are rare (measured on 40 head CTs and 24
  dermoscopy images: about 1 in 10 above the area's share), so the deck ranks rather than filters;
- `history`: "a split's figure is not the model's figure": images of a collection the model did not
  train on (the card's `cross_collection`, the one with the lowest balanced accuracy), chosen as
  `python -m medhub cross-collection` chose them (no train/val rows, no copies of training images by
  perceptual hash), both labels in turn; the teaching note is the card's own "History, measured" line
  with its figures on its split and on that collection.

Where the cases come from: `weights/<id>/test_predictions.csv` (the card's test split with the
probabilities `evaluate` wrote: they pick candidates, the pipeline gives the answer shown), else the
test rows of `training/splits/<id>.csv`, else the labelled gallery samples of `assets/samples.yaml`
(what a Space has). Images are read under the samples directory (`MEDHUB_SAMPLES_DIR`, default
../shared/data). The same seed gives the same deck.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import random
import sys
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from medhub.paths import DEFAULT_DATA_ROOT, REPO_ROOT

KINDS = ("right", "wrong", "scope", "shortcut", "history")
FRAME_MARGIN = 0.12  # the border of training/heatmap_check.py: rulers, vignettes, ink, burned-in letters
SHORTCUT_POOL = 4  # test images run per wanted shortcut case
SHORTCUT_MIN_POOL = 20
DEFAULT_N = 10
DEFAULT_SEED = 19
MAX_TRIES_PER_CASE = 6  # pipeline runs allowed per wanted case before a deck comes out short
IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".webp", ".bmp", ".tif", ".tiff", ".dcm"}


class DeckError(ValueError):
    """No cases for this model and kind here (no data, or the kind does not apply)."""


@dataclass
class Case:
    file: str
    truth: str | None
    probabilities: dict[str, float] | None
    decision: str | None
    in_scope: bool
    note: str
    note_ko: str
    kind: str
    source: str = "test_split"  # test_split | samples | other_model:<id> | ood:<set>
    extra: dict[str, Any] = field(default_factory=dict)

    def json(self) -> dict[str, Any]:
        out = asdict(self)
        out.update(out.pop("extra"))
        return out


@dataclass(frozen=True)
class Candidate:
    path: Path
    truth: str | None
    source: str
    predicted: str | None = None  # from test_predictions.csv (a hint for picking)
    in_scope: bool | None = None


def data_root() -> Path:
    env = os.environ.get("MEDHUB_SAMPLES_DIR", "").strip()
    return Path(env).expanduser() if env else DEFAULT_DATA_ROOT


def frame_area_share(shape: tuple[int, int], margin: float = FRAME_MARGIN) -> float:
    h, w = shape
    m = int(margin * min(h, w))
    return 1.0 - (h - 2 * m) * (w - 2 * m) / (h * w)


def heat_frame_share(heat, margin: float = FRAME_MARGIN) -> float | None:
    """The share of a Grad-CAM map's mass in the image's outer border (as training/heatmap_check.py)."""
    import numpy as np

    heat = np.clip(np.asarray(heat, dtype=np.float64), 0, None)
    total = float(heat.sum())
    if heat.ndim != 2 or total <= 0:
        return None
    h, w = heat.shape
    m = int(margin * min(h, w))
    inner = float(heat[m:h - m, m:w - m].sum())
    return (total - inner) / total


def result_summary(result) -> dict[str, Any]:
    """A pipeline result's summary plus what a shortcut deck reads from its heat map."""
    heat = getattr(result, "heat", None)
    share = heat_frame_share(heat) if heat is not None and result.summary.get("decision") is not None else None
    area = frame_area_share(heat.shape) if heat is not None and heat.ndim == 2 else None
    return {**result.summary, "heat_frame_share": share, "frame_area_share": area}


def card_passage(card, keywords: tuple[str, ...], limit: int = 420) -> str:
    """The first paragraph or bullet of the card's body that names a keyword (in the keywords' order
    of preference), without code spans and long parentheticals that name none, cut at a sentence end
    near `limit` characters ("" if none is long enough to say something)."""
    import re

    body = getattr(card, "body", "") or ""
    blocks = [" ".join(b.strip().lstrip("-").split()) for b in re.split(r"\n\s*\n|\n(?=- )", body)]
    blocks = [b for b in blocks if b and not b.startswith(("|", "#", "<!--"))]
    for key in keywords:
        for text in blocks:
            if key.lower() not in text.lower():
                continue
            text = re.sub(r"`[^`]*`", "", text)
            text = re.sub(r"\s*\(([^()]{60,})\)",
                          lambda m: m.group(0) if any(k.lower() in m.group(1).lower() for k in keywords) else "", text)
            text = re.sub(r"\s+([,.;:])", r"\1", text)
            if len(text) < 60 or text.endswith(":"):  # too short, or the head of a table
                continue
            if len(text) > limit:
                cut = text.rfind(". ", 0, limit)
                text = text[: cut + 1] if cut > 0 else text[:limit].rstrip() + " ..."
            return text
    return ""


def heatmap_check(card) -> dict[str, str] | None:
    """This model's row of the card's heat-map table (`python -m training.heatmap_check`, "Heat maps and
    shortcuts"): the row of the collections it trained on, over all images; None without one."""
    body = getattr(card, "body", "") or ""
    at = body.find("Heat maps and shortcuts")
    trained = (getattr(card, "cross_collection", None) or {}).get("trained_on") or []
    if at < 0 or not trained:
        return None
    lines = body[at:].split("\n")
    rows = [[c.strip() for c in line.strip().strip("|").split("|")] for line in lines[1:40] if line.startswith("|")]
    if len(rows) < 3:
        return None
    head = rows[0]
    for cells in rows[2:]:
        row = dict(zip(head, cells, strict=False))
        if row.get("model") == "+".join(trained) and row.get("images from") == "all":
            return row
    return None


def history_collection(card) -> tuple[str, dict[str, Any]] | None:
    """The collection of the card's `cross_collection` it did not train on with the lowest balanced
    accuracy, and its figures; None when the card measured none."""
    cc = getattr(card, "cross_collection", None) or {}
    trained = set(cc.get("trained_on") or ())
    others = [(name, m) for name, m in (cc.get("collections") or {}).items()
              if name not in trained and isinstance(m, dict) and m.get("balanced_accuracy") is not None]
    if not others:
        return None
    return min(others, key=lambda item: float(item[1]["balanced_accuracy"]))


def history_candidates(card, root: Path) -> list[Candidate]:
    """Labelled images of the history collection the model may be scored on (as cross-collection
    chose them: no train/val rows, no perceptual-hash copies of training images), by label."""
    from medhub.evaluation import folder_to_label
    from medhub.fingerprints import Fingerprints
    from medhub.heldout import eligible_files, labelled_files

    picked = history_collection(card)
    if picked is None or not (root / picked[0]).is_dir():
        return []
    name = picked[0]
    files, _info = eligible_files(card, name, root, Fingerprints())
    mapping = folder_to_label(card)
    data_dir = (root / name).resolve()
    out = []
    for f in sorted(files):
        path = Path(f)
        try:
            folder = path.relative_to(data_dir).parts[0].lower()
        except ValueError:
            continue
        if folder in mapping:
            out.append(Candidate(path, mapping[folder], f"collection:{name}"))
    if not out:  # a collection labelled by a table: its rows of the split file
        for label, paths in labelled_files(card, root / name).items():
            out += [Candidate(p, label, f"collection:{name}") for p in paths if str(p.resolve()) in files]
    return out


def _decide(card, probs: dict[str, float]) -> str:
    if card.is_binary:
        return card.positive_class if probs[card.positive_class] >= card.threshold else next(
            lab for lab in card.label_ids if lab != card.positive_class)
    return max(probs, key=probs.get)


def own_candidates(card, root: Path) -> list[Candidate]:
    """The model's test images that exist under root (test_predictions.csv, split file, or samples)."""
    preds = REPO_ROOT / "weights" / card.id / "test_predictions.csv"
    base = root / str((card.metrics or {}).get("data_dir") or "")
    out: list[Candidate] = []
    if preds.is_file():
        with preds.open(encoding="utf-8") as fh:
            for row in csv.DictReader(fh):
                path = base / row["path"]
                if not path.is_file():
                    continue
                probs = {lab: float(row[lab]) for lab in card.label_ids}
                scope = row.get("in_scope")
                out.append(Candidate(path, row["label"], "test_split", _decide(card, probs),
                                     None if scope in (None, "") else scope == "1"))
        if out:
            return out
    split = REPO_ROOT / "training" / "splits" / f"{card.id}.csv"
    if split.is_file():
        with split.open(encoding="utf-8") as fh:
            out = [Candidate(root / r["path"], r["label"], "test_split") for r in csv.DictReader(fh)
                   if r.get("split") == "test" and (root / r["path"]).is_file()]
        if out:
            return out
    from medhub.teaching.samples_list import labelled_samples

    return [Candidate(root / item["path"], item["label"], "samples")
            for item in labelled_samples(card.id) if (root / item["path"]).is_file()]


def foreign_candidates(card, root: Path) -> list[Candidate]:
    """Images of other kinds: other models' test images whose family this model does not accept, and ood/."""
    from medhub.cards import load_cards

    accepts = set(card.scope.accepts) if card.scope else set()
    out: list[Candidate] = []
    for other in load_cards():
        if other.id == card.id or other.scope is None or set(other.scope.accepts) & accepts:
            continue
        out += [Candidate(c.path, None, f"other_model:{other.id}") for c in own_candidates(other, root)]
    ood = root / "ood"
    if ood.is_dir():
        for folder in sorted(p for p in ood.iterdir() if p.is_dir()):
            out += [Candidate(p, None, f"ood:{folder.name}") for p in sorted(folder.rglob("*"))
                    if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file()]
    return out


def _p(summary: dict[str, Any], label: str | None) -> str:
    probs = summary.get("probabilities") or {}
    return f"{probs[label]:.2f}" if label in probs else "-"


def _notes(card, kind: str, cand: Candidate, summary: dict[str, Any]) -> tuple[str, str]:
    """The reveal text of one case (English, Korean)."""
    decision = summary.get("decision")
    d_en = card.label(decision).en if decision else "no answer (out of scope)"
    d_ko = card.label(decision).ko if decision else "답하지 않음 (적용 범위 밖)"
    if cand.truth is not None:
        t_en, t_ko = card.label(cand.truth).en, card.label(cand.truth).ko
    if kind in ("right", "wrong"):
        verdict_en = "right" if decision == cand.truth else "wrong: a real failure on the test split"
        verdict_ko = "정답" if decision == cand.truth else "오답: 시험 세트에서 실제로 틀린 사례"
        rule_en = rule_ko = ""
        if card.is_binary:
            pos = card.positive_class
            rule_en = f"; P({card.label(pos).en}) = {_p(summary, pos)}, threshold {card.threshold}"
            rule_ko = f"; P({card.label(pos).ko}) = {_p(summary, pos)}, 임계값 {card.threshold}"
        else:
            rule_en = rule_ko = f"; P = {_p(summary, decision)}"
        return (f"Truth: {t_en}. The model says {d_en}{rule_en}: {verdict_en}.",
                f"정답: {t_ko}. 모델의 판정: {d_ko}{rule_ko}: {verdict_ko}.")
    if kind in ("shortcut", "history"):
        right = decision == cand.truth
        base_en = f"Truth: {t_en}. The model says {d_en} (P = {_p(summary, decision)}): {'right' if right else 'wrong'}."
        base_ko = f"정답: {t_ko}. 모델의 판정: {d_ko} (P = {_p(summary, decision)}): {'정답' if right else '오답'}."
        if kind == "shortcut":
            share, area = summary.get("heat_frame_share"), summary.get("frame_area_share") or 0.0
            more = share > area
            return (f"{base_en} {100 * share:.0f} % of the heat map lies on the image's border (outer 12 %, "
                    f"{100 * area:.0f} % of the area), where rulers, ink, vignettes and burned-in letters sit: "
                    + ("more than its share; look at what it points to." if more else
                       "less than its share: the map is mostly on the centre."),
                    f"{base_ko} 히트맵의 {100 * share:.0f} %가 영상 가장자리(바깥 12 %, 면적의 {100 * area:.0f} %)에 "
                    "있습니다. 자, 눈금자, 잉크, 비네팅, 영상에 새겨진 글자가 있는 곳입니다. "
                    + ("면적보다 많습니다: 무엇을 가리키는지 보세요." if more else "면적보다 적습니다: 히트맵은 주로 가운데에 있습니다."))
        where = cand.source.split(":", 1)[1]
        return (f"{base_en} From the {where} collection, which the model never trained on.",
                f"{base_ko} 모델이 학습하지 않은 {where} 데이터 모음의 영상입니다.")
    score, thr = summary.get("scope_score"), summary.get("scope_threshold")
    dist = f"{score:.2f} / {thr:.2f}" if isinstance(score, (int, float)) and isinstance(thr, (int, float)) else "-"
    acc_en = "accepted it" if summary.get("in_scope") else "refused it"
    acc_ko = "받아들였습니다" if summary.get("in_scope") else "거부했습니다"
    if cand.source.startswith(("other_model:", "ood:")):
        where = cand.source.split(":", 1)[1].replace("_", " ")
        return (f"Not this model's kind of image ({where}). The scope check {acc_en} (distance / limit {dist}).",
                f"이 모델이 다루는 영상이 아닙니다 ({where}). 적용 범위 확인이 {acc_ko} (거리 / 기준 {dist}).")
    return (f"From the model's own test split (truth: {t_en}). The scope check {acc_en} (distance / limit {dist}).",
            f"모델 자신의 시험 세트 영상입니다 (정답: {t_ko}). 적용 범위 확인이 {acc_ko} (거리 / 기준 {dist}).")


def deck_note(card, kind: str, lang: str = "en") -> str:
    """A short teaching note for the deck, from the card."""
    m = card.metrics or {}
    acc, bal, n = m.get("accuracy"), m.get("balanced_accuracy"), m.get("n")
    if kind == "shortcut":
        quote = card_passage(card, ("shortcut", "burned-in", "rulers", "vignette"))
        row = heatmap_check(card)
        if lang == "ko":
            check = (f" 모델 카드의 히트맵 점검: 시험 영상 {row['n']}장 중 {row['maps mostly off the lesion']}장의 히트맵이 "
                     f"주로 병변 밖에 있었고, 가장자리의 히트맵 비율은 {row['heat in frame']}입니다 (면적 비율 0.42)."
                     if row else "")
            return ("Grad-CAM은 모델의 근거가 영상의 어디에 있는지 보여 줍니다. 이 사례들은 시험 영상 중 히트맵이 "
                    "가장자리(눈금자, 잉크, 비네팅, 새겨진 글자가 있는 곳)로 가장 많이 치우친 것들입니다. 근거가 소견이 아니라 "
                    "그런 표시에 있다면 지름길 학습의 신호입니다. 사례마다 보세요." + check
                    + (f" 모델 카드에서 (영문 원문): {quote}" if quote else ""))
        check = (f" The card's heat-map check: on {row['n']} test images, {row['maps mostly off the lesion']} maps lay "
                 f"mostly off the lesion, and {row['heat in frame']} of the heat lay on the border (0.42 of the area)."
                 if row else "")
        return ("Grad-CAM shows where the model's evidence lies. These are the test images whose maps lean most "
                "to the border, where rulers, ink, vignettes and burned-in letters sit. Evidence on such a mark "
                "rather than on the finding is the sign of a shortcut: look at each case."
                + check + (f" From the model card: {quote}" if quote else ""))
    if kind == "history":
        picked = history_collection(card)
        quote = card_passage(card, ("History, measured",))
        name, other = picked if picked else ("-", {})
        own = f"AUROC {m.get('auroc')}, balanced accuracy {bal} (n = {n})"
        far = f"AUROC {other.get('auroc')}, balanced accuracy {other.get('balanced_accuracy')} (n = {other.get('n')})"
        if lang == "ko":
            own_ko = f"AUROC {m.get('auroc')}, 균형 정확도 {bal} (n = {n})"
            far_ko = f"AUROC {other.get('auroc')}, 균형 정확도 {other.get('balanced_accuracy')} (n = {other.get('n')})"
            return (f"시험 세트의 수치는 모델의 수치가 아닙니다. 자신의 시험 세트: {own_ko}. 학습하지 않은 {name} 데이터 "
                    f"모음: {far_ko}." + (f" 모델 카드에서 (영문 원문): {quote}" if quote else ""))
        return (f"A split's figure is not the model's figure. On its own test split: {own}. On the {name} "
                f"collection, which it never trained on: {far}." + (f" From the model card: {quote}" if quote else ""))
    if kind == "scope":
        rep = (card.scope.report if card.scope is not None and hasattr(card.scope, "report") else None) or {}
        own = (rep.get("own_test_acceptance") or {}) if isinstance(rep, dict) else {}
        known = own.get("rate") is not None
        rate = f"{100 * own['rate']:.0f} % of {own['n']}" if known else "?"
        if lang == "ko":
            rate_ko = f"{own['n']}장 중 {100 * own['rate']:.0f} %" if known else "?"
            return (f"적용 범위 확인: 모델이 학습한 영상과의 거리와 영상 종류로 판단합니다. 자신의 시험 영상은 {rate_ko}를 "
                    "받아들였습니다. 범위 밖 영상에는 판정을 내리지 않습니다.")
        return (f"The scope check compares the image with the model's training images (distance and image "
                f"family); it accepted {rate} of its own test images. Out of scope, the model gives no decision.")
    if lang == "ko":
        return (f"시험 세트: {m.get('dataset', '')} (n = {n}). 정확도 {acc}, 균형 정확도 {bal}. "
                "시험 세트의 수치는 그 세트의 수치일 뿐, 다른 병원·다른 영상에서의 성능이 아닙니다.")
    return (f"Test split: {m.get('dataset', '')} (n = {n}); accuracy {acc}, balanced accuracy {bal}. "
            "A split's figure is not the model's figure: expect less on images from elsewhere.")


def supports(card, kind: str, root: Path | None = None) -> bool:
    if kind not in KINDS:
        return False
    if kind == "scope":
        return card.scope is not None
    if kind == "history":
        return history_collection(card) is not None
    return bool(card.labels)


def build_deck(card, kind: str = "right", n: int = DEFAULT_N, seed: int = DEFAULT_SEED,
               root: Path | None = None, run=None) -> list[Case]:
    """Up to n cases of one kind, through medhub.pipeline.run (or `run(card, path)` for tests)."""
    if kind not in KINDS:
        raise DeckError(f"unknown deck kind {kind!r} (one of {', '.join(KINDS)})")
    if not supports(card, kind):
        why = "no scope check on its card" if kind == "scope" else "no cross-collection figures on its card"
        raise DeckError(f"{card.id} has no {kind!r} deck ({why})")
    root = data_root() if root is None else root
    if run is None:
        from medhub import pipeline

        def run(c, path):
            return result_summary(pipeline.run(c, path))

    rng = random.Random(f"{card.id}:{kind}:{seed}")
    own = own_candidates(card, root)
    if kind == "scope":
        foreign = foreign_candidates(card, root)
        if not foreign and not own:
            raise DeckError(f"no images for {card.id} under {root}")
        refused_own = [c for c in own if c.in_scope is False]
        n_out = (n + 1) // 2
        pools = [(rng.sample(refused_own, len(refused_own)) + rng.sample(foreign, len(foreign)), n_out, False),
                 (rng.sample(own, len(own)), n - n_out, True)]
    elif kind == "shortcut":
        if not own:
            raise DeckError(f"no test images of {card.id} under {root}")
        return _shortcut_deck(card, [c for c in rng.sample(own, len(own)) if c.in_scope is not False], n, rng, run)
    elif kind == "history":
        cands = history_candidates(card, root)
        if not cands:
            raise DeckError(f"no images of {card.id}'s other collection under {root}")
        by_label: dict[str, list[Candidate]] = {}
        for c in rng.sample(cands, len(cands)):
            by_label.setdefault(c.truth, []).append(c)
        mixed = [c for group in zip(*by_label.values(), strict=False) for c in group]  # labels in turn
        pools = [(mixed, n, None)]
    else:
        if not own:
            raise DeckError(f"no test images of {card.id} under {root}")
        want_right = kind == "right"
        hinted = [c for c in own if c.predicted is not None and c.in_scope is not False
                  and (c.predicted == c.truth) == want_right]
        pool = rng.sample(hinted, len(hinted)) if hinted else rng.sample(own, len(own))
        pools = [(pool, n, None)]
    cases: list[Case] = []
    for pool, wanted, want_scope in pools:
        got, tries = 0, 0
        for cand in pool:
            if got >= wanted or tries >= wanted * MAX_TRIES_PER_CASE:
                break
            tries += 1
            try:
                summary = run(card, cand.path)
            except Exception:  # noqa: BLE001 - an unreadable file is skipped, not a broken deck
                continue
            in_scope = bool(summary.get("in_scope"))
            decision = summary.get("decision")
            if kind == "right" and not (in_scope and decision == cand.truth):
                continue
            if kind == "wrong" and not (in_scope and decision is not None and decision != cand.truth):
                continue
            if kind == "scope" and want_scope is False and in_scope:
                continue  # the "not in scope" half: only images the check really refuses
            if kind == "history" and not (in_scope and decision is not None):
                continue
            note, note_ko = _notes(card, kind, cand, summary)
            cases.append(Case(
                file=str(cand.path), truth=cand.truth,
                probabilities=summary.get("probabilities"),  # null out of scope, as the API gives it
                decision=decision, in_scope=in_scope, note=note, note_ko=note_ko, kind=kind, source=cand.source,
                extra={"scope_score": summary.get("scope_score"), "suggested_model": summary.get("suggested_model")},
            ))
            got += 1
    if kind == "scope":
        rng.shuffle(cases)
    return cases


def _shortcut_deck(card, pool: list[Candidate], n: int, rng: random.Random, run) -> list[Case]:
    """Run max(SHORTCUT_POOL x n, SHORTCUT_MIN_POOL) in-scope test images; keep the n whose heat map lies
    most on the border (each case says how much, against the border's share of the image)."""
    scored = []
    for cand in pool[: max(n * SHORTCUT_POOL, SHORTCUT_MIN_POOL)]:
        try:
            summary = run(card, cand.path)
        except Exception:  # noqa: BLE001 - an unreadable file is skipped
            continue
        share, area = summary.get("heat_frame_share"), summary.get("frame_area_share")
        if not summary.get("in_scope") or summary.get("decision") is None or share is None or area is None:
            continue
        scored.append((share, cand, summary))
    scored.sort(key=lambda item: -item[0])
    chosen = scored[:n]
    rng.shuffle(chosen)
    cases = []
    for _share, cand, summary in chosen:
        note, note_ko = _notes(card, "shortcut", cand, summary)
        cases.append(Case(
            file=str(cand.path), truth=cand.truth, probabilities=summary.get("probabilities"),
            decision=summary.get("decision"), in_scope=True, note=note, note_ko=note_ko, kind="shortcut",
            source=cand.source, extra={"heat_frame_share": round(summary["heat_frame_share"], 4),
                                       "frame_area_share": round(summary["frame_area_share"], 4)},
        ))
    return cases


def _cmd_deck(args: argparse.Namespace) -> int:
    from medhub.cards import card_for_command
    from medhub.inference import ModelUnavailable

    card = card_for_command(args.model_id)
    if card is None:
        return 2
    root = Path(args.data_dir) if args.data_dir else None
    try:
        cases = build_deck(card, args.kind, args.n, args.seed, root)
    except DeckError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    except ModelUnavailable as err:
        print(f"error: {err}", file=sys.stderr)
        return 3
    if not cases:
        print(f"error: no {args.kind} cases found for {card.id}", file=sys.stderr)
        return 4
    for case in cases:
        if args.json:
            print(json.dumps(case.json(), ensure_ascii=False), flush=True)
        else:
            note = case.note_ko if args.lang == "ko" else case.note
            print(f"{case.file}\n  {note}")
    if not args.json:
        print(f"\n{deck_note(card, args.kind, args.lang)}")
    return 0


def add_deck_parser(sub) -> None:
    d = sub.add_parser("deck", help="a deck of cases for class mode (right, wrong, scope, shortcut, history)")
    d.add_argument("model_id")
    d.add_argument("--kind", choices=KINDS, default="right")
    d.add_argument("--n", type=int, default=DEFAULT_N, help=f"cases (default {DEFAULT_N})")
    d.add_argument("--seed", type=int, default=DEFAULT_SEED, help="the same seed gives the same deck")
    d.add_argument("--data-dir", default=None, help="where the images are (default: MEDHUB_SAMPLES_DIR or ../shared/data)")
    d.add_argument("--json", action="store_true", help="JSON Lines: one object per case")
    d.add_argument("--lang", choices=("en", "ko"), default="en")
    d.set_defaults(func=_cmd_deck)
