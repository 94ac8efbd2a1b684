"""The demo CRM's export files: CSV text and XLSX workbooks of customers.

Shared by the CRM's export routes, the format tests and the evaluation corpus, so all
three see exactly the files the demo serves.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence

from openpyxl import Workbook
from openpyxl.styles import Font

from gateway.demo.data import CSV_FIELDS, Customer

__all__ = ["csv_text", "workbook", "xlsx_bytes"]


def csv_text(rows: Sequence[Customer], delimiter: str = ",",
             lineterminator: str = "\r\n") -> str:
    """A header row of field names, then one row per customer (amounts with 2 decimals)."""
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer, delimiter=delimiter, lineterminator=lineterminator)
    writer.writerow(CSV_FIELDS)
    for customer in rows:
        record = customer.to_dict()
        record["amount"] = f"{customer.amount:.2f}"
        writer.writerow(record[field] for field in CSV_FIELDS)
    return buffer.getvalue()


def workbook(rows: Sequence[Customer]) -> Workbook:
    """One sheet, ``customers``, with a bold header row."""
    book = Workbook()
    sheet = book.active
    sheet.title = "customers"
    sheet.append(list(CSV_FIELDS))
    for cell in sheet[1]:
        cell.font = Font(bold=True)
    for customer in rows:
        record = customer.to_dict()
        sheet.append([record[field] for field in CSV_FIELDS])
    return book


def xlsx_bytes(rows: Sequence[Customer]) -> bytes:
    buffer = io.BytesIO()
    workbook(rows).save(buffer)
    return buffer.getvalue()
