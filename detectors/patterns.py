"""The identifier pattern table shared by the Presidio recognizers and any fast scanner.

Each :class:`IdentifierPattern` is ``BEFORE + core + AFTER``. The two boundaries are the
only lookarounds in the table: ``\\b`` does not fire between a CJK character and a digit,
so ``(?<![0-9A-Za-z])`` and ``(?![0-9A-Za-z])`` stand in for it, and they also stop a
match inside a longer digit run or straddling a decimal point (``3200.50``).

Every pattern needs those lookarounds; no core does. Cores have no lookarounds, no
backreferences and no capturing groups, so they compile with ``re``, ``regex``,
google-re2 and Hyperscan and can be joined into one alternation of named groups. An
engine without lookarounds runs :attr:`IdentifierPattern.core` and keeps a hit only if
:func:`at_boundary` holds, then calls :meth:`IdentifierPattern.accepts`.

A pattern with ``needs_context`` is too weak alone (a bare 8-digit number, a 15-digit
legacy ID): keep its hits only when :func:`context_ok` finds one of the entity's
:data:`CONTEXT_WORDS` within :data:`CONTEXT_WINDOW` characters.
"""

from __future__ import annotations

import dataclasses
import functools
import re
import string
from collections.abc import Callable, Mapping, Sequence

from detectors import validators as v

__all__ = [
    "AFTER",
    "BEFORE",
    "CERTAIN",
    "CONTEXT_WINDOW",
    "CONTEXT_WORDS",
    "ENTITIES",
    "IDENTIFIER_PATTERNS",
    "IdentifierPattern",
    "at_boundary",
    "context_ok",
    "pattern_named",
    "patterns_for",
    "verdict",
]

BEFORE = r"(?<![0-9A-Za-z])(?<![0-9]\.)"
AFTER = r"(?![0-9A-Za-z])(?!\.[0-9])"
CERTAIN = 1.0
CONTEXT_WINDOW = 32

_ALNUM = frozenset(string.ascii_letters + string.digits)
_DIGITS = frozenset(string.digits)


@dataclasses.dataclass(frozen=True)
class IdentifierPattern:
    """One regex for one entity; a hit counts only if ``validator`` accepts its text.

    ``score`` is the confidence of an accepted hit; :data:`CERTAIN` marks a checksum.
    """

    entity: str
    regex: str
    validator: Callable[[str], bool]
    score: float
    needs_context: bool
    name: str

    @property
    def core(self) -> str:
        """The regex without its boundary lookarounds."""
        return self.regex.removeprefix(BEFORE).removesuffix(AFTER)

    def accepts(self, text: str) -> bool:
        """True if all of ``text`` matches this pattern and passes its validator."""
        return _compiled(self.regex).fullmatch(text) is not None and self.validator(text)


@functools.cache
def _compiled(regex: str) -> re.Pattern[str]:
    return re.compile(regex)


def _pattern(
    entity: str, name: str, core: str, validator: Callable[[str], bool], score: float
) -> IdentifierPattern:
    return IdentifierPattern(entity, f"{BEFORE}(?:{core}){AFTER}", validator, score, False, name)


def _weak(
    entity: str, name: str, core: str, validator: Callable[[str], bool], score: float
) -> IdentifierPattern:
    return dataclasses.replace(_pattern(entity, name, core, validator, score), needs_context=True)


_DATE8 = r"(?:19|20)[0-9]{2}(?:0[1-9]|1[0-2])(?:0[1-9]|[12][0-9]|3[01])"
_DATE6 = r"[0-9]{2}(?:0[1-9]|1[0-2])(?:0[1-9]|[12][0-9]|3[01])"
_CARD_DIGIT = r"(?:[ -]?[0-9])"
_USCC_CHAR = "[0-9A-HJ-NP-RTUW-Y]"

IDENTIFIER_PATTERNS: tuple[IdentifierPattern, ...] = (
    _pattern(
        "CN_RESIDENT_ID",
        "cn_resident_id_18",
        rf"[1-8][0-9]{{5}}[ -]?{_DATE8}[ -]?[0-9]{{3}}[0-9Xx]",
        v.cn_resident_id,
        CERTAIN,
    ),
    _weak(
        "CN_RESIDENT_ID", "cn_resident_id_15", rf"[1-8][0-9]{{5}}{_DATE6}[0-9]{{3}}",
        v.cn_resident_id, 0.6,
    ),
    _pattern(
        "CN_MOBILE",
        "cn_mobile",
        r"(?:\(?(?:\+|00)?86\)?[ -]?)?1[3-9][0-9](?:[ -]?[0-9]{4}){2}",
        v.cn_mobile,
        0.7,
    ),
    _pattern(
        "CN_LANDLINE",
        "cn_landline_separated",
        r"(?:\(0[1-9][0-9]{1,2}\)[ -]?|0[1-9][0-9]{1,2}[ -])[1-9][0-9]{2,3}[ -]?[0-9]{4}"
        r"(?:[ ]?(?:转|分机|[Ee][Xx][Tt]\.?|[Xx#])[ ]?[0-9]{1,6}|-[0-9]{1,6})?",
        v.cn_landline,
        0.6,
    ),
    _weak("CN_LANDLINE", "cn_landline_compact", r"0[1-9][0-9]{9,10}", v.cn_landline, 0.5),
    _pattern(
        "CN_BANK_CARD", "cn_bank_card_unionpay", rf"62[0-9]{{2}}{_CARD_DIGIT}{{12,15}}",
        v.cn_bank_card, CERTAIN,
    ),
    _weak(
        "CN_BANK_CARD",
        "cn_bank_card_other_bin",
        rf"(?:4[0-9]|5[1-5]|2[2-7]|3[4-7]|60|9[45])[0-9]{{2}}{_CARD_DIGIT}{{9,15}}",
        v.cn_bank_card,
        CERTAIN,
    ),
    _pattern(
        "CN_USCC", "cn_uscc", rf"[0-9ANY][0-9]{{7}}{_USCC_CHAR}{{10}}", v.cn_uscc, CERTAIN
    ),
    _pattern(
        "CN_PASSPORT", "cn_passport", r"[EG][0-9]{8}|E[A-HJ-NP-Z][0-9]{7}", v.cn_passport, 0.6
    ),
    _pattern(
        "CN_TRAVEL_PERMIT", "cn_hk_macao_permit", r"[CW][0-9A-HJ-NP-Z][0-9]{7}",
        v.cn_hk_macao_permit, 0.6,
    ),
    _weak(
        "CN_TRAVEL_PERMIT", "cn_home_return_permit", r"[HM][0-9]{8}(?:[0-9]{2})?",
        v.cn_hk_macao_permit, 0.5,
    ),
    _weak(
        "CN_TRAVEL_PERMIT", "cn_taiwan_permit", r"[0-9]{8}(?:[0-9]{2})?",
        v.cn_taiwan_permit, 0.5,
    ),
    _pattern(
        "IBAN_CODE",
        "iban",
        r"[A-Z]{2}[0-9]{2}(?:[ ]?[0-9A-Z]{4}){2,7}(?:[ ]?[0-9A-Z]{1,3})?",
        v.iban,
        CERTAIN,
    ),
    _pattern("US_SSN", "us_ssn_dashed", r"[0-9]{3}-[0-9]{2}-[0-9]{4}", v.us_ssn, 0.6),
    _weak("US_SSN", "us_ssn_plain", r"[0-9]{3} [0-9]{2} [0-9]{4}|[0-9]{9}", v.us_ssn, 0.5),
)

ENTITIES: tuple[str, ...] = tuple(dict.fromkeys(p.entity for p in IDENTIFIER_PATTERNS))

CONTEXT_WORDS: Mapping[str, tuple[str, ...]] = {
    "CN_RESIDENT_ID": (
        "身份证", "身份证号", "公民身份号码", "身份号码", "证件号", "证件号码", "居住证",
        "id", "id card", "id number", "identity", "resident id", "national id", "sfz", "sfzh",
    ),
    "CN_MOBILE": (
        "手机", "手机号", "手机号码", "移动电话", "联系电话", "电话", "联系方式",
        "mobile", "phone", "cell", "cellphone", "tel", "sjh",
    ),
    "CN_LANDLINE": (
        "电话", "座机", "固话", "固定电话", "办公电话", "联系电话", "传真", "分机",
        "phone", "telephone", "tel", "fax", "landline", "office",
    ),
    "CN_BANK_CARD": (
        "卡号", "银行卡", "银行卡号", "借记卡", "信用卡", "储蓄卡", "银联", "账号", "帐号",
        "开户行", "card", "card no", "card number", "bank card", "account", "unionpay",
        "debit", "credit",
    ),
    "CN_USCC": (
        "统一社会信用代码", "社会信用代码", "信用代码", "税号", "纳税人识别号", "营业执照",
        "uscc", "credit code", "tax id", "business license",
    ),
    "CN_PASSPORT": ("护照", "护照号", "护照号码", "passport", "passport no"),
    "CN_TRAVEL_PERMIT": (
        "通行证", "港澳通行证", "往来港澳通行证", "台胞证", "台湾居民来往大陆通行证",
        "回乡证", "港澳居民来往内地通行证", "permit", "travel permit", "home return",
        "entry permit", "mtp",
    ),
    "IBAN_CODE": ("iban", "账号", "银行账户", "bank account", "account"),
    "US_SSN": ("ssn", "social security", "社会安全号"),
}


_BY_NAME: Mapping[str, IdentifierPattern] = {p.name: p for p in IDENTIFIER_PATTERNS}


@functools.cache
def patterns_for(entity: str) -> tuple[IdentifierPattern, ...]:
    """The table rows for ``entity``, in table order."""
    return tuple(p for p in IDENTIFIER_PATTERNS if p.entity == entity)


def pattern_named(name: str) -> IdentifierPattern:
    """The table row called ``name``; raises ``KeyError`` if there is none."""
    return _BY_NAME[name]


def verdict(entity: str, text: str) -> bool | None:
    """Presidio ``validate_result`` for a hit of ``entity``.

    The rows whose regex matches all of ``text`` decide (every row of the entity, if
    none does, as for a hit of a caller-supplied pattern). False: no deciding row's
    validator accepts ``text`` (drop it). True: a checksum row accepts it (Presidio then
    scores it 1.0). None: only rows without a checksum accept it; the pattern score stands.
    """
    rows = patterns_for(entity)
    shaped = [p for p in rows if _compiled(p.regex).fullmatch(text)] or rows
    accepted = [p.score for p in shaped if p.validator(text)]
    if not accepted:
        return False
    return True if max(accepted) >= CERTAIN else None


def at_boundary(text: str, start: int, end: int) -> bool:
    """What :data:`BEFORE` and :data:`AFTER` assert, for engines without lookarounds."""
    before = text[max(0, start - 2) : start]
    after = text[end : end + 2]
    if before[-1:] in _ALNUM or (before[-1:] == "." and before[:1] in _DIGITS):
        return False
    return not (after[:1] in _ALNUM or (after[:1] == "." and after[1:2] in _DIGITS))


@functools.cache
def _standalone(word: str) -> re.Pattern[str]:
    return re.compile(rf"(?<![a-z]){re.escape(word)}(?![a-z])")


def _word_in(word: str, window: str) -> bool:
    if not word.isascii():
        return word in window
    return _standalone(word).search(window) is not None


def context_ok(pattern_name: str, text: str, start: int, end: int, words: Sequence[str]) -> bool:
    """True unless the named row needs context and no word of ``words`` is near the hit.

    ASCII words must stand alone (``id`` does not fire inside ``valid``); CJK words match
    as substrings. Matching ignores case.
    """
    pattern = _BY_NAME.get(pattern_name)
    if pattern is None or not pattern.needs_context:
        return True
    window = text[max(0, start - CONTEXT_WINDOW) : end + CONTEXT_WINDOW].lower()
    return any(_word_in(word.lower(), window) for word in words)
