"""NDJSON / JSON Lines: one JSON document per line, streamed in bounded memory.

Up to ``batch_lines`` lines are masked together in one masker call (one record per JSON
object, as in :mod:`detectors.formats.json`); finding locations are ``/<line>/<pointer>``.
Blank lines and lines the masker leaves unchanged are copied byte for byte; a changed
line is written as compact JSON and keeps its line ending. A line that is not JSON, or
one longer than 16 MiB, raises :class:`FormatError` naming the line number.
"""

from __future__ import annotations

import codecs
import json
from typing import Any

import orjson

from detectors.formats.errors import FormatError
from detectors.formats.json import load_json, mask_json_value
from detectors.masker import DocumentMasker

__all__ = ["NdjsonStreamMasker", "mask_ndjson"]

_MAX_LINE = 16 << 20
_BATCH_BYTES = 1 << 20


def _dump(doc: Any) -> bytes:
    try:
        return orjson.dumps(doc)
    except orjson.JSONEncodeError:
        return json.dumps(doc, ensure_ascii=False, separators=(",", ":")).encode()


class NdjsonStreamMasker:
    """Feed the body in chunks; each call returns the masked bytes that are ready.

    As for CSV, a stream's records skip the record memo unless ``remember_records``."""

    def __init__(self, masker: DocumentMasker, batch_lines: int = 500,
                 remember_records: bool = False) -> None:
        self._masker = masker
        masker.remember_records = remember_records
        self._batch_lines = max(1, batch_lines)
        self._pending = bytearray()
        self._batch: list[tuple[int, bytes]] = []
        self._batch_bytes = 0
        self._lines = 0

    def feed(self, chunk: bytes) -> bytes:
        self._pending += chunk
        cut = self._pending.rfind(b"\n")
        out = b""
        if cut >= 0:
            complete = bytes(self._pending[: cut + 1])
            del self._pending[: cut + 1]
            out = self._take(complete.split(b"\n")[:-1], newline=True)
        if len(self._pending) > _MAX_LINE:
            raise FormatError("ndjson", f"line {self._lines + 1} is longer than 16 MiB")
        return out

    def finish(self) -> bytes:
        tail = bytes(self._pending)
        self._pending = bytearray()
        out = self._take([tail], newline=False) if tail else b""
        return out + self._flush()

    def _take(self, lines: list[bytes], newline: bool) -> bytes:
        pieces: list[bytes] = []
        ending = b"\n" if newline else b""
        for line in lines:
            self._lines += 1
            if len(line) > _MAX_LINE:
                raise FormatError("ndjson", f"line {self._lines} is longer than 16 MiB")
            self._batch.append((self._lines, line + ending))
            self._batch_bytes += len(line)
            if len(self._batch) >= self._batch_lines or self._batch_bytes >= _BATCH_BYTES:
                pieces.append(self._flush())
        return b"".join(pieces)

    def _flush(self) -> bytes:
        docs: dict[str, Any] = {}
        for number, raw in self._batch:
            if raw.strip():
                docs[str(number)] = _load_line(number, raw)
        before = {key: _dump(doc) for key, doc in docs.items()}
        mask_json_value(docs, self._masker)
        pieces = []
        for number, raw in self._batch:
            key = str(number)
            after = _dump(docs[key]) if key in docs else None
            if after is None or after == before[key]:
                pieces.append(raw)
            else:
                body = raw.rstrip(b"\r\n")
                bom = codecs.BOM_UTF8 if raw.startswith(codecs.BOM_UTF8) else b""
                pieces.append(bom + after + raw[len(body):])
        self._batch = []
        self._batch_bytes = 0
        return b"".join(pieces)


def _load_line(number: int, raw: bytes) -> Any:
    try:
        return load_json(raw)
    except FormatError as exc:
        raise FormatError("ndjson", f"line {number}: {exc.problem}") from None


def mask_ndjson(data: bytes, masker: DocumentMasker) -> bytes:
    stream = NdjsonStreamMasker(masker, remember_records=True)
    return stream.feed(data) + stream.finish()
