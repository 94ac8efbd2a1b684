from __future__ import annotations

import pytest
from presidio_anonymizer import AnonymizerEngine
from presidio_anonymizer.entities import OperatorConfig, RecognizerResult

from detectors.operators import (
    AddressMask,
    EmailMask,
    KeyedHash,
    MobileMask,
    NameMask,
    PartialMask,
    build_operators,
    partial_mask,
)


@pytest.mark.parametrize(
    ("text", "first", "last", "expected"),
    [
        ("13812345678", 3, 4, "138****5678"),
        ("110105194912310021", 6, 4, "110105********0021"),
        ("6222021234567890128", 6, 4, "622202*********0128"),
        ("6222 0212 3456 7890", 6, 4, "6222 02** **** 7890"),
        ("138-1234-5678", 3, 4, "138-****-5678"),
        ("1234", 3, 4, "1**4"),
        ("12", 1, 1, "*2"),
        ("", 3, 4, ""),
        ("--", 1, 1, "--"),
    ],
)
def test_partial_mask(text, first, last, expected):
    assert partial_mask(text, first, last) == expected


def test_partial_mask_always_hides_a_third():
    for n in range(1, 30):
        out = partial_mask("9" * n, 6, 4)
        assert out.count("*") >= -(-n // 3)


@pytest.mark.parametrize(
    ("operator", "text", "expected"),
    [
        (MobileMask(), "13812345678", "138****5678"),
        (MobileMask(), "+86 138 1234 5678", "+86 138 **** 5678"),
        (MobileMask(), "138-1234-5678", "138-****-5678"),
        (NameMask(), "李小龙", "李**"),
        (NameMask(), "张伟", "张*"),
        (NameMask(), "John Smith", "J*** S****"),
        (EmailMask(), "dave@126.com", "d**@126.com"),
        (EmailMask(), "no-at-sign", "n*-**-****"),
        (AddressMask(), "北京市海淀区中关村大街27号3单元501室", "北京市海淀区****"),
        (AddressMask(), "广东省广州市天河区体育西路30号", "广东省广州市天河区****"),
        (AddressMask(), "123 Main St, Springfield, IL 62704", "****, Springfield, IL 62704"),
        (PartialMask(), "123456789", "*****6789"),
    ],
)
def test_local_conventions(operator, text, expected):
    assert operator.operate(text, {}) == expected


def test_keyed_hash_is_stable_keyed_and_validated():
    op = KeyedHash()
    a = op.operate("13812345678", {"key": "k" * 16})
    assert a == op.operate("13812345678", {"key": "k" * 16})
    assert a != op.operate("13812345678", {"key": "j" * 16})
    assert a.startswith("pseud:") and "13812345678" not in a
    with pytest.raises(ValueError):
        op.validate({"key": "short"})


def test_operators_plug_into_presidio_anonymizer():
    engine = AnonymizerEngine()
    engine.add_anonymizer(MobileMask)
    result = engine.anonymize(
        text="手机13812345678", analyzer_results=[RecognizerResult("CN_MOBILE", 2, 13, 1.0)],
        operators={"CN_MOBILE": OperatorConfig("mobile")},
    )
    assert result.text == "手机138****5678"


def test_registry_has_ours_and_presidios():
    names = set(build_operators())
    assert {"partial", "mobile", "name", "email", "address", "hmac"} <= names
    assert {"encrypt", "keep", "mask", "redact", "replace"} <= names
