"""Identity, finished: sign-out reaches the provider through the CSP, no inline styles, a cancel at the provider
reads as such, and the language switch never re-runs a callback or loses one-time codes."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

from portal.roles import Role
from tests.helpers import csrf_token, login, make_staff
from tests.identity.conftest import location, sso_sign_in
from tests.identity.test_second_factor import post

CITY = "220100"


def form_action(response) -> str:
    return re.search(r"form-action ([^;]+)", response.headers["Content-Security-Policy"]).group(1)


def test_the_csp_lets_the_sign_out_form_reach_exactly_the_provider(sso_client, provider, dbs):
    make_staff(dbs, CITY, Role.petition_clerk, username="cc_csp")
    assert location(sso_sign_in(sso_client, provider, "sub-csp", {"preferred_username": "cc_csp"})) == "/staff/"
    page = sso_client.get("/staff/")
    origin = "{0.scheme}://{0.netloc}".format(urlsplit(provider.issuer))
    assert form_action(page).split() == ["'self'", origin]
    response = sso_client.post("/staff/logout", data={"csrf_token": csrf_token(sso_client, "/staff/")})
    target = location(response)
    assert target.startswith(origin + "/")  # the redirect the browser follows is allowed by the page's CSP


def test_the_identity_pages_need_no_inline_styles(sso_client, dbs, clock, configure):
    configure(STAFF_2FA="optional")
    make_staff(dbs, CITY, Role.bureau_admin, username="cc_styles")
    login(sso_client, "cc_styles")
    for path in ("/staff/sessions", "/staff/2fa/setup", "/staff/identity-admin", "/staff/password"):
        html = sso_client.get(path).get_data(as_text=True)
        assert " style=" not in html, path


def test_cancelled_at_the_provider_has_its_own_message(sso_client, provider, owner_engine):
    from sqlalchemy import text

    url = location(sso_client.get("/citizen/sso/login"))
    back = provider.http.post(url, data={"action": "deny"}, allow_redirects=False, timeout=10).headers["Location"]
    page = sso_client.get(back)
    assert page.status_code == 200 and "您已在身份认证服务取消登录" in page.get_data(as_text=True)
    with owner_engine.connect() as conn:
        assert conn.scalar(text("SELECT outcome FROM sign_in_attempts")) == "cancelled"


def test_the_language_switch_never_reruns_a_callback(sso_client, provider):
    url = location(sso_client.get("/citizen/sso/login"))
    back = provider.http.post(url, data={"action": "deny"}, allow_redirects=False, timeout=10).headers["Location"]
    html = sso_client.get(back).get_data(as_text=True)
    link = re.search(r'<nav class="lang"[^>]*>\s*<a href="([^"]+)"', html).group(1)
    assert link == "/?lang=en"  # not "?lang=en" on the callback, which would redeem its answer again


def test_the_language_switch_keeps_the_recovery_codes_on_screen(sso_client, dbs, clock):
    from portal.identity.totp import code_at
    from tests.identity.conftest import page_secret

    make_staff(dbs, CITY, Role.petitions_leader, username="cc_codes_lang")
    login(sso_client, "cc_codes_lang")
    secret = page_secret(sso_client.get("/staff/2fa/setup").get_data(as_text=True))
    shown = post(sso_client, "/staff/2fa/setup", {"code": code_at(secret, clock.now)})
    html = shown.get_data(as_text=True)
    assert re.search(r"[A-Z2-9]{4}-[A-Z2-9]{4}-[A-Z2-9]{4}", html)
    link = re.search(r'<nav class="lang"[^>]*>\s*<a ([^>]+)>', html).group(1)
    assert 'href="/staff/?lang=en"' in link and 'target="_blank"' in link
