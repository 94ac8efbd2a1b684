"""Which format scanner a body needs, from its headers (and, without a type, its first bytes).

Returns one of ``json``, ``ndjson``, ``csv``, ``xlsx``, ``html``, ``text``, ``form``, or
None for binary or unknown bodies (images, PDF, zip, legacy ``.xls``, octet-stream
without a telling filename); what to do with None is the caller's policy. A generic type
(octet-stream, ``application/vnd.ms-excel``, ``text/plain``, a download type) defers to
the ``Content-Disposition`` filename extension. Only a missing type is sniffed.
"""

from __future__ import annotations

import re
from urllib.parse import unquote

__all__ = ["charset_of", "detect_format"]

_EXACT = {
    "application/json": "json", "text/json": "json", "application/javascript": "text",
    "application/x-ndjson": "ndjson", "application/ndjson": "ndjson",
    "application/jsonl": "ndjson", "application/x-jsonlines": "ndjson",
    "application/jsonlines": "ndjson", "application/json-seq": "ndjson",
    "text/csv": "csv", "application/csv": "csv", "text/comma-separated-values": "csv",
    "text/tab-separated-values": "csv",
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": "xlsx",
    "application/vnd.ms-excel.sheet.macroenabled.12": "xlsx",
    "text/html": "html", "application/xhtml+xml": "html",
    "application/x-www-form-urlencoded": "form",
    "application/xml": "text", "text/xml": "text",
}
_GENERIC = frozenset({
    "", "application/octet-stream", "binary/octet-stream", "application/vnd.ms-excel",
    "application/x-download", "application/force-download", "application/download",
    "application/x-msdownload", "text/plain",
})
_EXTENSIONS = {
    "csv": "csv", "tsv": "csv", "xlsx": "xlsx", "xlsm": "xlsx", "json": "json",
    "ndjson": "ndjson", "jsonl": "ndjson", "html": "html", "htm": "html", "txt": "text",
    "xml": "text",
}
_FALLBACK = {"text/plain": "text"}
_CHARSET = re.compile(r";\s*charset\s*=\s*\"?([^\";\s]+)", re.IGNORECASE)
_FILENAME = re.compile(
    r"filename\*\s*=\s*[\w!#$%&+^`{}~-]*'[\w-]*'([^;\s]+)|filename\s*=\s*(\"[^\"]*\"|[^;]+)",
    re.IGNORECASE,
)
_HTML_HEAD = re.compile(rb"\s*(<!doctype\s+html|<html[\s>]|<head[\s>]|<body[\s>])", re.I)


def charset_of(content_type: str | None) -> str | None:
    """The ``charset`` parameter, lower-cased, or None."""
    match = _CHARSET.search(content_type or "")
    return match.group(1).lower() if match else None


def _mime(content_type: str | None) -> str:
    return (content_type or "").split(";", 1)[0].strip().lower()


def _extension(content_disposition: str | None) -> str:
    extended = [unquote(m.group(1)) for m in _FILENAME.finditer(content_disposition or "")
                if m.group(1)]
    plain = [m.group(2).strip().strip('"') for m in _FILENAME.finditer(content_disposition or "")
             if m.group(2)]
    name = (extended or plain or [""])[0]
    return name.rsplit(".", 1)[-1].lower() if "." in name else ""


def _sniff(head: bytes) -> str | None:
    body = head.removeprefix(b"\xef\xbb\xbf").lstrip()
    if body[:1] in (b"{", b"["):
        return "json"
    if _HTML_HEAD.match(body):
        return "html"
    return None


def detect_format(content_type: str | None, content_disposition: str | None = None,
                  head: bytes = b"") -> str | None:
    mime = _mime(content_type)
    if mime in _GENERIC:
        by_name = _EXTENSIONS.get(_extension(content_disposition))
        if by_name is not None:
            return by_name
        return _sniff(head) if not mime else _FALLBACK.get(mime)
    if mime in _EXACT:
        return _EXACT[mime]
    if mime.endswith("+json"):
        return "json"
    if mime.endswith("+xml") or mime.startswith("text/"):
        return "text"
    return None
