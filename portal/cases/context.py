"""Build what the workflow rules need (``CaseView``, ``ActorView``) from the database."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date

from sqlalchemy import and_, or_, select
from sqlalchemy.orm import Session

from portal.accounts.models import StaffUser
from portal.approvers import Absence, LeaderView, acting_for, signing_for
from portal.cases.history import Actor
from portal.cases.models import WINDOW_EXPIRED, Case, CaseEvent, Deadline, MaterialRequest, StaffAbsence
from portal.memo import memoized
from portal.roles import LEADERS, Role
from portal.workflow import (
    ActorView,
    CaseAction,
    CaseState,
    CaseView,
    IntakePath,
    MaterialRequestView,
    MaterialTarget,
    Step,
    signs_on_behalf_of,
)
from tenants.models import Unit, UnitKind
from tenants.scoping import get_scope, subtree_ids
from tenants.tree import bureau_info


@dataclass(frozen=True)
class UnitInfo:
    """A unit of a bureau as the rules and the pages use it (a copy kept between requests, not an ORM row)."""

    id: int
    code: str
    name: str
    kind: UnitKind


@dataclass(frozen=True)
class LeaderInfo:
    """A leader of a bureau: who, with which roles, overseeing which units."""

    id: int
    display_name: str
    roles: tuple[Role, ...]
    oversees_unit_ids: tuple[int, ...]


@dataclass(frozen=True)
class _StaffData:
    units: dict[int, UnitInfo]
    leaders: tuple[LeaderInfo, ...]
    leader_views: tuple[LeaderView, ...]


# The staff of a bureau change only with these rows (and a trigger tells every process: ``portal.memo``).
STAFF_TABLES = (Unit, StaffUser, StaffAbsence)


def _load_staff(session: Session, bureau_id: int) -> _StaffData:
    units = {
        u.id: UnitInfo(u.id, u.code, u.name, u.kind)
        for u in session.scalars(select(Unit).where(Unit.tenant_id == bureau_id).order_by(Unit.id))
    }
    leader_roles = [r.value for r in LEADERS]
    leaders = tuple(
        LeaderInfo(u.id, u.display_name, tuple(u.roles), tuple(u.oversees_unit_ids or ()))
        for u in session.scalars(
            select(StaffUser)
            .where(
                StaffUser.tenant_id == bureau_id,
                StaffUser.active.is_(True),
                StaffUser.roles.overlap(leader_roles),
            )
            .order_by(StaffUser.id)
        )
    )
    absences: dict[int, list[Absence]] = {}
    for row in session.scalars(
        select(StaffAbsence).where(StaffAbsence.tenant_id == bureau_id).order_by(StaffAbsence.id)
    ):
        absences.setdefault(row.user_id, []).append(
            Absence(row.starts_on, row.ends_on, row.stand_in_id, row.stand_in_slip, row.stand_in_signing)
        )
    views = tuple(LeaderView(u.id, frozenset(u.roles), tuple(absences.get(u.id, ()))) for u in leaders)
    return _StaffData(units, leaders, views)


class BureauStaff:
    """The units and leaders of one bureau: read once per process and kept while the staff tables do not change.

    The copy is used only under a scope that may read the bureau; any other session reads through its scope, as
    every query does (and sees nothing of another bureau, or fails without a scope).
    """

    def __init__(self, session: Session, bureau_id: int):
        self.bureau_id = bureau_id
        scope = get_scope(session)
        if scope is not None and scope.can_read(bureau_id):
            data = memoized(session, f"staff:{bureau_id}", STAFF_TABLES, lambda: _load_staff(session, bureau_id))
        else:
            data = _load_staff(session, bureau_id)
        self.units: Mapping[int, UnitInfo] = data.units
        self.leaders: tuple[LeaderInfo, ...] = data.leaders
        self.leader_views: tuple[LeaderView, ...] = data.leader_views

    @property
    def petition_office_id(self) -> int | None:
        return next((u.id for u in self.units.values() if u.kind == UnitKind.petition_office), None)

    def leaders_with(self, role: Role) -> list[LeaderView]:
        return [v for v in self.leader_views if role in v.roles]

    def overseers_of(self, unit_id: int | None) -> frozenset[int]:
        return frozenset(
            u.id for u in self.leaders if Role.business_leader in u.roles and unit_id in u.oversees_unit_ids
        )

    def unit_overseers(self) -> dict[int, set[int]]:
        return {unit_id: set(self.overseers_of(unit_id)) for unit_id in self.units}


def named_signer_id(session: Session, case: Case, staff: BureauStaff) -> int | None:
    """The 签发人 named by the draft of a report waiting for signature (a committee case, §四.3); else None.

    A draft stored before ids were kept names them only: the bureau's petitions leader of that name, if one.
    """
    if case.state is not CaseState.awaiting_signature or case.intake is not IntakePath.committee_transfer:
        return None
    draft = session.scalar(
        select(CaseEvent.fields["draft"])
        .where(
            CaseEvent.tenant_id == case.tenant_id,
            CaseEvent.case_id == case.id,
            CaseEvent.action == str(CaseAction.submit_reply),
        )
        .order_by(CaseEvent.seq.desc())
        .limit(1)
    )
    if not isinstance(draft, dict) or not draft.get("signer"):
        return None
    if isinstance(draft.get("signer_id"), int):
        return draft["signer_id"]
    named = [u.id for u in staff.leaders if Role.petitions_leader in u.roles and u.display_name == draft["signer"]]
    return named[0] if len(named) == 1 else None


def case_view(session: Session, case: Case, staff: BureauStaff) -> CaseView:
    """The rules' view of ``case``: its row, its open requests and clocks, its bureau's staff and place in the tree."""
    open_requests = session.scalars(
        select(MaterialRequest).where(
            MaterialRequest.tenant_id == case.tenant_id,
            MaterialRequest.case_id == case.id,
            MaterialRequest.answered_at.is_(None),
        )
    ).all()
    open_due = dict(
        session.execute(
            select(Deadline.step, Deadline.due_on).where(
                Deadline.tenant_id == case.tenant_id,
                Deadline.case_id == case.id,
                Deadline.step.in_((Step.escalation_window, Step.whole_review)),
                # A window the sweep closed after its last day still tells the last day (the escalation is refused).
                or_(
                    Deadline.closed_at.is_(None),
                    and_(Deadline.step == Step.escalation_window, Deadline.close_reason == WINDOW_EXPIRED),
                ),
            )
        ).all()
    )
    return build_case_view(
        case,
        staff,
        open_due=open_due,
        open_requests=(
            MaterialRequestView(id=r.id, target=MaterialTarget(r.target), target_bureau_id=r.target_bureau_id)
            for r in open_requests
        ),
        bureau_level=str(bureau_info(session, case.tenant_id).level),
        lower_bureau_ids=frozenset(subtree_ids(session, case.tenant_id)) - {case.tenant_id},
        named_signer_id=named_signer_id(session, case, staff),
    )


def build_case_view(
    case,
    staff: BureauStaff,
    *,
    open_due: Mapping[Step, date],
    open_requests: Iterable[MaterialRequestView],
    bureau_level: str,
    lower_bureau_ids: frozenset[int],
    named_signer_id: int | None = None,
) -> CaseView:
    """The rules' view from what the caller read: ``case`` is the case row (an ORM ``Case`` or a copy with the same
    attributes), ``open_due`` the due dates of its open whole-review and escalation clocks, ``open_requests`` its
    unanswered materials requests, ``named_signer_id`` the 签发人 a committee case's draft names
    (``named_signer_id()``; only a staff signature depends on it). The one place where a case becomes what the
    workflow judges."""
    return CaseView(
        state=case.state,
        kind=case.kind,
        intake=case.intake,
        bureau_id=case.tenant_id,
        complexity=case.complexity,
        approver_id=case.approver_id,
        approver_is_principal=case.approver_id is not None
        and case.approver_id in {v.user_id for v in staff.leaders_with(Role.principal_leader)},
        coordinating_leader_id=case.coordinating_leader_id,
        lead_unit_id=case.lead_unit_id,
        assisting_unit_ids=frozenset(case.assisting_unit_ids or ()),
        lead_unit_is_petition_office=case.lead_unit_id is not None and case.lead_unit_id == staff.petition_office_id,
        opinion_needs_approval=case.opinion_needs_approval,
        opinion_approver_ids=staff.overseers_of(case.lead_unit_id),
        signer_ids=frozenset(v.user_id for v in staff.leaders_with(Role.petitions_leader)),
        named_signer_id=named_signer_id,
        extension_used=case.extension_used,
        pending_extension=case.pending_extension_days is not None,
        pending_extension_days=case.pending_extension_days,
        extension_days_granted=case.extension_days or 0,
        whole_review_due=open_due.get(Step.whole_review),
        replied_on=case.replied_on,
        delivered_on=case.delivered_on,
        electronic_delivery=case.electronic_delivery,
        escalation_due=open_due.get(Step.escalation_window),
        escalated=case.escalated,
        bureau_level=bureau_level,
        material_requests=tuple(open_requests),
        lower_bureau_ids=lower_bureau_ids,
    )


def staff_actor_view(
    user: StaffUser,
    staff_of_case: BureauStaff,
    on: date,
    units: Mapping[int, UnitInfo],
    lead_unit_id: int | None = None,
) -> ActorView:
    """The rules' view of a staff member; ``acting_for`` only makes sense inside their own bureau.

    ``lead_unit_id``: the case's lead unit; for an absent petitions leader, its overseers are the "有关" business
    leaders who approve in their stead (§四.4).
    """
    unit = units.get(user.unit_id) if user.unit_id else None
    same_bureau = user.tenant_id == staff_of_case.bureau_id
    overseers = staff_of_case.overseers_of(lead_unit_id) if lead_unit_id is not None else None
    return ActorView(
        kind="staff",
        user_id=user.id,
        bureau_id=user.tenant_id,
        unit_id=user.unit_id,
        roles=frozenset(user.roles),
        is_petition_office_unit=unit is not None and unit.kind == UnitKind.petition_office,
        acting_for=(
            acting_for(user.id, on, staff_of_case.leader_views, lead_unit_overseers=overseers)
            if same_bureau
            else frozenset()
        ),
        signing_for=signing_for(user.id, on, staff_of_case.leader_views) if same_bureau else frozenset(),
    )


def stand_in_signing_for(session: Session, case: Case, user: StaffUser, on: date) -> int | None:
    """The absent leader ``user`` would sign ``case``'s formal opinion for on ``on`` (代签, §四.4); None: in their
    own name, or not a stand-in declared for signing."""
    if user.tenant_id != case.tenant_id:
        return None
    staff = BureauStaff(session, case.tenant_id)
    actor = staff_actor_view(user, staff, on, staff.units, case.lead_unit_id)
    if not actor.signing_for:
        return None  # the common case: no need to build the case's view
    return signs_on_behalf_of(case_view(session, case, staff), actor)


def actor_of(user: StaffUser) -> Actor:
    return Actor(kind="staff", id=user.id, name=user.display_name, bureau_id=user.tenant_id)
