"""The security administrator's powers (三员管理): roles, sessions, password and second-factor resets; each
audited, none the system administrator's, none over another bureau's accounts (the province's sees every bureau).
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import select, text

from portal.accounts.models import StaffUser
from portal.identity.models import StaffSession, StaffTotp
from portal.roles import Role
from tenants.scoping import TenantScope, scoped, system_scope
from tests.helpers import PASSWORD, csrf_token, make_staff
from tests.staff_site.conftest import Browser, sign_in

A = "/staff/admin/users"
CITY, OTHER_CITY, COUNTY, PROVINCE = "220100", "220200", "220102", "220000"


def post(browser, path: str, data: dict | None = None, page: str | None = None):
    return browser.post(path, data={"csrf_token": csrf_token(browser, page or A), **(data or {})})


def user_row(dbs, user_id: int) -> StaffUser:
    with system_scope(dbs):
        dbs.expire_all()
        return dbs.scalar(select(StaffUser).where(StaffUser.id == user_id))


def live_sessions(dbs, user_id: int) -> list[StaffSession]:
    with system_scope(dbs):
        dbs.expire_all()
        return list(
            dbs.scalars(select(StaffSession).where(StaffSession.user_id == user_id, StaffSession.ended_at.is_(None)))
        )


def audit(owner_engine) -> list:
    with owner_engine.connect() as conn:
        return conn.execute(text("SELECT * FROM audit_log ORDER BY id")).mappings().all()


def token_of(app, user) -> str:
    response = Browser(app).post("/api/v1/auth/token", json={"username": user.username, "password": PASSWORD})
    assert response.status_code == 200
    return response.get_json()["token"]


def api_ok(app, token: str) -> bool:
    return Browser(app).get("/api/v1/staff/cases", headers={"Authorization": f"Bearer {token}"}).status_code == 200


def signed_in(browser) -> bool:
    return browser.get("/staff/").status_code == 200


@pytest.fixture
def people(dbs):
    return {
        "security": make_staff(dbs, CITY, Role.security_admin, username="cc_sec"),
        "system": make_staff(dbs, CITY, Role.bureau_admin, username="cc_sys"),
        "clerk": make_staff(dbs, CITY, Role.petition_clerk, unit="petition_office", username="cc_clerk1"),
    }


def test_the_security_administrator_gives_and_takes_roles(app, dbs, owner_engine, people):
    clerk = people["clerk"]
    clerk_browser, token = sign_in(app, clerk), token_of(app, clerk)
    security = Browser(app)
    security.client.environ_base.update({"REMOTE_ADDR": "10.9.0.7"})
    _signed(security, people["security"])
    page = f"{A}/{clerk.id}"
    assert f'action="/staff/admin/users/{clerk.id}/roles"' in security.get(page).get_data(as_text=True)

    response = post(security, f"{page}/roles", {"roles": ["petition_clerk", "petition_office_head"]}, page)
    assert response.status_code == 302
    assert set(user_row(dbs, clerk.id).roles) == {Role.petition_clerk, Role.petition_office_head}
    # A session or token must not keep powers it was not signed in with.
    assert not signed_in(clerk_browser) and not api_ok(app, token)
    response = post(security, f"{page}/roles", {"roles": ["petition_office_head"]}, page)  # and takes one away
    assert response.status_code == 302
    assert user_row(dbs, clerk.id).roles == [Role.petition_office_head]

    [first, second] = audit(owner_engine)
    assert (first["actor_username"], first["action"], first["target"]) == ("cc_sec", "user_roles_changed", "cc_clerk1")
    assert first["before"] == {"roles": ["petition_clerk"]}
    assert first["after"] == {"roles": ["petition_clerk", "petition_office_head"]}
    assert first["ip"] == "10.9.0.7" and first["tenant_id"] == user_row(dbs, clerk.id).tenant_id
    assert second["before"] == {"roles": ["petition_clerk", "petition_office_head"]}


def _signed(browser: Browser, user) -> Browser:
    response = post(browser, "/staff/login", {"username": user.username, "password": PASSWORD}, "/staff/login")
    assert response.status_code == 302
    return browser


@pytest.mark.parametrize(
    ("roles", "message"),
    [
        (["bureau_admin", "audit_admin"], "不能兼任"),  # no account holds two administrators' roles
        (["security_admin", "bureau_admin"], "不能兼任"),
        ([], "请至少选择一个角色"),
        # wtforms' Chinese catalogue has no text for a multiple choice's wrong value (as before this page changed).
        (["province_admin"], "is not a valid choice"),  # not offered below the province
        (["no_such_role"], "is not a valid choice"),
    ],
)
def test_a_bad_role_change_is_refused_and_changes_nothing(app, dbs, owner_engine, people, roles, message):
    clerk = people["clerk"]
    clerk_browser = sign_in(app, clerk)
    security = sign_in(app, people["security"])
    response = post(security, f"{A}/{clerk.id}/roles", {"roles": roles}, f"{A}/{clerk.id}")
    assert response.status_code == 400
    assert message in response.get_data(as_text=True)
    assert user_row(dbs, clerk.id).roles == [Role.petition_clerk]
    assert signed_in(clerk_browser)
    assert audit(owner_engine) == []


def test_nobody_changes_their_own_roles(app, dbs, owner_engine, people):
    security = sign_in(app, people["security"])
    me = people["security"]
    response = post(security, f"{A}/{me.id}/roles", {"roles": ["bureau_admin"]}, f"{A}/{me.id}")
    assert response.status_code == 400
    assert "不能修改自己的角色" in response.get_data(as_text=True)
    assert user_row(dbs, me.id).roles == [Role.security_admin]


def test_the_security_administrator_ends_a_users_sessions_and_tokens(app, dbs, owner_engine, people):
    clerk = people["clerk"]
    laptop, phone, token = sign_in(app, clerk), sign_in(app, clerk), token_of(app, clerk)
    security = sign_in(app, people["security"])
    page = f"{A}/{clerk.id}"
    assert len(live_sessions(dbs, clerk.id)) == 2

    # One session (the phone is lost) ...
    phone_session = max(live_sessions(dbs, clerk.id), key=lambda row: row.id)
    assert post(security, f"{page}/sessions/{phone_session.id}/end", page=page).status_code == 302
    assert not signed_in(phone) and signed_in(laptop) and api_ok(app, token)
    # ... then all of them, API tokens too.
    assert post(security, f"{page}/sessions/end", page=page).status_code == 302
    assert not signed_in(laptop) and not api_ok(app, token)
    assert live_sessions(dbs, clerk.id) == []
    with system_scope(dbs):
        reasons = set(dbs.scalars(select(StaffSession.end_reason).where(StaffSession.user_id == clerk.id)))
    assert reasons == {"ended_by_admin"}
    sign_in(app, clerk)  # the password still works: ending sessions is not a lock-out

    one, everything = audit(owner_engine)
    assert (one["action"], one["before"]["live"], one["after"]["live"]) == ("session_ended", True, False)
    assert everything["action"] == "sessions_ended"
    assert everything["before"] == {"live_sessions": 1, "live_api_tokens": 1}
    assert everything["after"] == {"live_sessions": 0, "live_api_tokens": 0}


def test_the_security_administrator_resets_passwords_and_second_factors(app, dbs, owner_engine, people):
    clerk = people["clerk"]
    with scoped(dbs, TenantScope.single(clerk.tenant_id)):
        dbs.add(StaffTotp(tenant_id=clerk.tenant_id, user_id=clerk.id, secret_enc=b"x", confirmed_at=datetime.now(UTC)))
        dbs.commit()
    security = sign_in(app, people["security"])
    page = f"{A}/{clerk.id}"
    assert "/second-factor/reset" in security.get(page).get_data(as_text=True)
    assert post(security, f"{page}/second-factor/reset", page=page).status_code == 302
    with system_scope(dbs):
        assert dbs.scalar(select(StaffTotp.id).where(StaffTotp.user_id == clerk.id)) is None
    reset = post(security, f"{page}/password", page=page)
    assert reset.status_code == 200 and "no-store" in reset.headers["Cache-Control"]
    assert user_row(dbs, clerk.id).must_change_password
    assert [e["action"] for e in audit(owner_engine)] == ["second_factor_reset", "password_reset"]


def test_the_system_administrator_has_none_of_these_powers(app, dbs, owner_engine, people):
    clerk = people["clerk"]
    clerk_browser, token = sign_in(app, clerk), token_of(app, clerk)
    system = sign_in(app, people["system"])
    page = f"{A}/{clerk.id}"
    [row] = live_sessions(dbs, clerk.id)
    for path, data in [
        (f"{page}/roles", {"roles": ["petition_office_head"]}),
        (f"{page}/sessions/end", {}),
        (f"{page}/sessions/{row.id}/end", {}),
        (f"{page}/password", {}),
        (f"{page}/second-factor/reset", {}),
        (f"/staff/identity-admin/users/{clerk.id}/reset-2fa", {}),
    ]:
        assert post(system, path, data, page).status_code == 403, path
    assert user_row(dbs, clerk.id).roles == [Role.petition_clerk]
    assert not user_row(dbs, clerk.id).must_change_password
    assert signed_in(clerk_browser) and api_ok(app, token)
    assert audit(owner_engine) == []
    # Nor the audit administrator, nor a clerk.
    for role, name in ((Role.audit_admin, "cc_aud"), (Role.petition_clerk, "cc_other_clerk")):
        other = sign_in(app, make_staff(dbs, CITY, role, username=name))
        assert other.get(page).status_code == 403
        assert post(other, f"{page}/sessions/end", page="/staff/").status_code == 403
    assert signed_in(clerk_browser)


@pytest.mark.parametrize("adcode", [OTHER_CITY, COUNTY])
def test_a_city_security_administrator_cannot_touch_another_bureaus_accounts(app, dbs, owner_engine, people, adcode):
    """Another city's accounts, and a lower bureau's too (the county's are the province's to administer)."""
    stranger = make_staff(dbs, adcode, Role.petition_clerk, username=f"x_{adcode}")
    stranger_browser = sign_in(app, stranger)
    [row] = live_sessions(dbs, stranger.id)
    security = sign_in(app, people["security"])
    page = f"{A}/{stranger.id}"
    assert security.get(page).status_code == 404
    assert stranger.username not in security.get(A).get_data(as_text=True)
    for path, data in [
        (f"{page}/roles", {"roles": ["petition_office_head"]}),
        (f"{page}/sessions/end", {}),
        (f"{page}/sessions/{row.id}/end", {}),
        (f"{page}/password", {}),
        (f"{page}/second-factor/reset", {}),
        (f"/staff/identity-admin/users/{stranger.id}/reset-2fa", {}),
    ]:
        assert post(security, path, data).status_code == 404, path
    assert user_row(dbs, stranger.id).roles == [Role.petition_clerk]
    assert not user_row(dbs, stranger.id).must_change_password
    assert signed_in(stranger_browser)
    assert audit(owner_engine) == []


def test_a_session_of_someone_else_is_not_found_under_this_user(app, dbs, people):
    """``/users/<a>/sessions/<b's session>/end`` ends nothing: the session must be the named user's."""
    other = sign_in(app, people["system"])
    [row] = live_sessions(dbs, people["system"].id)
    security = sign_in(app, people["security"])
    path = f"{A}/{people['clerk'].id}/sessions/{row.id}/end"
    assert post(security, path).status_code == 404
    assert signed_in(other)


def test_the_provinces_security_administrator_sees_and_administers_every_bureau(app, dbs, owner_engine):
    county_clerk = make_staff(dbs, COUNTY, Role.petition_clerk, username="ng_clerk1")
    province_security = make_staff(dbs, PROVINCE, Role.security_admin, username="pv_sec")
    county_browser = sign_in(app, county_clerk)
    security = sign_in(app, province_security)
    listing = security.get(A).get_data(as_text=True)
    assert "ng_clerk1" in listing and "pv_sec" in listing
    page = f"{A}/{county_clerk.id}"
    assert security.get(page).status_code == 200
    assert post(security, f"{page}/roles", {"roles": ["petition_office_head"]}, page).status_code == 302
    assert user_row(dbs, county_clerk.id).roles == [Role.petition_office_head]
    assert not signed_in(county_browser)
    county_browser = sign_in(app, county_clerk)
    assert post(security, f"{page}/sessions/end", page=page).status_code == 302
    assert not signed_in(county_browser)
    # Written in the province's log (the acting administrator's bureau), where its audit administrator reads it.
    assert [(e["action"], e["target"]) for e in audit(owner_engine)] == [
        ("user_roles_changed", "ng_clerk1"),
        ("sessions_ended", "ng_clerk1"),
    ]
    assert {e["tenant_id"] for e in audit(owner_engine)} == {province_security.tenant_id}


def test_only_the_provinces_security_administrator_grants_province_administration(app, dbs):
    province_clerk = make_staff(dbs, PROVINCE, Role.petition_clerk, username="pv_clerk1")
    security = sign_in(app, make_staff(dbs, PROVINCE, Role.security_admin, username="pv_sec"))
    page = f"{A}/{province_clerk.id}"
    assert post(security, f"{page}/roles", {"roles": ["province_admin", "bureau_admin"]}, page).status_code == 302
    assert set(user_row(dbs, province_clerk.id).roles) == {Role.province_admin, Role.bureau_admin}
