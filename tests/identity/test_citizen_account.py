"""A citizen's provider sign-in opens their petitioner account, with their cases, and can be ended."""

from __future__ import annotations

from sqlalchemy import text

from tests.helpers import csrf_token
from tests.identity.conftest import sso_sign_in
from tests.public_site.conftest import GENEROUS, LIMITS
from tests.public_site.helpers import VALID_ID, application_json

CLAIMS = {"name": "张三", "id_number": VALID_ID, "phone_number": "13800138000"}


def test_a_verified_citizen_gets_their_account_and_cases_and_can_end_it(
    sso_app, provider, dbs, owner_engine, monkeypatch
):
    for name in LIMITS:
        monkeypatch.setitem(sso_app.config, name, GENEROUS)
    anonymous = sso_app.test_client()
    created = anonymous.post("/api/v1/applications", json=application_json(dbs))
    assert created.status_code == 201
    number = created.get_json()["number"]

    browser = sso_app.test_client()
    sso_sign_in(browser, provider, "citizen-acc", CLAIMS, realm="citizen")
    page = browser.get("/account")
    assert page.status_code == 200 and number in page.get_data(as_text=True)
    again = sso_app.test_client()  # the next sign-in opens the same account
    sso_sign_in(again, provider, "citizen-acc", CLAIMS, realm="citizen")
    assert number in again.get("/account").get_data(as_text=True)
    with owner_engine.connect() as conn:
        assert conn.scalar(text("SELECT count(*) FROM petitioners")) == 1
        assert conn.scalar(text("SELECT how FROM petitioner_cases")) == "verified"

    home = browser.get("/?lang=en").get_data(as_text=True)
    assert "End identity verification" in home
    ended = browser.post("/citizen/sso/logout", data={"csrf_token": csrf_token(browser, "/")})
    assert ended.status_code == 302
    assert browser.get("/account").status_code == 302  # signed out of the account too
    assert "End identity verification" not in browser.get("/").get_data(as_text=True)
    assert again.get("/account").status_code == 302  # and every other copy of the account's session


def test_someone_else_s_cases_are_not_linked(sso_app, provider, dbs, owner_engine, monkeypatch):
    for name in LIMITS:
        monkeypatch.setitem(sso_app.config, name, GENEROUS)
    sso_app.test_client().post("/api/v1/applications", json=application_json(dbs))
    browser = sso_app.test_client()
    sso_sign_in(
        browser, provider, "citizen-other", {"name": "李四", "id_number": "110105194912310037"}, realm="citizen"
    )
    with owner_engine.connect() as conn:
        assert conn.scalar(text("SELECT count(*) FROM petitioner_cases")) == 0
