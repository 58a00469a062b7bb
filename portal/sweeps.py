"""Deadline sweeps: reminders, overdue alerts, escalation, supervision, daily digests, calendar warnings.

A sweep reads the open deadlines through their partial index (``ix_deadlines_open_due_on``) and, for each one
due within the reminder horizon or already past, decides from the working-day calendar what is owed today:

- **reminder** N working days before the due date, for each N of ``REMINDER_WORKING_DAYS`` (default 3 and 1):
  the smallest N not below the working days left, so a sweep that missed a day still reminds once;
- **overdue** from the first working day after the due date, to whoever owes the step;
- **escalation** at the same time, to the bureau's leader in charge of petitions (the principal leader when
  the petitions leader is the one who owes it);
- **supervision** ``SUPERVISION_AFTER`` working days after the due date (2 working days after the escalation),
  to the petition office head and petitions leader of the bureau above.

Each alert is first recorded in ``deadline_alerts`` with ``INSERT ... ON CONFLICT DO NOTHING`` on
(deadline, kind, threshold, due date); only a row that was inserted writes notifications, in the same
transaction. So a sweep run twice, or two sweeps at once (they also take an advisory lock), send nothing twice.
Deadlines owed by the petitioner (``owed_by == 'petitioner'``, the window to apply for re-review) are skipped.

"Today" is the date in China (Asia/Shanghai). ``portal sweep run --date YYYY-MM-DD`` runs a sweep for another
date, which is how the clock is moved forward in a demonstration or a test.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

from sqlalchemy import Date, Integer, Row, Select, String, and_, column, func, select, text, tuple_, values
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from portal.accounts.models import StaffUser
from portal.cases.calendar import get_calendar
from portal.cases.models import Case, Deadline
from portal.notify.models import WORK_KINDS, DeadlineAlert, StaffNotification, SweepRun
from portal.notify.operations import insert_notifications, notification_rows, notify_staff
from portal.roles import Role
from portal.workdays import WorkdayCalendar
from tenants.models import Bureau, Unit, UnitKind
from tenants.scoping import system_scope

CHINA = ZoneInfo("Asia/Shanghai")
SUPERVISION_AFTER = 3  # working days after the due date: 2 working days after the escalation to the leader
DIGEST_WORKING_DAYS = 5  # a digest lists what is overdue or due within this many working days
DIGEST_MAX_ITEMS = 50
CALENDAR_WARNING_FROM = (11, 1)  # month, day: from 1 November, warn when next year's calendar is missing
DIGEST_RUN = "digests"  # the sweep_runs row that says for which day the digests went out
_LOCK = 0x5EE9  # pg_advisory_xact_lock key: one deadline sweep at a time

# Alert kinds and their threshold for the non-reminder levels.
OVERDUE, ESCALATION, SUPERVISION = ("overdue", 0), ("escalation", 1), ("supervision", 2)


def china_today(now: datetime | None = None) -> date:
    return (now or datetime.now(UTC)).astimezone(CHINA).date()


def china_now(now: datetime | None = None) -> datetime:
    return (now or datetime.now(UTC)).astimezone(CHINA)


@dataclass(frozen=True)
class SweepConfig:
    reminder_days: tuple[int, ...] = (3, 1)
    supervision_after: int = SUPERVISION_AFTER
    digest_days: int = DIGEST_WORKING_DAYS


# --- Who is told ------------------------------------------------------------------------------------------


class _People:
    """Active staff and units per bureau, loaded once per sweep and bureau."""

    def __init__(self, session: Session):
        self.session = session
        self._staff: dict[int, list[StaffUser]] = {}
        self._units: dict[int, dict[int, Unit]] = {}
        self._bureaus: dict[int, Bureau | None] = {}

    def staff(self, bureau_id: int) -> list[StaffUser]:
        if bureau_id not in self._staff:
            self._staff[bureau_id] = list(
                self.session.scalars(
                    select(StaffUser)
                    .where(StaffUser.tenant_id == bureau_id, StaffUser.active.is_(True))
                    .order_by(StaffUser.id)
                )
            )
        return self._staff[bureau_id]

    def units(self, bureau_id: int) -> dict[int, Unit]:
        if bureau_id not in self._units:
            self._units[bureau_id] = {
                u.id: u for u in self.session.scalars(select(Unit).where(Unit.tenant_id == bureau_id))
            }
        return self._units[bureau_id]

    def bureau(self, bureau_id: int) -> Bureau | None:
        if bureau_id not in self._bureaus:
            self._bureaus[bureau_id] = self.session.get(Bureau, bureau_id)
        return self._bureaus[bureau_id]

    def with_roles(self, bureau_id: int, *roles: Role) -> list[StaffUser]:
        return [u for u in self.staff(bureau_id) if any(r in u.roles for r in roles)]

    def petition_office(self, bureau_id: int) -> list[StaffUser]:
        offices = {uid for uid, u in self.units(bureau_id).items() if u.kind == UnitKind.petition_office}
        return [u for u in self.staff(bureau_id) if u.unit_id in offices]


def owing_bureau(deadline: Deadline) -> int:
    return deadline.owed_bureau_id or deadline.tenant_id


def owners(people: _People, deadline: Deadline, case: Case) -> tuple[list[StaffUser], tuple[str, str]]:
    """Who owes the step, and how to name them: the user, else the unit's staff, else the petition office."""
    bureau_id = owing_bureau(deadline)
    staff = people.staff(bureau_id)
    if deadline.owed_user_id is not None:
        found = [u for u in staff if u.id == deadline.owed_user_id]
        if found:
            return found, (found[0].display_name, found[0].display_name)
    if deadline.owed_by == "petitions_leader":
        # The signature (a bureau rule) when the bureau has several petitions leaders: all of them.
        found = people.with_roles(bureau_id, Role.petitions_leader)
        if found:
            return found, ("分管信访工作的局领导", "the petitions leader")
    if deadline.owed_by == "business_leader" and case.lead_unit_id is not None:
        unit_id = case.lead_unit_id
        found = [u for u in staff if Role.business_leader in u.roles and unit_id in (u.oversees_unit_ids or [])]
        if found:
            return found, ("分管业务工作的局领导", "the leader in charge of the business")
    if deadline.owed_unit_id is not None:
        found = [u for u in staff if u.unit_id == deadline.owed_unit_id]
        unit = people.units(bureau_id).get(deadline.owed_unit_id)
        if found:
            return found, ((unit.name, unit.name) if unit else ("", ""))
    office = people.petition_office(bureau_id)
    if office:
        return office, ("信访办", "the petition office")
    return people.with_roles(bureau_id, Role.petitions_leader), ("分管信访工作的局领导", "the petitions leader")


def leaders(people: _People, deadline: Deadline, owing: list[StaffUser]) -> list[StaffUser]:
    """The petitions leader of the owing bureau; the principal leader when the petitions leader owes the step."""
    bureau_id = owing_bureau(deadline)
    owing_ids = {u.id for u in owing}
    found = [u for u in people.with_roles(bureau_id, Role.petitions_leader) if u.id not in owing_ids]
    if not found:
        found = [u for u in people.with_roles(bureau_id, Role.principal_leader) if u.id not in owing_ids]
    return found


def supervisors(people: _People, deadline: Deadline) -> list[StaffUser]:
    """The bureau above: its petition office head and petitions leader (its petition office if neither exists)."""
    bureau = people.bureau(owing_bureau(deadline))
    if bureau is None or bureau.parent_id is None:
        return []  # the province answers to the provincial government committee, outside this system
    found = people.with_roles(bureau.parent_id, Role.petition_office_head, Role.petitions_leader)
    return found or people.petition_office(bureau.parent_id)


def _pairs(users: list[StaffUser]) -> list[tuple[int, int]]:
    return [(u.tenant_id, u.id) for u in users]


# --- The sweep --------------------------------------------------------------------------------------------


def _open(until: date) -> list:
    """Conditions of the deadlines a sweep looks at (the partial index ``ix_deadlines_sweep``)."""
    return [Deadline.closed_at.is_(None), Deadline.due_on <= until, Deadline.owed_by != "petitioner"]


_DEADLINE_COLUMNS = (
    Deadline.tenant_id,
    Deadline.id,
    Deadline.case_id,
    Deadline.step,
    Deadline.due_on,
    Deadline.owed_by,
    Deadline.owed_unit_id,
    Deadline.owed_user_id,
    Deadline.owed_bureau_id,
    Deadline.material_request_id,
)


def open_deadlines_query(until: date) -> Select:
    """Open deadlines due on or before ``until``, except the petitioner's, with what the digests say of their case.

    Plain rows rather than ORM objects: a province holds hundreds of thousands of open deadlines. Each row has the
    deadline's columns and the case's ``number`` and ``lead_unit_id``, so it serves as both in ``owners``.
    """
    return (
        select(*_DEADLINE_COLUMNS, Case.number, Case.lead_unit_id)
        .join(Case, and_(Case.tenant_id == Deadline.tenant_id, Case.id == Deadline.case_id))
        .where(*_open(until))
        .order_by(Deadline.due_on, Deadline.tenant_id, Deadline.id)
    )


def _case_details(session: Session, rows) -> dict[tuple[int, int], Row]:
    """Number and lead unit of the cases of ``rows`` (a bounded batch: primary-key look-ups)."""
    keys = {(r.tenant_id, r.case_id) for r in rows}
    found = session.execute(
        select(Case.tenant_id, Case.id, Case.number, Case.lead_unit_id).where(
            tuple_(Case.tenant_id, Case.id).in_(list(keys))
        )
    )
    return {(r.tenant_id, r.id): r for r in found}


def alert_horizon(calendar: WorkdayCalendar, today: date, config: SweepConfig) -> date:
    """The last due date that can owe an alert today: the earliest reminder, in working days from today."""
    return calendar.add(today, max(config.reminder_days), "working_days").due


def alerts_owed(calendar: WorkdayCalendar, today: date, due_on: date, config: SweepConfig) -> list[tuple[str, int]]:
    """The alerts (kind, threshold) that a deadline due on ``due_on`` has earned by ``today``."""
    left = working_days_left(calendar, today, due_on)
    if due_on < today and left == 0:
        return []  # past due, but no working day has passed since
    if left >= 0:
        threshold = min((n for n in config.reminder_days if n >= left), default=None)
        return [] if threshold is None else [("reminder", threshold)]
    owed = [OVERDUE, ESCALATION]
    if -left >= config.supervision_after:
        owed.append(SUPERVISION)
    return owed


def pending_alerts_query(session: Session, today: date, horizon: date, config: SweepConfig) -> tuple[Select, int]:
    """The open deadlines that have earned an alert not recorded yet, one row per (deadline, alert); and how many
    open deadlines there are in the horizon.

    What a deadline has earned depends on its due date only, so it is worked out once per distinct due date and
    joined as a VALUES list; the alerts already recorded are left out in SQL. A sweep that runs again the same day
    reads no deadline at all.
    """
    calendar = get_calendar(session)
    by_due = session.execute(select(Deadline.due_on, func.count()).where(*_open(horizon)).group_by(Deadline.due_on))
    owed, total = [], 0
    for due_on, count in by_due:
        total += count
        owed += [(due_on, kind, threshold) for kind, threshold in alerts_owed(calendar, today, due_on, config)]
    if not owed:
        owed = [(today, "", -1)]  # nothing is owed: a row that matches no deadline keeps the statement valid
    needed = values(column("due_on", Date), column("kind", String), column("threshold", Integer), name="owed")
    needed = needed.data(owed)
    recorded = (
        select(DeadlineAlert.id)
        .where(
            DeadlineAlert.tenant_id == Deadline.tenant_id,
            DeadlineAlert.deadline_id == Deadline.id,
            DeadlineAlert.kind == needed.c.kind,
            DeadlineAlert.threshold == needed.c.threshold,
            DeadlineAlert.due_on == Deadline.due_on,
        )
        .exists()
    )
    statement = (
        select(*_DEADLINE_COLUMNS, needed.c.kind.label("alert_kind"), needed.c.threshold.label("alert_threshold"))
        .join_from(Deadline, needed, needed.c.due_on == Deadline.due_on)
        .where(*_open(horizon), ~recorded)
        .order_by(Deadline.due_on, Deadline.tenant_id, Deadline.id)
    )
    return statement, total


@dataclass(frozen=True)
class _Alert:
    deadline: Row
    kind: str
    threshold: int
    recipients: list[StaffUser]
    params: dict


def _fire_all(session: Session, alerts: list[_Alert], today: date) -> list[str]:
    """Record the alerts; for those that are new, notify their recipients. Returns the kinds of the notifications.

    One multi-row INSERT for the alerts and a few for the notifications: a province's day can owe tens of
    thousands of alerts.
    """
    alerts = [a for a in alerts if a.recipients]
    if not alerts:
        return []
    inserted = session.execute(
        insert(DeadlineAlert)
        .values(
            [
                {
                    "tenant_id": a.deadline.tenant_id,
                    "deadline_id": a.deadline.id,
                    "case_id": a.deadline.case_id,
                    "kind": a.kind,
                    "threshold": a.threshold,
                    "due_on": a.deadline.due_on,
                    "fired_on": today,
                    "recipient_ids": [u.id for u in a.recipients],
                }
                for a in alerts
            ]
        )
        .on_conflict_do_nothing(constraint="uq_deadline_alerts_tenant_id_deadline_id_kind_threshold_due_on")
        .returning(DeadlineAlert.tenant_id, DeadlineAlert.deadline_id, DeadlineAlert.kind, DeadlineAlert.threshold)
    ).all()
    new = {tuple(r) for r in inserted}
    rows = []
    for a in alerts:
        d = a.deadline
        if (d.tenant_id, d.id, a.kind, a.threshold) in new:
            rows += notification_rows(
                _pairs(a.recipients),
                kind=a.kind,
                params=a.params,
                dedupe_key=f"{a.kind}:{d.tenant_id}:{d.id}:{a.threshold}:{d.due_on.isoformat()}",
                case_tenant_id=d.tenant_id,
                case_id=d.case_id,
                deadline_id=d.id,
            )
    return insert_notifications(session, rows)


def working_days_left(calendar: WorkdayCalendar, today: date, due_on: date) -> int:
    """Working days from today to the due date: 0 on the due date, negative once overdue (-1: one working day late).

    The days off right after a due date count as 0 working days late: nobody is told on a Saturday that a step
    due on Friday is late; they are told on Monday.
    """
    if due_on >= today:
        return calendar.working_days_between(today, due_on)
    return -calendar.working_days_between(due_on, today)


ALERT_BATCH = 1000  # alerts written per round of INSERTs (and cases looked up per query)


def sweep_deadlines(session: Session, today: date, config: SweepConfig = SweepConfig()) -> dict[str, int]:
    """Send today's reminders, overdue alerts, escalations and supervision notices; flushes. Counts by kind."""
    calendar = get_calendar(session)
    counts: dict[str, int] = defaultdict(int)
    with system_scope(session):
        session.execute(select(func.pg_advisory_xact_lock(_LOCK)))
        horizon = alert_horizon(calendar, today, config)
        statement, counts["deadlines_checked"] = pending_alerts_query(session, today, horizon, config)
        people = _People(session)
        for batch in session.execute(statement).partitions(ALERT_BATCH):
            cases = _case_details(session, batch)
            alerts = [_alert(people, calendar, today, row, cases[(row.tenant_id, row.case_id)]) for row in batch]
            for kind in _fire_all(session, alerts, today):
                counts[kind] += 1
        session.flush()
    return dict(counts)


def _alert(people: _People, calendar: WorkdayCalendar, today: date, row: Row, case: Row) -> _Alert:
    """Who gets the alert ``row.alert_kind`` of a deadline, and what it says."""
    owing, owner_label = owners(people, row, case)
    params = {
        "case_number": case.number,
        "step": str(row.step),
        "due_on": row.due_on.isoformat(),
        "days": abs(working_days_left(calendar, today, row.due_on)),
    }
    if row.material_request_id and owing_bureau(row) != row.tenant_id:
        params["request_id"] = row.material_request_id  # a lower bureau answers it on its own page
    if row.alert_kind in ("reminder", "overdue"):
        return _Alert(row, row.alert_kind, row.alert_threshold, owing, params)
    params["owner"] = list(owner_label)
    if row.alert_kind == "escalation":
        return _Alert(row, row.alert_kind, row.alert_threshold, leaders(people, row, owing), params)
    bureau = people.bureau(owing_bureau(row))
    params["bureau"] = [bureau.name, bureau.name] if bureau else ["", ""]
    return _Alert(row, row.alert_kind, row.alert_threshold, supervisors(people, row), params)


def send_digests(session: Session, today: date, config: SweepConfig = SweepConfig()) -> int:
    """One digest per staff member of what they owe that is overdue or due soon; once per day. Flushes.

    The sweep runs every few minutes and asks for digests from 07:00: after the day's first, the others stop here
    instead of reading every open deadline again (the notifications' dedupe key would only drop them).
    """
    done = session.get(SweepRun, DIGEST_RUN)
    if done is not None and done.last_for_date == today:
        return 0
    started_at = datetime.now(UTC)
    calendar = get_calendar(session)
    written = 0
    with system_scope(session):
        horizon = calendar.add(today, config.digest_days, "working_days").due
        people = _People(session)
        items: dict[tuple[int, int], list[dict]] = defaultdict(list)
        for row in session.execute(open_deadlines_query(horizon)):
            owing, _label = owners(people, row, row)
            item = {
                "case_tenant_id": row.tenant_id,
                "case_id": row.case_id,
                "case_number": row.number,
                "step": str(row.step),
                "due_on": row.due_on.isoformat(),
                "days": working_days_left(calendar, today, row.due_on),
            }
            if row.material_request_id and owing_bureau(row) != row.tenant_id:
                item["request_id"] = row.material_request_id
            for pair in _pairs(owing):
                items[pair].append(item)
        _add_waiting_work(session, items)
        for pair, entries in items.items():
            entries.sort(key=lambda i: (i.get("due_on", ""), i["case_number"]))
            written += notify_staff(
                session,
                [pair],
                kind="digest",
                params={
                    "date": today.isoformat(),
                    "items": entries[:DIGEST_MAX_ITEMS],
                    "more": max(len(entries) - DIGEST_MAX_ITEMS, 0),
                    "overdue": sum(1 for e in entries if not e.get("waiting") and e["due_on"] < today.isoformat()),
                    "waiting": sum(1 for e in entries[:DIGEST_MAX_ITEMS] if e.get("waiting")),
                },
                dedupe_key=f"digest:{today.isoformat()}",
            )
        record_run(session, DIGEST_RUN, started_at=started_at, for_date=today, result={"written": written})
    return written


#: Work notifications whose work has a time limit of its own: a digest that lists that limit needs no more.
_WORK_STEPS: dict[str, tuple[str, ...]] = {
    "awaiting_instruction": ("instruction",),
    "awaiting_approval": ("approval",),
    "materials_requested": ("material_request",),
    "work_returned": ("revision", "reply"),
}


def _add_waiting_work(session: Session, items: dict[tuple[int, int], list[dict]]) -> None:
    """Add to each digest the work waiting for its reader that no time limit lists (unread work notifications:
    a letter to sign, an extension to decide); work whose own time limit the digest lists already is left out."""
    rows = session.execute(
        select(
            StaffNotification.tenant_id,
            StaffNotification.user_id,
            StaffNotification.kind,
            StaffNotification.case_tenant_id,
            StaffNotification.case_id,
            StaffNotification.params,
        )
        .where(StaffNotification.read_at.is_(None), StaffNotification.kind.in_(WORK_KINDS))
        .order_by(StaffNotification.created_at)
    )
    for row in rows:
        entries = items[(row.tenant_id, row.user_id)]
        steps = _WORK_STEPS.get(row.kind, ())
        if any(
            e.get("case_id") == row.case_id
            and e.get("case_tenant_id") == row.case_tenant_id
            and (e.get("step") in steps or e.get("waiting") == row.kind)
            for e in entries
        ):
            continue  # the digest lists it already, by the time limit of that very work
        params = row.params or {}
        item = {
            "case_tenant_id": row.case_tenant_id,
            "case_id": row.case_id,
            "case_number": params.get("case_number", ""),
            "waiting": row.kind,
            **{k: params[k] for k in ("by", "days", "bureau", "due_on", "returned", "reason") if k in params},
        }
        if params.get("request_id"):
            item["request_id"] = params["request_id"]
        entries.append(item)


# --- Calendar ---------------------------------------------------------------------------------------------


def missing_calendar_year(session: Session, today: date) -> int | None:
    """Next year, when it is 1 November or later and no calendar (loaded or built in) covers next year."""
    if (today.month, today.day) < CALENDAR_WARNING_FROM:
        return None
    year = today.year + 1
    return None if get_calendar(session).covers(year) else year


def warn_missing_calendar(session: Session, today: date) -> int:
    """Tell every province administrator (once per year) that next year's holidays are not loaded. Flushes."""
    year = missing_calendar_year(session, today)
    if year is None:
        return 0
    with system_scope(session):
        admins = session.scalars(
            select(StaffUser).where(StaffUser.active.is_(True), StaffUser.roles.overlap([Role.province_admin.value]))
        ).all()
        return notify_staff(
            session,
            _pairs(list(admins)),
            kind="calendar_missing",
            params={"year": year},
            dedupe_key=f"calendar_missing:{year}",
        )


# --- Runs -------------------------------------------------------------------------------------------------


def record_run(
    session: Session,
    name: str,
    *,
    started_at: datetime,
    for_date: date | None,
    result: dict | None = None,
    error: str | None = None,
) -> None:
    """Store when a sweep ran and what it did (monitoring reads it); a failure keeps the last good result."""
    statement = insert(SweepRun).values(
        name=name,
        last_started_at=started_at,
        last_finished_at=func.now(),
        last_for_date=for_date,
        last_result=result or {},
        last_error=error[:2000] if error else None,
        runs=1,
    )
    changes = {
        "last_started_at": statement.excluded.last_started_at,
        "last_finished_at": func.now(),
        "last_for_date": statement.excluded.last_for_date,
        "last_error": statement.excluded.last_error,
        "runs": SweepRun.runs + 1,
    }
    if error is None:
        changes["last_result"] = statement.excluded.last_result
    session.execute(statement.on_conflict_do_update(index_elements=["name"], set_=changes))
    session.flush()


def list_runs(session: Session) -> list[SweepRun]:
    return list(session.scalars(select(SweepRun).order_by(SweepRun.name)))


def run_sweep(
    session: Session,
    today: date,
    config: SweepConfig = SweepConfig(),
    *,
    digest: bool = True,
    started_at: datetime | None = None,
) -> dict:
    """The whole daily work for ``today``: deadline alerts, digests (when asked), the calendar warning. Flushes."""
    started_at = started_at or datetime.now(UTC)
    result: dict = {"date": today.isoformat()}
    result["alerts"] = sweep_deadlines(session, today, config)
    result["digests"] = send_digests(session, today, config) if digest else None
    result["calendar_warnings"] = warn_missing_calendar(session, today)
    result["calendar_missing_year"] = missing_calendar_year(session, today)
    record_run(session, "deadlines", started_at=started_at, for_date=today, result=result)
    return result


SESSION_RETENTION_DAYS = 30  # ended or long-expired staff sessions are kept this long (the sign-in log stays)


def clear_expired_tokens(session: Session) -> dict[str, int]:
    """Delete API tokens expired or revoked more than a day ago, and staff sessions that ended (or were last seen)
    more than 30 days ago, when those tables exist. Flushes."""
    cleared = {"api_tokens": 0, "staff_sessions": 0}
    statements = {
        "api_tokens": "DELETE FROM api_tokens WHERE expires_at < now() - interval '1 day'"
        " OR revoked_at < now() - interval '1 day'",
        "staff_sessions": "DELETE FROM staff_sessions WHERE coalesce(ended_at, last_seen_at)"
        f" < now() - interval '{SESSION_RETENTION_DAYS} days'",
    }
    with system_scope(session):
        for table, statement in statements.items():
            if session.scalar(text("SELECT to_regclass(:t)"), {"t": f"public.{table}"}) is not None:
                cleared[table] = session.execute(text(statement)).rowcount
    return cleared
