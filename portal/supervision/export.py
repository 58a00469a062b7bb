"""Write supervision tables to XLSX (openpyxl) and CSV, with what was counted written at the top of the file.

No Flask. Every file starts with the scope, the period, the filters, the time and the person who exported it, then
the table(s). Text that a spreadsheet would run as a formula (``=``, ``+``, ``-``, ``@`` at the start, or a tab or
carriage return) is written with a leading apostrophe, so a petitioner's name or a document number can never turn
into a formula in the reader's spreadsheet (CSV injection).
"""

from __future__ import annotations

import csv
import io
from datetime import date, datetime

from portal.supervision.tables import Table

XLSX_MIME = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
CSV_MIME = "text/csv"  # Flask adds "; charset=utf-8"
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_SHEET_FORBIDDEN = set("[]:*?/\\")


def safe_text(value: str) -> str:
    """Neutralise text that a spreadsheet would read as a formula."""
    return "'" + value if value.startswith(_FORMULA_START) else value


def cell_value(value):
    """A table cell as written to a file: numbers stay numbers, dates ISO text in CSV, None empty."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "是" if value else "否"
    if isinstance(value, (int, float)):
        return value
    if isinstance(value, (date, datetime)):
        return value.isoformat()
    return safe_text(str(value))


def to_csv(tables: list[Table], meta: list[tuple[str, str]]) -> bytes:
    """One CSV document (UTF-8 with a byte-order mark, which Excel needs for Chinese): the meta lines, then each
    table after a blank line and its title."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    for label, value in meta:
        writer.writerow([safe_text(label), safe_text(value)])
    for table in tables:
        writer.writerow([])
        writer.writerow([safe_text(table.title)])
        writer.writerow([safe_text(c) for c in table.columns])
        for row in table.rows:
            writer.writerow([cell_value(v) for v in row])
        if table.total is not None and table.total > len(table.rows):
            writer.writerow([f"… {len(table.rows)} / {table.total}"])
    return ("\ufeff" + out.getvalue()).encode("utf-8")


def _sheet_title(title: str, used: set[str]) -> str:
    clean = "".join("_" if ch in _SHEET_FORBIDDEN else ch for ch in title).strip("'") or "Sheet"
    clean = clean[:31]
    name, n = clean, 2
    while name in used:
        suffix = f" ({n})"
        name = clean[: 31 - len(suffix)] + suffix
        n += 1
    used.add(name)
    return name


def to_xlsx(tables: list[Table], meta: list[tuple[str, str]]) -> bytes:
    """One workbook, a sheet per table; each sheet starts with the meta lines and the table's title."""
    # openpyxl (with lxml and Pillow, ~20 MB) is loaded by the first export, not by every web process.
    from openpyxl import Workbook
    from openpyxl.styles import Alignment, Font, PatternFill
    from openpyxl.utils import get_column_letter

    workbook = Workbook()
    workbook.remove(workbook.active)
    bold = Font(bold=True)
    head_fill = PatternFill("solid", fgColor="E4E7EB")
    used: set[str] = set()
    for table in tables:
        sheet = workbook.create_sheet(_sheet_title(table.title, used))
        for label, value in meta:
            sheet.append([safe_text(label), safe_text(value)])
            sheet.cell(row=sheet.max_row, column=1).font = bold
        sheet.append([])
        sheet.append([safe_text(table.title)])
        sheet.cell(row=sheet.max_row, column=1).font = Font(bold=True, size=12)
        if table.note:
            sheet.append([safe_text(table.note)])
        sheet.append([safe_text(c) for c in table.columns])
        header_row = sheet.max_row
        for col in range(1, len(table.columns) + 1):
            cell = sheet.cell(row=header_row, column=col)
            cell.font, cell.fill = bold, head_fill
            cell.alignment = Alignment(wrap_text=True, vertical="top")
        for row in table.rows:
            sheet.append([_xlsx_value(v) for v in row])
        if table.total is not None and table.total > len(table.rows):
            sheet.append([f"… {len(table.rows)} / {table.total}"])
        sheet.freeze_panes = sheet.cell(row=header_row + 1, column=1)
        for col, name in enumerate(table.columns, start=1):
            longest = max([len(str(name))] + [len(str(r[col - 1] or "")) for r in table.rows[:200]])
            sheet.column_dimensions[get_column_letter(col)].width = min(60, max(10, longest * 1.6 + 2))
    if not workbook.worksheets:
        workbook.create_sheet("Sheet")
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def _xlsx_value(value):
    if value is None:
        return None
    if isinstance(value, date | datetime):
        return value  # a real date cell
    return cell_value(value)
