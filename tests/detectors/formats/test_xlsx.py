"""detectors.formats.xlsx: demo workbook round trip, sheets and styles, archive checks."""

from __future__ import annotations

import datetime
import io
import zipfile

import pytest
from openpyxl import Workbook, load_workbook
from openpyxl.comments import Comment
from openpyxl.styles import Font

from detectors.formats.errors import FormatError
from detectors.formats.xlsx import XlsxLimits, mask_xlsx
from gateway.demo.data import CSV_FIELDS, generate_customers, non_pii_values, pii_values
from gateway.demo.exports import workbook as demo_workbook

CUSTOMERS = generate_customers("proj1", 100, 11)


def to_bytes(workbook: Workbook) -> bytes:
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def read(data: bytes) -> Workbook:
    return load_workbook(io.BytesIO(data))


def all_text(workbook: Workbook) -> str:
    return "\n".join(str(value) for sheet in workbook.worksheets
                     for row in sheet.iter_rows(values_only=True) for value in row)


def test_demo_round_trip(engine):
    out = read(mask_xlsx(to_bytes(demo_workbook(CUSTOMERS)), engine.masker(roles=())))
    text = all_text(out)
    assert not [v for c in CUSTOMERS for vs in pii_values(c).values() for v in vs if v in text]
    sheet = out["customers"]
    assert out.sheetnames == ["customers"]
    assert [cell.value for cell in sheet[1]] == list(CSV_FIELDS)
    assert all(cell.font.b for cell in sheet[1])
    assert (sheet.max_row, sheet.max_column) == (len(CUSTOMERS) + 1, len(CSV_FIELDS))
    amounts = [row[CSV_FIELDS.index("amount")] for row in sheet.iter_rows(min_row=2,
                                                                          values_only=True)]
    assert amounts == [c.amount for c in CUSTOMERS]
    amount_text = {f"{c.amount:.2f}" for c in CUSTOMERS}
    lost = [v for c in CUSTOMERS for v in non_pii_values(c) if v not in amount_text
            and v not in text]
    assert lost == []


def second_sheet(workbook: Workbook) -> None:
    sheet = workbook.create_sheet("联系人")
    sheet.append([])
    sheet.append(["姓名", "手机号", "备注", "金额", "日期", "合计"])
    sheet.append(["王小明", 13812345678, "王小明要求回电", 12.5, datetime.datetime(2024, 5, 1),
                  '=CONCAT("A",B3)'])
    sheet["C3"].comment = Comment("王小明的电话 13912345678", "agent")
    sheet["A3"].font = Font(italic=True, color="FF0000")


def test_every_sheet_is_masked_with_its_own_header(engine):
    workbook = demo_workbook(CUSTOMERS[:5])
    second_sheet(workbook)
    out = read(mask_xlsx(to_bytes(workbook), engine.masker(roles=())))
    assert out.sheetnames == ["customers", "联系人"]
    sheet = out["联系人"]
    assert [c.value for c in sheet[2]] == ["姓名", "手机号", "备注", "金额", "日期", "合计"]
    name, phone, note, amount, day, formula = (c.value for c in sheet[3])
    assert "王小明" not in name and "王小明" not in note
    assert isinstance(phone, str) and "13812345678" not in phone
    assert amount == 12.5 and day == datetime.datetime(2024, 5, 1)
    assert formula == '=CONCAT("A",B3)'
    assert "13912345678" not in sheet["C3"].comment.text
    assert sheet["A3"].font.i and sheet["A3"].font.color.rgb == "00FF0000"


def test_workbook_without_pii_keeps_its_values(engine):
    workbook = Workbook()
    workbook.active.append(["grade", "amount"])
    workbook.active.append(["A", 3.25])
    out = read(mask_xlsx(to_bytes(workbook), engine.masker(roles=())))
    assert list(out.active.iter_rows(values_only=True)) == [("grade", "amount"), ("A", 3.25)]


def zip_bytes(members: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, content in members.items():
            archive.writestr(name, content)
    return buffer.getvalue()


def test_zip_bomb_is_rejected_before_parsing(engine):
    bomb = zip_bytes({"[Content_Types].xml": b"<Types/>", "xl/worksheets/sheet1.xml":
                      b"<" + b" " * (40 << 20) + b"/>"})
    assert len(bomb) < 100_000
    with pytest.raises(FormatError, match="zip bomb"):
        mask_xlsx(bomb, engine.masker(roles=()))


@pytest.mark.parametrize(
    ("limits", "problem"),
    [
        (XlsxLimits(max_total_bytes=10_000), "uncompressed size"),
        (XlsxLimits(max_members=3), "members"),
    ],
)
def test_archive_limits(engine, limits, problem):
    data = to_bytes(demo_workbook(CUSTOMERS[:3]))
    with pytest.raises(FormatError, match=problem):
        mask_xlsx(data, engine.masker(roles=()), limits)


@pytest.mark.parametrize(
    "mangle",
    [
        lambda data: data[: len(data) // 2],
        lambda data: data[:-30],
        lambda data: b"name,phone\n\xe7\x8e\x8b,13812345678\n",
        lambda data: b"",
        lambda data: zip_bytes({"hello.txt": b"13812345678"}),
        lambda data: data.replace(b"xl/worksheets", b"xl/worksheetz"),
    ],
    ids=["truncated-half", "truncated-tail", "not-a-zip", "empty", "zip-not-xlsx", "corrupt"],
)
def test_broken_workbooks_raise_format_error(engine, mangle):
    data = mangle(to_bytes(demo_workbook(CUSTOMERS[:3])))
    with pytest.raises(FormatError) as caught:
        mask_xlsx(data, engine.masker(roles=()))
    assert caught.value.format == "xlsx"
    assert "13812345678" not in str(caught.value)


def test_far_away_cell_does_not_expand_the_sheet(engine):
    workbook = Workbook()
    workbook.active["A1"] = "phone"
    workbook.active["A2"] = "13812345678"
    workbook.active["XFD1048576"] = "end"
    out = read(mask_xlsx(to_bytes(workbook), engine.masker(roles=())))
    assert "13812345678" not in out.active["A2"].value
    assert out.active["XFD1048576"].value == "end"
