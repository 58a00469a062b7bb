"""Credentials end together and guessing is slowed per account: tokens, passwords, second factor, login throttle."""

from __future__ import annotations

import re

from sqlalchemy import text

from portal.identity.totp import code_at
from portal.roles import Role
from tests.helpers import PASSWORD, csrf_token, login, make_staff
from tests.identity.conftest import location
from tests.identity.test_second_factor import enrol, sign_out

CITY = "220100"
NEW_PASSWORD = "Brand-new-pass-7"


def rows(owner_engine, sql: str, **params):
    with owner_engine.connect() as conn:
        return conn.execute(text(sql), params).mappings().all()


def signed_in(client) -> bool:
    return client.get("/staff/").status_code == 200


def post(client, path: str, data: dict | None = None, form_page: str = "/staff/sessions"):
    return client.post(path, data={"csrf_token": csrf_token(client, form_page), **(data or {})})


def token_for(app, username: str, password: str = PASSWORD, **extra):
    return app.test_client().post("/api/v1/auth/token", json={"username": username, "password": password, **extra})


def token_works(app, token: str) -> bool:
    response = app.test_client().get("/api/v1/staff/cases", headers={"Authorization": f"Bearer {token}"})
    return response.status_code == 200


def from_address(app, ip: str):
    client = app.test_client()
    client.environ_base.update({"REMOTE_ADDR": ip})
    return client


def new_token(app, username: str) -> str:
    response = token_for(app, username)
    assert response.status_code == 200, response.get_json()
    return response.get_json()["token"]


# --- Every session and token ends together ----------------------------------------------------------------------


def test_sign_out_everywhere_revokes_api_tokens(sso_app, dbs):
    make_staff(dbs, CITY, Role.petition_clerk, username="cc_tokens_out")
    token = new_token(sso_app, "cc_tokens_out")
    browser = sso_app.test_client()
    login(browser, "cc_tokens_out")
    assert token_works(sso_app, token)
    assert location(post(browser, "/staff/sessions/end", {"which": "all"})) == "/staff/login"
    assert not token_works(sso_app, token)


def test_tokens_are_listed_and_revocable_on_the_sessions_page(sso_app, dbs, owner_engine):
    make_staff(dbs, CITY, Role.petition_clerk, username="cc_tokens_list")
    make_staff(dbs, CITY, Role.petition_clerk, username="cc_tokens_other")
    token = new_token(sso_app, "cc_tokens_list")
    theirs = new_token(sso_app, "cc_tokens_other")
    browser = sso_app.test_client()
    login(browser, "cc_tokens_list")
    page = browser.get("/staff/sessions?lang=en").get_data(as_text=True)
    ids = re.findall(r"/staff/sessions/tokens/(\d+)/revoke", page)
    assert len(ids) == 1 and "API tokens" in page
    other_id = rows(
        owner_engine,
        "SELECT t.id FROM api_tokens t JOIN staff_users u ON u.id = t.user_id WHERE u.username = 'cc_tokens_other'",
    )[0]["id"]
    assert post(browser, f"/staff/sessions/tokens/{other_id}/revoke").status_code == 404
    assert token_works(sso_app, theirs)
    assert location(post(browser, f"/staff/sessions/tokens/{ids[0]}/revoke")) == "/staff/sessions"
    assert not token_works(sso_app, token)
    assert "Revoked" in browser.get("/staff/sessions?lang=en").get_data(as_text=True)


def test_deactivation_and_role_change_end_sessions_and_tokens(sso_app, dbs, owner_engine, configure):
    configure(STAFF_2FA="optional")
    make_staff(dbs, CITY, Role.bureau_admin, username="cc_admin_ends")
    make_staff(dbs, CITY, Role.petition_clerk, username="cc_clerk_ends")
    user_id = rows(owner_engine, "SELECT id FROM staff_users WHERE username = 'cc_clerk_ends'")[0]["id"]
    admin = sso_app.test_client()
    login(admin, "cc_admin_ends")
    clerk = sso_app.test_client()
    login(clerk, "cc_clerk_ends")
    token = new_token(sso_app, "cc_clerk_ends")

    page = f"/staff/admin/users/{user_id}"
    assert location(post(admin, f"{page}/active", form_page=page)) == page  # deactivate
    assert not signed_in(clerk) and not token_works(sso_app, token)
    assert location(post(admin, f"{page}/active", form_page=page)) == page  # reactivate: nothing revives
    assert not token_works(sso_app, token)

    login(clerk, "cc_clerk_ends")
    token = new_token(sso_app, "cc_clerk_ends")
    make_staff(dbs, CITY, Role.security_admin, username="cc_security_ends")  # roles are the security admin's
    security = sso_app.test_client()
    login(security, "cc_security_ends")
    changed = post(security, f"{page}/roles", {"roles": ["petition_clerk", "petitions_leader"]}, form_page=page)
    assert location(changed) == page
    assert not signed_in(clerk) and not token_works(sso_app, token)
    reasons = {r["revoke_reason"] for r in rows(owner_engine, "SELECT revoke_reason FROM api_tokens")}
    assert reasons == {"deactivated", "roles_changed"}


# --- Passwords -------------------------------------------------------------------------------------------------


def test_change_own_password(sso_app, dbs):
    make_staff(dbs, CITY, Role.petition_clerk, username="cc_pw_change")
    desk, laptop = sso_app.test_client(), sso_app.test_client()
    login(desk, "cc_pw_change")
    login(laptop, "cc_pw_change")
    token = new_token(sso_app, "cc_pw_change")
    form = "/staff/password?lang=en"

    wrong = post(
        desk, "/staff/password", {"current": "Not-my-pass-1", "new": NEW_PASSWORD, "confirm": NEW_PASSWORD}, form
    )
    assert wrong.status_code == 422 and "The current password is wrong." in wrong.get_data(as_text=True)
    weak = post(desk, "/staff/password", {"current": PASSWORD, "new": "short1", "confirm": "short1"}, form)
    assert weak.status_code == 422 and "at least 10 characters" in weak.get_data(as_text=True)
    differ = post(desk, "/staff/password", {"current": PASSWORD, "new": NEW_PASSWORD, "confirm": "Other-pass-77"}, form)
    assert differ.status_code == 422 and "The two new passwords differ." in differ.get_data(as_text=True)
    assert signed_in(laptop) and token_works(sso_app, token)  # refusals changed nothing

    done = post(desk, "/staff/password", {"current": PASSWORD, "new": NEW_PASSWORD, "confirm": NEW_PASSWORD}, form)
    assert location(done) == "/staff/"
    assert signed_in(desk)  # this browser stays
    assert not signed_in(laptop) and not token_works(sso_app, token)
    assert token_for(sso_app, "cc_pw_change").status_code == 401
    assert token_for(sso_app, "cc_pw_change", NEW_PASSWORD).status_code == 200


def test_administrator_reset_forces_a_change_at_next_sign_in(sso_app, dbs, owner_engine, configure):
    configure(STAFF_2FA="optional")
    make_staff(dbs, CITY, Role.security_admin, username="cc_admin_reset")  # resets are the security admin's
    make_staff(dbs, CITY, Role.petition_clerk, username="cc_clerk_reset")
    user_id = rows(owner_engine, "SELECT id FROM staff_users WHERE username = 'cc_clerk_reset'")[0]["id"]
    clerk = sso_app.test_client()
    login(clerk, "cc_clerk_reset")
    token = new_token(sso_app, "cc_clerk_reset")
    admin = sso_app.test_client()
    login(admin, "cc_admin_reset")
    page = f"/staff/admin/users/{user_id}"
    shown = post(admin, f"{page}/password", form_page=page)
    assert shown.status_code == 200
    temporary = re.search(r'<code class="secret">([^<]+)</code>', shown.get_data(as_text=True)).group(1)
    assert not signed_in(clerk) and not token_works(sso_app, token)

    # The temporary password signs in, but every page waits for the change; no API token meanwhile.
    refused = token_for(sso_app, "cc_clerk_reset", temporary)
    assert refused.status_code == 403 and refused.get_json()["error"]["code"] == "password_change_required"
    assert location(login(clerk, "cc_clerk_reset", temporary)) == "/staff/"
    assert location(clerk.get("/staff/")) == "/staff/password"
    assert location(clerk.get("/staff/sessions")) == "/staff/password"
    assert "An administrator reset your password" in clerk.get("/staff/password?lang=en").get_data(as_text=True)
    done = post(
        clerk,
        "/staff/password",
        {"current": temporary, "new": NEW_PASSWORD, "confirm": NEW_PASSWORD},
        "/staff/password",
    )
    assert location(done) == "/staff/"
    assert signed_in(clerk)
    assert token_for(sso_app, "cc_clerk_reset", NEW_PASSWORD).status_code == 200


def test_cli_set_password(sso_app, dbs):
    make_staff(dbs, CITY, Role.petition_clerk, username="cc_cli_pw")
    browser = sso_app.test_client()
    login(browser, "cc_cli_pw")
    token = new_token(sso_app, "cc_cli_pw")
    runner = sso_app.test_cli_runner()
    weak = runner.invoke(args=["users", "set-password", "--username", "cc_cli_pw", "--password", "weak"])
    assert weak.exit_code != 0 and "at least 10 characters" in weak.output
    unknown = runner.invoke(args=["users", "set-password", "--username", "nobody_x", "--password", NEW_PASSWORD])
    assert unknown.exit_code != 0 and "No staff user is called 'nobody_x'" in unknown.output
    assert signed_in(browser) and token_works(sso_app, token)

    prompted = runner.invoke(
        args=["users", "set-password", "--username", "cc_cli_pw"], input=f"{NEW_PASSWORD}\n{NEW_PASSWORD}\n"
    )
    assert prompted.exit_code == 0, prompted.output
    assert NEW_PASSWORD not in prompted.output
    assert not signed_in(browser) and not token_works(sso_app, token)
    assert token_for(sso_app, "cc_cli_pw", NEW_PASSWORD).status_code == 200


# --- Tokens follow the idle timeout ------------------------------------------------------------------------------


def test_tokens_follow_the_idle_timeout(sso_app, dbs, clock, configure, owner_engine):
    configure(SESSION_IDLE_MINUTES="30")
    make_staff(dbs, CITY, Role.petition_clerk, username="cc_token_idle")
    token = new_token(sso_app, "cc_token_idle")
    for _ in range(3):
        clock.advance(minutes=29)
        assert token_works(sso_app, token)  # use keeps it alive past the idle time
    clock.advance(minutes=32)
    assert not token_works(sso_app, token)
    assert [r["revoke_reason"] for r in rows(owner_engine, "SELECT revoke_reason FROM api_tokens")] == ["idle"]


def test_the_idle_timeout_never_ends_an_active_session(sso_app, dbs, clock, configure):
    """With one minute of idle time, a user clicking every 20 seconds stays signed in."""
    configure(SESSION_IDLE_MINUTES="1")
    make_staff(dbs, CITY, Role.petition_clerk, username="cc_clicker")
    browser = sso_app.test_client()
    login(browser, "cc_clicker")
    for _ in range(12):
        clock.advance(seconds=20)
        assert signed_in(browser)
    clock.advance(minutes=2)
    assert not signed_in(browser)


# --- Second factor: a per-account limit ---------------------------------------------------------------------------


def test_wrong_codes_count_per_account_across_browsers_and_the_api(sso_app, dbs, clock, owner_engine):
    make_staff(dbs, CITY, Role.petitions_leader, username="cc_leader_guess")
    first = sso_app.test_client()
    login(first, "cc_leader_guess")
    secret, _codes = enrol(first, clock)
    sign_out(first)
    clock.advance(minutes=1)

    # Three wrong codes, each from a fresh sign-in in a new browser (the old per-browser count never saw them).
    for _ in range(2):
        browser = sso_app.test_client()
        assert location(login(browser, "cc_leader_guess")) == "/staff/2fa/verify"
        assert post(browser, "/staff/2fa/verify", {"code": "000000"}, "/staff/2fa/verify").status_code == 401
    api = token_for(sso_app, "cc_leader_guess", code="000000")
    assert api.status_code == 401 and api.get_json()["error"]["code"] == "second_factor_wrong"

    # Now even the right code waits, on the web and on the API.
    browser = sso_app.test_client()
    login(browser, "cc_leader_guess")
    right = post(browser, "/staff/2fa/verify?lang=en", {"code": code_at(secret, clock.now)}, "/staff/2fa/verify")
    assert right.status_code == 429 and "Too many wrong codes: please try again in" in right.get_data(as_text=True)
    assert not signed_in(browser)
    waiting = token_for(sso_app, "cc_leader_guess", code=code_at(secret, clock.now))
    assert waiting.status_code == 401 and waiting.get_json()["error"]["code"] == "second_factor_wait"
    failures = rows(owner_engine, "SELECT second_factor_failures FROM staff_users WHERE username = 'cc_leader_guess'")
    assert failures[0]["second_factor_failures"] == 3

    # Each further wrong code doubles the wait; after it, the right code works and clears the count.
    clock.advance(seconds=31)
    assert post(browser, "/staff/2fa/verify", {"code": "000000"}, "/staff/2fa/verify").status_code == 401
    clock.advance(seconds=31)
    assert (
        post(browser, "/staff/2fa/verify", {"code": code_at(secret, clock.now)}, "/staff/2fa/verify").status_code == 429
    )
    clock.advance(seconds=30)
    assert location(post(browser, "/staff/2fa/verify", {"code": code_at(secret, clock.now)}, "/staff/2fa/verify")) == (
        "/staff/"
    )
    failures = rows(owner_engine, "SELECT second_factor_failures FROM staff_users WHERE username = 'cc_leader_guess'")
    assert failures[0]["second_factor_failures"] == 0


# --- Password guessing: slowed per source, never a lock-out of the known user, same answers for every name -------


def _alert(response) -> str:
    return re.findall(r'<p class="error" role="alert">(.*?)</p>', response.get_data(as_text=True), re.S)[0]


def test_a_stranger_cannot_lock_out_a_known_user(sso_app, dbs, settings):
    make_staff(dbs, CITY, Role.petition_clerk, username="cc_target")
    owner = from_address(sso_app, "10.0.0.5")
    assert location(login(owner, "cc_target")) == "/staff/"  # this address is now a known source
    sign_out(owner)

    stranger = from_address(sso_app, "10.66.0.1")
    answers = [_alert(login(stranger, "cc_target", "Wrong-horse-42")) for _ in range(settings.login_max_failures + 1)]
    assert answers[0] == "用户名或密码错误。"
    assert answers[-1].startswith("登录失败次数过多，请稍候")
    # The stranger waits, even with the right password; the owner's address does not.
    assert _alert(login(stranger, "cc_target")).startswith("登录失败次数过多")
    assert location(login(owner, "cc_target")) == "/staff/"


def test_a_known_and_an_unknown_username_get_the_same_answers(sso_app, dbs, settings):
    make_staff(dbs, CITY, Role.petition_clerk, username="cc_exists")
    probe = from_address(sso_app, "10.66.0.2")
    real = [login(probe, "cc_exists", "Wrong-horse-42") for _ in range(settings.login_max_failures + 1)]
    fake = [login(probe, "cc_exists_not", "Wrong-horse-42") for _ in range(settings.login_max_failures + 1)]
    strip = lambda r: (r.status_code, re.sub(r"\d\d:\d\d:\d\d", "T", _alert(r)))  # noqa: E731
    assert [strip(r) for r in real] == [strip(r) for r in fake]
    api = from_address(sso_app, "10.66.0.3")
    real = [api.post("/api/v1/auth/token", json={"username": "cc_exists", "password": "x"}) for _ in range(6)]
    fake = [api.post("/api/v1/auth/token", json={"username": "cc_exists_no", "password": "x"}) for _ in range(6)]
    assert [(r.status_code, r.get_json()["error"]["code"]) for r in real] == [
        (r.status_code, r.get_json()["error"]["code"]) for r in fake
    ]


def test_one_login_limit_is_shared_by_every_sign_in_endpoint(sso_app, dbs, settings):
    assert settings.ratelimit_login == "20 per minute"
    client = from_address(sso_app, "10.77.0.1")
    statuses = []
    for i in range(21):
        if i % 3 == 0:
            statuses.append(login(client, f"nobody_{i}").status_code)
        elif i % 3 == 1:
            statuses.append(client.post("/api/v1/auth/token", json={"username": f"n{i}", "password": "x"}).status_code)
        else:
            token = csrf_token(client, "/account/login")
            statuses.append(
                client.post("/account/login", data={"csrf_token": token, "login": f"n{i}", "password": "x"}).status_code
            )
    assert 429 not in statuses[:20]
    assert statuses[20] == 429
