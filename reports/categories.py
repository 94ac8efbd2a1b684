"""Data categories: the JR/T 0171-2020 class and the PIPL Art. 28 "sensitive" flag per entity.

C3 is authentication data, C2 identity and account data, C1 internal data. PIPL counts
specific identity (resident ID, passport) and financial accounts as sensitive personal
information. Unknown entity types default to C2, not sensitive: every detected entity is
personal data, and a category nobody classified must not look harmless.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["Category", "category_of"]


@dataclass(frozen=True, slots=True)
class Category:
    entity: str
    c_class: str
    pipl_sensitive: bool


_SENSITIVE_C2 = frozenset({
    "CN_RESIDENT_ID", "CN_BANK_CARD", "CREDIT_CARD", "IBAN_CODE", "US_SSN", "CN_PASSPORT",
    "CN_HK_MACAU_PERMIT", "CN_TAIWAN_PERMIT", "US_PASSPORT", "US_BANK_NUMBER", "UK_NHS",
    "MEDICAL_LICENSE", "CN_MILITARY_ID",
})
_C3 = frozenset({"PASSWORD", "CVV", "OTP", "CARD_TRACK", "CREDENTIAL", "API_KEY"})
_C1 = frozenset({"CN_USCC"})


def category_of(entity: str) -> Category:
    if entity in _C3:
        return Category(entity, "C3", True)
    if entity in _C1:
        return Category(entity, "C1", False)
    return Category(entity, "C2", entity in _SENSITIVE_C2)
