"""Every action from every state through ``perform_action``, and every action by a wrong role or bureau.

The cases are built once for this module (one per state, driven through the workflow and committed); each test
acts inside a transaction that is rolled back, so the cases stay in their state for the next test. The pure
``ACTION_RULES`` table says which (state, action) pairs must succeed: the database layer must agree with it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import pytest
from sqlalchemy import func, select

from portal.accounts.models import StaffUser
from portal.cases.history import verify_case
from portal.cases.models import Case, CaseEvent, Deadline, Outbox, WorkItem
from portal.cases.operations import CaseNotFound, submit_application
from portal.cases.work_items import work_item_keys
from portal.extensions import db
from portal.roles import Role
from portal.workflow import ACTION_RULES, ActionRefused, CaseAction, CaseState, IntakePath
from tenants.models import Unit
from tenants.scoping import scope_for_bureau, scoped, set_scope, system_scope
from tests.conftest import reset_database
from tests.helpers import make_staff
from tests.portal.cases.conftest import (
    PETITIONER,
    Staffed,
    act,
    application,
    case_events,
    drive,
    load_case,
    perform,
    staff_bureau,
    submit,
)

TODAY = date(2026, 9, 14)  # a Monday, three days after the cases were replied: inside every window


@dataclass
class World:
    city: Staffed
    province: Staffed
    cases: dict[CaseState, int]
    audit_division: StaffUser
    other_business_leader: StaffUser
    province_clerk: StaffUser
    jilin_clerk: StaffUser
    nanguan_clerk: StaffUser
    chaoyang_clerk: StaffUser


@pytest.fixture(scope="module")
def world(_app, owner_engine):
    pii = _app.extensions["portal.pii"]
    with _app.app_context():
        dbs = db.session
        with system_scope(dbs):
            city = staff_bureau(dbs, "220100", "cc")
            province = staff_bureau(dbs, "220000", "pv")
            audit_division = make_staff(dbs, "220100", Role.division_staff, unit="audit", username="cc_div_audit")
            other_bl = make_staff(dbs, "220100", Role.business_leader, username="cc_bl2")
            jilin_clerk = make_staff(dbs, "220200", Role.petition_clerk, unit="petition_office", username="jl_clerk")
            nanguan_clerk = make_staff(dbs, "220102", Role.petition_clerk, unit="petition_office", username="ng_c")
            chaoyang_clerk = make_staff(dbs, "220104", Role.petition_clerk, unit="petition_office", username="cy_c")
            with scoped(dbs, scope_for_bureau(dbs, city.bureau_id)):
                row = dbs.scalar(select(StaffUser).where(StaffUser.id == other_bl.id))
                work_injury = dbs.scalar(select(Unit.id).where(Unit.code == "work_injury"))
                row.oversees_unit_ids = [work_injury]  # 工伤保险处, not the lead unit
                dbs.commit()

            cases: dict[CaseState, int] = {}
            for state in (
                CaseState.submitted,
                CaseState.accepted,
                CaseState.awaiting_instruction,
                CaseState.instructed,
                CaseState.in_review,
                CaseState.awaiting_approval,
                CaseState.drafting_reply,
                CaseState.awaiting_signature,
                CaseState.replied,
            ):
                case_id = submit(dbs, pii).case.id
                cases[state] = drive(dbs, pii, city, case_id, state).id
            case_id = submit(dbs, pii).case.id
            drive(dbs, pii, city, case_id, CaseState.awaiting_approval)
            act(dbs, pii, city.business_leader, case_id, "return_opinion", reason="请补充政策依据。")
            cases[CaseState.in_revision] = case_id
            case_id = submit(dbs, pii).case.id
            act(dbs, pii, city.clerk, case_id, "reject", reason="litigation", explanation="已起诉。", remedy="诉讼。")
            cases[CaseState.not_accepted] = case_id
            case_id = submit(dbs, pii).case.id
            act(dbs, pii, PETITIONER, case_id, "withdraw", reason="问题已解决。")
            cases[CaseState.withdrawn] = case_id
            set_scope(dbs, scope_for_bureau(dbs, province.bureau_id))
            transfer = submit_application(
                dbs,
                pii,
                application(
                    dbs, intake=IntakePath.committee_transfer, committee_document_number="吉信复委转〔2026〕1号"
                ),
                actor=_staff_actor(province.clerk),
                today=date(2026, 9, 10),
            )
            dbs.commit()
            cases[CaseState.reported] = drive(dbs, pii, province, transfer.case.id, CaseState.reported).id
            assert set(cases) == set(CaseState)
            for state, case_id in cases.items():
                assert load_case(dbs, case_id).state is state
        world = World(
            city,
            province,
            cases,
            audit_division,
            other_bl,
            province.clerk,
            jilin_clerk,
            nanguan_clerk,
            chaoyang_clerk,
        )
        db.session.remove()
    yield world
    with _app.app_context():
        db.session.remove()
    reset_database(owner_engine)


def _staff_actor(user):
    from portal.cases.context import actor_of

    return actor_of(user)


@pytest.fixture
def pii(_app):
    return _app.extensions["portal.pii"]


@pytest.fixture
def dbs(_app, world):
    """A session whose work is rolled back after the test, so that the module's cases keep their state."""
    with _app.app_context():
        session = db.session
        try:
            yield session
        finally:
            session.rollback()
            db.session.remove()


# --- What each action needs -----------------------------------------------------------------------------

# Who takes the action (an attribute of Staffed, or the petitioner), and with what.
ACTORS = {
    "accept": "clerk",
    "reject": "clerk",
    "submit_slip": "clerk",
    "instruct": "petitions_leader",
    "dispatch": "clerk",
    "submit_opinion": "division",
    "approve_opinion": "business_leader",
    "return_opinion": "business_leader",
    "submit_reply": "clerk",
    "return_reply": "petitions_leader",
    "sign_reply": "petitions_leader",
    "request_extension": "clerk",
    "approve_extension": "petitions_leader",
    "deny_extension": "petitions_leader",
    "request_materials": "clerk",
    "provide_materials": "clerk",
    "record_contact": "clerk",
    "withdraw": "petitioner",
    "escalate": "petitioner",
    "record_delivery": "clerk",
}
# Actions that need another one first (in the same transaction): (action, who, payload).
PREPARE = {
    "approve_extension": ("request_extension", "clerk"),
    "deny_extension": ("request_extension", "clerk"),
    "provide_materials": ("request_materials", "clerk"),
}


def _payload(action: str, staffed: Staffed, prepared: dict | None = None) -> dict:
    prepared = prepared or {}
    return {
        "accept": {"note": "材料齐全。"},
        "reject": {"reason": "arbitration", "explanation": "已申请仲裁。", "remedy": "请通过仲裁途径解决。"},
        "submit_slip": {"proposal": "交养老保险处。", "complexity": "complex", "lead_unit_id": staffed.pension_unit},
        "instruct": {"instruction": "同意。"},
        "dispatch": {"note": "已交办。"},
        "submit_opinion": {"opinion": "原意见正确。", "needs_approval": False},
        "approve_opinion": {"comment": "同意。"},
        "return_opinion": {"reason": "请补充依据。"},
        "submit_reply": {"text": "维持原意见。", "outcome": "upheld"},
        "return_reply": {"reason": "请修改措辞。"},
        "sign_reply": {},
        "request_extension": {"days": 10, "reason": "需调取材料。"},
        "approve_extension": {"days": 10},
        "deny_extension": {"reason": "无需延期。"},
        "request_materials": {"target": "petitioner", "content": "请提供缴费凭证。", "due_on": "2026-09-30"},
        "provide_materials": {"request_id": prepared.get("request_id", 1), "content": "已收到书面材料。"},
        "record_contact": {"party": "petitioner", "contacted_on": "2026-09-14", "summary": "电话沟通。"},
        "withdraw": {"reason": "不再申请。"},
        "escalate": {"reason": "不服复查意见。"},
        "record_delivery": {"method": "post", "delivered_on": TODAY.isoformat()},
    }[action]


def _who(staffed: Staffed, name: str):
    return PETITIONER if name == "petitioner" else getattr(staffed, name)


def _counts(dbs, case_id: int) -> tuple[int, int]:
    with system_scope(dbs):
        events = dbs.scalar(select(func.count()).select_from(CaseEvent).where(CaseEvent.case_id == case_id))
        outbox = dbs.scalar(select(func.count()).select_from(Outbox).where(Outbox.case_id == case_id))
    return events, outbox


def _prepare(dbs, pii, world: World, state: CaseState, action: str) -> tuple[Staffed, int, dict]:
    """The case in ``state``, its bureau's staff, and the ids the action refers to (made by its pre-step)."""
    staffed = world.province if state is CaseState.reported else world.city
    case_id = world.cases[state]
    prepared: dict = {}
    if action in PREPARE:
        before, who = PREPARE[action]
        perform(dbs, pii, _who(staffed, who), case_id, before, TODAY, **_payload(before, staffed))
        fields = case_events(dbs, case_id)[-1].fields
        prepared = {k: fields[k] for k in ("request_id",) if k in fields}
    return staffed, case_id, prepared


MATRIX = [(state, action) for state in CaseState for action in CaseAction]


@pytest.mark.parametrize(("state", "action"), MATRIX, ids=[f"{s}-{a}" for s, a in MATRIX])
def test_action_from_state(dbs, pii, world, state, action):
    rule = ACTION_RULES[action]
    allowed = state in rule.from_states
    staffed = world.province if state is CaseState.reported else world.city
    if not allowed:
        case_id = world.cases[state]
        before = _counts(dbs, case_id)
        with pytest.raises(ActionRefused) as refused:
            perform(dbs, pii, _who(staffed, ACTORS[action]), case_id, action, TODAY, **_payload(action, staffed))
        assert refused.value.code == "wrong_state", refused.value
        assert refused.value.message_zh and refused.value.message_en
        assert _counts(dbs, case_id) == before  # no event, no outbox row
        assert load_case(dbs, case_id).state is state
        return

    staffed, case_id, prepared = _prepare(dbs, pii, world, state, action)
    case_before = load_case(dbs, case_id)
    count_before = case_before.event_count
    result = perform(
        dbs, pii, _who(staffed, ACTORS[action]), case_id, action, TODAY, **_payload(action, staffed, prepared)
    )
    expected = rule.to_states or (state,)
    assert result.decision.state_after in expected
    case = load_case(dbs, case_id)
    assert case.state is result.decision.state_after
    events = case_events(dbs, case_id)
    assert len(events) == case.event_count == count_before + 1 == result.event_seq
    assert events[-1].action == action
    assert (events[-1].state_before, events[-1].state_after) == (str(state), str(case.state))
    assert verify_case(dbs, case) is None
    assert_next_due_is_nearest_open_deadline(dbs, case)
    assert_work_items_follow_the_rules(dbs, case)
    if action == "escalate":
        assert result.new_case is not None and result.new_case.tenant_id == world.province.bureau_id
        assert_next_due_is_nearest_open_deadline(dbs, load_case(dbs, result.new_case.id))
        assert_work_items_follow_the_rules(dbs, load_case(dbs, result.new_case.id))


def assert_next_due_is_nearest_open_deadline(dbs, case: Case) -> None:
    """The queue's copy on the case equals the earliest open deadline that staff owe, worked out here in Python."""
    with system_scope(dbs):
        deadlines = dbs.scalars(select(Deadline).where(Deadline.case_id == case.id)).all()
    staff_open = sorted(
        (d for d in deadlines if d.closed_at is None and d.owed_by != "petitioner"), key=lambda d: (d.due_on, d.id)
    )
    expected = (staff_open[0].due_on, staff_open[0].step) if staff_open else (None, None)
    assert (case.next_due_on, case.next_due_step) == expected, case.number


def assert_work_items_follow_the_rules(dbs, case: Case) -> None:
    """The queue's "mine" rows of the case are exactly the owners ``work_item_keys`` names, due with the case."""
    with system_scope(dbs):
        deadlines = dbs.scalars(select(Deadline).where(Deadline.case_id == case.id, Deadline.closed_at.is_(None)))
        expected = {(kind, owner, case.next_due_on) for kind, owner in work_item_keys(case, deadlines)}
        stored = dbs.execute(
            select(WorkItem.owner_kind, WorkItem.owner_id, WorkItem.due_on).where(
                WorkItem.tenant_id == case.tenant_id, WorkItem.case_id == case.id
            )
        ).all()
    assert sorted(map(tuple, stored)) == sorted(expected), case.number


def test_every_case_built_through_the_workflow_carries_its_next_due(dbs, world):
    for case_id in world.cases.values():
        assert_next_due_is_nearest_open_deadline(dbs, load_case(dbs, case_id))
        assert_work_items_follow_the_rules(dbs, load_case(dbs, case_id))


# --- Wrong roles ------------------------------------------------------------------------------------------

# For each action: the state it is tried in, and people of the case's own bureau who may not take it.
WRONG_ROLES = {
    "accept": (CaseState.submitted, ["division", "petitions_leader", "business_leader", "petitioner"]),
    "reject": (CaseState.submitted, ["division", "principal", "petitioner"]),
    "submit_slip": (CaseState.accepted, ["division", "petitions_leader", "principal"]),
    "instruct": (CaseState.awaiting_instruction, ["clerk", "business_leader", "principal", "division"]),
    "dispatch": (CaseState.instructed, ["division", "petitions_leader", "petitioner"]),
    "submit_opinion": (CaseState.in_review, ["clerk", "business_leader", "audit_division", "petitioner"]),
    "approve_opinion": (CaseState.awaiting_approval, ["petitions_leader", "clerk", "division", "other_bl"]),
    "return_opinion": (CaseState.awaiting_approval, ["petitions_leader", "division", "other_bl"]),
    "submit_reply": (CaseState.drafting_reply, ["division", "petitions_leader", "business_leader"]),
    "return_reply": (CaseState.awaiting_signature, ["business_leader", "clerk", "principal"]),
    "sign_reply": (CaseState.awaiting_signature, ["business_leader", "clerk", "principal", "petitioner"]),
    "request_extension": (CaseState.in_review, ["business_leader", "petitions_leader", "audit_division", "petitioner"]),
    # §三: any bureau leader decides an extension (issue 14), so no leader is a wrong role here.
    "approve_extension": (CaseState.in_review, ["clerk", "division", "petitioner"]),
    "deny_extension": (CaseState.in_review, ["clerk", "division", "audit_division"]),
    "request_materials": (CaseState.in_review, ["business_leader", "petitions_leader", "petitioner"]),
    "provide_materials": (CaseState.in_review, ["division", "business_leader", "petitions_leader"]),
    "record_contact": (CaseState.in_review, ["division", "petitions_leader", "petitioner"]),
    "withdraw": (CaseState.in_review, ["clerk", "division", "petitions_leader"]),
    "escalate": (CaseState.replied, ["clerk", "petitions_leader", "division"]),
    "record_delivery": (CaseState.replied, ["division", "petitions_leader", "business_leader"]),
}
WRONG = [(action, who) for action, (_, people) in WRONG_ROLES.items() for who in people]
assert set(WRONG_ROLES) == set(CaseAction)


def _person(world: World, name: str):
    extra = {"audit_division": world.audit_division, "other_bl": world.other_business_leader}
    return extra.get(name) or _who(world.city, name)


@pytest.mark.parametrize(("action", "who"), WRONG, ids=[f"{a}-by-{w}" for a, w in WRONG])
def test_action_by_a_wrong_role_is_forbidden(dbs, pii, world, action, who):
    state, _ = WRONG_ROLES[action]
    assert state in ACTION_RULES[action].from_states
    staffed, case_id, prepared = _prepare(dbs, pii, world, state, action)
    before = _counts(dbs, case_id)
    with pytest.raises(ActionRefused) as refused:
        perform(dbs, pii, _person(world, who), case_id, action, TODAY, **_payload(action, staffed, prepared))
    assert refused.value.code == "forbidden", refused.value
    assert _counts(dbs, case_id) == before


def test_a_division_asks_the_petition_office_for_materials_from_the_petitioner(dbs, pii, world):
    """§四.11: a division fetches materials from lower bureaus itself, anything else through the office."""
    case_id = world.cases[CaseState.in_review]
    with pytest.raises(ActionRefused) as refused:
        perform(
            dbs,
            pii,
            world.city.division,
            case_id,
            "request_materials",
            TODAY,
            **_payload("request_materials", world.city),
        )
    assert refused.value.code == "forbidden"
    nanguan = world.nanguan_clerk.tenant_id
    perform(
        dbs,
        pii,
        world.city.division,
        case_id,
        "request_materials",
        TODAY,
        target="lower_bureau",
        target_bureau_id=nanguan,
        content="请提供原处理意见的全部材料。",
        due_on="2026-09-30",
    )


# --- Other bureaus --------------------------------------------------------------------------------------


@pytest.mark.parametrize("action", ["accept", "reject", "record_contact", "withdraw", "provide_materials"])
def test_another_bureau_cannot_see_or_touch_the_case(dbs, pii, world, action):
    case_id = world.cases[CaseState.submitted]
    for outsider in (world.jilin_clerk, world.nanguan_clerk):  # a sibling city, and a county below the case
        with scoped(dbs, scope_for_bureau(dbs, outsider.tenant_id)):
            assert dbs.scalar(select(Case).where(Case.id == case_id)) is None
        with pytest.raises(CaseNotFound):
            perform(dbs, pii, outsider, case_id, action, TODAY, **_payload(action, world.city))
    assert load_case(dbs, case_id).event_count == 1


@pytest.mark.parametrize("action", ["accept", "record_contact", "request_materials"])
def test_the_province_reads_a_city_case_but_cannot_act_on_it(dbs, pii, world, action):
    case_id = world.cases[CaseState.submitted]
    province_clerk = world.province_clerk
    with scoped(dbs, scope_for_bureau(dbs, province_clerk.tenant_id)):
        seen = dbs.scalar(select(Case).where(Case.id == case_id))
        assert seen is not None and seen.tenant_id == world.city.bureau_id
    before = _counts(dbs, case_id)
    # Acting locks the row (SELECT ... FOR UPDATE), which row-level security allows only in the acting bureau:
    # to the ancestor the case is not there to act on (404), as for any other bureau.
    with pytest.raises(CaseNotFound):
        perform(dbs, pii, province_clerk, case_id, action, TODAY, **_payload(action, world.city))
    assert _counts(dbs, case_id) == before


def test_the_committee_transfer_is_the_provinces_alone(dbs, pii, world):
    """The reported transfer lives at the province: the city cannot reach it at all."""
    case_id = world.cases[CaseState.reported]
    with pytest.raises(CaseNotFound):
        perform(dbs, pii, world.city.clerk, case_id, "record_contact", TODAY, **_payload("record_contact", world.city))
