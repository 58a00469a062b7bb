"""Read helpers for staff: the work queue, the case page, and the words that make records readable.

No Flask. Reads go through the session's tenant scope (``tenants.scoping``); the only system-scope reads are
narrow and named: the materials requests addressed to a lower bureau (which answers them from its own queue,
as ``perform_action`` lets it) and the bare number of an earlier case outside the reader's scope.

The queue is one SQL statement per page: the cases, the earliest open deadline of each (a LATERAL subquery on
``ix_deadlines_tenant_id_case_id``) and the total row count (a window function), plus a fixed handful of small
look-ups (units, bureaus, the calendar) whatever the number of rows.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import (
    BigInteger,
    ColumnElement,
    Select,
    and_,
    any_,
    exists,
    false,
    func,
    literal,
    or_,
    select,
    tuple_,
    union,
    union_all,
)
from sqlalchemy.orm import Session

from portal.accounts.models import StaffUser
from portal.approvers import ApproverChoice, NoApproverAvailable, acting_for, choose_approver, signing_for
from portal.attachments.models import Attachment, AttachmentSource
from portal.cases.calendar import get_calendar, get_step_rules
from portal.cases.context import BureauStaff, case_view, staff_actor_view
from portal.cases.history import list_events
from portal.cases.matter import cases_on_the_same_matter
from portal.cases.meetings import MEETING_EVENTS
from portal.cases.models import (
    Case,
    CaseEvent,
    CaseParty,
    ContactRecord,
    Deadline,
    MaterialRequest,
    Meeting,
    WorkItem,
)
from portal.cases.numbers import normalise_number
from portal.cases.work_items import EXTENSION, owner_keys
from portal.masking import mask_address, mask_email, mask_id_number, mask_phone
from portal.pii import PersonalData
from portal.roles import LEADERS, PETITION_OFFICE, ROLE_LABELS, Role
from portal.routing import OPINION_KIND_LABELS
from portal.workdays import Explanation, WorkdayCalendar
from portal.workdays import Unit as DayUnit
from portal.workflow import (
    ACTION_LABELS,
    BUREAU_RULE_REF,
    COMPLEXITY_LABELS,
    DELIVERY_LABELS,
    FIELD_LABELS,
    INTAKE_LABELS,
    KIND_LABELS,
    OUTCOME_LABELS,
    REJECT_REASON_LABELS,
    ActionRefused,
    CaseAction,
    CaseKind,
    CaseState,
    Complexity,
    ContactParty,
    DeliveryMethod,
    IntakePath,
    MaterialTarget,
    Outcome,
    RejectReason,
    Step,
    allowed_actions,
    decide,
    whole_review_passed,
)
from tenants.models import Bureau, Unit, UnitKind
from tenants.scoping import subtree_ids, system_scope
from tenants.tree import BureauInfo, bureau_tree

CHINA = ZoneInfo("Asia/Shanghai")
PAGE_SIZE = 50
COUNT_CAP = 1_000  # the queue counts its cases exactly up to this many, then says "1,000+"
MAX_QUERY_CHARS = 100
DUE_SOON_WORKING_DAYS = 3
QUEUE_VIEWS = ("mine", "unit", "all", "supervision")

Pair = tuple[str, str]

# --- Words ---------------------------------------------------------------------------------------------

EVENT_LABELS: dict[str, Pair] = {
    **{str(a): label for a, label in ACTION_LABELS.items()},
    **MEETING_EVENTS,
    "submit": ("提交申请", "Application submitted"),
    "register_transfer": ("登记省政府转交事项", "Committee transfer registered"),
    "reveal_personal_data": ("查看个人信息", "Personal data revealed"),
}

TARGET_LABELS: dict[MaterialTarget, Pair] = {
    MaterialTarget.lower_bureau: ("下级社会保险局", "A lower bureau"),
    MaterialTarget.petitioner: ("信访人", "The petitioner"),
    MaterialTarget.other_body: ("其他单位", "Another body"),
}

CONTACT_PARTY_LABELS: dict[ContactParty, Pair] = {
    ContactParty.petitioner: ("信访人", "The petitioner"),
    ContactParty.other_body: ("其他单位", "Another body"),
}

OWNER_LABELS: dict[str, Pair] = {
    "petition_office": ("信访办", "Petition office"),
    "bureau": ("本局", "The bureau"),
    "approver": ("审批领导", "Approving leader"),
    "handling_unit": ("承办单位", "Handling unit"),
    "business_leader": ("分管业务工作的局领导", "Leader in charge of the business"),
    "petitions_leader": ("分管信访工作的局领导", "Leader in charge of petitions"),
    "addressee": ("被调取方", "Addressee of the request"),
    "petitioner": ("信访人", "Petitioner"),
}

PARTY_ROLE_LABELS: dict[str, Pair] = {
    "petitioner": ("信访人", "Petitioner"),
    "joint_petitioner": ("共同信访人", "Joint petitioner"),
    "representative": ("代表人", "Representative"),
}

APPROVER_RULE_LABELS: dict[str, Pair] = {
    "principal_leader": ("重大复杂疑难事项，报主要领导", "Major case: the principal leader"),
    "petitions_leader": ("分管信访工作的局领导", "The leader in charge of petitions"),
    "stand_in": ("分管信访工作的局领导外出，由其指定的代理领导", "The declared stand-in of the absent leader"),
    "lead_unit_business_leader": ("分管主办单位业务的局领导", "The leader overseeing the lead unit"),
    "business_leader": ("在岗的分管业务工作的局领导", "A present leader in charge of a business"),
}

# Event fields that FIELD_LABELS (the action payloads) does not name.
EXTRA_FIELD_LABELS: dict[str, Pair] = {
    "intake": ("申请方式", "intake"),
    "kind": ("事项类别", "kind"),
    "late": ("超过申请期限", "late application"),
    "repeat_of": ("此前复核事项", "earlier re-review"),
    "duplicate_of": ("同一事项在办案件", "open case on the same matter"),
    "received_on": ("本局收到申请日期", "received by the bureau on"),
    "filed_on": ("寄出或递交申请日期", "posted or handed in on"),
    "doc_number": ("文号", "document number"),
    "escalated_from": ("复查事项编号", "escalated from"),
    "committee_document_number": ("委员会转办文号", "committee document number"),
    "new_case_number": ("复核事项编号", "re-review case number"),
    "on_behalf_of": ("代理", "on behalf of"),
    "on_behalf": ("由工作人员代为登记", "recorded by staff"),
    "requested_days": ("申请延期天数", "days requested"),
    "applied_on": ("申请日期", "applied on"),
    "replied_on": ("答复日期", "replied on"),
    "parties": ("涉及人员", "people"),
    "approver_change_reason": ("改变审批领导的理由", "reason for another approver"),
}

_YES: Pair = ("是", "yes")
_NO: Pair = ("否", "no")


def field_label(name: str) -> Pair:
    return FIELD_LABELS.get(name) or EXTRA_FIELD_LABELS.get(name) or (name, name)


def pick(pair: Pair | None, lang: str) -> str:
    if pair is None:
        return ""
    return pair[1] if lang == "en" else pair[0]


# --- Deadline explanations -----------------------------------------------------------------------------


def _day(value: Any) -> date | None:
    try:
        return date.fromisoformat(value) if value else None
    except (TypeError, ValueError):
        return None


def _explanation(data: dict, *, due: date | None = None) -> Explanation | None:
    """Rebuild a ``portal.workdays.Explanation`` from its stored ``as_dict()`` form."""
    try:
        return Explanation(
            start=date.fromisoformat(data["start"]),
            unit=DayUnit(data["unit"]),
            amount=int(data["amount"]),
            due=due or date.fromisoformat(data["due"]),
            working_days=data.get("working_days"),
            skipped=tuple((date.fromisoformat(s["date"]), s["reason"]) for s in data.get("skipped") or ()),
            makeup_workdays=tuple(
                (date.fromisoformat(s["date"]), s["name"]) for s in data.get("makeup_workdays") or ()
            ),
            shifted_from=_day(data.get("shifted_from")),
            uncovered_years=tuple(data.get("uncovered_years") or ()),
        )
    except (KeyError, TypeError, ValueError):
        return None


def explain_deadline(data: dict | None, lang: str = "zh") -> str:
    """Say how a deadline's due date was computed, from the facts stored in ``Deadline.explanation``.

    The stored form is ``Explanation.as_dict()`` plus ``ref`` (the rule), an optional ``extension`` (an approved
    extension: days added to the original due date, with its own computation) and ``recomputed`` (redone once
    the year's holidays were loaded).
    """
    lang = "en" if lang == "en" else "zh"
    data = data or {}
    parts: list[str] = []
    extension = data.get("extension") or None
    if data.get("unit") == "given":
        due = data.get("due", "")
        parts.append(f"Due date given with the request: {due}." if lang == "en" else f"期限为调取时指定的{due}。")
    else:
        original_due = _day(extension.get("from")) if extension else None
        base = _explanation(data, due=original_due)
        if base is None:
            return ""
        parts.append(base.text(lang))
    if extension:
        days = extension.get("days")
        ext = _explanation(extension)
        times = extension.get("approvals") or 1
        if times > 1:  # §三: several approvals, 30 days at most in all
            days_en, days_zh = f"{days} days in all ({times} approvals)", f"{days}日（共{times}次批准）"
        else:
            days_en, days_zh = f"{days} days", f"{days}日"
        if ext is not None:
            parts.append(
                f"Extended by {days_en} with approval: {ext.text('en')}"
                if lang == "en"
                else f"经批准延期{days_zh}：{ext.text('zh')}"
            )
        else:
            due = data.get("due", "")
            parts.append(
                f"Extended by {days} days with approval: due {due}."
                if lang == "en"
                else f"经批准延期{days}日，至{due}届满。"
            )
    if data.get("recomputed"):
        parts.append(
            "Recomputed after the year's holidays were loaded." if lang == "en" else "节假日安排录入后已重新计算。"
        )
    basis = data.get("basis")
    if isinstance(basis, list) and len(basis) == 2:
        parts.append(f"Start: {basis[1]}." if lang == "en" else f"起算：{basis[0]}。")
    ref = data.get("ref")
    if ref and str(ref).startswith(BUREAU_RULE_REF):
        # A limit the regulation does not set (the signature, a meeting decision): say so.
        parts.append(
            "(Rule: the bureau's own time limit, not the regulation's)"
            if lang == "en"
            else f"（依据：{ref}，非《办法》规定的时限）"
        )
    elif ref:
        parts.append(f"(Rule: {ref})" if lang == "en" else f"（依据：{ref}）")
    return " ".join(parts) if lang == "en" else "".join(parts)


# --- Who handles a case --------------------------------------------------------------------------------


def is_petition_office(user: StaffUser, staff: BureauStaff) -> bool:
    unit = staff.units.get(user.unit_id) if user.unit_id else None
    return bool(set(user.roles) & PETITION_OFFICE) or (unit is not None and unit.kind == UnitKind.petition_office)


def handles_case(user: StaffUser, case: Case, staff: BureauStaff, today: date) -> bool:
    """Whether ``user`` handles ``case`` and so sees its personal data unmasked.

    Handling: the petition office of the case's bureau, the approving leader (or their stand-in), the bureau's
    leaders, and staff of the lead or assisting units. Nobody of another bureau, ancestors included.
    """
    if user.tenant_id != case.tenant_id:
        return False
    if is_petition_office(user, staff) or set(user.roles) & LEADERS:
        return True
    if case.approver_id is not None and (
        user.id == case.approver_id or case.approver_id in acting_for(user.id, today, staff.leader_views)
    ):
        return True
    units = {case.lead_unit_id, *(case.assisting_unit_ids or ())} - {None}
    return user.unit_id is not None and user.unit_id in units


def may_reveal(user: StaffUser, case: Case) -> bool:
    """Staff of the case's bureau who take part in cases may reveal personal data, on the record."""
    return user.tenant_id == case.tenant_id and bool(set(user.roles) - {Role.bureau_admin, Role.province_admin})


@dataclass(frozen=True)
class PartyView:
    role: str
    name: str
    id_number: str | None
    phone: str | None
    email: str | None
    address: str | None
    masked: bool


def party_views(session: Session, pii: PersonalData, case: Case, *, masked: bool) -> list[PartyView]:
    parties = session.scalars(
        select(CaseParty)
        .where(CaseParty.tenant_id == case.tenant_id, CaseParty.case_id == case.id)
        .order_by(CaseParty.id)
    ).all()
    out = []
    for p in parties:
        values = {
            "id_number": p.reveal(pii, "id_number_enc"),
            "phone": p.reveal(pii, "phone_enc"),
            "email": p.reveal(pii, "email_enc"),
            "address": p.reveal(pii, "address_enc"),
        }
        if masked:
            maskers = {"id_number": mask_id_number, "phone": mask_phone, "email": mask_email, "address": mask_address}
            values = {k: (maskers[k](v) if v else v) for k, v in values.items()}
        out.append(PartyView(role=p.role, name=p.name, masked=masked, **values))
    return out


# --- The work queue ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class QueueFilters:
    view: str = "mine"
    state: CaseState | None = None
    kind: CaseKind | None = None
    complexity: Complexity | None = None
    unit_id: int | None = None
    overdue: bool = False
    intake: IntakePath | None = None
    bureau_id: int | None = None  # supervision: one bureau below
    q: str = ""
    cursor: QueueCursor | None = None  # where this page starts: after the last row of the page before


@dataclass(frozen=True)
class QueueCursor:
    """A position in the queue's order (nearest deadline, none last; then newest): the last row already shown.

    Keyset pages cost the rows they show, wherever they are in the queue (an offset reads every row before it).
    """

    due_on: date | None
    case_id: int

    def encode(self) -> str:
        return f"{self.due_on.isoformat() if self.due_on else '-'}.{self.case_id}"

    @classmethod
    def decode(cls, raw: str | None) -> QueueCursor | None:
        """The cursor of ``raw``; None for anything that is not one (a bad cursor shows the first page)."""
        due, _, case_id = str(raw or "").partition(".")
        if not case_id.isdigit() or len(case_id) > 18:
            return None
        try:
            return cls(None if due == "-" else date.fromisoformat(due), int(case_id))
        except ValueError:
            return None

    def after(self, due_on=Case.next_due_on, case_id=Case.id) -> ColumnElement[bool]:
        """Rows that come after this one in the queue's order (of cases, or of work items: ``due_on``, ``case_id``)."""
        if self.due_on is None:
            return and_(due_on.is_(None), case_id < self.case_id)
        return or_(due_on > self.due_on, and_(due_on == self.due_on, case_id < self.case_id), due_on.is_(None))

    def following_ids(self, cases: Select, limit: int) -> ColumnElement[bool]:
        """Cases of ``cases`` among the first ``limit`` after this one in the queue's order.

        The order's three parts after the cursor (the rest of its day, the later days, no deadline) each read as an
        index range with its own LIMIT: as one ``after()`` condition PostgreSQL reads and sorts every later row, and
        the last pages of a large bureau (its closed cases, without a deadline) cost a tenth of a second at 1M.
        """
        ids = cases.with_only_columns(Case.id)
        if self.due_on is None:
            parts = [ids.where(Case.next_due_on.is_(None), Case.id < self.case_id).order_by(Case.id.desc())]
        else:
            parts = [
                ids.where(Case.next_due_on == self.due_on, Case.id < self.case_id).order_by(Case.id.desc()),
                ids.where(Case.next_due_on > self.due_on).order_by(Case.next_due_on.asc(), Case.id.desc()),
                ids.where(Case.next_due_on.is_(None)).order_by(Case.id.desc()),
            ]
        following = union_all(*(select(part.limit(limit).subquery().c.id) for part in parts)).subquery()
        return Case.id.in_(select(following.c.id))


def _enum_or_none(enum, value):
    try:
        return enum(value) if value not in (None, "") else None
    except ValueError:
        return None


def _int_or_none(value) -> int | None:
    text = str(value).strip() if value is not None else ""
    return int(text) if text.isdigit() and len(text) < 12 else None


def parse_filters(args) -> QueueFilters:
    """Read the queue's filters from query-string-like ``args`` (a mapping of strings); ignore bad values."""
    view = args.get("view") or "mine"
    return QueueFilters(
        view=view if view in QUEUE_VIEWS else "mine",
        state=_enum_or_none(CaseState, args.get("state")),
        kind=_enum_or_none(CaseKind, args.get("kind")),
        complexity=_enum_or_none(Complexity, args.get("complexity")),
        unit_id=_int_or_none(args.get("unit")),
        overdue=str(args.get("overdue") or "").lower() in ("1", "true", "yes", "on"),
        intake=_enum_or_none(IntakePath, args.get("intake")),
        bureau_id=_int_or_none(args.get("bureau")),
        q=str(args.get("q") or "").strip()[:MAX_QUERY_CHARS],
        cursor=QueueCursor.decode(args.get("cursor")),
    )


@dataclass(frozen=True)
class Marks:
    due_on: date | None
    overdue: bool
    due_soon: bool
    working_days_left: int | None


def marks_for(due_on: date | None, today: date, calendar: WorkdayCalendar) -> Marks:
    if due_on is None:
        return Marks(None, False, False, None)
    if due_on < today:
        return Marks(due_on, True, False, -calendar.working_days_between(due_on, today))
    left = calendar.working_days_between(today, due_on)
    return Marks(due_on, False, left <= DUE_SOON_WORKING_DAYS, left)


@dataclass(frozen=True)
class QueueRow:
    case: Case
    step: Step | None
    marks: Marks
    bureau_name: str
    lead_unit_name: str | None
    extension_lapsed: bool = False  # §三: its pending extension request was not decided in time


@dataclass
class QueuePage:
    rows: list[QueueRow]
    total: int  # exact up to COUNT_CAP; COUNT_CAP when there are more (``total_capped``)
    total_capped: bool
    next_cursor: str | None  # None on the last page
    filters: QueueFilters
    views: tuple[str, ...]
    units: list[Unit] = field(default_factory=list)
    lower_bureaus: list[BureauInfo] = field(default_factory=list)


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _looks_like_id_number(text: str) -> bool:
    return len(text) in (15, 18) and text[:-1].isdigit() and (text[-1].isdigit() or text[-1] in "Xx")


def _search(pii: PersonalData, raw: str) -> ColumnElement[bool]:
    """Case number, petitioner name, ID number (through its keyed hash) or words of the request."""
    text = unicodedata.normalize("NFKC", raw).strip()
    compact = "".join(text.split())
    conditions: list[ColumnElement[bool]] = [Case.number == normalise_number(text)]
    if _looks_like_id_number(compact):
        id_hash = pii.hash(compact.upper())
        conditions.append(Case.petitioner_id_hash == id_hash)
        conditions.append(
            exists().where(
                CaseParty.tenant_id == Case.tenant_id,
                CaseParty.case_id == Case.id,
                CaseParty.id_number_hash == id_hash,
            )
        )
    pattern = f"%{_escape_like(text)}%"
    conditions.append(Case.petitioner_name.ilike(pattern, escape="\\"))
    conditions.append(Case.request_text.ilike(pattern, escape="\\"))
    return or_(*conditions)


@dataclass(frozen=True)
class Duties:
    """What a staff member is responsible for today, as the queue's SQL needs it."""

    user_ids: frozenset[int]  # the user and the leaders they stand in for
    unit_id: int | None
    petition_office: bool
    approvable_unit_ids: frozenset[int]  # lead units whose opinions this user may approve
    signer: bool
    decides_extensions: bool
    on: date  # the day the duties are for


def duties_of(user: StaffUser, staff: BureauStaff, today: date) -> Duties:
    stand_in_for = acting_for(user.id, today, staff.leader_views)
    user_ids = frozenset({user.id, *stand_in_for})
    roles = set(user.roles)
    business = Role.business_leader in roles
    approvable = frozenset(
        unit_id
        for unit_id, overseers in staff.unit_overseers().items()
        if (overseers & user_ids) or (business and not overseers)
    )
    petitions_leaders = {v.user_id for v in staff.leaders_with(Role.petitions_leader)}
    signs_for = signing_for(user.id, today, staff.leader_views)
    signer = Role.petitions_leader in roles or bool(petitions_leaders & signs_for)
    return Duties(
        user_ids=user_ids,
        unit_id=user.unit_id,
        petition_office=is_petition_office(user, staff),
        approvable_unit_ids=approvable,
        signer=signer,
        decides_extensions=bool(roles & LEADERS),  # §三: any bureau leader (局领导) decides
        on=today,
    )


def _extension_in_time(today: date) -> ColumnElement[bool]:
    """An extension item counts only while its request can still be decided: a request still pending after the
    whole review's last day has lapsed (§三), and the case stays overdue with nothing left to decide."""
    return exists().where(
        Deadline.tenant_id == WorkItem.tenant_id,
        Deadline.case_id == WorkItem.case_id,
        Deadline.step == Step.whole_review,
        Deadline.closed_at.is_(None),
        Deadline.due_on >= today,
    )


def _waiting_for(
    keys: list[tuple[str, int]],
    bureau_id: int,
    today: date,
    limit: int,
    cursor: QueueCursor | None = None,
    *,
    overdue: bool = False,
):
    """The ids of cases of ``bureau_id`` waiting for one of the owners ``keys`` (``work_items.owner_keys``): per
    owner, the first ``limit`` in queue order (after ``cursor``; ``overdue``: due before ``today`` only, as a work
    item's due date is its case's ``next_due_on``), read by a range scan of ``ix_work_items_owner_due``. Enough for
    a page or a capped count of their union, whatever the size of the bureau."""
    branches = []
    for kind, owner_id in keys:
        branch = _items_of(kind, owner_id, bureau_id, today)
        if overdue:
            branch = branch.where(WorkItem.due_on < today)
        if cursor is not None:
            branch = branch.where(cursor.after(WorkItem.due_on, WorkItem.case_id))
        branches.append(branch.order_by(WorkItem.due_on.asc().nulls_last(), WorkItem.case_id.desc()).limit(limit))
    return union(*branches)


def _has_work_item(keys: list[tuple[str, int]], bureau_id: int, today: date) -> ColumnElement[bool]:
    """Cases with a work item of one of the owners ``keys`` (filtered views: the planner picks the way in). Each
    owner's items are a range of ``ix_work_items_owner_due``; one test of the bureau's every item against all the
    owners read 3x the entries at 1M cases."""
    return Case.id.in_(union_all(*(_items_of(kind, owner_id, bureau_id, today) for kind, owner_id in keys)))


def _items_of(kind: str, owner_id: int, bureau_id: int, today: date) -> Select:
    """The cases waiting for one owner of ``bureau_id`` (a range of ``ix_work_items_owner_due``)."""
    items = select(WorkItem.case_id).where(
        WorkItem.tenant_id == bureau_id, WorkItem.owner_kind == kind, WorkItem.owner_id == owner_id
    )
    return items.where(_extension_in_time(today)) if kind == EXTENSION else items


def _lapsed_extensions(session: Session, cases: list[Case], today: date) -> set[tuple[int, int]]:
    """The cases among ``cases`` whose pending extension request lapsed (§三): one query, only when one is pending."""
    pending = [(c.tenant_id, c.id) for c in cases if c.pending_extension_days is not None]
    if not pending:
        return set()
    rows = session.execute(
        select(Deadline.tenant_id, Deadline.case_id, Deadline.due_on).where(
            tuple_(Deadline.tenant_id, Deadline.case_id).in_(pending),
            Deadline.step == Step.whole_review,
            Deadline.closed_at.is_(None),
        )
    ).all()
    return {(tenant_id, case_id) for tenant_id, case_id, due_on in rows if whole_review_passed(due_on, today)}


def _assisting(unit_id: int) -> ColumnElement[bool]:
    return literal(unit_id, BigInteger()) == any_(Case.assisting_unit_ids)


def _my_unit(duties: Duties, bureau_id: int) -> ColumnElement[bool]:
    unit = duties.unit_id
    if unit is None:
        return false()  # the view is offered to members of a unit only (``queue_views``)
    return and_(
        Case.tenant_id == bureau_id,
        or_(
            Case.lead_unit_id == unit,
            _assisting(unit),
            exists().where(
                Deadline.tenant_id == Case.tenant_id,
                Deadline.case_id == Case.id,
                Deadline.closed_at.is_(None),
                Deadline.owed_unit_id == unit,
            ),
        ),
    )


def _filter_conditions(pii: PersonalData, filters: QueueFilters, today: date) -> list[ColumnElement[bool]]:
    """The queue's filters as conditions on ``Case`` (the view's own condition apart)."""
    conditions = []
    if filters.state is not None:
        conditions.append(Case.state == filters.state)
    if filters.kind is not None:
        conditions.append(Case.kind == filters.kind)
    if filters.complexity is not None:
        conditions.append(Case.complexity == filters.complexity)
    if filters.intake is not None:
        conditions.append(Case.intake == filters.intake)
    if filters.unit_id is not None:
        conditions.append(or_(Case.lead_unit_id == filters.unit_id, _assisting(filters.unit_id)))
    if filters.overdue:
        conditions.append(Case.next_due_on < today)
    if filters.q:
        conditions.append(_search(pii, filters.q))
    return conditions


def queue_views(user: StaffUser, has_lower: bool) -> tuple[str, ...]:
    views = ["mine"]
    if user.unit_id is not None:
        views.append("unit")
    views.append("all")
    if has_lower:
        views.append("supervision")
    return tuple(views)


def list_queue(
    session: Session,
    pii: PersonalData,
    user: StaffUser,
    filters: QueueFilters,
    today: date,
    *,
    staff: BureauStaff | None = None,
    page_size: int = PAGE_SIZE,
) -> QueuePage:
    """One page of the work queue of ``user``, sorted by the nearest open deadline (none last), then newest."""
    bureau_id = user.tenant_id
    staff = staff or BureauStaff(session, bureau_id)
    tree = bureau_tree(session)
    subtree = sorted((tree[i] for i in subtree_ids(session, bureau_id)), key=lambda b: b.path)
    lower = [b for b in subtree if b.id != bureau_id]
    views = queue_views(user, bool(lower))
    view = filters.view if filters.view in views else "mine"
    if view != filters.view:
        filters = QueueFilters(**{**filters.__dict__, "view": view})
    duties = duties_of(user, staff, today)

    conditions = _filter_conditions(pii, filters, today)
    others = _filter_conditions(pii, replace(filters, overdue=False), today) if filters.overdue else conditions
    if view == "mine":
        # From the work items (the cases waiting for the owners the reader answers for): unfiltered (or overdue
        # only: a range of the same index), per owner only the rows a page (or the capped count) needs; filtered
        # otherwise, the filters may be the better way in.
        keys = owner_keys(duties)
        overdue_only = filters.overdue and not others
        if conditions and not overdue_only:
            # The filtered cases waiting for the reader, worked out once for the count and the page (a CTE used
            # twice is materialised): each joined the reader's work items by itself, twice the work at scale.
            # The page is the first of them in queue order (after the cursor), read from that set, not the table.
            matched = (
                select(Case.id, Case.next_due_on)
                .where(Case.tenant_id == bureau_id, _has_work_item(keys, bureau_id, today), *conditions)
                .cte("matched")
            )
            counted = select(matched.c.id)
            first = select(matched.c.id)
            if filters.cursor is not None:
                first = first.where(filters.cursor.after(matched.c.next_due_on, matched.c.id))
            first = first.order_by(matched.c.next_due_on.asc().nulls_last(), matched.c.id.desc()).limit(page_size + 1)
            shown = select(Case).where(Case.tenant_id == bureau_id, Case.id.in_(first))
        else:
            counted = _waiting_for(keys, bureau_id, today, COUNT_CAP + 1, overdue=overdue_only)
            shown = select(Case).where(
                Case.tenant_id == bureau_id,
                Case.id.in_(_waiting_for(keys, bureau_id, today, page_size + 1, filters.cursor, overdue=overdue_only)),
            )
    else:
        if view == "unit":
            scope = _my_unit(duties, bureau_id)
        elif view == "all":
            scope = Case.tenant_id == bureau_id
        else:
            lower_ids = [b.id for b in lower]
            if filters.bureau_id is not None:
                lower_ids = [i for i in lower_ids if i == filters.bureau_id]
            scope = Case.tenant_id.in_(lower_ids) if lower_ids else false()
        shown = select(Case).where(scope, *conditions)
        counted = shown.with_only_columns(Case.id)

    # The total is exact up to COUNT_CAP: counting further would read every matching case of a large bureau. It is
    # a sub-select of the page's statement (PostgreSQL runs it once), so a page costs one round trip.
    counter = select(func.count()).select_from(counted.limit(COUNT_CAP + 1).subquery())
    page = shown.add_columns(counter.scalar_subquery().label("matching"))
    # ("Mine" starts its page after the cursor already: from the work items, or from the filtered set.)
    if filters.cursor is not None and view != "mine":
        page = page.where(filters.cursor.following_ids(shown, page_size + 1))
    page = page.order_by(Case.next_due_on.asc().nulls_last(), Case.id.desc()).limit(page_size + 1)
    found = session.execute(page).all()
    counted = found[0].matching if found else session.scalar(counter)
    cases = [row.Case for row in found[:page_size]]
    more = len(found) > page_size
    next_cursor = QueueCursor(cases[-1].next_due_on, cases[-1].id).encode() if more else None
    calendar = get_calendar(session)
    unit_ids = {c.lead_unit_id for c in cases if c.lead_unit_id is not None}
    unit_names = {u.id: u.name for u in staff.units.values()}
    missing = unit_ids - set(unit_names)
    if missing:
        unit_names.update(dict(session.execute(select(Unit.id, Unit.name).where(Unit.id.in_(missing))).all()))
    bureau_names = {b.id: b.name for b in subtree}  # the own bureau's too
    lapsed = _lapsed_extensions(session, cases, today)
    rows = [
        QueueRow(
            case=c,
            step=c.next_due_step,
            marks=marks_for(c.next_due_on, today, calendar),
            bureau_name=bureau_names.get(c.tenant_id, ""),
            lead_unit_name=unit_names.get(c.lead_unit_id),
            extension_lapsed=(c.tenant_id, c.id) in lapsed,
        )
        for c in cases
    ]
    return QueuePage(
        rows=rows,
        total=min(counted, COUNT_CAP),
        total_capped=counted > COUNT_CAP,
        next_cursor=next_cursor,
        filters=filters,
        views=views,
        units=sorted(staff.units.values(), key=lambda u: (u.kind != UnitKind.petition_office, u.id)),
        lower_bureaus=lower,
    )


# --- Materials requests addressed to a lower bureau ------------------------------------------------------


@dataclass(frozen=True)
class AddressedRequest:
    """A request for materials from the bureau above, as the addressed bureau sees it (not the whole case)."""

    request: MaterialRequest
    case_id: int
    case_number: str
    case_kind: CaseKind
    from_bureau_name: str
    marks: Marks


def _addressed_query(bureau_id: int):
    return (
        select(MaterialRequest, Case.id, Case.number, Case.kind, Bureau.name)
        .join(Case, (Case.tenant_id == MaterialRequest.tenant_id) & (Case.id == MaterialRequest.case_id))
        .join(Bureau, Bureau.id == MaterialRequest.tenant_id)
        .where(
            MaterialRequest.target == str(MaterialTarget.lower_bureau),
            MaterialRequest.target_bureau_id == bureau_id,
        )
    )


def list_addressed_requests(
    session: Session, bureau_id: int, today: date, *, limit: int = PAGE_SIZE
) -> list[AddressedRequest]:
    """Open requests for materials addressed to ``bureau_id`` by the bureaus above it, earliest due first.

    A system-scope read, narrowed to the requests addressed to this bureau: the addressee answers from its own
    queue (``perform_action`` lets it reach the case for ``provide_materials`` only).
    """
    with system_scope(session):
        rows = session.execute(
            _addressed_query(bureau_id)
            .where(MaterialRequest.answered_at.is_(None))
            .order_by(MaterialRequest.due_on, MaterialRequest.id)
            .limit(limit)
        ).all()
    calendar = get_calendar(session)
    return [
        AddressedRequest(request, case_id, number, kind, name, marks_for(request.due_on, today, calendar))
        for request, case_id, number, kind, name in rows
    ]


def get_addressed_request(session: Session, bureau_id: int, request_id: int, today: date) -> AddressedRequest | None:
    """One request for materials addressed to ``bureau_id`` (answered or not), or None."""
    with system_scope(session):
        row = session.execute(_addressed_query(bureau_id).where(MaterialRequest.id == request_id)).first()
    if row is None:
        return None
    request, case_id, number, kind, name = row
    marks = (
        marks_for(request.due_on, today, get_calendar(session))
        if request.answered_at is None
        else marks_for(None, today, get_calendar(session))
    )
    return AddressedRequest(request, case_id, number, kind, name, marks)


# --- The case page -------------------------------------------------------------------------------------


def get_case(session: Session, case_id: int) -> Case | None:
    """A case in the reader's scope (own bureau, or a bureau below for supervision), else None."""
    return session.scalar(select(Case).where(Case.id == case_id))


@dataclass(frozen=True)
class ChainLink:
    """An earlier case of the escalation chain; outside the reader's scope only its number is known."""

    number: str
    readable: bool
    case_id: int | None = None
    bureau_name: str | None = None
    kind: CaseKind | None = None
    state: CaseState | None = None
    outcome: Outcome | None = None
    replied_on: date | None = None
    opinion: str | None = None


@dataclass(frozen=True)
class DeadlineView:
    deadline: Deadline
    marks: Marks
    owner: Pair
    owner_detail: str | None
    explanation: str


@dataclass
class CasePage:
    case: Case
    bureau: BureauInfo
    own: bool  # the reader's own bureau (else: supervision, read-only)
    handles: bool
    can_reveal: bool
    parties: list[PartyView]
    events: list[CaseEvent]
    open_deadlines: list[DeadlineView]
    closed_deadlines: list[Deadline]
    material_requests: list[MaterialRequest]
    meetings: list[Meeting]
    contacts: list[ContactRecord]
    attachments: list[Attachment]
    earlier: list[ChainLink]
    later_number: str | None
    allowed: list[CaseAction]
    staff: BureauStaff
    units: dict[int, str]
    people: dict[int, str]
    bureaus: dict[int, str]
    lower_bureaus: list[BureauInfo]
    next_marks: Marks | None = None
    # §四.14: other cases of the petitioner on the same disputed document, any bureau: (number, state, bureau).
    same_matter: list[tuple[str, str, str]] = field(default_factory=list)
    # §三: the pending extension request was not decided by the whole review's last day, which this is.
    extension_lapsed_on: date | None = None

    @property
    def attachment_names(self) -> dict[int, str]:
        return {a.id: a.filename for a in self.attachments}

    @property
    def documents(self) -> list[Attachment]:
        """The notices, slips and opinions the system generated (PDF and DOCX)."""
        return [a for a in self.attachments if a.source == AttachmentSource.generated]

    @property
    def files(self) -> list[Attachment]:
        """What people attached: the petitioner's files, staff uploads, lower bureaus' answers."""
        return [a for a in self.attachments if a.source != AttachmentSource.generated]


class CaseNotReadable(LookupError):
    """No such case in the reader's scope (the web answers 404)."""


def _chain(session: Session, case: Case, bureaus: dict[int, str]) -> list[ChainLink]:
    links: list[ChainLink] = []
    tenant_id, case_id = case.earlier_tenant_id, case.earlier_case_id
    seen = {case.id}
    while case_id is not None and case_id not in seen and len(links) < 5:
        seen.add(case_id)
        earlier = session.scalar(select(Case).where(Case.tenant_id == tenant_id, Case.id == case_id))
        if earlier is None:
            with system_scope(session):
                number = session.scalar(select(Case.number).where(Case.tenant_id == tenant_id, Case.id == case_id))
            links.append(ChainLink(number=number or "?", readable=False))
            break
        opinion = session.scalar(
            select(CaseEvent.fields["text"].astext)
            .where(
                CaseEvent.tenant_id == earlier.tenant_id,
                CaseEvent.case_id == earlier.id,
                CaseEvent.action == str(CaseAction.submit_reply),
            )
            .order_by(CaseEvent.seq.desc())
            .limit(1)
        )
        links.append(
            ChainLink(
                number=earlier.number,
                readable=True,
                case_id=earlier.id,
                bureau_name=bureaus.get(earlier.tenant_id),
                kind=earlier.kind,
                state=earlier.state,
                outcome=earlier.outcome,
                replied_on=earlier.replied_on,
                opinion=opinion,
            )
        )
        tenant_id, case_id = earlier.earlier_tenant_id, earlier.earlier_case_id
    return links


def _owner_detail(deadline: Deadline, units: dict[int, str], people: dict[int, str], bureaus: dict[int, str]):
    if deadline.owed_user_id is not None:
        return people.get(deadline.owed_user_id)
    if deadline.owed_unit_id is not None:
        return units.get(deadline.owed_unit_id)
    if deadline.owed_by == "addressee" and deadline.owed_bureau_id not in (None, deadline.tenant_id):
        return bureaus.get(deadline.owed_bureau_id)
    return None


def load_case_page(
    session: Session,
    pii: PersonalData,
    user: StaffUser,
    case_id: int,
    today: date,
    *,
    lang: str = "zh",
    revealed: bool = False,
) -> CasePage:
    """Everything the case page shows, in a fixed number of queries; raise ``CaseNotReadable``.

    ``revealed``: the caller has just recorded a reveal (``portal.cases.privacy``), so personal data is shown.
    """
    case = get_case(session, case_id)
    if case is None:
        raise CaseNotReadable(case_id)
    own = case.tenant_id == user.tenant_id
    staff = BureauStaff(session, case.tenant_id)
    bureau_rows = list(bureau_tree(session).values())  # the tree is small reference data, kept in memory
    bureaus = {b.id: b.name for b in bureau_rows}
    bureau = next(b for b in bureau_rows if b.id == case.tenant_id)
    handles = handles_case(user, case, staff, today)
    parties = party_views(session, pii, case, masked=not (handles or revealed))

    deadlines = session.scalars(
        select(Deadline)
        .where(Deadline.tenant_id == case.tenant_id, Deadline.case_id == case.id)
        .order_by(Deadline.due_on, Deadline.id)
    ).all()
    requests = session.scalars(
        select(MaterialRequest)
        .where(MaterialRequest.tenant_id == case.tenant_id, MaterialRequest.case_id == case.id)
        .order_by(MaterialRequest.id)
    ).all()
    meetings = session.scalars(
        select(Meeting)
        .where(Meeting.tenant_id == case.tenant_id, Meeting.case_ids.any_() == case.id)
        .order_by(Meeting.id)
    ).all()
    contacts = session.scalars(
        select(ContactRecord)
        .where(ContactRecord.tenant_id == case.tenant_id, ContactRecord.case_id == case.id)
        .order_by(ContactRecord.contacted_on, ContactRecord.id)
    ).all()
    answer_ids = {i for r in requests for i in (r.answer_attachment_ids or ())}
    attachments = session.scalars(
        select(Attachment)
        .where(
            Attachment.case_id == case.id,
            or_(Attachment.tenant_id == case.tenant_id, Attachment.id.in_(answer_ids or {0})),
        )
        .order_by(Attachment.created_at, Attachment.id)
    ).all()
    events = list_events(session, case)

    units = {u.id: u.name for u in staff.units.values()}
    person_ids = {case.approver_id, *(u.id for u in staff.leaders)}
    person_ids |= {d.owed_user_id for d in deadlines} | {r.requested_by_id for r in requests}
    person_ids |= {m.decided_by_id for m in meetings} | {m.leader_id for m in meetings}
    person_ids |= {c.recorded_by_id for c in contacts} | {case.coordinating_leader_id}
    for event in events:
        for key in _PEOPLE_KEYS:
            if isinstance(event.fields.get(key), int):
                person_ids.add(event.fields[key])
    person_ids.discard(None)
    people = dict(
        session.execute(select(StaffUser.id, StaffUser.display_name).where(StaffUser.id.in_(person_ids))).all()
    )

    calendar = get_calendar(session)
    open_views = [
        DeadlineView(
            deadline=d,
            marks=marks_for(d.due_on, today, calendar),
            owner=OWNER_LABELS.get(d.owed_by, (d.owed_by, d.owed_by)),
            owner_detail=_owner_detail(d, units, people, bureaus),
            explanation=explain_deadline(d.explanation, lang),
        )
        for d in deadlines
        if d.closed_at is None
    ]
    allowed: list[CaseAction] = []
    if own:
        view = case_view(session, case, staff)
        actor = staff_actor_view(user, staff, today, staff.units, case.lead_unit_id)
        allowed = [
            a
            for a in allowed_actions(view, actor, today=today, rules=get_step_rules(session))
            if a is not CaseAction.escalate
        ]
    later = next(
        (e.fields.get("new_case_number") for e in reversed(events) if e.action == str(CaseAction.escalate)), None
    )
    lower = [b for b in bureau_rows if b.path.startswith(bureau.path) and b.id != bureau.id]
    staff_marks = [v.marks for v in open_views if v.deadline.owed_by != "petitioner"]
    whole_review_due = next((v.deadline.due_on for v in open_views if v.deadline.step == Step.whole_review), None)
    return CasePage(
        case=case,
        bureau=bureau,
        own=own,
        handles=handles,
        can_reveal=may_reveal(user, case) and not handles and not revealed,
        parties=parties,
        events=events,
        open_deadlines=open_views,
        closed_deadlines=[d for d in deadlines if d.closed_at is not None],
        material_requests=list(requests),
        meetings=list(meetings),
        contacts=list(contacts),
        attachments=list(attachments),
        earlier=_chain(session, case, bureaus),
        later_number=later,
        same_matter=cases_on_the_same_matter(session, case),
        allowed=allowed,
        staff=staff,
        units=units,
        people=people,
        bureaus=bureaus,
        lower_bureaus=sorted(lower, key=lambda b: b.path),
        next_marks=staff_marks[0] if staff_marks else None,
        extension_lapsed_on=(
            whole_review_due
            if case.pending_extension_days is not None and whole_review_passed(whole_review_due, today)
            else None
        ),
    )


# --- Event fields, readable -----------------------------------------------------------------------------

_ENUM_LABELS: dict[str, tuple[type, dict]] = {
    "complexity": (Complexity, COMPLEXITY_LABELS),
    "outcome": (Outcome, OUTCOME_LABELS),
    "target": (MaterialTarget, TARGET_LABELS),
    "party": (ContactParty, CONTACT_PARTY_LABELS),
    "intake": (IntakePath, INTAKE_LABELS),
    "kind": (CaseKind, KIND_LABELS),
    "method": (DeliveryMethod, DELIVERY_LABELS),
}
_PEOPLE_KEYS = ("approver_id", "approved_by_id", "on_behalf_of", "coordinating_leader_id", "leader_id")
_UNIT_KEYS = ("lead_unit_id", "assisting_unit_ids", "unit_ids", "handed_to_unit_ids")
_HIDDEN_KEYS = {"today"}


def _label_of(enum, labels: dict, value) -> Pair | str:
    try:
        return labels[enum(value)]
    except (ValueError, KeyError):
        return str(value)


def describe_fields(
    action: str,
    fields: dict,
    *,
    units: dict[int, str],
    people: dict[int, str],
    bureaus: dict[int, str],
    attachments: dict[int, str],
) -> list[tuple[Pair, Pair | str]]:
    """Turn an event's fields into (label, value) pairs for people: names for ids, words for codes."""
    out: list[tuple[Pair, Pair | str]] = []
    for key, value in fields.items():
        if key in _HIDDEN_KEYS or value is None or value == [] or value == "":
            continue
        shown: Pair | str
        if isinstance(value, bool):
            shown = _YES if value else _NO
        elif key in _ENUM_LABELS:
            shown = _label_of(*_ENUM_LABELS[key], value)
        elif key == "reason" and action == str(CaseAction.reject):
            shown = _label_of(RejectReason, REJECT_REASON_LABELS, value)
        elif key in _UNIT_KEYS:
            ids = value if isinstance(value, list) else [value]
            shown = "、".join(units.get(i, f"#{i}") for i in ids)
        elif key in _PEOPLE_KEYS:
            shown = people.get(value, f"#{value}")
        elif key == "target_bureau_id":
            shown = bureaus.get(value, f"#{value}")
        elif key == "attachment_ids":
            shown = "、".join(attachments.get(i, f"#{i}") for i in value)
        elif key == "approver_rule":
            text = str(value)
            if text.startswith("changed: "):
                reason = text.removeprefix("changed: ")
                shown = (f"改由其他领导审批，理由：{reason}", f"changed by the office, because: {reason}")
            else:
                shown = APPROVER_RULE_LABELS.get(text, text)
        elif key in ("request_id", "meeting_id"):
            shown = f"#{value}"
        elif key in ("draft", "signed_copy") and isinstance(value, dict):
            # The formal opinion as rendered and stored at submission (or with 代签, as a stand-in signed it):
            # what signing issues.
            number, digest = value.get("doc_number", ""), value.get("sha256", "")
            shown = (f"{value.get('title', '')}（{number}），SHA-256：{digest}", f"{number}, SHA-256: {digest}")
        elif isinstance(value, list):
            shown = "、".join(str(v) for v in value)
        else:
            shown = str(value)
        out.append((field_label(key), shown))
    return out


def role_labels(user: StaffUser) -> list[Pair]:
    return [ROLE_LABELS[r] for r in user.roles]


def opinion_kind_label(value) -> Pair:
    return OPINION_KIND_LABELS.get(value, (str(value), str(value)))


# --- Forms' helpers -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class ApproverPreview:
    choice: ApproverChoice | None
    leader_name: str | None
    problem: Pair | None = None


def preview_slip_approver(
    staff: BureauStaff,
    people: dict[int, str],
    today: date,
    complexity: str | None,
    unit_ids: Iterable[int],
) -> ApproverPreview:
    """Who the rules of §四.4 choose to approve the slip for this complexity and these units (lead first)."""
    units = [u for u in unit_ids if u in staff.units]
    try:
        choice = choose_approver(
            today,
            complexity or None,
            staff.leaders_with(Role.petitions_leader),
            staff.leaders_with(Role.business_leader),
            staff.leaders_with(Role.principal_leader),
            staff.unit_overseers(),
            units,
        )
    except NoApproverAvailable as exc:
        return ApproverPreview(None, None, (exc.message_zh, exc.message_en))
    except ValueError:
        return ApproverPreview(None, None)
    return ApproverPreview(choice, people.get(choice.leader_id))


def case_ids_by_number(session: Session, bureau_id: int, numbers: Iterable[str]) -> dict[str, int]:
    """Map case numbers of ``bureau_id`` to their ids (unknown numbers are left out)."""
    wanted = {normalise_number(n) for n in numbers if n.strip()}
    if not wanted:
        return {}
    rows = session.execute(select(Case.number, Case.id).where(Case.tenant_id == bureau_id, Case.number.in_(wanted)))
    return dict(rows.all())


def action_refusal(
    session: Session, user: StaffUser, page: CasePage, action: CaseAction, today: date
) -> ActionRefused | None:
    """Why ``user`` cannot take ``action`` on the case now (state, role, bureau), or None when they can.

    Judged by the workflow itself with an empty payload; missing input ("invalid") does not count.
    """
    view = case_view(session, page.case, page.staff)
    actor = staff_actor_view(user, page.staff, today, page.staff.units, page.case.lead_unit_id)
    try:
        decide(view, action, actor, {"today": today}, rules=get_step_rules(session))
    except ActionRefused as exc:
        return None if exc.code == "invalid" else exc
    return None


def local_today() -> date:
    """Today in China: the date every time limit counts from, whatever the server's time zone."""
    return datetime.now(CHINA).date()


def get_case_attachment(session: Session, case: Case, attachment_id: int) -> Attachment | None:
    """An attachment of ``case``: the case bureau's own, or one a lower bureau sent with its answer."""
    answer_ids = session.scalars(
        select(MaterialRequest.answer_attachment_ids).where(
            MaterialRequest.tenant_id == case.tenant_id, MaterialRequest.case_id == case.id
        )
    ).all()
    allowed = {i for ids in answer_ids for i in (ids or ())}
    return session.scalar(
        select(Attachment).where(
            Attachment.id == attachment_id,
            Attachment.case_id == case.id,
            or_(Attachment.tenant_id == case.tenant_id, Attachment.id.in_(allowed or {0})),
        )
    )


def case_reachable(session: Session, user: StaffUser, case_id: int) -> bool:
    """Whether ``user`` may address case ``case_id`` at all: it is in their scope, or it has an open request
    for materials addressed to their bureau (which they answer). Everything else is "not found"."""
    if get_case(session, case_id) is not None:
        return True
    with system_scope(session):
        return (
            session.scalar(
                select(MaterialRequest.id)
                .where(
                    MaterialRequest.case_id == case_id,
                    MaterialRequest.target_bureau_id == user.tenant_id,
                    MaterialRequest.answered_at.is_(None),
                )
                .limit(1)
            )
            is not None
        )
