"""detectors.formats.detect: content types, filenames and sniffing, including non-matches."""

from __future__ import annotations

import pytest

from detectors.formats.detect import charset_of, detect_format

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


@pytest.mark.parametrize(
    ("content_type", "disposition", "expected"),
    [
        ("application/json", None, "json"),
        ("application/json; charset=utf-8", None, "json"),
        ("Application/JSON", None, "json"),
        ("application/problem+json", None, "json"),
        ("application/vnd.api+json", None, "json"),
        ("text/json", None, "json"),
        ("application/x-ndjson", None, "ndjson"),
        ("application/jsonl", None, "ndjson"),
        ("application/x-jsonlines", None, "ndjson"),
        ("text/csv", None, "csv"),
        ("text/csv; charset=gbk", 'attachment; filename="a.csv"', "csv"),
        ("text/tab-separated-values", None, "csv"),
        ("application/vnd.ms-excel", 'attachment; filename="export.csv"', "csv"),
        ("application/vnd.ms-excel", "attachment; filename=report.CSV", "csv"),
        ("application/vnd.ms-excel", 'attachment; filename="legacy.xls"', None),
        ("application/vnd.ms-excel", None, None),
        (XLSX, None, "xlsx"),
        (XLSX, 'attachment; filename="a.xlsx"', "xlsx"),
        ("application/octet-stream", 'attachment; filename="客户.xlsx"', "xlsx"),
        ("application/octet-stream", "attachment; filename*=UTF-8''%E5%AE%A2%E6%88%B7.xlsx",
         "xlsx"),
        ("application/octet-stream", "attachment; filename=\"a.bin\"; "
         "filename*=UTF-8''a.csv", "csv"),
        (None, 'attachment; filename="x.xlsx"', "xlsx"),
        ("application/octet-stream", 'attachment; filename="photo.jpg"', None),
        ("application/octet-stream", None, None),
        ("text/plain", 'attachment; filename="customers.csv"', "csv"),
        ("text/html; charset=utf-8", None, "html"),
        ("application/xhtml+xml", None, "html"),
        ("text/plain", None, "text"),
        ("text/markdown", None, "text"),
        ("text/javascript", None, "text"),
        ("application/xml", None, "text"),
        ("text/xml", None, "text"),
        ("application/atom+xml", None, "text"),
        ("application/x-www-form-urlencoded", None, "form"),
        ("image/png", None, None),
        ("image/svg+xml", None, "text"),
        ("application/pdf", None, None),
        ("application/zip", None, None),
        ("font/woff2", None, None),
        ("multipart/form-data; boundary=x", None, None),
    ],
)
def test_detect_by_headers(content_type, disposition, expected):
    assert detect_format(content_type, disposition) == expected


@pytest.mark.parametrize(
    ("head", "expected"),
    [
        (b'  {"a": 1}', "json"),
        (b"\xef\xbb\xbf[1, 2]", "json"),
        (b"<!DOCTYPE html><html>", "html"),
        (b"\n<html lang=zh>", "html"),
        (b"PK\x03\x04\x14\x00", None),
        (b"\x89PNG\r\n", None),
        (b"", None),
    ],
)
def test_sniff_only_without_a_content_type(head, expected):
    assert detect_format(None, None, head) == expected
    assert detect_format("application/octet-stream", None, head) is None


@pytest.mark.parametrize(
    ("content_type", "expected"),
    [
        ("text/csv; charset=GBK", "gbk"),
        ('text/html; charset="utf-8"', "utf-8"),
        ("text/plain;charset=gb18030;format=flowed", "gb18030"),
        ("text/csv", None),
        (None, None),
        ("", None),
    ],
)
def test_charset_of(content_type, expected):
    assert charset_of(content_type) == expected
