"""Deadlines as the database layer stores them: working days, days, holidays, make-up days, provisional years.

Every expected date below is counted by hand in the comment next to it, from the State Council's 2026 schedule
(chinese_calendar 1.11): National Day 10-01..10-07 with make-up working days Sun 09-20 and Sat 10-10; Spring
Festival 02-15..02-23 with make-up working days Sat 02-14 and Sat 02-28. "Days" limits that end on a day off
move to the next working day; the start day is never counted.
"""

from __future__ import annotations

import json
from datetime import date

import pytest
from sqlalchemy import select

from portal.cases.calendar import CalendarLoadError, get_calendar, load_year, seed_step_rules
from portal.cases.models import Deadline, StepRuleRow
from portal.cases.operations import recompute_provisional_deadlines
from portal.workflow import DEFAULT_STEP_RULES, CaseState, Step
from tenants.scoping import system_scope
from tests.portal.cases.conftest import (
    PETITIONER,
    act,
    case_deadlines,
    drive,
    load_case,
    open_deadline,
    submit,
    transfer,
)

EXAMPLE_2027 = "portal/holidays/example-2027.json"

# A hand-made 2027 table for the tests (NOT the official schedule): New Year's Day on Fri 01-01, two days off
# on Mon 01-18 and Tue 01-19, and Sat 01-16 as their make-up working day.
TEST_2027 = {
    "year": 2027,
    "source": "测试用2027年节假日安排（非官方）",
    "holidays": [
        {"date": "2027-01-01", "name": "元旦"},
        {"date": "2027-01-18", "name": "测试假日"},
        {"date": "2027-01-19", "name": "测试假日"},
    ],
    "workdays": [{"date": "2027-01-16", "name": "测试假日调休"}],
}


def _dates(pairs) -> list[str]:
    return [p["date"] for p in pairs]


def test_national_day_2026(dbs, pii, city):
    # Received Mon 09-28. 15 working days: 09-29 (1), 09-30 (2), [10-01..10-07 National Day], 10-08 (3), 10-09 (4),
    # Sat 10-10 make-up (5), [Sun 10-11], 10-12..10-16 (6-10), [10-17, 10-18], 10-19..10-23 (11-15): Fri 10-23.
    submission = submit(dbs, pii, today=date(2026, 9, 28))
    case_id = submission.case.id
    assert submission.acceptance_due == date(2026, 10, 23)
    acceptance = open_deadline(dbs, case_id, "acceptance")
    assert (acceptance.due_on, acceptance.provisional, acceptance.started_on) == (
        date(2026, 10, 23),
        False,
        date(2026, 9, 28),
    )
    explanation = acceptance.explanation
    assert (explanation["unit"], explanation["amount"], explanation["ref"]) == ("working_days", 15, "§四.1")
    holidays = [s["date"] for s in explanation["skipped"] if s["reason"] == "国庆节"]
    assert holidays == [f"2026-10-0{d}" for d in range(1, 8)]
    assert [s["date"] for s in explanation["skipped"] if s["reason"] == "weekend"] == [
        "2026-10-11",
        "2026-10-17",
        "2026-10-18",
    ]
    assert _dates(explanation["makeup_workdays"]) == ["2026-10-10"]

    # Accepted Wed 09-30. Slip: 1 day -> Thu 10-01, a holiday: moves to the next working day, Thu 10-08.
    # Whole review: 30 working days: 10-08 (1), 10-09 (2), 10-10 (3), 10-12..16 (4-8), 10-19..23 (9-13),
    # 10-26..30 (14-18), 11-02..06 (19-23), 11-09..13 (24-28), 11-16 (29), 11-17 (30): Tue 11-17.
    act(dbs, pii, city.clerk, case_id, "accept", today=date(2026, 9, 30))
    slip = open_deadline(dbs, case_id, "slip")
    assert (slip.due_on, slip.explanation["shifted_from"]) == (date(2026, 10, 8), "2026-10-01")
    assert slip.explanation["unit"] == "days" and slip.owed_by == "petition_office"
    assert slip.owed_unit_id == city.office_unit
    whole = open_deadline(dbs, case_id, "whole_review")
    assert (whole.due_on, whole.owed_by, whole.owed_bureau_id) == (date(2026, 11, 17), "bureau", city.bureau_id)
    assert _dates(whole.explanation["makeup_workdays"]) == ["2026-10-10"]
    closed = [d for d in case_deadlines(dbs, case_id) if d.step == Step.acceptance]
    assert closed[0].closed_at is not None and closed[0].close_reason == "accept"


def test_spring_festival_2026(dbs, pii, city):
    # Received Thu 02-12. 15 working days: 02-13 (1), Sat 02-14 make-up (2), [02-15..02-23 Spring Festival],
    # 02-24..02-27 (3-6), Sat 02-28 make-up (7), [Sun 03-01], 03-02..03-06 (8-12), [03-07, 03-08], 03-09 (13),
    # 03-10 (14), 03-11 (15): Wed 03-11.
    submission = submit(dbs, pii, today=date(2026, 2, 12), issued_on=date(2026, 1, 20), received_on=date(2026, 1, 22))
    case_id = submission.case.id
    acceptance = open_deadline(dbs, case_id, "acceptance")
    assert acceptance.due_on == date(2026, 3, 11)
    assert _dates(acceptance.explanation["makeup_workdays"]) == ["2026-02-14", "2026-02-28"]
    assert len([s for s in acceptance.explanation["skipped"] if s["reason"] == "春节"]) == 9

    # Accepted on Sat 02-14, a make-up working day. Slip: 1 day -> Sun 02-15, Spring Festival: moves to the
    # first working day after the holiday, Tue 02-24.
    act(dbs, pii, city.clerk, case_id, "accept", today=date(2026, 2, 14))
    slip = open_deadline(dbs, case_id, "slip")
    assert (slip.due_on, slip.explanation["shifted_from"]) == (date(2026, 2, 24), "2026-02-15")
    # Whole review from Sat 02-14: [02-15..02-23], 02-24..27 (1-4), 02-28 (5), 03-02..06 (6-10), 03-09..13
    # (11-15), 03-16..20 (16-20), 03-23..27 (21-25), 03-30..04-03 (26-30): Fri 04-03 (Qingming starts 04-04).
    assert open_deadline(dbs, case_id, "whole_review").due_on == date(2026, 4, 3)


def test_weekends_in_days_and_working_days(dbs, pii, city):
    case_id = submit(dbs, pii, today=date(2026, 10, 30)).case.id
    act(dbs, pii, city.clerk, case_id, "accept", today=date(2026, 10, 30))
    # Slip submitted Mon 11-02: instruction within 5 days -> Sat 11-07, a weekend day: Mon 11-09.
    act(
        dbs,
        pii,
        city.clerk,
        case_id,
        "submit_slip",
        today=date(2026, 11, 2),
        proposal="交养老保险处。",
        complexity="complex",
        lead_unit_id=city.pension_unit,
    )
    instruction = open_deadline(dbs, case_id, "instruction")
    assert (instruction.due_on, instruction.explanation["shifted_from"]) == (date(2026, 11, 9), "2026-11-07")
    assert instruction.owed_by == "approver" and instruction.owed_user_id == city.petitions_leader.id
    # Instructed Fri 11-06: hand-over within 1 day -> Sat 11-07: Mon 11-09.
    act(dbs, pii, city.petitions_leader, case_id, "instruct", today=date(2026, 11, 6), instruction="同意。")
    assert open_deadline(dbs, case_id, "dispatch").due_on == date(2026, 11, 9)
    # Dispatched Mon 11-09: 15 working days: 11-10..13 (1-4), 11-16..20 (5-9), 11-23..27 (10-14), 11-30 (15).
    act(dbs, pii, city.clerk, case_id, "dispatch", today=date(2026, 11, 9), note="已交办。")
    review = open_deadline(dbs, case_id, "division_review")
    assert (review.due_on, review.owed_by, review.owed_unit_id) == (
        date(2026, 11, 30),
        "handling_unit",
        city.pension_unit,
    )
    assert [s["reason"] for s in review.explanation["skipped"]] == ["weekend"] * 6
    # Opinion on Fri 11-27: the business leader approves within 2 working days: Mon 11-30 (1), Tue 12-01 (2).
    act(
        dbs,
        pii,
        city.division,
        case_id,
        "submit_opinion",
        today=date(2026, 11, 27),
        opinion="原意见正确。",
        needs_approval=True,
    )
    approval = open_deadline(dbs, case_id, "approval")
    assert (approval.due_on, approval.owed_user_id) == (date(2026, 12, 1), city.business_leader.id)
    assert not [d for d in case_deadlines(dbs, case_id) if d.provisional]


def test_the_time_limit_table_is_read_from_the_database(dbs, pii, city):
    """A deployment changes a limit in ``step_rules``; new clocks follow it, without code."""
    with system_scope(dbs):
        assert seed_step_rules(dbs) == len(DEFAULT_STEP_RULES)
        assert seed_step_rules(dbs) == 0  # safe to repeat
        dbs.scalar(select(StepRuleRow).where(StepRuleRow.step == Step.acceptance)).amount = 10
        dbs.commit()
    # Received Mon 09-28, 10 working days: 09-29, 09-30, 10-08, 10-09, 10-10, 10-12..16: Fri 10-16.
    assert submit(dbs, pii, today=date(2026, 9, 28)).acceptance_due == date(2026, 10, 16)


# --- 2027: provisional, then recomputed ---------------------------------------------------------------------


@pytest.fixture
def year_2027(tmp_path):
    path = tmp_path / "2027.json"
    path.write_text(json.dumps(TEST_2027, ensure_ascii=False), encoding="utf-8")
    return path


def test_recomputing_a_provisional_deadline_moves_the_cases_next_due_with_it(dbs, pii, city, year_2027):
    # Received Thu 2026-12-31: the acceptance clock (the only one staff owe) ends in unloaded 2027, provisional.
    case_id = submit(dbs, pii, today=date(2026, 12, 31)).case.id
    acceptance = open_deadline(dbs, case_id, "acceptance")
    assert acceptance.provisional
    assert (load_case(dbs, case_id).next_due_on, load_case(dbs, case_id).next_due_step) == (
        acceptance.due_on,
        Step.acceptance,
    )
    with system_scope(dbs):
        load_year(dbs, str(year_2027))
        recompute_provisional_deadlines(dbs)
        dbs.commit()
    # With the test table: 01-04..08 (1-5), 01-11..15 (6-10), Sat 01-16 make-up (11), [01-18, 01-19],
    # 01-20..22 (12-14), Mon 01-25 (15).
    assert open_deadline(dbs, case_id, "acceptance").due_on == date(2027, 1, 25)
    assert load_case(dbs, case_id).next_due_on == date(2027, 1, 25)


def test_a_deadline_in_an_unloaded_year_is_provisional_and_recomputed_when_it_is_loaded(
    dbs, pii, city, province, year_2027
):
    assert not get_calendar(dbs).covers(2027)
    # A: accepted Tue 2026-12-15. 30 working days: 12-16..18 (1-3), 12-21..25 (4-8), 12-28..31 (9-12); 2027 is not
    # covered, so its statutory holidays count: [Fri 01-01 元旦], 01-04..08 (13-17), 01-11..15 (18-22),
    # 01-18..22 (23-27), 01-25..27 (28-30): Wed 2027-01-27, provisional.
    plain = submit(dbs, pii, today=date(2026, 12, 14)).case.id
    act(dbs, pii, city.clerk, plain, "accept", today=date(2026, 12, 15))
    whole = open_deadline(dbs, plain, "whole_review")
    assert (whole.due_on, whole.provisional) == (date(2027, 1, 27), True)
    assert whole.explanation["uncovered_years"] == [2027] and whole.explanation["provisional"] is True
    slip = open_deadline(dbs, plain, "slip")
    assert (slip.due_on, slip.provisional) == (date(2026, 12, 16), False)

    # B: the same, extended by 30 days: 2027-01-27 + 30 days = Fri 2027-02-26, provisional too.
    extended = submit(dbs, pii, today=date(2026, 12, 14)).case.id
    act(dbs, pii, city.clerk, extended, "accept", today=date(2026, 12, 15))
    act(dbs, pii, city.clerk, extended, "request_extension", today=date(2026, 12, 15), days=30, reason="r")
    act(dbs, pii, city.petitions_leader, extended, "approve_extension", today=date(2026, 12, 15))
    long = open_deadline(dbs, extended, "whole_review")
    assert (long.due_on, long.provisional, long.extended_days) == (date(2027, 2, 26), True, 30)

    # C: a committee transfer at the province, registered Mon 2026-12-21: 12-22..25 (1-4), 12-28..31 (5-8),
    # [01-01], 01-04..08 (9-13), 01-11..15 (14-18), 01-18..22 (19-23), 01-25..29 (24-28), 02-01..02 (29-30).
    transferred = transfer(dbs, pii, province, today=date(2026, 12, 21)).case.id
    assert open_deadline(dbs, transferred, "whole_review").due_on == date(2027, 2, 2)

    # The example file is not a schedule: refused, nothing stored, nothing recomputed.
    with system_scope(dbs), pytest.raises(CalendarLoadError):
        load_year(dbs, EXAMPLE_2027)
    assert not get_calendar(dbs).covers(2027)

    with system_scope(dbs):
        table = load_year(dbs, str(year_2027))
        changed = recompute_provisional_deadlines(dbs)
        dbs.commit()
    assert table.year == 2027 and get_calendar(dbs).covers(2027)
    assert changed == 3

    # A with the 2027 table: ...12-28..31 (9-12), [01-01 元旦], 01-04..08 (13-17), 01-11..15 (18-22), Sat 01-16
    # make-up (23), [01-18, 01-19], 01-20..22 (24-26), 01-25..28 (27-30): Thu 2027-01-28, no longer provisional.
    whole = open_deadline(dbs, plain, "whole_review")
    assert (whole.due_on, whole.provisional) == (date(2027, 1, 28), False)
    assert whole.explanation["recomputed"] is True and whole.explanation["uncovered_years"] == []
    assert whole.explanation["due"] == "2027-01-28" and whole.explanation["ref"] == "§三"
    assert _dates(whole.explanation["makeup_workdays"]) == ["2027-01-16"]
    # B: 2027-01-28 + 30 days = Sat 2027-02-27: moves to Mon 2027-03-01.
    long = open_deadline(dbs, extended, "whole_review")
    assert (long.due_on, long.provisional) == (date(2027, 3, 1), False)
    assert long.explanation["due"] == "2027-03-01"
    assert (long.explanation["extension"]["from"], long.explanation["extension"]["shifted_from"]) == (
        "2027-01-28",
        "2027-02-27",
    )
    # C: 12-22..31 (1-8), 01-04..08 (9-13), 01-11..15 (14-18), 01-16 (19), 01-20..22 (20-22), 01-25..29 (23-27),
    # 02-01..03 (28-30): Wed 2027-02-03.
    assert open_deadline(dbs, transferred, "whole_review").due_on == date(2027, 2, 3)

    # Nothing provisional is left open, and a second run changes nothing.
    with system_scope(dbs):
        assert (
            dbs.scalar(select(Deadline.id).where(Deadline.provisional.is_(True), Deadline.closed_at.is_(None))) is None
        )
        assert recompute_provisional_deadlines(dbs) == 0
    # New clocks use the table straight away.
    late = submit(dbs, pii, today=date(2026, 12, 14)).case.id
    act(dbs, pii, city.clerk, late, "accept", today=date(2026, 12, 15))
    assert open_deadline(dbs, late, "whole_review").due_on == date(2027, 1, 28)


def test_a_closed_provisional_deadline_is_left_as_it_was(dbs, pii, city, year_2027):
    case_id = submit(dbs, pii, today=date(2026, 12, 14)).case.id
    act(dbs, pii, city.clerk, case_id, "accept", today=date(2026, 12, 15))
    act(dbs, pii, PETITIONER, case_id, "withdraw", today=date(2026, 12, 16), reason="撤回。")
    with system_scope(dbs):
        load_year(dbs, str(year_2027))
        assert recompute_provisional_deadlines(dbs) == 0
        dbs.commit()
    closed = next(d for d in case_deadlines(dbs, case_id) if d.step == Step.whole_review)
    assert (closed.due_on, closed.provisional, closed.close_reason) == (date(2027, 1, 27), True, "withdraw")


def test_the_office_forms_the_opinion_in_2_working_days_and_the_signature_is_a_clock_of_its_own(dbs, pii, city):
    """§四.10: the petition office's 2 working days cover forming the formal opinion only; the leader's signature
    follows as a separate step owed by the signer, with the bureau's own limit from ``step_rules``."""
    case = drive(dbs, pii, city, submit(dbs, pii).case.id, CaseState.drafting_reply)
    reply = open_deadline(dbs, case.id, "reply")
    assert (reply.owed_by, reply.amount, reply.unit) == ("petition_office", 2, "working_days")
    act(dbs, pii, city.clerk, case.id, "submit_reply", today=date(2026, 9, 14), text="维持。", outcome="upheld")
    assert sorted(d.step for d in case_deadlines(dbs, case.id, open_only=True)) == ["signature", "whole_review"]
    closed = next(d for d in case_deadlines(dbs, case.id) if d.id == reply.id)
    assert closed.close_reason == "submit_reply"
    signature = open_deadline(dbs, case.id, "signature")
    # Mon 09-14 + 2 working days = Wed 09-16; owed by the bureau's one petitions leader; a bureau rule.
    assert (signature.started_on, signature.due_on) == (date(2026, 9, 14), date(2026, 9, 16))
    assert (signature.owed_by, signature.owed_user_id) == ("petitions_leader", city.petitions_leader.id)
    assert signature.explanation["ref"] == "本局规定"
    # Returned: the signature clock stops, the office gets a new 2 working days to form the opinion again.
    act(dbs, pii, city.petitions_leader, case.id, "return_reply", today=date(2026, 9, 15), reason="请修改。")
    assert sorted(d.step for d in case_deadlines(dbs, case.id, open_only=True)) == ["reply", "whole_review"]
    assert open_deadline(dbs, case.id, "reply").due_on == date(2026, 9, 17)
    act(dbs, pii, city.clerk, case.id, "submit_reply", today=date(2026, 9, 16), text="维持。", outcome="upheld")
    act(dbs, pii, city.petitions_leader, case.id, "sign_reply", today=date(2026, 9, 17))
    # Signed: no staff clock is left (the petitioner's window starts at delivery, 送达).
    assert [d.step for d in case_deadlines(dbs, case.id, open_only=True)] == []


def test_the_signature_limit_is_configurable_in_step_rules(dbs, pii, city):
    with system_scope(dbs):
        seed_step_rules(dbs)
        dbs.scalar(select(StepRuleRow).where(StepRuleRow.step == Step.signature)).amount = 5
        dbs.commit()
    case = drive(dbs, pii, city, submit(dbs, pii).case.id, CaseState.drafting_reply)
    act(dbs, pii, city.clerk, case.id, "submit_reply", today=date(2026, 9, 14), text="维持。", outcome="upheld")
    # Mon 09-14 + 5 working days: 09-15..18 and the make-up working Sunday 09-20.
    assert open_deadline(dbs, case.id, "signature").due_on == date(2026, 9, 20)
