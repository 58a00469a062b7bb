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
from portal.supervision.models import (
    SATISFACTION_LABELS,
    CaseRollup,
    DeadlineRollup,
    Satisfaction,
    SatisfactionRating,
)
from portal.supervision.rollups import CASE_METRICS
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
    sum_days: int = 0  # their handling days added up
    p90_days: float | None = None
    rated: int = 0
    satisfied: int = 0  # satisfied or basically satisfied

    @property
    def avg_days(self) -> float | None:
        return self.sum_days / self.handled if self.handled else None

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
        func.coalesce(func.sum(c.days), 0).label("sum_days"),
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
        sum_days=int(row.sum_days),
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


@dataclass
class _Tallies:
    """What both ways of counting produce, before the figures are put together."""

    totals: Counts = field(default_factory=Counts)
    by_child: dict[int, Counts] = field(default_factory=dict)
    by_state: dict[CaseState, int] = field(default_factory=dict)
    by_kind: dict[CaseKind, int] = field(default_factory=dict)
    by_intake: dict[IntakePath, int] = field(default_factory=dict)
    unit_counts: dict[str | None, int] = field(default_factory=dict)
    by_outcome: dict[Outcome, int] = field(default_factory=dict)
    by_rating: dict[Satisfaction, int] = field(default_factory=dict)
    steps: dict[Step, StepCounts] = field(default_factory=dict)
    all_steps: StepCounts = field(default_factory=StepCounts)
    child_steps: dict[tuple[int, Step | None], StepCounts] = field(default_factory=dict)


def compute_figures(session: Session, bureau: Bureau, period: Period, today: date) -> Figures:
    """Every figure of the dashboard for ``bureau`` and its subtree over ``period``, from the rollups: the whole
    months of the period from the month rows, the days at either end from the day rows (two SQL statements)."""
    tree = bureau_tree(session, bureau)
    child_of = _children_of(bureau, tree)
    months, day_ranges = _spans(period)
    tallies = _Tallies()
    histograms: dict[int | None, dict[int, int]] = {}  # handling days -> cases, in all (None) and per child
    for row in session.execute(_rollup_case_statement([b.id for b in tree], months, day_ranges)):
        child = child_of[row.tenant_id]
        if row.dim == "all":
            counts = _rollup_counts(row)
            _add_counts(tallies.totals, counts)
            _add_counts(tallies.by_child.setdefault(child, Counts()), counts)
        elif row.dim == "days":
            for key in (None, child):
                histogram = histograms.setdefault(key, {})
                histogram[int(row.value)] = histogram.get(int(row.value), 0) + row.received
        else:
            _add_value(tallies, row.dim, row.value, row.received)
    for child, histogram in histograms.items():
        p90 = percentile_cont(histogram, 0.9)
        if child is None:
            tallies.totals.p90_days = p90
        elif child in tallies.by_child:
            tallies.by_child[child].p90_days = p90
    for row in session.execute(_rollup_step_statement([b.id for b in tree], months, day_ranges, today)):
        step, child = Step(row.step), child_of[row.tenant_id]
        counts = StepCounts(row.total, row.on_time, row.closed_late, row.open_overdue)
        for key in ((child, step), (child, None)):
            _add_steps(tallies.child_steps.setdefault(key, StepCounts()), counts)
        _add_steps(tallies.steps.setdefault(step, StepCounts()), counts)
        _add_steps(tallies.all_steps, counts)
    return _figures(session, bureau, period, today, tree, tallies)


def compute_figures_from_cases(session: Session, bureau: Bureau, period: Period, today: date) -> Figures:
    """The same figures counted from the raw cases and deadlines (three statements over every row of the period):
    the reference the rollups are checked against."""
    # Grouping sets keep one hash table per grouping; let them stay in memory for this transaction only.
    session.execute(text(f"SET LOCAL work_mem = '{WORK_MEM}'"))
    tree = bureau_tree(session, bureau)
    bureau_ids = [b.id for b in tree]
    stmt, nkeys = _case_statement(bureau, bureau_ids, period)
    full = (1 << nkeys) - 1
    only = {i: full - (1 << (nkeys - 1 - i)) for i in range(nkeys)}  # grouping() bits of "grouped by key i only"

    t = _Tallies()
    for row in session.execute(stmt):
        if row.g == full:
            t.totals = _counts(row)
        elif row.g == only[0]:
            t.by_child[row.child] = _counts(row)
        elif row.g == only[1]:
            t.by_state[CaseState(row.state)] = row.received
        elif row.g == only[2]:
            t.by_kind[CaseKind(row.kind)] = row.received
        elif row.g == only[3]:
            t.by_intake[IntakePath(row.intake)] = row.received
        elif row.g == only[4]:
            t.unit_counts[row.unit] = row.received
        elif row.g == only[5] and row.outcome is not None:
            t.by_outcome[Outcome(row.outcome)] = row.received
        elif row.g == only[6] and row.rating is not None:
            t.by_rating[Satisfaction(row.rating)] = row.received

    for row in session.execute(_percentile_statement(bureau, bureau_ids, period)):
        value = float(row.p90_days) if row.p90_days is not None else None
        if row.g == 1:
            t.totals.p90_days = value
        elif row.child in t.by_child:
            t.by_child[row.child].p90_days = value

    for row in session.execute(_step_statement(bureau, bureau_ids, period, today)):
        if row.g == 0b00:
            t.child_steps[(row.child, Step(row.step))] = _step_counts(row)
        elif row.g == 0b10:
            t.steps[Step(row.step)] = _step_counts(row)
        elif row.g == 0b01:
            t.child_steps[(row.child, None)] = _step_counts(row)
        else:
            t.all_steps = _step_counts(row)
    return _figures(session, bureau, period, today, tree, t)


def _figures(session: Session, bureau: Bureau, period: Period, today: date, tree: list[Bureau], t: _Tallies) -> Figures:
    children = [b for b in tree if b.parent_id == bureau.id]
    parents = {b.parent_id for b in tree}
    rows = [
        BureauRow(
            bureau=bureau,
            own_cases=bool(children),
            has_children=False,
            counts=t.by_child.get(bureau.id, Counts()),
            whole_review=t.child_steps.get((bureau.id, Step.whole_review), StepCounts()),
            steps=t.child_steps.get((bureau.id, None), StepCounts()),
        )
    ]
    rows += [
        BureauRow(
            bureau=b,
            own_cases=False,
            has_children=b.id in parents,
            counts=t.by_child.get(b.id, Counts()),
            whole_review=t.child_steps.get((b.id, Step.whole_review), StepCounts()),
            steps=t.child_steps.get((b.id, None), StepCounts()),
        )
        for b in children
    ]
    return Figures(
        bureau=bureau,
        period=period,
        today=today,
        totals=t.totals,
        by_state={s: t.by_state.get(s, 0) for s in CaseState},
        by_kind={k: t.by_kind.get(k, 0) for k in CaseKind},
        by_intake={i: t.by_intake.get(i, 0) for i in IntakePath},
        by_unit=_unit_rows(session, [b.id for b in tree], t.unit_counts),
        by_outcome={o: t.by_outcome.get(o, 0) for o in Outcome},
        by_satisfaction={r: t.by_rating.get(r, 0) for r in Satisfaction},
        by_bureau=rows,
        steps={s: t.steps.get(s, StepCounts()) for s in MEASURED_STEPS},
        all_steps=t.all_steps,
    )


# --- Reading the rollups ---------------------------------------------------------------------------------


def _children_of(root: Bureau, tree: list[Bureau]) -> dict[int, int]:
    """Each bureau of the tree -> the drill-down row it counts in (``root`` itself, or its child above it)."""
    prefix = len(root.path)
    found = {}
    for b in tree:
        rest = b.path[prefix:].strip("/")
        found[b.id] = root.id if not rest else int(rest.split("/")[0])
    return found


def _spans(period: Period) -> tuple[tuple[date, date] | None, list[tuple[date, date]]]:
    """The whole months inside the period (first days of the first and last), and the day ranges around them."""
    first = period.start if period.start.day == 1 else _next_month(period.start)
    after_end = period.end + timedelta(days=1)
    last_end = after_end if after_end.day == 1 else after_end.replace(day=1)  # first day after the whole months
    if first >= last_end:
        return None, [(period.start, period.end)]
    ranges = []
    if period.start < first:
        ranges.append((period.start, first - timedelta(days=1)))
    if last_end <= period.end:
        ranges.append((last_end, period.end))
    return (first, (last_end - timedelta(days=1)).replace(day=1)), ranges


def _next_month(day: date) -> date:
    return (day.replace(day=28) + timedelta(days=4)).replace(day=1)


def _in_period(model, months: tuple[date, date] | None, day_ranges: list[tuple[date, date]]):
    parts = [and_(model.grain == "day", model.day.between(a, b)) for a, b in day_ranges]
    if months is not None:
        parts.append(and_(model.grain == "month", model.day.between(*months)))
    return or_(*parts)


def _rollup_case_statement(bureau_ids: list[int], months, day_ranges):
    return (
        select(
            CaseRollup.tenant_id,
            CaseRollup.dim,
            CaseRollup.value,
            *(func.sum(getattr(CaseRollup, m)).label(m) for m in CASE_METRICS),
        )
        .where(CaseRollup.tenant_id.in_(bureau_ids), _in_period(CaseRollup, months, day_ranges))
        .group_by(CaseRollup.tenant_id, CaseRollup.dim, CaseRollup.value)
    )


def _rollup_step_statement(bureau_ids: list[int], months, day_ranges, today: date):
    r = DeadlineRollup
    is_open = r.status == "open"
    return (
        select(
            r.tenant_id,
            r.step,
            func.sum(r.n).label("total"),
            func.coalesce(func.sum(r.n).filter(or_(r.status == "on_time", and_(is_open, r.due_on >= today))), 0).label(
                "on_time"
            ),
            func.coalesce(func.sum(r.n).filter(r.status == "late"), 0).label("closed_late"),
            func.coalesce(func.sum(r.n).filter(and_(is_open, r.due_on < today)), 0).label("open_overdue"),
        )
        .where(
            r.tenant_id.in_(bureau_ids),
            r.step.in_([s.value for s in MEASURED_STEPS]),
            _in_period(r, months, day_ranges),
        )
        .group_by(r.tenant_id, r.step)
        .having(func.sum(r.n) != 0)
    )


def _rollup_counts(row) -> Counts:
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
        extension_days=int(row.extension_days),
        handled=row.handled,
        sum_days=int(row.sum_days),
        rated=row.rated,
        satisfied=row.satisfied,
    )


def _add_counts(target: Counts, more: Counts) -> None:
    for name in CASE_METRICS:
        setattr(target, name, getattr(target, name) + getattr(more, name))


def _add_steps(target: StepCounts, more: StepCounts) -> None:
    target.total += more.total
    target.on_time += more.on_time
    target.closed_late += more.closed_late
    target.open_overdue += more.open_overdue


def _add_value(t: _Tallies, dim: str, value: str, n: int) -> None:
    if not n:
        return
    if dim == "state":
        t.by_state[CaseState(value)] = t.by_state.get(CaseState(value), 0) + n
    elif dim == "kind":
        t.by_kind[CaseKind(value)] = t.by_kind.get(CaseKind(value), 0) + n
    elif dim == "intake":
        t.by_intake[IntakePath(value)] = t.by_intake.get(IntakePath(value), 0) + n
    elif dim == "unit":
        code = value or None
        t.unit_counts[code] = t.unit_counts.get(code, 0) + n
    elif dim == "outcome" and value:
        t.by_outcome[Outcome(value)] = t.by_outcome.get(Outcome(value), 0) + n
    elif dim == "rating" and value:
        t.by_rating[Satisfaction(value)] = t.by_rating.get(Satisfaction(value), 0) + n


def percentile_cont(histogram: dict[int, int], fraction: float) -> float | None:
    """PostgreSQL's ``percentile_cont`` over the values a histogram counts (value -> how many), exactly."""
    values = sorted(v for v, n in histogram.items() if n > 0)
    total = sum(histogram[v] for v in values)
    if not total:
        return None
    position = fraction * (total - 1)
    lower_index, weight = int(position), position - int(position)

    def nth(index: int) -> int:
        seen = 0
        for v in values:
            seen += histogram[v]
            if index < seen:
                return v
        return values[-1]

    low = nth(lower_index)
    high = nth(lower_index + 1) if weight else low
    return float(low + (high - low) * weight)


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
    "compute_figures_from_cases",
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
