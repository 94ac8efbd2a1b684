"""CN_TRAVEL_PERMIT: exit-entry permits for Hong Kong, Macao and Taiwan.

``C``/``W`` + 8 characters (mainland residents to HK/Macao) stand alone; ``H``/``M``
home-return permits and 8- or 10-digit Taiwan compatriot permits need a context word.

Patterns, validators and context words come from :mod:`detectors.patterns`.
"""

from __future__ import annotations

from detectors.recognizers._table import TableRecognizer

__all__ = ["CnTravelPermitRecognizer"]


class CnTravelPermitRecognizer(TableRecognizer):
    """Recognize CN_TRAVEL_PERMIT; hits failing their checksum or required context are dropped."""

    ENTITY = "CN_TRAVEL_PERMIT"
