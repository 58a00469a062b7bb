"""A real browser (Playwright driving Debian's Chromium) fills and submits the application on a phone-sized screen.

Skipped only when no Chromium is installed (``.ci/run`` installs it). Playwright's own browser downloads are never
used: the test points Playwright at the system's Chromium.
"""

from __future__ import annotations

from datetime import timedelta

import pytest

from portal.cases.queries import local_today
from tenants.tree import get_bureau
from tests.browser.conftest import CHROMIUM, PHONE
from tests.public_site.helpers import VALID_ID, case_by_number, case_files, pdf_bytes, png_bytes

pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="Chromium is not installed (apt-get install -y chromium)")


def _next(page) -> None:
    page.locator("button[name=go][value=next]:not(.visually-hidden)").click()


def test_apply_on_a_phone_and_read_the_receipt(live_server, browser_page, dbs, tmp_path):
    page = browser_page
    county = get_bureau(dbs, "220102")
    page.goto(f"{live_server}/")
    page.locator("a[href='/apply']").first.click()

    # 1. What is disputed: the bureau from the grouped list, and the kind of opinion.
    page.select_option("select[name='disputed.bureau_id']", str(county.id))
    page.locator("input[name='disputed.opinion_kind'][value=handling]").check()
    page.screenshot(path=tmp_path / "1-dispute.png")
    _next(page)

    # 2. Who applies; a wrong check digit first, shown beside the field, nothing else lost.
    page.fill("input[name='petitioner.name']", "张三")
    page.fill("input[name='petitioner.id_number']", "110105194912310021")
    page.fill("input[name='petitioner.phone']", "13800138000")
    page.fill("input[name='petitioner.address']", "长春市南关区人民大街1号")
    _next(page)
    assert page.locator("#err-petitioner-id_number").is_visible()
    assert page.input_value("input[name='petitioner.address']") == "长春市南关区人民大街1号"
    page.fill("input[name='petitioner.id_number']", VALID_ID)
    page.screenshot(path=tmp_path / "2-petitioner.png", full_page=True)
    page.keyboard.press("Enter")  # Enter in a field means "next"

    # 3. The opinion.
    page.wait_for_selector("input[name='disputed.document_number']")
    page.fill("input[name='disputed.document_number']", "南社保信〔2026〕3号")
    page.fill("input[name='disputed.issued_on']", (local_today() - timedelta(days=5)).isoformat())
    page.fill("input[name='disputed.received_on']", (local_today() - timedelta(days=3)).isoformat())
    _next(page)

    # 4. Request, facts and reasons.
    page.fill("textarea[name=request]", "请求撤销处理意见，重新核定养老金。")
    page.fill("textarea[name=facts_and_reasons]", "处理意见认定事实不清。")
    _next(page)

    # 5. Two attachments.
    first, second = tmp_path / "处理意见书.pdf", tmp_path / "照片.png"
    first.write_bytes(pdf_bytes())
    second.write_bytes(png_bytes())
    page.set_input_files("input[name=file]", [str(first), str(second)])
    page.locator("button[name=go][value=upload]").click()
    page.wait_for_selector("text=照片.png")
    page.screenshot(path=tmp_path / "5-files.png", full_page=True)
    _next(page)

    # 6. Review: the handling bureau and the acceptance deadline in words; then submit.
    page.wait_for_selector("button[name=go][value=submit]")
    city = get_bureau(dbs, "220100")
    assert city.name in page.content()
    page.screenshot(path=tmp_path / "6-review.png", full_page=True)
    page.locator("button[name=go][value=submit]").click()

    # The receipt: number and one-time access code.
    page.wait_for_selector("#access-code")
    number = page.inner_text("#case-number").strip()
    code = page.inner_text("#access-code").strip()
    page.screenshot(path=tmp_path / "7-receipt.png", full_page=True)
    assert len(code) == 14
    case = case_by_number(dbs, number)
    assert case is not None and case.tenant_id == city.id
    assert sorted(f.filename for f in case_files(dbs, case)) == ["处理意见书.pdf", "照片.png"]
    # Nothing overflows the phone's width.
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]

    # Track with the code from a fresh session.
    page.context.clear_cookies()
    page.goto(f"{live_server}/track")
    page.fill("input[name=number]", number)
    page.fill("input[name=code]", code)
    page.locator("form[action='/track'] button[type=submit]").click()
    page.wait_for_selector("h1.state")
    assert "已收到您的申请" in page.inner_text("h1.state")
