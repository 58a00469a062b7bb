"""The staff second factor over HTTP: enrolment, sign-in with a TOTP code, single-use recovery codes, the policy."""

from __future__ import annotations

import re

from sqlalchemy import text

from portal.identity.totp import code_at
from portal.roles import Role
from tests.helpers import csrf_token, login, make_staff
from tests.identity.conftest import location, page_secret, sso_sign_in

CITY = "220100"


def rows(owner_engine, sql: str):
    with owner_engine.connect() as conn:
        return conn.execute(text(sql)).mappings().all()


def signed_in(client) -> bool:
    return client.get("/staff/").status_code == 200


def post(client, path: str, data: dict | None = None, form_page: str | None = None):
    token = csrf_token(client, form_page or path)
    return client.post(path, data={"csrf_token": token, **(data or {})})


def enrol(client, clock) -> tuple[str, list[str]]:
    """On the set-up page: read the key as the authenticator app would, confirm, keep the recovery codes."""
    page = client.get("/staff/2fa/setup")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert 'src="data:image/svg+xml' in html  # the QR code
    secret = page_secret(html)
    done = post(client, "/staff/2fa/setup", {"code": code_at(secret, clock.now)})
    assert done.status_code == 200, done.get_data(as_text=True)
    codes = re.findall(r"[A-Z2-9]{4}-[A-Z2-9]{4}-[A-Z2-9]{4}", done.get_data(as_text=True))
    assert len(codes) == 10
    return secret, codes


def sign_out(client):
    post(client, "/staff/logout", form_page="/staff/")


def test_leader_must_set_up_a_second_factor_then_uses_it(sso_client, dbs, clock, owner_engine):
    make_staff(dbs, CITY, Role.petitions_leader, username="cc_leader_2fa")
    first = login(sso_client, "cc_leader_2fa")
    assert location(first) == "/staff/2fa/setup"
    assert not signed_in(sso_client)  # nothing of the staff site before the second factor
    assert sso_client.get("/staff/sessions").status_code == 302
    secret, codes = enrol(sso_client, clock)
    assert signed_in(sso_client)
    session = rows(owner_engine, "SELECT method, second_factor FROM staff_sessions WHERE ended_at IS NULL")
    assert [(s["method"], s["second_factor"]) for s in session] == [("password", "totp")]
    stored = rows(owner_engine, "SELECT secret_enc FROM staff_totp")[0]["secret_enc"]
    assert secret.encode() not in bytes(stored)  # encrypted at rest
    hashes = [r["code_hash"] for r in rows(owner_engine, "SELECT code_hash FROM staff_recovery_codes")]
    assert len(hashes) == 10 and not set(codes) & set(hashes)

    sign_out(sso_client)
    clock.advance(minutes=2)
    assert location(login(sso_client, "cc_leader_2fa")) == "/staff/2fa/verify"
    wrong = post(sso_client, "/staff/2fa/verify", {"code": "000000"})
    assert wrong.status_code == 401 and not signed_in(sso_client)
    code = code_at(secret, clock.now)
    assert location(post(sso_client, "/staff/2fa/verify", {"code": code})) == "/staff/"
    assert signed_in(sso_client)

    # The same code is not accepted twice, even within its 30 seconds.
    sign_out(sso_client)
    login(sso_client, "cc_leader_2fa")
    assert post(sso_client, "/staff/2fa/verify", {"code": code}).status_code == 401
    assert not signed_in(sso_client)
    outcomes = [r["outcome"] for r in rows(owner_engine, "SELECT outcome FROM staff_sign_in_events ORDER BY at, id")]
    assert outcomes.count("second_factor_failed") == 2 and outcomes.count("ok") == 2


def test_recovery_codes_work_once(sso_client, dbs, clock, owner_engine):
    make_staff(dbs, CITY, Role.bureau_admin, username="cc_admin_rc")
    login(sso_client, "cc_admin_rc")
    _secret, codes = enrol(sso_client, clock)
    sign_out(sso_client)

    login(sso_client, "cc_admin_rc")
    response = post(sso_client, "/staff/2fa/verify", {"code": codes[3].lower().replace("-", " ")})
    assert location(response) == "/staff/"
    assert "9" in sso_client.get("/staff/").get_data(as_text=True)  # "…; 9 remain" flashed
    sign_out(sso_client)

    login(sso_client, "cc_admin_rc")
    again = post(sso_client, "/staff/2fa/verify", {"code": codes[3]})
    assert again.status_code == 401
    assert "只能使用一次" in again.get_data(as_text=True)
    assert not signed_in(sso_client)
    used = rows(owner_engine, "SELECT count(*) AS n FROM staff_recovery_codes WHERE used_at IS NOT NULL")[0]["n"]
    assert used == 1
    last = rows(owner_engine, "SELECT second_factor FROM staff_sessions ORDER BY id DESC LIMIT 1")[0]
    assert last["second_factor"] == "recovery"


def test_too_many_wrong_codes_end_the_attempt(sso_client, dbs, clock):
    make_staff(dbs, CITY, Role.principal_leader, username="cc_principal_wrong")
    login(sso_client, "cc_principal_wrong")
    secret, _codes = enrol(sso_client, clock)
    sign_out(sso_client)
    login(sso_client, "cc_principal_wrong")
    for _ in range(4):
        assert post(sso_client, "/staff/2fa/verify", {"code": "123456"}).status_code == 401
        clock.advance(minutes=2)  # past the account's growing wait (tests/identity/test_credentials.py)
    fifth = post(sso_client, "/staff/2fa/verify", {"code": "123456"})
    assert location(fifth) == "/staff/login"
    # The pending sign-in is gone: even the right code now needs the password again.
    late = sso_client.post("/staff/2fa/verify", data={"code": code_at(secret, clock.now)})
    assert late.status_code in (302, 400)
    assert not signed_in(sso_client)


def test_pending_sign_in_expires(sso_client, dbs, clock, monkeypatch):
    from portal.identity import web

    make_staff(dbs, CITY, Role.business_leader, username="cc_business_pending")
    login(sso_client, "cc_business_pending")
    monkeypatch.setattr(web, "PENDING_SECONDS", -1)
    assert location(sso_client.get("/staff/2fa/setup")) == "/staff/login"


def test_others_are_not_asked_unless_they_enrolled(sso_client, dbs, clock):
    make_staff(dbs, CITY, Role.petition_clerk, unit="petition_office", username="cc_clerk_opt")
    assert location(login(sso_client, "cc_clerk_opt")) == "/staff/"
    security = sso_client.get("/staff/2fa").get_data(as_text=True)
    assert "/staff/2fa/setup" in security
    secret, _codes = enrol(sso_client, clock)
    sign_out(sso_client)
    assert location(login(sso_client, "cc_clerk_opt")) == "/staff/2fa/verify"
    clock.advance(seconds=31)
    assert location(post(sso_client, "/staff/2fa/verify", {"code": code_at(secret, clock.now)})) == "/staff/"

    # Not required for a clerk: removable with a current code, after which no code is asked.
    clock.advance(seconds=31)
    removed = post(sso_client, "/staff/2fa/remove", {"code": code_at(secret, clock.now)}, form_page="/staff/2fa")
    assert location(removed) == "/staff/2fa"
    sign_out(sso_client)
    assert location(login(sso_client, "cc_clerk_opt")) == "/staff/"


def test_a_leader_cannot_remove_the_required_second_factor(sso_client, dbs, clock, owner_engine):
    make_staff(dbs, CITY, Role.petitions_leader, username="cc_leader_keep")
    login(sso_client, "cc_leader_keep")
    secret, _codes = enrol(sso_client, clock)
    clock.advance(seconds=31)
    response = post(sso_client, "/staff/2fa/remove", {"code": code_at(secret, clock.now)}, form_page="/staff/2fa")
    assert location(response) == "/staff/2fa"
    assert rows(owner_engine, "SELECT count(*) AS n FROM staff_totp")[0]["n"] == 1


def test_new_recovery_codes_replace_the_old_ones(sso_client, dbs, clock):
    make_staff(dbs, CITY, Role.petitions_leader, username="cc_leader_new_codes")
    login(sso_client, "cc_leader_new_codes")
    secret, old = enrol(sso_client, clock)
    assert post(sso_client, "/staff/2fa/recovery-codes", {"code": "000000"}, form_page="/staff/2fa").status_code == 422
    clock.advance(seconds=31)
    page = post(sso_client, "/staff/2fa/recovery-codes", {"code": code_at(secret, clock.now)}, form_page="/staff/2fa")
    new = re.findall(r"[A-Z2-9]{4}-[A-Z2-9]{4}-[A-Z2-9]{4}", page.get_data(as_text=True))
    assert len(new) == 10 and not set(new) & set(old)
    sign_out(sso_client)
    login(sso_client, "cc_leader_new_codes")
    assert post(sso_client, "/staff/2fa/verify", {"code": old[0]}).status_code == 401
    assert location(post(sso_client, "/staff/2fa/verify", {"code": new[0]})) == "/staff/"


def test_bureau_policy_all_staff_and_admin_reset(sso_client, sso_app, dbs, clock, owner_engine):
    make_staff(dbs, CITY, Role.division_staff, unit="pension", username="cc_division_policy")
    make_staff(dbs, CITY, Role.security_admin, username="cc_admin_policy")  # second factors: the security admin's
    make_staff(dbs, CITY, Role.bureau_admin, username="cc_system_admin")
    make_staff(dbs, "220102", Role.security_admin, username="ng_admin_policy")

    admin = sso_app.test_client()
    login(admin, "cc_admin_policy")
    admin_secret, _codes = enrol(admin, clock)
    page = admin.get("/staff/identity-admin")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "staff-secret-not-shown" not in html and "citizen-secret-not-shown" not in html
    assert "portal-staff" in html and "bureau_adcode" in html
    assert "sign_in_attempts" not in html and "Attempts no bureau owns" not in html  # province admins only
    saved = post(admin, "/staff/identity-admin", {"second_factor": "all_staff"})
    assert location(saved) == "/staff/identity-admin"
    assert post(admin, "/staff/identity-admin", {"second_factor": "nobody"}).status_code == 422

    # Now a division member must set up a second factor too.
    member = sso_app.test_client()
    assert location(login(member, "cc_division_policy")) == "/staff/2fa/setup"
    member_secret, _member_codes = enrol(member, clock)
    assert signed_in(member)
    assert member.get("/staff/identity-admin").status_code == 403

    # Lost phone: the administrator resets it; the next sign-in sets one up again.
    user_id = rows(owner_engine, "SELECT id FROM staff_users WHERE username = 'cc_division_policy'")[0]["id"]
    system = sso_app.test_client()  # the system administrator may not (separation of administrators)
    login(system, "cc_system_admin")
    enrol(system, clock)
    assert (
        post(system, f"/staff/identity-admin/users/{user_id}/reset-2fa", form_page="/staff/identity-admin").status_code
        == 403
    )
    assert post(system, "/staff/identity-admin", {"second_factor": "leaders_and_admins"}).status_code == 403
    reset = post(admin, f"/staff/identity-admin/users/{user_id}/reset-2fa", form_page="/staff/identity-admin")
    assert location(reset) == "/staff/identity-admin"
    sign_out(member)
    assert location(login(member, "cc_division_policy")) == "/staff/2fa/setup"
    assert "second_factor_reset" in {
        r["outcome"] for r in rows(owner_engine, "SELECT outcome FROM staff_sign_in_events")
    }

    # Another bureau's administrator cannot reset it (404), nor does the policy of one bureau reach another.
    other = sso_app.test_client()
    login(other, "ng_admin_policy")
    enrol(other, clock)
    assert (
        post(other, f"/staff/identity-admin/users/{user_id}/reset-2fa", form_page="/staff/identity-admin").status_code
        == 404
    )
    assert admin_secret and member_secret


def test_sso_sign_in_of_a_leader_asks_for_the_portal_code(sso_client, provider, dbs, clock):
    make_staff(dbs, CITY, Role.petitions_leader, username="cc_leader_sso_totp")
    first = sso_sign_in(sso_client, provider, "sub-leader", {"preferred_username": "cc_leader_sso_totp"})
    assert location(first) == "/staff/2fa/setup"
    enrol(sso_client, clock)
    assert signed_in(sso_client)
    # The session remembers the ID token for the provider's sign-out, through the second factor step.
    target = location(post(sso_client, "/staff/logout", form_page="/staff/"))
    assert "id_token_hint=" in target
