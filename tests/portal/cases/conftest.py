"""A bureau fully staffed for workflow tests: 长春市 (city) handling a review of a 南关区 opinion."""

from __future__ import annotations

import functools
from dataclasses import dataclass
from datetime import date

import pytest
from sqlalchemy import select

from portal.accounts.models import StaffUser
from portal.cases.context import actor_of
from portal.cases.history import Actor
from portal.cases.models import Case, CaseEvent, Deadline, Outbox
from portal.cases.operations import ApplicationInput, PartyInput, perform_action, submit_application
from portal.roles import Role
from portal.routing import OpinionKind
from portal.workflow import CaseState, IntakePath
from tenants.models import Unit
from tenants.scoping import TenantScope, scope_for_bureau, scoped, set_scope, system_scope
from tenants.tree import get_bureau
from tests.helpers import make_staff

VALID_ID = "11010519491231002X"


@pytest.fixture(autouse=True)
def _one_password_hash_per_password(monkeypatch):
    """Hash each staff password once per run: these tests create a dozen accounts each, never sign them in
    with a wrong password, and argon2 costs a quarter of a second per account. The hashes stay real."""
    from portal.accounts import operations

    monkeypatch.setattr(operations, "hash_password", _cached_hash)


@functools.cache
def _cached_hash(password: str) -> str:
    from portal.accounts.passwords import hash_password

    return hash_password(password)


@dataclass
class Staffed:
    bureau_id: int
    clerk: StaffUser
    petitions_leader: StaffUser
    business_leader: StaffUser
    principal: StaffUser
    division: StaffUser
    pension_unit: int
    audit_unit: int
    office_unit: int


def staff_bureau(dbs, adcode: str, prefix: str) -> Staffed:
    bureau = get_bureau(dbs, adcode)
    with scoped(dbs, scope_for_bureau(dbs, bureau.id)):
        units = {u.code: u.id for u in dbs.scalars(select(Unit).where(Unit.tenant_id == bureau.id))}
    clerk = make_staff(dbs, adcode, Role.petition_clerk, unit="petition_office", username=f"{prefix}_clerk")
    leader = make_staff(dbs, adcode, Role.petitions_leader, username=f"{prefix}_pl")
    business = make_staff(dbs, adcode, Role.business_leader, username=f"{prefix}_bl")
    principal = make_staff(dbs, adcode, Role.principal_leader, username=f"{prefix}_principal")
    division = make_staff(dbs, adcode, Role.division_staff, unit="pension", username=f"{prefix}_div")
    with scoped(dbs, scope_for_bureau(dbs, bureau.id)):
        row = dbs.scalar(select(StaffUser).where(StaffUser.id == business.id))
        row.oversees_unit_ids = [units["pension"], units["audit"]]
        dbs.commit()
    return Staffed(
        bureau.id,
        clerk,
        leader,
        business,
        principal,
        division,
        units["pension"],
        units["audit"],
        units["petition_office"],
    )


@pytest.fixture
def city(dbs) -> Staffed:
    return staff_bureau(dbs, "220100", "cc")


@pytest.fixture
def province(dbs) -> Staffed:
    return staff_bureau(dbs, "220000", "pv")


@pytest.fixture
def pii(app):
    return app.extensions["portal.pii"]


def application(dbs, **overrides) -> ApplicationInput:
    values = {
        "petitioner": PartyInput(
            name="张三",
            id_number=VALID_ID,
            phone="13800138000",
            email="zs@example.com",
            address="长春市南关区人民大街1号",
        ),
        "disputed_bureau_id": get_bureau(dbs, "220102").id,
        "opinion_kind": OpinionKind.handling,
        "document_number": "南社保信〔2026〕3号",
        "issued_on": date(2026, 9, 1),
        "received_on": date(2026, 9, 3),
        "request": "请求撤销处理意见，重新核定养老金。",
        "facts_and_reasons": "处理意见认定事实不清。",
    }
    values.update(overrides)
    return ApplicationInput(**values)


PETITIONER = Actor("petitioner", None, "张三")


def submit(dbs, pii, today=date(2026, 9, 10), **overrides):
    # Most tests submit the same application many times: confirmed, as a petitioner may (§四.14 duplicates are
    # tested with confirm_duplicate=False).
    overrides.setdefault("confirm_duplicate", True)
    result = submit_application(dbs, pii, application(dbs, **overrides), actor=PETITIONER, today=today)
    dbs.commit()
    return result


def transfer(dbs, pii, province: Staffed, today=date(2026, 9, 10), **overrides):
    """Register a case transferred by the provincial government committee, as the province's clerk; commit."""
    set_scope(dbs, scope_for_bureau(dbs, province.bureau_id))
    values = {"intake": IntakePath.committee_transfer, "committee_document_number": "吉信复委转〔2026〕7号"}
    values.update(overrides)
    submission = submit_application(dbs, pii, application(dbs, **values), actor=actor_of(province.clerk), today=today)
    dbs.commit()
    return submission


def perform(dbs, pii, who: StaffUser | Actor, case_id: int, action: str, today=date(2026, 9, 11), **payload):
    """Perform an action as ``who`` (a staff user in their own scope, or a petitioner in the case's bureau).

    Flushes only: the caller commits or rolls back.
    """
    if isinstance(who, StaffUser):
        set_scope(dbs, scope_for_bureau(dbs, who.tenant_id))
        actor = actor_of(who)
    else:
        with system_scope(dbs):
            tenant_id = dbs.scalar(select(Case.tenant_id).where(Case.id == case_id))
        set_scope(dbs, TenantScope.single(tenant_id))
        actor = who
    return perform_action(dbs, pii, case_id, action, actor, payload, today=today)


def act(dbs, pii, user: StaffUser | Actor, case_id: int, action: str, today=date(2026, 9, 11), **payload):
    """Perform an action as ``user`` inside that user's scope, and commit."""
    result = perform(dbs, pii, user, case_id, action, today, **payload)
    dbs.commit()
    return result


def load_case(dbs, case_id: int) -> Case:
    """The case as the database has it now (system scope, identity map refreshed)."""
    with system_scope(dbs):
        return dbs.scalar(select(Case).where(Case.id == case_id).execution_options(populate_existing=True))


def case_events(dbs, case_id: int) -> list[CaseEvent]:
    with system_scope(dbs):
        return list(
            dbs.scalars(
                select(CaseEvent)
                .where(CaseEvent.case_id == case_id)
                .order_by(CaseEvent.seq)
                .execution_options(populate_existing=True)
            )
        )


def case_deadlines(dbs, case_id: int, *, open_only: bool = False) -> list[Deadline]:
    with system_scope(dbs):
        query = select(Deadline).where(Deadline.case_id == case_id)
        if open_only:
            query = query.where(Deadline.closed_at.is_(None))
        return list(dbs.scalars(query.order_by(Deadline.id).execution_options(populate_existing=True)))


def open_deadline(dbs, case_id: int, step: str) -> Deadline:
    matches = [d for d in case_deadlines(dbs, case_id, open_only=True) if d.step == step]
    assert len(matches) == 1, [(d.step, d.closed_at) for d in case_deadlines(dbs, case_id)]
    return matches[0]


def outbox_rows(dbs, case_id: int) -> list[Outbox]:
    with system_scope(dbs):
        return list(dbs.scalars(select(Outbox).where(Outbox.case_id == case_id).order_by(Outbox.id)))


# The main path, one step at a time: (state reached, who acts, action, payload).
MAIN_PATH = (
    (CaseState.accepted, "clerk", "accept", {}),
    (
        CaseState.awaiting_instruction,
        "clerk",
        "submit_slip",
        {"proposal": "建议交养老保险处审查。", "complexity": "complex", "lead_unit_id": "pension_unit"},
    ),
    (CaseState.instructed, "petitions_leader", "instruct", {"instruction": "请养老保险处依规审查。"}),
    (CaseState.in_review, "clerk", "dispatch", {"note": "阅办单及材料已交养老保险处。"}),
    (CaseState.awaiting_approval, "division", "submit_opinion", {"opinion": "原意见正确。", "needs_approval": True}),
    (CaseState.drafting_reply, "business_leader", "approve_opinion", {}),
    (CaseState.awaiting_signature, "clerk", "submit_reply", {"text": "维持原意见。", "outcome": "upheld"}),
    (CaseState.replied, "petitions_leader", "sign_reply", {}),
)


def drive(dbs, pii, staffed: Staffed, case_id: int, until: CaseState, today=date(2026, 9, 11)) -> Case:
    """Move a case along the main path (committed, one action per step) from where it is until ``until``.

    ``reported`` is reached like ``replied`` (a committee transfer's signature reports it).
    """
    order = [CaseState.submitted, *(step[0] for step in MAIN_PATH)]
    target = CaseState.replied if until is CaseState.reported else until
    for state_after, who, action, payload in MAIN_PATH:
        case = load_case(dbs, case_id)
        if case.state is until or order.index(state_after) <= order.index(case.state):
            continue
        values = {k: getattr(staffed, v) if v == "pension_unit" else v for k, v in payload.items()}
        act(dbs, pii, getattr(staffed, who), case_id, action, today, **values)
        if state_after is target:
            break
    case = load_case(dbs, case_id)
    assert case.state is until, (case.state, until)
    return case
