"""Rollups of the supervision figures, kept current in the transaction of every change.

The dashboard used to read every case and step deadline of the period (seconds at 100k cases, no answer at 1M).
It now sums a few thousand rows of two rollup tables, each kept per bureau at two grains (a day and a month): whole
months of a period are read from the month rows, the days at either end from the day rows.

- ``case_rollups`` holds, per (bureau, day the case was received, dimension, value), what ``stats.Counts`` needs:
  dimension ``all`` carries every counter; ``state``, ``kind``, ``intake``, ``unit`` (the lead unit's code),
  ``outcome`` and ``rating`` count cases per value; ``days`` is a histogram of handling days (acceptance to reply,
  whole calendar days), from which the 90th percentile is exact.
- ``deadline_rollups`` holds, per (bureau, day the clock started, step, status, due date), how many clocks are
  closed on time, closed late, or still open and due on that date (so "overdue today" is read against today).

Writers: ``perform_action`` and the submission take a snapshot of the case and its clocks before and after the
change and write the difference (``CaseRollupChange``); the rating adds its own counts; recomputing provisional
clocks moves their due dates. ``rebuild_rollups`` recomputes everything from the raw tables in SQL (the migration,
the benchmark's generated data, a check); a test holds the rollups equal to the raw figures.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from zoneinfo import ZoneInfo

from sqlalchemy import Connection, text
from sqlalchemy.orm import Session

from portal.workflow import OPEN_STATES, CaseState, IntakePath

CASE_METRICS = (
    "received",
    "accepted",
    "accepted_decided",
    "not_accepted",
    "pending",
    "open",
    "concluded",
    "withdrawn",
    "extended",
    "extension_days",
    "handled",
    "sum_days",
    "rated",
    "satisfied",
)
VALUE_DIMENSIONS = ("state", "kind", "intake", "unit", "outcome", "rating", "days")
GOOD_RATINGS = ("satisfied", "basically_satisfied")
CLOSED_SENTINEL = date(1970, 1, 1)  # the due-date column of closed clocks (their status already says how they closed)
CHINA = ZoneInfo("Asia/Shanghai")

Key = tuple  # (tenant_id, day, dim, value) or (tenant_id, day, step, status, due_on)


def _text(value) -> str:
    return "" if value is None else str(getattr(value, "value", value))


def case_contribution(case, unit_code: str | None) -> list[tuple[str, str, dict[str, int]]]:
    """What one case adds to the rollups of its received day: (dimension, value, counters)."""
    accepted, replied = case.accepted_on, case.replied_on
    days = (replied - accepted).days if accepted is not None and replied is not None else None
    state = CaseState(case.state)
    extended = bool(case.extension_used)
    counters = {
        "received": 1,
        "accepted": int(accepted is not None),
        "accepted_decided": int(accepted is not None and IntakePath(case.intake) is not IntakePath.committee_transfer),
        "not_accepted": int(state is CaseState.not_accepted),
        "pending": int(state is CaseState.submitted),
        "open": int(state in OPEN_STATES),
        "concluded": int(state in (CaseState.replied, CaseState.reported)),
        "withdrawn": int(state is CaseState.withdrawn),
        "extended": int(extended),
        "extension_days": (case.extension_days or 0) if extended else 0,
        "handled": int(days is not None),
        "sum_days": days or 0,
    }
    rows = [("all", "", counters)]
    for dim, value in (
        ("state", case.state),
        ("kind", case.kind),
        ("intake", case.intake),
        ("unit", unit_code),
        ("outcome", case.outcome),
    ):
        rows.append((dim, _text(value), {"received": 1}))
    if days is not None:
        rows.append(("days", str(days), {"received": 1}))
    return rows


def rating_contribution(rating) -> list[tuple[str, str, dict[str, int]]]:
    value = _text(rating)
    return [("all", "", {"rated": 1, "satisfied": int(value in GOOD_RATINGS)}), ("rating", value, {"received": 1})]


@dataclass(frozen=True)
class ClockState:
    """How one step clock counts: the day it started, its step, and closed on time / late or open and due when."""

    tenant_id: int
    started_on: date
    step: str
    status: str  # on_time, late, open
    due_on: date


def clock_state(deadline) -> ClockState:
    if deadline.closed_at is None:
        status, due = "open", deadline.due_on
    else:
        closed_on = deadline.closed_at.astimezone(CHINA).date()
        status, due = ("on_time" if closed_on <= deadline.due_on else "late"), CLOSED_SENTINEL
    return ClockState(deadline.tenant_id, deadline.started_on, _text(deadline.step), status, due)


class RollupChange:
    """Counts to add (or take away) in one transaction, written in one statement per table."""

    def __init__(self) -> None:
        self.cases: dict[Key, dict[str, int]] = defaultdict(lambda: defaultdict(int))
        self.clocks: dict[Key, int] = defaultdict(int)

    def add_case(self, tenant_id: int, day: date, rows: Iterable[tuple[str, str, dict[str, int]]], sign: int = 1):
        for dim, value, counters in rows:
            target = self.cases[(tenant_id, day, dim, value)]
            for name, n in counters.items():
                target[name] += sign * n

    def add_clock(self, state: ClockState, sign: int = 1) -> None:
        self.clocks[(state.tenant_id, state.started_on, state.step, state.status, state.due_on)] += sign

    def add_clocks(self, before: Iterable[ClockState], after: Iterable[ClockState]) -> None:
        for state in before:
            self.add_clock(state, -1)
        for state in after:
            self.add_clock(state, 1)

    def write(self, session: Session) -> None:
        """Upsert the non-zero differences at both grains, in key order (two writers lock rows in one order)."""
        case_rows = []
        for (tenant_id, day, dim, value), counters in self.cases.items():
            if not any(counters.values()):
                continue
            for grain, at in (("day", day), ("month", day.replace(day=1))):
                case_rows.append((tenant_id, grain, at, dim, value, *(counters.get(m, 0) for m in CASE_METRICS)))
        clock_rows = []
        for (tenant_id, day, step, status, due_on), n in self.clocks.items():
            if not n:
                continue
            for grain, at in (("day", day), ("month", day.replace(day=1))):
                clock_rows.append((tenant_id, grain, at, step, status, due_on, n))
        if case_rows or clock_rows:
            case_rows.sort(key=lambda r: r[:5])
            clock_rows.sort(key=lambda r: r[:6])
            parameters = _columns("c_", _CASE_COLUMNS, case_rows) | _columns("d_", _CLOCK_COLUMNS, clock_rows)
            session.execute(_UPSERT, parameters)
        self.cases.clear()
        self.clocks.clear()


def _unnest_upsert(table: str, prefix: str, columns: dict[str, str], constraint: str, counters: tuple[str, ...]):
    """Insert the rows whose columns arrive as arrays (unnested in order), adding to the counters of a row that
    exists. Row-level security checks the rows as for any insert or update."""
    arrays = ", ".join(f"CAST(:{prefix}{name} AS {kind}[])" for name, kind in columns.items())
    added = ", ".join(f"{c} = {table}.{c} + excluded.{c}" for c in counters)
    return (
        f"INSERT INTO {table} ({', '.join(columns)}) SELECT * FROM unnest({arrays})"
        f" ON CONFLICT ON CONSTRAINT {constraint} DO UPDATE SET {added}"
    )


_KEY_COLUMNS = {"tenant_id": "integer", "grain": "text", "day": "date"}
_CASE_COLUMNS = {
    **_KEY_COLUMNS,
    "dim": "text",
    "value": "text",
    **{m: "bigint" if m in ("extension_days", "sum_days") else "integer" for m in CASE_METRICS},
}
_CLOCK_COLUMNS = {**_KEY_COLUMNS, "step": "text", "status": "text", "due_on": "date", "n": "integer"}
# One fixed statement for both tables, whatever the number of rows (an empty array adds nothing): compiled once
# and sent in one round trip. (A multi-row VALUES per table, built per call, was compiled anew every time: once
# the largest cost of a submission.) The WITH part always runs to completion, read or not.
_UPSERT = text(
    "WITH counted_cases AS ("
    + _unnest_upsert("case_rollups", "c_", _CASE_COLUMNS, "uq_case_rollups_tenant_id_grain_day_dim_value", CASE_METRICS)
    + ") "
    + _unnest_upsert(
        "deadline_rollups",
        "d_",
        _CLOCK_COLUMNS,
        "uq_deadline_rollups_tenant_id_grain_day_step_status_due_on",
        ("n",),
    )
)


def _columns(prefix: str, names, rows: list[tuple]) -> dict[str, list]:
    """Rows as one list per column, named for the statement's parameters."""
    return {f"{prefix}{name}": [row[i] for row in rows] for i, name in enumerate(names)}


# --- Rebuilding from the raw tables --------------------------------------------------------------------------

_CASE_COUNTERS_SQL = """
    count(*),
    count(*) FILTER (WHERE c.accepted_on IS NOT NULL),
    count(*) FILTER (WHERE c.accepted_on IS NOT NULL AND c.intake <> 'committee_transfer'),
    count(*) FILTER (WHERE c.state = 'not_accepted'),
    count(*) FILTER (WHERE c.state = 'submitted'),
    count(*) FILTER (WHERE c.state IN ({open_states})),
    count(*) FILTER (WHERE c.state IN ('replied', 'reported')),
    count(*) FILTER (WHERE c.state = 'withdrawn'),
    count(*) FILTER (WHERE c.extension_used),
    coalesce(sum(c.extension_days) FILTER (WHERE c.extension_used), 0),
    count(*) FILTER (WHERE c.replied_on IS NOT NULL AND c.accepted_on IS NOT NULL),
    coalesce(sum(c.replied_on - c.accepted_on)
             FILTER (WHERE c.replied_on IS NOT NULL AND c.accepted_on IS NOT NULL), 0),
    0, 0
"""
_COLUMNS = "tenant_id, grain, day, dim, value, " + ", ".join(CASE_METRICS)
_ZEROS = ", ".join(["0"] * (len(CASE_METRICS) - 1))


def rebuild_rollups(session: Session | Connection) -> None:
    """Recompute both rollup tables from the cases, ratings and clocks (a session in system scope, or the owner's
    connection of a migration)."""
    for statement in rebuild_statements():
        session.execute(text(statement))


def rebuild_statements() -> list[str]:
    """The SQL that empties both rollup tables and fills them again from the raw tables, in order."""
    open_states = ", ".join(f"'{s.value}'" for s in sorted(OPEN_STATES))
    statements = ["DELETE FROM case_rollups", "DELETE FROM deadline_rollups"]
    per_value = {
        "state": "c.state::text",
        "kind": "c.kind::text",
        "intake": "c.intake::text",
        "unit": "coalesce(u.code, '')",
        "outcome": "coalesce(c.outcome::text, '')",
    }
    selects = [
        f"SELECT c.tenant_id, 'day', c.received_on, 'all', '', {_CASE_COUNTERS_SQL.format(open_states=open_states)}"
        " FROM cases c GROUP BY c.tenant_id, c.received_on"
    ]
    for dim, expression in per_value.items():
        selects.append(
            f"SELECT c.tenant_id, 'day', c.received_on, '{dim}', {expression}, count(*), {_ZEROS} FROM cases c"
            " LEFT JOIN units u ON u.tenant_id = c.tenant_id AND u.id = c.lead_unit_id"
            f" GROUP BY c.tenant_id, c.received_on, {expression}"
        )
    selects.append(
        f"SELECT c.tenant_id, 'day', c.received_on, 'days', (c.replied_on - c.accepted_on)::text, count(*), {_ZEROS}"
        " FROM cases c WHERE c.replied_on IS NOT NULL AND c.accepted_on IS NOT NULL"
        " GROUP BY c.tenant_id, c.received_on, c.replied_on - c.accepted_on"
    )
    good = ", ".join(f"'{g}'" for g in GOOD_RATINGS)
    rating_zeros = ", ".join(["0"] * (len(CASE_METRICS) - 2))
    selects.append(
        f"SELECT c.tenant_id, 'day', c.received_on, 'all', '', {rating_zeros}, count(*),"
        f" count(*) FILTER (WHERE r.rating::text IN ({good}))"
        " FROM satisfaction_ratings r JOIN cases c ON c.tenant_id = r.tenant_id AND c.id = r.case_id"
        " GROUP BY c.tenant_id, c.received_on"
    )
    selects.append(
        f"SELECT c.tenant_id, 'day', c.received_on, 'rating', r.rating::text, count(*), {_ZEROS}"
        " FROM satisfaction_ratings r JOIN cases c ON c.tenant_id = r.tenant_id AND c.id = r.case_id"
        " GROUP BY c.tenant_id, c.received_on, r.rating"
    )
    sums = ", ".join(f"sum({m})" for m in CASE_METRICS)
    statements.append(
        f"INSERT INTO case_rollups ({_COLUMNS}) SELECT tenant_id, grain, day, dim, value, {sums}"
        f" FROM ({' UNION ALL '.join(selects)}) AS parts ({_COLUMNS}) GROUP BY tenant_id, grain, day, dim, value"
    )
    statements.append(
        f"INSERT INTO case_rollups ({_COLUMNS}) SELECT tenant_id, 'month', date_trunc('month', day)::date, dim,"
        f" value, {sums} FROM case_rollups WHERE grain = 'day'"
        " GROUP BY tenant_id, date_trunc('month', day), dim, value"
    )
    status = (
        "CASE WHEN closed_at IS NULL THEN 'open'"
        " WHEN (closed_at AT TIME ZONE 'Asia/Shanghai')::date <= due_on THEN 'on_time' ELSE 'late' END"
    )
    due = f"CASE WHEN closed_at IS NULL THEN due_on ELSE DATE '{CLOSED_SENTINEL.isoformat()}' END"
    for grain, day in (("day", "started_on"), ("month", "date_trunc('month', started_on)::date")):
        statements.append(
            "INSERT INTO deadline_rollups (tenant_id, grain, day, step, status, due_on, n)"
            f" SELECT tenant_id, '{grain}', {day}, step::text, {status}, {due}, count(*) FROM deadlines"
            f" GROUP BY tenant_id, {day}, step, {status}, {due}"
        )
    return statements
