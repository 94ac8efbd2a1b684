from __future__ import annotations

import pytest

from detectors.intl_patterns import INTL_PATTERNS
from detectors.patterns import IDENTIFIER_PATTERNS
from detectors.scanner import PatternScanner, token_bounds

SCANNER = PatternScanner(INTL_PATTERNS + IDENTIFIER_PATTERNS)


def found(text: str, context: str = "") -> list[tuple[str, str]]:
    return [(s.entity, text[s.start:s.end]) for s in SCANNER.scan(text, context)]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("客户身份证11010519491231002X已核验", [("CN_RESIDENT_ID", "11010519491231002X")]),
        ("手机13812345678，", [("CN_MOBILE", "13812345678")]),
        ("电话+86 138 1234 5678谢谢", [("CN_MOBILE", "+86 138 1234 5678")]),
        ("卡号是6222021234567890128谢谢", [("CN_BANK_CARD", "6222021234567890128")]),
        ("邮件发至zhang.wei@example.com。", [("EMAIL_ADDRESS", "zhang.wei@example.com")]),
        ("from 203.0.113.45 at", [("IP_ADDRESS", "203.0.113.45")]),
        ("card 4111 1111 1111 1111 ok", [("CREDIT_CARD", "4111 1111 1111 1111")]),
        ("call +1 212-555-0143 now", [("PHONE_NUMBER", "+1 212-555-0143")]),
        ("call (212) 555-0143 now", [("PHONE_NUMBER", "(212) 555-0143")]),
        ("new number +33 1 42 68 53 00; old", [("PHONE_NUMBER", "+33 1 42 68 53 00")]),
        ("Danish +45 32 12 34 56 for OTP", [("PHONE_NUMBER", "+45 32 12 34 56")]),
        ("SSN 536-90-4399", [("US_SSN", "536-90-4399")]),
        ("两个号码13812345678和13987654321", [("CN_MOBILE", "13812345678"),
                                            ("CN_MOBILE", "13987654321")]),
    ],
)
def test_finds_identifiers_next_to_cjk(text, expected):
    assert found(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "订单2024112512345678已发货，金额3200.50元",
        "订单号20241125123456789012",
        "2024-11-25 和 20241125",
        "version 1.2.3.4.5",
        "127.0.0.1",
        "卡号6222021234567890123谢谢",
        "身份证110105194912310022",
        "C1000123",
        "amount 12358.02",
        "",
    ],
)
def test_non_pii_is_left_alone(text):
    assert found(text) == []


def test_weak_patterns_need_context_and_field_names_count():
    assert found("4111111111111111") == [("CREDIT_CARD", "4111111111111111")]
    assert found("编号01062345678") == []
    assert found("座机01062345678") == [("CN_LANDLINE", "01062345678")]
    assert found("01062345678", context="landline") == [("CN_LANDLINE", "01062345678")]


@pytest.mark.parametrize(
    ("text", "start", "end", "expected"),
    [
        ("手机13812345678，谢谢", 2, 6, "13812345678"),
        ("tel +86 138 1234 5678.", 8, 12, "tel +86 138 1234 5678."),
        ("mail a.b@x.com now", 8, 9, "a.b@x.com"),
    ],
)
def test_token_bounds(text, start, end, expected):
    lo, hi = token_bounds(text, start, end)
    assert text[lo:hi] == expected


def test_first_chars_of_table_patterns():
    from detectors.scanner import first_chars

    by_name = {p.name: first_chars(p.core) for p in INTL_PATTERNS + IDENTIFIER_PATTERNS}
    assert by_name["cn_mobile"] == frozenset("(+018")
    assert by_name["cn_bank_card_unionpay"] == frozenset("6")
    assert by_name["phone_intl"] == frozenset("+")
    assert by_name["cn_passport"] == frozenset("EG")
    assert all(chars for chars in by_name.values())


@pytest.mark.parametrize("regex", [r"\w+", r"[^a]b", r"(?i:a)b", r"(?i)ab", r"a?", r"x*|y",
                                   r"\u4e00"])
def test_first_chars_is_none_when_unsure(regex):
    from detectors.scanner import first_chars

    assert first_chars(regex) is None


def _generic(scanner: PatternScanner) -> PatternScanner:
    slow = PatternScanner(scanner.patterns)
    slow._by_first, slow._starts = None, None  # the joined-alternation path
    return slow


def test_fast_path_finds_exactly_what_the_joined_alternation_finds():
    import random

    slow = _generic(SCANNER)
    rng = random.Random(11)
    pieces = ["13812345678", "+86 138 1234 5678", "6222021234567890128", "11010519491231002X",
              "zhang.wei@example.com", "203.0.113.45", "4111 1111 1111 1111", "536-90-4399",
              "(212) 555-0143", "+33 1 42 68 53 00", "GB82 WEST 1234 5698 7654 32",
              "010-12345678 转 123", "E12345678", "91350100M000100Y43", "20240131", "12.50",
              "订单", "，", " ", "-", "x", "7", "客户", "ssn", "身份证", "tel", "\n"]
    for _ in range(3000):
        text = "".join(rng.choice(pieces) for _ in range(rng.randrange(1, 9)))
        context = rng.choice(["", "phone", "备注"])
        assert SCANNER.scan(text, context) == slow.scan(text, context), text


def test_tokens_longer_than_the_window_are_still_scanned():
    text = "x" * 200 + "-13812345678-" + "y" * 200
    assert found(text) == [("CN_MOBILE", "13812345678")]
    assert SCANNER.scan(text) == _generic(SCANNER).scan(text)
