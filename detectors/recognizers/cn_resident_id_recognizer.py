"""CN_RESIDENT_ID: PRC resident identity card numbers (GB 11643).

18-digit IDs must pass the MOD 11-2 check, a real past birth date from 1900 and a
known province code; 15-digit legacy IDs (19YYMMDD birth date) need a context word.

Patterns, validators and context words come from :mod:`detectors.patterns`.
"""

from __future__ import annotations

from detectors.recognizers._table import TableRecognizer

__all__ = ["CnResidentIdRecognizer"]


class CnResidentIdRecognizer(TableRecognizer):
    """Recognize CN_RESIDENT_ID; hits failing their checksum or required context are dropped."""

    ENTITY = "CN_RESIDENT_ID"
