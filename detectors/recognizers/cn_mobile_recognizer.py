"""CN_MOBILE: mainland mobile numbers (``1[3-9]`` + 9 digits).

An optional +86 / 0086 / 86 prefix, spaces and dashes are part of the hit.

Patterns, validators and context words come from :mod:`detectors.patterns`.
"""

from __future__ import annotations

from detectors.recognizers._table import TableRecognizer

__all__ = ["CnMobileRecognizer"]


class CnMobileRecognizer(TableRecognizer):
    """Recognize CN_MOBILE; hits failing their checksum or required context are dropped."""

    ENTITY = "CN_MOBILE"
