"""CSV: each row is one record keyed by the header row; streamed in bounded memory.

Charset: a declared one (``Content-Type``) wins, else a byte-order mark, else UTF-8 if
the first few KB decode strictly, else GB18030. The BOM is kept and the output uses the
input's charset. The delimiter (``,`` ``;`` tab ``|``) is sniffed from the first few KB.
Rows the masker leaves unchanged are copied byte for byte; a changed row is rewritten
with the ``csv`` module (minimal quoting) and keeps its own line ending. The header row
is keys, and is also scanned in case the file has no header. Only the current batch of
rows and one incomplete record are held; a NUL byte, undecodable bytes, an unterminated
quoted field or a record over 4 MiB raise :class:`FormatError`.
"""

from __future__ import annotations

import codecs
import csv
import io
from dataclasses import dataclass
from itertools import repeat
from typing import Any

from detectors.formats.errors import FormatError
from detectors.masker import Cell, DocumentMasker

__all__ = ["CsvStreamMasker", "mask_csv"]

_SNIFF_BYTES = 8192
_SLICE_BYTES = 1 << 20
_MAX_PENDING = 4 << 20
_BATCH_CHARS = 1 << 20
_cell = tuple.__new__  # Cell(...) without the named tuple's Python-level __new__
_DELIMITERS = (",", ";", "\t", "|")
_BOMS = (
    (codecs.BOM_UTF8, "utf-8", frozenset({"utf-8", "utf-8-sig"})),
    (codecs.BOM_UTF16_LE, "utf-16-le", frozenset({"utf-16", "utf-16-le"})),
    (codecs.BOM_UTF16_BE, "utf-16-be", frozenset({"utf-16", "utf-16-be"})),
)


@dataclass(slots=True)
class _Row:
    number: int
    fields: list[str]
    raw: str


def _codec_name(charset: str) -> str:
    try:
        return codecs.lookup(charset.strip().strip('"')).name
    except LookupError:
        raise FormatError("csv", "unknown charset") from None


def _choose_charset(head: bytes, declared: str | None, final: bool) -> tuple[bytes, str]:
    """Return the BOM to keep and the codec to decode the rest with."""
    name = _codec_name(declared) if declared else None
    for bom, codec, family in _BOMS:
        if head.startswith(bom) and (name is None or name in family):
            return bom, codec
    if name is not None:
        return b"", "utf-8" if name == "utf-8-sig" else name
    return b"", "utf-8" if _valid_utf8(head, final) else "gb18030"


def _valid_utf8(data: bytes, final: bool) -> bool:
    decoder = codecs.getincrementaldecoder("utf-8")()
    view = memoryview(data)
    try:
        for start in range(0, len(data), _SLICE_BYTES):
            decoder.decode(view[start : start + _SLICE_BYTES])
        decoder.decode(b"", final)
    except UnicodeDecodeError:
        return False
    return True


def _count_outside_quotes(line: str, delimiter: str) -> int:
    return sum(part.count(delimiter) for part in line.split('"')[::2])


def _sniff(text: str) -> str:
    lines = text.splitlines()
    if len(lines) > 1 and not text.endswith(("\n", "\r")):
        lines.pop()
    lines = [line for line in lines if line.strip()][:6]
    best, best_score = ",", (False, 0)
    for delimiter in _DELIMITERS:
        counts = [_count_outside_quotes(line, delimiter) for line in lines]
        if not counts or counts[0] == 0:
            continue
        score = (all(c == counts[0] for c in counts), counts[0])
        if score > best_score:
            best, best_score = delimiter, score
    return best


def _line_ending(raw: str) -> str:
    if raw.endswith("\r\n"):
        return "\r\n"
    return raw[-1] if raw.endswith(("\n", "\r")) else ""


class CsvStreamMasker:
    """Feed the body in chunks; each call returns the masked bytes that are ready.

    A stream's rows are mostly unique, so by default they are not kept in the record
    memo (``remember_records``); a whole document (:func:`mask_csv`) is."""

    def __init__(self, masker: DocumentMasker, charset: str | None,
                 batch_rows: int = 500, remember_records: bool = False) -> None:
        self._masker = masker
        masker.remember_records = remember_records
        self._declared = charset
        self._batch_rows = max(1, batch_rows)
        self._head = bytearray()
        self._codec = ""
        self._decoder: codecs.IncrementalDecoder | None = None
        self._delimiter: str | None = None
        self._separator = "\n"
        self._pending = ""
        self._keys: list[str | None] = []
        self._names: list[str] = []
        self._batch: list[_Row] = []
        self._batch_chars = 0
        self._rows = 0
        self._out = io.StringIO()
        self._writer: Any = None

    @property
    def charset(self) -> str:
        """The codec in use (empty until enough of the body has been seen)."""
        return self._codec

    def feed(self, chunk: bytes) -> bytes:
        if self._decoder is None:
            self._head += chunk
            if len(self._head) < _SNIFF_BYTES:
                return b""
            return self._start(final=False)
        return self._push(chunk, final=False)

    def finish(self) -> bytes:
        prefix = self._start(final=True) if self._decoder is None else b""
        return prefix + self._push(b"", final=True)

    def _start(self, final: bool) -> bytes:
        bom, self._codec = _choose_charset(bytes(self._head), self._declared, final)
        self._decoder = codecs.getincrementaldecoder(self._codec)("strict")
        head = bytes(self._head[len(bom):])
        self._head = bytearray()
        return bom + self._push(head, final=False)

    def _push(self, chunk: bytes, final: bool) -> bytes:
        assert self._decoder is not None
        try:
            text = self._decoder.decode(chunk, final)
        except UnicodeDecodeError:
            raise FormatError("csv", f"bytes not valid in charset {self._codec}") from None
        if "\x00" in text:
            raise FormatError("csv", "NUL byte in body")
        if self._delimiter is None:
            self._configure(text)
        out = self._consume(text, final)
        if final and self._batch:
            out += self._flush()
        try:
            return out.encode(self._codec)
        except UnicodeEncodeError:
            raise FormatError("csv", f"masked text not encodable in {self._codec}") from None

    def _configure(self, text: str) -> None:
        self._delimiter = _sniff(text)
        if "\n" not in text and "\r" in text:
            self._separator = "\r"

    def _consume(self, text: str, final: bool) -> str:
        pending, out = self._pending + text, ""
        if final or self._separator in text:
            pending, out = self._records(pending, final)
        self._pending = pending
        if len(pending) > _MAX_PENDING:
            raise FormatError("csv", f"record after row {self._rows} is longer than 4 MiB")
        return out

    def _records(self, pending: str, final: bool) -> tuple[str, str]:
        """Mask the complete records in ``pending``; return what is left and the output."""
        parts = pending.split(self._separator)
        tail = parts.pop()
        lines = [part + self._separator for part in parts]
        if final and tail:
            lines.append(tail)
            tail = ""
        used, pieces = self._parse(lines, final)
        return "".join(lines[used:]) + tail, "".join(pieces)

    def _parse(self, lines: list[str], final: bool) -> tuple[int, list[str]]:
        reader = csv.reader(lines, delimiter=self._delimiter or ",", strict=True)
        pieces: list[str] = []
        used = 0
        try:
            for fields in reader:
                end = reader.line_num
                raw = "".join(lines[used:end])
                used = end
                self._rows += 1
                if self._rows == 1:
                    self._keys = [name or None for name in fields]
                    self._names = [name or str(i + 1) for i, name in enumerate(fields)]
                self._batch.append(_Row(self._rows, fields, raw))
                self._batch_chars += len(raw)
                if len(self._batch) >= self._batch_rows or self._batch_chars >= _BATCH_CHARS:
                    pieces.append(self._flush())
        except csv.Error:
            if final or reader.line_num < len(lines):
                raise FormatError("csv", f"malformed record at row {self._rows + 1}") from None
        return used, pieces

    def _flush(self) -> str:
        records = [self._cells(row) for row in self._batch]
        masked = self._masker.mask_batch(records, self._locate)
        if self._batch and self._batch[0].number == 1:
            self._masker.report.records -= 1  # the header row is scanned, but is no record
        pieces = [row.raw if new == row.fields else self._write(new, row.raw)
                  for row, new in zip(self._batch, masked, strict=True)]
        self._batch = []
        self._batch_chars = 0
        return "".join(pieces)

    def _cells(self, row: _Row) -> list[Cell]:
        """Cells keyed by the header (none for the header row itself or extra fields).

        Locations are left empty: :meth:`_locate` names a finding's row and column."""
        keys: list[str | None] = self._keys
        if row.number == 1 or len(row.fields) > len(keys):
            keys = keys if row.number > 1 else []
            keys = keys + [None] * (len(row.fields) - len(keys))
        return list(map(_cell, repeat(Cell), zip(keys, row.fields, repeat(""))))

    def _locate(self, record: int, column: int) -> str:
        row = self._batch[record]
        name = self._names[column] if row.number > 1 and column < len(self._names) else ""
        return f"row {row.number}, column {name or str(column + 1)}"

    def _write(self, fields: list[str], raw: str) -> str:
        if self._writer is None:
            self._writer = csv.writer(self._out, delimiter=self._delimiter or ",",
                                      lineterminator="\r\n")
        self._out.seek(0)
        self._out.truncate()
        self._writer.writerow(fields)
        return self._out.getvalue()[:-2] + _line_ending(raw)


def mask_csv(data: bytes, masker: DocumentMasker, charset: str | None = None) -> bytes:
    """Mask a whole CSV body; an undeclared charset is guessed from the whole body."""
    if charset is None:
        charset = _choose_charset(data, None, final=True)[1]
    stream = CsvStreamMasker(masker, charset, remember_records=True)
    view = memoryview(data)
    pieces = [stream.feed(bytes(view[i : i + _SLICE_BYTES]))
              for i in range(0, len(data), _SLICE_BYTES)]
    pieces.append(stream.finish())
    return b"".join(pieces)
