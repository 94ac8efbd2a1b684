"""CN_PASSPORT: PRC passport numbers.

``E``/``G`` + 8 digits, or ``E`` + letter (not I, O) + 7 digits. No checksum exists,
so a hit keeps its pattern score.

Patterns, validators and context words come from :mod:`detectors.patterns`.
"""

from __future__ import annotations

from detectors.recognizers._table import TableRecognizer

__all__ = ["CnPassportRecognizer"]


class CnPassportRecognizer(TableRecognizer):
    """Recognize CN_PASSPORT; hits failing their checksum or required context are dropped."""

    ENTITY = "CN_PASSPORT"
