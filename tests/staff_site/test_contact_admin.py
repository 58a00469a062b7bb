"""The administrator edits the bureau's contact block at /staff/admin/contact (the province also the committee's)."""

from __future__ import annotations

import pytest

from portal.roles import Role
from tenants.contacts import get_committee_contact, get_contact
from tenants.scoping import system_scope
from tenants.tree import get_bureau
from tests.helpers import csrf_token, make_staff
from tests.staff_site.conftest import sign_in

PAGE = "/staff/admin/contact"


def _post(browser, data):
    return browser.post(PAGE, data={"csrf_token": csrf_token(browser, PAGE), **data})


def _contact(dbs, adcode):
    with system_scope(dbs):
        dbs.expire_all()
        return get_contact(dbs, get_bureau(dbs, adcode))


@pytest.fixture
def admin_browser(app, dbs, city):
    return sign_in(app, make_staff(dbs, "220100", Role.bureau_admin, username="cc_admin"))


def test_the_administrator_saves_the_block(admin_browser, dbs):
    page = admin_browser.get(PAGE).get_data(as_text=True)
    assert 'name="address"' in page and 'name="committee_address"' not in page  # the committee is the province's
    response = _post(admin_browser, {"address": "长春市人民大街1号", "phone": "0431-88888888", "hours": "工作日"})
    assert response.status_code == 302
    contact = _contact(dbs, "220100")
    assert (contact.address, contact.phone, contact.hours) == ("长春市人民大街1号", "0431-88888888", "工作日")
    assert 'value="长春市人民大街1号"' in admin_browser.get(PAGE).get_data(as_text=True)


def test_a_bad_phone_is_shown_beside_the_field_and_changes_nothing(admin_browser, dbs):
    _post(admin_browser, {"address": "旧", "phone": "12333", "hours": ""})
    response = _post(admin_browser, {"address": "新", "phone": "打电话", "hours": ""})
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    assert "电话只能包含数字" in page and 'aria-invalid="true"' in page and 'value="打电话"' in page
    assert _contact(dbs, "220100").address == "旧"


def test_the_province_administrator_sets_the_committee_office(app, dbs, province):
    browser = sign_in(app, make_staff(dbs, "220000", Role.province_admin, username="pv_admin"))
    assert 'name="committee_phone"' in browser.get(PAGE).get_data(as_text=True)
    response = _post(
        browser,
        {"address": "", "phone": "", "hours": "", "committee_address": "新发路1号", "committee_phone": "0431-12345678"},
    )
    assert response.status_code == 302
    with system_scope(dbs):
        office = get_committee_contact(dbs)
    assert office.address == "新发路1号" and office.phone == "0431-12345678"


def test_staff_who_are_not_administrators_are_refused(app, dbs, city):
    clerk = sign_in(app, city.clerk)
    assert clerk.get(PAGE).status_code == 403
