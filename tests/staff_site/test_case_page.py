"""The case page: details, deadlines explained, the timeline in words, masked personal data and the recorded
reveal, the escalation chain, and 404 for another bureau's case on every route."""

from __future__ import annotations

import io
import re

from sqlalchemy import select, update

from portal.cases.models import Case, CaseEvent
from portal.cases.queries import explain_deadline, local_today
from portal.roles import Role
from tenants.scoping import system_scope
from tests.helpers import make_staff
from tests.portal.cases.conftest import act, staff_bureau
from tests.staff_site.conftest import alert, case_row, pdf_bytes, post_action, sign_in, submit_case


def _reveal(browser, case_id, reason):
    from tests.helpers import csrf_token

    token = csrf_token(browser, "/staff/")
    return browser.post(f"/staff/cases/{case_id}/personal-data", data={"csrf_token": token, "reason": reason})


def test_page_shows_details_deadlines_and_timeline(app, dbs, pii, city):
    today = local_today()
    case = submit_case(dbs, pii)
    act(dbs, pii, city.clerk, case.id, "accept", today=today, note="材料齐全。")
    act(
        dbs, pii, city.clerk, case.id, "submit_slip", today=today, proposal="建议交养老保险处。", complexity="complex",
        lead_unit_id=city.pension_unit, assisting_unit_ids=[city.audit_unit],
    )  # fmt: skip
    html = sign_in(app, city.clerk).get(f"/staff/cases/{case.id}").get_data(as_text=True)
    assert case.number in html and "南社保信〔2026〕3号" in html and "请求撤销处理意见" in html
    assert "养老保险处" in html and "稽核处" in html and "cc_pl" in html
    # Each open deadline says how it was computed.
    assert "领导批示" in html and "起算5日" in html and "§四.5" in html
    assert "复查办结" in html and "复查复核办结" not in html and "个工作日" in html  # this case is a review
    # The timeline names who did what, with ids turned into names and codes into words.
    assert "填报阅办单" in html and "cc_clerk" in html and "分管信访工作的局领导" in html
    assert "复杂（涉及多个业务处室、单位）" in html
    assert "材料齐全。" in html


def test_explanations_cover_given_dates_extensions_and_recomputation():
    base = {
        "start": "2026-09-10",
        "unit": "working_days",
        "amount": 30,
        "due": "2026-10-30",
        "working_days": 30,
        "skipped": [{"date": "2026-10-01", "reason": "国庆节"}, {"date": "2026-09-12", "reason": "weekend"}],
        "makeup_workdays": [],
        "shifted_from": None,
        "uncovered_years": [],
        "provisional": False,
        "ref": "§三",
    }
    assert explain_deadline(base).startswith("自2026年9月10日起算30个工作日")
    assert "§三" in explain_deadline(base) and "(Rule: §三)" in explain_deadline(base, "en")
    extended = {
        **base,
        "due": "2026-11-20",
        "extension": {"days": 20, "from": "2026-10-30", "start": "2026-10-30", "unit": "days", "amount": 20,
                      "due": "2026-11-19", "working_days": None, "skipped": [], "makeup_workdays": [],
                      "shifted_from": None, "uncovered_years": []},
    }  # fmt: skip
    text = explain_deadline(extended)
    assert "于2026年10月30日届满" in text and "经批准延期20日" in text
    given = {"start": "2026-11-01", "unit": "given", "due": "2026-11-15", "provisional": False, "ref": "§四.11"}
    assert explain_deadline(given) == "期限为调取时指定的2026-11-15。（依据：§四.11）"
    assert "Recomputed" in explain_deadline({**base, "recomputed": True}, "en")
    assert explain_deadline({}) == "" and explain_deadline({"unit": "weird"}) == ""


def test_personal_data_masked_for_non_handlers_and_revealing_is_recorded(app, dbs, pii, city):
    case = submit_case(dbs, pii)
    # The pension division does not handle the case yet (no slip): masked.
    division = sign_in(app, city.division)
    html = division.get(f"/staff/cases/{case.id}").get_data(as_text=True)
    assert "110***********002X" in html and "138****8000" in html and "z***@example.com" in html
    assert "长春市南关区****" in html
    assert "11010519491231002X" not in html and "13800138000" not in html and "人民大街" not in html
    assert "personal-data" in html  # the reveal button
    version = case_row(dbs, case.id).version
    assert _reveal(division, case.id, "").status_code == 422
    response = _reveal(division, case.id, "需电话联系信访人核实缴费情况。")
    assert response.status_code == 200 and response.headers["Cache-Control"] == "no-store"
    shown = response.get_data(as_text=True)
    assert "11010519491231002X" in shown and "13800138000" in shown and "人民大街1号" in shown
    with system_scope(dbs):
        event = dbs.scalars(select(CaseEvent).where(CaseEvent.case_id == case.id).order_by(CaseEvent.seq)).all()[-1]
    assert event.action == "reveal_personal_data" and event.actor_name == city.division.display_name
    assert event.fields == {"reason": "需电话联系信访人核实缴费情况。", "parties": ["petitioner"]}
    assert not event.public
    assert case_row(dbs, case.id).version == version + 1
    # Reloading shows it masked again: each look is one recorded reveal.
    assert "11010519491231002X" not in division.get(f"/staff/cases/{case.id}").get_data(as_text=True)
    # The handlers see it plainly.
    assert "11010519491231002X" in sign_in(app, city.clerk).get(f"/staff/cases/{case.id}").get_data(as_text=True)


def test_administrators_cannot_reveal_and_ancestors_see_it_masked(app, dbs, pii, city, province):
    case = submit_case(dbs, pii)
    admin = make_staff(dbs, "220100", Role.bureau_admin, username="cc_admin_t")
    browser = sign_in(app, admin)
    html = browser.get(f"/staff/cases/{case.id}").get_data(as_text=True)
    assert "110***********002X" in html and "/personal-data" not in html
    response = _reveal(browser, case.id, "好奇。")
    assert response.status_code == 403 and "系统管理员" in response.get_data(as_text=True)
    pv = sign_in(app, province.clerk)
    html = pv.get(f"/staff/cases/{case.id}").get_data(as_text=True)
    assert "110***********002X" in html and "/personal-data" not in html
    assert _reveal(pv, case.id, "督查。").status_code == 404
    assert case_row(dbs, case.id).event_count == 1


def test_another_bureaus_case_is_404_on_every_route(app, dbs, pii, city):
    case = submit_case(dbs, pii)
    clerk = sign_in(app, city.clerk)
    assert post_action(clerk, case.id, "accept", {"note": "x"}, case.version).status_code == 302
    other = staff_bureau(dbs, "220200", "jl")  # 吉林市, a sibling city
    browser = sign_in(app, other.clerk)
    with system_scope(dbs):
        attachment_id = dbs.scalar(select(CaseEvent.id).where(CaseEvent.case_id == case.id))
    for url in (
        f"/staff/cases/{case.id}",
        f"/staff/cases/{case.id}/actions/accept",
        f"/staff/cases/{case.id}/actions/submit_slip",
        f"/staff/cases/{case.id}/attachments/{attachment_id}",
    ):
        assert browser.get(url).status_code == 404, url
    assert post_action(browser, case.id, "record_contact", {"party": "petitioner"}, 2).status_code == 404
    assert _reveal(browser, case.id, "x").status_code == 404
    found = browser.get("/staff/cases?view=all&q=" + case.number).get_data(as_text=True)
    assert f">{case.number}</a>" not in found and "张三" not in found


def test_escalation_chain_shows_only_the_number_outside_the_scope(app, dbs, pii, city):
    earlier = submit_case(dbs, pii)
    other = staff_bureau(dbs, "220200", "jl")
    from tests.isolation_cases import make_case

    foreign = make_case(dbs, other.bureau_id, "foreign-earlier")
    with system_scope(dbs):
        dbs.execute(
            update(Case)
            .where(Case.id == earlier.id)
            .values(earlier_tenant_id=other.bureau_id, earlier_case_id=foreign.id)
        )
        dbs.commit()
    html = sign_in(app, city.clerk).get(f"/staff/cases/{earlier.id}").get_data(as_text=True)
    chain = html.split('id="chain-h"')[1].split("</section>")[0]
    assert foreign.number in chain and f"/staff/cases/{foreign.id}" not in chain
    assert "foreign-earlier" not in html  # nothing else of that case


def test_attachments_are_listed_and_downloaded_through_a_short_link(app, dbs, pii, city):
    today = local_today()
    case = submit_case(dbs, pii)
    for action, payload in [
        ("accept", {}),
        ("submit_slip", {"proposal": "x", "complexity": "simple", "lead_unit_id": city.pension_unit}),
        ("instruct", {"instruction": "同意。"}),
        ("dispatch", {"note": "已交办。"}),
    ]:
        user = city.petitions_leader if action == "instruct" else city.clerk
        act(dbs, pii, user, case.id, action, today=today, **payload)
    division = sign_in(app, city.division)
    response = post_action(
        division,
        case.id,
        "submit_opinion",
        {"opinion": "意见。", "needs_approval": "yes", "files": (io.BytesIO(pdf_bytes()), "审查意见.pdf")},
        case_row(dbs, case.id).version,
    )
    assert response.status_code == 302, alert(response)
    html = division.get(f"/staff/cases/{case.id}").get_data(as_text=True)
    link = re.search(r'href="(/staff/cases/\d+/attachments/\d+)">审查意见.pdf', html).group(1)
    assert division.get(link).status_code == 302
    # A file of the wrong type is refused and nothing is kept.
    act(dbs, pii, city.business_leader, case.id, "return_opinion", today=today, reason="改。")
    bad = post_action(
        division,
        case.id,
        "submit_opinion",
        {"opinion": "意见。", "needs_approval": "yes", "files": (io.BytesIO(b"MZ\x90\x00 not a pdf"), "a.pdf")},
        case_row(dbs, case.id).version,
    )
    assert bad.status_code == 422 and "PDF" in bad.get_data(as_text=True)
    assert case_row(dbs, case.id).state.value == "in_revision"
