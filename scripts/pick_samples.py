"""Pick a model's gallery samples from its test split and write them into assets/samples.yaml.

    python scripts/pick_samples.py MODEL [MODEL ...] [--per-label 2] [--dry-run]

For every label of the card: test-split rows of `training/splits/<id>.csv` (never trained on, never
used for a threshold), in a fixed pseudo-random order (sha1 of the path), spread over the
collections the label's rows come from, keeping only images the bundled model's scope check accepts
(a gallery sample that the tab refuses would teach nothing). Right and wrong answers are kept alike:
the order is fixed before the model is asked, so the gallery is not a best-of. Other models'
entries and the file's header comment are left as they are.
"""

from __future__ import annotations

import argparse
import hashlib
import re
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from medhub.cards import get_card  # noqa: E402
from medhub.imaging import load_for_card  # noqa: E402
from training.common import DATA_ROOT, SPLITS, read_split_file  # noqa: E402

SAMPLES = REPO / "assets" / "samples.yaml"


def pick(model_id: str, per_label: int) -> list[dict]:
    from medhub.registry import get_predictor

    card = get_card(model_id)
    predictor = get_predictor(model_id)
    rows = [r for r in read_split_file(SPLITS / f"{model_id}.csv") if r.split == "test"]
    out: list[dict] = []
    for label in card.labels:
        by_coll: dict[str, list] = {}
        for r in rows:
            if r.label == label.id:
                by_coll.setdefault(r.path.split("/")[0], []).append(r)
        queues = [sorted(v, key=lambda r: hashlib.sha1(r.path.encode()).hexdigest()) for _, v in sorted(by_coll.items())]
        chosen: list[str] = []
        while len(chosen) < per_label and any(queues):
            for q in queues:  # round robin over collections
                while q and len(chosen) < per_label:
                    r = q.pop(0)
                    image = load_for_card(card, DATA_ROOT / r.path).rgb
                    _, verdicts = predictor.scope_batch([image])
                    if verdicts[0] is None or verdicts[0].in_scope:
                        chosen.append(r.path)
                        break
        out += [{"path": p, "label": label.id} for p in sorted(chosen)]
    return out


def render(model_id: str, items: list[dict]) -> str:
    lines = [f"{model_id}:"] + [f"  - {{path: {it['path']}, label: {it['label']}}}" for it in items]
    return "\n".join(lines) + "\n"


def replace_block(text: str, model_id: str, block: str) -> str:
    pattern = re.compile(rf"^{re.escape(model_id)}:\n(?:  .*\n)*", re.MULTILINE)
    if pattern.search(text):
        return pattern.sub(lambda _: block, text, count=1)
    return text.rstrip("\n") + "\n" + block


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("models", nargs="+")
    ap.add_argument("--per-label", type=int, default=2)
    ap.add_argument("--dry-run", action="store_true")
    args = ap.parse_args()
    text = SAMPLES.read_text(encoding="utf-8")
    for model_id in args.models:
        block = render(model_id, pick(model_id, args.per_label))
        print(block, end="")
        text = replace_block(text, model_id, block)
    if not args.dry_run:
        SAMPLES.write_text(text, encoding="utf-8")


if __name__ == "__main__":
    main()
