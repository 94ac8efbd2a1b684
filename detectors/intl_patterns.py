"""International identifiers for the fast scanner: e-mail, IPv4, payment cards, phones.

Same shape as :mod:`detectors.patterns` (CJK-safe boundaries, a validator per row), so
the scanner treats both tables alike.
"""

from __future__ import annotations

import ipaddress
import re

import phonenumbers

from detectors import validators as v
from detectors.patterns import AFTER, BEFORE, CERTAIN, IdentifierPattern

__all__ = ["INTL_PATTERNS", "email", "ipv4", "phone_number"]

_EMAIL = re.compile(r"^[A-Za-z0-9._%+-]{1,64}@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,24}$")
_OCTET = r"(?:25[0-5]|2[0-4][0-9]|1[0-9]{2}|[1-9]?[0-9])"


def email(text: str) -> bool:
    return _EMAIL.match(text) is not None and ".." not in text


def ipv4(text: str) -> bool:
    try:
        address = ipaddress.IPv4Address(text)
    except ValueError:
        return False
    return not (address.is_unspecified or address.is_loopback)


def phone_number(text: str) -> bool:
    try:
        parsed = phonenumbers.parse(text, None if text.lstrip().startswith("+") else "US")
    except phonenumbers.NumberParseException:
        return False
    return bool(phonenumbers.is_valid_number(parsed))


def _row(entity: str, name: str, core: str, validator: object, score: float) -> IdentifierPattern:
    return IdentifierPattern(entity, f"{BEFORE}(?:{core}){AFTER}", validator,  # type: ignore[arg-type]
                             score, False, name)


INTL_PATTERNS: tuple[IdentifierPattern, ...] = (
    _row("EMAIL_ADDRESS", "email",
         r"[A-Za-z0-9._%+-]{1,64}@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,24}",
         email, CERTAIN),
    _row("IP_ADDRESS", "ipv4", rf"{_OCTET}(?:\.{_OCTET}){{3}}", ipv4, 0.6),
    _row("CREDIT_CARD", "credit_card",
         r"(?:4[0-9]{3}|5[1-5][0-9]{2}|2[2-7][0-9]{2}|3[47][0-9]{2}|6011|65[0-9]{2}|35[0-9]{2})"
         r"(?:[ -]?[0-9]){9,15}",
         v.bank_card, CERTAIN),
    _row("PHONE_NUMBER", "phone_intl", r"\+[1-9][0-9]{0,2}(?:[ .-]?\(?[0-9]{1,4}\)?){2,5}",
         phone_number, 0.6),
    _row("PHONE_NUMBER", "phone_nanp", r"\(?[2-9][0-9]{2}\)?[ .-][0-9]{3}[ .-][0-9]{4}",
         phone_number, 0.5),
)
