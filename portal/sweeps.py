"""Deadline sweeps: reminders, overdue alerts, escalation, supervision, daily digests, calendar warnings, and the
petitioner's expired windows closed.

A sweep reads the open deadlines through their partial index (``ix_deadlines_sweep``) and, for each one due within
the reminder horizon or already past, decides from the working-day calendar what is owed today:

- **reminder** N working days before the due date, for each N of ``REMINDER_WORKING_DAYS`` (default 3 and 1):
  the smallest N not below the working days left, so a sweep that missed a day still reminds once;
- **overdue** from the first working day after the due date, to whoever owes the step;
- **escalation** at the same time, to the bureau's leader in charge of petitions (the principal leader when
  the petitions leader is the one who owes it);
- **supervision** ``SUPERVISION_AFTER`` working days after the due date (2 working days after the escalation),
  to the petition office head and petitions leader of the bureau above.

What is owed depends on the due date alone, so the calendar is consulted once per distinct due date; the rest is
set-based SQL (``portal.sweep_sql``). Each alert is recorded in ``deadline_alerts`` (the record, per deadline, with
its recipients) with ``INSERT ... ON CONFLICT DO NOTHING`` on (deadline, kind, threshold, due date); the alerts
recorded tell their recipients in the same statement, with **one notification per person, kind and day** that
lists them: nothing in the regulation asks for one message per time limit, and a petition office owes hundreds.
So a sweep run twice, or two sweeps at once (they also take an advisory lock), send nothing twice. Deadlines owed
by the petitioner (``owed_by == 'petitioner'``, the window to apply for re-review) are not alerted; the sweep
closes them once their last day has passed.

Who is told is defined by ``owners``, ``leaders`` and ``supervisors`` below; the SQL mirrors them, and a test holds
the two equal on varied data.

"Today" is the date in China (Asia/Shanghai). ``portal sweep run --date YYYY-MM-DD`` runs a sweep for another
date, which is how the clock is moved forward in a demonstration or a test.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import func, select, text
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from portal.accounts.models import StaffUser
from portal.cases.calendar import get_calendar
from portal.cases.models import WINDOW_EXPIRED, Case, Deadline
from portal.notify.models import WORK_KINDS, SweepRun
from portal.notify.operations import notify_staff
from portal.roles import Role
from portal.supervision.rollups import CLOSED_SENTINEL
from portal.sweep_sql import CLOSE_WINDOWS, DIGESTS, OPEN_STAFF, SET_SINCE, alerts
from portal.workdays import WorkdayCalendar
from tenants.models import Bureau, Unit, UnitKind
from tenants.scoping import system_scope

CHINA = ZoneInfo("Asia/Shanghai")
SUPERVISION_AFTER = 3  # working days after the due date: 2 working days after the escalation to the leader
DIGEST_WORKING_DAYS = 5  # a digest lists what is overdue or due within this many working days
CALENDAR_WARNING_FROM = (11, 1)  # month, day: from 1 November, warn when next year's calendar is missing
DIGEST_RUN = "digests"  # the sweep_runs row that says for which day the digests went out
WINDOWS_RUN = "windows"  # ... and for which day the expired windows were closed
_LOCK = 0x5EE9  # pg_advisory_xact_lock key: one deadline sweep at a time
# The sweep's statements sort and hash a day's alerts (some 200,000 rows at 1M cases): with the default 4 MB they
# spilled to disk (bench/README.md). For the sweep's transaction only.
SWEEP_WORK_MEM = "64MB"

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


#: How an escalation or supervision notice names whoever owes the step, by the rule of ``owners`` that found them
#: (a user is named by their name, a unit by its name).
OWNER_LABELS: dict[str, tuple[str, str]] = {
    "petitions_leader": ("分管信访工作的局领导", "the petitions leader"),
    "business_leader": ("分管业务工作的局领导", "the leader in charge of the business"),
    "office": ("信访办", "the petition office"),
    "fallback": ("分管信访工作的局领导", "the petitions leader"),
}


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
            return found, OWNER_LABELS["petitions_leader"]
    if deadline.owed_by == "business_leader" and case.lead_unit_id is not None:
        unit_id = case.lead_unit_id
        found = [u for u in staff if Role.business_leader in u.roles and unit_id in (u.oversees_unit_ids or [])]
        if found:
            return found, OWNER_LABELS["business_leader"]
    if deadline.owed_unit_id is not None:
        found = [u for u in staff if u.unit_id == deadline.owed_unit_id]
        unit = people.units(bureau_id).get(deadline.owed_unit_id)
        if found:
            return found, ((unit.name, unit.name) if unit else ("", ""))
    office = people.petition_office(bureau_id)
    if office:
        return office, OWNER_LABELS["office"]
    return people.with_roles(bureau_id, Role.petitions_leader), OWNER_LABELS["fallback"]


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

NOTICE_MAX_ITEMS = 50  # alerts one notification lists (and digest entries); the rest are counted


def _open(until: date) -> list:
    """Conditions of the deadlines a sweep looks at (the partial index ``ix_deadlines_sweep``)."""
    return [Deadline.closed_at.is_(None), Deadline.due_on <= until, Deadline.owed_by != "petitioner"]


def open_by_due_date(session: Session, until: date, since: datetime | None = None) -> dict[date, int]:
    """How many open deadlines that staff owe fall due on each date up to ``until`` (one index-only read); with
    ``since``, only those opened or moved since then (``Deadline.due_set_at``)."""
    conditions = _open(until)
    if since is not None:
        conditions.append(Deadline.due_set_at >= since)
    rows = session.execute(select(Deadline.due_on, func.count()).where(*conditions).group_by(Deadline.due_on))
    return dict(rows.all())


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


def working_days_left(calendar: WorkdayCalendar, today: date, due_on: date) -> int:
    """Working days from today to the due date: 0 on the due date, negative once overdue (-1: one working day late).

    The days off right after a due date count as 0 working days late: nobody is told on a Saturday that a step
    due on Friday is late; they are told on Monday.
    """
    if due_on >= today:
        return calendar.working_days_between(today, due_on)
    return -calendar.working_days_between(due_on, today)


def _common_params(today: date, horizon: date) -> dict:
    labels = {rule: list(pair) for rule, pair in OWNER_LABELS.items()}
    return {
        "today": today,
        "day": today.isoformat(),
        "horizon": horizon,
        "owner_labels": json.dumps(labels, ensure_ascii=False),
        "max_items": NOTICE_MAX_ITEMS,
    }


SWEEP_OVERLAP = timedelta(minutes=10)  # longer than any transaction that may open or move a clock meanwhile


def swept_since(session: Session, today: date) -> datetime | None:
    """When the day's previous sweep for ``today`` started, less ``SWEEP_OVERLAP`` (a clock set by a transaction
    that was still running then is read again); None when there was none (``run_sweep`` records each run in its
    own transaction)."""
    done = session.get(SweepRun, "deadlines")
    if done is None or done.last_for_date != today or done.last_error is not None or done.last_started_at is None:
        return None
    return done.last_started_at - SWEEP_OVERLAP


def pending_alert_params(
    session: Session, today: date, config: SweepConfig, since: datetime | None = None
) -> tuple[dict, int]:
    """The parameters of the ``sweep_sql`` alert statements for ``today``, and how many open deadlines in the
    horizon they read (with ``since``: only those opened or moved since then).

    What a deadline has earned depends on its due date only, so it is worked out here once per distinct due date
    (from the calendar) and passed as arrays; the statement joins them to the deadlines.
    """
    calendar = get_calendar(session)
    horizon = alert_horizon(calendar, today, config)
    by_due = open_by_due_date(session, horizon, since)
    owed = [
        (due_on, kind, threshold, working_days_left(calendar, today, due_on))
        for due_on in sorted(by_due)
        for kind, threshold in alerts_owed(calendar, today, due_on, config)
    ]
    params = _common_params(today, horizon) | {
        "owed_due": [o[0] for o in owed],
        "owed_kind": [o[1] for o in owed],
        "owed_threshold": [o[2] for o in owed],
        "owed_days": [o[3] for o in owed],
        "items_path": f"$[0 to {NOTICE_MAX_ITEMS - 1}]",
        "since": since,
    }
    return params, sum(by_due.values())


def sweep_deadlines(session: Session, today: date, config: SweepConfig = SweepConfig()) -> dict[str, int]:
    """Record today's reminders, overdue alerts, escalations and supervision notices and tell whoever they go to
    (``sweep_sql.alerts``: one statement); flushes. The alerts recorded by kind, and the notifications written.

    The day's first sweep reads every open clock in the horizon. What a clock owes depends on its due date and the
    day alone, so a later sweep of the same day reads only the clocks opened or moved since the previous one
    (``Deadline.due_set_at``): an alert that found nobody to tell is tried again the next day, not every few
    minutes. Nothing owed, nothing written.
    """
    with system_scope(session):
        session.flush()
        session.execute(select(func.pg_advisory_xact_lock(_LOCK)))
        _room_to_sort(session)
        since = swept_since(session, today)
        clocks = OPEN_STAFF if since is None else SET_SINCE
        params, checked = pending_alert_params(session, today, config, since)
        counts = {"deadlines_checked": checked, "notifications": 0}
        recorded, notified = session.execute(text(alerts(clocks)), params).one()
        counts |= recorded
        counts["notifications"] = notified
    return counts


def _room_to_sort(session: Session) -> None:
    session.execute(select(func.set_config("work_mem", SWEEP_WORK_MEM, True)))


def close_expired_windows(session: Session, today: date) -> int:
    """Close the petitioner's windows to apply for re-review whose last day is before ``today``; once a day.
    Flushes; returns how many were closed.

    The escalation is refused from the day after the last day anyway (``workflow._check_escalation``); closed, the
    windows leave the open deadlines, where at scale they were most of the rows. The case keeps the last day
    (``case_view`` reads the expired window too).
    """
    done = session.get(SweepRun, WINDOWS_RUN)
    if done is not None and done.last_for_date == today:
        return 0
    started_at = datetime.now(UTC)
    with system_scope(session):
        session.flush()
        params = {"today": today, "reason": WINDOW_EXPIRED, "closed_sentinel": CLOSED_SENTINEL}
        closed = session.execute(text(CLOSE_WINDOWS), params).scalar_one()
        record_run(session, WINDOWS_RUN, started_at=started_at, for_date=today, result={"closed": closed})
    return closed


def send_digests(session: Session, today: date, config: SweepConfig = SweepConfig()) -> int:
    """One digest per staff member of what they owe that is overdue or due soon, and of the work waiting for them
    that no time limit lists (``sweep_sql.DIGESTS``: one statement); once per day. Flushes.

    The sweep runs every few minutes and asks for digests from 07:00: after the day's first, the others stop here
    instead of reading every open deadline again (the notifications' dedupe key would only drop them).
    """
    done = session.get(SweepRun, DIGEST_RUN)
    if done is not None and done.last_for_date == today:
        return 0
    started_at = datetime.now(UTC)
    calendar = get_calendar(session)
    with system_scope(session):
        session.flush()
        _room_to_sort(session)
        horizon = calendar.add(today, config.digest_days, "working_days").due
        due = sorted(open_by_due_date(session, horizon))
        pairs = [(kind, step) for kind, steps in _WORK_STEPS.items() for step in steps]
        params = _common_params(today, horizon) | {
            "due": due,
            "days": [working_days_left(calendar, today, d) for d in due],
            "work_kinds": list(WORK_KINDS),
            "work_kind": [k for k, _ in pairs],
            "work_step": [s for _, s in pairs],
        }
        written = session.execute(text(DIGESTS), params).scalar_one()
        record_run(session, DIGEST_RUN, started_at=started_at, for_date=today, result={"written": written})
    return written


#: Work notifications whose work has a time limit of its own: a digest that lists that limit needs no more.
_WORK_STEPS: dict[str, tuple[str, ...]] = {
    "awaiting_instruction": ("instruction",),
    "awaiting_approval": ("approval",),
    "materials_requested": ("material_request",),
    "work_returned": ("revision", "reply"),
}


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
    """The whole daily work for ``today``: deadline alerts, expired windows, digests (when asked), the calendar
    warning. Flushes."""
    started_at = started_at or datetime.now(UTC)
    result: dict = {"date": today.isoformat()}
    result["alerts"] = sweep_deadlines(session, today, config)
    result["windows_closed"] = close_expired_windows(session, today)
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
