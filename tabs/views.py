"""Which hooks a tab gets, chosen from what its card asks for, never from its id.

Every result extra a card names (`medhub.result_extras`, `medhub.card_schema.RESULT_EXTRAS`) has a
view here that renders it, and a DICOM card (`input.dicom: true`) gets the CT window selector, as a
card with `tta: true` gets the test-time augmentation checkbox (`tabs.layout`). A new card that
reuses `severity`, `graded_heads` or DICOM input therefore needs no file under `tabs/`; a new result
extra needs its view registered in `VIEWS` (tests/test_cards.py checks that every extra has one).
"""

from __future__ import annotations

from medhub.cards import ModelCard
from tabs import abcd, advice, ct_region, dicom_window, graded_heads, severity
from tabs.hooks import ComposedHooks, TabHooks

# result extra name -> the hooks that render it
VIEWS: dict[str, type[TabHooks]] = {
    "ct_region": ct_region.Hooks,
    "abcd": abcd.Hooks,
    "severity": severity.Hooks,
    "graded_heads": graded_heads.Hooks,
    "see_a_doctor_soon": advice.Hooks,
}


def hooks_for(card: ModelCard) -> TabHooks:
    """The card's hooks: the DICOM window selector for a DICOM card, then one view per result extra
    (in the card's order); a card that asks for nothing special gets the plain `TabHooks`."""
    parts: list[TabHooks] = [dicom_window.Hooks()] if card.input.dicom else []
    parts += [VIEWS[name]() for name in card.result_extras if name in VIEWS]
    if not parts:
        return TabHooks()
    return parts[0] if len(parts) == 1 else ComposedHooks(parts)
