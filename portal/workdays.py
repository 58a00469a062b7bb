"""Working-day calendar for Chinese time limits (工作日 and 日).

Pure module: no Flask, no SQLAlchemy. Years come from `chinese_calendar` (2004..2026 in v1.11) or from
year tables that an administrator loads from a file (see `portal/holidays/README.md`). A loaded table wins
over the built-in data for its year. A year that nobody covers is counted with the statutory holidays of
《全国年节及纪念日放假办法》 (2024 revision; lunar dates computed), weekends off and no make-up days, and the
result is marked provisional, so that it is recomputed once the year is loaded instead of being silently wrong.
"""

from __future__ import annotations

import csv
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from enum import StrEnum
from functools import cache
from pathlib import Path
from typing import Any, Literal

import chinese_calendar
from lunardate import LunarDate

REASON_WEEKEND = "weekend"
REASON_MAKEUP = "make-up workday"
MAKEUP_SUFFIX = "调休"

# Built-in (chinese_calendar) names are English; the product names holidays in Chinese.
_HOLIDAY_NAMES_ZH = {
    "New Year's Day": "元旦",
    "Spring Festival": "春节",
    "Tomb-sweeping Day": "清明节",
    "Labour Day": "劳动节",
    "Dragon Boat Festival": "端午节",
    "National Day": "国庆节",
    "Mid-autumn Festival": "中秋节",
    "Anti-Fascist 70th Day": "中国人民抗日战争暨世界反法西斯战争胜利70周年纪念日",
}
_HOLIDAY_NAMES_EN = {zh: en for en, zh in _HOLIDAY_NAMES_ZH.items()} | {
    "清明": "Tomb-sweeping Day",
    "端午": "Dragon Boat Festival",
    "中秋": "Mid-autumn Festival",
    "国庆": "National Day",
    "五一": "Labour Day",
    "劳动节": "Labour Day",
}


class Unit(StrEnum):
    WORKING_DAYS = "working_days"
    DAYS = "days"


class YearFileError(ValueError):
    """A holiday year file is malformed; the message is Chinese first, then English."""

    def __init__(self, zh: str, en: str):
        self.zh = zh
        self.en = en
        super().__init__(f"{zh} / {en}")


@dataclass(frozen=True)
class YearTable:
    """Official days off and make-up working days of one year."""

    year: int
    holidays: dict[date, str]
    workdays: dict[date, str]
    source: str

    def __post_init__(self) -> None:
        for d in (*self.holidays, *self.workdays):
            if d.year != self.year:
                raise ValueError(f"{d.isoformat()} is not in {self.year}")
        if both := set(self.holidays) & set(self.workdays):
            raise ValueError(f"listed as holiday and workday: {sorted(both)}")
        if weekdays := [d for d in self.workdays if d.weekday() < 5]:
            raise ValueError(f"make-up workdays must be Saturday or Sunday: {sorted(weekdays)}")

    @property
    def is_example(self) -> bool:
        """Tell whether this is the example file rather than a transcribed schedule."""
        return self.source.strip().upper().startswith("EXAMPLE")

    def as_dict(self) -> dict[str, Any]:
        """Return the JSON file form (parse_year_file(json.dumps(t.as_dict()), "json") == t)."""
        return {
            "year": self.year,
            "source": self.source,
            "holidays": [{"date": d.isoformat(), "name": n} for d, n in sorted(self.holidays.items())],
            "workdays": [{"date": d.isoformat(), "name": n} for d, n in sorted(self.workdays.items())],
        }


# --- year files ---------------------------------------------------------------------------------------

_DATE_RE = re.compile(r"\d{4}-\d{2}-\d{2}")
_JSON_KEYS = {"year", "source", "holidays", "workdays"}
_ENTRY_KEYS = {"date", "name"}
_KIND_ZH = {"holiday": "节假日", "workday": "调休工作日"}


def _parse_date(value: object, where_zh: str, where_en: str) -> date:
    if isinstance(value, str) and _DATE_RE.fullmatch(value.strip()):
        try:
            return date.fromisoformat(value.strip())
        except ValueError:
            pass
    raise YearFileError(
        f"{where_zh}：日期“{value}”无效，应为 YYYY-MM-DD 格式的真实日期。",
        f"{where_en}: invalid date {value!r}, expected a real date as YYYY-MM-DD.",
    )


def _parse_name(value: object, where_zh: str, where_en: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise YearFileError(f"{where_zh}：名称不能为空。", f"{where_en}: the name is empty.")
    return value.strip()


def _build_table(
    year: int, source: str, entries: list[tuple[str, str, date, str, str]], year_note: tuple[str, str]
) -> YearTable:
    """Check and assemble entries given as (kind, name, date, where_zh, where_en)."""
    holidays: dict[date, str] = {}
    workdays: dict[date, str] = {}
    seen: dict[date, tuple[str, str]] = {}
    for kind, name, d, where_zh, where_en in entries:
        if d.year != year:
            raise YearFileError(
                f"{where_zh}：日期 {d.isoformat()} 不在 {year} 年内{year_note[0]}。",
                f"{where_en}: date {d.isoformat()} is outside the year {year}{year_note[1]}.",
            )
        if d in seen:
            first_kind, first_where = seen[d]
            if first_kind == kind:
                raise YearFileError(
                    f"{where_zh}：日期 {d.isoformat()} 重复列出（已见于{first_where}）。",
                    f"{where_en}: date {d.isoformat()} is listed twice.",
                )
            raise YearFileError(
                f"{where_zh}：日期 {d.isoformat()} 同时被列为节假日和调休工作日。",
                f"{where_en}: date {d.isoformat()} is listed both as a holiday and as a make-up workday.",
            )
        if kind == "workday" and d.weekday() < 5:
            raise YearFileError(
                f"{where_zh}：调休工作日 {d.isoformat()} 不是星期六或星期日。",
                f"{where_en}: make-up workday {d.isoformat()} is not a Saturday or Sunday.",
            )
        seen[d] = (kind, where_zh)
        (holidays if kind == "holiday" else workdays)[d] = name
    if not holidays:
        raise YearFileError("文件中没有任何节假日。", "The file lists no holidays.")
    return YearTable(year=year, holidays=holidays, workdays=workdays, source=source)


def _parse_json(text: str) -> YearTable:
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise YearFileError(
            f"JSON 格式错误（第{exc.lineno}行第{exc.colno}列）：{exc.msg}。",
            f"Invalid JSON at line {exc.lineno}, column {exc.colno}: {exc.msg}.",
        ) from None
    if not isinstance(data, dict):
        raise YearFileError("JSON 顶层必须是对象。", "The JSON top level must be an object.")
    if missing := sorted(_JSON_KEYS - data.keys()):
        raise YearFileError(f"缺少字段：{', '.join(missing)}。", f"Missing keys: {', '.join(missing)}.")
    if unknown := sorted(data.keys() - _JSON_KEYS):
        raise YearFileError(f"未知字段：{', '.join(unknown)}。", f"Unknown keys: {', '.join(unknown)}.")
    year = data["year"]
    if isinstance(year, bool) or not isinstance(year, int) or not 1900 <= year <= 2999:
        raise YearFileError(f"year 字段“{year}”不是有效年份。", f"The year {year!r} is not a valid year.")
    source = data["source"]
    if not isinstance(source, str) or not source.strip():
        raise YearFileError("source 字段必须填写发布依据。", "The source must name the published notice.")
    entries = []
    for key, kind in (("holidays", "holiday"), ("workdays", "workday")):
        items = data[key]
        if not isinstance(items, list):
            raise YearFileError(f"{key} 字段必须是数组。", f"{key} must be a list.")
        for i, item in enumerate(items, start=1):
            where_zh, where_en = f"{key} 第{i}项", f"{key} entry {i}"
            if not isinstance(item, dict):
                raise YearFileError(f"{where_zh}：必须是对象。", f"{where_en}: must be an object.")
            if missing := sorted(_ENTRY_KEYS - item.keys()):
                raise YearFileError(
                    f"{where_zh}：缺少字段 {', '.join(missing)}。",
                    f"{where_en}: missing keys {', '.join(missing)}.",
                )
            if unknown := sorted(item.keys() - _ENTRY_KEYS):
                raise YearFileError(
                    f"{where_zh}：未知字段 {', '.join(unknown)}。",
                    f"{where_en}: unknown keys {', '.join(unknown)}.",
                )
            d = _parse_date(item["date"], where_zh, where_en)
            name = _parse_name(item["name"], where_zh, where_en)
            entries.append((kind, name, d, where_zh, where_en))
    return _build_table(year, source.strip(), entries, ("", ""))


def _parse_csv(text: str) -> YearTable:
    source = ""
    header: list[str] | None = None
    rows: list[tuple[int, list[str]]] = []
    for lineno, line in enumerate(text.splitlines(), start=1):
        stripped = line.strip()
        if not stripped:
            continue
        if stripped.startswith("#"):
            if m := re.fullmatch(r"#\s*source\s*:\s*(.*)", stripped, flags=re.IGNORECASE):
                source = m.group(1).strip()
            continue
        cells = [c.strip() for c in next(csv.reader([line]))]
        if header is None:
            header = [c.lower() for c in cells]
            if header != ["date", "kind", "name"]:
                raise YearFileError(
                    f"第{lineno}行：表头应为 date,kind,name，实际为 {','.join(cells)}。",
                    f"Line {lineno}: the header must be date,kind,name, got {','.join(cells)}.",
                )
            continue
        rows.append((lineno, cells))
    if header is None:
        raise YearFileError("文件为空。", "The file is empty.")
    if not rows:
        raise YearFileError("文件中没有任何日期。", "The file lists no dates.")
    entries = []
    year = None
    for lineno, cells in rows:
        where_zh, where_en = f"第{lineno}行", f"Line {lineno}"
        if len(cells) != 3:
            raise YearFileError(
                f"{where_zh}：应有 3 列（date,kind,name），实际 {len(cells)} 列。",
                f"{where_en}: expected 3 columns (date,kind,name), got {len(cells)}.",
            )
        raw_date, kind, raw_name = cells
        d = _parse_date(raw_date, where_zh, where_en)
        if kind not in _KIND_ZH:
            raise YearFileError(
                f"{where_zh}：类型“{kind}”未知，应为 holiday 或 workday。",
                f"{where_en}: unknown kind {kind!r}, expected holiday or workday.",
            )
        name = _parse_name(raw_name, where_zh, where_en)
        if year is None:
            year = d.year  # the first date fixes the year; all others must match
        entries.append((kind, name, d, where_zh, where_en))
    assert year is not None
    note = (
        "（年份取自第一条日期，所有日期须属同一年）",
        " (taken from the first date; all dates must be in one year)",
    )
    return _build_table(year, source, entries, note)


def parse_year_file(text: str, fmt: Literal["json", "csv"]) -> YearTable:
    """Parse and strictly validate a year file; raise YearFileError naming the bad line or entry."""
    if fmt not in ("json", "csv"):
        raise ValueError(f"unknown year file format {fmt!r}")
    text = text.removeprefix("\ufeff")
    if not text.strip():
        raise YearFileError("文件为空。", "The file is empty.")
    return _parse_json(text) if fmt == "json" else _parse_csv(text)


def load_year_file(path: str | Path) -> YearTable:
    """Read a .json or .csv year file; a CSV without a source comment gets its file name as source."""
    path = Path(path)
    fmt = path.suffix.lower().removeprefix(".")
    if fmt not in ("json", "csv"):
        raise YearFileError(
            f"无法识别的文件类型“{path.suffix}”，应为 .json 或 .csv。",
            f"Unrecognised file type {path.suffix!r}, expected .json or .csv.",
        )
    table = parse_year_file(path.read_text(encoding="utf-8-sig"), fmt)  # type: ignore[arg-type]
    if not table.source:
        table = YearTable(table.year, table.holidays, table.workdays, source=path.name)
    return table


# --- built-in data ------------------------------------------------------------------------------------


@cache
def builtin_year_table(year: int) -> YearTable | None:
    """Return chinese_calendar's data for a year as a YearTable, or None if it does not know the year."""
    try:
        chinese_calendar.is_workday(date(year, 1, 1))
    except NotImplementedError:
        return None
    holidays: dict[date, str] = {}
    workdays: dict[date, str] = {}
    d = date(year, 1, 1)
    while d.year == year:
        is_off, name = chinese_calendar.get_holiday_detail(d)
        if name:
            zh = _HOLIDAY_NAMES_ZH.get(name, name)
            if is_off:
                holidays[d] = zh
            else:
                workdays[d] = zh + MAKEUP_SUFFIX
        d += timedelta(days=1)
    version = getattr(chinese_calendar, "__version__", "?")
    return YearTable(year, holidays, workdays, source=f"chinese_calendar {version}")


@cache
def statutory_year_table(year: int) -> YearTable:
    """Return the days off that 《全国年节及纪念日放假办法》 (2024 revision, art. 2) fixes for every year.

    元旦 (1 January), 春节 (除夕 and 正月初一 to 初三), 清明 (the day of the 清明 solar term), 劳动节 (1-2 May),
    端午 (五月初五), 中秋 (八月十五), 国庆 (1-3 October). The State Council's yearly notice adds bridge days and
    make-up working days on top of these; until it is loaded, none are assumed. A holiday on a weekend is not
    moved (the yearly notice decides that too).
    """
    holidays: dict[date, str] = {date(year, 1, 1): "元旦"}
    new_year = LunarDate(year, 1, 1).to_solar_date()
    for offset in range(-1, 3):  # 除夕 is the eve of 正月初一, whether the 12th month has 29 or 30 days
        holidays[new_year + timedelta(days=offset)] = "春节"
    holidays.update({d: "清明节" for d, _ in chinese_calendar.get_solar_terms(date(year, 4, 1), date(year, 4, 10))})
    holidays.update({date(year, 5, 1): "劳动节", date(year, 5, 2): "劳动节"})
    holidays[LunarDate(year, 5, 5).to_solar_date()] = "端午节"
    holidays[LunarDate(year, 8, 15).to_solar_date()] = "中秋节"
    for day in (1, 2, 3):
        holidays[date(year, 10, day)] = "国庆节"
    return YearTable(year, holidays, {}, source="《全国年节及纪念日放假办法》（2024年修订）")


# --- the calendar -------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class DayKind:
    """Whether a day is a working day, whether the calendar knows its year, and why."""

    workday: bool
    known: bool
    reason: str | None = None


_PLAIN = {
    (True, True): DayKind(True, True),
    (True, False): DayKind(True, False),
    (False, True): DayKind(False, True, REASON_WEEKEND),
    (False, False): DayKind(False, False, REASON_WEEKEND),
}


def holiday_name_en(name: str) -> str:
    """Translate a holiday or make-up day name to English where known; otherwise return it unchanged."""
    if name.endswith(MAKEUP_SUFFIX):
        base = name.removesuffix(MAKEUP_SUFFIX)
        return f"{_HOLIDAY_NAMES_EN.get(base, base)} make-up workday"
    return _HOLIDAY_NAMES_EN.get(name, name)


def _zh_date(d: date, ref: date | None = None) -> str:
    if ref is not None and ref.year == d.year:
        return f"{d.month}月{d.day}日"
    return f"{d.year}年{d.month}月{d.day}日"


def _en_count(n: int, noun: str) -> str:
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


def _unique(names: list[str]) -> list[str]:
    return list(dict.fromkeys(names))


@dataclass(frozen=True)
class Explanation:
    """How a due date was computed, for display and for the record."""

    start: date
    unit: Unit
    amount: int
    due: date
    working_days: int | None  # working days counted; None for the calendar-days rule
    skipped: tuple[tuple[date, str], ...]  # non-working days passed over, with their reason
    makeup_workdays: tuple[tuple[date, str], ...]  # weekend days counted as working days, with their name
    shifted_from: date | None = None  # days rule: the calendar due date before moving to a working day
    uncovered_years: tuple[int, ...] = ()

    @property
    def provisional(self) -> bool:
        return bool(self.uncovered_years)

    def as_dict(self) -> dict[str, Any]:
        """Return a JSON-serialisable form with ISO dates."""
        return {
            "start": self.start.isoformat(),
            "unit": str(self.unit),
            "amount": self.amount,
            "due": self.due.isoformat(),
            "working_days": self.working_days,
            "skipped": [{"date": d.isoformat(), "reason": r} for d, r in self.skipped],
            "makeup_workdays": [{"date": d.isoformat(), "name": n} for d, n in self.makeup_workdays],
            "shifted_from": self.shifted_from.isoformat() if self.shifted_from else None,
            "uncovered_years": list(self.uncovered_years),
            "provisional": self.provisional,
        }

    def text(self, lang: Literal["zh", "en"] = "zh") -> str:
        """Return one or two human sentences; skipped days are summarised, not listed."""
        if lang not in ("zh", "en"):
            raise ValueError(f"unsupported language {lang!r}")
        body = self._text_zh() if lang == "zh" else self._text_en()
        if not self.uncovered_years:
            return body
        if lang == "zh":
            years = "、".join(f"{y}年" for y in self.uncovered_years)
            return body + (
                f"{years}节假日安排尚未录入，暂按《全国年节及纪念日放假办法》规定的法定节假日和周末计算"
                "（不含调休），录入后将重新计算。"
            )
        years = ", ".join(str(y) for y in self.uncovered_years)
        plural = "s have" if len(self.uncovered_years) > 1 else " has"
        return body + (
            f" The holiday schedule{plural} not been loaded for {years}: counted with the statutory public"
            " holidays and weekends for now (no make-up days), to be recomputed once loaded."
        )

    def _holiday_summary(self) -> tuple[int, list[str], int]:
        weekend = sum(1 for _, r in self.skipped if r == REASON_WEEKEND)
        names = _unique([r for _, r in self.skipped if r != REASON_WEEKEND])
        return weekend, names, len(self.skipped) - weekend

    def _text_zh(self) -> str:
        start, due = _zh_date(self.start), _zh_date(self.due)
        if self.unit is Unit.DAYS:
            text = f"自{start}起算{self.amount}日"
            if self.shifted_from is None:
                makeup = "（调休工作日）" if self.makeup_workdays else ""
                return text + f"，于{due}{makeup}届满。"
            first = self.skipped[0][1]
            why = "周末" if first == REASON_WEEKEND else f"节假日（{first}）"
            return text + f"，期满日{_zh_date(self.shifted_from)}为{why}，依法顺延至{due}届满。"
        weekend, names, holiday = self._holiday_summary()
        parts = []
        if weekend:
            parts.append(f"周末{weekend}天")
        if holiday:
            parts.append(f"节假日（{'、'.join(names)}）{holiday}天")
        text = f"自{start}起算{self.amount}个工作日"
        if parts:
            text += "，跳过" + "、".join(parts)
        if self.makeup_workdays:
            dates = "、".join(_zh_date(d, self.start) for d, _ in self.makeup_workdays)
            text += f"，计入调休工作日{len(self.makeup_workdays)}天（{dates}）"
        return text + f"，于{due}届满。"

    def _text_en(self) -> str:
        start, due = self.start.isoformat(), self.due.isoformat()
        if self.unit is Unit.DAYS:
            text = f"{_en_count(self.amount, 'day')} from {start}"
            if self.shifted_from is None:
                makeup = " (a make-up working day)" if self.makeup_workdays else ""
                return text + f": due {due}{makeup}."
            first = self.skipped[0][1]
            why = "a weekend" if first == REASON_WEEKEND else f"a public holiday ({holiday_name_en(first)})"
            return text + (
                f" end on {self.shifted_from.isoformat()}, {why}, so the limit moves to the next working day:"
                f" due {due}."
            )
        weekend, names, holiday = self._holiday_summary()
        parts = []
        if weekend:
            parts.append(_en_count(weekend, "weekend day"))
        if holiday:
            names_en = ", ".join(holiday_name_en(n) for n in names)
            parts.append(f"{_en_count(holiday, 'day')} of public holiday ({names_en})")
        text = f"{_en_count(self.amount, 'working day')} from {start}"
        if parts:
            text += ", skipping " + " and ".join(parts)
        if self.makeup_workdays:
            dates = ", ".join(d.isoformat() for d, _ in self.makeup_workdays)
            text += f", counting {_en_count(len(self.makeup_workdays), 'make-up working day')} ({dates})"
        return text + f": due {due}."


@dataclass(frozen=True)
class Due:
    """A computed due date."""

    due: date
    provisional: bool
    explanation: Explanation


@dataclass(frozen=True)
class _Walk:
    """Per-day facts collected while walking the calendar."""

    skipped: list[tuple[date, str]] = field(default_factory=list)
    makeup: list[tuple[date, str]] = field(default_factory=list)
    uncovered: set[int] = field(default_factory=set)


class WorkdayCalendar:
    """Answer working-day questions from loaded year tables and, optionally, chinese_calendar."""

    def __init__(self, tables: Mapping[int, YearTable] | None = None, use_builtin: bool = True):
        tables = dict(tables or {})
        for year, table in tables.items():
            if table.year != year:
                raise ValueError(f"table for {table.year} registered under {year}")
        self._tables = tables
        self._use_builtin = use_builtin
        self._kinds: dict[date, DayKind] = {}  # filled one whole year at a time

    @property
    def loaded_years(self) -> tuple[int, ...]:
        return tuple(sorted(self._tables))

    def with_table(self, table: YearTable) -> WorkdayCalendar:
        """Return a new calendar with this year's table added or replaced."""
        return WorkdayCalendar({**self._tables, table.year: table}, use_builtin=self._use_builtin)

    def table_for(self, year: int) -> YearTable | None:
        """Return the table in force for a year: the loaded one, else the built-in one, else None."""
        if year in self._tables:
            return self._tables[year]
        return builtin_year_table(year) if self._use_builtin else None

    def covers(self, year: int) -> bool:
        return self.table_for(year) is not None

    def _build_year(self, year: int) -> None:
        table = self.table_for(year)
        known = table is not None
        d = date(year, 1, 1)
        kinds = self._kinds
        while d.year == year:
            kinds[d] = _PLAIN[(d.weekday() < 5, known)]
            d += timedelta(days=1)
        if table is None:
            # Not published yet: the statutory holidays, provisionally (still "not known").
            for d, name in statutory_year_table(year).holidays.items():
                kinds[d] = DayKind(False, False, name)
            return
        for d, name in table.holidays.items():
            kinds[d] = DayKind(False, True, name)
        for d in table.workdays:
            kinds[d] = DayKind(True, True, REASON_MAKEUP)

    def day_kind(self, d: date) -> DayKind:
        """Classify one day."""
        kind = self._kinds.get(d)
        if kind is None:
            if isinstance(d, datetime) or not isinstance(d, date):
                raise TypeError(f"expected a date, got {type(d).__name__}")
            self._build_year(d.year)
            kind = self._kinds[d]
        return kind

    def _note(self, walk: _Walk, d: date, kind: DayKind) -> None:
        if not kind.known:
            walk.uncovered.add(d.year)
        if not kind.workday:
            walk.skipped.append((d, kind.reason or REASON_WEEKEND))
        elif kind.reason == REASON_MAKEUP:
            table = self.table_for(d.year)
            walk.makeup.append((d, table.workdays[d] if table else MAKEUP_SUFFIX))

    def add(self, start: date, amount: int, unit: Unit | str) -> Due:
        """Compute the due date of a limit of `amount` units starting on `start` (start day not counted)."""
        unit = Unit(unit)
        if isinstance(amount, bool) or not isinstance(amount, int):
            raise TypeError("amount must be an int")
        if amount < 1:
            raise ValueError("amount must be at least 1")
        self.day_kind(start)  # type check
        walk = _Walk()
        one = timedelta(days=1)
        shifted_from = None
        if unit is Unit.WORKING_DAYS:
            d, counted = start, 0
            while counted < amount:
                d += one
                kind = self.day_kind(d)
                self._note(walk, d, kind)
                counted += kind.workday
            working_days: int | None = amount
        else:
            d = start + timedelta(days=amount)
            kind = self.day_kind(d)
            self._note(walk, d, kind)
            if not kind.workday:
                shifted_from = d  # Civil Code art. 203: a limit ending on a day off ends on the next working day
                while not kind.workday:
                    d += one
                    kind = self.day_kind(d)
                    self._note(walk, d, kind)
            working_days = None
        explanation = Explanation(
            start=start,
            unit=unit,
            amount=amount,
            due=d,
            working_days=working_days,
            skipped=tuple(walk.skipped),
            makeup_workdays=tuple(walk.makeup),
            shifted_from=shifted_from,
            uncovered_years=tuple(sorted(walk.uncovered)),
        )
        return Due(due=d, provisional=explanation.provisional, explanation=explanation)

    def working_days_between(self, a: date, b: date) -> int:
        """Count working days in (a, b]; negative when b is before a."""
        if b < a:
            return -self.working_days_between(b, a)
        self.day_kind(a)  # type check
        one = timedelta(days=1)
        count, d = 0, a
        while d < b:
            d += one
            count += self.day_kind(d).workday
        return count
