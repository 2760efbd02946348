"""How to call every card's endpoint, written from the cards (no gradio import): the parameters of
`/predict_<id>` in order with their defaults, and a curl recipe per endpoint. The About tab and the
README (`scripts/update_readme.py`, between the `endpoints:start/end` markers) print the same text;
tests/test_readme.py checks the parameters against the app's own API description.
"""

from __future__ import annotations

import json
from typing import Any

from medhub.cards import ModelCard
from medhub.i18n import t
from medhub.pipeline import DEFAULT_OPACITY


def endpoint_parameters(card: ModelCard) -> list[tuple[str, Any]]:
    """(name, default) of `/predict_<id>`'s parameters after the file, in the order the API takes them:
    the tab's own options (test-time augmentation for a `tta` card, the CT window for a DICOM card),
    then the heat map's opacity, `show_anyway` and `image_url`."""
    options: list[tuple[str, Any]] = []
    if card.tta:
        options.append(("tta", False))
    if card.input.dicom:
        options.append(("window", card.input.dicom_window))
    return [*options, ("opacity", DEFAULT_OPACITY), ("show_anyway", False), ("image_url", "")]


def _json_args(card: ModelCard) -> str:
    return ", ".join(json.dumps(v) for _, v in endpoint_parameters(card))


def endpoint_table(cards: tuple[ModelCard, ...], lang: str = "en") -> str:
    """One row per card: its tab, its endpoint and the parameters after the file (with defaults)."""
    rows = [t("api.table_head", lang), "|---|---|---|"]
    for card in cards:
        params = ", ".join(f"`{name}` (`{json.dumps(value)}`)" for name, value in endpoint_parameters(card))
        rows.append(f"| {card.title_for(lang)} | `/predict_{card.id}` | {params} |")
    return "\n".join(rows)


CURL_STEPS = r"""URL=http://127.0.0.1:7860
JSON='import json,sys; d=json.load(sys.stdin)'
call() {  # call <endpoint> <image> <the values after the file, as JSON>
  FILE=$(curl -s -F "files=@$2" $URL/gradio_api/upload | python3 -c "$JSON; print(d[0])")
  DATA="{\"data\": [{\"path\": \"$FILE\", \"meta\": {\"_type\": \"gradio.FileData\"}}, $3]}"
  EVENT=$(curl -s -X POST $URL/gradio_api/call/$1 -H "Content-Type: application/json" -d "$DATA" \
    | python3 -c "$JSON; print(d['event_id'])")
  # server-sent events: the "data:" line after "event: complete" holds [label, overlay, summary, null]
  curl -s -N $URL/gradio_api/call/$1/$EVENT
}"""


def curl_recipes(cards: tuple[ModelCard, ...]) -> str:
    """A bash block: the shared steps (upload, call, read the result) and one call per endpoint, every
    parameter given with its default."""
    calls = [f"call predict_{card.id} image.png '{_json_args(card)}'" for card in cards]
    return "```bash\n" + CURL_STEPS + "\n\n" + "\n".join(calls) + "\n```"


def endpoints_markdown(cards: tuple[ModelCard, ...], lang: str = "en") -> str:
    """The endpoint table and the curl recipe of every endpoint (the About tab, the README)."""
    return "\n\n".join([endpoint_table(cards, lang), t("api.curl_intro", lang), curl_recipes(cards)])
