"""Presidio-style tables for the Chinese identifier recognizers and the table behind them.

Each recognizer is called directly, ``recognizer.analyze(text, entities, None)``: no
AnalyzerEngine, no NLP engine. Spans are ``(start, end)`` in ``str`` indices, which for
CJK text are characters, not bytes. Vectors marked "stdnum" or "Presidio" come from
python-stdnum tests/test_cn_ric.doctest and tests/test_cn_uscc.doctest, and
presidio-analyzer/tests/test_credit_card_recognizer.py.
"""

from __future__ import annotations

import re

import pytest
import regex
from presidio_analyzer import PatternRecognizer

from detectors.patterns import (
    AFTER,
    BEFORE,
    CERTAIN,
    CONTEXT_WORDS,
    ENTITIES,
    IDENTIFIER_PATTERNS,
    at_boundary,
    context_ok,
    pattern_named,
)
from detectors.recognizers import (
    CnBankCardRecognizer,
    CnLandlineRecognizer,
    CnMobileRecognizer,
    CnPassportRecognizer,
    CnResidentIdRecognizer,
    CnTravelPermitRecognizer,
    CnUsccRecognizer,
    default_recognizers,
)
from tests.detectors.test_validators import (
    CARD16,
    CARD19,
    N_PREFIX_USCC,
    TOMORROW,
    break_last_digit,
    gansu_id_passing_luhn,
    resident_id,
)

ID_A = "360426199101010071"  # stdnum
ID_X = "44011320141005001X"  # stdnum
ID_SPACED = "110105 19900307 123" + resident_id("110105", "19900307")[-1]
RESIDENCE_PERMIT = resident_id("830000", "19900101")
CARD19_SPACED = " ".join([CARD19[:4], CARD19[4:8], CARD19[8:12], CARD19[12:16], CARD19[16:]])
CARD16_DASHED = "-".join([CARD16[:4], CARD16[4:8], CARD16[8:12], CARD16[12:]])
# The literal card from the brief fails Luhn, so it must not be reported.
LITERAL_CARD_TEXT = "卡号是6222021234567890123谢谢"

Case = tuple[type[PatternRecognizer], str, list[tuple[int, int]]]

CASES: list[Case] = [
    (CnResidentIdRecognizer, ID_A, [(0, 18)]),
    (CnResidentIdRecognizer, f"身份证号：{ID_A}。", [(5, 23)]),
    (CnResidentIdRecognizer, "身份证号码44011320141005001x谢谢", [(5, 23)]),
    (CnResidentIdRecognizer, f"ID: {ID_A}, {ID_X}", [(4, 22), (24, 42)]),
    (CnResidentIdRecognizer, f"身份证 {ID_SPACED}", [(4, 24)]),
    (CnResidentIdRecognizer, f"居住证{RESIDENCE_PERMIT}", [(3, 21)]),
    (CnResidentIdRecognizer, "身份证110105900307123", [(3, 18)]),
    (CnResidentIdRecognizer, "110105900307123", []),
    (CnResidentIdRecognizer, "身份证110105990231123", []),
    (CnResidentIdRecognizer, f"订单号12{ID_A}", []),
    (CnResidentIdRecognizer, f"{ID_A}12", []),
    (CnResidentIdRecognizer, f"{ID_A}.5", []),
    (CnResidentIdRecognizer, f"3.{ID_A}", []),
    (CnResidentIdRecognizer, f"AB{ID_A}", []),
    (CnResidentIdRecognizer, break_last_digit(ID_A), []),
    (CnResidentIdRecognizer, resident_id("110105", "19990231"), []),
    (CnResidentIdRecognizer, resident_id("110105", TOMORROW), []),
    (CnResidentIdRecognizer, "金额3200.50元，日期2024-11-25，20241125", []),
    (CnMobileRecognizer, "手机13812345678，", [(2, 13)]),
    (CnMobileRecognizer, "13812345678", [(0, 11)]),
    (CnMobileRecognizer, "电话：+86 138 1234 5678", [(3, 20)]),
    (CnMobileRecognizer, "+86-138-1234-5678", [(0, 17)]),
    (CnMobileRecognizer, "0086 13812345678", [(0, 16)]),
    (CnMobileRecognizer, "8613812345678", [(0, 13)]),
    (CnMobileRecognizer, "(+86)13812345678", [(0, 16)]),
    (CnMobileRecognizer, "手机13812345678和13912345678", [(2, 13), (14, 25)]),
    (CnMobileRecognizer, "订单号202413812345678", []),
    (CnMobileRecognizer, "138123456789", []),
    (CnMobileRecognizer, "12812345678", []),
    (CnMobileRecognizer, "金额13812345678.50元", []),
    (CnMobileRecognizer, "ts=1732512345678", []),
    (CnLandlineRecognizer, "010-12345678", [(0, 12)]),
    (CnLandlineRecognizer, "(0755)8888 8888", [(0, 15)]),
    (CnLandlineRecognizer, "电话0755-88888888转123谢谢", [(2, 19)]),
    (CnLandlineRecognizer, "021 6888 8888", [(0, 13)]),
    (CnLandlineRecognizer, "tel: 010 1234 5678 x 12", [(5, 23)]),
    (CnLandlineRecognizer, "座机01012345678", [(2, 13)]),
    (CnLandlineRecognizer, "01012345678", []),
    (CnLandlineRecognizer, "编号075588888888", []),
    (CnLandlineRecognizer, "日期2024-11-25", []),
    (CnLandlineRecognizer, "010-1234567", []),
    (CnLandlineRecognizer, "0101-2345678", []),
    (CnLandlineRecognizer, "0755-08888888", []),
    (CnBankCardRecognizer, f"卡号是{CARD19}谢谢", [(3, 22)]),
    (CnBankCardRecognizer, LITERAL_CARD_TEXT, []),
    (CnBankCardRecognizer, CARD16, [(0, 16)]),
    (CnBankCardRecognizer, f"银行卡：{CARD19_SPACED}", [(4, 27)]),
    (CnBankCardRecognizer, CARD16_DASHED, [(0, 19)]),
    (CnBankCardRecognizer, f"卡号{break_last_digit(CARD19)}", []),
    (CnBankCardRecognizer, f"1{CARD19}", []),
    (CnBankCardRecognizer, "订单号62220212345678901234", []),
    (CnBankCardRecognizer, "信用卡 4012888888881881", [(4, 20)]),  # Presidio
    (CnBankCardRecognizer, "card no. 4012 8888 8888 1881", [(9, 28)]),  # Presidio
    (CnBankCardRecognizer, "4012888888881881", []),
    (CnBankCardRecognizer, "银行卡号：4012-8888-8888-1882", []),  # Presidio
    (CnBankCardRecognizer, f"卡号{gansu_id_passing_luhn()}", []),
    (CnBankCardRecognizer, "金额3200.50元", []),
    (CnUsccRecognizer, "统一社会信用代码91350100M000100Y43", [(8, 26)]),
    (CnUsccRecognizer, "91350100M000100Y43", [(0, 18)]),
    (CnUsccRecognizer, "91350100M000100Y44", []),
    (CnUsccRecognizer, "信用代码：91110000600037341L；", [(5, 23)]),  # stdnum
    (CnUsccRecognizer, "9111000060003IOZSV", []),  # stdnum
    (CnUsccRecognizer, "X91350100M000100Y43", []),
    (CnUsccRecognizer, N_PREFIX_USCC, [(0, 18)]),
    (CnPassportRecognizer, "护照号E12345678", [(3, 12)]),
    (CnPassportRecognizer, "passport: EA1234567.", [(10, 19)]),
    (CnPassportRecognizer, "G12345678", [(0, 9)]),
    (CnPassportRecognizer, "E1234567", []),
    (CnPassportRecognizer, "E123456789", []),
    (CnPassportRecognizer, "SE12345678", []),
    (CnPassportRecognizer, "型号E12345678X", []),
    (CnPassportRecognizer, "EI1234567", []),
    (CnPassportRecognizer, "e12345678", []),
    (CnTravelPermitRecognizer, "港澳通行证C12345678", [(5, 14)]),
    (CnTravelPermitRecognizer, "W12345678", [(0, 9)]),
    (CnTravelPermitRecognizer, "台胞证12345678", [(3, 11)]),
    (CnTravelPermitRecognizer, "台湾居民来往大陆通行证号码：1234567890", [(14, 24)]),
    (CnTravelPermitRecognizer, "MTP 12345678", [(4, 12)]),
    (CnTravelPermitRecognizer, "回乡证H12345678", [(3, 12)]),
    (CnTravelPermitRecognizer, "12345678", []),
    (CnTravelPermitRecognizer, "H12345678", []),
    (CnTravelPermitRecognizer, "台胞证有效期20241125", []),
    (CnTravelPermitRecognizer, "通行证C11111111", []),
    (CnTravelPermitRecognizer, "台胞证" + "的" * 40 + "12345678", []),
]


@pytest.fixture(scope="module")
def recognizers() -> dict[type[PatternRecognizer], PatternRecognizer]:
    return {type(r): r for r in default_recognizers()}


@pytest.mark.parametrize(("cls", "text", "spans"), CASES)
def test_recognizer_table(
    recognizers: dict[type[PatternRecognizer], PatternRecognizer],
    cls: type[PatternRecognizer],
    text: str,
    spans: list[tuple[int, int]],
) -> None:
    recognizer = recognizers[cls]
    entity = recognizer.supported_entities[0]
    results = recognizer.analyze(text, entities=[entity], nlp_artifacts=None)
    assert sorted((r.start, r.end) for r in results) == spans
    assert all(r.entity_type == entity for r in results)
    assert all(0 < r.score <= 1.0 for r in results)


@pytest.mark.parametrize(
    ("cls", "text", "score"),
    [
        (CnResidentIdRecognizer, ID_A, CERTAIN),
        (CnResidentIdRecognizer, "身份证110105900307123", 0.6),
        (CnBankCardRecognizer, CARD19, CERTAIN),
        (CnUsccRecognizer, "91350100M000100Y43", CERTAIN),
        (CnMobileRecognizer, "13812345678", 0.7),
        (CnPassportRecognizer, "E12345678", 0.6),
    ],
)
def test_checksums_score_certain_and_shapes_keep_the_pattern_score(
    recognizers: dict[type[PatternRecognizer], PatternRecognizer],
    cls: type[PatternRecognizer],
    text: str,
    score: float,
) -> None:
    recognizer = recognizers[cls]
    (result,) = recognizer.analyze(text, entities=recognizer.supported_entities)
    assert result.score == pytest.approx(score)


def test_every_entity_has_one_recognizer_with_zh_default_and_en_option() -> None:
    zh = default_recognizers()
    en = default_recognizers("en")
    expected = {e for e in ENTITIES if e.startswith("CN_")}
    assert {r.supported_entities[0] for r in zh} == expected
    assert {r.supported_language for r in zh} == {"zh"}
    assert {r.supported_language for r in en} == {"en"}
    assert {r.name for r in zh} == {type(r).__name__ for r in zh}


def test_recognizers_copy_class_patterns_and_take_custom_context() -> None:
    recognizer = CnMobileRecognizer(context=["联系人"])
    assert recognizer.patterns is not CnMobileRecognizer.PATTERNS
    assert recognizer.context == ["联系人"]
    assert "手机" in CnMobileRecognizer.CONTEXT


def test_required_context_uses_the_instance_context_words() -> None:
    recognizer = CnTravelPermitRecognizer(context=["tw permit"])
    assert recognizer.analyze("台胞证12345678", entities=["CN_TRAVEL_PERMIT"]) == []
    (hit,) = recognizer.analyze("TW permit 12345678", entities=["CN_TRAVEL_PERMIT"])
    assert (hit.start, hit.end) == (10, 18)


@pytest.mark.parametrize("pattern", IDENTIFIER_PATTERNS, ids=lambda p: p.name)
def test_table_rows_are_portable(pattern: object) -> None:
    row = pattern_named(getattr(pattern, "name", ""))
    assert row.regex.startswith(BEFORE)
    assert row.regex.endswith(AFTER)
    for lookaround in ("(?=", "(?!", "(?<=", "(?<!"):
        assert lookaround not in row.core
    assert "\\1" not in row.core
    assert re.compile(row.core).groups == 0
    assert regex.compile(row.regex).groups == 0
    assert 0 < row.score <= CERTAIN
    assert CONTEXT_WORDS[row.entity]


def test_table_compiles_into_one_alternation_that_finds_the_same_hits() -> None:
    combined = re.compile(
        "|".join(f"(?P<p{i}>{p.regex})" for i, p in enumerate(IDENTIFIER_PATTERNS))
    )
    text = f"客户张三，手机13812345678，身份证{ID_A}，卡号{CARD19}，护照E12345678。"
    found = []
    for match in combined.finditer(text):
        assert match.lastgroup is not None
        row = IDENTIFIER_PATTERNS[int(match.lastgroup[1:])]
        words = CONTEXT_WORDS[row.entity]
        if row.accepts(match.group()) and context_ok(
            row.name, text, match.start(), match.end(), words
        ):
            found.append((row.entity, match.start(), match.end()))
    expected = [
        (r.entity_type, r.start, r.end)
        for recognizer in default_recognizers()
        for r in recognizer.analyze(text, entities=recognizer.supported_entities)
    ]
    assert sorted(found) == sorted(expected)
    assert len(found) == 4


@pytest.mark.parametrize(
    ("text", "start", "end", "expected"),
    [
        ("手机13812345678，", 2, 13, True),
        ("13812345678", 0, 11, True),
        ("a13812345678", 1, 12, False),
        ("138123456789", 0, 11, False),
        ("1.13812345678", 2, 13, False),
        ("x.13812345678", 2, 13, True),
        ("13812345678.5", 0, 11, False),
        ("13812345678.", 0, 11, True),
    ],
)
def test_at_boundary_mirrors_the_lookarounds(
    text: str, start: int, end: int, expected: bool
) -> None:
    lookarounds = re.compile(BEFORE).match(text, start) and re.compile(AFTER).match(text, end)
    assert at_boundary(text, start, end) is expected
    assert bool(lookarounds) is expected


@pytest.mark.parametrize(
    ("text", "words", "expected"),
    [
        ("ID: 12345678", ["id"], True),
        ("valid 12345678", ["id"], False),
        ("台胞证号码12345678", ["台胞证"], True),
        ("12345678 (MTP)", ["mtp"], True),
    ],
)
def test_context_ok_for_a_weak_row(text: str, words: list[str], expected: bool) -> None:
    start = text.index("12345678")
    assert context_ok("cn_taiwan_permit", text, start, start + 8, words) is expected
    assert context_ok("cn_mobile", text, start, start + 8, []) is True
    assert context_ok("caller_supplied", text, start, start + 8, []) is True
