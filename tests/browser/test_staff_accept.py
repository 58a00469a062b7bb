"""A real browser: a clerk of 长春市 signs in, opens a new application from the queue and accepts it."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from portal.cases.models import Case, Outbox
from portal.roles import Role
from portal.workflow import CaseState
from tenants.scoping import system_scope
from tests.browser.conftest import CHROMIUM
from tests.helpers import PASSWORD, make_staff
from tests.portal.cases.conftest import submit

pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="Chromium is not installed (apt-get install -y chromium)")

DESKTOP = {"width": 1280, "height": 900}


def test_clerk_accepts_an_application_in_the_browser(live_server, browser_page, dbs, app, tmp_path):
    case = submit(dbs, app.extensions["portal.pii"]).case
    make_staff(dbs, "220100", Role.petition_clerk, unit="petition_office", username="browser_clerk")
    page = browser_page
    page.set_viewport_size(DESKTOP)

    page.goto(f"{live_server}/staff/login")
    page.fill("input[name=username]", "browser_clerk")
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.goto(f"{live_server}/staff/cases")
    page.click(f"text={case.number}")
    page.screenshot(path=tmp_path / "case.png", full_page=True)

    page.locator(f"a[href$='/staff/cases/{case.id}/actions/accept']").first.click()
    page.locator("main form button.button[type=submit]").first.click()
    page.wait_for_load_state()
    page.screenshot(path=tmp_path / "accepted.png", full_page=True)
    assert page.locator("text=已受理").first.is_visible()

    with system_scope(dbs):
        dbs.expire_all()
        stored = dbs.scalar(select(Case).where(Case.id == case.id))
        notices = dbs.scalars(select(Outbox.payload).where(Outbox.case_id == case.id, Outbox.kind == "render_document"))
        assert stored.state is CaseState.accepted
        assert [n["document"] for n in notices] == ["acceptance_notice"]
