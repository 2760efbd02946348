"""Write the model table and the endpoints (each card's `/predict_<id>`, its parameters and curl recipe,
tabs/api_docs.py) from the cards into README.md, between the models:start/end and endpoints:start/end
markers."""

from __future__ import annotations

import re
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from medhub.cards import load_cards, model_table  # noqa: E402
from tabs.api_docs import endpoints_markdown  # noqa: E402

README = Path(__file__).resolve().parent.parent / "README.md"
PATTERN = re.compile(r"(<!-- models:start -->\n).*?(<!-- models:end -->)", re.DOTALL)
ENDPOINTS = re.compile(r"(<!-- endpoints:start -->\n).*?(<!-- endpoints:end -->)", re.DOTALL)


def rendered(text: str) -> str:
    text = PATTERN.sub(lambda m: m.group(1) + model_table() + "\n" + m.group(2), text)
    return ENDPOINTS.sub(lambda m: m.group(1) + endpoints_markdown(load_cards()) + "\n" + m.group(2), text)


if __name__ == "__main__":
    text = README.read_text(encoding="utf-8")
    new = rendered(text)
    if "--check" in sys.argv:
        sys.exit(0 if new == text else "README.md model table or endpoints are out of date: run scripts/update_readme.py")
    README.write_text(new, encoding="utf-8")
