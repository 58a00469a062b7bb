"""Staff sign-in over HTTP: CSRF, wrong passwords, lockout, rate limit, safe redirects, sign-out, headers."""

import re

import pytest
from sqlalchemy import text

from portal.roles import Role
from portal.web import SECURITY_HEADERS
from tests.helpers import PASSWORD, csrf_token, login, make_staff

USERNAME = "cc_login_clerk"


@pytest.fixture
def staff(dbs):
    return make_staff(dbs, "220100", Role.petition_clerk, unit="petition_office", username=USERNAME)


def alert_text(response) -> str:
    alerts = re.findall(r'<p class="error" role="alert">(.*?)</p>', response.get_data(as_text=True), re.S)
    assert len(alerts) == 1, response.get_data(as_text=True)
    return alerts[0]


def signed_in(client) -> bool:
    response = client.get("/staff/")
    return response.status_code == 200


def failed_logins(owner_engine) -> int:
    with owner_engine.connect() as conn:
        return conn.scalar(text("SELECT failed_logins FROM staff_users WHERE username = :u"), {"u": USERNAME})


def test_login_page_has_a_form_with_csrf_token(client):
    response = client.get("/staff/login")
    assert response.status_code == 200
    assert csrf_token(client, "/staff/login")
    assert 'name="username"' in response.get_data(as_text=True)


def test_post_without_csrf_token_is_refused(client, staff, owner_engine):
    response = client.post("/staff/login", data={"username": USERNAME, "password": PASSWORD})
    assert response.status_code == 400
    assert not signed_in(client)
    assert failed_logins(owner_engine) == 0  # the credentials were never checked


def test_post_with_forged_csrf_token_is_refused(client, staff):
    client.get("/staff/login")
    response = client.post("/staff/login", data={"csrf_token": "forged", "username": USERNAME, "password": PASSWORD})
    assert response.status_code == 400
    assert not signed_in(client)


def test_successful_login_goes_home(client, staff):
    response = login(client, USERNAME)
    assert response.status_code == 302
    assert response.headers["Location"] == "/staff/"
    assert signed_in(client)


def test_wrong_password_is_401_with_a_message(client, staff, owner_engine):
    client.get("/staff/login?lang=en")
    response = login(client, USERNAME, "Wrong-horse-42")
    assert response.status_code == 401
    assert alert_text(response) == "Wrong username or password."
    assert not signed_in(client)
    assert failed_logins(owner_engine) == 1


def test_unknown_user_gets_the_same_answer(client, staff):
    client.get("/staff/login?lang=en")
    response = login(client, "no_such_user")
    assert response.status_code == 401
    assert alert_text(response) == "Wrong username or password."


def test_wrong_password_message_is_chinese_by_default(client, staff):
    response = login(client, USERNAME, "Wrong-horse-42")
    assert response.status_code == 401
    assert alert_text(response) == "用户名或密码错误。"


def test_lockout_after_repeated_failures(client, staff, settings):
    for _ in range(settings.login_max_failures - 1):
        response = login(client, USERNAME, "Wrong-horse-42")
        assert alert_text(response) == "用户名或密码错误。"
    response = login(client, USERNAME, "Wrong-horse-42")
    assert response.status_code == 401
    assert alert_text(response).startswith("登录失败次数过多，请稍候")
    # While this address waits, the right password does not help either.
    response = login(client, USERNAME)
    assert response.status_code == 401
    assert alert_text(response).startswith("登录失败次数过多，请稍候")
    assert not signed_in(client)


def test_lockout_message_in_english(client, staff, settings):
    client.get("/staff/login?lang=en")
    for _ in range(settings.login_max_failures):
        response = login(client, USERNAME, "Wrong-horse-42")
    assert alert_text(response).startswith("Too many failed attempts: please wait and try again after ")


def test_login_posts_are_rate_limited_per_client(app, client, settings):
    assert settings.ratelimit_login == "20 per minute"
    token = csrf_token(client, "/staff/login")
    form = {"csrf_token": token, "username": "nobody_here", "password": "Wrong-horse-42"}
    statuses = [client.post("/staff/login", data=form).status_code for _ in range(21)]
    assert statuses[:20] == [401] * 20
    assert statuses[20] == 429
    assert "操作过于频繁" in client.post("/staff/login", data=form).get_data(as_text=True)
    # The counters live in Redis, so every web process shares them.
    assert app.extensions["portal.redis"].keys("LIMITS:*")
    # GET is not limited, and another address has its own allowance.
    assert client.get("/staff/login").status_code == 200
    other = client.post("/staff/login", data=form, environ_base={"REMOTE_ADDR": "10.1.2.3"})
    assert other.status_code == 401


@pytest.mark.parametrize(
    "target", ["https://evil.example", "//evil.example", "https://evil.example/staff/", "evil.example"]
)
def test_next_outside_the_site_is_ignored(client, staff, target):
    token = csrf_token(client, "/staff/login")
    response = client.post(
        "/staff/login",
        query_string={"next": target},
        data={"csrf_token": token, "username": USERNAME, "password": PASSWORD},
    )
    assert response.status_code == 302
    assert response.headers["Location"] == "/staff/"


def test_next_inside_the_site_is_followed(client, staff):
    token = csrf_token(client, "/staff/login")
    response = client.post(
        "/staff/login",
        query_string={"next": "/staff/?tab=mine"},
        data={"csrf_token": token, "username": USERNAME, "password": PASSWORD},
    )
    assert response.status_code == 302
    assert response.headers["Location"] == "/staff/?tab=mine"


def test_anonymous_staff_home_redirects_to_login(client):
    response = client.get("/staff/")
    assert response.status_code == 302
    assert response.headers["Location"] == "/staff/login?next=%2Fstaff%2F"


def test_logout_needs_post_with_csrf(client, staff):
    assert login(client, USERNAME).status_code == 302
    assert client.get("/staff/logout").status_code == 405
    assert client.post("/staff/logout").status_code == 400
    assert signed_in(client)

    token = csrf_token(client, "/staff/")
    response = client.post("/staff/logout", data={"csrf_token": token})
    assert response.status_code == 302
    assert response.headers["Location"] == "/staff/login"
    assert not signed_in(client)


@pytest.mark.parametrize("path", ["/staff/login", "/staff/", "/no-such-page", "/healthz"])
def test_security_headers(client, path):
    response = client.get(path)
    for name, value in SECURITY_HEADERS.items():
        assert response.headers.get(name) == value, (path, name)
    assert "frame-ancestors 'none'" in response.headers["Content-Security-Policy"]
    assert response.headers["X-Frame-Options"] == "DENY"


def test_session_cookie_flags(client, staff):
    response = login(client, USERNAME)
    cookie = response.headers["Set-Cookie"]
    assert "HttpOnly" in cookie
    assert "SameSite=Lax" in cookie
