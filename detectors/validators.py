"""Checksum and shape validators for Chinese and international identifiers.

Every validator is a pure ``(text: str) -> bool`` over one candidate string (the text a
pattern matched, separators included). Validators are case-insensitive; the patterns in
:mod:`detectors.patterns` decide which spellings are searched for at all.

python-stdnum does the arithmetic (GB 11643 MOD 11-2, GB 32100 / ISO 7064, IBAN mod 97).
Luhn, the resident-ID birth date and the SSN ranges are the same rules written out for
already-normalised ASCII input, where stdnum's generic cleaning costs more than the check
(a test compares them with stdnum). What stdnum does not do is filled in here:

- ``stdnum.cn.ric`` accepts only the 18-digit form, does not reject future or pre-1900
  birth dates, and rejects a region code unless the county existed in the birth year,
  which drops real IDs issued after a county was created or renamed and the 83xxxx
  residence-permit range. We use its check digit and date parser, and a province check.
- ``stdnum.cn.uscc`` requires eight leading digits, so codes issued by authorities
  ``A``, ``N`` and ``Y`` fail. We use its check-digit function with our own format check.
- ``stdnum.us.ssn`` does not strip spaces and accepts mixed separators and repeated
  digits; we normalise first and add Presidio's sample-number list.
"""

from __future__ import annotations

import datetime
import re

from stdnum import iban as _iban
from stdnum.cn import ric, uscc

__all__ = [
    "PROVINCE_CODES",
    "bank_card",
    "cn_bank_card",
    "cn_hk_macao_permit",
    "cn_landline",
    "cn_mobile",
    "cn_passport",
    "cn_resident_id",
    "cn_taiwan_permit",
    "cn_uscc",
    "iban",
    "normalize_alnum",
    "normalize_digits",
    "normalize_mobile",
    "normalize_resident_id",
    "upgrade_legacy_resident_id",
    "us_ssn",
]

PROVINCE_CODES = frozenset(
    "11 12 13 14 15 21 22 23 31 32 33 34 35 36 37 41 42 43 44 45 46 "
    "50 51 52 53 54 61 62 63 64 65 71 81 82 83".split()
)

_SEPARATORS = str.maketrans("", "", " -")
_RESIDENT_ID = re.compile(r"[1-8][0-9]{16}[0-9X]|[1-8][0-9]{14}")
_MOBILE = re.compile(r"1[3-9][0-9]{9}")
_LANDLINE = re.compile(
    r"(?P<main>\(?0[1-9][0-9]{1,2}\)?[ -]?[1-9][0-9]{2,3}[ -]?[0-9]{4})"
    r"(?:[ ]?(?:转|分机|EXT\.?|[X#])[ ]?[0-9]{1,6}|-[0-9]{1,6})?"
)
_AREA_CODE = re.compile(r"010|02[0-9]|0[3-9][0-9]{2}")
_USCC = re.compile(r"[0-9ANY][0-9]{7}[0-9A-HJ-NP-RTUW-Y]{10}")
_PASSPORT = re.compile(r"[EG][0-9]{8}|E[A-HJ-NP-Z][0-9]{7}")
_HK_MACAO_PERMIT = re.compile(r"[CW][0-9A-HJ-NP-Z][0-9]{7}|[HM][0-9]{8}(?:[0-9]{2})?")
_TAIWAN_PERMIT = re.compile(r"[0-9]{8}(?:[0-9]{2})?")
_SSN_SHAPE = re.compile(r"[0-9]{3}-[0-9]{2}-[0-9]{4}|[0-9]{3} [0-9]{2} [0-9]{4}|[0-9]{9}")
_SSN_SAMPLES = frozenset({"123456789", "987654320", "078051120"})
_SSN_BLACKLIST = frozenset({"078-05-1120", "457-55-5462", "219-09-9999"})  # stdnum's
_ASCII_DIGITS = frozenset("0123456789")
_DOUBLED = str.maketrans("0123456789", "0246813579")


def _luhn(digits: str) -> bool:
    """Luhn over ASCII digits: every second digit from the right doubled, digit-summed."""
    backwards = digits[::-1]
    total = sum(map(int, backwards[::2])) + sum(map(int, backwards[1::2].translate(_DOUBLED)))
    return total % 10 == 0


def _birth_date(number: str) -> datetime.date | None:
    """The YYYYMMDD at offsets 6-14 of a normalised 18-character resident ID."""
    try:
        return datetime.date(int(number[6:10]), int(number[10:12]), int(number[12:14]))
    except ValueError:
        return None


def normalize_digits(text: str) -> str:
    """The ASCII digits of ``text``, in order."""
    return "".join(ch for ch in text if ch in _ASCII_DIGITS)


def normalize_alnum(text: str) -> str:
    """``text`` upper-cased, without surrounding whitespace, inner spaces or dashes."""
    return text.strip().translate(_SEPARATORS).upper()


def normalize_resident_id(text: str) -> str:
    """The 15 or 18 characters of a resident ID, check character upper-cased."""
    return normalize_alnum(text)


def normalize_mobile(text: str) -> str:
    """The 11-digit national number of a Chinese mobile, or ``""`` if it is not one."""
    number = text.strip().translate(str.maketrans("", "", " -()"))
    if number.startswith("+"):
        if not number.startswith("+86"):
            return ""
        number = number[3:]
    elif number.startswith("0086"):
        number = number[4:]
    elif number.startswith("86") and len(number) == 13:
        number = number[2:]
    return number if _MOBILE.fullmatch(number) else ""


def _parse_yyyymmdd(digits: str) -> datetime.date | None:
    try:
        return datetime.date(int(digits[:4]), int(digits[4:6]), int(digits[6:8]))
    except ValueError:
        return None


def upgrade_legacy_resident_id(text: str) -> str:
    """The 18-digit form of a 15-digit ID (century 19, GB 11643 check digit), else ``""``."""
    number = normalize_resident_id(text)
    if len(number) != 15 or not number.isascii() or not number.isdigit():
        return ""
    body = number[:6] + "19" + number[6:]
    return body + ric.calc_check_digit(body + "0")


def cn_resident_id(text: str) -> bool:
    """GB 11643: MOD 11-2 check, real past birth date from 1900, known province code.

    A 15-digit legacy ID is checked through its 18-digit upgrade, so only its
    19YYMMDD birth date and province can fail.
    """
    number = normalize_resident_id(text)
    if not _RESIDENT_ID.fullmatch(number) or number[:2] not in PROVINCE_CODES:
        return False
    if len(number) == 15:
        number = upgrade_legacy_resident_id(number)
    if number[-1] != ric.calc_check_digit(number):
        return False
    born = _birth_date(number)
    return born is not None and born.year >= 1900 and born <= datetime.date.today()


def cn_mobile(text: str) -> bool:
    """11 digits ``1[3-9]…`` after an optional +86 / 0086 / 86 prefix, spaces and dashes."""
    return bool(normalize_mobile(text))


def cn_landline(text: str) -> bool:
    """Area code (010, 02x or a 4-digit 0[3-9]xx), 7-8 digit number, optional extension.

    Three-digit area codes carry 8-digit numbers. When separators are written, the
    first digit group must be exactly the area code.
    """
    match = _LANDLINE.fullmatch(text.strip().upper())
    if match is None:
        return False
    main = match.group("main")
    digits = normalize_digits(main)
    area = digits[:3] if digits.startswith(("010", "02")) else digits[:4]
    local = digits[len(area) :]
    if not _AREA_CODE.fullmatch(area) or local.startswith("0"):
        return False
    if len(local) not in ((8,) if len(area) == 3 else (7, 8)):
        return False
    groups = re.findall("[0-9]+", main)
    return len(groups) == 1 or groups[0] == area


def bank_card(text: str) -> bool:
    """13-19 digits (spaces and dashes allowed) that pass the Luhn check."""
    number = text.strip().translate(_SEPARATORS)
    if not 13 <= len(number) <= 19 or not (number.isascii() and number.isdigit()):
        return False
    return _luhn(number)


def cn_bank_card(text: str) -> bool:
    """:func:`bank_card`, except an 18-digit number that is a valid resident ID."""
    if not bank_card(text):
        return False
    number = normalize_digits(text)
    return not (len(number) == 18 and cn_resident_id(number))


def cn_uscc(text: str) -> bool:
    """GB 32100 unified social credit code: format and ISO 7064 MOD 31-3 check character."""
    code = normalize_alnum(text)
    if not _USCC.fullmatch(code):
        return False
    return bool(code[-1] == uscc.calc_check_digit(code))


def iban(text: str) -> bool:
    """ISO 13616 IBAN: country structure, mod 97 and the country's own check if any."""
    return bool(_iban.is_valid(normalize_alnum(text)))


def us_ssn(text: str) -> bool:
    """US SSN in one consistent spelling, issued ranges only, no sample numbers."""
    candidate = text.strip()
    if not _SSN_SHAPE.fullmatch(candidate):
        return False
    digits = normalize_digits(candidate)
    if len(set(digits)) == 1 or digits in _SSN_SAMPLES:
        return False
    area, group, serial = digits[:3], digits[3:5], digits[5:]
    if area in ("000", "666") or area[0] == "9" or group == "00" or serial == "0000":
        return False
    return f"{area}-{group}-{serial}" not in _SSN_BLACKLIST


def cn_passport(text: str) -> bool:
    """PRC passport: ``E``/``G`` + 8 digits, or ``E`` + letter (not I, O) + 7 digits."""
    number = normalize_alnum(text)
    return bool(_PASSPORT.fullmatch(number)) and len(set(number[-7:])) > 1


def cn_hk_macao_permit(text: str) -> bool:
    """Exit-entry permit for HK/Macao (``C``/``W`` + 8) or home-return permit (``H``/``M``)."""
    number = normalize_alnum(text)
    return bool(_HK_MACAO_PERMIT.fullmatch(number)) and len(set(number[-7:])) > 1


def cn_taiwan_permit(text: str) -> bool:
    """Taiwan compatriot permit: 8 or 10 digits, not one repeated digit, not a YYYYMMDD date.

    The shape alone is weak: the pattern that uses this validator requires context.
    """
    number = text.strip()
    if not _TAIWAN_PERMIT.fullmatch(number) or len(set(number)) == 1:
        return False
    date_like = len(number) == 8 and number[:2] in ("19", "20")
    return not (date_like and _parse_yyyymmdd(number) is not None)
