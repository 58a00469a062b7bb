"""``portal case history``, ``portal case verify`` and ``portal calendar load / list`` through the CLI runner."""

from __future__ import annotations

import json
from datetime import date

import pytest
from sqlalchemy import text

from portal.workflow import CaseState
from tests.portal.cases.conftest import PETITIONER, act, drive, load_case, submit

TEST_2027_CSV = """# source: 测试用2027年节假日安排（非官方）
date,kind,name
2027-01-01,holiday,元旦
2027-01-18,holiday,测试假日
2027-01-19,holiday,测试假日
2027-01-16,workday,测试假日调休
"""


@pytest.fixture
def run(app):
    runner = app.test_cli_runner()

    def invoke(*args: str):
        # Each call in a fresh app context and session, like a separate process.
        with app.app_context():
            return runner.invoke(args=list(args))

    return invoke


def ok(result) -> str:
    assert result.exit_code == 0, result.output
    return result.output


@pytest.fixture
def replied(dbs, pii, city):
    """A review replied on 2026-09-11 after an extension and a materials request; its number."""
    case_id = submit(dbs, pii).case.id
    drive(dbs, pii, city, case_id, CaseState.in_review)
    act(
        dbs,
        pii,
        city.clerk,
        case_id,
        "request_materials",
        target="petitioner",
        content="请提供缴费凭证。",
        due_on="2026-09-25",
    )
    act(dbs, pii, city.clerk, case_id, "request_extension", days=10, reason="需调取材料。")
    act(dbs, pii, city.petitions_leader, case_id, "approve_extension")
    drive(dbs, pii, city, case_id, CaseState.replied)
    # Handed to the petitioner the day it was signed: the window runs from then.
    act(dbs, pii, city.clerk, case_id, "record_delivery", method="in_person", delivered_on="2026-09-11")
    return load_case(dbs, case_id)


def test_case_history_prints_every_event_and_every_deadline_explained(run, replied):
    out = ok(run("case", "history", replied.number.lower().replace("-", " - ")))  # as typed over the phone
    assert f"Case {replied.number}" in out and "复查 / Review" in out and "长春市社会保险局" in out
    assert "State: 已答复 / Replied" in out and "extended 10 days" in out
    events = [line for line in out.splitlines() if line.startswith("  ") and " -> " in line]
    assert len(events) == replied.event_count == 13
    assert "    1  2026-" in out and "张三 (petitioner)  submit: - -> submitted" in out
    assert "cc_clerk (staff, 长春市社会保险局)  accept: submitted -> accepted" in out
    assert "sign_reply: awaiting_signature -> replied" in out
    assert '"days": 10' in out and '"reason": "需调取材料。"' in out
    assert "+08:00" in out  # times in China time
    assert "[internal]" in out  # the slip, instruction and opinions are not shown to the petitioner

    # Each deadline, open and closed, explained in both languages.
    assert "Deadlines (" in out
    # Received Thu 09-10, 15 working days: 09-11 (1), 09-14..18 (2-6), Sun 09-20 make-up (7), 09-21..24 (8-11),
    # [09-25..27 Mid-autumn], 09-28..30 (12-14), [10-01..07 National Day], 10-08 (15).
    assert "决定是否受理 / Acceptance decision: due 2026-10-08, closed" in out and "(accept)" in out
    assert "申请复核期限 / Window to apply for re-review: due 2026-10-12, open" in out
    assert "复查复核办结 / Whole review: due" in out and "(sign_reply)" in out
    zh = [line for line in out.splitlines() if line.strip().startswith("zh:")]
    en = [line for line in out.splitlines() if line.strip().startswith("en:")]
    heads = [line for line in out.splitlines() if line.startswith("  ") and line[2] != " " and ": due " in line]
    # acceptance, whole review, slip, ..., reply, signature (issue 14: a clock of its own), materials, window
    assert len(zh) == len(en) == len(heads) == 11
    assert "领导签批 / Signature: due" in out and "(sign_reply); owed by petitions_leader (cc_pl)" in out
    assert any("本局规定，非《办法》规定的时限" in line for line in zh)
    assert any("the bureau's own time limit, not the regulation's" in line for line in en)
    assert any("国庆节" in line and "调休工作日" in line for line in zh)  # National Day skipped, 10-10 counted
    assert any("National Day" in line for line in en)
    assert any("经批准延期10日" in line for line in zh) and any("Extended by 10 days" in line for line in en)
    assert any("2026-09-25" in line for line in zh)  # the materials request's given due date
    assert any("顺延" in line for line in zh)  # the escalation window (09-11 + 30 days) ends on Sunday 10-11
    assert "Hash chain: intact." in out


def test_case_history_of_an_unknown_case(run):
    result = run("case", "history", "FC2026-NOTACASE")
    assert result.exit_code == 1 and "No case 'FC2026-NOTACASE'" in result.output


def test_case_verify_one_and_all(run, dbs, pii, city, owner_engine, replied):
    other = submit(dbs, pii).case
    none = " Agrees with 0 signed anchors.\n"  # nothing anchored yet in this test
    assert ok(run("case", "verify", replied.number)) == f"OK {replied.number}: 13 entries, chain intact." + none
    assert ok(run("case", "verify")) == "OK: 2 case histories, every chain intact." + none

    with owner_engine.begin() as conn:
        conn.execute(text("SET LOCAL session_replication_role = replica"))
        conn.execute(
            text("UPDATE case_events SET actor_name = '别人' WHERE case_id = :id AND seq IN (5, 7)"),
            {"id": replied.id},
        )
    result = run("case", "verify", replied.number)
    assert result.exit_code == 1
    assert f"BROKEN {replied.number} entry 5: content changed after it was written" in result.output
    assert "entry 7" not in result.output  # the first broken entry only
    result = run("case", "verify")
    assert result.exit_code == 1 and f"BROKEN {replied.number} entry 5" in result.output
    assert other.number not in result.output
    assert ok(run("case", "verify", other.number)).startswith(f"OK {other.number}")
    assert "Hash chain: BROKEN at entry 5" in run("case", "history", replied.number).output


def test_calendar_load_refuses_the_example_and_recomputes_provisional_deadlines(run, dbs, pii, city, tmp_path):
    case_id = submit(dbs, pii, today=date(2026, 12, 14)).case.id
    act(dbs, pii, city.clerk, case_id, "accept", today=date(2026, 12, 15))
    history = ok(run("case", "history", load_case(dbs, case_id).number))
    assert "due 2027-01-27 PROVISIONAL, open" in history
    assert "2027年节假日安排尚未录入，暂按《全国年节及纪念日放假办法》规定的法定节假日和周末计算" in history
    assert "The holiday schedule has not been loaded for 2027" in history

    result = run("calendar", "load", "portal/holidays/example-2027.json")
    assert result.exit_code == 1 and "example" in result.output
    bad = tmp_path / "bad.csv"
    bad.write_text("date,kind,name\n2027-01-04,workday,调休\n", encoding="utf-8")  # a Monday: refused
    result = run("calendar", "load", str(bad))
    assert result.exit_code == 1 and "第2行" in result.output and "Line 2" in result.output
    assert "2027" not in ok(run("calendar", "list")).split("Warning")[0]

    good = tmp_path / "2027.csv"
    good.write_text(TEST_2027_CSV, encoding="utf-8")
    out = ok(run("calendar", "load", str(good)))
    assert "Loaded 2027" in out and "1 provisional deadlines changed" in out
    listing = ok(run("calendar", "list"))
    assert "2027  loaded" in listing and "测试用2027年节假日安排（非官方）" in listing
    assert "2026  built in" in listing and "chinese_calendar" in listing

    history = ok(run("case", "history", load_case(dbs, case_id).number))
    whole = next(line for line in history.splitlines() if "Whole review: due" in line)
    assert whole.endswith("due 2027-01-28, open; owed by bureau")
    assert "due 2027-01-05 PROVISIONAL, closed" in history  # the closed acceptance clock stays as it was
    assert "节假日安排录入后已重新计算" in history and "Recomputed after" in history
    # Loading the same year again changes nothing further.
    assert "0 provisional deadlines changed" in ok(run("calendar", "load", str(good)))


def test_case_history_shows_a_withdrawn_case_with_its_closed_clocks(run, dbs, pii, city):
    case_id = submit(dbs, pii).case.id
    act(dbs, pii, city.clerk, case_id, "accept")
    act(dbs, pii, PETITIONER, case_id, "withdraw", reason="已协商解决。")
    out = ok(run("case", "history", load_case(dbs, case_id).number))
    assert "withdraw: accepted -> withdrawn" in out
    assert out.count("(withdraw)") == 2 and ", open" not in out
    assert json.dumps({"on_behalf": False, "reason": "已协商解决。"}, ensure_ascii=False, sort_keys=True) in out


def test_case_history_explains_a_linked_meetings_decision_clock(run, dbs, pii, city):
    """Issue 14: the meeting decision clock (a bureau rule) is explained with its start, unit and skipped days."""
    from portal.cases.meetings import propose_meeting
    from tenants.scoping import scope_for_bureau, scoped

    case = submit(dbs, pii).case
    with scoped(dbs, scope_for_bureau(dbs, city.bureau_id)):
        propose_meeting(
            dbs,
            city.clerk,
            topic="共性问题",
            meeting_on=date(2026, 10, 9),
            unit_ids=[city.pension_unit],
            case_numbers=[case.number],
            today=date(2026, 9, 30),  # Wed: 2 working days skip National Day (10-01..07): Thu 10-08, Fri 10-09
        )
        dbs.commit()
    out = ok(run("case", "history", case.number))
    assert "meeting_proposed" in out and "Coordination meetings (1):" in out
    assert "decision due 2026-10-09" in out
    lines = out.split("Coordination meetings (1):")[1].splitlines()
    zh = next(line for line in lines if line.strip().startswith("zh:"))
    en = next(line for line in lines if line.strip().startswith("en:"))
    assert "自2026年9月30日起算2个工作日" in zh and "国庆节" in zh and "本局规定，非《办法》规定的时限" in zh
    assert "National Day" in en and "not the regulation's" in en
