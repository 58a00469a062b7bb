"""Decision forms show what is decided; returned work comes back whole; standard refusal texts; the header count."""

from __future__ import annotations

import html
import io
import re

from portal.cases.queries import local_today
from tests.portal.cases.conftest import act
from tests.staff_site.conftest import act_page, alert, case_row, pdf_bytes, sign_in, submit_case


def text_of(response) -> str:
    return html.unescape(response.get_data(as_text=True))


def subject_of(response) -> str:
    """The 'what is being decided' block of an action page."""
    match = re.search(r'<section class="subject".*?</section>', text_of(response), re.S)
    assert match, "no subject block"
    return match.group(0)


def to_instruction(dbs, pii, city):
    case = submit_case(dbs, pii)
    today = local_today()
    act(dbs, pii, city.clerk, case.id, "accept", today=today)
    act(
        dbs,
        pii,
        city.clerk,
        case.id,
        "submit_slip",
        today=today,
        proposal="建议交养老保险处审查，稽核处协助核对缴费记录。",
        complexity="complex",
        lead_unit_id=city.pension_unit,
        assisting_unit_ids=[city.audit_unit],
    )
    return case


def test_instruct_shows_the_proposal_complexity_and_units(app, dbs, pii, city):
    case = to_instruction(dbs, pii, city)
    leader = sign_in(app, city.petitions_leader)
    page = leader.get(f"/staff/cases/{case.id}/actions/instruct")
    assert page.status_code == 200
    subject = subject_of(page)
    assert "信访办拟办意见" in subject and city.clerk.display_name in subject
    assert "建议交养老保险处审查，稽核处协助核对缴费记录。" in subject
    assert "复杂（涉及多个业务处室、单位）" in subject and "养老保险处" in subject and "稽核处" in subject
    # The form starts from the proposal: the proposed lead unit is selected.
    assert re.search(
        rf'<option selected value="{city.pension_unit}">|<option value="{city.pension_unit}" selected', text_of(page)
    )


def test_dispatch_offers_the_instructed_units_not_free_text(app, dbs, pii, city):
    case = to_instruction(dbs, pii, city)
    act(dbs, pii, city.petitions_leader, case.id, "instruct", today=local_today(), instruction="同意，抓紧办理。")
    clerk = sign_in(app, city.clerk)
    page = clerk.get(f"/staff/cases/{case.id}/actions/dispatch")
    body = text_of(page)
    boxes = re.findall(r'<input[^>]*name="handed_to_unit_ids"[^>]*>', body)
    assert len(boxes) == 2 and all("checked" in b for b in boxes)
    assert {re.search(r'value="(\d+)"', b).group(1) for b in boxes} == {str(city.pension_unit), str(city.audit_unit)}
    assert "同意，抓紧办理。" in subject_of(page)  # the instruction being carried out
    response = act_page(clerk, case.id, "dispatch", {"handed_to_unit_ids": [str(city.pension_unit)]})
    assert response.status_code == 302, alert(response)
    assert case_row(dbs, case.id).state.value == "in_review"


def test_a_simple_case_is_dispatched_to_the_petition_office_itself(app, dbs, pii, city):
    case = submit_case(dbs, pii)
    today = local_today()
    act(dbs, pii, city.clerk, case.id, "accept", today=today)
    act(
        dbs,
        pii,
        city.clerk,
        case.id,
        "submit_slip",
        today=today,
        proposal="自办。",
        complexity="simple",
        lead_unit_id=city.office_unit,
    )
    act(dbs, pii, city.petitions_leader, case.id, "instruct", today=today, instruction="同意。")
    page = sign_in(app, city.clerk).get(f"/staff/cases/{case.id}/actions/dispatch")
    assert "信访办自办（简单事项）" in text_of(page)


def to_opinion(dbs, pii, city, app):
    case = to_instruction(dbs, pii, city)
    today = local_today()
    act(dbs, pii, city.petitions_leader, case.id, "instruct", today=today, instruction="同意。")
    act(dbs, pii, city.clerk, case.id, "dispatch", today=today)
    division = sign_in(app, city.division)
    response = act_page(
        division,
        case.id,
        "submit_opinion",
        {"opinion": "经审查，原处理意见认定事实清楚。", "needs_approval": "yes"},
        files={"files": [(io.BytesIO(pdf_bytes("意见")), "审查意见.pdf")]},
    )
    assert response.status_code == 302, alert(response)
    return case, division


def test_approve_and_return_opinion_show_the_opinion_and_its_files(app, dbs, pii, city):
    case, _division = to_opinion(dbs, pii, city, app)
    business = sign_in(app, city.business_leader)
    for action in ("approve_opinion", "return_opinion"):
        page = business.get(f"/staff/cases/{case.id}/actions/{action}")
        subject = subject_of(page)
        assert "承办单位审查意见" in subject and "经审查，原处理意见认定事实清楚。" in subject
        assert "审查意见.pdf" in subject and f"/staff/cases/{case.id}/attachments/" in subject


def test_a_returned_opinion_comes_back_filled_with_who_when_and_why(app, dbs, pii, city):
    case, division = to_opinion(dbs, pii, city, app)
    business = sign_in(app, city.business_leader)
    response = act_page(business, case.id, "return_opinion", {"reason": "请补充《社会保险法》相关依据。"})
    assert response.status_code == 302, alert(response)
    page = division.get(f"/staff/cases/{case.id}/actions/submit_opinion")
    body = text_of(page)
    returned = re.search(r'<div class="notice warn returned".*?</div>', body, re.S).group(0)
    assert city.business_leader.display_name in returned and "请补充《社会保险法》相关依据。" in returned
    assert re.search(r"\d{4}", returned)  # when
    assert re.search(r'<textarea[^>]*name="opinion"[^>]*>\s*经审查，原处理意见认定事实清楚。</textarea>', body)
    assert re.search(r'<input checked[^>]*value="yes"|<input[^>]*value="yes"[^>]*checked', body)
    # Only the returned work shows the box: the leader's own forms do not.
    assert 'class="notice warn returned"' not in text_of(business.get(f"/staff/cases/{case.id}/actions/sign_reply"))


def test_a_returned_letter_keeps_its_outcome(app, dbs, pii, city):
    case = submit_case(dbs, pii)
    today = local_today()
    for user, action, payload in [
        (city.clerk, "accept", {}),
        (city.clerk, "submit_slip", {"proposal": "自办。", "complexity": "simple", "lead_unit_id": city.office_unit}),
        (city.petitions_leader, "instruct", {"instruction": "同意。"}),
        (city.clerk, "dispatch", {}),
        (city.clerk, "submit_opinion", {"opinion": "应部分变更。", "needs_approval": False}),
        (city.clerk, "submit_reply", {"text": "部分变更原处理意见。", "outcome": "partly_changed"}),
        (city.petitions_leader, "return_reply", {"reason": "请补充救济途径。"}),
    ]:
        act(dbs, pii, user, case.id, action, today=today, **payload)
    page = sign_in(app, city.clerk).get(f"/staff/cases/{case.id}/actions/submit_reply")
    body = text_of(page)
    assert "请补充救济途径。" in body and city.petitions_leader.display_name in body
    assert re.search(r'<textarea[^>]*name="text"[^>]*>\s*部分变更原处理意见。</textarea>', body)
    assert re.search(r'<option selected value="partly_changed">|<option value="partly_changed" selected', body)


def test_extension_decisions_show_reason_days_and_current_due_date(app, dbs, pii, city):
    case = submit_case(dbs, pii)
    today = local_today()
    act(dbs, pii, city.clerk, case.id, "accept", today=today)
    act(dbs, pii, city.clerk, case.id, "request_extension", today=today, days=15, reason="需调取下级缴费记录。")
    leader = sign_in(app, city.petitions_leader)
    from tests.portal.cases.conftest import open_deadline

    due = open_deadline(dbs, case.id, "whole_review").due_on.isoformat()
    for action in ("approve_extension", "deny_extension"):
        subject = subject_of(leader.get(f"/staff/cases/{case.id}/actions/{action}"))
        assert "需调取下级缴费记录。" in subject and ">15<" in subject and due in subject


def test_reject_prefills_the_bureaus_standard_texts(app, dbs, pii, city):
    from portal.roles import Role
    from tests.helpers import make_staff

    case = submit_case(dbs, pii)
    admin = make_staff(dbs, "220100", Role.bureau_admin, username="cc_admin_texts")
    admin_browser = sign_in(app, admin)
    listing = admin_browser.get("/staff/admin/refusal-texts")
    assert listing.status_code == 200 and "已经或者依法应当通过仲裁途径解决" in text_of(listing)
    page = admin_browser.get("/staff/admin/refusal-texts/edit?reason=arbitration")
    token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', text_of(page)).group(1)
    saved = admin_browser.post(
        "/staff/admin/refusal-texts/edit?reason=arbitration",
        data={
            "csrf_token": token,
            "explanation": "本局说明：属劳动争议仲裁事项。",
            "remedy": "请向长春市劳动人事争议仲裁委员会申请仲裁。",
        },
    )
    assert saved.status_code == 302
    edit = "/staff/admin/refusal-texts/edit?reason=arbitration"
    bad = admin_browser.post(edit, data={"csrf_token": token, "explanation": "", "remedy": "x"})
    assert bad.status_code == 400
    assert admin_browser.get("/staff/admin/refusal-texts/edit?reason=nonsense").status_code == 404
    assert "本局说明：属劳动争议仲裁事项。" in text_of(admin_browser.get("/staff/admin/refusal-texts"))

    clerk = sign_in(app, city.clerk)
    form = clerk.get(f"/staff/cases/{case.id}/actions/reject")
    body = text_of(form)
    assert "本局说明：属劳动争议仲裁事项。" in body  # the texts of every reason ride along for the script
    assert 'src="/static/refusal.js"' in body
    # Without JavaScript: "use the standard text" fills both fields for the chosen reason, changing nothing else.
    token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', body).group(1)
    version = re.search(r'name="expected_version"[^>]*value="(\d+)"', body).group(1)
    filled = clerk.post(
        f"/staff/cases/{case.id}/actions/reject",
        data={"csrf_token": token, "expected_version": version, "reason": "arbitration", "standard": "1"},
    )
    text = text_of(filled)
    assert re.search(r'<textarea[^>]*name="explanation"[^>]*>\s*本局说明：属劳动争议仲裁事项。</textarea>', text)
    assert re.search(r'<textarea[^>]*name="remedy"[^>]*>\s*请向长春市劳动人事争议仲裁委员会申请仲裁。</textarea>', text)
    assert case_row(dbs, case.id).state.value == "submitted"
    # Edited for this case, then taken: the case's own words are recorded.
    done = act_page(
        clerk,
        case.id,
        "reject",
        {"reason": "arbitration", "explanation": "本局说明：属劳动争议仲裁事项。", "remedy": "请于六十日内申请仲裁。"},
    )
    assert done.status_code == 302, alert(done)
    assert case_row(dbs, case.id).state.value == "not_accepted"


def test_the_header_counts_unread_notifications(app, dbs, pii, city):
    from portal.notify.operations import notify_staff
    from tenants.scoping import system_scope

    clerk = sign_in(app, city.clerk)
    assert '<span class="count"' not in text_of(clerk.get("/staff/cases"))
    with system_scope(dbs):
        for n in range(3):
            notify_staff(dbs, [(city.bureau_id, city.clerk.id)], kind="reminder", params={}, dedupe_key=f"t{n}")
        dbs.commit()
    body = text_of(clerk.get("/staff/cases"))
    assert re.search(r'<span class="count"[^>]*>3</span>', body)
    assert "/staff/ops/notifications" in body


def test_the_page_and_the_api_offer_the_same_choices(app, dbs, pii, city):
    """One place builds both: every select and checkbox list of the slip form matches the API's `choices`."""
    from tests.portal.test_api_staff import Api

    case = submit_case(dbs, pii)
    act(dbs, pii, city.clerk, case.id, "accept", today=local_today())
    body = text_of(sign_in(app, city.clerk).get(f"/staff/cases/{case.id}/actions/submit_slip"))
    api = Api(app, city.clerk).get(f"/staff/cases/{case.id}").get_json()
    choices = next(a for a in api["allowed_actions"] if a["action"] == "submit_slip")["choices"]
    assert set(choices) == {"complexity", "lead_unit_id", "assisting_unit_ids", "approver_id"}
    for name, items in choices.items():
        if name in ("complexity", "lead_unit_id", "approver_id"):
            select = re.search(rf'<select[^>]*name="{name}".*?</select>', body, re.S).group(0)
            on_page = [v for v in re.findall(r'<option[^>]*value="([^"]*)"', select) if v]
        else:
            on_page = re.findall(rf'<input[^>]*name="{name}"[^>]*value="([^"]*)"', body)
        assert on_page == [str(c.get("id", c.get("value"))) for c in items], name


def test_a_lapsed_extension_request_is_marked_on_the_pages_and_cannot_be_decided(app, dbs, pii, city):
    """§三 (issue 14, rule 4): a request not decided by the whole review's last day lapses; the case stays overdue."""
    from datetime import timedelta

    from tests.portal.test_api_staff import _move_whole_review_due
    from tests.staff_site.conftest import post_action

    case = submit_case(dbs, pii)
    today = local_today()
    act(dbs, pii, city.clerk, case.id, "accept", today=today)
    _move_whole_review_due(dbs, case.id, today)
    act(dbs, pii, city.clerk, case.id, "request_extension", today=today, days=12, reason="需调取下级缴费记录。")
    leader = sign_in(app, city.business_leader)
    assert "12日，待领导审批" in text_of(leader.get(f"/staff/cases/{case.id}"))
    _move_whole_review_due(dbs, case.id, today - timedelta(days=1))

    body = text_of(leader.get(f"/staff/cases/{case.id}"))
    assert "已失效" in body and "申请延期12日" in body and "该事项已超期" in body and "待领导审批" not in body
    assert f"/staff/cases/{case.id}/actions/approve_extension" not in body
    page = leader.get(f"/staff/cases/{case.id}/actions/approve_extension")
    assert page.status_code == 409 and "延期申请已失效" in alert(page)
    version = case_row(dbs, case.id).version
    refused = post_action(leader, case.id, "approve_extension", {"days": "12", "comment": "同意。"}, version)
    assert refused.status_code == 409 and "延期申请已失效" in alert(refused)
    assert case_row(dbs, case.id).pending_extension_days == 12 and case_row(dbs, case.id).version == version
    queue = text_of(sign_in(app, city.clerk).get("/staff/cases?view=all"))
    assert "延期申请已失效" in queue
