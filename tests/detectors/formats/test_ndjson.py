"""detectors.formats.ndjson: round trips on demo data, streaming, blank lines, errors."""

from __future__ import annotations

import random

import orjson
import pytest

from detectors.formats.errors import FormatError
from detectors.formats.ndjson import NdjsonStreamMasker, mask_ndjson
from gateway.demo.data import generate_customers, non_pii_values, pii_values

CUSTOMERS = generate_customers("proj2", 80, 7)


def demo_ndjson(customers) -> bytes:
    lines = [orjson.dumps(customer.to_dict()) for customer in customers]
    lines.insert(3, b"")
    lines.insert(7, b"   ")
    lines[10] += b"\r"
    return b"\n".join(lines) + b"\n"


def streamed(engine, data: bytes, seed: int, high: int) -> bytes:
    rng = random.Random(seed)
    stream = NdjsonStreamMasker(engine.masker(roles=()), batch_lines=9)
    out, cursor = [], 0
    while cursor < len(data):
        size = rng.randint(1, high)
        out.append(stream.feed(data[cursor : cursor + size]))
        cursor += size
    out.append(stream.finish())
    return b"".join(out)


def test_demo_round_trip(engine):
    data = demo_ndjson(CUSTOMERS)
    out = mask_ndjson(data, engine.masker(roles=()))
    text = out.decode("utf-8")
    assert not [v for c in CUSTOMERS for vs in pii_values(c).values() for v in vs if v in text]
    lines = out.split(b"\n")
    assert len(lines) == len(data.split(b"\n"))
    assert lines[3] == b"" and lines[7] == b"   " and lines[10].endswith(b"\r")
    docs = [orjson.loads(line) for line in lines if line.strip()]
    assert len(docs) == len(CUSTOMERS)
    for customer, doc in zip(CUSTOMERS, docs, strict=True):
        assert list(doc) == list(customer.to_dict())
        assert doc["amount"] == customer.amount
        written = orjson.dumps(doc).decode()
        amount = f"{customer.amount:.2f}"
        assert all(v in written for v in non_pii_values(customer) if v != amount)


def test_unchanged_lines_are_copied_byte_for_byte(engine):
    data = b'{"grade":  "A", "amount": 1.50}\n\n[1, 2]\r\n"plain"'
    assert mask_ndjson(data, engine.masker(roles=())) == data


def test_scalar_and_array_lines_are_masked(engine):
    data = b'"13812345678"\n["13912345678", 3]\n{"phone": 13712345678}\n'
    out = mask_ndjson(data, engine.masker(roles=()))
    for phone in (b"13812345678", b"13912345678", b"13712345678"):
        assert phone not in out
    assert [type(orjson.loads(line)) for line in out.splitlines()] == [str, list, dict]


def test_record_hints_reach_notes_on_the_same_line(engine):
    data = '{"姓名": "王小明", "备注": "王小明来电"}\n'.encode()
    assert "王小明" not in mask_ndjson(data, engine.masker(roles=())).decode()


@pytest.mark.parametrize(("seed", "high"), [(1, 1), (2, 5), (3, 64), (4, 4096)])
def test_streaming_equals_one_shot(engine, seed, high):
    data = demo_ndjson(CUSTOMERS[:15] if high == 1 else CUSTOMERS)
    one_shot = NdjsonStreamMasker(engine.masker(roles=()), batch_lines=9)
    expected = one_shot.feed(data) + one_shot.finish()
    assert streamed(engine, data, seed, high) == expected


def test_last_line_without_newline(engine):
    out = mask_ndjson(b'{"phone": "13812345678"}\n{"phone": "13912345678"}',
                      engine.masker(roles=()))
    assert not out.endswith(b"\n")
    assert b"13912345678" not in out


@pytest.mark.parametrize(
    "data",
    [
        b'{"phone": "13812345678"}\n{"phone": "13912345678"}\n{"phone": 1391234\n',
        b'{"phone": "13812345678"}\n\n{"phone": "\xff13912345678"}\n',
    ],
    ids=["malformed-json", "invalid-utf8"],
)
def test_malformed_line_names_its_number(engine, data):
    with pytest.raises(FormatError, match="line 3") as caught:
        mask_ndjson(data, engine.masker(roles=()))
    assert caught.value.format == "ndjson"
    assert "1391234" not in str(caught.value)
