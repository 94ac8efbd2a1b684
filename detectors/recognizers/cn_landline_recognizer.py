"""CN_LANDLINE: mainland fixed-line numbers with area code and optional extension.

Written with a separator or a bracketed area code (``010-12345678``,
``(0755)8888 8888``) they stand alone; run together (``01012345678``) they need context.

Patterns, validators and context words come from :mod:`detectors.patterns`.
"""

from __future__ import annotations

from detectors.recognizers._table import TableRecognizer

__all__ = ["CnLandlineRecognizer"]


class CnLandlineRecognizer(TableRecognizer):
    """Recognize CN_LANDLINE; hits failing their checksum or required context are dropped."""

    ENTITY = "CN_LANDLINE"
