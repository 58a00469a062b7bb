"""The session registry: idle and absolute timeouts (injected clock), my sessions, sign out everywhere, cookies."""

from __future__ import annotations

import dataclasses
import re

from sqlalchemy import text

from portal.roles import Role
from tests.helpers import csrf_token, login, make_staff
from tests.identity.conftest import location

CITY = "220100"


def rows(owner_engine, sql: str):
    with owner_engine.connect() as conn:
        return conn.execute(text(sql)).mappings().all()


def signed_in(client) -> bool:
    return client.get("/staff/").status_code == 200


def post(client, path: str, data: dict | None = None, form_page: str = "/staff/sessions"):
    return client.post(path, data={"csrf_token": csrf_token(client, form_page), **(data or {})})


def test_sign_in_registers_the_session_with_address_and_browser(sso_app, dbs, owner_engine):
    make_staff(dbs, CITY, Role.petition_clerk, username="cc_registry")
    client = sso_app.test_client()
    client.environ_base.update({"REMOTE_ADDR": "10.1.2.3", "HTTP_USER_AGENT": "Firefox/<script>x</script>"})
    assert location(login(client, "cc_registry")) == "/staff/"
    row = rows(owner_engine, "SELECT ip, user_agent, method, key_hash, ended_at FROM staff_sessions")[0]
    assert (row["ip"], row["method"], row["ended_at"]) == ("10.1.2.3", "password", None)
    with client.session_transaction() as session:
        key = session["identity.sid"]
    assert key not in row["key_hash"] and len(row["key_hash"]) == 64  # only the hash is stored
    page = client.get("/staff/sessions").get_data(as_text=True)
    assert "10.1.2.3" in page and "&lt;script&gt;" in page and "<script>x" not in page


def test_idle_timeout_ends_the_session(sso_app, dbs, clock, configure, owner_engine):
    configure(SESSION_IDLE_MINUTES="30", SESSION_MAX_HOURS="12")
    make_staff(dbs, CITY, Role.petition_clerk, username="cc_idle")
    client = sso_app.test_client()
    client.get("/?lang=en")  # the expiry notice is flashed in the language of the session
    login(client, "cc_idle")
    clock.advance(minutes=29)
    assert signed_in(client)  # activity refreshes the idle clock
    clock.advance(minutes=29)
    assert signed_in(client)
    clock.advance(minutes=31)  # never early, at most a minute late: last-seen is written once a minute
    response = client.get("/staff/")
    assert response.status_code == 302 and "/staff/login" in location(response)
    assert "Your session has expired" in client.get("/staff/login?lang=en").get_data(as_text=True)
    assert not signed_in(client)
    assert [r["end_reason"] for r in rows(owner_engine, "SELECT end_reason FROM staff_sessions")] == ["idle"]


def test_absolute_timeout_ends_even_an_active_session(sso_app, dbs, clock, configure, owner_engine):
    configure(SESSION_IDLE_MINUTES="30", SESSION_MAX_HOURS="2")
    make_staff(dbs, CITY, Role.petition_clerk, username="cc_absolute")
    client = sso_app.test_client()
    login(client, "cc_absolute")
    for _ in range(5):
        clock.advance(minutes=20)
        assert signed_in(client)
    clock.advance(minutes=20)  # two hours after sign-in
    assert not signed_in(client)
    assert [r["end_reason"] for r in rows(owner_engine, "SELECT end_reason FROM staff_sessions")] == ["absolute"]
    # Signing in again starts a new session.
    login(client, "cc_absolute")
    assert signed_in(client)


def test_end_one_session_and_sign_out_everywhere(sso_app, dbs, owner_engine):
    make_staff(dbs, CITY, Role.petition_clerk, username="cc_many")
    desk, phone, laptop = (sso_app.test_client() for _ in range(3))
    for browser in (desk, phone, laptop):
        login(browser, "cc_many")
        assert signed_in(browser)
    ids = [r["id"] for r in rows(owner_engine, "SELECT id FROM staff_sessions ORDER BY id")]
    page = desk.get("/staff/sessions").get_data(as_text=True)
    assert len(re.findall(r"/staff/sessions/\d+/end", page)) == 3

    # End the phone's session from the desk.
    assert location(post(desk, f"/staff/sessions/{ids[1]}/end")) == "/staff/sessions"
    assert not signed_in(phone) and signed_in(desk) and signed_in(laptop)

    # A choice is needed: a bare POST changes nothing.
    assert post(desk, "/staff/sessions/end").status_code == 422
    assert signed_in(laptop)
    # "All my other sessions" keeps this one.
    assert location(post(desk, "/staff/sessions/end", {"which": "others"})) == "/staff/sessions"
    assert signed_in(desk) and not signed_in(laptop)

    login(laptop, "cc_many")
    # "Everywhere": this one too.
    assert location(post(desk, "/staff/sessions/end", {"which": "all"})) == "/staff/login"
    assert not signed_in(desk) and not signed_in(laptop)
    reasons = {r["end_reason"] for r in rows(owner_engine, "SELECT end_reason FROM staff_sessions")}
    assert reasons == {"ended_by_user", "everywhere"}
    assert rows(owner_engine, "SELECT count(*) AS n FROM staff_sessions WHERE ended_at IS NULL")[0]["n"] == 0


def test_another_users_session_answers_404(sso_app, dbs, owner_engine):
    make_staff(dbs, CITY, Role.petition_clerk, username="cc_mine")
    make_staff(dbs, CITY, Role.petition_clerk, username="cc_colleague")
    mine, colleague = sso_app.test_client(), sso_app.test_client()
    login(mine, "cc_mine")
    login(colleague, "cc_colleague")
    theirs = rows(
        owner_engine,
        "SELECT s.id FROM staff_sessions s JOIN staff_users u ON u.id = s.user_id WHERE u.username = 'cc_colleague'",
    )[0]["id"]
    assert post(mine, f"/staff/sessions/{theirs}/end").status_code == 404
    assert post(mine, "/staff/sessions/999999999/end").status_code == 404
    assert signed_in(colleague)
    assert "cc_colleague" not in mine.get("/staff/sessions").get_data(as_text=True)


def test_a_staff_cookie_without_a_registered_session_is_not_signed_in(sso_app, dbs):
    user = make_staff(dbs, CITY, Role.petition_clerk, username="cc_forged")
    client = sso_app.test_client()
    with client.session_transaction() as session:
        session["_user_id"] = f"staff:{user.id}"  # what the cookie held before the registry, or a stolen old one
        session["identity.sid"] = "not-a-registered-key"
    assert not signed_in(client)
    with client.session_transaction() as session:
        assert "_user_id" not in session


def test_production_cookies_are_secure_httponly_and_lax(settings, app, dbs):
    from portal import create_app

    production = create_app(dataclasses.replace(settings, env="production", staff_2fa="enforce"))
    make_staff(dbs, CITY, Role.petition_clerk, username="cc_cookie")
    client = production.test_client()
    response = login(client, "cc_cookie")
    assert response.status_code == 302
    cookie = response.headers["Set-Cookie"]
    assert "Secure" in cookie and "HttpOnly" in cookie and "SameSite=Lax" in cookie
