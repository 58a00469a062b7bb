"""A review at 长春市 from submission to the signed reply, then its escalation to a re-review at the province."""

from __future__ import annotations

from datetime import date

from sqlalchemy import select

from portal.cases.history import verify_case
from portal.cases.models import Case, CaseEvent, Deadline, Outbox
from portal.workflow import CaseKind, CaseState, Step
from tenants.scoping import system_scope
from tests.portal.cases.conftest import act, submit


def _open_steps(dbs, case_id):
    with system_scope(dbs):
        return sorted(
            str(d.step)
            for d in dbs.scalars(select(Deadline).where(Deadline.case_id == case_id, Deadline.closed_at.is_(None)))
        )


def test_review_from_submission_to_reply_and_escalation(dbs, pii, city, province):
    submission = submit(dbs, pii)
    case = submission.case
    assert case.kind is CaseKind.review and case.tenant_id == city.bureau_id
    assert case.state is CaseState.submitted
    # 2026-09-10 (Thu) + 15 working days: Sep 11, 14-18, 21-25 (Sep 20 Sun is not a make-up day in 2026?)...
    assert submission.acceptance_due is not None and submission.acceptance_due > date(2026, 9, 10)
    assert len(submission.access_code) == 14
    assert _open_steps(dbs, case.id) == ["acceptance"]

    act(dbs, pii, city.clerk, case.id, "accept")
    assert _open_steps(dbs, case.id) == ["slip", "whole_review"]
    act(
        dbs,
        pii,
        city.clerk,
        case.id,
        "submit_slip",
        proposal="建议交养老保险处审查。",
        complexity="complex",
        lead_unit_id=city.pension_unit,
    )
    with system_scope(dbs):
        case = dbs.scalar(select(Case).where(Case.id == case.id))
    assert case.approver_id == city.petitions_leader.id  # §四.4: the leader in charge of petitions
    act(dbs, pii, city.petitions_leader, case.id, "instruct", instruction="请养老保险处依规审查。")
    act(dbs, pii, city.clerk, case.id, "dispatch", note="阅办单及材料已交养老保险处。")
    assert _open_steps(dbs, case.id) == ["division_review", "whole_review"]
    act(dbs, pii, city.division, case.id, "submit_opinion", opinion="经审查，原处理意见正确。", needs_approval=True)
    act(dbs, pii, city.business_leader, case.id, "return_opinion", reason="请补充政策依据。")
    assert _open_steps(dbs, case.id) == ["revision", "whole_review"]
    act(dbs, pii, city.clerk, case.id, "request_extension", days=20, reason="需向下级调取材料。")
    act(dbs, pii, city.petitions_leader, case.id, "approve_extension", days=20)
    act(
        dbs,
        pii,
        city.division,
        case.id,
        "submit_opinion",
        opinion="经审查，原处理意见正确，依据……",
        needs_approval=True,
    )
    act(dbs, pii, city.business_leader, case.id, "approve_opinion")
    act(dbs, pii, city.clerk, case.id, "submit_reply", text="维持原处理意见。", outcome="upheld")
    act(dbs, pii, city.petitions_leader, case.id, "sign_reply", today=date(2026, 10, 20))
    with system_scope(dbs):
        case = dbs.scalar(select(Case).where(Case.id == case.id))
        assert case.state is CaseState.replied and case.replied_on == date(2026, 10, 20)
        assert case.extension_used and case.extension_days == 20
        events = dbs.scalars(select(CaseEvent).where(CaseEvent.case_id == case.id).order_by(CaseEvent.seq)).all()
        kinds = [e.action for e in events]
        docs = dbs.scalars(
            select(Outbox.payload).where(Outbox.case_id == case.id, Outbox.kind == "render_document")
        ).all()
    assert kinds[0] == "submit" and kinds[-1] == "sign_reply" and len(kinds) == 13
    assert {d["document"] for d in docs} == {"acceptance_notice", "reading_slip", "extension_notice", "formal_opinion"}
    assert _open_steps(dbs, case.id) == []  # signed; the window starts when it reaches the petitioner (送达)
    act(
        dbs,
        pii,
        city.clerk,
        case.id,
        "record_delivery",
        today=date(2026, 10, 23),
        method="post",
        delivered_on="2026-10-22",
    )
    assert _open_steps(dbs, case.id) == ["escalation_window"]
    with system_scope(dbs):
        case = dbs.scalar(select(Case).where(Case.id == case.id))
    assert verify_case(dbs, case) is None

    from portal.cases.history import Actor
    from portal.cases.operations import perform_action

    with system_scope(dbs):
        result = perform_action(
            dbs,
            pii,
            case.id,
            "escalate",
            Actor("petitioner", None, "张三"),
            {"reason": "不服复查意见。"},
            today=date(2026, 10, 25),
        )
        dbs.commit()
    new = result.new_case
    assert new.kind is CaseKind.re_review and new.tenant_id == province.bureau_id
    assert new.earlier_case_id == case.id and result.access_code
    assert _open_steps(dbs, new.id) == [str(Step.acceptance)]
