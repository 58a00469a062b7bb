"""Deadline sweeps against the real database and the real working-day calendar (National Day 2026)."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from sqlalchemy import event, func, select, update

from portal.accounts.models import StaffUser
from portal.calendar_admin import CalendarUploadError, covered_years, load_calendar_year
from portal.cases.context import BureauStaff, case_view
from portal.cases.models import Case, Deadline
from portal.notify.messages import digest_item_text, staff_text
from portal.notify.models import DeadlineAlert, StaffNotification, SweepRun
from portal.petitioners.tracking import tracking_view
from portal.roles import Role
from portal.supervision.models import DeadlineRollup
from portal.supervision.rollups import rebuild_rollups
from portal.sweeps import SweepConfig, missing_calendar_year, run_sweep, sweep_deadlines, working_days_left
from portal.workdays import WorkdayCalendar
from portal.workflow import ActionRefused, CaseState, Step
from tenants.scoping import system_scope
from tests.helpers import make_staff
from tests.portal.cases.conftest import (
    PETITIONER,
    act,
    case_deadlines,
    drive,
    open_deadline,
    staff_bureau,
    submit,
)

# Received Thursday 10 September 2026: the acceptance decision is due 15 working days later, on Thursday 8 October,
# the first working day after National Day (1-7 October); Mid-autumn (25-27 September) is skipped too.
RECEIVED = date(2026, 9, 10)
DUE = date(2026, 10, 8)


@pytest.fixture
def pii(app):
    return app.extensions["portal.pii"]


@pytest.fixture
def city(dbs):
    return staff_bureau(dbs, "220100", "cc")


@pytest.fixture
def province(dbs):
    return staff_bureau(dbs, "220000", "pv")


def notices(dbs, user: StaffUser, kind: str | None = None) -> list[StaffNotification]:
    with system_scope(dbs):
        query = select(StaffNotification).where(StaffNotification.user_id == user.id)
        if kind:
            query = query.where(StaffNotification.kind == kind)
        return list(dbs.scalars(query.order_by(StaffNotification.id).execution_options(populate_existing=True)))


def sweep(dbs, on: date, **kw) -> dict:
    with system_scope(dbs):
        result = run_sweep(dbs, on, SweepConfig(), **kw)
        dbs.commit()
    return result


def test_reminders_fall_on_working_days_around_national_day(dbs, pii, city):
    case = submit(dbs, pii, today=RECEIVED).case
    with system_scope(dbs):
        [deadline] = dbs.scalars(select(Deadline).where(Deadline.case_id == case.id)).all()
    assert (deadline.step, deadline.due_on) == (Step.acceptance, DUE)

    fired = {}
    day = date(2026, 9, 21)
    while day <= DUE:
        counts = sweep(dbs, day, digest=False)["alerts"]
        if counts.get("reminder"):
            fired[day] = counts["reminder"]
        day += timedelta(days=1)
    # 3 working days before 8 October is Monday 28 September (28, 29, 30 September, then the holiday);
    # 1 working day before is Wednesday 30 September. Counting Monday to Friday would give 5 and 7 October.
    assert fired == {date(2026, 9, 28): 1, date(2026, 9, 30): 1}
    texts = [staff_text(n.kind, n.params)[0] for n in notices(dbs, city.clerk, "reminder")]
    assert texts == [
        f"案件{case.number}“决定是否受理”将于2026-10-08到期，还有3个工作日。",
        f"案件{case.number}“决定是否受理”将于2026-10-08到期，还有1个工作日。",
    ]
    assert notices(dbs, city.petitions_leader) == []  # reminders go to whoever owes the step only


def test_a_sweep_run_twice_sends_nothing_twice(dbs, pii, city):
    submit(dbs, pii, today=RECEIVED)
    first = sweep(dbs, date(2026, 9, 28))
    second = sweep(dbs, date(2026, 9, 28))
    assert first["alerts"]["reminder"] == 1 and first["digests"] == 1
    assert second["alerts"].get("reminder", 0) == 0 and second["digests"] == 0
    assert len(notices(dbs, city.clerk, "reminder")) == 1
    assert len(notices(dbs, city.clerk, "digest")) == 1
    with system_scope(dbs):
        assert dbs.scalar(select(func.count()).select_from(DeadlineAlert)) == 1
        run = dbs.get(SweepRun, "deadlines")
    assert run.runs == 2 and run.last_for_date == date(2026, 9, 28) and run.last_error is None


def test_a_repeat_sweep_writes_nothing_and_leaves_what_was_read_read(dbs, pii, city):
    """At a province's scale the sweep runs every few minutes: once today's alerts are out a repeat writes nothing,
    and the digests are not even read again."""
    submit(dbs, pii, today=RECEIVED)
    with system_scope(dbs):  # the case came in days ago
        dbs.execute(update(Deadline).values(due_set_at=Deadline.due_set_at - timedelta(days=1)))
        dbs.commit()
    sweep(dbs, date(2026, 9, 28))
    [reminder] = notices(dbs, city.clerk, "reminder")
    with system_scope(dbs):
        reminder.read_at = func.now()
        dbs.commit()
        before = dbs.execute(select(StaffNotification.id, StaffNotification.params, StaffNotification.read_at)).all()
    statements: list[str] = []

    def record(_conn, _cursor, statement, *_args):
        statements.append(statement)

    event.listen(dbs.get_bind(), "before_cursor_execute", record)
    try:
        second = sweep(dbs, date(2026, 9, 28))
    finally:
        event.remove(dbs.get_bind(), "before_cursor_execute", record)
    assert second["alerts"] == {"deadlines_checked": 0, "notifications": 0}  # nothing opened or moved since
    assert not [s for s in statements if "digest" in s]
    with system_scope(dbs):
        after = dbs.execute(select(StaffNotification.id, StaffNotification.params, StaffNotification.read_at)).all()
        assert dbs.scalar(select(func.count()).select_from(DeadlineAlert)) == 1
    assert after == before


def test_a_missed_day_still_reminds_once(dbs, pii, city):
    submit(dbs, pii, today=RECEIVED)
    sweep(dbs, date(2026, 9, 29), digest=False)  # 2 working days left: the "3 days" reminder, a day late
    sweep(dbs, date(2026, 10, 8), digest=False)  # due today: the "1 day" reminder
    days = [n.params["items"][0]["days"] for n in notices(dbs, city.clerk, "reminder")]
    assert days == [2, 0]


def test_escalation_chain_owner_then_leader_then_the_bureau_above(dbs, pii, city, province):
    case = submit(dbs, pii, today=RECEIVED).case
    assert sweep(dbs, DUE, digest=False)["alerts"].get("overdue", 0) == 0  # due today is not overdue

    # Friday 9 October: one working day late.
    counts = sweep(dbs, date(2026, 10, 9), digest=False)["alerts"]
    assert (counts["overdue"], counts["escalation"], counts.get("supervision", 0)) == (1, 1, 0)
    [overdue] = notices(dbs, city.clerk, "overdue")
    [item] = overdue.params["items"]
    assert item["days"] == -1 and item["case_id"] == case.id and overdue.params["count"] == 1
    [escalation] = notices(dbs, city.petitions_leader, "escalation")
    assert staff_text("escalation", escalation.params)[0] == (
        f"督办：案件{case.number}“决定是否受理”（信访办办理）已于2026-10-08到期，已逾期1个工作日。"
    )
    assert notices(dbs, city.principal) == [] and notices(dbs, province.petitions_leader) == []

    # Saturday 10 October is a make-up working day (2 late), Sunday is off, Monday 12 October is 3 late.
    assert sweep(dbs, date(2026, 10, 10), digest=False)["alerts"].get("supervision", 0) == 0
    assert sweep(dbs, date(2026, 10, 11), digest=False)["alerts"].get("supervision", 0) == 0
    counts = sweep(dbs, date(2026, 10, 12), digest=False)["alerts"]
    assert (counts.get("overdue", 0), counts.get("escalation", 0), counts["supervision"]) == (0, 0, 1)
    [supervision] = notices(dbs, province.petitions_leader, "supervision")
    assert (
        supervision.tenant_id == province.bureau_id
        and supervision.params["items"][0]["case_tenant_id"] == city.bureau_id
    )
    assert "长春市社会保险局" in staff_text("supervision", supervision.params)[0]
    # Each level once, however often the sweep runs.
    sweep(dbs, date(2026, 10, 13), digest=False)
    assert len(notices(dbs, city.clerk, "overdue")) == 1
    assert len(notices(dbs, city.petitions_leader, "escalation")) == 1
    assert len(notices(dbs, province.petitions_leader, "supervision")) == 1


def test_a_step_the_petitions_leader_owes_escalates_to_the_principal_leader(dbs, pii, city):
    case = submit(dbs, pii, today=RECEIVED).case
    act(dbs, pii, city.clerk, case.id, "accept", today=date(2026, 9, 11))
    act(
        dbs,
        pii,
        city.clerk,
        case.id,
        "submit_slip",
        today=date(2026, 9, 11),
        proposal="建议交养老保险处审查。",
        complexity="complex",
        lead_unit_id=city.pension_unit,
    )
    with system_scope(dbs):
        instruction = dbs.scalar(select(Deadline).where(Deadline.case_id == case.id, Deadline.step == Step.instruction))
    assert instruction.owed_user_id == city.petitions_leader.id
    sweep(dbs, instruction.due_on + timedelta(days=1), digest=False)
    with system_scope(dbs):
        alerts = dbs.execute(
            select(DeadlineAlert.kind, DeadlineAlert.recipient_ids).where(DeadlineAlert.deadline_id == instruction.id)
        ).all()
    assert sorted(alerts) == [("escalation", [city.principal.id]), ("overdue", [city.petitions_leader.id])]
    assert [n.params["items"][0]["step"] for n in notices(dbs, city.petitions_leader, "overdue")] == ["instruction"]
    assert [n.params["items"][0]["step"] for n in notices(dbs, city.principal, "escalation")] == ["instruction"]


def test_deadlines_owed_by_the_petitioner_are_skipped(dbs, pii, city):
    case = submit(dbs, pii, today=RECEIVED).case
    with system_scope(dbs):
        dbs.add(
            Deadline(
                tenant_id=case.tenant_id,
                case_id=case.id,
                step=Step.escalation_window,
                started_on=RECEIVED,
                amount=30,
                unit="days",
                due_on=date(2026, 9, 15),
                owed_by="petitioner",
            )
        )
        dbs.commit()
    counts = sweep(dbs, date(2026, 9, 28), digest=False)["alerts"]
    assert counts["deadlines_checked"] == 1 and counts["reminder"] == 1  # the acceptance clock only


def test_nobody_is_told_on_a_day_off_that_a_step_is_late(dbs, pii, city):
    calendar = WorkdayCalendar()
    friday, saturday, monday = date(2026, 10, 16), date(2026, 10, 17), date(2026, 10, 19)
    assert working_days_left(calendar, saturday, friday) == 0
    assert working_days_left(calendar, monday, friday) == -1
    case = submit(dbs, pii, today=date(2026, 9, 18)).case  # acceptance due Thursday 15 October
    with system_scope(dbs):
        deadline = dbs.scalar(select(Deadline).where(Deadline.case_id == case.id))
        deadline.due_on = friday
        dbs.commit()
    assert sweep(dbs, saturday, digest=False)["alerts"].get("overdue", 0) == 0
    assert sweep(dbs, monday, digest=False)["alerts"]["overdue"] == 1


def test_the_daily_digest_lists_what_each_person_owes(dbs, pii, city):
    first = submit(dbs, pii, today=RECEIVED).case
    second = submit(dbs, pii, today=date(2026, 9, 14)).case  # due 10 October (Saturday, a make-up working day)
    other = make_staff(dbs, "220100", Role.division_staff, unit="audit", username="cc_audit")
    sweep(dbs, date(2026, 10, 9))
    [digest] = notices(dbs, city.clerk, "digest")
    items = digest.params["items"]
    assert [(i["case_number"], i["due_on"], i["days"]) for i in items] == [
        (first.number, "2026-10-08", -1),
        (second.number, "2026-10-10", 1),
    ]
    assert digest.params["overdue"] == 1 and digest.params["date"] == "2026-10-09"
    zh, en = staff_text("digest", digest.params)
    assert "2项" in zh and "1 overdue" in en
    assert notices(dbs, other) == []  # nothing owed, no digest
    sweep(dbs, date(2026, 10, 9))
    assert len(notices(dbs, city.clerk, "digest")) == 1


def test_calendar_warning_from_first_november_then_loading_the_year_recomputes(dbs, pii, city):
    admin = make_staff(dbs, "220000", Role.province_admin, username="pv_admin_x")
    assert missing_calendar_year(dbs, date(2026, 10, 31)) is None
    assert sweep(dbs, date(2026, 10, 31), digest=False)["calendar_warnings"] == 0
    result = sweep(dbs, date(2026, 11, 1), digest=False)
    assert (result["calendar_warnings"], result["calendar_missing_year"]) == (1, 2027)
    sweep(dbs, date(2026, 11, 2), digest=False)
    [warning] = notices(dbs, admin)
    assert warning.kind == "calendar_missing" and warning.params == {"year": 2027}
    assert "2027年节假日安排尚未录入" in staff_text(warning.kind, warning.params)[0]

    # A case received in December runs into 2027: its acceptance clock is provisional until 2027 is loaded.
    case = submit(dbs, pii, today=date(2026, 12, 21)).case
    with system_scope(dbs):
        deadline = dbs.scalar(select(Deadline).where(Deadline.case_id == case.id))
    assert deadline.provisional and deadline.due_on == date(2027, 1, 12)  # 元旦 off, as the law fixes it

    year_file = (
        '{"year": 2027, "source": "国务院办公厅关于2027年部分节假日安排的通知（测试）",'
        ' "holidays": [{"date": "2027-01-01", "name": "元旦"}, {"date": "2027-01-04", "name": "元旦"}],'
        ' "workdays": [{"date": "2027-01-09", "name": "元旦调休"}]}'
    ).encode()
    with system_scope(dbs):
        loaded = load_calendar_year(dbs, "2027.json", year_file)
        dbs.commit()
        deadline = dbs.scalar(
            select(Deadline).where(Deadline.case_id == case.id).execution_options(populate_existing=True)
        )
    assert (loaded.year, loaded.holidays, loaded.workdays, loaded.recomputed) == (2027, 2, 1, 1)
    # 15 working days from 21 December: 1 and 4 January off, Saturday 9 January worked.
    assert not deadline.provisional and deadline.due_on == date(2027, 1, 12)
    assert missing_calendar_year(dbs, date(2026, 11, 2)) is None
    assert [y.year for y in covered_years(dbs, date(2026, 11, 2))][:2] == [2027, 2026]


@pytest.mark.parametrize(
    ("name", "data", "expected"),
    [
        ("2027.txt", b"{}", "json"),
        ("2027.json", b"", "empty"),
        ("2027.json", b"\xff\xfe", "UTF-8"),
        ("2027.json", b'{"year": 2027}', "Missing keys"),
        (
            "example.json",
            b'{"year": 2027, "source": "EXAMPLE ONLY", "holidays": [{"date": "2027-01-01", "name": "x"}],'
            b' "workdays": []}',
            "example file",
        ),
    ],
)
def test_bad_year_files_are_refused_with_a_reason(dbs, name, data, expected):
    with pytest.raises(CalendarUploadError) as excinfo:
        load_calendar_year(dbs, name, data)
    assert expected in excinfo.value.message_en
    assert excinfo.value.message_zh


def test_sweep_horizon_follows_the_configured_reminder_days(dbs, pii, city):
    submit(dbs, pii, today=RECEIVED)
    with system_scope(dbs):
        assert sweep_deadlines(dbs, date(2026, 9, 22), SweepConfig(reminder_days=(5,))).get("reminder", 0) == 0
        counts = sweep_deadlines(dbs, date(2026, 9, 23), SweepConfig(reminder_days=(5,)))
        dbs.commit()
    assert counts["reminder"] == 1  # 23 September: 5 working days before 8 October (24, 28, 29, 30 Sep, 8 Oct)
    [notice] = notices(dbs, city.clerk, "reminder")
    assert notice.params["items"][0]["days"] == 5


def test_a_materials_request_to_a_lower_bureau_is_chased_there(dbs, pii, city):
    county = staff_bureau(dbs, "220102", "ng")
    case = submit(dbs, pii, today=RECEIVED).case
    act(dbs, pii, city.clerk, case.id, "accept", today=date(2026, 9, 11))
    act(
        dbs,
        pii,
        city.clerk,
        case.id,
        "request_materials",
        today=date(2026, 9, 11),
        target="lower_bureau",
        target_bureau_id=county.bureau_id,
        content="请提供原处理意见的全部材料。",
        due_on=date(2026, 9, 18),
    )
    sweep(dbs, date(2026, 9, 21), digest=False)  # Friday 18 September was the last day; Monday is one day late
    [overdue] = notices(dbs, county.clerk, "overdue")
    [item] = overdue.params["items"]
    assert overdue.tenant_id == county.bureau_id and item["case_tenant_id"] == city.bureau_id
    assert item["request_id"] and item["step"] == "material_request"
    assert [n.kind for n in notices(dbs, county.petitions_leader)] == ["escalation"]
    # The county owes it, not the city's office (which is late with its reading slip, another matter).
    assert [i["step"] for n in notices(dbs, city.clerk, "overdue") for i in n.params["items"]] == ["slip"]


def test_one_notification_per_person_kind_and_day_lists_the_alerts(dbs, pii, city):
    first = submit(dbs, pii, today=RECEIVED).case
    second = submit(dbs, pii, today=RECEIVED).case
    counts = sweep(dbs, date(2026, 10, 9), digest=False)["alerts"]
    assert (counts["overdue"], counts["escalation"], counts["notifications"]) == (2, 2, 2)
    [overdue] = notices(dbs, city.clerk, "overdue")
    assert overdue.params["count"] == 2 and overdue.params["more"] == 0
    assert [i["case_number"] for i in overdue.params["items"]] == [first.number, second.number]  # oldest case first
    assert staff_text("overdue", overdue.params) == (
        "2项期限已逾期，请尽快办理。",
        "2 time limits are overdue. Please act now.",
    )
    [escalation] = notices(dbs, city.petitions_leader, "escalation")
    assert staff_text("escalation", escalation.params)[0] == "督办：本局2项期限已逾期。"
    assert [digest_item_text(i)[0] for i in escalation.params["items"]] == [
        f"{n} 决定是否受理：2026-10-08到期，已逾期1个工作日（信访办办理）" for n in (first.number, second.number)
    ]
    with system_scope(dbs):
        overdue.read_at = func.now()
        dbs.commit()

    # Later the same day a third clock falls overdue (its due date was corrected): the sweep adds it to the
    # clerk's notification of the day, which is unread again; the alerts stay one per clock.
    third = submit(dbs, pii, today=date(2026, 9, 20)).case
    with system_scope(dbs):
        deadline = dbs.scalar(select(Deadline).where(Deadline.case_id == third.id))
        deadline.due_on = DUE
        dbs.commit()
    counts = sweep(dbs, date(2026, 10, 9), digest=False)["alerts"]
    assert (counts["overdue"], counts["notifications"]) == (1, 2)
    [overdue] = notices(dbs, city.clerk, "overdue")
    assert overdue.read_at is None and overdue.params["count"] == 3
    assert overdue.params["items"][-1]["case_number"] == third.number
    with system_scope(dbs):
        assert dbs.scalar(select(func.count()).select_from(DeadlineAlert).where(DeadlineAlert.kind == "overdue")) == 3


def test_the_sweep_closes_the_petitioners_window_after_its_last_day(dbs, pii, city):
    case = submit(dbs, pii).case
    drive(dbs, pii, city, case.id, CaseState.replied)
    act(dbs, pii, city.clerk, case.id, "record_delivery", method="post", delivered_on="2026-09-11")
    window = open_deadline(dbs, case.id, "escalation_window")
    # 30 days from 11 September end on Sunday 11 October; the last day moves to Monday 12 October.
    assert window.due_on == date(2026, 10, 12)
    assert sweep(dbs, date(2026, 10, 12), digest=False)["windows_closed"] == 0
    with system_scope(dbs):
        stamped = dbs.get(Case, (case.tenant_id, case.id)).updated_at
        on_last_day = tracking_view(dbs, case.tenant_id, case.id, today=date(2026, 10, 12))
        before_closing = tracking_view(dbs, case.tenant_id, case.id, today=date(2026, 10, 13))
    [last_day] = [d for d in on_last_day.deadlines if d.step is Step.escalation_window]
    assert last_day.open and not last_day.expired
    dbs.expire_all()
    assert sweep(dbs, date(2026, 10, 13), digest=False)["windows_closed"] == 1
    with system_scope(dbs):
        # The case is not touched: a page kept for the day (its key names the day) reads the same as one rendered
        # after the closing, because an expired window reads as expired by its date.
        assert dbs.get(Case, (case.tenant_id, case.id)).updated_at == stamped
        after_closing = tracking_view(dbs, case.tenant_id, case.id, today=date(2026, 10, 13))
    assert after_closing.deadlines == before_closing.deadlines
    assert after_closing.escalation == before_closing.escalation
    assert sweep(dbs, date(2026, 10, 13), digest=False)["windows_closed"] == 0
    [closed] = [d for d in case_deadlines(dbs, case.id) if d.step is Step.escalation_window]
    assert closed.closed_at is not None and closed.close_reason == "expired"

    with system_scope(dbs):
        kept = _clock_rollups(dbs)
        nested = dbs.begin_nested()
        rebuild_rollups(dbs)
        rebuilt = _clock_rollups(dbs)
        nested.rollback()
        # The last day is still the window's (not the delivery date plus 30 days, a Sunday), and the escalation
        # is refused as before.
        row = dbs.get(Case, (case.tenant_id, case.id))
        view = case_view(dbs, row, BureauStaff(dbs, case.tenant_id))
        tracked = tracking_view(dbs, row.tenant_id, row.id, today=date(2026, 10, 13))
    assert kept == rebuilt
    assert view.escalation_due == date(2026, 10, 12)
    assert tracked.escalation.last_day == date(2026, 10, 12) and not tracked.escalation.possible
    [public] = [d for d in tracked.deadlines if d.step is Step.escalation_window]
    assert public.expired and not public.open
    with pytest.raises(ActionRefused) as refused:
        act(dbs, pii, PETITIONER, case.id, "escalate", today=date(2026, 10, 13), reason="不服。")
    assert refused.value.code == "wrong_state" and "30日" in refused.value.message_zh


def _clock_rollups(dbs) -> set[tuple]:
    rows = dbs.execute(
        select(
            DeadlineRollup.tenant_id,
            DeadlineRollup.grain,
            DeadlineRollup.day,
            DeadlineRollup.step,
            DeadlineRollup.status,
            DeadlineRollup.due_on,
            DeadlineRollup.n,
        ).where(DeadlineRollup.n != 0)
    )
    return set(rows.all())


def test_the_sweep_sorts_in_memory_for_its_own_transaction_only(dbs):
    """The day's alerts are sorted and hashed with SWEEP_WORK_MEM (not spilled to disk); other work keeps the
    server's setting."""
    from portal.sweeps import SWEEP_WORK_MEM

    default = dbs.scalar(select(func.current_setting("work_mem")))
    dbs.commit()
    run_sweep(dbs, date(2026, 12, 7))
    assert dbs.scalar(select(func.current_setting("work_mem"))) == SWEEP_WORK_MEM != default
    dbs.commit()
    assert dbs.scalar(select(func.current_setting("work_mem"))) == default
