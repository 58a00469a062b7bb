"""Tell staff when work lands on them: a slip to instruct, an opinion to approve, an extension to decide, a letter
to sign, a request for materials from the bureau above, an answer to one's request, a draft sent back.

The action writes an outbox row (``notify_staff``, payload ``{case_id, event, seq}``) in its own transaction
(``portal.cases.operations``); delivering that row (``portal.outbox``, system scope) reads the case and the event
as they are and writes one in-app notification per recipient, exactly once (``dedupe_key`` per event). The actor
is never told about their own action. No Flask here.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from portal.accounts.models import StaffUser
from portal.approvers import acting_for, is_away
from portal.cases.context import BureauStaff, case_view
from portal.cases.models import Case, CaseEvent, MaterialRequest
from portal.notify.operations import notify_staff, users_with_roles
from portal.roles import PETITION_OFFICE
from portal.workflow import CaseAction, MaterialTarget
from tenants.models import Bureau

A = CaseAction
OUTBOX_KIND = "notify_staff"
CHINA = ZoneInfo("Asia/Shanghai")

#: The event -> the kind of notification it gives.
WORK_EVENTS: dict[str, str] = {
    str(A.submit_slip): "awaiting_instruction",
    str(A.submit_opinion): "awaiting_approval",
    str(A.request_extension): "extension_requested",
    str(A.submit_reply): "awaiting_signature",
    str(A.request_materials): "materials_requested",
    str(A.provide_materials): "materials_answered",
    str(A.return_opinion): "work_returned",
    str(A.return_reply): "work_returned",
}


def lands_on_someone(action: str, fields: dict) -> bool:
    """Whether this event puts work on (or answers) someone other than its actor."""
    if action == str(A.submit_opinion):
        return bool(fields.get("needs_approval"))  # without approval it goes to the office's own queue
    if action == str(A.request_materials):
        return fields.get("target") == str(MaterialTarget.lower_bureau)
    return action in WORK_EVENTS


def _users(session: Session, bureau_id: int, ids: Iterable[int | None]) -> list[tuple[int, int]]:
    wanted = sorted({i for i in ids if i is not None})
    if not wanted:
        return []
    found = session.scalars(
        select(StaffUser.id).where(
            StaffUser.tenant_id == bureau_id, StaffUser.id.in_(wanted), StaffUser.active.is_(True)
        )
    )
    return [(bureau_id, i) for i in found]


def _with_stand_ins(staff: BureauStaff, leader_ids: Iterable[int], on: date) -> set[int]:
    """The leaders; for one away today, whoever stands in (§四.4), who may take the step (else the leader)."""
    views = {v.user_id: v for v in staff.leader_views}
    out: set[int] = set()
    for leader_id in leader_ids:
        view = views.get(leader_id)
        if view is None or not is_away(view, on):
            out.add(leader_id)
            continue
        covering = {u.id for u in staff.leaders if leader_id in acting_for(u.id, on, staff.leader_views)}
        out |= covering or {leader_id}
    return out


def _previous_submitter(session: Session, case: Case, action: CaseAction, before_seq: int) -> int | None:
    """Who submitted the draft that a return sends back (the latest such event before the return)."""
    return session.scalar(
        select(CaseEvent.actor_id)
        .where(
            CaseEvent.tenant_id == case.tenant_id,
            CaseEvent.case_id == case.id,
            CaseEvent.action == str(action),
            CaseEvent.seq < before_seq,
        )
        .order_by(CaseEvent.seq.desc())
        .limit(1)
    )


def notify_work(session: Session, case_tenant_id: int, case_id: int, seq: int) -> int:
    """Write the notifications of one event of a case; returns how many were written (0 when done before).

    Needs a scope that may write in every recipient's bureau (the outbox delivers in the system scope).
    """
    case = session.scalar(select(Case).where(Case.tenant_id == case_tenant_id, Case.id == case_id))
    event = session.scalar(
        select(CaseEvent).where(
            CaseEvent.tenant_id == case_tenant_id, CaseEvent.case_id == case_id, CaseEvent.seq == seq
        )
    )
    if case is None or event is None or not lands_on_someone(event.action, event.fields):
        return 0
    kind = WORK_EVENTS[event.action]
    today = event.at.astimezone(CHINA).date()
    fields = event.fields
    params: dict = {"case_number": case.number, "event": event.action, "by": event.actor_name}
    bureau_id = case.tenant_id
    staff = BureauStaff(session, case.tenant_id)
    view = case_view(session, case, staff)
    recipients: list[tuple[int, int]] = []
    if event.action == str(A.submit_slip):
        recipients = _users(session, bureau_id, [case.approver_id])
    elif event.action == str(A.submit_opinion):
        recipients = _users(session, bureau_id, view.opinion_approver_ids)
    elif event.action == str(A.request_extension):
        recipients = _users(session, bureau_id, _with_stand_ins(staff, view.signer_ids, today))
        params["days"] = fields.get("days")
    elif event.action == str(A.submit_reply):
        recipients = _users(session, bureau_id, _with_stand_ins(staff, view.signer_ids, today))
    elif event.action == str(A.request_materials):
        target = fields.get("target_bureau_id")
        if isinstance(target, int):
            recipients = users_with_roles(session, target, PETITION_OFFICE)
            bureau = session.get(Bureau, case.tenant_id)
            params.update(
                request_id=fields.get("request_id"),
                due_on=fields.get("due_on"),
                bureau=bureau.name if bureau is not None else "",
            )
    elif event.action == str(A.provide_materials):
        request = session.scalar(
            select(MaterialRequest).where(
                MaterialRequest.tenant_id == case.tenant_id, MaterialRequest.id == fields.get("request_id")
            )
        )
        if request is not None:
            recipients = _users(session, bureau_id, [request.requested_by_id])
    else:  # a return: to whoever submitted the draft
        submitted = A.submit_opinion if event.action == str(A.return_opinion) else A.submit_reply
        recipients = _users(session, bureau_id, [_previous_submitter(session, case, submitted, event.seq)])
        params.update(returned=str(submitted), reason=str(fields.get("reason") or "")[:200])
    recipients = [r for r in recipients if r[1] != event.actor_id]
    return notify_staff(
        session,
        recipients,
        kind=kind,
        params=params,
        dedupe_key=f"work:{case.tenant_id}:{case.id}:{seq}",
        case_tenant_id=case.tenant_id,
        case_id=case.id,
    )


__all__ = ["OUTBOX_KIND", "WORK_EVENTS", "lands_on_someone", "notify_work"]
