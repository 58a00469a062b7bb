"""Issue 14 on the staff pages: paper receipt dates, delivery, the late reason pre-selected, duplicates marked."""

from __future__ import annotations

import html as htmlmod
import re
from datetime import timedelta

from portal.cases.queries import local_today
from portal.cases.refusal_texts import DEFAULT_TEXTS, save_standard_text
from portal.workflow import CaseState
from tenants.scoping import scope_for_bureau, scoped
from tenants.tree import get_bureau
from tests.portal.cases.conftest import drive
from tests.staff_site.conftest import act_page, case_row, pdf_bytes, sign_in, submit_case
from tests.staff_site.test_intake import _cases, _form, _post


def test_paper_intake_asks_when_the_bureau_received_it_and_refuses_a_future_date(app, dbs, city):
    clerk = sign_in(app, city.clerk)
    form = clerk.get("/staff/intake/paper").get_data(as_text=True)
    today = local_today()
    assert 'name="application_received_on"' in form and f'value="{today.isoformat()}"' in form
    assert 'name="filed_on"' in form
    scan = [("申请书扫描.pdf", pdf_bytes("scan"))]
    future = _post(
        clerk,
        "/staff/intake/paper",
        _form(dbs, application_received_on=(today + timedelta(days=1)).isoformat()),
        files=scan,
    )
    assert future.status_code == 422 and "不能晚于今天" in future.get_data(as_text=True)
    assert _cases(dbs) == []
    received = today - timedelta(days=2)
    done = _post(
        clerk,
        "/staff/intake/paper",
        _form(dbs, application_received_on=received.isoformat(), filed_on=(today - timedelta(days=3)).isoformat()),
        files=scan,
    )
    assert done.status_code == 200, done.get_data(as_text=True)
    [case] = _cases(dbs)
    assert (case.received_on, case.filed_on) == (received, today - timedelta(days=3))


def test_a_late_application_has_the_late_reason_and_its_standard_texts_pre_selected(app, dbs, pii, city):
    today = local_today()
    case = submit_case(
        dbs,
        pii,
        issued_on=today - timedelta(days=60),
        received_on=today - timedelta(days=58),
    )
    assert case_row(dbs, case.id).late_application
    clerk = sign_in(app, city.clerk)
    queue = clerk.get("/staff/cases").get_data(as_text=True)
    assert "超期" in queue
    form = htmlmod.unescape(clerk.get(f"/staff/cases/{case.id}/actions/reject").get_data(as_text=True))
    assert '<option selected value="late">' in form or 'value="late" selected' in form
    explanation, remedy = DEFAULT_TEXTS["late"]
    assert explanation in form and remedy in form and "《信访工作条例》第三十五条" in explanation
    # The bureau's own wording of the late reason, once an administrator saved it, is what the form starts from.
    with scoped(dbs, scope_for_bureau(dbs, city.bureau_id)):
        own = {"explanation": "本局说明：逾期。", "remedy": "本局途径：书面说明理由。"}
        save_standard_text(dbs, city.bureau_id, "late", own["explanation"], own["remedy"], updated_by="admin")
        dbs.commit()
    form = htmlmod.unescape(clerk.get(f"/staff/cases/{case.id}/actions/reject").get_data(as_text=True))
    assert "本局说明：逾期。" in form and "本局途径：书面说明理由。" in form
    # The pre-filled form, as it stands (the helper posts only the hidden fields: the rest as shown).
    response = act_page(clerk, case.id, "reject", {"reason": "late", **own})
    assert response.status_code in (302, 303), response.get_data(as_text=True)[:500]
    assert case_row(dbs, case.id).reject_reason == "late"


def test_a_repeat_after_a_final_re_review_has_its_reason_and_standard_texts_pre_selected(app, dbs, pii, province):
    """§四.14 (b): staff see the earlier re-review and the `repeat_after_re_review` reason pre-selected."""
    from tests.portal.cases.conftest import submit

    city = get_bureau(dbs, "220100").id
    disputed = {"disputed_bureau_id": city, "opinion_kind": "review", "document_number": "长社保信复〔2026〕1号"}
    earlier = submit(dbs, pii, **disputed).case
    drive(dbs, pii, province, earlier.id, CaseState.replied)
    again = submit_case(dbs, pii, **disputed)
    assert case_row(dbs, again.id).repeat_of_case_number == earlier.number
    clerk = sign_in(app, province.clerk)
    case_page = clerk.get(f"/staff/cases/{again.id}").get_data(as_text=True)
    assert earlier.number in case_page
    form = htmlmod.unescape(clerk.get(f"/staff/cases/{again.id}/actions/reject").get_data(as_text=True))
    assert re.search(r'<option selected value="repeat_after_re_review">|value="repeat_after_re_review" selected', form)
    explanation, remedy = DEFAULT_TEXTS["repeat_after_re_review"]
    assert explanation in form and remedy in form


def test_delivery_is_recorded_on_the_case_page_and_starts_the_window(app, dbs, pii, city):
    case = submit_case(dbs, pii)
    today = local_today()
    drive(dbs, pii, city, case.id, CaseState.replied, today=today)
    clerk = sign_in(app, city.clerk)
    page = clerk.get(f"/staff/cases/{case.id}").get_data(as_text=True)
    assert "尚未登记送达" in page and "/actions/record_delivery" in page
    early = act_page(
        clerk, case.id, "record_delivery", {"method": "post", "delivered_on": (today - timedelta(days=1)).isoformat()}
    )
    assert early.status_code == 422 and "签发日期" in early.get_data(as_text=True)
    assert case_row(dbs, case.id).delivered_on is None
    done = act_page(clerk, case.id, "record_delivery", {"method": "post", "delivered_on": today.isoformat()})
    assert done.status_code in (302, 303), done.get_data(as_text=True)[:500]
    page = clerk.get(f"/staff/cases/{case.id}").get_data(as_text=True)
    assert "邮寄送达" in page and "申请复核期限" in page


def test_the_queue_marks_a_confirmed_duplicate(app, dbs, pii, city):
    first = submit_case(dbs, pii)
    second = submit_case(dbs, pii, confirm_duplicate=True)
    assert case_row(dbs, second.id).duplicate_of_case_number == first.number
    clerk = sign_in(app, city.clerk)
    queue = clerk.get("/staff/cases").get_data(as_text=True)
    assert f"与 {first.number} 重复" in queue
    page = clerk.get(f"/staff/cases/{second.id}").get_data(as_text=True)
    assert 'id="same-matter"' in page and first.number in page
