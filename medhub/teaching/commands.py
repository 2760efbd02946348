"""The teaching commands of `python -m medhub`: `ppv`, `report`, `deck` (issue 19).

Registered by medhub/cli.py from its `COMMANDS` list (`add_parser(sub)`, i.e. `add_teaching_parsers`); each command goes through the
same functions the app uses (medhub.teaching.ppv, medhub.teaching.report, medhub.teaching.deck).
"""

from __future__ import annotations

import argparse
import json
import sys


def _prevalence(raw: str) -> float:
    """0.061, 6.1% or 1/100."""
    text = raw.strip()
    try:
        if text.endswith("%"):
            value = float(text[:-1]) / 100
        elif "/" in text:
            num, den = text.split("/", 1)
            value = float(num) / float(den)
        else:
            value = float(text)
    except ValueError as err:
        raise argparse.ArgumentTypeError(f"not a prevalence: {raw!r} (e.g. 0.061, 6.1% or 1/100)") from err
    if not 0 < value < 1:
        raise argparse.ArgumentTypeError(f"prevalence must be between 0 and 1 (exclusive), got {raw!r}")
    return value


def _cmd_ppv(args: argparse.Namespace) -> int:
    from medhub.cards import card_for_command
    from medhub.teaching import ppv

    card = card_for_command(args.model_id)
    if card is None:
        return 2
    try:
        if args.prevalence is None:
            presets = ppv.presets(card)
            if args.preset:
                chosen = [p for p in presets if p["id"] == args.preset]
                if not chosen:
                    names = ", ".join(p["id"] for p in presets)
                    print(f"error: {card.id} has no preset {args.preset!r} (it has: {names})", file=sys.stderr)
                    return 2
                prevalence = float(chosen[0]["prevalence"])
            else:
                prevalence = float(presets[0]["prevalence"])
        else:
            prevalence = args.prevalence
        result = ppv.at_prevalence(card, prevalence)
    except ppv.NotBinary as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps(result, ensure_ascii=False))
        return 0
    if result["threshold"] is None:  # one label against the rest, at the model's top-label rule
        rule = f"decision rule: {ppv.TOP_LABEL} (flagged when {result['positive_class']} is the model's top label)"
    else:
        rule = f"threshold {result['threshold']}"
    print(f"{card.title_for(args.lang)} ({card.id}), {rule}")
    for line in ppv.summary_lines(result, args.lang):
        print(f"  {line}")
    print("  presets:")
    for p in result["presets"]:
        tag = "illustrative" if p.get("illustrative") else p.get("source", "")
        print(f"    {p['id']}: {100 * p['prevalence']:.1f} %  {p['ko' if args.lang == 'ko' else 'en']}  [{tag}]")
    return 0


def add_teaching_parsers(sub) -> None:
    q = sub.add_parser(
        "ppv",
        help="PPV, NPV and natural frequencies per 1,000 of a binary model (or of a multi-class model's "
        "one_vs_rest label) at a prevalence",
        description="From the card's test sensitivity and specificity at its threshold (Wilson 95 %% "
        "intervals), the predictive values at a prevalence (default: the test split's own). A multi-class "
        "card with one_vs_rest in medhub/teaching/prevalence_presets.yaml is read as that label against "
        "the others, flagged when it is the top label (from the card's confusion matrix).",
    )
    q.add_argument("model_id")
    q.add_argument("--prevalence", type=_prevalence, default=None, help="0.061, 6.1%% or 1/100")
    q.add_argument("--preset", default=None, help="a preset id instead of --prevalence (see the list printed)")
    q.add_argument("--json", action="store_true", help="print one JSON object")
    q.add_argument("--lang", choices=("en", "ko"), default="en")
    q.set_defaults(func=_cmd_ppv)

    try:
        from medhub.teaching.report import add_report_parser
    except ImportError:  # the report module (PDF) not there
        pass
    else:
        add_report_parser(sub)
    try:
        from medhub.teaching.deck import add_deck_parser
    except ImportError:
        pass
    else:
        add_deck_parser(sub)


add_parser = add_teaching_parsers  # the CLI registers its commands by `add_parser` (medhub/cli.py COMMANDS)
