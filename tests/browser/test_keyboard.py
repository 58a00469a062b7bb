"""Keyboard only: a petitioner completes an application, and a leader instructs a reading slip, with Tab, typing,
arrow keys, Space and Enter; no mouse, no pointer. Every stop shows its focus, in the page's reading order."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from portal.cases.queries import local_today
from tests.browser.conftest import CHROMIUM
from tests.public_site.helpers import VALID_ID, case_by_number

pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="Chromium is not installed (apt-get install -y chromium)")


def tab_to(page, selector: str, limit: int = 60) -> None:
    """Press Tab until ``selector`` has the focus; fail if the keyboard cannot reach it."""
    for _ in range(limit):
        page.keyboard.press("Tab")
        if page.evaluate("s => document.activeElement && document.activeElement.matches(s)", selector):
            return
    raise AssertionError(f"Tab never reaches {selector}")


def type_into(page, selector: str, text: str) -> None:
    tab_to(page, selector)
    page.keyboard.type(text)


@pytest.fixture
def page():
    """A desktop browser in Chinese (its date fields then read year, month, day)."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"])
        context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="zh-CN")
        yield context.new_page()
        context.close()
        browser.close()


def test_an_application_by_keyboard_alone(live_server, page, dbs):
    page.goto(f"{live_server}/apply")

    # The first Tab reaches the skip link, which is shown when focused and moves to the content.
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.classList.contains('skip-link')")
    assert page.locator(".skip-link").is_visible()
    page.keyboard.press("Enter")
    assert page.evaluate("document.activeElement.id") == "main"

    # 1. The bureau (type-ahead on the focused list) and the kind of opinion (Space on the radio).
    tab_to(page, "select[name='disputed.bureau_id']")
    chosen = "select[name='disputed.bureau_id'] option:checked"
    for _ in range(100):  # arrow down the closed list to the bureau
        if page.locator(chosen).inner_text() == "南关区社会保险局":
            break
        page.keyboard.press("ArrowDown")
    assert page.locator(chosen).inner_text() == "南关区社会保险局"
    tab_to(page, "input[name='disputed.opinion_kind']")
    page.keyboard.press("Space")  # the first choice: the handling opinion
    assert page.locator("input[value=handling]").is_checked()
    page.keyboard.press("Enter")  # Enter means "next"

    # 2. About you; a mistake first: the error summary takes the focus and links to the field.
    page.wait_for_selector("input[name='petitioner.name']")
    type_into(page, "input[name='petitioner.name']", "张三")
    type_into(page, "input[name='petitioner.id_number']", "110105194912310021")  # wrong check digit
    type_into(page, "input[name='petitioner.phone']", "13800138000")
    type_into(page, "input[name='petitioner.address']", "长春市南关区人民大街1号")
    page.keyboard.press("Enter")
    page.wait_for_selector(".error-summary")
    page.wait_for_load_state()
    assert page.evaluate("document.activeElement.classList.contains('error-summary')")
    assert page.title().startswith("1处错误")
    field = page.locator("input[name='petitioner.id_number']")
    assert field.get_attribute("aria-invalid") == "true"
    assert "err-petitioner-id_number" in field.get_attribute("aria-describedby")
    tab_to(page, ".error-summary a")
    page.keyboard.press("Enter")  # the link goes to the field
    page.wait_for_function("document.activeElement.name === 'petitioner.id_number'")
    page.keyboard.press("Control+A")
    page.keyboard.type(VALID_ID)
    page.keyboard.press("Enter")

    # 3. The opinion.
    page.wait_for_selector("input[name='disputed.document_number']")
    type_into(page, "input[name='disputed.document_number']", "南社保信〔2026〕3号")
    issued, received = local_today() - timedelta(days=5), local_today() - timedelta(days=3)
    for name, day in (("disputed.issued_on", issued), ("disputed.received_on", received)):
        tab_to(page, f"input[name='{name}']")
        page.keyboard.type(
            day.strftime("%Y%m%d") if page.get_attribute(f"input[name='{name}']", "type") == "date" else day.isoformat()
        )
    page.keyboard.press("Enter")

    # 4. Request, facts and reasons; then the Next button by keyboard (Enter in a text area is a new line).
    page.wait_for_selector("textarea[name=request]")
    type_into(page, "textarea[name=request]", "请求撤销处理意见。")
    type_into(page, "textarea[name=facts_and_reasons]", "处理意见认定事实不清。")
    tab_to(page, "button[name=go][value=next]:not(.visually-hidden)")
    page.keyboard.press("Enter")

    # 5. No files; Next.
    page.wait_for_selector("input[type=file]")
    tab_to(page, "button[name=go][value=next]:not(.visually-hidden)")
    page.keyboard.press("Enter")

    # 6. Review: the step indicator says where we are; submit by keyboard.
    page.wait_for_selector("button[name=go][value=submit]")
    assert page.locator("[aria-current=step]").count() == 1
    assert "第6步（共6步）" in page.inner_text(".progress")
    tab_to(page, "button[name=go][value=submit]")
    page.keyboard.press("Enter")

    page.wait_for_selector("#access-code")
    case = case_by_number(dbs, page.inner_text("#case-number").strip())
    assert case is not None and case.petitioner_name == "张三"


# --- Staff: a leader instructs a reading slip by keyboard alone ---------------------------------------------------

# The focused element, whether its focus ring shows (an outline of at least 2 px on a visible box), and whether it
# comes after the element focused before on this page (Tab follows the reading order: no positive tabindex).
_FOCUS = """() => {
  const e = document.activeElement;
  const s = getComputedStyle(e);
  const r = e.getBoundingClientRect();
  const before = window.__focusedBefore;
  const after = !before || !!(before.compareDocumentPosition(e) & Node.DOCUMENT_POSITION_FOLLOWING);
  window.__focusedBefore = e;
  return {
    ring: s.outlineStyle !== 'none' && parseFloat(s.outlineWidth) >= 2 && r.width > 0 && r.height > 0,
    inOrder: after,
    what: e.tagName + ' ' + (e.name || e.getAttribute('href') || e.textContent.trim().slice(0, 20)),
  };
}"""


def tab_visibly_to(page, selector: str, limit: int = 60) -> None:
    """Press Tab until ``selector`` has the focus; every stop on the way shows its focus and follows the one before."""
    for _ in range(limit):
        page.keyboard.press("Tab")
        stop = page.evaluate(_FOCUS)
        assert stop["ring"], f"no visible focus on {stop['what']}"
        assert stop["inOrder"], f"Tab went back up the page to {stop['what']}"
        if page.evaluate("s => document.activeElement.matches(s)", selector):
            return
    raise AssertionError(f"Tab never reaches {selector}")


def press_and_wait(page, key: str) -> None:
    with page.expect_navigation():
        page.keyboard.press(key)


def test_a_leader_instructs_a_slip_by_keyboard_alone(live_server, page, dbs, app):
    from portal.cases.models import CaseEvent
    from portal.workflow import CaseState, Complexity
    from tenants.scoping import system_scope
    from tests.browser.test_staff_decisions import slip_submitted
    from tests.helpers import PASSWORD
    from tests.portal.cases.conftest import staff_bureau
    from tests.staff_site.conftest import case_row

    city = staff_bureau(dbs, "220100", "cc")
    case = slip_submitted(dbs, app.extensions["portal.pii"], city)

    # Sign in: the two fields in order, Enter sends.
    page.goto(f"{live_server}/staff/login")
    tab_visibly_to(page, "input[name=username]")
    page.keyboard.type("cc_pl")
    tab_visibly_to(page, "input[name=password]", limit=1)  # the very next stop
    page.keyboard.type(PASSWORD)
    press_and_wait(page, "Enter")

    # To the work queue (the header's link), then the case, then its "instruct" action.
    tab_visibly_to(page, "a[href='/staff/cases']")
    press_and_wait(page, "Enter")
    page.keyboard.press("Tab")  # the skip link comes first and jumps over the header
    assert page.evaluate("document.activeElement.classList.contains('skip-link')")
    page.keyboard.press("Enter")
    assert page.evaluate("document.activeElement.id") == "main"
    tab_visibly_to(page, f"main a[href='/staff/cases/{case.id}']", limit=20)
    press_and_wait(page, "Enter")
    tab_visibly_to(page, f"a[href='/staff/cases/{case.id}/actions/instruct']")
    press_and_wait(page, "Enter")

    # The form: the instruction, complexity by arrow key, an assisting unit by Space, then the button.
    tab_visibly_to(page, "textarea[name=instruction]")
    page.keyboard.type("同意拟办意见。案情重大，请养老保险处牵头，工伤保险处、稽核处协助。")
    tab_visibly_to(page, "select[name=complexity]", limit=1)
    assert page.input_value("select[name=complexity]") == "complex"  # the clerk's proposal, pre-selected
    page.keyboard.press("ArrowDown")
    assert page.input_value("select[name=complexity]") == "major"
    tab_visibly_to(page, "select[name=lead_unit_id]", limit=1)
    assert page.input_value("select[name=lead_unit_id]") == str(city.pension_unit)
    injury = page.locator("label", has_text="工伤保险处").locator("input[name=assisting_unit_ids]")
    injury_id = int(injury.get_attribute("value"))
    tab_visibly_to(page, f"input[name=assisting_unit_ids][value='{injury_id}']", limit=10)
    page.keyboard.press("Space")
    assert injury.is_checked()
    tab_visibly_to(page, "main form button.button[type=submit]", limit=10)
    press_and_wait(page, "Enter")

    # The outcome takes the focus, and the instruction is recorded as given.
    page.wait_for_function("document.activeElement && document.activeElement.classList.contains('flash')")
    stored = case_row(dbs, case.id)
    assert stored.state is CaseState.instructed and stored.complexity is Complexity.major
    assert stored.lead_unit_id == city.pension_unit
    assert sorted(stored.assisting_unit_ids) == sorted([city.audit_unit, injury_id])
    with system_scope(dbs):
        event = dbs.scalar(select(CaseEvent).where(CaseEvent.case_id == case.id, CaseEvent.action == "instruct"))
    assert event.actor_id == city.petitions_leader.id and "工伤保险处、稽核处协助" in str(event.fields)
