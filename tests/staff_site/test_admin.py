"""Bureau administration pages (/staff/admin): users, units, absences, document settings and the bureau tree."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from sqlalchemy import select

from portal.accounts.models import StaffUser
from portal.approvers import acting_for, signing_for
from portal.cases.context import BureauStaff
from portal.cases.models import StaffAbsence
from portal.documents.models import DocumentSettings, DocumentTemplate
from portal.documents.templates import default_text
from portal.roles import Role
from tenants.models import Bureau, Unit
from tenants.scoping import TenantScope, scoped, system_scope
from tenants.tree import get_bureau
from tests.helpers import PASSWORD, csrf_token, make_staff
from tests.staff_site.conftest import sign_in

A = "/staff/admin"
TODAY = date(2026, 10, 12)


@pytest.fixture
def admin(dbs, city):
    return make_staff(dbs, "220100", Role.bureau_admin, username="cc_admin")


@pytest.fixture
def browser(app, admin):
    return sign_in(app, admin)


def _post(browser, path: str, data: dict, token_page: str | None = None):
    token = csrf_token(browser, token_page or path)
    return browser.post(path, data={"csrf_token": token, **data})


def _html(response) -> str:
    return response.get_data(as_text=True)


def _user(dbs, user_id: int) -> StaffUser:
    with system_scope(dbs):
        dbs.expire_all()
        return dbs.scalar(select(StaffUser).where(StaffUser.id == user_id))


def _rows(dbs, model, **where):
    with system_scope(dbs):
        dbs.expire_all()
        query = select(model)
        for key, value in where.items():
            query = query.where(getattr(model, key) == value)
        return list(dbs.scalars(query))


def _county_objects(dbs, county):
    """A unit, a user and an absence of 南关区 (a bureau below 长春市: readable for supervision, not to administer)."""
    with scoped(dbs, TenantScope.single(county.bureau_id)):
        absence = StaffAbsence(
            tenant_id=county.bureau_id, user_id=county.petitions_leader.id, starts_on=TODAY, ends_on=TODAY, note="ng"
        )
        dbs.add(absence)
        dbs.commit()
    return {"unit": county.pension_unit, "user": county.clerk.id, "absence": absence.id}


# --- Access ----------------------------------------------------------------------------------------------------


def test_every_page_opens_for_the_bureau_admin(browser, city):
    pages = [
        "/users",
        f"/users/{city.clerk.id}",
        "/units",
        f"/units/{city.pension_unit}",
        "/absences",
        "/documents",
        "/documents/template?kind=acceptance_notice",
        "/documents/template?kind=formal_opinion",
    ]
    for page in pages:
        response = browser.get(A + page)
        assert response.status_code == 200, page
        assert 'href="/staff/admin/"' in _html(response)  # the nav link, shown to administrators
    assert browser.get(A + "/").status_code == 302
    assert browser.get(A + "/bureaus").status_code == 403  # the tree is the province administrator's
    assert browser.get(A + "/documents/template?kind=nonsense").status_code == 404


def test_a_clerk_is_refused_everywhere(app, dbs, city):
    clerk = sign_in(app, city.clerk)
    assert 'href="/staff/admin/"' not in _html(clerk.get("/staff/"))
    for page in (
        "/",
        "/users",
        f"/users/{city.petitions_leader.id}",
        "/units",
        f"/units/{city.pension_unit}",
        "/absences",
    ):
        assert clerk.get(A + page).status_code == 403, page
    for page in ("/documents", "/documents/template?kind=acceptance_notice", "/bureaus"):
        assert clerk.get(A + page).status_code == 403, page
    token = csrf_token(clerk, "/staff/")
    response = clerk.post(A + f"/users/{city.petitions_leader.id}/active", data={"csrf_token": token})
    assert response.status_code == 403
    assert _user(dbs, city.petitions_leader.id).active
    response = clerk.post(A + "/units", data={"csrf_token": token, "code": "x", "name": "X"})
    assert response.status_code == 403
    assert not _rows(dbs, Unit, code="x")


def test_a_lower_bureaus_objects_are_not_found(browser, dbs, county, admin):
    ids = _county_objects(dbs, county)
    token = csrf_token(browser, A + "/users")
    assert browser.get(A + f"/users/{ids['user']}").status_code == 404
    assert browser.post(A + f"/users/{ids['user']}/active", data={"csrf_token": token}).status_code == 404
    assert browser.get(A + f"/units/{ids['unit']}").status_code == 404
    assert browser.post(A + f"/absences/{ids['absence']}/delete", data={"csrf_token": token}).status_code == 404
    assert browser.get(A + f"/users/{2**63}").status_code == 404
    assert _user(dbs, ids["user"]).active
    assert _rows(dbs, StaffAbsence, id=ids["absence"])
    assert "ng_clerk" not in _html(browser.get(A + "/users"))


def test_forms_need_the_csrf_token(browser, dbs, city):
    response = browser.post(A + "/units", data={"code": "medical", "name": "医疗保险处"})
    assert response.status_code == 400
    assert not _rows(dbs, Unit, code="medical")


# --- Users -----------------------------------------------------------------------------------------------------


def test_create_a_user_with_a_unit_and_no_role(app, browser, dbs, city):
    response = _post(
        browser,
        A + "/users",
        {
            "username": "cc_new",
            "display_name": "王五",
            "password": PASSWORD,
            "roles": ["petition_clerk", "bureau_admin"],  # not the system administrator's to give: ignored
            "unit_id": str(city.pension_unit),
        },
    )
    assert response.status_code == 302
    [user] = _rows(dbs, StaffUser, username="cc_new")
    assert user.tenant_id == city.bureau_id
    assert user.roles == []  # the security administrator gives the roles
    assert user.unit_id == city.pension_unit
    assert "cc_new" in _html(browser.get(A + "/users"))
    sign_in(app, user)  # the new account can sign in (and do nothing yet)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"username": "cc_clerk"}, "已被使用"),  # taken
        ({"username": "<script>x</script>"}, "只能使用字母、数字"),
        ({"password": "short"}, "10 到 200"),
        ({"password": "abcdefghijklmn"}, "密码须同时包含字母和数字"),
        ({"unit_id": "999999"}, "不是有效的选择"),
    ],
)
def test_a_bad_new_user_changes_nothing(browser, dbs, city, data, message):
    before = len(_rows(dbs, StaffUser))
    body = {"username": "cc_x", "display_name": "某", "password": PASSWORD, **data}
    response = _post(browser, A + "/users", body)
    assert response.status_code == 400
    assert message in _html(response)
    assert "<script>x" not in _html(response)
    assert len(_rows(dbs, StaffUser)) == before


def test_change_the_unit(browser, dbs, city):
    path = A + f"/users/{city.division.id}"
    response = _post(browser, path, {"unit_id": str(city.audit_unit)})
    assert response.status_code == 302
    user = _user(dbs, city.division.id)
    assert user.unit_id == city.audit_unit and user.roles == [Role.division_staff]
    response = _post(browser, path, {"unit_id": ""})
    assert response.status_code == 302
    assert _user(dbs, city.division.id).unit_id is None


def test_a_bad_unit_change_changes_nothing(browser, dbs, city, county):
    path = A + f"/users/{city.division.id}"
    for data, message in [
        ({"unit_id": str(county.pension_unit)}, "不是有效的选择"),
        ({"unit_id": "999999"}, "不是有效的选择"),
    ]:
        response = _post(browser, path, data)
        assert response.status_code == 400, data
        assert message in _html(response)
        assert _user(dbs, city.division.id).unit_id == city.pension_unit


def test_the_system_administrator_gives_no_roles(browser, dbs, city):
    """Roles are the security administrator's (三员管理): the system administrator's page shows them read-only."""
    page = _html(browser.get(A + f"/users/{city.division.id}"))
    assert "/roles" not in page and "/sessions/end" not in page and "/password" not in page
    response = _post(browser, A + f"/users/{city.division.id}/roles", {"roles": ["petition_clerk"]}, A + "/users")
    assert response.status_code == 403
    assert _user(dbs, city.division.id).roles == [Role.division_staff]


def test_deactivate_and_reactivate(app, browser, dbs, city, admin):
    path = A + f"/users/{city.clerk.id}/active"
    assert _post(browser, path, {}, A + "/users").status_code == 302
    assert not _user(dbs, city.clerk.id).active
    refused = _post(app.test_client(), "/staff/login", {"username": "cc_clerk", "password": PASSWORD})
    assert refused.status_code != 302
    assert _post(browser, path, {}, A + "/users").status_code == 302
    assert _user(dbs, city.clerk.id).active
    sign_in(app, city.clerk)


def test_an_admin_cannot_deactivate_themself(browser, dbs, admin):
    response = _post(browser, A + f"/users/{admin.id}/active", {}, A + "/users")
    assert response.status_code == 302
    assert "不能停用自己的账号" in _html(browser.get(response.headers["Location"]))
    assert _user(dbs, admin.id).active


# --- Units -----------------------------------------------------------------------------------------------------


def test_add_and_rename_a_unit(browser, dbs, city):
    assert _post(browser, A + "/units", {"code": "medical", "name": "医疗保险处"}).status_code == 302
    [unit] = _rows(dbs, Unit, code="medical")
    assert unit.tenant_id == city.bureau_id and unit.name == "医疗保险处"
    assert "医疗保险处" in _html(browser.get(A + "/units"))
    assert _post(browser, A + f"/units/{unit.id}", {"name": "医疗保障处"}).status_code == 302
    assert _rows(dbs, Unit, id=unit.id)[0].name == "医疗保障处"


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"code": "pension", "name": "重复"}, "本单位已有代码为“pension”的处室"),
        ({"code": "bad code", "name": "X"}, "只能使用字母、数字或"),
        ({"code": "ok", "name": ""}, "此项为必填项"),
        ({"code": "ok", "name": "长" * 101}, "100"),
    ],
)
def test_a_bad_unit_changes_nothing(browser, dbs, city, data, message):
    before = len(_rows(dbs, Unit, tenant_id=city.bureau_id))
    response = _post(browser, A + "/units", data)
    assert response.status_code == 400
    assert message in _html(response)
    assert len(_rows(dbs, Unit, tenant_id=city.bureau_id)) == before


def test_a_bad_rename_changes_nothing(browser, dbs, city):
    path = A + f"/units/{city.pension_unit}"
    response = _post(browser, path, {"name": "   "})
    assert response.status_code == 400
    assert "处室名称须为 1 至 100 个字符" in _html(response)
    assert _rows(dbs, Unit, id=city.pension_unit)[0].name == "养老保险处"


# --- Out-of-office periods -------------------------------------------------------------------------------------


def test_an_absence_with_a_stand_in_lets_the_stand_in_act_for_the_leader(browser, dbs, city):
    start = TODAY
    response = _post(
        browser,
        A + "/absences",
        {
            "user_id": str(city.petitions_leader.id),
            "starts_on": start.isoformat(),
            "ends_on": (start + timedelta(days=4)).isoformat(),
            "stand_in_id": str(city.principal.id),
            "stand_in_powers": ["slip", "signing"],
            "note": "出差",
        },
    )
    assert response.status_code == 302
    [row] = _rows(dbs, StaffAbsence, tenant_id=city.bureau_id)
    assert (row.user_id, row.stand_in_id, row.note) == (city.petitions_leader.id, city.principal.id, "出差")
    assert (row.stand_in_slip, row.stand_in_signing) == (True, True)
    page = _html(browser.get(A + "/absences"))
    assert "出差" in page and start.isoformat() in page and "代签" in page

    with scoped(dbs, TenantScope.single(city.bureau_id)):
        staff = BureauStaff(dbs, city.bureau_id)
    assert acting_for(city.principal.id, start + timedelta(days=2), staff.leader_views) == {city.petitions_leader.id}
    assert acting_for(city.principal.id, start + timedelta(days=5), staff.leader_views) == frozenset()
    assert signing_for(city.principal.id, start + timedelta(days=2), staff.leader_views) == {city.petitions_leader.id}

    token = csrf_token(browser, A + "/absences")
    assert browser.post(A + f"/absences/{row.id}/delete", data={"csrf_token": token}).status_code == 302
    assert not _rows(dbs, StaffAbsence, tenant_id=city.bureau_id)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"ends_on": "2026-10-11"}, "结束日期不能早于开始日期"),
        ({"stand_in_id": "LEADER"}, "代理人不能是外出的领导本人"),
        ({"stand_in_id": "CLERK"}, "不是有效的选择"),  # not a leader
        ({"user_id": "CLERK"}, "不是有效的选择"),
        ({"user_id": ""}, "此项为必填项"),
        ({"starts_on": "tomorrow"}, "不是有效的日期值"),
        ({"ends_on": "2028-01-01"}, "366"),
        ({"note": "x" * 201}, "200"),
        # §四.4 (issue 14): a declared stand-in needs a declared power: the slip, signing, or both.
        ({"stand_in_id": "PRINCIPAL"}, "请选择代理人的代理事项"),
    ],
)
def test_a_bad_absence_changes_nothing(browser, dbs, city, change, message):
    ids = {"LEADER": str(city.petitions_leader.id), "CLERK": str(city.clerk.id), "PRINCIPAL": str(city.principal.id)}
    data = {
        "user_id": str(city.petitions_leader.id),
        "starts_on": "2026-10-12",
        "ends_on": "2026-10-14",
        "stand_in_id": "",
    }
    data.update({k: ids.get(v, v) for k, v in change.items()})
    response = _post(browser, A + "/absences", data)
    assert response.status_code == 400
    assert message in _html(response)
    assert not _rows(dbs, StaffAbsence)


def test_a_stand_in_from_a_lower_bureau_is_refused(browser, dbs, city, county):
    data = {"user_id": str(city.petitions_leader.id), "starts_on": "2026-10-12", "ends_on": "2026-10-12"}
    response = _post(browser, A + "/absences", {**data, "stand_in_id": str(county.business_leader.id)})
    assert response.status_code == 400
    assert not _rows(dbs, StaffAbsence)


# --- Document settings -----------------------------------------------------------------------------------------


def test_letterhead_prefix_and_template(browser, dbs, city):
    assert (
        _post(
            browser, A + "/documents/letterhead", {"letterhead": "长春市社会保险事业管理局"}, A + "/documents"
        ).status_code
        == 302
    )
    assert (
        _post(browser, A + "/documents/number-prefix", {"number_prefix": "长社信"}, A + "/documents").status_code == 302
    )
    [row] = _rows(dbs, DocumentSettings, tenant_id=city.bureau_id)
    assert (row.letterhead, row.number_prefix, row.updated_by) == ("长春市社会保险事业管理局", "长社信", "cc_admin")
    page = _html(browser.get(A + "/documents"))
    assert "长春市社会保险事业管理局" in page and "长社信" in page

    path = A + "/documents/template?kind=acceptance_notice"
    page = _html(browser.get(path))
    assert "{case_number}" in page  # the allowed placeholders
    text = default_text("acceptance_notice") + "\n特此告知。案件编号：{case_number}。"
    assert _post(browser, path, {"text": text}).status_code == 302
    [template] = _rows(dbs, DocumentTemplate, tenant_id=city.bureau_id)
    assert template.text == text
    assert _post(browser, A + "/documents/template/reset?kind=acceptance_notice", {}, path).status_code == 302
    assert not _rows(dbs, DocumentTemplate, tenant_id=city.bureau_id)


@pytest.mark.parametrize(
    ("path", "data", "message"),
    [
        ("/documents/letterhead", {"letterhead": "长" * 61}, "版头名称不能超过 60 个字符"),
        ("/documents/number-prefix", {"number_prefix": "长社 1"}, "前缀"),
        ("/documents/template?kind=acceptance_notice", {"text": "您好 {no_such_thing}。"}, "no_such_thing"),
        ("/documents/template?kind=acceptance_notice", {"text": "坏的 {case_number"}, "花括号不成对"),
        ("/documents/template?kind=acceptance_notice", {"text": ""}, "此项为必填项"),
    ],
)
def test_bad_document_settings_change_nothing(browser, dbs, city, path, data, message):
    response = _post(browser, A + path, data, A + "/documents/template?kind=acceptance_notice")
    assert response.status_code == 400
    html = _html(response)
    assert message in html
    assert 'class="field  has-error"' in html or "has-error" in html  # beside the field
    assert not _rows(dbs, DocumentSettings, tenant_id=city.bureau_id)
    assert not _rows(dbs, DocumentTemplate, tenant_id=city.bureau_id)


# --- The bureau tree -------------------------------------------------------------------------------------------


@pytest.fixture
def root_browser(app, dbs):
    return sign_in(app, make_staff(dbs, "220000", Role.province_admin, username="pv_root"))


def _bureau(dbs, ref) -> Bureau:
    with system_scope(dbs):
        dbs.expire_all()
        return get_bureau(dbs, ref)


def test_the_province_admin_manages_the_tree(root_browser, dbs):
    page = _html(root_browser.get(A + "/bureaus"))
    assert "长春市社会保险局" in page and "南关区社会保险局" in page
    province, city = _bureau(dbs, "220000"), _bureau(dbs, "220100")
    response = _post(
        root_browser,
        A + "/bureaus/add",
        {"new-parent_id": str(city.id), "new-level": "county", "new-division_name": "长春新区", "new-adcode": ""},
        A + "/bureaus",
    )
    assert response.status_code == 302, _html(response)
    new = _bureau(dbs, "长春新区")
    assert new.parent_id == city.id and new.path.startswith(city.path)

    token = csrf_token(root_browser, A + "/bureaus")
    response = root_browser.post(
        A + "/bureaus/rename",
        data={"rename-csrf_token": token, "rename-bureau_id": str(new.id), "rename-name": "长春新区社会保险事业局"},
    )
    assert response.status_code == 302
    assert _bureau(dbs, new.id).name == "长春新区社会保险事业局"

    response = root_browser.post(
        A + "/bureaus/move",
        data={"move-csrf_token": token, "move-bureau_id": str(new.id), "move-parent_id": str(province.id)},
    )
    assert response.status_code == 302
    moved = _bureau(dbs, new.id)
    assert moved.parent_id == province.id and moved.path == f"{province.path}{new.id}/"


def test_bad_tree_changes_change_nothing(root_browser, dbs):
    city, county = _bureau(dbs, "220100"), _bureau(dbs, "220102")
    token = csrf_token(root_browser, A + "/bureaus")
    response = root_browser.post(
        A + "/bureaus/move",
        data={"move-csrf_token": token, "move-bureau_id": str(city.id), "move-parent_id": str(city.id)},
    )
    assert response.status_code == 400
    assert "机构不能移到它自己或它的下级机构之下。" in _html(response)  # the rule, whole, in the page's language
    response = root_browser.post(
        A + "/bureaus/rename",
        data={"rename-csrf_token": token, "rename-bureau_id": str(county.id), "rename-name": "  "},
    )
    assert response.status_code == 400
    response = root_browser.post(
        A + "/bureaus/add",
        data={
            "new-csrf_token": token,
            "new-parent_id": str(city.id),
            "new-level": "county",
            "new-division_name": "重复",
            "new-adcode": "220102",
        },
    )
    assert response.status_code == 400
    assert "行政区划代码为220102的机构已经存在。" in _html(response)
    assert _bureau(dbs, "220100").path == city.path and _bureau(dbs, "220102").name == county.name
    assert _bureau(dbs, "重复") is None
