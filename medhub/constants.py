"""Small facts several layers share, with no import of their own (a leaf).

The CT window presets are read by the DICOM decoder (`medhub/dicom.py`) and by the card schema
(`medhub/card_schema.py`, which checks that a card's default window is the one its model was
trained on) without the schema importing the decoder.
"""

from __future__ import annotations

# (centre, width) in HU. Standard head-CT windows (radiology teaching values).
WINDOW_PRESETS: dict[str, tuple[float, float]] = {
    "brain": (40.0, 80.0),
    "subdural": (80.0, 200.0),
    "stroke": (40.0, 40.0),
    "bone": (600.0, 2800.0),
}
