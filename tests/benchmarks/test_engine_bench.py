from __future__ import annotations

import csv
import io
import socket
from typing import Any

import orjson
import pytest
import tldextract.tldextract as tld
from stdnum import luhn
from stdnum.cn import ric

from benchmarks import engine as bench
from benchmarks import naive
from detectors.build import build_text_recognizers
from gateway.demo.data import CSV_FIELDS, generate_customers, pii_values


@pytest.fixture(scope="module")
def customers() -> list[Any]:
    return generate_customers("proj1", 4, seed=7)


def test_documents_hold_the_same_customers(customers: list[Any]) -> None:
    docs = bench.documents(customers)
    assert [r["id"] for r in orjson.loads(docs["json"])] == [1, 2, 3, 4]
    rows = list(csv.reader(io.StringIO(docs["csv"].decode(), newline="")))
    assert rows[0] == list(CSV_FIELDS)
    assert [row[0] for row in rows[1:]] == ["1", "2", "3", "4"]
    assert docs["text"].decode().split("\n") == [c.notes for c in customers]


@pytest.mark.parametrize(
    ("nbytes", "seconds", "expected"),
    [(1_000_000, 1.0, 1.0), (250_000, 0.5, 0.5), (3_000_000, 2.0, 1.5), (10, 0.0, float("inf"))],
)
def test_mb_per_s(nbytes: int, seconds: float, expected: float) -> None:
    assert bench.mb_per_s(nbytes, seconds) == pytest.approx(expected)


def test_leaks_count_only_values_present_in_the_input(customers: list[Any]) -> None:
    original = bench.documents(customers)["json"].decode()
    values = [(e, v) for c in customers for e, vs in pii_values(c).items() for v in vs
              if v in original]
    masked = original
    for _entity, value in values[1:]:
        masked = masked.replace(value, "*" * len(value))
    result = bench.leaks(original, masked, customers)
    assert result["values"] == len(values)
    assert result["leaked"] == 1
    assert result["by_entity"][values[0][0]]["leaked"] == 1
    assert bench.leaks(original, original, customers)["leaked"] == len(values)
    assert bench.leaks("nothing here", "nothing here", customers)["values"] == 0


def test_best_of_keeps_the_fastest_run_and_times_no_setup() -> None:
    calls: list[str] = []
    result = bench.best_of(3, lambda: calls.append("run"), lambda: calls.append("setup"))
    assert calls == ["setup", "run"] * 3
    assert 0 <= result["seconds"] and 0 <= result["cpu_seconds"]


def test_measure_ours_reports_consistent_throughput(customers: list[Any]) -> None:
    body = bench.documents(customers)["json"]
    recognizers = build_text_recognizers(zh_ner=False, en_model=None)
    out = bench.measure_ours("json", body, recognizers, repeat=1)
    assert out["bytes"] == len(body)
    for name in ("cold", "no_memo", "warm"):
        assert out[name]["mb_s"] == pytest.approx(bench.mb_per_s(len(body), out[name]["seconds"]))
    assert out["warm"]["memo_hits"] > out["cold"]["memo_hits"]
    assert out["no_memo"]["memo_hits"] < out["cold"]["memo_hits"]


def test_vary_makes_valid_identifiers_unique_per_row(customers: list[Any]) -> None:
    column = {name: i for i, name in enumerate(CSV_FIELDS)}
    seen: set[str] = set()
    for rid in (7, 8, 2007):
        for customer in customers:
            row = bench.vary(bench._csv_row(customer.to_dict(), customer), customer, rid)
            assert row[0] == rid
            assert luhn.is_valid(row[column["bank_card"]])
            if customer.locale == "zh_CN":
                assert ric.is_valid(row[column["id_number"]])
            key = row[column["bank_card"]] + row[column["email"]]
            assert key not in seen
            seen.add(key)


@pytest.mark.parametrize("distinct", [False, True])
def test_csv_stream_is_chunked_and_ids_are_fresh(distinct: bool) -> None:
    chunks = list(bench.csv_stream(0.05, None, distinct))
    assert all(len(chunk) <= bench.CHUNK for chunk in chunks)
    body = b"".join(chunks)
    assert len(body) >= 50_000
    rows = list(csv.reader(io.StringIO(body.decode(), newline="")))
    ids = [row[0] for row in rows[1:]]
    assert rows[0] == list(CSV_FIELDS)
    assert ids == [str(i) for i in range(1, len(ids) + 1)]


def test_measure_stream_masks_a_small_csv() -> None:
    out = bench.measure_stream(0.2, None, distinct=True)
    assert out["mb_in"] >= 0.2
    assert 0 < out["mb_out"]
    assert out["mb_s"] == pytest.approx(out["mb_in"] / out["seconds"])
    assert out["rss_peak_mb"] >= out["rss_engine_mb"]


def test_report_renders_ratios() -> None:
    fmt_ours = {"bytes": 2000, "cold": {"mb_s": 2.0}, "no_memo": {"mb_s": 1.0},
                "warm": {"mb_s": 8.0}}
    leak = {"values": 4, "leaked": 1, "by_entity": {"PERSON": {"values": 2, "leaked": 1}}}
    stream = {"mb_in": 8.0, "mb_out": 7.0, "seconds": 4.0, "mb_s": 2.0, "cpu_mb_s": 2.5,
              "rss_start_mb": 100, "rss_engine_mb": 150, "rss_peak_mb": 170,
              "rss_growth_mb": 20, "ru_maxrss_mb": 180, "deny_list": 5,
              "checkpoints": [[4.0, 160.0, 2.0], [8.0, 170.0, 4.0]]}
    results = {
        "customers": 500, "naive_customers": 2, "total_seconds": 1.0,
        "ours": dict.fromkeys(bench.FORMATS, fmt_ours),
        "naive": {"model": naive.MODEL, "build_seconds": 1.0, "network_attempts": [],
                  **{f: {"mb_s": 0.02} for f in bench.FORMATS}},
        "leaks": {f: {"ours": {**leak, "leaked": 0}, "naive": leak} for f in bench.FORMATS},
        "leaks_ours_all_json": {**leak, "leaked": 0},
        "csv_stream": stream, "csv_stream_distinct": None,
    }
    text = bench.report(results)
    assert "json        2    2.00     1.00    8.00   0.020         100         400" in text
    assert "0 / 1 of 4 (naive: PERSON 1/2)" in text
    assert "ours: PERSON 1/2; naive: PERSON 1/2" not in text
    assert "+250.0 MB per 100 MB" in text
    assert "csv stream (distinct ids): skipped" in text


def test_no_network_refuses_and_records() -> None:
    attempts: list[str] = []
    with naive.no_network(attempts):
        with pytest.raises(OSError):
            socket.getaddrinfo("publicsuffix.org", 443)
        with pytest.raises(OSError):
            socket.create_connection(("192.0.2.1", 80), timeout=1)
        with socket.socket() as sock, pytest.raises(OSError):
            sock.connect(("192.0.2.1", 80))
    assert len(attempts) == 3
    assert socket.getaddrinfo("127.0.0.1", 80)


def test_offline_tldextract_uses_the_snapshot(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(tld, "TLD_EXTRACTOR", tld.TLD_EXTRACTOR)
    monkeypatch.setenv("TLDEXTRACT_PUBLIC_SUFFIX_LIST_URLS", "x")
    naive.offline_tldextract()
    assert tld.TLD_EXTRACTOR.suffix_list_urls == ()
    attempts: list[str] = []
    with naive.no_network(attempts):
        assert tld.extract("li.lei@mail.163.com").suffix == "com"
    assert attempts == []
