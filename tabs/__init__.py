"""The app's tabs: `common.py` builds the generic tab from a model card, `<model id>.py` (when it
exists) adds only what is special about that tab, `samples.py` finds the sample gallery's images."""
