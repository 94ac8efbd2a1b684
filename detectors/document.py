"""One entry point per body: mask a whole document, or a stream, by format name."""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

from detectors.formats.errors import FormatError
from detectors.formats.json import mask_json
from detectors.formats.text import mask_text_lines
from detectors.masker import DocumentMasker

__all__ = ["STREAMABLE", "StreamMasker", "decode_text", "mask_document", "stream_masker"]

STREAMABLE = frozenset({"csv", "ndjson"})


class StreamMasker(Protocol):
    def feed(self, chunk: bytes) -> bytes: ...

    def finish(self) -> bytes: ...


def decode_text(body: bytes, charset: str | None) -> tuple[str, str]:
    """Decode with the declared charset (else UTF-8, else GB18030); keep bad bytes.

    Undecodable bytes survive as surrogates and are re-encoded unchanged, so the
    gateway never corrupts what it does not understand.
    """
    for candidate in ([charset] if charset else ["utf-8", "gb18030"]):
        try:
            return body.decode(candidate), candidate
        except (UnicodeDecodeError, LookupError):
            continue
    encoding = charset if charset and _known(charset) else "utf-8"
    return body.decode(encoding, "surrogateescape"), encoding


def _known(charset: str) -> bool:
    try:
        b"".decode(charset)
    except LookupError:
        return False
    return True


def _text(body: bytes, masker: DocumentMasker, charset: str | None) -> bytes:
    text, encoding = decode_text(body, charset)
    return mask_text_lines(text, masker).encode(encoding, "surrogateescape")


def _formats() -> dict[str, Callable[[bytes, DocumentMasker, str | None], bytes]]:
    from detectors.formats import csv, form, html, ndjson, xlsx

    def _html(body: bytes, masker: DocumentMasker, charset: str | None) -> bytes:
        text, encoding = decode_text(body, charset)
        return html.mask_html(text, masker).encode(encoding, "surrogateescape")

    return {
        "json": lambda body, masker, _cs: mask_json(body, masker),
        "ndjson": lambda body, masker, _cs: ndjson.mask_ndjson(body, masker),
        "csv": lambda body, masker, cs: csv.mask_csv(body, masker, cs),
        "xlsx": lambda body, masker, _cs: xlsx.mask_xlsx(body, masker),
        "html": _html,
        "form": lambda body, masker, cs: form.mask_form(body, masker, cs or "utf-8"),
        "text": _text,
    }


def mask_document(fmt: str, body: bytes, masker: DocumentMasker, charset: str | None,
                  fallback_to_text: bool = True) -> bytes:
    """Mask ``body``; if it does not parse as ``fmt``, scan it as text (or raise)."""
    handler = _formats().get(fmt)
    if handler is None:
        raise FormatError(fmt, "no scanner for this format")
    try:
        return handler(body, masker, charset)
    except FormatError:
        if not fallback_to_text or fmt in ("text", "xlsx"):
            raise
        return _text(body, masker, charset)


def stream_masker(fmt: str, masker: DocumentMasker, charset: str | None) -> StreamMasker:
    from detectors.formats.csv import CsvStreamMasker
    from detectors.formats.ndjson import NdjsonStreamMasker

    if fmt == "csv":
        return CsvStreamMasker(masker, charset)
    if fmt == "ndjson":
        return NdjsonStreamMasker(masker)
    raise FormatError(fmt, "this format cannot be streamed")
