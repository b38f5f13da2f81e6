"""The cooperation table (通办合作表) as XLSX and CSV, laid out to print.

XLSX: a title row and the date it was drawn up, bold frozen header repeated on every printed page,
landscape A4 fitted to the page width, wrapped text and sensible column widths, autofilter. CSV:
UTF-8 with a byte-order mark so that Excel opens the Chinese text correctly. No formula in either:
text is a string cell in XLSX and escaped with a leading `'` in CSV (`api/services/cells.py`).
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections.abc import Sequence
from typing import Any

from openpyxl import Workbook
from openpyxl.styles import Alignment, Border, Font, PatternFill, Side
from openpyxl.utils import get_column_letter

from api.services.cells import as_text_cell, csv_escape
from api.services.dashboard import TABLE_COLUMNS, TableRow, table_cell

WIDTHS = {
    "partner_name": 22,
    "province_name": 10,
    "tier": 10,
    "local_name": 14,
    "title": 36,
    "signed_on": 12,
    "effective_from": 12,
    "expires_on": 12,
    "status": 9,
    "reach_text": 20,
    "matters": 14,
    "items_count": 8,
    "registered_on": 12,
    "registration_text": 20,
    "liaisons": 26,
    "document_ref": 18,
    "latest_activity": 30,
}


def _plain(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "是" if value else "否"
    return value


def to_csv(rows: Sequence[TableRow]) -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow([title for _, title in TABLE_COLUMNS])
    for row in rows:
        writer.writerow([csv_escape(_plain(table_cell(row, attribute))) for attribute, _ in TABLE_COLUMNS])
    return ("\ufeff" + buffer.getvalue()).encode("utf-8")


def to_xlsx(rows: Sequence[TableRow], title: str, drawn_up: dt.date, filters_text: str) -> bytes:
    book = Workbook()
    sheet = book.active
    sheet.title = "通办合作表"
    columns = len(TABLE_COLUMNS)
    last = get_column_letter(columns)
    sheet["A1"] = title  # the title and the filters line are text: made string cells below
    sheet["A1"].font = Font(size=14, bold=True)
    sheet.merge_cells(f"A1:{last}1")
    sheet["A2"] = f"制表日期: {drawn_up.isoformat()}    共 {len(rows)} 份协议    {filters_text}"
    sheet.merge_cells(f"A2:{last}2")
    as_text_cell(sheet["A1"])
    as_text_cell(sheet["A2"])
    thin = Side(style="thin", color="999999")
    border = Border(left=thin, right=thin, top=thin, bottom=thin)
    header_fill = PatternFill("solid", fgColor="DDE7F0")
    for index, (attribute, heading) in enumerate(TABLE_COLUMNS, start=1):
        cell = sheet.cell(row=3, column=index, value=heading)
        cell.font = Font(bold=True)
        cell.fill = header_fill
        cell.border = border
        cell.alignment = Alignment(horizontal="center", vertical="center", wrap_text=True)
        sheet.column_dimensions[get_column_letter(index)].width = WIDTHS.get(attribute, 14)
    for r, row in enumerate(rows, start=4):
        for c, (attribute, _) in enumerate(TABLE_COLUMNS, start=1):
            value = _plain(table_cell(row, attribute))
            cell = as_text_cell(sheet.cell(row=r, column=c, value=value))
            if isinstance(value, dt.date):
                cell.number_format = "yyyy-mm-dd"
            cell.border = border
            cell.alignment = Alignment(vertical="top", wrap_text=True)
        if row.late:
            sheet.cell(
                row=r, column=[a for a, _ in TABLE_COLUMNS].index("registration_text") + 1
            ).font = Font(color="B00020", bold=True)
    sheet.freeze_panes = "A4"
    if rows:
        sheet.auto_filter.ref = f"A3:{last}{len(rows) + 3}"
    sheet.print_title_rows = "3:3"
    sheet.page_setup.orientation = "landscape"
    sheet.page_setup.paperSize = sheet.PAPERSIZE_A4
    sheet.page_setup.fitToWidth = 1
    sheet.page_setup.fitToHeight = 0
    sheet.sheet_properties.pageSetUpPr.fitToPage = True
    sheet.print_options.horizontalCentered = True
    sheet.page_margins.left = sheet.page_margins.right = 0.4
    sheet.oddFooter.center.text = "第 &P 页, 共 &N 页"
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


# ------------------------------------------------------------------ the needs survey (issue 21)


SURVEY_COLUMNS: tuple[tuple[str, int], ...] = (
    ("编号", 8),
    ("提交日期", 12),
    ("身份", 8),
    ("来自省份", 12),
    ("来自市县", 14),
    ("需要办理的事项", 40),
    ("其他事项", 20),
    ("遇到的困难", 30),
    ("意见", 40),
)


def survey_rows(responses: Sequence[Any], catalog: Any) -> list[list[Any]]:
    """One row per answer, in plain words (names, not codes); free text is neutralised for spreadsheets."""
    from api.services.surveys import OBSTACLES, RESPONDENTS

    tree = catalog.tree

    def matter(code: str) -> str:
        facts = catalog.matters.get(code)
        return facts.name if facts is not None else code

    rows = []
    for response in responses:
        created = response.created_at.date() if response.created_at else None
        rows.append(
            [
                response.id,
                created,
                RESPONDENTS.get(response.respondent, response.respondent),
                tree.name(response.home_province)
                if response.home_province in tree
                else response.home_province,
                tree.full_name(response.home_region)
                if response.home_region and response.home_region in tree
                else "",
                "、".join(matter(c) for c in response.matter_codes or []),
                response.other_matter or "",
                "、".join(OBSTACLES.get(o, o) for o in response.obstacles or []),
                response.comment or "",
            ]
        )
    return rows


def survey_to_csv(responses: Sequence[Any], catalog: Any) -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow([title for title, _ in SURVEY_COLUMNS])
    for row in survey_rows(responses, catalog):
        writer.writerow([csv_escape(_plain(value)) for value in row])
    return ("\ufeff" + buffer.getvalue()).encode("utf-8")


def survey_to_xlsx(responses: Sequence[Any], catalog: Any, title: str, drawn_up: dt.date) -> bytes:
    """Two sheets: the summary (by matter, by home province, by obstacle) and every answer."""
    from api.services.surveys import summarise

    book = Workbook()
    summary_sheet = book.active
    summary_sheet.title = "汇总"
    summary = summarise(list(responses), catalog)
    summary_sheet["A1"] = title
    summary_sheet["A1"].font = Font(size=14, bold=True)
    summary_sheet["A2"] = f"制表日期: {drawn_up.isoformat()}    共 {summary.total} 份答卷"
    as_text_cell(summary_sheet["A1"])
    as_text_cell(summary_sheet["A2"])
    row = 4
    for heading, items in (
        ("需要办理的事项", summary.by_matter),
        ("来自省份", summary.by_province),
        ("遇到的困难", summary.by_obstacle),
        ("身份", summary.by_respondent),
    ):
        summary_sheet.cell(row=row, column=1, value=heading).font = Font(bold=True)
        summary_sheet.cell(row=row, column=2, value="份数").font = Font(bold=True)
        row += 1
        for _, name, count in items:
            as_text_cell(summary_sheet.cell(row=row, column=1, value=name))
            summary_sheet.cell(row=row, column=2, value=count)
            row += 1
        row += 1
    summary_sheet.column_dimensions["A"].width = 40
    sheet = book.create_sheet("答卷")
    for index, (heading, width) in enumerate(SURVEY_COLUMNS, start=1):
        cell = sheet.cell(row=1, column=index, value=heading)
        cell.font = Font(bold=True)
        sheet.column_dimensions[get_column_letter(index)].width = width
    for r, values in enumerate(survey_rows(responses, catalog), start=2):
        for c, value in enumerate(values, start=1):
            value = _plain(value)
            cell = as_text_cell(sheet.cell(row=r, column=c, value=value))
            if isinstance(value, dt.date):
                cell.number_format = "yyyy-mm-dd"
            cell.alignment = Alignment(vertical="top", wrap_text=True)
    sheet.freeze_panes = "A2"
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()
