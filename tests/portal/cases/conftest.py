"""A bureau fully staffed for workflow tests: 长春市 (city) handling a review of a 南关区 opinion."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import pytest
from sqlalchemy import select

from portal.accounts.models import StaffUser
from portal.cases.context import actor_of
from portal.cases.operations import ApplicationInput, PartyInput, perform_action, submit_application
from portal.roles import Role
from portal.routing import OpinionKind
from tenants.models import Unit
from tenants.scoping import scope_for_bureau, scoped, set_scope
from tenants.tree import get_bureau
from tests.helpers import make_staff

VALID_ID = "11010519491231002X"


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


PETITIONER = None


def submit(dbs, pii, today=date(2026, 9, 10), **overrides):
    from portal.cases.history import Actor

    result = submit_application(
        dbs, pii, application(dbs, **overrides), actor=Actor("petitioner", None, "张三"), today=today
    )
    dbs.commit()
    return result


def act(dbs, pii, user: StaffUser, case_id: int, action: str, today=date(2026, 9, 11), **payload):
    """Perform an action as ``user`` inside that user's scope, and commit."""
    set_scope(dbs, scope_for_bureau(dbs, user.tenant_id))
    result = perform_action(dbs, pii, case_id, action, actor_of(user), payload, today=today)
    dbs.commit()
    return result
