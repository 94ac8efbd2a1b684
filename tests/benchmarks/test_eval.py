from __future__ import annotations

import json
import re
from collections import defaultdict
from pathlib import Path
from typing import Any

import pytest
from stdnum import iban, luhn
from stdnum.cn import ric

from benchmarks import eval as ev
from gateway.demo.data import generate_customers

NOTES = ("notes_zh.jsonl", "notes_en.jsonl")
DIGITS = re.compile(r"\D")


@pytest.fixture(scope="module")
def engine() -> ev.DetectionEngine:
    return ev.build_engine(zh_ner=True, en_model=None)


def _labels(path: str) -> list[dict[str, Any]]:
    return ev.load_jsonl(ev.DATA / path)


@pytest.mark.parametrize(
    ("text", "value", "expected"),
    [
        ("order 12 and 123", "12", 1),
        ("合计12件，另12件", "12", 2),
        ("A级客户 Anna", "A", 1),
        ("x13812345678", "13812345678", 0),
        ("手机13812345678。", "13812345678", 1),
    ],
)
def test_occurrences_ignore_values_glued_to_ascii(text: str, value: str, expected: int) -> None:
    assert ev.occurrences(text, value) == expected


def test_score_counts_a_leak_and_a_damaged_control() -> None:
    tallies: ev.Tallies = defaultdict(ev.Tally)
    original = "客户张三来电，手机13812345678，订单20241125123456789，金额3200.50元"
    masked = "客户张*来电，手机13812345678，订单2024*************，金额3200.50元"
    labels = [
        ev.Label("PERSON", "张三", True),
        ev.Label("CN_MOBILE", "13812345678", True),
        ev.Label("EMAIL_ADDRESS", "absent@example.com", True),
        ev.Label("ORDER_NO", "20241125123456789", False),
        ev.Label("AMOUNT", "3200.50", False),
    ]
    ev.score(tallies, ("c", "f", "zh"), original, masked, labels)
    got = {(k[3], k[4]): (t.n, t.hits) for k, t in tallies.items()}
    assert got == {
        ("leak", "PERSON"): (1, 0),
        ("leak", "CN_MOBILE"): (1, 1),
        ("damage", "ORDER_NO"): (1, 1),
        ("damage", "AMOUNT"): (1, 0),
        ("damage", ev.ALL_CONTROLS): (2, 1),
    }
    assert "13812345678" in tallies[("c", "f", "zh", "leak", "CN_MOBILE")].examples[0]


def test_rows_apply_targets() -> None:
    tallies: ev.Tallies = defaultdict(ev.Tally)
    tallies[("structured", "json", "zh", "leak", "PERSON")] = ev.Tally(1000, 5)
    tallies[("structured", "json", "zh", "damage", "DATE")] = ev.Tally(1000, 6)
    tallies[("structured", "html", "zh", "leak", "PERSON")] = ev.Tally(10, 10)
    tallies[("notes", "text", "en", "leak", "PERSON")] = ev.Tally(100, 10)
    tallies[("notes", "text", "en", "leak", "US_SSN")] = ev.Tally(100, 4)
    status = {(r["corpus"], r["format"], r["entity"]): r["status"] for r in ev.rows_of(tallies)}
    assert status == {
        ("structured", "json", "PERSON"): "PASS",
        ("structured", "json", "DATE"): "FAIL",
        ("structured", "html", "PERSON"): "-",
        ("notes", "text", "PERSON"): "PASS",
        ("notes", "text", "US_SSN"): "FAIL",
    }


def test_structured_corpus_round_trips_every_format(engine: ev.DetectionEngine) -> None:
    run = ev.Run(engine)
    customers = generate_customers("proj1", 30, 2026)
    for fmt in ev.FORMATS:
        assert len(fmt.read(fmt.write(customers))) == 30
        ev.run_structured(run, customers, fmt)
    assert run.errors == {}
    rows = ev.rows_of(run.tallies)
    for fmt in ev.FORMATS:
        mine = [r for r in rows if r["format"] == fmt.name]
        assert {r["entity"] for r in mine} >= {"PERSON", "EMAIL_ADDRESS", "ORDER_NO", "GRADE"}
        assert all(r["n"] > 0 and 0 <= r["rate"] <= 1 for r in mine)
    assert run.sizes["xlsx"] > 0 and run.seconds["csv"] > 0


def test_main_writes_a_report(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "eval.json"
    assert ev.main(["--customers", "3", "--out", str(out)]) == 0
    result = json.loads(out.read_text("utf-8"))
    corpora = {row["corpus"] for row in result["rows"]}
    assert corpora == {"structured", "notes", "vectors"}
    assert set(result["throughput_mb_s"]) >= {"json", "xlsx", "notes", "vectors"}
    assert "Targets missed" in capsys.readouterr().out


@pytest.mark.parametrize("path", NOTES)
def test_notes_are_labelled_consistently(path: str) -> None:
    notes = _labels(path)
    assert len(notes) >= 150
    assert len({n["text"] for n in notes}) == len(notes)
    for note in notes:
        text = note["text"]
        for item in [*note["pii"], *note["non_pii"]]:
            assert item["value"] in text, (item, text)
        for item in note["non_pii"]:
            assert ev.occurrences(text, item["value"]) == 1, (item, text)


@pytest.mark.parametrize("path", NOTES)
def test_note_identifiers_have_the_right_checksums(path: str) -> None:
    for note in _labels(path):
        for item in note["pii"]:
            digits = DIGITS.sub("", item["value"])
            if item["entity"] == "CN_RESIDENT_ID":
                assert ric.is_valid(item["value"].replace(" ", "")), item
            elif item["entity"] in ("CN_BANK_CARD", "CREDIT_CARD"):
                assert luhn.is_valid(digits), item
                assert item["entity"] != "CN_BANK_CARD" or digits.startswith("62")
            elif item["entity"] == "IBAN_CODE":
                assert iban.is_valid(item["value"]), item
        for item in note["non_pii"]:
            if item["kind"] == "ORDER_NO":
                assert 16 <= len(item["value"]) <= 20 and item["value"].isdigit()
                assert not luhn.is_valid(item["value"]) and not ric.is_valid(item["value"])


def test_vectors_cite_a_source_and_contain_their_value() -> None:
    vectors = _labels("vectors.jsonl")
    assert {v["expect"] for v in vectors} == {"mask", "keep"}
    for vector in vectors:
        assert vector["source"] and vector["value"] in vector["text"], vector
