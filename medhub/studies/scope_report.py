"""The scope report: per model, acceptance on its own test split and refusal on every out-of-scope set.

    python -m medhub scope-report [MODEL ...] [--json] [--per-set N]

Images go through the app's own path (`medhub.imaging.load_upload` -> `Predictor.features_batch`, the
same pooled features the request path computes) and the model's fitted check (`medhub.scope`). Sets:
the model's own test split (acceptance); every other tab's test images and the report half of the
data no split file lists, each marked in scope or out of scope by its family (a dermoscopy image is
in scope for both dermoscopy models); chest radiographs; synthetic images of the report seed; natural
photos shipped inside installed packages. Each set is capped at `--per-set` images (fixed seed) and
reported with its n. `training/fit_scope.py` writes these figures onto the card.
"""

from __future__ import annotations

import hashlib
import json
import sys
from collections import defaultdict
from pathlib import Path
from typing import Any

import numpy as np

from medhub.cards import REPO_ROOT, ModelCard, load_cards
from medhub.paths import DATA_ROOT
from medhub.scope_sets import Item, data_items, package_photos, synthetic_items

CACHE_DIR = REPO_ROOT / ".cache" / "scope"
REPORT_SEED = 2
FIT_SEED = 1
DEFAULT_PER_SET = 150


def _weights_tag(card: ModelCard) -> str:
    return card.weights_file.sha256[:12]


class FeatureCache:
    """Pooled features and probabilities per (model weights, image), on disk, so a re-run resumes."""

    def __init__(self, card: ModelCard, cache_dir: Path = CACHE_DIR) -> None:
        self.path = cache_dir / f"{card.id}-{_weights_tag(card)}.npz"
        self.data: dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]] = {}  # features, probs, appearance
        if self.path.is_file():
            with np.load(self.path, allow_pickle=False) as z:
                if "looks" in z.files:
                    for key, feat, prob, looks in zip(z["keys"], z["features"], z["probs"], z["looks"]):
                        self.data[str(key)] = (feat, prob, looks)
        self.dirty = False

    def save(self) -> None:
        if not self.dirty:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        keys = list(self.data)
        tmp = self.path.with_suffix(".tmp.npz")
        np.savez(
            tmp,
            keys=np.array(keys),
            features=np.stack([self.data[k][0] for k in keys]),
            probs=np.stack([self.data[k][1] for k in keys]),
            looks=np.stack([self.data[k][2] for k in keys]),
        )
        tmp.replace(self.path)
        self.dirty = False


def extract(
    predictor, items: list[tuple[Item, np.ndarray | None]], cache: FeatureCache, batch: int = 32, log=None
) -> tuple[list[Item], np.ndarray, np.ndarray, np.ndarray]:
    """(items that decoded, features [N, D], probabilities [N, K], appearance [N, S]) through the
    app's decode + model."""
    from medhub.imaging import InputError, load_upload
    from medhub.scope import appearance

    todo = [(it, img) for it, img in items if it.path not in cache.data]
    for start in range(0, len(todo), batch):
        chunk = todo[start : start + batch]
        images, keys = [], []
        for it, img in chunk:
            if img is None:
                try:
                    img = load_upload(DATA_ROOT / it.path, allow_dicom=it.path.endswith(".dcm")).rgb
                except InputError:
                    continue
            images.append(img)
            keys.append(it.path)
        if images:
            probs, feats = predictor.features_batch(images)
            for key, f, p, img in zip(keys, feats, probs, images):
                cache.data[key] = (f.astype(np.float32), p.astype(np.float32), appearance(img))
            cache.dirty = True
        if log and (start // batch) % 10 == 0:
            log(f"  {predictor.card.id}: {min(start + batch, len(todo))}/{len(todo)} new images")
        if (start // batch) % 20 == 19:
            cache.save()
    cache.save()
    kept = [it for it, _ in items if it.path in cache.data]
    if not kept:
        empty = np.zeros((0, 1), np.float32)
        return [], empty, empty, empty
    return (kept, *(np.stack([cache.data[it.path][i] for it in kept]) for i in range(3)))


def cap(items: list, n: int, key: str) -> list:
    """At most n items, chosen by a hash of their path and `key` (the same on every run)."""
    if len(items) <= n:
        return list(items)
    ranked = sorted(
        items,
        key=lambda it: hashlib.sha256(
            f"{key}:{(it[0] if isinstance(it, tuple) else it).path}".encode()
        ).hexdigest(),
    )
    return ranked[:n]


def own_split(card: ModelCard) -> dict[str, str]:
    """path -> split ("train", "val", "test") of the model's own split file (empty if it has none)."""
    import csv

    from medhub.scope_sets import SPLITS_DIR

    path = SPLITS_DIR / f"{card.id}.csv"
    if not path.is_file():
        return {}
    with path.open(newline="", encoding="utf-8") as fh:
        return {row["path"]: row["split"] for row in csv.DictReader(fh)}


def report_sets(card: ModelCard, cards, per_set: int) -> dict[str, tuple[bool, list[tuple[Item, Any]]]]:
    """Set name -> (expected in scope?, items) for one model's report."""
    accepts = set(card.scope.accepts) if card.scope else set()
    own = own_split(card)
    sets: dict[str, list] = defaultdict(list)
    expected: dict[str, bool] = {"own test split": True}
    for rel, split in own.items():
        if split == "test":
            sets["own test split"].append((Item(rel, "own", "report", card.id), None))
    for it in data_items():
        if it.role != "report" or it.path in own:
            continue
        name = f"{it.source} [{it.family}]"
        sets[name].append((it, None))
        expected[name] = it.family in accepts
    for it, img in synthetic_items(REPORT_SEED, max(1, per_set // 7), "report"):
        kind = it.path.split(":")[1]
        sets[f"synthetic: {kind}"].append((it, img))
        expected[f"synthetic: {kind}"] = False
    for it, img in package_photos():
        sets["natural photos (packages)"].append((it, img))
        expected["natural photos (packages)"] = False
    return {
        name: (expected[name], cap(items, per_set if name != "own test split" else 10 * per_set, name))
        for name, items in sorted(sets.items())
    }


def model_report(card: ModelCard, cards=None, per_set: int = DEFAULT_PER_SET, log=None) -> dict[str, Any]:
    """Acceptance (in-scope sets) or refusal (out-of-scope sets) per set for one model, with n."""
    from medhub.registry import get_predictor

    cards = cards or load_cards()
    predictor = get_predictor(card.id)
    if predictor.scope is None:
        raise ValueError(
            f"{card.id} has no fitted scope check (python -m training.fit_scope --model {card.id})"
        )
    cache = FeatureCache(card)
    rows = []
    for name, (in_scope, items) in report_sets(card, cards, per_set).items():
        kept, feats, _, looks = extract(predictor, items, cache, log=log)
        if not kept:
            continue
        results = predictor.scope.check_many(feats, looks if predictor.scope.uses_appearance else None)
        accepted = np.array([r.in_scope for r in results])
        families = defaultdict(int)
        for r in results:
            if not r.in_scope:
                families[r.family] += 1
        rate = float(accepted.mean()) if in_scope else float(1 - accepted.mean())
        rows.append(
            {
                "set": name,
                "expected": "accept" if in_scope else "refuse",
                "n": len(kept),
                "rate": round(rate, 4),
                "ok": int(accepted.sum()) if in_scope else int((~accepted).sum()),
                "refused_as": dict(sorted(families.items(), key=lambda kv: -kv[1])),
                "failures": [it.path for it, a in zip(kept, accepted) if a != in_scope][:5],
            }
        )
    return {
        "model": card.id,
        "method": card.scope.method,
        "threshold": card.scope.threshold,
        "accepts": list(card.scope.accepts),
        "sets": rows,
    }


def summarise(report: dict[str, Any]) -> dict[str, Any]:
    """The card's figures: own acceptance, the worst refusal, and per-set rates with n."""
    own = next((r for r in report["sets"] if r["set"] == "own test split"), None)
    refuse = [r for r in report["sets"] if r["expected"] == "refuse"]
    accept_other = [r for r in report["sets"] if r["expected"] == "accept" and r["set"] != "own test split"]
    worst = min(refuse, key=lambda r: r["rate"]) if refuse else None
    return {
        "own_test_acceptance": own and {"rate": own["rate"], "n": own["n"]},
        "min_refusal": worst and {"rate": worst["rate"], "n": worst["n"], "set": worst["set"]},
        "refusal": {r["set"]: [r["rate"], r["n"]] for r in refuse},
        "acceptance_other": {r["set"]: [r["rate"], r["n"]] for r in accept_other},
    }


TARGET_RATE = 0.95  # issue 17: own-test acceptance and refusal of every out-of-scope set


def markdown(report: dict[str, Any], lang: str = "en") -> str:
    lines = [
        f"Method: `{report['method']}` on the pooled features, threshold {report['threshold']:.4f}, "
        f"plus the image-family check (accepts: {', '.join(report['accepts'])}). Figures from "
        "`python -m medhub scope-report`, on images never used for fitting (n per set; sets capped "
        "with a fixed seed).",
        "",
        "| set | expected | n | rate | refused as |",
        "|---|---|---|---|---|",
    ]
    for r in report["sets"]:
        refused = ", ".join(f"{k} {v}" for k, v in list(r["refused_as"].items())[:3]) or "–"
        lines.append(f"| {r['set']} | {r['expected']} | {r['n']} | {r['rate']:.3f} | {refused} |")
    missed = [f"{r['set']} {'accepted' if r['expected'] == 'accept' else 'refused'} {r['rate']:.3f} (n = {r['n']})"
              for r in report["sets"] if r["rate"] < TARGET_RATE]
    lines += ["", f"Below the project's target of {TARGET_RATE:.2f} (of each set accepted or refused as expected): "
              + ("; ".join(missed) if missed else "none") + "."]
    return "\n".join(lines)


def add_scope_report_parser(sub) -> None:
    p = sub.add_parser("scope-report", help="acceptance and refusal of every model's scope check")
    p.add_argument("models", nargs="*", help="model ids (default: every card with a scope check)")
    p.add_argument("--json", action="store_true", help="one JSON object per model, one per line")
    p.add_argument("--per-set", type=int, default=DEFAULT_PER_SET, help="images per out-of-scope set")
    p.set_defaults(func=_cmd)


def _cmd(args) -> int:
    cards = load_cards()
    chosen = [c for c in cards if (not args.models or c.id in args.models) and c.scope is not None]
    if args.models and len(chosen) != len(set(args.models)):
        missing = set(args.models) - {c.id for c in chosen}
        print(f"error: no fitted scope check for {', '.join(sorted(missing))}", file=sys.stderr)
        return 2
    for card in chosen:
        report = model_report(
            card,
            cards,
            per_set=args.per_set,
            log=(lambda m: print(m, file=sys.stderr)) if not args.json else None,
        )
        if args.json:
            print(json.dumps(report, ensure_ascii=False))
        else:
            print(f"## {card.id}\n{markdown(report)}\n")
    return 0


add_parser = add_scope_report_parser  # the CLI registers every study by `add_parser` (medhub/cli.py STUDIES)
