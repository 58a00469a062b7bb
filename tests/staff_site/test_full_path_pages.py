"""The two complete paths through the staff pages, as the staff of 长春市, 南关区 and the province would click them.

1. A review at 长春市: accept, reading slip, instruction, hand-over, the division's opinion returned for revision,
   an extension, a request for materials answered by 南关区 with a file, the revised opinion, approval, the formal
   opinion returned once and then signed.
2. The petitioner escalates; the re-review at the province runs to the signed reply, reading the city's case.
"""

from __future__ import annotations

import io
import re

from sqlalchemy import select

from portal.attachments.models import Attachment
from portal.cases.history import Actor, verify_case
from portal.cases.models import CaseEvent, MaterialRequest
from portal.cases.operations import perform_action
from portal.cases.queries import local_today
from portal.workflow import CaseKind, CaseState
from tenants.scoping import system_scope
from tests.staff_site.conftest import act_page, alert, case_row, pdf_bytes, sign_in, submit_case


def _ok(response, what=""):
    assert response.status_code == 302, (what, response.status_code, alert(response))
    return response


def _events(dbs, case_id):
    with system_scope(dbs):
        return [
            e.action for e in dbs.scalars(select(CaseEvent).where(CaseEvent.case_id == case_id).order_by(CaseEvent.seq))
        ]


def test_review_at_the_city_then_re_review_at_the_province(app, dbs, pii, city, county, province):
    case = submit_case(dbs, pii)
    clerk = sign_in(app, city.clerk)
    leader = sign_in(app, city.petitions_leader)
    business = sign_in(app, city.business_leader)
    division = sign_in(app, city.division)
    ng = sign_in(app, county.clerk)

    # The clerk finds the new case in her queue, nearest deadline first, and opens it.
    queue = clerk.get("/staff/cases").get_data(as_text=True)
    assert case.number in queue and "决定是否受理" in queue
    page = clerk.get(f"/staff/cases/{case.id}").get_data(as_text=True)
    assert "受理" in page and f"/staff/cases/{case.id}/actions/accept" in page
    assert "110105********002X" not in page and "11010519491231002X" in page  # the office handles the case

    _ok(act_page(clerk, case.id, "accept", {"note": "材料齐全。"}), "accept")
    assert case_row(dbs, case.id).state is CaseState.accepted

    # The slip: "who approves?" shows the rules' choice without acting, then the slip goes to that leader.
    slip = {
        "proposal": "建议交养老保险处审查。",
        "complexity": "complex",
        "lead_unit_id": str(city.pension_unit),
        "assisting_unit_ids": [str(city.audit_unit)],
        "approver_id": "",
    }
    preview = act_page(clerk, case.id, "submit_slip", {**slip, "preview": "1"})
    assert preview.status_code == 200 and "cc_pl" in preview.get_data(as_text=True)
    assert case_row(dbs, case.id).state is CaseState.accepted
    _ok(act_page(clerk, case.id, "submit_slip", slip), "slip")
    row = case_row(dbs, case.id)
    assert row.state is CaseState.awaiting_instruction and row.approver_id == city.petitions_leader.id

    assert case.number in leader.get("/staff/cases").get_data(as_text=True)  # waiting for the leader
    _ok(act_page(leader, case.id, "instruct", {"instruction": "请养老保险处依规审查。"}), "instruct")
    _ok(act_page(clerk, case.id, "dispatch", {"note": "阅办单及材料已交养老保险处。"}), "dispatch")
    assert case.number in division.get("/staff/cases").get_data(as_text=True)

    _ok(
        act_page(
            division,
            case.id,
            "submit_opinion",
            {"opinion": "经审查，原处理意见正确。", "needs_approval": "yes"},
            files={"files": (io.BytesIO(pdf_bytes("opinion")), "审查意见.pdf")},
        ),
        "opinion",
    )
    _ok(act_page(business, case.id, "return_opinion", {"reason": "请补充政策依据。"}), "return")
    assert case_row(dbs, case.id).state is CaseState.in_revision

    _ok(act_page(clerk, case.id, "request_extension", {"days": "20", "reason": "需向下级调取材料。"}), "ext")
    assert case.number in leader.get("/staff/cases").get_data(as_text=True)
    _ok(act_page(leader, case.id, "approve_extension", {"days": "20"}), "approve ext")
    row = case_row(dbs, case.id)
    assert row.extension_used and row.extension_days == 20

    # The division asks 南关区 for materials; 南关区 sees the request in its own queue and answers with a file.
    _ok(
        act_page(
            division,
            case.id,
            "request_materials",
            {
                "target": "lower_bureau",
                "target_bureau_id": str(county.bureau_id),
                "content": "请提供申请人2019年缴费记录。",
                "due_on": local_today().isoformat(),
            },
        ),
        "request materials",
    )
    with system_scope(dbs):
        request_id = dbs.scalar(select(MaterialRequest.id).where(MaterialRequest.case_id == case.id))
    ng_queue = ng.get("/staff/cases").get_data(as_text=True)
    assert "长春市社会保险局" in ng_queue and f"/staff/requests/{request_id}" in ng_queue
    assert ng.get(f"/staff/cases/{case.id}").status_code == 404  # the addressee does not read the case
    request_page = ng.get(f"/staff/requests/{request_id}")
    assert "请提供申请人2019年缴费记录。" in request_page.get_data(as_text=True)
    token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', request_page.get_data(as_text=True)).group(1)
    answer = ng.post(
        f"/staff/requests/{request_id}",
        data={
            "csrf_token": token,
            "content": "缴费记录见附件。",
            "files": (io.BytesIO(pdf_bytes("ng")), "缴费记录.pdf"),
        },
        content_type="multipart/form-data",
    )
    _ok(answer, "answer")
    assert f"/staff/requests/{request_id}" not in ng.get("/staff/cases").get_data(as_text=True)
    page = division.get(f"/staff/cases/{case.id}").get_data(as_text=True)
    assert "缴费记录见附件。" in page and "缴费记录.pdf" in page
    with system_scope(dbs):
        answer_file = dbs.scalar(select(Attachment).where(Attachment.filename == "缴费记录.pdf"))
    assert answer_file.tenant_id == county.bureau_id  # the county's own upload, read by the city
    download = division.get(f"/staff/cases/{case.id}/attachments/{answer_file.id}")
    assert download.status_code == 302 and "X-Amz-Signature" in download.headers["Location"]

    _ok(
        act_page(
            division, case.id, "submit_opinion", {"opinion": "经审查，原处理意见正确，依据……", "needs_approval": "yes"}
        )
    )
    _ok(act_page(business, case.id, "approve_opinion", {"comment": "同意。"}), "approve")
    _ok(act_page(clerk, case.id, "submit_reply", {"text": "维持原处理意见。", "outcome": "upheld"}), "reply")
    _ok(act_page(leader, case.id, "return_reply", {"reason": "请写明救济途径。"}), "return reply")
    assert case_row(dbs, case.id).state is CaseState.drafting_reply
    _ok(
        act_page(clerk, case.id, "submit_reply", {"text": "维持原处理意见。如不服，可申请复核。", "outcome": "upheld"}),
        "reply again",
    )
    _ok(act_page(leader, case.id, "sign_reply", {"comment": "同意。"}), "sign")
    row = case_row(dbs, case.id)
    assert row.state is CaseState.replied
    assert _events(dbs, case.id) == [
        "submit",
        "accept",
        "submit_slip",
        "instruct",
        "dispatch",
        "submit_opinion",
        "return_opinion",
        "request_extension",
        "approve_extension",
        "request_materials",
        "provide_materials",
        "submit_opinion",
        "approve_opinion",
        "submit_reply",
        "return_reply",
        "submit_reply",
        "sign_reply",
    ]
    with system_scope(dbs):
        assert verify_case(dbs, row) is None

    # The petitioner escalates: a re-review at the province, linked to the city's case.
    with system_scope(dbs):
        result = perform_action(
            dbs,
            pii,
            case.id,
            "escalate",
            Actor("petitioner", None, "张三"),
            {"reason": "不服复查意见。"},
            today=local_today(),
        )
        dbs.commit()
    new = result.new_case
    assert new.kind is CaseKind.re_review and new.tenant_id == province.bureau_id
    pv_clerk = sign_in(app, province.clerk)
    pv_leader = sign_in(app, province.petitions_leader)
    pv_business = sign_in(app, province.business_leader)
    pv_division = sign_in(app, province.division)
    page = pv_clerk.get(f"/staff/cases/{new.id}").get_data(as_text=True)
    assert case.number in page and f"/staff/cases/{case.id}" in page  # the escalation chain, readable
    assert "维持原处理意见。如不服，可申请复核。" in page  # the earlier case's formal opinion
    earlier = pv_clerk.get(f"/staff/cases/{case.id}").get_data(as_text=True)  # supervision, read-only
    assert "长春市社会保险局" in earlier and "/actions/" not in earlier
    assert pv_clerk.get(f"/staff/cases/{case.id}/actions/accept").status_code == 404

    _ok(act_page(pv_clerk, new.id, "accept"), "province accept")
    _ok(
        act_page(
            pv_clerk,
            new.id,
            "submit_slip",
            {"proposal": "建议养老保险处复核。", "complexity": "simple", "lead_unit_id": str(province.pension_unit)},
        ),
        "province slip",
    )
    _ok(act_page(pv_leader, new.id, "instruct", {"instruction": "同意。"}), "province instruct")
    _ok(act_page(pv_clerk, new.id, "dispatch", {"note": "已交养老保险处。"}), "province dispatch")
    _ok(act_page(pv_division, new.id, "submit_opinion", {"opinion": "复查意见正确。", "needs_approval": "yes"}))
    _ok(act_page(pv_business, new.id, "approve_opinion"), "province approve")
    _ok(act_page(pv_clerk, new.id, "submit_reply", {"text": "维持复查意见。", "outcome": "upheld"}), "province reply")
    _ok(act_page(pv_leader, new.id, "sign_reply"), "province sign")
    assert case_row(dbs, new.id).state is CaseState.replied
