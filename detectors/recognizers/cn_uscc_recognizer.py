"""CN_USCC: unified social credit codes of organisations (GB 32100).

18 characters with an ISO 7064 MOD 31-3 check character.

Patterns, validators and context words come from :mod:`detectors.patterns`.
"""

from __future__ import annotations

from detectors.recognizers._table import TableRecognizer

__all__ = ["CnUsccRecognizer"]


class CnUsccRecognizer(TableRecognizer):
    """Recognize CN_USCC; hits failing their checksum or required context are dropped."""

    ENTITY = "CN_USCC"
