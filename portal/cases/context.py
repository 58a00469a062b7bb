"""Build what the workflow rules need (``CaseView``, ``ActorView``) from the database."""

from __future__ import annotations

from datetime import date

from sqlalchemy import select
from sqlalchemy.orm import Session

from portal.accounts.models import StaffUser
from portal.approvers import Absence, LeaderView, acting_for, signing_for
from portal.cases.history import Actor
from portal.cases.models import Case, Deadline, MaterialRequest, StaffAbsence
from portal.roles import LEADERS, Role
from portal.workflow import ActorView, CaseView, MaterialRequestView, MaterialTarget, Step
from tenants.models import Bureau, Unit, UnitKind
from tenants.scoping import subtree_ids


class BureauStaff:
    """The units and leaders of one bureau, loaded once per action (a handful of small indexed queries)."""

    def __init__(self, session: Session, bureau_id: int):
        self.bureau_id = bureau_id
        self.units = {
            u.id: u for u in session.scalars(select(Unit).where(Unit.tenant_id == bureau_id).order_by(Unit.id))
        }
        leader_roles = [r.value for r in LEADERS]
        self.leaders = list(
            session.scalars(
                select(StaffUser).where(
                    StaffUser.tenant_id == bureau_id,
                    StaffUser.active.is_(True),
                    StaffUser.roles.overlap(leader_roles),
                )
            )
        )
        absences: dict[int, list[Absence]] = {}
        for row in session.scalars(select(StaffAbsence).where(StaffAbsence.tenant_id == bureau_id)):
            absences.setdefault(row.user_id, []).append(
                Absence(row.starts_on, row.ends_on, row.stand_in_id, row.stand_in_slip, row.stand_in_signing)
            )
        self.leader_views = [LeaderView(u.id, frozenset(u.roles), tuple(absences.get(u.id, ()))) for u in self.leaders]

    @property
    def petition_office_id(self) -> int | None:
        return next((u.id for u in self.units.values() if u.kind == UnitKind.petition_office), None)

    def leaders_with(self, role: Role) -> list[LeaderView]:
        return [v for v in self.leader_views if role in v.roles]

    def overseers_of(self, unit_id: int | None) -> frozenset[int]:
        return frozenset(
            u.id for u in self.leaders if Role.business_leader in u.roles and unit_id in (u.oversees_unit_ids or [])
        )

    def unit_overseers(self) -> dict[int, set[int]]:
        return {unit_id: set(self.overseers_of(unit_id)) for unit_id in self.units}


def case_view(session: Session, case: Case, staff: BureauStaff) -> CaseView:
    open_requests = session.scalars(
        select(MaterialRequest).where(
            MaterialRequest.tenant_id == case.tenant_id,
            MaterialRequest.case_id == case.id,
            MaterialRequest.answered_at.is_(None),
        )
    ).all()
    bureau = session.get(Bureau, case.tenant_id)
    open_due = dict(
        session.execute(
            select(Deadline.step, Deadline.due_on).where(
                Deadline.tenant_id == case.tenant_id,
                Deadline.case_id == case.id,
                Deadline.step.in_((Step.escalation_window, Step.whole_review)),
                Deadline.closed_at.is_(None),
            )
        ).all()
    )
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
        bureau_level=str(bureau.level),
        material_requests=tuple(
            MaterialRequestView(id=r.id, target=MaterialTarget(r.target), target_bureau_id=r.target_bureau_id)
            for r in open_requests
        ),
        lower_bureau_ids=frozenset(subtree_ids(session, case.tenant_id)) - {case.tenant_id},
    )


def staff_actor_view(
    user: StaffUser,
    staff_of_case: BureauStaff,
    on: date,
    units: dict[int, Unit],
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


def actor_of(user: StaffUser) -> Actor:
    return Actor(kind="staff", id=user.id, name=user.display_name, bureau_id=user.tenant_id)
