"""Never lose typed work to a timeout: a form sent after the session ended is filled in again after signing in."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from portal.identity.operations import end_all_sessions
from portal.roles import Role
from tenants.scoping import system_scope
from tests.browser.conftest import CHROMIUM
from tests.helpers import PASSWORD, make_staff
from tests.portal.cases.conftest import submit

pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="Chromium is not installed (apt-get install -y chromium)")


def _sign_in(page, base, username):
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", PASSWORD)
    page.click("main button[type=submit]")
    page.wait_for_load_state()


def test_text_typed_before_the_session_ended_comes_back_after_signing_in(live_server, browser_page, dbs, app):
    case = submit(dbs, app.extensions["portal.pii"]).case
    clerk = make_staff(dbs, "220100", Role.petition_clerk, unit="petition_office", username="timeout_clerk")
    page = browser_page
    page.set_viewport_size({"width": 1280, "height": 900})
    page.goto(f"{live_server}/staff/login")
    _sign_in(page, live_server, "timeout_clerk")
    page.goto(f"{live_server}/staff/cases/{case.id}/actions/accept")
    assert page.locator("#idle-warning").count() == 1 and not page.locator("#idle-warning").is_visible()
    page.fill("textarea[name=note]", "材料齐全，已逐项核对原件。")

    # The session ends while the clerk is typing (idle timeout, or ended elsewhere).
    with system_scope(dbs):
        assert end_all_sessions(dbs, clerk, now=datetime.now(UTC), reason="idle") == 1
        dbs.commit()
    page.locator("main form button.button[type=submit]").first.click()
    page.wait_for_selector("input[name=password]")  # back at the sign-in page: nothing was accepted
    _sign_in(page, live_server, "timeout_clerk")

    page.wait_for_selector("textarea[name=note]")
    assert page.url.endswith(f"/staff/cases/{case.id}/actions/accept")
    assert page.input_value("textarea[name=note]") == "材料齐全，已逐项核对原件。"
    assert page.locator("#draft-restored").is_visible()
    page.locator("main form button.button[type=submit]").first.click()
    page.wait_for_load_state()
    assert page.locator("text=已受理").first.is_visible()
    page.goto(f"{live_server}/staff/cases/{case.id}/actions/accept")  # once sent, the copy is gone
    assert page.evaluate("Object.keys(sessionStorage).filter(k => k.startsWith('draft:')).length") == 0
