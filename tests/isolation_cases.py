"""Isolation factories for the case tables: one committed row of bureau ``bureau_id`` carrying ``marker``."""

from __future__ import annotations

from datetime import date

from sqlalchemy.orm import Session

from portal.cases.models import (
    Case,
    CaseEvent,
    CaseParty,
    ContactRecord,
    Deadline,
    MaterialRequest,
    Meeting,
    Outbox,
    StaffAbsence,
    WorkItem,
)
from portal.routing import OpinionKind
from portal.workflow import CaseKind, CaseState, IntakePath, Step
from tenants.scoping import TenantScope, scoped

_DAY = date(2026, 9, 1)


def _commit(session: Session, bureau_id: int, row):
    with scoped(session, TenantScope.single(bureau_id)):
        session.add(row)
        session.commit()
    return row


def make_case(session: Session, bureau_id: int, marker: str) -> Case:
    return _commit(
        session,
        bureau_id,
        Case(
            tenant_id=bureau_id,
            number=f"FC2026-{abs(hash(marker)) % 10**8:08d}",
            kind=CaseKind.review,
            intake=IntakePath.online,
            state=CaseState.submitted,
            disputed_bureau_id=bureau_id,
            disputed_kind=OpinionKind.handling,
            disputed_document_number=marker,
            disputed_issued_on=_DAY,
            disputed_received_on=_DAY,
            petitioner_name=marker[:100],
            request_text=marker,
            facts_text=marker,
            received_on=_DAY,
        ),
    )


def _child(model, **fields):
    def factory(session: Session, bureau_id: int, marker: str):
        case = make_case(session, bureau_id, marker + "-case")
        values = {k: (marker if v is str else v) for k, v in fields.items()}
        return _commit(session, bureau_id, model(tenant_id=bureau_id, case_id=case.id, **values))

    return factory


CASE_MODEL_FACTORIES = {
    Case: make_case,
    CaseParty: _child(CaseParty, role="petitioner", name=str),
    CaseEvent: _child(
        CaseEvent,
        seq=1,
        action=str,
        actor_kind="staff",
        actor_name=str,
        at=_DAY,
        state_after="submitted",
        fields={},
        public=False,
        hash="0" * 64,
    ),
    Deadline: _child(
        Deadline, step=Step.acceptance, started_on=_DAY, amount=15, unit="working_days", due_on=_DAY, owed_by=str
    ),
    MaterialRequest: _child(MaterialRequest, target="petitioner", content=str, due_on=_DAY, requested_by_id=1),
    Meeting: lambda s, b, m: _commit(s, b, Meeting(tenant_id=b, topic=m, meeting_on=_DAY, unit_ids=[1])),
    ContactRecord: _child(ContactRecord, party="petitioner", contacted_on=_DAY, summary=str, recorded_by_id=1),
    Outbox: _child(Outbox, kind=str, channel="email", payload={}, dedupe_key=str),
    # No text of its own: its case carries the marker.
    WorkItem: _child(WorkItem, owner_kind="user", owner_id=1, due_on=_DAY),
    StaffAbsence: lambda s, b, m: _commit(
        s, b, StaffAbsence(tenant_id=b, user_id=1, starts_on=_DAY, ends_on=_DAY, note=m)
    ),
}
