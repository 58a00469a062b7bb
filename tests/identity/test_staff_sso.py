"""Staff single sign-on against a real OpenID Connect provider process over HTTP.

Linking to pre-provisioned accounts, provisioning from claims, refusals (unknown bureau, no account, another
bureau), tampered state, nonce, PKCE verifier and ID token, the provider's own second factor, and sign-out at the
provider.
"""

from __future__ import annotations

from sqlalchemy import select, text

from portal.accounts.models import StaffUser
from portal.identity import operations as ops
from portal.roles import Role
from tenants.scoping import system_scope
from tests.helpers import csrf_token, login, make_staff
from tests.identity.conftest import location, query, sso_sign_in

CITY = "220100"  # 长春市
COUNTY = "220102"  # 南关区


def signed_in_as(client) -> str | None:
    response = client.get("/staff/")
    if response.status_code != 200:
        return None
    return response.get_data(as_text=True)


def rows(owner_engine, sql: str, **params):
    with owner_engine.connect() as conn:
        return conn.execute(text(sql), params).mappings().all()


def test_login_page_offers_the_provider_and_the_start_uses_pkce_state_and_nonce(sso_client):
    page = sso_client.get("/staff/login").get_data(as_text=True)
    assert "/staff/sso/login" in page
    url = location(sso_client.get("/staff/sso/login?next=/staff/ops/"))
    params = query(url)
    assert params["response_type"] == "code"
    assert params["code_challenge_method"] == "S256" and len(params["code_challenge"]) >= 43
    assert params["state"] and params["nonce"]
    assert params["client_id"] == "portal-staff"
    assert set(params["scope"].split()) >= {"openid", "profile", "email"}


def test_identity_links_to_a_pre_provisioned_account_by_username(sso_client, provider, dbs, owner_engine):
    user = make_staff(dbs, CITY, Role.petition_clerk, unit="petition_office", username="cc_sso_clerk")
    response = sso_sign_in(
        sso_client,
        provider,
        "sub-cc-clerk",
        {"preferred_username": "cc_sso_clerk", "bureau_adcode": CITY},
        next="/staff/ops/",
    )
    assert location(response) == "/staff/ops/"
    assert "cc_sso_clerk" in signed_in_as(sso_client)
    links = rows(owner_engine, "SELECT tenant_id, user_id, issuer, subject FROM staff_identities")
    assert [(r["user_id"], r["subject"], r["issuer"]) for r in links] == [(user.id, "sub-cc-clerk", provider.issuer)]
    events = rows(owner_engine, "SELECT method, outcome, user_id FROM staff_sign_in_events WHERE outcome = 'ok'")
    assert [(e["method"], e["user_id"]) for e in events] == [("sso", user.id)]
    sessions = rows(owner_engine, "SELECT method, ended_at, id_token_enc FROM staff_sessions")
    assert len(sessions) == 1 and sessions[0]["method"] == "sso" and sessions[0]["ended_at"] is None
    assert sessions[0]["id_token_enc"] and b"eyJ" not in bytes(sessions[0]["id_token_enc"])  # stored encrypted

    # Once linked, the subject decides: a changed username claim still signs in the same account.
    sso_client.post("/staff/logout", data={"csrf_token": csrf_token(sso_client, "/staff/")})
    again = sso_sign_in(sso_client, provider, "sub-cc-clerk", {"preferred_username": "renamed", "bureau_adcode": CITY})
    assert location(again) == "/staff/"
    assert "cc_sso_clerk" in signed_in_as(sso_client)


def test_identity_registered_in_advance_by_subject(sso_client, sso_app, provider, dbs, configure):
    configure(OIDC_STAFF_LINK_CLAIM="none")
    user = make_staff(dbs, CITY, Role.division_staff, unit="pension", username="cc_pension_sub")
    # Without a registration the identity has no account (the username claim is not used).
    refused = sso_sign_in(sso_client, provider, "staff-0042", {"preferred_username": "cc_pension_sub"})
    assert refused.status_code == 403
    assert "尚未开通本系统的工作人员账号" in refused.get_data(as_text=True)

    runner = sso_app.test_cli_runner()
    command = ["identity", "link", "--username", "cc_pension_sub", "--subject", "staff-0042"]
    result = runner.invoke(args=[*command, "--issuer", provider.issuer])
    assert result.exit_code == 0, result.output
    response = sso_sign_in(sso_client, provider, "staff-0042", {"name": "whoever"})
    assert location(response) == "/staff/"
    assert "cc_pension_sub" in signed_in_as(sso_client)
    with system_scope(dbs):
        assert dbs.scalar(select(StaffUser.last_login_at).where(StaffUser.id == user.id)) is not None


def test_provisioning_creates_the_account_from_claims(sso_client, provider, dbs, configure, owner_engine):
    configure(OIDC_STAFF_PROVISION="on", OIDC_STAFF_ROLE_MAP="clerk=petition_clerk")
    claims = {
        "preferred_username": "ng_new_clerk",
        "name": "王小明",
        "bureau_adcode": COUNTY,
        "unit_code": "petition_office",
        "roles": ["clerk", "division_staff", "bureau_admin", "no_such_role"],
    }
    response = sso_sign_in(sso_client, provider, "sub-new-clerk", claims)
    assert location(response) == "/staff/"
    page = signed_in_as(sso_client)
    assert "王小明" in page and "南关区" in page
    with system_scope(dbs):
        user = dbs.scalar(select(StaffUser).where(StaffUser.username == "ng_new_clerk"))
        assert user.roles == [Role.petition_clerk, Role.division_staff]  # administrator roles are never taken
        assert user.unit_id is not None
    # The provisioned account has no local password.
    sso_client.post("/staff/logout", data={"csrf_token": csrf_token(sso_client, "/staff/")})
    assert login(sso_client, "ng_new_clerk", "").status_code == 200  # the form refuses an empty password
    assert login(sso_client, "ng_new_clerk", "!sso-only").status_code == 401


def test_provisioning_refuses_an_unknown_unit_or_no_roles(sso_client, provider, configure, owner_engine):
    configure(OIDC_STAFF_PROVISION="on")
    unit = sso_sign_in(
        sso_client,
        provider,
        "sub-u",
        {"preferred_username": "x1", "bureau_adcode": CITY, "unit_code": "nope", "roles": "petition_clerk"},
    )
    assert unit.status_code == 403 and "nope" in unit.get_data(as_text=True)
    roles = sso_sign_in(
        sso_client, provider, "sub-r", {"preferred_username": "x2", "bureau_adcode": CITY, "roles": ["province_admin"]}
    )
    assert roles.status_code == 403
    assert signed_in_as(sso_client) is None
    outcomes = [r["outcome"] for r in rows(owner_engine, "SELECT outcome FROM staff_sign_in_events ORDER BY at")]
    assert outcomes == ["unknown_unit", "no_roles"]
    assert rows(owner_engine, "SELECT count(*) AS n FROM staff_users")[0]["n"] == 0


def test_identity_that_maps_to_no_bureau_is_refused_with_a_clear_page(sso_client, provider, configure, owner_engine):
    configure(OIDC_STAFF_PROVISION="on")
    response = sso_sign_in(
        sso_client,
        provider,
        "sub-lost",
        {"preferred_username": "lost", "bureau_adcode": "990000", "roles": "petition_clerk"},
    )
    assert response.status_code == 403
    body = response.get_data(as_text=True)
    assert "990000" in body and "不对应本系统中的任何社会保险局" in body
    assert signed_in_as(sso_client) is None
    attempts = rows(owner_engine, "SELECT realm, method, outcome, identifier, bureau_hint FROM sign_in_attempts")
    assert [(a["realm"], a["method"], a["outcome"], a["bureau_hint"]) for a in attempts] == [
        ("staff", "sso", "unknown_bureau", "990000")
    ]
    assert "sub-lost" in attempts[0]["identifier"]
    # Without any bureau claim, provisioning has nowhere to put the account either.
    none = sso_sign_in(
        sso_client, provider, "sub-nowhere", {"preferred_username": "nowhere", "roles": "petition_clerk"}
    )
    assert none.status_code == 403


def test_no_account_and_another_bureau_are_refused(sso_client, provider, dbs, owner_engine):
    make_staff(dbs, CITY, Role.petition_clerk, unit="petition_office", username="cc_other_bureau")
    missing = sso_sign_in(
        sso_client, provider, "sub-none", {"preferred_username": "nobody_here", "bureau_adcode": CITY}
    )
    assert missing.status_code == 403
    elsewhere = sso_sign_in(
        sso_client, provider, "sub-else", {"preferred_username": "cc_other_bureau", "bureau_adcode": COUNTY}
    )
    assert elsewhere.status_code == 403
    assert signed_in_as(sso_client) is None
    outcomes = {r["outcome"] for r in rows(owner_engine, "SELECT outcome FROM staff_sign_in_events")}
    assert outcomes == {"no_account", "bureau_mismatch"}
    assert rows(owner_engine, "SELECT count(*) AS n FROM staff_identities")[0]["n"] == 0


def test_an_inactive_account_is_refused(sso_client, provider, dbs, owner_engine):
    make_staff(dbs, CITY, Role.petition_clerk, unit="petition_office", username="cc_gone")
    with owner_engine.begin() as conn:
        conn.execute(text("UPDATE staff_users SET active = false WHERE username = 'cc_gone'"))
    response = sso_sign_in(sso_client, provider, "sub-gone", {"preferred_username": "cc_gone"})
    assert response.status_code == 403
    assert signed_in_as(sso_client) is None


def _start(client, provider, sub, claims):
    provider.set_user(sub, claims)
    return provider.authorize(location(client.get("/staff/sso/login")), sub)


def test_tampered_state_is_refused(sso_client, provider, dbs, owner_engine):
    make_staff(dbs, CITY, Role.petition_clerk, username="cc_state")
    back = _start(sso_client, provider, "sub-state", {"preferred_username": "cc_state"})
    params = query(back)
    forged = f"/staff/sso/callback?code={params['code']}&state=forged{params['state']}"
    response = sso_client.get(forged)
    assert response.status_code == 400
    assert signed_in_as(sso_client) is None
    attempt = rows(owner_engine, "SELECT outcome, detail FROM sign_in_attempts")[0]
    assert attempt["outcome"] == "sso_error" and "mismatching_state" in attempt["detail"]
    # A callback with no state at all, or in another browser (no state stored there), is refused too.
    assert sso_client.get(f"/staff/sso/callback?code={params['code']}").status_code == 400
    other = sso_client.application.test_client()
    assert other.get(back).status_code == 400
    assert signed_in_as(other) is None


def test_tampered_nonce_is_refused(sso_client, provider, dbs, owner_engine):
    make_staff(dbs, CITY, Role.petition_clerk, username="cc_nonce")
    back = _start(sso_client, provider, "sub-nonce", {"preferred_username": "cc_nonce"})
    state = query(back)["state"]
    with sso_client.session_transaction() as session:
        key = f"_state_staff_{state}"
        data = dict(session[key])
        data["data"] = {**data["data"], "nonce": "not-the-nonce-the-provider-signed"}
        session[key] = data
    response = sso_client.get(back)
    assert response.status_code == 400
    assert signed_in_as(sso_client) is None
    assert "nonce" in rows(owner_engine, "SELECT detail FROM sign_in_attempts")[0]["detail"]


def test_the_code_needs_the_pkce_verifier_of_this_browser(sso_client, provider, dbs):
    make_staff(dbs, CITY, Role.petition_clerk, username="cc_pkce")
    back = _start(sso_client, provider, "sub-pkce", {"preferred_username": "cc_pkce"})
    state = query(back)["state"]
    with sso_client.session_transaction() as session:
        key = f"_state_staff_{state}"
        data = dict(session[key])
        data["data"] = {**data["data"], "code_verifier": "x" * 48}
        session[key] = data
    response = sso_client.get(back)
    assert response.status_code == 400  # the provider refused to redeem the code
    assert signed_in_as(sso_client) is None


def test_a_callback_cannot_be_replayed(sso_client, provider, dbs):
    make_staff(dbs, CITY, Role.petition_clerk, username="cc_replay")
    back = _start(sso_client, provider, "sub-replay", {"preferred_username": "cc_replay"})
    assert location(sso_client.get(back)) == "/staff/"
    sso_client.post("/staff/logout", data={"csrf_token": csrf_token(sso_client, "/staff/")})
    assert sso_client.get(back).status_code == 400  # the state was used up
    assert signed_in_as(sso_client) is None


def test_an_id_token_changed_after_signing_is_refused(sso_client, provider, dbs, owner_engine):
    make_staff(dbs, CITY, Role.petition_clerk, username="cc_sig")
    back = _start(sso_client, provider, "sub-sig", {"preferred_username": "cc_sig"})
    provider.tamper_next_token()
    response = sso_client.get(back)
    assert response.status_code == 400
    assert signed_in_as(sso_client) is None
    assert rows(owner_engine, "SELECT outcome FROM sign_in_attempts")[0]["outcome"] == "sso_error"


def test_provider_error_answer_is_refused(sso_client, provider):
    url = location(sso_client.get("/staff/sso/login"))
    response = provider.http.post(url, data={"action": "deny"}, allow_redirects=False, timeout=10)
    back = response.headers["Location"]
    assert "error=access_denied" in back
    cancelled = sso_client.get(back + "&lang=en")
    assert cancelled.status_code == 200  # the person's own choice, not a tampered answer
    assert "You cancelled the sign-in at the identity service" in cancelled.get_data(as_text=True)
    assert signed_in_as(sso_client) is None


def test_provider_mfa_replaces_the_portal_second_factor(sso_client, provider, dbs, configure):
    configure(OIDC_STAFF_MFA_ACR="urn:gov:loa:3")
    make_staff(dbs, CITY, Role.petitions_leader, username="cc_leader_mfa")
    with_amr = sso_sign_in(
        sso_client, provider, "sub-l1", {"preferred_username": "cc_leader_mfa", "amr": ["pwd", "otp"]}
    )
    assert location(with_amr) == "/staff/"
    assert signed_in_as(sso_client)
    sso_client.post("/staff/logout", data={"csrf_token": csrf_token(sso_client, "/staff/")})

    strong = sso_sign_in(
        sso_client, provider, "sub-l1", {"preferred_username": "cc_leader_mfa", "acr": "urn:gov:loa:4"}
    )
    assert location(strong) == "/staff/"
    sso_client.post("/staff/logout", data={"csrf_token": csrf_token(sso_client, "/staff/")})

    # A password-only sign-in at the provider: a leader still sets up the portal's own second factor.
    weak = sso_sign_in(sso_client, provider, "sub-l1", {"preferred_username": "cc_leader_mfa", "acr": "urn:gov:loa:2"})
    assert location(weak) == "/staff/2fa/setup"
    assert signed_in_as(sso_client) is None


def test_sign_out_ends_the_provider_session_too(sso_client, provider, dbs, owner_engine):
    make_staff(dbs, CITY, Role.petition_clerk, username="cc_bye")
    assert location(sso_sign_in(sso_client, provider, "sub-bye", {"preferred_username": "cc_bye"})) == "/staff/"
    response = sso_client.post("/staff/logout", data={"csrf_token": csrf_token(sso_client, "/staff/")})
    target = location(response)
    assert target.startswith(provider.issuer + "/oauth2/end_session?")
    params = query(target)
    assert params["post_logout_redirect_uri"] == "http://localhost/staff/login"
    assert params["id_token_hint"].count(".") == 2
    assert signed_in_as(sso_client) is None
    ended = rows(owner_engine, "SELECT end_reason FROM staff_sessions")
    assert [r["end_reason"] for r in ended] == ["signed_out"]
    # The provider confirms and sends the browser back to the portal's sign-in page.
    confirm = provider.http.post(
        f"{provider.issuer}/oauth2/end_session/confirm",
        data={"redirect_uri": params["post_logout_redirect_uri"]},
        allow_redirects=False,
        timeout=10,
    )
    assert confirm.headers["Location"].startswith("http://localhost/staff/login")


def test_password_sign_in_can_be_switched_off(sso_client, dbs, configure, owner_engine):
    configure(STAFF_PASSWORD_LOGIN="off", STAFF_PASSWORD_LOGIN_EXCEPT="cc_bootstrap_admin")
    make_staff(dbs, CITY, Role.petition_clerk, username="cc_pw_off")
    make_staff(dbs, CITY, Role.bureau_admin, username="cc_bootstrap_admin")
    page = sso_client.get("/staff/login?lang=en").get_data(as_text=True)
    assert "/staff/sso/login" in page and "bootstrap administrator" in page
    refused = login(sso_client, "cc_pw_off")
    assert refused.status_code == 403
    assert signed_in_as(sso_client) is None
    # The password was not even checked: no failure counted, nothing to learn about it.
    assert login(sso_client, "cc_pw_off", "wrong-password-1").status_code == 403
    assert (
        rows(owner_engine, "SELECT failed_logins FROM staff_users WHERE username = 'cc_pw_off'")[0]["failed_logins"]
        == 0
    )
    assert {r["outcome"] for r in rows(owner_engine, "SELECT outcome FROM sign_in_attempts")} == {"password_disabled"}
    # The bootstrap administrator still signs in with a password (second factor: optional only in tests).
    configure(STAFF_PASSWORD_LOGIN="off", STAFF_PASSWORD_LOGIN_EXCEPT="cc_bootstrap_admin", STAFF_2FA="optional")
    assert location(login(sso_client, "cc_bootstrap_admin")) == "/staff/"


def test_without_a_provider_local_sign_in_works_as_before(client, dbs, owner_engine):
    make_staff(dbs, CITY, Role.petition_clerk, username="cc_plain")
    page = client.get("/staff/login").get_data(as_text=True)
    assert "/staff/sso/login" not in page
    assert client.get("/staff/sso/login").status_code == 404
    assert client.get("/staff/sso/callback?code=x&state=y").status_code == 404
    assert client.get("/citizen/sso/login").status_code == 404
    assert location(login(client, "cc_plain")) == "/staff/"
    assert client.get("/staff/").status_code == 200
    assert location(client.post("/staff/logout", data={"csrf_token": csrf_token(client, "/staff/")})) == "/staff/login"
    assert login(client, "cc_plain", "wrong-password-1").status_code == 401
    assert login(client, "nobody_at_all", "wrong-password-1").status_code == 401
    events = rows(owner_engine, "SELECT method, outcome FROM staff_sign_in_events ORDER BY at")
    assert [(e["method"], e["outcome"]) for e in events] == [("password", "ok"), ("password", "bad_credentials")]
    attempts = rows(owner_engine, "SELECT outcome, identifier FROM sign_in_attempts")
    assert [(a["outcome"], a["identifier"]) for a in attempts] == [("bad_credentials", "nobody_at_all")]


def test_link_identity_refuses_a_subject_linked_elsewhere(dbs):
    first = make_staff(dbs, CITY, Role.petition_clerk, username="cc_link_a")
    second = make_staff(dbs, CITY, Role.petition_clerk, username="cc_link_b")
    ops.link_identity(dbs, first, issuer="https://id.example", subject="s-1")
    import pytest

    with pytest.raises(ops.IdentityProblem):
        ops.link_identity(dbs, second, issuer="https://id.example", subject="s-1")
