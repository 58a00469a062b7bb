"""axe-core on every public and staff page, on a phone and a desk, in Chinese and English: no WCAG 2.1 A/AA
violation. At 320 px and at 200% zoom: no horizontal scroll, and no table without its column labels."""

from __future__ import annotations

import pytest

from portal.cases.queries import local_today
from portal.roles import Role
from portal.workflow import CaseState
from tests.browser.a11y import axe_violations, describe
from tests.browser.conftest import CHROMIUM
from tests.helpers import PASSWORD, make_staff
from tests.portal.cases.conftest import drive, staff_bureau, submit

pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="Chromium is not installed (apt-get install -y chromium)")

PHONE = {"viewport": {"width": 390, "height": 844}, "device_scale_factor": 2, "is_mobile": True, "has_touch": True}
DESKTOP = {"viewport": {"width": 1280, "height": 900}}

PUBLIC = ["/", "/apply", "/track", "/account/login", "/account/register"]


@pytest.fixture
def world(dbs, app):
    """A replied case (the tracking page with its rating form), an open one, and staff of 长春市 who see them."""
    pii = app.extensions["portal.pii"]
    city = staff_bureau(dbs, "220100", "cc")
    replied = submit(dbs, pii)
    drive(dbs, pii, city, replied.case.id, CaseState.replied, today=local_today())
    fresh = submit(dbs, pii)
    admin = make_staff(dbs, "220100", Role.bureau_admin, username="a11y_admin")
    security = make_staff(dbs, "220100", Role.security_admin, username="a11y_security")
    return {
        "replied": replied,
        "fresh": fresh,
        "clerk": city.clerk.username,
        "leader": city.petitions_leader.username,
        "admin": admin.username,
        "security": security.username,
        "clerk_id": city.clerk.id,
    }


def staff_pages(world) -> dict[str, list[str]]:
    case_id = world["fresh"].case.id
    return {
        "clerk": [
            "/staff/",
            "/staff/cases",
            f"/staff/cases/{case_id}",
            f"/staff/cases/{case_id}/actions/accept",
            f"/staff/cases/{case_id}/actions/reject",
            "/staff/intake/paper",
            "/staff/ops/notifications",
            "/staff/sessions",
            "/staff/2fa",
        ],
        "leader": [
            "/staff/absences",
            "/staff/supervision/",
            "/staff/supervision/warnings",
            "/staff/supervision/orders",
        ],
        "admin": [
            "/staff/admin/users",
            "/staff/admin/units",
            "/staff/admin/absences",
            "/staff/admin/documents",
            "/staff/admin/contact",
            "/staff/admin/refusal-texts",
            "/staff/admin/refusal-texts/edit?reason=litigation",
            "/staff/ops/messages",  # the queue monitor is the province's alone (issue 18)
            f"/staff/admin/users/{world['clerk_id']}",
        ],
        # The security administrator's account page: roles, sessions and tokens, resets.
        "security": ["/staff/admin/users", f"/staff/admin/users/{world['clerk_id']}", "/staff/identity-admin"],
    }


def _sign_in(page, base, username):
    page.goto(f"{base}/staff/login")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", PASSWORD)
    page.click("main button[type=submit]")
    page.wait_for_load_state()


# The application's later steps are pages of their own (GETs built from the draft): walked with one in progress.
APPLY_STEPS = ["/apply", "/apply/petitioner", "/apply/opinion", "/apply/request", "/apply/files", "/apply/review"]


def _start_application(page, base):
    """Fill the application up to its review through the pages, so that every step has a draft to show."""
    from tests.public_site.helpers import VALID_ID, dates

    def next_step():
        with page.expect_navigation():
            page.locator("button[name=go][value=next]:not(.visually-hidden)").click()

    page.goto(f"{base}/apply")
    page.select_option("select[name='disputed.bureau_id']", label="南关区社会保险局")
    page.locator("input[name='disputed.opinion_kind'][value=handling]").check()
    next_step()
    for name, value in (("name", "张三"), ("id_number", VALID_ID), ("phone", "13800138000"), ("address", "长春市")):
        page.fill(f"input[name='petitioner.{name}']", value)
    next_step()
    page.fill("input[name='disputed.document_number']", "南社保信〔2026〕3号")
    page.fill("input[name='disputed.issued_on']", dates()["issued_on"])
    page.fill("input[name='disputed.received_on']", dates()["received_on"])
    next_step()
    page.fill("textarea[name=request]", "请求撤销处理意见。")
    page.fill("textarea[name=facts_and_reasons]", "处理意见认定事实不清。")
    next_step()
    next_step()
    assert page.url.endswith("/apply/review")


def _track(page, base, case):
    page.goto(f"{base}/track")
    page.fill("input[name=number]", case.case.number)
    page.fill("input[name=code]", case.access_code)
    page.click("main form button[type=submit]")
    page.wait_for_load_state()


@pytest.mark.parametrize("lang", ["zh", "en"])
@pytest.mark.parametrize("device", ["phone", "desktop"])
def test_axe_finds_no_violation_on_any_page(live_server, world, device, lang):
    from playwright.sync_api import sync_playwright

    found: dict[str, list[dict]] = {}
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"])
        try:
            for who in (None, "clerk", "leader", "admin", "security"):
                context = browser.new_context(**(PHONE if device == "phone" else DESKTOP))
                page = context.new_page()
                page.goto(f"{live_server}/?lang={lang}")
                if who is None:
                    pages = list(PUBLIC)
                    _track(page, live_server, world["replied"])
                    pages.append(f"/track/{world['replied'].case.number}")
                    _start_application(page, live_server)
                    pages += APPLY_STEPS
                else:
                    _sign_in(page, live_server, world[who])
                    pages = staff_pages(world)[who]
                for path in pages:
                    response = page.goto(live_server + path)
                    assert response.status == 200, (path, response.status)
                    assert page.locator("html").get_attribute("lang").startswith("en" if lang == "en" else "zh")
                    violations = axe_violations(page)
                    if violations:
                        found[f"{who or 'public'} {path}"] = violations
                context.close()
        finally:
            browser.close()
    assert not found, "\n" + describe(found)


def test_the_audit_sees_a_violation_when_there_is_one(browser_page):
    """The harness itself: axe runs and reports (an image without text, a field without a label)."""
    browser_page.set_content('<html lang="en"><body><main><img src="x.png"><input type="text"></main></body></html>')
    assert {"image-alt", "label"} <= {v["id"] for v in axe_violations(browser_page)}


WIDE_JS = """w => [...document.querySelectorAll('body *')]
  .filter(el => el.getBoundingClientRect().right > w + 1 && el.getBoundingClientRect().width > 0)
  .slice(-4).map(el => el.tagName + '.' + el.className + ' ' + (el.textContent || '').trim().slice(0, 20))"""

NO_LABEL_JS = """() => {
  const bad = [];
  for (const table of document.querySelectorAll('table')) {
    const head = table.querySelector('thead');
    if (head && getComputedStyle(head).display !== 'none') continue;  // the header row is shown
    for (const cell of table.querySelectorAll('tbody td, tbody th')) {
      if (cell.hasAttribute('colspan')) continue;
      if (!(cell.getAttribute('data-label') || '').trim()) bad.push(cell.textContent.trim().slice(0, 30));
    }
  }
  return bad;
}"""


@pytest.mark.parametrize("width", [320, 640], ids=["320px", "200%-zoom"])
def test_no_horizontal_scroll_and_every_table_keeps_its_labels(live_server, world, width):
    """320 CSS px (WCAG 1.4.10), and a 1280 px window at 200% zoom (640 CSS px)."""
    from playwright.sync_api import sync_playwright

    problems = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"])
        try:
            for who in (None, "clerk", "leader", "admin", "security"):
                context = browser.new_context(viewport={"width": width, "height": 800})
                page = context.new_page()
                if who is None:
                    _track(page, live_server, world["replied"])
                    _start_application(page, live_server)
                    pages = [*PUBLIC, f"/track/{world['replied'].case.number}", *APPLY_STEPS]
                else:
                    _sign_in(page, live_server, world[who])
                    pages = staff_pages(world)[who]
                for path in pages:
                    page.goto(live_server + path)
                    page.wait_for_load_state()
                    overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
                    if overflow > 0:
                        wide = page.evaluate(WIDE_JS, width)
                        problems.append(f"{path}: scrolls sideways by {overflow}px: {wide}")
                    unlabeled = page.evaluate(NO_LABEL_JS)
                    if unlabeled:
                        problems.append(f"{path}: table cells without their column label: {unlabeled[:3]}")
                context.close()
        finally:
            browser.close()
    assert not problems, "\n".join(problems)
