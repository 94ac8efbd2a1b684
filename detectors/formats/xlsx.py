"""XLSX: every worksheet, one record per row, keyed by the sheet's first non-empty row.

The archive is checked before openpyxl opens it: a body that is not a complete zip, has
too many members, too many uncompressed bytes or a member compressed more than
``max_ratio`` times (a zip bomb) raises :class:`FormatError`. zipfile never inflates a
member past its declared size, so the declared sizes bound the work.

String and numeric cells are masked (a masked number becomes a string), as are cell
comments. Formulas are left alone, so a string literal inside a formula is not masked;
dates, booleans and errors are not text. Styles survive the round trip; openpyxl drops
what it cannot read (images, charts, pivot caches) and macros.
"""

from __future__ import annotations

import io
import zipfile
from dataclasses import dataclass
from itertools import groupby
from typing import Any

from openpyxl import Workbook, load_workbook
from openpyxl.worksheet.worksheet import Worksheet

from detectors.formats.errors import FormatError
from detectors.masker import Cell, DocumentMasker

__all__ = ["XlsxLimits", "check_archive", "mask_xlsx"]

_RATIO_FLOOR = 1 << 20


@dataclass(frozen=True, slots=True)
class XlsxLimits:
    max_total_bytes: int = 200 << 20
    max_ratio: int = 200
    max_members: int = 1000


def check_archive(data: bytes, limits: XlsxLimits) -> None:
    """Raise :class:`FormatError` unless ``data`` is a complete zip within ``limits``."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            members = archive.infolist()
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, EOFError, ValueError):
        raise FormatError("xlsx", "not a complete zip archive") from None
    if len(members) > limits.max_members:
        raise FormatError("xlsx", f"more than {limits.max_members} archive members")
    total = 0
    for member in members:
        total += member.file_size
        ratio = member.file_size / max(member.compress_size, 1)
        if member.file_size > _RATIO_FLOOR and ratio > limits.max_ratio:
            raise FormatError("xlsx", f"a member is compressed {ratio:.0f}:1 (zip bomb)")
    if total > limits.max_total_bytes:
        raise FormatError("xlsx", f"uncompressed size exceeds {limits.max_total_bytes} bytes")


def _open(data: bytes) -> Workbook:
    try:
        return load_workbook(io.BytesIO(data), rich_text=False)
    except Exception:
        raise FormatError("xlsx", "not a readable workbook") from None


def _maskable(cell: Any) -> str | None:
    value = cell.value
    if cell.data_type == "s" and isinstance(value, str):
        return value
    if cell.data_type == "n" and isinstance(value, int | float) and not isinstance(value, bool):
        return repr(value) if isinstance(value, float) else str(value)
    return None


def _rows(sheet: Worksheet) -> list[list[Any]]:
    # The stored cells only: iter_rows() would create every cell of the used range, and
    # one far-away cell (XFD1048576) makes that range billions of cells.
    cells = sorted(sheet._cells.items())
    return [[cell for _, cell in group] for _, group in groupby(cells, key=lambda i: i[0][0])]


def _header(rows: list[list[Any]]) -> tuple[int, dict[int, str]]:
    for row in rows:
        keys = {cell.column: str(cell.value) for cell in row
                if cell.value is not None and str(cell.value).strip()}
        if keys:
            return int(row[0].row), keys
    return 0, {}


def _mask_sheet(sheet: Worksheet, masker: DocumentMasker) -> None:
    rows = _rows(sheet)
    header_row, keys = _header(rows)
    records: list[list[Cell]] = []
    targets: list[list[Any]] = []
    for row in rows:
        cells: list[Cell] = []
        places: list[Any] = []
        for cell in row:
            value = _maskable(cell)
            if value is None:
                continue
            key = keys.get(cell.column) if cell.row > header_row else None
            where = f"sheet {sheet.title}, row {cell.row}, column {key or cell.column_letter}"
            cells.append(Cell(key, value, where))
            places.append(cell)
        if cells:
            records.append(cells)
            targets.append(places)
    masked = masker.mask_batch(records)
    for record, places, values in zip(records, targets, masked, strict=True):
        for source, cell, value in zip(record, places, values, strict=True):
            if value != source.value:
                cell.value = value
    _mask_comments(sheet.title, rows, masker)


def _mask_comments(title: str, rows: list[list[Any]], masker: DocumentMasker) -> None:
    for row in rows:
        for cell in row:
            comment = cell.comment
            if comment is not None and comment.text:
                where = f"sheet {title}, comment {cell.coordinate}"
                comment.text = masker.mask_text(comment.text, where)


def mask_xlsx(data: bytes, masker: DocumentMasker, limits: XlsxLimits = XlsxLimits()) -> bytes:
    check_archive(data, limits)
    workbook = _open(data)
    if not any(sheet.sheet_state == "visible" for sheet in workbook.worksheets):
        raise FormatError("xlsx", "no visible worksheet")
    for sheet in workbook.worksheets:
        _mask_sheet(sheet, masker)
    buffer = io.BytesIO()
    try:
        workbook.save(buffer)
    except Exception:
        raise FormatError("xlsx", "the masked workbook cannot be written") from None
    return buffer.getvalue()
