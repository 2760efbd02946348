"""The app's tabs: `common.py` builds the generic tab from a model card, `<model id>.py` (when it
exists) adds only what is special about that tab, `samples.py` finds the sample gallery's images.

A tab's additions are registered here by card id (a test checks that every key is a card id and that
every `tabs/<name>.py` with an `Extras` class is registered, so a misspelt file cannot be skipped
silently)."""

TAB_EXTRAS = {
    "brain_hemorrhage": "tabs.brain_hemorrhage",
    "melanoma": "tabs.melanoma",
    "scalp_severity": "tabs.scalp_severity",
    "scalp_microscope": "tabs.graded",
    "shingles": "tabs.shingles",
}
