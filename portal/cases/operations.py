"""Operations that change cases. ``perform_action`` is the only writer of a case's state.

Every transition runs in the caller's transaction: lock the case row, check the version the actor saw, let
``portal.workflow.decide`` judge the action, then change the state, close and open deadlines, write side records,
append the hash-chained event and the outbox rows. Operations flush; the request or job commits once.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import TYPE_CHECKING

from sqlalchemy import Select, select, text, tuple_, update
from sqlalchemy.orm import Session

from portal.accounts.models import StaffUser
from portal.approvers import NoApproverAvailable, choose_approver
from portal.cases.calendar import get_calendar, get_step_rules
from portal.cases.context import BureauStaff, case_view, staff_actor_view
from portal.cases.history import Actor, append_event
from portal.cases.matter import MatterMatches, document_key, find_matter
from portal.cases.models import (
    Case,
    CaseEvent,
    CaseNumber,
    CaseParty,
    ContactRecord,
    Deadline,
    MaterialRequest,
    Outbox,
    WorkItem,
)
from portal.cases.numbers import new_access_code, new_case_number
from portal.cases.work_items import refresh_work_items, work_item_keys
from portal.documents.templates import TemplateError, letter_problems
from portal.notify.work import OUTBOX_KIND as WORK_OUTBOX_KIND
from portal.notify.work import lands_on_someone
from portal.pii import PersonalData
from portal.roles import Role
from portal.routing import (
    COMMITTEE_NAME,
    ESCALATION_WINDOW_DAYS,
    BureauRef,
    OpinionKind,
    Refusal,
    is_late,
    route,
    window_due,
)
from portal.storage import Storage
from portal.supervision.rollups import ClockState, RollupChange, case_contribution, clock_state
from portal.workdays import WorkdayCalendar
from portal.workflow import (
    ALL,
    DELIVERY_LABELS,
    FINAL_STATES,
    INITIAL_STATES,
    INITIAL_STEPS,
    ActionRefused,
    ActorView,
    CaseAction,
    CaseKind,
    CaseState,
    Decision,
    DeliveryMethod,
    DocumentKind,
    IntakePath,
    MaterialTarget,
    Step,
    StepRule,
    decide,
    signs_on_behalf_of,
)
from tenants.models import Bureau, Unit, UnitKind
from tenants.scoping import TenantScope, get_scope, scoped, set_scope, system_scope

if TYPE_CHECKING:
    from portal.documents.service import StandInCopy


class CaseNotFound(LookupError):
    """No such case in the actor's reach (the web answers 404)."""


class CaseConflict(Exception):
    """The case changed since the actor loaded it (the web answers 409)."""

    message_zh = "该案件已被他人更新，请刷新页面查看最新状态后再操作。"
    message_en = "Someone else changed this case meanwhile. Reload it to see its current state, then try again."


class DuplicateOpenCase(Exception):
    """The petitioner already has an open case on the same disputed document (§四.14); the API answers 409.

    Only the open case's number is told, never its access code. Submitting with ``confirm_duplicate`` goes ahead.
    """

    code = "duplicate_open_case"

    def __init__(self, case_number: str):
        super().__init__(f"duplicate_open_case: {case_number}")
        self.case_number = case_number
        self.message_zh = (
            f"您就同一份意见书提出的申请（事项编号 {case_number}）正在办理中，无需重复申请，"
            "可凭事项编号和查询码查询进度。如确需再次提交，请确认后提交。"
        )
        self.message_en = (
            f"Your application on the same written opinion (case {case_number}) is still being handled; there is no "
            "need to apply again, and you can follow it with its number and access code. Confirm to submit anyway."
        )


class IntakeRefused(Exception):
    """An application that the routing table sends elsewhere (code: to_committee | final | invalid | elsewhere)."""

    def __init__(self, code: str, message_zh: str, message_en: str):
        super().__init__(f"{code}: {message_en}")
        self.code, self.message_zh, self.message_en = code, message_zh, message_en


@dataclass(frozen=True)
class PartyInput:
    name: str
    id_number: str | None = None
    phone: str | None = None
    email: str | None = None
    address: str | None = None


@dataclass(frozen=True)
class ApplicationInput:
    """A validated application (shape already checked by the form or the API)."""

    petitioner: PartyInput
    disputed_bureau_id: int
    opinion_kind: OpinionKind
    document_number: str
    issued_on: date
    received_on: date
    request: str
    facts_and_reasons: str
    intake: IntakePath = IntakePath.online
    joint_petitioners: tuple[PartyInput, ...] = ()
    representative: PartyInput | None = None
    committee_document_number: str | None = None
    kind: CaseKind | None = None  # only for committee transfers, which are not routed
    language: str = "zh"  # the petitioner's language ("zh" or "en"), for their text messages
    # Paper: the day the bureau received the application (default: the day it is registered), and the day the
    # petitioner filed it, by postmark or hand-in (default: the day received). Online both are the day submitted.
    application_received_on: date | None = None
    filed_on: date | None = None
    electronic_delivery: bool = False  # the petitioner agreed to receive the formal opinion electronically
    confirm_duplicate: bool = False  # the applicant confirmed a second application while one is open (§四.14)


@dataclass
class Submission:
    case: Case
    access_code: str | None
    acceptance_due: date | None
    warnings: list[str] = field(default_factory=list)
    handled_by: Bureau | None = None  # the case's bureau, as routing found it (the answer names it)


def _now() -> datetime:
    return datetime.now(UTC)


def _bureau_ref(bureau: Bureau) -> BureauRef:
    return BureauRef(id=bureau.id, level=str(bureau.level), parent_id=bureau.parent_id, name=bureau.name)


def route_application(session: Session, disputed_bureau_id: int, kind: OpinionKind) -> tuple[CaseKind, Bureau]:
    """Where an application against this opinion is handled; raise ``IntakeRefused`` when not in this system."""
    issuer = session.get(Bureau, disputed_bureau_id)
    if issuer is None:
        raise IntakeRefused("invalid", "找不到作出该意见的社会保险局。", "Unknown bureau for the disputed opinion.")
    parent = session.get(Bureau, issuer.parent_id) if issuer.parent_id else None
    result = route(_bureau_ref(issuer), kind, _bureau_ref(parent) if parent else None)
    if isinstance(result, Refusal):
        raise IntakeRefused(result.code, result.message_zh, result.message_en)
    return result.case_kind, session.get(Bureau, result.handling_bureau_id)


def submit_application(
    session: Session,
    pii: PersonalData,
    data: ApplicationInput,
    *,
    actor: Actor,
    today: date,
    earlier: Case | None = None,
) -> Submission:
    """Register an application (online, on paper, or transferred by the committee); flushes.

    Online and paper applications are routed by the disputed opinion; a paper application can only be
    registered by the handling bureau's own staff. Committee transfers enter at the province as accepted.
    """
    if data.intake is IntakePath.committee_transfer:
        handling = session.get(Bureau, actor.bureau_id) if actor.bureau_id else None
        if handling is None or handling.parent_id is not None:
            raise IntakeRefused(
                "elsewhere",
                "省政府转交的案件由省社会保险局登记。",
                "Committee transfers are registered by the province.",
            )
        kind = data.kind or CaseKind.review
    else:
        kind, handling = route_application(session, data.disputed_bureau_id, data.opinion_kind)
    if data.intake is IntakePath.paper and actor.bureau_id != handling.id:
        raise IntakeRefused(
            "elsewhere",
            f"该申请应由{handling.name}办理，请告知信访人向其提出。",
            f"This application is handled by {handling.name}; refer the petitioner there.",
        )

    received_on, filed_on = _receipt_dates(data, today)
    calendar, rules = get_calendar(session), get_step_rules(session)
    warnings = []
    late = data.intake is not IntakePath.committee_transfer and is_late(
        calendar, data.received_on, filed_on, rules[Step.escalation_window].amount or ESCALATION_WINDOW_DAYS
    )
    if late:
        warnings.append("late")
    id_hash = pii.hash(data.petitioner.id_number)
    matches = (
        find_matter(session, id_hash, data.disputed_bureau_id, data.document_number)
        if data.intake is not IntakePath.committee_transfer
        else MatterMatches()
    )
    if matches.open_case_number and data.intake is IntakePath.online and not data.confirm_duplicate:
        raise DuplicateOpenCase(matches.open_case_number)
    duplicate = matches.open_case_number
    if duplicate:
        warnings.append("duplicate_open_case")
    repeat = matches.re_review_numbers[0] if matches.re_review_numbers else None
    if repeat:
        warnings.append("repeat_after_re_review")

    handover: dict = {}
    if data.intake is IntakePath.committee_transfer:
        # §四.3: the general office registers the transfer by the document procedure and, in the same step, hands
        # it to the petition office, whose reading-slip clock starts now.
        units = session.scalars(select(Unit).where(Unit.tenant_id == handling.id)).all()
        office = next((u for u in units if u.kind == UnitKind.petition_office), None)
        general = next((u for u in units if u.kind == UnitKind.general_office), None)
        handover = {
            "registered_by_unit": general.name if general else None,
            "handed_to_unit_id": office.id if office else None,
            "handed_to_unit": office.name if office else None,
        }
    access_code = new_access_code() if data.intake is not IntakePath.committee_transfer else None
    parties = [("petitioner", data.petitioner)]
    parties += [("joint_petitioner", p) for p in data.joint_petitioners]
    if data.representative:
        parties.append(("representative", data.representative))
    with scoped(session, TenantScope.single(handling.id)):
        # Every read first; then the rows are built with their ids drawn beforehand and written by one flush, one
        # INSERT per table (the case with its next due date and its history head already set: no UPDATE).
        staff = BureauStaff(session, handling.id)
        number, case_id, party_ids = _new_case_keys(session, kind, today, len(parties))
        case = Case(
            id=case_id,
            tenant_id=handling.id,
            number=number,
            kind=kind,
            intake=data.intake,
            state=INITIAL_STATES[data.intake],
            disputed_bureau_id=data.disputed_bureau_id,
            disputed_kind=data.opinion_kind,
            disputed_document_number=data.document_number,
            disputed_issued_on=data.issued_on,
            disputed_received_on=data.received_on,
            disputed_document_key=document_key(data.document_number),
            petitioner_name=data.petitioner.name,
            petitioner_id_hash=id_hash,
            request_text=data.request,
            facts_text=data.facts_and_reasons,
            committee_document_number=data.committee_document_number,
            petitioner_language="en" if data.language == "en" else "zh",
            late_application=late,
            repeat_of_case_number=repeat,
            duplicate_of_case_number=duplicate,
            electronic_delivery=data.electronic_delivery,
            earlier_tenant_id=earlier.tenant_id if earlier else None,
            earlier_case_id=earlier.id if earlier else None,
            access_code_hash=pii.hash(access_code) if access_code else None,
            received_on=received_on,
            filed_on=filed_on,
            accepted_on=today if data.intake is IntakePath.committee_transfer else None,
            event_count=0,
        )
        session.add(case)
        session.add(CaseNumber(number=case.number, tenant_id=case.tenant_id, case_id=case.id))
        for party_id, (role, party) in zip(party_ids, parties, strict=True):
            session.add(_party(pii, case, role, party, party_id))
        # §四.1: the acceptance clock runs from the day the bureau received the application.
        deadlines = [
            _open_deadline(
                session, case, step, received_on if step is Step.acceptance else today, calendar, rules, staff
            )
            for step in INITIAL_STEPS[data.intake]
        ]
        _refresh_next_due(session, case, deadlines)
        append_event(
            session,
            case,
            action="submit" if data.intake is not IntakePath.committee_transfer else "register_transfer",
            actor=actor,
            at=_now(),
            state_before=None,
            state_after=str(case.state),
            fields={
                "intake": str(data.intake),
                "kind": str(kind),
                "late": late,
                "received_on": received_on.isoformat(),
                "filed_on": filed_on.isoformat(),
                "repeat_of": repeat,
                "duplicate_of": duplicate,
                "escalated_from": earlier.number if earlier else None,
                "committee_document_number": data.committee_document_number,
                **handover,
            },
            public=data.intake is not IntakePath.committee_transfer,
        )
        if data.intake is not IntakePath.committee_transfer:
            _outbox(session, case, "notify_petitioner", "petitioner", {"event": "received"}, f"received:{case.id}")
        rollup = RollupChange()
        rollup.add_case(case.tenant_id, case.received_on, case_contribution(case, _unit_code(case, staff)))
        rollup.add_clocks([], _clock_states(session, case, deadlines))
        rollup.write(session)
        session.flush()
    acceptance = next((d.due_on for d in deadlines if d.step is Step.acceptance), None)
    return Submission(
        case=case, access_code=access_code, acceptance_due=acceptance, warnings=warnings, handled_by=handling
    )


def _receipt_dates(data: ApplicationInput, today: date) -> tuple[date, date]:
    """Return (the day the bureau received the application, the day the petitioner filed it); refuse bad dates.

    Online, both are today. On paper the clerk gives them: not in the future, not before the petitioner received
    the disputed opinion, and filed no later than received. Nothing is written before these checks.
    """
    if data.intake is not IntakePath.paper:
        return today, today
    received = data.application_received_on or today
    filed = data.filed_on or received
    opinion = data.received_on
    for name, value, zh, en in (
        ("application_received_on", received, "本局收到书面申请的日期", "date the bureau received the application"),
        ("filed_on", filed, "信访人寄出或递交申请的日期", "date the petitioner posted or handed in the application"),
    ):
        if value > today:
            raise ActionRefused("invalid", f"{zh}不能晚于今天。", f"The {en} cannot be in the future.", name)
        if opinion is not None and value < opinion:
            raise ActionRefused(
                "invalid",
                f"{zh}不能早于信访人收到原意见书的日期（{opinion.isoformat()}）。",
                f"The {en} cannot be before the petitioner received the disputed opinion ({opinion.isoformat()}).",
                name,
            )
    if filed > received:
        raise ActionRefused(
            "invalid",
            "信访人寄出或递交申请的日期不能晚于本局收到申请的日期。",
            "The application cannot have been posted or handed in after the bureau received it.",
            "filed_on",
        )
    return received, filed


_NEW_CASE_KEYS = text(
    "SELECT nextval(pg_get_serial_sequence('cases', 'id')) AS case_id,"
    " ARRAY(SELECT nextval(pg_get_serial_sequence('case_parties', 'id')) FROM generate_series(1, :parties))"
    " AS party_ids,"
    " EXISTS (SELECT FROM case_numbers WHERE number = :number) AS taken"
)


def _new_case_keys(session: Session, kind: CaseKind, today: date, parties: int) -> tuple[str, int, list[int]]:
    """A free case number, the new case's id and its parties' ids (each party's ciphertexts are bound to its id),
    in one round trip."""
    for _ in range(10):
        number = new_case_number(kind, today)
        row = session.execute(_NEW_CASE_KEYS, {"parties": parties, "number": number}).one()
        if not row.taken:  # a number drawn twice: about one in a trillion
            return number, row.case_id, list(row.party_ids)
    raise RuntimeError("Could not draw a free case number.")


def _party(pii: PersonalData, case: Case, role: str, party: PartyInput, party_id: int) -> CaseParty:
    """A party row with its id drawn beforehand: each ciphertext is bound to its row and column."""
    row = CaseParty(
        tenant_id=case.tenant_id,
        id=party_id,
        case_id=case.id,
        role=role,
        name=party.name,
        id_number_hash=pii.hash(party.id_number),
    )
    for column, value in zip(CaseParty.SEALED, (party.id_number, party.phone, party.email, party.address), strict=True):
        setattr(row, column, pii.encrypt(value, row.aad(column)))
    return row


# --- Deadlines ---------------------------------------------------------------------------------------------


def _owner(case: Case, rule: StepRule, staff: BureauStaff) -> dict:
    owner = {"owed_by": rule.owed_by, "owed_bureau_id": case.tenant_id}
    if rule.owed_by == "petition_office":
        owner["owed_unit_id"] = staff.petition_office_id
    elif rule.owed_by == "handling_unit":
        owner["owed_unit_id"] = case.lead_unit_id
    elif rule.owed_by == "approver":
        owner["owed_user_id"] = case.approver_id
    elif rule.owed_by == "petitions_leader":
        signers = staff.leaders_with(Role.petitions_leader)
        owner["owed_user_id"] = signers[0].user_id if len(signers) == 1 else None
    elif rule.owed_by == "business_leader":
        overseers = staff.overseers_of(case.lead_unit_id)
        owner["owed_user_id"] = next(iter(overseers)) if len(overseers) == 1 else None
    elif rule.owed_by == "petitioner":
        owner["owed_bureau_id"] = None
    return owner


def _open_deadline(
    session: Session,
    case: Case,
    step: Step,
    start: date,
    calendar: WorkdayCalendar,
    rules: dict[Step, StepRule],
    staff: BureauStaff,
    *,
    due_on: date | None = None,
    request: MaterialRequest | None = None,
) -> Deadline:
    rule = rules[step]
    if due_on is not None:
        due, provisional = due_on, False
        explanation = {"start": start.isoformat(), "unit": "given", "due": due_on.isoformat(), "provisional": False}
    else:
        if step is Step.escalation_window:
            computed = window_due(calendar, start, rule.amount)  # the one rule of the 30-day window
        else:
            computed = calendar.add(start, rule.amount, rule.unit)
        due, provisional, explanation = computed.due, computed.provisional, computed.explanation.as_dict()
    explanation["ref"] = rule.ref
    if (basis := _basis(case, step)) is not None:
        explanation["basis"] = list(basis)
    deadline = Deadline(
        tenant_id=case.tenant_id,
        case_id=case.id,
        step=step,
        started_on=start,
        amount=rule.amount if due_on is None else None,
        unit=rule.unit if due_on is None else "given",
        due_on=due,
        provisional=provisional,
        explanation=explanation,
        material_request_id=request.id if request else None,
        **_owner(case, rule, staff),
    )
    if request is not None and request.target == MaterialTarget.lower_bureau:
        deadline.owed_bureau_id = request.target_bureau_id
        deadline.owed_by = "addressee"
    session.add(deadline)
    return deadline


def _basis(case: Case, step: Step) -> tuple[str, str] | None:
    """What a clock's start day is, in words, where the regulation ties it to an event other than the action."""
    if step is Step.acceptance and case.intake is IntakePath.paper:
        return ("本局收到书面申请之日（§四.1）", "the day this bureau received the written application (§四.1)")
    if step is Step.acceptance:
        return ("网上提交申请之日", "the day the application was submitted online")
    if step is Step.escalation_window and case.delivery_method:
        zh, en = DELIVERY_LABELS[DeliveryMethod(case.delivery_method)]
        return (f"复查意见书送达之日（{zh}）", f"the day the review opinion was delivered ({en.lower()})")
    return None


def nearest_staff_deadline(tenant_id, case_id) -> Select:
    """The earliest open deadline of a case that staff owe (the petitioner's own window is not staff work).

    ``tenant_id`` and ``case_id`` are values or the columns of an outer ``cases`` statement to correlate with.
    """
    return (
        select(Deadline.due_on, Deadline.step)
        .where(
            Deadline.tenant_id == tenant_id,
            Deadline.case_id == case_id,
            Deadline.closed_at.is_(None),
            Deadline.owed_by != "petitioner",
        )
        .order_by(Deadline.due_on, Deadline.id)
        .limit(1)
    )


def _refresh_next_due(session: Session, case: Case, new_case_deadlines: list[Deadline] | None = None) -> None:
    """Copy the case's nearest staff deadline onto the case (the queue's order) and rewrite its work items (the
    queue's "mine"). After every change of the case or its deadlines.

    A case being created passes its deadlines, none written yet: they are all it has, so no query is needed (the
    first opened wins a tie, as the lowest id does in ``nearest_staff_deadline``).
    """
    if new_case_deadlines is None:
        session.flush()
        nearest = session.execute(nearest_staff_deadline(case.tenant_id, case.id)).first()
    else:
        owed = [d for d in new_case_deadlines if d.closed_at is None and d.owed_by != "petitioner"]
        nearest = min(owed, key=lambda d: d.due_on, default=None)
    case.next_due_on, case.next_due_step = (nearest.due_on, nearest.step) if nearest else (None, None)
    if new_case_deadlines is None:
        refresh_work_items(session, [(case.tenant_id, case.id)])
    else:  # the same items as the SQL rewrite, from the rows about to be inserted (no flush, no read-back)
        open_deadlines = [d for d in new_case_deadlines if d.closed_at is None]
        for owner_kind, owner_id in sorted(work_item_keys(case, open_deadlines)):
            session.add(
                WorkItem(
                    tenant_id=case.tenant_id,
                    case_id=case.id,
                    owner_kind=owner_kind,
                    owner_id=owner_id,
                    due_on=case.next_due_on,
                )
            )


def refresh_next_due_of(session: Session, case_keys: Iterable[tuple[int, int]]) -> None:
    """The same for many cases at once, by (tenant_id, case_id), in one UPDATE (system jobs), and their work items."""
    keys = list(case_keys)
    if not keys:
        return
    nearest = nearest_staff_deadline(Case.tenant_id, Case.id)
    session.execute(
        update(Case)
        .where(tuple_(Case.tenant_id, Case.id).in_(keys))
        .values(
            next_due_on=nearest.with_only_columns(Deadline.due_on).scalar_subquery(),
            next_due_step=nearest.with_only_columns(Deadline.step).scalar_subquery(),
        )
        .execution_options(synchronize_session=False)
    )
    refresh_work_items(session, keys)


def _clock_states(session: Session, case: Case, new_case_deadlines: list[Deadline] | None = None) -> list[ClockState]:
    """How each clock of the case counts in the supervision rollups, now (flushes first; a case being created
    passes its deadlines instead)."""
    if new_case_deadlines is not None:
        return [clock_state(d) for d in new_case_deadlines]
    session.flush()
    deadlines = session.scalars(
        select(Deadline).where(Deadline.tenant_id == case.tenant_id, Deadline.case_id == case.id)
    )
    return [clock_state(d) for d in deadlines]


def _unit_code(case: Case, staff: BureauStaff) -> str | None:
    unit = staff.units.get(case.lead_unit_id) if case.lead_unit_id is not None else None
    return unit.code if unit is not None else None


def open_deadlines(session: Session, case: Case) -> list[Deadline]:
    return list(
        session.scalars(
            select(Deadline)
            .where(Deadline.tenant_id == case.tenant_id, Deadline.case_id == case.id, Deadline.closed_at.is_(None))
            .order_by(Deadline.due_on)
        )
    )


def _close_deadlines(session: Session, case: Case, decision: Decision, now: datetime, request_id: int | None) -> None:
    steps = [s for s in decision.closes if s is not ALL]
    for deadline in open_deadlines(session, case):
        if decision.closes_all or deadline.step in steps:
            if (
                deadline.step is Step.material_request
                and not decision.closes_all
                and deadline.material_request_id != request_id
            ):
                continue
            deadline.closed_at = now
            deadline.close_reason = str(decision.action)


def _extend_deadlines(session: Session, case: Case, decision: Decision, calendar: WorkdayCalendar) -> None:
    for deadline in open_deadlines(session, case):
        days = decision.extends.get(deadline.step)
        if not days:
            continue
        # §三: the extensions add calendar days to the original limit, at most 30 in all over one or more approvals;
        # a last day off moves to the next working day. Counted from the original due date with the total, as
        # ``recompute_provisional_deadlines`` does, so the stored explanation stays one computation.
        previous = (deadline.explanation or {}).get("extension") or {}
        original = date.fromisoformat(previous["from"]) if previous.get("from") else deadline.due_on
        total = deadline.extended_days + days
        extended = calendar.add(original, total, "days")
        deadline.extended_days = total
        deadline.explanation = {
            **deadline.explanation,
            "extension": {
                "days": total,
                "from": original.isoformat(),
                "approvals": int(previous.get("approvals", 1 if previous else 0)) + 1,
                **extended.explanation.as_dict(),
            },
            "due": extended.due.isoformat(),
        }
        deadline.due_on = extended.due
        deadline.provisional = deadline.provisional or extended.provisional


def recompute_provisional_deadlines(session: Session) -> int:
    """Recompute every open provisional deadline with the calendar as loaded now; returns how many changed."""
    calendar = get_calendar(session)
    changed = 0
    moved: set[tuple[int, int]] = set()
    rollup = RollupChange()
    with system_scope(session):
        for deadline in session.scalars(
            select(Deadline).where(Deadline.closed_at.is_(None), Deadline.provisional.is_(True))
        ):
            if deadline.amount is None:
                continue
            computed = calendar.add(deadline.started_on, deadline.amount, deadline.unit)
            explanation = computed.explanation.as_dict()
            explanation["ref"] = deadline.explanation.get("ref")
            if deadline.explanation.get("basis"):
                explanation["basis"] = deadline.explanation["basis"]
            due, provisional = computed.due, computed.provisional
            if deadline.extended_days:
                # Same shape as _extend_deadlines: the extension's own computation, and "due" the extended date.
                extended = calendar.add(due, deadline.extended_days, "days")
                explanation["extension"] = {
                    "days": deadline.extended_days,
                    "from": due.isoformat(),
                    **extended.explanation.as_dict(),
                }
                due, provisional = extended.due, provisional or extended.provisional
                explanation["due"] = due.isoformat()
            explanation["recomputed"] = True
            before = clock_state(deadline)
            if (due, provisional) != (deadline.due_on, deadline.provisional):
                changed += 1
                moved.add((deadline.tenant_id, deadline.case_id))
            deadline.due_on, deadline.provisional, deadline.explanation = due, provisional, explanation
            rollup.add_clocks([before], [clock_state(deadline)])
        session.flush()
        refresh_next_due_of(session, moved)
        rollup.write(session)
    return changed


# --- The transition function -------------------------------------------------------------------------------


@dataclass
class ActionResult:
    case: Case
    decision: Decision
    event_seq: int
    new_case: Case | None = None
    access_code: str | None = None


def _load_case_for_update(session: Session, case_id: int) -> Case | None:
    # populate_existing: a case already in the session (loaded by the view, or kept after an earlier commit) is
    # refreshed from the locked row, so the version and state judged are the current ones, not a stale copy.
    return session.scalar(
        select(Case).where(Case.id == case_id).with_for_update().execution_options(populate_existing=True)
    )


def _load_for_addressee(session: Session, case_id: int, actor: Actor, action: CaseAction) -> Case | None:
    """A lower bureau answering a materials request reaches its parent's case for that one action only."""
    if action is not CaseAction.provide_materials or actor.kind != "staff" or actor.bureau_id is None:
        return None
    with system_scope(session):
        tenant_id = session.scalar(
            select(MaterialRequest.tenant_id).where(
                MaterialRequest.case_id == case_id,
                MaterialRequest.target_bureau_id == actor.bureau_id,
                MaterialRequest.answered_at.is_(None),
            )
        )
    if tenant_id is None:
        return None
    set_scope(session, TenantScope(acting=tenant_id, readable=frozenset({tenant_id, actor.bureau_id})))
    return _load_case_for_update(session, case_id)


def perform_action(
    session: Session,
    pii: PersonalData,
    case_id: int,
    action: CaseAction | str,
    actor: Actor,
    payload: dict | None = None,
    *,
    expected_version: int | None = None,
    today: date | None = None,
    storage: Storage | None = None,
) -> ActionResult:
    """Take ``action`` on a case for ``actor``; the single writer of case state. Flushes.

    Raises ``CaseNotFound`` (not in the actor's reach), ``CaseConflict`` (changed meanwhile) or
    ``ActionRefused`` (wrong state 409, forbidden 403, not your bureau 404, invalid 422).

    With ``storage``, ``submit_reply`` renders the formal opinion and stores it as the draft that the leader
    sees and that ``sign_reply`` issues byte for byte (the pages and the API always pass it); without, the
    opinion is composed when it is signed.
    """
    try:
        action = CaseAction(action)
    except ValueError:
        raise ActionRefused("invalid", "未知的操作。", f"Unknown action {str(action)[:40]!r}.", "action") from None
    today = today or date.today()
    now = _now()
    payload = dict(payload or {})
    previous_scope = get_scope(session)
    case = _load_case_for_update(session, case_id) or _load_for_addressee(session, case_id, actor, action)
    if case is None:
        raise CaseNotFound(case_id)
    try:
        if expected_version is not None and expected_version != case.version:
            raise CaseConflict()
        staff = BureauStaff(session, case.tenant_id)
        view = case_view(session, case, staff)
        actor_view = _actor_view(session, actor, staff, today, case.lead_unit_id)
        payload["today"] = today  # the server's date, never one sent with the input (escalation window, due dates)
        _prepare_payload(session, case, action, payload, staff, today)
        stood_in_for, copy = None, None
        if action is CaseAction.sign_reply:
            stood_in_for = signs_on_behalf_of(view, actor_view)
            copy = _pin_draft(session, case, payload, actor, stood_in_for)
        decision = decide(view, action, actor_view, payload, rules=get_step_rules(session))
        if decision.action is CaseAction.submit_reply and storage is not None:
            decision.event_fields["draft"] = _store_draft(session, storage, case, decision, today)
        if decision.action is CaseAction.sign_reply:
            _check_report_signer(session, case, actor, stood_in_for, view.named_signer_id)
            if copy is not None and storage is not None:
                decision.event_fields["signed_copy"] = _store_signed_copy(session, storage, case, copy)
        result = _apply(session, pii, case, decision, actor, staff, today, now)
    finally:
        if get_scope(session) is not previous_scope:
            set_scope(session, previous_scope)
    return result


def _actor_view(
    session: Session, actor: Actor, staff: BureauStaff, today: date, lead_unit_id: int | None = None
) -> ActorView:
    if actor.kind != "staff":
        return ActorView(kind=actor.kind if actor.kind in ("petitioner", "system") else "system", user_id=actor.id or 0)
    user = session.scalar(select(StaffUser).where(StaffUser.id == actor.id))
    if user is None:
        raise CaseNotFound("actor")
    units = (
        staff.units
        if user.tenant_id == staff.bureau_id
        else {u.id: u for u in session.scalars(select(Unit).where(Unit.tenant_id == user.tenant_id))}
    )
    return staff_actor_view(user, staff, today, units, lead_unit_id)


def _prepare_payload(
    session: Session, case: Case, action: CaseAction, payload: dict, staff: BureauStaff, today: date
) -> None:
    """Checks that need the database: units and leaders must be this bureau's; the slip's approver by §四.4."""
    for key in ("lead_unit_id",):
        if payload.get(key) not in (None, "") and _as_int(payload[key]) not in staff.units:
            raise ActionRefused(
                "invalid", "所选承办单位不属于本局。", "The chosen unit is not one of this bureau's.", key
            )
    for key in ("assisting_unit_ids",):
        values = payload.get(key) or []
        if isinstance(values, (list, tuple)) and any(_as_int(v) not in staff.units for v in values):
            raise ActionRefused("invalid", "所选单位不属于本局。", "A chosen unit is not one of this bureau's.", key)
    if action is CaseAction.submit_slip:
        _choose_slip_approver(case, payload, staff, today)
    if action is CaseAction.submit_reply and isinstance(payload.get("text"), str):
        addressee = COMMITTEE_NAME if case.intake is IntakePath.committee_transfer else case.petitioner_name
        problems = letter_problems(payload["text"], addressee)
        if problems:
            raise ActionRefused("invalid", problems[0].zh, problems[0].en, "text")


def _latest_reply(session: Session, case: Case) -> CaseEvent | None:
    return session.scalar(
        select(CaseEvent)
        .where(CaseEvent.tenant_id == case.tenant_id, CaseEvent.case_id == case.id, CaseEvent.action == "submit_reply")
        .order_by(CaseEvent.seq.desc())
        .limit(1)
    )


def _pin_draft(
    session: Session, case: Case, payload: dict, actor: Actor, stood_in_for: int | None
) -> StandInCopy | None:
    """Signing issues the stored draft: record its digest and number; refuse if the signer saw another one.

    A stand-in signing for the absent leader (``stood_in_for``) issues the draft's copy with 代签 and both names
    instead (§四.4), the one they opened: returned, to be stored with the signature.
    """
    from portal.documents.service import stand_in_copy  # documents read cases: import at use

    reply = _latest_reply(session, case)
    draft = (reply.fields.get("draft") or {}) if reply is not None else {}
    expected, copy = draft.get("sha256"), None
    if stood_in_for is not None and draft and case.state is CaseState.awaiting_signature:
        copy = stand_in_copy(session, case, stood_in_for, actor.name)
        expected = copy.sha256 if copy is not None else expected
    seen = str(payload.get("draft_sha256") or "").strip().lower()
    if seen and seen != expected:
        if copy is not None and seen == draft.get("sha256"):
            raise ActionRefused(
                "invalid",
                "您代签的正式意见应注明“代签”及双方姓名，请重新打开签发稿（代签稿）后再签发。",
                "As a stand-in you sign the copy that shows 代签 with both names; open the draft again, then sign.",
                "draft_sha256",
            )
        raise ActionRefused(
            "invalid",
            "您查看的签发稿不是当前待签发的正式意见，请重新打开后再签发。",
            "The draft you viewed is not the one waiting for signature; open it again before signing.",
            "draft_sha256",
        )
    payload["draft_sha256"] = expected
    payload["doc_number"] = draft.get("doc_number")
    return copy


def _store_signed_copy(session: Session, storage: Storage, case: Case, copy: StandInCopy) -> dict:
    from portal.documents.service import store_stand_in_copy  # documents read cases: import at use

    return store_stand_in_copy(session, storage, case, copy)


def _check_report_signer(
    session: Session, case: Case, actor: Actor, stood_in_for: int | None, named_id: int | None
) -> None:
    """A report names its 签发人 in its header: only that leader signs the draft that names them, or the stand-in
    they declared for signing (代签, §四.4). ``named_id``: that leader's id (``CaseView.named_signer_id``)."""
    reply = _latest_reply(session, case)
    signer = ((reply.fields.get("draft") or {}) if reply is not None else {}).get("signer")
    if not signer:
        return
    if named_id is not None:
        if named_id in (actor.id, stood_in_for):
            return
    elif actor.name == signer:
        return  # a draft that names its 签发人 by name only (stored before ids were kept)
    elif stood_in_for is not None:
        absent = session.scalar(
            select(StaffUser.display_name).where(StaffUser.tenant_id == case.tenant_id, StaffUser.id == stood_in_for)
        )
        if absent == signer:
            return
    raise ActionRefused(
        "forbidden",
        f"该报告的签发人为{signer}，应由其本人或其指定的代签人签发；如需改由他人签发，请退回重新报送。",
        f"The report names {signer} as its signing leader; only they or the stand-in they declared for signing "
        "can sign it, or return it.",
    )


def _store_draft(session: Session, storage: Storage, case: Case, decision: Decision, today: date) -> dict:
    from portal.documents.service import store_reply_draft  # documents read cases: import at use

    fields = decision.event_fields
    try:
        return store_reply_draft(
            session, storage, case, fields["text"], today=today, attachment_ids=fields.get("attachment_ids")
        )
    except TemplateError as exc:
        raise ActionRefused("invalid", exc.zh, exc.en, "text") from exc


def _choose_slip_approver(case: Case, payload: dict, staff: BureauStaff, today: date) -> None:
    lead = _as_int(payload.get("lead_unit_id"))
    units = [u for u in [lead, *[_as_int(v) for v in payload.get("assisting_unit_ids") or []]] if u is not None]
    try:
        choice = choose_approver(
            today,
            payload.get("complexity"),
            staff.leaders_with(Role.petitions_leader),
            staff.leaders_with(Role.business_leader),
            staff.leaders_with(Role.principal_leader),
            staff.unit_overseers(),
            units,
        )
    except NoApproverAvailable as exc:
        raise ActionRefused("invalid", exc.message_zh, exc.message_en, "approver_id") from exc
    except ValueError:
        return  # an invalid complexity is reported by the workflow's own payload checks
    chosen = _as_int(payload.get("approver_id"))
    if chosen is None:
        payload["approver_id"] = choice.leader_id
        payload["approver_rule"] = choice.rule
        return
    if chosen not in {u.id for u in staff.leaders}:
        raise ActionRefused(
            "invalid", "审批领导须为本局领导。", "The approver must be a leader of this bureau.", "approver_id"
        )
    if chosen != choice.leader_id:
        reason = str(payload.get("approver_change_reason") or "").strip()
        if not reason:
            raise ActionRefused(
                "invalid",
                f"按规定应由{choice.reason_zh}审批；改由其他领导审批须说明理由。",
                f"The rules choose another leader ({choice.reason_en}); say why you change it.",
                "approver_change_reason",
            )
        payload["approver_rule"] = f"changed: {reason[:180]}"
    else:
        payload["approver_rule"] = choice.rule


def _as_int(value) -> int | None:
    try:
        return int(value) if value not in (None, "") else None
    except (TypeError, ValueError):
        return None


_CASE_FIELDS = {
    "complexity",
    "lead_unit_id",
    "assisting_unit_ids",
    "approver_id",
    "coordinating_leader_id",
    "reject_reason",
    "opinion_needs_approval",
    "outcome",
    "pending_extension_days",
    "extension_used",
    "extension_days",
    "escalated",
    "delivered_on",
    "delivery_method",
}


def _apply(
    session: Session,
    pii: PersonalData,
    case: Case,
    decision: Decision,
    actor: Actor,
    staff: BureauStaff,
    today: date,
    now: datetime,
) -> ActionResult:
    calendar, rules = get_calendar(session), get_step_rules(session)
    counted_before = case_contribution(case, _unit_code(case, staff))
    clocks_before = _clock_states(session, case)
    for name, value in decision.case_changes.items():
        if name in _CASE_FIELDS:
            setattr(case, name, list(value) if isinstance(value, tuple) else value)
    case.state = decision.state_after
    if decision.action is CaseAction.accept:
        case.accepted_on = today
    if decision.action is CaseAction.sign_reply:
        case.replied_on = today
    if case.state in FINAL_STATES and decision.changes_state:
        case.closed_at = now

    fields = dict(decision.event_fields)
    if DocumentKind.formal_opinion in decision.documents and not fields.get("doc_number"):
        # The formal opinion's number (文号) is fixed by the time it is signed, so that the petitioner and a re-review
        # can cite it at once: the stored draft's (taken at submit_reply), or reserved now for a reply that was
        # submitted without one; the worker renders the document under this number.
        fields["doc_number"] = _reserve_document_number(session, case, DocumentKind.formal_opinion, today)
    request = _side_records(session, case, decision, actor, fields, now)
    _close_deadlines(session, case, decision, now, fields.get("request_id"))
    _extend_deadlines(session, case, decision, calendar)
    session.flush()
    for step in decision.opens:
        _open_deadline(
            session,
            case,
            step,
            decision.starts_on.get(step, today),
            calendar,
            rules,
            staff,
            due_on=decision.due_on.get(step),
            request=request,
        )

    _refresh_next_due(session, case)
    rollup = RollupChange()
    rollup.add_case(case.tenant_id, case.received_on, counted_before, -1)
    rollup.add_case(case.tenant_id, case.received_on, case_contribution(case, _unit_code(case, staff)))
    rollup.add_clocks(clocks_before, _clock_states(session, case))
    rollup.write(session)

    new_case = access_code = None
    if decision.action is CaseAction.escalate:
        new_submission = _escalate(session, pii, case, actor, today, fields)
        new_case, access_code = new_submission.case, new_submission.access_code
        fields["new_case_number"] = new_case.number
    event = append_event(
        session,
        case,
        action=str(decision.action),
        actor=actor,
        at=now,
        state_before=str(decision.state_before),
        state_after=str(decision.state_after),
        fields=fields,
        public=decision.public,
    )
    _outbox_documents(session, case, event.seq, decision.documents)
    if lands_on_someone(str(decision.action), fields):  # staff who now owe the next step hear of it
        _outbox(
            session,
            case,
            WORK_OUTBOX_KIND,
            "staff",
            {"event": str(decision.action), "seq": event.seq},
            f"staff:{case.id}:{event.seq}",
        )
    if decision.notify_petitioner:
        _outbox(
            session,
            case,
            "notify_petitioner",
            "petitioner",
            {"event": str(decision.action), "seq": event.seq},
            f"notify:{case.id}:{event.seq}",
        )
    session.flush()
    return ActionResult(case=case, decision=decision, event_seq=event.seq, new_case=new_case, access_code=access_code)


def _side_records(
    session: Session, case: Case, decision: Decision, actor: Actor, fields: dict, now: datetime
) -> MaterialRequest | None:
    action = decision.action
    if action is CaseAction.request_materials:
        request = MaterialRequest(
            tenant_id=case.tenant_id,
            case_id=case.id,
            target=str(fields["target"]),
            target_bureau_id=fields.get("target_bureau_id"),
            body_name=fields.get("body_name"),
            content=fields["content"],
            due_on=fields["due_on"],
            requested_by_id=actor.id or 0,
        )
        session.add(request)
        session.flush()
        fields["request_id"] = request.id
        return request
    if action is CaseAction.provide_materials:
        session.execute(
            update(MaterialRequest)
            .where(MaterialRequest.tenant_id == case.tenant_id, MaterialRequest.id == fields["request_id"])
            .values(
                answered_at=now,
                answer_text=fields.get("content"),
                answer_attachment_ids=list(fields.get("attachment_ids") or []),
                answered_by=actor.name,
            )
        )
    elif action is CaseAction.record_contact:
        session.add(
            ContactRecord(
                tenant_id=case.tenant_id,
                case_id=case.id,
                party=str(fields["party"]),
                body_name=fields.get("body_name"),
                contacted_on=fields["contacted_on"],
                channel=fields.get("channel"),
                summary=fields["summary"],
                recorded_by_id=actor.id or 0,
            )
        )
    return None


def _reserve_document_number(session: Session, case: Case, kind: DocumentKind, today: date) -> str:
    from portal.documents.numbering import format_number, next_number, series_for
    from portal.documents.service import get_document_settings

    series = series_for(kind, case.kind)
    prefix = get_document_settings(session, case.tenant_id).number_prefix
    return format_number(prefix, series, today.year, next_number(session, case.tenant_id, today.year, series))


def formal_opinion_number(session: Session, case: Case) -> str | None:
    """The 文号 of a case's formal opinion: fixed at signing (older cases: as rendered), None before signing."""
    from portal.documents.models import GeneratedDocument

    signed = session.scalar(
        select(CaseEvent.fields["doc_number"].astext)
        .where(CaseEvent.tenant_id == case.tenant_id, CaseEvent.case_id == case.id, CaseEvent.action == "sign_reply")
        .order_by(CaseEvent.seq.desc())
        .limit(1)
    )
    return signed or session.scalar(
        select(GeneratedDocument.doc_number)
        .where(
            GeneratedDocument.tenant_id == case.tenant_id,
            GeneratedDocument.case_id == case.id,
            GeneratedDocument.kind == DocumentKind.formal_opinion,
        )
        .order_by(GeneratedDocument.event_seq.desc())
        .limit(1)
    )


def _escalate(session: Session, pii: PersonalData, case: Case, actor: Actor, today: date, fields: dict) -> Submission:
    """Open the re-review at the next bureau, carrying the petitioner and the history's link.

    The re-review names what it disputes as any application does: the review opinion by its 文号 and issuer (this
    case's bureau), issued the day it was signed and received the day it was delivered.
    """
    petitioner = session.scalar(
        select(CaseParty).where(
            CaseParty.tenant_id == case.tenant_id, CaseParty.case_id == case.id, CaseParty.role == "petitioner"
        )
    )
    data = ApplicationInput(
        petitioner=PartyInput(
            name=petitioner.name,
            id_number=petitioner.reveal(pii, "id_number_enc"),
            phone=petitioner.reveal(pii, "phone_enc"),
            email=petitioner.reveal(pii, "email_enc"),
            address=petitioner.reveal(pii, "address_enc"),
        ),
        disputed_bureau_id=case.tenant_id,
        opinion_kind=OpinionKind.review,
        document_number=formal_opinion_number(session, case) or case.number,
        issued_on=case.replied_on,
        received_on=case.delivered_on or today,
        request=fields.get("request") or fields["reason"],
        language=case.petitioner_language,
        facts_and_reasons=fields.get("facts_and_reasons") or fields["reason"],
        electronic_delivery=case.electronic_delivery,
        confirm_duplicate=True,  # the escalation itself is checked by the workflow (once per review)
    )
    previous = get_scope(session)
    try:
        return submit_application(session, pii, data, actor=actor, today=today, earlier=case)
    finally:
        set_scope(session, previous)


# --- Outbox ------------------------------------------------------------------------------------------------


def _outbox(session: Session, case: Case, kind: str, channel: str, payload: dict, dedupe_key: str) -> None:
    session.add(
        Outbox(
            tenant_id=case.tenant_id,
            case_id=case.id,
            kind=kind,
            channel=channel,
            payload={"case_id": case.id, **payload},
            dedupe_key=dedupe_key,
        )
    )


def _outbox_documents(session: Session, case: Case, seq: int, documents) -> None:
    for document in documents:
        _outbox(
            session,
            case,
            "render_document",
            "documents",
            {"document": str(document), "seq": seq},
            f"doc:{case.id}:{seq}:{document}",
        )


__all__ = [
    "ActionRefused",
    "ActionResult",
    "ApplicationInput",
    "CaseConflict",
    "CaseNotFound",
    "DuplicateOpenCase",
    "IntakeRefused",
    "PartyInput",
    "Submission",
    "perform_action",
    "recompute_provisional_deadlines",
    "route_application",
    "submit_application",
]
