"""JSON: structure and types kept, big integers exact, findings named by JSON pointer."""

from __future__ import annotations

import orjson
import pytest

from detectors.finding import ScanReport
from detectors.formats.errors import FormatError
from detectors.formats.json import load_json, mask_json


@pytest.mark.parametrize(("body", "expected"), [
    (b'{"account": 12345678901234567890123}', {"account": 12345678901234567890123}),
    (b"[ -99999999999999999999]", [-99999999999999999999]),
    (b"12345678901234567890", 12345678901234567890),
    (b'{"a": [1,\n 98765432109876543210]}', {"a": [1, 98765432109876543210]}),
])
def test_integers_beyond_64_bits_keep_every_digit(body, expected):
    assert load_json(body) == expected
    if body != b"12345678901234567890":  # still fits orjson's unsigned 64 bits
        assert orjson.loads(body) != expected  # what the fast parser alone returns


def test_long_digit_strings_and_floats_are_not_mistaken_for_big_integers():
    body = b'{"card": "6222020439770878338", "x": "a:12345678901234567890", "f": 1.5}'
    assert load_json(body) == orjson.loads(body)


def test_malformed_json_is_a_format_error():
    with pytest.raises(FormatError):
        load_json(b'{"a": ')


def test_masking_keeps_structure_and_names_findings_by_pointer(engine):
    body = orjson.dumps({"customers": [
        {"id": 7, "name": "张伟", "phone": "13812345678", "vip": True, "a/b~c": "13912345678"},
        {"id": 8, "phone": 13712345678, "note": None},
    ]})
    report = ScanReport()
    out = orjson.loads(mask_json(body, engine.masker((), report)))
    first, second = out["customers"]
    assert first["id"] == 7 and first["vip"] is True and second["note"] is None
    assert first["name"] == "张*" and first["phone"] == "138****5678"
    assert second["phone"] == "137****5678"  # an integer that is PII becomes a string
    assert first["a/b~c"] == "139****5678"
    locations = {f.location for f in report.findings}
    assert {"/customers/0/name", "/customers/0/phone", "/customers/0/a~1b~0c",
            "/customers/1/phone"} <= locations
