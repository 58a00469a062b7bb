"""Tests for the working-day calendar.

Built-in 2026 data, as chinese_calendar 1.11.0 reports it (checked with get_holiday_detail):
- Spring Festival: days off 02-15 (Sun) .. 02-23 (Mon); make-up workdays Sat 02-14 and Sat 02-28.
- National Day: days off 10-01 (Thu) .. 10-07 (Wed); make-up workdays Sun 09-20 and Sat 10-10.
- Mid-autumn: days off 09-25 (Fri) .. 09-27 (Sun).
2027 is not covered by chinese_calendar 1.11.0.
"""

import json
from datetime import date, datetime
from pathlib import Path

import chinese_calendar
import pytest

from portal.workdays import (
    REASON_MAKEUP,
    REASON_WEEKEND,
    DayKind,
    Unit,
    WorkdayCalendar,
    YearFileError,
    YearTable,
    builtin_year_table,
    holiday_name_en,
    load_year_file,
    parse_year_file,
    statutory_year_table,
)

EXAMPLE_FILE = Path(__file__).resolve().parents[2] / "portal" / "holidays" / "example-2027.json"

WD = Unit.WORKING_DAYS
DAYS = Unit.DAYS


@pytest.fixture(scope="module")
def cal() -> WorkdayCalendar:
    return WorkdayCalendar()


def table_2027() -> YearTable:
    # A test table, not the official schedule: 2027-01-01 (Fri) off, Sat 2027-01-09 a make-up workday.
    return YearTable(
        year=2027,
        holidays={date(2027, 1, 1): "元旦"},
        workdays={date(2027, 1, 9): "元旦调休"},
        source="test table",
    )


def test_builtin_data_is_what_the_tests_assume():
    assert chinese_calendar.get_holiday_detail(date(2026, 10, 1)) == (True, "National Day")
    assert chinese_calendar.get_holiday_detail(date(2026, 10, 10)) == (False, "National Day")
    assert chinese_calendar.get_holiday_detail(date(2026, 2, 14)) == (False, "Spring Festival")
    with pytest.raises(NotImplementedError):
        chinese_calendar.is_workday(date(2027, 1, 4))
    t = builtin_year_table(2026)
    assert t is not None and t.year == 2026
    assert [d for d, n in sorted(t.holidays.items()) if n == "国庆节"] == [date(2026, 10, d) for d in range(1, 8)]
    assert t.workdays[date(2026, 10, 10)] == "国庆节调休"
    assert builtin_year_table(2027) is None


def test_covers(cal):
    assert cal.covers(2004) and cal.covers(2026)
    assert not cal.covers(2027) and not cal.covers(2003)
    assert WorkdayCalendar({2027: table_2027()}).covers(2027)
    assert not WorkdayCalendar(use_builtin=False).covers(2026)


def test_day_kind(cal):
    assert cal.day_kind(date(2026, 10, 1)) == DayKind(False, True, "国庆节")
    assert cal.day_kind(date(2026, 10, 3)) == DayKind(False, True, "国庆节")  # Saturday inside the block
    assert cal.day_kind(date(2026, 10, 10)) == DayKind(True, True, REASON_MAKEUP)  # Saturday
    assert cal.day_kind(date(2026, 10, 11)) == DayKind(False, True, REASON_WEEKEND)
    assert cal.day_kind(date(2026, 10, 12)) == DayKind(True, True, None)
    # uncovered year: statutory holidays and weekends, not known
    assert cal.day_kind(date(2027, 1, 1)) == DayKind(False, False, "元旦")
    assert cal.day_kind(date(2027, 1, 2)) == DayKind(False, False, REASON_WEEKEND)
    assert cal.day_kind(date(2027, 1, 4)) == DayKind(True, False, None)
    with pytest.raises(TypeError):
        cal.day_kind(datetime(2026, 10, 1, 9, 0))


def test_national_day_working_days(cal):
    # Start Wed 2026-09-30 (not counted). 10-01..10-07 off (7), 10-08 Thu #1, 10-09 Fri #2,
    # 10-10 Sat make-up #3, 10-11 Sun skip, 10-12..16 #4-#8, 10-17/18 skip, 10-19..23 #9-#13,
    # 10-24/25 skip, 10-26 #14, 10-27 #15.
    r = cal.add(date(2026, 9, 30), 15, WD)
    assert r.due == date(2026, 10, 27)
    assert not r.provisional
    e = r.explanation
    assert e.working_days == 15
    assert e.makeup_workdays == ((date(2026, 10, 10), "国庆节调休"),)
    assert [d for d, why in e.skipped if why == "国庆节"] == [date(2026, 10, d) for d in range(1, 8)]
    assert [d for d, why in e.skipped if why == REASON_WEEKEND] == [
        date(2026, 10, 11),
        date(2026, 10, 17),
        date(2026, 10, 18),
        date(2026, 10, 24),
        date(2026, 10, 25),
    ]
    assert e.text("zh") == (
        "自2026年9月30日起算15个工作日，跳过周末5天、节假日（国庆节）7天，"
        "计入调休工作日1天（10月10日），于2026年10月27日届满。"
    )
    assert e.text("en") == (
        "15 working days from 2026-09-30, skipping 5 weekend days and 7 days of public holiday "
        "(National Day), counting 1 make-up working day (2026-10-10): due 2026-10-27."
    )


def test_make_up_sunday_is_counted(cal):
    # Fri 2026-09-18 + 1 working day: Sat 09-19 is a weekend, Sun 09-20 is a make-up workday.
    r = cal.add(date(2026, 9, 18), 1, WD)
    assert r.due == date(2026, 9, 20)
    assert r.explanation.skipped == ((date(2026, 9, 19), REASON_WEEKEND),)
    assert r.explanation.makeup_workdays == ((date(2026, 9, 20), "国庆节调休"),)
    # Without the make-up day it would have been Mon 09-21: the plain weekday rule gives that.
    assert WorkdayCalendar(use_builtin=False).add(date(2026, 9, 18), 1, WD).due == date(2026, 9, 21)


def test_spring_festival_working_days(cal):
    # Start Fri 2026-02-13. Sat 02-14 make-up #1, 02-15..23 off (9), 02-24..27 #2-#5.
    r = cal.add(date(2026, 2, 13), 5, WD)
    assert r.due == date(2026, 2, 27)
    assert len(r.explanation.skipped) == 9
    assert {why for _, why in r.explanation.skipped} == {"春节"}
    # Start Thu 2026-02-12, 15 working days: 02-13 #1, Sat 02-14 #2, 02-15..23 off, 02-24..27 #3-#6,
    # Sat 02-28 make-up #7, Sun 03-01 skip, 03-02..06 #8-#12, 03-07/08 skip, 03-09 #13, 03-10 #14, 03-11 #15.
    r = cal.add(date(2026, 2, 12), 15, WD)
    assert r.due == date(2026, 3, 11)
    assert [d for d, _ in r.explanation.makeup_workdays] == [date(2026, 2, 14), date(2026, 2, 28)]
    assert r.explanation.text() == (
        "自2026年2月12日起算15个工作日，跳过周末3天、节假日（春节）9天，"
        "计入调休工作日2天（2月14日、2月28日），于2026年3月11日届满。"
    )


def test_weekend_skipping(cal):
    # Fri 2026-03-13 + 2 working days: Sat/Sun skipped, Mon 03-16 #1, Tue 03-17 #2.
    r = cal.add(date(2026, 3, 13), 2, WD)
    assert r.due == date(2026, 3, 17)
    assert r.explanation.skipped == ((date(2026, 3, 14), REASON_WEEKEND), (date(2026, 3, 15), REASON_WEEKEND))
    assert r.explanation.text() == "自2026年3月13日起算2个工作日，跳过周末2天，于2026年3月17日届满。"
    # The start day is not counted even when it is a working day: Mon + 1 = Tue.
    assert cal.add(date(2026, 3, 16), 1, WD).due == date(2026, 3, 17)
    assert cal.add(date(2026, 3, 16), 1, "working_days").due == date(2026, 3, 17)


def test_days_rule_moves_off_a_holiday(cal):
    # 2026-09-24 + 7 calendar days = Thu 10-01, a holiday; 10-01..07 off, next working day Thu 10-08.
    r = cal.add(date(2026, 9, 24), 7, DAYS)
    assert r.due == date(2026, 10, 8)
    e = r.explanation
    assert e.shifted_from == date(2026, 10, 1)
    assert e.working_days is None
    assert [d for d, _ in e.skipped] == [date(2026, 10, d) for d in range(1, 8)]
    assert (
        e.text("zh") == "自2026年9月24日起算7日，期满日2026年10月1日为节假日（国庆节），依法顺延至2026年10月8日届满。"
    )
    assert e.text("en") == (
        "7 days from 2026-09-24 end on 2026-10-01, a public holiday (National Day), "
        "so the limit moves to the next working day: due 2026-10-08."
    )


def test_days_rule_weekend_makeup_and_plain(cal):
    # Fri 2026-03-06 + 1 day = Sat 03-07 -> Mon 03-09.
    r = cal.add(date(2026, 3, 6), 1, DAYS)
    assert (r.due, r.explanation.shifted_from) == (date(2026, 3, 9), date(2026, 3, 7))
    assert "期满日2026年3月7日为周末" in r.explanation.text()
    # 2026-10-03 + 7 days = Sat 10-10, a make-up workday: no move.
    r = cal.add(date(2026, 10, 3), 7, DAYS)
    assert (r.due, r.explanation.shifted_from) == (date(2026, 10, 10), None)
    assert r.explanation.text() == "自2026年10月3日起算7日，于2026年10月10日（调休工作日）届满。"
    # Mon 2026-03-02 + 3 days = Thu 03-05, a working day; days in between do not matter.
    r = cal.add(date(2026, 3, 2), 3, DAYS)
    assert (r.due, r.explanation.skipped) == (date(2026, 3, 5), ())
    assert r.explanation.text("en") == "3 days from 2026-03-02: due 2026-03-05."


def test_amount_must_be_positive(cal):
    with pytest.raises(ValueError):
        cal.add(date(2026, 3, 2), 0, WD)
    with pytest.raises(ValueError):
        cal.add(date(2026, 3, 2), -1, DAYS)
    with pytest.raises(ValueError):
        cal.add(date(2026, 3, 2), 1, "weeks")


def test_crossing_into_uncovered_year_is_provisional_then_recomputed(cal):
    # Thu 2026-12-17 + 15 working days, 2027 unknown (statutory holidays, provisional):
    # 12-18 #1, 12-21..25 #2-#6, 12-28..31 #7-#10, Fri 2027-01-01 元旦 off, 01-04..08 #11-#15.
    r = cal.add(date(2026, 12, 17), 15, WD)
    assert r.due == date(2027, 1, 8)
    assert r.provisional
    assert r.explanation.uncovered_years == (2027,)
    assert r.explanation.text() == (
        "自2026年12月17日起算15个工作日，跳过周末6天、节假日（元旦）1天，于2027年1月8日届满。"
        "2027年节假日安排尚未录入，暂按《全国年节及纪念日放假办法》规定的法定节假日和周末计算（不含调休），"
        "录入后将重新计算。"
    )
    assert r.explanation.text("en").endswith(
        "due 2027-01-08. The holiday schedule has not been loaded for 2027: "
        "counted with the statutory public holidays and weekends for now (no make-up days), "
        "to be recomputed once loaded."
    )
    # With 2027 loaded, 01-01 is off: 01-04..08 are #11-#15.
    loaded = cal.with_table(table_2027())
    r2 = loaded.add(date(2026, 12, 17), 15, WD)
    assert r2.due == date(2027, 1, 8)
    assert not r2.provisional
    assert (date(2027, 1, 1), "元旦") in r2.explanation.skipped
    assert "尚未录入" not in r2.explanation.text()
    # The original calendar is unchanged.
    assert cal.add(date(2026, 12, 17), 15, WD).provisional


def test_an_unpublished_year_counts_the_statutory_holidays_provisionally(cal):
    """《全国年节及纪念日放假办法》 (2024): lunar dates computed, weekends off, no make-up days, provisional."""
    table = statutory_year_table(2027)
    assert table.workdays == {}
    by_name: dict[str, list[date]] = {}
    for d, name in sorted(table.holidays.items()):
        by_name.setdefault(name, []).append(d)
    assert by_name == {
        "元旦": [date(2027, 1, 1)],
        # 正月初一 is Sat 2027-02-06: 除夕 Fri 02-05 to 初三 Mon 02-08.
        "春节": [date(2027, 2, 5), date(2027, 2, 6), date(2027, 2, 7), date(2027, 2, 8)],
        "清明节": [date(2027, 4, 5)],
        "劳动节": [date(2027, 5, 1), date(2027, 5, 2)],
        "端午节": [date(2027, 6, 9)],
        "中秋节": [date(2027, 9, 15)],
        "国庆节": [date(2027, 10, 1), date(2027, 10, 2), date(2027, 10, 3)],
    }
    # The 2024 revision gives 13 days; the published 2025 and 2026 schedules have them all among their days off.
    assert len(statutory_year_table(2026).holidays) == 13
    assert set(statutory_year_table(2025).holidays) <= set(builtin_year_table(2025).holidays)
    assert set(statutory_year_table(2026).holidays) <= set(builtin_year_table(2026).holidays)
    # Working days across Spring Festival 2027: Thu 02-04 + 1 -> Tue 02-09 (02-05..08 off), provisional.
    r = cal.add(date(2027, 2, 4), 1, WD)
    assert (r.due, r.provisional) == (date(2027, 2, 9), True)
    assert [n for _, n in r.explanation.skipped] == ["春节", "春节", "春节", "春节"]
    # National Day 2027: Thu 09-30 + 1 working day -> Mon 10-04 (10-01..03 off; no bridge days assumed).
    assert cal.add(date(2027, 9, 30), 1, WD).due == date(2027, 10, 4)
    # A 30-day limit ending on 2027-10-02 moves to Mon 10-04.
    assert cal.add(date(2027, 9, 2), 30, DAYS).due == date(2027, 10, 4)
    # A loaded year replaces the statutory estimate entirely (the test table has only 元旦 off).
    loaded = cal.with_table(table_2027())
    assert (loaded.add(date(2027, 2, 4), 1, WD).due, loaded.add(date(2027, 2, 4), 1, WD).provisional) == (
        date(2027, 2, 5),
        False,
    )


def test_makeup_day_from_loaded_table(cal):
    # Fri 2027-01-08 + 1 working day: Sat 01-09 is a make-up workday in the test table.
    loaded = cal.with_table(table_2027())
    r = loaded.add(date(2027, 1, 8), 1, WD)
    assert r.due == date(2027, 1, 9)
    assert r.explanation.makeup_workdays == ((date(2027, 1, 9), "元旦调休"),)
    assert "counting 1 make-up working day (2027-01-09)" in r.explanation.text("en")
    assert cal.add(date(2027, 1, 8), 1, WD).due == date(2027, 1, 11)


def test_days_rule_in_uncovered_year(cal):
    # 2026-12-25 + 7 days = Fri 2027-01-01, 元旦 by the statutory rule: moves to Mon 01-04, provisional.
    r = cal.add(date(2026, 12, 25), 7, DAYS)
    assert (r.due, r.provisional, r.explanation.shifted_from) == (date(2027, 1, 4), True, date(2027, 1, 1))
    # Loaded: 01-01 off, 01-02/03 weekend -> Mon 01-04.
    r2 = cal.with_table(table_2027()).add(date(2026, 12, 25), 7, DAYS)
    assert (r2.due, r2.provisional, r2.explanation.shifted_from) == (
        date(2027, 1, 4),
        False,
        date(2027, 1, 1),
    )
    assert "节假日（元旦）" in r2.explanation.text()
    assert "a public holiday (New Year's Day)" in r2.explanation.text("en")


def test_provisional_only_when_an_uncovered_day_is_examined(cal):
    # Entirely inside 2026 -> not provisional, even though 2027 is unknown.
    assert not cal.add(date(2026, 12, 1), 5, WD).provisional
    # Without built-in data every year is uncovered.
    assert WorkdayCalendar(use_builtin=False).add(date(2026, 3, 2), 1, WD).explanation.uncovered_years == (2026,)


def test_loaded_table_overrides_builtin():
    # A (deliberately wrong) 2026 table without National Day: 10-01 becomes an ordinary Thursday.
    table = YearTable(2026, {date(2026, 1, 1): "元旦"}, {}, source="override")
    cal = WorkdayCalendar({2026: table})
    assert cal.table_for(2026) is table
    assert cal.add(date(2026, 9, 30), 1, WD).due == date(2026, 10, 1)
    assert cal.day_kind(date(2026, 10, 10)) == DayKind(False, True, REASON_WEEKEND)  # no make-up day any more
    assert WorkdayCalendar().add(date(2026, 9, 30), 1, WD).due == date(2026, 10, 8)
    with pytest.raises(ValueError):
        WorkdayCalendar({2025: table})


def test_working_days_between(cal):
    assert cal.working_days_between(date(2026, 9, 30), date(2026, 10, 27)) == 15
    assert cal.working_days_between(date(2026, 10, 27), date(2026, 9, 30)) == -15
    assert cal.working_days_between(date(2026, 10, 27), date(2026, 10, 27)) == 0
    assert cal.working_days_between(date(2026, 10, 9), date(2026, 10, 10)) == 1  # make-up Saturday
    assert cal.working_days_between(date(2026, 10, 10), date(2026, 10, 11)) == 0  # Sunday
    assert cal.working_days_between(date(2026, 9, 30), date(2026, 10, 7)) == 0  # holiday week
    for start in (date(2026, 1, 30), date(2026, 2, 10), date(2026, 4, 30), date(2026, 9, 15)):
        for n in (1, 2, 5, 15, 30):
            assert cal.working_days_between(start, cal.add(start, n, WD).due) == n


def test_explanation_as_dict_is_json(cal):
    r = cal.add(date(2026, 12, 17), 15, WD)
    d = json.loads(json.dumps(r.explanation.as_dict()))
    assert d["start"] == "2026-12-17" and d["due"] == "2027-01-08"
    assert d["unit"] == "working_days" and d["amount"] == 15
    assert d["provisional"] is True and d["uncovered_years"] == [2027]
    assert {"date": "2026-12-19", "reason": "weekend"} in d["skipped"]
    assert len(d["skipped"]) == 7  # complete, unlike the text
    d = cal.add(date(2026, 9, 24), 7, DAYS).explanation.as_dict()
    assert d["shifted_from"] == "2026-10-01" and d["working_days"] is None
    assert d["skipped"][0] == {"date": "2026-10-01", "reason": "国庆节"}


def test_holiday_name_en():
    assert holiday_name_en("国庆节") == "National Day"
    assert holiday_name_en("清明") == "Tomb-sweeping Day"
    assert holiday_name_en("春节调休") == "Spring Festival make-up workday"
    assert holiday_name_en("某纪念日") == "某纪念日"


# --- year files ---------------------------------------------------------------------------------------

GOOD_JSON = {
    "year": 2027,
    "source": "test notice",
    "holidays": [{"date": "2027-01-01", "name": "元旦"}, {"date": "2027-02-06", "name": "春节"}],
    "workdays": [{"date": "2027-02-20", "name": "春节调休"}],
}

GOOD_CSV = """# source: test notice
date,kind,name
2027-01-01,holiday,元旦
2027-02-06,holiday,春节
2027-02-20,workday,春节调休
"""


def json_with(**changes) -> str:
    return json.dumps(GOOD_JSON | changes, ensure_ascii=False)


def test_parse_json_and_csv_agree():
    a = parse_year_file(json_with(), "json")
    b = parse_year_file(GOOD_CSV, "csv")
    assert a == b
    assert a.year == 2027 and a.source == "test notice"
    assert a.holidays == {date(2027, 1, 1): "元旦", date(2027, 2, 6): "春节"}
    assert a.workdays == {date(2027, 2, 20): "春节调休"}
    assert parse_year_file(json.dumps(a.as_dict()), "json") == a
    assert parse_year_file("\ufeff" + GOOD_CSV.replace("\n", "\r\n"), "csv") == a  # Excel BOM and CRLF


def test_example_file_is_marked_and_loads():
    t = load_year_file(EXAMPLE_FILE)
    assert t.year == 2027
    assert t.source == "EXAMPLE ONLY - not the official schedule"
    assert t.is_example
    assert not parse_year_file(json_with(), "json").is_example


def test_load_year_file(tmp_path):
    p = tmp_path / "2027.csv"
    p.write_text(GOOD_CSV.split("\n", 1)[1], encoding="utf-8")  # no source comment
    assert load_year_file(p).source == "2027.csv"
    p = tmp_path / "2027.JSON"
    p.write_text(json_with(), encoding="utf-8")
    assert load_year_file(p).source == "test notice"
    p = tmp_path / "2027.txt"
    p.write_text(GOOD_CSV, encoding="utf-8")
    with pytest.raises(YearFileError, match="无法识别的文件类型"):
        load_year_file(p)


def csv_error(text: str) -> YearFileError:
    with pytest.raises(YearFileError) as info:
        parse_year_file(text, "csv")
    return info.value


def json_error(text: str) -> YearFileError:
    with pytest.raises(YearFileError) as info:
        parse_year_file(text, "json")
    return info.value


def assert_bilingual(err: YearFileError, zh: str, en: str) -> None:
    msg = str(err)
    assert zh in err.zh and en in err.en, msg
    assert msg.index(err.zh) < msg.index(err.en)  # Chinese first


HEAD = "date,kind,name\n2027-01-01,holiday,元旦\n"


@pytest.mark.parametrize(
    "text, zh, en",
    [
        (HEAD + "2027-02-30,holiday,春节\n", "第3行：日期“2027-02-30”无效", "Line 3: invalid date"),
        (HEAD + "2027/02/06,holiday,春节\n", "第3行：日期“2027/02/06”无效", "Line 3: invalid date"),
        (HEAD + "20270206,holiday,春节\n", "第3行：日期“20270206”无效", "Line 3: invalid date"),
        (
            HEAD + "2028-02-06,holiday,春节\n",
            "第3行：日期 2028-02-06 不在 2027 年内",
            "outside the year 2027",
        ),
        (
            HEAD + "2027-01-01,holiday,元旦\n",
            "第3行：日期 2027-01-01 重复列出",
            "Line 3: date 2027-01-01 is listed twice",
        ),
        (
            HEAD + "2027-01-01,workday,x\n",
            "同时被列为节假日和调休工作日",
            "both as a holiday and as a make-up",
        ),
        (
            HEAD + "2027-02-22,workday,春节调休\n",
            "第3行：调休工作日 2027-02-22 不是星期六或星期日",
            "not a Saturday",
        ),
        (HEAD + "2027-02-06,vacation,春节\n", "第3行：类型“vacation”未知", "Line 3: unknown kind 'vacation'"),
        (HEAD + "2027-02-06,holiday,\n", "第3行：名称不能为空", "Line 3: the name is empty"),
        (HEAD + "2027-02-06,holiday\n", "第3行：应有 3 列", "Line 3: expected 3 columns"),
        ("# source: x\ndate,name\n2027-01-01,元旦\n", "第2行：表头应为 date,kind,name", "Line 2: the header"),
        ("", "文件为空", "The file is empty"),
        ("  \n\n", "文件为空", "The file is empty"),
        ("# source: x\n", "文件为空", "The file is empty"),
        ("date,kind,name\n", "文件中没有任何日期", "The file lists no dates"),
        ("date,kind,name\n2027-02-20,workday,春节调休\n", "没有任何节假日", "no holidays"),
    ],
)
def test_csv_errors(text, zh, en):
    assert_bilingual(csv_error(text), zh, en)


def test_csv_year_comes_from_first_date():
    err = csv_error("date,kind,name\n2026-12-31,holiday,x\n2027-01-01,holiday,元旦\n")
    assert_bilingual(err, "第3行：日期 2027-01-01 不在 2026 年内", "Line 3")


@pytest.mark.parametrize(
    "text, zh, en",
    [
        (
            json_with(holidays=[{"date": "2027-13-01", "name": "x"}]),
            "holidays 第1项：日期“2027-13-01”无效",
            "invalid",
        ),
        (
            json_with(holidays=[{"date": 20270101, "name": "x"}]),
            "holidays 第1项：日期“20270101”无效",
            "invalid",
        ),
        (
            json_with(holidays=[{"date": "2027-01-01", "name": "元旦"}, {"date": "2026-12-31", "name": "x"}]),
            "holidays 第2项：日期 2026-12-31 不在 2027 年内",
            "holidays entry 2: date 2026-12-31 is outside the year 2027",
        ),
        (
            json_with(holidays=[{"date": "2027-01-01", "name": "元旦"}, {"date": "2027-01-01", "name": "元旦"}]),
            "holidays 第2项：日期 2027-01-01 重复列出",
            "listed twice",
        ),
        (
            json_with(workdays=[{"date": "2027-01-01", "name": "x"}]),
            "workdays 第1项：日期 2027-01-01 同时被列为节假日和调休工作日",
            "both as a holiday and as a make-up workday",
        ),
        (
            json_with(workdays=[{"date": "2027-02-19", "name": "春节调休"}]),
            "workdays 第1项：调休工作日 2027-02-19 不是星期六或星期日",
            "workdays entry 1: make-up workday 2027-02-19 is not a Saturday or Sunday",
        ),
        (
            json.dumps({"year": 2027, "source": "x", "holidays": []}),
            "缺少字段：workdays",
            "Missing keys: workdays",
        ),
        (json_with(holidays=[{"date": "2027-01-01"}]), "holidays 第1项：缺少字段 name", "missing keys name"),
        (
            json_with(holidays=[{"date": "2027-01-01", "name": "元旦", "kind": "x"}]),
            "未知字段 kind",
            "unknown keys",
        ),
        (json_with(holiday=[]), "未知字段：holiday", "Unknown keys: holiday"),
        (
            json_with(holidays=[{"date": "2027-01-01", "name": " "}]),
            "holidays 第1项：名称不能为空",
            "name is empty",
        ),
        (json_with(year="2027"), "year 字段“2027”不是有效年份", "not a valid year"),
        (json_with(source=""), "source 字段必须填写", "The source must"),
        (json_with(holidays={}), "holidays 字段必须是数组", "must be a list"),
        (json_with(holidays=[]), "没有任何节假日", "no holidays"),
        ("[]", "JSON 顶层必须是对象", "must be an object"),
        ('{"year": 2027,', "JSON 格式错误（第1行", "Invalid JSON at line 1"),
        ("", "文件为空", "The file is empty"),
    ],
)
def test_json_errors(text, zh, en):
    assert_bilingual(json_error(text), zh, en)


def test_year_table_checks_itself():
    with pytest.raises(ValueError):
        YearTable(2027, {date(2026, 1, 1): "元旦"}, {}, "x")
    with pytest.raises(ValueError):
        YearTable(2027, {date(2027, 1, 2): "元旦"}, {date(2027, 1, 2): "x"}, "x")
    with pytest.raises(ValueError):
        YearTable(2027, {}, {date(2027, 1, 4): "x"}, "x")  # a Monday


def test_unknown_format():
    with pytest.raises(ValueError):
        parse_year_file(GOOD_CSV, "xlsx")  # type: ignore[arg-type]
