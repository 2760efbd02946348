"""Decks of cases for class mode and `python -m medhub deck` (issue 19).

A deck is a list of cases from a model's TEST split, each run through `medhub.pipeline.run` (the app's
code path): `file`, `truth`, `probabilities`, `decision`, `in_scope`, `note` (and `note_ko`). Kinds:

- `right`: in-scope test images the model gets right;
- `wrong`: its real failures on the test split (in scope, decision != truth);
- `scope`: "is this in scope?": about half images of other kinds (other tabs' test images, the
  out-of-scope sets under ood/) that the scope check refuses, half the model's own test images.

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

KINDS = ("right", "wrong", "scope")
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
    return bool(card.labels)


def build_deck(card, kind: str = "right", n: int = DEFAULT_N, seed: int = DEFAULT_SEED,
               root: Path | None = None, run=None) -> list[Case]:
    """Up to n cases of one kind, through medhub.pipeline.run (or `run(card, path)` for tests)."""
    if kind not in KINDS:
        raise DeckError(f"unknown deck kind {kind!r} (one of {', '.join(KINDS)})")
    if not supports(card, kind):
        raise DeckError(f"{card.id} has no {kind!r} deck (no scope check on its card)")
    root = data_root() if root is None else root
    if run is None:
        from medhub import pipeline

        def run(c, path):
            return pipeline.run(c, path).summary

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


def _cmd_deck(args: argparse.Namespace) -> int:
    from medhub.cards import get_card
    from medhub.inference import ModelUnavailable

    try:
        card = get_card(args.model_id)
    except KeyError as err:
        print(f"error: {err.args[0]}", file=sys.stderr)
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
    d = sub.add_parser("deck", help="a deck of test-split cases for class mode (right, wrong, scope)")
    d.add_argument("model_id")
    d.add_argument("--kind", choices=KINDS, default="right")
    d.add_argument("--n", type=int, default=DEFAULT_N, help=f"cases (default {DEFAULT_N})")
    d.add_argument("--seed", type=int, default=DEFAULT_SEED, help="the same seed gives the same deck")
    d.add_argument("--data-dir", default=None, help="where the images are (default: MEDHUB_SAMPLES_DIR or ../shared/data)")
    d.add_argument("--json", action="store_true", help="JSON Lines: one object per case")
    d.add_argument("--lang", choices=("en", "ko"), default="en")
    d.set_defaults(func=_cmd_deck)
