"""Quiet about personal data: no SQL parameters in errors and logs, no caching of pages and answers, tracking
look-ups that cost the same for any answer, and petitioner sessions that end at sign-out."""

from __future__ import annotations

import pytest
from sqlalchemy import event, text
from sqlalchemy.exc import DBAPIError

from portal.roles import Role
from tests.helpers import login, make_staff
from tests.public_site.conftest import GENEROUS, LIMITS
from tests.public_site.helpers import application_json
from tests.public_site.test_accounts import register, sign_out


@pytest.fixture(autouse=True)
def generous_limits(app, monkeypatch):
    for name in LIMITS:
        monkeypatch.setitem(app.config, name, GENEROUS)


def test_database_errors_carry_no_sql_parameters(app, caplog):
    from portal.extensions import db

    secret = "张三 220102199001011234"
    with app.app_context():
        with pytest.raises(DBAPIError) as raised:
            db.session.execute(text("SELECT CAST(:name AS text), 1 / 0"), {"name": secret})
        db.session.rollback()
    assert secret not in str(raised.value)
    assert "parameters hidden" in str(raised.value)


def test_pages_and_answers_are_not_cached(client, dbs):
    make_staff(dbs, "220100", Role.petition_clerk, username="cc_nocache")
    login(client, "cc_nocache")
    for path in ("/staff/", "/staff/cases", "/staff/sessions", "/api/v1/staff/cases", "/api/v1/bureaus", "/track"):
        response = client.get(path)
        assert response.status_code == 200, path
        assert response.headers["Cache-Control"] == "no-store", path
    created = client.post("/api/v1/applications", json=application_json(dbs))
    assert created.status_code == 201 and created.headers["Cache-Control"] == "no-store"
    static = client.get("/static/" + next(iter(_static_files(client.application))))
    assert static.headers.get("Cache-Control") != "no-store"


def _static_files(app):
    from pathlib import Path

    root = Path(app.static_folder)
    return [str(p.relative_to(root)) for p in root.rglob("*") if p.is_file()]


def test_tracking_costs_the_same_for_a_wrong_code_and_an_unknown_number(client, dbs, app):
    from portal.extensions import db

    body = client.post("/api/v1/applications", json=application_json(dbs)).get_json()
    statements: list[str] = []

    def count(conn, cursor, statement, *args):
        statements.append(statement)

    def lookup(number, code):
        statements.clear()
        with app.app_context():
            event.listen(db.engine, "before_cursor_execute", count)
            try:
                response = client.get(f"/api/v1/applications/{number}", headers={"X-Access-Code": code})
            finally:
                event.remove(db.engine, "before_cursor_execute", count)
        return response.status_code, list(statements)

    wrong_status, wrong = lookup(body["number"], "AAAA-BBBB-CCCC")
    unknown_status, unknown = lookup("FC2026-ZZZZZZZZ", body["access_code"])
    assert wrong_status == unknown_status == 404
    assert wrong == unknown  # the very same statements, in the same order


def test_petitioner_sign_out_ends_every_copy_of_the_session(app, client):
    assert register(client).status_code == 302
    assert client.get("/account").status_code == 200
    copy = app.test_client()
    cookie = client.get_cookie("session")
    copy.set_cookie("session", cookie.value)
    assert copy.get("/account").status_code == 200  # the copied cookie works while the session lives
    assert sign_out(client).status_code == 302
    assert client.get("/account").status_code == 302
    assert copy.get("/account").status_code == 302  # and not after signing out
