"""The line at the top of a tab while its model is loading or when it could not be loaded.

It reads `medhub.registry.REGISTRY` (the app warms every model in the background at start), so a
tab says "loading" until its model is ready and, for a model whose weights failed, why.
"""

from __future__ import annotations

from medhub.cards import ModelCard
from medhub.i18n import t
from medhub.registry import ERROR, REGISTRY, ModelRegistry


def status_markdown(card: ModelCard, lang: str, registry: ModelRegistry | None = None) -> str:
    """"" when the model is ready; the loading text while it is idle or loading; else the reason."""
    status = (registry or REGISTRY).status(card.id)
    if status.ready:
        return ""
    if status.state == ERROR:
        return t("status.unavailable", lang, reason=status.error)
    return t("status.loading", lang)
