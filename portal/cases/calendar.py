"""The deployment's working-day calendar and time-limit table, read from the database."""

from __future__ import annotations

from datetime import date

from sqlalchemy import select
from sqlalchemy.orm import Session

from portal.cases.models import CalendarYear, StepRuleRow
from portal.memo import memoized
from portal.workdays import WorkdayCalendar, YearTable, load_year_file
from portal.workflow import DEFAULT_STEP_RULES, Step, StepRule


class CalendarLoadError(ValueError):
    """A year file that cannot be loaded."""


def _table(row: CalendarYear) -> YearTable:
    return YearTable(
        year=row.year,
        holidays={date.fromisoformat(d): n for d, n in row.holidays.items()},
        workdays={date.fromisoformat(d): n for d, n in row.workdays.items()},
        source=row.source,
    )


def get_calendar(session: Session) -> WorkdayCalendar:
    """The working-day calendar: chinese_calendar's years plus every year an administrator loaded."""

    def load() -> WorkdayCalendar:
        rows = session.scalars(select(CalendarYear)).all()
        return WorkdayCalendar({row.year: _table(row) for row in rows})

    return memoized(session, "calendar", (CalendarYear,), load)


def get_step_rules(session: Session) -> dict[Step, StepRule]:
    """The time-limit table in force: the deployment's rows over the regulation's defaults."""

    def load() -> dict[Step, StepRule]:
        rules = dict(DEFAULT_STEP_RULES)
        for row in session.scalars(select(StepRuleRow)):
            rules[row.step] = StepRule(row.amount, row.unit, row.owed_by, row.ref)
        return rules

    return dict(memoized(session, "step_rules", (StepRuleRow,), load))  # a copy: the memo is shared


def seed_step_rules(session: Session) -> int:
    """Write the default time limits that the table does not hold yet; flushes."""
    existing = set(session.scalars(select(StepRuleRow.step)))
    added = 0
    for step, rule in DEFAULT_STEP_RULES.items():
        if step not in existing:
            session.add(StepRuleRow(step=step, amount=rule.amount, unit=rule.unit, owed_by=rule.owed_by, ref=rule.ref))
            added += 1
    session.flush()
    return added


def load_year(session: Session, path: str) -> YearTable:
    """Store a year of holidays and make-up days from a JSON or CSV file (replacing that year); flushes."""
    table = load_year_file(path)
    if table.is_example:
        raise CalendarLoadError(
            f"{path} is the example file, not an official schedule; transcribe the State Council notice instead."
        )
    row = session.get(CalendarYear, table.year) or CalendarYear(year=table.year)
    row.source = table.source
    row.holidays = {d.isoformat(): n for d, n in table.holidays.items()}
    row.workdays = {d.isoformat(): n for d, n in table.workdays.items()}
    session.add(row)
    session.flush()
    return table
