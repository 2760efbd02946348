"""medhub: the core of the medical image classifier demo hub (everything that is not UI)."""

__version__ = "0.1.0"

# The medical disclaimer is written once, in medhub/disclaimers.py (one text per domain).
