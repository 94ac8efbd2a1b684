"""URL-encoded forms (``application/x-www-form-urlencoded``): one record, keys as hints.

Pairs keep their order, blank values and bare keys (``flag`` without ``=``). Keys are
never rewritten; a pair the masker leaves unchanged is copied byte for byte, a changed
value is percent-encoded again in the form's charset (``*`` left readable). Bytes that
are not valid in the charset raise :class:`FormatError`.
"""

from __future__ import annotations

from urllib.parse import quote_plus, unquote_plus

from detectors.formats.errors import FormatError
from detectors.masker import Cell, DocumentMasker

__all__ = ["mask_form"]


def _decode(raw: str, charset: str) -> str:
    try:
        return unquote_plus(raw, encoding=charset, errors="strict")
    except (UnicodeDecodeError, LookupError):
        raise FormatError("form", f"a field is not valid {charset}") from None


def mask_form(data: bytes, masker: DocumentMasker, charset: str = "utf-8") -> bytes:
    try:
        body = data.decode(charset)
    except (UnicodeDecodeError, LookupError):
        raise FormatError("form", f"body is not valid {charset}") from None
    pairs = body.split("&")
    cells: list[Cell] = []
    slots: list[int] = []
    for index, pair in enumerate(pairs):
        raw_key, equals, raw_value = pair.partition("=")
        if not equals:
            continue
        key = _decode(raw_key, charset)
        cells.append(Cell(key, _decode(raw_value, charset), f"field {key}"))
        slots.append(index)
    if not cells:
        return data
    masked = masker.mask_batch([cells])[0]
    for cell, index, value in zip(cells, slots, masked, strict=True):
        if value != cell.value:
            raw_key = pairs[index].partition("=")[0]
            pairs[index] = f"{raw_key}={quote_plus(value, safe='*', encoding=charset)}"
    return "&".join(pairs).encode(charset)
