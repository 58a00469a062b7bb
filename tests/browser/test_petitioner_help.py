"""A real browser on a phone: a petitioner rates a reply; large text on the application form; the help block on the
receipt."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from portal.cases.queries import local_today
from portal.supervision.models import SatisfactionRating
from portal.workflow import CaseState
from tenants.contacts import set_contact
from tenants.scoping import TenantScope, scoped, system_scope
from tenants.tree import get_bureau
from tests.browser.conftest import CHROMIUM
from tests.portal.cases.conftest import drive, staff_bureau, submit
from tests.public_site.helpers import VALID_ID

pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="Chromium is not installed (apt-get install -y chromium)")


def _track(page, base, submission):
    page.goto(f"{base}/track")
    page.fill("input[name=number]", submission.case.number)
    page.fill("input[name=code]", submission.access_code)
    page.locator("form[action='/track'] button[type=submit]").click()
    page.wait_for_selector("h1.state")


def test_a_petitioner_rates_the_reply_once(live_server, browser_page, dbs, app, tmp_path):
    pii = app.extensions["portal.pii"]
    city = staff_bureau(dbs, "220100", "cc")
    submission = submit(dbs, pii)
    page = browser_page
    _track(page, live_server, submission)
    assert page.locator("#satisfaction").count() == 0  # nothing to rate before the reply

    drive(dbs, pii, city, submission.case.id, CaseState.replied, today=local_today())
    page.reload()
    section = page.locator("#satisfaction")
    assert section.is_visible()
    section.locator("button[type=submit]").click()  # nothing chosen
    page.wait_for_selector("#err-rating")
    assert page.locator("input[name=rating][aria-invalid=true]").count() == 3
    page.locator("label.choice", has_text="基本满意").click()
    page.fill("#satisfaction textarea[name=comment]", "答复清楚，等待时间稍长。")
    page.screenshot(path=tmp_path / "rating.png", full_page=True)
    page.locator("#satisfaction button[type=submit]").click()
    page.wait_for_selector(".flash")
    page.wait_for_load_state()
    assert "评价已记录" in page.inner_text(".flash")
    assert page.evaluate("document.activeElement.classList.contains('flash')")  # the outcome takes focus
    assert "基本满意" in page.inner_text("#satisfaction") and page.locator("#satisfaction form").count() == 0
    with system_scope(dbs):
        [row] = dbs.scalars(select(SatisfactionRating).where(SatisfactionRating.case_id == submission.case.id))
    assert row.rating == "basically_satisfied" and row.comment == "答复清楚，等待时间稍长。"


def test_large_text_on_the_application_form_keeps_what_was_typed(live_server, browser_page, dbs):
    page = browser_page
    page.goto(f"{live_server}/apply")
    page.select_option("select[name='disputed.bureau_id']", str(get_bureau(dbs, "220102").id))
    page.locator("input[name='disputed.opinion_kind'][value=handling]").check()
    page.locator("button[name=go][value=next]:not(.visually-hidden)").click()
    page.fill("input[name='petitioner.name']", "张三")
    base = page.evaluate("parseFloat(getComputedStyle(document.querySelector('main')).fontSize)")
    switch = page.locator("a.text-size")
    assert switch.get_attribute("aria-pressed") == "false"
    box = switch.bounding_box()
    assert box["height"] >= 44 and box["width"] >= 44  # big enough for a finger
    switch.click()
    large = page.evaluate("parseFloat(getComputedStyle(document.querySelector('main')).fontSize)")
    assert large >= base * 1.2 and switch.get_attribute("aria-pressed") == "true"
    assert page.input_value("input[name='petitioner.name']") == "张三"  # nothing typed is lost
    assert page.evaluate("document.documentElement.scrollWidth") <= 390  # and nothing overflows the phone
    page.fill("input[name='petitioner.id_number']", VALID_ID)
    page.fill("input[name='petitioner.phone']", "13800138000")
    page.fill("input[name='petitioner.address']", "长春市南关区人民大街1号")
    page.locator("button[name=go][value=next]:not(.visually-hidden)").click()
    page.wait_for_selector("input[name='disputed.document_number']")
    assert page.evaluate("document.documentElement.classList.contains('large-text')")  # remembered on the next page
    page.goto(f"{live_server}/track")
    assert page.evaluate("document.documentElement.classList.contains('large-text')")  # and on every page


def test_the_receipt_shows_the_help_block(live_server, browser_page, dbs, tmp_path):
    city = get_bureau(dbs, "220100")
    with scoped(dbs, TenantScope.single(city.id)):
        set_contact(dbs, city, address="长春市人民大街1号 信访接待室", phone="0431-88888888", hours="工作日 8:30-16:30")
        dbs.commit()
    page = browser_page
    page.goto(f"{live_server}/apply")
    page.select_option("select[name='disputed.bureau_id']", str(get_bureau(dbs, "220102").id))
    page.locator("input[name='disputed.opinion_kind'][value=handling]").check()
    page.locator("button[name=go][value=next]:not(.visually-hidden)").click()
    page.fill("input[name='petitioner.name']", "张三")
    page.fill("input[name='petitioner.id_number']", VALID_ID)
    page.fill("input[name='petitioner.phone']", "13800138000")
    page.fill("input[name='petitioner.address']", "长春市南关区人民大街1号")
    page.locator("button[name=go][value=next]:not(.visually-hidden)").click()
    page.fill("input[name='disputed.document_number']", "南社保信〔2026〕3号")
    page.fill("input[name='disputed.issued_on']", (local_today() - timedelta(days=5)).isoformat())
    page.fill("input[name='disputed.received_on']", (local_today() - timedelta(days=3)).isoformat())
    page.locator("button[name=go][value=next]:not(.visually-hidden)").click()
    page.fill("textarea[name=request]", "请求撤销处理意见。")
    page.fill("textarea[name=facts_and_reasons]", "处理意见认定事实不清。")
    page.locator("button[name=go][value=next]:not(.visually-hidden)").click()
    file_control = page.locator("input[type=file]")
    assert file_control.bounding_box()["height"] >= 52  # a large "choose file" control
    page.locator("button[name=go][value=next]:not(.visually-hidden)").click()

    # The review step: numbers masked but for the last four, with a "show" switch; the help block is there.
    page.wait_for_selector("button[name=go][value=submit]")
    masked = page.locator("dd:has(.full-value) .masked-value").first
    assert masked.inner_text().replace("末四位", "").strip().endswith(VALID_ID[-4:])
    assert not page.locator(".full-value").first.is_visible()
    page.locator("details.reveal summary").first.click()
    assert page.locator(".full-value").first.is_visible() and not masked.is_visible()
    assert "0431-88888888" in page.inner_text(".help-block")
    page.locator("button[name=go][value=submit]").click()

    page.wait_for_selector("#access-code")
    block = page.locator(".help-block")
    assert block.is_visible()
    text = block.inner_text()
    assert "长春市社会保险局信访办" in text and "长春市人民大街1号" in text and "工作日 8:30-16:30" in text
    assert block.locator("a[href='tel:043188888888']").is_visible()  # one tap to call
    page.screenshot(path=tmp_path / "receipt.png", full_page=True)
