"""The database layer of the workflow: intake, routing, approver choice, side processes, outbox, escalation."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import select, text
from sqlalchemy.exc import IntegrityError

from portal.cases.context import actor_of
from portal.cases.history import verify_case
from portal.cases.models import Case, CaseEvent, CaseParty, MaterialRequest, StaffAbsence
from portal.cases.operations import CaseNotFound, IntakeRefused, PartyInput, perform_action, submit_application
from portal.cases.queries import explain_deadline
from portal.roles import Role
from portal.routing import OpinionKind
from portal.workflow import ActionRefused, CaseKind, CaseState, IntakePath, Step
from tenants.models import Unit
from tenants.scoping import TenantScope, get_scope, scope_for_bureau, scoped, set_scope, system_scope
from tenants.tree import get_bureau
from tests.helpers import make_staff
from tests.portal.cases.conftest import (
    PETITIONER,
    VALID_ID,
    act,
    application,
    case_deadlines,
    case_events,
    drive,
    load_case,
    open_deadline,
    outbox_rows,
    perform,
    submit,
    transfer,
)

OTHER_ID = "110105194912310038"  # another valid ID number


def _bureau_id(dbs, adcode: str) -> int:
    return get_bureau(dbs, adcode).id


def _refused(code: str, call, dbs, *args, rollback: bool = True, **kwargs) -> ActionRefused:
    """Expect ``call(dbs, ...)`` to be refused with ``code``; then roll back and read with the system scope again.

    (A rollback expires the loaded rows; reloading another bureau's staff needs more than the actor's scope.)
    """
    with pytest.raises(ActionRefused) as refused:
        call(dbs, *args, **kwargs)
    assert refused.value.code == code, refused.value
    if rollback:
        _reset(dbs)
    return refused.value


def _reset(dbs) -> None:
    """Roll back what a refused call left, and read with the system scope again."""
    dbs.rollback()
    set_scope(dbs, TenantScope.system_wide())


def _raw(dbs, pii, who, case_id: int, action: str, today: date, payload: dict):
    """Call ``perform_action`` with the payload exactly as given (it may carry keys a form should not send)."""
    if who is PETITIONER:
        with system_scope(dbs):
            tenant_id = dbs.scalar(select(Case.tenant_id).where(Case.id == case_id))
        set_scope(dbs, TenantScope.single(tenant_id))
        actor = PETITIONER
    else:
        set_scope(dbs, scope_for_bureau(dbs, who.tenant_id))
        actor = actor_of(who)
    return perform_action(dbs, pii, case_id, action, actor, payload, today=today)


def _absence(dbs, user, starts_on: date, ends_on: date, stand_in=None) -> None:
    with scoped(dbs, TenantScope.single(user.tenant_id)):
        dbs.add(
            StaffAbsence(
                tenant_id=user.tenant_id,
                user_id=user.id,
                starts_on=starts_on,
                ends_on=ends_on,
                stand_in_id=stand_in.id if stand_in else None,
            )
        )
        dbs.commit()


def _oversee(dbs, leader, *unit_ids: int) -> None:
    from portal.accounts.models import StaffUser

    with scoped(dbs, TenantScope.single(leader.tenant_id)):
        dbs.scalar(select(StaffUser).where(StaffUser.id == leader.id)).oversees_unit_ids = list(unit_ids)
        dbs.commit()


def _unit(dbs, bureau_id: int, code: str) -> int:
    with scoped(dbs, TenantScope.single(bureau_id)):
        return dbs.scalar(select(Unit.id).where(Unit.code == code))


SLIP = {"proposal": "建议交养老保险处审查。", "complexity": "complex"}


# --- Routing at intake -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("issuer", "kind", "expected_kind", "handler"),
    [
        ("220102", OpinionKind.handling, CaseKind.review, "220100"),  # county handling -> city review
        ("220100", OpinionKind.review, CaseKind.re_review, "220000"),  # city review -> province re-review
        ("220100", OpinionKind.handling, CaseKind.review, "220000"),  # city handling -> province review
    ],
)
def test_an_application_goes_to_the_parent_of_the_issuer(dbs, pii, issuer, kind, expected_kind, handler):
    submission = submit(dbs, pii, disputed_bureau_id=_bureau_id(dbs, issuer), opinion_kind=kind)
    case = load_case(dbs, submission.case.id)
    assert (case.kind, case.tenant_id) == (expected_kind, _bureau_id(dbs, handler))
    assert case.state is CaseState.submitted and case.intake is IntakePath.online
    assert case.number.startswith("FC2026-" if expected_kind is CaseKind.review else "FH2026-")
    assert [d.step for d in case_deadlines(dbs, case.id)] == [Step.acceptance]
    assert [(o.kind, o.payload["event"]) for o in outbox_rows(dbs, case.id)] == [("notify_petitioner", "received")]
    (event,) = case_events(dbs, case.id)
    assert (event.action, event.state_before, event.state_after, event.public) == ("submit", None, "submitted", True)


@pytest.mark.parametrize(
    ("issuer", "kind", "code", "words"),
    [
        ("220000", OpinionKind.handling, "to_committee", "复查复核委员会"),
        ("220000", OpinionKind.review, "to_committee", "复查复核委员会"),
        ("220100", OpinionKind.re_review, "final", "最终意见"),
        ("220000", OpinionKind.re_review, "final", "最终意见"),
        ("220102", OpinionKind.re_review, "final", "最终意见"),
        ("220102", OpinionKind.review, "invalid", "县级"),
    ],
)
def test_an_application_outside_the_system_is_refused_with_the_way_forward(dbs, pii, issuer, kind, code, words):
    with pytest.raises(IntakeRefused) as refused:
        submit(dbs, pii, disputed_bureau_id=_bureau_id(dbs, issuer), opinion_kind=kind)
    assert refused.value.code == code and words in refused.value.message_zh and refused.value.message_en
    _reset(dbs)
    with system_scope(dbs):
        assert dbs.scalar(select(Case.id)) is None


def test_an_unknown_issuing_bureau_is_refused(dbs, pii):
    with pytest.raises(IntakeRefused) as refused:
        submit(dbs, pii, disputed_bureau_id=999_999)
    assert refused.value.code == "invalid"


@pytest.mark.parametrize(("received_on", "late"), [(date(2026, 8, 11), False), (date(2026, 8, 10), True)])
def test_an_application_more_than_30_days_after_receipt_is_flagged_late(dbs, pii, received_on, late):
    # Applied on 2026-09-10: 30 days after 2026-08-11 is in time; 31 days after 2026-08-10 is late.
    submission = submit(dbs, pii, received_on=received_on, issued_on=date(2026, 8, 1))
    case = load_case(dbs, submission.case.id)
    assert case.late_application is late
    assert ("late" in submission.warnings) is late
    assert case_events(dbs, case.id)[0].fields["late"] is late
    assert case.disputed_received_on == received_on and case.received_on == date(2026, 9, 10)


# --- Repeat detection (§四.14) ----------------------------------------------------------------------------


@pytest.fixture
def earlier_re_review(dbs, pii, province):
    """A re-review at the province with an opinion sent to 张三."""
    submission = submit(dbs, pii, disputed_bureau_id=_bureau_id(dbs, "220100"), opinion_kind=OpinionKind.review)
    return drive(dbs, pii, province, submission.case.id, CaseState.replied)


def test_a_new_application_after_a_re_review_opinion_is_flagged_with_that_case(
    dbs, pii, city, province, earlier_re_review
):
    """§四.14 by matter: the same petitioner on the same disputed document (issuer + 文号, normalised)."""
    # Another document of the same petitioner: a different matter, not a repeat.
    other = submit(dbs, pii, today=date(2026, 10, 1), document_number="南社保信〔2026〕9号")
    assert load_case(dbs, other.case.id).repeat_of_case_number is None
    assert "repeat_after_re_review" not in other.warnings
    # The same document again (written with other brackets and spaces): flagged with the earlier re-review.
    submission = submit(
        dbs,
        pii,
        today=date(2026, 10, 1),
        disputed_bureau_id=_bureau_id(dbs, "220100"),
        opinion_kind=OpinionKind.review,
        document_number="南社保信[2026] 3号",
    )
    case = load_case(dbs, submission.case.id)
    assert case.repeat_of_case_number == earlier_re_review.number
    assert "repeat_after_re_review" in submission.warnings
    assert case_events(dbs, case.id)[0].fields["repeat_of"] == earlier_re_review.number
    # The staff may now refuse it for that reason.
    act(
        dbs,
        pii,
        province.clerk,
        case.id,
        "reject",
        reason="repeat_after_re_review",
        explanation=f"同一事项已于{earlier_re_review.number}作出复核意见。",
        remedy="复核意见为最终意见。",
    )
    assert load_case(dbs, case.id).reject_reason == "repeat_after_re_review"


def test_repeat_detection_needs_the_same_petitioner_and_a_re_review_opinion(dbs, pii, province, city):
    # An earlier re-review still in progress, and an earlier review with an opinion: neither is a repeat.
    in_progress = submit(dbs, pii, disputed_bureau_id=_bureau_id(dbs, "220100"), opinion_kind=OpinionKind.review)
    drive(dbs, pii, province, in_progress.case.id, CaseState.awaiting_signature)
    review = submit(dbs, pii).case
    drive(dbs, pii, city, review.id, CaseState.replied)
    assert submit(dbs, pii).case.repeat_of_case_number is None

    # Reply the re-review: another person's application is not flagged; the same person's is.
    drive(dbs, pii, province, in_progress.case.id, CaseState.replied)
    same = {"disputed_bureau_id": _bureau_id(dbs, "220100"), "opinion_kind": OpinionKind.review}
    other = PartyInput(name="李四", id_number=OTHER_ID)
    assert submit(dbs, pii, petitioner=other, **same).case.repeat_of_case_number is None
    assert submit(dbs, pii, **same).case.repeat_of_case_number == in_progress.case.number


def test_the_representative_of_an_earlier_re_review_is_not_its_petitioner(dbs, pii, province):
    lawyer = PartyInput(name="王律师", id_number=OTHER_ID)
    earlier = submit(
        dbs, pii, disputed_bureau_id=_bureau_id(dbs, "220100"), opinion_kind=OpinionKind.review, representative=lawyer
    )
    drive(dbs, pii, province, earlier.case.id, CaseState.replied)
    # The lawyer now applies for themself about their own pension: not a repeat of their client's matter.
    assert submit(dbs, pii, petitioner=lawyer).case.repeat_of_case_number is None
    # A joint petitioner of the earlier re-review was a petitioner there: flagged.
    joint = submit(
        dbs,
        pii,
        disputed_bureau_id=_bureau_id(dbs, "220100"),
        opinion_kind=OpinionKind.review,
        joint_petitioners=(PartyInput(name="赵五", id_number="110105194912310054"),),
    )
    drive(dbs, pii, province, joint.case.id, CaseState.replied)
    again = submit(
        dbs,
        pii,
        petitioner=PartyInput(name="赵五", id_number="110105194912310054"),
        disputed_bureau_id=_bureau_id(dbs, "220100"),
        opinion_kind=OpinionKind.review,
    )
    assert again.case.repeat_of_case_number == joint.case.number


# --- Paper intake and committee transfers -------------------------------------------------------------------


def test_paper_applications_are_registered_only_by_the_handling_bureau(dbs, pii, city, province):
    nanguan = make_staff(dbs, "220102", Role.petition_clerk, unit="petition_office", username="ng_clerk")
    for outsider in (province.clerk, nanguan):
        set_scope(dbs, scope_for_bureau(dbs, outsider.tenant_id))
        with pytest.raises(IntakeRefused) as refused:
            submit_application(
                dbs, pii, application(dbs, intake=IntakePath.paper), actor=actor_of(outsider), today=date(2026, 9, 10)
            )
        assert refused.value.code == "elsewhere" and "长春市社会保险局" in refused.value.message_zh
        _reset(dbs)
    set_scope(dbs, scope_for_bureau(dbs, city.bureau_id))
    submission = submit_application(
        dbs, pii, application(dbs, intake=IntakePath.paper), actor=actor_of(city.clerk), today=date(2026, 9, 10)
    )
    dbs.commit()
    case = load_case(dbs, submission.case.id)
    assert (case.intake, case.state, case.tenant_id) == (IntakePath.paper, CaseState.submitted, city.bureau_id)
    assert submission.access_code  # handed to the petitioner on paper, to follow the case online
    assert case_events(dbs, case.id)[0].actor_id == city.clerk.id
    # The petitioner is not online: the office records a written withdrawal, describing the document.
    _refused("invalid", perform, dbs, pii, city.clerk, case.id, "withdraw", reason="已协商解决。")
    _reset(dbs)
    act(dbs, pii, city.clerk, case.id, "withdraw", reason="已协商解决。", document_note="信访人2026年9月11日书面撤回")
    assert load_case(dbs, case.id).state is CaseState.withdrawn


def test_a_committee_transfer_enters_accepted_at_the_province_and_is_reported(dbs, pii, province, city):
    set_scope(dbs, scope_for_bureau(dbs, city.bureau_id))
    with pytest.raises(IntakeRefused) as refused:
        submit_application(
            dbs,
            pii,
            application(dbs, intake=IntakePath.committee_transfer, committee_document_number="x"),
            actor=actor_of(city.clerk),
            today=date(2026, 9, 10),
        )
    assert refused.value.code == "elsewhere"
    _reset(dbs)

    submission = transfer(dbs, pii, province)
    case = load_case(dbs, submission.case.id)
    assert (case.state, case.tenant_id, case.intake) == (
        CaseState.accepted,
        province.bureau_id,
        IntakePath.committee_transfer,
    )
    assert case.accepted_on == date(2026, 9, 10) and case.committee_document_number == "吉信复委转〔2026〕7号"
    assert submission.access_code is None and case.access_code_hash is None
    assert sorted(d.step for d in case_deadlines(dbs, case.id, open_only=True)) == ["slip", "whole_review"]
    # 2026-09-10 (Thu) + 1 day = Fri 09-11; + 30 working days (mid-autumn and National Day skipped, the make-up
    # Sundays 09-20 and Saturday 10-10 counted): 09-11, 14-18, 20, 21-24, 28-30, 10-08, 09, 10, 12-16, 19-23, 26-28.
    assert open_deadline(dbs, case.id, "slip").due_on == date(2026, 9, 11)
    assert open_deadline(dbs, case.id, "whole_review").due_on == date(2026, 10, 28)
    (event,) = case_events(dbs, case.id)
    assert (event.action, event.public, event.fields["committee_document_number"]) == (
        "register_transfer",
        False,
        "吉信复委转〔2026〕7号",
    )
    for action in ("accept", "reject"):
        _refused("wrong_state", perform, dbs, pii, province.clerk, case.id, action)
        _reset(dbs)

    drive(dbs, pii, province, case.id, CaseState.reported)
    case = load_case(dbs, case.id)
    assert case.replied_on == date(2026, 9, 11) and case.closed_at is not None
    assert case_deadlines(dbs, case.id, open_only=True) == []  # no escalation window for a reported case
    rows = outbox_rows(dbs, case.id)
    assert not [o for o in rows if o.kind == "notify_petitioner"]
    assert {o.payload["document"] for o in rows if o.kind == "render_document"} == {"reading_slip", "formal_opinion"}
    assert not [e for e in case_events(dbs, case.id) if e.public]
    _refused("wrong_state", perform, dbs, pii, PETITIONER, case.id, "escalate", today=date(2026, 9, 12), reason="x")


# --- Approver choice (§四.4) ---------------------------------------------------------------------------------


def test_the_petitions_leader_away_with_a_stand_in(dbs, pii, city):
    case_id = submit(dbs, pii).case.id
    act(dbs, pii, city.clerk, case_id, "accept")
    # Away on the day of the slip, with the principal leader declared as stand-in: the stand-in approves.
    _absence(dbs, city.petitions_leader, date(2026, 9, 11), date(2026, 9, 20), stand_in=city.principal)
    act(dbs, pii, city.clerk, case_id, "submit_slip", lead_unit_id=city.pension_unit, **SLIP)
    assert load_case(dbs, case_id).approver_id == city.principal.id
    assert case_events(dbs, case_id)[-1].fields["approver_rule"] == "stand_in"
    assert open_deadline(dbs, case_id, "instruction").owed_user_id == city.principal.id
    act(dbs, pii, city.principal, case_id, "instruct", instruction="同意。")
    assert load_case(dbs, case_id).state is CaseState.instructed


def test_a_stand_in_instructs_for_the_leader_who_went_away_after_the_slip(dbs, pii, city):
    case_id = submit(dbs, pii).case.id
    act(dbs, pii, city.clerk, case_id, "accept")
    act(dbs, pii, city.clerk, case_id, "submit_slip", lead_unit_id=city.pension_unit, **SLIP)
    assert load_case(dbs, case_id).approver_id == city.petitions_leader.id
    _absence(dbs, city.petitions_leader, date(2026, 9, 12), date(2026, 9, 20), stand_in=city.principal)
    # Before the absence the stand-in is nobody's stand-in.
    _refused("forbidden", perform, dbs, pii, city.principal, case_id, "instruct", date(2026, 9, 11), instruction="x")
    _reset(dbs)
    # During it, the business leader is not the declared stand-in: refused; the principal leader acts for them.
    _refused(
        "forbidden", perform, dbs, pii, city.business_leader, case_id, "instruct", date(2026, 9, 14), instruction="x"
    )
    _reset(dbs)
    act(dbs, pii, city.principal, case_id, "instruct", date(2026, 9, 14), instruction="同意。")
    event = case_events(dbs, case_id)[-1]
    assert (event.actor_id, event.fields["on_behalf_of"]) == (city.principal.id, city.petitions_leader.id)


def test_a_business_leader_covers_an_absent_petitions_leader_without_a_stand_in(dbs, pii, city):
    case_id = submit(dbs, pii).case.id
    act(dbs, pii, city.clerk, case_id, "accept")
    _absence(dbs, city.petitions_leader, date(2026, 9, 1), date(2026, 9, 30))
    act(dbs, pii, city.clerk, case_id, "submit_slip", lead_unit_id=city.pension_unit, **SLIP)
    case = load_case(dbs, case_id)
    assert case.approver_id == city.business_leader.id  # oversees the lead unit
    assert case_events(dbs, case_id)[-1].fields["approver_rule"] == "lead_unit_business_leader"


def test_a_major_case_spanning_two_business_leaders_goes_to_the_principal_leader(dbs, pii, city):
    second = make_staff(dbs, "220100", Role.business_leader, username="cc_bl2")
    work_injury = _unit(dbs, city.bureau_id, "work_injury")
    _oversee(dbs, second, work_injury)
    major = {"proposal": "涉及养老和工伤两项业务。", "complexity": "major"}

    spanning = submit(dbs, pii).case.id
    act(dbs, pii, city.clerk, spanning, "accept")
    act(
        dbs,
        pii,
        city.clerk,
        spanning,
        "submit_slip",
        lead_unit_id=city.pension_unit,
        assisting_unit_ids=[work_injury],
        **major,
    )
    assert load_case(dbs, spanning).approver_id == city.principal.id
    assert case_events(dbs, spanning)[-1].fields["approver_rule"] == "principal_leader"
    _refused("forbidden", perform, dbs, pii, city.petitions_leader, spanning, "instruct", instruction="x")
    _reset(dbs)
    act(dbs, pii, city.principal, spanning, "instruct", instruction="请养老保险处牵头，工伤保险处配合。")

    # Major, but pension and audit are both overseen by the same leader: the petitions leader approves.
    single = submit(dbs, pii).case.id
    act(dbs, pii, city.clerk, single, "accept")
    act(
        dbs,
        pii,
        city.clerk,
        single,
        "submit_slip",
        lead_unit_id=city.pension_unit,
        assisting_unit_ids=[city.audit_unit],
        **major,
    )
    assert load_case(dbs, single).approver_id == city.petitions_leader.id


def test_changing_the_approver_needs_a_reason_and_a_leader_of_this_bureau(dbs, pii, city, province):
    case_id = submit(dbs, pii).case.id
    act(dbs, pii, city.clerk, case_id, "accept")
    slip = {"lead_unit_id": city.pension_unit, **SLIP}
    refused = _refused(
        "invalid", perform, dbs, pii, city.clerk, case_id, "submit_slip", approver_id=city.business_leader.id, **slip
    )
    assert refused.field == "approver_change_reason" and "分管信访工作的局领导" in refused.message_zh
    _reset(dbs)
    for outsider in (province.petitions_leader.id, city.division.id, 10**12):
        refused = _refused(
            "invalid",
            perform,
            dbs,
            pii,
            city.clerk,
            case_id,
            "submit_slip",
            approver_id=outsider,
            approver_change_reason="领导另有安排",
            **slip,
        )
        assert refused.field == "approver_id"
        _reset(dbs)
    assert load_case(dbs, case_id).state is CaseState.accepted

    act(
        dbs,
        pii,
        city.clerk,
        case_id,
        "submit_slip",
        approver_id=city.business_leader.id,
        approver_change_reason="分管信访工作的局领导回避。",
        **slip,
    )
    assert load_case(dbs, case_id).approver_id == city.business_leader.id
    assert case_events(dbs, case_id)[-1].fields["approver_rule"] == "changed: 分管信访工作的局领导回避。"
    act(dbs, pii, city.business_leader, case_id, "instruct", instruction="同意。")


def test_no_leader_present_refuses_the_slip(dbs, pii, city):
    case_id = submit(dbs, pii).case.id
    act(dbs, pii, city.clerk, case_id, "accept")
    for leader in (city.petitions_leader, city.business_leader, city.principal):
        _absence(dbs, leader, date(2026, 9, 1), date(2026, 9, 30))
    refused = _refused(
        "invalid", perform, dbs, pii, city.clerk, case_id, "submit_slip", lead_unit_id=city.pension_unit, **SLIP
    )
    assert refused.field == "approver_id" and "代理人" in refused.message_zh


def test_units_and_leaders_of_another_bureau_are_refused(dbs, pii, city, province):
    case_id = drive(dbs, pii, city, submit(dbs, pii).case.id, CaseState.accepted).id
    for field, value in (("lead_unit_id", province.pension_unit), ("assisting_unit_ids", [province.audit_unit])):
        slip = {"lead_unit_id": city.pension_unit, **SLIP, field: value}
        assert _refused("invalid", perform, dbs, pii, city.clerk, case_id, "submit_slip", **slip).field == field
        _reset(dbs)


def test_hostile_input_is_refused_and_changes_nothing(dbs, pii, city):
    case_id = submit(dbs, pii).case.id
    assert _refused("invalid", perform, dbs, pii, city.clerk, case_id, "delete_everything").field == "action"
    _reset(dbs)
    refused = _refused(
        "invalid",
        perform,
        dbs,
        pii,
        city.clerk,
        case_id,
        "reject",
        reason="litigation",
        explanation="x" * 10_001,
        remedy="r",
    )
    assert refused.field == "explanation"
    _reset(dbs)
    assert (
        _refused(
            "invalid", perform, dbs, pii, city.clerk, case_id, "reject", reason="<script>", explanation="x", remedy="r"
        ).field
        == "reason"
    )
    _reset(dbs)
    # Text is kept as typed (the pages escape it); nothing is interpreted.
    act(dbs, pii, city.clerk, case_id, "accept", note="<script>alert(1)</script>")
    assert case_events(dbs, case_id)[-1].fields["note"] == "<script>alert(1)</script>"
    assert len(case_events(dbs, case_id)) == 2


# --- Extensions (§三) -----------------------------------------------------------------------------------------


def test_extensions_up_to_30_days_in_all(dbs, pii, city, owner_engine):
    case_id = drive(dbs, pii, city, submit(dbs, pii).case.id, CaseState.in_review).id
    due = open_deadline(dbs, case_id, "whole_review").due_on
    # Accepted Fri 2026-09-11: 30 working days (see the committee transfer test) end on Wed 10-28... plus one:
    # accepted a day later than that transfer's registration, so Thu 10-29.
    assert due == date(2026, 10, 29)
    for days in (31, 0, -5, "abc", 10.5, None):
        refused = _refused(
            "invalid", perform, dbs, pii, city.clerk, case_id, "request_extension", days=days, reason="r"
        )
        assert refused.field == "days"
        _reset(dbs)
    _refused("wrong_state", perform, dbs, pii, city.petitions_leader, case_id, "approve_extension", days=10)
    _reset(dbs)

    act(dbs, pii, city.clerk, case_id, "request_extension", days=20, reason="需向下级调取材料。")
    assert load_case(dbs, case_id).pending_extension_days == 20
    _refused("wrong_state", perform, dbs, pii, city.division, case_id, "request_extension", days=5, reason="r")
    _reset(dbs)
    for days in (21, 31):  # no more than asked for, never more than 30
        _refused("invalid", perform, dbs, pii, city.petitions_leader, case_id, "approve_extension", days=days)
        _reset(dbs)
    act(dbs, pii, city.petitions_leader, case_id, "deny_extension", reason="时间充足。")
    case = load_case(dbs, case_id)
    assert (case.pending_extension_days, case.extension_used) == (None, False)
    assert open_deadline(dbs, case_id, "whole_review").due_on == due

    # After a denial the unit may ask again. §三 caps the total, not the number of requests (issue 14): a business
    # leader (any 局领导) grants 10 days, then the principal leader 20 more.
    act(dbs, pii, city.division, case_id, "request_extension", days=10, reason="需召开协调会议。")
    act(dbs, pii, city.business_leader, case_id, "approve_extension")
    case = load_case(dbs, case_id)
    assert (case.extension_used, case.extension_days, case.pending_extension_days) == (True, 10, None)
    assert open_deadline(dbs, case_id, "whole_review").due_on == date(2026, 11, 9)  # Sun 11-08 -> Mon 11-09
    refused = _refused("invalid", perform, dbs, pii, city.clerk, case_id, "request_extension", days=21, reason="r")
    assert refused.field == "days" and "最多还可延期20日" in refused.message_zh
    _reset(dbs)
    act(dbs, pii, city.clerk, case_id, "request_extension", days=20, reason="材料仍未到齐。")
    act(dbs, pii, city.principal, case_id, "approve_extension")
    case = load_case(dbs, case_id)
    assert (case.extension_used, case.extension_days, case.pending_extension_days) == (True, 30, None)
    deadline = open_deadline(dbs, case_id, "whole_review")
    # Counted from the original due date with the total: Thu 10-29 + 30 days = Sat 11-28, so Mon 11-30.
    assert (deadline.due_on, deadline.extended_days) == (date(2026, 11, 30), 30)
    extension = deadline.explanation["extension"]
    assert (extension["from"], extension["days"], extension["approvals"]) == ("2026-10-29", 30, 2)
    assert extension["shifted_from"] == "2026-11-28"
    assert "经批准延期30日（共2次批准）" in explain_deadline(deadline.explanation, "zh")
    assert [o.payload["document"] for o in outbox_rows(dbs, case_id) if o.kind == "render_document"][-1] == (
        "extension_notice"
    )
    # 30 days in all: nothing more can be asked for.
    refused = _refused("wrong_state", perform, dbs, pii, city.clerk, case_id, "request_extension", days=1, reason="r")
    assert "合计不得超过30日" in refused.message_zh
    _reset(dbs)
    # The cap holds in the database too.
    with pytest.raises(IntegrityError), owner_engine.begin() as conn:
        conn.execute(text("UPDATE cases SET extension_days = 31 WHERE id = :id"), {"id": case_id})


def test_no_extension_once_the_whole_review_deadline_has_passed(dbs, pii, city):
    """§三: asked for before the 30 working days run out; afterwards the case is overdue and stays so."""
    case_id = drive(dbs, pii, city, submit(dbs, pii).case.id, CaseState.in_review).id
    due = open_deadline(dbs, case_id, "whole_review").due_on
    assert due == date(2026, 10, 29)
    before = len(case_events(dbs, case_id))
    refused = _refused(
        "wrong_state",
        perform,
        dbs,
        pii,
        city.clerk,
        case_id,
        "request_extension",
        today=date(2026, 10, 30),
        days=10,
        reason="来不及了。",
    )
    assert "2026-10-29" in refused.message_zh and "已超期" in refused.message_zh
    assert len(case_events(dbs, case_id)) == before
    deadline = open_deadline(dbs, case_id, "whole_review")
    assert (deadline.due_on, deadline.closed_at, deadline.extended_days) == (due, None, 0)  # still open, overdue
    # On the last day it is still possible.
    act(dbs, pii, city.clerk, case_id, "request_extension", today=due, days=10, reason="需调取材料。")
    assert load_case(dbs, case_id).pending_extension_days == 10


def test_an_extension_not_approved_by_the_whole_review_deadline_lapses_and_the_case_stays_overdue(dbs, pii, city):
    """§三: asked for on the last day, it must be granted that day too; the day after it lapses (issue 14, rule 4)."""
    case_id = drive(dbs, pii, city, submit(dbs, pii).case.id, CaseState.in_review).id
    due = open_deadline(dbs, case_id, "whole_review").due_on
    assert due == date(2026, 10, 29)
    act(dbs, pii, city.clerk, case_id, "request_extension", today=due, days=10, reason="需调取材料。")
    before = len(case_events(dbs, case_id))
    for action, fields in (("approve_extension", {}), ("deny_extension", {"reason": "不需要。"})):
        refused = _refused(
            "wrong_state", perform, dbs, pii, city.petitions_leader, case_id, action, today=date(2026, 10, 30), **fields
        )
        assert "已失效" in refused.message_zh and "2026-10-29" in refused.message_zh
        _reset(dbs)
    # Nothing changed: the request is still on record, the deadline has not moved, and the case is overdue.
    assert len(case_events(dbs, case_id)) == before
    case = load_case(dbs, case_id)
    assert (case.pending_extension_days, case.extension_used) == (10, False)
    deadline = open_deadline(dbs, case_id, "whole_review")
    assert (deadline.due_on, deadline.extended_days, deadline.closed_at) == (due, 0, None)


def test_a_committee_cases_extension_notice_goes_to_the_committee(dbs, pii, province):
    case_id = drive(dbs, pii, province, transfer(dbs, pii, province).case.id, CaseState.in_review).id
    act(dbs, pii, province.clerk, case_id, "request_extension", days=15, reason="需调取材料。")
    act(dbs, pii, province.business_leader, case_id, "approve_extension")
    event = case_events(dbs, case_id)[-1]
    assert event.action == "approve_extension" and event.fields["notice_to"] == "committee"
    assert not event.public
    kinds = [(o.kind, o.payload.get("document")) for o in outbox_rows(dbs, case_id)]
    assert ("render_document", "extension_notice") in kinds
    assert not [k for k in kinds if k[0] == "notify_petitioner"]


# --- Materials (§四.11) -----------------------------------------------------------------------------------


def test_a_lower_bureau_answers_a_materials_request(dbs, pii, city):
    nanguan = make_staff(dbs, "220102", Role.division_staff, unit="pension", username="ng_div")
    chaoyang = make_staff(dbs, "220104", Role.petition_clerk, unit="petition_office", username="cy_clerk")
    jilin_county = make_staff(dbs, "220202", Role.petition_clerk, unit="petition_office", username="cy_jl")
    case_id = drive(dbs, pii, city, submit(dbs, pii).case.id, CaseState.in_review).id
    for target in (city.bureau_id, jilin_county.tenant_id, _bureau_id(dbs, "220000")):
        refused = _refused(
            "invalid",
            perform,
            dbs,
            pii,
            city.division,
            case_id,
            "request_materials",
            target="lower_bureau",
            target_bureau_id=target,
            content="c",
            due_on="2026-09-25",
        )
        assert refused.field == "target_bureau_id"
        _reset(dbs)
    # Nothing is addressed to 南关区 yet: the case does not exist for it.
    with pytest.raises(CaseNotFound):
        perform(dbs, pii, nanguan, case_id, "provide_materials", request_id=1, content="x")
    _reset(dbs)

    act(
        dbs,
        pii,
        city.division,
        case_id,
        "request_materials",
        target="lower_bureau",
        target_bureau_id=nanguan.tenant_id,
        content="请提供张三的缴费记录。",
        due_on="2026-09-25",
    )
    act(
        dbs,
        pii,
        city.clerk,
        case_id,
        "request_materials",
        target="petitioner",
        content="请提供身份证复印件。",
        due_on="2026-09-25",
    )
    requests = {r.target: r for r in _requests(dbs, case_id)}
    lower, to_petitioner = requests["lower_bureau"].id, requests["petitioner"].id
    deadline = next(d for d in case_deadlines(dbs, case_id, open_only=True) if d.material_request_id == lower)
    assert (deadline.step, deadline.due_on, deadline.owed_by, deadline.owed_bureau_id) == (
        Step.material_request,
        date(2026, 9, 25),
        "addressee",
        nanguan.tenant_id,
    )
    assert deadline.explanation["unit"] == "given"

    # Another county, and 南关区 for any other action or for the petitioner's request: refused.
    with pytest.raises(CaseNotFound):
        perform(dbs, pii, chaoyang, case_id, "provide_materials", request_id=lower, content="x")
    _reset(dbs)
    with pytest.raises(CaseNotFound):
        perform(
            dbs, pii, nanguan, case_id, "record_contact", party="petitioner", contacted_on="2026-09-12", summary="x"
        )
    _reset(dbs)
    _refused(
        "forbidden", perform, dbs, pii, nanguan, case_id, "provide_materials", request_id=to_petitioner, content="x"
    )
    _reset(dbs)

    set_scope(dbs, scope_for_bureau(dbs, nanguan.tenant_id))
    scope_before = get_scope(dbs)
    act(
        dbs,
        pii,
        nanguan,
        case_id,
        "provide_materials",
        request_id=lower,
        content="缴费记录见附件。",
        attachment_ids=[7],
    )
    assert get_scope(dbs) == scope_before  # the county's own scope again afterwards
    answered = next(r for r in _requests(dbs, case_id) if r.id == lower)
    assert answered.answered_at is not None and answered.answer_text == "缴费记录见附件。"
    assert answered.answered_by == nanguan.display_name and answered.answer_attachment_ids == [7]
    event = case_events(dbs, case_id)[-1]
    assert (event.action, event.actor_bureau_id, event.state_after) == (
        "provide_materials",
        nanguan.tenant_id,
        "in_review",
    )
    assert event.fields["request_id"] == lower
    steps = [(d.step, d.material_request_id) for d in case_deadlines(dbs, case_id, open_only=True)]
    assert (Step.material_request, lower) not in steps and (Step.material_request, to_petitioner) in steps
    with system_scope(dbs):
        assert verify_case(dbs, load_case(dbs, case_id)) is None
    # Answered: the case is out of 南关区's reach again.
    with pytest.raises(CaseNotFound):
        perform(dbs, pii, nanguan, case_id, "provide_materials", request_id=lower, content="再次提供")


def _requests(dbs, case_id):
    with system_scope(dbs):
        return list(
            dbs.scalars(
                select(MaterialRequest)
                .where(MaterialRequest.case_id == case_id)
                .order_by(MaterialRequest.id)
                .execution_options(populate_existing=True)
            )
        )


def test_a_due_date_in_the_past_cannot_be_smuggled_in_with_the_input(dbs, pii, city):
    case_id = drive(dbs, pii, city, submit(dbs, pii).case.id, CaseState.in_review).id
    payload = {"target": "petitioner", "content": "c", "due_on": "2026-09-15", "today": "2026-09-01"}
    refused = _refused("invalid", _raw, dbs, pii, city.clerk, case_id, "request_materials", date(2026, 9, 20), payload)
    assert refused.field == "due_on"


# --- Outbox -------------------------------------------------------------------------------------------------


def test_outbox_rows_are_written_in_the_actions_transaction(dbs, pii, city, owner_engine):
    case_id = submit(dbs, pii).case.id
    before = len(outbox_rows(dbs, case_id))

    def committed_rows():
        with owner_engine.connect() as conn:
            return conn.execute(
                text("SELECT kind, payload FROM outbox WHERE case_id = :id ORDER BY id"), {"id": case_id}
            ).all()

    perform(dbs, pii, city.clerk, case_id, "accept")
    rows = outbox_rows(dbs, case_id)[before:]
    assert [(o.kind, o.payload.get("document") or o.payload.get("event")) for o in rows] == [
        ("render_document", "acceptance_notice"),
        ("notify_petitioner", "accept"),
    ]
    assert all(o.status == "pending" and o.case_id == case_id for o in rows)
    assert len(committed_rows()) == before  # nothing visible outside until the transaction commits
    _reset(dbs)
    assert len(outbox_rows(dbs, case_id)) == before and load_case(dbs, case_id).state is CaseState.submitted

    perform(dbs, pii, city.clerk, case_id, "accept")
    dbs.commit()
    assert len(committed_rows()) == before + 2
    # A refused action writes none.
    _refused("wrong_state", perform, dbs, pii, city.clerk, case_id, "accept", rollback=False)
    _refused("invalid", perform, dbs, pii, city.clerk, case_id, "submit_slip", proposal="x", rollback=False)
    assert len(outbox_rows(dbs, case_id)) == before + 2
    assert [e.action for e in case_events(dbs, case_id)] == ["submit", "accept"]


# --- Withdrawal and escalation -------------------------------------------------------------------------------


def test_withdrawal_closes_every_open_deadline(dbs, pii, city):
    case_id = drive(dbs, pii, city, submit(dbs, pii).case.id, CaseState.in_review).id
    act(
        dbs,
        pii,
        city.clerk,
        case_id,
        "request_materials",
        target="petitioner",
        content="请提供材料。",
        due_on="2026-09-25",
    )
    act(dbs, pii, city.clerk, case_id, "request_extension", days=10, reason="r")
    assert len(case_deadlines(dbs, case_id, open_only=True)) == 3  # whole review, division review, materials
    act(dbs, pii, PETITIONER, case_id, "withdraw", reason="已与单位协商一致。")
    case = load_case(dbs, case_id)
    assert case.state is CaseState.withdrawn and case.closed_at is not None
    deadlines = case_deadlines(dbs, case_id)
    assert deadlines and all(d.closed_at is not None for d in deadlines)
    assert {d.close_reason for d in deadlines if d.closed_at == case.closed_at} == {"withdraw"}
    assert outbox_rows(dbs, case_id)[-1].payload["event"] == "withdraw"
    for action in ("withdraw", "approve_extension", "provide_materials"):
        _refused(
            "wrong_state",
            perform,
            dbs,
            pii,
            PETITIONER if action == "withdraw" else city.petitions_leader,
            case_id,
            action,
            reason="x",
            days=10,
            request_id=1,
            content="x",
        )
        _reset(dbs)


def test_escalation_opens_the_linked_re_review_at_the_province(dbs, pii, city, province):
    case = drive(dbs, pii, city, submit(dbs, pii).case.id, CaseState.replied)
    assert case.replied_on == date(2026, 9, 11)
    # Signed, not yet delivered: the window has not started.
    assert [d for d in case_deadlines(dbs, case.id) if d.step == Step.escalation_window] == []
    # Handed over the same day, signed for (送达 in person): the window runs from then.
    act(
        dbs,
        pii,
        city.clerk,
        case.id,
        "record_delivery",
        date(2026, 9, 12),
        method="in_person",
        delivered_on="2026-09-11",
    )
    window = open_deadline(dbs, case.id, "escalation_window")
    assert window.due_on == date(2026, 10, 12)  # 09-11 + 30 days = Sun 10-11, moved to Mon 10-12

    # Out of the window (30 days after 09-11 is 10-11): refused, even with a hostile "today" in the input.
    for smuggled in ({}, {"today": "2026-09-20"}):
        payload = {"reason": "不服", **smuggled}
        refused = _refused("wrong_state", _raw, dbs, pii, PETITIONER, case.id, "escalate", date(2026, 10, 13), payload)
        assert "30" in refused.message_zh
        _reset(dbs)

    result = act(
        dbs,
        pii,
        PETITIONER,
        case.id,
        "escalate",
        date(2026, 10, 11),
        request="撤销复查意见。",
        facts_and_reasons="复查意见认定事实不清。",
    )
    new = load_case(dbs, result.new_case.id)
    assert (new.kind, new.tenant_id, new.state) == (CaseKind.re_review, province.bureau_id, CaseState.submitted)
    assert (new.earlier_tenant_id, new.earlier_case_id) == (city.bureau_id, case.id)
    # The re-review names what it disputes: the review opinion's 文号 (fixed when signed) and its issuer.
    signed = next(e for e in case_events(dbs, case.id) if e.action == "sign_reply")
    assert signed.fields["doc_number"].startswith("长社保信复〔2026〕")
    assert (new.disputed_bureau_id, new.disputed_kind, new.disputed_document_number) == (
        city.bureau_id,
        OpinionKind.review,
        signed.fields["doc_number"],
    )
    assert (new.disputed_issued_on, new.disputed_received_on) == (date(2026, 9, 11), date(2026, 9, 11))
    assert (new.request_text, new.facts_text) == ("撤销复查意见。", "复查意见认定事实不清。")
    assert new.late_application is False and new.petitioner_id_hash == case.petitioner_id_hash
    assert result.access_code and new.access_code_hash
    with system_scope(dbs):
        party = dbs.scalar(select(CaseParty).where(CaseParty.case_id == new.id, CaseParty.role == "petitioner"))
    assert party.reveal(pii, "id_number_enc") == VALID_ID and party.name == "张三"
    assert case_events(dbs, new.id)[0].fields["escalated_from"] == case.number
    old = load_case(dbs, case.id)
    assert old.escalated and old.state is CaseState.replied
    last = case_events(dbs, case.id)[-1]
    assert (last.action, last.fields["new_case_number"], last.public) == ("escalate", new.number, True)
    assert case_deadlines(dbs, case.id, open_only=True) == []
    assert [d.step for d in case_deadlines(dbs, new.id, open_only=True)] == [Step.acceptance]

    # Only once; a re-review is final; the province's re-review is handled there by its own staff.
    _refused("wrong_state", perform, dbs, pii, PETITIONER, case.id, "escalate", date(2026, 10, 11), reason="再次")
    _reset(dbs)
    drive(dbs, pii, province, new.id, CaseState.replied, today=date(2026, 10, 12))
    refused = _refused("wrong_state", perform, dbs, pii, PETITIONER, new.id, "escalate", date(2026, 10, 13), reason="x")
    assert "最终" in refused.message_zh


def test_a_review_decided_by_the_province_cannot_be_escalated_here(dbs, pii, province):
    submission = submit(dbs, pii, disputed_bureau_id=_bureau_id(dbs, "220100"))  # city handling -> province review
    case = drive(dbs, pii, province, submission.case.id, CaseState.replied)
    refused = _refused("wrong_state", perform, dbs, pii, PETITIONER, case.id, "escalate", date(2026, 9, 12), reason="x")
    assert "委员会" in refused.message_zh
    with system_scope(dbs):
        assert (
            dbs.scalar(select(CaseEvent.action).where(CaseEvent.case_id == case.id, CaseEvent.action == "escalate"))
            is None
        )
    assert not [o for o in outbox_rows(dbs, case.id) if o.payload.get("event") == "escalate"]


def test_escalation_is_allowed_on_the_window_s_last_day_moved_past_a_weekend(dbs, pii, city, province):
    """Civil Code art. 203: the window ends Sun 10-11, so Mon 10-12 is still in time (deadline and rule agree)."""
    case = drive(dbs, pii, city, submit(dbs, pii).case.id, CaseState.replied)
    act(dbs, pii, city.clerk, case.id, "record_delivery", date(2026, 9, 15), method="post", delivered_on="2026-09-11")
    assert open_deadline(dbs, case.id, "escalation_window").due_on == date(2026, 10, 12)
    result = act(dbs, pii, PETITIONER, case.id, "escalate", date(2026, 10, 12), reason="不服复查意见。")
    assert load_case(dbs, result.new_case.id).kind is CaseKind.re_review
