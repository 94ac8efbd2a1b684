"""HTML: text, comments and some attribute values are masked; all other source is kept.

The page is parsed with the stdlib ``HTMLParser`` and rewritten by splicing: only the
span of a value the masker changed is replaced, so tags, doctype, whitespace and the
contents of ``<script>`` and ``<style>`` are byte-identical. Entities in a changed value
survive outside the changed part; the changed part is re-escaped (``&amp;``, ``&lt;``...).
Masked attributes are ``value``, ``title``, ``alt``, ``placeholder``, ``content``,
``label``, ``aria-label`` and ``data-*`` (keyed by the suffix: ``data-phone`` → ``phone``;
``value`` and ``content`` by the element's ``name`` or ``id``).

Tables: a row of only ``<th>`` cells names the columns, and each ``<td>`` text is keyed
by its column header (or by a ``<th>`` earlier in the same row), so ``<th>姓名</th>``
works as a hint. Each table row is one record; other text is one record per value. The
whole page is one masker batch.
"""

from __future__ import annotations

import bisect
import html
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from html.parser import HTMLParser

from detectors.masker import Cell, DocumentMasker

__all__ = ["mask_html"]

_ATTRS = frozenset({"value", "title", "alt", "placeholder", "content", "label", "aria-label"})
_NAMED_BY = ("name", "id", "property", "itemprop")
_RAW_TEXT = frozenset({"script", "style"})
_CHARREF = re.compile(r"(&(?:#[0-9]+;?|#[xX][0-9a-fA-F]+;?|[^\t\n\f <&#;]{1,32};?))")
_TAG_NAME = re.compile(r"<[a-zA-Z][^\t\n\r\f />\x00]*(?:\s|/(?!>))*")
_ATTR = re.compile(
    r"((?<=['\"\s/])[^\s/>][^\s/=>]*)(\s*=+\s*('[^']*'|\"[^\"]*\"|(?!['\"])[^>\s]*))?"
    r"(?:\s|/(?!>))*"
)
_NEEDS_QUOTES = re.compile(r"[\s\"'=<>`]")

_Pieces = list[tuple[str, str]]


@dataclass(slots=True)
class _Site:
    start: int
    end: int
    raw: str
    kind: str


@dataclass(slots=True)
class _Table:
    headers: dict[int, str] = field(default_factory=dict)
    row: int | None = None
    row_headers: dict[int, str] = field(default_factory=dict)
    only_th: bool = True
    col: int = 0
    cell: str | None = None
    cell_col: int = 0
    cell_span: int = 1
    th_text: list[str] = field(default_factory=list)


def _escape_text(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _pieces(raw: str) -> _Pieces:
    """(source, text) pairs: literal runs, and one pair per character reference."""
    parts = _CHARREF.split(raw)
    return [(part, html.unescape(part) if i % 2 else part) for i, part in enumerate(parts) if part]


def _cut(pieces: _Pieces, length: int) -> tuple[str, int]:
    """The source of the first ``length`` characters of text, stopping inside an entity."""
    out: list[str] = []
    pos = 0
    for raw, text in pieces:
        if pos + len(text) <= length:
            out.append(raw)
            pos += len(text)
            continue
        if raw == text:
            out.append(raw[: length - pos])
            pos = length
        break
    return "".join(out), pos


def _common(a: str, b: str) -> int:
    size = min(len(a), len(b))
    return next((i for i in range(size) if a[i] != b[i]), size)


def _splice(raw: str, original: str, masked: str, escape: Callable[[str], str]) -> str:
    """Rewrite ``raw`` (whose text is ``original``) to show ``masked``, keeping its ends."""
    pieces = _pieces(raw)
    head = _common(original, masked)
    tail = min(_common(original[::-1], masked[::-1]), min(len(original), len(masked)) - head)
    prefix, head = _cut(pieces, head)
    suffix, tail = _cut([(r[::-1], t[::-1]) for r, t in reversed(pieces)], tail)
    return prefix + escape(masked[head : len(masked) - tail]) + suffix[::-1]


def _replacement(site: _Site, original: str, masked: str) -> str:
    if site.kind == "comment":
        return masked.replace("--", "-*")
    if site.kind == "text":
        return _splice(site.raw, original, masked, _escape_text)
    if site.kind == "":
        if not _NEEDS_QUOTES.search(masked):
            return _escape_text(masked)
        return '"' + _escape_text(masked).replace('"', "&quot;") + '"'
    entity = "&quot;" if site.kind == '"' else "&#x27;"
    return _splice(site.raw, original, masked,
                   lambda text: _escape_text(text).replace(site.kind, entity))


def _attribute_key(name: str, attrs: dict[str, str | None]) -> str | None:
    if name.startswith("data-"):
        return name[5:]
    if name in ("value", "content"):
        return next((attrs[k] for k in _NAMED_BY if attrs.get(k)), None)
    return None


class _Collector(HTMLParser):
    def __init__(self, source: str) -> None:
        super().__init__(convert_charrefs=False)
        self._source = source
        self._lines = [0, *(m.end() for m in re.finditer("\n", source))]
        self.records: list[list[Cell]] = []
        self.sites: list[list[_Site]] = []
        self._tables: list[_Table] = []
        self._skip: str | None = None
        self._run = -1
        self.script_blocks = 0

    def _pos(self) -> int:
        line, column = self.getpos()
        return self._lines[line - 1] + column

    def _line(self, pos: int) -> int:
        return bisect.bisect_right(self._lines, pos)

    def handle_data(self, data: str) -> None:
        if self._skip == "script" and data.strip():
            # Script bodies stay byte-identical: a blind spot, counted so it is visible.
            self.script_blocks += 1
        if self._skip is None and self._run < 0:
            self._run = self._pos()

    def handle_entityref(self, name: str) -> None:
        self.handle_data(name)

    def handle_charref(self, name: str) -> None:
        self.handle_data(name)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        start = self._pos()
        self.end_text(start)
        if tag in _RAW_TEXT:
            self._skip = tag
        self._table_start(tag, dict(attrs))
        if any(name in _ATTRS or name.startswith("data-") for name, _ in attrs):
            self._attributes(start, tag, dict(attrs))

    def handle_endtag(self, tag: str) -> None:
        self.end_text(self._pos())
        if tag == self._skip:
            self._skip = None
        if not self._tables:
            return
        table = self._tables[-1]
        if tag in ("td", "th"):
            self._end_cell(table)
        elif tag in ("tr", "thead", "tbody", "tfoot"):
            self._end_row(table)
        elif tag == "table":
            self._end_row(table)
            self._tables.pop()

    def handle_comment(self, data: str) -> None:
        start = self._pos()
        self.end_text(start)
        offset = 4 if self._source.startswith("<!--", start) else 2
        if data.strip() and self._source.startswith(data, start + offset):
            site = _Site(start + offset, start + offset + len(data), data, "comment")
            self._add(Cell(None, data, f"line {self._line(start)}, comment"), site, None)

    def handle_decl(self, decl: str) -> None:
        self.end_text(self._pos())

    def handle_pi(self, data: str) -> None:
        self.end_text(self._pos())

    def unknown_decl(self, data: str) -> None:
        self.end_text(self._pos())

    def end_text(self, end: int) -> None:
        start, self._run = self._run, -1
        if start < 0 or end <= start:
            return
        raw = self._source[start:end]
        text = "".join(t for _, t in _pieces(raw))
        if not text.strip():
            return
        table = self._tables[-1] if self._tables else None
        key = None
        if table is not None and table.cell == "th":
            table.th_text.append(text)
        elif table is not None and table.cell == "td":
            key = table.headers.get(table.cell_col) or next(reversed(table.row_headers.values()),
                                                            None)
        where = f"line {self._line(start)}" + (f", column {key}" if key else "")
        self._add(Cell(key, text, where), _Site(start, end, raw, "text"),
                  table.row if table else None)

    def _add(self, cell: Cell, site: _Site, record: int | None) -> None:
        if record is None:
            self.records.append([cell])
            self.sites.append([site])
        else:
            self.records[record].append(cell)
            self.sites[record].append(site)

    def _attributes(self, start: int, tag: str, attrs: dict[str, str | None]) -> None:
        raw = self.get_starttag_text() or ""
        match = _TAG_NAME.match(raw)
        cursor = match.end() if match else len(raw)
        record = self._tables[-1].row if self._tables else None
        while cursor < len(raw) and (found := _ATTR.match(raw, cursor)) is not None:
            cursor = max(found.end(), cursor + 1)
            name, value = found.group(1).lower(), found.group(3)
            if value is None or not (name in _ATTRS or name.startswith("data-")):
                continue
            quote = value[:1] if value[:1] in ("'", '"') else ""
            begin, end = found.start(3) + len(quote), found.end(3) - len(quote)
            site = _Site(start + begin, start + end, raw[begin:end], quote)
            where = f"line {self._line(start)}, <{tag} {name}>"
            self._add(Cell(_attribute_key(name, attrs), html.unescape(site.raw), where),
                      site, record)

    def _table_start(self, tag: str, attrs: dict[str, str | None]) -> None:
        if tag == "table":
            self._tables.append(_Table())
        if not self._tables or tag not in ("tr", "td", "th", "thead", "tbody", "tfoot"):
            return
        table = self._tables[-1]
        if tag in ("tr", "thead", "tbody", "tfoot"):
            self._end_row(table)
        if tag in ("tr", "td", "th") and table.row is None:
            table.row = len(self.records)
            self.records.append([])
            self.sites.append([])
        if tag in ("td", "th"):
            self._end_cell(table)
            span = attrs.get("colspan") or "1"
            table.cell, table.cell_col = tag, table.col
            table.cell_span = int(span) if span.isdigit() and 0 < int(span) < 1000 else 1
            table.col += table.cell_span
            table.only_th = table.only_th and tag == "th"

    def _end_cell(self, table: _Table) -> None:
        if table.cell == "th":
            text = " ".join("".join(table.th_text).split())
            for column in range(table.cell_col, table.cell_col + table.cell_span):
                table.row_headers[column] = text
        table.cell, table.th_text = None, []

    def _end_row(self, table: _Table) -> None:
        self._end_cell(table)
        if table.row is not None and table.only_th and table.row_headers:
            table.headers = table.row_headers
        table.row, table.row_headers, table.only_th, table.col = None, {}, True, 0


def mask_html(text: str, masker: DocumentMasker) -> str:
    collector = _Collector(text)
    collector.feed(text)
    collector.close()
    collector.end_text(len(text))
    if collector.script_blocks:
        masker.report.skipped["html_script"] += collector.script_blocks
    pairs = [(r, s) for r, s in zip(collector.records, collector.sites, strict=True) if r]
    masked = masker.mask_batch([record for record, _ in pairs])
    edits = [
        (site.start, site.end, _replacement(site, cell.value, value))
        for (record, sites), values in zip(pairs, masked, strict=True)
        for cell, site, value in zip(record, sites, values, strict=True)
        if value != cell.value
    ]
    out: list[str] = []
    cursor = 0
    for start, end, replacement in sorted(edits):
        out.append(text[cursor:start])
        out.append(replacement)
        cursor = end
    out.append(text[cursor:])
    return "".join(out)
