"""Early warning (预警) across a bureau's subtree: repeat petitioners, clusters, sensitive cases, steps due and overdue.

No Flask. Every rule is one SQL aggregate (``GROUP BY ... HAVING``) or one bounded list in the reader's scope, plus
one look-up of the few cases the warnings link to. Thresholds come from the caller (the page's query string), with
the defaults below.

- **Repeat petitioners**: the same keyed hash of the ID number (``petitioner_id_hash``) on at least
  ``repeat_min`` cases received in the period, in any bureaus of the subtree (never outside the reader's scope:
  a county sees only its own cases, so a petitioner who also applied at a sibling is not shown there).
- **Clusters by document**: at least ``document_min`` applications against the same written opinion (the same
  issuing bureau and document number, ignoring spaces and letter case) received in the period.
- **Clusters by issue**: at least ``issue_min`` applications against opinions of the same bureau and the same kind
  (handling opinion / review opinion) received in the period.
- **Sensitive cases**: flagged by staff (``portal.supervision.operations.set_sensitive``), still open or received
  in the period.
- **Due soon / overdue**: open step deadlines due within the next ``due_days`` days, and those already past due
  (the petitioner's own window to escalate is not staff work and is left out).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta

from sqlalchemy import ARRAY, BigInteger, Integer, func, literal, literal_column, select
from sqlalchemy.dialects.postgresql import aggregate_order_by, array_agg
from sqlalchemy.orm import Session

from portal.cases.models import Case, Deadline
from portal.routing import OpinionKind
from portal.supervision.stats import Period, bureau_tree
from portal.workflow import OPEN_STATES, CaseState, Step
from tenants.models import Bureau

REPEAT_MIN = 2
DOCUMENT_MIN = 3
ISSUE_MIN = 10
DUE_DAYS = 5
MAX_GROUPS = 100  # warnings of one kind shown at most
MAX_CASES_PER_GROUP = 20  # cases linked from one warning at most (the count says how many there are)
MAX_LIST = 200  # rows of the sensitive / due lists at most (the count says how many there are)
UNWATCHED_STEPS = (Step.escalation_window,)


@dataclass(frozen=True)
class CaseRef:
    id: int
    tenant_id: int
    number: str
    petitioner_name: str
    state: CaseState
    received_on: date
    bureau_name: str


@dataclass
class Group:
    """One warning: a key, how many cases, in how many bureaus, and (up to a limit) the cases themselves."""

    count: int
    bureaus: int
    cases: list[CaseRef]
    label: str = ""  # petitioner name, document number, ...
    disputed_bureau: str | None = None
    disputed_kind: OpinionKind | None = None


@dataclass(frozen=True)
class DueRow:
    case: CaseRef
    step: Step
    due_on: date
    days: int  # calendar days until due (negative: overdue by)


@dataclass
class Warnings:
    bureau: Bureau
    period: Period
    today: date
    repeat_min: int
    document_min: int
    issue_min: int
    due_days: int
    repeat_petitioners: list[Group] = field(default_factory=list)
    document_clusters: list[Group] = field(default_factory=list)
    issue_clusters: list[Group] = field(default_factory=list)
    sensitive: list[CaseRef] = field(default_factory=list)
    sensitive_total: int = 0
    due_soon: list[DueRow] = field(default_factory=list)
    due_soon_total: int = 0
    overdue: list[DueRow] = field(default_factory=list)
    overdue_total: int = 0


def _newest(column):
    """The first cases of a group, newest first (both keys of each: cases are found again by primary key)."""
    return array_agg(aggregate_order_by(column, Case.received_on.desc(), Case.id.desc()))[1:MAX_CASES_PER_GROUP]


def _groups(session: Session, keys, having_min: int, where, extra=()) -> list:
    stmt = (
        select(
            *keys,
            *extra,
            func.count().label("n"),
            func.count(func.distinct(Case.tenant_id)).label("bureaus"),
            _newest(Case.tenant_id).label("tenants"),
            _newest(Case.id).label("ids"),
        )
        .where(*where)
        .group_by(*keys)
        .having(func.count() >= having_min)
        .order_by(func.count().desc(), *keys)
        .limit(MAX_GROUPS)
    )
    return session.execute(stmt).all()


def _refs(session: Session, keys: set[tuple[int, int]], names: dict[int, str]) -> dict[int, CaseRef]:
    if not keys:
        return {}
    pairs = sorted(keys)
    # A join with the unnested key pairs: one primary-key look-up each (a row-value IN list would be compared
    # with every case row instead).
    wanted = (
        func.unnest(literal([t for t, _ in pairs], ARRAY(Integer)), literal([i for _, i in pairs], ARRAY(BigInteger)))
        .table_valued("tenant_id", "id")
        .render_derived(name="wanted")
    )
    rows = session.execute(
        select(Case.id, Case.tenant_id, Case.number, Case.petitioner_name, Case.state, Case.received_on)
        .select_from(wanted)
        .join(Case, (Case.tenant_id == wanted.c.tenant_id) & (Case.id == wanted.c.id))
    ).all()
    return {r.id: _ref(r, names) for r in rows}


def _ref(r, names: dict[int, str]) -> CaseRef:
    return CaseRef(r.id, r.tenant_id, r.number, r.petitioner_name, r.state, r.received_on, names.get(r.tenant_id, ""))


def compute_warnings(
    session: Session,
    bureau: Bureau,
    period: Period,
    today: date,
    *,
    repeat_min: int = REPEAT_MIN,
    document_min: int = DOCUMENT_MIN,
    issue_min: int = ISSUE_MIN,
    due_days: int = DUE_DAYS,
) -> Warnings:
    """Every early warning for ``bureau`` and its subtree."""
    tree = bureau_tree(session, bureau)
    ids = [b.id for b in tree]
    names = {b.id: b.name for b in session.scalars(select(Bureau))}  # the tree is ~70 rows of reference data
    in_period = (Case.tenant_id.in_(ids), Case.received_on.between(period.start, period.end))
    result = Warnings(bureau, period, today, repeat_min, document_min, issue_min, due_days)

    repeat = _groups(
        session,
        [Case.petitioner_id_hash],
        repeat_min,
        (*in_period, Case.petitioner_id_hash.isnot(None)),
        extra=[func.min(Case.petitioner_name).label("name")],
    )
    # Constants inlined: the GROUP BY must repeat the select's expression exactly (bound parameters would differ).
    document_key = func.upper(
        func.regexp_replace(
            Case.disputed_document_number, literal_column(r"'\s+'"), literal_column("''"), literal_column("'g'")
        )
    )
    documents = _groups(
        session,
        [Case.disputed_bureau_id, document_key.label("document")],
        document_min,
        in_period,
        extra=[func.min(Case.disputed_document_number).label("shown")],
    )
    issues = _groups(session, [Case.disputed_bureau_id, Case.disputed_kind], issue_min, in_period)

    wanted = {
        (t, i) for rows in (repeat, documents, issues) for r in rows for t, i in zip(r.tenants, r.ids, strict=True)
    }
    refs = _refs(session, wanted, names)

    def cases_of(row) -> list[CaseRef]:
        return [refs[i] for i in (row.ids or []) if i in refs]

    result.repeat_petitioners = [Group(r.n, r.bureaus, cases_of(r), label=r.name) for r in repeat]
    result.document_clusters = [
        Group(r.n, r.bureaus, cases_of(r), label=r.shown, disputed_bureau=names.get(r.disputed_bureau_id))
        for r in documents
    ]
    result.issue_clusters = [
        Group(
            r.n,
            r.bureaus,
            cases_of(r),
            disputed_bureau=names.get(r.disputed_bureau_id),
            disputed_kind=OpinionKind(r.disputed_kind),
        )
        for r in issues
    ]

    # Sensitive cases: open ones whenever received, closed ones received in the period.
    sensitive_where = (
        Case.tenant_id.in_(ids),
        Case.sensitive.is_(True),
        (Case.state.in_(sorted(OPEN_STATES))) | Case.received_on.between(period.start, period.end),
    )
    result.sensitive_total = session.scalar(select(func.count()).select_from(Case).where(*sensitive_where)) or 0
    rows = session.execute(
        select(Case.id, Case.tenant_id, Case.number, Case.petitioner_name, Case.state, Case.received_on)
        .where(*sensitive_where)
        .order_by(Case.received_on.desc(), Case.id.desc())
        .limit(MAX_LIST)
    ).all()
    result.sensitive = [_ref(r, names) for r in rows]

    horizon = today + timedelta(days=due_days)
    result.due_soon, result.due_soon_total = _due(session, ids, names, today, Deadline.due_on.between(today, horizon))
    result.overdue, result.overdue_total = _due(session, ids, names, today, Deadline.due_on < today)
    return result


def _due(session: Session, ids: list[int], names: dict[int, str], today: date, when) -> tuple[list[DueRow], int]:
    where = (
        Deadline.tenant_id.in_(ids),
        Deadline.closed_at.is_(None),
        Deadline.step.notin_(UNWATCHED_STEPS),
        when,
    )
    total = session.scalar(select(func.count()).select_from(Deadline).where(*where)) or 0
    # The first rows by due date alone (the open-deadline index gives them in order), then their cases.
    first = (
        select(Deadline.tenant_id, Deadline.case_id, Deadline.step, Deadline.due_on, Deadline.id)
        .where(*where)
        .order_by(Deadline.due_on, Deadline.id)
        .limit(MAX_LIST)
        .subquery()
    )
    rows = session.execute(
        select(
            first.c.step,
            first.c.due_on,
            Case.id,
            Case.tenant_id,
            Case.number,
            Case.petitioner_name,
            Case.state,
            Case.received_on,
        )
        .select_from(first)
        .join(Case, (Case.tenant_id == first.c.tenant_id) & (Case.id == first.c.case_id))
        .order_by(first.c.due_on, first.c.id)
    ).all()
    out = [
        DueRow(
            _ref(r, names),
            Step(r.step),
            r.due_on,
            (r.due_on - today).days,
        )
        for r in rows
    ]
    return out, total
