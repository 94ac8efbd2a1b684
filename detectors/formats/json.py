"""JSON: any nesting; each object's scalar members form one record.

Strings are masked in place. Numbers are scanned as their decimal text; a number that
turns out to be PII (a phone stored as an integer) becomes a masked *string*, since a
masked value is no longer a number. Booleans and nulls are left alone. Object keys are
not rewritten. Output is compact UTF-8 JSON with the same structure and key order.
"""

from __future__ import annotations

import json
import re
from typing import Any

import orjson

from detectors.formats.errors import FormatError
from detectors.masker import Cell, DocumentMasker

__all__ = ["dump_json", "load_json", "mask_json", "mask_json_value"]

_Slot = tuple[Any, Any, Any]


def _pointer(parent: str, key: str | int) -> str:
    if isinstance(key, int) or ("~" not in key and "/" not in key):
        return f"{parent}/{key}"
    return parent + "/" + key.replace("~", "~0").replace("/", "~1")


_BIG_INT = re.compile(rb"[0-9]{19,}")


def _has_big_int(data: bytes | str) -> bool:
    raw = data.encode() if isinstance(data, str) else data
    return _BIG_INT.search(raw) is not None


def load_json(data: bytes | str) -> Any:
    """Parse JSON. orjson turns integers beyond 64 bits into floats (losing digits an
    account number needs), so a body with a 19+ digit run is parsed by the stdlib."""
    if not _has_big_int(data):
        try:
            return orjson.loads(data)
        except orjson.JSONDecodeError:
            pass
    try:
        return json.loads(data)
    except (ValueError, RecursionError) as exc:
        problem = "invalid UTF-8" if isinstance(exc, UnicodeDecodeError) else "malformed JSON"
        raise FormatError("json", problem) from None


def _collect(node: Any, pointer: str, key: str | None,
             records: list[list[Cell]], slots: list[list[_Slot]]) -> None:
    stack: list[tuple[Any, str, str | None]] = [(node, pointer, key)]
    while stack:
        current, path, parent_key = stack.pop()
        if isinstance(current, dict):
            items: Any = current.items()
        elif isinstance(current, list):
            items = enumerate(current)
        else:
            continue
        cells: list[Cell] = []
        places: list[_Slot] = []
        for k, value in items:
            child = _pointer(path, k)
            name = k if isinstance(k, str) else parent_key
            if isinstance(value, str):
                cells.append(Cell(name, value, child))
                places.append((current, k, value))
            elif isinstance(value, int | float) and not isinstance(value, bool):
                cells.append(Cell(name, repr(value) if isinstance(value, float) else str(value),
                                  child))
                places.append((current, k, value))
            elif isinstance(value, dict | list):
                stack.append((value, child, name))
        if cells:
            records.append(cells)
            slots.append(places)


def mask_json_value(doc: Any, masker: DocumentMasker) -> Any:
    """Mask a parsed JSON value in place and return it."""
    if isinstance(doc, str):
        return masker.mask_text(doc, "")
    records: list[list[Cell]] = []
    slots: list[list[_Slot]] = []
    _collect(doc, "", None, records, slots)
    masked = masker.mask_batch(records)
    for record, places, values in zip(records, slots, masked, strict=True):
        for cell, (container, key, original), value in zip(record, places, values, strict=True):
            if value != cell.value:
                container[key] = value
            elif not isinstance(original, str):
                container[key] = original
    return doc


def dump_json(doc: Any) -> bytes:
    try:
        return orjson.dumps(doc)
    except TypeError:
        return json.dumps(doc, ensure_ascii=False, separators=(",", ":")).encode()


def mask_json(data: bytes, masker: DocumentMasker) -> bytes:
    return dump_json(mask_json_value(load_json(data), masker))
