"""The set-based sweep against the rule functions: on varied data, its alerts, notifications and digests are
exactly what ``owners``, ``leaders`` and ``supervisors`` (the definition of who is told) and the digest's rules say.

The data: five bureaus staffed differently (a full city, the province, a county with a clerk and no leader, a
county with nobody, a city with two petitions leaders and no petition office, a city with a petition office
alone), an absent leader with a stand-in, an inactive user, business leaders over some units, and clocks of every
kind of owner, due soon, due today, overdue by one day and by weeks, plus closed clocks, petitioner windows and
unread work. The sweep catches up with a never-swept database, then runs on the next working day, then again.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import select, update

from portal.accounts.models import StaffUser
from portal.cases.calendar import get_calendar
from portal.cases.models import Case, Deadline, StaffAbsence
from portal.notify.models import WORK_KINDS, DeadlineAlert, StaffNotification
from portal.notify.operations import notify_staff
from portal.roles import Role
from portal.supervision.rollups import rebuild_rollups
from portal.sweeps import (
    _WORK_STEPS,
    NOTICE_MAX_ITEMS,
    SweepConfig,
    _People,
    alert_horizon,
    alerts_owed,
    leaders,
    owing_bureau,
    owners,
    run_sweep,
    supervisors,
    working_days_left,
)
from portal.workflow import Step
from tenants.models import Unit
from tenants.scoping import system_scope
from tenants.tree import get_bureau
from tests.helpers import make_staff
from tests.portal.cases.conftest import staff_bureau, submit, transfer

TODAY = date(2026, 10, 14)  # a Wednesday
CONFIG = SweepConfig()


@pytest.fixture
def pii(app):
    return app.extensions["portal.pii"]


def _unit(dbs, bureau_id: int, code: str) -> int:
    return dbs.scalar(select(Unit.id).where(Unit.tenant_id == bureau_id, Unit.code == code))


def _clock(dbs, case: Case, step: Step, due_on: date, owed_by: str, **owner) -> Deadline:
    deadline = Deadline(
        tenant_id=case.tenant_id,
        case_id=case.id,
        step=step,
        started_on=due_on - timedelta(days=20),
        amount=5,
        unit="working_days",
        due_on=due_on,
        explanation={},
        owed_by=owed_by,
        **owner,
    )
    dbs.add(deadline)
    return deadline


def build(dbs, pii) -> dict:
    """Bureaus, people and clocks of every shape the rules tell apart; committed. Returns the people by name."""
    cc = staff_bureau(dbs, "220100", "cc")
    pv = staff_bureau(dbs, "220000", "pv")
    people = {"cc_clerk": cc.clerk, "cc_pl": cc.petitions_leader}
    people["cc_head"] = make_staff(dbs, "220100", Role.petition_office_head, unit="petition_office", username="cc_h")
    people["cc_bl2"] = make_staff(dbs, "220100", Role.business_leader, username="cc_bl2")
    people["ng_clerk"] = make_staff(dbs, "220102", Role.petition_clerk, unit="petition_office", username="ng_c")
    people["jl_pl1"] = make_staff(dbs, "220200", Role.petitions_leader, username="jl_pl1")
    people["jl_pl2"] = make_staff(dbs, "220200", Role.petitions_leader, username="jl_pl2")
    people["jl_gone"] = make_staff(dbs, "220200", Role.petition_clerk, unit="petition_office", username="jl_gone")
    people["cy_div"] = make_staff(dbs, "220202", Role.division_staff, unit="pension", username="cy_div")
    people["sp_clerk"] = make_staff(dbs, "220300", Role.petition_clerk, unit="petition_office", username="sp_c")
    with system_scope(dbs):
        gone = dbs.get(StaffUser, (people["jl_gone"].tenant_id, people["jl_gone"].id))
        gone.active = False
        bl2 = dbs.get(StaffUser, (cc.bureau_id, people["cc_bl2"].id))
        bl2.oversees_unit_ids = [_unit(dbs, cc.bureau_id, "work_injury"), _unit(dbs, cc.bureau_id, "work_injury")]
        # Overseeing a unit without the business leader's role makes nobody its approver.
        dbs.get(StaffUser, (cc.bureau_id, cc.division.id)).oversees_unit_ids = [cc.audit_unit]
        # The petitions leader is away with a stand-in: the sweep's rules do not change for it.
        dbs.add(
            StaffAbsence(
                tenant_id=cc.bureau_id,
                user_id=cc.petitions_leader.id,
                starts_on=TODAY - timedelta(days=3),
                ends_on=TODAY + timedelta(days=10),
                stand_in_id=cc.principal.id,
                stand_in_signing=True,
            )
        )
        dbs.commit()

    cc_cases = [submit(dbs, pii).case for _ in range(4)]
    jl_case = submit(dbs, pii, disputed_bureau_id=get_bureau(dbs, "220202").id).case
    pv_case = transfer(dbs, pii, pv).case
    calendar = get_calendar(dbs)
    dues = [TODAY - timedelta(days=n) for n in (1, 2, 5, 30)] + [TODAY]
    dues += [calendar.add(TODAY, n, "working_days").due for n in (1, 2, 3, 5)]
    with system_scope(dbs):
        a, b, c, d = (dbs.get(Case, (x.tenant_id, x.id)) for x in cc_cases)
        jl = dbs.get(Case, (jl_case.tenant_id, jl_case.id))
        pv_row = dbs.get(Case, (pv_case.tenant_id, pv_case.id))
        a.lead_unit_id, b.lead_unit_id, c.lead_unit_id = cc.pension_unit, _unit(dbs, cc.bureau_id, "work_injury"), 0
        d.lead_unit_id = cc.audit_unit
        county = {code: get_bureau(dbs, code).id for code in ("220102", "220104", "220202", "220302")}
        for due in dues:
            _clock(dbs, a, Step.reply, due, "petition_office", owed_unit_id=cc.office_unit)
            _clock(dbs, a, Step.whole_review, due, "bureau")
            _clock(dbs, a, Step.instruction, due, "approver", owed_user_id=cc.petitions_leader.id)
            _clock(dbs, b, Step.instruction, due, "approver", owed_user_id=people["jl_gone"].id)
            _clock(dbs, a, Step.approval, due, "business_leader")
            _clock(dbs, b, Step.approval, due, "business_leader")
            _clock(dbs, c, Step.approval, due, "business_leader", owed_unit_id=cc.audit_unit)
            _clock(dbs, d, Step.approval, due, "business_leader")
            _clock(dbs, a, Step.division_review, due, "handling_unit", owed_unit_id=cc.pension_unit)
            _clock(dbs, c, Step.division_review, due, "handling_unit", owed_unit_id=cc.audit_unit)
            _clock(dbs, d, Step.signature, due, "petitions_leader", owed_user_id=cc.petitions_leader.id)
            _clock(dbs, jl, Step.signature, due, "petitions_leader")
            _clock(dbs, jl, Step.reply, due, "petition_office")
            for code in county.values():
                _clock(dbs, d, Step.material_request, due, "addressee", owed_bureau_id=code, material_request_id=7)
            _clock(dbs, d, Step.material_request, due, "addressee", owed_bureau_id=cc.bureau_id)
            _clock(dbs, pv_row, Step.reply, due, "petition_office", owed_unit_id=pv.office_unit)
            _clock(dbs, pv_row, Step.instruction, due, "approver", owed_user_id=pv.petitions_leader.id)
            _clock(dbs, d, Step.escalation_window, due, "petitioner")
            closed = _clock(dbs, d, Step.dispatch, due, "petition_office", owed_unit_id=cc.office_unit)
            closed.closed_at, closed.close_reason = datetime.now(UTC), "dispatch"
        # More than a notification lists: the clerk's overdue slips of many cases.
        for n in range(NOTICE_MAX_ITEMS + 5):
            _clock(dbs, (a, b, c, d)[n % 4], Step.slip, TODAY - timedelta(days=10 + n % 3), "petition_office")
        dbs.flush()
        # Unread work: a letter to sign (no clock lists it, and it was sent twice), an instruction its clock lists.
        work = [("awaiting_signature", d), ("awaiting_instruction", a), ("awaiting_signature", d)]
        for n, (kind, case) in enumerate(work):
            notify_staff(
                dbs,
                [(cc.bureau_id, cc.petitions_leader.id)],
                kind=kind,
                params={"case_number": case.number, "by": "张三"},
                dedupe_key=f"{kind}:{case.id}:{n}",
                case_tenant_id=case.tenant_id,
                case_id=case.id,
            )
        notify_staff(
            dbs,
            [(county["220102"], people["ng_clerk"].id)],
            kind="materials_requested",
            params={
                "case_number": d.number,
                "bureau": "长春市社会保险局",
                "due_on": dues[2].isoformat(),
                "request_id": 7,
            },
            dedupe_key="materials:7",
            case_tenant_id=d.tenant_id,
            case_id=d.id,
        )
        rebuild_rollups(dbs)
        # All this was set well before the day's first sweep (a later sweep reads only what was set since).
        dbs.execute(update(Deadline).values(due_set_at=Deadline.due_set_at - timedelta(days=1)))
        dbs.commit()
    return people


# --- What the rules say -------------------------------------------------------------------------------------


def _item(calendar, today: date, deadline: Deadline, case: Case) -> dict:
    item = {
        "case_tenant_id": deadline.tenant_id,
        "case_id": deadline.case_id,
        "case_number": case.number,
        "step": str(deadline.step),
        "due_on": deadline.due_on.isoformat(),
        "days": working_days_left(calendar, today, deadline.due_on),
    }
    if deadline.material_request_id and owing_bureau(deadline) != deadline.tenant_id:
        item["request_id"] = deadline.material_request_id
    return item


def _open_clocks(dbs, until: date) -> list[tuple[Deadline, Case]]:
    rows = dbs.execute(
        select(Deadline, Case)
        .join(Case, (Case.tenant_id == Deadline.tenant_id) & (Case.id == Deadline.case_id))
        .where(Deadline.closed_at.is_(None), Deadline.owed_by != "petitioner", Deadline.due_on <= until)
        .order_by(Deadline.due_on, Deadline.tenant_id, Deadline.id)
        .execution_options(populate_existing=True)
    )
    return [tuple(r) for r in rows]


def expected_alerts(dbs, today: date) -> tuple[dict, dict]:
    """The alerts owed today and not recorded yet, by key, with their recipients; and each person's lines by kind."""
    calendar = get_calendar(dbs)
    people = _People(dbs)
    recorded = set(
        dbs.execute(
            select(
                DeadlineAlert.tenant_id,
                DeadlineAlert.deadline_id,
                DeadlineAlert.kind,
                DeadlineAlert.threshold,
                DeadlineAlert.due_on,
            )
        ).all()
    )
    alerts, lines = {}, defaultdict(list)
    for deadline, case in _open_clocks(dbs, alert_horizon(calendar, today, CONFIG)):
        for kind, threshold in alerts_owed(calendar, today, deadline.due_on, CONFIG):
            key = (deadline.tenant_id, deadline.id, kind, threshold, deadline.due_on)
            if key in recorded:
                continue
            owing, label = owners(people, deadline, case)
            recipients = {
                "reminder": owing,
                "overdue": owing,
                "escalation": leaders(people, deadline, owing),
                "supervision": supervisors(people, deadline),
            }[kind]
            if not recipients:
                continue
            alerts[key] = [u.id for u in recipients]
            item = _item(calendar, today, deadline, case)
            if kind in ("escalation", "supervision"):
                item["owner"] = list(label)
            if kind == "supervision":
                bureau = people.bureau(owing_bureau(deadline))
                item["bureau"] = [bureau.name, bureau.name]
            order = (deadline.due_on, deadline.case_id, deadline.id)  # by due date, then oldest case first
            for user in recipients:
                lines[(user.tenant_id, user.id, kind)].append((order, item))
    return alerts, {key: [item for _, item in sorted(found, key=lambda x: x[0])] for key, found in lines.items()}


def expected_digests(dbs, today: date) -> dict:
    """Each person's digest as ``send_digests`` always composed it: what they owe, then their unread work."""
    calendar = get_calendar(dbs)
    people = _People(dbs)
    entries = defaultdict(list)
    for deadline, case in _open_clocks(dbs, calendar.add(today, CONFIG.digest_days, "working_days").due):
        owing, _ = owners(people, deadline, case)
        for user in owing:
            entries[(user.tenant_id, user.id)].append(_item(calendar, today, deadline, case))
    unread = dbs.scalars(
        select(StaffNotification)
        .where(StaffNotification.read_at.is_(None), StaffNotification.kind.in_(WORK_KINDS))
        .order_by(StaffNotification.created_at, StaffNotification.id)
    )
    for n in unread:
        mine = entries[(n.tenant_id, n.user_id)]
        steps = _WORK_STEPS.get(n.kind, ())
        if any(
            e.get("case_id") == n.case_id
            and e.get("case_tenant_id") == n.case_tenant_id
            and (e.get("step") in steps or e.get("waiting") == n.kind)
            for e in mine
        ):
            continue
        params = n.params or {}
        item = {
            "case_tenant_id": n.case_tenant_id,
            "case_id": n.case_id,
            "case_number": params.get("case_number", ""),
            "waiting": n.kind,
            **{k: params[k] for k in ("by", "days", "bureau", "due_on", "returned", "reason") if k in params},
        }
        if params.get("request_id"):
            item["request_id"] = params["request_id"]
        mine.append(item)
    digests = {}
    for pair, mine in entries.items():
        mine.sort(key=lambda i: (i.get("due_on", ""), i["case_id"]))  # by due date, then oldest case first
        digests[pair] = {
            "date": today.isoformat(),
            "items": mine[:NOTICE_MAX_ITEMS],
            "more": max(len(mine) - NOTICE_MAX_ITEMS, 0),
            "overdue": sum(1 for e in mine if not e.get("waiting") and e["due_on"] < today.isoformat()),
            "waiting": sum(1 for e in mine[:NOTICE_MAX_ITEMS] if e.get("waiting")),
        }
    return digests


# --- What the sweep wrote -----------------------------------------------------------------------------------


def written_alerts(dbs) -> dict:
    rows = dbs.scalars(select(DeadlineAlert))
    return {(a.tenant_id, a.deadline_id, a.kind, a.threshold, a.due_on): a.recipient_ids for a in rows}


def written_notices(dbs, today: date, kinds) -> dict:
    rows = dbs.scalars(
        select(StaffNotification)
        .where(StaffNotification.kind.in_(kinds), StaffNotification.dedupe_key.like(f"%:{today.isoformat()}"))
        .execution_options(populate_existing=True)
    )
    return {(n.tenant_id, n.user_id, n.kind): n.params for n in rows}


KINDS = ("reminder", "overdue", "escalation", "supervision")


def check_day(dbs, today: date) -> dict:
    """Sweep ``today``; assert everything written equals what the rules say. Returns the sweep's result.

    The day's first sweep writes each person's notices of the day and digest; a later one adds its alerts to the
    notices (their lines then follow the earlier ones)."""
    with system_scope(dbs):
        alerts, lines = expected_alerts(dbs, today)
        digests = expected_digests(dbs, today)
        recorded = written_alerts(dbs)
        notices_before = written_notices(dbs, today, KINDS)
        result = run_sweep(dbs, today, CONFIG)
        dbs.commit()
        new = {key: ids for key, ids in written_alerts(dbs).items() if key not in recorded}
        assert new == alerts
        notices = written_notices(dbs, today, KINDS)
        assert {k for k in notices if notices[k] != notices_before.get(k)} == set(lines)
        for key, items in lines.items():
            params, earlier = notices[key], notices_before.get(key, {"count": 0, "items": []})
            assert params["count"] == earlier["count"] + len(items), key
            assert params["items"] == (earlier["items"] + items)[:NOTICE_MAX_ITEMS], key
            assert params["more"] == max(params["count"] - NOTICE_MAX_ITEMS, 0)
        if not notices_before:
            written = written_notices(dbs, today, ("digest",))
            assert {(t, u): p for (t, u, _), p in written.items()} == digests
    return result


def test_the_set_based_sweep_tells_whom_the_rules_name_every_day(dbs, pii):
    people = build(dbs, pii)
    first = check_day(dbs, TODAY)  # a never-swept database: the whole backlog at once
    kinds = {k for k in ("reminder", "overdue", "escalation", "supervision") if first["alerts"].get(k)}
    assert kinds == {"reminder", "overdue", "escalation", "supervision"}
    assert first["alerts"]["notifications"] < sum(first["alerts"][k] for k in kinds)  # one per person and kind
    with system_scope(dbs):
        clerk = written_notices(dbs, TODAY, ("overdue",))[
            (people["cc_clerk"].tenant_id, people["cc_clerk"].id, "overdue")
        ]
    assert clerk["count"] > NOTICE_MAX_ITEMS and len(clerk["items"]) == NOTICE_MAX_ITEMS

    next_day = get_calendar(dbs).add(TODAY, 1, "working_days").due
    second = check_day(dbs, next_day)  # the daily increment: tomorrow's reminders, today's new overdue steps
    assert second["alerts"].get("reminder") and second["alerts"].get("supervision")
    with system_scope(dbs):
        before = dbs.execute(select(StaffNotification.id, StaffNotification.params)).all()
        again = run_sweep(dbs, next_day, CONFIG)
        dbs.commit()
        assert dbs.execute(select(StaffNotification.id, StaffNotification.params)).all() == before
    assert again["alerts"] == {"deadlines_checked": 0, "notifications": 0}  # nothing opened or moved since
    assert again["digests"] == 0 and again["windows_closed"] == 0
    # Later that day a clock opens already overdue and another one's due date moves (the database notes when):
    # the next sweep of the day reads those two, and tells whom the rules name.
    with system_scope(dbs):
        a_case = dbs.scalar(select(Case).where(Case.tenant_id == people["cc_clerk"].tenant_id).limit(1))
        _clock(dbs, a_case, Step.reply, next_day - timedelta(days=8), "petition_office")
        late = (Deadline.step == Step.instruction, Deadline.due_on == TODAY - timedelta(days=30))
        moved = dbs.scalar(select(Deadline).where(*late).order_by(Deadline.id).limit(1))
        moved.due_on -= timedelta(days=1)  # alerted at its old date: owed again at the new one
        dbs.commit()
    third = check_day(dbs, next_day)
    assert third["alerts"]["deadlines_checked"] == 2 and third["alerts"]["overdue"] == 2
