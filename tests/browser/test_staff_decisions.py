"""A real browser, phone and desktop: a leader instructs with the proposal in view, a returned draft comes back
filled, a notification arrives and is read, and the reject form fills the standard texts of the chosen reason."""

from __future__ import annotations

import re

import pytest

from portal.cases.queries import local_today
from tests.browser.conftest import CHROMIUM, PHONE
from tests.helpers import PASSWORD
from tests.portal.cases.conftest import act, staff_bureau
from tests.portal.test_api_choices_notifications import deliver_staff_notices
from tests.staff_site.conftest import case_row, submit_case

pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="Chromium is not installed (apt-get install -y chromium)")

DESKTOP = {"width": 1280, "height": 900}
SIZES = pytest.mark.parametrize("viewport", [PHONE, DESKTOP], ids=["phone", "desktop"])


def sign_in(page, live_server: str, username: str) -> None:
    page.context.clear_cookies()
    page.goto(f"{live_server}/staff/login")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_load_state()


def slip_submitted(dbs, pii, city):
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
        proposal="建议交养老保险处审查，稽核处协助。",
        complexity="complex",
        lead_unit_id=city.pension_unit,
        assisting_unit_ids=[city.audit_unit],
    )
    return case


@SIZES
def test_leader_instructs_with_the_proposal_in_view(live_server, browser_page, dbs, app, viewport, tmp_path):
    pii = app.extensions["portal.pii"]
    city = staff_bureau(dbs, "220100", "cc")
    case = slip_submitted(dbs, pii, city)
    page = browser_page
    page.set_viewport_size(viewport)
    sign_in(page, live_server, "cc_pl")
    page.goto(f"{live_server}/staff/cases/{case.id}")
    page.locator(f"a[href$='/staff/cases/{case.id}/actions/instruct']").first.click()
    page.wait_for_load_state()
    subject = page.locator("section.subject")
    assert subject.is_visible()
    assert "建议交养老保险处审查，稽核处协助。" in subject.inner_text()
    assert "复杂" in subject.inner_text() and "稽核处" in subject.inner_text()
    assert page.locator("select[name=lead_unit_id]").input_value() == str(city.pension_unit)
    # The proposal is above the form: in view before the leader writes a word.
    assert subject.bounding_box()["y"] < page.locator("textarea[name=instruction]").bounding_box()["y"]
    page.screenshot(path=tmp_path / "instruct.png", full_page=True)
    page.fill("textarea[name=instruction]", "同意拟办意见，请养老保险处依规审查。")
    page.locator("main form button.button[type=submit]").first.click()
    page.wait_for_load_state()
    assert case_row(dbs, case.id).state.value == "instructed"


@SIZES
def test_a_returned_draft_comes_back_filled(live_server, browser_page, dbs, app, viewport, tmp_path):
    pii = app.extensions["portal.pii"]
    city = staff_bureau(dbs, "220100", "cc")
    case = slip_submitted(dbs, pii, city)
    today = local_today()
    act(dbs, pii, city.petitions_leader, case.id, "instruct", today=today, instruction="同意。")
    act(dbs, pii, city.clerk, case.id, "dispatch", today=today)
    act(
        dbs, pii, city.division, case.id, "submit_opinion", today=today, opinion="原处理意见正确。", needs_approval=True
    )
    page = browser_page
    page.set_viewport_size(viewport)
    sign_in(page, live_server, "cc_bl")
    page.goto(f"{live_server}/staff/cases/{case.id}/actions/return_opinion")
    assert "原处理意见正确。" in page.locator("section.subject").inner_text()
    page.fill("textarea[name=reason]", "请补充政策依据。")
    page.locator("main form button.button[type=submit]").first.click()
    page.wait_for_load_state()

    sign_in(page, live_server, "cc_div")
    page.goto(f"{live_server}/staff/cases/{case.id}/actions/submit_opinion")
    returned = page.locator(".returned")
    assert returned.is_visible()
    assert "请补充政策依据。" in returned.inner_text() and city.business_leader.display_name in returned.inner_text()
    assert page.locator("textarea[name=opinion]").input_value() == "原处理意见正确。"
    assert page.locator("input[name=needs_approval][value=yes]").is_checked()
    page.screenshot(path=tmp_path / "returned.png", full_page=True)
    page.fill("textarea[name=opinion]", "原处理意见正确，依据《社会保险法》第十六条。")
    page.locator("main form button.button[type=submit]").first.click()
    page.wait_for_load_state()
    assert case_row(dbs, case.id).state.value == "awaiting_approval"


@SIZES
def test_a_notification_arrives_and_is_read(live_server, browser_page, dbs, app, viewport, tmp_path):
    pii = app.extensions["portal.pii"]
    city = staff_bureau(dbs, "220100", "cc")
    case = slip_submitted(dbs, pii, city)
    page = browser_page
    page.set_viewport_size(viewport)
    sign_in(page, live_server, "cc_pl")
    page.goto(f"{live_server}/staff/cases")
    assert page.locator(".notifications-link .count").count() == 0
    assert deliver_staff_notices(dbs, pii) == 1  # what the worker does right after the clerk's commit
    page.reload()
    count = page.locator(".notifications-link .count")
    assert count.is_visible() and count.inner_text() == "1"
    page.locator(".notifications-link").click()
    page.wait_for_load_state()
    item = page.locator("li.notification.unread").first
    assert f"案件{case.number}的阅办单待您批示" in item.inner_text()
    page.screenshot(path=tmp_path / "notifications.png", full_page=True)
    item.locator("button", has_text="标为已读").click()
    page.wait_for_load_state()
    assert page.locator("li.notification.unread").count() == 0
    assert page.locator(".notifications-link .count").count() == 0
    # The notification leads to the case, where the instruction waits.
    page.locator(f"li.notification a[href$='/staff/cases/{case.id}']").first.click()
    page.wait_for_load_state()
    assert re.search(rf"/staff/cases/{case.id}$", page.url)


def test_the_reject_form_fills_the_standard_texts(live_server, browser_page, dbs, app):
    pii = app.extensions["portal.pii"]
    staff_bureau(dbs, "220100", "cc")
    case = submit_case(dbs, pii)
    page = browser_page
    page.set_viewport_size(DESKTOP)
    sign_in(page, live_server, "cc_clerk")
    page.goto(f"{live_server}/staff/cases/{case.id}/actions/reject")
    page.select_option("select[name=reason]", "litigation")
    explanation = page.locator("textarea[name=explanation]").input_value()
    assert "诉讼途径解决" in explanation
    assert "人民法院" in page.locator("textarea[name=remedy]").input_value()
    # A text the clerk wrote is never overwritten by another reason's standard text.
    page.fill("textarea[name=remedy]", "本案：请向南关区人民法院起诉。")
    page.select_option("select[name=reason]", "arbitration")
    assert "仲裁途径解决" in page.locator("textarea[name=explanation]").input_value()
    assert page.locator("textarea[name=remedy]").input_value() == "本案：请向南关区人民法院起诉。"
