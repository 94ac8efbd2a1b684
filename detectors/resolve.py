"""Turn a field hint plus the value's shape into a concrete entity, or refuse."""

from __future__ import annotations

import re
from collections.abc import Callable

from detectors import validators as v
from detectors.hints import FREE_TEXT

__all__ = ["looks_like_person", "resolve_hinted"]

_CJK_NAME = re.compile(r"^[\u4e00-\u9fff]{1,2}[\u4e00-\u9fff·•]{1,4}$")
_LATIN_NAME = re.compile(r"^[A-Z][A-Za-z'’.-]*(?:\s+[A-Z][A-Za-z'’.-]*){0,3}$")
_DIGITS = re.compile(r"\d")
_CJK = re.compile(r"[\u4e00-\u9fff]")


def looks_like_person(value: str) -> bool:
    text = value.strip()
    if not 2 <= len(text) <= 60 or _DIGITS.search(text):
        return False
    return bool(_CJK_NAME.match(text) or _LATIN_NAME.match(text))


def _phone(value: str) -> str | None:
    digits = len(_DIGITS.findall(value))
    if not 7 <= digits <= 16:
        return None
    if v.cn_mobile(value):
        return "CN_MOBILE"
    if v.cn_landline(value):
        return "CN_LANDLINE"
    return "PHONE_NUMBER"


def _id_number(value: str) -> str | None:
    if sum(c.isalnum() for c in value) < 6:
        return None
    for entity, check in (("CN_RESIDENT_ID", v.cn_resident_id), ("US_SSN", v.us_ssn),
                          ("CN_PASSPORT", v.cn_passport)):
        if check(value):
            return entity
    return "ID_NUMBER"


def _bank_card(value: str) -> str | None:
    if value[:2].isalpha() and v.iban(value):
        return "IBAN_CODE"
    if len(_DIGITS.findall(value)) < 8:
        return None
    if v.cn_bank_card(value) and value.lstrip().startswith("62"):
        return "CN_BANK_CARD"
    if v.bank_card(value):
        return "CREDIT_CARD"
    return "BANK_ACCOUNT"


def _address(value: str) -> str | None:
    if len(value.strip()) < 4:
        return None
    return "CN_ADDRESS" if _CJK.search(value) else "LOCATION"


def _person(value: str) -> str | None:
    return "PERSON" if looks_like_person(value) else None


def _email(value: str) -> str | None:
    return "EMAIL_ADDRESS" if "@" in value else None


def _secret(value: str) -> str | None:
    return "SECRET"


_RESOLVERS: dict[str, Callable[[str], str | None]] = {
    "PERSON": _person, "PHONE": _phone, "ID_NUMBER": _id_number, "BANK_CARD": _bank_card,
    "EMAIL_ADDRESS": _email, "ADDRESS": _address, "SECRET": _secret,
}


def resolve_hinted(hint: str, value: str) -> str | None:
    """The entity a hinted value is, or None when the value does not fit the hint."""
    if not value.strip() or hint == FREE_TEXT:
        return None
    resolver = _RESOLVERS.get(hint)
    return resolver(value) if resolver is not None else hint
