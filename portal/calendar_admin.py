"""Calendar administration: load a year's holidays from an uploaded file, recompute, list what is covered.

Pure module (no Flask). The web page and ``portal calendar load`` both call ``load_calendar_year``, which stores
the year and recomputes every provisional deadline in the same transaction (DESIGN.md: a deadline in an uncovered
year is provisional and recomputed when the year is loaded). The daily sweep recomputes again as a safety net.
"""

from __future__ import annotations

import re
import tempfile
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from portal.cases.calendar import load_year
from portal.cases.models import CalendarYear
from portal.cases.operations import recompute_provisional_deadlines
from portal.workdays import YearFileError, builtin_year_table, parse_year_file

MAX_FILE_BYTES = 256 * 1024


class CalendarUploadError(Exception):
    """A refused year file; the message names the problem in Chinese and English."""

    def __init__(self, message_zh: str, message_en: str):
        super().__init__(message_en)
        self.message_zh, self.message_en = message_zh, message_en


@dataclass(frozen=True)
class LoadedYear:
    year: int
    holidays: int
    workdays: int
    source: str
    recomputed: int


@dataclass(frozen=True)
class CoveredYear:
    year: int
    source: str
    loaded_at: datetime | None  # None: built into chinese_calendar
    holidays: int
    workdays: int


def load_calendar_year(session: Session, filename: str, data: bytes) -> LoadedYear:
    """Validate and store a year file (.json or .csv), then recompute provisional deadlines. Flushes."""
    suffix = Path(filename or "").suffix.lower()
    if suffix not in (".json", ".csv"):
        raise CalendarUploadError("请上传 .json 或 .csv 格式的年度文件。", "Upload the year file as .json or .csv.")
    if not data:
        raise CalendarUploadError("文件为空。", "The file is empty.")
    if len(data) > MAX_FILE_BYTES:
        raise CalendarUploadError("文件过大（上限 256 KB）。", "The file is too large (at most 256 KB).")
    try:
        content = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise CalendarUploadError("文件须为 UTF-8 编码。", "The file must be encoded as UTF-8.") from None
    try:
        table = parse_year_file(content, suffix[1:])
    except YearFileError as exc:
        raise CalendarUploadError(exc.zh, exc.en) from None
    if table.is_example:
        raise CalendarUploadError(
            "这是格式示例文件，不是官方节假日安排；请按国务院办公厅通知录入。",
            "This is the example file, not an official schedule; transcribe the State Council notice instead.",
        )
    safe_name = re.sub(r"[^\w.\-]", "_", Path(filename).name)[:100] or f"upload{suffix}"
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / safe_name
        path.write_bytes(data)
        stored = load_year(session, str(path))
    recomputed = recompute_provisional_deadlines(session)
    return LoadedYear(stored.year, len(stored.holidays), len(stored.workdays), stored.source, recomputed)


def covered_years(session: Session, today: date) -> list[CoveredYear]:
    """Years the calendar knows near ``today``: loaded ones (any year) and chinese_calendar's recent ones."""
    found: dict[int, CoveredYear] = {}
    for year in range(today.year - 3, today.year + 3):
        table = builtin_year_table(year)
        if table is not None:
            found[year] = CoveredYear(year, table.source, None, len(table.holidays), len(table.workdays))
    for row in session.scalars(select(CalendarYear).order_by(CalendarYear.year)):
        found[row.year] = CoveredYear(row.year, row.source, row.loaded_at, len(row.holidays), len(row.workdays))
    return [found[y] for y in sorted(found, reverse=True)]
