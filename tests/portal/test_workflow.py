"""The workflow state machine: every action from every state, every role rule, and the guards."""

from __future__ import annotations

import dataclasses
from datetime import date, timedelta

import pytest

from portal.roles import Role
from portal.workflow import (
    ACTION_LABELS,
    ALL,
    DEFAULT_STEP_RULES,
    EXTENSION_MAX_DAYS,
    FINAL_STATES,
    INITIAL_STATES,
    INITIAL_STEPS,
    OPEN_STATES,
    STATE_LABELS,
    STATE_PUBLIC,
    ActionRefused,
    ActorView,
    CaseAction,
    CaseKind,
    CaseState,
    CaseView,
    Complexity,
    DocumentKind,
    IntakePath,
    MaterialRequestView,
    MaterialTarget,
    Outcome,
    RejectReason,
    Step,
    allowed_actions,
    decide,
    document_title,
    extension_lapsed,
    transitions,
)

A = CaseAction
S = CaseState

BUREAU, OTHER_BUREAU, LOWER_BUREAU = 1, 2, 3
OFFICE_UNIT, LEAD_UNIT, ASSIST_UNIT, OTHER_UNIT = 10, 11, 12, 13
CLERK, HEAD, PET_LEADER, BUS_LEADER, STAND_IN, PRINCIPAL = 100, 101, 200, 201, 202, 203
LEAD_STAFF, ASSIST_STAFF, OTHER_STAFF, LOWER_STAFF, ADMIN, OTHER_CLERK = 300, 301, 302, 400, 500, 600
PETITIONER = 900
SIGNING_STAND_IN = 204
REPLIED_ON = date(2024, 3, 1)
PETITIONER_REQUEST, LOWER_REQUEST = 5, 6


def staff(user_id, *roles, unit=None, bureau=BUREAU, acting_for=(), office=False, signing_for=()):
    return ActorView(
        kind="staff",
        user_id=user_id,
        bureau_id=bureau,
        unit_id=unit,
        roles=frozenset(roles),
        is_petition_office_unit=office,
        acting_for=frozenset(acting_for),
        signing_for=frozenset(signing_for),
    )


ACTORS = {
    "clerk": staff(CLERK, Role.petition_clerk, unit=OFFICE_UNIT, office=True),
    "head": staff(HEAD, Role.petition_office_head, unit=OFFICE_UNIT, office=True),
    "pet_leader": staff(PET_LEADER, Role.petitions_leader),
    "bus_leader": staff(BUS_LEADER, Role.business_leader),
    # A second business leader who stands in for the petitions leader today.
    "stand_in": staff(STAND_IN, Role.business_leader, acting_for={PET_LEADER}),
    # A leader the absent petitions leader declared to sign in their stead (代签, §四.4).
    "signing_stand_in": staff(SIGNING_STAND_IN, Role.business_leader, signing_for={PET_LEADER}),
    "principal": staff(PRINCIPAL, Role.principal_leader),
    "lead_staff": staff(LEAD_STAFF, Role.division_staff, unit=LEAD_UNIT),
    "assist_staff": staff(ASSIST_STAFF, Role.division_staff, unit=ASSIST_UNIT),
    "other_staff": staff(OTHER_STAFF, Role.division_staff, unit=OTHER_UNIT),
    "admin": staff(ADMIN, Role.bureau_admin, Role.province_admin),
    "other_clerk": staff(OTHER_CLERK, Role.petition_clerk, bureau=OTHER_BUREAU),
    "lower_staff": staff(LOWER_STAFF, Role.division_staff, bureau=LOWER_BUREAU),
    "petitioner": ActorView(kind="petitioner", user_id=PETITIONER),
    "system": ActorView(kind="system", user_id=0, bureau_id=BUREAU, roles=frozenset(Role)),
}

OFFICE = {"clerk", "head"}
WHO = {
    A.accept: OFFICE,
    A.reject: OFFICE,
    A.submit_slip: OFFICE,
    A.instruct: {"pet_leader", "stand_in"},
    A.dispatch: OFFICE,
    A.submit_opinion: {"lead_staff"},
    A.approve_opinion: {"bus_leader"},
    A.return_opinion: {"bus_leader"},
    A.submit_reply: OFFICE,
    # §四.4: the slip's stand-in gives no power to sign; only a stand-in declared for signing signs.
    A.return_reply: {"pet_leader", "signing_stand_in"},
    A.sign_reply: {"pet_leader", "signing_stand_in"},
    A.request_extension: OFFICE | {"lead_staff"},
    # §三: any bureau leader (局领导) decides an extension.
    A.approve_extension: {"pet_leader", "bus_leader", "stand_in", "signing_stand_in", "principal"},
    A.deny_extension: {"pet_leader", "bus_leader", "stand_in", "signing_stand_in", "principal"},
    A.request_materials: OFFICE | {"lead_staff", "assist_staff"},
    A.provide_materials: OFFICE | {"petitioner", "lower_staff"},
    A.record_contact: OFFICE,
    A.withdraw: {"petitioner"},
    A.escalate: {"petitioner"},
    A.record_delivery: OFFICE | {"petitioner"},
}

ACTIVE = {
    S.accepted,
    S.awaiting_instruction,
    S.instructed,
    S.in_review,
    S.awaiting_approval,
    S.in_revision,
    S.drafting_reply,
    S.awaiting_signature,
}
# Written out by hand, not taken from the module, so that a wrong table fails.
FROM = {
    A.accept: {S.submitted},
    A.reject: {S.submitted},
    A.submit_slip: {S.accepted},
    A.instruct: {S.awaiting_instruction},
    A.dispatch: {S.instructed},
    A.submit_opinion: {S.in_review, S.in_revision},
    A.approve_opinion: {S.awaiting_approval},
    A.return_opinion: {S.awaiting_approval},
    A.submit_reply: {S.drafting_reply},
    A.return_reply: {S.awaiting_signature},
    A.sign_reply: {S.awaiting_signature},
    A.request_extension: ACTIVE,
    A.approve_extension: ACTIVE,
    A.deny_extension: ACTIVE,
    A.request_materials: ACTIVE | {S.submitted},
    A.provide_materials: ACTIVE | {S.submitted},
    A.record_contact: ACTIVE | {S.submitted},
    A.withdraw: ACTIVE | {S.submitted},
    A.escalate: {S.replied},
    A.record_delivery: {S.replied},
}
TO = {
    A.accept: S.accepted,
    A.reject: S.not_accepted,
    A.submit_slip: S.awaiting_instruction,
    A.instruct: S.instructed,
    A.dispatch: S.in_review,
    A.submit_opinion: S.awaiting_approval,  # with needs_approval=True
    A.approve_opinion: S.drafting_reply,
    A.return_opinion: S.in_revision,
    A.submit_reply: S.awaiting_signature,
    A.return_reply: S.drafting_reply,
    A.sign_reply: S.replied,
    A.withdraw: S.withdrawn,
}


def make_case(state=S.in_review, action=None, **overrides):
    """A case where every condition of `action` holds, in the given state."""
    fields = {
        "state": state,
        "kind": CaseKind.review,
        "intake": IntakePath.online,
        "bureau_id": BUREAU,
        "bureau_level": "city",
        "complexity": Complexity.complex,
        "approver_id": PET_LEADER,
        "lead_unit_id": LEAD_UNIT,
        "assisting_unit_ids": frozenset({ASSIST_UNIT}),
        "opinion_approver_ids": frozenset({BUS_LEADER}),
        "signer_ids": frozenset({PET_LEADER}),
        "replied_on": REPLIED_ON if state in (S.replied, S.reported) else None,
        # Delivered the day after signing, except where the action is to record the delivery.
        "delivered_on": REPLIED_ON + timedelta(days=1)
        if state is S.replied and action is not A.record_delivery
        else None,
        "material_requests": (
            MaterialRequestView(id=PETITIONER_REQUEST, target=MaterialTarget.petitioner),
            MaterialRequestView(id=LOWER_REQUEST, target=MaterialTarget.lower_bureau, target_bureau_id=LOWER_BUREAU),
        ),
        "lower_bureau_ids": frozenset({LOWER_BUREAU}),
    }
    if action in (A.approve_extension, A.deny_extension):
        fields.update(pending_extension=True, pending_extension_days=20)
    fields.update(overrides)
    return CaseView(**fields)


def payload(action, actor_name="clerk"):
    return {
        A.accept: {},
        A.reject: {"reason": "litigation", "explanation": "已向法院起诉", "remedy": "依法通过诉讼途径解决"},
        A.submit_slip: {
            "proposal": "建议由养老保险处办理",
            "complexity": "complex",
            "lead_unit_id": LEAD_UNIT,
            "assisting_unit_ids": [ASSIST_UNIT],
            "approver_id": PET_LEADER,
        },
        A.instruct: {"instruction": "同意，请养老保险处办理"},
        A.dispatch: {"note": "阅办单及申请材料已送养老保险处"},
        A.submit_opinion: {"opinion": "经审查，原处理意见正确", "needs_approval": True},
        A.approve_opinion: {},
        A.return_opinion: {"reason": "请补充政策依据"},
        A.submit_reply: {"text": "复查意见书正文", "outcome": "upheld"},
        A.return_reply: {"reason": "请修改第二段"},
        A.sign_reply: {},
        A.request_extension: {"days": 20, "reason": "需调取外地材料"},
        A.approve_extension: {"days": 20},
        A.deny_extension: {"reason": "无需延期"},
        A.request_materials: {
            "target": "lower_bureau",
            "target_bureau_id": LOWER_BUREAU,
            "content": "请提供缴费记录",
            "due_on": "2024-05-01",
        },
        A.provide_materials: {
            "request_id": LOWER_REQUEST if actor_name == "lower_staff" else PETITIONER_REQUEST,
            "content": "材料已上传",
        },
        A.record_contact: {"party": "petitioner", "contacted_on": "2024-04-01", "summary": "电话核实情况"},
        A.withdraw: {"reason": "问题已解决"},
        A.escalate: {"today": REPLIED_ON + timedelta(days=10), "reason": "不服复查意见"},
        A.record_delivery: {
            "method": "post",
            "delivered_on": REPLIED_ON + timedelta(days=3),
            "today": REPLIED_ON + timedelta(days=5),
        },
    }[action]


def refused(code, case, action, actor, data=None, field=None):
    with pytest.raises(ActionRefused) as info:
        decide(case, action, actor, payload(action) if data is None else data)
    assert info.value.code == code, (info.value.code, info.value.message_en)
    assert info.value.message_zh and info.value.message_en
    if field is not None:
        assert info.value.field == field
    return info.value


def first_allowed(action):
    return sorted(WHO[action])[0]


# --- Every action from every state -------------------------------------------------------------------


@pytest.mark.parametrize("state", list(CaseState))
@pytest.mark.parametrize("action", list(CaseAction))
def test_every_action_from_every_state(action, state):
    actor_name = first_allowed(action)
    case = make_case(state, action)
    if state in FROM[action]:
        decision = decide(case, action, ACTORS[actor_name], payload(action, actor_name))
        assert decision.action is action
        assert decision.state_before is state
        assert decision.state_after is TO.get(action, state)
    else:
        refused("wrong_state", case, action, ACTORS[actor_name], payload(action, actor_name))


def test_final_and_open_states_partition_the_states():
    assert {S.not_accepted, S.replied, S.reported, S.withdrawn} == FINAL_STATES
    assert set(CaseState) - FINAL_STATES == OPEN_STATES


# --- Every role rule ----------------------------------------------------------------------------------


def state_for(action):
    return sorted(FROM[action])[0]


@pytest.mark.parametrize("actor_name", list(ACTORS))
@pytest.mark.parametrize("action", list(CaseAction))
def test_who_may_take_each_action(action, actor_name):
    case = make_case(state_for(action), action)
    actor = ACTORS[actor_name]
    if actor_name in WHO[action]:
        decision = decide(case, action, actor, payload(action, actor_name))
        assert decision.action is action
    elif actor_name in ("other_clerk", "lower_staff"):
        refused("not_your_bureau", case, action, actor, payload(action, actor_name))
    else:
        refused("forbidden", case, action, actor, payload(action, actor_name))


def test_other_bureau_is_not_your_bureau_before_any_state_check():
    # An ancestor bureau may read but never act; the answer hides the case's state.
    case = make_case(S.replied)
    for action in CaseAction:
        refused("not_your_bureau", case, action, ACTORS["other_clerk"])


def test_instruct_only_by_the_chosen_approver_or_their_stand_in():
    case = make_case(S.awaiting_instruction, approver_id=BUS_LEADER)
    assert decide(case, A.instruct, ACTORS["bus_leader"], payload(A.instruct)).state_after is S.instructed
    refused("forbidden", case, A.instruct, ACTORS["pet_leader"])
    refused("forbidden", case, A.instruct, ACTORS["stand_in"])  # stands in for PET_LEADER, not BUS_LEADER
    covering = staff(STAND_IN, Role.business_leader, acting_for={BUS_LEADER})
    decision = decide(case, A.instruct, covering, payload(A.instruct))
    assert decision.event_fields["on_behalf_of"] == BUS_LEADER
    refused("forbidden", make_case(S.awaiting_instruction, approver_id=None), A.instruct, ACTORS["pet_leader"])


def test_simple_case_handled_by_the_petition_office():
    case = make_case(S.in_review, lead_unit_id=OFFICE_UNIT, lead_unit_is_petition_office=True)
    assert decide(case, A.submit_opinion, ACTORS["clerk"], payload(A.submit_opinion)).state_after is (
        S.awaiting_approval
    )
    refused("forbidden", case, A.submit_opinion, ACTORS["lead_staff"])
    # Without the flag the petition office may not write a division's opinion.
    refused("forbidden", make_case(S.in_review), A.submit_opinion, ACTORS["clerk"])


def test_opinion_approver_any_business_leader_when_not_named():
    case = make_case(S.awaiting_approval, opinion_approver_ids=frozenset())
    assert decide(case, A.approve_opinion, ACTORS["stand_in"], {}).state_after is S.drafting_reply
    refused("forbidden", case, A.approve_opinion, ACTORS["pet_leader"])
    named = make_case(S.awaiting_approval)
    refused("forbidden", named, A.approve_opinion, ACTORS["stand_in"])
    covering = staff(STAND_IN, Role.business_leader, acting_for={BUS_LEADER})
    assert decide(named, A.return_opinion, covering, {"reason": "改"}).state_after is S.in_revision


def test_signer_rules():
    actor = ACTORS["pet_leader"]
    other_pl = staff(250, Role.petitions_leader)
    open_case = make_case(S.awaiting_signature, signer_ids=frozenset())
    assert decide(open_case, A.sign_reply, other_pl, {}).state_after is S.replied
    designated = make_case(S.awaiting_signature, signer_ids=frozenset(), signer_id=PET_LEADER)
    refused("forbidden", designated, A.sign_reply, other_pl)
    assert decide(designated, A.sign_reply, actor, {}).event_fields.get("on_behalf_of") is None
    decision = decide(designated, A.sign_reply, ACTORS["signing_stand_in"], {})
    assert decision.event_fields["on_behalf_of"] == PET_LEADER  # 代签: the document shows both names
    # §四.4: standing in to approve the slip gives no power to sign the formal opinion.
    error = refused("forbidden", designated, A.sign_reply, ACTORS["stand_in"])
    assert "签批" in error.message_zh
    # A principal leader decides extensions but does not sign the reply.
    refused("forbidden", designated, A.sign_reply, ACTORS["principal"])


def test_a_stand_in_for_two_absent_signers_signs_for_the_one_the_report_names():
    """A report names its 签发人; a stand-in both absent petitions leaders declared for signing signs for that one,
    not for whichever has the lower id (issue 14, rule 5)."""
    second = PET_LEADER + 1  # a second leader in charge of petitions, also away
    both = staff(SIGNING_STAND_IN, Role.business_leader, signing_for={PET_LEADER, second})
    leaders = frozenset({PET_LEADER, second})
    report = make_case(S.awaiting_signature, intake=IntakePath.committee_transfer, signer_ids=leaders)
    assert decide(report, A.sign_reply, both, {}).event_fields["on_behalf_of"] == PET_LEADER  # none named: lowest
    named = make_case(
        S.awaiting_signature, intake=IntakePath.committee_transfer, signer_ids=leaders, named_signer_id=second
    )
    assert decide(named, A.sign_reply, both, {}).event_fields["on_behalf_of"] == second
    # A stand-in declared by the other leader only signs for them (the database layer then refuses the report).
    only_first = staff(SIGNING_STAND_IN, Role.business_leader, signing_for={PET_LEADER})
    assert decide(named, A.sign_reply, only_first, {}).event_fields["on_behalf_of"] == PET_LEADER


def test_system_actor_may_take_no_action():
    for action in CaseAction:
        case = make_case(state_for(action), action)
        refused("forbidden", case, action, ACTORS["system"], payload(action))


# --- Decisions: steps, documents, notifications -------------------------------------------------------


def run(action, state=None, actor="clerk", data=None, **case_fields):
    case = make_case(state or state_for(action), action, **case_fields)
    return decide(case, action, ACTORS[actor], payload(action, actor) if data is None else data)


def test_accept():
    d = run(A.accept, data={"note": "  材料齐全  "})
    assert d.opens == (Step.whole_review, Step.slip)
    assert d.closes == (Step.acceptance,)
    assert d.documents == (DocumentKind.acceptance_notice,)
    assert d.notify_petitioner and d.public
    assert d.event_fields == {"note": "材料齐全"}


def test_reject_and_its_guards():
    d = run(A.reject)
    assert d.state_after is S.not_accepted
    assert d.closes == (Step.acceptance,)
    assert d.opens == ()
    assert d.documents == (DocumentKind.non_acceptance_notice,)
    assert d.case_changes == {"reject_reason": RejectReason.litigation}
    assert d.notify_petitioner and d.public
    case = make_case(S.submitted)
    good = payload(A.reject)
    refused("invalid", case, A.reject, ACTORS["clerk"], {**good, "reason": "bored"}, field="reason")
    refused("invalid", case, A.reject, ACTORS["clerk"], {**good, "explanation": "   "}, field="explanation")
    refused("invalid", case, A.reject, ACTORS["clerk"], {**good, "remedy": None}, field="remedy")
    refused("invalid", case, A.reject, ACTORS["clerk"], {**good, "remedy": "x" * 10_001}, field="remedy")
    refused("invalid", case, A.reject, ACTORS["clerk"], {**good, "remedy": 42}, field="remedy")
    refused("invalid", case, A.reject, ACTORS["clerk"], {**good, "remedy": "a\x00b"}, field="remedy")
    assert decide(case, A.reject, ACTORS["clerk"], {**good, "remedy": "x" * 10_000})


def test_committee_transfer_enters_accepted_and_reports():
    assert INITIAL_STATES[IntakePath.committee_transfer] is S.accepted
    assert INITIAL_STEPS[IntakePath.committee_transfer] == (Step.whole_review, Step.slip)
    assert INITIAL_STEPS[IntakePath.online] == INITIAL_STEPS[IntakePath.paper] == (Step.acceptance,)
    assert INITIAL_STATES[IntakePath.paper] is S.submitted
    transfer = IntakePath.committee_transfer
    for action in (A.accept, A.reject):
        error = refused("wrong_state", make_case(S.submitted, intake=transfer), action, ACTORS["clerk"])
        assert "公文" in error.message_zh
    d = run(A.sign_reply, actor="pet_leader", intake=transfer)
    assert d.state_after is S.reported
    assert d.opens == ()
    assert not d.notify_petitioner and not d.public
    d = run(A.approve_extension, actor="principal", intake=transfer)
    assert d.documents == (DocumentKind.extension_notice,)
    assert not d.notify_petitioner
    assert d.event_fields["notice_to"] == "committee"  # the notice goes to the committee, not the petitioner
    assert run(A.approve_extension, actor="pet_leader").event_fields["notice_to"] == "petitioner"


def test_submit_slip_records_the_proposal():
    d = run(A.submit_slip)
    assert d.opens == (Step.instruction,)
    assert d.closes == (Step.slip,)
    assert d.documents == (DocumentKind.reading_slip,)
    assert d.case_changes == {
        "complexity": Complexity.complex,
        "lead_unit_id": LEAD_UNIT,
        "assisting_unit_ids": (ASSIST_UNIT,),
        "approver_id": PET_LEADER,
    }
    assert d.event_fields["assisting_unit_ids"] == [ASSIST_UNIT]
    case = make_case(S.accepted)
    good = payload(A.submit_slip)
    clerk = ACTORS["clerk"]
    refused("invalid", case, A.submit_slip, clerk, {**good, "assisting_unit_ids": [LEAD_UNIT]}, "assisting_unit_ids")
    refused("invalid", case, A.submit_slip, clerk, {**good, "approver_id": None}, field="approver_id")
    refused("invalid", case, A.submit_slip, clerk, {**good, "approver_id": True}, field="approver_id")
    refused("invalid", case, A.submit_slip, clerk, {**good, "complexity": "huge"}, field="complexity")
    refused("invalid", case, A.submit_slip, clerk, {**good, "proposal": ""}, field="proposal")
    refused("invalid", case, A.submit_slip, clerk, {**good, "lead_unit_id": "abc"}, field="lead_unit_id")
    d = decide(case, A.submit_slip, clerk, {**good, "lead_unit_id": "11", "assisting_unit_ids": None})
    assert d.case_changes["lead_unit_id"] == LEAD_UNIT
    assert d.case_changes["assisting_unit_ids"] == ()


def test_instruct_confirms_or_changes_complexity_and_units():
    d = run(A.instruct, actor="pet_leader")
    assert d.opens == (Step.dispatch,)
    assert d.closes == (Step.instruction,)
    assert d.case_changes == {}
    assert d.event_fields["complexity"] == "complex"
    d = run(
        A.instruct,
        actor="pet_leader",
        data={"instruction": "改由工伤处主办", "complexity": "major", "lead_unit_id": ASSIST_UNIT},
    )
    # The new lead was assisting: it stops assisting.
    assert d.case_changes == {
        "complexity": Complexity.major,
        "lead_unit_id": ASSIST_UNIT,
        "assisting_unit_ids": (),
        "coordinating_leader_id": PET_LEADER,  # §二.4: a case confirmed major names its coordinating leader
    }
    case = make_case(S.awaiting_instruction, lead_unit_id=None)
    refused("invalid", case, A.instruct, ACTORS["pet_leader"], {"instruction": "同意"}, field="lead_unit_id")
    refused("invalid", make_case(S.awaiting_instruction), A.instruct, ACTORS["pet_leader"], {}, "instruction")


def test_dispatch_registers_the_handover():
    d = run(A.dispatch)
    assert d.opens == (Step.division_review,)
    assert d.closes == (Step.dispatch,)
    assert d.event_fields["lead_unit_id"] == LEAD_UNIT
    # No units named: the slip goes to every instructed unit; a note is optional (the units are the record).
    assert d.event_fields["handed_to_unit_ids"] == [LEAD_UNIT, ASSIST_UNIT]
    d = run(A.dispatch, data={"handed_to_unit_ids": [LEAD_UNIT]})
    assert d.event_fields["handed_to_unit_ids"] == [LEAD_UNIT]
    case = make_case(S.instructed)
    refused("invalid", case, A.dispatch, ACTORS["clerk"], {"handed_to_unit_ids": [999]}, field="handed_to_unit_ids")
    refused("invalid", case, A.dispatch, ACTORS["clerk"], {"handed_to_unit_ids": [ASSIST_UNIT]}, "handed_to_unit_ids")


@pytest.mark.parametrize(
    ("state", "needs", "after", "opens", "closes"),
    [
        (S.in_review, True, S.awaiting_approval, Step.approval, Step.division_review),
        (S.in_review, "false", S.drafting_reply, Step.reply, Step.division_review),
        (S.in_revision, "true", S.awaiting_approval, Step.approval, Step.revision),
        (S.in_revision, False, S.drafting_reply, Step.reply, Step.revision),
    ],
)
def test_submit_opinion(state, needs, after, opens, closes):
    d = run(A.submit_opinion, state, "lead_staff", {"opinion": "意见", "needs_approval": needs})
    assert d.state_after is after
    assert d.opens == (opens,)
    assert d.closes == (closes,)
    assert d.case_changes == {"opinion_needs_approval": after is S.awaiting_approval}


def test_submit_opinion_needs_the_approval_flag():
    case = make_case(S.in_review)
    refused("invalid", case, A.submit_opinion, ACTORS["lead_staff"], {"opinion": "意见"}, field="needs_approval")
    refused(
        "invalid",
        case,
        A.submit_opinion,
        ACTORS["lead_staff"],
        {"opinion": "意见", "needs_approval": "maybe"},
        field="needs_approval",
    )


def test_opinion_approval_and_return():
    d = run(A.approve_opinion, actor="bus_leader")
    assert (d.opens, d.closes) == ((Step.reply,), (Step.approval,))
    d = run(A.return_opinion, actor="bus_leader")
    assert (d.opens, d.closes) == ((Step.revision,), (Step.approval,))
    assert d.event_fields == {"reason": "请补充政策依据"}
    refused("invalid", make_case(S.awaiting_approval), A.return_opinion, ACTORS["bus_leader"], {}, field="reason")


def test_reply_drafting_and_signature_are_two_clocks():
    # Issue 14 (§四.10): the office's 2 working days end when it submits; the signature has its own clock.
    d = run(A.submit_reply)
    assert d.case_changes == {"outcome": Outcome.upheld}
    assert (d.opens, d.closes) == ((Step.signature,), (Step.reply,))
    d = run(A.return_reply, actor="pet_leader")
    assert (d.opens, d.closes) == ((Step.reply,), (Step.signature,))
    case = make_case(S.drafting_reply)
    refused("invalid", case, A.submit_reply, ACTORS["clerk"], {"text": "正文", "outcome": "won"}, field="outcome")
    refused("invalid", case, A.submit_reply, ACTORS["clerk"], {"outcome": "changed"}, field="text")
    refused("invalid", make_case(S.awaiting_signature), A.return_reply, ACTORS["pet_leader"], {}, field="reason")


def test_sign_reply_to_the_petitioner():
    d = run(A.sign_reply, actor="pet_leader")
    assert d.state_after is S.replied
    assert d.opens == ()  # the window starts when the opinion is delivered (送达), not when it is signed
    assert d.case_changes == {}
    assert set(d.closes) == {Step.reply, Step.signature, Step.whole_review}
    assert d.documents == (DocumentKind.formal_opinion,)
    assert d.notify_petitioner and d.public
    d = run(A.sign_reply, actor="pet_leader", kind=CaseKind.re_review)
    assert d.state_after is S.replied
    assert d.opens == ()  # a re-review is final: no window
    d = run(A.sign_reply, actor="pet_leader", intake=IntakePath.paper)
    assert d.state_after is S.replied and d.opens == ()
    # The petitioner chose electronic delivery: delivered the day it is sent, and the window runs from then.
    d = run(A.sign_reply, S.awaiting_signature, "pet_leader", {"today": "2024-03-01"}, electronic_delivery=True)
    assert d.opens == (Step.escalation_window,)
    assert d.case_changes == {"delivered_on": date(2024, 3, 1), "delivery_method": "electronic"}


# --- Extension ----------------------------------------------------------------------------------------


def test_extension_request_guards():
    case = make_case(S.in_review)
    clerk = ACTORS["clerk"]
    d = decide(case, A.request_extension, clerk, {"days": "30", "reason": "材料多"})
    assert d.case_changes == {"pending_extension": True, "pending_extension_days": EXTENSION_MAX_DAYS}
    assert d.state_after is S.in_review and (d.opens, d.closes) == ((), ())
    for days in (0, 31, -1, "x", 1.5):
        refused("invalid", case, A.request_extension, clerk, {"days": days, "reason": "r"}, field="days")
    refused("invalid", case, A.request_extension, clerk, {"days": 5}, field="reason")
    refused("wrong_state", make_case(S.in_review, pending_extension=True), A.request_extension, clerk)


def test_extensions_total_at_most_30_days_over_several_requests():
    """§三: "延长期限不得超过30日" caps the total, not the number of requests."""
    clerk = ACTORS["clerk"]
    once = make_case(S.in_review, extension_used=True, extension_days_granted=10)
    d = decide(once, A.request_extension, clerk, {"days": 20, "reason": "仍需调取材料"})
    assert d.case_changes["pending_extension_days"] == 20
    assert d.event_fields["granted_before"] == 10
    error = refused("invalid", once, A.request_extension, clerk, {"days": 21, "reason": "r"}, field="days")
    assert "最多还可延期20日" in error.message_zh and "at most 20 left" in error.message_en
    full = make_case(S.in_review, extension_used=True, extension_days_granted=30)
    error = refused("wrong_state", full, A.request_extension, clerk, {"days": 1, "reason": "r"})
    assert "30日" in error.message_zh
    assert A.request_extension not in allowed_actions(full, clerk)
    # The approval adds to the total and cannot take it past 30 either.
    pending = make_case(S.in_review, extension_days_granted=10, pending_extension=True, pending_extension_days=20)
    d = decide(pending, A.approve_extension, ACTORS["bus_leader"], {})
    assert d.extends == {Step.whole_review: 20}
    assert d.case_changes["extension_days"] == 30 and d.event_fields["total_days"] == 30
    stale = make_case(S.in_review, extension_days_granted=25, pending_extension=True, pending_extension_days=20)
    refused("invalid", stale, A.approve_extension, ACTORS["pet_leader"], {"days": 6}, field="days")
    assert decide(stale, A.approve_extension, ACTORS["pet_leader"], {}).extends == {Step.whole_review: 5}


def test_extension_only_before_the_whole_review_deadline():
    """§三: asked for while the 30 working days run; after that the case is overdue and stays so."""
    clerk = ACTORS["clerk"]
    case = make_case(S.in_review, whole_review_due=date(2026, 10, 9))
    ok = {"days": 10, "reason": "材料多", "today": date(2026, 10, 9)}
    assert decide(case, A.request_extension, clerk, ok).case_changes["pending_extension_days"] == 10
    error = refused("wrong_state", case, A.request_extension, clerk, {**ok, "today": date(2026, 10, 10)})
    assert "2026-10-09" in error.message_zh and "overdue" in error.message_en
    assert A.request_extension in allowed_actions(case, clerk, today=date(2026, 10, 9))
    assert A.request_extension not in allowed_actions(case, clerk, today=date(2026, 10, 12))


def test_a_pending_extension_lapses_when_the_whole_review_deadline_passes():
    """§三: granted before the 30 working days run out, not only asked for: else the request lapses undecided and the
    case stays overdue (an approval afterwards would move the deadline and hide the overdue case)."""
    due = date(2026, 10, 9)
    case = make_case(S.in_review, whole_review_due=due, pending_extension=True, pending_extension_days=10)
    leader = ACTORS["pet_leader"]
    on_the_last_day = decide(case, A.approve_extension, leader, {"today": due})
    assert on_the_last_day.extends == {Step.whole_review: 10}
    assert decide(case, A.deny_extension, leader, {"reason": "不需要", "today": due}).case_changes == {
        "pending_extension": False,
        "pending_extension_days": None,
    }
    for action, data in ((A.approve_extension, {}), (A.deny_extension, {"reason": "不需要"})):
        error = refused("wrong_state", case, action, leader, {**data, "today": date(2026, 10, 10)})
        assert "已失效" in error.message_zh and "2026-10-09" in error.message_zh
        assert "lapsed" in error.message_en and "overdue" in error.message_en
    assert A.approve_extension in allowed_actions(case, leader, today=due)
    later = allowed_actions(case, leader, today=date(2026, 10, 12))
    assert A.approve_extension not in later and A.deny_extension not in later
    assert extension_lapsed(case, date(2026, 10, 10)) and not extension_lapsed(case, due)
    assert not extension_lapsed(make_case(S.in_review, whole_review_due=due), date(2026, 10, 10))  # none pending


def test_extension_decision():
    d = run(A.approve_extension, actor="pet_leader", data={})
    assert d.extends == {Step.whole_review: 20}  # defaults to the days asked for
    assert d.case_changes == {
        "pending_extension": False,
        "pending_extension_days": None,
        "extension_used": True,
        "extension_days": 20,
    }
    assert d.documents == (DocumentKind.extension_notice,)
    assert d.notify_petitioner and d.public
    d = run(A.approve_extension, actor="principal", data={"days": 10})
    assert d.extends == {Step.whole_review: 10}
    case = make_case(S.in_review, A.approve_extension)
    refused("invalid", case, A.approve_extension, ACTORS["pet_leader"], {"days": 21}, field="days")
    big = make_case(S.in_review, pending_extension=True, pending_extension_days=45)
    refused("invalid", big, A.approve_extension, ACTORS["pet_leader"], {"days": 31}, field="days")
    assert decide(big, A.approve_extension, ACTORS["pet_leader"], {}).extends == {Step.whole_review: 30}
    d = run(A.deny_extension, actor="stand_in")
    assert d.case_changes == {"pending_extension": False, "pending_extension_days": None}
    assert not d.documents and not d.extends
    refused("invalid", case, A.deny_extension, ACTORS["pet_leader"], {}, field="reason")
    for action in (A.approve_extension, A.deny_extension):
        refused("wrong_state", make_case(S.in_review), action, ACTORS["pet_leader"], {"reason": "r"})


# --- Materials, contacts, meetings --------------------------------------------------------------------


def test_request_materials():
    d = run(A.request_materials, S.in_review, "lead_staff")
    assert d.opens == (Step.material_request,)
    assert d.due_on == {Step.material_request: date(2024, 5, 1)}
    assert not d.public and not d.notify_petitioner
    ask_petitioner = {"target": "petitioner", "content": "请提供劳动合同", "due_on": date(2024, 5, 1)}
    # §四.11: a division asks the petitioner only through the petition office.
    refused("forbidden", make_case(S.in_review), A.request_materials, ACTORS["lead_staff"], ask_petitioner)
    d = run(A.request_materials, S.submitted, "clerk", ask_petitioner)
    assert d.public and d.notify_petitioner
    other = {"target": "other_body", "content": "请提供", "due_on": "2024-05-01"}
    refused("invalid", make_case(S.in_review), A.request_materials, ACTORS["clerk"], other, field="body_name")
    d = run(A.request_materials, S.in_review, "clerk", {**other, "body_name": "某公司"})
    assert d.event_fields["body_name"] == "某公司"
    case = make_case(S.in_review)
    lower = payload(A.request_materials)
    for bureau in (BUREAU, 99):
        refused(
            "invalid",
            case,
            A.request_materials,
            ACTORS["clerk"],
            {**lower, "target_bureau_id": bureau},
            field="target_bureau_id",
        )
    late = {**lower, "today": "2024-05-02"}
    refused("invalid", case, A.request_materials, ACTORS["clerk"], late, field="due_on")
    refused("invalid", case, A.request_materials, ACTORS["clerk"], {**lower, "due_on": "5/1"}, field="due_on")
    # Division staff of an unrelated unit may not ask.
    refused("forbidden", case, A.request_materials, ACTORS["other_staff"], lower)


def test_provide_materials():
    d = run(A.provide_materials, S.in_review, "petitioner")
    assert d.closes == (Step.material_request,)
    assert d.event_fields["request_id"] == PETITIONER_REQUEST
    assert d.public
    d = run(A.provide_materials, S.in_review, "lower_staff", {"request_id": LOWER_REQUEST, "attachment_ids": [3]})
    assert d.event_fields == {"request_id": LOWER_REQUEST, "target": "lower_bureau", "attachment_ids": [3]}
    assert not d.public
    case = make_case(S.in_review)
    # Each answers only what was asked of them.
    refused("forbidden", case, A.provide_materials, ACTORS["petitioner"], {"request_id": LOWER_REQUEST, "content": "x"})
    refused(
        "forbidden",
        case,
        A.provide_materials,
        ACTORS["lower_staff"],
        {"request_id": PETITIONER_REQUEST, "content": "x"},
    )
    refused("invalid", case, A.provide_materials, ACTORS["clerk"], {"request_id": 99, "content": "x"}, "request_id")
    refused("invalid", case, A.provide_materials, ACTORS["clerk"], {"request_id": PETITIONER_REQUEST}, "content")
    # The office records an answer that came on paper.
    assert run(A.provide_materials, S.in_review, "clerk", {"request_id": LOWER_REQUEST, "content": "纸质材料"})
    refused("wrong_state", make_case(S.in_review, material_requests=()), A.provide_materials, ACTORS["clerk"])
    # A bureau with no request addressed to it is another bureau.
    stranger = staff(401, Role.division_staff, bureau=4)
    refused("not_your_bureau", case, A.provide_materials, stranger, {"request_id": LOWER_REQUEST, "content": "x"})


def test_record_contact():
    d = run(A.record_contact, S.submitted)
    assert d.event_fields == {"party": "petitioner", "contacted_on": "2024-04-01", "summary": "电话核实情况"}
    assert not d.public
    case = make_case(S.in_review)
    body = {"party": "other_body", "contacted_on": "2024-04-01", "summary": "核实"}
    refused("invalid", case, A.record_contact, ACTORS["clerk"], body, field="body_name")
    refused("invalid", case, A.record_contact, ACTORS["clerk"], {**body, "body_name": "x" * 201}, field="body_name")
    assert decide(case, A.record_contact, ACTORS["clerk"], {**body, "body_name": "x" * 200})


# --- Withdraw and escalate ----------------------------------------------------------------------------


@pytest.mark.parametrize("state", sorted(OPEN_STATES))
def test_withdraw_closes_every_clock(state):
    d = run(A.withdraw, state, "petitioner")
    assert d.state_after is S.withdrawn
    assert d.closes == (ALL,) and d.closes_all
    assert d.event_fields == {"reason": "问题已解决", "on_behalf": False}


def test_withdraw_recorded_by_the_office_only_for_offline_petitioners():
    data = {"reason": "信访人书面撤回", "document_note": "2024年4月1日撤回申请书"}
    d = run(A.withdraw, S.in_review, "clerk", data, intake=IntakePath.paper)
    assert d.event_fields["on_behalf"] is True
    paper = make_case(S.in_review, intake=IntakePath.paper)
    refused("invalid", paper, A.withdraw, ACTORS["clerk"], {"reason": "r"}, field="document_note")
    refused("forbidden", make_case(S.in_review), A.withdraw, ACTORS["clerk"], data)
    d = run(A.withdraw, S.in_review, "clerk", data, intake=IntakePath.committee_transfer)
    assert not d.notify_petitioner


def test_escalate_within_the_window():
    # Delivered the day after signing: the window runs from delivery (30 days after REPLIED_ON + 1).
    d = run(A.escalate, S.replied, "petitioner", {"today": REPLIED_ON + timedelta(days=31), "reason": "不服"})
    assert d.closes == (Step.escalation_window,)
    assert d.case_changes == {"escalated": True}
    assert d.public
    assert d.event_fields["applied_on"] == "2024-04-01"
    error = refused(
        "wrong_state",
        make_case(S.replied),
        A.escalate,
        ACTORS["petitioner"],
        {"today": REPLIED_ON + timedelta(days=32), "reason": "不服"},
    )
    assert "30日" in error.message_zh
    refused("invalid", make_case(S.replied), A.escalate, ACTORS["petitioner"], {"reason": "不服"}, field="today")
    refused("invalid", make_case(S.replied), A.escalate, ACTORS["petitioner"], {"today": "2024-03-05"}, "request")
    only_request = {"today": "2024-03-05", "request": "撤销复查意见"}
    refused("invalid", make_case(S.replied), A.escalate, ACTORS["petitioner"], only_request, "facts_and_reasons")
    both = {**only_request, "facts_and_reasons": "复查意见认定事实不清"}
    d = decide(make_case(S.replied), A.escalate, ACTORS["petitioner"], both)
    assert (d.event_fields["request"], d.event_fields["facts_and_reasons"]) == ("撤销复查意见", "复查意见认定事实不清")


def test_the_escalation_window_has_not_started_before_delivery():
    """§送达: until the opinion is delivered the window has not started, and escalation online stays open."""
    undelivered = make_case(S.replied, delivered_on=None)
    d = decide(undelivered, A.escalate, ACTORS["petitioner"], {"today": REPLIED_ON + timedelta(days=90), "reason": "x"})
    assert d.case_changes == {"escalated": True}
    late = make_case(S.replied, delivered_on=REPLIED_ON + timedelta(days=20))
    assert decide(late, A.escalate, ACTORS["petitioner"], {"today": REPLIED_ON + timedelta(days=50), "reason": "x"})
    refused("wrong_state", late, A.escalate, ACTORS["petitioner"], {"today": REPLIED_ON + timedelta(days=51)})


def test_recording_the_delivery_starts_the_window():
    case = make_case(S.replied, A.record_delivery)
    d = decide(case, A.record_delivery, ACTORS["clerk"], payload(A.record_delivery))
    assert d.opens == (Step.escalation_window,)
    assert d.starts_on == {Step.escalation_window: REPLIED_ON + timedelta(days=3)}
    assert d.case_changes == {"delivered_on": REPLIED_ON + timedelta(days=3), "delivery_method": "post"}
    assert d.public and d.state_after is S.replied
    # The petitioner's first opening online: delivered today, whatever the payload says.
    today = REPLIED_ON + timedelta(days=7)
    d = decide(case, A.record_delivery, ACTORS["petitioner"], {"today": today, "method": "post", "delivered_on": "x"})
    assert d.case_changes == {"delivered_on": today, "delivery_method": "online"}
    # A re-review is final: delivery is recorded, no window opens.
    d = decide(
        make_case(S.replied, A.record_delivery, kind=CaseKind.re_review),
        A.record_delivery,
        ACTORS["clerk"],
        payload(A.record_delivery),
    )
    assert d.opens == () and d.case_changes["delivery_method"] == "post"


def test_a_delivery_date_before_signing_or_in_the_future_is_refused():
    case = make_case(S.replied, A.record_delivery)
    today = REPLIED_ON + timedelta(days=5)
    before = {"method": "in_person", "delivered_on": REPLIED_ON - timedelta(days=1), "today": today}
    error = refused("invalid", case, A.record_delivery, ACTORS["clerk"], before, field="delivered_on")
    assert "签发日期" in error.message_zh
    future = {"method": "post", "delivered_on": today + timedelta(days=1), "today": today}
    refused("invalid", case, A.record_delivery, ACTORS["clerk"], future, field="delivered_on")
    refused("invalid", case, A.record_delivery, ACTORS["clerk"], {"method": "post", "today": today}, "delivered_on")
    refused("invalid", case, A.record_delivery, ACTORS["clerk"], {"method": "pigeon", "today": today}, "method")
    electronic = {"method": "electronic", "delivered_on": today, "today": today}
    refused("invalid", case, A.record_delivery, ACTORS["clerk"], electronic, field="method")
    # Once recorded, not again.
    refused("wrong_state", make_case(S.replied), A.record_delivery, ACTORS["clerk"], payload(A.record_delivery))


def test_a_re_review_cannot_be_escalated():
    error = refused("wrong_state", make_case(S.replied, kind=CaseKind.re_review), A.escalate, ACTORS["petitioner"])
    assert "最终" in error.message_zh and "final" in error.message_en


def test_escalation_limits():
    error = refused("wrong_state", make_case(S.replied, bureau_level="province"), A.escalate, ACTORS["petitioner"])
    assert "吉林省人民政府信访事项复查复核委员会" in error.message_zh
    refused("wrong_state", make_case(S.replied, escalated=True), A.escalate, ACTORS["petitioner"])
    transfer = make_case(S.reported, intake=IntakePath.committee_transfer)
    refused("wrong_state", transfer, A.escalate, ACTORS["petitioner"])


def test_escalation_window_follows_the_rules_table():
    rules = {
        **DEFAULT_STEP_RULES,
        Step.escalation_window: dataclasses.replace(DEFAULT_STEP_RULES[Step.escalation_window], amount=60),
    }
    data = {"today": REPLIED_ON + timedelta(days=46), "reason": "不服"}
    assert decide(make_case(S.replied), A.escalate, ACTORS["petitioner"], data, rules=rules)
    refused("wrong_state", make_case(S.replied), A.escalate, ACTORS["petitioner"], data)


# --- allowed_actions ----------------------------------------------------------------------------------


def test_allowed_actions_for_the_ui():
    submitted = make_case(S.submitted, material_requests=())
    assert allowed_actions(submitted, ACTORS["clerk"]) == [
        A.accept,
        A.reject,
        A.request_materials,
        A.record_contact,
    ]
    assert allowed_actions(submitted, ACTORS["petitioner"]) == [A.withdraw]
    assert allowed_actions(submitted, ACTORS["other_clerk"]) == []
    review = make_case(S.in_review)
    assert allowed_actions(review, ACTORS["lead_staff"]) == [
        A.submit_opinion,
        A.request_extension,
        A.request_materials,
    ]
    assert allowed_actions(review, ACTORS["petitioner"]) == [A.provide_materials, A.withdraw]
    assert allowed_actions(review, ACTORS["lower_staff"]) == [A.provide_materials]
    assert allowed_actions(review, ACTORS["pet_leader"]) == []
    pending = make_case(S.in_review, A.approve_extension)
    assert allowed_actions(pending, ACTORS["principal"]) == [A.approve_extension, A.deny_extension]
    replied = make_case(S.replied)
    assert allowed_actions(replied, ACTORS["petitioner"]) == [A.escalate]
    assert allowed_actions(replied, ACTORS["petitioner"], today=REPLIED_ON + timedelta(days=32)) == []
    undelivered = make_case(S.replied, A.record_delivery)
    assert allowed_actions(undelivered, ACTORS["clerk"]) == [A.record_delivery]
    assert allowed_actions(undelivered, ACTORS["petitioner"]) == [A.escalate, A.record_delivery]
    assert allowed_actions(make_case(S.replied, kind=CaseKind.re_review), ACTORS["petitioner"]) == []


def test_unknown_action_is_invalid():
    refused("invalid", make_case(), "fly", ACTORS["clerk"], {}, field="action")
    assert decide(make_case(S.submitted), "accept", ACTORS["clerk"], None).state_after is S.accepted


# --- Tables -------------------------------------------------------------------------------------------


def test_time_limit_table():
    expected = {
        Step.acceptance: (15, "working_days", "§四.1"),
        Step.whole_review: (30, "working_days", "§三"),
        Step.slip: (1, "days", "§四.4"),
        Step.instruction: (5, "days", "§四.5"),
        Step.dispatch: (1, "days", "§四.6"),
        Step.division_review: (15, "working_days", "§四.7"),
        Step.approval: (2, "working_days", "§四.8"),
        Step.revision: (5, "working_days", "§四.9"),
        Step.reply: (2, "working_days", "§四.10"),
        Step.material_request: (None, "days", "§四.11"),
        Step.escalation_window: (30, "days", "《信访工作条例》第三十五条、第三十六条"),
        # Issue 14: limits the regulation does not set, marked as the bureau's own rules.
        Step.signature: (2, "working_days", "本局规定"),
        Step.meeting_decision: (2, "working_days", "本局规定"),
    }
    assert {s: (r.amount, r.unit, r.ref) for s, r in DEFAULT_STEP_RULES.items()} == expected
    assert EXTENSION_MAX_DAYS == 30


def test_labels_are_complete():
    for state in CaseState:
        assert all(STATE_LABELS[state]) and all(STATE_PUBLIC[state])
    assert STATE_PUBLIC[S.submitted][0] == "已收到您的申请，正在审查是否受理"
    for action in CaseAction:
        assert all(ACTION_LABELS[action])
    assert document_title(DocumentKind.formal_opinion, CaseKind.review)[0] == "复查意见书"
    assert document_title(DocumentKind.formal_opinion, CaseKind.re_review)[0] == "复核意见书"


def test_transitions_list_every_edge():
    edges = set(transitions())
    assert (S.awaiting_signature, A.sign_reply, S.reported) in edges
    assert (S.in_revision, A.submit_opinion, S.drafting_reply) in edges
    assert (S.in_review, A.request_extension, S.in_review) in edges
    assert not any(before in FINAL_STATES and after != before for before, _, after in edges)


# --- Issue 14: the reply clock, major cases ---------------------------------------------------------------


def test_the_offices_two_days_cover_forming_the_opinion_and_the_signature_is_its_own_step():
    """§四.10: 2 working days to form the formal opinion; the signature follows, tracked by a bureau rule."""
    from portal.workflow import is_bureau_rule

    d = run(A.submit_reply)
    assert (d.closes, d.opens) == ((Step.reply,), (Step.signature,))
    d = run(A.return_reply, actor="pet_leader")
    assert (d.closes, d.opens) == ((Step.signature,), (Step.reply,))
    d = run(A.sign_reply, actor="pet_leader")
    assert Step.signature in d.closes and Step.whole_review in d.closes
    assert DEFAULT_STEP_RULES[Step.reply].ref == "§四.10" and not is_bureau_rule(DEFAULT_STEP_RULES[Step.reply])
    signature = DEFAULT_STEP_RULES[Step.signature]
    assert (signature.amount, signature.unit, signature.owed_by) == (2, "working_days", "petitions_leader")
    assert is_bureau_rule(signature)


def test_a_case_confirmed_major_names_its_coordinating_leader():
    """§二.4: the petitions leader coordinates; the principal leader when §四.4 sent the slip to them."""
    case = make_case(S.awaiting_instruction, complexity=Complexity.complex)
    d = decide(case, A.instruct, ACTORS["pet_leader"], {"instruction": "重大事项", "complexity": "major"})
    assert d.case_changes["coordinating_leader_id"] == PET_LEADER
    assert d.event_fields["coordinating_leader_id"] == PET_LEADER
    by_principal = make_case(
        S.awaiting_instruction, complexity=Complexity.major, approver_id=PRINCIPAL, approver_is_principal=True
    )
    d = decide(by_principal, A.instruct, ACTORS["principal"], {"instruction": "由我协调"})
    assert d.case_changes["coordinating_leader_id"] == PRINCIPAL
    # Confirmed not major after all: no coordinating leader.
    was_major = make_case(S.awaiting_instruction, complexity=Complexity.major, coordinating_leader_id=PET_LEADER)
    d = decide(was_major, A.instruct, ACTORS["pet_leader"], {"instruction": "一般事项", "complexity": "complex"})
    assert d.case_changes["coordinating_leader_id"] is None
    d = run(A.instruct, actor="pet_leader")
    assert "coordinating_leader_id" not in d.case_changes
