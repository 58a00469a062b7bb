"""Where an application goes: every row of DOMAIN.md's table, the invalid combinations, and the window."""

from __future__ import annotations

import csv
from datetime import date, timedelta
from pathlib import Path

import pytest

from portal.routing import (
    BureauRef,
    OpinionKind,
    Refusal,
    Route,
    days_since_receipt,
    is_late,
    route,
    window_due,
)
from portal.workdays import WorkdayCalendar
from portal.workflow import CaseKind

PROVINCE = BureauRef(1, "province", None, "吉林省社会保险局")
CITY = BureauRef(2, "city", 1, "长春市社会保险局")
COUNTY = BureauRef(3, "county", 2, "南关区社会保险局")
ZONE = BureauRef(4, "city", 1, "长白山保护开发区社会保险局")
# A county managed directly by the province.
DIRECT_COUNTY = BureauRef(5, "county", 1, "梅河口市社会保险局")

DIVISIONS = Path(__file__).resolve().parents[2] / "tenants" / "data" / "jilin-divisions.csv"


def test_county_handling_opinion_is_reviewed_by_its_city():
    assert route(COUNTY, OpinionKind.handling, CITY) == Route(CaseKind.review, CITY.id)


def test_city_review_opinion_is_re_reviewed_by_the_province():
    assert route(CITY, OpinionKind.review, PROVINCE) == Route(CaseKind.re_review, PROVINCE.id)
    assert route(ZONE, "review", PROVINCE) == Route(CaseKind.re_review, PROVINCE.id)


def test_city_handling_opinion_is_reviewed_by_the_province():
    assert route(CITY, OpinionKind.handling, PROVINCE) == Route(CaseKind.review, PROVINCE.id)
    assert route(ZONE, OpinionKind.handling, PROVINCE) == Route(CaseKind.review, PROVINCE.id)


def test_county_under_the_province_goes_to_the_province():
    assert route(DIRECT_COUNTY, OpinionKind.handling, PROVINCE) == Route(CaseKind.review, PROVINCE.id)
    assert route(DIRECT_COUNTY, OpinionKind.review, PROVINCE).code == "invalid"


@pytest.mark.parametrize("kind", [OpinionKind.handling, OpinionKind.review])
def test_province_opinions_go_to_the_committee(kind):
    refusal = route(PROVINCE, kind, None)
    assert isinstance(refusal, Refusal)
    assert refusal.code == "to_committee"
    assert "吉林省人民政府信访事项复查复核委员会" in refusal.message_zh
    assert "30日" in refusal.message_zh and "书面" in refusal.message_zh
    assert "30 days" in refusal.message_en and "writing" in refusal.message_en
    assert ("复核申请" if kind is OpinionKind.review else "复查申请") in refusal.message_zh


@pytest.mark.parametrize(("issuer", "parent"), [(COUNTY, CITY), (CITY, PROVINCE), (PROVINCE, None)])
def test_re_review_opinions_are_final(issuer, parent):
    refusal = route(issuer, OpinionKind.re_review, parent)
    assert refusal.code == "final"
    assert "同一事由和理由" in refusal.message_zh


@pytest.mark.parametrize(
    ("issuer", "kind", "parent"),
    [
        (COUNTY, OpinionKind.review, CITY),  # a county issues no review opinion
        (COUNTY, OpinionKind.handling, None),  # no parent configured
        (COUNTY, OpinionKind.handling, ZONE),  # not its parent
        (COUNTY, OpinionKind.handling, BureauRef(9, "county", 2, "朝阳区社会保险局")),  # not above it
        (BureauRef(6, "county", 3, "错配"), OpinionKind.handling, COUNTY),  # a county's parent is a county
        (CITY, OpinionKind.handling, None),
        (BureauRef(7, "city", 2, "错配"), OpinionKind.review, CITY),  # a city's parent must be the province
    ],
)
def test_invalid_combinations(issuer, kind, parent):
    refusal = route(issuer, kind, parent)
    assert isinstance(refusal, Refusal)
    assert refusal.code == "invalid"
    assert refusal.message_zh and refusal.message_en


def test_every_jilin_bureau_routes_to_its_parent():
    rows = list(csv.DictReader(DIVISIONS.open(encoding="utf-8")))
    refs = {}
    for number, row in enumerate(rows, start=1):
        refs[row["adcode"] or row["name"]] = (number, row)
    by_code = {}
    for key, (number, row) in refs.items():
        parent = refs.get(row["parent_adcode"])
        by_code[key] = BureauRef(number, row["level"], parent[0] if parent else None, row["name"])
    by_id = {ref.id: ref for ref in by_code.values()}
    counted = 0
    for ref in by_code.values():
        parent = by_id.get(ref.parent_id)
        result = route(ref, OpinionKind.handling, parent)
        if ref.level == "province":
            assert result.code == "to_committee"
            continue
        assert result == Route(CaseKind.review, parent.id)
        if ref.level == "city":
            assert route(ref, OpinionKind.review, parent) == Route(CaseKind.re_review, parent.id)
        counted += 1
    assert counted == len(rows) - 1


def test_the_window_is_30_days_from_receipt():
    cal = WorkdayCalendar()
    received = date(2024, 1, 31)
    assert days_since_receipt(received, received) == 0
    assert days_since_receipt(received, date(2024, 3, 1)) == 30
    assert not is_late(cal, received, received + timedelta(days=30))
    assert is_late(cal, received, received + timedelta(days=31))
    assert not is_late(cal, received, received + timedelta(days=40), window_days=60)


def test_the_window_moves_off_a_holiday_for_intake_and_escalation_alike():
    """One rule: a window whose 30th day is a day off ends on the next working day (National Day 2026)."""
    cal = WorkdayCalendar()
    # Received Tue 2026-09-01: the 30th day is Thu 10-01 (国庆节); 10-01..07 off, so the last day is Thu 10-08.
    assert window_due(cal, date(2026, 9, 1)).due == date(2026, 10, 8)
    assert not is_late(cal, date(2026, 9, 1), date(2026, 10, 8))
    assert is_late(cal, date(2026, 9, 1), date(2026, 10, 9))
    # Spring Festival 2027 (not published yet: statutory 02-05..08 off): received 01-06, the 30th day is Fri 02-05.
    due = window_due(cal, date(2027, 1, 6))
    assert (due.due, due.provisional) == (date(2027, 2, 9), True)
    assert not is_late(cal, date(2027, 1, 6), date(2027, 2, 9))
    # New Year 2027: received 2026-12-02, the 30th day is Fri 2027-01-01 (元旦): the last day is Mon 01-04.
    assert not is_late(cal, date(2026, 12, 2), date(2027, 1, 4))
    assert is_late(cal, date(2026, 12, 2), date(2027, 1, 5))
