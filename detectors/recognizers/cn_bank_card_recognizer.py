"""CN_BANK_CARD: bank card numbers that pass the Luhn check.

UnionPay (``62``) cards stand alone; other BINs seen on Chinese cards (Visa, Mastercard,
Amex, JCB, ``60``, ``94``/``95`` domestic) need a context word. An 18-digit number that
is a valid resident ID is not reported as a card.

Patterns, validators and context words come from :mod:`detectors.patterns`.
"""

from __future__ import annotations

from detectors.recognizers._table import TableRecognizer

__all__ = ["CnBankCardRecognizer"]


class CnBankCardRecognizer(TableRecognizer):
    """Recognize CN_BANK_CARD; hits failing their checksum or required context are dropped."""

    ENTITY = "CN_BANK_CARD"
