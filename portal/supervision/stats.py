"""Statistics of a bureau and everything below it, as SQL aggregates in the reader's tenant scope.

No Flask. Nothing is counted in Python: three statements, each one pass with ``GROUPING SETS``, give every figure of
the dashboard, whatever the number of cases:

- **cases** received in the period (``cases`` joined to the small bureau tree, the units and the ratings):
  totals, by state, kind, intake path, handling unit, outcome, satisfaction and by bureau one level down
  (the drill-down), with acceptance, extensions and the average handling time (acceptance to reply, calendar
  days), all hashable aggregates; then the 90th percentile (``percentile_cont(0.9)``, which needs a sort) over
  the replied cases only, in all and per drill-down row;
- **time limits**: the step deadlines that started in the period, per step and per bureau one level down. A step is
  on time when its deadline was closed on or before its due date (China time), or is still open and not yet due.

The covering indexes of the supervision migration, ``(tenant_id, received_on)`` and ``(tenant_id, started_on)`` with
the columns read here included, let a period that is a part of the data be read by index-only scans; when the
period covers most rows the planner rightly reads the table itself.

Which bureaus count: the chosen bureau (the reader's own by default) and its subtree, always inside the session's
scope (``resolve_bureau`` refuses a bureau the reader may not read); the session's scope filters every statement a
second time, and row-level security a third.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, timedelta

from sqlalchemy import Date, Integer, and_, case, cast, func, literal, or_, select, text, tuple_, type_coerce
from sqlalchemy.orm import Session

from portal.cases.models import Case, Deadline
from portal.supervision.models import SATISFACTION_LABELS, Satisfaction, SatisfactionRating
from portal.workflow import (
    INTAKE_LABELS,
    KIND_LABELS,
    OPEN_STATES,
    OUTCOME_LABELS,
    STATE_LABELS,
    STEP_LABELS,
    CaseKind,
    CaseState,
    IntakePath,
    Outcome,
    Step,
)
from tenants.models import Bureau, Unit
from tenants.scoping import TenantScope, get_scope

Pair = tuple[str, str]

#: Steps whose clocks the dashboard measures (materials requests and the petitioner's own window are not steps).
MEASURED_STEPS: tuple[Step, ...] = (
    Step.acceptance,
    Step.whole_review,
    Step.slip,
    Step.instruction,
    Step.dispatch,
    Step.division_review,
    Step.approval,
    Step.revision,
    Step.reply,
)
MAX_PERIOD_DAYS = 366 * 10
WORK_MEM = "64MB"
LOCAL_TZ = "Asia/Shanghai"


class PeriodError(ValueError):
    """A period filter that cannot be used; ``message_zh`` / ``message_en`` say why."""

    def __init__(self, message_zh: str, message_en: str):
        super().__init__(message_en)
        self.message_zh, self.message_en = message_zh, message_en


@dataclass(frozen=True)
class Period:
    """A closed range of dates ``start`` .. ``end``."""

    start: date
    end: date

    def label(self) -> str:
        return f"{self.start.isoformat()} – {self.end.isoformat()}"


def default_period(today: date, *, days: int | None = None) -> Period:
    """This calendar year up to today, or the last ``days`` days."""
    if days:
        return Period(today - timedelta(days=days - 1), today)
    return Period(date(today.year, 1, 1), today)


def presets(today: date) -> list[tuple[Pair, Period]]:
    """Usual periods for one-click links."""
    quarter_start = date(today.year, 3 * ((today.month - 1) // 3) + 1, 1)
    month_start = today.replace(day=1)
    last_month_end = month_start - timedelta(days=1)
    return [
        (("本年度", "This year"), Period(date(today.year, 1, 1), today)),
        (("本季度", "This quarter"), Period(quarter_start, today)),
        (("本月", "This month"), Period(month_start, today)),
        (("上月", "Last month"), Period(last_month_end.replace(day=1), last_month_end)),
        (("上一年度", "Last year"), Period(date(today.year - 1, 1, 1), date(today.year - 1, 12, 31))),
        (("近365天", "Last 365 days"), Period(today - timedelta(days=364), today)),
    ]


def _parse_day(raw: str, name_zh: str, name_en: str) -> date:
    try:
        return date.fromisoformat(raw)
    except ValueError:
        raise PeriodError(
            f"{name_zh}不是有效日期（格式：2026-01-31）。", f"The {name_en} is not a valid date (format: 2026-01-31)."
        ) from None


def parse_period(args: Mapping[str, str], today: date, *, default_days: int | None = None) -> Period:
    """Read ``start`` and ``end`` (ISO dates) from query-string-like ``args``; raise ``PeriodError`` when bad.

    Missing values take the default period's (this year, or the last ``default_days`` days).
    """
    default = default_period(today, days=default_days)
    raw_start = str(args.get("start") or "").strip()[:20]
    raw_end = str(args.get("end") or "").strip()[:20]
    start = _parse_day(raw_start, "开始日期", "start date") if raw_start else default.start
    end = _parse_day(raw_end, "结束日期", "end date") if raw_end else default.end
    if start > end:
        raise PeriodError("开始日期不能晚于结束日期。", "The start date must not be after the end date.")
    if (end - start).days > MAX_PERIOD_DAYS:
        raise PeriodError("统计期间不能超过十年。", "The period must not be longer than ten years.")
    if start.year < 2000 or end.year > 2999:
        raise PeriodError("日期超出可统计的范围。", "The dates are outside the range that can be counted.")
    return Period(start, end)


def parse_int(args: Mapping[str, str], name: str, default: int, low: int, high: int) -> int:
    """An integer setting from the query string, kept within ``low`` .. ``high``; a bad value takes the default."""
    raw = str(args.get(name) or "").strip()
    if not raw.isdigit() or len(raw) > 6:
        return default
    return max(low, min(high, int(raw)))


# --- Which bureaus ---------------------------------------------------------------------------------------


def resolve_bureau(session: Session, own_bureau_id: int, requested: str | int | None) -> Bureau | None:
    """The bureau whose subtree is counted: the reader's own, or one below it; None when not readable."""
    raw = str(requested).strip() if requested not in (None, "") else ""
    if raw and not (raw.isdigit() and len(raw) < 10):
        return None
    bureau_id = int(raw) if raw else own_bureau_id
    scope: TenantScope | None = get_scope(session)
    if scope is None or not scope.can_read(bureau_id):
        return None
    bureau = session.get(Bureau, bureau_id)
    if bureau is None:
        return None
    own = session.get(Bureau, own_bureau_id)
    if own is None or not bureau.path.startswith(own.path):
        return None  # a system scope reading for a bureau still counts only below the reader's own bureau
    return bureau


def bureau_tree(session: Session, root: Bureau) -> list[Bureau]:
    """The bureau and every bureau below it, parents before children."""
    return list(
        session.scalars(select(Bureau).where(Bureau.path.startswith(root.path)).order_by(Bureau.path.collate("C")))
    )


def breadcrumbs(session: Session, own_bureau_id: int, bureau: Bureau) -> list[Bureau]:
    """From the reader's own bureau down to ``bureau`` (the drill-down path)."""
    own = session.get(Bureau, own_bureau_id)
    ids = [int(p) for p in bureau.path.strip("/").split("/")]
    start = ids.index(own.id) if own and own.id in ids else len(ids) - 1
    rows = {b.id: b for b in session.scalars(select(Bureau).where(Bureau.id.in_(ids[start:])))}
    return [rows[i] for i in ids[start:] if i in rows]


def _child_key(root: Bureau):
    """SQL: the direct child of ``root`` whose subtree holds the row's bureau (``root`` itself for its own rows)."""
    return case(
        (Bureau.id == root.id, literal(root.id)),
        # NULLIF: the planner may compute this for any bureau row before the join leaves only the subtree's.
        else_=cast(func.nullif(func.split_part(func.substr(Bureau.path, len(root.path) + 1), "/", 1), ""), Integer),
    )


# --- The figures -----------------------------------------------------------------------------------------


@dataclass
class Counts:
    """The aggregates of one group of cases."""

    received: int = 0
    accepted: int = 0  # acceptance notice issued, or entered as accepted (committee transfers)
    accepted_decided: int = 0  # accepted after an acceptance decision (online and paper applications)
    not_accepted: int = 0
    pending: int = 0  # awaiting the acceptance decision
    open: int = 0
    concluded: int = 0  # replied or reported
    withdrawn: int = 0
    extended: int = 0
    extension_days: int = 0
    handled: int = 0  # cases with both an acceptance and a reply date
    avg_days: float | None = None
    p90_days: float | None = None
    rated: int = 0
    satisfied: int = 0  # satisfied or basically satisfied

    @property
    def acceptance_rate(self) -> float | None:
        """Accepted out of the decided online and paper applications (committee transfers are not decided)."""
        decided = self.accepted_decided + self.not_accepted
        return self.accepted_decided / decided if decided else None

    @property
    def extension_rate(self) -> float | None:
        return self.extended / self.accepted if self.accepted else None

    @property
    def satisfaction_rate(self) -> float | None:
        return self.satisfied / self.rated if self.rated else None


@dataclass
class StepCounts:
    """The deadlines of one step (in one group): how many, and how they stand against their due dates."""

    total: int = 0
    on_time: int = 0  # closed on or before the due date, or open and not yet due
    closed_late: int = 0
    open_overdue: int = 0

    @property
    def rate(self) -> float | None:
        return self.on_time / self.total if self.total else None


@dataclass
class BureauRow:
    bureau: Bureau
    own_cases: bool  # the row counts the bureau's own cases only (the chosen bureau's own line)
    has_children: bool
    counts: Counts
    whole_review: StepCounts
    steps: StepCounts  # every measured step together


@dataclass
class Figures:
    bureau: Bureau
    period: Period
    today: date
    totals: Counts
    by_state: dict[CaseState, int]
    by_kind: dict[CaseKind, int]
    by_intake: dict[IntakePath, int]
    by_unit: list[tuple[str | None, str, int]]  # (unit code or None = not assigned yet, name, cases)
    by_outcome: dict[Outcome, int]
    by_satisfaction: dict[Satisfaction, int]
    by_bureau: list[BureauRow]
    steps: dict[Step, StepCounts]
    all_steps: StepCounts = field(default_factory=StepCounts)


def _case_rows(root: Bureau, bureau_ids: list[int], period: Period):
    """The cases received in the period, one row each with the keys and values the aggregates need."""
    days = type_coerce(Case.replied_on - Case.accepted_on, Integer)
    return (
        select(
            _child_key(root).label("child"),
            Case.state.label("state"),
            Case.kind.label("kind"),
            Case.intake.label("intake"),
            Unit.code.label("unit"),
            Case.outcome.label("outcome"),
            SatisfactionRating.rating.label("rating"),
            Case.accepted_on.label("accepted_on"),
            Case.extension_used.label("extension_used"),
            Case.extension_days.label("extension_days"),
            days.label("days"),
        )
        .select_from(Case)
        .join(Bureau, Bureau.id == Case.tenant_id)
        .outerjoin(Unit, and_(Unit.tenant_id == Case.tenant_id, Unit.id == Case.lead_unit_id))
        .outerjoin(
            SatisfactionRating,
            and_(SatisfactionRating.tenant_id == Case.tenant_id, SatisfactionRating.case_id == Case.id),
        )
        .where(Case.tenant_id.in_(bureau_ids), Case.received_on.between(period.start, period.end))
    )


def _case_statement(root: Bureau, bureau_ids: list[int], period: Period):
    """Counts and averages of every grouping in one pass (hashable aggregates only: no sort of the cases)."""
    c = _case_rows(root, bureau_ids, period).subquery().c
    keys = (c.child, c.state, c.kind, c.intake, c.unit, c.outcome, c.rating)
    good = [Satisfaction.satisfied, Satisfaction.basically_satisfied]
    stmt = select(
        func.grouping(*keys).label("g"),
        *keys,
        func.count().label("received"),
        func.count().filter(c.accepted_on.isnot(None)).label("accepted"),
        func.count()
        .filter(and_(c.accepted_on.isnot(None), c.intake != IntakePath.committee_transfer))
        .label("accepted_decided"),
        func.count().filter(c.state == CaseState.not_accepted).label("not_accepted"),
        func.count().filter(c.state == CaseState.submitted).label("pending"),
        func.count().filter(c.state.in_(sorted(OPEN_STATES))).label("open"),
        func.count().filter(c.state.in_([CaseState.replied, CaseState.reported])).label("concluded"),
        func.count().filter(c.state == CaseState.withdrawn).label("withdrawn"),
        func.count().filter(c.extension_used.is_(True)).label("extended"),
        func.coalesce(func.sum(c.extension_days).filter(c.extension_used.is_(True)), 0).label("extension_days"),
        func.count(c.days).label("handled"),
        func.avg(c.days).label("avg_days"),
        func.count(c.rating).label("rated"),
        func.count().filter(c.rating.in_(good)).label("satisfied"),
    ).group_by(func.grouping_sets(tuple_(), *(tuple_(k) for k in keys)))
    return stmt, len(keys)


def _percentile_statement(root: Bureau, bureau_ids: list[int], period: Period):
    """The 90th percentile of the handling time, in all and per drill-down row (sorts only the replied cases)."""
    c = _case_rows(root, bureau_ids, period).where(Case.replied_on.isnot(None), Case.accepted_on.isnot(None))
    c = c.subquery().c
    return select(
        func.grouping(c.child).label("g"),
        c.child,
        func.percentile_cont(0.9).within_group(c.days).label("p90_days"),
    ).group_by(func.grouping_sets(tuple_(), tuple_(c.child)))


def _counts(row) -> Counts:
    return Counts(
        received=row.received,
        accepted=row.accepted,
        accepted_decided=row.accepted_decided,
        not_accepted=row.not_accepted,
        pending=row.pending,
        open=row.open,
        concluded=row.concluded,
        withdrawn=row.withdrawn,
        extended=row.extended,
        extension_days=int(row.extension_days or 0),
        handled=row.handled,
        avg_days=float(row.avg_days) if row.avg_days is not None else None,
        rated=row.rated,
        satisfied=row.satisfied,
    )


def _step_statement(root: Bureau, bureau_ids: list[int], period: Period, today: date):
    closed_on = cast(func.timezone(LOCAL_TZ, Deadline.closed_at), Date)
    on_time = or_(
        and_(Deadline.closed_at.isnot(None), closed_on <= Deadline.due_on),
        and_(Deadline.closed_at.is_(None), Deadline.due_on >= today),
    )
    inner = (
        select(
            _child_key(root).label("child"),
            Deadline.step.label("step"),
            on_time.label("on_time"),
            and_(Deadline.closed_at.isnot(None), closed_on > Deadline.due_on).label("closed_late"),
            and_(Deadline.closed_at.is_(None), Deadline.due_on < today).label("open_overdue"),
        )
        .select_from(Deadline)
        .join(Bureau, Bureau.id == Deadline.tenant_id)
        .where(
            Deadline.tenant_id.in_(bureau_ids),
            Deadline.started_on.between(period.start, period.end),
            Deadline.step.in_(MEASURED_STEPS),
        )
        .subquery()
    )
    c = inner.c
    return select(
        func.grouping(c.child, c.step).label("g"),
        c.child,
        c.step,
        func.count().label("total"),
        func.count().filter(c.on_time).label("on_time"),
        func.count().filter(c.closed_late).label("closed_late"),
        func.count().filter(c.open_overdue).label("open_overdue"),
    ).group_by(func.grouping_sets(tuple_(c.step), tuple_(c.child, c.step), tuple_(c.child), tuple_()))


def _step_counts(row) -> StepCounts:
    return StepCounts(total=row.total, on_time=row.on_time, closed_late=row.closed_late, open_overdue=row.open_overdue)


def compute_figures(session: Session, bureau: Bureau, period: Period, today: date) -> Figures:
    """Every figure of the dashboard for ``bureau`` and its subtree over ``period`` (three SQL statements)."""
    # Grouping sets keep one hash table per grouping; let them stay in memory for this transaction only.
    session.execute(text(f"SET LOCAL work_mem = '{WORK_MEM}'"))
    tree = bureau_tree(session, bureau)
    bureau_ids = [b.id for b in tree]
    stmt, nkeys = _case_statement(bureau, bureau_ids, period)
    full = (1 << nkeys) - 1
    only = {i: full - (1 << (nkeys - 1 - i)) for i in range(nkeys)}  # grouping() bits of "grouped by key i only"

    totals = Counts()
    by_child: dict[int, Counts] = {}
    by_state: dict[CaseState, int] = {}
    by_kind: dict[CaseKind, int] = {}
    by_intake: dict[IntakePath, int] = {}
    unit_counts: dict[str | None, int] = {}
    by_outcome: dict[Outcome, int] = {}
    by_rating: dict[Satisfaction, int] = {}
    for row in session.execute(stmt):
        if row.g == full:
            totals = _counts(row)
        elif row.g == only[0]:
            by_child[row.child] = _counts(row)
        elif row.g == only[1]:
            by_state[CaseState(row.state)] = row.received
        elif row.g == only[2]:
            by_kind[CaseKind(row.kind)] = row.received
        elif row.g == only[3]:
            by_intake[IntakePath(row.intake)] = row.received
        elif row.g == only[4]:
            unit_counts[row.unit] = row.received
        elif row.g == only[5] and row.outcome is not None:
            by_outcome[Outcome(row.outcome)] = row.received
        elif row.g == only[6] and row.rating is not None:
            by_rating[Satisfaction(row.rating)] = row.received

    for row in session.execute(_percentile_statement(bureau, bureau_ids, period)):
        value = float(row.p90_days) if row.p90_days is not None else None
        if row.g == 1:
            totals.p90_days = value
        elif row.child in by_child:
            by_child[row.child].p90_days = value

    steps: dict[Step, StepCounts] = {}
    all_steps = StepCounts()
    child_steps: dict[tuple[int, str | None], StepCounts] = {}
    for row in session.execute(_step_statement(bureau, bureau_ids, period, today)):
        if row.g == 0b00:
            child_steps[(row.child, Step(row.step))] = _step_counts(row)
        elif row.g == 0b10:
            steps[Step(row.step)] = _step_counts(row)
        elif row.g == 0b01:
            child_steps[(row.child, None)] = _step_counts(row)
        else:
            all_steps = _step_counts(row)

    children = [b for b in tree if b.parent_id == bureau.id]
    parents = {b.parent_id for b in tree}
    rows = [
        BureauRow(
            bureau=bureau,
            own_cases=bool(children),
            has_children=False,
            counts=by_child.get(bureau.id, Counts()),
            whole_review=child_steps.get((bureau.id, Step.whole_review), StepCounts()),
            steps=child_steps.get((bureau.id, None), StepCounts()),
        )
    ]
    rows += [
        BureauRow(
            bureau=b,
            own_cases=False,
            has_children=b.id in parents,
            counts=by_child.get(b.id, Counts()),
            whole_review=child_steps.get((b.id, Step.whole_review), StepCounts()),
            steps=child_steps.get((b.id, None), StepCounts()),
        )
        for b in children
    ]
    return Figures(
        bureau=bureau,
        period=period,
        today=today,
        totals=totals,
        by_state={s: by_state.get(s, 0) for s in CaseState},
        by_kind={k: by_kind.get(k, 0) for k in CaseKind},
        by_intake={i: by_intake.get(i, 0) for i in IntakePath},
        by_unit=_unit_rows(session, bureau_ids, unit_counts),
        by_outcome={o: by_outcome.get(o, 0) for o in Outcome},
        by_satisfaction={r: by_rating.get(r, 0) for r in Satisfaction},
        by_bureau=rows,
        steps={s: steps.get(s, StepCounts()) for s in MEASURED_STEPS},
        all_steps=all_steps,
    )


def _unit_rows(session: Session, bureau_ids: list[int], counts: dict[str | None, int]):
    """Name each unit code (the same code is the same kind of unit in every bureau); unassigned last."""
    codes = [c for c in counts if c is not None]
    names = (
        dict(
            session.execute(
                select(Unit.code, func.min(Unit.name))
                .where(Unit.tenant_id.in_(bureau_ids), Unit.code.in_(codes))
                .group_by(Unit.code)
            ).all()
        )
        if codes
        else {}
    )
    rows = sorted(((c, names.get(c, c), n) for c, n in counts.items() if c is not None), key=lambda r: (-r[2], r[0]))
    if counts.get(None):
        rows.append((None, "", counts[None]))
    return rows


__all__ = [
    "MEASURED_STEPS",
    "BureauRow",
    "Counts",
    "Figures",
    "Period",
    "PeriodError",
    "StepCounts",
    "breadcrumbs",
    "bureau_tree",
    "compute_figures",
    "default_period",
    "parse_int",
    "parse_period",
    "presets",
    "resolve_bureau",
]

# Labels the tables use (re-exported for the views and the exports).
LABELS = {
    "state": STATE_LABELS,
    "kind": KIND_LABELS,
    "intake": INTAKE_LABELS,
    "outcome": OUTCOME_LABELS,
    "satisfaction": SATISFACTION_LABELS,
    "step": STEP_LABELS,
}
