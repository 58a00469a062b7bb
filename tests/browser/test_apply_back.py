"""The browser's Back button, a reload and the language switch keep the application (issue 15, item 12).

Before, each step was the answer of a POST: Back gave Chromium's "Confirm Form Resubmission" (ERR_CACHE_MISS, the
pages are ``no-store``), and "English" at step 3 lost the form. Now each step is a GET built from the draft.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from portal.cases.queries import local_today
from portal.petitioners.drafts import ApplicationDraft
from tenants.tree import get_bureau
from tests.browser.conftest import CHROMIUM
from tests.public_site.helpers import VALID_ID, case_by_number

pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="Chromium is not installed (apt-get install -y chromium)")

ISSUED = (local_today() - timedelta(days=5)).isoformat()
RECEIVED = (local_today() - timedelta(days=3)).isoformat()


@pytest.fixture
def page():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"])
        context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="zh-CN")
        yield context.new_page()
        context.close()
        browser.close()


def _next(page) -> None:
    with page.expect_navigation():
        page.locator("button[name=go][value=next]:not(.visually-hidden)").click()


def _drafts(dbs) -> int:
    dbs.rollback()  # a fresh snapshot: the server thread commits on its own connections
    return dbs.scalar(select(func.count()).select_from(ApplicationDraft))


def _petitioner_kept(page) -> None:
    assert page.input_value("input[name='petitioner.name']") == "张三"
    assert page.input_value("input[name='petitioner.id_number']") == VALID_ID
    assert page.input_value("input[name='petitioner.phone']") == "13800138000"
    assert page.input_value("input[name='petitioner.address']") == "长春市南关区人民大街1号"


def _opinion_kept(page, number: str) -> None:
    assert page.input_value("input[name='disputed.document_number']") == number
    assert page.input_value("input[name='disputed.issued_on']") == ISSUED
    assert page.input_value("input[name='disputed.received_on']") == RECEIVED


def test_back_reload_and_the_language_switch_keep_every_answer(live_server, page, dbs):
    county = get_bureau(dbs, "220102")
    page.goto(f"{live_server}/apply")
    page.select_option("select[name='disputed.bureau_id']", str(county.id))
    page.locator("input[name='disputed.opinion_kind'][value=handling]").check()
    _next(page)
    page.fill("input[name='petitioner.name']", "张三")
    page.fill("input[name='petitioner.id_number']", VALID_ID)
    page.fill("input[name='petitioner.phone']", "13800138000")
    page.fill("input[name='petitioner.address']", "长春市南关区人民大街1号")
    _next(page)
    page.fill("input[name='disputed.document_number']", "南社保信〔2026〕3号")
    page.fill("input[name='disputed.issued_on']", ISSUED)
    page.fill("input[name='disputed.received_on']", RECEIVED)
    _next(page)
    assert page.url.endswith("/apply/request")

    # Back: each page comes again from the server (never a form to re-send), filled in.
    response = page.go_back()
    assert response.ok and response.url.endswith("/apply/opinion")
    assert response.headers["cache-control"] == "no-store"
    _opinion_kept(page, "南社保信〔2026〕3号")
    assert page.go_back().ok
    _petitioner_kept(page)
    assert page.go_back().ok
    assert page.locator("select[name='disputed.bureau_id'] option:checked").inner_text() == county.name
    assert page.locator("input[value=handling]").is_checked()
    page.go_forward()
    page.go_forward()
    _opinion_kept(page, "南社保信〔2026〕3号")

    # The language switch at step 3, with a change typed but not yet sent: kept, and the page is in English.
    page.fill("input[name='disputed.document_number']", "南社保信〔2026〕4号")
    with page.expect_navigation():
        page.locator("nav.lang a[hreflang=en]").click()
    page.wait_for_selector("html[lang=en]")
    assert "The opinion you received" in page.inner_text("h1")
    _opinion_kept(page, "南社保信〔2026〕4号")
    # A reload shows the same (no resubmission), and so does Back to the step before.
    assert page.reload().ok
    _opinion_kept(page, "南社保信〔2026〕4号")
    assert page.go_back().ok  # history: step 3 in Chinese, before the switch
    _opinion_kept(page, "南社保信〔2026〕4号")
    page.goto(f"{live_server}/apply/petitioner")
    _petitioner_kept(page)
    assert page.locator("html").get_attribute("lang") == "en"

    # On to the end; the draft is one row until the submission, then none.
    page.goto(f"{live_server}/apply/request")
    page.fill("textarea[name=request]", "请求撤销处理意见。")
    page.fill("textarea[name=facts_and_reasons]", "处理意见认定事实不清。")
    _next(page)
    _next(page)  # no files
    assert page.url.endswith("/apply/review")
    assert _drafts(dbs) == 1
    with page.expect_navigation():
        page.locator("button[name=go][value=submit]").click()
    page.wait_for_selector("#access-code")
    case = case_by_number(dbs, page.inner_text("#case-number").strip())
    assert case.petitioner_name == "张三" and case.disputed_document_number == "南社保信〔2026〕4号"
    assert _drafts(dbs) == 0

    # Back from the receipt: not the submitted application again, but a new one, empty.
    assert page.go_back().ok
    assert page.url.endswith("/apply")
    assert page.locator("select[name='disputed.bureau_id']").input_value() == ""
