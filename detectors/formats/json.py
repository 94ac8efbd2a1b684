"""JSON: any nesting; each object's scalar members form one record.

Strings are masked in place. Numbers are scanned as their decimal text; a number that
turns out to be PII (a phone stored as an integer) becomes a masked *string*, since a
masked value is no longer a number. Booleans and nulls are left alone. Object keys are
not rewritten. Output is compact UTF-8 JSON with the same structure and key order.
"""

from __future__ import annotations

import json
from typing import Any

import orjson

from detectors.formats.errors import FormatError
from detectors.masker import Cell, DocumentMasker

__all__ = ["dump_json", "load_json", "mask_json", "mask_json_value"]

_Slots = tuple[Any, list[Any], str]  # a container, its scalar members' keys, its pointer
_cell = tuple.__new__  # Cell(...) without the named tuple's Python-level __new__


def _pointer(parent: str, key: str | int) -> str:
    if isinstance(key, int) or ("~" not in key and "/" not in key):
        return f"{parent}/{key}"
    return parent + "/" + key.replace("~", "~0").replace("/", "~1")


_ZEROS = b"0" * 19
_DIGITS_TO_ZERO = bytes.maketrans(b"123456789", b"000000000")
_BEFORE_NUMBER = frozenset(b"[:,-")
_SPACE = frozenset(b" \t\r\n")


def _has_big_int(data: bytes | str) -> bool:
    """A 19+ digit run that may be a JSON number: after ``[`` ``:`` ``,`` ``-`` (and
    whitespace) or at the start. One inside a string (a bank card) does not count.
    Digits are mapped to ``0`` first, so runs are found by ``bytes.find``."""
    raw = (data.encode() if isinstance(data, str) else data).translate(_DIGITS_TO_ZERO)
    pos = 0
    while (at := raw.find(_ZEROS, pos)) >= 0:
        before = at - 1
        while before >= 0 and raw[before] in _SPACE:
            before -= 1
        if before < 0 or raw[before] in _BEFORE_NUMBER:
            return True
        pos = at + len(_ZEROS)
        while pos < len(raw) and raw[pos] == 48:
            pos += 1
    return False


def load_json(data: bytes | str) -> Any:
    """Parse JSON. orjson turns integers beyond 64 bits into floats (losing digits an
    account number needs), so a body that may hold a 19+ digit number is parsed by the
    stdlib."""
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


def _collect(node: Any, records: list[list[Cell]], slots: list[_Slots]) -> None:
    """One record per container with scalar members; cells have no location string
    (``_Slots`` keep what :func:`mask_json_value` needs to name one as a pointer)."""
    stack: list[tuple[Any, str, str | None]] = [(node, "", None)]
    while stack:
        current, path, parent_key = stack.pop()
        kind = type(current)
        if kind is dict or isinstance(current, dict):
            items: Any = current.items()
        elif kind is list or isinstance(current, list):
            items = enumerate(current)
        else:
            continue
        cells: list[Cell] = []
        places: list[Any] = []
        for k, value in items:
            name = k if type(k) is str else parent_key
            kind = type(value)
            if kind is str:
                cells.append(_cell(Cell, (name, value, "")))
                places.append(k)
            elif kind is int or kind is float:
                cells.append(_cell(Cell, (name, str(value) if kind is int else repr(value), "")))
                places.append(k)
            elif kind is dict or kind is list:
                stack.append((value, _pointer(path, k), name))
            elif not isinstance(value, bool | type(None)):
                _collect_other(value, (k, name, _pointer(path, k)), stack, (cells, places))
        if cells:
            records.append(cells)
            slots.append((current, places, path))


def _collect_other(value: Any, where: tuple[Any, str | None, str],
                   stack: list[tuple[Any, str, str | None]],
                   into: tuple[list[Cell], list[Any]]) -> None:
    """Subclasses of the JSON types (from a caller's own decoder)."""
    k, name, child = where
    if isinstance(value, str):
        into[0].append(Cell(name, str(value), ""))
        into[1].append(k)
    elif isinstance(value, int | float):
        into[0].append(Cell(name, repr(value) if isinstance(value, float) else str(value),
                            ""))
        into[1].append(k)
    elif isinstance(value, dict | list):
        stack.append((value, child, name))


def mask_json_value(doc: Any, masker: DocumentMasker) -> Any:
    """Mask a parsed JSON value in place and return it."""
    if isinstance(doc, str):
        return masker.mask_text(doc, "")
    records: list[list[Cell]] = []
    slots: list[_Slots] = []
    _collect(doc, records, slots)

    def locate(record: int, cell: int) -> str:
        _, keys, path = slots[record]
        return _pointer(path, keys[cell])

    masked = masker.mask_batch(records, locate)
    for record, (container, keys, _), values in zip(records, slots, masked, strict=True):
        for cell, key, value in zip(record, keys, values, strict=True):
            if value is not cell.value and value != cell.value:
                container[key] = value
    return doc


def dump_json(doc: Any) -> bytes:
    try:
        return orjson.dumps(doc)
    except TypeError:
        return json.dumps(doc, ensure_ascii=False, separators=(",", ":")).encode()


def mask_json(data: bytes, masker: DocumentMasker) -> bytes:
    return dump_json(mask_json_value(load_json(data), masker))
