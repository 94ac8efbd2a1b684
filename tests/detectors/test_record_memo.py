"""The record memo: a repeated record is reused only when that cannot change anything."""

from __future__ import annotations

from detectors.finding import ScanReport
from detectors.masker import Cell, DocumentMasker
from detectors.record_memo import record_key

from .conftest import build_engine


def record(index: int, **fields: str) -> list[Cell]:
    return [Cell(k, v, f"/{index}/{k}") for k, v in fields.items()]


CUSTOMER = {"name": "张伟", "phone": "13812345678", "order_no": "2020041251566517",
            "notes": "客户来电，备用号码5551234"}
OTHER = {"name": "王小明", "phone": "5551234", "grade": "A"}


def summary(report: ScanReport) -> tuple[object, ...]:
    return (dict(report.counts), report.records, report.values_scanned, report.bytes_scanned,
            [(f.entity, f.location, f.start, f.end, f.preview, f.fingerprint)
             for f in report.findings])


def test_a_repeated_record_is_reused_with_the_same_output_and_report():
    engine = build_engine()
    first = engine.masker(())
    out1 = first.mask_batch([record(0, **CUSTOMER)])
    hits = engine.records.hits
    second = engine.masker(())
    out2 = second.mask_batch([record(0, **CUSTOMER)])
    assert engine.records.hits == hits + 1
    assert out1 == out2
    assert summary(first.report) == summary(second.report)


def test_findings_of_a_reused_record_carry_its_new_location():
    engine = build_engine()
    engine.masker(()).mask_batch([record(0, **CUSTOMER)])
    again = engine.masker(())
    again.mask_batch([record(7, **CUSTOMER)])
    assert {f.location for f in again.report.findings} >= {"/7/name", "/7/phone"}
    assert not any(f.location.startswith("/0/") for f in again.report.findings)


def test_another_record_s_deny_list_value_is_not_missed_on_reuse():
    engine = build_engine()
    alone = engine.masker(()).mask_batch([record(0, **CUSTOMER)])[0]
    assert "5551234" in alone[3]  # only the deny-list knows this number
    batch = [record(0, **CUSTOMER), record(1, **OTHER)]
    reused = engine.masker(()).mask_batch(batch)
    fresh = build_engine().masker(()).mask_batch(batch)
    assert reused == fresh
    assert "5551234" not in reused[0][3]


def test_roles_and_field_rights_are_part_of_the_key():
    engine = build_engine()
    masked = engine.masker(()).mask_batch([record(0, **CUSTOMER)])[0]
    kept = engine.masker((), unmask=frozenset({"CN_MOBILE"})).mask_batch(
        [record(0, **CUSTOMER)])[0]
    assert masked[1] == "138****5678" and kept[1] == "13812345678"
    assert record_key(((), frozenset()), record(0, **CUSTOMER)) != record_key(
        (("admin",), frozenset()), record(0, **CUSTOMER))
    assert record_key((), record(0, **CUSTOMER)) == record_key((), record(5, **CUSTOMER))


def test_a_watermarked_masker_does_not_use_the_memo():
    engine = build_engine()
    engine.masker(()).mask_batch([record(0, **CUSTOMER)])
    hits = engine.records.hits

    def mark(text: str, regions: object) -> str:
        return text + "~"

    out = DocumentMasker(engine, (), ScanReport(), mark=mark).mask_batch(
        [record(0, **CUSTOMER)])[0]
    assert engine.records.hits == hits
    assert out[0].endswith("~") and out[1].endswith("~")
